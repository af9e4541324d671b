/* pop3_wire.h - pure, resumable reader of POP3 server responses
 * (RFC 1939 §3): single status lines ("+OK ...", "-ERR ...") and
 * multi-line responses ending with a line holding only ".", with
 * byte-stuffing undone.
 *
 * Like wire.h it never touches a socket: the caller hands it bytes, it
 * consumes them and returns a result; it can stop at any byte and resume, so
 * feeding a response one byte at a time gives the same output as feeding it
 * whole. The end marker "\r\n.\r\n" is found across any chunk boundaries.
 *
 * Ownership: all memory belongs to the caller unless stated otherwise; data
 * returned is borrowed until the next call on the reader.
 */
#ifndef MAILFS_POP3_WIRE_H
#define MAILFS_POP3_WIRE_H

#include <stddef.h>

enum pop3_wire_result {
	POP3_WIRE_OK = 0,    /* a line, or a data chunk, is returned */
	POP3_WIRE_MORE,      /* all input consumed, nothing to return yet */
	POP3_WIRE_END,       /* multi-line: the terminating "." line was read */
	POP3_WIRE_BAD,       /* malformed input or a limit exceeded; see pop3_wire_error() */
};

struct pop3_wire;

/* MAX_LINE bounds one line, CRLF excluded, in both modes (0: 1,000,000 bytes;
 * RFC 5322 asks for 998 but real mail has long lines). NULL on ENOMEM. */
struct pop3_wire *pop3_wire_new(size_t max_line);
void pop3_wire_free(struct pop3_wire *p);
/* Forget all state (a new connection). */
void pop3_wire_reset(struct pop3_wire *p);

/* Status mode (the default, and after POP3_WIRE_END): read one line ending
 * in CRLF. Returns POP3_WIRE_OK with the line (CRLF removed, NUL-terminated,
 * in the reader's buffer) in *line_r and *len_r, POP3_WIRE_MORE, or
 * POP3_WIRE_BAD (a NUL byte, a bare CR or LF, a line over max_line).
 * *in and *len are advanced by what was consumed. */
enum pop3_wire_result pop3_wire_line(struct pop3_wire *p, const char **in, size_t *len,
                                     const char **line_r, size_t *len_r);

/* Switch to multi-line mode for the body of a response whose status line
 * was just read. */
void pop3_wire_begin_multi(struct pop3_wire *p);

/* Multi-line mode: return the next chunk of the body, byte-stuffing undone
 * (a leading "." of a line is removed), line endings kept as CRLF.
 * POP3_WIRE_OK: a chunk in *data_r and *len_r (often pointing into the input,
 * sometimes into the reader). POP3_WIRE_END: the "." line was consumed; the
 * reader is back in status mode, and bytes after it stay in *in.
 * POP3_WIRE_BAD: a line over max_line, a bare LF or CR, a NUL byte. The
 * concatenation of all chunks is the body with each line's CRLF. */
enum pop3_wire_result pop3_wire_multi(struct pop3_wire *p, const char **in, size_t *len,
                                      const char **data_r, size_t *len_r);

/* Why the reader went bad; never NULL. After POP3_WIRE_BAD every call
 * returns POP3_WIRE_BAD until pop3_wire_reset(). */
const char *pop3_wire_error(const struct pop3_wire *p);

#endif
