/* conn.c - TCP and TLS with deadlines.
 *
 * The socket is non-blocking; every wait goes through poll() with the
 * connection's timeout, so no operation can block for longer than that
 * without making progress. OpenSSL runs on the non-blocking socket and tells
 * us through SSL_ERROR_WANT_READ/WRITE which way to wait.
 */
#include "net/conn.h"
#include "net/tls.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct conn {
	char *host;
	unsigned port;
	int implicit_tls;
	struct tls_ctx *tls;
	int timeout_ms;
	/* Written by the owning thread under fd_lock; read by it without the
	 * lock, and by conn_abort() (any thread) under it, so that an abort
	 * never shuts down a number that was closed and reused meanwhile. */
	int fd;
	pthread_mutex_t fd_lock;
	int adopt_fd;           /* from conn_params.have_fd, or -1 */
	SSL *ssl;
	atomic_int aborted;
	enum conn_fail fail;
	char error[256];
};

static int fail(struct conn *c, enum conn_fail cls, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(struct conn *c, enum conn_fail cls, int err, const char *fmt, ...)
{
	va_list ap;

	c->fail = cls;
	va_start(ap, fmt);
	vsnprintf(c->error, sizeof(c->error), fmt, ap);
	va_end(ap);
	return -err;
}

struct conn *conn_new(const struct conn_params *p)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->host = strdup(p->host);
	if (!c->host) {
		free(c);
		return NULL;
	}
	c->port = p->port;
	c->implicit_tls = p->implicit_tls;
	c->tls = p->tls;
	c->timeout_ms = p->timeout_ms;
	c->fd = -1;
	pthread_mutex_init(&c->fd_lock, NULL);
	c->adopt_fd = p->have_fd ? p->fd : -1;
	return c;
}

/* The owning thread changes the socket. */
static void set_fd(struct conn *c, int fd)
{
	pthread_mutex_lock(&c->fd_lock);
	if (c->fd >= 0 && c->fd != fd)
		close(c->fd);
	c->fd = fd;
	pthread_mutex_unlock(&c->fd_lock);
}

void conn_free(struct conn *c)
{
	if (!c)
		return;
	if (c->ssl) {
		/* No close_notify round trip: the IMAP/POP3 layer already said
		 * LOGOUT/QUIT, and a dead peer must not delay us. */
		SSL_free(c->ssl);
	}
	set_fd(c, -1);
	if (c->adopt_fd >= 0)
		close(c->adopt_fd);
	pthread_mutex_destroy(&c->fd_lock);
	free(c->host);
	free(c);
}

void conn_set_timeout(struct conn *c, int timeout_ms)
{
	c->timeout_ms = timeout_ms;
}

void conn_abort(struct conn *c)
{
	atomic_store(&c->aborted, 1);
	pthread_mutex_lock(&c->fd_lock);
	if (c->fd >= 0)
		shutdown(c->fd, SHUT_RDWR);
	pthread_mutex_unlock(&c->fd_lock);
}

int conn_is_tls(const struct conn *c)
{
	return c->ssl != NULL;
}

const char *conn_fail_advice(enum conn_fail f, int *transient)
{
	switch (f) {
	case CONN_FAIL_CERT:
		*transient = 0;
		return "; if you trust this server, give its CA certificate with -o cafile=PATH";
	case CONN_FAIL_TLS:
		*transient = 0;
		return "";
	case CONN_FAIL_RESOLVE:
	case CONN_FAIL_CONNECT:
		*transient = 1;
		return " (check the host and port in the URL)";
	default:
		*transient = 1;
		return "";
	}
}

enum conn_fail conn_fail_class(const struct conn *c)
{
	return c->fail;
}

const char *conn_error(const struct conn *c)
{
	return c->error[0] ? c->error : "no error";
}

/* Wait until fd is ready for EVENTS or the deadline passes. */
static int wait_fd(struct conn *c, short events)
{
	struct pollfd pfd = { .fd = c->fd, .events = events };
	int r;

	if (atomic_load(&c->aborted))
		return fail(c, CONN_FAIL_ABORTED, EIO, "connection aborted");
	do
		r = poll(&pfd, 1, c->timeout_ms > 0 ? c->timeout_ms : -1);
	while (r < 0 && errno == EINTR);
	if (atomic_load(&c->aborted))
		return fail(c, CONN_FAIL_ABORTED, EIO, "connection aborted");
	if (r < 0)
		return fail(c, CONN_FAIL_IO, EIO, "poll: %s", strerror(errno));
	if (r == 0 && c->timeout_ms % 1000)
		return fail(c, CONN_FAIL_TIMEOUT, ETIMEDOUT,
		            "no answer from %s within %d ms", c->host, c->timeout_ms);
	if (r == 0)
		return fail(c, CONN_FAIL_TIMEOUT, ETIMEDOUT,
		            "no answer from %s within %d s", c->host, c->timeout_ms / 1000);
	return 0;
}

static int connect_one(struct conn *c, const struct addrinfo *ai)
{
	int fd, r, one = 1;
	socklen_t len = sizeof(r);

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
	            ai->ai_protocol);
	if (fd < 0)
		return -errno;
	/* Commands are small and latency-bound. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	set_fd(c, fd);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return 0;
	if (errno != EINPROGRESS) {
		r = -errno;
		goto bad;
	}
	r = wait_fd(c, POLLOUT);
	if (r < 0)
		goto bad;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &r, &len) < 0)
		r = errno;
	if (r == 0)
		return 0;
	r = -r;
bad:
	set_fd(c, -1);
	return r;
}

int conn_connect(struct conn *c)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
	struct addrinfo *res = NULL, *ai;
	char port[16];
	int r, gai, reset = 0;

	c->fail = CONN_OK;
	c->error[0] = '\0';
	if (c->adopt_fd >= 0) {
		set_fd(c, c->adopt_fd);
		c->adopt_fd = -1;
		fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
		return c->implicit_tls ? conn_starttls(c) : 0;
	}
	snprintf(port, sizeof(port), "%u", c->port);
	gai = getaddrinfo(c->host, port, &hints, &res);
	if (gai == EAI_ADDRFAMILY || gai == EAI_NONAME || gai == EAI_NODATA) {
		/* AI_ADDRCONFIG hides loopback-only setups; retry without. */
		hints.ai_flags = 0;
		gai = getaddrinfo(c->host, port, &hints, &res);
	}
	if (gai != 0)
		return fail(c, CONN_FAIL_RESOLVE, EHOSTUNREACH, "cannot resolve host %s: %s",
		            c->host, gai_strerror(gai));
	r = -ECONNREFUSED;
	for (ai = res; ai; ai = ai->ai_next) {
		r = connect_one(c, ai);
		if (r == 0 || c->fail == CONN_FAIL_IO || c->fail == CONN_FAIL_ABORTED)
			break;
		if (r == -ECONNRESET)
			reset = 1;
	}
	freeaddrinfo(res);
	if (r < 0 && reset)
		/* An address took the connection and reset it at once (before
		 * any byte): the server is there but going down, or a load
		 * balancer has no backend. The network, not the URL (SPEC §5). */
		return fail(c, CONN_FAIL_CLOSED, ECONNRESET, "%s port %u dropped the connection "
		            "as soon as it was made%s: %s", c->host, c->port,
		            c->implicit_tls ? ", before the TLS handshake" : "", strerror(ECONNRESET));
	if (r == -ETIMEDOUT)
		return fail(c, CONN_FAIL_TIMEOUT, ETIMEDOUT, "cannot connect to %s port %u: "
		            "no answer within %d s", c->host, c->port, c->timeout_ms / 1000);
	if (r < 0 && (c->fail == CONN_FAIL_IO || c->fail == CONN_FAIL_ABORTED))
		return r;
	if (r < 0)
		return fail(c, CONN_FAIL_CONNECT, -r, "cannot connect to %s port %u: %s",
		            c->host, c->port, strerror(-r));
	if (c->implicit_tls)
		return conn_starttls(c);
	return 0;
}

/* How a handshake that did not complete failed, from SSL_get_error() E
 * and what OpenSSL queued. A server that is going down (or a load balancer
 * with no backend) accepts the TCP connection and then closes or resets
 * it: that is the network, which may come back (SPEC §5), not TLS. OpenSSL
 * 3 says SSL_ERROR_SYSCALL for a reset (and for an EOF when
 * SSL_OP_IGNORE_UNEXPECTED_EOF is set), SSL_ERROR_SSL with
 * SSL_R_UNEXPECTED_EOF_WHILE_READING for a plain EOF. A certificate that
 * fails verification is checked for first: the client itself then ends
 * the handshake. */
static int handshake_failed(struct conn *c, SSL *ssl, int e, int sys_errno)
{
	unsigned long err = ERR_peek_last_error();
	char why[256];

	if (SSL_get_verify_result(ssl) != X509_V_OK) {
		tls_explain(ssl, why, sizeof(why));
		return fail(c, CONN_FAIL_CERT, EACCES, "TLS %s (host %s)", why, c->host);
	}
	if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN ||
	    (e == SSL_ERROR_SSL && ERR_GET_LIB(err) == ERR_LIB_SSL &&
	     ERR_GET_REASON(err) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
		ERR_clear_error();
		if (e == SSL_ERROR_SYSCALL && sys_errno && sys_errno != EPIPE)
			return fail(c, CONN_FAIL_CLOSED, ECONNRESET, "%s port %u dropped the "
			            "connection during the TLS handshake: %s", c->host, c->port,
			            strerror(sys_errno));
		return fail(c, CONN_FAIL_CLOSED, ECONNRESET, "%s port %u closed the connection "
		            "during the TLS handshake", c->host, c->port);
	}
	tls_explain(ssl, why, sizeof(why));
	return fail(c, CONN_FAIL_TLS, EPROTO, "%s with %s port %u", why, c->host, c->port);
}

int conn_starttls(struct conn *c)
{
	SSL *ssl;
	int r, e;

	if (!c->tls)
		return fail(c, CONN_FAIL_TLS, EINVAL, "no TLS context");
	ssl = SSL_new(tls_ctx_ssl(c->tls));
	if (!ssl)
		return fail(c, CONN_FAIL_TLS, ENOMEM, "cannot create a TLS session");
	/* Each of these can fail (out of memory). Going on would mean a
	 * handshake on no socket, or one that checks no name at all and takes
	 * any trusted certificate for this host's (SPEC §5): fatal. */
	if (SSL_set_fd(ssl, c->fd) != 1) {
		r = fail(c, CONN_FAIL_TLS, EIO, "cannot set up TLS on the connection to %s",
		         c->host);
		goto out;
	}
	if (tls_host_is_ip(c->host)) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), c->host) != 1) {
			r = fail(c, CONN_FAIL_TLS, EIO, "cannot set up the certificate check for "
			         "the address %s", c->host);
			goto out;
		}
	} else {
		/* SNI (RFC 6066 §3), then the name the certificate must carry. */
		if (SSL_set_tlsext_host_name(ssl, c->host) != 1) {
			r = fail(c, CONN_FAIL_TLS, EIO, "cannot set the TLS server name (SNI) to %s",
			         c->host);
			goto out;
		}
		if (SSL_set1_host(ssl, c->host) != 1) {
			r = fail(c, CONN_FAIL_TLS, EIO, "cannot set up the certificate check for "
			         "the host name %s", c->host);
			goto out;
		}
	}
	c->ssl = ssl;
	for (;;) {
		ERR_clear_error();
		errno = 0;
		r = SSL_connect(ssl);
		if (r == 1)
			return 0;
		int sys_errno = errno;
		e = SSL_get_error(ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			r = wait_fd(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT);
			if (r < 0)
				break;
			continue;
		}
		r = handshake_failed(c, ssl, e, sys_errno);
		break;
	}
out:
	ERR_clear_error();
	SSL_free(ssl);
	c->ssl = NULL;
	return r;
}

int conn_pending(struct conn *c)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };

	if (c->ssl && SSL_pending(c->ssl) > 0)
		return 1;
	return poll(&pfd, 1, 0) > 0;
}

ssize_t conn_read(struct conn *c, void *buf, size_t len)
{
	ssize_t n;
	int r, e;

	for (;;) {
		if (atomic_load(&c->aborted))
			return fail(c, CONN_FAIL_ABORTED, EIO, "connection aborted");
		if (c->ssl) {
			ERR_clear_error();
			n = SSL_read(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
			if (n > 0)
				return n;
			e = SSL_get_error(c->ssl, (int)n);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				r = wait_fd(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT);
				if (r < 0)
					return r;
				continue;
			}
			ERR_clear_error();
			if (e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL)
				return fail(c, CONN_FAIL_CLOSED, ECONNRESET,
				            "%s closed the connection", c->host);
			return fail(c, CONN_FAIL_IO, EIO, "TLS error reading from %s", c->host);
		}
		n = recv(c->fd, buf, len, 0);
		if (n > 0)
			return n;
		if (n == 0)
			return fail(c, CONN_FAIL_CLOSED, ECONNRESET, "%s closed the connection",
			            c->host);
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return fail(c, CONN_FAIL_CLOSED, ECONNRESET, "reading from %s: %s",
			            c->host, strerror(errno));
		r = wait_fd(c, POLLIN);
		if (r < 0)
			return r;
	}
}

int conn_write(struct conn *c, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;
	int r, e;

	while (len > 0) {
		if (atomic_load(&c->aborted))
			return fail(c, CONN_FAIL_ABORTED, EIO, "connection aborted");
		if (c->ssl) {
			ERR_clear_error();
			n = SSL_write(c->ssl, p, len > INT32_MAX ? INT32_MAX : (int)len);
			if (n <= 0) {
				e = SSL_get_error(c->ssl, (int)n);
				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
					r = wait_fd(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT);
					if (r < 0)
						return r;
					continue;
				}
				ERR_clear_error();
				return fail(c, CONN_FAIL_CLOSED, ECONNRESET, "%s closed the connection",
				            c->host);
			}
		} else {
			n = send(c->fd, p, len, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno != EAGAIN && errno != EWOULDBLOCK)
					return fail(c, CONN_FAIL_CLOSED, ECONNRESET, "writing to %s: %s",
					            c->host, strerror(errno));
				r = wait_fd(c, POLLOUT);
				if (r < 0)
					return r;
				continue;
			}
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
