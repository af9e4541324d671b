/* bodystructure.c - IMAP BODYSTRUCTURE parsed from wire tokens, and written
 * back (RFC 3501 §7.4.2 and §9, RFC 9051 §7.5.2 and §9).
 *
 * The contract is in bodystructure.h. The parser is a state machine over
 * tokens with an explicit stack of the bodies being read (one frame per
 * nesting level, at most BS_MAX_DEPTH), so a hostile nesting costs neither
 * recursion nor memory past that bound. Values the tree does not keep (the
 * envelope but its subject, MD5, language, location, unknown extensions) are
 * skipped by counting parentheses; the wire tokenizer bounds their depth.
 *
 * Leniencies, each from what some server sends:
 *  - extension data may stop after any field, and a text or message/rfc822
 *    body may lack its line count (then 0); NIL lines count as 0;
 *  - a number may come as a quoted string; any atom but NIL may stand for a
 *    string;
 *  - NIL for an id, description, encoding or envelope subject is NULL, NIL
 *    for a parameter value is "";
 *  - an empty parameter list "()" is no parameters;
 *  - a multipart with NIL instead of its parts (Exchange sends
 *    (NIL "alternative" ...) for an empty multipart) has no parts;
 *  - a message/rfc822 (or message/global) sent without envelope and body, as
 *    a basic part, is a leaf;
 *  - the MD5 field may hold any value (a list, from a broken server), and a
 *    disposition that is a plain string (Exchange puts a Content-Description
 *    or a bare "inline" there) is dropped rather than misread.
 * Not lenient: NIL or an empty string as a type or subtype, a single-part
 * body of type multipart, a parameter list of odd length, NUL in a string,
 * a negative or overflowing number, and anything after the end.
 */
#include "net/bodystructure.h"
#include "net/grow.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BS_STR_(x) #x
#define BS_STR(x) BS_STR_(x)

enum bs_state {
	BS_S_BODY,       /* after a body's '(': a part (multipart) or the type */
	BS_S_KIDS,       /* multipart, after a part: another part or the subtype */
	BS_S_SUBTYPE,    /* single part, after the type */
	BS_S_FIELDS,     /* body-fields; field = which */
	BS_S_PARAMS,     /* in a body-fld-param list */
	BS_S_ENV_OR_EXT, /* message/rfc822 after its size: envelope, or none */
	BS_S_ENV,        /* in the envelope; field = which */
	BS_S_MSG_BODY,   /* message/rfc822 after the envelope: its body */
	BS_S_LINES,      /* body-fld-lines */
	BS_S_EXT,        /* extension data; field = which */
	BS_S_DSP,        /* after the '(' of body-fld-dsp: its type */
	BS_S_DSP_PARAMS, /* after the disposition type: its parameters */
	BS_S_DSP_END,    /* after the disposition parameters: ')' */
};

enum bs_kind {
	BS_K_MULTI,      /* body-type-mpart */
	BS_K_TEXT,       /* body-type-text */
	BS_K_MSG,        /* body-type-msg (message/rfc822, message/global) */
	BS_K_BASIC,      /* body-type-basic */
};

/* One body being read. */
struct bs_frame {
	struct bs_part part;
	enum bs_state state;
	enum bs_kind kind;
	unsigned field;          /* position within body-fields, envelope, extension */
	bool nil_kids;           /* multipart sent with NIL for its parts */
	size_t kids_cap, params_cap, disp_cap;
	enum bs_state params_ret; /* the state a parameter list returns to */
	bool params_disp;        /* the list being read is the disposition's */
	char *pname;             /* a parameter name waiting for its value */
};

struct bs_parser {
	struct bs_frame frames[BS_MAX_DEPTH];
	unsigned nframes;
	size_t nparts;
	unsigned skip;           /* depth of a list being skipped, 0 when none */
	bool lit_pending;        /* a literal began; its WIRE_STRING is next */
	bool done;
	int bad;                 /* 0, or the error every later bs_feed() returns */
	const char *err;
	struct bs_part *root;    /* the finished tree, until bs_take() */
};

/* A value as the grammar sees it. */
enum bs_val {
	BS_V_NIL,
	BS_V_STR,                /* string, or an atom standing for one */
	BS_V_LIST,               /* '(' */
	BS_V_END,                /* ')' */
};

static int bs_fail(struct bs_parser *bp, const char *why)
{
	bp->bad = -EINVAL;
	bp->err = why;
	return -EINVAL;
}

static int bs_nomem(struct bs_parser *bp)
{
	bp->bad = -ENOMEM;
	bp->err = "out of memory";
	return -ENOMEM;
}

static bool bs_is_nil(const struct wire_token *t)
{
	/* atoms are case-insensitive (RFC 3501 §9: nil = "NIL") */
	return t->type == WIRE_ATOM && t->len == 3 &&
	       (t->data[0] | 0x20) == 'n' && (t->data[1] | 0x20) == 'i' &&
	       (t->data[2] | 0x20) == 'l';
}

static enum bs_val bs_classify(const struct wire_token *t)
{
	switch (t->type) {
	case WIRE_LPAREN:
		return BS_V_LIST;
	case WIRE_RPAREN:
		return BS_V_END;
	default:
		return bs_is_nil(t) ? BS_V_NIL : BS_V_STR;
	}
}

/* strdup() through malloc(), which the unit test can make fail. */
static char *bs_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);

	return d ? memcpy(d, s, n) : NULL;
}

static void bs_lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s += 'a' - 'A';
}

/* A NUL-terminated copy of a string token; lower-cased when LOWER. A NUL
 * inside cannot be kept in a C string, and cutting the string there would
 * hide what follows it (a file name "x.pdf\0.exe"): refused. */
static int bs_copy(struct bs_parser *bp, const struct wire_token *t, bool lower,
                   char **out_r)
{
	char *s;

	if (memchr(t->data, '\0', t->len))
		return bs_fail(bp, "NUL in a string");
	s = malloc(t->len + 1);
	if (!s)
		return bs_nomem(bp);
	memcpy(s, t->data, t->len);
	s[t->len] = '\0';
	if (lower)
		bs_lower(s);
	*out_r = s;
	return 0;
}

/* A media type or subtype: a string, not NIL and not empty. */
static int bs_copy_type(struct bs_parser *bp, const struct wire_token *t,
                        enum bs_val v, const char *what, char **out_r)
{
	if (v != BS_V_STR || t->len == 0)
		return bs_fail(bp, what);
	return bs_copy(bp, t, true, out_r);
}

/* body-fld-octets and body-fld-lines: RFC 3501 §9 number (digits), taken up
 * to 2^64 - 1 (RFC 9051 allows more than 32 bits for sizes), also quoted. */
static int bs_number(struct bs_parser *bp, const struct wire_token *t,
                     enum bs_val v, const char *what, uint64_t *n_r)
{
	uint64_t n = 0;

	if (v != BS_V_STR || t->len == 0)
		return bs_fail(bp, what);
	for (size_t i = 0; i < t->len; i++) {
		unsigned d = (unsigned char)t->data[i] - '0';

		if (d > 9)
			return bs_fail(bp, what);
		if (n > (UINT64_MAX - d) / 10)
			return bs_fail(bp, "number too large");
		n = n * 10 + d;
	}
	*n_r = n;
	return 0;
}

static void bs_params_free(struct bs_param *params, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(params[i].name);
		free(params[i].value);
	}
	free(params);
}

/* The tree's depth is bounded (bs_check(), the parser's stack), so the
 * recursion is. */
void bs_part_release(struct bs_part *p)
{
	free(p->type);
	free(p->subtype);
	bs_params_free(p->params, p->nparams);
	free(p->id);
	free(p->description);
	free(p->encoding);
	free(p->disposition);
	bs_params_free(p->disp_params, p->ndisp_params);
	free(p->subject);
	for (size_t i = 0; i < p->nkids; i++)
		bs_part_release(&p->kids[i]);
	free(p->kids);
	memset(p, 0, sizeof(*p));
}

void bs_free(struct bs_part *root)
{
	if (!root)
		return;
	bs_part_release(root);
	free(root);
}

/* A new frame for a body whose '(' was just read. */
static int bs_push(struct bs_parser *bp)
{
	struct bs_frame *f;

	if (bp->nframes >= BS_MAX_DEPTH)
		return bs_fail(bp, "bodies nested more than " BS_STR(BS_MAX_DEPTH) " deep");
	if (bp->nparts >= BS_MAX_PARTS)
		return bs_fail(bp, "more than " BS_STR(BS_MAX_PARTS) " parts");
	bp->nparts++;
	f = &bp->frames[bp->nframes++];
	memset(f, 0, sizeof(*f));
	f->state = BS_S_BODY;
	return 0;
}

/* The body on top is complete: hand it to its parent, or finish. */
static int bs_pop(struct bs_parser *bp)
{
	struct bs_frame *f = &bp->frames[bp->nframes - 1], *up;

	free(f->pname);
	f->pname = NULL;
	bp->nframes--;
	if (bp->nframes == 0) {
		bp->root = malloc(sizeof(*bp->root));
		if (!bp->root) {
			bs_part_release(&f->part);
			return bs_nomem(bp);
		}
		*bp->root = f->part;
		bp->done = true;
		return 1;
	}
	up = &bp->frames[bp->nframes - 1];
	if (ARRAY_RESERVE(up->part.kids, up->part.nkids, up->kids_cap) < 0) {
		bs_part_release(&f->part);
		return bs_nomem(bp);
	}
	up->part.kids[up->part.nkids++] = f->part;
	if (up->state == BS_S_MSG_BODY)
		up->state = BS_S_LINES;
	return 0;
}

/* Starts reading a body-fld-param list (its '(' was read). */
static void bs_params_begin(struct bs_frame *f, bool disp, enum bs_state ret)
{
	f->params_disp = disp;
	f->params_ret = ret;
	f->state = BS_S_PARAMS;
}

/* One token of a body-fld-param list: RFC 3501 §9 requires pairs of
 * strings, at least one; "()" is taken as none. */
static int bs_params_token(struct bs_parser *bp, struct bs_frame *f,
                           const struct wire_token *t, enum bs_val v)
{
	struct bs_param **arr = f->params_disp ? &f->part.disp_params : &f->part.params;
	size_t *n = f->params_disp ? &f->part.ndisp_params : &f->part.nparams;
	size_t *cap = f->params_disp ? &f->disp_cap : &f->params_cap;
	char *value;
	int r;

	switch (v) {
	case BS_V_LIST:
		return bs_fail(bp, "a list inside a parameter list");
	case BS_V_END:
		if (f->pname)
			return bs_fail(bp, "a parameter without a value (odd parameter list)");
		if (f->params_ret == BS_S_DSP_PARAMS) {
			f->state = BS_S_DSP_END;
		} else {
			f->state = f->params_ret;
			f->field++;
		}
		return 0;
	case BS_V_NIL:
		if (!f->pname)
			return bs_fail(bp, "a parameter name is NIL");
		value = bs_strdup("");
		if (!value)
			return bs_nomem(bp);
		break;
	case BS_V_STR:
		if (!f->pname) {
			if (*n >= BS_MAX_PARAMS)
				return bs_fail(bp, "more than " BS_STR(BS_MAX_PARAMS) " parameters");
			return bs_copy(bp, t, false, &f->pname);
		}
		r = bs_copy(bp, t, false, &value);
		if (r < 0)
			return r;
		break;
	default:
		return bs_fail(bp, "bad parameter list");
	}
	if (ARRAY_RESERVE(*arr, *n, *cap) < 0) {
		free(value);
		return bs_nomem(bp);
	}
	(*arr)[*n].name = f->pname;
	(*arr)[*n].value = value;
	(*n)++;
	f->pname = NULL;
	return 0;
}

/* A value to drop: one token, or a whole list (then counted in bp->skip
 * until it closes, when the field advances). */
static void bs_skip_value(struct bs_parser *bp, struct bs_frame *f, enum bs_val v)
{
	if (v == BS_V_LIST)
		bp->skip = 1;
	else
		f->field++;
}

/* body-fields (RFC 3501 §9): param, id, description, encoding, octets. */
static int bs_fields_token(struct bs_parser *bp, struct bs_frame *f,
                           const struct wire_token *t, enum bs_val v)
{
	char **slot;
	int r;

	if (v == BS_V_END)
		return bs_fail(bp, "body fields incomplete");
	switch (f->field) {
	case 0:
		if (v == BS_V_LIST) {
			bs_params_begin(f, false, BS_S_FIELDS);
			return 0;
		}
		if (v != BS_V_NIL)
			return bs_fail(bp, "body parameters are not a list");
		f->field++;
		return 0;
	case 1:
	case 2:
	case 3:
		if (v == BS_V_LIST)
			return bs_fail(bp, f->field == 3 ? "body encoding is a list" :
			               "body id or description is a list");
		slot = f->field == 1 ? &f->part.id : f->field == 2 ? &f->part.description :
		       &f->part.encoding;
		if (v == BS_V_STR) {
			r = bs_copy(bp, t, f->field == 3, slot);
			if (r < 0)
				return r;
		}
		f->field++;
		return 0;
	default:
		r = bs_number(bp, t, v, "body size is not a number", &f->part.size);
		if (r < 0)
			return r;
		f->field = 0;
		f->state = f->kind == BS_K_TEXT ? BS_S_LINES :
		           f->kind == BS_K_MSG ? BS_S_ENV_OR_EXT : BS_S_EXT;
		return 0;
	}
}

/* The envelope (RFC 3501 §9 envelope): only env-subject, its second field,
 * is kept; the others are skipped whatever they hold, lists included. */
static int bs_env_token(struct bs_parser *bp, struct bs_frame *f,
                        const struct wire_token *t, enum bs_val v)
{
	int r;

	if (v == BS_V_END) {
		f->state = BS_S_MSG_BODY;
		return 0;
	}
	if (f->field != 1) {
		bs_skip_value(bp, f, v);
		return 0;
	}
	if (v == BS_V_LIST)
		return bs_fail(bp, "envelope subject is a list");
	if (v == BS_V_STR) {
		r = bs_copy(bp, t, false, &f->part.subject);
		if (r < 0)
			return r;
	}
	f->field++;
	return 0;
}

/* body-ext-1part / body-ext-mpart (RFC 3501 §9): MD5 (single part) or
 * parameters (multipart), disposition, language, location, extensions; any
 * prefix of them. */
static int bs_ext_token(struct bs_parser *bp, struct bs_frame *f,
                        const struct wire_token *t, enum bs_val v)
{
	(void)t;
	if (v == BS_V_END)
		return bs_pop(bp);
	switch (f->field) {
	case 0:
		if (f->kind != BS_K_MULTI) {
			bs_skip_value(bp, f, v);       /* body-fld-md5 */
			return 0;
		}
		if (v == BS_V_LIST) {
			bs_params_begin(f, false, BS_S_EXT);
			return 0;
		}
		if (v != BS_V_NIL)
			return bs_fail(bp, "multipart parameters are not a list");
		f->field++;
		return 0;
	case 1:
		/* body-fld-dsp = "(" string SP body-fld-param ")" / nil */
		if (v == BS_V_LIST)
			f->state = BS_S_DSP;
		else
			f->field++;
		return 0;
	default:
		bs_skip_value(bp, f, v);
		return 0;
	}
}

static int bs_step(struct bs_parser *bp, struct bs_frame *f,
                   const struct wire_token *t, enum bs_val v)
{
	int r;

	switch (f->state) {
	case BS_S_BODY:
		if (v == BS_V_LIST || v == BS_V_NIL) {
			/* body-type-mpart = 1*body SP media-subtype ... */
			f->kind = BS_K_MULTI;
			f->part.type = bs_strdup("multipart");
			if (!f->part.type)
				return bs_nomem(bp);
			f->state = BS_S_KIDS;
			f->nil_kids = v == BS_V_NIL;
			return v == BS_V_LIST ? bs_push(bp) : 0;
		}
		if (v == BS_V_END)
			return bs_fail(bp, "empty body");
		r = bs_copy_type(bp, t, v, "body type is NIL or empty", &f->part.type);
		if (r < 0)
			return r;
		/* its parts would be missing; the engine can read the message
		 * itself instead */
		if (strcmp(f->part.type, "multipart") == 0)
			return bs_fail(bp, "a multipart sent as a single part");
		f->state = BS_S_SUBTYPE;
		return 0;

	case BS_S_KIDS:
		if (v == BS_V_LIST) {
			if (f->nil_kids)
				return bs_fail(bp, "a part after NIL parts");
			return bs_push(bp);
		}
		if (v == BS_V_END)
			return bs_fail(bp, "multipart without a subtype");
		r = bs_copy_type(bp, t, v, "multipart subtype is NIL or empty", &f->part.subtype);
		if (r < 0)
			return r;
		f->state = BS_S_EXT;
		f->field = 0;
		return 0;

	case BS_S_SUBTYPE:
		r = bs_copy_type(bp, t, v, "body subtype missing, NIL or empty", &f->part.subtype);
		if (r < 0)
			return r;
		/* RFC 3501 §9 media-message is message/rfc822; RFC 9051 adds
		 * message/global */
		if (strcmp(f->part.type, "text") == 0)
			f->kind = BS_K_TEXT;
		else if (strcmp(f->part.type, "message") == 0 &&
		         (strcmp(f->part.subtype, "rfc822") == 0 ||
		          strcmp(f->part.subtype, "global") == 0))
			f->kind = BS_K_MSG;
		else
			f->kind = BS_K_BASIC;
		f->state = BS_S_FIELDS;
		f->field = 0;
		return 0;

	case BS_S_FIELDS:
		return bs_fields_token(bp, f, t, v);

	case BS_S_PARAMS:
		return bs_params_token(bp, f, t, v);

	case BS_S_ENV_OR_EXT:
		if (v == BS_V_LIST) {
			f->state = BS_S_ENV;
			f->field = 0;
			return 0;
		}
		/* no envelope: the part was sent as body-type-basic */
		f->kind = BS_K_BASIC;
		f->state = BS_S_EXT;
		return bs_ext_token(bp, f, t, v);

	case BS_S_ENV:
		return bs_env_token(bp, f, t, v);

	case BS_S_MSG_BODY:
		if (v != BS_V_LIST)
			return bs_fail(bp, "message/rfc822 without its body");
		return bs_push(bp); /* bs_pop() moves on to BS_S_LINES */

	case BS_S_LINES:
		if (v == BS_V_END)
			return bs_pop(bp);
		if (v != BS_V_NIL) {
			r = bs_number(bp, t, v, "body lines are not a number", &f->part.lines);
			if (r < 0)
				return r;
		}
		f->state = BS_S_EXT;
		f->field = 0;
		return 0;

	case BS_S_EXT:
		return bs_ext_token(bp, f, t, v);

	case BS_S_DSP:
		r = bs_copy_type(bp, t, v, "disposition type missing, NIL or empty",
		                 &f->part.disposition);
		if (r < 0)
			return r;
		f->state = BS_S_DSP_PARAMS;
		return 0;

	case BS_S_DSP_PARAMS:
		if (v == BS_V_LIST) {
			bs_params_begin(f, true, BS_S_DSP_PARAMS);
			return 0;
		}
		if (v == BS_V_NIL) {
			f->state = BS_S_DSP_END;
			return 0;
		}
		if (v == BS_V_END) {   /* parameters left out */
			f->state = BS_S_EXT;
			f->field++;
			return 0;
		}
		return bs_fail(bp, "disposition parameters are not a list");

	case BS_S_DSP_END:
		if (v != BS_V_END)
			return bs_fail(bp, "more than a type and parameters in a disposition");
		f->state = BS_S_EXT;
		f->field++;
		return 0;
	}
	return bs_fail(bp, "parser state lost");
}

int bs_feed(struct bs_parser *bp, const struct wire_token *t)
{
	enum bs_val v;

	if (bp->bad)
		return bp->bad;
	if (bp->done)
		return bs_fail(bp, "tokens after the end of the body");
	if (bp->lit_pending) {
		if (t->type != WIRE_STRING)
			return bs_fail(bp, "a literal was not accumulated");
		bp->lit_pending = false;
	}
	switch (t->type) {
	case WIRE_ATOM:
	case WIRE_STRING:
	case WIRE_LPAREN:
	case WIRE_RPAREN:
		break;
	case WIRE_LITERAL_BEGIN:
		/* the WIRE_STRING of the accumulated literal follows */
		bp->lit_pending = true;
		return 0;
	case WIRE_LITERAL_DATA:
		return bs_fail(bp, "a literal was not accumulated");
	case WIRE_EOL:
		return bs_fail(bp, "end of line inside a body");
	default:
		return bs_fail(bp, "a response code or text inside a body");
	}
	v = bs_classify(t);
	if (bp->skip) {
		if (v == BS_V_LIST)
			bp->skip++;   /* bounded by the tokenizer's max_depth */
		else if (v == BS_V_END && --bp->skip == 0)
			bp->frames[bp->nframes - 1].field++;
		return 0;
	}
	if (bp->nframes == 0) {
		if (v == BS_V_LIST)
			return bs_push(bp);
		return bs_fail(bp, v == BS_V_NIL ? "the body is NIL" : "a body is not a list");
	}
	return bs_step(bp, &bp->frames[bp->nframes - 1], t, v);
}

struct bs_parser *bs_parser_new(void)
{
	struct bs_parser *bp = calloc(1, sizeof(*bp));

	if (bp)
		bp->err = "no error";
	return bp;
}

struct bs_part *bs_take(struct bs_parser *bp)
{
	struct bs_part *root = bp->done ? bp->root : NULL;

	bp->root = NULL;
	return root;
}

const char *bs_error(const struct bs_parser *bp)
{
	return bp->err;
}

void bs_parser_free(struct bs_parser *bp)
{
	if (!bp)
		return;
	for (unsigned i = 0; i < bp->nframes; i++) {
		free(bp->frames[i].pname);
		bs_part_release(&bp->frames[i].part);
	}
	bs_free(bp->root);
	free(bp);
}

static void bs_set_err(char *err, size_t errlen, const char *why)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", why);
}

int bs_parse(const char *text, size_t len, struct bs_part **root_r, char *err, size_t errlen)
{
	/* The text is in memory already: the tokenizer's buffers cannot
	 * outgrow it, so its line, literal and response bounds are the text's
	 * length (what bs_format() wrote for a large tree must read back). */
	struct wire_limits lim = wire_default_limits;
	struct wire_parser *wp;
	struct bs_parser *bp;
	const char *in = text;
	size_t left = len;
	bool ended = false;
	int r = 0;

	*root_r = NULL;
	lim.max_line = lim.max_response = len + 1;   /* the space below */
	lim.max_literal = len ? len : 1;
	wp = wire_parser_new(&lim);
	bp = bs_parser_new();
	if (!wp || !bp) {
		r = -ENOMEM;
		bs_set_err(err, errlen, "out of memory");
		goto out;
	}
	for (;;) {
		struct wire_token t;
		enum wire_result wr = wire_next(wp, &in, &left, &t);

		if (wr == WIRE_BAD) {
			/* the tokenizer tells running out of memory by its reason */
			r = strcmp(wire_error(wp), "out of memory") == 0 ? -ENOMEM : -EINVAL;
			bs_set_err(err, errlen, wire_error(wp));
			goto out;
		}
		if (wr == WIRE_MORE && !ended) {
			/* An atom at the very end ("NIL", or a trailing one) is
			 * not complete until a byte follows it. */
			in = " ";
			left = 1;
			ended = true;
			continue;
		}
		if (wr == WIRE_MORE) {
			if (r == 1)
				break;
			r = -EINVAL;
			bs_set_err(err, errlen, bp->nframes || bp->lit_pending ?
			           "the body ends too early" : "no body");
			goto out;
		}
		if (t.type == WIRE_LITERAL_BEGIN && !bp->done) {
			r = wire_literal_accumulate(wp);
			if (r < 0) {
				bs_set_err(err, errlen, wire_error(wp));
				r = r == -ENOMEM ? -ENOMEM : -EINVAL;
				goto out;
			}
		}
		r = bs_feed(bp, &t);
		if (r < 0) {
			bs_set_err(err, errlen, bs_error(bp));
			goto out;
		}
	}
	*root_r = bs_take(bp);
	r = 0;
out:
	bs_parser_free(bp);
	wire_parser_free(wp);
	return r;
}

/* ---- writing ------------------------------------------------------------ */

static bool bs_is_multipart(const struct bs_part *p)
{
	return p->type && strcmp(p->type, "multipart") == 0;
}

/* The message/rfc822 or message/global part that carries a body. */
static bool bs_has_body(const struct bs_part *p)
{
	return !bs_is_multipart(p) && p->nkids == 1;
}

static bool bs_has_upper(const char *s)
{
	for (; s && *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			return true;
	return false;
}

static bool bs_params_ok(const struct bs_param *params, size_t n)
{
	if (n > BS_MAX_PARAMS || (n && !params))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!params[i].name || !params[i].value)
			return false;
	return true;
}

/* Whether bs_format() can write P so that bs_parse() reads it back (see
 * bodystructure.h); counts parts in *nparts. Recursion stops at
 * BS_MAX_DEPTH. */
static bool bs_check(const struct bs_part *p, unsigned depth, size_t *nparts)
{
	if (depth >= BS_MAX_DEPTH || ++*nparts > BS_MAX_PARTS)
		return false;
	if (!p->type || !p->subtype || !*p->type || !*p->subtype ||
	    bs_has_upper(p->type) || bs_has_upper(p->subtype) ||
	    bs_has_upper(p->encoding) || bs_has_upper(p->disposition))
		return false;
	if (!bs_params_ok(p->params, p->nparams) ||
	    !bs_params_ok(p->disp_params, p->ndisp_params) ||
	    (p->ndisp_params && !p->disposition) || (p->disposition && !*p->disposition))
		return false;
	if (p->nkids && !p->kids)
		return false;
	if (!bs_is_multipart(p) && p->nkids &&
	    (p->nkids > 1 || strcmp(p->type, "message") != 0 ||
	     (strcmp(p->subtype, "rfc822") != 0 && strcmp(p->subtype, "global") != 0)))
		return false;
	for (size_t i = 0; i < p->nkids; i++)
		if (!bs_check(&p->kids[i], depth + 1, nparts))
			return false;
	return true;
}

struct bs_out {
	char *s;
	size_t len, cap;
	bool nomem;
};

static void bs_put(struct bs_out *o, const char *s, size_t n)
{
	if (o->nomem)
		return;
	if (n > SIZE_MAX / 2 - o->len) {
		o->nomem = true;
		return;
	}
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 256;
		char *ns;

		while (cap < o->len + n + 1)
			cap *= 2;
		ns = realloc(o->s, cap);
		if (!ns) {
			o->nomem = true;
			return;
		}
		o->s = ns;
		o->cap = cap;
	}
	memcpy(o->s + o->len, s, n);
	o->len += n;
	o->s[o->len] = '\0';
}

static void bs_puts(struct bs_out *o, const char *s)
{
	bs_put(o, s, strlen(s));
}

/* A string: quoted when RFC 3501 §9 quoted allows it (7-bit TEXT-CHARs,
 * '"' and '\' escaped), else a literal (§4.3). */
static void bs_put_str(struct bs_out *o, const char *s)
{
	size_t n = strlen(s);
	char head[32];

	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (c == '\r' || c == '\n' || c >= 0x80) {
			snprintf(head, sizeof(head), "{%zu}\r\n", n);
			bs_puts(o, head);
			bs_put(o, s, n);
			return;
		}
	}
	bs_put(o, "\"", 1);
	for (size_t i = 0, start = 0; i <= n; i++) {
		if (i == n || s[i] == '"' || s[i] == '\\') {
			bs_put(o, s + start, i - start);
			if (i < n)
				bs_put(o, "\\", 1);
			start = i;
		}
	}
	bs_put(o, "\"", 1);
}

static void bs_put_nstr(struct bs_out *o, const char *s)
{
	if (s)
		bs_put_str(o, s);
	else
		bs_puts(o, "NIL");
}

static void bs_put_u64(struct bs_out *o, uint64_t n)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)n);
	bs_puts(o, buf);
}

static void bs_put_params(struct bs_out *o, const struct bs_param *params, size_t n)
{
	if (!n) {
		bs_puts(o, "NIL");
		return;
	}
	bs_put(o, "(", 1);
	for (size_t i = 0; i < n; i++) {
		if (i)
			bs_put(o, " ", 1);
		bs_put_str(o, params[i].name);
		bs_put(o, " ", 1);
		bs_put_str(o, params[i].value);
	}
	bs_put(o, ")", 1);
}

static void bs_put_dsp(struct bs_out *o, const struct bs_part *p)
{
	if (!p->disposition) {
		bs_puts(o, "NIL");
		return;
	}
	bs_put(o, "(", 1);
	bs_put_str(o, p->disposition);
	bs_put(o, " ", 1);
	bs_put_params(o, p->disp_params, p->ndisp_params);
	bs_put(o, ")", 1);
}

/* Recursion bounded by bs_check(). */
static void bs_put_part(struct bs_out *o, const struct bs_part *p)
{
	bs_put(o, "(", 1);
	if (bs_is_multipart(p)) {
		if (!p->nkids)
			bs_puts(o, "NIL");
		for (size_t i = 0; i < p->nkids; i++)
			bs_put_part(o, &p->kids[i]);
		bs_put(o, " ", 1);
		bs_put_str(o, p->subtype);
		bs_put(o, " ", 1);
		bs_put_params(o, p->params, p->nparams);
	} else {
		bs_put_str(o, p->type);
		bs_put(o, " ", 1);
		bs_put_str(o, p->subtype);
		bs_put(o, " ", 1);
		bs_put_params(o, p->params, p->nparams);
		bs_put(o, " ", 1);
		bs_put_nstr(o, p->id);
		bs_put(o, " ", 1);
		bs_put_nstr(o, p->description);
		bs_put(o, " ", 1);
		bs_put_nstr(o, p->encoding);
		bs_put(o, " ", 1);
		bs_put_u64(o, p->size);
		if (bs_has_body(p)) {
			/* an envelope of which only the subject is known */
			bs_puts(o, " (NIL ");
			bs_put_nstr(o, p->subject);
			bs_puts(o, " NIL NIL NIL NIL NIL NIL NIL NIL) ");
			bs_put_part(o, &p->kids[0]);
		}
		if (bs_has_body(p) || strcmp(p->type, "text") == 0) {
			bs_put(o, " ", 1);
			bs_put_u64(o, p->lines);
		}
		bs_puts(o, " NIL"); /* body-fld-md5 */
	}
	bs_put(o, " ", 1);
	bs_put_dsp(o, p);
	bs_put(o, ")", 1);
}

char *bs_format(const struct bs_part *root)
{
	struct bs_out o = { 0 };
	size_t nparts = 0;

	if (!root || !bs_check(root, 0, &nparts)) {
		errno = EINVAL;
		return NULL;
	}
	bs_put_part(&o, root);
	if (o.nomem) {
		free(o.s);
		errno = ENOMEM;
		return NULL;
	}
	return o.s;
}

/* ---- part numbers (RFC 3501 §6.4.5) -------------------------------------- */

const char *bs_param(const struct bs_param *params, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		const char *a = params[i].name, *b = name;

		if (!a)
			continue;
		for (; *a && *b; a++, b++) {
			char ca = *a >= 'A' && *a <= 'Z' ? *a + 32 : *a;
			char cb = *b >= 'A' && *b <= 'Z' ? *b + 32 : *b;

			if (ca != cb)
				break;
		}
		if (!*a && !*b)
			return params[i].value;
	}
	return NULL;
}

/* The parts numbered S.1, S.2, ... below part P numbered S: a multipart's
 * parts; for a message/rfc822 part, its body's parts when that is a
 * multipart, else the body itself. */
static const struct bs_part *bs_numbered(const struct bs_part *p, size_t *n_r)
{
	if (bs_is_multipart(p)) {
		*n_r = p->nkids;
		return p->kids;
	}
	if (bs_has_body(p)) {
		if (bs_is_multipart(&p->kids[0])) {
			*n_r = p->kids[0].nkids;
			return p->kids[0].kids;
		}
		*n_r = 1;
		return p->kids;
	}
	*n_r = 0;
	return NULL;
}

struct bs_walker {
	int (*cb)(void *ctx, const struct bs_part *p, const char *section, unsigned depth);
	void *ctx;
	char section[BS_SECTION_MAX];
};

/* P, numbered by w->section[0..len), and what is below it. Recursion
 * bounded by BS_MAX_DEPTH. */
static int bs_walk_part(struct bs_walker *w, const struct bs_part *p, size_t len,
                        unsigned depth)
{
	int r;

	if (depth >= BS_MAX_DEPTH)
		return -E2BIG;
	w->section[len] = '\0';
	r = w->cb(w->ctx, p, w->section, depth);
	if (r)
		return r;
	if (bs_has_body(p) && bs_is_multipart(&p->kids[0]))
		/* the multipart body of a message/rfc822 part S is S too */
		return bs_walk_part(w, &p->kids[0], len, depth + 1);
	for (size_t i = 0; i < p->nkids; i++) {
		int k = snprintf(w->section + len, sizeof(w->section) - len, "%s%zu",
		                 len ? "." : "", i + 1);

		if (k < 0 || (size_t)k >= sizeof(w->section) - len)
			return -E2BIG;
		r = bs_walk_part(w, &p->kids[i], len + k, depth + 1);
		if (r)
			return r;
	}
	return 0;
}

int bs_walk(const struct bs_part *root,
            int (*cb)(void *ctx, const struct bs_part *p, const char *section, unsigned depth),
            void *ctx)
{
	struct bs_walker w = { .cb = cb, .ctx = ctx };

	if (bs_is_multipart(root))
		return bs_walk_part(&w, root, 0, 0);
	/* a message that is not multipart: its body is part 1 */
	strcpy(w.section, "1");
	return bs_walk_part(&w, root, 1, 0);
}

const struct bs_part *bs_find(const struct bs_part *root, const char *section)
{
	const struct bs_part *p = NULL, *arr;
	size_t n;
	const char *s = section;

	if (!root || !section)
		return NULL;
	if (!*section)
		return bs_is_multipart(root) ? root : NULL;
	/* the message's own numbered parts: a multipart's, else the body */
	if (bs_is_multipart(root)) {
		arr = root->kids;
		n = root->nkids;
	} else {
		arr = root;
		n = 1;
	}
	for (;;) {
		size_t k = 0;

		/* RFC 3501 §9 nz-number: no leading zero */
		if (*s < '1' || *s > '9')
			return NULL;
		for (; *s >= '0' && *s <= '9'; s++) {
			k = k * 10 + (size_t)(*s - '0');
			if (k > n)
				return NULL;
		}
		p = &arr[k - 1];
		if (!*s)
			return p;
		if (*s++ != '.')
			return NULL;
		arr = bs_numbered(p, &n);
	}
}
