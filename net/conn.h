/* conn.h - one TCP connection to a mail server, plain or TLS, where every
 * network operation has a deadline.
 *
 * Failures come in classes (struct conn_fail) that callers switch on, with a
 * readable reason kept on the object (conn_error()). Nothing here prints.
 *
 * Ownership: all memory belongs to the caller unless stated otherwise.
 * Thread safety: one thread uses a connection at a time, except for
 * conn_abort(), which any thread may call to wake a blocked reader.
 */
#ifndef MAILFS_CONN_H
#define MAILFS_CONN_H

#include <stddef.h>
#include <sys/types.h>

enum conn_fail {
	CONN_OK = 0,
	CONN_FAIL_RESOLVE,   /* host name does not resolve */
	CONN_FAIL_CONNECT,   /* refused, unreachable */
	CONN_FAIL_TIMEOUT,   /* no progress within the deadline */
	CONN_FAIL_TLS,       /* handshake failed for another reason than the certificate */
	CONN_FAIL_CERT,      /* certificate not trusted or not valid for the host */
	CONN_FAIL_CLOSED,    /* the peer closed or reset the connection */
	CONN_FAIL_IO,        /* other socket error */
	CONN_FAIL_ABORTED,   /* conn_abort() stopped it: nothing to report */
};

struct tls_ctx;

struct conn_params {
	const char *host;          /* DNS name or IP literal (no brackets) */
	unsigned port;
	int implicit_tls;          /* 1: TLS from the first byte (imaps, pop3s) */
	struct tls_ctx *tls;       /* borrowed; required for implicit_tls or starttls */
	int timeout_ms;            /* deadline for any one operation; <= 0: none */
	int have_fd;               /* 1: use fd, an already connected socket (one end
	                              of a socketpair in tests), instead of resolving
	                              and connecting; the connection then owns it */
	int fd;
};

struct conn;

/* Allocate a connection object; copies what it needs from params. NULL on
 * ENOMEM. */
struct conn *conn_new(const struct conn_params *params);
void conn_free(struct conn *c);

/* Resolve, connect (trying every address) and, with implicit_tls, do the TLS
 * handshake and verify the certificate. Returns 0 or a negative errno with
 * conn_fail_class() and conn_error() set. */
int conn_connect(struct conn *c);

/* Upgrade an established plain connection to TLS (STARTTLS / STLS). */
int conn_starttls(struct conn *c);

/* Read at least one byte and at most len. Returns the count, or -ETIMEDOUT,
 * -ECONNRESET (peer closed; also for a clean EOF), -EIO. */
ssize_t conn_read(struct conn *c, void *buf, size_t len);

/* Whether bytes are already waiting to be read (in the socket or the TLS
 * layer), without blocking. */
int conn_pending(struct conn *c);

/* Write all of buf. Returns 0 or -ETIMEDOUT, -ECONNRESET, -EIO. */
int conn_write(struct conn *c, const void *buf, size_t len);

/* Change the deadline of later operations. */
void conn_set_timeout(struct conn *c, int timeout_ms);

/* Make any blocked and every later operation fail with -EIO (CONN_FAIL_ABORTED).
 * Safe to call from another thread. */
void conn_abort(struct conn *c);

int conn_is_tls(const struct conn *c);
enum conn_fail conn_fail_class(const struct conn *c);
/* The reason of the last failure, e.g. "connection refused", "certificate
 * verify failed: self-signed certificate". Never NULL. */
const char *conn_error(const struct conn *c);

/* What to tell the user to do about a failure of class F: text to append to
 * the reason ("" when there is nothing useful to add). *transient is set to
 * 1 when the trouble may pass by itself (the network), 0 when it will not
 * (a certificate, a TLS refusal). */
const char *conn_fail_advice(enum conn_fail f, int *transient);

#endif
