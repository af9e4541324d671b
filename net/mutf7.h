/* mutf7.h - IMAP modified UTF-7 mailbox names (RFC 3501 §5.1.3).
 *
 * Ownership: returned strings are malloc'd and belong to the caller.
 */
#ifndef MAILFS_MUTF7_H
#define MAILFS_MUTF7_H

#include <stddef.h>

/* Decode a modified UTF-7 mailbox name to UTF-8. Returns NULL with errno
 * EINVAL when the input is not valid modified UTF-7 (bad base64, a shifted
 * sequence that encodes printable US-ASCII or U+0000, unpaired surrogates,
 * non-ASCII or control input bytes, "&" not closed by "-", padding bits not
 * zero or a superfluous base64 character, a null shift "-&"), or ENOMEM.
 * Valid input has exactly one spelling, so mutf7_encode(mutf7_decode(x))
 * gives back x. */
char *mutf7_decode(const char *in);

/* Encode a UTF-8 name to modified UTF-7. Returns NULL with errno EINVAL when
 * the input is not valid UTF-8, or ENOMEM. */
char *mutf7_encode(const char *in);

#endif
