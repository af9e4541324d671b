/* test_pop3_send.c - the POP3 command builder (send_cmd() in net/pop3.c)
 * refuses a CR or LF in any command it would send (SPEC §5, issue 11).
 *
 * No public call of pop3.h passes a caller's text to the wire after the
 * login (USER and PASS are checked before, see test_pop3.c), so this test
 * includes net/pop3.c itself, as tests/fuzz/fuzz_fetch.c does with imap.c,
 * and drives the static command functions against the scripted peer: the
 * command is refused, nothing reaches the server, and the session goes on.
 */
/* First: pop3.c's enum reply has an R_OK, which <unistd.h> (peer.h) would
 * turn into access(2)'s macro. */
#include "net/pop3.c"

#include "tests/unit/peer.h"

#include <errno.h>
#include <signal.h>

static struct {
	struct peer pe;
	struct pop3_session *s;
} fx;

static int cleanup(void **state)
{
	(void)state;
	pop3_session_free(fx.s);
	fx.s = NULL;
	peer_stop(&fx.pe);
	if (state && fx.pe.err[0])
		print_error("peer: %s\n", fx.pe.err);
	return 0;
}

static void test_crlf_refused(void **state)
{
	static const struct { const char *name; const char *cmd, *arg; } cases[] = {
		{ "an argument with CR LF", "NOOP", "x\r\nDELE 1" },
		{ "an argument with LF", "NOOP", "x\nDELE 1" },
		{ "an argument ending in CR", "NOOP", "x\r" },
		{ "a command with CR LF", "NOOP\r\nDELE 1", NULL },
	};
	static const struct step steps[] = {
		SEND("+OK ready\r\n"),
		EXPECT("CAPA"),
		SEND("+OK\r\nUSER\r\n.\r\n"),
		EXPECT("USER alice"),
		SEND("+OK\r\n"),
		EXPECT("PASS pw"),
		SEND("+OK\r\n"),
		/* only the NOOPs after the refusals */
		EXPECT("NOOP"), SEND("+OK\r\n"),
		EXPECT("NOOP"), SEND("+OK\r\n"),
		EXPECT("NOOP"), SEND("+OK\r\n"),
		EXPECT("NOOP"), SEND("+OK\r\n"),
		EXPECT("NOOP"), SEND("+OK\r\n"),
		END,
	};
	struct pop3_params p = {
		.conn = { .host = "pop.test", .port = 110, .timeout_ms = 5000 },
		.user = "alice", .secret = "pw",
	};

	(void)state;
	memset(&fx, 0, sizeof(fx));
	p.conn.have_fd = 1;
	p.conn.fd = peer_start(&fx.pe, steps, 0);
	fx.s = pop3_session_new(&p);
	assert_non_null(fx.s);
	assert_int_equal(pop3_connect(fx.s), 0);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		case_name = cases[i].name;
		CHECK_INT(send_cmd(fx.s, cases[i].cmd, cases[i].arg, 0), -EINVAL);
		CHECK_INT(pop3_fail_class(fx.s), POP3_FAIL_ARG);
		CHECK(strstr(pop3_error(fx.s), "command not sent") != NULL);
		CHECK(strstr(pop3_error(fx.s), "DELE") == NULL);
		CHECK(!pop3_broken(fx.s));
		CHECK_INT(pop3_noop(fx.s), 0);
	}
	/* A whole command through simple(): refused, and the session is back
	 * in the transaction state. */
	case_name = "simple() with an argument with CR LF";
	CHECK_INT(simple(fx.s, POP3_S_DELE, "1\r\nQUIT"), -EINVAL);
	CHECK_INT(pop3_fail_class(fx.s), POP3_FAIL_ARG);
	CHECK(!pop3_broken(fx.s));
	CHECK_INT(pop3_noop(fx.s), 0);
	pop3_session_free(fx.s);
	fx.s = NULL;
	peer_stop(&fx.pe);
	if (fx.pe.err[0])
		fail_msg("peer: %s", fx.pe.err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_crlf_refused, cleanup),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
