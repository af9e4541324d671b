/* test_layout.c - message file names and folder directory names. */
#include "tests/unit/testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "fs/engine/layout.h"

#define FFFD "\xef\xbf\xbd"
#define DSLASH "\xe2\x88\x95"   /* U+2215 */

/* Decodes strict UTF-8 (independent of the module). Returns the number of
 * bytes of the character at S and its code point, or 0 when invalid. */
static size_t utf8_char(const unsigned char *s, uint32_t *cp_r)
{
	unsigned char lo = 0x80, hi = 0xbf;
	uint32_t cp;
	size_t n, i;

	if (s[0] < 0x80) {
		*cp_r = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 1;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 2;
		cp = s[0] & 0x0f;
		if (s[0] == 0xe0)
			lo = 0xa0;
		if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 3;
		cp = s[0] & 0x07;
		if (s[0] == 0xf0)
			lo = 0x90;
		if (s[0] == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	for (i = 1; i <= n; i++) {
		if (s[i] < lo || s[i] > hi)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	*cp_r = cp;
	return n + 1;
}

/* The characters SPEC §5 keeps out of file names besides the controls
 * (written out here, independent of net/utf8.c). */
static int is_bidi_or_invisible(uint32_t cp)
{
	static const uint32_t ranges[][2] = {
		{ 0x061c, 0x061c }, { 0x200b, 0x200b }, { 0x200e, 0x200f },
		{ 0x2028, 0x202e }, { 0x2060, 0x2064 }, { 0x2066, 0x206f },
		{ 0xfeff, 0xfeff }, { 0xfff9, 0xfffb },
	};

	for (size_t i = 0; i < ARRAY_SIZE(ranges); i++)
		if (cp >= ranges[i][0] && cp <= ranges[i][1])
			return 1;
	return 0;
}

/* Everything SPEC §2 promises about a message file name; returns NULL or
 * what is wrong. */
static const char *check_name(const char *name, uint32_t uid)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t len = strlen(name);
	char prefix[16];
	uint32_t back;

	if (len > LAYOUT_NAME_MAX)
		return "longer than 255 bytes";
	if (len < 14 || strcmp(name + len - 4, ".eml") != 0)
		return "does not end in .eml";
	if (name[0] == '.')
		return "starts with a dot";
	snprintf(prefix, sizeof(prefix), "%010u", (unsigned)uid);
	if (strncmp(name, prefix, 10) != 0)
		return "does not start with the zero-padded uid";
	if (len > 14) {
		if (name[10] != ' ' || name[11] == ' ' || name[11] == '.')
			return "bad separator or leading space/dot";
		if (name[len - 5] == ' ' || name[len - 5] == '.')
			return "trailing space or dot in the subject";
		if (strstr(name, "  ") != NULL)
			return "two spaces in a row";
	}
	while (*p != '\0') {
		uint32_t cp;
		size_t n = utf8_char(p, &cp);

		if (n == 0)
			return "not valid UTF-8";
		if (cp == '/')
			return "contains /";
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			return "contains a control character";
		if (is_bidi_or_invisible(cp))
			return "contains a bidi control or an invisible format character";
		p += n;
	}
	if (layout_message_uid(name, &back) != 0 || back != uid)
		return "layout_message_uid does not give the uid back";
	return NULL;
}

struct name_case {
	uint32_t uid;
	const char *subject;
	const char *name;
};

static const struct name_case name_cases[] = {
	{ 1, "Hello", "0000000001 Hello.eml" },
	{ 0, NULL, "0000000000.eml" },
	{ 0, "", "0000000000.eml" },
	{ 1, "x", "0000000001 x.eml" },
	{ 4294967295u, "max", "4294967295 max.eml" },
	{ 4294967295u, NULL, "4294967295.eml" },
	{ 42, "Re: [list] Hello, world!", "0000000042 Re: [list] Hello, world!.eml" },
	{ 42, "日本語のテスト 😀", "0000000042 日本語のテスト 😀.eml" },
	/* "/" */
	{ 7, "a/b", "0000000007 a" DSLASH "b.eml" },
	{ 7, "/", "0000000007 " DSLASH ".eml" },
	{ 7, "../../etc/passwd", "0000000007 " DSLASH ".." DSLASH "etc" DSLASH "passwd.eml" },
	/* leading and trailing spaces and dots */
	{ 7, ".hidden", "0000000007 hidden.eml" },
	{ 7, "..", "0000000007.eml" },
	{ 7, "...", "0000000007.eml" },
	{ 7, " . . x . . ", "0000000007 x.eml" },
	{ 7, "x.", "0000000007 x.eml" },
	{ 7, "a.b", "0000000007 a.b.eml" },
	{ 7, "  ", "0000000007.eml" },
	{ 7, "x.eml", "0000000007 x.eml.eml" },
	/* white space and controls */
	{ 7, "a   b", "0000000007 a b.eml" },
	{ 7, "a\tb", "0000000007 a b.eml" },
	{ 7, "a \t \tb", "0000000007 a b.eml" },
	{ 7, "\tTabbed\t", "0000000007 Tabbed.eml" },
	{ 7, "a\r\n b", "0000000007 a b.eml" },
	{ 7, "a\x01\x1f\x7f" "b", "0000000007 a b.eml" },
	{ 7, "a\x1b[31mred", "0000000007 a [31mred.eml" },
	{ 7, "a\xc2\x85" "b", "0000000007 a b.eml" },            /* NEL, C1 */
	{ 7, "a\xc2\x9b" "b", "0000000007 a b.eml" },            /* CSI, C1 */
	{ 7, "a\xc2\xa0" "b", "0000000007 a\xc2\xa0" "b.eml" },  /* NBSP stays */
	/* bidi controls and invisible format characters (SPEC §5): a space */
	{ 7, "invoice\xe2\x80\xae" "fdp.eml", "0000000007 invoice fdp.eml.eml" }, /* RLO */
	{ 7, "a\xe2\x80\xaa" "b\xe2\x80\xab" "c\xe2\x80\xac" "d\xe2\x80\xad" "e",
	  "0000000007 a b c d e.eml" },                          /* LRE RLE PDF LRO */
	{ 7, "a\xe2\x81\xa6" "b\xe2\x81\xa7" "c\xe2\x81\xa8" "d\xe2\x81\xa9" "e",
	  "0000000007 a b c d e.eml" },                          /* LRI RLI FSI PDI */
	{ 7, "a\xe2\x80\x8e" "b\xe2\x80\x8f" "c\xd8\x9c" "d", "0000000007 a b c d.eml" },
	                                                         /* LRM RLM ALM */
	{ 7, "a\xe2\x80\xa8" "b\xe2\x80\xa9" "c", "0000000007 a b c.eml" }, /* U+2028/9 */
	{ 7, "a\xe2\x80\x8b" "b\xef\xbb\xbf" "c", "0000000007 a b c.eml" }, /* ZWSP, BOM */
	{ 7, "a\xe2\x81\xa0" "b\xe2\x81\xa4" "c\xe2\x81\xaa" "d\xe2\x81\xaf" "e",
	  "0000000007 a b c d e.eml" },                          /* WJ, U+2064, U+206A/F */
	{ 7, "a\xef\xbf\xb9" "b\xef\xbf\xbb" "c", "0000000007 a b c.eml" }, /* U+FFF9/B */
	{ 7, "\xe2\x80\xae\xe2\x80\x8f", "0000000007.eml" },
	{ 7, "x \xe2\x80\xae y", "0000000007 x y.eml" },
	/* ...but not what words and emoji need: ZWNJ, ZWJ, variation selectors,
	 * and the neighbours of the ranges above */
	{ 7, "\xd9\x85\xdb\x8c\xe2\x80\x8c\xd8\xb1\xd9\x88\xd9\x85",
	  "0000000007 \xd9\x85\xdb\x8c\xe2\x80\x8c\xd8\xb1\xd9\x88\xd9\x85.eml" }, /* ZWNJ */
	{ 7, "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9",
	  "0000000007 \xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9.eml" },         /* ZWJ */
	{ 7, "\xe2\x9d\xa4\xef\xb8\x8f", "0000000007 \xe2\x9d\xa4\xef\xb8\x8f.eml" }, /* VS16 */
	{ 7, "\xd8\x9b\xe2\x80\x90\xe2\x80\xaf\xe2\x81\xa5\xef\xbf\xbc",
	  "0000000007 \xd8\x9b\xe2\x80\x90\xe2\x80\xaf\xe2\x81\xa5\xef\xbf\xbc.eml" },
	  /* U+061B U+2010 U+202F U+2065 U+FFFC */
	{ 7, "\x01\x02\x03", "0000000007.eml" },
	/* invalid UTF-8: one U+FFFD per maximal subpart */
	{ 7, "\xff", "0000000007 " FFFD ".eml" },
	{ 7, "caf\xe9", "0000000007 caf" FFFD ".eml" },
	{ 7, "\xe6\x97" "x", "0000000007 " FFFD "x.eml" },
	{ 7, "\xed\xa0\x80", "0000000007 " FFFD FFFD FFFD ".eml" },
	{ 7, "\xc0\xaf", "0000000007 " FFFD FFFD ".eml" },
	{ 7, "\xf4\x90\x80\x80", "0000000007 " FFFD FFFD FFFD FFFD ".eml" },
	{ 7, "\x80\x80", "0000000007 " FFFD FFFD ".eml" },
	{ 7, ".\xff.", "0000000007 " FFFD ".eml" },
};

static void test_message_name(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(name_cases); i++) {
		const struct name_case *c = &name_cases[i];
		char *name = layout_message_name(c->uid, c->subject);
		const char *why;

		if (name == NULL || strcmp(name, c->name) != 0)
			fail_msg("case %zu: expected \"%s\", got \"%s\"", i, c->name,
				 name ? name : "NULL");
		why = check_name(name, c->uid);
		if (why != NULL)
			fail_msg("case %zu \"%s\": %s", i, name, why);
		free(name);
	}
}

/* Builds COUNT copies of UNIT, NUL-terminated. Caller frees. */
static char *repeat(const char *unit, size_t count)
{
	size_t ulen = strlen(unit), i;
	char *s = malloc(ulen * count + 1);

	assert_non_null(s);
	for (i = 0; i < count; i++)
		memcpy(s + i * ulen, unit, ulen);
	s[ulen * count] = '\0';
	return s;
}

static void test_message_name_long(void **state)
{
	static const struct {
		const char *unit;
		size_t count;           /* of UNIT in the subject */
		size_t name_len;        /* expected */
	} cases[] = {
		{ "a", 300, 255 },
		{ "a", 240, 255 },
		{ "a", 239, 254 },
		{ "\xc3\xa9", 150, 255 },         /* é: 120 fit exactly */
		{ "日", 100, 255 },               /* 80 fit exactly */
		{ "😀", 75, 255 },                /* 60 fit exactly */
		{ "/", 100, 255 },                /* 80 "∕" */
		{ "\xff", 100, 255 },             /* 80 U+FFFD */
		{ "ab ", 100, 254 },              /* cut after a space: dropped */
		{ "ab.", 100, 254 },              /* cut after a dot: dropped */
		{ "a\t\t", 200, 254 },
		{ "x日", 100, 255 },              /* 60 "x日" = 240 bytes exactly */
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		char *subject = repeat(cases[i].unit, cases[i].count);
		char *name = layout_message_name(123, subject);
		const char *why;

		assert_non_null(name);
		why = check_name(name, 123);
		if (why != NULL)
			fail_msg("case %zu \"%s\": %s", i, name, why);
		if (strlen(name) != cases[i].name_len)
			fail_msg("case %zu: %zu bytes, expected %zu", i, strlen(name),
				 cases[i].name_len);
		free(subject);
		free(name);
	}

	/* "a" then 3-byte characters: the cut falls inside a character, so
	 * that character is left out whole (1 + 79 * 3 = 238 bytes). */
	{
		char subject[1 + 100 * 3 + 1] = "a";
		char *name;
		size_t j;

		for (j = 0; j < 100; j++)
			memcpy(subject + 1 + 3 * j, "日", 3);
		subject[1 + 300] = '\0';
		name = layout_message_name(1, subject);
		assert_non_null(name);
		assert_int_equal(strlen(name), 11 + 238 + 4);
		assert_null(check_name(name, 1));
		free(name);
	}

	/* A huge subject costs nothing more than a short one. */
	{
		char *subject = repeat("日本語 ", 200000);
		char *name = layout_message_name(9, subject);

		assert_non_null(name);
		assert_null(check_name(name, 9));
		free(subject);
		free(name);
	}
}

struct uid_case {
	const char *name;
	int ok;
	uint32_t uid;
};

static const struct uid_case uid_cases[] = {
	{ "0000000001 Hello.eml", 1, 1 },
	{ "0000000000.eml", 1, 0 },
	{ "0000000001.eml", 1, 1 },
	{ "4294967295 x.eml", 1, 4294967295u },
	{ "4294967295.eml", 1, 4294967295u },
	{ "0000000123 a b c.eml", 1, 123 },
	{ "0000000123 .x.eml", 1, 123 },     /* not ours, but the caller compares */
	{ "4294967296 x.eml", 0, 0 },        /* above UINT32_MAX */
	{ "9999999999.eml", 0, 0 },
	{ "000000001 x.eml", 0, 0 },         /* 9 digits */
	{ "00000000001.eml", 0, 0 },         /* 11 digits */
	{ "00000000001 x.eml", 0, 0 },
	{ "0000000001.EML", 0, 0 },
	{ "0000000001 x.EML", 0, 0 },
	{ "0000000001 .eml", 0, 0 },         /* empty subject */
	{ "0000000001  .eml", 1, 1 },
	{ "0000000001 x.txt", 0, 0 },
	{ "0000000001 x", 0, 0 },
	{ "0000000001x.eml", 0, 0 },
	{ "0000000001_x.eml", 0, 0 },
	{ "0000000001.eml.eml", 0, 0 },
	{ "0000000001", 0, 0 },
	{ "0000000001 ", 0, 0 },
	{ "", 0, 0 },
	{ ".eml", 0, 0 },
	{ "x.eml", 0, 0 },
	{ "+000000001 x.eml", 0, 0 },
	{ "-000000001.eml", 0, 0 },
	{ " 000000001.eml", 0, 0 },
	{ "000000000a.eml", 0, 0 },
	{ "\xd9\xa0" "000000001.eml", 0, 0 },   /* Arabic-Indic zero */
	{ ".mailfs-status", 0, 0 },
};

static void test_message_uid(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(uid_cases); i++) {
		uint32_t uid = 777;
		int r = layout_message_uid(uid_cases[i].name, &uid);

		if (uid_cases[i].ok && (r != 0 || uid != uid_cases[i].uid))
			fail_msg("case %zu \"%s\": r=%d uid=%u", i, uid_cases[i].name, r,
				 (unsigned)uid);
		if (!uid_cases[i].ok && r != -ENOENT)
			fail_msg("case %zu \"%s\": accepted (r=%d, uid=%u)", i,
				 uid_cases[i].name, r, (unsigned)uid);
	}

	/* At most LAYOUT_NAME_MAX bytes. */
	{
		char *s = repeat("a", 300);
		uint32_t uid;

		memcpy(s, "0000000001 ", 11);
		strcpy(s + 251, ".eml");           /* 255 bytes */
		assert_int_equal(layout_message_uid(s, &uid), 0);
		assert_int_equal(uid, 1);
		s[251] = 'a';
		strcpy(s + 252, ".eml");           /* 256 bytes */
		assert_int_equal(layout_message_uid(s, &uid), -ENOENT);
		free(s);
	}
}

struct dir_case {
	const char *component;
	const char *dirname;    /* NULL: refused with EINVAL */
};

static const struct dir_case dir_cases[] = {
	{ "INBOX", "INBOX" },
	{ "a/b", "a" DSLASH "b" },
	{ "/", DSLASH },
	{ "a//b/", "a" DSLASH DSLASH "b" DSLASH },
	{ "台北", "台北" },
	{ "Entwürfe", "Entwürfe" },
	{ ".hidden", ".hidden" },
	{ "...", "..." },
	{ "./", "." DSLASH },
	{ "../", ".." DSLASH },
	{ " a ", " a " },
	{ "😀", "😀" },
	{ "", NULL },
	{ ".", NULL },
	{ "..", NULL },
	{ "a\x01", NULL },
	{ "a\tb", NULL },
	{ "a\nb", NULL },
	{ "\x7f", NULL },
	{ "a\xc2\x85", NULL },          /* C1 */
	{ "a\xc2\x9f", NULL },
	{ "\xff", NULL },               /* invalid UTF-8 */
	{ "caf\xe9", NULL },
	{ "\xed\xa0\x80", NULL },
	{ "\xc0\xaf", NULL },
	{ "\xf4\x90\x80\x80", NULL },
	{ "a" DSLASH "b", NULL },       /* would come back as "a/b" */
	/* bidi controls and invisible format characters, like controls */
	{ "Inbox\xe2\x80\xae" "fdp", NULL },     /* RLO */
	{ "\xe2\x81\xa6" "x", NULL },             /* LRI */
	{ "x\xe2\x80\x8f", NULL },                /* RLM */
	{ "x\xd8\x9c", NULL },                     /* ALM */
	{ "a\xe2\x80\xa9" "b", NULL },            /* PARAGRAPH SEPARATOR */
	{ "a\xe2\x80\x8b" "b", NULL },            /* ZWSP */
	{ "\xef\xbb\xbf" "INBOX", NULL },         /* BOM */
	{ "a\xef\xbf\xba", NULL },                /* U+FFFA */
	{ "\xd9\x85\xdb\x8c\xe2\x80\x8c\xd8\xb1", "\xd9\x85\xdb\x8c\xe2\x80\x8c\xd8\xb1" }, /* ZWNJ stays */
};

/* One function names every message: from its header (listing, POP3
 * download, APPEND), and again from an old name (a move, a rename of an
 * older cache). */
static void test_from_header(void **state)
{
	static const char hdr[] =
		"From: a@example.org\r\n"
		"Subject: =?UTF-8?B?Q2Fmw6kgY3LDqG1l?= \xe2\x80\xae""gpj.exe\r\n"
		"Message-ID: <x@y>\r\n"
		"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\n";
	char *name, *msgid, *date, *again;

	(void)state;
	assert_int_equal(layout_from_header(7, hdr, sizeof(hdr) - 1, &name, &msgid, &date), 0);
	/* Decoded, the bidi override replaced like a control. */
	assert_string_equal(name, "0000000007 Caf\xc3\xa9 cr\xc3\xa8me gpj.exe.eml");
	assert_string_equal(msgid, "<x@y>");
	assert_string_equal(date, "Mon, 1 Jan 2024 10:00:00 +0000");
	again = layout_message_rename(name, 42);
	assert_string_equal(again, "0000000042 Caf\xc3\xa9 cr\xc3\xa8me gpj.exe.eml");
	free(name);
	free(msgid);
	free(date);
	free(again);
	/* No header at all: just the UID; nothing else. */
	assert_int_equal(layout_from_header(9, NULL, 0, &name, &msgid, &date), 0);
	assert_string_equal(name, "0000000009.eml");
	assert_null(msgid);
	assert_null(date);
	again = layout_message_rename(name, 10);
	assert_string_equal(again, "0000000010.eml");
	free(name);
	free(again);
}

static void test_dir_name(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(dir_cases); i++) {
		const struct dir_case *c = &dir_cases[i];
		char *name, *back;

		errno = 0;
		name = layout_dir_name(c->component);
		if (c->dirname == NULL) {
			if (name != NULL || errno != EINVAL)
				fail_msg("case %zu: accepted as \"%s\"", i, name ? name : "NULL");
			free(name);
			continue;
		}
		if (name == NULL || strcmp(name, c->dirname) != 0)
			fail_msg("case %zu: expected \"%s\", got \"%s\"", i, c->dirname,
				 name ? name : "NULL");
		back = layout_dir_component(name);
		assert_non_null(back);
		if (strcmp(back, c->component) != 0)
			fail_msg("case %zu: maps back to \"%s\"", i, back);
		free(name);
		free(back);
	}
}

static void test_dir_name_length(void **state)
{
	char *s, *name;

	(void)state;
	s = repeat("a", 255);
	name = layout_dir_name(s);
	assert_non_null(name);
	assert_string_equal(name, s);
	free(name);
	free(s);

	s = repeat("a", 256);
	errno = 0;
	assert_null(layout_dir_name(s));
	assert_int_equal(errno, EINVAL);
	free(s);

	s = repeat("/", 85);                    /* 255 bytes once mapped */
	name = layout_dir_name(s);
	assert_non_null(name);
	assert_int_equal(strlen(name), 255);
	free(name);
	free(s);

	s = repeat("/", 86);                    /* 258 */
	errno = 0;
	assert_null(layout_dir_name(s));
	assert_int_equal(errno, EINVAL);
	free(s);
}

static void test_dir_component(void **state)
{
	static const char *const cases[][2] = {
		{ "a" DSLASH "b", "a/b" },
		{ DSLASH DSLASH, "//" },
		{ "a" DSLASH, "a/" },
		{ "abc", "abc" },
		{ "", "" },
		{ ".", "." },
		{ "\xe2\x88", "\xe2\x88" },             /* cut U+2215 */
		{ "\xe2\x88\x94", "\xe2\x88\x94" },     /* U+2214 */
		{ "日本", "日本" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		char *c = layout_dir_component(cases[i][0]);

		assert_non_null(c);
		assert_string_equal(c, cases[i][1]);
		free(c);
	}
}

/* A small deterministic generator (xorshift), so failures reproduce. */
static uint32_t rnd_state = 2463534242u;

static uint32_t rnd(void)
{
	return xorshift32(&rnd_state);
}

/* Random strings of up to MAXFRAGS fragments that matter here. */
static size_t random_text(char *s, size_t max, uint32_t maxfrags)
{
	static const char *const frags[] = {
		"a", "Z", "0", " ", "  ", "\t", ".", "..", "/", "\r\n", "\x01", "\x7f",
		"\xc2\x85", "\xc2\xa0", "é", "日", "😀", DSLASH, "\xe2\x88", "\xff",
		"\xed\xa0\x80", "\xc0\xaf", "\x80", ".eml",
	};
	size_t len = 0, n = rnd() % (maxfrags + 1), i;

	for (i = 0; i < n; i++) {
		const char *f = frags[rnd() % ARRAY_SIZE(frags)];
		size_t fl = strlen(f);

		if (len + fl >= max)
			break;
		memcpy(s + len, f, fl);
		len += fl;
	}
	s[len] = '\0';
	return len;
}

/* layout_dir_name and layout_dir_component are exact inverses on
 * everything layout_dir_name accepts, in both directions. */
static void test_dir_inverse_random(void **state)
{
	char s[256];
	int iter, accepted = 0;

	(void)state;
	for (iter = 0; iter < 20000; iter++) {
		char *name, *comp, *again;

		random_text(s, sizeof(s), 6);
		name = layout_dir_name(s);
		if (name != NULL) {
			accepted++;
			comp = layout_dir_component(name);
			assert_non_null(comp);
			if (strcmp(comp, s) != 0)
				fail_msg("\"%s\" -> \"%s\" -> \"%s\"", s, name, comp);
			assert_null(strchr(name, '/'));
			free(comp);
			free(name);
		} else {
			assert_int_equal(errno, EINVAL);
		}
		/* The other way: a directory name (no "/") the user made. */
		if (strchr(s, '/') != NULL)
			continue;
		comp = layout_dir_component(s);
		assert_non_null(comp);
		again = layout_dir_name(comp);
		if (again != NULL && strcmp(again, s) != 0)
			fail_msg("\"%s\" -> \"%s\" -> \"%s\"", s, comp, again);
		free(comp);
		free(again);
	}
	assert_true(accepted > 1000);
}

/* The fuzz-style property loop: 10,000 pseudo-random byte strings. */
static void test_message_name_random(void **state)
{
	char s[700];
	int iter;

	(void)state;
	rnd_state = 12345;
	for (iter = 0; iter < 10000; iter++) {
		uint32_t uid = iter % 3 == 0 ? rnd() : (uint32_t)iter;
		size_t len, i;
		char *name;
		const char *why;

		if (iter % 2 == 0) {
			/* raw bytes 1-255 */
			len = rnd() % (sizeof(s) - 1);
			for (i = 0; i < len; i++)
				s[i] = (char)(1 + rnd() % 255);
			s[len] = '\0';
		} else {
			random_text(s, sizeof(s), 200);
		}
		name = layout_message_name(uid, s);
		assert_non_null(name);
		why = check_name(name, uid);
		if (why != NULL)
			fail_msg("iteration %d, name \"%s\": %s", iter, name, why);
		free(name);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_message_name),
		cmocka_unit_test(test_message_name_long),
		cmocka_unit_test(test_message_uid),
		cmocka_unit_test(test_from_header),
		cmocka_unit_test(test_dir_name),
		cmocka_unit_test(test_dir_name_length),
		cmocka_unit_test(test_dir_component),
		cmocka_unit_test(test_dir_inverse_random),
		cmocka_unit_test(test_message_name_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
