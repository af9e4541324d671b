/* mime.h - the few pieces of RFC 5322 / RFC 2047 message parsing mailfs needs:
 * finding a header field, decoding encoded words to UTF-8, parsing a date.
 *
 * Pure functions over byte buffers. Ownership: returned strings are malloc'd
 * and belong to the caller.
 */
#ifndef MAILFS_MIME_H
#define MAILFS_MIME_H

#include <stddef.h>
#include <time.h>

/* Find header field NAME (case-insensitive) in the header block HDR of LEN
 * bytes (the block may or may not include the empty line and the body; the
 * search stops at the first empty line). Returns the unfolded raw value
 * (CRLF/LF + WSP continuation replaced by the WSP, leading and trailing
 * whitespace removed, a NUL byte replaced by a space) of the first such
 * field, or NULL when absent (errno ENOENT) or ENOMEM. */
char *mime_header(const char *hdr, size_t len, const char *name);

/* Decode RFC 2047 encoded words ("=?charset?B|Q?text?=") in an unstructured
 * header value to UTF-8, with iconv for the charset conversion. Whitespace
 * between two adjacent encoded words is dropped (RFC 2047 §6.2), and the
 * decoded bytes of adjacent words in the same charset are joined before
 * conversion (a character split between two words survives). Words are
 * recognised also when glued to text ("Re:=?..."). Undecodable words
 * (unknown charset, bad base64) stay as they were. Bytes invalid in a word's
 * charset, and a decoded NUL, become U+FFFD. Bytes outside encoded words
 * that are not valid UTF-8 (raw 8-bit headers) are taken as Windows-1252 /
 * Latin-1 and converted, so the result is always valid UTF-8 without NUL.
 * RFC 2231 language tags ("=?utf-8*en?Q?...?=") are accepted. Never returns
 * NULL except on ENOMEM. Thread-safe (nothing is cached between calls). */
char *mime_decode_words(const char *in, size_t len);

/* Keep one converter from charset NAME (an iconv name) open for the life of
 * the process, once per name (at most MIME_KEPT_MAX names). glibc unloads a
 * charset's module when no converter uses it and loads it again for the
 * next one; kept open, it is loaded once. Besides the work spared, no
 * module is unloaded while other threads convert: the dynamic loader's
 * locks are invisible to ThreadSanitizer, which took that for races.
 * Thread-safe; a name iconv does not know is not kept. */
#define MIME_KEPT_MAX 256
void mime_charset_keep(const char *name);

/* Parse an RFC 5322 date-time ("Tue, 1 Jul 2003 10:52:37 +0200", also the
 * obsolete forms: two-digit years, named zones such as GMT/EST/UT, missing
 * seconds, missing day name, extra comments). Military and unknown alphabetic
 * zones, and a missing zone, count as +0000; the day name is not checked
 * against the date. Out-of-range fields (31 Apr, 24:00, +2400, a four-digit
 * year before 1900) are -EINVAL. Returns 0 and the UTC time in *t_r, or
 * -EINVAL. */
int mime_parse_date(const char *in, time_t *t_r);

/* Parse an IMAP INTERNALDATE ("17-Jul-1996 02:44:25 -0700", without the
 * quotes; the day may also be " 7", "07" or "7"). Returns 0 and the UTC
 * time in *t_r, or -EINVAL. */
int mime_parse_internaldate(const char *in, time_t *t_r);

/* Format T as an IMAP INTERNALDATE in UTC ("17-Jul-1996 09:44:25 +0000")
 * into buf of at least 27 bytes (a shorter one gets a cut, terminated
 * string). T is clamped to the years 0000-9999. */
void mime_format_internaldate(time_t t, char *buf, size_t size);

#endif
