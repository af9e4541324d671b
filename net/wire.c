/* wire.c - pure, resumable tokenizer for IMAP server responses.
 *
 * The contract is in wire.h. This file is one state machine: every byte is
 * consumed exactly once, and whatever a token needs to survive the end of the
 * input (a partial atom, quoted string or text) is copied into p->buf, so a
 * call can stop at any byte and the next one resumes where it left off. Runs
 * of ordinary bytes are scanned with a class table and copied with one
 * memcpy; literal data is never copied unless the caller asks for it.
 *
 * Leniencies, chosen where RFC 3501 §9 is stricter than real servers:
 *  - atoms may contain 8-bit bytes, '%', '*', ']' and '{' (not at the start);
 *    ']' is an ASTRING-CHAR, so it only ends an atom inside a resp-text-code;
 *  - a backslash before a character other than '"' or '\' in a quoted string
 *    is dropped and the character kept, as Dovecot's imap-parser does;
 *  - several SPs between tokens and a SP before CRLF are accepted.
 * Not lenient: a bare CR or LF, a NUL or another control character outside a
 * string, and "{N+}" (RFC 7888 allows it from clients only) are errors.
 */
#include "net/wire.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

const struct wire_limits wire_default_limits = {
	.max_line = 512 * 1024,
	.max_literal = 1024 * 1024,
#if SIZE_MAX > 0xffffffffu
	.max_literal_stream = (size_t)4 << 30,
#else
	.max_literal_stream = SIZE_MAX,
#endif
	.max_depth = 64,
	/* One response line may carry any number of literals (RFC 3501 §4.3),
	 * and each accumulated one is copied into the caller's response. Eight
	 * times the largest literal is far beyond any honest response (a FETCH
	 * of a few header fields, a LIST name, a BODYSTRUCTURE). */
	.max_response = 8 * 1024 * 1024,
};

enum wire_state {
	WIRE_S_TOKEN,       /* between tokens */
	WIRE_S_ATOM,        /* in an atom */
	WIRE_S_SECTION,     /* in the [...] of an atom, as in BODY[HEADER] */
	WIRE_S_TILDE,       /* after '~': literal8 or an atom */
	WIRE_S_QUOTED,      /* in a quoted string */
	WIRE_S_QUOTED_ESC,  /* after a backslash in a quoted string */
	WIRE_S_LIT_FIRST,   /* after '{': the first digit */
	WIRE_S_LIT_SIZE,    /* more digits, or '}' */
	WIRE_S_LIT_CR,      /* after '}' */
	WIRE_S_LIT_LF,      /* after "}\r" */
	WIRE_S_LITERAL,     /* in literal data */
	WIRE_S_EOL,         /* after the CR that ends a line */
	WIRE_S_TEXT_SP,     /* text mode: the optional SP after the status word */
	WIRE_S_TEXT_CODE,   /* text mode: '[' of a resp-text-code, or the text */
	WIRE_S_TEXT_AFTER,  /* text mode: the optional SP after ']' */
	WIRE_S_TEXT,        /* text mode: the rest of the line */
};

/* Byte classes. C_END are atom-specials (RFC 3501 §9) minus the ones this
 * tokenizer accepts in atoms; CTL includes NUL, CR, LF and DEL. */
enum {
	C_END = 1,      /* ends an atom: SP ( ) " and every CTL */
	C_BRK = 2,      /* [ or ]: sections and resp-text-codes */
	C_QSTOP = 4,    /* stops a quoted string: " \ CR LF NUL */
	C_TSTOP = 8,    /* stops resp-text: CR LF NUL */
	C_CTL = 16,
};

#define C_NUL_CR_LF (C_END | C_CTL | C_QSTOP | C_TSTOP)

static const unsigned char wire_class[256] = {
	[0] = C_NUL_CR_LF,
	[1 ... 9] = C_END | C_CTL,
	['\n'] = C_NUL_CR_LF,
	[11 ... 12] = C_END | C_CTL,
	['\r'] = C_NUL_CR_LF,
	[14 ... 31] = C_END | C_CTL,
	[127] = C_END | C_CTL,
	[' '] = C_END,
	['('] = C_END,
	[')'] = C_END,
	['"'] = C_END | C_QSTOP,
	['\\'] = C_QSTOP,
	['['] = C_BRK,
	[']'] = C_BRK,
};

struct wire_parser {
	struct wire_limits lim;
	enum wire_state state;
	bool bad;
	const char *err;

	/* the current call's unconsumed input */
	const unsigned char *cur;
	size_t avail;

	char *buf;          /* the token being collected; room for a NUL always */
	size_t buf_len, buf_cap;

	size_t line_len;    /* non-literal bytes of this line, final CRLF excluded */
	size_t held;        /* bytes of the literals accumulated in this line;
	                       line_len + held <= max_response */
	unsigned depth;     /* open '(' */
	bool in_code;       /* between the [ and ] of a resp-text-code */
	unsigned code_depth; /* depth at that '[' */

	uint64_t lit_size, lit_left;
	bool lit_binary, lit_accum;
};

static enum wire_result wire_fail(struct wire_parser *p, const char *why)
{
	p->bad = true;
	p->err = why;
	return WIRE_BAD;
}

static void wire_eat(struct wire_parser *p, size_t k)
{
	p->cur += k;
	p->avail -= k;
}

/* Counts k more bytes against max_line and max_response; line_len <=
 * max_line and line_len + held <= max_response always hold, so the
 * subtractions cannot wrap. */
static bool wire_count(struct wire_parser *p, size_t k)
{
	if (k > p->lim.max_line - p->line_len) {
		wire_fail(p, "response line too long");
		return false;
	}
	if (k > p->lim.max_response - p->line_len - p->held) {
		wire_fail(p, "response too large");
		return false;
	}
	p->line_len += k;
	return true;
}

/* Makes room for need bytes. Callers have checked need against a limit
 * already, so bound (that limit plus one) caps the doubling. */
static bool wire_reserve(struct wire_parser *p, size_t need, size_t bound)
{
	size_t cap = p->buf_cap;
	char *nb;

	if (need <= cap)
		return true;
	cap = cap < bound / 2 ? cap * 2 : bound;
	if (cap < need)
		cap = need;
	nb = realloc(p->buf, cap);
	if (!nb) {
		wire_fail(p, "out of memory");
		return false;
	}
	p->buf = nb;
	p->buf_cap = cap;
	return true;
}

/* Consumes k bytes of the line into the token buffer. */
static bool wire_take(struct wire_parser *p, size_t k)
{
	if (!k)
		return true;
	if (!wire_count(p, k) ||
	    !wire_reserve(p, p->buf_len + k + 1, p->lim.max_line + 1))
		return false;
	memcpy(p->buf + p->buf_len, p->cur, k);
	p->buf_len += k;
	wire_eat(p, k);
	return true;
}

static enum wire_result wire_emit(struct wire_token *tok, enum wire_type type,
                                  const void *data, size_t len)
{
	tok->type = type;
	tok->data = data;
	tok->len = len;
	return WIRE_OK;
}

static enum wire_result wire_emit_buf(struct wire_parser *p,
                                      struct wire_token *tok,
                                      enum wire_type type)
{
	p->buf[p->buf_len] = '\0';
	p->state = WIRE_S_TOKEN;
	return wire_emit(tok, type, p->buf, p->buf_len);
}

/* A literal's data is not part of the line (RFC 3501 §4.3) and is counted
 * only against the literal limits. Called with lit_left > 0, or to finish an
 * accumulated literal of size 0. */
static enum wire_result wire_literal(struct wire_parser *p,
                                     struct wire_token *tok)
{
	const unsigned char *s = p->cur;
	size_t k = p->lit_left < p->avail ? (size_t)p->lit_left : p->avail;

	if (!k && p->lit_left)
		return WIRE_MORE;
	if (k) /* the input may be NULL when avail is 0 */
		wire_eat(p, k);
	p->lit_left -= k;
	if (!p->lit_accum) {
		if (!p->lit_left)
			p->state = WIRE_S_TOKEN;
		return wire_emit(tok, WIRE_LITERAL_DATA, s, k);
	}
	if (k) {
		/* wire_literal_accumulate() reserved lit_size + 1 */
		memcpy(p->buf + p->buf_len, s, k);
		p->buf_len += k;
	}
	if (p->lit_left)
		return WIRE_MORE;
	return wire_emit_buf(p, tok, WIRE_STRING);
}

/* Between tokens. Returns WIRE_OK with a one-byte token, WIRE_MORE to go on
 * in p->state, or WIRE_BAD. */
static enum wire_result wire_token_start(struct wire_parser *p,
                                         struct wire_token *tok)
{
	const unsigned char *s = p->cur;
	size_t i;

	switch (s[0]) {
	case ' ':
		for (i = 1; i < p->avail && s[i] == ' '; i++)
			;
		if (!wire_count(p, i))
			return WIRE_BAD;
		wire_eat(p, i);
		return WIRE_MORE;
	case '(':
		if (!wire_count(p, 1))
			return WIRE_BAD;
		if (p->depth >= p->lim.max_depth)
			return wire_fail(p, "lists nested too deeply");
		p->depth++;
		wire_eat(p, 1);
		return wire_emit(tok, WIRE_LPAREN, NULL, 0);
	case ')':
		if (!wire_count(p, 1))
			return WIRE_BAD;
		if (p->depth == 0 || (p->in_code && p->depth <= p->code_depth))
			return wire_fail(p, "unbalanced ')'");
		p->depth--;
		wire_eat(p, 1);
		return wire_emit(tok, WIRE_RPAREN, NULL, 0);
	case '"':
		p->buf_len = 0;
		p->state = WIRE_S_QUOTED;
		break;
	case '{':
		p->lit_binary = false;
		p->state = WIRE_S_LIT_FIRST;
		break;
	case '~':
		/* literal8 (RFC 3516) or an atom: the next byte decides */
		p->buf[0] = '~';
		p->buf_len = 1;
		p->state = WIRE_S_TILDE;
		break;
	case '\r':
		/* An unclosed resp-text-code is a protocol error, as in
		 * isync's parse_response_code() ("malformed response code"):
		 * guessing where the code ends would hand garbage on. */
		if (p->in_code)
			return wire_fail(p, "response code not closed by ']'");
		wire_eat(p, 1);
		p->state = WIRE_S_EOL;
		return WIRE_MORE;
	case ']':
		if (!p->in_code)
			break; /* an ordinary atom byte */
		if (p->depth != p->code_depth)
			return wire_fail(p, "']' inside a list in a response code");
		if (!wire_count(p, 1))
			return WIRE_BAD;
		wire_eat(p, 1);
		p->in_code = false;
		p->state = WIRE_S_TEXT_AFTER;
		return wire_emit(tok, WIRE_RBRACKET, NULL, 0);
	default:
		if (wire_class[s[0]] & C_CTL)
			return wire_fail(p, s[0] == '\n' ? "bare LF" :
			                 "NUL or control character in a line");
		break;
	}
	if (p->state == WIRE_S_TOKEN) {
		/* an atom; its first byte is consumed in WIRE_S_ATOM */
		p->buf_len = 0;
		p->state = WIRE_S_ATOM;
		return WIRE_MORE;
	}
	/* '"', '{' or '~' */
	if (!wire_count(p, 1))
		return WIRE_BAD;
	wire_eat(p, 1);
	return WIRE_MORE;
}

static enum wire_result wire_step(struct wire_parser *p, struct wire_token *tok)
{
	for (;;) {
		const unsigned char *s = p->cur;
		size_t n = p->avail, i;
		enum wire_result r;

		/* the only state that can finish a token without a byte */
		if (p->state == WIRE_S_LITERAL) {
			if (p->lit_left || p->lit_accum)
				return wire_literal(p, tok);
			p->state = WIRE_S_TOKEN; /* {0}: no data chunk */
			continue;
		}
		if (!n)
			return WIRE_MORE;

		switch (p->state) {
		case WIRE_S_TOKEN:
			r = wire_token_start(p, tok);
			if (r != WIRE_MORE)
				return r;
			break;

		case WIRE_S_ATOM:
			for (i = 0; i < n && !(wire_class[s[i]] & (C_END | C_BRK)); i++)
				;
			/* Outside a resp-text-code '[' opens a section that runs
			 * to the next ']' and ']' is an ordinary ASTRING-CHAR;
			 * inside a code '[' is ordinary and ']' ends the atom. */
			if (i < n && (s[i] == '[' || (s[i] == ']' && !p->in_code))) {
				if (s[i] == '[' && !p->in_code)
					p->state = WIRE_S_SECTION;
				if (!wire_take(p, i + 1))
					return WIRE_BAD;
				break;
			}
			if (!wire_take(p, i))
				return WIRE_BAD;
			if (i == n)
				return WIRE_MORE;
			return wire_emit_buf(p, tok, WIRE_ATOM);

		case WIRE_S_SECTION:
			/* BODY[HEADER.FIELDS (A B)]: SP and parens are part of it */
			for (i = 0; i < n && s[i] != ']' && !(wire_class[s[i]] & C_CTL); i++)
				;
			if (i < n && s[i] != ']')
				return wire_fail(p, "section of an atom not closed by ']'");
			if (i < n) {
				i++;
				p->state = WIRE_S_ATOM;
			}
			if (!wire_take(p, i))
				return WIRE_BAD;
			break;

		case WIRE_S_TILDE:
			if (s[0] == '{') {
				if (!wire_count(p, 1))
					return WIRE_BAD;
				wire_eat(p, 1);
				p->lit_binary = true;
				p->state = WIRE_S_LIT_FIRST;
			} else {
				p->state = WIRE_S_ATOM;
			}
			break;

		case WIRE_S_QUOTED:
			for (i = 0; i < n && !(wire_class[s[i]] & C_QSTOP); i++)
				;
			if (!wire_take(p, i))
				return WIRE_BAD;
			if (i == n)
				return WIRE_MORE;
			/* RFC 3501 §9: QUOTED-CHAR excludes CR and LF; NUL is
			 * not a CHAR at all */
			if (s[i] != '"' && s[i] != '\\')
				return wire_fail(p, "CR, LF or NUL in a quoted string");
			if (!wire_count(p, 1))
				return WIRE_BAD;
			wire_eat(p, 1);
			if (s[i] == '\\') {
				p->state = WIRE_S_QUOTED_ESC;
				break;
			}
			return wire_emit_buf(p, tok, WIRE_STRING);

		case WIRE_S_QUOTED_ESC:
			if (wire_class[s[0]] & C_TSTOP)
				return wire_fail(p, "CR, LF or NUL in a quoted string");
			/* the backslash was dropped; keep the escaped byte */
			if (!wire_take(p, 1))
				return WIRE_BAD;
			p->state = WIRE_S_QUOTED;
			break;

		case WIRE_S_LIT_FIRST:
			if (s[0] < '0' || s[0] > '9')
				return wire_fail(p, "bad literal size");
			p->lit_size = 0;
			p->state = WIRE_S_LIT_SIZE;
			/* fall through */
		case WIRE_S_LIT_SIZE:
			for (i = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
				unsigned d = s[i] - '0';

				/* refuse before anything is allocated (SPEC §5) */
				if (p->lit_size > (UINT64_MAX - d) / 10)
					return wire_fail(p, "literal size overflows");
				p->lit_size = p->lit_size * 10 + d;
				if (p->lit_size > p->lim.max_literal_stream)
					return wire_fail(p, "literal too large");
			}
			if (!wire_count(p, i))
				return WIRE_BAD;
			wire_eat(p, i);
			if (i == n)
				return WIRE_MORE;
			if (s[i] != '}')
				return wire_fail(p, s[i] == '+' ?
				                 "non-synchronizing literal from the server" :
				                 "bad literal size");
			if (!wire_count(p, 1))
				return WIRE_BAD;
			wire_eat(p, 1);
			p->state = WIRE_S_LIT_CR;
			break;

		case WIRE_S_LIT_CR:
		case WIRE_S_LIT_LF:
			if (s[0] != (p->state == WIRE_S_LIT_CR ? '\r' : '\n'))
				return wire_fail(p, "no CRLF after a literal's size");
			if (!wire_count(p, 1))
				return WIRE_BAD;
			wire_eat(p, 1);
			if (p->state == WIRE_S_LIT_CR) {
				p->state = WIRE_S_LIT_LF;
				break;
			}
			p->state = WIRE_S_LITERAL;
			p->lit_left = p->lit_size;
			p->lit_accum = false;
			tok->size = p->lit_size;
			tok->binary = p->lit_binary;
			return wire_emit(tok, WIRE_LITERAL_BEGIN, NULL, 0);

		case WIRE_S_EOL:
			if (s[0] != '\n')
				return wire_fail(p, "bare CR");
			if (p->depth)
				return wire_fail(p, "end of line inside a list");
			wire_eat(p, 1);
			p->line_len = 0;
			p->held = 0;
			p->state = WIRE_S_TOKEN;
			return wire_emit(tok, WIRE_EOL, NULL, 0);

		case WIRE_S_TEXT_SP:
		case WIRE_S_TEXT_AFTER:
			if (s[0] == ' ') {
				if (!wire_count(p, 1))
					return WIRE_BAD;
				wire_eat(p, 1);
			}
			p->buf_len = 0;
			p->state = p->state == WIRE_S_TEXT_SP ? WIRE_S_TEXT_CODE :
			                                        WIRE_S_TEXT;
			break;

		case WIRE_S_TEXT_CODE:
			/* RFC 3501 §9 resp-text: ["[" resp-text-code "]" SP] text */
			if (s[0] != '[') {
				p->state = WIRE_S_TEXT;
				break;
			}
			if (!wire_count(p, 1))
				return WIRE_BAD;
			wire_eat(p, 1);
			p->in_code = true;
			p->code_depth = p->depth;
			p->state = WIRE_S_TOKEN;
			return wire_emit(tok, WIRE_LBRACKET, NULL, 0);

		case WIRE_S_TEXT:
			/* any TEXT-CHAR, including unbalanced quotes and parens */
			for (i = 0; i < n && !(wire_class[s[i]] & C_TSTOP); i++)
				;
			if (!wire_take(p, i))
				return WIRE_BAD;
			if (i == n)
				return WIRE_MORE;
			if (s[i] != '\r')
				return wire_fail(p, s[i] == '\n' ? "bare LF" :
				                 "NUL in response text");
			return wire_emit_buf(p, tok, WIRE_TEXT); /* CR is next */

		case WIRE_S_LITERAL:
			break; /* handled above */
		}
	}
}

enum wire_result wire_next(struct wire_parser *p, const char **in, size_t *len,
                           struct wire_token *tok_r)
{
	enum wire_result r;

	if (p->bad)
		return WIRE_BAD;
	memset(tok_r, 0, sizeof(*tok_r));
	p->cur = (const unsigned char *)*in;
	p->avail = *len;
	r = wire_step(p, tok_r);
	*in = (const char *)p->cur;
	*len = p->avail;
	return r;
}

int wire_literal_accumulate(struct wire_parser *p)
{
	if (p->bad)
		return -EPROTO;
	if (p->state != WIRE_S_LITERAL || p->lit_accum ||
	    p->lit_left != p->lit_size)
		return -EINVAL;
	if (p->lit_size > p->lim.max_literal) {
		wire_fail(p, "literal too large to accumulate");
		return -EMSGSIZE;
	}
	/* lit_size <= max_literal, which fits in a size_t */
	if (p->lit_size > p->lim.max_response - p->line_len - p->held) {
		wire_fail(p, "response too large: its literals exceed the budget");
		return -EMSGSIZE;
	}
	p->held += (size_t)p->lit_size;
	/* bounded by max_literal just above, so one exact allocation */
	if (!wire_reserve(p, p->lit_size + 1, p->lit_size + 1))
		return -ENOMEM;
	p->lit_accum = true;
	p->buf_len = 0;
	return 0;
}

void wire_expect_text(struct wire_parser *p)
{
	if (!p->bad && p->state == WIRE_S_TOKEN && !p->in_code)
		p->state = WIRE_S_TEXT_SP;
}

struct wire_parser *wire_parser_new(const struct wire_limits *limits)
{
	struct wire_parser *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->lim = limits ? *limits : wire_default_limits;
	/* keeps "limit + 1" and "2 * capacity" from wrapping */
	if (p->lim.max_line > SIZE_MAX / 4)
		p->lim.max_line = SIZE_MAX / 4;
	if (p->lim.max_literal > SIZE_MAX / 4)
		p->lim.max_literal = SIZE_MAX / 4;
	if (p->lim.max_response > SIZE_MAX / 4)
		p->lim.max_response = SIZE_MAX / 4;
	p->buf_cap = 256;
	p->buf = malloc(p->buf_cap);
	if (!p->buf) {
		free(p);
		return NULL;
	}
	wire_parser_reset(p);
	return p;
}

void wire_parser_free(struct wire_parser *p)
{
	if (!p)
		return;
	free(p->buf);
	free(p);
}

void wire_parser_reset(struct wire_parser *p)
{
	p->state = WIRE_S_TOKEN;
	p->bad = false;
	p->err = "no error";
	p->cur = NULL;
	p->avail = 0;
	p->buf_len = 0;
	p->line_len = 0;
	p->held = 0;
	p->depth = 0;
	p->in_code = false;
	p->code_depth = 0;
	p->lit_size = p->lit_left = 0;
	p->lit_binary = p->lit_accum = false;
}

unsigned wire_depth(const struct wire_parser *p)
{
	return p->depth;
}

const char *wire_error(const struct wire_parser *p)
{
	return p->err;
}
