/* test_conn.c - TCP and TLS connections (net/conn.c): how a handshake that
 * does not complete is classed, and that a failed TLS set-up step stops the
 * connection before anything is sent.
 *
 * The TLS server is the scripted peer of peer.h playing a real handshake
 * with a self-signed certificate made at run time for imap.test and
 * pop.test; the client trusts it through a tls_ctx with that cafile.
 *
 * To make OpenSSL's set-up calls fail, this binary defines SSL_set_fd,
 * SSL_ctrl (through which SSL_set_tlsext_host_name goes), SSL_set1_host,
 * X509_VERIFY_PARAM_set1_ip_asc and SSL_CTX_ctrl (for
 * SSL_CTX_set_min_proto_version) itself: conn.o and tls.o, linked into it,
 * call these definitions, which fail for the client when told to and
 * otherwise call OpenSSL's (dlsym RTLD_NEXT). connect() too, to play a
 * server that resets a connection before the client's connect() returns.
 */
#include "tests/unit/peer.h"

#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include "net/conn.h"
#include "net/tls.h"

/* ---- failing OpenSSL set-up calls, on demand ------------------------------ */

enum fail_at { FAIL_NONE, FAIL_SET_FD, FAIL_SNI, FAIL_SET1_HOST, FAIL_IP, FAIL_MIN_PROTO,
               FAIL_CONNECT_RESET, FAIL_CONNECT_REFUSED };
static enum fail_at fail_at;
static int fail_calls;              /* how often a call was made to fail */

static void *next_fn(const char *name)
{
	void *fn = dlsym(RTLD_NEXT, name);

	if (!fn) {
		fprintf(stderr, "dlsym(RTLD_NEXT, %s) found nothing\n", name);
		abort();
	}
	return fn;
}

int SSL_set_fd(SSL *s, int fd)
{
	int (*real)(SSL *, int) = (int (*)(SSL *, int))next_fn("SSL_set_fd");

	if (fail_at == FAIL_SET_FD && !SSL_is_server(s)) {
		fail_calls++;
		return 0;
	}
	return real(s, fd);
}

long SSL_ctrl(SSL *s, int cmd, long larg, void *parg)
{
	long (*real)(SSL *, int, long, void *) =
		(long (*)(SSL *, int, long, void *))next_fn("SSL_ctrl");

	if (fail_at == FAIL_SNI && cmd == SSL_CTRL_SET_TLSEXT_HOSTNAME && !SSL_is_server(s)) {
		fail_calls++;
		return 0;
	}
	return real(s, cmd, larg, parg);
}

/* SSL_CTX_set_min_proto_version() goes through here. */
long SSL_CTX_ctrl(SSL_CTX *ctx, int cmd, long larg, void *parg)
{
	long (*real)(SSL_CTX *, int, long, void *) =
		(long (*)(SSL_CTX *, int, long, void *))next_fn("SSL_CTX_ctrl");

	if (fail_at == FAIL_MIN_PROTO && cmd == SSL_CTRL_SET_MIN_PROTO_VERSION) {
		fail_calls++;
		return 0;
	}
	return real(ctx, cmd, larg, parg);
}

int SSL_set1_host(SSL *s, const char *hostname)
{
	int (*real)(SSL *, const char *) = (int (*)(SSL *, const char *))next_fn("SSL_set1_host");

	if (fail_at == FAIL_SET1_HOST && !SSL_is_server(s)) {
		fail_calls++;
		return 0;
	}
	return real(s, hostname);
}

int X509_VERIFY_PARAM_set1_ip_asc(X509_VERIFY_PARAM *param, const char *ipasc)
{
	int (*real)(X509_VERIFY_PARAM *, const char *) =
		(int (*)(X509_VERIFY_PARAM *, const char *))next_fn("X509_VERIFY_PARAM_set1_ip_asc");

	if (fail_at == FAIL_IP) {
		fail_calls++;
		return 0;
	}
	return real(param, ipasc);
}

int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	int (*real)(int, const struct sockaddr *, socklen_t) =
		(int (*)(int, const struct sockaddr *, socklen_t))next_fn("connect");

	if (fail_at == FAIL_CONNECT_RESET || fail_at == FAIL_CONNECT_REFUSED) {
		fail_calls++;
		errno = fail_at == FAIL_CONNECT_RESET ? ECONNRESET : ECONNREFUSED;
		return -1;
	}
	return real(fd, sa, len);
}

/* ---- the fixture ------------------------------------------------------------ */

static struct {
	struct peer pe;
	struct conn *c;
	struct tls_ctx *tls;
	int listen_fd, server_fd;
} fx = { .listen_fd = -1, .server_fd = -1 };

static struct tls_ctx *trusting(int trust)
{
	char err[256];
	struct tls_ctx *t = tls_ctx_new(trust ? peer_tls_setup() : NULL, err, sizeof(err));

	if (!t)
		fail_msg("tls_ctx_new: %s", err);
	return t;
}

/* A client connection to HOST with implicit TLS on FD (one end of a
 * socketpair or a TCP socket), trusting the peer's certificate when TRUST. */
static struct conn *client(const char *host, int fd, int trust, int timeout_ms)
{
	struct conn_params p = {
		.host = host, .port = 993, .implicit_tls = 1, .timeout_ms = timeout_ms,
		.have_fd = 1, .fd = fd,
	};

	fx.tls = trusting(trust);
	p.tls = fx.tls;
	fx.c = conn_new(&p);
	assert_non_null(fx.c);
	return fx.c;
}

static int cleanup(void **state)
{
	(void)state;
	conn_free(fx.c);
	fx.c = NULL;
	peer_stop(&fx.pe);
	tls_ctx_free(fx.tls);
	fx.tls = NULL;
	if (fx.listen_fd >= 0)
		close(fx.listen_fd);
	if (fx.server_fd >= 0)
		close(fx.server_fd);
	fx.listen_fd = fx.server_fd = -1;
	fail_at = FAIL_NONE;
	fail_calls = 0;
	if (state && fx.pe.err[0])
		print_error("peer: %s\n", fx.pe.err);
	if (state)
		case_name = "";
	memset(&fx.pe, 0, sizeof(fx.pe));
	return 0;
}

/* The end of a case: close the client, wait for the peer, fail on its
 * complaint. */
static void finish(void)
{
	conn_free(fx.c);
	fx.c = NULL;
	peer_stop(&fx.pe);
	if (fx.pe.err[0])
		fail_msg("%s: peer: %s", case_name, fx.pe.err);
	cleanup(NULL);
}

static int transient(enum conn_fail f)
{
	int t = -1;

	conn_fail_advice(f, &t);
	return t;
}

/* ---- a handshake that works, through the interposed functions ------------ */

static void test_handshake(void **state)
{
	static const struct step steps[] = {
		TLS_ACCEPT,
		SEND("* OK over TLS\r\n"),
		EXPECT("a1 NOOP"),
		END,
	};
	char buf[64];
	ssize_t n;

	(void)state;
	case_name = "a trusted certificate for the host";
	client("imap.test", peer_start(&fx.pe, steps, 0), 1, 5000);
	CHECK_INT(conn_connect(fx.c), 0);
	CHECK(conn_is_tls(fx.c));
	n = conn_read(fx.c, buf, sizeof(buf) - 1);
	CHECK(n > 0);
	buf[n > 0 ? n : 0] = '\0';
	CHECK_STR(buf, "* OK over TLS\r\n");
	CHECK_INT(conn_write(fx.c, "a1 NOOP\r\n", 9), 0);
	finish();
}

/* ---- certificates: refused, fatal (controls for the cases below) ---------- */

static void test_certificate_refused(void **state)
{
	static const struct { const char *name, *host; int trust; const char *text; } cases[] = {
		{ "not trusted", "imap.test", 0, "certificate rejected" },
		{ "another host name", "wrong.test", 1, "another host name" },
		{ "an IP address the certificate lacks", "127.0.0.1", 1, "another host name" },
	};
	static const struct step steps[] = { TLS_REFUSED, END };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		case_name = cases[i].name;
		client(cases[i].host, peer_start(&fx.pe, steps, 0), cases[i].trust, 5000);
		CHECK_INT(conn_connect(fx.c), -EACCES);
		CHECK_INT(conn_fail_class(fx.c), CONN_FAIL_CERT);
		CHECK(strstr(conn_error(fx.c), cases[i].text) != NULL);
		CHECK_INT(transient(conn_fail_class(fx.c)), 0);
		finish();
	}
}

/* ---- issue 11 item 13: a failed set-up step fails the connection ---------- */

static void test_setup_failures(void **state)
{
	/* Each host is one that the real check would refuse (wrong.test and
	 * 127.0.0.1 are not in the certificate) or, for SNI, accept: a client
	 * that went on after the failure would complete the handshake. */
	static const struct { const char *name; enum fail_at at; const char *host, *text; } cases[] = {
		{ "SSL_set_fd fails", FAIL_SET_FD, "imap.test", "cannot set up TLS on the connection" },
		{ "SNI fails", FAIL_SNI, "imap.test", "cannot set the TLS server name (SNI) to imap.test" },
		{ "SSL_set1_host fails", FAIL_SET1_HOST, "wrong.test",
		  "cannot set up the certificate check for the host name wrong.test" },
		{ "X509_VERIFY_PARAM_set1_ip_asc fails", FAIL_IP, "127.0.0.1",
		  "cannot set up the certificate check for the address 127.0.0.1" },
	};
	/* The peer plays the server's handshake: it must not complete. */
	static const struct step steps[] = { TLS_REFUSED, END };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		case_name = cases[i].name;
		client(cases[i].host, peer_start(&fx.pe, steps, 0), 1, 5000);
		fail_at = cases[i].at;
		CHECK(conn_connect(fx.c) < 0);
		CHECK_INT(fail_calls, 1);
		CHECK_INT(conn_fail_class(fx.c), CONN_FAIL_TLS);
		if (!strstr(conn_error(fx.c), cases[i].text))
			fail_msg("%s: error \"%s\" lacks \"%s\"", case_name, conn_error(fx.c),
			         cases[i].text);
		CHECK_INT(transient(conn_fail_class(fx.c)), 0);
		CHECK(!conn_is_tls(fx.c));
		finish();
	}
}

/* The context: no TLS below 1.2 (RFC 8314 §4.1), or no context at all. */
static void test_context_min_version(void **state)
{
	char err[256] = "";

	(void)state;
	fail_at = FAIL_MIN_PROTO;
	fx.tls = tls_ctx_new(NULL, err, sizeof(err));
	assert_int_equal(fail_calls, 1);
	assert_null(fx.tls);
	assert_string_equal(err, "cannot require TLS 1.2 or later");
}

/* ---- issue 11 item 3: a handshake cut by the network is transient --------- */

/* A TCP connection on loopback: the client's end (for the conn) and the
 * server's accepted end in fx.server_fd. */
static int tcp_pair(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int cfd;

	fx.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fx.listen_fd >= 0);
	assert_int_equal(bind(fx.listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fx.listen_fd, 1), 0);
	assert_int_equal(getsockname(fx.listen_fd, (struct sockaddr *)&a, &len), 0);
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(cfd >= 0);
	assert_int_equal(connect(cfd, (struct sockaddr *)&a, sizeof(a)), 0);
	fx.server_fd = accept(fx.listen_fd, NULL, NULL);
	assert_true(fx.server_fd >= 0);
	return cfd;
}

static void check_cut(enum conn_fail cls, int err)
{
	int r = conn_connect(fx.c);

	CHECK_INT(r, -err);
	CHECK_INT(conn_fail_class(fx.c), cls);
	CHECK_INT(transient(conn_fail_class(fx.c)), 1);
	CHECK(!conn_is_tls(fx.c));
	CHECK(strstr(conn_error(fx.c), "TLS handshake failed") == NULL);
}

static void test_handshake_cut(void **state)
{
	static const struct step after_hello[] = { EXPECT_TLS, CLOSE };
	static const struct step silent[] = { EXPECT_TLS, END };
	struct linger rst = { .l_onoff = 1, .l_linger = 0 };
	int fd;

	(void)state;
	case_name = "accepted and closed at once (FIN)";
	fd = tcp_pair();
	close(fx.server_fd);
	fx.server_fd = -1;
	client("imap.test", fd, 1, 5000);
	check_cut(CONN_FAIL_CLOSED, ECONNRESET);
	CHECK(strstr(conn_error(fx.c), "during the TLS handshake") != NULL);
	finish();

	case_name = "accepted and reset at once (RST)";
	fd = tcp_pair();
	assert_int_equal(setsockopt(fx.server_fd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst)), 0);
	close(fx.server_fd);
	fx.server_fd = -1;
	client("imap.test", fd, 1, 5000);
	check_cut(CONN_FAIL_CLOSED, ECONNRESET);
	finish();

	case_name = "closed after the ClientHello";
	client("imap.test", peer_start(&fx.pe, after_hello, 0), 1, 5000);
	check_cut(CONN_FAIL_CLOSED, ECONNRESET);
	finish();

	case_name = "no answer to the ClientHello";
	client("imap.test", peer_start(&fx.pe, silent, 0), 1, 200);
	check_cut(CONN_FAIL_TIMEOUT, ETIMEDOUT);
	finish();
}

/* Not TLS at all: a protocol failure, fatal as before. */
static void test_not_tls(void **state)
{
	static const struct step steps[] = {
		EXPECT_TLS,
		SEND("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"),
		END,
	};

	(void)state;
	case_name = "an HTTP answer";
	client("imap.test", peer_start(&fx.pe, steps, 0), 1, 5000);
	CHECK_INT(conn_connect(fx.c), -EPROTO);
	CHECK_INT(conn_fail_class(fx.c), CONN_FAIL_TLS);
	CHECK(strstr(conn_error(fx.c), "TLS handshake failed") != NULL);
	CHECK_INT(transient(conn_fail_class(fx.c)), 0);
	finish();
}

/* A server going down may reset the connection before the client's
 * connect() has returned (the race t_offline_tls met under
 * ThreadSanitizer): that is the network, like a cut handshake, not a
 * wrong host or port. A refused port stays one. */
static void test_reset_at_connect(void **state)
{
	struct conn_params p = { .host = "127.0.0.1", .port = 993, .implicit_tls = 1,
	                         .timeout_ms = 2000 };

	(void)state;
	case_name = "reset before connect() returned";
	fx.tls = trusting(1);
	p.tls = fx.tls;
	fx.c = conn_new(&p);
	assert_non_null(fx.c);
	fail_at = FAIL_CONNECT_RESET;
	check_cut(CONN_FAIL_CLOSED, ECONNRESET);
	CHECK(fail_calls >= 1);
	CHECK(strstr(conn_error(fx.c), "127.0.0.1 port 993 dropped the connection as soon as it "
	                                "was made, before the TLS handshake") != NULL);
	CHECK(strstr(conn_error(fx.c), "cannot connect") == NULL);
	finish();

	case_name = "refused";
	fx.tls = trusting(1);
	p.tls = fx.tls;
	fx.c = conn_new(&p);
	fail_at = FAIL_CONNECT_REFUSED;
	CHECK_INT(conn_connect(fx.c), -ECONNREFUSED);
	CHECK_INT(conn_fail_class(fx.c), CONN_FAIL_CONNECT);
	CHECK(strstr(conn_error(fx.c), "cannot connect to 127.0.0.1 port 993") != NULL);
	finish();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_handshake, cleanup),
		cmocka_unit_test_teardown(test_certificate_refused, cleanup),
		cmocka_unit_test_teardown(test_setup_failures, cleanup),
		cmocka_unit_test_teardown(test_context_min_version, cleanup),
		cmocka_unit_test_teardown(test_handshake_cut, cleanup),
		cmocka_unit_test_teardown(test_not_tls, cleanup),
		cmocka_unit_test_teardown(test_reset_at_connect, cleanup),
	};

	/* As fs/main.c does: OpenSSL's socket BIO writes without
	 * MSG_NOSIGNAL, and peers here hang up mid-handshake. */
	signal(SIGPIPE, SIG_IGN);
	peer_tls_setup();   /* before any peer thread needs it */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
