/* peer.h - a scripted server for the session tests (test_imap.c,
 * test_pop3.c), and the checks they share.
 *
 * A test hands the session one end of a socketpair() (peer_start() returns
 * it); a thread plays the server on the other end, following a script:
 *
 *   SEND("...")          server bytes, in one send(); "TAG " at the start of
 *                        a line becomes the tag of the client's latest
 *                        command (IMAP)
 *   SEND_RAW(p, n)       bytes as they are (generated data)
 *   SEND_CHUNKED(p, n, k)  the same in send()s of k bytes
 *   EXPECT("...")        the next client line, exactly, without its CRLF; a
 *                        leading "TAG " matches the client's tag (m<number>)
 *   EXPECT_STR(p)        the same with a string known only at run time
 *   EXPECT_TLS           the client starts a TLS handshake (a handshake
 *                        record, 0x16, arrives)
 *   TLS_ACCEPT           play the server side of a real TLS handshake with
 *                        the certificate of peer_tls_setup(); every later
 *                        step goes through TLS
 *   TLS_REFUSED          the same, but the client must abort the handshake
 *                        (it rejected the certificate)
 *   QUIET(ms)            the client must send nothing for that long
 *   DELAY(ms)            pause
 *   CLOSE                drop the connection
 *   END                  send nothing more (this is also how a server
 *                        stalls); the client must send nothing more before
 *                        it closes
 *
 * The peer records the first mismatch in pe->err and drops the connection,
 * so that the client fails fast. In slow mode every send is one byte, so
 * responses are parsed across many reads.
 */
#ifndef MAILFS_TEST_PEER_H
#define MAILFS_TEST_PEER_H

#include "tests/unit/testutil.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

enum step_kind { ST_SEND, ST_SEND_RAW, ST_EXPECT, ST_EXPECT_TLS, ST_TLS_ACCEPT, ST_QUIET,
                 ST_DELAY, ST_CLOSE, ST_END };

struct step {
	enum step_kind kind;
	const char *data;
	size_t len;             /* bytes; milliseconds for QUIET and DELAY */
	size_t chunk;           /* SEND: bytes per send(), 0: all at once */
};

#define SEND(s)               { ST_SEND, (s), sizeof(s) - 1, 0 }
#define SEND_RAW(p, n)        { ST_SEND_RAW, (p), (n), 0 }
#define SEND_CHUNKED(p, n, k) { ST_SEND_RAW, (p), (n), (k) }
#define EXPECT(s)             { ST_EXPECT, (s), sizeof(s) - 1, 0 }
#define EXPECT_STR(p)         { ST_EXPECT, (p), (size_t)-1, 0 }   /* length taken at run time */
#define EXPECT_TLS            { ST_EXPECT_TLS, NULL, 0, 0 }
#define TLS_ACCEPT            { ST_TLS_ACCEPT, NULL, 0, 0 }
#define TLS_REFUSED           { ST_TLS_ACCEPT, NULL, 1, 0 }
#define QUIET(ms)             { ST_QUIET, NULL, (ms), 0 }
#define DELAY(ms)             { ST_DELAY, NULL, (ms), 0 }
#define CLOSE                 { ST_CLOSE, NULL, 0, 0 }
#define END                   { ST_END, NULL, 0, 0 }

#define MAX_STEPS 40
#define PEER_WAIT_MS 10000

struct peer {
	int fd;
	struct step steps[MAX_STEPS];   /* a copy: the test's array may go away */
	int slow;
	atomic_int at;                  /* index of the step being played */
	char tag[16];                   /* of the client's latest command */
	char in[8192];                  /* client bytes not matched yet */
	size_t inlen;
	char line[8192];
	char err[1024];                 /* the first mismatch, or "" */
	pthread_t thread;
	int running;
	SSL *ssl;                       /* after TLS_ACCEPT */
};

/* ---- the peer as a TLS server ------------------------------------------- */

/* One key and self-signed certificate per test binary, made at run time,
 * for the names the tests use: DNS imap.test and pop.test, and no IP
 * address (so 127.0.0.1 does not match). */
static SSL_CTX *peer_tls_ctx;
static char peer_tls_cafile[64];

static inline void peer_tls_release(void)
{
	SSL_CTX_free(peer_tls_ctx);
	peer_tls_ctx = NULL;
}

/* Make the certificate (once) and return the path of its PEM file, for the
 * client's tls_ctx_new(): the client then trusts it. The file is unlinked
 * at once and reached through /proc/self/fd, so that a test that dies
 * leaves nothing behind. */
static inline const char *peer_tls_setup(void)
{
	EVP_PKEY *key;
	X509 *x;
	X509_NAME *name;
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	FILE *f;
	int fd;

	if (peer_tls_ctx)
		return peer_tls_cafile;
	key = EVP_EC_gen("P-256");
	x = X509_new();
	assert_non_null(key);
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	name = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                 (const unsigned char *)"mailfs unit test", -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(x, name), 1);
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:imap.test,DNS:pop.test");
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);

	snprintf(peer_tls_cafile, sizeof(peer_tls_cafile), "/tmp/mailfs-peer-XXXXXX");
	fd = mkstemp(peer_tls_cafile);
	assert_true(fd >= 0);
	assert_int_equal(unlink(peer_tls_cafile), 0);
	f = fdopen(dup(fd), "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_X509(f, x), 1);
	assert_int_equal(fclose(f), 0);
	snprintf(peer_tls_cafile, sizeof(peer_tls_cafile), "/proc/self/fd/%d", fd);

	peer_tls_ctx = SSL_CTX_new(TLS_server_method());
	assert_non_null(peer_tls_ctx);
	assert_int_equal(SSL_CTX_use_certificate(peer_tls_ctx, x), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(peer_tls_ctx, key), 1);
	X509_free(x);
	EVP_PKEY_free(key);
	atexit(peer_tls_release);
	return peer_tls_cafile;
}

/* A printable rendering of N bytes at S. */
static inline const char *show(char *out, size_t cap, const char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 8 < cap; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f)
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
	}
	out[o] = '\0';
	return out;
}

static void peer_fail(struct peer *pe, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static inline void peer_fail(struct peer *pe, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (pe->err[0])
		return;
	n = snprintf(pe->err, sizeof(pe->err), "step %d: ", atomic_load(&pe->at));
	va_start(ap, fmt);
	vsnprintf(pe->err + n, sizeof(pe->err) - (size_t)n, fmt, ap);
	va_end(ap);
	shutdown(pe->fd, SHUT_RDWR);   /* the client fails fast */
}

/* Read what the client sent within timeout_ms: >0 bytes, 0 EOF, -1 none. */
static inline ssize_t peer_read(struct peer *pe, int timeout_ms)
{
	struct pollfd pfd = { .fd = pe->fd, .events = POLLIN };
	ssize_t n;

	if (pe->inlen == sizeof(pe->in))
		return -1;
	if (!(pe->ssl && SSL_pending(pe->ssl) > 0) && poll(&pfd, 1, timeout_ms) <= 0)
		return -1;
	if (pe->ssl) {
		/* Blocking: a record the client began arrives whole. Any
		 * failure (also an EOF without close_notify) counts as EOF. */
		n = SSL_read(pe->ssl, pe->in + pe->inlen, (int)(sizeof(pe->in) - pe->inlen));
		ERR_clear_error();
	} else {
		n = recv(pe->fd, pe->in + pe->inlen, sizeof(pe->in) - pe->inlen, 0);
	}
	if (n > 0)
		pe->inlen += (size_t)n;
	return n < 0 ? 0 : n;
}

/* The next client line into pe->line, CRLF removed: its length, or -1 at
 * EOF, -2 when none came in time. */
static inline ssize_t peer_line(struct peer *pe)
{
	for (;;) {
		char *eol = memmem(pe->in, pe->inlen, "\r\n", 2);

		if (eol) {
			size_t len = (size_t)(eol - pe->in);

			memcpy(pe->line, pe->in, len);
			pe->line[len] = '\0';
			pe->inlen -= len + 2;
			memmove(pe->in, eol + 2, pe->inlen);
			return (ssize_t)len;
		}
		ssize_t n = peer_read(pe, PEER_WAIT_MS);
		if (n <= 0)
			return n == 0 ? -1 : -2;
	}
}

static inline void peer_expect(struct peer *pe, const char *want, size_t wlen)
{
	char a[512], b[512];
	ssize_t len = peer_line(pe);
	const char *got = pe->line;
	size_t glen = (size_t)len, skip = 0, t = 1;

	if (len < 0) {
		peer_fail(pe, "expected \"%s\", but the client %s", show(a, sizeof(a), want, wlen),
		          len == -1 ? "closed the connection" : "sent no line within 10 s");
		return;
	}
	if (wlen >= 4 && memcmp(want, "TAG ", 4) == 0) {
		while (t < glen && t < sizeof(pe->tag) - 1 && got[t] >= '0' && got[t] <= '9')
			t++;
		if (got[0] == 'm' && t > 1 && t < glen && got[t] == ' ') {
			memcpy(pe->tag, got, t);
			pe->tag[t] = '\0';
			got += t + 1;
			glen -= t + 1;
			skip = 4;
		}
	}
	if (glen != wlen - skip || memcmp(got, want + skip, glen) != 0)
		peer_fail(pe, "expected \"%s\", got \"%s\"", show(a, sizeof(a), want, wlen),
		          show(b, sizeof(b), pe->line, (size_t)len));
}

/* Send LEN bytes in send()s of CHUNK (0: all at once, as some tests need
 * the bytes to arrive together; 1 in slow mode), with "TAG " replaced when
 * SUBST. Returns -1 when the client gave up (hostile tests): the script
 * then stops quietly. */
static inline int peer_send(struct peer *pe, const char *data, size_t len, size_t chunk, int subst)
{
	char *buf = NULL;
	const char *out = data;
	size_t o = len;
	ssize_t n = 1;

	if (subst) {
		buf = malloc(len * 4 + 1);   /* "TAG " becomes "m<number> " */
		if (!buf)
			return -1;
		o = 0;
		for (size_t i = 0; i < len; ) {
			if ((i == 0 || data[i - 1] == '\n') && i + 4 <= len &&
			    memcmp(data + i, "TAG ", 4) == 0) {
				o += (size_t)sprintf(buf + o, "%s ", pe->tag);
				i += 4;
			} else {
				buf[o++] = data[i++];
			}
		}
		out = buf;
	}
	if (pe->slow)
		chunk = 1;
	for (size_t off = 0; off < o; off += (size_t)n) {
		size_t k = chunk && chunk < o - off ? chunk : o - off;

		if (pe->ssl) {
			n = SSL_write(pe->ssl, out + off, (int)k);
			ERR_clear_error();
		} else {
			n = send(pe->fd, out + off, k, MSG_NOSIGNAL);
		}
		if (n <= 0)
			break;
		if (pe->slow)
			usleep(200);
	}
	free(buf);
	return n > 0 ? 0 : -1;
}

/* The server side of a handshake on the (blocking) socket; REFUSED: the
 * client must abort it. */
static inline void peer_tls_accept(struct peer *pe, int refused)
{
	char why[256];
	int r;

	if (!peer_tls_ctx) {
		peer_fail(pe, "TLS_ACCEPT without peer_tls_setup()");
		return;
	}
	if (pe->inlen > 0) {
		peer_fail(pe, "the client sent %zu bytes before the handshake", pe->inlen);
		return;
	}
	pe->ssl = SSL_new(peer_tls_ctx);
	if (!pe->ssl || SSL_set_fd(pe->ssl, pe->fd) != 1) {
		peer_fail(pe, "cannot set up the server's TLS");
		return;
	}
	r = SSL_accept(pe->ssl);
	ERR_error_string_n(ERR_peek_last_error(), why, sizeof(why));
	ERR_clear_error();
	if (r == 1 && refused)
		peer_fail(pe, "the client completed a handshake it should have refused");
	else if (r != 1 && !refused)
		peer_fail(pe, "TLS handshake failed on the server side: %s", why);
	if (r != 1) {
		SSL_free(pe->ssl);
		pe->ssl = NULL;
	}
}

static inline void *peer_main(void *arg)
{
	struct peer *pe = arg;
	char a[512];

	for (int i = 0; !pe->err[0]; i++) {
		const struct step *st = &pe->steps[i];

		atomic_store(&pe->at, i);
		switch (st->kind) {
		case ST_SEND:
		case ST_SEND_RAW:
			if (peer_send(pe, st->data, st->len, st->chunk, st->kind == ST_SEND) < 0)
				goto out;
			break;
		case ST_EXPECT:
			peer_expect(pe, st->data, st->len == (size_t)-1 ? strlen(st->data) : st->len);
			break;
		case ST_EXPECT_TLS:
			if (pe->inlen == 0 && peer_read(pe, PEER_WAIT_MS) <= 0)
				peer_fail(pe, "expected a TLS handshake, got nothing");
			else if ((unsigned char)pe->in[0] != 0x16)
				peer_fail(pe, "expected a TLS handshake, got \"%s\"",
				          show(a, sizeof(a), pe->in, pe->inlen));
			pe->inlen = 0;
			break;
		case ST_TLS_ACCEPT:
			peer_tls_accept(pe, st->len != 0);
			break;
		case ST_QUIET:
			if (pe->inlen > 0 || peer_read(pe, (int)st->len) >= 0)
				peer_fail(pe, "expected silence, got \"%s\"",
				          show(a, sizeof(a), pe->in, pe->inlen));
			break;
		case ST_DELAY:
			usleep((useconds_t)st->len * 1000);
			break;
		case ST_CLOSE:
			goto out;
		case ST_END:
			if (pe->inlen > 0 || peer_read(pe, PEER_WAIT_MS) != 0)
				peer_fail(pe, "expected the client to close, got \"%s\"",
				          show(a, sizeof(a), pe->in, pe->inlen));
			goto out;
		}
	}
out:
	shutdown(pe->fd, SHUT_RDWR);
	SSL_free(pe->ssl);
	pe->ssl = NULL;
	close(pe->fd);
	return NULL;
}

/* Start playing STEPS (ending in END or CLOSE); returns the client's end. */
static inline int peer_start(struct peer *pe, const struct step *steps, int slow)
{
	int sv[2], i;

	for (i = 0; steps[i].kind != ST_END && steps[i].kind != ST_CLOSE; i++)
		assert_true(i < MAX_STEPS - 1);
	memcpy(pe->steps, steps, (size_t)(i + 1) * sizeof(*steps));
	pe->slow = slow;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pe->fd = sv[1];
	assert_int_equal(pthread_create(&pe->thread, NULL, peer_main, pe), 0);
	pe->running = 1;
	return sv[0];
}

/* Wait for the script to end (the client's end must be closed first). */
static inline void peer_stop(struct peer *pe)
{
	if (pe->running)
		pthread_join(pe->thread, NULL);
	pe->running = 0;
}

/* ---- checks that name the failing case of a table test ----------------- */

static const char *case_name = "";

#define CHECK(cond) do { \
	if (!(cond)) \
		fail_msg("%s: %s (line %d)", case_name, #cond, __LINE__); \
} while (0)
#define CHECK_INT(a, b) do { \
	long long a_ = (long long)(a), b_ = (long long)(b); \
	if (a_ != b_) \
		fail_msg("%s: %s is %lld, not %lld (line %d)", case_name, #a, a_, b_, __LINE__); \
} while (0)
#define CHECK_STR(a, b) do { \
	const char *a_ = (a), *b_ = (b); \
	if (strcmp(a_, b_) != 0) \
		fail_msg("%s: %s is\n  \"%s\", not\n  \"%s\" (line %d)", case_name, #a, a_, b_, \
		         __LINE__); \
} while (0)

static inline long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

#endif
