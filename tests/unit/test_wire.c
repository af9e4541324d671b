/* test_wire.c - the IMAP response tokenizer.
 *
 * Every table case is tokenized six ways: fed whole, one byte at a time and
 * in random chunks (fixed seed), each with literals streamed and with
 * literals accumulated. The token stream is rendered to one string that must
 * equal the expected one every time:
 *
 *   A(atom) S(string) L(size:data) L8(size:data) ( ) [ ] T(text) EOL BAD
 *
 * Bytes below 0x20 or above 0x7e are rendered as \xNN. The renderer acts as
 * an IMAP client would: it calls wire_expect_text() after "+" at the start
 * of a line and after a status word (OK NO BAD BYE PREAUTH) in second place.
 */
#include "tests/unit/testutil.h"

#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "net/wire.h"

#define IN(s) s, sizeof(s) - 1

static const struct wire_limits small_limits = {
	.max_line = 64,
	.max_literal = 16,
	.max_literal_stream = 1024,
	.max_depth = 4,
	.max_response = 1024,
};

static const struct wire_limits huge_stream_limits = {
	.max_line = 1024,
	.max_literal = 16,
	.max_literal_stream = SIZE_MAX,
	.max_depth = 8,
	.max_response = 4096,
};

/* A response may hold 64 bytes: its line and its accumulated literals. */
static const struct wire_limits budget_limits = {
	.max_line = 64,
	.max_literal = 16,
	.max_literal_stream = 1024,
	.max_depth = 4,
	.max_response = 64,
};

/* --- a growing string --------------------------------------------------- */

static void sb_add(struct sb *b, const char *s)
{
	if (b->len)
		sb_addn(b, " ", 1);
	sb_addn(b, s, strlen(s));
}

static void sb_add_bytes(struct sb *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		char hex[8];

		if (c >= 0x20 && c < 0x7f) {
			sb_addn(b, (const char *)&c, 1);
		} else {
			snprintf(hex, sizeof(hex), "\\x%02x", c);
			sb_addn(b, hex, 4);
		}
	}
}

/* --- the renderer ------------------------------------------------------- */

struct render {
	struct sb out;
	bool accumulate;
	unsigned line_tok;  /* tokens so far on this line */
	bool in_lit;        /* between LITERAL_BEGIN and the literal's end */
	uint64_t lit_size;
	int lit_binary;
	struct sb lit;      /* streamed chunks so far */
};

static void render_data(struct render *r, const char *tag, const char *data,
                        size_t len)
{
	sb_add(&r->out, tag);
	sb_addn(&r->out, "(", 1);
	sb_add_bytes(&r->out, data, len);
	sb_addn(&r->out, ")", 1);
}

static void render_literal(struct render *r, const char *data, size_t len)
{
	char head[48];

	snprintf(head, sizeof(head), "%s(%llu:", r->lit_binary ? "L8" : "L",
	         (unsigned long long)r->lit_size);
	sb_add(&r->out, head);
	sb_add_bytes(&r->out, data, len);
	sb_addn(&r->out, ")", 1);
	r->in_lit = false;
}

static bool is_status(const char *s)
{
	static const char *const words[] = { "OK", "NO", "BAD", "BYE", "PREAUTH" };

	for (size_t i = 0; i < ARRAY_SIZE(words); i++)
		if (!strcasecmp(s, words[i]))
			return true;
	return false;
}

/* next: the input right after what wire_next() consumed */
static void render_token(struct wire_parser *p, struct render *r,
                         const struct wire_token *t, const char *next)
{
	if (r->in_lit && r->accumulate) {
		assert_int_equal(t->type, WIRE_STRING);
		assert_int_equal(t->len, r->lit_size);
		assert_int_equal(t->data[t->len], '\0');
		render_literal(r, t->data, t->len);
		return;
	}
	if (r->in_lit) {
		assert_int_equal(t->type, WIRE_LITERAL_DATA);
		assert_true(t->len > 0);
		/* zero-copy: the chunk is exactly the input just consumed */
		assert_ptr_equal(t->data + t->len, next);
		sb_addn(&r->lit, t->data, t->len);
		assert_true(r->lit.len <= r->lit_size);
		if (r->lit.len == r->lit_size)
			render_literal(r, r->lit.s, r->lit.len);
		return;
	}

	switch (t->type) {
	case WIRE_ATOM:
	case WIRE_STRING:
	case WIRE_TEXT:
		assert_non_null(t->data);
		assert_int_equal(t->data[t->len], '\0');
		if (t->type != WIRE_STRING)
			assert_int_equal(strlen(t->data), t->len);
		render_data(r, t->type == WIRE_ATOM ? "A" :
		            t->type == WIRE_STRING ? "S" : "T", t->data, t->len);
		break;
	case WIRE_LITERAL_BEGIN:
		r->lit_size = t->size;
		r->lit_binary = t->binary;
		r->lit.len = 0;
		r->in_lit = true;
		if (r->accumulate) {
			/* refused (a limit): the next call says BAD */
			int e = wire_literal_accumulate(p);

			assert_true(e == 0 || e == -EMSGSIZE);
		}
		else if (t->size == 0)
			render_literal(r, "", 0);
		break;
	case WIRE_LITERAL_DATA:
		fail_msg("literal data outside a literal");
		break;
	case WIRE_LPAREN:
		sb_add(&r->out, "(");
		break;
	case WIRE_RPAREN:
		sb_add(&r->out, ")");
		break;
	case WIRE_LBRACKET:
		sb_add(&r->out, "[");
		break;
	case WIRE_RBRACKET:
		sb_add(&r->out, "]");
		break;
	case WIRE_EOL:
		assert_int_equal(wire_depth(p), 0);
		sb_add(&r->out, "EOL");
		r->line_tok = 0;
		return;
	}
	if (t->type == WIRE_ATOM && wire_depth(p) == 0 &&
	    ((r->line_tok == 0 && !strcmp(t->data, "+")) ||
	     (r->line_tok == 1 && is_status(t->data))))
		wire_expect_text(p);
	r->line_tok++;
}

/* --- feeding ------------------------------------------------------------ */

enum feed { FEED_WHOLE, FEED_BYTES, FEED_RANDOM };
static const char *const feed_names[] = { "whole", "bytes", "random chunks" };

static uint32_t rng;

static size_t next_chunk(enum feed feed, size_t left)
{
	size_t n = left;

	if (feed == FEED_BYTES) {
		n = 1;
	} else if (feed == FEED_RANDOM) {
		rng ^= rng << 13;
		rng ^= rng >> 17;
		rng ^= rng << 5;
		n = 1 + rng % 13;
	}
	return n < left ? n : left;
}

/* After WIRE_BAD: every call stays bad, and a reset makes it work again. */
static void check_bad_is_sticky(struct wire_parser *p, const char *rest,
                                size_t rest_len)
{
	static const char good[] = "* 1 EXISTS\r\n";
	struct wire_token t;
	const char *in = rest;
	size_t len = rest_len;
	struct render r = { .line_tok = 0 };

	assert_non_null(wire_error(p));
	assert_string_not_equal(wire_error(p), "no error");
	assert_int_equal(wire_next(p, &in, &len, &t), WIRE_BAD);
	len = 0;
	assert_int_equal(wire_next(p, &in, &len, &t), WIRE_BAD);
	in = good;
	len = sizeof(good) - 1;
	assert_int_equal(wire_next(p, &in, &len, &t), WIRE_BAD);
	assert_int_equal(len, sizeof(good) - 1);
	assert_int_not_equal(wire_literal_accumulate(p), 0);

	wire_parser_reset(p);
	assert_int_equal(wire_depth(p), 0);
	while (wire_next(p, &in, &len, &t) == WIRE_OK)
		render_token(p, &r, &t, in);
	assert_int_equal(len, 0);
	assert_string_equal(r.out.s, "A(*) A(1) A(EXISTS) EOL");
	free(r.out.s);
	free(r.lit.s);
}

static char *tokenize(const char *in, size_t len, const struct wire_limits *lim,
                      enum feed feed, bool accumulate)
{
	struct wire_parser *p = wire_parser_new(lim);
	struct render r = { .accumulate = accumulate };
	struct wire_token t;
	size_t pos = 0;

	assert_non_null(p);
	rng = 0x2545f491;
	while (pos < len) {
		size_t chunk = next_chunk(feed, len - pos);
		const char *cur = in + pos;
		size_t avail = chunk;
		enum wire_result res;

		while ((res = wire_next(p, &cur, &avail, &t)) == WIRE_OK)
			render_token(p, &r, &t, cur);
		if (res == WIRE_BAD) {
			sb_add(&r.out, "BAD");
			check_bad_is_sticky(p, cur, avail);
			goto out;
		}
		assert_int_equal(res, WIRE_MORE);
		assert_int_equal(avail, 0);
		assert_ptr_equal(cur, in + pos + chunk);
		pos += chunk;
	}
	/* all input was consumed: nothing more can come out without input */
	{
		const char *cur = in + len;
		size_t avail = 0;

		assert_int_equal(wire_next(p, &cur, &avail, &t), WIRE_MORE);
	}
out:
	wire_parser_free(p);
	free(r.lit.s);
	if (!r.out.s)
		sb_addn(&r.out, "", 0);
	return r.out.s;
}

struct wire_case {
	const char *name;
	const char *in;
	size_t len;
	const char *want;
	const struct wire_limits *lim;  /* NULL: the defaults */
};

/* WANT_ACC: the tokens with literals accumulated, where that differs
 * from c->want (a limit only accumulated literals count against); NULL:
 * the same. */
static void check_case_acc(const struct wire_case *c, const char *want_acc)
{
	for (int feed = FEED_WHOLE; feed <= FEED_RANDOM; feed++) {
		for (int acc = 0; acc <= 1; acc++) {
			char *got = tokenize(c->in, c->len, c->lim, feed, acc);
			const char *want = acc && want_acc ? want_acc : c->want;

			if (strcmp(got, want)) {
				print_error("%s (%s, %s):\n  got:  %s\n  want: %s\n",
				            c->name, feed_names[feed],
				            acc ? "accumulated" : "streamed",
				            got, want);
				free(got);
				fail();
			}
			free(got);
		}
	}
}

static void check_case(const struct wire_case *c)
{
	check_case_acc(c, NULL);
}

static void check_cases(const struct wire_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++)
		check_case(&cases[i]);
}

/* Bytes the C library's heap holds now (0 where that is unknown, e.g. under
 * AddressSanitizer, which makes the checks below vacuous there). */
static size_t heap_in_use(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
#else
	return 0;
#endif
}

/* Feeds in chunks of chunk bytes until BAD; returns how much the heap grew. */
static size_t feed_until_bad(struct wire_parser *p, const char *in, size_t len,
                             size_t chunk, bool accumulate)
{
	size_t before = heap_in_use(), after;
	struct wire_token t;
	enum wire_result res = WIRE_MORE;

	for (size_t pos = 0; pos < len && res != WIRE_BAD; pos += chunk) {
		const char *cur = in + pos;
		size_t avail = chunk < len - pos ? chunk : len - pos;

		/* a refused accumulate() makes the next call BAD */
		while ((res = wire_next(p, &cur, &avail, &t)) == WIRE_OK)
			if (t.type == WIRE_LITERAL_BEGIN && accumulate)
				(void)wire_literal_accumulate(p);
	}
	after = heap_in_use();
	assert_int_equal(res, WIRE_BAD);
	return after > before ? after - before : 0;
}

/* --- well-formed responses --------------------------------------------- */

static void test_status_responses(void **state)
{
	static const struct wire_case cases[] = {
		{ "greeting", IN("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN] Dovecot ready.\r\n"),
		  "A(*) A(OK) [ A(CAPABILITY) A(IMAP4rev1) A(SASL-IR) A(LOGIN-REFERRALS) A(ID) A(ENABLE) A(IDLE) A(LITERAL+) A(AUTH=PLAIN) ] T(Dovecot ready.) EOL", NULL },
		{ "preauth", IN("* PREAUTH [CAPABILITY IMAP4rev2] Logged in as smith\r\n"),
		  "A(*) A(PREAUTH) [ A(CAPABILITY) A(IMAP4rev2) ] T(Logged in as smith) EOL", NULL },
		{ "tagged OK", IN("A1 OK [READ-WRITE] SELECT completed\r\n"),
		  "A(A1) A(OK) [ A(READ-WRITE) ] T(SELECT completed) EOL", NULL },
		{ "tagged NO", IN("A2 NO [TRYCREATE] Mailbox doesn't exist: Foo\r\n"),
		  "A(A2) A(NO) [ A(TRYCREATE) ] T(Mailbox doesn't exist: Foo) EOL", NULL },
		{ "tagged BAD without code", IN("A3 BAD Error in IMAP command: Unknown command\r\n"),
		  "A(A3) A(BAD) T(Error in IMAP command: Unknown command) EOL", NULL },
		{ "UIDVALIDITY", IN("* OK [UIDVALIDITY 3857529045] UIDs valid\r\n"),
		  "A(*) A(OK) [ A(UIDVALIDITY) A(3857529045) ] T(UIDs valid) EOL", NULL },
		{ "PERMANENTFLAGS", IN("* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n"),
		  "A(*) A(OK) [ A(PERMANENTFLAGS) ( A(\\Deleted) A(\\Seen) A(\\*) ) ] T(Limited) EOL", NULL },
		{ "empty PERMANENTFLAGS", IN("* OK [PERMANENTFLAGS ()] No permanent flags\r\n"),
		  "A(*) A(OK) [ A(PERMANENTFLAGS) ( ) ] T(No permanent flags) EOL", NULL },
		{ "COPYUID", IN("A4 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n"),
		  "A(A4) A(OK) [ A(COPYUID) A(38505) A(304,319:320) A(3956:3958) ] T(Done) EOL", NULL },
		{ "BADCHARSET", IN("A5 NO [BADCHARSET (UTF-8 \"US-ASCII\")] charset\r\n"),
		  "A(A5) A(NO) [ A(BADCHARSET) ( A(UTF-8) S(US-ASCII) ) ] T(charset) EOL", NULL },
		{ "code without text", IN("* OK [ALERT]\r\n"),
		  "A(*) A(OK) [ A(ALERT) ] T() EOL", NULL },
		{ "code, SP, no text", IN("* OK [ALERT] \r\n"),
		  "A(*) A(OK) [ A(ALERT) ] T() EOL", NULL },
		{ "code without SP before text", IN("* OK [ALERT]text\r\n"),
		  "A(*) A(OK) [ A(ALERT) ] T(text) EOL", NULL },
		{ "unbalanced text after a code", IN("* NO [ALERT] \"(] oops [x {5}\r\n"),
		  "A(*) A(NO) [ A(ALERT) ] T(\"(] oops [x {5}) EOL", NULL },
		{ "brackets later in the text", IN("* OK The Microsoft Exchange IMAP4 service is ready. [TQBOADIA=]\r\n"),
		  "A(*) A(OK) T(The Microsoft Exchange IMAP4 service is ready. [TQBOADIA=]) EOL", NULL },
		{ "text keeps tabs and 8-bit", IN("* NO Zugriff verweigert:\tgr\xc3\xbc\xc3\x9f\r\n"),
		  "A(*) A(NO) T(Zugriff verweigert:\\x09gr\\xc3\\xbc\\xc3\\x9f) EOL", NULL },
		{ "BYE without text", IN("* BYE\r\n"), "A(*) A(BYE) T() EOL", NULL },
		{ "logout", IN("* BYE Logging out\r\nA9 OK Logout completed.\r\n"),
		  "A(*) A(BYE) T(Logging out) EOL A(A9) A(OK) T(Logout completed.) EOL", NULL },
		{ "lower-case status", IN("a1 ok done\r\n"), "A(a1) A(ok) T(done) EOL", NULL },
	};

	(void)state;
	check_cases(cases, ARRAY_SIZE(cases));
}

static void test_continuations(void **state)
{
	static const struct wire_case cases[] = {
		{ "idling", IN("+ idling\r\n"), "A(+) T(idling) EOL", NULL },
		{ "base64 challenge", IN("+ YGgGCSqGSIb3EgECAgIBAAD/////6jcyG4GE3KkTzQ==\r\n"),
		  "A(+) T(YGgGCSqGSIb3EgECAgIBAAD/////6jcyG4GE3KkTzQ==) EOL", NULL },
		{ "bare +", IN("+\r\n"), "A(+) T() EOL", NULL },
		{ "+ SP", IN("+ \r\n"), "A(+) T() EOL", NULL },
		{ "+ with code", IN("+ [ALERT] go ahead\r\n"), "A(+) [ A(ALERT) ] T(go ahead) EOL", NULL },
		{ "IDLE exchange", IN("+ idling\r\n* 4 EXISTS\r\n* 1 RECENT\r\nA7 OK Idle completed.\r\n"),
		  "A(+) T(idling) EOL A(*) A(4) A(EXISTS) EOL A(*) A(1) A(RECENT) EOL A(A7) A(OK) T(Idle completed.) EOL", NULL },
	};

	(void)state;
	check_cases(cases, ARRAY_SIZE(cases));
}

#define FETCH_LIT "Subject: hi\r\nMessage-ID: <x>\r\n\r\n"

static void test_fetch(void **state)
{
	static const struct wire_case cases[] = {
		{ "FETCH with ENVELOPE and a literal",
		  IN("* 12 FETCH (UID 34 FLAGS (\\Seen \\Answered $Forwarded) RFC822.SIZE 4321 "
		     "INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" ENVELOPE (\"date\" \"subj\" "
		     "((\"n\" NIL \"a\" \"b\")) NIL NIL NIL NIL NIL NIL \"<id@x>\") "
		     "BODY[HEADER.FIELDS (SUBJECT MESSAGE-ID)] {32}\r\n" FETCH_LIT ")\r\n"),
		  "A(*) A(12) A(FETCH) ( A(UID) A(34) A(FLAGS) ( A(\\Seen) A(\\Answered) A($Forwarded) ) "
		  "A(RFC822.SIZE) A(4321) A(INTERNALDATE) S(17-Jul-1996 02:44:25 -0700) A(ENVELOPE) "
		  "( S(date) S(subj) ( ( S(n) A(NIL) S(a) S(b) ) ) A(NIL) A(NIL) A(NIL) A(NIL) A(NIL) A(NIL) S(<id@x>) ) "
		  "A(BODY[HEADER.FIELDS (SUBJECT MESSAGE-ID)]) "
		  "L(32:Subject: hi\\x0d\\x0aMessage-ID: <x>\\x0d\\x0a\\x0d\\x0a) ) EOL", NULL },
		{ "partial body", IN("* 2 FETCH (BODY[]<0> {5}\r\nhello UID 7)\r\n"),
		  "A(*) A(2) A(FETCH) ( A(BODY[]<0>) L(5:hello) A(UID) A(7) ) EOL", NULL },
		{ "two literals and a line after", IN("* 3 FETCH (BODY[1] {2}\r\nab BODY[2] {3}\r\n(c))\r\n* 4 EXISTS\r\n"),
		  "A(*) A(3) A(FETCH) ( A(BODY[1]) L(2:ab) A(BODY[2]) L(3:(c)) ) EOL A(*) A(4) A(EXISTS) EOL", NULL },
		{ "literal of size 0", IN("* 1 FETCH (BODY[] {0}\r\n)\r\n"),
		  "A(*) A(1) A(FETCH) ( A(BODY[]) L(0:) ) EOL", NULL },
		{ "literal8 with NUL", IN("* 1 FETCH (BINARY[1] ~{3}\r\na\0b)\r\n"),
		  "A(*) A(1) A(FETCH) ( A(BINARY[1]) L8(3:a\\x00b) ) EOL", NULL },
		{ "literal with CR LF NUL and 8-bit", IN("* 1 FETCH (BODY[] {6}\r\n\r\n\0\xff\r\n)\r\n"),
		  "A(*) A(1) A(FETCH) ( A(BODY[]) L(6:\\x0d\\x0a\\x00\\xff\\x0d\\x0a) ) EOL", NULL },
		{ "tilde atoms", IN("* 1 FETCH (X ~a ~ a~{1})\r\n"),
		  "A(*) A(1) A(FETCH) ( A(X) A(~a) A(~) A(a~{1}) ) EOL", NULL },
		{ "nested lists", IN("* 1 FETCH (BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)(\"text\" \"html\" NIL NIL NIL \"7bit\" 5 1) \"alternative\"))\r\n"),
		  "A(*) A(1) A(FETCH) ( A(BODYSTRUCTURE) ( ( S(text) S(plain) ( S(charset) S(us-ascii) ) A(NIL) A(NIL) S(7bit) A(3) A(1) ) "
		  "( S(text) S(html) A(NIL) A(NIL) A(NIL) S(7bit) A(5) A(1) ) S(alternative) ) ) EOL", NULL },
		{ "MODSEQ", IN("* 5 FETCH (UID 9 MODSEQ (624140003))\r\n"),
		  "A(*) A(5) A(FETCH) ( A(UID) A(9) A(MODSEQ) ( A(624140003) ) ) EOL", NULL },
		{ "extra spaces", IN("* 1   FETCH  ( UID  1 )  \r\n"),
		  "A(*) A(1) A(FETCH) ( A(UID) A(1) ) EOL", NULL },
		{ "atom runs into a quote and a paren", IN("* 1 FETCH (X\"y\"Z(W))\r\n"),
		  "A(*) A(1) A(FETCH) ( A(X) S(y) A(Z) ( A(W) ) ) EOL", NULL },
	};

	(void)state;
	check_cases(cases, ARRAY_SIZE(cases));
}

static void test_mailbox_data(void **state)
{
	static const struct wire_case cases[] = {
		{ "LIST", IN("* LIST (\\HasNoChildren \\Noselect) \"/\" \"INBOX/Sub\"\r\n"),
		  "A(*) A(LIST) ( A(\\HasNoChildren) A(\\Noselect) ) S(/) S(INBOX/Sub) EOL", NULL },
		{ "LIST with a literal name", IN("* LIST () \".\" {5}\r\nhello\r\n"),
		  "A(*) A(LIST) ( ) S(.) L(5:hello) EOL", NULL },
		{ "LIST with NIL delimiter", IN("* LIST (\\Noselect) NIL \"\"\r\n"),
		  "A(*) A(LIST) ( A(\\Noselect) ) A(NIL) S() EOL", NULL },
		{ "LIST with an atom name", IN("* LIST () \"/\" foo]bar%*\r\n"),
		  "A(*) A(LIST) ( ) S(/) A(foo]bar%*) EOL", NULL },
		{ "LIST with UTF-8", IN("* LIST () \"/\" \"Entw\xc3\xbcrfe\"\r\n"),
		  "A(*) A(LIST) ( ) S(/) S(Entw\\xc3\\xbcrfe) EOL", NULL },
		{ "quoted escapes", IN("* LIST () \"\\\\\" \"a \\\"q\\\" \\\\n\\x\"\r\n"),
		  "A(*) A(LIST) ( ) S(\\) S(a \"q\" \\nx) EOL", NULL },
		{ "EXISTS, EXPUNGE, VANISHED", IN("* 3 EXISTS\r\n* 2 EXPUNGE\r\n* VANISHED (EARLIER) 1:3,5\r\n"),
		  "A(*) A(3) A(EXISTS) EOL A(*) A(2) A(EXPUNGE) EOL A(*) A(VANISHED) ( A(EARLIER) ) A(1:3,5) EOL", NULL },
		{ "STATUS", IN("* STATUS \"Sent Items\" (MESSAGES 231 UIDNEXT 44292 UIDVALIDITY 1)\r\n"),
		  "A(*) A(STATUS) S(Sent Items) ( A(MESSAGES) A(231) A(UIDNEXT) A(44292) A(UIDVALIDITY) A(1) ) EOL", NULL },
		{ "ESEARCH", IN("* ESEARCH (TAG \"A282\") UID MIN 2 COUNT 3\r\n"),
		  "A(*) A(ESEARCH) ( A(TAG) S(A282) ) A(UID) A(MIN) A(2) A(COUNT) A(3) EOL", NULL },
		{ "FLAGS", IN("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Junk)\r\n"),
		  "A(*) A(FLAGS) ( A(\\Answered) A(\\Flagged) A(\\Deleted) A(\\Seen) A(\\Draft) A($Junk) ) EOL", NULL },
		{ "an atom that is a bracket section", IN("* X [a b] c\r\n"),
		  "A(*) A(X) A([a b]) A(c) EOL", NULL },
	};

	(void)state;
	check_cases(cases, ARRAY_SIZE(cases));
}

/* --- literals ----------------------------------------------------------- */

static void test_accumulate_vs_stream(void **state)
{
	static const char in[] = "* 1 FETCH (BODY[] {7}\r\na\0b\r\nc\xc3)\r\n";
	struct wire_parser *p = wire_parser_new(NULL);
	struct wire_token t;
	struct sb streamed = { 0 };
	const char *cur = in;
	size_t len = sizeof(in) - 1;

	(void)state;
	assert_non_null(p);
	/* streamed: chunks point into the input and add up to the literal */
	while (wire_next(p, &cur, &len, &t) == WIRE_OK) {
		if (t.type == WIRE_LITERAL_BEGIN) {
			assert_int_equal(t.size, 7);
			assert_int_equal(t.binary, 0);
		} else if (t.type == WIRE_LITERAL_DATA) {
			assert_true(t.data >= in && t.data + t.len <= in + sizeof(in));
			sb_addn(&streamed, t.data, t.len);
		}
	}
	assert_int_equal(streamed.len, 7);
	assert_memory_equal(streamed.s, "a\0b\r\nc\xc3", 7);

	/* accumulated: one NUL-terminated copy whose .len counts the NUL inside */
	wire_parser_reset(p);
	cur = in;
	len = sizeof(in) - 1;
	for (;;) {
		assert_int_equal(wire_next(p, &cur, &len, &t), WIRE_OK);
		if (t.type == WIRE_LITERAL_BEGIN)
			break;
	}
	assert_int_equal(wire_literal_accumulate(p), 0);
	assert_int_equal(wire_literal_accumulate(p), -EINVAL);
	assert_int_equal(wire_next(p, &cur, &len, &t), WIRE_OK);
	assert_int_equal(t.type, WIRE_STRING);
	assert_int_equal(t.len, 7);
	assert_memory_equal(t.data, streamed.s, 7);
	assert_int_equal(t.data[7], '\0');
	assert_true(t.data < in || t.data > in + sizeof(in)); /* a copy */
	assert_int_equal(wire_next(p, &cur, &len, &t), WIRE_OK);
	assert_int_equal(t.type, WIRE_RPAREN);

	/* accumulate() is only valid right after LITERAL_BEGIN */
	assert_int_equal(wire_literal_accumulate(p), -EINVAL);

	/* an accumulated {0} completes without input, even a NULL one */
	wire_parser_reset(p);
	cur = "* 1 FETCH (BODY[] {0}\r\n";
	len = strlen(cur);
	do
		assert_int_equal(wire_next(p, &cur, &len, &t), WIRE_OK);
	while (t.type != WIRE_LITERAL_BEGIN);
	assert_int_equal(len, 0);
	assert_int_equal(wire_literal_accumulate(p), 0);
	cur = NULL;
	assert_int_equal(wire_next(p, &cur, &len, &t), WIRE_OK);
	assert_int_equal(t.type, WIRE_STRING);
	assert_int_equal(t.len, 0);
	assert_string_equal(t.data, "");
	assert_int_equal(wire_next(p, &cur, &len, &t), WIRE_MORE);
	assert_null(cur);
	free(streamed.s);
	wire_parser_free(p);
}

static void test_accumulate_limit(void **state)
{
	static const char ok[] = "* 1 FETCH (BODY[] {16}\r\n0123456789abcdef)\r\n";
	static const char big[] = "* 1 FETCH (BODY[] {17}\r\n0123456789abcdefg)\r\n";
	static const char huge[] = "* 1 FETCH (BODY[] {1000}\r\n";
	struct wire_limits lim = small_limits;
	struct wire_parser *p;
	struct wire_token t;
	const char *cur;
	size_t len, grew;

	(void)state;
	check_case(&(struct wire_case){ "16 bytes fit", IN(ok),
	           "A(*) A(1) A(FETCH) ( A(BODY[]) L(16:0123456789abcdef) ) EOL", &lim });

	p = wire_parser_new(&lim);
	assert_non_null(p);
	cur = big;
	len = sizeof(big) - 1;
	do
		assert_int_equal(wire_next(p, &cur, &len, &t), WIRE_OK);
	while (t.type != WIRE_LITERAL_BEGIN);
	assert_int_equal(t.size, 17);
	assert_int_equal(wire_literal_accumulate(p), -EMSGSIZE);
	assert_int_equal(wire_next(p, &cur, &len, &t), WIRE_BAD);
	check_bad_is_sticky(p, cur, len);

	/* a large announced literal costs nothing when it is refused */
	wire_parser_reset(p);
	grew = feed_until_bad(p, IN(huge), 1, true);
	assert_true(grew < 1000);
	wire_parser_free(p);
}

#define L16 "{16}\r\n0123456789abcdef"

/* Issue 11 item 5: what one response holds (its line and its accumulated
 * literals) has a budget, as its line and depth have; streamed literals do
 * not count. Line bytes here: "* 1 FETCH (" 11, "A " 2, each "{16}\r\n" 6,
 * " B " 3, ")" 1. */
static void test_response_budget(void **state)
{
	static const struct { struct wire_case c; const char *want_acc; } cases[] = {
		{ { "two literals: 61 bytes held",
		    IN("* 1 FETCH (A " L16 " B " L16 ")\r\n"),
		    "A(*) A(1) A(FETCH) ( A(A) L(16:0123456789abcdef) A(B) L(16:0123456789abcdef) ) EOL",
		    &budget_limits }, NULL },
		{ { "the budget is per response",
		    IN("* 1 FETCH (A " L16 " B " L16 ")\r\n* 2 FETCH (A " L16 " B " L16 ")\r\n"),
		    "A(*) A(1) A(FETCH) ( A(A) L(16:0123456789abcdef) A(B) L(16:0123456789abcdef) ) EOL "
		    "A(*) A(2) A(FETCH) ( A(A) L(16:0123456789abcdef) A(B) L(16:0123456789abcdef) ) EOL",
		    &budget_limits }, NULL },
		/* 60 held before the third literal's "{": its digits pass 64 */
		{ { "a third literal: over the budget when accumulated",
		    IN("* 1 FETCH (A " L16 " B " L16 " C " L16 ")\r\n"),
		    "A(*) A(1) A(FETCH) ( A(A) L(16:0123456789abcdef) A(B) L(16:0123456789abcdef) "
		    "A(C) L(16:0123456789abcdef) ) EOL",
		    &budget_limits },
		  "A(*) A(1) A(FETCH) ( A(A) L(16:0123456789abcdef) A(B) L(16:0123456789abcdef) "
		  "A(C) BAD" },
		/* 47 line bytes, the literal's 16 and ")": 64 */
		{ { "a literal and the last byte fill the budget exactly",
		    IN("* 1 FETCH (AAAAAAAAAAAAAAAAAAAAAAAAAAAAA " L16 ")\r\n"),
		    "A(*) A(1) A(FETCH) ( A(AAAAAAAAAAAAAAAAAAAAAAAAAAAAA) L(16:0123456789abcdef) ) EOL",
		    &budget_limits }, NULL },
		/* 48 and 16: the ")" is one byte too many */
		{ { "a line byte after the budget is full",
		    IN("* 1 FETCH (AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA " L16 ")\r\n"),
		    "A(*) A(1) A(FETCH) ( A(AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA) L(16:0123456789abcdef) ) EOL",
		    &budget_limits },
		  "A(*) A(1) A(FETCH) ( A(AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA) L(16:0123456789abcdef) BAD" },
		/* 49 and 16: the literal itself is refused, before any copy */
		{ { "a literal over the budget",
		    IN("* 1 FETCH (AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA " L16 ")\r\n"),
		    "A(*) A(1) A(FETCH) ( A(AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA) L(16:0123456789abcdef) ) EOL",
		    &budget_limits },
		  "A(*) A(1) A(FETCH) ( A(AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA) BAD" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		check_case_acc(&cases[i].c, cases[i].want_acc);
}

/* Many large literals in one line cost no more than the budget: the parser
 * refuses before a copy is made past it. */
static void test_response_budget_memory(void **state)
{
	struct wire_limits lim = wire_default_limits;
	size_t n = 64, lit = 1 << 20;
	struct sb in = { 0 };
	char *data = malloc(lit);
	struct wire_parser *p;
	struct wire_token t;
	const char *cur;
	size_t len, got = 0;
	enum wire_result r;

	(void)state;
	assert_non_null(data);
	memset(data, 'x', lit);
	sb_addn(&in, "* 1 FETCH (", 11);
	for (size_t i = 0; i < n; i++) {
		sb_addn(&in, "X {1048576}\r\n", 14);
		sb_addn(&in, data, lit);
		sb_addn(&in, " ", 1);
	}
	sb_addn(&in, ")\r\n", 3);
	p = wire_parser_new(&lim);
	assert_non_null(p);
	cur = in.s;
	len = in.len;
	while ((r = wire_next(p, &cur, &len, &t)) == WIRE_OK) {
		if (t.type == WIRE_LITERAL_BEGIN) {
			if (wire_literal_accumulate(p) < 0)
				continue;   /* BAD next */
		} else if (t.type == WIRE_STRING && t.len == lit) {
			got += t.len;
		}
	}
	assert_int_equal(r, WIRE_BAD);
	assert_string_equal(wire_error(p), "response too large: its literals exceed the budget");
	assert_true(got <= lim.max_response);
	assert_true(got >= lim.max_response - lim.max_literal - 64);
	wire_parser_free(p);
	free(in.s);
	free(data);
}

static void test_literal_size_syntax(void **state)
{
	static const char head[] = "A(*) A(1) A(FETCH) ( A(BODY[]) BAD";
	static const struct wire_case cases[] = {
		{ "2^64-1", IN("* 1 FETCH (BODY[] {18446744073709551615}\r\n"), head, NULL },
		{ "2^64 with no stream limit", IN("* 1 FETCH (BODY[] {18446744073709551616}\r\n"), head, &huge_stream_limits },
		{ "23 digits", IN("* 1 FETCH (BODY[] {99999999999999999999999}\r\n"), head, NULL },
		{ "23 digits with no stream limit", IN("* 1 FETCH (BODY[] {99999999999999999999999}\r\n"), head, &huge_stream_limits },
		{ "over max_literal_stream", IN("* 1 FETCH (BODY[] {1025}\r\n"), head, &small_limits },
		{ "no '}'", IN("* 1 FETCH (BODY[] {12\r\nhello world!)\r\n"), head, NULL },
		{ "no CRLF after '}'", IN("* 1 FETCH (BODY[] {5}hello)\r\n"), head, NULL },
		{ "CR without LF after '}'", IN("* 1 FETCH (BODY[] {5}\rhello)\r\n"), head, NULL },
		{ "LF only after '}'", IN("* 1 FETCH (BODY[] {5}\nhello)\r\n"), head, NULL },
		{ "non-synchronizing", IN("* 1 FETCH (BODY[] {5+}\r\nhello)\r\n"), head, NULL },
		{ "leading garbage", IN("* 1 FETCH (BODY[] {x5}\r\nhello)\r\n"), head, NULL },
		{ "negative", IN("* 1 FETCH (BODY[] {-5}\r\nhello)\r\n"), head, NULL },
		{ "leading SP", IN("* 1 FETCH (BODY[] { 5}\r\nhello)\r\n"), head, NULL },
		{ "empty", IN("* 1 FETCH (BODY[] {}\r\n)\r\n"), head, NULL },
		{ "trailing garbage", IN("* 1 FETCH (BODY[] {5x}\r\nhello)\r\n"), head, NULL },
		{ "literal8 without size", IN("* 1 FETCH (BODY[] ~{}\r\n)\r\n"), head, NULL },
	};

	(void)state;
	check_cases(cases, ARRAY_SIZE(cases));
}

/* --- hostile input ------------------------------------------------------ */

static void test_hostile(void **state)
{
	static const struct wire_case cases[] = {
		{ "NUL in an atom", IN("* 1 FE\0TCH\r\n"), "A(*) A(1) A(FE) BAD", NULL },
		{ "NUL in a quoted string", IN("* LIST () \"/\" \"a\0b\"\r\n"), "A(*) A(LIST) ( ) S(/) BAD", NULL },
		{ "NUL in text", IN("* OK hi\0there\r\n"), "A(*) A(OK) BAD", NULL },
		{ "NUL in a code", IN("* OK [ALERT\0] x\r\n"), "A(*) A(OK) [ A(ALERT) BAD", NULL },
		{ "TAB between tokens", IN("* 1\tEXISTS\r\n"), "A(*) A(1) BAD", NULL },
		{ "DEL", IN("* 1 \x7f\r\n"), "A(*) A(1) BAD", NULL },
		{ "bare CR", IN("* 1 EXISTS\rX\r\n"), "A(*) A(1) A(EXISTS) BAD", NULL },
		{ "CR CR LF", IN("* 1 EXISTS\r\r\n"), "A(*) A(1) A(EXISTS) BAD", NULL },
		{ "bare LF", IN("* 1 EXISTS\n* 2 EXISTS\r\n"), "A(*) A(1) A(EXISTS) BAD", NULL },
		{ "bare LF in text", IN("* OK hi\n"), "A(*) A(OK) BAD", NULL },
		{ "bare LF after a quoted string", IN("* LIST () \"/\" \"a\"\n"), "A(*) A(LIST) ( ) S(/) S(a) BAD", NULL },
		{ "')' at depth 0", IN("* 1 FETCH )\r\n"), "A(*) A(1) A(FETCH) BAD", NULL },
		{ "EOL inside a list", IN("* 1 FETCH (UID 1\r\n* 2 EXISTS\r\n"), "A(*) A(1) A(FETCH) ( A(UID) A(1) BAD", NULL },
		{ "EOL inside a list after a literal", IN("* LIST ({1}\r\nx\r\n"), "A(*) A(LIST) ( L(1:x) BAD", NULL },
		{ "CR in a quoted string", IN("* LIST () \"/\" \"a\rb\"\r\n"), "A(*) A(LIST) ( ) S(/) BAD", NULL },
		{ "LF in a quoted string", IN("* LIST () \"/\" \"a\nb\"\r\n"), "A(*) A(LIST) ( ) S(/) BAD", NULL },
		{ "unterminated quoted string", IN("* LIST () \"/\" \"abc\r\n"), "A(*) A(LIST) ( ) S(/) BAD", NULL },
		{ "escaped CR", IN("* LIST () \"/\" \"abc\\\r\n"), "A(*) A(LIST) ( ) S(/) BAD", NULL },
		{ "unclosed section", IN("* 1 FETCH (BODY[HEADER\r\n"), "A(*) A(1) A(FETCH) ( BAD", NULL },
		{ "unclosed code", IN("* OK [ALERT text\r\n"), "A(*) A(OK) [ A(ALERT) A(text) BAD", NULL },
		{ "unclosed code with a list", IN("* OK [BADCHARSET (UTF-8\r\n"), "A(*) A(OK) [ A(BADCHARSET) ( A(UTF-8) BAD", NULL },
		{ "']' inside a list in a code", IN("* OK [X (a ])] t\r\n"), "A(*) A(OK) [ A(X) ( A(a) BAD", NULL },
		{ "too deep", IN("* X (((((x)))))\r\n"), "A(*) A(X) ( ( ( ( BAD", &small_limits },
		{ "line too long: atom", IN("* 1 FETCH (X 0123456789012345678901234567890123456789012345678901234567890123456789)\r\n"),
		  "A(*) A(1) A(FETCH) ( A(X) BAD", &small_limits },
		{ "line too long: quoted", IN("* LIST () \"/\" \"0123456789012345678901234567890123456789012345678901234567890123456789\"\r\n"),
		  "A(*) A(LIST) ( ) S(/) BAD", &small_limits },
		{ "line too long: text", IN("* OK [ALERT] 0123456789012345678901234567890123456789012345678901234567890123456789\r\n"),
		  "A(*) A(OK) [ A(ALERT) ] BAD", &small_limits },
		{ "line too long: spaces", IN("* 1                                                                           EXISTS\r\n"),
		  "A(*) A(1) BAD", &small_limits },
		{ "line too long: many tokens", IN("* SEARCH 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26\r\n"),
		  "A(*) A(SEARCH) A(1) A(2) A(3) A(4) A(5) A(6) A(7) A(8) A(9) A(10) A(11) A(12) A(13) A(14) A(15) A(16) A(17) A(18) A(19) A(20) A(21) BAD", &small_limits },
	};

	(void)state;
	check_cases(cases, ARRAY_SIZE(cases));
}

static void test_line_limit_is_per_line(void **state)
{
	/* exactly 64 bytes per line: the count restarts at EOL, excludes
	 * literal data and the final CRLF */
	static const struct wire_limits lim = {
		.max_line = 64, .max_literal = 64, .max_literal_stream = 64,
		.max_depth = 4, .max_response = 1024,
	};
	static const struct wire_case cases[] = {
		{ "lines at the limit",
		  IN("* 1 FETCH (BODY[] {20}\r\n01234567890123456789 X 012345678901234567890123456789012345)\r\n"
		     "* 012345678901234567890123456789012345678901234567890123456789 X\r\n"),
		  "A(*) A(1) A(FETCH) ( A(BODY[]) L(20:01234567890123456789) A(X) A(012345678901234567890123456789012345) ) EOL "
		  "A(*) A(012345678901234567890123456789012345678901234567890123456789) A(X) EOL", &lim },
		{ "one byte more",
		  IN("* 012345678901234567890123456789012345678901234567890123456789 XY\r\n"), "A(*) A(012345678901234567890123456789012345678901234567890123456789) BAD", &lim },
	};

	(void)state;
	check_cases(cases, ARRAY_SIZE(cases));
}

static void test_long_line_memory(void **state)
{
	struct wire_limits lim = { .max_line = 1024, .max_literal = 1024,
	                           .max_literal_stream = 1024, .max_depth = 8,
	                           .max_response = 1 << 20 };
	size_t len = 1 << 20;
	char *in = malloc(len);

	(void)state;
	assert_non_null(in);
	memset(in, 'x', len);
	memcpy(in, "* ", 2);
	const size_t chunks[] = { 1, 4096, len };

	for (size_t i = 0; i < ARRAY_SIZE(chunks); i++) {
		struct wire_parser *p = wire_parser_new(&lim);

		assert_non_null(p);
		/* the buffer is bounded by max_line, not by the input */
		assert_true(feed_until_bad(p, in, len, chunks[i], false) < 16 * 1024);
		assert_string_equal(wire_error(p), "response line too long");
		wire_parser_free(p);
	}
	free(in);
}

static void test_deep_nesting(void **state)
{
	size_t n = 100000;
	char *in = malloc(n + 4);
	struct sb want = { 0 };
	struct wire_case c = { "100000 '('", in, n + 4, NULL, NULL };

	(void)state;
	assert_non_null(in);
	memcpy(in, "* X ", 4);
	memset(in + 4, '(', n);
	sb_add(&want, "A(*) A(X)");
	for (unsigned i = 0; i < wire_default_limits.max_depth; i++)
		sb_add(&want, "(");
	sb_add(&want, "BAD");
	c.want = want.s;
	check_case(&c);
	free(want.s);
	free(in);
}

/* --- API ---------------------------------------------------------------- */

static void test_defaults(void **state)
{
	struct wire_parser *p = wire_parser_new(NULL);
	static const char in[] = "* 1 FETCH (X (Y";
	const char *cur = in;
	size_t len = sizeof(in) - 1;
	struct wire_token t;
	unsigned depths[8], nd = 0;

	(void)state;
	assert_int_equal(wire_default_limits.max_line, 512 * 1024);
	assert_int_equal(wire_default_limits.max_literal, 1024 * 1024);
	assert_int_equal(wire_default_limits.max_literal_stream, (size_t)4 << 30);
	assert_int_equal(wire_default_limits.max_depth, 64);
	assert_int_equal(wire_default_limits.max_response, 8 * 1024 * 1024);
	assert_non_null(p);
	assert_non_null(wire_error(p));
	assert_int_equal(wire_depth(p), 0);
	while (wire_next(p, &cur, &len, &t) == WIRE_OK)
		depths[nd++] = wire_depth(p);
	/* "Y" is not complete: it could go on */
	assert_int_equal(nd, 6);
	assert_int_equal(depths[3], 1);
	assert_int_equal(depths[5], 2);
	assert_int_equal(len, 0);
	wire_parser_reset(p);
	assert_int_equal(wire_depth(p), 0);
	wire_parser_free(p);
	wire_parser_free(NULL);
}

static void test_limits_are_copied(void **state)
{
	struct wire_limits lim = small_limits;
	struct wire_parser *p = wire_parser_new(&lim);

	(void)state;
	assert_non_null(p);
	lim.max_depth = 1000;
	lim.max_line = 1 << 20;
	{
		static const char in[] = "* X (((((x)))))\r\n";
		const char *cur = in;
		size_t len = sizeof(in) - 1;
		struct wire_token t;
		enum wire_result r;

		while ((r = wire_next(p, &cur, &len, &t)) == WIRE_OK)
			;
		assert_int_equal(r, WIRE_BAD);
		assert_int_equal(wire_depth(p), 4);
	}
	wire_parser_free(p);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_limits_are_copied),
		cmocka_unit_test(test_status_responses),
		cmocka_unit_test(test_continuations),
		cmocka_unit_test(test_fetch),
		cmocka_unit_test(test_mailbox_data),
		cmocka_unit_test(test_accumulate_vs_stream),
		cmocka_unit_test(test_accumulate_limit),
		cmocka_unit_test(test_response_budget),
		cmocka_unit_test(test_response_budget_memory),
		cmocka_unit_test(test_literal_size_syntax),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_line_limit_is_per_line),
		cmocka_unit_test(test_long_line_memory),
		cmocka_unit_test(test_deep_nesting),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
