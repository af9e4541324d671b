/* utf8.c - strict UTF-8, a growable buffer, and the characters that must be
 * shown as escapes or replaced. */
#include "net/utf8.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

long utf8_next(const unsigned char *s, size_t n, uint32_t *cp_r)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, i;
	uint32_t cp;

	if (s[0] < 0x80) {
		*cp_r = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 1;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 2;
		cp = s[0] & 0x0f;
		if (s[0] == 0xe0)
			lo = 0xa0;          /* overlong */
		else if (s[0] == 0xed)
			hi = 0x9f;          /* U+D800-U+DFFF */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 3;
		cp = s[0] & 0x07;
		if (s[0] == 0xf0)
			lo = 0x90;          /* overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f;          /* above U+10FFFF */
	} else {
		return -1;
	}
	for (i = 1; i <= need; i++) {
		if (i >= n || s[i] < lo || s[i] > hi)
			return -(long)i;
		cp = cp << 6 | (s[i] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	*cp_r = cp;
	return (long)need + 1;
}

size_t utf8_encode(uint32_t cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

int utf8_is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

int utf8_is_invisible(uint32_t cp)
{
	/* The bidi controls are what let "gpj.exe" show as "exe.jpg"
	 * (CVE-2021-42574, "Trojan Source"); the rest of the list are the
	 * default-ignorable format characters (Unicode §5.21, §23.2) that are
	 * neither needed to spell a word nor to join an emoji, so a name
	 * holding them can only be a look-alike of another. */
	return cp == 0x061c ||                       /* ARABIC LETTER MARK */
	       cp == 0x200b ||                       /* ZERO WIDTH SPACE */
	       cp == 0x200e || cp == 0x200f ||       /* LRM, RLM */
	       cp == 0x2028 || cp == 0x2029 ||       /* LINE, PARAGRAPH SEPARATOR */
	       (cp >= 0x202a && cp <= 0x202e) ||     /* LRE, RLE, PDF, LRO, RLO */
	       (cp >= 0x2060 && cp <= 0x2064) ||     /* WORD JOINER, invisible operators */
	       (cp >= 0x2066 && cp <= 0x2069) ||     /* LRI, RLI, FSI, PDI */
	       (cp >= 0x206a && cp <= 0x206f) ||     /* deprecated format characters */
	       cp == 0xfeff ||                       /* ZERO WIDTH NO-BREAK SPACE (BOM) */
	       (cp >= 0xfff9 && cp <= 0xfffb);       /* interlinear annotation */
}

size_t utf8_visible(char *dst, size_t size, const char *src, size_t n, int keep_lf)
{
	const unsigned char *p = (const unsigned char *)src;
	size_t len = 0;

	while (n > 0) {
		char esc[4 * 4 + 1];
		const char *out = esc;
		size_t olen;
		uint32_t cp;
		long k = utf8_next(p, n, &cp);

		if (k < 0) {
			/* The bytes themselves: a Latin-1 "caf\xe9" stays readable. */
			olen = 0;
			for (long i = 0; i < -k; i++)
				olen += (size_t)snprintf(esc + olen, sizeof(esc) - olen, "\\x%02x", p[i]);
			k = -k;
		} else if (cp == '\n' && keep_lf) {
			out = (const char *)p;
			olen = 1;
		} else if (cp < 0x20 || cp == 0x7f) {
			olen = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", (unsigned)cp);
		} else if (utf8_is_control(cp) || utf8_is_invisible(cp)) {
			olen = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)cp);
		} else {
			out = (const char *)p;
			olen = (size_t)k;
		}
		if (olen >= size - len)
			break;
		memcpy(dst + len, out, olen);
		len += olen;
		p += k;
		n -= (size_t)k;
	}
	dst[len] = '\0';
	return len;
}

void utf8_buf_add(struct utf8_buf *b, const void *p, size_t n)
{
	if (b->failed)
		return;
	if (b->cap - b->len <= n) {   /* keep room for the final NUL */
		size_t cap = b->cap ? b->cap : 128;
		char *d;

		while (cap - b->len <= n) {
			if (cap > SIZE_MAX / 2) {
				b->failed = 1;
				return;
			}
			cap *= 2;
		}
		d = realloc(b->data, cap);
		if (!d) {
			b->failed = 1;
			return;
		}
		b->data = d;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
}

void utf8_buf_addc(struct utf8_buf *b, char c)
{
	utf8_buf_add(b, &c, 1);
}

void utf8_buf_put(struct utf8_buf *b, uint32_t cp)
{
	char u[4];

	utf8_buf_add(b, u, utf8_encode(cp, u));
}

char *utf8_buf_finish(struct utf8_buf *b)
{
	if (!b->failed && !b->data)
		utf8_buf_add(b, "", 0);
	if (b->failed) {
		free(b->data);
		b->data = NULL;
		errno = ENOMEM;
		return NULL;
	}
	b->data[b->len] = '\0';
	return b->data;
}
