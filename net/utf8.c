/* utf8.c - strict UTF-8 and a growable buffer. */
#include "net/utf8.h"

#include <errno.h>
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
