/* utf8.h - strict UTF-8 (RFC 3629) and a growable byte buffer: what the
 * name and header code (mutf7.c, mime.c, fs/layout.c) share.
 *
 * Ownership: a buffer's data is malloc'd; utf8_buf_finish() hands it to the
 * caller (who frees it).
 */
#ifndef MAILFS_UTF8_H
#define MAILFS_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define UTF8_REPLACEMENT 0xfffd

/* The sequence at S (N > 0 bytes available), strictly: no overlong forms, no
 * surrogates, nothing above U+10FFFF (Unicode Table 3-7). Returns its length
 * with the code point in *cp_r, or minus the length of the "maximal
 * subpart" of an invalid one (at least 1), which Unicode §3.9 recommends to
 * replace with one U+FFFD. */
long utf8_next(const unsigned char *s, size_t n, uint32_t *cp_r);

/* Write code point CP (at most U+10FFFF, not a surrogate) into OUT; returns
 * its length (1 to 4). */
size_t utf8_encode(uint32_t cp, char out[4]);

struct utf8_buf {
	char *data;
	size_t len, cap;
	int failed;          /* an allocation failed; data is unusable */
};

void utf8_buf_add(struct utf8_buf *b, const void *p, size_t n);
void utf8_buf_addc(struct utf8_buf *b, char c);
void utf8_buf_put(struct utf8_buf *b, uint32_t cp);
/* The NUL-terminated string (caller frees), or NULL with errno ENOMEM. */
char *utf8_buf_finish(struct utf8_buf *b);

#endif
