/* fuzzutil.h - what every libFuzzer target includes: a check that aborts
 * (libFuzzer then saves the input), a growable byte buffer, a small
 * deterministic random generator seeded from the input, and a strict UTF-8
 * validator.
 *
 * Targets that need choices besides the bytes they parse (chunk sizes,
 * limits, whether to stream a literal) take them from a generator seeded
 * with a hash of the whole input. The corpus files then stay plain protocol
 * transcripts that a person can read and edit, and every input still
 * reproduces exactly.
 */
#ifndef MAILFS_FUZZUTIL_H
#define MAILFS_FUZZUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

/* ---- growable bytes; allocation failure aborts (it is not under test) ---- */

struct fuzz_buf {
	char *data;
	size_t len, cap;
};

static inline void fuzz_buf_add(struct fuzz_buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < b->len + n + 1)
			cap *= 2;
		b->data = realloc(b->data, cap);
		FUZZ_CHECK(b->data != NULL);
		b->cap = cap;
	}
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static inline void fuzz_buf_addc(struct fuzz_buf *b, char c)
{
	fuzz_buf_add(b, &c, 1);
}

static inline void fuzz_buf_add_u64(struct fuzz_buf *b, uint64_t v)
{
	fuzz_buf_add(b, &v, sizeof(v));
}

static inline void fuzz_buf_release(struct fuzz_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* A NUL-terminated copy of N bytes (a NUL inside ends the string early). */
static inline char *fuzz_strndup(const uint8_t *data, size_t n)
{
	char *s = malloc(n + 1);

	FUZZ_CHECK(s != NULL);
	if (n)
		memcpy(s, data, n);
	s[n] = '\0';
	return s;
}

/* ---- choices derived from the input -------------------------------------- */

/* FNV-1a over the whole input. */
static inline uint64_t fuzz_hash(const uint8_t *data, size_t size)
{
	uint64_t h = 0xcbf29ce484222325u;

	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 0x100000001b3u;
	return h;
}

struct fuzz_rng {
	uint64_t state;
};

/* splitmix64 */
static inline uint64_t fuzz_rng_next(struct fuzz_rng *r)
{
	uint64_t z = (r->state += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* A number in [0, n), n > 0. */
static inline uint64_t fuzz_below(struct fuzz_rng *r, uint64_t n)
{
	return fuzz_rng_next(r) % n;
}

/* ---- strict UTF-8 (RFC 3629): no overlong forms, surrogates, > U+10FFFF -- */

/* Length of the valid sequence at S (N > 0 bytes) and its code point, or 0. */
static inline size_t fuzz_utf8_next(const unsigned char *s, size_t n, uint32_t *cp_r)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need;
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
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 3;
		cp = s[0] & 0x07;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	for (size_t i = 1; i <= need; i++) {
		if (i >= n || s[i] < lo || s[i] > hi)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	*cp_r = cp;
	return need + 1;
}

/* 1 when the N bytes at S are valid UTF-8 without a NUL. */
static inline int fuzz_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;

	while (n > 0) {
		size_t k = fuzz_utf8_next(p, n, &cp);

		if (k == 0 || cp == 0)
			return 0;
		p += k;
		n -= k;
	}
	return 1;
}

#endif
