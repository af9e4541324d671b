/* test_bodystructure.c - the IMAP BODYSTRUCTURE parser and writer
 * (net/bodystructure.c).
 *
 * Every accepted case is parsed three ways: whole with bs_parse(), and fed
 * one byte at a time through the wire tokenizer into bs_feed(), once with
 * the WIRE_LITERAL_BEGIN tokens fed and once without; the trees must be
 * equal. Its outline (one line per part as bs_walk() numbers it: section,
 * type, parameters, fields) must be the expected one, bs_find() must find
 * every section, and bs_format() must write a text that parses to an equal
 * tree and is written the same again.
 *
 * Every refused case must give -EINVAL and the expected reason both ways.
 *
 * This binary is linked with --wrap=malloc,realloc,calloc (Makefile
 * ldflags_bodystructure) so that test_out_of_memory can make the Nth
 * allocation fail.
 */
#include "tests/unit/testutil.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "net/bodystructure.h"
#include "net/wire.h"

#define IN(s) s, sizeof(s) - 1

/* --- failing allocations ------------------------------------------------ */

void *__real_malloc(size_t n);
void *__real_realloc(void *p, size_t n);
void *__real_calloc(size_t k, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_calloc(size_t k, size_t n);

static long alloc_countdown = -1;  /* the allocation that fails; -1 none */
static long alloc_failed;

static bool alloc_fails(void)
{
	if (alloc_countdown < 0)
		return false;
	if (alloc_countdown-- == 0) {
		alloc_failed++;
		return true;
	}
	return false;
}

void *__wrap_malloc(size_t n)
{
	return alloc_fails() ? NULL : __real_malloc(n);
}

void *__wrap_realloc(void *p, size_t n)
{
	return alloc_fails() ? NULL : __real_realloc(p, n);
}

void *__wrap_calloc(size_t k, size_t n)
{
	return alloc_fails() ? NULL : __real_calloc(k, n);
}

/* --- parsing three ways -------------------------------------------------- */

/* Feeds TEXT one byte at a time through a wire parser (limits and the
 * final space as bs_parse() has them) into bs_feed(); FEED_BEGIN: whether the
 * WIRE_LITERAL_BEGIN tokens are fed too. */
static int parse_bytewise(const char *text, size_t len, bool feed_begin,
                          struct bs_part **root_r, char *reason, size_t rlen)
{
	struct wire_limits lim = wire_default_limits;
	struct wire_parser *wp;
	struct bs_parser *bp;
	bool fed = false;
	int r = 0;

	lim.max_line = lim.max_response = len + 1;
	lim.max_literal = len ? len : 1;
	wp = wire_parser_new(&lim);
	bp = bs_parser_new();
	assert_non_null(wp);
	assert_non_null(bp);
	*root_r = NULL;
	snprintf(reason, rlen, "-");
	/* and one space after the text, which ends an atom at its end */
	for (size_t i = 0; i <= len && r >= 0; i++) {
		const char *in = i < len ? text + i : " ";
		size_t left = 1;

		for (;;) {
			struct wire_token t;
			enum wire_result wr = wire_next(wp, &in, &left, &t);

			if (wr == WIRE_MORE)
				break;
			if (wr == WIRE_BAD) {
				snprintf(reason, rlen, "%s", wire_error(wp));
				r = -EINVAL;
				break;
			}
			if (t.type == WIRE_LITERAL_BEGIN) {
				assert_int_equal(wire_literal_accumulate(wp), 0);
				if (!feed_begin)
					continue;
			}
			fed = true;
			r = bs_feed(bp, &t);
			if (r < 0) {
				snprintf(reason, rlen, "%s", bs_error(bp));
				break;
			}
		}
	}
	if (r == 1) {
		*root_r = bs_take(bp);
		assert_non_null(*root_r);
		r = 0;
	} else if (r == 0) {
		assert_null(bs_take(bp));
		snprintf(reason, rlen, fed ? "the body ends too early" : "no body");
		r = -EINVAL;
	} else {
		/* a tree followed by more tokens may still be taken */
		bs_free(bs_take(bp));
	}
	bs_parser_free(bp);
	wire_parser_free(wp);
	return r;
}

/* --- comparing trees ------------------------------------------------------ */

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool params_eq(const struct bs_param *a, size_t na, const struct bs_param *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!str_eq(a[i].name, b[i].name) || !str_eq(a[i].value, b[i].value))
			return false;
	return true;
}

/* Every field of every part, kids in order. */
static bool tree_eq(const struct bs_part *a, const struct bs_part *b)
{
	if (!str_eq(a->type, b->type) || !str_eq(a->subtype, b->subtype) ||
	    !params_eq(a->params, a->nparams, b->params, b->nparams) ||
	    !str_eq(a->id, b->id) || !str_eq(a->description, b->description) ||
	    !str_eq(a->encoding, b->encoding) || a->size != b->size || a->lines != b->lines ||
	    !str_eq(a->disposition, b->disposition) ||
	    !params_eq(a->disp_params, a->ndisp_params, b->disp_params, b->ndisp_params) ||
	    !str_eq(a->subject, b->subject) || a->nkids != b->nkids) {
		printf("    trees differ at a %s/%s part\n", a->type ? a->type : "(null)",
		       a->subtype ? a->subtype : "(null)");
		return false;
	}
	for (size_t i = 0; i < a->nkids; i++)
		if (!tree_eq(&a->kids[i], &b->kids[i]))
			return false;
	return true;
}

/* --- the outline ---------------------------------------------------------- */

static void sb_str(struct sb *b, const char *s)
{
	sb_addn(b, s, strlen(s));
}

/* S with bytes outside 0x20-0x7e as \xNN. */
static void sb_esc(struct sb *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = *s;
		char hex[8];

		if (c >= 0x20 && c < 0x7f) {
			sb_addn(b, s, 1);
		} else {
			snprintf(hex, sizeof(hex), "\\x%02x", c);
			sb_str(b, hex);
		}
	}
}

static void sb_params(struct sb *b, const struct bs_param *p, size_t n)
{
	if (!n)
		return;
	sb_str(b, " (");
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_str(b, " ");
		sb_esc(b, p[i].name);
		sb_str(b, "=");
		sb_esc(b, p[i].value);
	}
	sb_str(b, ")");
}

struct walk {
	const struct bs_part *root;
	struct sb out;
	char prev[BS_SECTION_MAX];      /* the section of the previous part */
	const struct bs_part *first;    /* the first part numbered prev */
	unsigned nparts;
	unsigned stop_after;            /* return 7 after this many; 0 never */
};

/* One outline line per part; and bs_find() of the section must give the
 * part, or, for the multipart body of a message/rfc822 part (the one part
 * that has the number of the part before it), that message/rfc822 part. */
static int walk_cb(void *ctx, const struct bs_part *p, const char *section, unsigned depth)
{
	struct walk *w = ctx;
	const struct bs_part *expect = p;
	char num[64];

	assert_true(strlen(section) < BS_SECTION_MAX);
	assert_true(depth < BS_MAX_DEPTH);
	if (w->nparts && strcmp(section, w->prev) == 0) {
		assert_string_equal(p->type, "multipart");
		assert_string_equal(w->first->type, "message");
		expect = w->first;
	} else {
		snprintf(w->prev, sizeof(w->prev), "%s", section);
		w->first = p;
	}
	assert_ptr_equal(bs_find(w->root, section), expect);
	w->nparts++;

	if (w->out.len)
		sb_str(&w->out, "\n");
	sb_str(&w->out, *section ? section : "top");
	sb_str(&w->out, " ");
	sb_esc(&w->out, p->type);
	sb_str(&w->out, "/");
	sb_esc(&w->out, p->subtype);
	sb_params(&w->out, p->params, p->nparams);
	if (p->id) {
		sb_str(&w->out, " id=");
		sb_esc(&w->out, p->id);
	}
	if (p->description) {
		sb_str(&w->out, " desc=");
		sb_esc(&w->out, p->description);
	}
	if (p->encoding) {
		sb_str(&w->out, " enc=");
		sb_esc(&w->out, p->encoding);
	}
	if (strcmp(p->type, "multipart") != 0 || p->size) {
		snprintf(num, sizeof(num), " size=%" PRIu64, p->size);
		sb_str(&w->out, num);
	}
	if (strcmp(p->type, "text") == 0 || (strcmp(p->type, "message") == 0 && p->nkids) ||
	    p->lines) {
		snprintf(num, sizeof(num), " lines=%" PRIu64, p->lines);
		sb_str(&w->out, num);
	}
	if (p->disposition) {
		sb_str(&w->out, " dsp=");
		sb_esc(&w->out, p->disposition);
	}
	sb_params(&w->out, p->disp_params, p->ndisp_params);
	if (p->subject) {
		sb_str(&w->out, " subj=");
		sb_esc(&w->out, p->subject);
	}
	return w->stop_after && w->nparts == w->stop_after ? 7 : 0;
}

/* The outline of ROOT (malloc'd), checking bs_find() on the way. */
static char *outline(const struct bs_part *root)
{
	struct walk w = { .root = root };

	assert_int_equal(bs_walk(root, walk_cb, &w), 0);
	return w.out.s ? w.out.s : strdup("");
}

/* --- one accepted case, every way --------------------------------------- */

static void check_accepted(const char *name, const char *text, size_t len, const char *expect)
{
	struct bs_part *whole, *bytes, *bytes2, *again;
	char reason[256];
	char *o, *f1, *f2;
	int r;

	printf("    %s\n", name);
	r = bs_parse(text, len, &whole, reason, sizeof(reason));
	if (r != 0)
		printf("    %s: %s\n", name, reason);
	assert_int_equal(r, 0);
	assert_non_null(whole);
	assert_int_equal(parse_bytewise(text, len, true, &bytes, reason, sizeof(reason)), 0);
	assert_int_equal(parse_bytewise(text, len, false, &bytes2, reason, sizeof(reason)), 0);
	assert_true(tree_eq(whole, bytes));
	assert_true(tree_eq(whole, bytes2));

	o = outline(whole);
	if (strcmp(o, expect) != 0)
		printf("    %s: outline\n%s\n    expected\n%s\n", name, o, expect);
	assert_string_equal(o, expect);

	f1 = bs_format(whole);
	assert_non_null(f1);
	r = bs_parse(f1, strlen(f1), &again, reason, sizeof(reason));
	if (r != 0)
		printf("    %s: formatted %s: %s\n", name, f1, reason);
	assert_int_equal(r, 0);
	assert_true(tree_eq(whole, again));
	f2 = bs_format(again);
	assert_non_null(f2);
	assert_string_equal(f1, f2);

	free(o);
	free(f1);
	free(f2);
	bs_free(whole);
	bs_free(bytes);
	bs_free(bytes2);
	bs_free(again);
}

struct good {
	const char *name;
	const char *text;
	size_t len;
	const char *outline;
};

/* --- real examples ------------------------------------------------------- */

/* The bodies of RFC 3501 §7.4.2, and what Dovecot 2.3.19.1 sent for
 * messages APPENDed to a private Dovecot (configured as
 * tests/integration/lib.sh does) with Python's imaplib, then fetched with
 * "FETCH 1:* BODYSTRUCTURE"; the values are copied byte for byte. */
static const struct good real[] = {
	{ "RFC 3501 7.4.2 BODY",
	  IN("(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92)"),
	  "1 text/plain (CHARSET=US-ASCII) enc=7bit size=3028 lines=92" },
	{ "RFC 3501 7.4.2 multipart/mixed",
	  /* the RFC folds it over four lines for print */
	  IN("((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 "
	     "23)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") "
	     "\"<960723163407.20117h@cac.washington.edu>\" \"Compiler diff\" "
	     "\"BASE64\" 4554 73) \"MIXED\")"),
	  NULL /* not one line: see test_real */ },
	{ "Dovecot: a plain text message",
	  IN("(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 32 2 NIL NIL NIL NIL)"),
	  "1 text/plain (charset=us-ascii) enc=7bit size=32 lines=2" },
	{ "Dovecot: multipart/alternative with charsets",
	  IN("((\"text\" \"plain\" (\"charset\" \"utf-8\" \"format\" \"flowed\") NIL NIL "
	     "\"quoted-printable\" 37 1 NIL NIL NIL NIL)(\"text\" \"html\" (\"charset\" "
	     "\"ISO-8859-1\") NIL NIL \"8bit\" 17 0 NIL NIL NIL NIL) \"alternative\" "
	     "(\"boundary\" \"b1\") NIL NIL NIL)"),
	  "top multipart/alternative (boundary=b1)\n"
	  "1 text/plain (charset=utf-8 format=flowed) enc=quoted-printable size=37 lines=1\n"
	  "2 text/html (charset=ISO-8859-1) enc=8bit size=17 lines=0" },
	{ "Dovecot: multipart/mixed, base64 attachments with RFC 2231 file names",
	  IN("((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 24 0 NIL NIL NIL NIL)"
	     "(\"application\" \"pdf\" (\"name\" \"=?UTF-8?Q?facture_=C3=A9t=C3=A9.pdf?=\") NIL NIL "
	     "\"base64\" 20 NIL (\"attachment\" (\"size\" \"12\" \"filename*\" "
	     "\"UTF-8''facture%20%C3%A9t%C3%A9.pdf\")) NIL NIL)(\"image\" \"png\" NIL NIL NIL "
	     "\"base64\" 12 NIL (\"inline\" (\"filename*\" \"UTF-8''%E2%82%AC.png\")) NIL NIL) "
	     "\"mixed\" (\"boundary\" \"outer\") NIL NIL NIL)"),
	  "top multipart/mixed (boundary=outer)\n"
	  "1 text/plain (charset=us-ascii) enc=7bit size=24 lines=0\n"
	  "2 application/pdf (name==?UTF-8?Q?facture_=C3=A9t=C3=A9.pdf?=) enc=base64 size=20 "
	  "dsp=attachment (size=12 filename*=UTF-8''facture%20%C3%A9t%C3%A9.pdf)\n"
	  "3 image/png enc=base64 size=12 dsp=inline (filename*=UTF-8''%E2%82%AC.png)" },
	{ "Dovecot: a forward (message/rfc822 holding a multipart, a literal subject)",
	  IN("((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 0 NIL NIL NIL NIL)"
	     "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 391 (\"Mon, 1 Jan 2024 12:00:00 +0000\" "
	     "{13}\r\nInv\xc3\xb6" "ice \"Q1\" ((\"Alice\" NIL \"alice\" \"example.org\")) "
	     "((\"Alice\" NIL \"alice\" \"example.org\")) ((\"Alice\" NIL \"alice\" \"example.org\")) "
	     "((NIL NIL \"bob\" \"example.org\")) NIL NIL NIL \"<inner@example.org>\") "
	     "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 0 NIL NIL NIL NIL)"
	     "(\"application\" \"octet-stream\" (\"name\" \"a.bin\") NIL NIL \"base64\" 4 NIL NIL NIL NIL) "
	     "\"mixed\" (\"boundary\" \"in\") NIL NIL NIL) 18 NIL (\"inline\" NIL) NIL NIL)"
	     "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 59 (NIL \"Hello\" "
	     "((\"Dan\" NIL \"dan\" \"example.org\")) ((\"Dan\" NIL \"dan\" \"example.org\")) "
	     "((\"Dan\" NIL \"dan\" \"example.org\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" "
	     "(\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 1 NIL NIL NIL NIL) 4 NIL NIL NIL NIL) "
	     "\"mixed\" (\"boundary\" \"fw\") NIL NIL NIL)"),
	  "top multipart/mixed (boundary=fw)\n"
	  "1 text/plain (charset=us-ascii) enc=7bit size=10 lines=0\n"
	  "2 message/rfc822 enc=7bit size=391 lines=18 dsp=inline subj=Inv\\xc3\\xb6ice \"Q1\"\n"
	  "2 multipart/mixed (boundary=in)\n"
	  "2.1 text/plain (charset=us-ascii) enc=7bit size=12 lines=0\n"
	  "2.2 application/octet-stream (name=a.bin) enc=base64 size=4\n"
	  "3 message/rfc822 enc=7bit size=59 lines=4 subj=Hello\n"
	  "3.1 text/plain (charset=us-ascii) enc=7bit size=12 lines=1" },
	{ "Dovecot: nested multiparts",
	  IN("(((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 2 0 NIL NIL NIL NIL)"
	     "((\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 32 0 NIL NIL NIL NIL)"
	     "(\"image\" \"gif\" NIL \"<logo@x>\" NIL \"base64\" 20 NIL NIL NIL NIL) \"related\" "
	     "(\"boundary\" \"l3\" \"type\" \"text/html\") NIL NIL NIL) \"alternative\" "
	     "(\"boundary\" \"l2\") NIL NIL NIL)(\"text\" \"csv\" (\"name\" \"data.csv\" \"charset\" "
	     "\"us-ascii\") NIL NIL \"7bit\" 8 1 NIL (\"attachment\" (\"filename\" \"data.csv\")) "
	     "NIL NIL) \"mixed\" (\"boundary\" \"l1\") NIL NIL NIL)"),
	  "top multipart/mixed (boundary=l1)\n"
	  "1 multipart/alternative (boundary=l2)\n"
	  "1.1 text/plain (charset=utf-8) enc=7bit size=2 lines=0\n"
	  "1.2 multipart/related (boundary=l3 type=text/html)\n"
	  "1.2.1 text/html (charset=utf-8) enc=7bit size=32 lines=0\n"
	  "1.2.2 image/gif id=<logo@x> enc=base64 size=20\n"
	  "2 text/csv (name=data.csv charset=us-ascii) enc=7bit size=8 lines=1 "
	  "dsp=attachment (filename=data.csv)" },
	{ "Dovecot: Content-Language, Content-Location, MD5, id, description",
	  IN("((\"text\" \"plain\" (\"charset\" \"us-ascii\") \"<a@example.org>\" \"The text\" "
	     "\"7bit\" 7 0 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" NIL (\"en\" \"fr\") "
	     "\"http://example.org/a.txt\")(\"audio\" \"basic\" NIL NIL NIL \"base64\" 4 NIL "
	     "(\"attachment\" NIL) (\"de\") \"song.au\") \"mixed\" (\"boundary\" \"e\") NIL "
	     "(\"en\") NIL)"),
	  "top multipart/mixed (boundary=e)\n"
	  "1 text/plain (charset=us-ascii) id=<a@example.org> desc=The text enc=7bit size=7 lines=0\n"
	  "2 audio/basic enc=base64 size=4 dsp=attachment" },
};

static void test_real(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(real); i++)
		check_accepted(real[i].name, real[i].text, real[i].len, real[i].outline ? real[i].outline :
		               "top multipart/mixed\n"
		               "1 text/plain (CHARSET=US-ASCII) enc=7bit size=1152 lines=23\n"
		               "2 text/plain (CHARSET=US-ASCII NAME=cc.diff) "
		               "id=<960723163407.20117h@cac.washington.edu> desc=Compiler diff "
		               "enc=base64 size=4554 lines=73");
}

/* --- part numbers (RFC 3501 §6.4.5) ------------------------------------- */

#define TP(size) "(\"text\" \"plain\" NIL NIL NIL \"7bit\" " #size " 1)"
#define ENV(subj) "(NIL \"" subj "\" NIL NIL NIL NIL NIL NIL NIL NIL)"

static const struct good numbering[] = {
	/* the example of RFC 3501 §6.4.5, part for part */
	{ "RFC 3501 6.4.5",
	  IN("(" TP(1) "(\"application\" \"octet-stream\" NIL NIL NIL \"base64\" 2)"
	     "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 3 " ENV("m3") " (" TP(31)
	     "(\"application\" \"octet-stream\" NIL NIL NIL \"base64\" 32) \"mixed\") 9)"
	     "((\"image\" \"gif\" NIL NIL NIL \"base64\" 41)"
	     "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 42 " ENV("m42") " (" TP(421)
	     "(" TP(4221) "(\"text\" \"richtext\" NIL NIL NIL \"7bit\" 4222 1) \"alternative\") "
	     "\"mixed\") 9) \"mixed\") \"mixed\")"),
	  "top multipart/mixed\n"
	  "1 text/plain enc=7bit size=1 lines=1\n"
	  "2 application/octet-stream enc=base64 size=2\n"
	  "3 message/rfc822 enc=7bit size=3 lines=9 subj=m3\n"
	  "3 multipart/mixed\n"
	  "3.1 text/plain enc=7bit size=31 lines=1\n"
	  "3.2 application/octet-stream enc=base64 size=32\n"
	  "4 multipart/mixed\n"
	  "4.1 image/gif enc=base64 size=41\n"
	  "4.2 message/rfc822 enc=7bit size=42 lines=9 subj=m42\n"
	  "4.2 multipart/mixed\n"
	  "4.2.1 text/plain enc=7bit size=421 lines=1\n"
	  "4.2.2 multipart/alternative\n"
	  "4.2.2.1 text/plain enc=7bit size=4221 lines=1\n"
	  "4.2.2.2 text/richtext enc=7bit size=4222 lines=1" },
	{ "a message/rfc822 at the top, text inside",
	  IN("(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 3 " ENV("s") " " TP(11) " 9)"),
	  "1 message/rfc822 enc=7bit size=3 lines=9 subj=s\n"
	  "1.1 text/plain enc=7bit size=11 lines=1" },
	{ "a message/rfc822 at the top, a multipart inside",
	  IN("(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 3 " ENV("s") " (" TP(11) TP(12)
	     " \"mixed\") 9)"),
	  "1 message/rfc822 enc=7bit size=3 lines=9 subj=s\n"
	  "1 multipart/mixed\n"
	  "1.1 text/plain enc=7bit size=11 lines=1\n"
	  "1.2 text/plain enc=7bit size=12 lines=1" },
	{ "a message/rfc822 in a message/rfc822",
	  IN("(" TP(1) "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 2 " ENV("outer")
	     " (\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 21 " ENV("inner") " " TP(211)
	     " 8) 9) \"mixed\")"),
	  "top multipart/mixed\n"
	  "1 text/plain enc=7bit size=1 lines=1\n"
	  "2 message/rfc822 enc=7bit size=2 lines=9 subj=outer\n"
	  "2.1 message/rfc822 enc=7bit size=21 lines=8 subj=inner\n"
	  "2.1.1 text/plain enc=7bit size=211 lines=1" },
	{ "a multipart holding only a multipart",
	  IN("((" TP(11) TP(12) " \"alternative\") \"mixed\")"),
	  "top multipart/mixed\n"
	  "1 multipart/alternative\n"
	  "1.1 text/plain enc=7bit size=11 lines=1\n"
	  "1.2 text/plain enc=7bit size=12 lines=1" },
	{ "an image alone",
	  IN("(\"image\" \"png\" NIL NIL NIL \"base64\" 5 NIL NIL NIL NIL)"),
	  "1 image/png enc=base64 size=5" },
};

static void test_numbering(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(numbering); i++)
		check_accepted(numbering[i].name, numbering[i].text, numbering[i].len,
		               numbering[i].outline);
}

static void test_find(void **state)
{
	struct bs_part *root, *single;
	char reason[128];
	static const char *const none[] = {
		"0", "01", "1.", ".1", "1..1", "5", "1.1", "3.3", "4.3", "4.2.3", "4.2.2.1.1",
		"1a", "-1", " 1", "4.0", "18446744073709551617", "3.1.1",
	};

	(void)state;
	assert_int_equal(bs_parse(numbering[0].text, numbering[0].len, &root, reason,
	                          sizeof(reason)), 0);
	assert_ptr_equal(bs_find(root, ""), root);
	assert_string_equal(bs_find(root, "3")->type, "message");
	assert_string_equal(bs_find(root, "3")->subject, "m3");
	assert_int_equal(bs_find(root, "4.2.2.2")->size, 4222);
	assert_int_equal(bs_find(root, "3.2")->size, 32);
	for (size_t i = 0; i < ARRAY_SIZE(none); i++) {
		if (bs_find(root, none[i]))
			printf("    found %s\n", none[i]);
		assert_null(bs_find(root, none[i]));
	}
	assert_null(bs_find(root, NULL));

	assert_int_equal(bs_parse(IN(TP(7)), &single, reason, sizeof(reason)), 0);
	assert_ptr_equal(bs_find(single, "1"), single);
	assert_null(bs_find(single, ""));   /* not multipart: no "" */
	assert_null(bs_find(single, "2"));
	assert_null(bs_find(single, "1.1"));
	bs_free(single);
	bs_free(root);
}

static void test_walk_stops(void **state)
{
	struct bs_part *root;
	struct walk w = { 0 };

	(void)state;
	assert_int_equal(bs_parse(numbering[0].text, numbering[0].len, &root, NULL, 0), 0);
	w.root = root;
	w.stop_after = 4;
	assert_int_equal(bs_walk(root, walk_cb, &w), 7);
	assert_int_equal(w.nparts, 4);
	assert_string_equal(w.out.s, "top multipart/mixed\n"
	                    "1 text/plain enc=7bit size=1 lines=1\n"
	                    "2 application/octet-stream enc=base64 size=2\n"
	                    "3 message/rfc822 enc=7bit size=3 lines=9 subj=m3");
	free(w.out.s);
	bs_free(root);
}

/* --- what real servers deviate with -------------------------------------- */

static const struct good lenient[] = {
	{ "atoms for strings, lower-case nil",
	  IN("(TEXT PLAIN (CHARSET US-ASCII) nil Nil 7BIT 3028 92)"),
	  "1 text/plain (CHARSET=US-ASCII) enc=7bit size=3028 lines=92" },
	{ "numbers as strings",
	  IN("(\"text\" \"plain\" NIL NIL NIL \"7bit\" \"3028\" \"92\")"),
	  "1 text/plain enc=7bit size=3028 lines=92" },
	{ "text without its line count",
	  IN("(\"text\" \"plain\" NIL NIL NIL \"7bit\" 10)"),
	  "1 text/plain enc=7bit size=10 lines=0" },
	{ "NIL line count, then extension data",
	  IN("(\"text\" \"plain\" NIL NIL NIL \"7bit\" 10 NIL NIL (\"inline\" NIL))"),
	  "1 text/plain enc=7bit size=10 lines=0 dsp=inline" },
	{ "NIL encoding, an empty parameter list, a NIL parameter value",
	  IN("((\"image\" \"png\" () NIL NIL NIL 10)(\"application\" \"x\" (\"name\" NIL) NIL NIL "
	     "\"BASE64\" 1) \"MIXED\" (\"BOUNDARY\" \"b\"))"),
	  "top multipart/mixed (BOUNDARY=b)\n"
	  "1 image/png size=10\n"
	  "2 application/x (name=) enc=base64 size=1" },
	{ "Exchange: a multipart with NIL for its parts, in a message/rfc822",
	  /* as in MailKit issue 1393 */
	  IN("((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 727 16 NIL NIL NIL NIL)"
	     "(\"message\" \"delivery-status\" (\"name\" \"Delivery status\") NIL NIL \"7bit\" 416 "
	     "NIL NIL NIL NIL)(\"message\" \"rfc822\" (\"name\" \"Message headers\") NIL NIL "
	     "\"7bit\" 903 (\"Mon, 17 Nov 2014 13:29:21 +0100\" \"Re: Adresy\" ((\"u\" NIL \"e.u\" "
	     "\"example.com\")) NIL NIL NIL ((NIL NIL \"s\" \"x.eu\")(\"B\" NIL \"b\" \"x.eu\")) NIL "
	     "\"<1@x>\" \"<2@y>\") (NIL \"alternative\" (\"boundary\" \"Apple-Mail=_35\") NIL NIL NIL) "
	     "17 NIL NIL NIL NIL) \"report\" (\"report-type\" \"delivery-status\" \"boundary\" "
	     "\"_e0\") NIL NIL NIL)"),
	  "top multipart/report (report-type=delivery-status boundary=_e0)\n"
	  "1 text/plain (charset=utf-8) enc=7bit size=727 lines=16\n"
	  "2 message/delivery-status (name=Delivery status) enc=7bit size=416\n"
	  "3 message/rfc822 (name=Message headers) enc=7bit size=903 lines=17 subj=Re: Adresy\n"
	  "3 multipart/alternative (boundary=Apple-Mail=_35)" },
	{ "Exchange: a description where the multipart disposition is due",
	  /* as in javaee/javamail issue 278 */
	  IN("((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)"
	     "(\"application\" \"octet-stream\" (\"name\" \"M.txt\") NIL NIL \"base64\" 171724 NIL "
	     "(\"attachment\" (\"filename\" \"M.txt\")) NIL NIL) \"mixed\" (\"boundary\" \"--=_P\") "
	     "\"S/MIME Encrypted Message\" NIL)"),
	  "top multipart/mixed (boundary=--=_P)\n"
	  "1 text/plain (charset=us-ascii) enc=7bit size=0 lines=0\n"
	  "2 application/octet-stream (name=M.txt) enc=base64 size=171724 dsp=attachment "
	  "(filename=M.txt)" },
	{ "Exchange: a bare string as a part's disposition",
	  /* as in MailKit issue 919 */
	  IN("(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"ISO-8859-1\") NIL NIL \"QUOTED-PRINTABLE\" 850 31 "
	     "NIL \"inline\" NIL NIL)"),
	  "1 text/plain (CHARSET=ISO-8859-1) enc=quoted-printable size=850 lines=31" },
	{ "a list where the MD5 is due",
	  /* as in libetpan issue 217 */
	  IN("((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"GB2312\") NIL NIL NIL 0 0 (\"BOUNDARY\" \"=002\") "
	     "NIL NIL) \"RELATED\" (\"BOUNDARY\" \"=002\") NIL NIL)"),
	  "top multipart/related (BOUNDARY==002)\n"
	  "1 text/plain (CHARSET=GB2312) size=0 lines=0" },
	{ "message/rfc822 sent as a basic part",
	  IN("(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 100 NIL (\"attachment\" (\"filename\" "
	     "\"f.eml\")) NIL NIL)"),
	  "1 message/rfc822 enc=7bit size=100 dsp=attachment (filename=f.eml)" },
	{ "message/rfc822 sent as a basic part without extension data",
	  IN("(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 100)"),
	  "1 message/rfc822 enc=7bit size=100" },
	{ "message/global (RFC 9051) with its envelope and body",
	  IN("(\"message\" \"global\" NIL NIL NIL \"8bit\" 100 (NIL {7}\r\n\xc3\xa9t\xc3\xa9 x NIL NIL NIL "
	     "NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 5 1) 6)"),
	  "1 message/global enc=8bit size=100 lines=6 subj=\\xc3\\xa9t\\xc3\\xa9 x\n"
	  "1.1 text/plain (charset=utf-8) enc=8bit size=5 lines=1" },
	{ "message/rfc822 without its line count, NIL subject, short envelope",
	  IN("(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 100 (NIL NIL) " TP(1) ")"),
	  "1 message/rfc822 enc=7bit size=100 lines=0\n"
	  "1.1 text/plain enc=7bit size=1 lines=1" },
	{ "a disposition without parameters; extension data beyond the location",
	  IN("((\"image\" \"png\" NIL NIL NIL \"base64\" 1 NIL (\"ATTACHMENT\") \"en\" \"loc\" "
	     "(1 (2 \"x\" (NIL)) NIL) 7 {3}\r\na\r\n)\"mixed\" NIL (\"inline\" (\"a\" \"b\")) NIL NIL "
	     "((())) x)"),
	  "top multipart/mixed dsp=inline (a=b)\n"
	  "1 image/png enc=base64 size=1 dsp=attachment" },
	{ "the largest size, odd strings",
	  IN("(\"application\" \"x-\\\"odd\\\\\" (\"name*0*\" {5}\r\n\"\\\r\n\x01 \"n\" \"\") "
	     "\"\" {4}\r\n\x80\xff\t\x7f \"X-UUENCODE\" 18446744073709551615 NIL "
	     "(\"a\" (\"b\" \"\\\\\\\"\")))"),
	  "1 application/x-\"odd\\ (name*0*=\"\\\\x0d\\x0a\\x01 n=) id= desc=\\x80\\xff\\x09\\x7f "
	  "enc=x-uuencode size=18446744073709551615 dsp=a (b=\\\")" },
};

static void test_lenient(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(lenient); i++)
		check_accepted(lenient[i].name, lenient[i].text, lenient[i].len, lenient[i].outline);
}

/* --- refused ------------------------------------------------------------- */

struct bad {
	const char *name;
	const char *text;
	size_t len;
	const char *reason;     /* a substring of what bs_error() says */
};

static const struct bad refused[] = {
	{ "empty input", IN(""), "no body" },
	{ "only spaces", IN("   "), "no body" },
	{ "NIL body", IN("NIL"), "the body is NIL" },
	{ "a string, not a body", IN("\"text\""), "a body is not a list" },
	{ "empty body", IN("()"), "empty body" },
	{ "unclosed", IN("(\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1"), "ends too early" },
	{ "unclosed extension list",
	  IN("(\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1 NIL NIL (\"en\""), "ends too early" },
	{ "one ')' too many", IN("(\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1))"), "unbalanced" },
	{ "trailing atom", IN("(\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1) NIL"),
	  "tokens after the end" },
	{ "trailing list", IN("(\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1)(\"x\")"),
	  "tokens after the end" },
	{ "trailing CRLF", IN("(\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1)\r\n"),
	  "tokens after the end" },
	{ "CRLF inside", IN("(\"text\"\r\n\"plain\")"), "end of line inside a list" },
	{ "a control character", IN("(\"text\" \x01)"), "control character" },
	/* NIL first is a multipart without parts, whose subtype is then NIL */
	{ "NIL type", IN("(NIL NIL NIL NIL NIL \"7bit\" 1)"), "multipart subtype is NIL" },
	{ "empty type", IN("(\"\" \"plain\" NIL NIL NIL \"7bit\" 1)"), "NIL or empty" },
	{ "NIL subtype", IN("(\"text\" NIL NIL NIL NIL \"7bit\" 1)"), "subtype" },
	{ "no subtype", IN("(\"text\")"), "subtype" },
	{ "a list as subtype", IN("(\"text\" (\"plain\"))"), "subtype" },
	{ "no body fields", IN("(\"image\" \"png\" NIL NIL)"), "body fields incomplete" },
	{ "no size", IN("(\"image\" \"png\" NIL NIL NIL \"base64\")"), "body fields incomplete" },
	{ "size overflows 64 bits",
	  IN("(\"image\" \"png\" NIL NIL NIL \"base64\" 18446744073709551616)"), "number too large" },
	{ "lines overflow 64 bits",
	  IN("(\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 99999999999999999999999)"),
	  "number too large" },
	{ "negative size", IN("(\"image\" \"png\" NIL NIL NIL \"base64\" -1)"), "size is not a number" },
	{ "NIL size", IN("(\"image\" \"png\" NIL NIL NIL \"base64\" NIL)"), "size is not a number" },
	{ "empty size", IN("(\"image\" \"png\" NIL NIL NIL \"base64\" \"\")"), "size is not a number" },
	{ "size with a letter", IN("(\"image\" \"png\" NIL NIL NIL \"base64\" 12a)"),
	  "size is not a number" },
	{ "lines a list", IN("(\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 (1))"), "lines are not" },
	{ "odd parameter list", IN("(\"text\" \"plain\" (\"charset\") NIL NIL \"7bit\" 1 1)"),
	  "odd parameter list" },
	{ "odd disposition parameters",
	  IN("(\"image\" \"png\" NIL NIL NIL \"base64\" 1 NIL (\"attachment\" (\"a\" \"b\" \"c\")))"),
	  "odd parameter list" },
	{ "NIL parameter name", IN("(\"text\" \"plain\" (NIL \"x\") NIL NIL \"7bit\" 1 1)"),
	  "parameter name is NIL" },
	{ "a list in a parameter list",
	  IN("(\"text\" \"plain\" ((\"a\") \"b\") NIL NIL \"7bit\" 1 1)"), "a list inside" },
	{ "parameters a string", IN("(\"text\" \"plain\" \"charset\" NIL NIL \"7bit\" 1 1)"),
	  "body parameters are not a list" },
	{ "multipart parameters a string", IN("(" TP(1) " \"mixed\" \"boundary\")"),
	  "multipart parameters are not a list" },
	{ "disposition parameters a string",
	  IN("(\"image\" \"png\" NIL NIL NIL \"base64\" 1 NIL (\"attachment\" \"filename\"))"),
	  "disposition parameters are not a list" },
	{ "disposition with more",
	  IN("(\"image\" \"png\" NIL NIL NIL \"base64\" 1 NIL (\"attachment\" NIL NIL))"),
	  "more than a type and parameters" },
	{ "empty disposition", IN("(\"image\" \"png\" NIL NIL NIL \"base64\" 1 NIL ())"),
	  "disposition type" },
	{ "id a list", IN("(\"image\" \"png\" NIL (\"x\") NIL \"base64\" 1)"), "is a list" },
	{ "encoding a list", IN("(\"image\" \"png\" NIL NIL NIL (\"base64\") 1)"), "encoding is a list" },
	{ "multipart without a subtype", IN("(" TP(1) ")"), "multipart without a subtype" },
	{ "multipart with a NIL subtype", IN("(" TP(1) " NIL)"), "multipart subtype" },
	{ "a part after NIL parts", IN("(NIL " TP(1) " \"mixed\")"), "a part after NIL parts" },
	{ "multipart as a single part (javamail issue 282)",
	  IN("(\"multipart\" \"signed\" (\"boundary\" \"_9b\") NIL NIL \"7BIT\" -1 NIL NIL NIL NIL)"),
	  "a multipart sent as a single part" },
	{ "message/rfc822 without its body",
	  IN("(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 10 " ENV("s") " 5)"),
	  "message/rfc822 without its body" },
	{ "message/rfc822 with NIL body",
	  IN("(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 10 " ENV("s") " NIL 5)"),
	  "message/rfc822 without its body" },
	{ "envelope subject a list",
	  IN("(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 10 (NIL (\"s\")) " TP(1) " 5)"),
	  "envelope subject is a list" },
	{ "unbalanced envelope",
	  IN("(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 10 (NIL \"s\" ((NIL NIL \"a\" \"b\") "
	     TP(1) " 5)"), "ends too early" },
	{ "NUL in a literal", IN("(\"image\" \"png\" (\"name\" {3}\r\na\0b) NIL NIL \"base64\" 1)"),
	  "NUL in a string" },
	{ "NUL in a subject literal",
	  IN("(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 10 (NIL {1}\r\n\0) " TP(1) " 5)"),
	  "NUL in a string" },
	/* the tokenizer gives one atom for "[x]" (as for BODY[...]): a
	 * subtype, and then the fields are missing */
	{ "brackets", IN("(\"text\" [x])"), "body fields incomplete" },
};

static void check_refused(const struct bad *c)
{
	struct bs_part *root = (struct bs_part *)&root;
	char reason[256] = "";
	char reason2[256];
	int r;

	printf("    %s\n", c->name);
	r = bs_parse(c->text, c->len, &root, reason, sizeof(reason));
	if (r != -EINVAL || !strstr(reason, c->reason))
		printf("    %s: %d %s\n", c->name, r, reason);
	assert_int_equal(r, -EINVAL);
	assert_null(root);
	assert_non_null(strstr(reason, c->reason));
	assert_int_equal(parse_bytewise(c->text, c->len, true, &root, reason2, sizeof(reason2)),
	                 -EINVAL);
	assert_null(root);
	if (!strstr(reason2, c->reason))
		printf("    %s: byte by byte: %s\n", c->name, reason2);
	assert_non_null(strstr(reason2, c->reason));
}

static void test_refused(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++)
		check_refused(&refused[i]);
}

/* --- hostile sizes ------------------------------------------------------- */

static char *repeat(const char *head, const char *unit, size_t n, const char *tail, size_t *len_r)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *s = malloc(hl + ul * n + tl + 1), *p = s;

	assert_non_null(s);
	memcpy(p, head, hl);
	p += hl;
	for (size_t i = 0; i < n; i++, p += ul)
		memcpy(p, unit, ul);
	memcpy(p, tail, tl);
	p += tl;
	*p = '\0';
	*len_r = (size_t)(p - s);
	return s;
}

/* N nested multiparts around one text part: "(" x N, the part, then
 * ' "mixed")' x N. */
static char *nested(size_t n, size_t *len_r)
{
	size_t a, b;
	char *open = repeat("", "(", n, TP(1), &a);
	char *close = repeat("", " \"mixed\")", n, "", &b);
	char *s = malloc(a + b + 1);

	assert_non_null(s);
	memcpy(s, open, a);
	memcpy(s + a, close, b + 1);
	free(open);
	free(close);
	*len_r = a + b;
	return s;
}

static void expect_refused(const char *name, const char *text, size_t len, const char *why)
{
	struct bad c = { name, text, len, why };

	check_refused(&c);
}

static void test_deep(void **state)
{
	struct bs_part *root;
	size_t len;
	char *s;

	(void)state;
	/* 10,000 nested multiparts: refused at BS_MAX_DEPTH */
	s = nested(10000, &len);
	expect_refused("10,000 nested multiparts", s, len, "nested more than 32 deep");
	free(s);

	/* the deepest tree taken: 31 multiparts and a text part, 32 levels */
	s = nested(BS_MAX_DEPTH - 1, &len);
	assert_int_equal(bs_parse(s, len, &root, NULL, 0), 0);
	{
		char section[BS_SECTION_MAX];
		const struct bs_part *p = root;

		section[0] = '\0';
		for (int i = 0; i < BS_MAX_DEPTH - 1; i++)
			strcat(section, i ? ".1" : "1");
		for (int i = 0; i < BS_MAX_DEPTH - 1; i++)
			p = &p->kids[0];
		assert_ptr_equal(bs_find(root, section), p);
		assert_string_equal(p->type, "text");
	}
	{
		struct sb e = { 0 };
		char section[BS_SECTION_MAX] = "";

		for (int i = 0; i < BS_MAX_DEPTH; i++) {
			if (i)
				sb_str(&e, "\n");
			sb_str(&e, i ? section : "top");
			sb_str(&e, i < BS_MAX_DEPTH - 1 ? " multipart/mixed" :
			       " text/plain enc=7bit size=1 lines=1");
			strcat(section, i ? ".1" : "1");
		}
		check_accepted("32 levels", s, len, e.s);
		free(e.s);
	}
	bs_free(root);
	free(s);
	s = nested(BS_MAX_DEPTH, &len);
	expect_refused("33 levels", s, len, "nested more than 32 deep");
	free(s);

	/* nested messages: a message/rfc822 in each */
	{
		const char *unit = "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 1 " ENV("s") " ";
		char *open = repeat("", unit, 10000, TP(1), &len);
		char *close = repeat(open, " 1)", 10000, "", &len);

		expect_refused("10,000 nested messages", close, len, "nested more than 32 deep");
		free(open);
		free(close);
	}

	/* lists nested past the tokenizer's depth in extension data */
	{
		char *open = repeat("(\"image\" \"png\" NIL NIL NIL \"base64\" 1 NIL NIL NIL NIL ", "(",
		                    10000, "", &len);

		expect_refused("10,000 nested extension lists", open, len, "nested too deeply");
		free(open);
	}
}

static void test_many_parts(void **state)
{
	struct bs_part *root;
	size_t len;
	char *s;

	(void)state;
	s = repeat("(", TP(1), 20000, " \"mixed\")", &len);
	expect_refused("20,000 parts", s, len, "more than 10000 parts");
	free(s);

	/* a multipart and 9,999 parts: exactly BS_MAX_PARTS */
	s = repeat("(", TP(1), BS_MAX_PARTS - 1, " \"mixed\")", &len);
	assert_int_equal(bs_parse(s, len, &root, NULL, 0), 0);
	assert_int_equal(root->nkids, BS_MAX_PARTS - 1);
	assert_non_null(bs_find(root, "9999"));
	assert_null(bs_find(root, "10000"));
	{
		char *f = bs_format(root);
		struct bs_part *again;

		assert_non_null(f);
		assert_int_equal(bs_parse(f, strlen(f), &again, NULL, 0), 0);
		assert_true(tree_eq(root, again));
		bs_free(again);
		free(f);
	}
	bs_free(root);
	free(s);

	/* one more, two levels down */
	s = repeat("((", TP(1), BS_MAX_PARTS - 1, " \"mixed\") \"mixed\")", &len);
	expect_refused("10,001 parts", s, len, "more than 10000 parts");
	free(s);
}

/* BS_MAX_PARAMS parameters are taken, one more is not; in a Content-Type
 * and in a disposition. */
static void test_params_bound(void **state)
{
	struct bs_part *root;
	size_t len;
	char *s;

	(void)state;
	s = repeat("(\"text\" \"plain\" (", "\"n\" \"v\" ", BS_MAX_PARAMS, ") NIL NIL NIL 0 0)",
	           &len);
	assert_int_equal(bs_parse(s, len, &root, NULL, 0), 0);
	assert_int_equal(root->nparams, BS_MAX_PARAMS);
	bs_free(root);
	{
		char *e = repeat("1 text/plain (", "n=v ", BS_MAX_PARAMS - 1, "n=v) size=0 lines=0",
		                 &len);

		check_accepted("64 parameters", s, strlen(s), e);
		free(e);
	}
	free(s);
	s = repeat("(\"text\" \"plain\" (", "\"n\" \"v\" ", BS_MAX_PARAMS + 1,
	           ") NIL NIL NIL 0 0)", &len);
	expect_refused("65 parameters", s, len, "more than 64 parameters");
	free(s);
	s = repeat("(\"image\" \"png\" NIL NIL NIL NIL 0 NIL (\"attachment\" (", "\"n\" \"v\" ",
	           BS_MAX_PARAMS, ")))", &len);
	assert_int_equal(bs_parse(s, len, &root, NULL, 0), 0);
	assert_int_equal(root->ndisp_params, BS_MAX_PARAMS);
	bs_free(root);
	free(s);
	s = repeat("(\"image\" \"png\" NIL NIL NIL NIL 0 NIL (\"attachment\" (", "\"n\" \"v\" ",
	           BS_MAX_PARAMS + 1, ")))", &len);
	expect_refused("65 disposition parameters", s, len, "more than 64 parameters");
	free(s);
}

/* --- the streaming interface --------------------------------------------- */

static struct wire_token tok(enum wire_type type, const char *data)
{
	struct wire_token t = { .type = type, .data = data, .len = data ? strlen(data) : 0 };

	return t;
}

static void test_feed(void **state)
{
	struct bs_parser *bp;
	struct wire_token lp = tok(WIRE_LPAREN, NULL), rp = tok(WIRE_RPAREN, NULL);
	struct wire_token body[] = {
		lp, tok(WIRE_STRING, "image"), tok(WIRE_ATOM, "GIF"), tok(WIRE_ATOM, "NIL"),
		tok(WIRE_ATOM, "NIL"), tok(WIRE_ATOM, "NIL"), tok(WIRE_STRING, "base64"),
		tok(WIRE_ATOM, "12"), rp,
	};
	struct wire_token lit = { .type = WIRE_LITERAL_BEGIN, .size = 3 };
	struct wire_token data = { .type = WIRE_LITERAL_DATA, .data = "abc", .len = 3 };
	struct bs_part *root;

	(void)state;
	bp = bs_parser_new();
	assert_non_null(bp);
	assert_string_equal(bs_error(bp), "no error");
	for (size_t i = 0; i + 1 < ARRAY_SIZE(body); i++) {
		assert_int_equal(bs_feed(bp, &body[i]), 0);
		assert_null(bs_take(bp));
	}
	assert_int_equal(bs_feed(bp, &rp), 1);
	/* nothing may follow, and the tree stays to be taken */
	assert_int_equal(bs_feed(bp, &rp), -EINVAL);
	assert_string_equal(bs_error(bp), "tokens after the end of the body");
	root = bs_take(bp);
	assert_non_null(root);
	assert_null(bs_take(bp));
	assert_string_equal(root->subtype, "gif");
	assert_int_equal(root->size, 12);
	bs_free(root);
	bs_parser_free(bp);

	/* a streamed literal is refused; the error sticks */
	bp = bs_parser_new();
	assert_int_equal(bs_feed(bp, &lp), 0);
	assert_int_equal(bs_feed(bp, &lit), 0);
	assert_int_equal(bs_feed(bp, &data), -EINVAL);
	assert_string_equal(bs_error(bp), "a literal was not accumulated");
	assert_int_equal(bs_feed(bp, &rp), -EINVAL);
	assert_string_equal(bs_error(bp), "a literal was not accumulated");
	assert_null(bs_take(bp));
	bs_parser_free(bp);

	/* a literal of size 0 streamed gives no data: the next token is not
	 * its string */
	bp = bs_parser_new();
	assert_int_equal(bs_feed(bp, &lp), 0);
	lit.size = 0;
	assert_int_equal(bs_feed(bp, &lit), 0);
	assert_int_equal(bs_feed(bp, &rp), -EINVAL);
	assert_string_equal(bs_error(bp), "a literal was not accumulated");
	bs_parser_free(bp);

	/* text-mode tokens are not part of a body */
	bp = bs_parser_new();
	assert_int_equal(bs_feed(bp, &lp), 0);
	data = tok(WIRE_LBRACKET, NULL);
	assert_int_equal(bs_feed(bp, &data), -EINVAL);
	bs_parser_free(bp);

	/* freeing a parser in the middle of a deep body frees it all (ASan) */
	bp = bs_parser_new();
	assert_int_equal(bs_feed(bp, &lp), 0);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(bs_feed(bp, &body[0]), 0);
		for (size_t k = 1; k + 1 < ARRAY_SIZE(body); k++)
			assert_int_equal(bs_feed(bp, &body[k]), 0);
		assert_int_equal(bs_feed(bp, &rp), 0);
	}
	assert_int_equal(bs_feed(bp, &lp), 0);
	assert_int_equal(bs_feed(bp, &body[1]), 0);
	assert_int_equal(bs_feed(bp, &body[2]), 0);
	assert_int_equal(bs_feed(bp, &lp), 0);
	data = tok(WIRE_STRING, "name");
	assert_int_equal(bs_feed(bp, &data), 0);
	bs_parser_free(bp);
	bs_parser_free(NULL);
	bs_free(NULL);
}

/* --- writing -------------------------------------------------------------- */

static void test_format(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92)",
		  "(\"text\" \"plain\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7bit\" 3028 92 NIL NIL)" },
		{ "(\"image\" \"png\" NIL \"<a\\\"b\\\\c>\" NIL NIL 1 NIL (\"inline\" NIL))",
		  "(\"image\" \"png\" NIL \"<a\\\"b\\\\c>\" NIL NIL 1 NIL (\"inline\" NIL))" },
		{ "(\"image\" \"png\" (\"name\" {4}\r\n\xc3\xa9\r\n) NIL NIL NIL 1)",
		  "(\"image\" \"png\" (\"name\" {4}\r\n\xc3\xa9\r\n) NIL NIL NIL 1 NIL NIL)" },
		{ "(NIL \"mixed\")", "(NIL \"mixed\" NIL NIL)" },
		{ "((\"a\" \"b\" NIL NIL NIL NIL 1)(\"a\" \"c\" NIL NIL NIL NIL 2) \"alternative\" "
		  "(\"boundary\" \"x\") (\"inline\" (\"a\" \"\")) (\"en\") \"loc\")",
		  "((\"a\" \"b\" NIL NIL NIL NIL 1 NIL NIL)(\"a\" \"c\" NIL NIL NIL NIL 2 NIL NIL) "
		  "\"alternative\" (\"boundary\" \"x\") (\"inline\" (\"a\" \"\")))" },
		{ "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 3 (\"date\" \"Hi \\\"you\\\"\" NIL NIL "
		  "NIL NIL NIL NIL NIL \"<id>\") (\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1) 9)",
		  "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 3 (NIL \"Hi \\\"you\\\"\" NIL NIL NIL "
		  "NIL NIL NIL NIL NIL) (\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1 NIL NIL) 9 NIL NIL)" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct bs_part *root;
		char reason[128];
		char *out;

		assert_int_equal(bs_parse(cases[i].in, strlen(cases[i].in), &root, reason,
		                          sizeof(reason)), 0);
		out = bs_format(root);
		assert_non_null(out);
		assert_string_equal(out, cases[i].out);
		free(out);
		bs_free(root);
	}
}

/* Trees bs_format() refuses, made by hand as fs/engine/render.c would. */
static void test_format_refuses(void **state)
{
	struct bs_param param = { .name = (char *)"a", .value = NULL };
	struct bs_part kid = { .type = (char *)"text", .subtype = (char *)"plain" };
	struct bs_part two[2] = { kid, kid };
	struct bs_part p;
	struct bs_part *chain;
	char *s;

	(void)state;
	p = (struct bs_part){ .type = (char *)"Text", .subtype = (char *)"plain" };
	errno = 0;
	assert_null(bs_format(&p));
	assert_int_equal(errno, EINVAL);
	p = (struct bs_part){ .type = (char *)"text", .subtype = NULL };
	assert_null(bs_format(&p));
	p = (struct bs_part){ .type = (char *)"text", .subtype = (char *)"plain",
	                      .params = &param, .nparams = 1 };
	assert_null(bs_format(&p));
	p = (struct bs_part){ .type = (char *)"text", .subtype = (char *)"plain",
	                      .kids = &kid, .nkids = 1 };
	assert_null(bs_format(&p));
	p = (struct bs_part){ .type = (char *)"message", .subtype = (char *)"rfc822",
	                      .kids = two, .nkids = 2 };
	assert_null(bs_format(&p));
	p = (struct bs_part){ .type = (char *)"image", .subtype = (char *)"png",
	                      .disp_params = &param, .ndisp_params = 1 };
	assert_null(bs_format(&p));
	assert_null(bs_format(NULL));

	/* a message/rfc822 with one kid is fine */
	p = (struct bs_part){ .type = (char *)"message", .subtype = (char *)"rfc822",
	                      .kids = &kid, .nkids = 1 };
	s = bs_format(&p);
	assert_non_null(s);
	assert_string_equal(s, "(\"message\" \"rfc822\" NIL NIL NIL NIL 0 (NIL NIL NIL NIL NIL "
	                    "NIL NIL NIL NIL NIL) (\"text\" \"plain\" NIL NIL NIL NIL 0 0 NIL NIL) "
	                    "0 NIL NIL)");
	free(s);

	/* 40 levels deep: refused by bs_format(), and bs_walk() says E2BIG */
	chain = calloc(40, sizeof(*chain));
	assert_non_null(chain);
	for (int i = 0; i < 40; i++) {
		chain[i].type = (char *)(i < 39 ? "multipart" : "text");
		chain[i].subtype = (char *)(i < 39 ? "mixed" : "plain");
		if (i < 39) {
			chain[i].kids = &chain[i + 1];
			chain[i].nkids = 1;
		}
	}
	assert_null(bs_format(chain));
	assert_int_equal(errno, EINVAL);
	{
		struct walk w = { .root = chain };

		assert_int_equal(bs_walk(chain, walk_cb, &w), -E2BIG);
		free(w.out.s);
	}
	/* the deepest that is written: 32 levels */
	s = bs_format(&chain[40 - BS_MAX_DEPTH]);
	assert_non_null(s);
	free(s);
	free(chain);
}

static void test_param(void **state)
{
	struct bs_param params[] = {
		{ (char *)"Charset", (char *)"utf-8" },
		{ (char *)"name*", (char *)"UTF-8''a" },
		{ (char *)"name", (char *)"b" },
	};

	(void)state;
	assert_string_equal(bs_param(params, 3, "CHARSET"), "utf-8");
	assert_string_equal(bs_param(params, 3, "charset"), "utf-8");
	assert_string_equal(bs_param(params, 3, "NAME"), "b");
	assert_string_equal(bs_param(params, 3, "name*"), "UTF-8''a");
	assert_null(bs_param(params, 3, "nam"));
	assert_null(bs_param(params, 3, "charsets"));
	assert_null(bs_param(params, 0, "charset"));
	assert_null(bs_param(NULL, 0, "charset"));
}

/* Every allocation that can fail, failing in turn: -ENOMEM or NULL, never a
 * crash or a leak (ASan), and the same tree once nothing fails. */
static void test_out_of_memory(void **state)
{
	const char *text = real[5].text;  /* the forward: literals, envelope, nesting */
	size_t len = real[5].len;
	struct bs_part *root, *good;
	char reason[128];
	long n;

	(void)state;
	assert_int_equal(bs_parse(text, len, &good, NULL, 0), 0);
	for (n = 0;; n++) {
		int r;

		alloc_failed = 0;
		alloc_countdown = n;
		r = bs_parse(text, len, &root, reason, sizeof(reason));
		alloc_countdown = -1;
		if (!alloc_failed) {
			assert_int_equal(r, 0);
			assert_true(tree_eq(root, good));
			bs_free(root);
			break;
		}
		assert_int_equal(r, -ENOMEM);
		assert_null(root);
		assert_string_equal(reason, "out of memory");
	}
	assert_true(n > 20);
	for (long k = 0;; k++) {
		char *s;

		alloc_failed = 0;
		alloc_countdown = k;
		errno = 0;
		s = bs_format(good);
		alloc_countdown = -1;
		if (!alloc_failed) {
			assert_non_null(s);
			free(s);
			break;
		}
		assert_null(s);
		assert_int_equal(errno, ENOMEM);
	}
	bs_free(good);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real),
		cmocka_unit_test(test_numbering),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_walk_stops),
		cmocka_unit_test(test_lenient),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_params_bound),
		cmocka_unit_test(test_deep),
		cmocka_unit_test(test_many_parts),
		cmocka_unit_test(test_feed),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_refuses),
		cmocka_unit_test(test_param),
		cmocka_unit_test(test_out_of_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
