/* utf8.h - strict UTF-8 (RFC 3629), a growable byte buffer, and which
 * characters must never reach a terminal or a file name as they are: what
 * the name and header code (mutf7.c, mime.c, fs/layout.c) and the output
 * code (fs/log.c, fs/status.c) share.
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

/* C0 controls, DEL and C1 controls (U+0080-U+009F): a terminal acts on them
 * (ESC and CSI start escape sequences, CR and LF move the cursor). */
int utf8_is_control(uint32_t cp);

/* Characters that change how the text around them is shown while staying
 * invisible themselves: the bidi controls (U+061C, U+200E, U+200F,
 * U+202A-U+202E, U+2066-U+2069), the line and paragraph separators U+2028
 * and U+2029, and format characters with no visible or spelling role
 * (U+200B, U+2060-U+2064, U+206A-U+206F, U+FEFF, U+FFF9-U+FFFB). U+200C and
 * U+200D (ZWNJ, ZWJ) are not among them: Persian, the Indic scripts and emoji
 * sequences need them, and they neither reorder text nor break lines. */
int utf8_is_invisible(uint32_t cp);

/* Copy N bytes of SRC (any bytes, NUL included) into DST, which has SIZE > 0
 * bytes and is NUL-terminated, with what a terminal would act on made
 * visible as an escape: C0 controls and DEL as "\xHH", each byte of an
 * invalid UTF-8 sequence as "\xHH", C1 controls and utf8_is_invisible()
 * characters as "\uHHHH". LF is copied as it is when KEEP_LF. Everything else
 * (valid UTF-8, a backslash too) is copied unchanged. When DST is full the
 * copy stops at a character boundary, never inside an escape or a UTF-8
 * sequence; SIZE >= 4 * N + 1 always holds the whole of it. Returns the
 * length written (without the NUL). */
size_t utf8_visible(char *dst, size_t size, const char *src, size_t n, int keep_lf);

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
