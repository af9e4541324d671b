/* grow.h - room in a growing array, the one way the code grows one.
 *
 *     if (ARRAY_RESERVE(list->uids, list->n, list->cap) < 0)
 *             return -ENOMEM;
 *     list->uids[list->n++] = uid;
 *
 * makes room for element N of ARR (CAP elements now) by doubling, from 16;
 * 0, or -ENOMEM with ARR and CAP unchanged. Header only, with no code of
 * its own to call: cache/ uses it too (tests/layers.py knows). */
#ifndef MAILFS_GROW_H
#define MAILFS_GROW_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

/* ARR, or its new home with room for element N; NULL when out of memory
 * (ARR is then untouched). *CAP is updated on success. */
static inline void *grow_array(void *arr, size_t *cap, size_t n, size_t size)
{
	size_t c = *cap;
	void *p;

	if (n < c)
		return arr;
	c = c ? c : 16;
	while (c <= n) {
		if (c > SIZE_MAX / 2 / size)
			return NULL;
		c *= 2;
	}
	p = realloc(arr, c * size);
	if (p)
		*cap = c;
	return p;
}

#define ARRAY_RESERVE(arr, n, cap) __extension__ ({ \
	__typeof__(arr) grown_ = grow_array((arr), &(cap), (n), sizeof(*(arr))); \
	grown_ ? ((arr) = grown_, 0) : -ENOMEM; })

#endif
