/* test_search.c - the search-directory query (net/search.c): parsing into
 * the canonical text, refusals, sq_needs(), sq_match() on hand-made
 * messages.
 *
 * Every accepted case must give the expected canonical text, and that text
 * must parse to the same text again. Every prefix of an accepted case
 * (byte by byte, cutting UTF-8 sequences too) must parse or be refused
 * with -EINVAL. Every refused case must give -EINVAL and a reason that is
 * printable ASCII and holds none of the input's marker bytes ("Zq").
 *
 * This binary is linked with --wrap=malloc,realloc,calloc (Makefile
 * ldflags_search) so that test_out_of_memory can make the Nth allocation
 * fail.
 */
#include "tests/unit/testutil.h"

#include <errno.h>
#include <stdbool.h>

#include "net/search.h"

/* --- failing allocations ------------------------------------------------ */

void *__real_malloc(size_t n);
void *__real_realloc(void *p, size_t n);
void *__real_calloc(size_t k, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_calloc(size_t k, size_t n);

static long alloc_countdown = -1;  /* the allocation that fails; -1 none */

static bool alloc_fails(void)
{
	return alloc_countdown >= 0 && alloc_countdown-- == 0;
}

void *__wrap_malloc(size_t n) { return alloc_fails() ? NULL : __real_malloc(n); }
void *__wrap_realloc(void *p, size_t n) { return alloc_fails() ? NULL : __real_realloc(p, n); }
void *__wrap_calloc(size_t k, size_t n) { return alloc_fails() ? NULL : __real_calloc(k, n); }

/* --- helpers ------------------------------------------------------------- */

/* Parse IN; return its canonical text (caller frees) or NULL when refused,
 * with the reason in ERR. */
static char *canon(const char *in, int *r_out, char *err, size_t errlen)
{
	struct sq_node *q = (struct sq_node *)1;
	char *text = NULL;
	int r = sq_parse(in, &q, err, errlen);

	if (r == 0) {
		assert_non_null(q);
		text = sq_format(q);
		assert_non_null(text);
	} else {
		assert_null(q);
	}
	sq_free(q);
	if (r_out)
		*r_out = r;
	return text;
}

/* IN parses to OUT, and OUT to itself. */
static void check_ok(const char *in, const char *out)
{
	char err[128];
	int r;
	char *text = canon(in, &r, err, sizeof(err));

	if (r != 0)
		fail_msg("\"%s\" refused (%d): %s", in, r, err);
	if (strcmp(text, out) != 0)
		fail_msg("\"%s\" gives\n  \"%s\", not\n  \"%s\"", in, text, out);
	char *again = canon(text, &r, err, sizeof(err));
	if (r != 0 || strcmp(again, text) != 0)
		fail_msg("canonical \"%s\" does not parse to itself (%d %s)", text, r, err);
	free(again);
	free(text);
}

/* IN is refused with -EINVAL and a reason holding WHY (may be NULL). */
static void check_bad(const char *in, const char *why)
{
	char err[128];
	int r;
	char *text = canon(in, &r, err, sizeof(err));

	if (r != -EINVAL)
		fail_msg("\"%s\" not refused (%d): \"%s\"", in, r, text ? text : "");
	if (!err[0])
		fail_msg("\"%s\": no reason", in);
	for (const char *p = err; *p; p++)
		if (*p < 0x20 || *p >= 0x7f)
			fail_msg("\"%s\": reason with byte 0x%02x", in, (unsigned char)*p);
	if (strstr(err, "Zq"))
		fail_msg("\"%s\": the reason \"%s\" quotes the input", in, err);
	if (why && !strstr(err, why))
		fail_msg("\"%s\": reason \"%s\", not \"%s\"", in, err, why);
}

/* --- accepted ------------------------------------------------------------ */

static const struct { const char *in, *out; } good[] = {
	{ "FROM alice SINCE 1-Jan-2024", "FROM alice SINCE 1-Jan-2024" },
	{ "from alice since 1-jan-2024", "FROM alice SINCE 1-Jan-2024" },
	{ "FrOm alice", "FROM alice" },
	{ "OR FROM alice FROM bob", "OR FROM alice FROM bob" },
	{ "TEXT \"quarterly report\"", "TEXT \"quarterly report\"" },
	{ "UNSEEN", "UNSEEN" },
	{ "LARGER 1000000", "LARGER 1000000" },
	{ "NOT SEEN", "NOT SEEN" },
	{ "ALL", "ALL" },
	{ "  FROM   a    TO b  ", "FROM a TO b" },
	{ "(FROM a (TO b))", "FROM a TO b" },
	{ "((ALL))", "ALL" },
	{ "OR (FROM a TO b) NOT (CC c)", "OR (FROM a TO b) NOT CC c" },
	{ "NOT (OR SEEN (FLAGGED DRAFT))", "NOT OR SEEN (FLAGGED DRAFT)" },
	{ "OR OR FROM a FROM b FROM c", "OR OR FROM a FROM b FROM c" },
	{ "ANSWERED DELETED DRAFT FLAGGED SEEN NEW OLD RECENT",
	  "ANSWERED DELETED DRAFT FLAGGED SEEN NEW OLD RECENT" },
	{ "unanswered undeleted undraft unflagged unseen",
	  "UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN" },
	{ "KEYWORD $Label1 UNKEYWORD Junk", "KEYWORD $Label1 UNKEYWORD Junk" },
	{ "cc x bcc y subject z body w text v", "CC x BCC y SUBJECT z BODY w TEXT v" },
	{ "SUBJECT a\xe2\x88\x95" "b", "SUBJECT a\xe2\x88\x95" "b" },
	{ "SUBJECT \"a\xe2\x88\x95 b\"", "SUBJECT \"a\xe2\x88\x95 b\"" },
	{ "SUBJECT \"say \\\"hi\\\" \\\\ there\"", "SUBJECT \"say \\\"hi\\\" \\\\ there\"" },
	{ "FROM \"alice\"", "FROM alice" },
	{ "FROM \"\"", "FROM \"\"" },
	{ "FROM \"(x)\"", "FROM \"(x)\"" },
	{ "FROM \"a{5}\"", "FROM \"a{5}\"" },
	{ "FROM OR", "FROM OR" },
	{ "SUBJECT 50%*]", "SUBJECT 50%*]" },
	{ "FROM m\xc3\xbcller", "FROM m\xc3\xbcller" },
	{ "SUBJECT \"\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80\"", "SUBJECT \"\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80\"" },
	{ "HEADER X-Spam \"\"", "HEADER X-Spam \"\"" },
	{ "header \"List-Id\" \"<x.y>\"", "HEADER List-Id <x.y>" },
	{ "HEADER a\xe2\x88\x95" "b c", "HEADER a\xe2\x88\x95" "b c" },
	{ "SENTON \"29-Feb-2024\"", "SENTON 29-Feb-2024" },
	{ "BEFORE 01-Mar-2023 ON 31-dec-1999 SINCE 1-JAN-2000",
	  "BEFORE 1-Mar-2023 ON 31-Dec-1999 SINCE 1-Jan-2000" },
	{ "SENTBEFORE 29-Feb-2000 SENTSINCE 28-Feb-1900", "SENTBEFORE 29-Feb-2000 SENTSINCE 28-Feb-1900" },
	{ "LARGER 007", "LARGER 7" },
	{ "SMALLER 9223372036854775807", "SMALLER 9223372036854775807" },
	{ "SMALLER 0", "SMALLER 0" },
	{ "UID 1:5,9,20:*", "UID 1:5,9,20:*" },
	{ "UID 5:5", "UID 5" },
	{ "UID *", "UID *" },
	{ "UID 4294967295:1", "UID 4294967295:1" },
	{ "X-GM-RAW \"has:attachment in:inbox\"", "X-GM-RAW \"has:attachment in:inbox\"" },
	{ "x-gm-raw foo", "X-GM-RAW foo" },
};

static void test_accepted(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		check_ok(good[i].in, good[i].out);
}

/* --- refused ------------------------------------------------------------- */

static const struct { const char *in, *why; } bad[] = {
	{ "", "empty query" },
	{ "   ", "empty query" },
	{ "(FROM Zq", "unbalanced (" },
	{ "FROM Zq)", "unbalanced )" },
	{ ")", "unbalanced )" },
	{ "((((ALL)))", "unbalanced (" },
	{ "()", "empty parentheses" },
	{ "FROM a ( )", "empty parentheses" },
	{ "ZqKEY x", "unknown search key" },
	{ "FROMZq x", "unknown search key" },
	{ "AVERYLONGKEYNAMEZq x", "unknown search key" },
	{ "\"FROM\" Zq", "unknown search key" },
	{ "FROM", "needs an argument" },
	{ "FROM ", "string expected" },
	{ "FROM )", "string expected" },
	{ "NOT", "needs an argument" },
	{ "OR FROM Zq", "OR needs two keys" },
	{ "(OR FROM Zq)", "OR needs two keys" },
	{ "OR FROM Zq )", "search key expected" },
	{ "FROM Zq(TO b)", "space expected" },
	{ "(FROM a)(TO Zq)", "space expected" },
	{ "FROM \"Zq\"TO b", "space expected" },
	{ "FROM Zq\r\nX1 DELETE INBOX", "control character" },
	{ "FROM Zq\n", "control character" },
	{ "FROM Zq\x01", "control character" },
	{ "FROM \tZq", "control character" },
	{ "FROM Zq\x7f", "control character" },
	{ "TEXT {100}", "literals" },
	{ "TEXT {3}\r\nZq", "control character" },
	{ "TEXT Zq{3}", "literals" },
	{ "TEXT Zq\"b", "must be quoted" },
	{ "TEXT Zq\\b", "must be quoted" },
	{ "TEXT \"Zq\\x\"", "unknown escape" },
	{ "TEXT \"Zq", "not closed" },
	{ "TEXT \"Zq\\\"", "not closed" },
	{ "FROM Zq\xff", "invalid UTF-8" },
	{ "FROM Zq\xc0\xaf", "invalid UTF-8" },
	{ "FROM Zq\xed\xa0\x80", "invalid UTF-8" },
	{ "FROM Zq\xe2\x88", "invalid UTF-8" },
	{ "FROM Zq\xf4\x90\x80\x80", "invalid UTF-8" },
	{ "FROM Zq\x80", "invalid UTF-8" },
	{ "SINCE 30-Feb-2024", "not a date" },
	{ "SINCE 29-Feb-2023", "not a date" },
	{ "SINCE 29-Feb-1900", "not a date" },
	{ "SINCE 31-Apr-2024", "not a date" },
	{ "SINCE 1-Foo-2024", "not a date" },
	{ "SINCE 1-Jan-24", "not a date" },
	{ "SINCE 1-Jan-20245", "not a date" },
	{ "SINCE 123-Jan-2024", "not a date" },
	{ "SINCE 0-Jan-2024", "not a date" },
	{ "SINCE 00-Jan-2024", "not a date" },
	{ "SINCE 1-Jan-2024Zq", "not a date" },
	{ "SINCE 1-Ja", "not a date" },
	{ "SINCE -Jan-2024", "not a date" },
	{ "SINCE 2024-01-01", "not a date" },
	{ "SINCE \"1-Jan-2024", "not closed" },
	{ "LARGER 9223372036854775808", "too large" },
	{ "LARGER 99999999999999999999999999", "too large" },
	{ "LARGER -1", "number expected" },
	{ "LARGER 1k", "number expected" },
	{ "LARGER \"5\"", "number expected" },
	{ "1:5", "use UID" },
	{ "* FROM a", "use UID" },
	{ "UID 0", "UID set" },
	{ "UID 01", "UID set" },
	{ "UID 4294967296", "UID set" },
	{ "UID 1,", "UID set" },
	{ "UID :5", "UID set" },
	{ "UID 1::2", "UID set" },
	{ "UID 1:", "UID set" },
	{ "UID Zq", "UID set" },
	{ "UID 1,,2", "UID set" },
	{ "KEYWORD \\Seen", "must be quoted" },
	{ "KEYWORD \"\\\\Seen\"", "not a keyword" },
	{ "KEYWORD a*b", "not a keyword" },
	{ "KEYWORD \"a b\"", "not a keyword" },
	{ "KEYWORD m\xc3\xbc", "not a keyword" },
	{ "HEADER a:b x", "header field name" },
	{ "HEADER m\xc3\xbc x", "header field name" },
	{ "HEADER \"\" x", "header field name" },
	{ "HEADER X-Zq", "field name and a string" },
	{ "HEADER \"a b\" x", "header field name" },
};

static void test_refused(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		check_bad(bad[i].in, bad[i].why);
	/* ERR may be 0 bytes, or short: it is cut, never overrun */
	struct sq_node *q;
	char small[4] = "xyz";
	assert_int_equal(sq_parse("FOO", &q, NULL, 0), -EINVAL);
	assert_null(q);
	assert_int_equal(sq_parse("FOO", &q, small, 3), -EINVAL);
	assert_int_equal(strlen(small), 2);
}

/* Hostile sizes: deep nesting, many keys, long names. */
static void test_bounds(void **state)
{
	struct sb b = { 0 };
	char err[128];
	int r;
	char *t;

	(void)state;
	/* 10,000 nested parentheses (too long), 2,000 (too deep), and as
	 * many NOTs and ORs as fit */
	for (int n = 10000; n >= 2000; n -= 8000) {
		b.len = 0;
		for (int i = 0; i < n; i++)
			sb_addn(&b, "(", 1);
		sb_addn(&b, "ALL", 3);
		for (int i = 0; i < n; i++)
			sb_addn(&b, ")", 1);
		check_bad(b.s, n > SQ_MAX_LEN / 2 ? "longer than" : "nested deeper");
	}
	b.len = 0;
	for (int i = 0; i < 1000; i++)
		sb_addn(&b, "NOT ", 4);
	sb_addn(&b, "ALL", 3);
	check_bad(b.s, "nested deeper");
	b.len = 0;
	for (int i = 0; i < 500; i++)
		sb_addn(&b, "OR ALL ", 7);
	sb_addn(&b, "ALL", 3);
	check_bad(b.s, "nested deeper");
	b.len = 0;
	for (int i = 0; i < 500; i++)
		sb_addn(&b, "OR (ALL ", 8);
	check_bad(b.s, "nested deeper");

	/* exactly SQ_MAX_DEPTH levels pass, one more does not */
	b.len = 0;
	for (int i = 0; i < SQ_MAX_DEPTH; i++)
		sb_addn(&b, "NOT ", 4);
	sb_addn(&b, "SEEN", 4);
	t = canon(b.s, &r, err, sizeof(err));
	assert_int_equal(r, 0);
	assert_string_equal(t, b.s);
	free(t);
	b.len = 0;
	for (int i = 0; i <= SQ_MAX_DEPTH; i++)
		sb_addn(&b, "NOT ", 4);
	sb_addn(&b, "SEEN", 4);
	check_bad(b.s, "nested deeper");

	/* many keys */
	b.len = 0;
	for (int i = 0; i < SQ_MAX_NODES + 1; i++)
		sb_addn(&b, "ALL ", 4);
	check_bad(b.s, "keys");
	b.len = 0;
	for (int i = 0; i < SQ_MAX_NODES / 2; i++)
		sb_addn(&b, "SEEN ", 5);
	t = canon(b.s, &r, err, sizeof(err));
	assert_int_equal(r, 0);
	free(t);
	/* many strings: any number can go (imap_uid_search has no bound) */
	b.len = 0;
	for (int i = 0; i < 50; i++)
		sb_addn(&b, "TEXT \xc3\xa9 ", 9);
	t = canon(b.s, &r, err, sizeof(err));
	assert_int_equal(r, 0);
	free(t);

	/* too long */
	b.len = 0;
	sb_addn(&b, "FROM ", 5);
	while (b.len <= SQ_MAX_LEN)
		sb_addn(&b, "x", 1);
	check_bad(b.s, "longer than");
	free(b.s);
}

/* Every prefix of every accepted case parses or is refused; what parses
 * round-trips. */
static void test_prefixes(void **state)
{
	char buf[512], err[128];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		size_t len = strlen(good[i].in);

		assert_true(len < sizeof(buf));
		for (size_t n = 0; n <= len; n++) {
			int r;
			char *t;

			memcpy(buf, good[i].in, n);
			buf[n] = '\0';
			t = canon(buf, &r, err, sizeof(err));
			if (r != 0 && r != -EINVAL)
				fail_msg("prefix %zu of \"%s\": %d", n, good[i].in, r);
			if (t) {
				char *again = canon(t, &r, err, sizeof(err));
				assert_int_equal(r, 0);
				assert_string_equal(again, t);
				free(again);
			}
			free(t);
		}
	}
}

static void test_tree(void **state)
{
	struct sq_node *q;
	char err[128];

	(void)state;
	assert_int_equal(sq_parse("HEADER X-a \"v\\\\1\" SINCE 2-Mar-2024 UID 3:*,7", &q, err,
	                          sizeof(err)), 0);
	assert_int_equal(q->kind, SQ_AND);
	const struct sq_node *k = q->kids;
	assert_int_equal(k->kind, SQ_HEADER);
	assert_string_equal(k->field, "X-a");
	assert_string_equal(k->str, "v\\1");
	k = k->next;
	assert_int_equal(k->kind, SQ_SINCE);
	assert_int_equal(k->year, 2024);
	assert_int_equal(k->month, 3);
	assert_int_equal(k->day, 2);
	k = k->next;
	assert_int_equal(k->kind, SQ_UID);
	assert_int_equal(k->nranges, 2);
	assert_int_equal(k->ranges[0].lo, 3);
	assert_int_equal(k->ranges[0].hi, 0);
	assert_int_equal(k->ranges[1].lo, 7);
	assert_null(k->next);
	sq_free(q);

	assert_int_equal(sq_parse("SUBJECT a\xe2\x88\x95" "b", &q, err, sizeof(err)), 0);
	assert_int_equal(q->kind, SQ_SUBJECT);
	assert_string_equal(q->str, "a/b");
	sq_free(q);
	sq_free(NULL);
}

static void test_needs(void **state)
{
	static const struct { const char *in; unsigned need; } cases[] = {
		{ "FROM alice", 0 },
		{ "FROM m\xc3\xbcller", SQ_NEEDS_UTF8 },
		{ "HEADER X-a \"\xc3\xa9\"", SQ_NEEDS_UTF8 },
		{ "UNSEEN", SQ_NEEDS_FLAGS },
		{ "NOT (OR FROM a KEYWORD $x)", SQ_NEEDS_FLAGS },
		{ "X-GM-RAW \"in:sent\"", SQ_NEEDS_GMRAW },
		{ "UID 1:*", SQ_NEEDS_UID },
		{ "OR BODY x TEXT y", SQ_NEEDS_BODY },
		{ "OR TEXT \xc3\xa9 (SEEN UID 4)", SQ_NEEDS_BODY | SQ_NEEDS_UTF8 | SQ_NEEDS_FLAGS |
		  SQ_NEEDS_UID },
		{ "LARGER 5 SINCE 1-Jan-2024 SENTON 1-Jan-2024", 0 },
	};
	char err[128];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct sq_node *q;

		assert_int_equal(sq_parse(cases[i].in, &q, err, sizeof(err)), 0);
		if (sq_needs(q) != cases[i].need)
			fail_msg("\"%s\": needs 0x%x, not 0x%x", cases[i].in, sq_needs(q), cases[i].need);
		sq_free(q);
	}
}

/* --- matching -------------------------------------------------------------- */

struct fake {
	const char *fields[8][2];       /* name, decoded value */
	const char *body;
	int fail;                       /* the callbacks return this when < 0 */
	int calls;
	char text[1024];
};

static int fake_header(void *ctx, const char *name, const char **v_r, size_t *len_r)
{
	struct fake *f = ctx;

	f->calls++;
	if (f->fail)
		return f->fail;
	for (size_t i = 0; i < ARRAY_SIZE(f->fields) && f->fields[i][0]; i++)
		if (strcasecmp(f->fields[i][0], name) == 0) {
			*v_r = f->fields[i][1];
			*len_r = strlen(*v_r);
			return 1;
		}
	return 0;
}

static int fake_body(void *ctx, const char **t_r, size_t *len_r)
{
	struct fake *f = ctx;

	f->calls++;
	if (f->fail)
		return f->fail;
	*t_r = f->body;
	*len_r = strlen(f->body);
	return 0;
}

static int fake_text(void *ctx, const char **t_r, size_t *len_r)
{
	struct fake *f = ctx;

	f->calls++;
	if (f->fail)
		return f->fail;
	f->text[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(f->fields) && f->fields[i][0]; i++)
		snprintf(f->text + strlen(f->text), sizeof(f->text) - strlen(f->text), "%s: %s\n",
		         f->fields[i][0], f->fields[i][1]);
	snprintf(f->text + strlen(f->text), sizeof(f->text) - strlen(f->text), "\n%s", f->body);
	*t_r = f->text;
	*len_r = strlen(f->text);
	return 0;
}

#define JAN1_2024 ((time_t)1704067200)   /* 2024-01-01 00:00:00 UTC */
#define DAY 86400

static struct fake fk;
static struct sq_message msg;

static void fake_reset(void)
{
	memset(&fk, 0, sizeof(fk));
	fk.fields[0][0] = "From", fk.fields[0][1] = "Alice Example <alice@example.com>";
	fk.fields[1][0] = "To", fk.fields[1][1] = "bob@example.org, M\xc3\x9cLLER <m@x.de>";
	fk.fields[2][0] = "Subject", fk.fields[2][1] = "Quarterly report a/b";
	fk.fields[3][0] = "X-Spam", fk.fields[3][1] = "";
	fk.body = "Numbers are UP.\nCaf\xc3\x89 is open.\n";
	msg = (struct sq_message){
		.ctx = &fk, .header = fake_header, .body = fake_body, .text = fake_text,
		/* 2024-01-01 23:30 UTC */
		.internaldate = JAN1_2024 + DAY - 1800, .internal_off = 0,
		/* Date: Mon, 1 Jan 2024 23:30:00 -0500 = 2024-01-02 04:30 UTC */
		.has_date = 1, .date = JAN1_2024 + DAY + 4 * 3600 + 1800, .date_off = -5 * 3600,
		.size = 5000, .uid = 42, .max_uid = 100,
	};
}

/* What sq_match() gives for query IN on the current fake message. */
static int match(const char *in)
{
	struct sq_node *q;
	char err[128];
	int r;

	if (sq_parse(in, &q, err, sizeof(err)) != 0)
		fail_msg("\"%s\" refused: %s", in, err);
	r = sq_match(q, &msg);
	sq_free(q);
	return r;
}

#define MATCH(in, want) do { \
	int got_ = match(in); \
	if (got_ != (want)) \
		fail_msg("\"%s\" gives %d, not %d (line %d)", in, got_, want, __LINE__); \
} while (0)

static void test_match_strings(void **state)
{
	(void)state;
	fake_reset();
	MATCH("ALL", 1);
	MATCH("FROM alice", 1);
	MATCH("FROM ALICE", 1);
	MATCH("from EXAMPLE.COM", 1);
	MATCH("FROM bob", 0);
	MATCH("TO bob", 1);
	MATCH("TO m\xc3\xbcller", 1);       /* Latin-1 letters fold */
	MATCH("TO M\xc3\x9cLLER", 1);
	MATCH("TO mueller", 0);
	MATCH("CC bob", 0);                 /* no Cc field */
	MATCH("CC \"\"", 0);
	MATCH("NOT CC \"\"", 1);
	MATCH("BCC x", 0);
	MATCH("SUBJECT \"quarterly REPORT\"", 1);
	MATCH("SUBJECT a\xe2\x88\x95" "b", 1);   /* U+2215 is '/' */
	MATCH("SUBJECT \"report  a\"", 0);
	MATCH("HEADER X-Spam \"\"", 1);     /* the field is there, empty */
	MATCH("HEADER x-spam \"\"", 1);
	MATCH("HEADER X-Spam yes", 0);
	MATCH("HEADER X-Other \"\"", 0);
	MATCH("NOT HEADER X-Other \"\"", 1);
	MATCH("BODY \"numbers are up\"", 1);
	MATCH("BODY caf\xc3\xa9", 1);
	MATCH("BODY alice", 0);              /* only in the header */
	MATCH("TEXT alice", 1);
	MATCH("TEXT \"are up\"", 1);
	MATCH("TEXT nowhere", 0);
	MATCH("OR FROM bob TO bob", 1);
	MATCH("OR FROM bob TO carol", 0);
	MATCH("NOT (FROM alice TO bob)", 0);
	MATCH("NOT (FROM alice TO carol)", 1);
	MATCH("OR NOT FROM alice NOT TO carol", 1);
	MATCH("FROM alice (OR SUBJECT nope BODY up) NOT LARGER 5000", 1);
}

static void test_match_dates(void **state)
{
	(void)state;
	fake_reset();
	/* internal date 2024-01-01 23:30 UTC, taken in UTC */
	MATCH("ON 1-Jan-2024", 1);
	MATCH("ON 2-Jan-2024", 0);
	MATCH("BEFORE 2-Jan-2024", 1);
	MATCH("BEFORE 1-Jan-2024", 0);
	MATCH("SINCE 1-Jan-2024", 1);
	MATCH("SINCE 2-Jan-2024", 0);
	/* the same instant in a zone one hour east is on the 2nd */
	msg.internal_off = 3600;
	MATCH("ON 2-Jan-2024", 1);
	MATCH("SINCE 2-Jan-2024", 1);
	MATCH("BEFORE 2-Jan-2024", 0);
	/* midnight exactly, and one second before */
	msg.internal_off = 0;
	msg.internaldate = JAN1_2024 + DAY;
	MATCH("ON 2-Jan-2024", 1);
	MATCH("BEFORE 2-Jan-2024", 0);
	msg.internaldate = JAN1_2024 + DAY - 1;
	MATCH("ON 1-Jan-2024", 1);
	MATCH("BEFORE 2-Jan-2024", 1);
	/* before 1970 */
	msg.internaldate = -1;
	MATCH("ON 31-Dec-1969", 1);
	msg.internaldate = 0;
	MATCH("ON 1-Jan-1970", 1);
	msg.internaldate = -DAY;
	MATCH("ON 31-Dec-1969", 1);
	MATCH("ON 30-Dec-1969", 0);
	/* Date: 1 Jan 2024 23:30 -0500, the 2nd in UTC: its own day counts */
	MATCH("SENTON 1-Jan-2024", 1);
	MATCH("SENTON 2-Jan-2024", 0);
	MATCH("SENTBEFORE 2-Jan-2024", 1);
	MATCH("SENTSINCE 2-Jan-2024", 0);
	MATCH("SENTSINCE 1-Jan-2024", 1);
	/* leap day */
	msg.date = JAN1_2024 + 59 * DAY;   /* 29 Feb 2024 00:00 UTC */
	msg.date_off = 0;
	MATCH("SENTON 29-Feb-2024", 1);
	MATCH("SENTBEFORE 1-Mar-2024", 1);
	/* no Date header: no SENT* key matches */
	msg.has_date = 0;
	MATCH("SENTON 29-Feb-2024", 0);
	MATCH("SENTBEFORE 1-Jan-3000", 0);
	MATCH("NOT SENTSINCE 1-Jan-1900", 1);
}

static void test_match_other(void **state)
{
	(void)state;
	fake_reset();
	MATCH("LARGER 4999", 1);
	MATCH("LARGER 5000", 0);
	MATCH("SMALLER 5001", 1);
	MATCH("SMALLER 5000", 0);
	MATCH("UID 42", 1);
	MATCH("UID 1:41,43:*", 0);
	MATCH("UID 50:40", 1);
	MATCH("UID 40:*", 1);
	MATCH("UID *", 0);
	msg.max_uid = 42;
	MATCH("UID *", 1);
	MATCH("UID *:50", 1);
	msg.max_uid = 0;   /* unknown: '*' is the message's own UID */
	MATCH("UID *", 1);
	/* flag keys and X-GM-RAW cannot be evaluated here */
	MATCH("SEEN", -EINVAL);
	MATCH("KEYWORD $x", -EINVAL);
	MATCH("NOT (FROM alice UNSEEN)", -EINVAL);
	MATCH("X-GM-RAW x", -EINVAL);
	MATCH("OR FROM alice SEEN", 1);     /* short-circuit: SEEN not reached */
	/* a failing callback ends the match with its error */
	fk.fail = -EIO;
	MATCH("FROM alice", -EIO);
	MATCH("NOT BODY x", -EIO);
	MATCH("OR TEXT x LARGER 1", -EIO);
	MATCH("LARGER 1", 1);
	/* AND stops at the first miss */
	fk.fail = 0;
	fk.calls = 0;
	MATCH("SMALLER 1 FROM alice BODY x", 0);
	assert_int_equal(fk.calls, 0);
}

/* --- out of memory ------------------------------------------------------- */

static void test_out_of_memory(void **state)
{
	const char *in = "OR (FROM a TO \"b c\") NOT (HEADER X-a m\xc3\xbc UID 1:5,7) SINCE 1-Jan-2024";
	char err[128];
	long n;

	(void)state;
	for (n = 0; ; n++) {
		struct sq_node *q;
		int r;

		alloc_countdown = n;
		r = sq_parse(in, &q, err, sizeof(err));
		if (r == 0) {
			alloc_countdown = -1;
			sq_free(q);
			break;
		}
		alloc_countdown = -1;
		assert_int_equal(r, -ENOMEM);
		assert_null(q);
		assert_string_equal(err, "out of memory");
	}
	assert_true(n > 5);
	/* sq_format */
	struct sq_node *q;
	assert_int_equal(sq_parse(in, &q, err, sizeof(err)), 0);
	for (n = 0; n < 20; n++) {
		alloc_countdown = n;
		char *t = sq_format(q);
		alloc_countdown = -1;
		if (t) {
			free(t);
			break;
		}
		assert_int_equal(errno, ENOMEM);
	}
	assert_true(n < 20);
	/* sq_match: folding needs memory */
	fake_reset();
	alloc_countdown = 0;
	assert_int_equal(sq_match(q->kids->kids, &msg), -ENOMEM);
	alloc_countdown = -1;
	sq_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_tree),
		cmocka_unit_test(test_needs),
		cmocka_unit_test(test_match_strings),
		cmocka_unit_test(test_match_dates),
		cmocka_unit_test(test_match_other),
		cmocka_unit_test(test_out_of_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
