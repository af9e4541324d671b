/* fuzz_mutf7.c - libFuzzer target for modified UTF-7 (net/mutf7.c).
 *
 * The input, cut at its first NUL, is taken both as a wire name and as a
 * UTF-8 name. mutf7.h promises that valid modified UTF-7 has exactly one
 * spelling and that valid UTF-8 always encodes:
 *  - when mutf7_decode() accepts it, the result is valid UTF-8 and
 *    mutf7_encode() of the result gives back the input exactly;
 *  - mutf7_encode() accepts it exactly when it is valid UTF-8; the result
 *    is printable US-ASCII and decodes back to the input;
 *  - utf8_next() (net/utf8.c, which both directions rely on) agrees at
 *    every position with an independently written decoder.
 */
#include "tests/fuzz/fuzzutil.h"

#include <errno.h>

#include "net/mutf7.h"
#include "net/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fuzz_strndup(data, size);
	size_t len = strlen(in);
	char *dec, *enc;

	for (size_t i = 0; i < size; i++) {
		uint32_t cp = 0, want = 0;
		long got = utf8_next(data + i, size - i, &cp);
		size_t k = fuzz_utf8_next(data + i, size - i, &want);

		FUZZ_CHECK(got > 0 ? (size_t)got == k && cp == want : k == 0 && got < 0);
	}
	errno = 0;
	dec = mutf7_decode(in);
	if (dec) {
		FUZZ_CHECK(fuzz_utf8_valid(dec, strlen(dec)));
		enc = mutf7_encode(dec);
		FUZZ_CHECK(enc != NULL && strcmp(enc, in) == 0);
		free(enc);
		free(dec);
	} else {
		FUZZ_CHECK(errno == EINVAL);
	}

	errno = 0;
	enc = mutf7_encode(in);
	if (fuzz_utf8_valid(in, len)) {
		FUZZ_CHECK(enc != NULL);
		for (const char *p = enc; *p; p++)
			FUZZ_CHECK(*p >= 0x20 && *p <= 0x7e);
		dec = mutf7_decode(enc);
		FUZZ_CHECK(dec != NULL && strcmp(dec, in) == 0);
		free(dec);
		free(enc);
	} else {
		FUZZ_CHECK(enc == NULL && errno == EINVAL);
	}
	free(in);
	return 0;
}
