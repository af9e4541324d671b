/* test_utf8.c - what net/utf8.c decides about characters: which ones are
 * controls or invisible, and how utf8_visible() shows hostile text (server
 * replies on the way to a terminal, syslog or .mailfs-status). */
#include "tests/unit/testutil.h"

#include "net/utf8.h"

struct vis_case {
	const char *in;
	size_t len;             /* 0: strlen(in) */
	int keep_lf;
	const char *out;
};

static const struct vis_case vis_cases[] = {
	{ "", 0, 0, "" },
	{ "plain text", 0, 0, "plain text" },
	{ "NO [ALERT] mailbox full", 0, 0, "NO [ALERT] mailbox full" },
	/* C0 and DEL */
	{ "\x1b[2J\x1b]0;owned\x07", 0, 0, "\\x1b[2J\\x1b]0;owned\\x07" },
	{ "a\rb\nc\td\x7f" "e", 0, 0, "a\\x0db\\x0ac\\x09d\\x7f" "e" },
	{ "a\nb", 0, 1, "a\nb" },
	{ "a\r\nb", 0, 1, "a\\x0d\nb" },
	{ "a\0b", 3, 0, "a\\x00b" },
	{ "\x01\x1f", 0, 0, "\\x01\\x1f" },
	/* C1 (two bytes in UTF-8): CSI, NEL, OSC */
	{ "\xc2\x9b" "31m", 0, 0, "\\u009b31m" },
	{ "x\xc2\x85y\xc2\x9d", 0, 0, "x\\u0085y\\u009d" },
	{ "\xc2\x80\xc2\x9f\xc2\xa0", 0, 0, "\\u0080\\u009f\xc2\xa0" },   /* NBSP stays */
	/* bidi controls and invisible format characters */
	{ "invoice\xe2\x80\xae" "fdp.exe", 0, 0, "invoice\\u202efdp.exe" },
	{ "\xe2\x81\xa6\xe2\x81\xa9\xe2\x80\x8e\xd8\x9c", 0, 0, "\\u2066\\u2069\\u200e\\u061c" },
	{ "a\xe2\x80\xa8" "b\xef\xbb\xbf", 0, 1, "a\\u2028b\\ufeff" },
	/* valid UTF-8 is kept, ZWJ and ZWNJ too */
	{ "Entwürfe 日本語 😀", 0, 0, "Entwürfe 日本語 😀" },
	{ "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9", 0, 0,
	  "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9" },
	{ "back\\slash \\x1b", 0, 0, "back\\slash \\x1b" },
	/* invalid UTF-8: the bytes, escaped, one maximal subpart at a time */
	{ "caf\xe9", 0, 0, "caf\\xe9" },
	{ "\xe6\x97" "x", 0, 0, "\\xe6\\x97x" },
	{ "\xed\xa0\x80", 0, 0, "\\xed\\xa0\\x80" },                 /* surrogate */
	{ "\xc0\x9b", 0, 0, "\\xc0\\x9b" },                          /* overlong CSI */
	{ "\xe0\x80\x9b", 0, 0, "\\xe0\\x80\\x9b" },
	{ "\xf4\x90\x80\x80", 0, 0, "\\xf4\\x90\\x80\\x80" },
	{ "\xff\xfe", 0, 0, "\\xff\\xfe" },
	{ "\x9b", 0, 0, "\\x9b" },                                   /* raw 8-bit CSI */
	{ "ok\xe2\x80", 0, 0, "ok\\xe2\\x80" },                      /* cut short */
};

static void test_visible_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(vis_cases); i++) {
		const struct vis_case *c = &vis_cases[i];
		size_t n = c->len ? c->len : strlen(c->in);
		char *out = malloc(4 * n + 1);
		size_t len;

		assert_non_null(out);
		len = utf8_visible(out, 4 * n + 1, c->in, n, c->keep_lf);
		if (strcmp(out, c->out) != 0)
			fail_msg("case %zu: expected \"%s\", got \"%s\"", i, c->out, out);
		assert_int_equal(len, strlen(out));
		free(out);
	}
}

/* A full buffer ends the copy at a character boundary: never half an escape
 * or half a UTF-8 sequence, always NUL-terminated. */
static void test_visible_truncated(void **state)
{
	static const struct { const char *in; size_t size; const char *out; } cases[] = {
		{ "abc", 1, "" },
		{ "abc", 3, "ab" },
		{ "abc", 4, "abc" },
		{ "a\x1b" "b", 2, "a" },
		{ "a\x1b" "b", 5, "a" },
		{ "a\x1b" "b", 6, "a\\x1b" },
		{ "a\xc2\x9b", 7, "a" },
		{ "a\xc2\x9b", 8, "a\\u009b" },
		{ "a日", 3, "a" },
		{ "a日", 4, "a" },
		{ "a日", 5, "a日" },
		{ "a\xe6\x97", 9, "a" },
		{ "a\xe6\x97", 10, "a\\xe6\\x97" },
	};
	char out[32];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		memset(out, 'Z', sizeof(out));
		size_t len = utf8_visible(out, cases[i].size, cases[i].in, strlen(cases[i].in), 0);

		if (strcmp(out, cases[i].out) != 0)
			fail_msg("case %zu: expected \"%s\", got \"%s\"", i, cases[i].out, out);
		assert_int_equal(len, strlen(cases[i].out));
		assert_true(len < cases[i].size);
		assert_int_equal(out[cases[i].size], 'Z');     /* nothing beyond SIZE */
	}
}

/* Decodes strict UTF-8 (independent of the module): the length of the
 * character at S (N bytes left) and its code point, or 0 when invalid. */
static size_t decode(const unsigned char *s, size_t n, uint32_t *cp_r)
{
	static const struct { unsigned char lead_lo, lead_hi; size_t len; uint32_t min; } forms[] = {
		{ 0xc2, 0xdf, 2, 0x80 }, { 0xe0, 0xef, 3, 0x800 }, { 0xf0, 0xf4, 4, 0x10000 },
	};

	if (s[0] < 0x80) {
		*cp_r = s[0];
		return 1;
	}
	for (size_t f = 0; f < ARRAY_SIZE(forms); f++) {
		uint32_t cp;

		if (s[0] < forms[f].lead_lo || s[0] > forms[f].lead_hi)
			continue;
		if (n < forms[f].len)
			return 0;
		cp = s[0] & (0x7f >> forms[f].len);
		for (size_t i = 1; i < forms[f].len; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i] & 0x3f);
		}
		if (cp < forms[f].min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		*cp_r = cp;
		return forms[f].len;
	}
	return 0;
}

/* What must never come out: a byte a terminal acts on, invalid UTF-8, a C1
 * control, a bidi control or an invisible format character (listed here
 * independently of the module). */
static const char *check_visible(const char *s, int keep_lf)
{
	static const uint32_t bad[][2] = {
		{ 0x0, 0x1f }, { 0x7f, 0x9f }, { 0x061c, 0x061c }, { 0x200b, 0x200b },
		{ 0x200e, 0x200f }, { 0x2028, 0x202e }, { 0x2060, 0x2064 },
		{ 0x2066, 0x206f }, { 0xfeff, 0xfeff }, { 0xfff9, 0xfffb },
	};
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	while (n > 0) {
		uint32_t cp;
		size_t k = decode(p, n, &cp);

		if (k == 0)
			return "invalid UTF-8";
		for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
			if (cp >= bad[i][0] && cp <= bad[i][1] && !(keep_lf && cp == '\n'))
				return "a control or invisible character";
		p += k;
		n -= k;
	}
	return NULL;
}

/* Random hostile bytes, biased towards ESC, C1 lead bytes and the
 * characters above: the output is always clean and fits 4 * N + 1. */
static void test_visible_random(void **state)
{
	static const char *const pieces[] = {
		"\x1b", "[", "\xc2", "\x9b", "\x85", "\xe2", "\x80", "\xae", "\x81", "\xa6",
		"\xef", "\xbb", "\xbf", "\xd8", "\x9c", "\n", "\r", "\x7f", "\0", "a", "日",
		"\xf0", "\x9f", "\xed", "\xa0", "\\",
	};
	uint64_t seed = test_seed("test_visible_random");
	char in[64], out[4 * sizeof(in) + 1];

	(void)state;
	for (int round = 0; round < 100000; round++) {
		size_t n = 0, want = xorshift64s(&seed) % 20;

		while (n + 4 < sizeof(in) && want--) {
			const char *p = pieces[xorshift64s(&seed) % ARRAY_SIZE(pieces)];
			size_t k = *p ? strlen(p) : 1;

			memcpy(in + n, p, k);
			n += k;
		}
		int keep_lf = round & 1;
		size_t len = utf8_visible(out, sizeof(out), in, n, keep_lf);
		const char *why = check_visible(out, keep_lf);

		if (why || len != strlen(out))
			fail_msg("round %d: %s in \"%s\"", round, why ? why : "bad length", out);
		/* Nothing was dropped: 4 * N + 1 is enough, and every input byte
		 * left a trace (an escape is longer than what it stands for). */
		assert_true(len >= n);
	}
}

static void test_classes(void **state)
{
	static const uint32_t controls[] = { 0x00, 0x07, 0x1b, 0x1f, 0x7f, 0x80, 0x85, 0x9b, 0x9f };
	static const uint32_t not_controls[] = { 0x20, 0x7e, 0xa0, 0xff, 0x2028 };
	static const uint32_t invisible[] = {
		0x061c, 0x200b, 0x200e, 0x200f, 0x2028, 0x2029, 0x202a, 0x202e, 0x2060, 0x2064,
		0x2066, 0x2069, 0x206a, 0x206f, 0xfeff, 0xfff9, 0xfffb,
	};
	static const uint32_t visible[] = {
		0x20, 0x061b, 0x061d, 0x200a, 0x200c, 0x200d, 0x2010, 0x2027, 0x202f, 0x205f,
		0x2065, 0x2070, 0xfe0f, 0xfefe, 0xff00, 0xfff8, 0xfffc, 0xfffd, 0x1f600,
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(controls); i++)
		assert_true(utf8_is_control(controls[i]));
	for (size_t i = 0; i < ARRAY_SIZE(not_controls); i++)
		assert_false(utf8_is_control(not_controls[i]));
	for (size_t i = 0; i < ARRAY_SIZE(invisible); i++)
		if (!utf8_is_invisible(invisible[i]))
			fail_msg("U+%04X should be invisible", (unsigned)invisible[i]);
	for (size_t i = 0; i < ARRAY_SIZE(visible); i++)
		if (utf8_is_invisible(visible[i]))
			fail_msg("U+%04X should not be invisible", (unsigned)visible[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classes),
		cmocka_unit_test(test_visible_table),
		cmocka_unit_test(test_visible_truncated),
		cmocka_unit_test(test_visible_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
