/* test_sasl.c - the SASL responses both sessions send (net/sasl.c),
 * against vectors worked out by hand from RFC 4616, RFC 7628 and the
 * providers' XOAUTH2 documentation, and hostile challenges. */
#include "tests/unit/testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/sasl.h"

static void test_initial(void **state)
{
	static const struct {
		enum sasl_mech mech;
		const char *user, *secret, *b64;
	} cases[] = {
		/* "\0alice\0s3cr3t" */
		{ SASL_PLAIN, "alice", "s3cr3t", "AGFsaWNlAHMzY3IzdA==" },
		/* "user=alice\1auth=Bearer tok\1\1" */
		{ SASL_XOAUTH2, "alice", "tok", "dXNlcj1hbGljZQFhdXRoPUJlYXJlciB0b2sBAQ==" },
		/* "n,a=alice,\1auth=Bearer tok\1\1" */
		{ SASL_OAUTHBEARER, "alice", "tok", "bixhPWFsaWNlLAFhdXRoPUJlYXJlciB0b2sBAQ==" },
		/* "," and "=" of the name escaped in the GS2 header (RFC 5801):
		 * "n,a=al=2Cice=3D,\1auth=Bearer tok\1\1" */
		{ SASL_OAUTHBEARER, "al,ice=", "tok",
		  "bixhPWFsPTJDaWNlPTNELAFhdXRoPUJlYXJlciB0b2sBAQ==" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *b64 = sasl_initial(cases[i].mech, cases[i].user, cases[i].secret);

		assert_non_null(b64);
		assert_string_equal(b64, cases[i].b64);
		sasl_free(b64);
	}
	assert_string_equal(sasl_name(SASL_PLAIN), "PLAIN");
	assert_string_equal(sasl_name(SASL_XOAUTH2), "XOAUTH2");
	assert_string_equal(sasl_name(SASL_OAUTHBEARER), "OAUTHBEARER");
}

static void test_answer(void **state)
{
	(void)state;
	assert_string_equal(sasl_answer(SASL_OAUTHBEARER), "AQ==");
	assert_string_equal(sasl_answer(SASL_XOAUTH2), "");
	assert_string_equal(sasl_answer(SASL_PLAIN), "*");
}

static void test_challenge(void **state)
{
	char out[64];
	char big[2000];

	(void)state;
	/* {"status":"401"} */
	sasl_challenge_text("eyJzdGF0dXMiOiI0MDEifQ==", out, sizeof(out));
	assert_string_equal(out, "{\"status\":\"401\"}");
	/* Controls and 8-bit bytes are shown as '?': "a\x1b[2Jb\xff" */
	sasl_challenge_text("YRtbMkpi/w==", out, sizeof(out));
	assert_string_equal(out, "a?[2Jb?");
	/* Not base64, an odd length, empty, too long: nothing. */
	sasl_challenge_text("!!!!", out, sizeof(out));
	assert_string_equal(out, "");
	sasl_challenge_text("abc", out, sizeof(out));
	assert_string_equal(out, "");
	sasl_challenge_text("", out, sizeof(out));
	assert_string_equal(out, "");
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	sasl_challenge_text(big, out, sizeof(out));
	assert_string_equal(out, "");
	/* A small buffer is filled, never overrun. */
	sasl_challenge_text("eyJzdGF0dXMiOiI0MDEifQ==", out, 5);
	assert_string_equal(out, "{\"st");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_initial),
		cmocka_unit_test(test_answer),
		cmocka_unit_test(test_challenge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
