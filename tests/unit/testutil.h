/* testutil.h - what every cmocka unit test includes. */
#ifndef MAILFS_TESTUTIL_H
#define MAILFS_TESTUTIL_H

#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <setjmp.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A growing NUL-terminated string; free(b.s) when done. */
struct sb {
	char *s;
	size_t len, cap;
};

static inline void sb_addn(struct sb *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = realloc(b->s, b->cap);
		assert_non_null(b->s);
	}
	if (n)
		memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

/* Small deterministic generators for randomized tests (Marsaglia's
 * xorshift; xorshift64* for 64 bits). The state must not be 0. */
static inline uint32_t xorshift32(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static inline uint64_t xorshift64s(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

/* The seed of a randomized test: MAILFS_TEST_SEED, or a new one, printed
 * so that a failing run can be repeated. Never 0. */
static inline uint64_t test_seed(const char *what)
{
	const char *env = getenv("MAILFS_TEST_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) :
	                (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);

	printf("    %s seed %" PRIu64 " (MAILFS_TEST_SEED to repeat)\n", what, seed);
	return seed ? seed : 1;
}

static inline int rm_tree_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (type == FTW_DP || type == FTW_D)
		chmod(path, 0700);
	remove(path);
	return 0;
}

/* Remove DIR and everything below it, read-only directories included. */
static inline void rm_tree(const char *dir)
{
	chmod(dir, 0700);
	nftw(dir, rm_tree_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
