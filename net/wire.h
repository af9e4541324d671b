/* wire.h - pure, resumable tokenizer for IMAP server responses (RFC 3501 §9,
 * RFC 7888 literals, RFC 3516 literal8).
 *
 * The tokenizer never touches a socket. The caller hands it whatever bytes it
 * has; the tokenizer consumes them and either returns one token, or says it
 * needs more input (having remembered everything it consumed), or says the
 * input is malformed. It can stop at any byte and resume, so feeding a
 * response one byte at a time gives the same tokens as feeding it whole.
 *
 * Ownership: all memory belongs to the caller unless stated otherwise. Token
 * data is borrowed: it points into the parser or into the caller's input and
 * is valid only until the next call on the parser.
 */
#ifndef MAILFS_WIRE_H
#define MAILFS_WIRE_H

#include <stddef.h>
#include <stdint.h>

enum wire_result {
	WIRE_OK = 0,    /* *tok_r holds a token */
	WIRE_MORE,      /* all input consumed, no complete token yet */
	WIRE_BAD,       /* malformed input or a limit exceeded; see wire_error() */
};

enum wire_type {
	WIRE_ATOM,          /* atom, number, NIL, flag (\Seen, \*), or an atom with a
	                       bracketed section such as BODY[HEADER.FIELDS (A B)]<0> */
	WIRE_STRING,        /* quoted string (escapes undone) or an accumulated literal */
	WIRE_LITERAL_BEGIN, /* {N} or ~{N} and its CRLF were read; .size = N */
	WIRE_LITERAL_DATA,  /* a chunk of a streamed literal; points into the input */
	WIRE_LPAREN,        /* ( */
	WIRE_RPAREN,        /* ) */
	WIRE_LBRACKET,      /* [ at the start of resp-text (text mode only) */
	WIRE_RBRACKET,      /* ] closing a resp-text-code */
	WIRE_TEXT,          /* rest of the line in text mode, without CRLF */
	WIRE_EOL,           /* CRLF ending a response line */
};

struct wire_token {
	enum wire_type type;
	const char *data;   /* ATOM, STRING, LITERAL_DATA, TEXT; NUL-terminated except
	                       for LITERAL_DATA; borrowed until the next call */
	size_t len;         /* bytes at data */
	uint64_t size;      /* LITERAL_BEGIN: announced literal size */
	int binary;         /* LITERAL_BEGIN: 1 for literal8 (~{N}) */
};

struct wire_limits {
	size_t max_line;      /* bytes of one response line, literals excluded */
	size_t max_literal;   /* largest literal that wire_literal_accumulate() takes */
	size_t max_literal_stream; /* largest literal announced at all (streamed) */
	unsigned max_depth;   /* nesting of parenthesized lists */
	size_t max_response;  /* bytes one response may hold at once: its line
	                         (as counted for max_line) plus every literal
	                         accumulated in it; streamed literals do not count.
	                         Past it the parser turns bad ("response too
	                         large"). Must be set: 0 holds nothing. */
};

/* Sensible defaults: 512 KiB lines, 1 MiB accumulated literals, 4 GiB
 * streamed literals, depth 64, 8 MiB held per response. */
extern const struct wire_limits wire_default_limits;

struct wire_parser;

/* Returns NULL on allocation failure. limits may be NULL for the defaults. */
struct wire_parser *wire_parser_new(const struct wire_limits *limits);
void wire_parser_free(struct wire_parser *p);

/* Forget all state, as at the start of a new connection. */
void wire_parser_reset(struct wire_parser *p);

/* Consume input from *in (of *len bytes), advancing *in and decreasing *len
 * by what was consumed. Returns WIRE_OK with one token in *tok_r, WIRE_MORE
 * when *len reached 0 before a token was complete, or WIRE_BAD. After
 * WIRE_BAD the parser stays bad until wire_parser_reset().
 *
 * After WIRE_LITERAL_BEGIN the literal is streamed by default: following calls
 * return WIRE_LITERAL_DATA chunks (each at most the input available) until
 * exactly .size bytes were returned, then tokens continue after the literal.
 * A literal of size 0 returns no data chunk. */
enum wire_result wire_next(struct wire_parser *p, const char **in, size_t *len,
                           struct wire_token *tok_r);

/* Call right after WIRE_LITERAL_BEGIN to get the literal as one WIRE_STRING
 * token instead of a stream. Returns 0, or -EMSGSIZE (and the parser turns
 * bad) when the literal is larger than max_literal or would take the
 * response past max_response. */
int wire_literal_accumulate(struct wire_parser *p);

/* Text mode (RFC 3501 resp-text): call after reading the status word of an
 * OK/NO/BAD/BYE/PREAUTH response, or after "+" of a continuation request.
 * The next tokens are then: optionally WIRE_LBRACKET, the code atom, its
 * arguments (atoms, strings, lists) and WIRE_RBRACKET; then one WIRE_TEXT
 * with the rest of the line (possibly empty); then WIRE_EOL. Text mode ends
 * at the end of the line. */
void wire_expect_text(struct wire_parser *p);

/* Current list nesting depth (0 outside any list). */
unsigned wire_depth(const struct wire_parser *p);

/* Why the parser went bad; a static or parser-owned string, never NULL. */
const char *wire_error(const struct wire_parser *p);

#endif
