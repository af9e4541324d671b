/* fuzz_rfc2047.c - libFuzzer target for header parsing, RFC 2047 decoding
 * and dates (net/mime.c).
 *
 * The input is used as an unstructured header value, as a header block,
 * and, cut at its first NUL, as an RFC 5322 date and an INTERNALDATE.
 * Checks (mime.h):
 *  - mime_decode_words() never fails and gives valid UTF-8 without NUL
 *    (a NUL inside shows only where the output length is known: input
 *    without "=?" never shrinks); input without "=?" that is already valid
 *    UTF-8 without NUL comes back unchanged;
 *  - a header value found by mime_header() holds no LF, starts and ends
 *    with no white space, and decodes like any value;
 *  - a parsed date formats as an INTERNALDATE that parses back to the same
 *    time (within the years 0000-9999 that the format can carry).
 */
#include "tests/fuzz/fuzzutil.h"

#include <errno.h>

#include "net/mime.h"

static void check_decode(const char *in, size_t len)
{
	char *out = mime_decode_words(in, len);

	FUZZ_CHECK(out != NULL);
	FUZZ_CHECK(fuzz_utf8_valid(out, strlen(out)));
	/* Without encoded words every input byte gives at least one output
	 * byte (NUL and invalid bytes become U+FFFD or a Latin-1 character),
	 * so a NUL in the output would show as a short string. */
	if (!memmem(in, len, "=?", 2)) {
		FUZZ_CHECK(strlen(out) >= len);
		if (fuzz_utf8_valid(in, len))
			FUZZ_CHECK(strlen(out) == len && memcmp(out, in, len) == 0);
	}
	free(out);
}

static int is_lwsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void check_header(const char *hdr, size_t len, const char *name)
{
	char *v;
	size_t n;

	errno = 0;
	v = mime_header(hdr, len, name);
	if (!v) {
		FUZZ_CHECK(errno == ENOENT);
		return;
	}
	n = strlen(v);
	FUZZ_CHECK(n <= len);
	FUZZ_CHECK(memchr(v, '\n', n) == NULL);
	FUZZ_CHECK(n == 0 || (!is_lwsp(v[0]) && !is_lwsp(v[n - 1])));
	check_decode(v, n);
	free(v);
}

/* Format T and parse it back, when the format can carry it. */
static void check_time(time_t t)
{
	const time_t lo = -62167219200, hi = 253402300799;   /* years 0000-9999 */
	char buf[32];
	time_t back;

	if (t < lo || t > hi)
		return;
	mime_format_internaldate(t, buf, sizeof(buf));
	FUZZ_CHECK(strlen(buf) == 26);
	FUZZ_CHECK(mime_parse_internaldate(buf, &back) == 0 && back == t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	char *s = fuzz_strndup(data, size);
	char small[8];
	time_t t;

	check_decode(in, size);
	check_header(in, size, "Subject");
	check_header(in, size, "From");
	check_header(in, size, "Date");
	if (mime_parse_date(s, &t) == 0)
		check_time(t);
	if (mime_parse_internaldate(s, &t) == 0)
		check_time(t);
	/* a date from the input, clamped, into a short buffer */
	if (size >= sizeof(t)) {
		memcpy(&t, data, sizeof(t));
		mime_format_internaldate(t, small, sizeof(small));
		FUZZ_CHECK(strlen(small) == sizeof(small) - 1);
	}
	free(s);
	return 0;
}
