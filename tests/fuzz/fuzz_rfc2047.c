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
 *  - encoded again as RFC 2047 words and decoded, a decoded value comes
 *    back unchanged: in UTF-8 (words split at characters, as RFC 2047 §5
 *    asks, and sometimes inside one, which mime.h promises to join) and,
 *    where it fits, in ISO-8859-1; B and Q words mixed, separated by white
 *    space. net/mime.c has no encoder: a minimal one is written here;
 *  - a parsed date formats as an INTERNALDATE that parses back to the same
 *    time (within the years 0000-9999 that the format can carry).
 */
#include "tests/fuzz/fuzzutil.h"

#include <errno.h>

#include "net/mime.h"

/* ---- a minimal RFC 2047 encoder, for the round trip ---------------------- */

/* Q may carry these as they are in any header (RFC 2047 §5 (3)); "_" is a
 * space, anything else =XX. */
static int q_plain(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!*+-/", c));
}

/* How many characters byte C takes in a Q word. */
static size_t q_len(unsigned char c)
{
	return q_plain(c) || c == ' ' ? 1 : 3;
}

/* How many of the N bytes at P (N > 0) fit in ROOM characters of
 * encoded-text; at least 1. */
static size_t word_fits(char enc, const unsigned char *p, size_t n, size_t room)
{
	size_t k = 0, used = 0;

	if (enc == 'B')
		k = room / 4 * 3;
	else
		while (k < n && used + q_len(p[k]) <= room)
			used += q_len(p[k++]);
	return k < 1 ? 1 : k < n ? k : n;
}

/* One encoded word "=?CHARSET?B|Q?...?=" holding the N bytes at P. */
static void put_word(struct fuzz_buf *b, const char *charset, char enc,
                     const unsigned char *p, size_t n)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char hex[] = "0123456789ABCDEF";

	fuzz_buf_add(b, "=?", 2);
	fuzz_buf_add(b, charset, strlen(charset));
	fuzz_buf_addc(b, '?');
	fuzz_buf_addc(b, enc);
	fuzz_buf_addc(b, '?');
	if (enc == 'B') {
		for (size_t i = 0; i < n; i += 3) {
			uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
			             (i + 2 < n ? p[i + 2] : 0);

			fuzz_buf_addc(b, b64[v >> 18 & 63]);
			fuzz_buf_addc(b, b64[v >> 12 & 63]);
			fuzz_buf_addc(b, i + 1 < n ? b64[v >> 6 & 63] : '=');
			fuzz_buf_addc(b, i + 2 < n ? b64[v & 63] : '=');
		}
	} else {
		for (size_t i = 0; i < n; i++) {
			if (q_plain(p[i])) {
				fuzz_buf_addc(b, (char)p[i]);
			} else if (p[i] == ' ') {
				fuzz_buf_addc(b, '_');
			} else {
				fuzz_buf_addc(b, '=');
				fuzz_buf_addc(b, hex[p[i] >> 4]);
				fuzz_buf_addc(b, hex[p[i] & 15]);
			}
		}
	}
	fuzz_buf_add(b, "?=", 2);
}

/* The N bytes at P, text in CHARSET, as encoded words of at most 75
 * characters (RFC 2047 §2) separated by white space (not shown, §6.2).
 * Where a word ends comes from R; with UTF8, at a character boundary,
 * unless R says otherwise. */
static void encode_words(struct fuzz_buf *b, struct fuzz_rng *r, const char *charset,
                         int utf8, const unsigned char *p, size_t n)
{
	static const char *const space[] = { " ", "\t", "  ", " \t" };
	const size_t room = 75 - 7 - strlen(charset);   /* "=?" charset "?X?" ... "?=" */

	while (n > 0) {
		char enc = fuzz_below(r, 2) ? 'B' : 'Q';
		size_t k = 1 + (size_t)fuzz_below(r, word_fits(enc, p, n, room));

		if (utf8 && fuzz_below(r, 8) != 0) {
			while (k < n && k > 0 && (p[k] & 0xc0) == 0x80)
				k--;
			while (k == 0 || (k < n && (p[k] & 0xc0) == 0x80))
				k++;   /* one whole character, however long */
		}
		put_word(b, charset, enc, p, k);
		p += k;
		n -= k;
		if (n > 0) {
			const char *sp = space[fuzz_below(r, 4)];

			fuzz_buf_add(b, sp, strlen(sp));
		}
	}
}

/* TEXT (valid UTF-8 without NUL, as mime_decode_words() gives) encoded as
 * words and decoded must come back as it was. */
static void check_round_trip(const char *text, uint64_t seed)
{
	struct fuzz_rng r = { seed ^ 0x726f756e64u };
	struct fuzz_buf enc = { 0 }, latin1 = { 0 };
	size_t n = strlen(text);
	int fits_latin1 = 1;
	char *back;

	encode_words(&enc, &r, fuzz_below(&r, 2) ? "UTF-8" : "utf-8", 1,
	             (const unsigned char *)text, n);
	back = mime_decode_words(enc.data ? enc.data : "", enc.len);
	FUZZ_CHECK(back != NULL);
	if (strcmp(back, text) != 0) {
		fprintf(stderr, "round trip:\n  text    %s\n  encoded %s\n  decoded %s\n", text,
		        enc.data ? enc.data : "", back);
		FUZZ_CHECK(!"UTF-8 round trip");
	}
	free(back);

	/* ISO-8859-1, when the text fits: mailfs reads that label as
	 * Windows-1252 (as browsers and mail readers do), so U+0080-U+009F
	 * are left out. */
	for (size_t i = 0; i < n && fits_latin1; ) {
		uint32_t cp;
		size_t k = fuzz_utf8_next((const unsigned char *)text + i, n - i, &cp);

		FUZZ_CHECK(k > 0);
		fits_latin1 = cp <= 0xff && (cp < 0x80 || cp >= 0xa0);
		fuzz_buf_addc(&latin1, (char)cp);
		i += k;
	}
	if (fits_latin1) {
		enc.len = 0;
		encode_words(&enc, &r, "ISO-8859-1", 0, (const unsigned char *)latin1.data,
		             latin1.len);
		back = mime_decode_words(enc.data ? enc.data : "", enc.len);
		FUZZ_CHECK(back != NULL);
		if (strcmp(back, text) != 0) {
			fprintf(stderr, "round trip:\n  text    %s\n  encoded %s\n  decoded %s\n", text,
			        enc.data ? enc.data : "", back);
			FUZZ_CHECK(!"ISO-8859-1 round trip");
		}
		free(back);
	}
	fuzz_buf_release(&enc);
	fuzz_buf_release(&latin1);
}

static void check_decode(const char *in, size_t len)
{
	char *out = mime_decode_words(in, len);

	FUZZ_CHECK(out != NULL);
	FUZZ_CHECK(fuzz_utf8_valid(out, strlen(out)));
	check_round_trip(out, fuzz_hash((const uint8_t *)in, len));
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
