/* pop3_wire.c - pure, resumable reader of POP3 responses.
 *
 * The contract is in pop3_wire.h. One state machine, every byte consumed
 * exactly once, so a call can stop at any byte and the next one resumes.
 *
 * Multi-line mode (RFC 1939 §3): a line that starts with "." either is the
 * terminator (exactly ".") or is byte-stuffed (the "." is removed). Either
 * way that leading "." is never part of the body, so unlike curl's
 * Curl_pop3_write, which matches "\r\n.\r\n" and holds back the bytes of a
 * partial match, this reader never has to hold anything back: the CRLF
 * before the terminator is the last line's own line ending and is data,
 * and the dot is dropped as soon as it is seen at the start of a line. The
 * state (BOL / DOT / DOT_CR) carries what it means across chunk
 * boundaries. Every data chunk therefore points into the caller's input,
 * runs of lines included, with no copy; a chunk stops before a leading dot.
 *
 * Multi-line line lengths count the bytes of the line as delivered (after
 * unstuffing), CRLF excluded. Status lines are copied into the reader's
 * buffer, which grows on demand up to max_line + 1 bytes.
 */
#include "net/pop3_wire.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define POP3_WIRE_DEFAULT_MAX_LINE 1000000

enum pop3_wire_state {
	W_LINE,         /* status mode: collecting a line */
	W_LINE_CR,      /* status mode: after the line's CR */
	W_M_BOL,        /* multi-line: at the start of a line */
	W_M_DOT,        /* multi-line: after a leading "." */
	W_M_DOT_CR,     /* multi-line: after ".\r" at the start of a line */
	W_M_TEXT,       /* multi-line: inside a line */
	W_M_CR,         /* multi-line: after a CR inside a line (already delivered) */
};

/* Bytes that stop a run: CR, LF and NUL. */
static const unsigned char stop_byte[256] = { [0] = 1, ['\r'] = 1, ['\n'] = 1 };

struct pop3_wire {
	size_t max_line;
	enum pop3_wire_state state;
	const char *err;        /* NULL unless bad */
	char *buf;              /* status line being collected */
	size_t buf_len, buf_cap;
	size_t line_len;        /* multi-line: bytes of the current line so far */
};

struct pop3_wire *pop3_wire_new(size_t max_line)
{
	struct pop3_wire *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->max_line = max_line ? max_line : POP3_WIRE_DEFAULT_MAX_LINE;
	p->state = W_LINE;
	return p;
}

void pop3_wire_free(struct pop3_wire *p)
{
	if (!p)
		return;
	free(p->buf);
	free(p);
}

void pop3_wire_reset(struct pop3_wire *p)
{
	p->state = W_LINE;
	p->err = NULL;
	p->buf_len = 0;
	p->line_len = 0;
	if (p->buf_cap > 65536) {   /* one hostile line must not pin memory */
		free(p->buf);
		p->buf = NULL;
		p->buf_cap = 0;
	}
}

const char *pop3_wire_error(const struct pop3_wire *p)
{
	return p->err ? p->err : "no error";
}

static enum pop3_wire_result wire_bad(struct pop3_wire *p, const char *why)
{
	p->err = why;
	return POP3_WIRE_BAD;
}

/* Length of the run of ordinary bytes at s (at most n). */
static size_t run_len(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n && !stop_byte[s[i]])
		i++;
	return i;
}

static int buf_append(struct pop3_wire *p, const char *s, size_t n)
{
	if (p->buf_len + n + 1 > p->buf_cap) {
		size_t cap = p->buf_cap ? p->buf_cap : 256;
		char *nb;

		while (cap < p->buf_len + n + 1)
			cap *= 2;
		if (cap > p->max_line + 1)
			cap = p->max_line + 1;   /* the caller checked buf_len + n <= max_line */
		nb = realloc(p->buf, cap);
		if (!nb)
			return -1;
		p->buf = nb;
		p->buf_cap = cap;
	}
	memcpy(p->buf + p->buf_len, s, n);
	p->buf_len += n;
	return 0;
}

enum pop3_wire_result pop3_wire_line(struct pop3_wire *p, const char **in, size_t *len,
                                     const char **line_r, size_t *len_r)
{
	const unsigned char *s = (const unsigned char *)*in;
	size_t n = *len, i = 0;

	if (p->err)
		return POP3_WIRE_BAD;
	if (p->state != W_LINE && p->state != W_LINE_CR)
		return wire_bad(p, "status line read in multi-line mode");
	while (i < n) {
		if (p->state == W_LINE_CR) {
			if (s[i] != '\n')
				return wire_bad(p, "bare CR in a status line");
			i++;
			if (!p->buf && buf_append(p, "", 0) < 0)
				return wire_bad(p, "out of memory");
			p->buf[p->buf_len] = '\0';
			*line_r = p->buf;
			*len_r = p->buf_len;
			p->buf_len = 0;
			p->state = W_LINE;
			*in += i;
			*len -= i;
			return POP3_WIRE_OK;
		}
		size_t k = run_len(s + i, n - i);

		if (k > p->max_line - p->buf_len)
			return wire_bad(p, "status line too long");
		if (k && buf_append(p, (const char *)s + i, k) < 0)
			return wire_bad(p, "out of memory");
		i += k;
		if (i == n)
			break;
		if (s[i] == '\n')
			return wire_bad(p, "bare LF in a status line");
		if (s[i] == '\0')
			return wire_bad(p, "NUL byte in a status line");
		p->state = W_LINE_CR;
		i++;
	}
	*in += i;
	*len -= i;
	return POP3_WIRE_MORE;
}

void pop3_wire_begin_multi(struct pop3_wire *p)
{
	if (p->err)
		return;
	p->state = W_M_BOL;
	p->line_len = 0;
}

enum pop3_wire_result pop3_wire_multi(struct pop3_wire *p, const char **in, size_t *len,
                                      const char **data_r, size_t *len_r)
{
	const unsigned char *s = (const unsigned char *)*in;
	size_t n = *len, i = 0, start = 0;   /* the chunk is s[start..i) */
	enum pop3_wire_result res = POP3_WIRE_MORE;

	if (p->err)
		return POP3_WIRE_BAD;
	if (p->state == W_LINE || p->state == W_LINE_CR)
		return wire_bad(p, "multi-line data read in status mode");
	while (i < n) {
		switch (p->state) {
		case W_M_BOL:
			if (s[i] != '.') {
				p->state = W_M_TEXT;
				break;
			}
			/* The leading dot is never data: hand out what comes
			 * before it first, so that chunks stay contiguous. */
			if (i > start)
				goto out;
			i++;
			start = i;
			p->state = W_M_DOT;
			break;
		case W_M_DOT:
			if (s[i] == '\r') {
				i++;
				start = i;
				p->state = W_M_DOT_CR;
			} else {
				p->state = W_M_TEXT;   /* byte-stuffed: the dot is gone */
			}
			break;
		case W_M_DOT_CR:
			if (s[i] != '\n')
				return wire_bad(p, "bare CR after a leading dot");
			i++;
			p->state = W_LINE;
			p->buf_len = 0;
			*in += i;
			*len -= i;
			return POP3_WIRE_END;
		case W_M_TEXT: {
			size_t k = run_len(s + i, n - i);

			if (k > p->max_line - p->line_len)
				return wire_bad(p, "line too long in a multi-line response");
			p->line_len += k;
			i += k;
			if (i == n)
				break;
			if (s[i] == '\n')
				return wire_bad(p, "bare LF in a multi-line response");
			if (s[i] == '\0')
				return wire_bad(p, "NUL byte in a multi-line response");
			i++;
			p->state = W_M_CR;
			break;
		}
		case W_M_CR:
			if (s[i] != '\n')
				return wire_bad(p, "bare CR in a multi-line response");
			i++;
			p->line_len = 0;
			p->state = W_M_BOL;
			break;
		case W_LINE:
		case W_LINE_CR:
			return wire_bad(p, "internal state error");
		}
	}
out:
	if (i > start) {
		*data_r = (const char *)s + start;
		*len_r = i - start;
		res = POP3_WIRE_OK;
	}
	*in += i;
	*len -= i;
	return res;
}
