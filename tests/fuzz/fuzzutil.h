/* fuzzutil.h - what every libFuzzer target includes: a check that aborts
 * (libFuzzer then saves the input), a growable byte buffer, a small
 * deterministic random generator seeded from the input, a chunker and a
 * comparison of the transcripts of runs fed in different chunks, and a
 * strict UTF-8 validator.
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

/* ---- cutting an input as a socket might deliver it --------------------- */

/* Mode 0: whole; 1: one byte at a time; 2: random sizes, mostly small. */
struct fuzz_chunker {
	struct fuzz_rng rng;
	size_t max;
	int mode;
};

static inline void fuzz_chunker_init(struct fuzz_chunker *c, uint64_t seed, int mode)
{
	c->rng.state = seed ^ 0x636875686bu;
	c->max = 1 + (size_t)fuzz_below(&c->rng, 64);
	if (fuzz_below(&c->rng, 4) == 0)
		c->max = 4096;
	c->mode = mode;
}

/* The next piece of the REST bytes left, copied into an allocation of its
 * own so that ASan sees any read past it (free it); its size in *N_R. */
static inline char *fuzz_next_chunk(struct fuzz_chunker *c, const uint8_t *p, size_t rest,
                                    size_t *n_r)
{
	size_t n = c->mode == 0 ? rest : c->mode == 1 ? 1 : 1 + (size_t)fuzz_below(&c->rng, c->max);
	char *chunk;

	if (n > rest)
		n = rest;
	chunk = malloc(n ? n : 1);
	FUZZ_CHECK(chunk != NULL);
	memcpy(chunk, p, n);
	*n_r = n;
	return chunk;
}

/* ---- comparing the transcripts of runs fed in different chunks -------- */

/* Transcript T (of the run in MODE) around offset AT, printable. */
static inline void fuzz_show(const struct fuzz_buf *t, int mode, size_t at)
{
	size_t from = at > 60 ? at - 60 : 0, to = at + 60 < t->len ? at + 60 : t->len;

	fprintf(stderr, "mode %d: ", mode);
	for (size_t i = from; i < to; i++) {
		unsigned char c = (unsigned char)t->data[i];

		if (i == at)
			fputs("<HERE>", stderr);
		if (c >= 0x20 && c < 0x7f)
			fputc(c, stderr);
		else
			fprintf(stderr, "\\x%02x", c);
	}
	fputc('\n', stderr);
}

/* Abort, showing where, unless transcripts A and B are the same. */
static inline void fuzz_same_transcript(const struct fuzz_buf *a, int mode_a,
                                        const struct fuzz_buf *b, int mode_b)
{
	size_t i;

	if (a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0))
		return;
	for (i = 0; i < a->len && i < b->len && a->data[i] == b->data[i]; i++)
		;
	fprintf(stderr, "transcripts differ (mode %d: %zu bytes, mode %d: %zu bytes) at %zu\n",
	        mode_a, a->len, mode_b, b->len, i);
	fuzz_show(a, mode_a, i);
	fuzz_show(b, mode_b, i);
	abort();
}

/* ---- strict UTF-8 (RFC 3629): no overlong forms, surrogates, > U+10FFFF -- */

/* Length of the valid sequence at S (N > 0 bytes) and its code point, or 0.
 * Written from the definition (length from the lead byte, then reject
 * overlong forms, surrogates and values above U+10FFFF by the code point),
 * not from Unicode's byte-range table that net/utf8.c follows, so that the
 * fuzzers check net/utf8.c against something that does not share its code. */
static inline size_t fuzz_utf8_next(const unsigned char *s, size_t n, uint32_t *cp_r)
{
	static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t len = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 :
	             (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
	uint32_t cp;

	if (len == 0 || len > n)
		return 0;
	cp = len == 1 ? s[0] : s[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min[len] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	*cp_r = cp;
	return len;
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
