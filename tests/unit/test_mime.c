/* test_mime.c - header fields, RFC 2047 encoded words, dates. */
#include "tests/unit/testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "net/mime.h"

#define FFFD "\xef\xbf\xbd"

/* Strict UTF-8 check, independent of the module's own decoder. */
static int utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		unsigned char c = *p;
		unsigned char lo = 0x80, hi = 0xbf;
		int n, i;

		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			if (c == 0xe0)
				lo = 0xa0;
			if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			if (c == 0xf0)
				lo = 0x90;
			if (c == 0xf4)
				hi = 0x8f;
		} else {
			return 0;
		}
		for (i = 1; i <= n; i++) {
			if (p[i] < lo || p[i] > hi)
				return 0;
			lo = 0x80;
			hi = 0xbf;
		}
		p += n + 1;
	}
	return 1;
}

/* --- mime_header ---------------------------------------------------------- */

struct header_case {
	const char *hdr;
	size_t len;             /* 0: strlen(hdr) */
	const char *name;
	const char *value;      /* NULL: absent */
};

static const struct header_case header_cases[] = {
	{ "Subject: hello\r\nFrom: a@b\r\n\r\nbody\r\n", 0, "Subject", "hello" },
	{ "Subject: hello\r\nFrom: a@b\r\n\r\nbody\r\n", 0, "from", "a@b" },
	{ "SUBJECT: hello\r\n", 0, "subject", "hello" },
	{ "Subject: hello\n", 0, "Subject", "hello" },                 /* LF only */
	{ "Subject: hello", 0, "Subject", "hello" },                   /* no EOL */
	{ "Subject: a\r\n b\r\n\tc\r\nX: y\r\n", 0, "Subject", "a b\tc" },
	{ "Subject: a\n b\n\tc\nX: y\n", 0, "Subject", "a b\tc" },
	{ "Subject:\r\n  folded\r\n", 0, "Subject", "folded" },
	{ "Subject:   spaced   \r\n", 0, "Subject", "spaced" },
	{ "Subject:\r\n", 0, "Subject", "" },
	{ "Subject:", 0, "Subject", "" },
	{ "Subject : obs\r\n", 0, "Subject", "obs" },                  /* WSP before ":" */
	{ "Subject\t: obs\r\n", 0, "Subject", "obs" },
	{ "Subject-Extra: no\r\nSubject: yes\r\n", 0, "Subject", "yes" },
	{ "Subjec: no\r\n", 0, "Subject", NULL },
	{ "Subject: first\r\nSubject: second\r\n", 0, "Subject", "first" },
	{ "X: a\r\n Subject: no\r\nSubject: yes\r\n", 0, "Subject", "yes" },
	{ " Subject: continuation\r\n", 0, "Subject", NULL },
	{ "From: a\r\n\r\nSubject: in the body\r\n", 0, "Subject", NULL },
	{ "From: a\n\nSubject: in the body\n", 0, "Subject", NULL },
	{ "\r\nSubject: in the body\r\n", 0, "Subject", NULL },
	{ "From alice Mon Jan  1 00:00:00 2024\nFrom: a\n", 0, "From", "a" },
	{ "Subject hello\r\n", 0, "Subject", NULL },                   /* no colon */
	{ "Subject: hello world", 11, "Subject", "he" },               /* LEN counts */
	{ "Subject: a\r\n", 10, "Subject", "a" },
	{ "Subject: a\r\n \r\n b\r\n", 0, "Subject", "a  b" },           /* obs WSP line */
	{ "Subject: a\r\n", 0, "", NULL },
	{ "", 0, "Subject", NULL },
	{ "Subject: a\0b\r\n", 14, "Subject", "a b" },                 /* NUL */
	{ "Subject: =?utf-8?Q?x?=\r\n", 0, "Subject", "=?utf-8?Q?x?=" }, /* raw */
};

static void test_header(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(header_cases); i++) {
		const struct header_case *c = &header_cases[i];
		size_t len = c->len ? c->len : strlen(c->hdr);
		char *v;

		errno = 0;
		v = mime_header(c->hdr, len, c->name);
		if (c->value == NULL) {
			if (v != NULL || errno != ENOENT)
				fail_msg("case %zu: expected ENOENT, got \"%s\"", i,
					 v ? v : "NULL");
		} else if (v == NULL || strcmp(v, c->value) != 0) {
			fail_msg("case %zu: expected \"%s\", got \"%s\"", i, c->value,
				 v ? v : "NULL");
		}
		free(v);
	}
}

/* A header block that is not NUL-terminated: nothing is read past LEN. */
static void test_header_unterminated(void **state)
{
	static const char text[] = "X: 1\r\nSubject: edge";
	char *block = malloc(sizeof(text) - 1);
	char *v;

	(void)state;
	assert_non_null(block);
	memcpy(block, text, sizeof(text) - 1);
	v = mime_header(block, sizeof(text) - 1, "Subject");
	assert_non_null(v);
	assert_string_equal(v, "edge");
	free(v);
	free(block);
}

/* --- mime_decode_words ---------------------------------------------------- */

struct words_case {
	const char *in;
	size_t len;             /* 0: strlen(in) */
	const char *out;
};

static const struct words_case words_cases[] = {
	/* RFC 2047 §8, the examples and their display. */
	{ "(=?ISO-8859-1?Q?a?=)", 0, "(a)" },
	{ "(=?ISO-8859-1?Q?a?= b)", 0, "(a b)" },
	{ "(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", 0, "(ab)" },
	{ "(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", 0, "(ab)" },
	{ "(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)", 0, "(ab)" },
	{ "(=?ISO-8859-1?Q?a_b?=)", 0, "(a b)" },
	{ "(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", 0, "(a b)" },
	{ "=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>", 0,
	  "Keith Moore <moore@cs.utk.edu>" },
	{ "=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>", 0,
	  "Keld Jørn Simonsen <keld@dkuug.dk>" },
	{ "=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>", 0,
	  "André Pirard <PIRARD@vm1.ulg.ac.be>" },
	{ "=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n"
	  "    =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=", 0,
	  "If you can read this you understand the example." },
	{ "Nathaniel Borenstein <nsb@thumper.bellcore.com>\r\n"
	  "    (=?iso-8859-8?b?7eXs+SDv4SDp7Oj08A==?=)", 0,
	  "Nathaniel Borenstein <nsb@thumper.bellcore.com>\r\n"
	  "    (םולש ןב ילטפנ)" },
	/* Plain text passes through. */
	{ "", 0, "" },
	{ "plain subject", 0, "plain subject" },
	{ "  spaces  kept  ", 0, "  spaces  kept  " },
	{ "a = b ? c", 0, "a = b ? c" },
	/* B and Q, both cases, UTF-8 and Latin-1. */
	{ "=?utf-8?B?Q2Fmw6k=?=", 0, "Café" },
	{ "=?UTF-8?b?Q2Fmw6k=?=", 0, "Café" },
	{ "=?utf-8?q?caf=C3=A9?=", 0, "café" },
	{ "=?utf-8?Q?caf=c3=a9?=", 0, "café" },
	{ "=?iso-8859-1?q?caf=E9_cr=E8me?=", 0, "café crème" },
	{ "=?utf-8?B?8J+YgA==?=", 0, "😀" },
	{ "=?utf-8?B?Q2Fmw6k?=", 0, "Café" },                 /* no padding */
	{ "=?utf-8?B?QQ?=", 0, "A" },
	{ "=?utf-8?Q?" "?=", 0, "" },                          /* empty text */
	{ "a =?utf-8?Q?" "?= b", 0, "a  b" },
	/* Other charsets through iconv. */
	{ "=?koi8-r?B?8NLJ18XULCDNydI=?=", 0, "Привет, мир" },
	{ "=?iso-2022-jp?B?GyRCRnxLXDhsJE4lRiU5JUgbKEI=?=", 0, "日本語のテスト" },
	{ "=?gb2312?B?1tDOxNPKvP4=?=", 0, "中文邮件" },
	{ "=?big5?B?pKSk5Q==?=", 0, "中文" },
	{ "=?shift_jis?B?k/qWe4zq?=", 0, "日本語" },
	{ "=?iso-8859-7?B?xevr5+3p6tw=?=", 0, "Ελληνικά" },
	{ "=?windows-1252?Q?=80_=93quoted=94?=", 0, "€ “quoted”" },
	{ "=?iso-8859-1?Q?=80?=", 0, "€" },     /* labelled Latin-1, really 1252 */
	{ "=?koi8-r?B?8NLJ18XU?= =?iso-2022-jp?B?GyRCRnxLXBsoQg==?= "
	  "=?utf-8?Q?=E2=82=AC?=", 0, "Привет日本€" },
	{ "=?koi8-r?B?8NLJ18XU?= - =?gb2312?B?1tDOxA==?=", 0, "Привет - 中文" },
	/* A character split between two words: the bytes are joined first. */
	{ "=?utf-8?B?5pc=?= =?utf-8?B?peacrA==?=", 0, "日本" },
	{ "=?UTF-8?B?8A==?==?utf-8?B?n5iA?=", 0, "😀" },
	{ "=?utf-8?Q?=E6=97?=\r\n =?utf-8?B?peacrA==?=", 0, "日本" },
	{ "=?gb2312?B?1g==?= =?gb2312?B?0M7E?=", 0, "中文" },
	/* ... but not across text, nor across charsets. */
	{ "=?utf-8?B?5pc=?= x =?utf-8?B?peacrA==?=", 0, FFFD " x " FFFD "本" },
	{ "=?utf-8?B?5pc=?= =?utf8?B?peacrA==?=", 0, FFFD FFFD "本" },
	/* Undecodable words stay as they are, and so does the space next to
	 * them. */
	{ "=?utf-8?B?###?=", 0, "=?utf-8?B?###?=" },
	{ "=?x?Q?a", 0, "=?x?Q?a" },
	{ "=?utf-8?Q?a", 0, "=?utf-8?Q?a" },
	{ "=?utf-8?Q?a?", 0, "=?utf-8?Q?a?" },
	{ "=?utf-8?X?a?=", 0, "=?utf-8?X?a?=" },
	{ "=?utf-8?QQ?a?=", 0, "=?utf-8?QQ?a?=" },
	{ "=??Q?a?=", 0, "=??Q?a?=" },
	{ "=?utf-8?Q?a b?=", 0, "=?utf-8?Q?a b?=" },
	{ "=?utf-8?Q?a?b?=", 0, "=?utf-8?Q?a?b?=" },
	{ "=?utf-8?B?Q?=", 0, "=?utf-8?B?Q?=" },               /* 6 dangling bits */
	{ "=?utf-8?B?QQ==QQ==?=", 0, "=?utf-8?B?QQ==QQ==?=" }, /* data after "=" */
	{ "=?utf-8?B?QQ===?=", 0, "=?utf-8?B?QQ===?=" },
	{ "=?x-unknown?Q?abc?=", 0, "=?x-unknown?Q?abc?=" },
	{ "=?x-unknown?Q?a?= =?utf-8?Q?b?=", 0, "=?x-unknown?Q?a?= b" },
	{ "=?utf-8?Q?a?= =?x-unknown?Q?b?= =?utf-8?Q?c?=", 0,
	  "a =?x-unknown?Q?b?= c" },
	{ "=?utf-8?B?###?= =?utf-8?Q?b?=", 0, "=?utf-8?B?###?= b" },
	{ "=?utf-8//IGNORE?Q?a?=", 0, "=?utf-8//IGNORE?Q?a?=" },
	/* Charset names of 40 (the limit), 41 and 200 characters. */
	{ "=?" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" "?Q?a?=", 0,
	  "=?" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" "?Q?a?=" },
	{ "=?" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" "?Q?a?=", 0,
	  "=?" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" "?Q?a?=" },
	{ "=?utf-8" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa?Q?a?=", 0,
	  "=?utf-8" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa?Q?a?=" },
	{ "=?=?utf-8?Q?a?=", 0, "=?a" },
	{ "=?utf-8?Q?a=zz?=", 0, "a=zz" },                     /* lenient Q */
	{ "=?utf-8?Q?a=?=", 0, "a=" },
	{ "=?utf-8?Q?=3D=3Futf-8=3FQ=3Fx=3F=3D?=", 0, "=?utf-8?Q?x?=" },
	/* RFC 2231 §5 language suffix. */
	{ "=?utf-8*en?Q?hello?=", 0, "hello" },
	{ "=?US-ASCII*EN-us?Q?Keith_Moore?=", 0, "Keith Moore" },
	{ "=?utf-8*?Q?x?=", 0, "x" },
	{ "=?utf-8*e n?Q?x?=", 0, "=?utf-8*e n?Q?x?=" },
	/* Encoded words glued to text, as some mailers send them. */
	{ "Re:=?utf-8?Q?caf=C3=A9?=", 0, "Re:café" },
	{ "=?utf-8?Q?a?=b", 0, "ab" },
	{ "  =?utf-8?Q?a?=  ", 0, "  a  " },
	/* NUL and bytes invalid in their charset. */
	{ "=?utf-8?Q?a=00b?=", 0, "a" FFFD "b" },
	{ "=?utf-8?B?AA==?=", 0, FFFD },
	{ "=?utf-8?Q?a=FFb?=", 0, "a" FFFD "b" },
	{ "=?utf-8?Q?a=C3?=", 0, "a" FFFD },
	{ "=?utf-8?B?7aCA?=", 0, FFFD FFFD FFFD },            /* U+D800 */
	{ "=?utf-8?Q?=C0=AF?=", 0, FFFD FFFD },               /* overlong "/" */
	{ "=?us-ascii?Q?a=FFb?=", 0, "aÿb" },
	{ "=?windows-1252?Q?a=81b?=", 0, "a" FFFD "b" },
	{ "=?iso-2022-jp?B?GyRCRnw=?=", 0, "日" },   /* no return to ASCII */
	/* Raw 8-bit bytes outside encoded words. */
	{ "Caf\xe9 cr\xe8me", 0, "Café crème" },
	{ "\x93quoted\x94 \x80", 0, "“quoted” €" },
	{ "\x81\x8d\x8f\x90\x9d", 0, "\xc2\x81\xc2\x8d\xc2\x8f\xc2\x90\xc2\x9d" },
	{ "Café", 0, "Café" },
	{ "\xc3\xa9 \xe9", 0, "é é" },
	{ "\xe6\x97 x", 0, "æ— x" },           /* 0x97: em dash */
	{ "\xed\xa0\x80", 0, "í\xc2\xa0€" },
	{ "\xff\xfe", 0, "ÿþ" },
	{ "Caf\xe9 =?utf-8?Q?caf=C3=A9?=", 0, "Café café" },
	{ "a\0b", 3, "a" FFFD "b" },
	{ "a =?utf-8?Q?x?=", 1, "a" },                        /* LEN counts */
	{ "=?utf-8?Q?x?=", 12, "=?utf-8?Q?x?" },
};

static void test_decode_words(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(words_cases); i++) {
		const struct words_case *c = &words_cases[i];
		char *out = mime_decode_words(c->in, c->len ? c->len : strlen(c->in));

		if (out == NULL || strcmp(out, c->out) != 0)
			fail_msg("case %zu \"%s\": expected \"%s\", got \"%s\"", i,
				 c->in, c->out, out ? out : "NULL");
		if (!utf8_valid(out))
			fail_msg("case %zu: output is not UTF-8", i);
		free(out);
	}
}

/* Builds LEN bytes by repeating PATTERN, NUL-terminated. Caller frees. */
static char *repeat(const char *pattern, size_t len)
{
	size_t plen = strlen(pattern), i;
	char *s = malloc(len + 1);

	assert_non_null(s);
	for (i = 0; i < len; i++)
		s[i] = pattern[i % plen];
	s[len] = '\0';
	return s;
}

static void test_decode_words_long(void **state)
{
	static const struct {
		const char *pattern;
		const char *expect_prefix;
	} cases[] = {
		{ "=?utf-8?B?w6k=?= ", "éééé" },
		{ "=?utf-8?Q?a?=", "aaaa" },
		{ "=?x?Q?a", "=?x?Q?a=?x?Q?a" },
		{ "=?utf-8?Q?", "=?utf-8?Q?=?utf-8?Q?" },
		{ "=?x-unknown?Q?a?= ", "=?x-unknown?Q?a?= =?x-unknown?Q?a?= " },
		{ "=?koi8-r?B?8NLJ18XU?= =?utf-8?B?8J+YgA==?= ", "Привет😀Привет😀" },
		{ "Caf\xe9 ", "Café Café " },
		{ "=?", "=?=?=?" },
		{ "=?a?", "=?a?=?a?" },
	};
	const size_t len = 100 * 1024;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		char *in = repeat(cases[i].pattern, len);
		char *out = mime_decode_words(in, len);

		assert_non_null(out);
		if (strncmp(out, cases[i].expect_prefix,
			    strlen(cases[i].expect_prefix)) != 0)
			fail_msg("case %zu: output starts \"%.40s\"", i, out);
		assert_true(utf8_valid(out));
		free(in);
		free(out);
	}

	/* One encoded word of 100 KB. */
	{
		char *in = malloc(len + 32);
		char *out;
		size_t n;

		assert_non_null(in);
		n = (size_t)sprintf(in, "=?utf-8?B?");
		while (n < len)
			n += (size_t)sprintf(in + n, "w6nDqcOp");
		n += (size_t)sprintf(in + n, "?=");
		out = mime_decode_words(in, n);
		assert_non_null(out);
		assert_true(utf8_valid(out));
		assert_int_equal(strlen(out), (len - 10 + 7) / 8 * 6);
		free(in);
		free(out);
	}
}

/* A small deterministic generator (xorshift), so failures reproduce. */
static uint32_t rnd_state = 88172645u;

static uint32_t rnd(void)
{
	return xorshift32(&rnd_state);
}

/* Random mixes of encoded-word fragments and raw bytes: the result is
 * always valid UTF-8, whatever the input. */
static void test_decode_words_random(void **state)
{
	static const char *const frags[] = {
		"=?", "?=", "?", "=", "_", " ", "\r\n ", "utf-8", "UTF-8", "koi8-r",
		"iso-2022-jp", "gb2312", "x-bad", "*en", "?B?", "?Q?", "?b?", "?q?",
		"8J+YgA==", "5pc=", "peacrA==", "=E6=97", "=00", "=FF", "=C3", "GyRC",
		"Rnw=", "\x1b$B", "\x80", "\xe9", "\xc3", "\xa9", "\xed\xa0\x80",
		"\xf4\x90\x80\x80", "abc", "====", "AAAA",
	};
	char in[256];
	int iter;

	(void)state;
	for (iter = 0; iter < 20000; iter++) {
		size_t len = 0, nfrag = rnd() % 16, i;
		char *out;

		for (i = 0; i < nfrag; i++) {
			const char *f = frags[rnd() % ARRAY_SIZE(frags)];
			size_t fl = strlen(f);

			if (len + fl >= sizeof(in))
				break;
			memcpy(in + len, f, fl);
			len += fl;
		}
		if (rnd() % 8 == 0 && len > 0)
			in[rnd() % len] = (char)(rnd() & 0xff);   /* may be NUL */
		out = mime_decode_words(in, len);
		assert_non_null(out);
		if (!utf8_valid(out))
			fail_msg("iteration %d: output is not UTF-8", iter);
		free(out);
	}
}

/* --- dates ---------------------------------------------------------------- */

struct date_case {
	const char *in;
	int ok;
	long long t;
};

static const struct date_case date_cases[] = {
	{ "Tue, 1 Jul 2003 10:52:37 +0200", 1, 1057049557 },
	{ "Tue, 01 Jul 2003 10:52:37 +0200", 1, 1057049557 },
	{ "Fri, 21 Nov 1997 09:55:06 -0600", 1, 880127706 },      /* RFC 5322 A.1.1 */
	{ "1 Jul 2003 10:52:37 +0200", 1, 1057049557 },           /* no day name */
	{ "Tuesday, 1 Jul 2003 10:52:37 +0200", 1, 1057049557 },
	{ "Tue 1 Jul 2003 10:52:37 +0200", 1, 1057049557 },       /* no comma */
	{ "tue, 1 JUL 2003 10:52:37 +0200", 1, 1057049557 },
	{ "Tue, 1 Jul 03 10:52:37 +0200", 1, 1057049557 },        /* 2-digit year */
	{ "Thu, 1 Jul 99 10:52:37 +0200", 1, 930819157 },
	{ "1 Jan 49 00:00:00 +0000", 1, 2493072000 },
	{ "1 Jan 50 00:00:00 +0000", 1, -631152000 },
	{ "1 Jan 1950 00:00:00 +0000", 1, -631152000 },
	{ "Tue, 1 Jul 103 10:52:37 +0200", 1, 1057049557 },       /* 3-digit year */
	{ "Tue, 1 Jul 2003 10:52 +0200", 1, 1057049520 },         /* no seconds */
	{ "Tue, 1 Jul 2003 10:52:37 +0000", 1, 1057056757 },
	{ "Tue, 1 Jul 2003 10:52:37 -0000", 1, 1057056757 },
	{ "Tue, 1 Jul 2003 10:52:37 UT", 1, 1057056757 },
	{ "Tue, 1 Jul 2003 10:52:37 GMT", 1, 1057056757 },
	{ "Tue, 1 Jul 2003 10:52:37 UTC", 1, 1057056757 },
	{ "Tue, 1 Jul 2003 10:52:37 Z", 1, 1057056757 },
	{ "Tue, 1 Jul 2003 10:52:37 EST", 1, 1057074757 },
	{ "Tue, 1 Jul 2003 10:52:37 EDT", 1, 1057071157 },
	{ "Tue, 1 Jul 2003 10:52:37 CST", 1, 1057078357 },
	{ "Tue, 1 Jul 2003 10:52:37 CDT", 1, 1057074757 },
	{ "Tue, 1 Jul 2003 10:52:37 MST", 1, 1057081957 },
	{ "Tue, 1 Jul 2003 10:52:37 MDT", 1, 1057078357 },
	{ "Tue, 1 Jul 2003 10:52:37 PST", 1, 1057085557 },
	{ "Tue, 1 Jul 2003 10:52:37 PDT", 1, 1057081957 },
	{ "Tue, 1 Jul 2003 10:52:37 pdt", 1, 1057081957 },
	{ "Tue, 1 Jul 2003 10:52:37 A", 1, 1057056757 },          /* military */
	{ "Tue, 1 Jul 2003 10:52:37 m", 1, 1057056757 },
	{ "Tue, 1 Jul 2003 10:52:37 Y", 1, 1057056757 },
	{ "Tue, 1 Jul 2003 10:52:37 CEST", 1, 1057056757 },       /* unknown: UTC */
	{ "Tue, 1 Jul 2003 10:52:37", 1, 1057056757 },            /* no zone */
	{ "Tue, 1 Jul 2003 10:52:37 +0200 (CEST)", 1, 1057049557 },
	{ "Tue, 1 Jul 2003 10:52:37 +0200 CEST", 1, 1057049557 },
	{ "  Tue ,  1   Jul   2003   10 : 52 : 37   +0200  ", 1, 1057049557 },
	{ "(c) Tue, 1 Jul (x (nested) \\) y) 2003 10:52:37 +0200 (z)", 1, 1057049557 },
	{ "Tue,\t1\tJul\t2003\t10:52:37\t+0200", 1, 1057049557 },
	/* RFC 5322 A.5 and A.6.3: comments and folding everywhere. */
	{ "Thu,\r\n      13\r\n        Feb\r\n          1969\r\n      23:32\r\n"
	  "               -0330 (Newfoundland Time)", 1, -27723480 },
	{ "Thu, 13 Feb 1969 23:32:54 -0330", 1, -27723426 },
	{ "21 Nov 97 09:55:06 GMT", 1, 880106106 },                /* A.6.2 */
	{ "Thu, 29 Feb 2024 12:00:00 +0000", 1, 1709208000 },
	{ "29 Feb 2000 00:00:00 +0000", 1, 951782400 },
	{ "Sat, 1 Jan 2000 00:00:00 +1400", 1, 946634400 },
	{ "31 Dec 1998 23:59:60 +0000", 1, 915148800 },           /* leap second */
	{ "1 Jan 1970 00:00:00 +0000", 1, 0 },
	{ "1 Jan 1900 00:00:00 +0000", 1, -2208988800 },
	{ "31 Dec 9999 23:59:59 +0000", 1, 253402300799 },
	/* Invalid. */
	{ "", 0, 0 },
	{ "   ", 0, 0 },
	{ "garbage", 0, 0 },
	{ "(unclosed comment", 0, 0 },
	{ "Foo, 1 Jul 2003 10:52:37 +0200", 0, 0 },       /* day name */
	{ "Tu, 1 Jul 2003 10:52:37 +0200", 0, 0 },
	{ "Tue, 32 Jul 2003 10:52:37 +0200", 0, 0 },      /* day */
	{ "Tue, 0 Jul 2003 10:52:37 +0200", 0, 0 },
	{ "Tue, 123 Jul 2003 10:52:37 +0200", 0, 0 },
	{ "31 Apr 2003 10:52:37 +0200", 0, 0 },
	{ "30 Feb 2004 10:52:37 +0200", 0, 0 },
	{ "29 Feb 2023 10:52:37 +0200", 0, 0 },
	{ "29 Feb 1900 10:52:37 +0200", 0, 0 },
	{ "1 Foo 2003 10:52:37 +0200", 0, 0 },            /* month */
	{ "1 July 2003 10:52:37 +0200", 0, 0 },
	{ "1 7 2003 10:52:37 +0200", 0, 0 },
	{ "1 Jul 1899 10:52:37 +0200", 0, 0 },            /* year */
	{ "1 Jul 0099 10:52:37 +0200", 0, 0 },
	{ "1 Jul 12345 10:52:37 +0200", 0, 0 },
	{ "1 Jul 3 10:52:37 +0200", 0, 0 },
	{ "1 Jul 2003 24:00:00 +0200", 0, 0 },            /* time */
	{ "1 Jul 2003 10:60:00 +0200", 0, 0 },
	{ "1 Jul 2003 10:52:61 +0200", 0, 0 },
	{ "1 Jul 2003 100:52:37 +0200", 0, 0 },
	{ "1 Jul 2003 10:520:37 +0200", 0, 0 },
	{ "1 Jul 2003 10 +0200", 0, 0 },
	{ "1 Jul 2003 10: +0200", 0, 0 },
	{ "1 Jul 2003 10:52: +0200", 0, 0 },
	{ "1 Jul 2003", 0, 0 },
	{ "1 Jul 2003 10:52:37 +2400", 0, 0 },            /* zone */
	{ "1 Jul 2003 10:52:37 +0260", 0, 0 },
	{ "1 Jul 2003 10:52:37 +020", 0, 0 },
	{ "1 Jul 2003 10:52:37 +02000", 0, 0 },
	{ "1 Jul 2003 10:52:37 + 0200", 0, 0 },
	{ "1 Jul 2003 10:52:37 J", 0, 0 },
	{ "1 Jul 2003 10:52:37 XYZABC", 0, 0 },
	{ "1 Jul 2003 10:52:37 +0200 +0100", 0, 0 },
	{ "1 Jul 2003 10:52:37 +0200 garbage", 0, 0 },
	{ "1 Jul 2003 10:52:37 +0200 (ok) x!", 0, 0 },
	{ "1 Jul 2003 10:52:37 +99999999999", 0, 0 },
	{ "2003-07-01T10:52:37Z", 0, 0 },
	{ "1-Jul-2003 10:52:37 +0200", 0, 0 },
};

static void test_parse_date(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(date_cases); i++) {
		const struct date_case *c = &date_cases[i];
		time_t t = 12345;
		int r = mime_parse_date(c->in, &t);

		if (c->ok && (r != 0 || (long long)t != c->t))
			fail_msg("case %zu \"%s\": r=%d t=%lld, expected %lld", i, c->in,
				 r, (long long)t, c->t);
		if (!c->ok && r != -EINVAL)
			fail_msg("case %zu \"%s\": accepted (r=%d t=%lld)", i, c->in, r,
				 (long long)t);
	}
}

static const struct date_case idate_cases[] = {
	{ "17-Jul-1996 02:44:25 -0700", 1, 837596665 },          /* RFC 3501 */
	{ " 7-Jul-1996 02:44:25 -0700", 1, 836732665 },
	{ "07-Jul-1996 02:44:25 -0700", 1, 836732665 },
	{ "7-Jul-1996 02:44:25 -0700", 1, 836732665 },
	{ "17-jul-1996 09:44:25 +0000", 1, 837596665 },
	{ "01-Jan-1970 00:00:00 +0000", 1, 0 },
	{ "29-Feb-2024 12:00:00 +0000", 1, 1709208000 },
	{ "13-Feb-1969 23:32:54 -0330", 1, -27723426 },
	{ "31-Dec-9999 23:59:59 +0000", 1, 253402300799 },
	{ "", 0, 0 },
	{ "17-Jul-1996 02:44:25", 0, 0 },
	{ "17-Jul-1996 02:44:25 ", 0, 0 },
	{ "17-Jul-1996 02:44:25 -0700 ", 0, 0 },
	{ "\"17-Jul-1996 02:44:25 -0700\"", 0, 0 },
	{ "17-Jul-96 02:44:25 -0700", 0, 0 },
	{ "17 Jul 1996 02:44:25 -0700", 0, 0 },
	{ "17-Jux-1996 02:44:25 -0700", 0, 0 },
	{ "17-Ju", 0, 0 },
	{ "17-Jul-1996 2:44:25 -0700", 0, 0 },
	{ "17-Jul-1996 02:44 -0700", 0, 0 },
	{ "  7-Jul-1996 02:44:25 -0700", 0, 0 },
	{ "117-Jul-1996 02:44:25 -0700", 0, 0 },
	{ "32-Jul-1996 02:44:25 -0700", 0, 0 },
	{ "00-Jul-1996 02:44:25 -0700", 0, 0 },
	{ "30-Feb-2024 02:44:25 -0700", 0, 0 },
	{ "17-Jul-1996 24:00:00 -0700", 0, 0 },
	{ "17-Jul-1996 02:60:25 -0700", 0, 0 },
	{ "17-Jul-1996 02:44:61 -0700", 0, 0 },
	{ "17-Jul-1996 02:44:25 +2400", 0, 0 },
	{ "17-Jul-1996 02:44:25 +0060", 0, 0 },
	{ "17-Jul-1996 02:44:25 -070", 0, 0 },
	{ "17-Jul-1996 02:44:25 0700", 0, 0 },
	{ "17-Jul-1996 02:44:25 GMT", 0, 0 },
};

static void test_parse_internaldate(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(idate_cases); i++) {
		const struct date_case *c = &idate_cases[i];
		time_t t = 12345;
		int r = mime_parse_internaldate(c->in, &t);

		if (c->ok && (r != 0 || (long long)t != c->t))
			fail_msg("case %zu \"%s\": r=%d t=%lld, expected %lld", i, c->in,
				 r, (long long)t, c->t);
		if (!c->ok && r != -EINVAL)
			fail_msg("case %zu \"%s\": accepted (r=%d t=%lld)", i, c->in, r,
				 (long long)t);
	}
}

static void test_format_internaldate(void **state)
{
	static const struct {
		long long t;
		const char *s;
	} cases[] = {
		{ 0, "01-Jan-1970 00:00:00 +0000" },
		{ 837596665, "17-Jul-1996 09:44:25 +0000" },
		{ -27723426, "14-Feb-1969 03:02:54 +0000" },
		{ 1709208000, "29-Feb-2024 12:00:00 +0000" },
		{ 4294967295LL, "07-Feb-2106 06:28:15 +0000" },
		{ 253402300799LL, "31-Dec-9999 23:59:59 +0000" },
		{ 253402300800LL, "31-Dec-9999 23:59:59 +0000" },   /* clamped */
		{ -62167219200LL, "01-Jan-0000 00:00:00 +0000" },
		{ -99999999999LL, "01-Jan-0000 00:00:00 +0000" },   /* clamped */
	};
	char buf[27];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		mime_format_internaldate((time_t)cases[i].t, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].s);
	}

	/* A short buffer is cut, but still terminated. */
	memset(buf, 'x', sizeof(buf));
	mime_format_internaldate(0, buf, 5);
	assert_string_equal(buf, "01-J");
	assert_int_equal(buf[5], 'x');
	buf[0] = 'x';
	mime_format_internaldate(0, buf, 0);
	assert_int_equal(buf[0], 'x');
}

static void test_internaldate_roundtrip(void **state)
{
	char buf[27];
	int i;

	(void)state;
	for (i = 0; i < 10000; i++) {
		time_t t = (time_t)(((int64_t)rnd() << 8 | (rnd() & 0xff))
				    % 8000000000LL - 2000000000LL);
		time_t back = 0;

		mime_format_internaldate(t, buf, sizeof(buf));
		assert_int_equal(strlen(buf), 26);
		assert_int_equal(mime_parse_internaldate(buf, &back), 0);
		assert_true(back == t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_header_unterminated),
		cmocka_unit_test(test_decode_words),
		cmocka_unit_test(test_decode_words_long),
		cmocka_unit_test(test_decode_words_random),
		cmocka_unit_test(test_parse_date),
		cmocka_unit_test(test_parse_internaldate),
		cmocka_unit_test(test_format_internaldate),
		cmocka_unit_test(test_internaldate_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
