/* test_pop3.c - the POP3 session (net/pop3.c) against a scripted peer.
 *
 * Each test hands the session one end of a socketpair(); a thread plays the
 * server on the other end, following a script of steps (peer.h).
 *
 * The peer records the first mismatch and drops the connection; finish()
 * then fails the test with the expected and the received line. finish()
 * also checks that the protocol trace never showed the secret.
 */
#include "tests/unit/peer.h"

#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "net/pop3.h"
#include "net/tls.h"

/* ---- the fixture: one session, its peer, and what the callbacks saw ------ */

struct body_sink {
	struct pop3_sink sk;            /* first: the callback casts back */
	char *data;
	size_t len, cap;
	int chunks;
	size_t max_chunk;
	int fail_at;                    /* return -ENOSPC on this chunk (1-based) */
};

static struct {
	struct peer pe;
	struct pop3_session *s;
	char log[16384];                /* callbacks, each ending in "; " */
	struct body_sink body;
	char trace_c[65536];            /* client lines of the protocol trace */
	char trace_s[65536];            /* server lines */
	char forbidden[2][2048];        /* must never appear in the trace */
	struct tls_ctx *tls;
} fx;

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void note(const char *fmt, ...)
{
	size_t len = strlen(fx.log);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(fx.log + len, sizeof(fx.log) - len, fmt, ap);
	va_end(ap);
}

static int sink_write(struct pop3_sink *sk, const char *data, size_t len)
{
	struct body_sink *b = (struct body_sink *)sk;

	b->chunks++;
	if (b->fail_at && b->chunks >= b->fail_at)
		return -ENOSPC;
	if (len > b->max_chunk)
		b->max_chunk = len;
	if (b->len + len > b->cap) {
		b->cap = (b->len + len) * 2;
		b->data = realloc(b->data, b->cap);
		if (!b->data)
			return -ENOMEM;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

static void trace(void *ctx, char dir, const char *line, size_t len)
{
	char *buf = dir == 'C' ? fx.trace_c : fx.trace_s;
	size_t used = strlen(buf);

	(void)ctx;
	assert_true(dir == 'C' || dir == 'S');
	assert_null(memchr(line, '\n', len));   /* one line, without its CRLF */
	if (used + len + 2 < sizeof(fx.trace_c)) {
		memcpy(buf + used, line, len);
		buf[used + len] = '\n';
		buf[used + len + 1] = '\0';
	}
}

static void base64(char *out, const char *in, size_t len)
{
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in, (int)len);
}

static struct pop3_params params(void)
{
	return (struct pop3_params){
		.conn = { .host = "pop.test", .port = 110, .timeout_ms = 5000 },
		.user = "alice",
		.secret = "pw",
	};
}

/* Start the peer on STEPS (ending in END or CLOSE) and make a session on
 * the other end, with P (see params()) and the fixture's trace. */
static struct pop3_session *open_with(const struct step *steps, struct pop3_params p, int slow)
{
	int i;
	char plain[1024];

	memset(&fx, 0, sizeof(fx));
	p.conn.have_fd = 1;
	p.conn.fd = peer_start(&fx.pe, steps, slow);
	p.trace = trace;
	if (strlen(p.secret) >= 2)
		snprintf(fx.forbidden[0], sizeof(fx.forbidden[0]), "%s", p.secret);
	i = snprintf(plain, sizeof(plain), "%c%s%c%s", 0, p.user, 0, p.secret);
	assert_true(i > 0 && (size_t)i < sizeof(plain));
	base64(fx.forbidden[1], plain, (size_t)i);

	fx.s = pop3_session_new(&p);
	assert_non_null(fx.s);
	return fx.s;
}

static struct pop3_session *open_session(const struct step *steps)
{
	return open_with(steps, params(), 0);
}

/* Close the session, wait for the peer, free what the test left. Also the
 * teardown of every session test, for when an assertion cut it short. */
static int cleanup(void **state)
{
	(void)state;
	pop3_session_free(fx.s);
	fx.s = NULL;
	peer_stop(&fx.pe);
	free(fx.body.data);
	fx.body.data = NULL;
	if (fx.tls)
		tls_ctx_free(fx.tls);
	fx.tls = NULL;
	if (state && fx.pe.err[0])   /* likely why the client failed */
		print_error("peer: %s\n", fx.pe.err);
	if (state)
		case_name = "";
	return 0;
}

/* The end of a session: fail on a mismatch or a secret in the trace. */
static void finish(void)
{
	cleanup(NULL);
	if (fx.pe.err[0])
		fail_msg("%s: peer: %s", case_name, fx.pe.err);
	for (size_t i = 0; i < ARRAY_SIZE(fx.forbidden); i++) {
		if (fx.forbidden[i][0] && strstr(fx.trace_c, fx.forbidden[i]))
			fail_msg("%s: the trace shows the secret %s:\n%s", case_name,
			         fx.forbidden[i], fx.trace_c);
		if (fx.forbidden[i][0] && strstr(fx.trace_s, fx.forbidden[i]))
			fail_msg("%s: the server trace shows the secret %s", case_name,
			         fx.forbidden[i]);
	}
}


/* Bytes the C library's heap holds now (0 where that is unknown, e.g.
 * under AddressSanitizer, which makes a check on it vacuous there). */
static size_t heap_in_use(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
#else
	return 0;
#endif
}

/* Common script parts. */
#define GREET SEND("+OK POP3 ready <1896.697170952@pop.test>\r\n")
#define LOGIN \
	GREET, \
	EXPECT("CAPA"), \
	SEND("+OK Capability list follows\r\nTOP\r\nUSER\r\nSASL PLAIN\r\nUIDL\r\n" \
	     "RESP-CODES\r\n.\r\n"), \
	EXPECT("AUTH PLAIN AGFsaWNlAHB3"), \
	SEND("+OK Logged in.\r\n")
/* Three messages. */
#define STAT3 EXPECT("STAT"), SEND("+OK 3 600\r\n")

static struct pop3_session *connected(const struct step *steps)
{
	struct pop3_session *s = open_session(steps);

	assert_int_equal(pop3_connect(s), 0);
	assert_string_equal(pop3_error(s), "no error");
	return s;
}

/* ---- connecting and logging in ------------------------------------------- */

struct connect_case {
	const char *name;
	struct step steps[14];
	enum pop3_auth auth;
	const char *user;               /* NULL: "alice" */
	const char *secret;             /* NULL: "pw" */
	int ret;                        /* 0 or the negative errno */
	enum pop3_fail cls;
	const char *code;               /* pop3_resp_code() after */
	const char *text;               /* in pop3_error() */
	unsigned caps, nocaps;          /* bits that must be set, must be clear */
	const char *caps_text;          /* pop3_caps_text() after, if not NULL */
};

static char long_secret[301];
static char long_plain_b64[500];
static char long_token[601];
static char long_xoauth2_b64[1000];

static const struct connect_case connect_cases[] = {
	/* ---- success ---- */
	{ "AUTH PLAIN with the initial response", {
		LOGIN, END }, .caps = POP3_CAP_TOP | POP3_CAP_USER | POP3_CAP_SASL_PLAIN |
		POP3_CAP_UIDL | POP3_CAP_RESP_CODES,
	  .nocaps = POP3_CAP_STLS | POP3_CAP_PIPELINING | POP3_CAP_SASL_XOAUTH2 },
	{ "every capability", {
		SEND("+OK ready\r\n"),
		EXPECT("CAPA"),
		SEND("+OK\r\nSTLS\r\nuidl\r\nUSER\r\nSASL LOGIN plain XOAUTH2 OAUTHBEARER\r\n"
		     "RESP-CODES\r\nPIPELINING\r\nTOP\r\nLOGIN-DELAY 900\r\nAUTH-RESP-CODE\r\n"
		     "IMPLEMENTATION Dovecot\r\nEXPIRE NEVER\r\n\r\n.\r\n"),
		EXPECT("AUTH PLAIN AGFsaWNlAHB3"),
		SEND("+OK\r\n"),
		END }, .caps = POP3_CAP_STLS | POP3_CAP_UIDL | POP3_CAP_USER | POP3_CAP_SASL_PLAIN |
		POP3_CAP_SASL_XOAUTH2 | POP3_CAP_SASL_OAUTHBEARER | POP3_CAP_RESP_CODES |
		POP3_CAP_PIPELINING | POP3_CAP_TOP | POP3_CAP_LOGIN_DELAY | POP3_CAP_AUTH_RESP_CODE,
	  .caps_text = "STLS, uidl, USER, SASL LOGIN plain XOAUTH2 OAUTHBEARER, RESP-CODES, "
	               "PIPELINING, TOP, LOGIN-DELAY 900, AUTH-RESP-CODE, IMPLEMENTATION Dovecot, "
	               "EXPIRE NEVER" },
	{ "no SASL PLAIN: USER and PASS", {
		GREET,
		EXPECT("CAPA"),
		SEND("+OK\r\nUSER\r\nUIDL\r\nSASL CRAM-MD5\r\n.\r\n"),
		EXPECT("USER alice"),
		SEND("+OK\r\n"),
		EXPECT("PASS pw"),
		SEND("+OK Mailbox locked and ready\r\n"),
		END }, .caps = POP3_CAP_USER | POP3_CAP_UIDL, .nocaps = POP3_CAP_SASL_PLAIN },
	{ "CAPA refused (an RFC 1939 server): USER assumed", {
		GREET,
		EXPECT("CAPA"),
		SEND("-ERR unknown command\r\n"),
		EXPECT("USER alice"),
		SEND("+OK\r\n"),
		EXPECT("PASS pw"),
		SEND("+OK\r\n"),
		END }, .caps = POP3_CAP_USER, .nocaps = POP3_CAP_UIDL, .code = "", .caps_text = "" },
	{ "a PASS with spaces goes as it is", {
		GREET,
		EXPECT("CAPA"),
		SEND("+OK\r\nUSER\r\n.\r\n"),
		EXPECT("USER alice"),
		SEND("+OK\r\n"),
		EXPECT("PASS  p w "),
		SEND("+OK\r\n"),
		END }, .secret = " p w " },
	{ "initial response over 255 octets: AUTH PLAIN, then the response", {
		GREET,
		EXPECT("CAPA"),
		SEND("+OK\r\nSASL PLAIN\r\n.\r\n"),
		EXPECT("AUTH PLAIN"),
		QUIET(50),
		SEND("+ \r\n"),
		EXPECT_STR(long_plain_b64),
		SEND("+OK\r\n"),
		END }, .secret = long_secret },
	{ "a bare \"+\" as the empty challenge", {
		GREET,
		EXPECT("CAPA"),
		SEND("+OK\r\nSASL PLAIN\r\n.\r\n"),
		EXPECT("AUTH PLAIN"),
		SEND("+\r\n"),
		EXPECT_STR(long_plain_b64),
		SEND("+OK\r\n"),
		END }, .secret = long_secret },
	{ "XOAUTH2", {
		GREET,
		EXPECT("CAPA"),
		SEND("+OK\r\nSASL XOAUTH2\r\n.\r\n"),
		EXPECT("AUTH XOAUTH2 dXNlcj1hbGljZQFhdXRoPUJlYXJlciB0b2sBAQ=="),
		SEND("+OK Welcome.\r\n"),
		END }, .auth = POP3_AUTH_XOAUTH2, .secret = "tok", .caps = POP3_CAP_SASL_XOAUTH2 },
	{ "XOAUTH2 with a long token: after the empty challenge", {
		GREET,
		EXPECT("CAPA"),
		SEND("+OK\r\nSASL XOAUTH2\r\n.\r\n"),
		EXPECT("AUTH XOAUTH2"),
		SEND("+ \r\n"),
		EXPECT_STR(long_xoauth2_b64),
		SEND("+OK Welcome.\r\n"),
		END }, .auth = POP3_AUTH_XOAUTH2, .secret = long_token },
	{ "OAUTHBEARER", {
		GREET,
		EXPECT("CAPA"),
		SEND("+OK\r\nSASL OAUTHBEARER\r\n.\r\n"),
		EXPECT("AUTH OAUTHBEARER bixhPWFsaWNlLAFhdXRoPUJlYXJlciB0b2sBAQ=="),
		SEND("+OK\r\n"),
		END }, .auth = POP3_AUTH_OAUTHBEARER, .secret = "tok" },
	/* Issue 17 item 18: a token goes as OAUTHBEARER where CAPA lists it,
	 * whichever of the two the caller named (the driver names XOAUTH2),
	 * as IMAP does; else XOAUTH2. */
	{ "a token, both mechanisms offered: OAUTHBEARER", {
		GREET,
		EXPECT("CAPA"),
		SEND("+OK\r\nUSER\r\nSASL PLAIN XOAUTH2 OAUTHBEARER\r\n.\r\n"),
		EXPECT("AUTH OAUTHBEARER bixhPWFsaWNlLAFhdXRoPUJlYXJlciB0b2sBAQ=="),
		SEND("+OK\r\n"),
		END }, .auth = POP3_AUTH_XOAUTH2, .secret = "tok",
	  .caps = POP3_CAP_SASL_XOAUTH2 | POP3_CAP_SASL_OAUTHBEARER,
	  .caps_text = "USER, SASL PLAIN XOAUTH2 OAUTHBEARER" },
	{ "a token, OAUTHBEARER listed in lower case", {
		GREET,
		EXPECT("CAPA"),
		SEND("+OK\r\nsasl xoauth2 oauthbearer\r\n.\r\n"),
		EXPECT("AUTH OAUTHBEARER bixhPWFsaWNlLAFhdXRoPUJlYXJlciB0b2sBAQ=="),
		SEND("+OK\r\n"),
		END }, .auth = POP3_AUTH_XOAUTH2, .secret = "tok" },
	{ "a token, OAUTHBEARER asked for but only XOAUTH2 offered: XOAUTH2", {
		GREET,
		EXPECT("CAPA"),
		SEND("+OK\r\nSASL PLAIN XOAUTH2\r\n.\r\n"),
		EXPECT("AUTH XOAUTH2 dXNlcj1hbGljZQFhdXRoPUJlYXJlciB0b2sBAQ=="),
		SEND("+OK\r\n"),
		END }, .auth = POP3_AUTH_OAUTHBEARER, .secret = "tok",
	  .nocaps = POP3_CAP_SASL_OAUTHBEARER },
	{ "a token, no SASL line at all: XOAUTH2", {
		GREET,
		EXPECT("CAPA"),
		SEND("+OK\r\nUSER\r\nUIDL\r\n.\r\n"),
		EXPECT("AUTH XOAUTH2 dXNlcj1hbGljZQFhdXRoPUJlYXJlciB0b2sBAQ=="),
		SEND("+OK\r\n"),
		END }, .auth = POP3_AUTH_XOAUTH2, .secret = "tok", .caps_text = "USER, UIDL" },
	{ "OAUTHBEARER escapes , and = in the user name (RFC 5801)", {
		GREET,
		EXPECT("CAPA"),
		SEND("+OK\r\nSASL OAUTHBEARER\r\n.\r\n"),
		EXPECT("AUTH OAUTHBEARER bixhPWE9MkNiPTNEYywBYXV0aD1CZWFyZXIgdG9rAQE="),
		SEND("+OK\r\n"),
		END }, .auth = POP3_AUTH_OAUTHBEARER, .user = "a,b=c", .secret = "tok" },

	/* ---- refused ---- */
	{ "wrong password: -ERR [AUTH]", {
		GREET,
		EXPECT("CAPA"),
		SEND("+OK\r\nSASL PLAIN\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n.\r\n"),
		EXPECT("AUTH PLAIN AGFsaWNlAHB3"),
		SEND("-ERR [AUTH] Authentication failed.\r\n"),
		END }, .ret = -EACCES, .cls = POP3_FAIL_AUTH, .code = "AUTH",
	  .text = "pop.test refused the login of alice: [AUTH] Authentication failed." },
	{ "PASS refused without a code", {
		GREET,
		EXPECT("CAPA"),
		SEND("+OK\r\nUSER\r\n.\r\n"),
		EXPECT("USER alice"),
		SEND("+OK\r\n"),
		EXPECT("PASS pw"),
		SEND("-ERR invalid password\r\n"),
		END }, .ret = -EACCES, .cls = POP3_FAIL_AUTH, .code = "",
	  .text = "refused the login of alice: invalid password" },
	{ "USER refused", {
		GREET,
		EXPECT("CAPA"),
		SEND("+OK\r\nUSER\r\n.\r\n"),
		EXPECT("USER alice"),
		SEND("-ERR\r\n"),
		END }, .ret = -EACCES, .cls = POP3_FAIL_AUTH, .code = "",
	  .text = "refused the login of alice: no reason given" },
	{ "-ERR [IN-USE] at PASS: try later", {
		GREET,
		EXPECT("CAPA"),
		SEND("+OK\r\nUSER\r\nRESP-CODES\r\n.\r\n"),
		EXPECT("USER alice"),
		SEND("+OK\r\n"),
		EXPECT("PASS pw"),
		SEND("-ERR [IN-USE] Mailbox is locked by another POP3 session\r\n"),
		END }, .ret = -EAGAIN, .cls = POP3_FAIL_ERR, .code = "IN-USE",
	  .text = "[IN-USE] Mailbox is locked by another POP3 session" },
	{ "-ERR [LOGIN-DELAY]: try later", {
		GREET,
		EXPECT("CAPA"),
		SEND("+OK\r\nSASL PLAIN\r\nLOGIN-DELAY 900\r\n.\r\n"),
		EXPECT("AUTH PLAIN AGFsaWNlAHB3"),
		SEND("-ERR [LOGIN-DELAY] Wait 15 minutes\r\n"),
		END }, .ret = -EAGAIN, .cls = POP3_FAIL_ERR, .code = "LOGIN-DELAY",
	  .text = "Wait 15 minutes" },
	{ "-ERR [SYS/TEMP/...]: a sub-code of SYS/TEMP", {
		GREET,
		EXPECT("CAPA"),
		SEND("+OK\r\nSASL PLAIN\r\n.\r\n"),
		EXPECT("AUTH PLAIN AGFsaWNlAHB3"),
		SEND("-ERR [SYS/TEMP/OVERLOAD] later\r\n"),
		END }, .ret = -EAGAIN, .cls = POP3_FAIL_ERR, .code = "SYS/TEMP/OVERLOAD",
	  .text = "later" },
	{ "-ERR [SYS/PERM] is a refused login", {
		GREET,
		EXPECT("CAPA"),
		SEND("+OK\r\nSASL PLAIN\r\n.\r\n"),
		EXPECT("AUTH PLAIN AGFsaWNlAHB3"),
		SEND("-ERR [SYS/PERM] account disabled\r\n"),
		END }, .ret = -EACCES, .cls = POP3_FAIL_AUTH, .code = "SYS/PERM",
	  .text = "account disabled" },
	{ "PLAIN: a challenge after the response is cancelled", {
		GREET,
		EXPECT("CAPA"),
		SEND("+OK\r\nSASL PLAIN\r\n.\r\n"),
		EXPECT("AUTH PLAIN AGFsaWNlAHB3"),
		SEND("+ \r\n"),
		EXPECT("*"),
		SEND("-ERR authentication cancelled\r\n"),
		END }, .ret = -EACCES, .cls = POP3_FAIL_AUTH, .text = "authentication cancelled" },
	{ "XOAUTH2 error challenge: an empty response", {
		GREET,
		EXPECT("CAPA"),
		SEND("+OK\r\nSASL XOAUTH2\r\n.\r\n"),
		EXPECT("AUTH XOAUTH2 dXNlcj1hbGljZQFhdXRoPUJlYXJlciB0b2sBAQ=="),
		SEND("+ eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21h"
		     "aWwuZ29vZ2xlLmNvbS8ifQ==\r\n"),
		EXPECT(""),
		SEND("-ERR [AUTH] Invalid credentials\r\n"),
		END }, .auth = POP3_AUTH_XOAUTH2, .secret = "tok", .ret = -EACCES,
	  .cls = POP3_FAIL_AUTH, .code = "AUTH",
	  .text = "[AUTH] Invalid credentials; {\"status\":\"401\",\"schemes\":\"Bearer\"" },
	{ "OAUTHBEARER error challenge: AQ==", {
		GREET,
		EXPECT("CAPA"),
		SEND("+OK\r\nSASL OAUTHBEARER\r\n.\r\n"),
		EXPECT("AUTH OAUTHBEARER bixhPWFsaWNlLAFhdXRoPUJlYXJlciB0b2sBAQ=="),
		SEND("+ eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=\r\n"),
		EXPECT("AQ=="),
		SEND("-ERR failed\r\n"),
		END }, .auth = POP3_AUTH_OAUTHBEARER, .secret = "tok", .ret = -EACCES,
	  .cls = POP3_FAIL_AUTH, .text = "failed; {\"status\":\"invalid_token\"}" },
	{ "a server that accepts after the error challenge", {
		GREET,
		EXPECT("CAPA"),
		SEND("+OK\r\nSASL OAUTHBEARER\r\n.\r\n"),
		EXPECT("AUTH OAUTHBEARER bixhPWFsaWNlLAFhdXRoPUJlYXJlciB0b2sBAQ=="),
		SEND("+ eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=\r\n"),
		EXPECT("AQ=="),
		SEND("+OK\r\n"),
		END }, .auth = POP3_AUTH_OAUTHBEARER, .secret = "tok", .ret = -EPROTO,
	  .cls = POP3_FAIL_PROTO, .text = "accepted the OAUTHBEARER login after an error" },
	{ "a user name with a line break is not sent", {
		GREET,
		EXPECT("CAPA"),
		SEND("+OK\r\nUSER\r\n.\r\n"),
		END }, .user = "alice\r\nDELE 1", .ret = -EINVAL, .cls = POP3_FAIL_AUTH,
	  .text = "line break" },

	/* ---- greeting ---- */
	{ "-ERR greeting", {
		SEND("-ERR Server busy, too many connections\r\n"),
		END }, .ret = -EIO, .cls = POP3_FAIL_ERR,
	  .text = "pop.test refused the connection: Server busy, too many connections" },
	{ "-ERR [SYS/TEMP] greeting", {
		SEND("-ERR [SYS/TEMP] overloaded\r\n"),
		END }, .ret = -EAGAIN, .cls = POP3_FAIL_ERR, .code = "SYS/TEMP",
	  .text = "overloaded" },
	{ "an IMAP server", {
		SEND("* OK IMAP4rev1 ready\r\n"),
		END }, .ret = -EPROTO, .cls = POP3_FAIL_PROTO,
	  .text = "unexpected reply to GREETING: \"* OK IMAP4rev1 ready\"" },
	{ "a SASL continuation is not a greeting", {
		SEND("+ hello\r\n"),
		END }, .ret = -EPROTO, .cls = POP3_FAIL_PROTO },
	{ "+OKAY is not +OK", {
		SEND("+OKAY\r\n"),
		END }, .ret = -EPROTO, .cls = POP3_FAIL_PROTO },
	{ "a bare LF in the greeting", {
		SEND("+OK ready\n"),
		END }, .ret = -EPROTO, .cls = POP3_FAIL_PROTO, .text = "bare LF" },
	{ "closed before the greeting", {
		CLOSE }, .ret = -ECONNRESET, .cls = POP3_FAIL_CONN, .text = "closed" },
	{ "a malformed CAPA", {
		GREET,
		EXPECT("CAPA"),
		SEND("+OK\r\nUSER\n.\r\n"),
		END }, .ret = -EPROTO, .cls = POP3_FAIL_PROTO, .text = "CAPA" },
};

static void test_connect(void **state)
{
	char plain[400];
	int n;

	(void)state;
	memset(long_secret, 'p', 300);
	n = snprintf(plain, sizeof(plain), "%calice%c%s", 0, 0, long_secret);
	base64(long_plain_b64, plain, (size_t)n);
	memset(long_token, 't', 600);
	{
		char resp[700];

		n = snprintf(resp, sizeof(resp), "user=alice\001auth=Bearer %s\001\001", long_token);
		base64(long_xoauth2_b64, resp, (size_t)n);
	}

	for (size_t i = 0; i < ARRAY_SIZE(connect_cases); i++) {
		const struct connect_case *c = &connect_cases[i];
		struct pop3_params p = params();
		struct pop3_session *s;
		int r;

		case_name = c->name;
		p.auth = c->auth;
		if (c->user)
			p.user = c->user;
		if (c->secret)
			p.secret = c->secret;
		for (int slow = 0; slow <= 1; slow++) {
			s = open_with(c->steps, p, slow);
			r = pop3_connect(s);
			CHECK_INT(r, c->ret);
			CHECK_INT(pop3_fail_class(s), c->cls);
			if (c->code)
				CHECK_STR(pop3_resp_code(s), c->code);
			if (c->text && !strstr(pop3_error(s), c->text))
				fail_msg("%s: error \"%s\" lacks \"%s\"", c->name, pop3_error(s),
				         c->text);
			if (r == 0) {
				CHECK_STR(pop3_error(s), "no error");
				CHECK(!pop3_broken(s));
			} else {
				CHECK(pop3_broken(s));
				CHECK_INT(pop3_noop(s), -EIO);   /* nothing more is sent */
			}
			CHECK_INT(pop3_caps(s) & c->caps, c->caps);
			CHECK_INT(pop3_caps(s) & c->nocaps, 0);
			if (c->caps_text)
				CHECK_STR(pop3_caps_text(s), c->caps_text);
			finish();
		}
	}
}

/* ---- STLS ------------------------------------------------------------------- */

struct tls_case {
	const char *name;
	struct step steps[10];
	enum pop3_fail cls;
	const char *text;
};

static const struct tls_case tls_cases[] = {
	{ "STLS not offered: nothing secret is sent", {
		GREET,
		EXPECT("CAPA"),
		SEND("+OK\r\nUSER\r\nSASL PLAIN\r\nUIDL\r\n.\r\n"),
		END }, POP3_FAIL_TLS_REQUIRED, "does not offer STLS" },
	{ "CAPA refused: no STLS either", {
		GREET,
		EXPECT("CAPA"),
		SEND("-ERR what?\r\n"),
		END }, POP3_FAIL_TLS_REQUIRED, "does not offer STLS" },
	{ "STLS refused", {
		GREET,
		EXPECT("CAPA"),
		SEND("+OK\r\nSTLS\r\nUSER\r\n.\r\n"),
		EXPECT("STLS"),
		SEND("-ERR TLS not available right now\r\n"),
		END }, POP3_FAIL_TLS_REQUIRED, "refused STLS: TLS not available right now" },
	{ "data injected after the STLS +OK", {
		GREET,
		EXPECT("CAPA"),
		SEND("+OK\r\nSTLS\r\nUSER\r\n.\r\n"),
		EXPECT("STLS"),
		SEND("+OK Begin TLS\r\n+OK injected\r\n"),
		END }, POP3_FAIL_TLS_REQUIRED, "possible attack" },
	{ "a partial line injected after the STLS +OK", {
		GREET,
		EXPECT("CAPA"),
		SEND("+OK\r\nSTLS\r\nUSER\r\n.\r\n"),
		EXPECT("STLS"),
		SEND("+OK Begin TLS\r\n+"),
		END }, POP3_FAIL_TLS_REQUIRED, "possible attack" },
	{ "STLS accepted: the handshake starts (and fails here)", {
		GREET,
		EXPECT("CAPA"),
		SEND("+OK\r\nSTLS\r\nUSER\r\n.\r\n"),
		EXPECT("STLS"),
		SEND("+OK Begin TLS negotiation\r\n"),
		EXPECT_TLS,
		CLOSE }, POP3_FAIL_CONN, "UPGRADETLS" },
};

static void test_tls_required(void **state)
{
	char err[256];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(tls_cases); i++) {
		const struct tls_case *c = &tls_cases[i];
		struct pop3_params p = params();
		struct pop3_session *s;
		struct tls_ctx *tls = tls_ctx_new(NULL, err, sizeof(err));

		case_name = c->name;
		if (!tls)
			fail_msg("tls_ctx_new: %s", err);
		p.require_tls = 1;
		p.conn.tls = tls;
		s = open_with(c->steps, p, 0);
		fx.tls = tls;
		CHECK(pop3_connect(s) < 0);
		CHECK_INT(pop3_fail_class(s), c->cls);
		CHECK(pop3_broken(s));
		if (!strstr(pop3_error(s), c->text))
			fail_msg("%s: error \"%s\" lacks \"%s\"", c->name, pop3_error(s), c->text);
		/* nothing about the credentials went out */
		CHECK(strstr(fx.trace_c, "USER") == NULL);
		CHECK(strstr(fx.trace_c, "PASS") == NULL);
		CHECK(strstr(fx.trace_c, "AUTH") == NULL);
		finish();
	}
}

/* A session on STEPS that must use STLS, which can work: the peer plays a
 * real TLS server (peer.h) whose certificate the client trusts. */
static struct pop3_session *open_stls(const struct step *steps)
{
	struct pop3_params p = params();
	struct tls_ctx *tls;
	char err[256];

	tls = tls_ctx_new(peer_tls_setup(), err, sizeof(err));
	if (!tls)
		fail_msg("tls_ctx_new: %s", err);
	p.require_tls = 1;
	p.conn.tls = tls;
	open_with(steps, p, 0);
	fx.tls = tls;   /* open_with() cleared the fixture */
	return fx.s;
}

/* Issue 11 item 7: capabilities said in clear are forgotten after STLS
 * (RFC 2595 §4): SASL PLAIN offered before, not after, means USER/PASS. */
static void test_stls_forgets(void **state)
{
	static const struct { const char *name; struct step steps[14]; } cases[] = {
		{ "CAPA after TLS lists USER only", {
			GREET,
			EXPECT("CAPA"),
			SEND("+OK\r\nSTLS\r\nSASL PLAIN XOAUTH2\r\nUIDL\r\nPIPELINING\r\n.\r\n"),
			EXPECT("STLS"),
			SEND("+OK Begin TLS\r\n"),
			TLS_ACCEPT,
			EXPECT("CAPA"),
			SEND("+OK\r\nUSER\r\n.\r\n"),
			EXPECT("USER alice"),
			SEND("+OK\r\n"),
			EXPECT("PASS pw"),
			SEND("+OK\r\n"),
			END } },
		{ "CAPA after TLS refused", {
			GREET,
			EXPECT("CAPA"),
			SEND("+OK\r\nSTLS\r\nSASL PLAIN\r\nUIDL\r\n.\r\n"),
			EXPECT("STLS"),
			SEND("+OK Begin TLS\r\n"),
			TLS_ACCEPT,
			EXPECT("CAPA"),
			SEND("-ERR [SYS/TEMP] not now\r\n"),
			EXPECT("USER alice"),
			SEND("+OK\r\n"),
			EXPECT("PASS pw"),
			SEND("+OK\r\n"),
			END } },
	};

	static const char *const texts[] = { "USER", "" };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		case_name = cases[i].name;
		open_stls(cases[i].steps);
		CHECK_INT(pop3_connect(fx.s), 0);
		CHECK_INT(pop3_caps(fx.s), POP3_CAP_USER);
		CHECK_STR(pop3_caps_text(fx.s), texts[i]);
		CHECK_STR(pop3_resp_code(fx.s), "");
		finish();
	}
}

/* Issue 17 item 18: the mechanism for a token is chosen from the CAPA
 * after STLS; OAUTHBEARER offered in clear only does not count. */
static void test_stls_oauth(void **state)
{
	static const struct step steps[] = {
		GREET,
		EXPECT("CAPA"),
		SEND("+OK\r\nSTLS\r\nSASL OAUTHBEARER\r\n.\r\n"),
		EXPECT("STLS"),
		SEND("+OK Begin TLS\r\n"),
		TLS_ACCEPT,
		EXPECT("CAPA"),
		SEND("+OK\r\nSASL XOAUTH2\r\n.\r\n"),
		EXPECT("AUTH XOAUTH2 dXNlcj1hbGljZQFhdXRoPUJlYXJlciB0b2sBAQ=="),
		SEND("+OK\r\n"),
		END,
	};
	struct pop3_params p = params();
	struct tls_ctx *tls;
	char err[256];

	(void)state;
	case_name = "OAUTHBEARER offered before STLS only";
	tls = tls_ctx_new(peer_tls_setup(), err, sizeof(err));
	if (!tls)
		fail_msg("tls_ctx_new: %s", err);
	p.require_tls = 1;
	p.conn.tls = tls;
	p.auth = POP3_AUTH_XOAUTH2;
	p.secret = "tok";
	open_with(steps, p, 0);
	fx.tls = tls;
	CHECK_INT(pop3_connect(fx.s), 0);
	CHECK_STR(pop3_caps_text(fx.s), "SASL XOAUTH2");
	finish();
}

/* Issue 17 item 18: the CAPA text shown in the status file is bounded,
 * whatever the server sends; what does not fit becomes "...". */
static void test_caps_text_bound(void **state)
{
	static char many[64 * 1024], one_long[1100];
	static const char head[] = "USER, X-CAP-0000 \033[31mred, X-CAP-0001 ";
	size_t len = 0;
	const char *t;

	(void)state;
	len += (size_t)snprintf(many, sizeof(many), "+OK\r\nUSER\r\n");
	for (int i = 0; i < 2000; i++)
		len += (size_t)snprintf(many + len, sizeof(many) - len, "X-CAP-%04d \033[31mred\r\n", i);
	len += (size_t)snprintf(many + len, sizeof(many) - len, ".\r\n");
	assert_true(len < sizeof(many) - 1);
	{
		const struct step steps[] = {
			GREET,
			EXPECT("CAPA"),
			SEND_RAW(many, len),
			EXPECT("USER alice"),
			SEND("+OK\r\n"),
			EXPECT("PASS pw"),
			SEND("+OK\r\n"),
			END,
		};

		case_name = "2000 CAPA lines";
		connected(steps);
		t = pop3_caps_text(fx.s);
		CHECK(strlen(t) <= POP3_CAPS_TEXT_MAX);
		CHECK(strlen(t) > POP3_CAPS_TEXT_MAX - 40);   /* filled, not dropped */
		CHECK(strncmp(t, head, strlen(head)) == 0);   /* as sent, controls too */
		CHECK(strcmp(t + strlen(t) - 5, ", ...") == 0);
		CHECK_INT(pop3_caps(fx.s) & POP3_CAP_USER, POP3_CAP_USER);
		finish();
	}

	len = (size_t)snprintf(one_long, sizeof(one_long), "+OK\r\n");
	memset(one_long + len, 'A', 1020);
	len += 1020;
	len += (size_t)snprintf(one_long + len, sizeof(one_long) - len, "\r\nUSER\r\n.\r\n");
	{
		const struct step steps[] = {
			GREET,
			EXPECT("CAPA"),
			SEND_RAW(one_long, len),
			EXPECT("USER alice"),
			SEND("+OK\r\n"),
			EXPECT("PASS pw"),
			SEND("+OK\r\n"),
			END,
		};

		case_name = "one CAPA line longer than the text may be";
		connected(steps);
		CHECK_STR(pop3_caps_text(fx.s), "...");
		CHECK_INT(pop3_caps(fx.s) & POP3_CAP_USER, POP3_CAP_USER);   /* still parsed */
		finish();
	}
}

/* Issue 11 item 3: a handshake the server cuts is a network failure (the
 * mount may come up from its cache), not a TLS one. */
static void test_stls_cut(void **state)
{
	static const struct step steps[] = {
		GREET,
		EXPECT("CAPA"),
		SEND("+OK\r\nSTLS\r\nUSER\r\n.\r\n"),
		EXPECT("STLS"),
		SEND("+OK Begin TLS negotiation\r\n"),
		EXPECT_TLS,
		CLOSE,
	};

	(void)state;
	case_name = "closed after the ClientHello";
	open_stls(steps);
	CHECK_INT(pop3_connect(fx.s), -ECONNRESET);
	CHECK_INT(pop3_fail_class(fx.s), POP3_FAIL_CONN);
	CHECK_INT(pop3_conn_fail(fx.s), CONN_FAIL_CLOSED);
	CHECK(strstr(pop3_error(fx.s), "closed the connection during the TLS handshake") != NULL);
	finish();
}

/* ---- STAT, UIDL, LIST ----------------------------------------------------------- */

static int uidl_cb(void *ctx, uint32_t n, const char *uidl)
{
	const uint32_t *stop_at = ctx;

	note("%u %s; ", n, uidl);
	return stop_at && *stop_at == n ? -EINTR : 0;
}

static int list_cb(void *ctx, uint32_t n, uint64_t size)
{
	const uint32_t *stop_at = ctx;

	note("%u=%llu; ", n, (unsigned long long)size);
	return stop_at && *stop_at == n ? -EINTR : 0;
}

static void test_uidl(void **state)
{
	static const struct step steps[] = {
		LOGIN,
		/* the STAT count is needed to check the listing: asked first */
		STAT3,
		EXPECT("UIDL"),
		SEND("+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 a/b+c=d\r\n"
		     "3 0123456789012345678901234567890123456789012345678901234567890123456789\r\n"
		     ".\r\n"),
		EXPECT("UIDL"),
		SEND("+OK unique-id listing follows\r\n1 x\r\n2 y\r\n3 z\r\n.\r\n"),
		/* the callback stops the listing; the response is still read */
		EXPECT("UIDL"),
		SEND("+OK\r\n1 x\r\n2 y\r\n3 z\r\n.\r\n"),
		EXPECT("STAT"),
		SEND("+OK 3 600 and more\r\n"),
		EXPECT("UIDL"),
		SEND("-ERR [SYS/PERM] UIDL not supported\r\n"),
		EXPECT("NOOP"),
		SEND("+OK\r\n"),
		END,
	};
	struct pop3_session *s = connected(steps);
	uint32_t stop = 2, count = 99;
	uint64_t size = 99;

	(void)state;
	assert_int_equal(pop3_uidl(s, uidl_cb, NULL), 0);
	assert_string_equal(fx.log, "1 whqtswO00WBw418f9t5JxYwZ; 2 a/b+c=d; "
	                    "3 0123456789012345678901234567890123456789012345678901234567890123456789; ");
	fx.log[0] = '\0';
	assert_int_equal(pop3_uidl(s, uidl_cb, NULL), 0);
	assert_string_equal(fx.log, "1 x; 2 y; 3 z; ");
	fx.log[0] = '\0';
	assert_int_equal(pop3_uidl(s, uidl_cb, &stop), -EINTR);
	assert_string_equal(fx.log, "1 x; 2 y; ");
	assert_false(pop3_broken(s));
	assert_int_equal(pop3_stat(s, &count, &size), 0);
	assert_int_equal(count, 3);
	assert_int_equal(size, 600);
	assert_int_equal(pop3_uidl(s, uidl_cb, NULL), -EIO);
	assert_int_equal(pop3_fail_class(s), POP3_FAIL_ERR);
	assert_string_equal(pop3_resp_code(s), "SYS/PERM");
	assert_non_null(strstr(pop3_error(s), "UIDL not supported"));
	assert_false(pop3_broken(s));
	assert_int_equal(pop3_noop(s), 0);
	finish();
}

struct bad_listing {
	const char *name;
	const char *stat;               /* the STAT reply */
	const char *reply;              /* the UIDL (or LIST) reply */
	const char *text;               /* in pop3_error() */
	int stat_fails;                 /* the implicit STAT fails: no UIDL sent */
};

#define UIDL71 "01234567890123456789012345678901234567890123456789012345678901234567890"

static const struct bad_listing bad_uidls[] = {
	{ "a UIDL listed twice", "+OK 3 600\r\n", "+OK\r\n1 a\r\n2 b\r\n3 a\r\n.\r\n",
	  "UIDL a is listed twice", 0 },
	{ "message number 0", "+OK 3 600\r\n", "+OK\r\n0 a\r\n1 b\r\n2 c\r\n3 d\r\n.\r\n",
	  "outside 1..3", 0 },
	{ "message number beyond STAT", "+OK 3 600\r\n", "+OK\r\n1 a\r\n2 b\r\n3 c\r\n4 d\r\n.\r\n",
	  "lists message 4, outside 1..3", 0 },
	{ "a huge message number", "+OK 3 600\r\n", "+OK\r\n1 a\r\n99999999999 b\r\n.\r\n",
	  "malformed UIDL line", 0 },
	{ "not ascending", "+OK 3 600\r\n", "+OK\r\n1 a\r\n3 c\r\n2 b\r\n.\r\n",
	  "leaves out message 2", 0 },
	{ "repeated number", "+OK 3 600\r\n", "+OK\r\n1 a\r\n1 b\r\n2 c\r\n3 d\r\n.\r\n",
	  "lists message 1 after 1", 0 },
	{ "a message left out", "+OK 3 600\r\n", "+OK\r\n1 a\r\n2 b\r\n.\r\n",
	  "leaves out message 3", 0 },
	{ "empty listing", "+OK 3 600\r\n", "+OK\r\n.\r\n", "leaves out message 1", 0 },
	{ "a UIDL of 71 characters", "+OK 1 600\r\n", "+OK\r\n1 " UIDL71 "\r\n.\r\n",
	  "71 characters long", 0 },
	{ "a UIDL with a space", "+OK 1 600\r\n", "+OK\r\n1 abc def\r\n.\r\n",
	  "outside 0x21-0x7E", 0 },
	{ "a UIDL with a control character", "+OK 1 600\r\n", "+OK\r\n1 abc\001def\r\n.\r\n",
	  "outside 0x21-0x7E", 0 },
	{ "a UIDL with DEL", "+OK 1 600\r\n", "+OK\r\n1 abc\177\r\n.\r\n", "outside 0x21-0x7E", 0 },
	{ "a UIDL with an 8-bit byte", "+OK 1 600\r\n", "+OK\r\n1 caf\xc3\xa9\r\n.\r\n",
	  "outside 0x21-0x7E", 0 },
	{ "an empty UIDL", "+OK 1 600\r\n", "+OK\r\n1 \r\n.\r\n", "0 characters long", 0 },
	{ "no UIDL", "+OK 1 600\r\n", "+OK\r\n1\r\n.\r\n", "malformed UIDL line", 0 },
	{ "a sign", "+OK 1 600\r\n", "+OK\r\n+1 a\r\n.\r\n", "malformed UIDL line", 0 },
	{ "a line longer than any UIDL line", "+OK 1 600\r\n", NULL, "line too long", 0 },
	{ "a bare LF", "+OK 1 600\r\n", "+OK\r\n1 a\n.\r\n", "bare LF", 0 },
	{ "STAT over 10,000,000 messages", "+OK 10000001 600\r\n", NULL, "10000001 messages", 1 },
	{ "STAT of 2^32-1 messages", "+OK 4294967295 1\r\n", NULL,
	  "reports 4294967295 messages; more than 10000000 are not supported", 1 },
	{ "STAT of 2^64-1 messages", "+OK 18446744073709551615 1\r\n", NULL,
	  "reports 18446744073709551615 messages", 1 },
	{ "UIDL past a STAT at the bound", "+OK 10000000 1\r\n", "+OK\r\n10000001 a\r\n.\r\n",
	  "lists message 10000001, outside 1..10000000", 0 },
	{ "STAT with a huge count", "+OK 99999999999999999999999 1\r\n", NULL, "malformed STAT", 1 },
	{ "STAT without a size", "+OK 3\r\n", NULL, "malformed STAT", 1 },
	{ "STAT garbage", "+OK lots\r\n", NULL, "malformed STAT", 1 },
};

static void test_uidl_hostile(void **state)
{
	static char longline[4096];

	(void)state;
	snprintf(longline, sizeof(longline), "+OK\r\n1 %02000d\r\n.\r\n", 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad_uidls); i++) {
		const struct bad_listing *c = &bad_uidls[i];
		const char *reply = c->reply ? c->reply : longline;
		struct step steps[] = {
			LOGIN,
			EXPECT("STAT"),
			{ ST_SEND, c->stat, strlen(c->stat), 0 },
			c->stat_fails ? (struct step)END : (struct step)EXPECT("UIDL"),
			{ ST_SEND, reply, strlen(reply), 0 },
			END,
		};
		struct pop3_session *s;

		case_name = c->name;
		s = connected(steps);
		CHECK_INT(pop3_uidl(s, uidl_cb, NULL), -EPROTO);
		CHECK_INT(pop3_fail_class(s), POP3_FAIL_PROTO);
		CHECK(pop3_broken(s));
		if (!strstr(pop3_error(s), c->text))
			fail_msg("%s: error \"%s\" lacks \"%s\"", c->name, pop3_error(s), c->text);
		finish();
	}
}

/* Issue 11 item 15: a STAT at the bound is taken, and costs nothing by its
 * count (memory grows only with the lines the server really sends); LIST
 * after a hostile STAT is refused like UIDL. */
static void test_stat_bound(void **state)
{
	static const struct step at_bound[] = {
		LOGIN,
		EXPECT("STAT"),
		SEND("+OK 10000000 1\r\n"),
		EXPECT("LIST"),
		SEND("+OK\r\n1 100\r\n.\r\n"),
		END,
	};
	static const struct step hostile_list[] = {
		LOGIN,
		EXPECT("STAT"),
		SEND("+OK 4294967295 1\r\n"),
		END,
	};
	struct pop3_session *s;
	uint32_t count = 0;
	size_t before;

	(void)state;
	case_name = "STAT at the bound";
	s = connected(at_bound);
	before = heap_in_use();
	CHECK_INT(pop3_stat(s, &count, NULL), 0);
	CHECK_INT(count, 10000000);
	CHECK(heap_in_use() < before + 1024 * 1024);
	/* a short listing is a listing that leaves messages out */
	CHECK_INT(pop3_list(s, list_cb, NULL), -EPROTO);
	CHECK(strstr(pop3_error(s), "leaves out message 2") != NULL);
	finish();

	case_name = "LIST after a STAT of 2^32-1";
	s = connected(hostile_list);
	CHECK_INT(pop3_list(s, list_cb, NULL), -EPROTO);
	CHECK_INT(pop3_fail_class(s), POP3_FAIL_PROTO);
	CHECK(strstr(pop3_error(s), "4294967295 messages; more than 10000000") != NULL);
	finish();
}

/* RFC 1939: messages deleted in this session are left out of UIDL and LIST,
 * and STAT does not count them. */
static void test_uidl_after_dele(void **state)
{
	static const struct step steps[] = {
		LOGIN,
		EXPECT("STAT"),
		SEND("+OK 4 800\r\n"),
		EXPECT("DELE 2"),
		SEND("+OK message 2 deleted\r\n"),
		EXPECT("DELE 4"),
		SEND("+OK message 4 deleted\r\n"),
		EXPECT("UIDL"),
		SEND("+OK\r\n1 a\r\n3 c\r\n.\r\n"),
		EXPECT("LIST"),
		SEND("+OK 2 messages\r\n1 100\r\n3 300\r\n.\r\n"),
		/* STAT now counts 2; numbers still go up to 4 */
		EXPECT("STAT"),
		SEND("+OK 2 400\r\n"),
		EXPECT("UIDL"),
		SEND("+OK\r\n1 a\r\n3 c\r\n.\r\n"),
		/* a deleted message listed anyway */
		EXPECT("UIDL"),
		SEND("+OK\r\n1 a\r\n2 b\r\n3 c\r\n.\r\n"),
		END,
	};
	struct pop3_session *s = connected(steps);
	uint32_t count;
	uint64_t size;

	(void)state;
	assert_int_equal(pop3_stat(s, &count, &size), 0);
	assert_int_equal(count, 4);
	assert_int_equal(pop3_dele(s, 2), 0);
	assert_int_equal(pop3_dele(s, 4), 0);
	assert_int_equal(pop3_uidl(s, uidl_cb, NULL), 0);
	assert_string_equal(fx.log, "1 a; 3 c; ");
	fx.log[0] = '\0';
	assert_int_equal(pop3_list(s, list_cb, NULL), 0);
	assert_string_equal(fx.log, "1=100; 3=300; ");
	fx.log[0] = '\0';
	assert_int_equal(pop3_stat(s, &count, &size), 0);
	assert_int_equal(count, 2);
	assert_int_equal(pop3_uidl(s, uidl_cb, NULL), 0);
	assert_string_equal(fx.log, "1 a; 3 c; ");
	assert_int_equal(pop3_uidl(s, uidl_cb, NULL), -EPROTO);
	assert_non_null(strstr(pop3_error(s), "message 2, which was deleted"));
	finish();
}

static void test_list(void **state)
{
	static const struct step steps[] = {
		LOGIN,
		STAT3,
		EXPECT("LIST"),
		SEND("+OK 3 messages (600 octets)\r\n1 120\r\n2 0\r\n3 18446744073709551615 extra\r\n"
		     ".\r\n"),
		EXPECT("LIST"),
		SEND("+OK\r\n1 120\r\n2 200\r\n3 280\r\n.\r\n"),
		EXPECT("LIST"),
		SEND("+OK\r\n1 120\r\n3 280\r\n2 200\r\n.\r\n"),
		END,
	};
	struct pop3_session *s = connected(steps);
	uint32_t stop = 1;

	(void)state;
	assert_int_equal(pop3_stat(s, NULL, NULL), 0);
	assert_int_equal(pop3_list(s, list_cb, NULL), 0);
	assert_string_equal(fx.log, "1=120; 2=0; 3=18446744073709551615; ");
	fx.log[0] = '\0';
	assert_int_equal(pop3_list(s, list_cb, &stop), -EINTR);
	assert_string_equal(fx.log, "1=120; ");
	assert_false(pop3_broken(s));
	assert_int_equal(pop3_list(s, list_cb, NULL), -EPROTO);
	assert_true(pop3_broken(s));
	finish();

	static const struct step bad[] = {
		LOGIN, STAT3,
		EXPECT("LIST"),
		SEND("+OK\r\n1 120\r\n2 x\r\n3 1\r\n.\r\n"),
		END,
	};
	s = connected(bad);
	assert_int_equal(pop3_list(s, list_cb, NULL), -EPROTO);
	assert_non_null(strstr(pop3_error(s), "malformed LIST line: 2 x"));
	finish();
}

/* ---- RETR ------------------------------------------------------------------------- */

static struct pop3_sink *sink(void)
{
	fx.body.sk.write = sink_write;
	return &fx.body.sk;
}

static void test_retr(void **state)
{
	static const struct step steps[] = {
		LOGIN,
		EXPECT("RETR 1"),
		SEND("+OK 70 octets\r\nSubject: dots\r\n\r\n..leading\r\n...\r\n..\r\n"
		     "not. at start\r\n.\r\n"),
		EXPECT("RETR 2"),
		SEND("+OK\r\n.\r\n"),
		EXPECT("RETR 9"),
		SEND("-ERR [SYS/PERM] no such message\r\n"),
		EXPECT("NOOP"),
		SEND("+OK\r\n"),
		END,
	};
	static const char want[] = "Subject: dots\r\n\r\n.leading\r\n..\r\n.\r\nnot. at start\r\n";
	uint64_t size = 1;

	(void)state;
	for (int slow = 0; slow <= 1; slow++) {
		struct pop3_session *s = open_with(steps, params(), slow);

		assert_int_equal(pop3_connect(s), 0);
		assert_int_equal(pop3_retr(s, 1, sink(), &size), 0);
		assert_int_equal(size, sizeof(want) - 1);
		assert_int_equal(fx.body.len, sizeof(want) - 1);
		assert_memory_equal(fx.body.data, want, sizeof(want) - 1);
		fx.body.len = 0;
		assert_int_equal(pop3_retr(s, 2, sink(), &size), 0);
		assert_int_equal(size, 0);
		assert_int_equal(fx.body.len, 0);
		assert_int_equal(pop3_retr(s, 9, sink(), &size), -EIO);
		assert_int_equal(pop3_fail_class(s), POP3_FAIL_ERR);
		assert_non_null(strstr(pop3_error(s), "RETR failed: [SYS/PERM] no such message"));
		assert_false(pop3_broken(s));
		assert_int_equal(pop3_retr(s, 0, sink(), &size), -EINVAL);
		assert_int_equal(pop3_noop(s), 0);
		/* the body is never traced */
		assert_null(strstr(fx.trace_s, "leading"));
		assert_non_null(strstr(fx.trace_s, "+OK 70 octets"));
		finish();
	}
}

/* A 2 MB message in small writes: streamed, never held whole. */
static void test_retr_large(void **state)
{
	size_t cap = 2200000, wl = 0, bl = 0;
	char *wire = malloc(cap + 64), *body = malloc(cap);
	const char *head = "+OK 2097152 octets\r\n";
	struct pop3_session *s;
	uint64_t size = 0;

	(void)state;
	assert_non_null(wire);
	assert_non_null(body);
	wl = strlen(head);
	memcpy(wire, head, wl);
	for (unsigned i = 0; bl < 2 * 1024 * 1024; i++) {
		char line[200];
		int n = snprintf(line, sizeof(line), "%s%u %.*s\r\n", i % 7 == 0 ? "." : "",
		                 i, (int)(i % 150), "=====================================--"
		                 "----------------------------------------------------------"
		                 "----------------------------------------------------------");

		/* on the wire, a leading dot is doubled */
		if (line[0] == '.')
			wire[wl++] = '.';
		memcpy(wire + wl, line, (size_t)n);
		wl += (size_t)n;
		memcpy(body + bl, line, (size_t)n);
		bl += (size_t)n;
	}
	memcpy(wire + wl, ".\r\n", 3);
	wl += 3;
	{
		struct step steps[] = {
			LOGIN,
			EXPECT("RETR 3"),
			SEND_CHUNKED(wire, wl, 997),
			EXPECT("NOOP"),
			SEND("+OK\r\n"),
			END,
		};
		s = connected(steps);
		if (pop3_retr(s, 3, sink(), &size) != 0)
			fail_msg("RETR: %s", pop3_error(s));
		assert_int_equal(size, bl);
		assert_int_equal(fx.body.len, bl);
		assert_memory_equal(fx.body.data, body, bl);
		assert_true(fx.body.chunks > 100);
		assert_true(fx.body.max_chunk <= 65536);
		assert_int_equal(pop3_noop(s), 0);
		finish();
	}
	free(wire);
	free(body);
}

static void test_retr_failures(void **state)
{
	static const struct step closed[] = {
		LOGIN,
		EXPECT("RETR 1"),
		SEND("+OK\r\nFrom: a\r\n\r\npartial body\r\n"),
		CLOSE,
	};
	static const struct step closed_at_dot[] = {
		LOGIN,
		EXPECT("RETR 1"),
		SEND("+OK\r\nbody\r\n."),
		CLOSE,
	};
	static const struct step sink_fails[] = {
		LOGIN,
		EXPECT("RETR 1"),
		SEND("+OK\r\nline 1\r\n"),
		DELAY(20),
		SEND("line 2\r\n"),
		DELAY(20),
		SEND("line 3\r\n.\r\n"),
		EXPECT("NOOP"),
		SEND("+OK\r\n"),
		END,
	};
	static const struct step malformed[] = {
		LOGIN,
		EXPECT("RETR 1"),
		SEND("+OK\r\nline 1\nline 2\r\n.\r\n"),
		END,
	};
	static const struct step nul[] = {
		LOGIN,
		EXPECT("RETR 1"),
		SEND_RAW("+OK\r\nli\0ne\r\n.\r\n", 15),
		END,
	};
	struct pop3_session *s;
	uint64_t size = 0;

	(void)state;
	case_name = "closed before the final dot";
	s = connected(closed);
	CHECK(pop3_retr(s, 1, sink(), &size) < 0);
	CHECK_INT(pop3_fail_class(s), POP3_FAIL_CONN);
	CHECK_INT(pop3_conn_fail(s), CONN_FAIL_CLOSED);
	CHECK(pop3_broken(s));
	CHECK_INT(fx.body.len, strlen("From: a\r\n\r\npartial body\r\n"));
	CHECK_INT(size, fx.body.len);
	CHECK_INT(pop3_noop(s), -EIO);
	finish();

	case_name = "closed after the dot, before its CRLF";
	s = connected(closed_at_dot);
	CHECK(pop3_retr(s, 1, sink(), &size) < 0);
	CHECK_INT(pop3_fail_class(s), POP3_FAIL_CONN);
	CHECK_INT(fx.body.len, 6);
	finish();

	case_name = "the sink fails: the rest is read, its error returned";
	s = connected(sink_fails);
	fx.body.fail_at = 2;
	CHECK_INT(pop3_retr(s, 1, sink(), &size), -ENOSPC);
	CHECK_INT(size, 8);
	CHECK_INT(fx.body.len, 8);
	CHECK(!pop3_broken(s));
	CHECK_INT(pop3_noop(s), 0);
	finish();

	case_name = "a bare LF in the body";
	s = connected(malformed);
	CHECK_INT(pop3_retr(s, 1, sink(), &size), -EPROTO);
	CHECK_INT(pop3_fail_class(s), POP3_FAIL_PROTO);
	CHECK(strstr(pop3_error(s), "malformed RETR response: bare LF") != NULL);
	CHECK(pop3_broken(s));
	finish();

	case_name = "a NUL in the body";
	s = connected(nul);
	CHECK_INT(pop3_retr(s, 1, sink(), &size), -EPROTO);
	CHECK(strstr(pop3_error(s), "NUL") != NULL);
	finish();
}

/* ---- DELE, QUIT, misuse ------------------------------------------------------- */

static void test_dele_quit(void **state)
{
	static const struct step steps[] = {
		LOGIN,
		STAT3,
		EXPECT("DELE 1"),
		SEND("+OK message 1 deleted\r\n"),
		EXPECT("DELE 1"),
		SEND("-ERR message 1 already deleted\r\n"),
		EXPECT("DELE 3"),
		SEND("+OK\r\n"),
		EXPECT("QUIT"),
		SEND("+OK dewey POP3 server signing off (2 messages left)\r\n"),
		END,
	};
	static const struct step quit_err[] = {
		LOGIN,
		EXPECT("DELE 1"),
		SEND("+OK\r\n"),
		EXPECT("QUIT"),
		SEND("-ERR some deleted messages not removed\r\n"),
		END,
	};
	struct pop3_session *s;

	(void)state;
	s = connected(steps);
	assert_int_equal(pop3_stat(s, NULL, NULL), 0);
	assert_int_equal(pop3_dele(s, 1), 0);
	assert_int_equal(pop3_dele(s, 1), -EIO);
	assert_int_equal(pop3_fail_class(s), POP3_FAIL_ERR);
	assert_non_null(strstr(pop3_error(s), "DELE failed: message 1 already deleted"));
	assert_false(pop3_broken(s));
	assert_int_equal(pop3_dele(s, 0), -EINVAL);
	assert_int_equal(pop3_dele(s, 4), -EINVAL);   /* beyond STAT: not sent */
	assert_int_equal(pop3_dele(s, 3), 0);
	assert_int_equal(pop3_quit(s), 0);
	assert_true(pop3_broken(s));   /* the session is over */
	assert_int_equal(pop3_noop(s), -EIO);
	assert_int_equal(pop3_quit(s), -EIO);
	finish();

	/* DELE before any STAT is sent as it is */
	s = connected(quit_err);
	assert_int_equal(pop3_dele(s, 1), 0);
	assert_int_equal(pop3_quit(s), -EIO);
	assert_int_equal(pop3_fail_class(s), POP3_FAIL_ERR);
	assert_non_null(strstr(pop3_error(s), "some deleted messages not removed"));
	finish();
}

static void test_not_connected(void **state)
{
	static const struct step steps[] = { END };
	struct pop3_session *s = open_session(steps);

	(void)state;
	assert_int_equal(pop3_stat(s, NULL, NULL), -EINVAL);
	assert_int_equal(pop3_noop(s), -EINVAL);
	assert_int_equal(pop3_uidl(s, uidl_cb, NULL), -EINVAL);
	assert_false(pop3_broken(s));
	assert_string_equal(fx.trace_c, "");
	finish();
}

/* ---- hostile servers and timeouts ------------------------------------------------- */

static void test_hostile(void **state)
{
	static char huge[(2 << 20) + 8];
	struct pop3_session *s;

	(void)state;
	/* a 2 MB greeting: over the reader's line limit */
	memcpy(huge, "+OK ", 4);
	memset(huge + 4, 'x', sizeof(huge) - 6);
	memcpy(huge + sizeof(huge) - 2, "\r\n", 2);
	{
		struct step steps[] = { SEND_RAW(huge, sizeof(huge)), END };

		case_name = "a 2 MB greeting";
		s = open_session(steps);
		CHECK_INT(pop3_connect(s), -EPROTO);
		CHECK(strstr(pop3_error(s), "too long") != NULL);
		finish();
	}
	{
		static const struct step steps[] = {
			LOGIN,
			EXPECT("NOOP"),
			SEND("+ what\r\n"),
			END,
		};
		case_name = "a continuation outside AUTH";
		s = connected(steps);
		CHECK_INT(pop3_noop(s), -EPROTO);
		CHECK(pop3_broken(s));
		finish();
	}
	{
		static const struct step steps[] = {
			LOGIN,
			EXPECT("NOOP"),
			SEND("+OK\r\n+OK unsolicited\r\n"),
			END,
		};
		/* POP3 has no untagged data and we do not pipeline: a line
		 * nobody asked for would be taken as the next reply */
		case_name = "an extra reply";
		s = connected(steps);
		CHECK_INT(pop3_noop(s), 0);
		CHECK_INT(pop3_noop(s), -EPROTO);
		CHECK(strstr(pop3_error(s), "unsolicited") != NULL);
		finish();
	}
}

/* Server text reaches logs and terminals: control bytes are replaced. */
static void test_error_text(void **state)
{
	static const struct step steps[] = {
		LOGIN,
		EXPECT("NOOP"),
		SEND("-ERR [SYS/PERM] no\x1b[2J\x07 way\r\n"),
		END,
	};
	struct pop3_session *s = connected(steps);

	(void)state;
	assert_int_equal(pop3_noop(s), -EIO);
	assert_string_equal(pop3_error(s), "NOOP failed: [SYS/PERM] no?[2J? way");
	assert_string_equal(pop3_resp_code(s), "SYS/PERM");
	finish();
}

static void test_timeouts(void **state)
{
	static const struct step stalled_greeting[] = { SEND("+OK rea"), END };
	static const struct step stalled_capa[] = { GREET, EXPECT("CAPA"), END };
	static const struct step stalled_body[] = {
		LOGIN,
		EXPECT("RETR 1"),
		SEND("+OK\r\n0123456789"),
		END,
	};
	struct pop3_params p = params();
	struct pop3_session *s;
	struct timespec t0;
	long ms;

	(void)state;
	p.conn.timeout_ms = 200;

	case_name = "stalled greeting";
	s = open_with(stalled_greeting, p, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_INT(pop3_connect(s), -ETIMEDOUT);
	ms = ms_since(&t0);
	CHECK(ms >= 150 && ms < 2000);
	CHECK_INT(pop3_fail_class(s), POP3_FAIL_CONN);
	CHECK_INT(pop3_conn_fail(s), CONN_FAIL_TIMEOUT);
	CHECK(pop3_broken(s));
	finish();

	case_name = "stalled CAPA";
	s = open_with(stalled_capa, p, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_INT(pop3_connect(s), -ETIMEDOUT);
	ms = ms_since(&t0);
	CHECK(ms >= 150 && ms < 2000);
	CHECK(strstr(pop3_error(s), "200 ms") != NULL);
	finish();

	case_name = "stalled body";
	s = open_with(stalled_body, p, 0);
	CHECK_INT(pop3_connect(s), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_INT(pop3_retr(s, 1, sink(), NULL), -ETIMEDOUT);
	ms = ms_since(&t0);
	CHECK(ms >= 150 && ms < 2000);
	CHECK_INT(fx.body.len, 10);
	CHECK(pop3_broken(s));
	finish();
}

/* pop3_abort() from another thread wakes a blocked read. */
static void *abort_later(void *arg)
{
	usleep(100 * 1000);
	pop3_abort(arg);
	return NULL;
}

static void test_abort(void **state)
{
	static const struct step steps[] = { LOGIN, EXPECT("NOOP"), END };
	struct pop3_session *s = connected(steps);
	pthread_t t;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, abort_later, s), 0);
	assert_int_equal(pop3_noop(s), -EIO);
	pthread_join(t, NULL);
	assert_int_equal(pop3_fail_class(s), POP3_FAIL_CONN);
	assert_true(pop3_broken(s));
	finish();
}

/* ---- the trace -------------------------------------------------------------------- */

static void test_trace_hides_secret(void **state)
{
	static const struct step plain[] = { LOGIN, END };
	static const struct step userpass[] = {
		GREET,
		EXPECT("CAPA"),
		SEND("+OK\r\nUSER\r\n.\r\n"),
		EXPECT("USER alice"),
		SEND("+OK\r\n"),
		EXPECT("PASS s3cr3t"),
		SEND("+OK\r\n"),
		END,
	};
	struct pop3_params p = params();

	(void)state;
	p.secret = "s3cr3t";
	open_with(userpass, p, 0);
	assert_int_equal(pop3_connect(fx.s), 0);
	finish();   /* fails if the trace shows the secret or its base64 */
	assert_string_equal(fx.trace_c, "CAPA\nUSER alice\nPASS <credentials hidden>\n");
	assert_string_equal(fx.trace_s, "+OK POP3 ready <1896.697170952@pop.test>\n+OK\nUSER\n"
	                    "+OK\n+OK\n");

	open_session(plain);
	assert_int_equal(pop3_connect(fx.s), 0);
	finish();
	assert_string_equal(fx.trace_c, "CAPA\nAUTH PLAIN <credentials hidden>\n");
	assert_null(strstr(fx.trace_c, "AGFsaWNlAHB3"));

	/* the response on a line of its own */
	{
		char plain_resp[400];
		int n;
		static const struct step longpw[] = {
			GREET,
			EXPECT("CAPA"),
			SEND("+OK\r\nSASL PLAIN\r\n.\r\n"),
			EXPECT("AUTH PLAIN"),
			SEND("+ \r\n"),
			EXPECT_STR(long_plain_b64),
			SEND("+OK\r\n"),
			END,
		};

		memset(long_secret, 'p', 300);
		n = snprintf(plain_resp, sizeof(plain_resp), "%calice%c%s", 0, 0, long_secret);
		base64(long_plain_b64, plain_resp, (size_t)n);
		p.secret = long_secret;
		open_with(longpw, p, 0);
		assert_int_equal(pop3_connect(fx.s), 0);
		finish();
		assert_string_equal(fx.trace_c, "CAPA\nAUTH PLAIN\n<credentials hidden>\n");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_connect, cleanup),
		cmocka_unit_test_teardown(test_tls_required, cleanup),
		cmocka_unit_test_teardown(test_stls_forgets, cleanup),
		cmocka_unit_test_teardown(test_stls_oauth, cleanup),
		cmocka_unit_test_teardown(test_caps_text_bound, cleanup),
		cmocka_unit_test_teardown(test_stls_cut, cleanup),
		cmocka_unit_test_teardown(test_uidl, cleanup),
		cmocka_unit_test_teardown(test_uidl_hostile, cleanup),
		cmocka_unit_test_teardown(test_stat_bound, cleanup),
		cmocka_unit_test_teardown(test_uidl_after_dele, cleanup),
		cmocka_unit_test_teardown(test_list, cleanup),
		cmocka_unit_test_teardown(test_retr, cleanup),
		cmocka_unit_test_teardown(test_retr_large, cleanup),
		cmocka_unit_test_teardown(test_retr_failures, cleanup),
		cmocka_unit_test_teardown(test_dele_quit, cleanup),
		cmocka_unit_test_teardown(test_not_connected, cleanup),
		cmocka_unit_test_teardown(test_hostile, cleanup),
		cmocka_unit_test_teardown(test_error_text, cleanup),
		cmocka_unit_test_teardown(test_timeouts, cleanup),
		cmocka_unit_test_teardown(test_abort, cleanup),
		cmocka_unit_test_teardown(test_trace_hides_secret, cleanup),
	};

	/* As fs/main.c does: OpenSSL's socket BIO writes without
	 * MSG_NOSIGNAL, and the TLS test's peer hangs up mid-handshake. */
	signal(SIGPIPE, SIG_IGN);
	peer_tls_setup();   /* before any peer thread needs it */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
