/* fuzz_search.c - libFuzzer target for the search-directory query
 * (net/search.c).
 *
 * The input is a directory name (a NUL ends it, as a C string would). It is
 * parsed with sq_parse(); the result must be 0 or -EINVAL (with a reason of
 * printable ASCII). When it parses:
 *  - sq_format() must write it, the text must parse again and be written
 *    the same (the canonical text is a fixed point);
 *  - sq_needs() must be the same for both trees, and without
 *    SQ_NEEDS_UTF8 the text is ASCII but for the U+2215 written for '/';
 *  - sq_match() on a fixed message must give 0 or 1, or -EINVAL exactly
 *    when the query uses flag keys or X-GM-RAW, and give the same answer
 *    for the re-parsed tree.
 */
#include "tests/fuzz/fuzzutil.h"

#include <errno.h>
#include <strings.h>

#include "net/search.h"

static int header(void *ctx, const char *name, const char **v_r, size_t *len_r)
{
	static const char *const fields[][2] = {
		{ "From", "Alice <alice@example.com>" },
		{ "To", "M\xc3\x9cLLER <m@x.de>, bob@example.org" },
		{ "Subject", "Quarterly report a/b" },
		{ "X-Spam", "" },
	};

	(void)ctx;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strcasecmp(fields[i][0], name) == 0) {
			*v_r = fields[i][1];
			*len_r = strlen(*v_r);
			return 1;
		}
	return 0;
}

static int body(void *ctx, const char **t_r, size_t *len_r)
{
	(void)ctx;
	*t_r = "Numbers are up.\nCaf\xc3\xa9\n";
	*len_r = strlen(*t_r);
	return 0;
}

static int text(void *ctx, const char **t_r, size_t *len_r)
{
	(void)ctx;
	*t_r = "From: Alice <alice@example.com>\nSubject: Quarterly report a/b\n\n"
	       "Numbers are up.\nCaf\xc3\xa9\n";
	*len_r = strlen(*t_r);
	return 0;
}

static const struct sq_message msg = {
	.header = header, .body = body, .text = text,
	.internaldate = 1704153600 - 1800, .internal_off = 3600,
	.has_date = 1, .date = 1704169800, .date_off = -18000,
	.size = 5000, .uid = 42, .max_uid = 100,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fuzz_strndup(data, size), *t1, *t2, err[128];
	struct sq_node *q, *q2;
	int r, m1, m2;
	unsigned need;

	r = sq_parse(in, &q, err, sizeof(err));
	FUZZ_CHECK(r == 0 || r == -EINVAL);
	if (r < 0) {
		FUZZ_CHECK(q == NULL && err[0]);
		for (const char *p = err; *p; p++)
			FUZZ_CHECK(*p >= 0x20 && *p < 0x7f);
		free(in);
		return 0;
	}
	t1 = sq_format(q);
	FUZZ_CHECK(t1 != NULL);
	r = sq_parse(t1, &q2, err, sizeof(err));
	if (r != 0)
		fprintf(stderr, "canonical text refused: %s\n", err);
	FUZZ_CHECK(r == 0);
	t2 = sq_format(q2);
	FUZZ_CHECK(t2 != NULL && strcmp(t1, t2) == 0);

	need = sq_needs(q);
	FUZZ_CHECK(need == sq_needs(q2));
	m1 = sq_match(q, &msg);
	m2 = sq_match(q2, &msg);
	FUZZ_CHECK(m1 == m2);
	if (need & (SQ_NEEDS_FLAGS | SQ_NEEDS_GMRAW))
		FUZZ_CHECK(m1 == 0 || m1 == 1 || m1 == -EINVAL);
	else
		FUZZ_CHECK(m1 == 0 || m1 == 1);
	if (!(need & SQ_NEEDS_UTF8)) {
		/* the only non-ASCII bytes of the text are the U+2215 written for '/' */
		for (const char *p = t1; *p; p++)
			if ((unsigned char)*p >= 0x80) {
				FUZZ_CHECK(strncmp(p, "\xe2\x88\x95", 3) == 0);
				p += 2;
			}
	}
	sq_free(q);
	sq_free(q2);
	free(t1);
	free(t2);
	free(in);
	return 0;
}
