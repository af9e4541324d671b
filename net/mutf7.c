/* mutf7.c - IMAP modified UTF-7 mailbox names (RFC 3501 §5.1.3).
 *
 * Modified UTF-7 differs from RFC 2152 UTF-7: "&" shifts instead of "+",
 * "," replaces "/" in the base64 alphabet, "&-" stands for "&", every shifted
 * sequence is closed by "-", and printable US-ASCII (0x20-0x7e) must always
 * represent itself. The text inside a shifted sequence is UTF-16BE.
 *
 * Decoding is strict: a name that has two spellings would break the mapping
 * between directory names and server names, and a name we cannot decode
 * exactly is better left out of the tree than shown wrongly.
 */
#include "net/mutf7.h"
#include "net/utf8.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>


/* The modified BASE64 alphabet of RFC 3501 §5.1.3: RFC 2045's with ","
 * instead of "/", and no "=" padding. */
static const char b64_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

static int is_direct(uint32_t c)
{
	return c >= 0x20 && c <= 0x7e;
}

char *mutf7_decode(const char *in)
{
	const unsigned char *p = (const unsigned char *)in;
	struct utf8_buf out = { 0 };

	while (*p != '\0') {
		uint32_t bits = 0, high = 0;
		unsigned nbits = 0;
		size_t units = 0;

		/* Everything outside 0x20-0x7e must be in a shifted sequence:
		 * raw 8-bit bytes and raw control characters are invalid. */
		if (!is_direct(*p))
			goto inval;
		if (*p != '&') {
			utf8_buf_addc(&out, (char)*p++);
			continue;
		}
		p++;
		if (*p == '-') {
			utf8_buf_addc(&out, '&');
			p++;
			continue;
		}
		for (; *p != '-'; p++) {
			int v = b64_value(*p);
			uint32_t u;

			if (v < 0)              /* bad char, or NUL: "&" unclosed */
				goto inval;
			bits = bits << 6 | (uint32_t)v;
			nbits += 6;
			if (nbits < 16)
				continue;
			nbits -= 16;
			u = bits >> nbits & 0xffff;
			bits &= (1u << nbits) - 1;
			units++;
			if (high != 0) {
				/* A high surrogate must be followed by a low one
				 * within the same shifted sequence. */
				if (u < 0xdc00 || u > 0xdfff)
					goto inval;
				utf8_buf_put(&out, 0x10000 + ((high - 0xd800) << 10)
					     + (u - 0xdc00));
				high = 0;
			} else if (u >= 0xd800 && u <= 0xdbff) {
				high = u;
			} else if (u >= 0xdc00 && u <= 0xdfff) {
				goto inval;
			} else if (is_direct(u) || u == 0) {
				/* Printable ASCII must represent itself, so that
				 * every name has one spelling; U+0000 cannot be
				 * part of a C string. */
				goto inval;
			} else {
				utf8_buf_put(&out, u);
			}
		}
		p++;
		/* "&-" was handled above, so an empty sequence here is "&"
		 * followed by too few characters for one UTF-16 unit. The
		 * leftover bits are the padding of the last unit: fewer than
		 * six (else a whole character was superfluous) and zero. */
		if (units == 0 || nbits >= 6 || bits != 0 || high != 0)
			goto inval;
		/* "Null shifts ("-&" while in BASE64 ...) are not permitted":
		 * a new shifted sequence right after this one. "&-" (a
		 * literal "&") may follow. */
		if (p[0] == '&' && p[1] != '-')
			goto inval;
	}
	return utf8_buf_finish(&out);

inval:
	free(out.data);
	errno = EINVAL;
	return NULL;
}

static void put_unit(struct utf8_buf *b, uint32_t u, uint32_t *bits,
		     unsigned *nbits)
{
	*bits = *bits << 16 | u;
	*nbits += 16;
	while (*nbits >= 6) {
		*nbits -= 6;
		utf8_buf_addc(b, b64_chars[*bits >> *nbits & 0x3f]);
	}
	*bits &= (1u << *nbits) - 1;
}

char *mutf7_encode(const char *in)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t left = strlen(in);
	struct utf8_buf out = { 0 };

	while (left > 0) {
		uint32_t cp, bits = 0;
		unsigned nbits = 0;
		long n = utf8_next(p, left, &cp);

		if (n <= 0)
			goto inval;
		if (is_direct(cp)) {
			if (cp == '&')
				utf8_buf_add(&out, "&-", 2);
			else
				utf8_buf_addc(&out, (char)cp);
			p += n;
			left -= (size_t)n;
			continue;
		}
		/* One shifted sequence for the whole run of characters that
		 * cannot represent themselves: RFC 3501 §5.1.3 forbids null
		 * shifts, so a run must not be split in two. */
		utf8_buf_addc(&out, '&');
		do {
			if (cp >= 0x10000) {
				put_unit(&out, 0xd800 + ((cp - 0x10000) >> 10), &bits, &nbits);
				put_unit(&out, 0xdc00 + ((cp - 0x10000) & 0x3ff), &bits, &nbits);
			} else {
				put_unit(&out, cp, &bits, &nbits);
			}
			p += n;
			left -= (size_t)n;
			if (left == 0)
				break;
			n = utf8_next(p, left, &cp);
			if (n <= 0)
				goto inval;
		} while (!is_direct(cp));
		if (nbits > 0)
			utf8_buf_addc(&out, b64_chars[bits << (6 - nbits) & 0x3f]);
		utf8_buf_addc(&out, '-');
	}
	return utf8_buf_finish(&out);

inval:
	free(out.data);
	errno = EINVAL;
	return NULL;
}
