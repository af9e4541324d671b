/* test_mutf7.c - modified UTF-7 (RFC 3501 §5.1.3) both ways. */
#include "tests/unit/testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "net/mutf7.h"

struct pair {
	const char *mutf7;
	const char *utf8;
};

/* Valid both ways: decode(mutf7) == utf8 and encode(utf8) == mutf7. */
static const struct pair pairs[] = {
	{ "", "" },
	{ "INBOX", "INBOX" },
	{ "&-", "&" },
	{ "a&-b", "a&b" },
	{ "&-&-", "&&" },
	{ "-", "-" },
	{ "~peter/mail/&U,BTFw-/&ZeVnLIqe-", "~peter/mail/台北/日本語" },  /* RFC 3501 */
	{ "Entw&APw-rfe", "Entwürfe" },
	{ "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-", "Отправленные" },
	{ "Bo&AO4-te d'envoi", "Boîte d'envoi" },
	{ "&APw-", "ü" },            /* 1 unit: 3 chars, 2 pad bits */
	{ "&APwA,A-", "üü" },        /* 2 units: 6 chars, 4 pad bits */
	{ "&APwA,AD8-", "üüü" },     /* 3 units: 8 chars, no padding */
	{ "&AOk-&-&AOk-", "é&é" },
	{ "&2D3eAA-", "😀" },         /* U+1F600 as a surrogate pair */
	{ "&2D3cqdg834k-", "💩🎉" },
	{ "a&2D3eAA-b&IKw-c", "a😀b€c" },
	{ "&2,,f,w-", "\xf4\x8f\xbf\xbf" },  /* U+10FFFF */
	{ "&,,0-", "\xef\xbf\xbd" },          /* U+FFFD */
	{ "&AAE-", "\x01" },          /* controls are encoded, not raw */
	{ "&AAk-", "\t" },
	{ "&AH8-", "\x7f" },
	{ "&AIA-", "\xc2\x80" },      /* C1 */
	{ " ~!\"#$%'()*+,./0123456789:;<=>?@AZ[\\]^_`az{|}",
	  " ~!\"#$%'()*+,./0123456789:;<=>?@AZ[\\]^_`az{|}" },
};

static void test_pairs(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(pairs); i++) {
		char *d = mutf7_decode(pairs[i].mutf7);
		char *e = mutf7_encode(pairs[i].utf8);

		if (d == NULL || strcmp(d, pairs[i].utf8) != 0)
			fail_msg("decode case %zu \"%s\": got %s", i, pairs[i].mutf7,
				 d ? d : "NULL");
		if (e == NULL || strcmp(e, pairs[i].mutf7) != 0)
			fail_msg("encode case %zu \"%s\": got %s", i, pairs[i].mutf7,
				 e ? e : "NULL");
		free(d);
		free(e);
	}
}

/* Each reason a name is not valid modified UTF-7. */
static const char *const bad_mutf7[] = {
	"&",                    /* "&" not closed */
	"a&",
	"&AOk",
	"&2D3eAA",
	"&A-",                  /* too few characters for one unit */
	"&AO-",
	"&AOk=-",               /* characters outside modified BASE64 */
	"&AO/-",                /* "/" is "," in modified BASE64 */
	"&AOk -",
	"&AO\xc3\xa9-",
	"&AOl-",                /* padding bits not zero */
	"&APwA,B-",
	"&AOkA-",               /* superfluous character: 8 leftover bits */
	"&APwA,AD8A-",
	"&AGE-",                /* encodes printable US-ASCII "a" */
	"&ACY-",                /* encodes "&" */
	"&ACA-",                /* encodes SPACE */
	"&AH4-",                /* encodes "~" */
	"&AOkAYQ-",             /* "é" then an encoded "a" */
	"&AAA-",                /* encodes U+0000 */
	"&2D0-",                /* lone high surrogate */
	"&3gA-",                /* lone low surrogate */
	"&3gDYPQ-",             /* low before high */
	"&2D0A6Q-",             /* high followed by a non-surrogate */
	"&2D3YPd4A-",           /* high, high, low */
	"&2D0-&3gA-",           /* pair split over two sequences */
	"&AOk-&AOk-",           /* null shift "-&" */
	"caf\xc3\xa9",          /* raw 8-bit bytes */
	"\xff",
	"a\001b",               /* raw control characters */
	"a\tb",
	"\x7f",
	"a\nb",
};

static void test_decode_invalid(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad_mutf7); i++) {
		char *d;

		errno = 0;
		d = mutf7_decode(bad_mutf7[i]);
		if (d != NULL || errno != EINVAL)
			fail_msg("case %zu: accepted (\"%s\"), errno %d", i,
				 d ? d : "NULL", errno);
	}
}

static const char *const bad_utf8[] = {
	"\x80",                         /* lone continuation byte */
	"a\xc3",                        /* truncated */
	"\xe6\x97",
	"\xc0\xaf",                     /* overlong "/" */
	"\xc1\xbf",
	"\xe0\x80\xaf",
	"\xf0\x80\x80\xaf",
	"\xed\xa0\x80",                 /* U+D800 */
	"\xed\xbf\xbf",                 /* U+DFFF */
	"\xed\xa0\xbd\xed\xb8\x80",     /* CESU-8 surrogate pair */
	"\xf4\x90\x80\x80",             /* U+110000 */
	"\xf5\x80\x80\x80",
	"\xf8\x88\x80\x80\x80",
	"\xfe",
	"\xff",
	"ok\xc3\xa9\xa9",
};

static void test_encode_invalid(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad_utf8); i++) {
		char *e;

		errno = 0;
		e = mutf7_encode(bad_utf8[i]);
		if (e != NULL || errno != EINVAL)
			fail_msg("case %zu: accepted (\"%s\"), errno %d", i,
				 e ? e : "NULL", errno);
	}
}

/* A small deterministic generator (xorshift), so failures reproduce. */
static uint32_t rnd_state = 2463534242u;

static uint32_t rnd(void)
{
	return xorshift32(&rnd_state);
}

static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Any valid UTF-8 without NUL survives encode then decode, and the encoded
 * form is printable ASCII. */
static void test_roundtrip_random(void **state)
{
	char s[4 * 32 + 1];
	int iter;

	(void)state;
	for (iter = 0; iter < 5000; iter++) {
		size_t len = 0, n = rnd() % 32, i;
		char *e, *d;

		for (i = 0; i < n; i++) {
			uint32_t cp;

			switch (rnd() % 4) {
			case 0:
				cp = 0x20 + rnd() % 0x5f;       /* printable */
				break;
			case 1:
				cp = "&-&A"[rnd() % 4];
				break;
			case 2:
				cp = 1 + rnd() % 0xffff;        /* BMP */
				break;
			default:
				cp = 0x10000 + rnd() % 0x100000; /* astral */
				break;
			}
			if (cp >= 0xd800 && cp <= 0xdfff)
				cp = 0xe000;
			len += put_utf8(s + len, cp);
		}
		s[len] = '\0';
		e = mutf7_encode(s);
		assert_non_null(e);
		for (i = 0; e[i] != '\0'; i++)
			assert_true(e[i] >= 0x20 && e[i] <= 0x7e);
		d = mutf7_decode(e);
		if (d == NULL || strcmp(d, s) != 0)
			fail_msg("iteration %d: \"%s\" does not round-trip", iter, e);
		free(e);
		free(d);
	}
}

/* Valid modified UTF-7 has one spelling: whatever the decoder accepts,
 * encoding the result gives the same bytes back. The inputs mix whole
 * shifted sequences (so that two often stand side by side) with stray
 * characters that break them. */
static void test_canonical_random(void **state)
{
	static const char *const frags[] = {
		"&AOk-", "&APw-", "&APwA,A-", "&2D3eAA-", "&IKw-", "&-", "&", "-",
		"a", " ", "AOk", "A", ",", "+", "/", "=", "2D0", "3gA", "&AGE-",
	};
	char s[64];
	int iter, accepted = 0;

	(void)state;
	for (iter = 0; iter < 100000; iter++) {
		size_t len = 0, n = rnd() % 6, i;
		char *d, *e;

		for (i = 0; i < n; i++) {
			const char *f = frags[rnd() % ARRAY_SIZE(frags)];

			memcpy(s + len, f, strlen(f));
			len += strlen(f);
		}
		s[len] = '\0';
		d = mutf7_decode(s);
		if (d == NULL) {
			assert_int_equal(errno, EINVAL);
			continue;
		}
		accepted++;
		e = mutf7_encode(d);
		if (e == NULL || strcmp(e, s) != 0)
			fail_msg("\"%s\" decodes, but encodes back as \"%s\"", s,
				 e ? e : "NULL");
		free(d);
		free(e);
	}
	assert_true(accepted > 1000);
}

static void test_long_name(void **state)
{
	char in[3 * 1000 + 1];
	char *e, *d;
	size_t i;

	(void)state;
	for (i = 0; i < 1000; i++)
		memcpy(in + 3 * i, "日", 3);
	in[3000] = '\0';
	e = mutf7_encode(in);
	assert_non_null(e);
	assert_int_equal(e[0], '&');
	assert_int_equal(e[strlen(e) - 1], '-');
	assert_int_equal(strlen(e), 2 + (1000 * 16 + 5) / 6);
	d = mutf7_decode(e);
	assert_non_null(d);
	assert_string_equal(d, in);
	free(e);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pairs),
		cmocka_unit_test(test_decode_invalid),
		cmocka_unit_test(test_encode_invalid),
		cmocka_unit_test(test_roundtrip_random),
		cmocka_unit_test(test_canonical_random),
		cmocka_unit_test(test_long_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
