/* test_imap.c - the IMAP session (net/imap.c) against a scripted peer.
 *
 * Each test hands the session one end of a socketpair(); a thread plays the
 * server on the other end, following a script of steps (peer.h); "TAG " in
 * a script stands for the tag of the client's latest command.
 *
 * The peer records the first mismatch and drops the connection; finish()
 * then fails the test with the expected and the received line. In slow mode
 * every SEND goes out one byte at a time, so responses are parsed across
 * many reads. finish() also checks that the protocol trace never showed the
 * secret.
 */
#include "tests/unit/peer.h"

#include <errno.h>
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

#include "net/imap.h"
#include "net/bodystructure.h"
#include "net/search.h"
#include "net/tls.h"

/* ---- the fixture: one session, its peer, and what the callbacks saw ------ */

struct body_sink {
	struct imap_sink sk;            /* first: the callbacks cast back */
	char *data;
	size_t len, cap;
	int chunks, ends, err, end_at;
};

static struct {
	struct peer pe;
	struct imap_session *s;
	char log[16384];                /* events, each ending in "; " */
	struct body_sink body;
	uint32_t body_uid;              /* ev_body returns the sink for this UID */
	char trace[65536];              /* client lines of the protocol trace */
	char forbidden[2][256];         /* must never appear in the trace */
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

static void ev_fetch(void *ctx, const struct imap_fetch *f)
{
	char h[512];

	(void)ctx;
	note("fetch %u uid=%u", f->seq, f->uid);
	if (f->have & IMAP_HAVE_FLAGS)
		note(" flags=[%s]", f->flags);
	if (f->have & IMAP_HAVE_SIZE)
		note(" size=%llu", (unsigned long long)f->size);
	if (f->have & IMAP_HAVE_DATE)
		note(" date=%lld", (long long)f->internaldate);
	if (f->have & IMAP_HAVE_MODSEQ)
		note(" modseq=%llu", (unsigned long long)f->modseq);
	if (f->have & IMAP_HAVE_HEADER)
		note(" header=[%s]", show(h, sizeof(h), f->header, f->header_len));
	if (f->have & IMAP_HAVE_BODY)
		note(" body=%llu", (unsigned long long)f->body_size);
	for (unsigned i = 0; f->nheaders > 1 && i < f->nheaders; i++)
		note(" h[%s]=[%s]", f->headers[i].section,
		     show(h, sizeof(h), f->headers[i].data, f->headers[i].len));
	if (f->structure) {
		char *text = bs_format(f->structure);

		note(" structure=%s", text ? text : "(cannot format)");
		free(text);
	} else if (f->have & IMAP_HAVE_STRUCTURE) {
		note(" structure-error=%s", f->structure_error);
	}
	note("; ");
}

static void ev_expunge(void *ctx, uint32_t lo, uint32_t hi)
{
	(void)ctx;
	for (uint32_t u = lo; u <= hi && u - lo < 100; u++)
		note("expunge %u; ", u);
}
static void ev_exists(void *ctx, uint32_t n) { (void)ctx; note("exists %u; ", n); }
static void ev_lost_track(void *ctx) { (void)ctx; note("lost; "); }

static int sink_write(struct imap_sink *sk, const char *data, size_t len)
{
	struct body_sink *b = (struct body_sink *)sk;

	if (b->len + len > b->cap) {
		b->cap = (b->len + len) * 2;
		b->data = realloc(b->data, b->cap);
		if (!b->data)
			return -ENOMEM;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->chunks++;
	return 0;
}

static void sink_end(struct imap_sink *sk, int err)
{
	struct body_sink *b = (struct body_sink *)sk;

	b->ends++;
	b->err = err;
	b->end_at = atomic_load(&fx.pe.at);
	note("end %d; ", err);
}

static struct imap_sink *ev_body(void *ctx, uint32_t uid, const char *section, int binary,
                                 uint64_t offset, uint64_t size)
{
	(void)ctx;
	note("body uid=%u off=%llu size=%llu; ", uid, (unsigned long long)offset,
	     (unsigned long long)size);
	if (section[0] || binary)
		note("section=%s%s; ", binary ? "BINARY " : "", section);
	if (uid != fx.body_uid)
		return NULL;
	fx.body.sk.write = sink_write;
	fx.body.sk.end = sink_end;
	return &fx.body.sk;
}

static void ev_status(void *ctx, const struct imap_status *st)
{
	(void)ctx;
	note("status %s %x m=%u n=%u v=%u ms=%llu; ", st->mailbox, st->have, st->messages,
	     st->uidnext, st->uidvalidity, (unsigned long long)st->highestmodseq);
}

static void ev_mailboxes(void *ctx)
{
	(void)ctx;
	note("mailboxes; ");
}

static const struct imap_events events = {
	.fetch = ev_fetch, .expunge = ev_expunge, .exists = ev_exists,
	.lost_track = ev_lost_track, .body = ev_body, .status = ev_status,
	.mailboxes = ev_mailboxes,
};

static void trace(void *ctx, char dir, const char *line, size_t len)
{
	size_t used = strlen(fx.trace);

	(void)ctx;
	if (dir == 'C' && used + len + 2 < sizeof(fx.trace)) {
		memcpy(fx.trace + used, line, len);
		fx.trace[used + len] = '\n';
		fx.trace[used + len + 1] = '\0';
	}
}

static void base64(char *out, const char *in, size_t len)
{
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in, (int)len);
}

static struct imap_params params(void)
{
	return (struct imap_params){
		.conn = { .host = "imap.test", .port = 143, .timeout_ms = 5000 },
		.user = "alice",
		.secret = "pw",
	};
}

/* Start the peer on STEPS (ending in END or CLOSE) and make a session on
 * the other end, with P (see params()) and the fixture's trace. */
static struct imap_session *open_with(const struct step *steps, struct imap_params p, int slow)
{
	int i;
	char plain[256];

	memset(&fx, 0, sizeof(fx));
	p.conn.have_fd = 1;
	p.conn.fd = peer_start(&fx.pe, steps, slow);
	p.trace = trace;
	if (strlen(p.secret) >= 2)
		snprintf(fx.forbidden[0], sizeof(fx.forbidden[0]), "%s", p.secret);
	i = snprintf(plain, sizeof(plain), "%c%s%c%s", 0, p.user, 0, p.secret);
	base64(fx.forbidden[1], plain, (size_t)i);

	fx.s = imap_session_new(&p);
	assert_non_null(fx.s);
	return fx.s;
}

static struct imap_session *open_session(const struct step *steps)
{
	return open_with(steps, params(), 0);
}

/* Close the session, wait for the peer, free what the test left. Also the
 * teardown of every session test, for when an assertion cut it short. */
static int cleanup(void **state)
{
	(void)state;
	imap_session_free(fx.s);
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
	for (size_t i = 0; i < ARRAY_SIZE(fx.forbidden); i++)
		if (fx.forbidden[i][0] && strstr(fx.trace, fx.forbidden[i]))
			fail_msg("%s: the trace shows the secret %s:\n%s", case_name,
			         fx.forbidden[i], fx.trace);
}


/* Common script parts, with the calls that play them. */
#define LOGIN \
	SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n"), \
	EXPECT("TAG AUTHENTICATE PLAIN AGFsaWNlAHB3"), \
	SEND("TAG OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n")

#define LOGIN_QRESYNC \
	SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n"), \
	EXPECT("TAG AUTHENTICATE PLAIN AGFsaWNlAHB3"), \
	SEND("TAG OK [CAPABILITY IMAP4rev1 CONDSTORE QRESYNC ENABLE] Logged in\r\n"), \
	EXPECT("TAG ENABLE QRESYNC"), \
	SEND("* ENABLED QRESYNC\r\nTAG OK Enabled\r\n")

/* Three messages; FETCH_UIDS makes their UIDs 10, 11, 12 known. */
#define EXAMINE_INBOX \
	EXPECT("TAG EXAMINE \"INBOX\""), \
	SEND("* 3 EXISTS\r\n* OK [UIDVALIDITY 7] UIDs valid\r\nTAG OK [READ-ONLY] done\r\n")

#define FETCH_UIDS \
	EXPECT("TAG UID FETCH 1:* (UID)"), \
	SEND("* 1 FETCH (UID 10)\r\n* 2 FETCH (UID 11)\r\n* 3 FETCH (UID 12)\r\nTAG OK done\r\n")

static struct imap_session *connected(const struct step *steps)
{
	struct imap_session *s = open_session(steps);

	assert_int_equal(imap_connect(s), 0);
	return s;
}

static void examine_inbox(void)
{
	assert_int_equal(imap_select(fx.s, "INBOX", 1, 0, 0, 0, &events, NULL, NULL), 0);
	fx.log[0] = '\0';
}

static void fetch_uids(void)
{
	assert_int_equal(imap_uid_fetch(fx.s, "1:*", "UID", NULL), 0);
	fx.log[0] = '\0';
}

/* ---- connecting and logging in ------------------------------------------- */

struct connect_case {
	const char *name;
	struct step steps[12];
	unsigned caps, nocaps;          /* bits that must be set, must be clear */
	int qresync;
};

static const struct connect_case connect_cases[] = {
	{ "capabilities in the greeting and the tagged OK, QRESYNC enabled", {
		SEND("* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN LITERAL+] Dovecot ready.\r\n"),
		EXPECT("TAG AUTHENTICATE PLAIN AGFsaWNlAHB3"),
		SEND("TAG OK [CAPABILITY IMAP4rev1 IDLE UIDPLUS MOVE CONDSTORE QRESYNC ENABLE "
		     "SPECIAL-USE LIST-EXTENDED] Logged in\r\n"),
		EXPECT("TAG ENABLE QRESYNC"),
		SEND("* ENABLED QRESYNC\r\nTAG OK Enabled\r\n"),
		END },
	  IMAP_CAP_IMAP4REV1 | IMAP_CAP_IDLE | IMAP_CAP_UIDPLUS | IMAP_CAP_MOVE |
	  IMAP_CAP_CONDSTORE | IMAP_CAP_QRESYNC | IMAP_CAP_ENABLE | IMAP_CAP_SPECIAL_USE |
	  IMAP_CAP_LIST_EXTENDED, IMAP_CAP_AUTH_PLAIN | IMAP_CAP_SASL_IR | IMAP_CAP_LITERAL_PLUS, 1 },
	{ "tagged OK without capabilities: CAPABILITY asked", {
		SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n"),
		EXPECT("TAG AUTHENTICATE PLAIN AGFsaWNlAHB3"),
		SEND("TAG OK Logged in\r\n"),
		EXPECT("TAG CAPABILITY"),
		SEND("* CAPABILITY IMAP4rev1 IDLE MOVE\r\nTAG OK done\r\n"),
		END }, IMAP_CAP_IDLE | IMAP_CAP_MOVE, IMAP_CAP_QRESYNC | IMAP_CAP_AUTH_PLAIN, 0 },
	{ "greeting without capabilities; QRESYNC without ENABLE", {
		SEND("* OK ready\r\n"),
		EXPECT("TAG CAPABILITY"),
		SEND("* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR\r\nTAG OK done\r\n"),
		EXPECT("TAG AUTHENTICATE PLAIN AGFsaWNlAHB3"),
		SEND("TAG OK [CAPABILITY IMAP4rev1 QRESYNC] Logged in\r\n"),
		END }, IMAP_CAP_QRESYNC, IMAP_CAP_ENABLE, 0 },
	{ "no SASL-IR: the response follows the empty challenge", {
		SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n"),
		EXPECT("TAG AUTHENTICATE PLAIN"),
		QUIET(50),
		SEND("+ \r\n"),
		EXPECT("AGFsaWNlAHB3"),
		SEND("TAG OK [CAPABILITY IMAP4rev1] Logged in\r\n"),
		END }, IMAP_CAP_IMAP4REV1, IMAP_CAP_SASL_IR, 0 },
	{ "ENABLE refused: still connected", {
		SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n"),
		EXPECT("TAG AUTHENTICATE PLAIN AGFsaWNlAHB3"),
		SEND("TAG OK [CAPABILITY IMAP4rev1 QRESYNC ENABLE] Logged in\r\n"),
		EXPECT("TAG ENABLE QRESYNC"),
		SEND("TAG NO not now\r\n"),
		END }, IMAP_CAP_QRESYNC, 0, 0 },
	{ "PREAUTH without a TLS requirement: no login", {
		SEND("* PREAUTH [CAPABILITY IMAP4rev1 IDLE] welcome, alice\r\n"),
		END }, IMAP_CAP_IDLE, 0, 0 },
};

static void test_connect(void **state)
{
	(void)state;
	for (size_t i = 0; i < 2 * ARRAY_SIZE(connect_cases); i++) {
		const struct connect_case *c = &connect_cases[i / 2];
		struct imap_session *s = open_with(c->steps, params(), i % 2);

		case_name = c->name;   /* fed whole, then one byte at a time */
		CHECK_INT(imap_connect(s), 0);
		CHECK((imap_caps(s) & c->caps) == c->caps);
		CHECK((imap_caps(s) & c->nocaps) == 0);
		CHECK_INT(imap_qresync_enabled(s), c->qresync);
		CHECK_INT(imap_fail_class(s), IMAP_OK);
		CHECK(!imap_broken(s));
		CHECK_STR(imap_error(s), "no error");
		finish();
	}
}

static void test_caps_text_and_logout(void **state)
{
	static const struct step steps[] = {
		LOGIN,
		EXPECT("TAG LOGOUT"),
		SEND("* BYE Logging out\r\nTAG OK Logout completed.\r\n"),
		END,
	};
	struct imap_session *s = connected(steps);

	(void)state;
	assert_string_equal(imap_caps_text(s), "IMAP4rev1 IDLE");
	assert_int_equal(imap_caps(s), IMAP_CAP_IMAP4REV1 | IMAP_CAP_IDLE);
	assert_int_equal(imap_logout(s), 0);
	assert_true(imap_broken(s));
	finish();
}

/* ---- LOGIN: quoting and literals ----------------------------------------- */

struct login_case {
	const char *name;
	const char *secret;
	struct step steps[8];
};

static const struct login_case login_cases[] = {
	{ "quoted with escapes", "p\"w\\x", {
		SEND("* OK [CAPABILITY IMAP4rev1] ready\r\n"),
		EXPECT("TAG LOGIN \"alice\" \"p\\\"w\\\\x\""),
		SEND("TAG OK [CAPABILITY IMAP4rev1] Logged in\r\n"),
		END } },
	{ "8-bit: synchronizing literal, sent after the continuation", "p\xc3\xa4ss", {
		SEND("* OK [CAPABILITY IMAP4rev1] ready\r\n"),
		EXPECT("TAG LOGIN \"alice\" {5}"),
		QUIET(100),
		SEND("+ go ahead\r\n"),
		EXPECT("p\xc3\xa4ss"),
		SEND("TAG OK [CAPABILITY IMAP4rev1] Logged in\r\n"),
		END } },
	{ "8-bit with LITERAL+: sent at once", "p\xc3\xa4ss", {
		SEND("* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n"),
		EXPECT("TAG LOGIN \"alice\" {5+}"),
		EXPECT("p\xc3\xa4ss"),
		SEND("TAG OK [CAPABILITY IMAP4rev1] Logged in\r\n"),
		END } },
	{ "8-bit with LITERAL-: sent at once", "p\xc3\xa4ss", {
		SEND("* OK [CAPABILITY IMAP4rev1 LITERAL-] ready\r\n"),
		EXPECT("TAG LOGIN \"alice\" {5+}"),
		EXPECT("p\xc3\xa4ss"),
		SEND("TAG OK [CAPABILITY IMAP4rev1] Logged in\r\n"),
		END } },
};

static void test_login_fallback(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(login_cases); i++) {
		const struct login_case *c = &login_cases[i];
		struct imap_params p = params();
		struct imap_session *s;

		case_name = c->name;
		p.secret = c->secret;
		s = open_with(c->steps, p, 0);
		CHECK_INT(imap_connect(s), 0);
		finish();
	}
}

/* ---- refused logins: nothing secret may go out where it should not ------- */

struct refuse_case {
	const char *name;
	enum imap_auth auth;
	const char *secret;
	struct step steps[8];
	const char *text;               /* in imap_error() */
};

static const struct refuse_case refuse_cases[] = {
	{ "LOGINDISABLED in the greeting", IMAP_AUTH_PASSWORD, "pw", {
		SEND("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n"),
		END }, "LOGINDISABLED" },
	{ "LOGINDISABLED learned from CAPABILITY", IMAP_AUTH_PASSWORD, "pw", {
		SEND("* OK ready\r\n"),
		EXPECT("TAG CAPABILITY"),
		SEND("* CAPABILITY IMAP4rev1 LOGINDISABLED\r\nTAG OK done\r\n"),
		END }, "LOGINDISABLED" },
	{ "PLAIN: NO [AUTHENTICATIONFAILED]", IMAP_AUTH_PASSWORD, "pw", {
		SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n"),
		EXPECT("TAG AUTHENTICATE PLAIN AGFsaWNlAHB3"),
		SEND("TAG NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"),
		END }, "Authentication failed." },
	{ "PLAIN: BAD", IMAP_AUTH_PASSWORD, "pw", {
		SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n"),
		EXPECT("TAG AUTHENTICATE PLAIN AGFsaWNlAHB3"),
		SEND("TAG BAD Invalid base64\r\n"),
		END }, "Invalid base64" },
	{ "LOGIN: NO", IMAP_AUTH_PASSWORD, "pw", {
		SEND("* OK [CAPABILITY IMAP4rev1] ready\r\n"),
		EXPECT("TAG LOGIN \"alice\" \"pw\""),
		SEND("TAG NO Wrong password\r\n"),
		END }, "Wrong password" },
	{ "LOGIN: NO instead of the continuation: no literal sent", IMAP_AUTH_PASSWORD,
	  "p\xc3\xa4ss", {
		SEND("* OK [CAPABILITY IMAP4rev1] ready\r\n"),
		EXPECT("TAG LOGIN \"alice\" {5}"),
		SEND("TAG NO [AUTHENTICATIONFAILED] Go away\r\n"),
		END }, "Go away" },
	{ "XOAUTH2: error challenge answered with an empty line", IMAP_AUTH_XOAUTH2,
	  "tok", {
		SEND("* OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2 SASL-IR] ready\r\n"),
		EXPECT("TAG AUTHENTICATE XOAUTH2 dXNlcj1hbGljZQFhdXRoPUJlYXJlciB0b2sBAQ=="),
		SEND("+ eyJzdGF0dXMiOiI0MDAifQ==\r\n"),
		EXPECT(""),
		SEND("TAG NO [AUTHENTICATIONFAILED] Invalid token\r\n"),
		END }, "Invalid token ({\"status\":\"400\"})" },
	{ "OAuth2 without any OAuth2 mechanism offered: nothing sent", IMAP_AUTH_XOAUTH2,
	  "tok", {
		SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n"),
		END }, "offers no OAuth2 login" },
};

/* OAUTHBEARER is preferred, with the user name escaped (RFC 5801), and its
 * error challenge answered with the dummy "AQ==" (RFC 7628 §3.2.3). */
static const struct refuse_case oauthbearer_case =
	{ "OAUTHBEARER: escaped name, dummy response", IMAP_AUTH_XOAUTH2, "tok", {
		SEND("* OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2 AUTH=OAUTHBEARER SASL-IR] ready\r\n"),
		EXPECT("TAG AUTHENTICATE OAUTHBEARER bixhPWFsPTJDaWNlPTNELAFhdXRoPUJlYXJlciB0b2sBAQ=="),
		SEND("+ eyJzdGF0dXMiOiI0MDEifQ==\r\n"),
		EXPECT("AQ=="),
		SEND("TAG NO [AUTHENTICATIONFAILED] Expired\r\n"),
		END }, "Expired" };

static void test_oauthbearer(void **state)
{
	const struct refuse_case *c = &oauthbearer_case;
	struct imap_params p = params();
	struct imap_session *s;

	(void)state;
	case_name = c->name;
	p.auth = c->auth;
	p.secret = c->secret;
	p.user = "al,ice=";
	s = open_with(c->steps, p, 0);
	CHECK_INT(imap_connect(s), -EACCES);
	CHECK_INT(imap_fail_class(s), IMAP_FAIL_AUTH);
	CHECK(strstr(imap_error(s), c->text) != NULL);
	finish();
}

static void test_auth_refused(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(refuse_cases); i++) {
		const struct refuse_case *c = &refuse_cases[i];
		struct imap_params p = params();
		struct imap_session *s;

		case_name = c->name;
		p.auth = c->auth;
		p.secret = c->secret;
		s = open_with(c->steps, p, 0);
		CHECK_INT(imap_connect(s), -EACCES);
		CHECK_INT(imap_fail_class(s), IMAP_FAIL_AUTH);
		CHECK(strstr(imap_error(s), c->text) != NULL);
		finish();
	}
}

/* ---- greeting and STARTTLS ----------------------------------------------- */

struct tls_case {
	const char *name;
	int require_tls;
	struct step steps[8];
	enum imap_fail cls;
	const char *text;
};

static const struct tls_case tls_cases[] = {
	{ "greeting BYE", 0, {
		SEND("* BYE Too many connections\r\n"),
		END }, IMAP_FAIL_LIMIT, "Too many connections" },
	{ "login refused with [LIMIT]: not the password", 0, {
		SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n"),
		EXPECT("TAG AUTHENTICATE PLAIN AGFsaWNlAHB3"),
		SEND("TAG NO [LIMIT] Maximum number of connections from user+IP exceeded\r\n"),
		END }, IMAP_FAIL_LIMIT, "takes no more connections now: Maximum number" },
	{ "LOGIN refused with [UNAVAILABLE]", 0, {
		SEND("* OK [CAPABILITY IMAP4rev1] ready\r\n"),
		EXPECT("TAG LOGIN \"alice\" \"pw\""),
		SEND("TAG NO [UNAVAILABLE] Too many simultaneous connections\r\n"),
		END }, IMAP_FAIL_LIMIT, "takes no more connections now: Too many" },
	{ "not an IMAP server", 0, {
		SEND("220 smtp.example.com ESMTP\r\n"),
		END }, IMAP_FAIL_PROTO, "greet" },
	{ "PREAUTH in clear", 1, {
		SEND("* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] welcome\r\n"),
		END }, IMAP_FAIL_TLS_REQUIRED, "PREAUTH" },
	{ "no STARTTLS in the greeting", 1, {
		SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n"),
		END }, IMAP_FAIL_TLS_REQUIRED, "STARTTLS" },
	{ "no STARTTLS in CAPABILITY", 1, {
		SEND("* OK ready\r\n"),
		EXPECT("TAG CAPABILITY"),
		SEND("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nTAG OK done\r\n"),
		END }, IMAP_FAIL_TLS_REQUIRED, "STARTTLS" },
	{ "STARTTLS refused", 1, {
		SEND("* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] ready\r\n"),
		EXPECT("TAG STARTTLS"),
		SEND("TAG NO Not now\r\n"),
		END }, IMAP_FAIL_TLS_REQUIRED, "Not now" },
	{ "data injected after the STARTTLS reply", 1, {
		SEND("* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] ready\r\n"),
		EXPECT("TAG STARTTLS"),
		SEND("TAG OK Begin TLS\r\n* OK injected\r\n"),
		END }, IMAP_FAIL_TLS_REQUIRED, "attack" },
};

static void test_greeting_and_tls(void **state)
{
	char err[256];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(tls_cases); i++) {
		const struct tls_case *c = &tls_cases[i];
		struct imap_params p = params();
		struct imap_session *s;
		struct tls_ctx *tls = tls_ctx_new(NULL, err, sizeof(err));

		case_name = c->name;
		if (!tls)
			fail_msg("tls_ctx_new: %s", err);
		p.require_tls = c->require_tls;
		p.conn.tls = tls;
		s = open_with(c->steps, p, 0);
		fx.tls = tls;
		CHECK(imap_connect(s) < 0);
		CHECK_INT(imap_fail_class(s), c->cls);
		CHECK(imap_broken(s));
		CHECK(strstr(imap_error(s), c->text) != NULL);
		finish();
	}
}

/* A session on STEPS that must use STARTTLS, which can work: the peer
 * plays a real TLS server (peer.h) whose certificate the client trusts. */
static struct imap_session *open_starttls(const struct step *steps, int slow)
{
	struct imap_params p = params();
	struct tls_ctx *tls;
	char err[256];

	tls = tls_ctx_new(peer_tls_setup(), err, sizeof(err));
	if (!tls)
		fail_msg("tls_ctx_new: %s", err);
	p.require_tls = 1;
	p.conn.tls = tls;
	open_with(steps, p, slow);
	fx.tls = tls;   /* open_with() cleared the fixture */
	return fx.s;
}

/* Issue 11 item 7: what was said in clear before the handshake, also in
 * the STARTTLS reply itself, does not survive it (RFC 3501 §6.2.1). */
static void test_starttls_forgets(void **state)
{
	static const struct step steps[] = {
		SEND("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n"),
		EXPECT("TAG STARTTLS"),
		SEND("* ENABLED QRESYNC\r\n"
		     "* 5 EXISTS\r\n"
		     "* OK [UIDVALIDITY 99] injected\r\n"
		     "* OK [HIGHESTMODSEQ 1234] injected\r\n"
		     "* OK [READ-ONLY] injected\r\n"
		     "TAG OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR QRESYNC ENABLE IDLE MOVE] "
		     "Begin TLS\r\n"),
		TLS_ACCEPT,
		EXPECT("TAG CAPABILITY"),
		SEND("* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR\r\nTAG OK done\r\n"),
		EXPECT("TAG AUTHENTICATE PLAIN AGFsaWNlAHB3"),
		SEND("TAG OK Logged in\r\n"),
		EXPECT("TAG CAPABILITY"),
		SEND("* CAPABILITY IMAP4rev1 UIDPLUS\r\nTAG OK done\r\n"),
		EXPECT("TAG SELECT \"INBOX\""),
		SEND("* 2 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\nTAG OK done\r\n"),
		END,
	};
	struct imap_mailbox mb;

	(void)state;
	for (int slow = 0; slow <= 1; slow++) {
		case_name = slow ? "fed one byte at a time" : "fed whole";
		open_starttls(steps, slow);
		CHECK_INT(imap_connect(fx.s), 0);
		CHECK_INT(imap_qresync_enabled(fx.s), 0);
		CHECK_INT(imap_caps(fx.s), IMAP_CAP_IMAP4REV1 | IMAP_CAP_UIDPLUS);
		CHECK_STR(imap_caps_text(fx.s), "IMAP4rev1 UIDPLUS");
		CHECK(imap_selected(fx.s) == NULL);
		CHECK_INT(imap_mailbox(fx.s)->exists, 0);
		CHECK_INT(imap_mailbox(fx.s)->uidvalidity, 0);
		CHECK_INT(imap_mailbox(fx.s)->highestmodseq, 0);
		CHECK_INT(imap_mailbox(fx.s)->readonly, 0);
		/* Without QRESYNC the SELECT has no QRESYNC or CONDSTORE
		 * parameter, and the mailbox is what the server says now. */
		CHECK_INT(imap_select(fx.s, "INBOX", 0, 0, 99, 1234, &events, NULL, &mb), 0);
		CHECK_INT(mb.exists, 2);
		CHECK_INT(mb.uidvalidity, 7);
		CHECK_INT(mb.readonly, 0);
		finish();
	}
}

/* Issue 11 item 3: a STARTTLS handshake cut by the server is a network
 * failure (the mount may come up from its cache), not a TLS one. */
static void test_starttls_cut(void **state)
{
	static const struct step steps[] = {
		SEND("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n"),
		EXPECT("TAG STARTTLS"),
		SEND("TAG OK Begin TLS\r\n"),
		EXPECT_TLS,
		CLOSE,
	};

	(void)state;
	case_name = "closed after the ClientHello";
	open_starttls(steps, 0);
	CHECK_INT(imap_connect(fx.s), -ECONNRESET);
	CHECK_INT(imap_fail_class(fx.s), IMAP_FAIL_CONN);
	CHECK_INT(imap_conn_fail(fx.s), CONN_FAIL_CLOSED);
	CHECK(strstr(imap_error(fx.s), "closed the connection during the TLS handshake") != NULL);
	finish();
}

/* ---- LIST ---------------------------------------------------------------- */

static int list_cb(void *ctx, const struct imap_list_entry *e)
{
	char name[256];
	int *calls = ctx;

	note("%s %s %x; ", show(name, sizeof(name), e->name, strlen(e->name)),
	     e->delim ? (char[]){ e->delim, 0 } : "NIL", e->flags);
	++*calls;
	return *calls == 100 ? -EINTR : 0;
}

static void test_list(void **state)
{
	static const struct step steps[] = {
		LOGIN,
		EXPECT("TAG LIST \"\" \"*\""),
		SEND("* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
		     "* LIST (\\Noselect \\HasChildren) \"/\" \"Archive\"\r\n"
		     "* LIST (\\HasNoChildren) \"/\" {13}\r\nwith \"quotes\"\r\n"
		     "* LIST () NIL \"flat\"\r\n"
		     "* LIST (\\HasNoChildren) \".\" \"Entw&APw-rfe\"\r\n"
		     "* LIST (\\HasNoChildren \\Trash) \"/\" \"Caf\xc3\xa9 \\\"x\\\"\"\r\n"
		     "TAG OK List completed\r\n"),
		EXPECT("TAG LIST \"\" \"*\""),
		SEND("* LIST () \"/\" one\r\n* LIST () \"/\" two\r\nTAG OK done\r\n"),
		EXPECT("TAG NOOP"),
		SEND("TAG OK done\r\n"),
		END,
	};
	struct imap_session *s = connected(steps);
	int calls = 0;

	(void)state;
	assert_int_equal(imap_list(s, list_cb, &calls), 0);
	assert_string_equal(fx.log,
		"INBOX / 8; Archive / 5; with \"quotes\" / 8; flat NIL 0; "
		"Entw&APw-rfe . 8; Caf\\xc3\\xa9 \"x\" / 208; ");
	assert_int_equal(IMAP_LIST_NOSELECT | IMAP_LIST_HASCHILDREN, 5);

	/* The callback's error stops the listing; the response is still read. */
	fx.log[0] = '\0';
	calls = 99;
	assert_int_equal(imap_list(s, list_cb, &calls), -EINTR);
	assert_string_equal(fx.log, "one / 0; ");
	assert_false(imap_broken(s));
	assert_int_equal(imap_noop(s), 0);
	finish();
}

/* ---- a poll round: LIST and STATUS in one round trip --------------------- */

static void status_cb(void *ctx, const struct imap_status *st)
{
	ev_status(ctx, st);
}

#define LOGIN_CAPS(caps) \
	SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n"), \
	EXPECT("TAG AUTHENTICATE PLAIN AGFsaWNlAHB3"), \
	SEND("TAG OK [CAPABILITY IMAP4rev1 " caps "] Logged in\r\n")

static void test_list_status(void **state)
{
	/* The peer reads all four commands before it answers: a client that
	 * waited for the LIST's reply would stall here. Replies come out of
	 * order (RFC 3501 §5.5); one STATUS is refused; an 8-bit name goes as
	 * a LITERAL+ literal. */
	static const struct step steps[] = {
		LOGIN_CAPS("CONDSTORE LITERAL+"),
		EXPECT("m2 LIST \"\" \"*\""),
		EXPECT("m3 STATUS \"INBOX\" (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)"),
		EXPECT("m4 STATUS \"Gone\" (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)"),
		EXPECT("m5 STATUS {5+}"),
		EXPECT("Caf\xc3\xa9 (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)"),
		SEND("* LIST () \"/\" INBOX\r\n* STATUS INBOX (MESSAGES 2 UIDNEXT 9 "
		     "UIDVALIDITY 7 HIGHESTMODSEQ 99)\r\nm3 OK done\r\n"
		     "m4 NO [NONEXISTENT] no such mailbox\r\n"
		     "* STATUS {5}\r\nCaf\xc3\xa9 (UIDNEXT 4 UNSEEN 1 UIDVALIDITY 8)\r\n"
		     "m2 OK listed\r\nm5 OK done\r\n"),
		EXPECT("TAG NOOP"),
		SEND("TAG OK done\r\n"),
		END,
	};
	static const char *const names[] = { "INBOX", "Gone", "Caf\xc3\xa9" };
	struct imap_session *s = connected(steps);
	uint64_t trips = imap_round_trips(s);
	int calls = 0;

	(void)state;
	assert_int_equal(imap_list_status(s, list_cb, status_cb, &calls, names, 3), 0);
	assert_string_equal(fx.log, "INBOX / 0; status INBOX f m=2 n=9 v=7 ms=99; "
	                    "status Caf\xc3\xa9 6 m=0 n=4 v=8 ms=0; ");
	assert_int_equal(imap_round_trips(s) - trips, 1);
	assert_int_equal(imap_noop(s), 0);
	finish();
}

/* With LIST-STATUS (RFC 5819) the LIST alone answers. */
static void test_list_status_extended(void **state)
{
	static const struct step steps[] = {
		LOGIN_CAPS("LIST-EXTENDED LIST-STATUS SPECIAL-USE"),
		EXPECT("m2 LIST \"\" \"*\" RETURN (SPECIAL-USE STATUS (MESSAGES UIDNEXT "
		       "UIDVALIDITY))"),
		SEND("* LIST (\\Trash) \"/\" Bin\r\n* STATUS Bin (MESSAGES 0 UIDNEXT 1 "
		     "UIDVALIDITY 3)\r\nm2 OK listed\r\n"),
		END,
	};
	static const char *const names[] = { "Bin" };
	struct imap_session *s = connected(steps);
	uint64_t trips = imap_round_trips(s);
	int calls = 0;

	(void)state;
	assert_int_equal(imap_list_status(s, list_cb, status_cb, &calls, names, 1), 0);
	assert_string_equal(fx.log, "Bin / 200; status Bin 7 m=0 n=1 v=3 ms=0; ");
	assert_int_equal(imap_round_trips(s) - trips, 1);
	finish();
}

/* Without LITERAL+ an 8-bit name needs the server's go-ahead: it is asked
 * on its own between two batches, never inside one. */
static void test_list_status_alone(void **state)
{
	static const struct step steps[] = {
		LOGIN,
		EXPECT("m2 STATUS \"A\" (MESSAGES UIDNEXT UIDVALIDITY)"),
		SEND("* STATUS A (UIDNEXT 2 UIDVALIDITY 1)\r\nm2 OK done\r\n"),
		EXPECT("m3 STATUS {5}"),
		SEND("+ go on\r\n"),
		EXPECT("Caf\xc3\xa9 (MESSAGES UIDNEXT UIDVALIDITY)"),
		SEND("* STATUS {5}\r\nCaf\xc3\xa9 (UIDNEXT 3 UIDVALIDITY 1)\r\nm3 OK done\r\n"),
		EXPECT("m4 STATUS \"B\" (MESSAGES UIDNEXT UIDVALIDITY)"),
		SEND("* STATUS B (UIDNEXT 4 UIDVALIDITY 1)\r\nm4 OK done\r\n"),
		END,
	};
	static const char *const names[] = { "A", "Caf\xc3\xa9", "B" };
	struct imap_session *s = connected(steps);

	(void)state;
	assert_int_equal(imap_list_status(s, NULL, status_cb, NULL, names, 3), 0);
	assert_string_equal(fx.log, "status A 6 m=0 n=2 v=1 ms=0; "
	                    "status Caf\xc3\xa9 6 m=0 n=3 v=1 ms=0; status B 6 m=0 n=4 v=1 ms=0; ");
	finish();
}

/* A session with a mailbox selected leaves it in the same round trip
 * before asking (its STATUS would be the session's own view). */
static void test_list_status_unselect(void **state)
{
	static const struct step steps[] = {
		LOGIN_CAPS("UNSELECT LIST-EXTENDED LIST-STATUS"),
		EXPECT("TAG EXAMINE \"INBOX\""),
		SEND("* 3 EXISTS\r\n* OK [UIDVALIDITY 7] UIDs valid\r\nTAG OK [READ-ONLY] done\r\n"),
		EXPECT("m3 UNSELECT"),
		EXPECT("m4 LIST \"\" \"*\" RETURN (STATUS (MESSAGES UIDNEXT UIDVALIDITY))"),
		SEND("m3 OK unselected\r\n* LIST () \"/\" INBOX\r\n"
		     "* STATUS INBOX (MESSAGES 3 UIDNEXT 4 UIDVALIDITY 7)\r\nm4 OK listed\r\n"),
		END,
	};
	static const char *const names[] = { "INBOX" };
	struct imap_session *s = connected(steps);
	int calls = 0;

	(void)state;
	examine_inbox();
	assert_int_equal(imap_list_status(s, list_cb, status_cb, &calls, names, 1), 0);
	assert_null(imap_selected(s));
	assert_string_equal(fx.log, "INBOX / 0; status INBOX 7 m=3 n=4 v=7 ms=0; ");
	finish();
}

/* A batch's replies are counted: a tag answered twice, or one never sent,
 * is a protocol error, never a command taken for done. A STATUS with a
 * value past its range too. */
static void test_list_status_hostile(void **state)
{
	static const struct {
		const char *name;
		struct step steps[8];
	} cases[] = {
		{ "a tag answered twice", {
			LOGIN,
			EXPECT("m2 STATUS \"A\" (MESSAGES UIDNEXT UIDVALIDITY)"),
			EXPECT("m3 STATUS \"B\" (MESSAGES UIDNEXT UIDVALIDITY)"),
			SEND("m2 OK done\r\nm2 OK again\r\n"),
			END } },
		{ "an unknown tag", {
			LOGIN,
			EXPECT("m2 STATUS \"A\" (MESSAGES UIDNEXT UIDVALIDITY)"),
			EXPECT("m3 STATUS \"B\" (MESSAGES UIDNEXT UIDVALIDITY)"),
			SEND("m2 OK done\r\nm9 OK what\r\n"),
			END } },
		{ "UIDNEXT past 32 bits", {
			LOGIN,
			EXPECT("m2 STATUS \"A\" (MESSAGES UIDNEXT UIDVALIDITY)"),
			EXPECT("m3 STATUS \"B\" (MESSAGES UIDNEXT UIDVALIDITY)"),
			SEND("* STATUS A (UIDNEXT 4294967296)\r\nm2 OK done\r\n"),
			END } },
		{ "STATUS without its list", {
			LOGIN,
			EXPECT("m2 STATUS \"A\" (MESSAGES UIDNEXT UIDVALIDITY)"),
			EXPECT("m3 STATUS \"B\" (MESSAGES UIDNEXT UIDVALIDITY)"),
			SEND("* STATUS A MESSAGES 3\r\nm2 OK done\r\n"),
			END } },
	};
	static const char *const names[] = { "A", "B" };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct imap_session *s;

		case_name = cases[i].name;
		s = connected(cases[i].steps);
		CHECK_INT(imap_list_status(s, NULL, status_cb, NULL, names, 2), -EPROTO);
		CHECK(imap_broken(s));
		finish();
	}
}

/* NOTIFY (RFC 5465): the command, and what the server then says unasked
 * of other mailboxes goes to the events. */
static void test_notify(void **state)
{
	static const struct step steps[] = {
		LOGIN,
		EXAMINE_INBOX,
		EXPECT("TAG NOTIFY SET (selected (MessageNew MessageExpunge FlagChange)) (personal "
		       "(MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange))"),
		SEND("TAG OK NOTIFY completed\r\n"),
		EXPECT("TAG IDLE"),
		SEND("+ idling\r\n"),
		SEND("* STATUS Work (MESSAGES 3 UIDNEXT 4 UIDVALIDITY 1)\r\n"
		     "* LIST () \"/\" New\r\n* 4 EXISTS\r\n"),
		EXPECT("DONE"),
		SEND("TAG OK done\r\n"),
		END,
	};
	struct imap_session *s = connected(steps);

	(void)state;
	examine_inbox();
	assert_int_equal(imap_notify(s), 0);
	assert_int_equal(imap_idle_begin(s), 0);
	while (!strstr(fx.log, "exists"))
		assert_int_equal(imap_idle_wait(s, 5000), 1);
	assert_int_equal(imap_idle_end(s), 0);
	assert_string_equal(fx.log, "status Work 7 m=3 n=4 v=1 ms=0; mailboxes; exists 4; ");
	finish();
}

/* ---- SELECT / EXAMINE ---------------------------------------------------- */

static void test_select(void **state)
{
	static const struct step steps[] = {
		LOGIN,
		EXPECT("TAG EXAMINE \"INBOX\""),
		SEND("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
		     "* OK [PERMANENTFLAGS ()] Read-only mailbox.\r\n"
		     "* 3 EXISTS\r\n"
		     "* 0 RECENT\r\n"
		     "* OK [UIDVALIDITY 1700000000] UIDs valid\r\n"
		     "* OK [UIDNEXT 42] Predicted next UID\r\n"
		     "* OK [HIGHESTMODSEQ 9000000000] Highest\r\n"
		     "TAG OK [READ-ONLY] Examine completed (0.001 + 0.000 secs).\r\n"),
		EXPECT("TAG SELECT \"Sent\""),
		SEND("TAG NO [NONEXISTENT] Mailbox doesn't exist: Sent\r\n"),
		END,
	};
	struct imap_session *s = connected(steps);
	struct imap_mailbox mb, again;

	(void)state;
	assert_int_equal(imap_select(s, "INBOX", 1, 0, 0, 0, &events, NULL, &mb), 0);
	assert_int_equal(mb.uidvalidity, 1700000000u);
	assert_int_equal(mb.uidnext, 42);
	assert_int_equal(mb.exists, 3);
	assert_int_equal(mb.highestmodseq, 9000000000ull);
	assert_int_equal(mb.readonly, 1);
	assert_string_equal(imap_selected(s), "INBOX");
	assert_memory_equal(imap_mailbox(s), &mb, sizeof(mb));
	assert_string_equal(fx.log, "exists 3; ");

	/* Already selected in that mode: nothing is sent. */
	assert_int_equal(imap_select(s, "INBOX", 1, 0, 0, 0, &events, NULL, &again), 1);
	assert_memory_equal(&again, &mb, sizeof(mb));

	/* A failed SELECT leaves nothing selected (RFC 3501 §6.3.1). */
	assert_int_equal(imap_select(s, "Sent", 0, 0, 0, 0, &events, NULL, &mb), -ENOENT);
	assert_null(imap_selected(s));
	assert_string_equal(imap_resp_code(s), "NONEXISTENT");
	assert_int_equal(imap_fail_class(s), IMAP_FAIL_NO);
	assert_false(imap_broken(s));
	finish();
}

static void test_select_qresync(void **state)
{
	static const struct step steps[] = {
		LOGIN_QRESYNC,
		EXPECT("TAG SELECT \"INBOX\" (QRESYNC (7 1234))"),
		SEND("* 5 EXISTS\r\n"
		     "* OK [UIDVALIDITY 7] UIDs valid\r\n"
		     "* OK [HIGHESTMODSEQ 1300] Highest\r\n"
		     "* VANISHED (EARLIER) 3:4\r\n"
		     "* 2 FETCH (UID 20 FLAGS (\\Seen) MODSEQ (1300))\r\n"
		     "TAG OK [READ-WRITE] Select completed\r\n"),
		EXPECT("TAG EXAMINE \"Other\" (CONDSTORE)"),
		SEND("* 0 EXISTS\r\n* OK [UIDVALIDITY 9] UIDs valid\r\n"
		     "* OK [NOMODSEQ] No permanent modsequences\r\n"
		     "TAG OK [READ-ONLY] done\r\n"),
		END,
	};
	struct imap_session *s = connected(steps);
	struct imap_mailbox mb;

	(void)state;
	assert_true(imap_qresync_enabled(s));
	assert_int_equal(imap_select(s, "INBOX", 0, 0, 7, 1234, &events, NULL, &mb), 0);
	assert_string_equal(fx.log, "exists 5; expunge 3; expunge 4; "
	                    "fetch 2 uid=20 flags=[\\Seen] modseq=1300; ");
	assert_int_equal(mb.highestmodseq, 1300);
	assert_int_equal(mb.exists, 5);
	assert_int_equal(mb.readonly, 0);

	/* Nothing known: CONDSTORE only. */
	assert_int_equal(imap_select(s, "Other", 1, 0, 0, 0, &events, NULL, &mb), 0);
	assert_int_equal(mb.uidvalidity, 9);
	assert_int_equal(mb.highestmodseq, 0);
	assert_int_equal(mb.readonly, 1);
	assert_int_equal(mb.exists, 0);
	finish();
}

/* ---- FETCH --------------------------------------------------------------- */

static void test_fetch_metadata(void **state)
{
	static const struct step steps[] = {
		LOGIN,
		EXAMINE_INBOX,
		EXPECT("TAG UID FETCH 5:6 (UID FLAGS RFC822.SIZE INTERNALDATE MODSEQ "
		       "BODY.PEEK[HEADER.FIELDS (SUBJECT MESSAGE-ID)])"),
		SEND("* 1 FETCH (UID 5 FLAGS (\\Seen \\Recent $Label1) RFC822.SIZE 1234 "
		     "INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" MODSEQ (77) "
		     "BODY[HEADER.FIELDS (SUBJECT MESSAGE-ID)] {34}\r\n"
		     "Subject: hi\r\nMessage-ID: <a@b>\r\n\r\n)\r\n"
		     "* 2 FETCH (FLAGS (\\Recent) UID 6 RFC822.SIZE 10 INTERNALDATE "
		     "\" 1-Jan-2020 00:00:00 +0000\" "
		     "BODY[HEADER.FIELDS (SUBJECT MESSAGE-ID)] NIL)\r\n"
		     "TAG OK Fetch completed\r\n"),
		END,
	};

	(void)state;
	for (int slow = 0; slow <= 1; slow++) {
		struct imap_session *s = open_with(steps, params(), slow);

		case_name = slow ? "one byte at a time" : "whole";
		CHECK_INT(imap_connect(s), 0);
		examine_inbox();
		CHECK_INT(imap_uid_fetch(s, "5:6", "UID FLAGS RFC822.SIZE INTERNALDATE MODSEQ "
		                         "BODY.PEEK[HEADER.FIELDS (SUBJECT MESSAGE-ID)]", NULL), 0);
		CHECK_STR(fx.log,
			"fetch 1 uid=5 flags=[\\Seen $Label1] size=1234 date=837596665 modseq=77 "
			"header=[Subject: hi\\x0d\\x0aMessage-ID: <a@b>\\x0d\\x0a\\x0d\\x0a]; "
			"fetch 2 uid=6 flags=[] size=10 date=1577836800 header=[]; ");
		finish();
	}
}

#define BODY_SIZE 204800
#define BODY_SIZE_STR "204800"

static void test_fetch_body_stream(void **state)
{
	static const char tail[] = " FLAGS (\\Seen))\r\n";
	char *data = malloc(BODY_SIZE);
	uint32_t x = 1;

	(void)state;
	assert_non_null(data);
	for (size_t i = 0; i < BODY_SIZE; i++) {
		x = x * 1103515245 + 12345;
		data[i] = (char)(x >> 16);
	}
	struct step steps[] = {
		LOGIN,
		EXAMINE_INBOX,
		EXPECT("TAG UID FETCH 5:6 (BODY.PEEK[])"),
		SEND("* 1 FETCH (UID 5 BODY[] {" BODY_SIZE_STR "}\r\n"),
		SEND_RAW(data, BODY_SIZE),
		DELAY(100),
		SEND(tail),
		SEND("* 2 FETCH (UID 6 BODY[]<100> {3}\r\nabc)\r\nTAG OK Fetch completed\r\n"),
		END,
	};
	struct imap_session *s = connected(steps);
	int tail_step = 0;

	while (steps[tail_step].data != tail)
		tail_step++;
	examine_inbox();
	fx.body_uid = 5;
	assert_int_equal(imap_uid_fetch(s, "5:6", "BODY.PEEK[]", NULL), 0);
	assert_string_equal(fx.log,
		"body uid=5 off=0 size=" BODY_SIZE_STR "; "
		"fetch 1 uid=5 flags=[\\Seen] body=" BODY_SIZE_STR "; end 0; "
		"body uid=6 off=100 size=3; fetch 2 uid=6 body=3; ");
	assert_int_equal(fx.body.len, BODY_SIZE);
	assert_memory_equal(fx.body.data, data, BODY_SIZE);
	assert_int_equal(fx.body.ends, 1);
	assert_true(fx.body.end_at >= tail_step);   /* after the whole line */
	assert_true(fx.body.chunks > 1);
	finish();
	free(data);
}

static void test_fetch_body_drop(void **state)
{
	static const char half[500];
	static const struct step steps[] = {
		LOGIN,
		EXAMINE_INBOX,
		EXPECT("TAG UID FETCH 5 (BODY.PEEK[])"),
		SEND("* 1 FETCH (UID 5 BODY[] {1000}\r\n"),
		SEND_RAW(half, sizeof(half)),
		CLOSE,
	};
	struct imap_session *s = connected(steps);

	(void)state;
	examine_inbox();
	fx.body_uid = 5;
	assert_int_equal(imap_uid_fetch(s, "5", "BODY.PEEK[]", NULL), -ECONNRESET);
	assert_int_equal(fx.body.len, 500);
	assert_int_equal(fx.body.ends, 1);
	assert_int_equal(fx.body.err, -ECONNRESET);
	assert_int_equal(imap_fail_class(s), IMAP_FAIL_CONN);
	assert_int_equal(imap_conn_fail(s), CONN_FAIL_CLOSED);
	assert_true(imap_broken(s));
	finish();
}

/* A body arrived whole, but the FETCH response around it is bad: the sink
 * must not be told that all is well. */
/* What the views ask (issue 13): BODYSTRUCTURE parsed, several header
 * sections in one response, body sections named (BINARY too), and a short
 * section sent as a quoted string reaching the sink like a literal. */
static void test_fetch_views(void **state)
{
	struct step steps[] = {
		LOGIN,
		EXAMINE_INBOX,
		EXPECT("TAG UID FETCH 7 (UID BODYSTRUCTURE)"),
		SEND("* 1 FETCH (UID 7 BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL "
		     "NIL \"QUOTED-PRINTABLE\" 12 1 NIL NIL NIL NIL)(\"APPLICATION\" \"PDF\" "
		     "(\"NAME\" {5}\r\na.pdf) NIL NIL \"BASE64\" 400 NIL (\"attachment\" NIL) NIL NIL) "
		     "\"MIXED\" (\"BOUNDARY\" \"b\") NIL NIL NIL))\r\n"
		     "TAG OK done\r\n"),
		EXPECT("TAG UID FETCH 7 (UID BODY.PEEK[HEADER.FIELDS (FROM)] BINARY.PEEK[1] "
		       "BODY.PEEK[2.HEADER] BODY.PEEK[2.1])"),
		SEND("* 1 FETCH (BODY[HEADER.FIELDS (FROM)] {9}\r\nFrom: a\r\n BINARY[1] {4}\r\n"
		     "text BODY[2.HEADER] \"S: x\" BODY[2.1] \"abc\" UID 7)\r\nTAG OK done\r\n"),
		EXPECT("TAG UID FETCH 7 (UID BODYSTRUCTURE)"),
		SEND("* 1 FETCH (UID 7 BODYSTRUCTURE (NIL NIL NIL NIL NIL \"7BIT\" 3))\r\n"
		     "TAG OK done\r\n"),
		END,
	};
	struct imap_session *s = connected(steps);

	(void)state;
	case_name = "views";
	examine_inbox();
	CHECK_INT(imap_uid_fetch(s, "7", "UID BODYSTRUCTURE", NULL), 0);
	if (!strstr(fx.log, "fetch 1 uid=7 structure=((\"text\" \"plain\" (\"CHARSET\" \"utf-8\") "
	                    "NIL NIL \"quoted-printable\" 12 1 "))
		fail_msg("structure: %s", fx.log);
	if (!strstr(fx.log, "(\"NAME\" \"a.pdf\")") || !strstr(fx.log, "\"mixed\""))
		fail_msg("structure: %s", fx.log);
	fx.log[0] = '\0';
	fx.body_uid = 7;
	CHECK_INT(imap_uid_fetch(s, "7", "UID BODY.PEEK[HEADER.FIELDS (FROM)] BINARY.PEEK[1] "
	                         "BODY.PEEK[2.HEADER] BODY.PEEK[2.1]", NULL), 0);
	/* The literal streams at once (the UID known from the sequence
	 * number); the quoted section goes to its sink once the response is
	 * read; then the FETCH, then the end of the literal's sink. */
	assert_string_equal(fx.log,
		"body uid=7 off=0 size=4; section=BINARY 1; "
		"body uid=7 off=0 size=3; section=2.1; end 0; "
		"fetch 1 uid=7 header=[From: a\\x0d\\x0a] body=3 "
		"h[HEADER.FIELDS (FROM)]=[From: a\\x0d\\x0a] h[2.HEADER]=[S: x]; end 0; ");
	/* A structure the parser refuses (a body with no type) costs only
	 * itself: the response was read whole, the session goes on. */
	fx.log[0] = '\0';
	CHECK_INT(imap_uid_fetch(s, "7", "UID BODYSTRUCTURE", NULL), 0);
	if (!strstr(fx.log, "fetch 1 uid=7 structure-error="))
		fail_msg("refused structure: %s", fx.log);
	CHECK(!imap_broken(s));
	finish();
}

static void test_fetch_body_rejected(void **state)
{
	static const struct {
		const char *name;
		struct step steps[8];
		uint32_t uid;
	} cases[] = {
		{ "message beyond EXISTS", { LOGIN, EXAMINE_INBOX,
			EXPECT("TAG UID FETCH 50 (BODY.PEEK[])"),
			SEND("* 9 FETCH (UID 50 BODY[] {4}\r\nabcd)\r\n"), END }, 50 },
		{ "UID 0 after the body", { LOGIN, EXAMINE_INBOX,
			EXPECT("TAG UID FETCH 50 (BODY.PEEK[])"),
			SEND("* 1 FETCH (BODY[] {4}\r\nabcd UID 0)\r\n"), END }, 0 },
		{ "control byte after the body", { LOGIN, EXAMINE_INBOX,
			EXPECT("TAG UID FETCH 50 (BODY.PEEK[])"),
			SEND("* 1 FETCH (UID 50 BODY[] {4}\r\nabcd \001)\r\n"), END }, 50 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct imap_session *s = connected(cases[i].steps);

		case_name = cases[i].name;
		examine_inbox();
		fx.body_uid = cases[i].uid;
		CHECK_INT(imap_uid_fetch(s, "50", "BODY.PEEK[]", NULL), -EPROTO);
		CHECK_INT(fx.body.ends, 1);
		CHECK_INT(fx.body.err, -EPROTO);
		CHECK(strstr(fx.log, "fetch") == NULL);
		CHECK(imap_broken(s));
		finish();
	}
}

/* ---- untagged responses during other commands ---------------------------- */

static void test_untagged_events(void **state)
{
	static const struct step steps[] = {
		LOGIN,
		EXAMINE_INBOX,
		FETCH_UIDS,
		EXPECT("TAG NOOP"),
		SEND("* 4 EXISTS\r\n"               /* 10 11 12 ? */
		     "* 2 EXPUNGE\r\n"              /* 10 12 ? */
		     "* 1 FETCH (FLAGS (\\Seen \\Recent))\r\n"
		     "* 3 EXPUNGE\r\n"              /* 10 12 */
		     "* 2 EXPUNGE\r\n"              /* 10 */
		     "TAG OK NOOP completed\r\n"),
		EXPECT("TAG UID FETCH 1:* (UID FLAGS)"),
		SEND("* 1 FETCH (UID 10 FLAGS ())\r\n"
		     "* 3 EXISTS\r\n"
		     "* VANISHED (EARLIER) 3:5\r\n"
		     "* 3 FETCH (FLAGS (\\Flagged) UID 13)\r\n"
		     "* 2 FETCH (UID 12 FLAGS ())\r\n"
		     "TAG OK Fetch completed\r\n"),
		END,
	};
	struct imap_session *s = connected(steps);

	(void)state;
	examine_inbox();
	fetch_uids();
	assert_int_equal(imap_noop(s), 0);
	assert_string_equal(fx.log, "exists 4; expunge 11; fetch 1 uid=10 flags=[\\Seen]; "
	                    "lost; expunge 12; ");
	assert_int_equal(imap_mailbox(s)->exists, 1);

	fx.log[0] = '\0';
	assert_int_equal(imap_uid_fetch(s, "1:*", "UID FLAGS", NULL), 0);
	assert_string_equal(fx.log, "fetch 1 uid=10 flags=[]; exists 3; "
	                    "expunge 3; expunge 4; expunge 5; "
	                    "fetch 3 uid=13 flags=[\\Flagged]; fetch 2 uid=12 flags=[]; ");
	assert_int_equal(imap_mailbox(s)->exists, 3);
	finish();
}

/* VANISHED without EARLIER removes messages like EXPUNGE does (RFC 7162
 * §3.2.10), also those whose sequence number the session never learned. */
static void test_vanished_count(void **state)
{
	static const struct step steps[] = {
		LOGIN,
		EXPECT("TAG EXAMINE \"INBOX\""),
		SEND("* 4 EXISTS\r\nTAG OK [READ-ONLY] done\r\n"),
		EXPECT("TAG UID FETCH 10,14 (UID)"),
		SEND("* 1 FETCH (UID 10)\r\n* 4 FETCH (UID 14)\r\nTAG OK done\r\n"),
		EXPECT("TAG NOOP"),
		SEND("* VANISHED 12\r\n"            /* 10 ? 14 */
		     "* VANISHED 10\r\n"            /* ? 14 */
		     "* 2 EXPUNGE\r\n"              /* ? */
		     "* 3 EXISTS\r\n"               /* ? ? ? */
		     "TAG OK done\r\n"),
		EXPECT("TAG NOOP"),
		SEND("* VANISHED 30:31\r\nTAG OK done\r\n"),
		END,
	};
	struct imap_session *s = connected(steps);

	(void)state;
	examine_inbox();
	assert_int_equal(imap_uid_fetch(s, "10,14", "UID", NULL), 0);
	fx.log[0] = '\0';
	assert_int_equal(imap_noop(s), 0);
	assert_string_equal(fx.log, "expunge 12; expunge 10; expunge 14; exists 3; ");
	assert_int_equal(imap_mailbox(s)->exists, 3);
	fx.log[0] = '\0';
	assert_int_equal(imap_noop(s), 0);
	assert_string_equal(fx.log, "expunge 30; expunge 31; ");
	assert_int_equal(imap_mailbox(s)->exists, 1);
	finish();
}

/* ---- hostile and failing servers ----------------------------------------- */

struct hostile_case {
	const char *name;
	const char *bytes;              /* the answer to NOOP */
	size_t len;
	int err;
	enum imap_fail cls;
	char fill;                      /* then FILL, REPEAT times, and CRLF */
	size_t repeat;
	int drop;                       /* then close the connection */
};

#define BYTES(s) (s), sizeof(s) - 1
#define PROTO -EPROTO, IMAP_FAIL_PROTO, 0, 0, 0
#define NO(err) err, IMAP_FAIL_NO, 0, 0, 0

static const struct hostile_case hostile_cases[] = {
	{ "EXISTS going down", BYTES("* 2 EXISTS\r\n"), PROTO },
	{ "absurd EXISTS", BYTES("* 4000000000 EXISTS\r\n"), PROTO },
	{ "EXPUNGE of message 0", BYTES("* 0 EXPUNGE\r\n"), PROTO },
	{ "EXPUNGE beyond EXISTS", BYTES("* 4 EXPUNGE\r\n"), PROTO },
	{ "FETCH beyond EXISTS", BYTES("* 4 FETCH (FLAGS ())\r\n"), PROTO },
	{ "FETCH with UID 0", BYTES("* 1 FETCH (UID 0)\r\n"), PROTO },
	{ "FETCH with UID 2^32", BYTES("* 1 FETCH (UID 4294967296)\r\n"), PROTO },
	{ "duplicate UID", BYTES("* 1 FETCH (UID 5)\r\n* 2 FETCH (UID 5)\r\n"), PROTO },
	{ "UIDs out of order", BYTES("* 2 FETCH (UID 5)\r\n* 3 FETCH (UID 4)\r\n"), PROTO },
	{ "UIDs out of order, backwards", BYTES("* 2 FETCH (UID 5)\r\n* 1 FETCH (UID 6)\r\n"), PROTO },
	{ "FETCH without a list", BYTES("* 1 FETCH UID 5\r\n"), PROTO },
	{ "FETCH item without a value", BYTES("* 1 FETCH (UID)\r\n"), PROTO },
	{ "malformed INTERNALDATE", BYTES("* 1 FETCH (INTERNALDATE \"yesterday\")\r\n"), PROTO },
	{ "VANISHED of 2^32-1 messages", BYTES("* VANISHED 1:4294967295\r\n"), PROTO },
	{ "reply with an unknown tag", BYTES("m99 OK done\r\n"), PROTO },
	{ "unexpected continuation", BYTES("+ go ahead\r\n"), PROTO },
	{ "tagged reply without a status", BYTES("TAG MAYBE later\r\n"), PROTO },
	{ "literal of 2^64-1 bytes",
	  BYTES("* 1 FETCH (BODY[] {18446744073709551615}\r\n"), PROTO },
	{ "literal size beyond 64 bits",
	  BYTES("* 1 FETCH (BODY[] {18446744073709551616}\r\n"), PROTO },
	{ "header literal too large to hold", BYTES("* 1 FETCH (BODY[HEADER] {2000000}\r\n"), PROTO },
	{ "non-synchronizing literal", BYTES("* 1 FETCH (BODY[HEADER] {5+}\r\nabcde)\r\n"), PROTO },
	{ "1 MB line", BYTES("* OK "), -EPROTO, IMAP_FAIL_PROTO, 'a', 1 << 20, 0 },
	{ "100000 nested parentheses", BYTES("* 1 FETCH "), -EPROTO, IMAP_FAIL_PROTO, '(', 100000, 0 },
	{ "NUL in a line", BYTES("* 1 FETCH (FLAGS (\\Se\0en))\r\n"), PROTO },
	{ "bare LF", BYTES("* 3 EXISTS\n"), PROTO },
	{ "bare CR", BYTES("* 3 EXISTS\rx\r\n"), PROTO },
	{ "unclosed response code", BYTES("* OK [UIDNEXT 5\r\n"), PROTO },
	{ "empty line", BYTES("\r\n"), PROTO },
	{ "unbalanced parenthesis", BYTES("* 1 FETCH (FLAGS ()))\r\n"), PROTO },
	{ "BYE in the middle of a command", BYTES("* BYE Shutting down\r\n"),
	  -ECONNRESET, IMAP_FAIL_BYE, 0, 0, 0 },
	{ "EOF in the middle of a line", BYTES("* 1 FETCH (FLA"), -ECONNRESET, IMAP_FAIL_CONN,
	  0, 0, 1 },
	/* Refusals: the session stays usable. */
	{ "BAD", BYTES("TAG BAD Error in IMAP command\r\n"), -EBADMSG, IMAP_FAIL_BAD, 0, 0, 0 },
	{ "NO [OVERQUOTA]", BYTES("TAG NO [OVERQUOTA] Quota exceeded\r\n"), NO(-EDQUOT) },
	{ "NO [TRYCREATE]", BYTES("TAG NO [TRYCREATE] No such mailbox\r\n"), NO(-ENOENT) },
	{ "NO [ALREADYEXISTS]", BYTES("TAG NO [ALREADYEXISTS] Exists\r\n"), NO(-EEXIST) },
	{ "NO without a code", BYTES("TAG NO Sorry\r\n"), NO(-EIO) },
};

static void test_hostile(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(hostile_cases); i++) {
		const struct hostile_case *c = &hostile_cases[i];
		char *data = malloc(c->len + c->repeat + 2);
		size_t len = c->len + c->repeat;
		int usable = c->cls == IMAP_FAIL_NO || c->cls == IMAP_FAIL_BAD;
		struct step steps[] = {
			LOGIN,
			EXAMINE_INBOX,
			EXPECT("TAG NOOP"),
			{ ST_SEND, data, c->repeat ? len + 2 : len, 0 },
			EXPECT("TAG NOOP"),
			SEND("TAG OK done\r\n"),
			END,
		};
		struct imap_session *s;

		case_name = c->name;
		assert_non_null(data);
		memcpy(data, c->bytes, c->len);
		memset(data + c->len, c->fill, c->repeat);
		memcpy(data + len, "\r\n", 2);
		if (!usable)
			steps[ARRAY_SIZE(steps) - 3] = (struct step)END;
		if (c->drop)
			steps[ARRAY_SIZE(steps) - 3] = (struct step)CLOSE;
		s = connected(steps);
		examine_inbox();
		CHECK_INT(imap_noop(s), c->err);
		CHECK_INT(imap_fail_class(s), c->cls);
		CHECK_INT(imap_broken(s), !usable);
		if (usable)
			CHECK_INT(imap_noop(s), 0);
		finish();
		free(data);
	}
}

/* Issue 11 item 5: one FETCH response with a dozen 1 MB literals that are
 * not body sections (each would be copied into the response) goes past
 * the 8 MiB a response may hold: a protocol error, not 12 MB held. */
static void test_response_budget(void **state)
{
	const size_t nlit = 12, lit = 1000000;
	struct sb big = { 0 };
	char *data = malloc(lit);

	(void)state;
	assert_non_null(data);
	memset(data, 'x', lit);
	sb_addn(&big, "* 1 FETCH (UID 10", 17);
	for (size_t i = 0; i < nlit; i++) {
		sb_addn(&big, " X-BLOB {1000000}\r\n", 19);
		sb_addn(&big, data, lit);
	}
	sb_addn(&big, ")\r\n", 3);
	{
		struct step steps[] = {
			LOGIN,
			EXAMINE_INBOX,
			EXPECT("TAG NOOP"),
			SEND_RAW(big.s, big.len),
			SEND("TAG OK done\r\n"),
			END,
		};
		struct imap_session *s;

		case_name = "12 literals of 1 MB in one response";
		s = connected(steps);
		examine_inbox();
		CHECK_INT(imap_noop(s), -EPROTO);
		CHECK_INT(imap_fail_class(s), IMAP_FAIL_PROTO);
		CHECK(imap_broken(s));
		CHECK(strstr(imap_error(s), "response too large") != NULL);
		CHECK_STR(fx.log, "");   /* no FETCH event from it */
		finish();
	}
	free(big.s);
	free(data);
}

/* imap_abort() from another thread (what unmount does) wakes a blocked
 * command at once, and says that it was stopped, not lost. */
static void *abort_later(void *arg)
{
	usleep(100 * 1000);
	imap_abort(arg);
	return NULL;
}

static void test_abort(void **state)
{
	static const struct step quiet_server[] = { LOGIN, EXPECT("TAG NOOP"), END };
	struct imap_session *s;
	struct timespec t0;
	pthread_t t;

	(void)state;
	s = connected(quiet_server);
	imap_set_timeout(s, 10000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(pthread_create(&t, NULL, abort_later, s), 0);
	assert_int_equal(imap_noop(s), -EIO);
	pthread_join(t, NULL);
	assert_true(ms_since(&t0) < 2000);
	assert_int_equal(imap_fail_class(s), IMAP_FAIL_CONN);
	assert_int_equal(imap_conn_fail(s), CONN_FAIL_ABORTED);
	assert_true(imap_broken(s));
	finish();
}

static void test_timeouts(void **state)
{
	static const struct step quiet_server[] = { LOGIN, EXPECT("TAG NOOP"), END };
	static const struct step half_greeting[] = { SEND("* OK [CAPABILITY IMAP4"), END };
	static const struct step half_body[] = {
		LOGIN, EXAMINE_INBOX,
		EXPECT("TAG UID FETCH 5 (BODY.PEEK[])"),
		SEND("* 1 FETCH (UID 5 BODY[] {100}\r\n0123456789"),
		END,
	};
	struct imap_params p = params();
	struct imap_session *s;
	struct timespec t0;
	long ms;

	(void)state;
	s = connected(quiet_server);
	imap_set_timeout(s, 200);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(imap_noop(s), -ETIMEDOUT);
	ms = ms_since(&t0);
	assert_true(ms >= 150 && ms < 2000);
	assert_int_equal(imap_fail_class(s), IMAP_FAIL_CONN);
	assert_int_equal(imap_conn_fail(s), CONN_FAIL_TIMEOUT);
	assert_true(imap_broken(s));
	finish();

	p.conn.timeout_ms = 200;
	s = open_with(half_greeting, p, 0);
	assert_int_equal(imap_connect(s), -ETIMEDOUT);
	assert_int_equal(imap_fail_class(s), IMAP_FAIL_CONN);
	finish();

	s = connected(half_body);
	examine_inbox();
	imap_set_timeout(s, 200);
	fx.body_uid = 5;
	assert_int_equal(imap_uid_fetch(s, "5", "BODY.PEEK[]", NULL), -ETIMEDOUT);
	assert_int_equal(fx.body.ends, 1);
	assert_int_equal(fx.body.err, -ETIMEDOUT);
	assert_int_equal(fx.body.len, 10);
	assert_true(imap_broken(s));
	finish();
}

/* ---- IDLE ---------------------------------------------------------------- */

static void test_idle(void **state)
{
	static const struct step steps[] = {
		LOGIN,
		EXAMINE_INBOX,
		EXPECT("TAG IDLE"),
		DELAY(100),
		SEND("+ idling\r\n"),
		DELAY(400),
		SEND("* 4 EXISTS\r\n* 1 FETCH (FLAGS (\\Seen))\r\n"),
		EXPECT("DONE"),
		SEND("TAG OK Idle completed\r\n"),
		EXPECT("TAG NOOP"),
		SEND("TAG OK done\r\n"),
		END,
	};
	struct imap_session *s = connected(steps);
	struct timespec t0;

	(void)state;
	examine_inbox();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(imap_idle_begin(s), 0);
	assert_true(ms_since(&t0) >= 90);            /* waited for "+" */
	assert_int_equal(imap_idle_wait(s, 100), 0);
	assert_string_equal(fx.log, "");
	assert_int_equal(imap_idle_wait(s, 3000), 1);
	assert_string_equal(fx.log, "exists 4; fetch 1 uid=0 flags=[\\Seen]; ");
	assert_int_equal(imap_idle_end(s), 0);
	assert_false(imap_broken(s));
	assert_int_equal(imap_noop(s), 0);
	finish();
}

/* ---- sequence sets ------------------------------------------------------- */

static void add_range(void *ctx, uint32_t lo, uint32_t hi)
{
	char *out = ctx;

	sprintf(out + strlen(out), "%u-%u,", lo, hi);
}

static void test_parse_uidset(void **state)
{
	static const struct { const char *set; const char *ranges; } cases[] = {
		{ "1", "1-1," },
		{ "1:3,5", "1-3,5-5," },
		{ "7:*", "7-9," },
		{ "*", "9-9," },
		{ "*:3", "3-9," },
		{ "5:2", "2-5," },
		{ "4294967295", "4294967295-4294967295," },
		{ "1,1:1,2", "1-1,1-1,2-2," },
		/* invalid */
		{ "", NULL }, { "0", NULL }, { "1:", NULL }, { ",", NULL }, { "1,", NULL },
		{ ":2", NULL }, { "1:0", NULL }, { "4294967296", NULL }, { "a", NULL },
		{ "1 2", NULL }, { "1::2", NULL }, { "-1", NULL }, { "99999999999999999999", NULL },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char out[256] = "";
		int r = imap_parse_uidset(cases[i].set, 9, add_range, out);

		case_name = cases[i].set;
		if (cases[i].ranges) {
			CHECK_INT(r, 0);
			CHECK_STR(out, cases[i].ranges);
		} else {
			CHECK_INT(r, -EPROTO);
		}
	}
}

/* ---- flag lists (SPEC §5: atoms or EINVAL) -------------------------------- */

static void test_flags(void **state)
{
#define F(in, out) { in, sizeof(in) - 1, out }
	static const struct { const char *in; size_t len; const char *out; } cases[] = {
		F("", ""),
		F("\\Seen", "\\Seen"),
		F("\\Seen \\Flagged $Important", "\\Seen \\Flagged $Important"),
		F("  \\Seen\t\tJunk\n", "\\Seen Junk"),
		F("\\Seen\n", "\\Seen"),
		F("NonJunk $label1 a.b-c_d+e", "NonJunk $label1 a.b-c_d+e"),
		F(" \r\n", ""),
		/* not flags: every atom-special, a lone or inner backslash, 8-bit
		 * bytes, NUL, and the injection of issue 11 */
		F("\\", NULL), F("a\\b", NULL), F("\\\\Seen", NULL),
		F("(", NULL), F(")", NULL), F("{5}", NULL), F("%", NULL),
		F("*", NULL), F("\\*", NULL), F("\"x\"", NULL), F("]", NULL),
		F("caf\xc3\xa9", NULL), F("a\x7f", NULL), F("a\x01", NULL),
		F("a\0b", NULL), F("\0", NULL),
		F("\\Seen)\r\nX1 DELETE Victim\r\nX2 NOOP (", NULL),
	};
#undef F

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *out = imap_flags_normalize(cases[i].in, cases[i].len);

		case_name = cases[i].in;
		if (cases[i].out) {
			assert_non_null(out);
			CHECK_STR(out, cases[i].out);
			assert_true(imap_flags_valid(out));
		} else {
			assert_null(out);
			CHECK_INT(errno, EINVAL);
		}
		free(out);
	}
	/* The strict form: single spaces between flags, nothing around. */
	assert_true(imap_flags_valid(""));
	assert_true(imap_flags_valid("\\Seen $x"));
	assert_false(imap_flags_valid(" \\Seen"));
	assert_false(imap_flags_valid("\\Seen "));
	assert_false(imap_flags_valid("\\Seen  $x"));
	assert_false(imap_flags_valid("\\Seen\t$x"));
	assert_false(imap_flags_valid("\\Seen\r\nX DELETE y"));
}

/* ---- issue 11 item 1: nothing reaches the wire with a CR, LF or NUL -------- */

enum inject_call { CALL_COMMAND, CALL_FETCH, CALL_STORE, CALL_APPEND };

struct inject_case {
	const char *name;
	enum inject_call call;
	const char *a, *b, *c;          /* the call's text arguments */
	const char *why;                /* in imap_error() */
};

#define CRLF_WHY "CR, LF or NUL outside a literal"
#define FLAGS_WHY "not RFC 3501 flags"
#define ISSUE11 "\\Seen)\r\nX1 DELETE Victim\r\nX2 NOOP ("

static const struct inject_case inject_cases[] = {
	{ "a command line with CR LF", CALL_COMMAND, "NOOP\r\nX1 DELETE Victim", 0, 0, CRLF_WHY },
	{ "a search key with LF", CALL_COMMAND, "UID SEARCH SUBJECT x\nX1 DELETE Victim", 0, 0, CRLF_WHY },
	{ "a line ending in CR", CALL_COMMAND, "UID SEARCH ALL\r", 0, 0, CRLF_WHY },
	{ "FETCH items with CR LF", CALL_FETCH, "1:*", "UID)\r\nX1 DELETE Victim\r\nX2 FETCH 1 (UID",
	  NULL, CRLF_WHY },
	{ "a UID set with CR LF", CALL_FETCH, "1\r\nX1 DELETE Victim", "UID", NULL, CRLF_WHY },
	{ "FETCH modifiers with CR LF", CALL_FETCH, "1", "UID", "CHANGEDSINCE 1)\r\nX1 DELETE V", CRLF_WHY },
	{ "STORE: the injection of issue 11", CALL_STORE, "+FLAGS", ISSUE11, 0, FLAGS_WHY },
	{ "STORE: a flag list that is no list of atoms", CALL_STORE, "FLAGS", "\\Seen (x", 0, FLAGS_WHY },
	{ "STORE: a bare LF between flags", CALL_STORE, "FLAGS", "\\Seen\n$x", 0, FLAGS_WHY },
	{ "STORE: an operation with CR LF", CALL_STORE, "+FLAGS\r\nX1 DELETE Victim\r\nX2 NOOP", "\\Seen",
	  0, CRLF_WHY },
	{ "APPEND: the injection of issue 11", CALL_APPEND, "INBOX", ISSUE11, 0, FLAGS_WHY },
	{ "APPEND: a flag list with a literal in it", CALL_APPEND, "INBOX", "\\Seen {5}", 0, FLAGS_WHY },
};

static void test_command_injection(void **state)
{
	static const char msg[] = "Subject: x\r\n\r\nhi\r\n";
	/* Nothing but the NOOP after the refused call may reach the server. */
	static const struct step steps[] = {
		LOGIN,
		EXPECT("TAG NOOP"),
		SEND("TAG OK done\r\n"),
		END,
	};
	FILE *f = tmpfile();
	uint32_t uv = 1, uid = 1;

	(void)state;
	assert_non_null(f);
	assert_int_equal(fwrite(msg, 1, sizeof(msg) - 1, f), sizeof(msg) - 1);
	assert_int_equal(fflush(f), 0);
	for (size_t i = 0; i < ARRAY_SIZE(inject_cases); i++) {
		const struct inject_case *c = &inject_cases[i];
		struct imap_session *s;
		size_t sent;
		int r = 0;

		case_name = c->name;
		s = connected(steps);
		sent = strlen(fx.trace);
		switch (c->call) {
		case CALL_COMMAND:
			r = imap_command(s, c->a, NULL, NULL);
			break;
		case CALL_FETCH:
			r = imap_uid_fetch(s, c->a, c->b, c->c);
			break;
		case CALL_STORE:
			r = imap_uid_store(s, 5, c->a, c->b);
			break;
		case CALL_APPEND:
			r = imap_append(s, c->a, c->b, 0, fileno(f), sizeof(msg) - 1, &uv, &uid);
			break;
		}
		CHECK_INT(r, -EINVAL);
		CHECK_INT(imap_fail_class(s), IMAP_FAIL_ARG);
		CHECK(strstr(imap_error(s), "command not sent") != NULL);
		CHECK(strstr(imap_error(s), c->why) != NULL);
		CHECK(strstr(imap_error(s), "Victim") == NULL);   /* not echoed */
		CHECK(!imap_broken(s));
		CHECK_INT(strlen(fx.trace), sent);                /* not one byte */
		/* the session goes on */
		CHECK_INT(imap_noop(s), 0);
		finish();
	}
	fclose(f);
}

/* A name with CR LF is still sent, as a literal (RFC 3501 §4.3). */
static void test_literal_names_still_go(void **state)
{
	static const struct step steps[] = {
		LOGIN,
		EXPECT("TAG CREATE {4}"),
		SEND("+ go ahead\r\n"),
		EXPECT("a"),
		EXPECT("b"),
		SEND("TAG OK created\r\n"),
		END,
	};
	struct imap_session *s = connected(steps);

	(void)state;
	assert_int_equal(imap_create(s, "a\r\nb"), 0);
	finish();
}

/* ---- issue 14: UID SEARCH from a parsed query ------------------------------ */

#define LOGIN_CAPS(caps) \
	SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n"), \
	EXPECT("TAG AUTHENTICATE PLAIN AGFsaWNlAHB3"), \
	SEND("TAG OK [CAPABILITY IMAP4rev1 " caps "] Logged in\r\n")

static struct { uint64_t uids, calls; } found;

static void on_found(void *ctx, uint32_t lo, uint32_t hi)
{
	(void)ctx;
	if (found.calls++ < 8)
		note("%u:%u ", lo, hi);
	found.uids += (uint64_t)hi - lo + 1;
}

/* Leaving a selected mailbox (issue 15): UNSELECT where offered; else
 * EXAMINE and CLOSE (a CLOSE of a read-write selection would expunge);
 * RENAME leaves first. Each session fed whole and byte by byte. */
static void test_leave(void **state)
{
	static const struct step with_unselect[] = {
		LOGIN_CAPS("UNSELECT"),
		EXPECT("TAG SELECT \"Box\""),
		SEND("* 2 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\nTAG OK [READ-WRITE] ok\r\n"),
		EXPECT("TAG UNSELECT"),
		SEND("TAG OK done\r\n"),
		EXPECT("TAG RENAME \"Box\" \"Box2\""),
		SEND("TAG OK done\r\n"),
		END,
	};
	static const struct step without[] = {
		LOGIN_CAPS("IDLE"),
		EXPECT("TAG SELECT \"Box\""),
		SEND("* 2 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\nTAG OK [READ-WRITE] ok\r\n"),
		EXPECT("TAG EXAMINE \"Box\""),
		SEND("* 3 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\nTAG OK [READ-ONLY] ok\r\n"),
		EXPECT("TAG CLOSE"),
		SEND("TAG OK done\r\n"),
		EXPECT("TAG RENAME \"Box\" \"Box2\""),
		SEND("TAG OK done\r\n"),
		END,
	};
	const struct step *cases[] = { with_unselect, without };

	(void)state;
	for (size_t i = 0; i < 2 * ARRAY_SIZE(cases); i++) {
		struct imap_session *s = open_with(cases[i / 2], params(), i % 2);
		struct imap_mailbox mb;

		case_name = i / 2 ? "leave without UNSELECT" : "leave with UNSELECT";
		CHECK_INT(imap_connect(s), 0);
		CHECK_INT(imap_select(s, "Box", 0, 0, 0, 0, &events, NULL, &mb), 0);
		fx.log[0] = '\0';
		CHECK_INT(imap_rename(s, "Box", "Box2"), 0);
		CHECK(imap_selected(s) == NULL);
		/* the EXAMINE's EXISTS is not taken for news of the folder */
		CHECK_STR(fx.log, "");
		CHECK(!imap_broken(s));
		finish();
	}
}

/* Parse IN and run it on S; the result, with fx.log holding the ranges. */
static int search(struct imap_session *s, const char *in)
{
	struct sq_node *q;
	char err[128];
	int r;

	if (sq_parse(in, &q, err, sizeof(err)) != 0)
		fail_msg("%s: \"%s\" refused: %s", case_name, in, err);
	fx.log[0] = '\0';
	memset(&found, 0, sizeof(found));
	r = imap_uid_search(s, q, on_found, NULL);
	sq_free(q);
	return r;
}

struct search_case {
	const char *name, *query;
	struct step steps[16];
	const char *ranges;             /* what on_found saw */
};

#define MUELLER "m\xc3\xbcller"     /* 7 bytes */

static const struct search_case search_cases[] = {
	{ "non-ASCII without ESEARCH or LITERAL+: SEARCH, a synchronising literal",
	  "FROM " MUELLER " SUBJECT \"q r\"", {
		LOGIN_CAPS("IDLE"),
		EXPECT("TAG UID SEARCH CHARSET UTF-8 FROM {7}"),
		SEND("+ go ahead\r\n"),
		EXPECT(MUELLER " SUBJECT \"q r\""),
		SEND("* SEARCH 3 5 9\r\nTAG OK done\r\n"),
		END }, "3:3 5:5 9:9 " },
	{ "non-ASCII with ESEARCH and LITERAL+: RETURN (ALL) before CHARSET",
	  "FROM " MUELLER " SUBJECT \"q r\"", {
		LOGIN_CAPS("ESEARCH LITERAL+"),
		EXPECT("TAG UID SEARCH RETURN (ALL) CHARSET UTF-8 FROM {7+}"),
		EXPECT(MUELLER " SUBJECT \"q r\""),
		SEND("* ESEARCH (TAG \"x\") UID ALL 3,5:7,9\r\nTAG OK done\r\n"),
		END }, "3:3 5:7 9:9 " },
	{ "ESEARCH with nothing found", "UNSEEN LARGER 1000", {
		LOGIN_CAPS("ESEARCH"),
		EXPECT("TAG UID SEARCH RETURN (ALL) UNSEEN LARGER 1000"),
		SEND("* ESEARCH (TAG \"x\") UID\r\nTAG OK done\r\n"),
		END }, "" },
	{ "SEARCH with nothing found", "unseen", {
		LOGIN_CAPS("IDLE"),
		EXPECT("TAG UID SEARCH UNSEEN"),
		SEND("* SEARCH\r\nTAG OK done\r\n"),
		END }, "" },
	{ "every kind of key, written by the code",
	  "or (from a to \"b\\\"c\") not since 01-jan-2024 header x-a \"\" uid 1:5,7:7,* "
	  "keyword $x sentbefore \"2-Feb-2020\" smaller 007 text a\xe2\x88\x95" "b", {
		LOGIN_CAPS("IDLE"),
		EXPECT("TAG UID SEARCH OR (FROM \"a\" TO \"b\\\"c\") NOT SINCE 1-Jan-2024 "
		       "HEADER \"x-a\" \"\" UID 1:5,7,* KEYWORD $x SENTBEFORE 2-Feb-2020 "
		       "SMALLER 7 TEXT \"a/b\""),
		SEND("* SEARCH 1\r\nTAG OK done\r\n"),
		END }, "1:1 " },
	{ "X-GM-RAW where X-GM-EXT-1 is offered", "X-GM-RAW \"has:attachment\"", {
		LOGIN_CAPS("X-GM-EXT-1"),
		EXPECT("TAG UID SEARCH X-GM-RAW \"has:attachment\""),
		SEND("* SEARCH 4\r\nTAG OK done\r\n"),
		END }, "4:4 " },
	{ "ten literals (more than the old limit of eight segments)",
	  "TEXT \xc3\xa9 TEXT \xc3\xa9 TEXT \xc3\xa9 TEXT \xc3\xa9 TEXT \xc3\xa9 "
	  "TEXT \xc3\xa9 TEXT \xc3\xa9 TEXT \xc3\xa9 TEXT \xc3\xa9 TEXT \xc3\xa9", {
		LOGIN_CAPS("LITERAL+"),
		EXPECT("TAG UID SEARCH CHARSET UTF-8 TEXT {2+}"),
		EXPECT("\xc3\xa9 TEXT {2+}"), EXPECT("\xc3\xa9 TEXT {2+}"),
		EXPECT("\xc3\xa9 TEXT {2+}"), EXPECT("\xc3\xa9 TEXT {2+}"),
		EXPECT("\xc3\xa9 TEXT {2+}"), EXPECT("\xc3\xa9 TEXT {2+}"),
		EXPECT("\xc3\xa9 TEXT {2+}"), EXPECT("\xc3\xa9 TEXT {2+}"),
		EXPECT("\xc3\xa9 TEXT {2+}"),
		EXPECT("\xc3\xa9"),
		SEND("TAG OK done\r\n"),
		END }, "" },
	{ "NO from the server", "FROM a", {
		LOGIN_CAPS("IDLE"),
		EXPECT("TAG UID SEARCH FROM \"a\""),
		SEND("TAG NO [BADCHARSET (US-ASCII)] no\r\n"),
		END }, "" },
};

static void test_uid_search(void **state)
{
	(void)state;
	for (size_t i = 0; i < 2 * ARRAY_SIZE(search_cases); i++) {
		const struct search_case *c = &search_cases[i / 2];
		struct imap_session *s = open_with(c->steps, params(), i % 2);
		int want = strstr(c->name, "NO from") ? -EIO : 0;

		case_name = c->name;
		CHECK_INT(imap_connect(s), 0);
		CHECK_INT(search(s, c->query), want);
		CHECK_STR(fx.log, c->ranges);
		CHECK(!imap_broken(s));
		finish();
	}
}

/* X-GM-RAW without X-GM-EXT-1, and a hand-made tree with a CR LF in a
 * keyword: refused, not one byte sent, the session goes on. */
static void test_uid_search_refused(void **state)
{
	static const struct step steps[] = {
		LOGIN_CAPS("ESEARCH"),
		EXPECT("TAG NOOP"),
		SEND("TAG OK done\r\n"),
		END,
	};
	struct sq_node kw = { .kind = SQ_KEYWORD, .str = (char *)"x\r\nX1 DELETE Victim" };
	struct sq_node uid = { .kind = SQ_UID };
	const struct sq_node *hand[] = { &kw, &uid };

	(void)state;
	case_name = "X-GM-RAW without X-GM-EXT-1";
	struct imap_session *s = connected(steps);
	size_t sent = strlen(fx.trace);
	CHECK_INT(search(s, "FROM a X-GM-RAW \"in:sent\""), -EINVAL);
	CHECK_INT(imap_fail_class(s), IMAP_FAIL_ARG);
	CHECK(strstr(imap_error(s), "X-GM-EXT-1") != NULL);
	CHECK_INT(strlen(fx.trace), sent);
	for (size_t i = 0; i < ARRAY_SIZE(hand); i++) {
		case_name = "a hand-made tree";
		CHECK_INT(imap_uid_search(s, hand[i], on_found, NULL), -EINVAL);
		CHECK_INT(imap_fail_class(s), IMAP_FAIL_ARG);
		CHECK(strstr(imap_error(s), "Victim") == NULL);
		CHECK_INT(strlen(fx.trace), sent);
	}
	CHECK(!imap_broken(s));
	CHECK_INT(imap_noop(s), 0);
	finish();
}

/* Large answers: 20,000 UIDs from SEARCH, and an ESEARCH ALL set of 20,000
 * ranges. */
static void test_uid_search_large(void **state)
{
	struct sb plain = { 0 }, es = { 0 };
	char num[32];

	(void)state;
	sb_addn(&plain, "* SEARCH", 8);
	sb_addn(&es, "* ESEARCH (TAG \"x\") UID ALL ", 28);
	for (uint32_t u = 1; u <= 20000; u++) {
		int n = snprintf(num, sizeof(num), " %u", 2 * u + 1000000);
		sb_addn(&plain, num, (size_t)n);
		n = snprintf(num, sizeof(num), "%s%u", u > 1 ? "," : "", 2 * u + 1000000);
		sb_addn(&es, num, (size_t)n);
	}
	sb_addn(&plain, "\r\n", 2);
	sb_addn(&es, "\r\n", 2);
	for (int esearch = 0; esearch < 2; esearch++) {
		const struct step steps[] = {
			LOGIN_CAPS("ESEARCH"),
			EXPECT("TAG UID SEARCH RETURN (ALL) ALL"),
			SEND_RAW(esearch ? es.s : plain.s, esearch ? es.len : plain.len),
			SEND("TAG OK done\r\n"),
			END,
		};
		struct imap_session *s = connected(steps);

		case_name = esearch ? "a large ESEARCH ALL" : "a large SEARCH";
		CHECK_INT(search(s, "ALL"), 0);
		CHECK_INT(found.uids, 20000);
		CHECK_INT(found.calls, 20000);
		CHECK(strncmp(fx.log, "1000002:1000002 1000004:1000004 ", 32) == 0);
		finish();
	}
	free(plain.s);
	free(es.s);
}

/* ---- the trace ----------------------------------------------------------- */

static void test_trace_hides_secret(void **state)
{
	static const struct step plain[] = {
		SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n"),
		EXPECT("TAG AUTHENTICATE PLAIN AGFsaWNlAHMzY3IzdA=="),
		SEND("TAG OK [CAPABILITY IMAP4rev1] Logged in\r\n"),
		END,
	};
	static const struct step literal[] = {
		SEND("* OK [CAPABILITY IMAP4rev1] ready\r\n"),
		EXPECT("TAG LOGIN \"alice\" {7}"),
		SEND("+ go ahead\r\n"),
		EXPECT("s3cr3t\xff"),
		SEND("TAG OK [CAPABILITY IMAP4rev1] Logged in\r\n"),
		END,
	};
	struct imap_params p = params();

	(void)state;
	p.secret = "s3cr3t";
	open_with(plain, p, 0);
	assert_int_equal(imap_connect(fx.s), 0);
	finish();   /* fails if the trace shows the secret or its base64 */
	assert_non_null(strstr(fx.trace, "AUTHENTICATE PLAIN"));
	assert_non_null(strstr(fx.trace, "<credentials hidden>"));
	assert_null(strstr(fx.trace, "AGFsaWNlAHMzY3IzdA=="));

	p.secret = "s3cr3t\xff";
	open_with(literal, p, 0);
	assert_int_equal(imap_connect(fx.s), 0);
	finish();
	assert_non_null(strstr(fx.trace, "{7}"));
	assert_non_null(strstr(fx.trace, "<credentials hidden>"));
	assert_null(strstr(fx.trace, "s3cr3t"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_connect, cleanup),
		cmocka_unit_test_teardown(test_caps_text_and_logout, cleanup),
		cmocka_unit_test_teardown(test_login_fallback, cleanup),
		cmocka_unit_test_teardown(test_auth_refused, cleanup),
		cmocka_unit_test_teardown(test_oauthbearer, cleanup),
		cmocka_unit_test_teardown(test_greeting_and_tls, cleanup),
		cmocka_unit_test_teardown(test_starttls_forgets, cleanup),
		cmocka_unit_test_teardown(test_starttls_cut, cleanup),
		cmocka_unit_test_teardown(test_list, cleanup),
		cmocka_unit_test_teardown(test_list_status, cleanup),
		cmocka_unit_test_teardown(test_list_status_extended, cleanup),
		cmocka_unit_test_teardown(test_list_status_unselect, cleanup),
		cmocka_unit_test_teardown(test_list_status_alone, cleanup),
		cmocka_unit_test_teardown(test_list_status_hostile, cleanup),
		cmocka_unit_test_teardown(test_notify, cleanup),
		cmocka_unit_test_teardown(test_select, cleanup),
		cmocka_unit_test_teardown(test_leave, cleanup),
		cmocka_unit_test_teardown(test_select_qresync, cleanup),
		cmocka_unit_test_teardown(test_fetch_metadata, cleanup),
		cmocka_unit_test_teardown(test_fetch_body_stream, cleanup),
		cmocka_unit_test_teardown(test_fetch_body_drop, cleanup),
		cmocka_unit_test_teardown(test_fetch_views, cleanup),
		cmocka_unit_test_teardown(test_fetch_body_rejected, cleanup),
		cmocka_unit_test_teardown(test_untagged_events, cleanup),
		cmocka_unit_test_teardown(test_vanished_count, cleanup),
		cmocka_unit_test_teardown(test_hostile, cleanup),
		cmocka_unit_test_teardown(test_response_budget, cleanup),
		cmocka_unit_test_teardown(test_timeouts, cleanup),
		cmocka_unit_test_teardown(test_abort, cleanup),
		cmocka_unit_test_teardown(test_idle, cleanup),
		cmocka_unit_test(test_parse_uidset),
		cmocka_unit_test(test_flags),
		cmocka_unit_test_teardown(test_command_injection, cleanup),
		cmocka_unit_test_teardown(test_literal_names_still_go, cleanup),
		cmocka_unit_test_teardown(test_trace_hides_secret, cleanup),
		cmocka_unit_test_teardown(test_uid_search, cleanup),
		cmocka_unit_test_teardown(test_uid_search_refused, cleanup),
		cmocka_unit_test_teardown(test_uid_search_large, cleanup),
	};

	/* As fs/main.c does: OpenSSL's socket BIO writes without
	 * MSG_NOSIGNAL, and peers here hang up mid-handshake. */
	signal(SIGPIPE, SIG_IGN);
	peer_tls_setup();   /* before any peer thread needs it */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
