/* imap.c - IMAP client session.
 *
 * Responses are read token by token from the pure tokenizer (wire.c) and
 * built into a small tree per response, allocated from an arena that is
 * reset for each response. The one exception is a body literal inside a
 * FETCH response: it is streamed to a sink chunk by chunk as it arrives,
 * so a 25 MB message costs no more memory than a 4 KB one, and the first
 * bytes reach the reader before the last ones left the server.
 */
#include "net/imap.h"
#include "net/grow.h"
#include "net/sasl.h"
#include "net/mime.h"
#include "net/bodystructure.h"
#include "net/search.h"
#include "net/wire.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

/* ---- response tree ------------------------------------------------------ */

enum node_type { N_ATOM, N_STRING, N_LIST, N_STREAM };

struct node {
	enum node_type type;
	const char *s;          /* ATOM, STRING: NUL-terminated */
	size_t len;             /* ATOM, STRING: bytes; STREAM: literal size */
	struct node *child;     /* LIST */
	struct node *next;
};

struct arena_block {
	struct arena_block *next;
	size_t used, size;
	char data[];
};

struct arena {
	struct arena_block *head;
};

static void *arena_alloc(struct arena *a, size_t n)
{
	struct arena_block *b = a->head;

	n = (n + 15) & ~(size_t)15;
	if (!b || b->size - b->used < n) {
		size_t size = n > 16384 ? n : 16384;

		b = malloc(sizeof(*b) + size);
		if (!b)
			return NULL;
		b->size = size;
		b->used = 0;
		b->next = a->head;
		a->head = b;
	}
	b->used += n;
	return b->data + b->used - n;
}

/* Keep one block for the next response; give the rest back. */
static void arena_reset(struct arena *a)
{
	struct arena_block *b = a->head, *next;

	if (!b)
		return;
	for (next = b->next; next; ) {
		struct arena_block *n2 = next->next;
		free(next);
		next = n2;
	}
	b->next = NULL;
	b->used = 0;
	if (b->size > 65536) {
		free(b);
		a->head = NULL;
	}
}

static void arena_free(struct arena *a)
{
	while (a->head) {
		struct arena_block *n = a->head->next;
		free(a->head);
		a->head = n;
	}
}

static char *arena_strndup(struct arena *a, const char *s, size_t len)
{
	char *p = arena_alloc(a, len + 1);

	if (p) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}

/* ---- session ------------------------------------------------------------- */

#define MAX_SINKS IMAP_MAX_SECTIONS
#define SECTION_MAX 256     /* what the brackets of BODY[...] may hold */

struct resp {
	struct node *head;      /* tag, then the rest of the top level */
	struct node *code;      /* status responses: [CODE args...] as a list */
	const char *text;       /* status responses: human-readable text */
	int status;             /* 1 when head->next is OK/NO/BAD/BYE/PREAUTH */
	struct imap_sink *sinks[MAX_SINKS];
	int nsinks;
};

struct cmd {
	char tag[16];
	int (*list_cb)(void *ctx, const struct imap_list_entry *e);
	void (*search_cb)(void *ctx, uint32_t lo, uint32_t hi);
	void *ctx;
	int list_err;
	void (*status_cb)(void *ctx, const struct imap_status *st);
	uint64_t batch_done[(IMAP_BATCH_MAX + 1 + 63) / 64];
	/* Several commands sent together (imap_list_status()): the tagged
	 * replies of tag numbers batch_first .. batch_first + batch_n - 1 are
	 * awaited. The batch may begin with UNSELECT (batch_unselect), then
	 * LIST (batch_list): batch_err is the LIST's failure. */
	unsigned batch_first, batch_n, batch_left;
	int batch_unselect, batch_list;
	int batch_err;
};

struct imap_session {
	struct imap_params p;
	struct conn *conn;
	struct wire_parser *wp;
	struct arena arena;
	struct resp resp;
	struct cmd *cmd;            /* command in progress, or NULL */
	unsigned tagno;
	uint64_t round_trips;       /* waits for the server after sending */
	int sent;                   /* something was sent since the last wait */
	char inbuf[65536];
	size_t inpos, inlen;

	unsigned caps;
	char *caps_text;
	int qresync;                /* ENABLE QRESYNC succeeded */
	int broken;
	enum imap_fail fail;
	char error[512];
	char code[64];
	char code_args[512];

	/* selected mailbox */
	char *selected;
	struct imap_mailbox mb;
	uint32_t *seqmap;           /* seqmap[seq-1] = uid, or 0 when unknown */
	size_t seqcap;
	const struct imap_events *ev;
	void *ev_ctx;
	struct cmd idle;            /* the IDLE command while idling */
	int idling;

	/* imap_watch(): whether a FETCH for watch_uid arrived since. */
	uint32_t watch_uid;
	int watch_seen;

	/* RFC 4315 results of the last command, 0 when the server said none. */
	uint32_t uidplus_validity;
	uint32_t uidplus_uid;       /* APPENDUID uid, or the target of COPYUID for
	                               a single source UID */
};

static int set_fail(struct imap_session *s, enum imap_fail cls, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int set_fail(struct imap_session *s, enum imap_fail cls, int err, const char *fmt, ...)
{
	char buf[sizeof(s->error)];   /* the arguments may point into s->error */
	va_list ap;

	s->fail = cls;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	memcpy(s->error, buf, sizeof(buf));
	if (cls == IMAP_FAIL_CONN || cls == IMAP_FAIL_PROTO || cls == IMAP_FAIL_BYE ||
	    cls == IMAP_FAIL_TLS_REQUIRED || cls == IMAP_FAIL_LIMIT)
		s->broken = 1;
	return -err;
}

#define proto_fail(s, ...) set_fail((s), IMAP_FAIL_PROTO, EPROTO, __VA_ARGS__)

static int conn_failed(struct imap_session *s, int err)
{
	return set_fail(s, IMAP_FAIL_CONN, -err, "%s", conn_error(s->conn));
}

struct imap_session *imap_session_new(const struct imap_params *params)
{
	struct imap_session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->p = *params;
	s->conn = conn_new(&params->conn);
	s->wp = wire_parser_new(NULL);
	if (!s->conn || !s->wp) {
		imap_session_free(s);
		return NULL;
	}
	return s;
}

void imap_session_free(struct imap_session *s)
{
	if (!s)
		return;
	conn_free(s->conn);
	wire_parser_free(s->wp);
	arena_free(&s->arena);
	free(s->caps_text);
	free(s->selected);
	free(s->seqmap);
	free(s);
}

void imap_abort(struct imap_session *s)
{
	conn_abort(s->conn);
}

unsigned imap_caps(const struct imap_session *s) { return s->caps; }
int imap_qresync_enabled(const struct imap_session *s) { return s->qresync; }
const char *imap_caps_text(const struct imap_session *s) { return s->caps_text ? s->caps_text : ""; }
int imap_broken(const struct imap_session *s) { return s->broken; }
uint64_t imap_round_trips(const struct imap_session *s) { return s->round_trips; }
int imap_pending(struct imap_session *s)
{
	return s->inpos < s->inlen || conn_pending(s->conn);
}
enum imap_fail imap_fail_class(const struct imap_session *s) { return s->fail; }
enum conn_fail imap_conn_fail(const struct imap_session *s) { return conn_fail_class(s->conn); }
const char *imap_error(const struct imap_session *s) { return s->error[0] ? s->error : "no error"; }
const char *imap_resp_code(const struct imap_session *s) { return s->code; }
const char *imap_resp_code_args(const struct imap_session *s) { return s->code_args; }
const char *imap_selected(const struct imap_session *s) { return s->selected; }
const struct imap_mailbox *imap_mailbox(const struct imap_session *s) { return &s->mb; }

void imap_set_timeout(struct imap_session *s, int timeout_ms)
{
	s->p.conn.timeout_ms = timeout_ms;
	conn_set_timeout(s->conn, timeout_ms);
}

/* ---- small parsing helpers ------------------------------------------------ */

static int is_atom(const struct node *n, const char *word)
{
	return n && n->type == N_ATOM && strcasecmp(n->s, word) == 0;
}

/* A non-negative number of at most MAX; strict digits only. */
static int node_u64(const struct node *n, uint64_t max, uint64_t *v_r)
{
	uint64_t v = 0;
	const char *p;

	if (!n || n->type != N_ATOM || !n->s[0] || n->len > 20)
		return -1;
	for (p = n->s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v > max)
		return -1;
	*v_r = v;
	return 0;
}

static int node_u32(const struct node *n, uint32_t *v_r)
{
	uint64_t v;

	if (node_u64(n, UINT32_MAX, &v) < 0)
		return -1;
	*v_r = (uint32_t)v;
	return 0;
}

/* A string-ish node: atom, quoted or literal. NIL is not a string. */
static const char *node_str(const struct node *n)
{
	if (!n)
		return NULL;
	if (n->type == N_STRING)
		return n->s;
	if (n->type == N_ATOM && strcasecmp(n->s, "NIL") != 0)
		return n->s;
	return NULL;
}

/* RFC 3501 §9: ATOM-CHAR is any CHAR except atom-specials: "(" ")" "{" SP,
 * CTL, list-wildcards "%" "*", quoted-specials DQUOTE "\\", resp-specials "]". */
static int atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("(){%*\"\\]", c);
}

/* Length of the flag at P ("\\" atom or atom), 0 if there is none. */
static size_t flag_len(const char *p, size_t len)
{
	size_t i = len && p[0] == '\\';
	size_t start = i;

	while (i < len && atom_char((unsigned char)p[i]))
		i++;
	return i > start ? i : 0;
}

int imap_flags_valid(const char *flags)
{
	size_t len = strlen(flags), i = 0;

	while (i < len) {
		size_t n = flag_len(flags + i, len - i);

		if (!n)
			return 0;
		i += n;
		if (i < len && (flags[i] != ' ' || i + 1 == len))
			return 0;
		i += i < len;
	}
	return 1;
}

char *imap_flags_normalize(const char *value, size_t len)
{
	char *out = malloc(len + 1);
	size_t i = 0, o = 0;

	if (!out)
		return NULL;
	for (;;) {
		size_t n;

		while (i < len && strchr(" \t\r\n", value[i]) && value[i])
			i++;
		if (i == len)
			break;
		n = flag_len(value + i, len - i);
		if (!n || (i + n < len && !(value[i + n] && strchr(" \t\r\n", value[i + n])))) {
			free(out);
			errno = EINVAL;
			return NULL;
		}
		if (o)
			out[o++] = ' ';
		memcpy(out + o, value + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	return out;
}

int imap_parse_uidset(const char *set, uint32_t star,
                      void (*cb)(void *ctx, uint32_t lo, uint32_t hi), void *ctx)
{
	const char *p = set;

	if (!*p)
		return -EPROTO;
	for (;;) {
		uint64_t a = 0, b;
		int digits = 0;

		if (*p == '*') {
			a = star;
			p++;
			digits = 1;
		}
		for (; *p >= '0' && *p <= '9' && !digits; ) {
			for (; *p >= '0' && *p <= '9'; p++, digits++) {
				a = a * 10 + (uint64_t)(*p - '0');
				if (a > UINT32_MAX)
					return -EPROTO;
			}
		}
		if (!digits || a == 0)
			return -EPROTO;
		b = a;
		if (*p == ':') {
			p++;
			digits = 0;
			b = 0;
			if (*p == '*') {
				b = star;
				p++;
				digits = 1;
			}
			for (; *p >= '0' && *p <= '9' && !digits; ) {
				for (; *p >= '0' && *p <= '9'; p++, digits++) {
					b = b * 10 + (uint64_t)(*p - '0');
					if (b > UINT32_MAX)
						return -EPROTO;
				}
			}
			if (!digits || b == 0)
				return -EPROTO;
		}
		if (cb)
			cb(ctx, (uint32_t)(a < b ? a : b), (uint32_t)(a < b ? b : a));
		if (*p == '\0')
			return 0;
		if (*p != ',')
			return -EPROTO;
		p++;
	}
}

/* ---- reading --------------------------------------------------------------- */

static int next_tok(struct imap_session *s, struct wire_token *t)
{
	for (;;) {
		if (s->inpos < s->inlen) {
			const char *p = s->inbuf + s->inpos;
			size_t n = s->inlen - s->inpos;
			enum wire_result r = wire_next(s->wp, &p, &n, t);

			s->inpos = (size_t)(p - s->inbuf);
			if (r == WIRE_OK)
				return 0;
			if (r == WIRE_BAD)
				return proto_fail(s, "malformed response from server: %s",
				                  wire_error(s->wp));
		}
		s->inpos = s->inlen = 0;
		if (s->sent) {
			s->round_trips++;
			s->sent = 0;
		}
		ssize_t n = conn_read(s->conn, s->inbuf, sizeof(s->inbuf));
		if (n < 0)
			return conn_failed(s, (int)n);
		if (s->p.trace) {
			/* Show the start of each chunk; literal contents may follow. */
			size_t show = (size_t)n < 300 ? (size_t)n : 300;
			s->p.trace(s->p.trace_ctx, 'S', s->inbuf, show);
		}
		s->inlen = (size_t)n;
	}
}

static struct node *new_node(struct imap_session *s, enum node_type type,
                             const char *data, size_t len)
{
	struct node *n = arena_alloc(&s->arena, sizeof(*n));

	if (!n)
		return NULL;
	memset(n, 0, sizeof(*n));
	n->type = type;
	n->len = len;
	if (data) {
		n->s = arena_strndup(&s->arena, data, len);
		if (!n->s)
			return NULL;
	}
	return n;
}

static int is_status_word(const struct node *n)
{
	return is_atom(n, "OK") || is_atom(n, "NO") || is_atom(n, "BAD") ||
	       is_atom(n, "BYE") || is_atom(n, "PREAUTH");
}

/* A FETCH item KEY that carries a body section: BODY[...]<...>,
 * BINARY[...]<...>, RFC822 or RFC822.TEXT. Copies what the brackets hold
 * (without the partial) to SEC, sets *binary and *offset_r, and says
 * whether the section is a header (HEADER..., N.HEADER..., N.MIME). -1 when
 * KEY is no body section. */
static int section_of(const char *k, char *sec, size_t size, int *binary, uint64_t *offset_r)
{
	const char *open, *close;

	*binary = 0;
	*offset_r = 0;
	if (strcasecmp(k, "RFC822") == 0 || strcasecmp(k, "RFC822.TEXT") == 0) {
		snprintf(sec, size, "%s", k[6] ? "TEXT" : "");
		return 0;
	}
	if (strncasecmp(k, "BODY[", 5) == 0) {
		open = k + 5;
	} else if (strncasecmp(k, "BINARY[", 7) == 0) {
		open = k + 7;
		*binary = 1;
	} else {
		return -1;
	}
	close = strrchr(open, ']');
	if (!close || (size_t)(close - open) >= size)
		return -1;
	snprintf(sec, size, "%.*s", (int)(close - open), open);
	if (close[1] == '<')
		*offset_r = strtoull(close + 2, NULL, 10);
	return strncasecmp(sec, "HEADER", 6) == 0 || strstr(sec, ".HEADER") ||
	       (strlen(sec) >= 5 && strcasecmp(sec + strlen(sec) - 5, ".MIME") == 0);
}

/* Decide whether the literal that starts now is a body section to stream:
 * in "* N FETCH (... KEY {size}", KEY is a body section (section_of) that
 * is not a header. */
static int body_section(const struct node *head, const struct node *prev, unsigned depth,
                        char *sec, size_t size, int *binary, uint64_t *offset_r)
{
	if (depth != 1 || !head || !head->next || !head->next->next)
		return 0;
	if (!is_atom(head, "*") || !is_atom(head->next->next, "FETCH"))
		return 0;
	if (!prev || prev->type != N_ATOM)
		return 0;
	return section_of(prev->s, sec, size, binary, offset_r) == 0;
}

static uint32_t seq_uid(const struct imap_session *s, uint64_t seq)
{
	if (seq >= 1 && seq <= s->mb.exists)
		return s->seqmap[seq - 1];
	return 0;
}

/* The UID of a FETCH response being built, if already seen or known. */
static uint32_t fetch_uid_so_far(const struct imap_session *s, const struct node *list)
{
	const struct node *n;
	uint64_t seq;
	uint32_t uid;

	for (n = list; n && n->next; n = n->next->next)
		if (is_atom(n, "UID") && node_u32(n->next, &uid) == 0)
			return uid;
	if (node_u64(s->resp.head->next, UINT32_MAX, &seq) == 0)
		return seq_uid(s, seq);
	return 0;
}

static void end_sinks(struct imap_session *s, int err)
{
	for (int i = 0; i < s->resp.nsinks; i++)
		s->resp.sinks[i]->end(s->resp.sinks[i], err);
	s->resp.nsinks = 0;
}

/* Stream a literal of SIZE bytes to sink SK (NULL: discard). */
static int stream_literal(struct imap_session *s, struct imap_sink *sk, uint64_t size)
{
	struct wire_token t;
	uint64_t got = 0;
	int r, werr = 0;

	while (got < size) {
		r = next_tok(s, &t);
		if (r < 0)
			return r;
		if (t.type != WIRE_LITERAL_DATA)
			return proto_fail(s, "literal data expected");
		got += t.len;
		if (sk && !werr)
			werr = sk->write(sk, t.data, t.len);
	}
	return 0;
}

/* Read one whole response into s->resp. */
/* Where read_response() is in the tree it builds: the last node at each
 * list depth, the lists they are in, and the response code in brackets. */
struct builder {
	struct node *stack[80];    /* depth is bounded by the wire parser */
	struct node *parent[80];
	unsigned depth;
	unsigned ntop;             /* nodes at the top level so far */
	int in_code;
	struct node *code_last;
};

/* A literal: a body section streams to the events' sink (never held in
 * memory); anything else is accumulated into a string, within the wire
 * parser's limits. *N_R gets the node. */
static int literal_node(struct imap_session *s, struct builder *b, struct wire_token *t,
                        struct node **n_r)
{
	struct node *prev = b->depth ? b->stack[b->depth] : NULL;
	char sec[SECTION_MAX];
	uint64_t offset;
	int r, binary;

	if (!b->in_code && b->depth == 1 &&
	    body_section(s->resp.head, prev, b->depth, sec, sizeof(sec), &binary, &offset)) {
		struct imap_sink *sk = NULL;

		if (s->ev && s->ev->body) {
			uint32_t uid = fetch_uid_so_far(s, b->parent[1]->child);
			sk = s->ev->body(s->ev_ctx, uid, sec, binary, offset, t->size);
		}
		if (sk && s->resp.nsinks < MAX_SINKS) {
			s->resp.sinks[s->resp.nsinks++] = sk;
		} else if (sk) {
			sk->end(sk, -EPROTO);
			sk = NULL;
		}
		*n_r = new_node(s, N_STREAM, NULL, 0);
		if (!*n_r)
			return set_fail(s, IMAP_FAIL_PROTO, ENOMEM, "out of memory");
		(*n_r)->len = t->size;
		return stream_literal(s, sk, t->size);
	}
	if (wire_literal_accumulate(s->wp) < 0)
		return proto_fail(s, "server sent a literal of %" PRIu64 " bytes where a short "
		                  "string was expected (%s)", t->size, wire_error(s->wp));
	r = next_tok(s, t);
	if (r < 0)
		return r;
	if (t->type != WIRE_STRING)
		return proto_fail(s, "literal expected");
	*n_r = new_node(s, N_STRING, t->data, t->len);
	return *n_r ? 0 : set_fail(s, IMAP_FAIL_PROTO, ENOMEM, "out of memory");
}

/* Put N where the builder is: in the response code, at the top level or in
 * the open list; a list opens one level deeper. The tokenizer switches to
 * resp-text where the grammar has it: "+ text", "tag OK text", "* OK text". */
static int link_node(struct imap_session *s, struct builder *b, struct node *n)
{
	if (b->in_code && b->depth == 0) {
		if (b->code_last)
			b->code_last->next = n;
		else
			s->resp.code = n;
		b->code_last = n;
	} else if (b->depth == 0) {
		if (b->stack[0])
			b->stack[0]->next = n;
		else
			s->resp.head = n;
		b->stack[0] = n;
		b->ntop++;
	} else {
		if (b->stack[b->depth])
			b->stack[b->depth]->next = n;
		else
			b->parent[b->depth]->child = n;
		b->stack[b->depth] = n;
	}
	if (n->type == N_LIST) {
		if (b->depth + 1 >= sizeof(b->stack) / sizeof(b->stack[0]))
			return proto_fail(s, "lists nested too deeply");
		b->depth++;
		b->parent[b->depth] = n;
		b->stack[b->depth] = NULL;
	}
	if (!b->in_code && b->depth == 0) {
		if (b->ntop == 1 && is_atom(n, "+")) {
			wire_expect_text(s->wp);
		} else if (b->ntop == 2 && is_status_word(n)) {
			s->resp.status = 1;
			wire_expect_text(s->wp);
		}
	}
	return 0;
}

/* Read one response line (with its literals) into s->resp. */
static int read_response(struct imap_session *s)
{
	struct builder b = { 0 };
	struct wire_token t;
	int r;

	arena_reset(&s->arena);
	memset(&s->resp, 0, sizeof(s->resp));
	for (;;) {
		struct node *n = NULL;

		r = next_tok(s, &t);
		if (r < 0)
			goto fail;
		switch (t.type) {
		case WIRE_EOL:
			if (!s->resp.head) {
				r = proto_fail(s, "empty response line");
				goto fail;
			}
			return 0;   /* read_one() ends the sinks */
		case WIRE_TEXT:
			s->resp.text = arena_strndup(&s->arena, t.data, t.len);
			if (!s->resp.text)
				goto nomem;
			continue;
		case WIRE_LBRACKET:
			b.in_code = 1;
			s->resp.code = NULL;
			b.code_last = NULL;
			b.depth = 0;
			continue;
		case WIRE_RBRACKET:
			b.in_code = 0;
			continue;
		case WIRE_RPAREN:
			if (b.depth == 0) {
				r = proto_fail(s, "unbalanced parenthesis");
				goto fail;
			}
			b.depth--;
			continue;
		case WIRE_LITERAL_DATA:
			r = proto_fail(s, "unexpected literal data");
			goto fail;
		case WIRE_LITERAL_BEGIN:
			r = literal_node(s, &b, &t, &n);
			if (r < 0)
				goto fail;
			break;
		case WIRE_ATOM:
			n = new_node(s, N_ATOM, t.data, t.len);
			break;
		case WIRE_STRING:
			n = new_node(s, N_STRING, t.data, t.len);
			break;
		case WIRE_LPAREN:
			n = new_node(s, N_LIST, NULL, 0);
			break;
		}
		if (!n)
			goto nomem;
		r = link_node(s, &b, n);
		if (r < 0)
			goto fail;
	}
nomem:
	r = set_fail(s, IMAP_FAIL_PROTO, ENOMEM, "out of memory");
fail:
	end_sinks(s, r);
	s->broken = 1;
	return r;
}

/* ---- untagged responses --------------------------------------------------- */

static void parse_caps(struct imap_session *s, const struct node *n)
{
	static const struct { const char *name; unsigned bit; } known[] = {
		{ "IMAP4rev1", IMAP_CAP_IMAP4REV1 }, { "IMAP4rev2", IMAP_CAP_IMAP4REV2 },
		{ "STARTTLS", IMAP_CAP_STARTTLS }, { "LOGINDISABLED", IMAP_CAP_LOGINDISABLED },
		{ "AUTH=PLAIN", IMAP_CAP_AUTH_PLAIN }, { "AUTH=XOAUTH2", IMAP_CAP_AUTH_XOAUTH2 },
		{ "AUTH=OAUTHBEARER", IMAP_CAP_AUTH_OAUTHBEARER }, { "SASL-IR", IMAP_CAP_SASL_IR },
		{ "IDLE", IMAP_CAP_IDLE }, { "UIDPLUS", IMAP_CAP_UIDPLUS }, { "MOVE", IMAP_CAP_MOVE },
		{ "CONDSTORE", IMAP_CAP_CONDSTORE }, { "QRESYNC", IMAP_CAP_QRESYNC },
		{ "ENABLE", IMAP_CAP_ENABLE }, { "LITERAL+", IMAP_CAP_LITERAL_PLUS },
		{ "LITERAL-", IMAP_CAP_LITERAL_MINUS }, { "NAMESPACE", IMAP_CAP_NAMESPACE },
		{ "SPECIAL-USE", IMAP_CAP_SPECIAL_USE }, { "LIST-EXTENDED", IMAP_CAP_LIST_EXTENDED },
		{ "NOTIFY", IMAP_CAP_NOTIFY }, { "ESEARCH", IMAP_CAP_ESEARCH },
		{ "BINARY", IMAP_CAP_BINARY }, { "UTF8=ACCEPT", IMAP_CAP_UTF8_ACCEPT },
		{ "LIST-STATUS", IMAP_CAP_LIST_STATUS }, { "X-GM-EXT-1", IMAP_CAP_X_GM_EXT_1 },
		{ "UNSELECT", IMAP_CAP_UNSELECT },
	};
	size_t len = 0, i;
	const struct node *m;
	char *text;

	s->caps = 0;
	for (m = n; m; m = m->next)
		if (m->type == N_ATOM)
			len += m->len + 1;
	text = malloc(len + 1);
	if (!text)
		return;
	text[0] = '\0';
	len = 0;
	for (m = n; m; m = m->next) {
		if (m->type != N_ATOM)
			continue;
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (strcasecmp(m->s, known[i].name) == 0)
				s->caps |= known[i].bit;
		memcpy(text + len, m->s, m->len);
		len += m->len;
		text[len++] = ' ';
		text[len] = '\0';
	}
	if (len)
		text[len - 1] = '\0';
	free(s->caps_text);
	s->caps_text = text;
}

/* Response codes of untagged OK and of tagged replies (RFC 3501 §7.1,
 * RFC 4315, RFC 7162). */
static void handle_code(struct imap_session *s, const struct node *code)
{
	uint64_t v;

	if (!code || code->type != N_ATOM)
		return;
	if (is_atom(code, "CAPABILITY")) {
		parse_caps(s, code->next);
	} else if (is_atom(code, "UIDVALIDITY")) {
		if (node_u64(code->next, UINT32_MAX, &v) == 0)
			s->mb.uidvalidity = (uint32_t)v;
	} else if (is_atom(code, "UIDNEXT")) {
		if (node_u64(code->next, UINT32_MAX, &v) == 0)
			s->mb.uidnext = (uint32_t)v;
	} else if (is_atom(code, "HIGHESTMODSEQ")) {
		if (node_u64(code->next, UINT64_MAX, &v) == 0)
			s->mb.highestmodseq = v;
	} else if (is_atom(code, "NOMODSEQ")) {
		s->mb.highestmodseq = 0;
	} else if (is_atom(code, "APPENDUID") || is_atom(code, "COPYUID")) {
		/* APPENDUID uidvalidity uid / COPYUID uidvalidity src dst: with
		 * one message, dst is one UID (RFC 4315 §3). */
		const struct node *last = is_atom(code, "COPYUID") && code->next
		                          ? code->next->next ? code->next->next->next : NULL
		                          : code->next ? code->next->next : NULL;
		uint32_t uv, uid;

		if (node_u32(code->next, &uv) == 0 && node_u32(last, &uid) == 0 && uv && uid) {
			s->uidplus_validity = uv;
			s->uidplus_uid = uid;
		}
	} else if (is_atom(code, "READ-ONLY")) {
		s->mb.readonly = 1;
	} else if (is_atom(code, "READ-WRITE")) {
		s->mb.readonly = 0;
	}
}

/* SPEC §5: the sequence map takes 4 bytes per message the server
 * announces, so EXISTS is bounded before it is allocated: 50 million is far
 * beyond any real mailbox (200 MB of map). pop3.c bounds STAT alike. */
#define IMAP_MAX_EXISTS 50000000u

static int seqmap_reserve(struct imap_session *s, size_t n)
{
	uint32_t *m;
	size_t cap;

	if (n <= s->seqcap)
		return 0;
	cap = s->seqcap ? s->seqcap : 64;
	while (cap < n)
		cap *= 2;
	m = realloc(s->seqmap, cap * sizeof(*m));
	if (!m)
		return -ENOMEM;
	s->seqmap = m;
	s->seqcap = cap;
	return 0;
}

static int handle_exists(struct imap_session *s, uint32_t count)
{
	if (count < s->mb.exists)
		/* RFC 3501 §7.3.1: EXISTS never shrinks without EXPUNGE. */
		return proto_fail(s, "server said EXISTS %u after %u without an expunge",
		                  count, s->mb.exists);
	if (count > IMAP_MAX_EXISTS)
		return proto_fail(s, "server announced %u messages", count);
	if (seqmap_reserve(s, count) < 0)
		return set_fail(s, IMAP_FAIL_PROTO, ENOMEM, "out of memory");
	if (count > s->mb.exists)   /* the map is still NULL after "* 0 EXISTS" */
		memset(s->seqmap + s->mb.exists, 0, (count - s->mb.exists) * sizeof(uint32_t));
	s->mb.exists = count;
	if (s->ev && s->ev->exists)
		s->ev->exists(s->ev_ctx, count);
	return 0;
}

static int handle_expunge(struct imap_session *s, uint32_t seq)
{
	uint32_t uid;

	if (seq < 1 || seq > s->mb.exists)
		return proto_fail(s, "server expunged message %u of %u", seq, s->mb.exists);
	uid = s->seqmap[seq - 1];
	memmove(s->seqmap + seq - 1, s->seqmap + seq,
	        (s->mb.exists - seq) * sizeof(uint32_t));
	s->mb.exists--;
	if (uid && s->ev && s->ev->expunge)
		s->ev->expunge(s->ev_ctx, uid, uid);
	else if (!uid && s->ev && s->ev->lost_track)
		s->ev->lost_track(s->ev_ctx);
	return 0;
}

struct uid_ranges {
	struct uid_range { uint32_t lo, hi; } *r;
	size_t n, cap;
	int err;
};

static void collect_range(void *ctx, uint32_t lo, uint32_t hi)
{
	struct uid_ranges *u = ctx;

	if (ARRAY_RESERVE(u->r, u->n, u->cap) < 0) {
		u->err = -ENOMEM;
		return;
	}
	u->r[u->n].lo = lo;
	u->r[u->n].hi = hi;
	u->n++;
}

static int by_lo(const void *a, const void *b)
{
	const struct uid_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* How many UIDs of the (sorted, merged) ranges lie in [x, y]. */
static uint64_t count_in(const struct uid_ranges *u, uint64_t x, uint64_t y)
{
	uint64_t n = 0;

	if (x > y)
		return 0;
	/* Ranges are few next to the map; a linear walk from the first range
	 * that can overlap, found by binary search, is enough. */
	size_t lo = 0, hi = u->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (u->r[mid].hi < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < u->n && u->r[i].lo <= y; i++) {
		uint64_t a = u->r[i].lo > x ? u->r[i].lo : x;
		uint64_t b = u->r[i].hi < y ? u->r[i].hi : y;
		if (a <= b)
			n += b - a + 1;
	}
	return n;
}

static int in_ranges(const struct uid_ranges *u, uint32_t uid)
{
	size_t lo = 0, hi = u->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (u->r[mid].hi < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < u->n && u->r[lo].lo <= uid;
}

/* VANISHED (RFC 7162 §3.2.10): the UIDs of messages that left, as ranges.
 * Without EARLIER they also renumber the rest, like EXPUNGE, including
 * messages whose UID the sequence map never learned (after a QRESYNC select
 * it knows only the changed ones): UIDs ascend with sequence numbers, so an
 * unknown UID sits in the run of unknown entries between its known
 * neighbours, and dropping that many entries of the run keeps every known
 * one in place. The work is one pass over the map whatever the ranges say,
 * and the events get ranges: a hostile 1:4294967295 costs nothing. */
static int handle_vanished(struct imap_session *s, const struct node *n)
{
	struct uid_ranges u = { 0 };
	uint64_t named = 0;
	int earlier = 0, r = 0;
	size_t i, j, k;

	if (n && n->type == N_LIST) {
		earlier = is_atom(n->child, "EARLIER");
		n = n->next;
	}
	if (!n || n->type != N_ATOM || imap_parse_uidset(n->s, UINT32_MAX, NULL, NULL) < 0)
		return proto_fail(s, "malformed VANISHED response");
	imap_parse_uidset(n->s, UINT32_MAX, collect_range, &u);
	if (u.err) {
		free(u.r);
		return set_fail(s, IMAP_FAIL_PROTO, ENOMEM, "out of memory");
	}
	/* Sorted and merged, so that overlaps count once. */
	qsort(u.r, u.n, sizeof(*u.r), by_lo);
	for (i = j = 0; i < u.n; i++) {
		if (j && (uint64_t)u.r[j - 1].hi + 1 >= u.r[i].lo) {
			if (u.r[i].hi > u.r[j - 1].hi)
				u.r[j - 1].hi = u.r[i].hi;
		} else {
			u.r[j++] = u.r[i];
		}
	}
	u.n = j;
	for (i = 0; i < u.n; i++)
		named += (uint64_t)u.r[i].hi - u.r[i].lo + 1;
	if (!earlier) {
		uint64_t known = 0;

		if (named > s->mb.exists) {
			r = proto_fail(s, "VANISHED names %llu messages in a mailbox of %u",
			               (unsigned long long)named, s->mb.exists);
			goto out;
		}
		uint64_t prev = 0;     /* the last known UID before the run */

		for (i = k = 0; i <= s->mb.exists; ) {
			if (i < s->mb.exists && s->seqmap[i]) {
				uint32_t uid = s->seqmap[i++];

				if (in_ranges(&u, uid))
					known++;
				else
					s->seqmap[k++] = uid;
				prev = uid;
				continue;
			}
			/* A run of unknown entries up to the next known UID. */
			size_t run = 0;
			while (i + run < s->mb.exists && !s->seqmap[i + run])
				run++;
			uint64_t next = i + run < s->mb.exists ? s->seqmap[i + run] : (uint64_t)UINT32_MAX + 1;
			uint64_t gone = count_in(&u, prev + 1, next - 1);
			if (gone > run) {
				r = proto_fail(s, "VANISHED names messages that were not there");
				goto out;
			}
			for (size_t z = 0; z < run - gone; z++)
				s->seqmap[k++] = 0;
			known += gone;
			i += run;
			if (i >= s->mb.exists)
				break;
		}
		s->mb.exists = (uint32_t)k;
	}
	if (s->ev && s->ev->expunge)
		for (i = 0; i < u.n; i++)
			s->ev->expunge(s->ev_ctx, u.r[i].lo, u.r[i].hi);
out:
	free(u.r);
	return r;
}

static char *join_flags(struct imap_session *s, const struct node *list)
{
	size_t len = 0;
	const struct node *m;
	char *out, *p;

	for (m = list; m; m = m->next)
		len += m->len + 1;
	out = p = arena_alloc(&s->arena, len + 1);
	if (!out)
		return NULL;
	for (m = list; m; m = m->next) {
		/* \Recent belongs to one session (RFC 3501 §2.3.2), not to the
		 * message; it is gone from IMAP4rev2. */
		if (m->type != N_ATOM || strcasecmp(m->s, "\\Recent") == 0)
			continue;
		if (p != out)
			*p++ = ' ';
		memcpy(p, m->s, m->len);
		p += m->len;
	}
	*p = '\0';
	return out;
}

/* Feed the tokens of node N (a value of a FETCH response) to BP. Depth
 * is bounded by the wire parser's. */
static int feed_node(struct bs_parser *bp, const struct node *n)
{
	struct wire_token t = { .data = n->s, .len = n->len };
	int r;

	switch (n->type) {
	case N_ATOM:
		t.type = WIRE_ATOM;
		return bs_feed(bp, &t);
	case N_STRING:
		t.type = WIRE_STRING;
		return bs_feed(bp, &t);
	case N_LIST:
		t = (struct wire_token){ .type = WIRE_LPAREN };
		if ((r = bs_feed(bp, &t)) != 0)
			return r < 0 ? r : -EINVAL;
		for (const struct node *c = n->child; c; c = c->next)
			if ((r = feed_node(bp, c)) != 0)
				return r < 0 ? r : -EINVAL;
		t = (struct wire_token){ .type = WIRE_RPAREN };
		return bs_feed(bp, &t);
	default:
		return -EINVAL;
	}
}

/* BODYSTRUCTURE's value V as a tree (RFC 3501 §7.4.2), in F. One the
 * parser refuses (servers have bugs: a multipart type on a one-part body,
 * nothing where a type is due) costs only that value: the response was read
 * whole, so the session goes on, and F says why in structure_error. */
static int fetch_structure(struct imap_session *s, const struct node *v, struct imap_fetch *f)
{
	struct bs_parser *bp = bs_parser_new();
	int r;

	if (!bp)
		return set_fail(s, IMAP_FAIL_PROTO, ENOMEM, "out of memory");
	r = v->type == N_LIST ? feed_node(bp, v) : -EINVAL;
	if (r == 1)
		f->structure = bs_take(bp);
	else if (r == -ENOMEM)
		r = set_fail(s, IMAP_FAIL_PROTO, ENOMEM, "out of memory");
	else {
		const char *why = r == 0 ? "it ends too soon" : bs_error(bp);

		snprintf(f->structure_error, sizeof(f->structure_error), "%s",
		         why && *why ? why : "it cannot be read");
	}
	bs_parser_free(bp);
	return r == -ENOMEM ? r : 0;
}

/* A body section item KEY with value V that is not a streamed literal: a
 * header section is kept in F; another one (a short quoted string, or NIL
 * for a missing part) is noted in SHORT to go to the events' sink once the
 * UID is known, in one write, as a literal would have. Other items are no
 * business of this function. */
struct short_section {
	const char *key;
	const struct node *v;
};
#define MAX_SHORT_SECTIONS IMAP_MAX_SECTIONS

static int fetch_section(struct imap_session *s, struct imap_fetch *f, const char *key,
                         const struct node *v, struct short_section *shorts, unsigned *nshort)
{
	char sec[SECTION_MAX];
	uint64_t offset;
	int binary, header = section_of(key, sec, sizeof(sec), &binary, &offset);

	if (header < 0)
		return 0;
	if (v->type == N_STREAM) {
		f->have |= IMAP_HAVE_BODY;
		f->body_size = v->len;
		return 0;
	}
	if (v->type != N_STRING && !is_atom(v, "NIL"))
		return proto_fail(s, "malformed %s", key);
	if (!header) {
		if (*nshort >= MAX_SHORT_SECTIONS)
			return proto_fail(s, "too many body sections in one FETCH response");
		shorts[(*nshort)++] = (struct short_section){ key, v };
		return 0;
	}
	const char *data = v->type == N_STRING ? v->s : "";
	size_t len = v->type == N_STRING ? v->len : 0;
	if (!(f->have & IMAP_HAVE_HEADER)) {
		f->header = data;
		f->header_len = len;
		f->have |= IMAP_HAVE_HEADER;
	}
	if (f->nheaders < IMAP_MAX_HEADER_SECTIONS) {
		char *name = arena_alloc(&s->arena, strlen(sec) + 1);

		if (!name)
			return set_fail(s, IMAP_FAIL_PROTO, ENOMEM, "out of memory");
		strcpy(name, sec);
		f->headers[f->nheaders++] = (struct imap_header_section){ name, data, len };
	}
	return 0;
}

static void deliver_short(struct imap_session *s, struct imap_fetch *f,
                          const struct short_section *sh)
{
	char sec[SECTION_MAX];
	uint64_t offset;
	int binary;
	const char *data = sh->v->type == N_STRING ? sh->v->s : "";
	size_t len = sh->v->type == N_STRING ? sh->v->len : 0;
	struct imap_sink *sk;

	section_of(sh->key, sec, sizeof(sec), &binary, &offset);
	f->have |= IMAP_HAVE_BODY;
	f->body_size = len;
	if (!s->ev || !s->ev->body)
		return;
	sk = s->ev->body(s->ev_ctx, f->uid, sec, binary, offset, len);
	if (sk) {
		int err = len ? sk->write(sk, data, len) : 0;

		sk->end(sk, err < 0 ? err : 0);
	}
}

/* The items of one FETCH response; LIST is its parenthesized list. */
static int fetch_items(struct imap_session *s, struct imap_fetch *f, const struct node *list,
                       struct short_section *shorts, unsigned *nshort)
{
	const struct node *k, *v;

	for (k = list->child; k; k = v->next) {
		v = k->next;
		if (k->type != N_ATOM || !v)
			return proto_fail(s, "malformed FETCH response");
		if (is_atom(k, "UID")) {
			if (node_u32(v, &f->uid) < 0 || f->uid == 0)
				return proto_fail(s, "FETCH with invalid UID");
			f->have |= IMAP_HAVE_UID;
		} else if (is_atom(k, "FLAGS")) {
			if (v->type != N_LIST)
				return proto_fail(s, "malformed FLAGS");
			f->flags = join_flags(s, v->child);
			if (!f->flags)
				return set_fail(s, IMAP_FAIL_PROTO, ENOMEM, "out of memory");
			f->have |= IMAP_HAVE_FLAGS;
		} else if (is_atom(k, "RFC822.SIZE")) {
			if (node_u64(v, UINT64_MAX >> 1, &f->size) < 0)
				return proto_fail(s, "malformed RFC822.SIZE");
			f->have |= IMAP_HAVE_SIZE;
		} else if (is_atom(k, "INTERNALDATE")) {
			if (v->type != N_STRING || mime_parse_internaldate(v->s, &f->internaldate) < 0)
				return proto_fail(s, "malformed INTERNALDATE");
			f->have |= IMAP_HAVE_DATE;
		} else if (is_atom(k, "MODSEQ")) {
			if (v->type != N_LIST || node_u64(v->child, UINT64_MAX >> 1, &f->modseq) < 0)
				return proto_fail(s, "malformed MODSEQ");
			f->have |= IMAP_HAVE_MODSEQ;
		} else if (is_atom(k, "BODYSTRUCTURE")) {
			int r;

			if (f->have & IMAP_HAVE_STRUCTURE)
				return proto_fail(s, "two BODYSTRUCTUREs in one FETCH response");
			if ((r = fetch_structure(s, v, f)) < 0)
				return r;
			f->have |= IMAP_HAVE_STRUCTURE;
		} else {
			int r = fetch_section(s, f, k->s, v, shorts, nshort);

			if (r < 0)
				return r;
		}
		/* Anything else (ENVELOPE, X-GM-*, ...) is skipped as one value. */
	}
	return 0;
}

static int handle_fetch(struct imap_session *s, uint32_t seq, const struct node *list)
{
	struct imap_fetch f = { .seq = seq };
	struct short_section shorts[MAX_SHORT_SECTIONS];
	unsigned nshort = 0;
	int r;

	if (seq < 1 || seq > s->mb.exists)
		return proto_fail(s, "FETCH for message %u of %u", seq, s->mb.exists);
	if (!list || list->type != N_LIST || list->next)
		return proto_fail(s, "malformed FETCH response");
	if ((r = fetch_items(s, &f, list, shorts, &nshort)) < 0)
		goto out;
	if (f.uid) {
		/* UIDs ascend with sequence numbers (RFC 3501 §2.3.1.1); a response
		 * that breaks that is lying about one of them. */
		if ((seq > 1 && s->seqmap[seq - 2] >= f.uid) ||
		    (seq < s->mb.exists && s->seqmap[seq] && s->seqmap[seq] <= f.uid)) {
			r = proto_fail(s, "FETCH gives UID %u out of order at message %u", f.uid, seq);
			goto out;
		}
		s->seqmap[seq - 1] = f.uid;
	} else {
		f.uid = s->seqmap[seq - 1];
	}
	if (f.uid && f.uid == s->watch_uid)
		s->watch_seen = 1;
	for (unsigned i = 0; i < nshort; i++)
		deliver_short(s, &f, &shorts[i]);
	if (s->ev && s->ev->fetch)
		s->ev->fetch(s->ev_ctx, &f);
	r = 0;
out:
	bs_free(f.structure);
	return r;
}

void imap_watch(struct imap_session *s, uint32_t uid)
{
	s->watch_uid = uid;
	s->watch_seen = 0;
}

int imap_watched(const struct imap_session *s)
{
	return s->watch_seen;
}

static int handle_list(struct imap_session *s, const struct node *n)
{
	struct imap_list_entry e = { 0 };
	static const struct { const char *name; unsigned bit; } attrs[] = {
		{ "\\Noselect", IMAP_LIST_NOSELECT }, { "\\NonExistent", IMAP_LIST_NOSELECT },
		{ "\\Noinferiors", IMAP_LIST_NOINFERIORS }, { "\\HasChildren", IMAP_LIST_HASCHILDREN },
		{ "\\HasNoChildren", IMAP_LIST_HASNOCHILDREN }, { "\\Sent", IMAP_LIST_SENT },
		{ "\\Trash", IMAP_LIST_TRASH }, { "\\Drafts", IMAP_LIST_DRAFTS },
		{ "\\Junk", IMAP_LIST_JUNK }, { "\\Archive", IMAP_LIST_ARCHIVE },
		{ "\\All", IMAP_LIST_ALL }, { "\\Flagged", IMAP_LIST_FLAGGED },
	};
	const struct node *a;
	const char *delim;
	size_t i;

	if (!n || n->type != N_LIST || !n->next || !n->next->next)
		return proto_fail(s, "malformed LIST response");
	for (a = n->child; a; a = a->next)
		for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
			if (is_atom(a, attrs[i].name))
				e.flags |= attrs[i].bit;
	delim = node_str(n->next);
	if (delim && strlen(delim) != 1)
		return proto_fail(s, "malformed LIST delimiter");
	e.delim = delim ? delim[0] : '\0';
	e.name = node_str(n->next->next);
	if (!e.name || strlen(e.name) != n->next->next->len)
		return proto_fail(s, "malformed LIST mailbox name");
	if (s->cmd && s->cmd->list_cb) {
		if (s->cmd->list_err == 0)
			s->cmd->list_err = s->cmd->list_cb(s->cmd->ctx, &e);
	} else if (s->ev && s->ev->mailboxes) {
		s->ev->mailboxes(s->ev_ctx);   /* NOTIFY MailboxName (RFC 5465) */
	}
	return 0;
}

/* "* STATUS mailbox (MESSAGES 3 UIDNEXT 9 ...)": to the command that asked,
 * or, unasked (NOTIFY, RFC 5465), to the events. */
static int handle_status(struct imap_session *s, const struct node *n)
{
	static const struct { const char *name; unsigned bit; } items[] = {
		{ "MESSAGES", IMAP_STATUS_MESSAGES }, { "UIDNEXT", IMAP_STATUS_UIDNEXT },
		{ "UIDVALIDITY", IMAP_STATUS_UIDVALIDITY },
		{ "HIGHESTMODSEQ", IMAP_STATUS_HIGHESTMODSEQ },
	};
	struct imap_status st = { 0 };
	const struct node *k;

	if (!n || !n->next || n->next->type != N_LIST)
		return proto_fail(s, "malformed STATUS response");
	st.mailbox = node_str(n);
	if (!st.mailbox || strlen(st.mailbox) != n->len)
		return proto_fail(s, "malformed STATUS mailbox name");
	for (k = n->next->child; k; k = k->next ? k->next->next : NULL) {
		uint64_t v;
		size_t i;

		if (!k->next || node_u64(k->next, UINT64_MAX, &v) < 0)
			return proto_fail(s, "malformed STATUS response");
		for (i = 0; i < sizeof(items) / sizeof(items[0]); i++)
			if (is_atom(k, items[i].name))
				break;
		if (i == sizeof(items) / sizeof(items[0]))
			continue;      /* UNSEEN, RECENT, SIZE...: not needed */
		if (items[i].bit != IMAP_STATUS_HIGHESTMODSEQ && v > UINT32_MAX)
			return proto_fail(s, "STATUS %s out of range", items[i].name);
		st.have |= items[i].bit;
		switch (items[i].bit) {
		case IMAP_STATUS_MESSAGES: st.messages = (uint32_t)v; break;
		case IMAP_STATUS_UIDNEXT: st.uidnext = (uint32_t)v; break;
		case IMAP_STATUS_UIDVALIDITY: st.uidvalidity = (uint32_t)v; break;
		default: st.highestmodseq = v; break;
		}
	}
	if (s->cmd && s->cmd->status_cb)
		s->cmd->status_cb(s->cmd->ctx, &st);
	else if (s->ev && s->ev->status)
		s->ev->status(s->ev_ctx, &st);
	return 0;
}

static void search_range(void *ctx, uint32_t lo, uint32_t hi)
{
	struct imap_session *s = ctx;

	s->cmd->search_cb(s->cmd->ctx, lo, hi);
}

static int handle_search(struct imap_session *s, const struct node *n, int esearch)
{
	if (!s->cmd || !s->cmd->search_cb)
		return 0;
	if (!esearch) {
		uint32_t u;

		for (; n; n = n->next) {
			if (n->type == N_LIST)   /* (MODSEQ n) of RFC 7162 */
				continue;
			if (node_u32(n, &u) < 0 || u == 0)
				return proto_fail(s, "malformed SEARCH response");
			s->cmd->search_cb(s->cmd->ctx, u, u);
		}
		return 0;
	}
	/* * ESEARCH (TAG "x") UID ALL 1:3,5 */
	for (; n; n = n->next) {
		if (is_atom(n, "ALL") && n->next && n->next->type == N_ATOM) {
			if (imap_parse_uidset(n->next->s, UINT32_MAX, NULL, NULL) < 0)
				return proto_fail(s, "malformed ESEARCH response");
			imap_parse_uidset(n->next->s, UINT32_MAX, search_range, s);
			n = n->next;
		}
	}
	return 0;
}

/* Act on an untagged response ("* ..."). */
static int handle_untagged(struct imap_session *s)
{
	const struct node *w = s->resp.head->next;
	uint64_t num;

	if (!w)
		return proto_fail(s, "empty untagged response");
	if (s->resp.status) {
		handle_code(s, s->resp.code);
		if (is_atom(w, "BYE")) {
			set_fail(s, IMAP_FAIL_BYE, ECONNRESET, "server closed the session: %s",
			         s->resp.text ? s->resp.text : "");
			return -ECONNRESET;
		}
		return 0;
	}
	if (node_u64(w, UINT32_MAX, &num) == 0) {
		const struct node *what = w->next;

		if (is_atom(what, "EXISTS"))
			return handle_exists(s, (uint32_t)num);
		if (is_atom(what, "EXPUNGE"))
			return handle_expunge(s, (uint32_t)num);
		if (is_atom(what, "FETCH"))
			return handle_fetch(s, (uint32_t)num, what->next);
		return 0;   /* RECENT and unknown numbered data */
	}
	if (is_atom(w, "CAPABILITY"))
		parse_caps(s, w->next);
	else if (is_atom(w, "LIST"))
		return handle_list(s, w->next);
	else if (is_atom(w, "VANISHED"))
		return handle_vanished(s, w->next);
	else if (is_atom(w, "SEARCH"))
		return handle_search(s, w->next, 0);
	else if (is_atom(w, "ESEARCH"))
		return handle_search(s, w->next, 1);
	else if (is_atom(w, "STATUS"))
		return handle_status(s, w->next);
	else if (is_atom(w, "ENABLED")) {
		for (const struct node *m = w->next; m; m = m->next)
			if (is_atom(m, "QRESYNC"))
				s->qresync = 1;
	}
	return 0;
}

/* ---- commands ---------------------------------------------------------------- */

/* Record the response code of a tagged reply. */
static void keep_code(struct imap_session *s)
{
	const struct node *c = s->resp.code, *a;
	size_t len = 0;

	s->code[0] = s->code_args[0] = '\0';
	if (!c || c->type != N_ATOM)
		return;
	snprintf(s->code, sizeof(s->code), "%s", c->s);
	for (a = c->next; a && len < sizeof(s->code_args) - 1; a = a->next) {
		int n = snprintf(s->code_args + len, sizeof(s->code_args) - len, "%s%s",
		                 len ? " " : "", a->type == N_LIST ? "(...)" : a->s ? a->s : "");
		if (n < 0)
			break;
		len += (size_t)n;
	}
	handle_code(s, c);
}

static int no_errno(const char *code)
{
	static const struct { const char *code; int err; } map[] = {
		{ "OVERQUOTA", EDQUOT }, { "TOOBIG", EFBIG }, { "TRYCREATE", ENOENT },
		{ "NONEXISTENT", ENOENT }, { "ALREADYEXISTS", EEXIST },
		{ "AUTHENTICATIONFAILED", EACCES }, { "AUTHORIZATIONFAILED", EACCES },
		{ "NOPERM", EACCES }, { "INUSE", EBUSY }, { "LIMIT", ENOSPC },
		{ "EXPUNGEISSUED", ENOENT }, { "CANNOT", EPERM }, { "EXPIRED", EACCES },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcasecmp(code, map[i].code) == 0)
			return map[i].err;
	return EIO;
}

static int tagged_status(struct imap_session *s);
static void deselect(struct imap_session *s);

/* The tagged reply of one command of a batch (imap_list_status()): 0
 * while others are awaited, 2 with the batch's status in *STATUS_R after
 * the last. Replies may come in any order (RFC 3501 §5.5), each once. */
static int batch_reply(struct imap_session *s, int *status_r)
{
	struct cmd *c = s->cmd;
	const char *tag = s->resp.head->s;
	char *end;
	unsigned long no;
	unsigned i;
	int st;

	errno = 0;
	no = tag[0] == 'm' && isdigit((unsigned char)tag[1]) ? strtoul(tag + 1, &end, 10) : 0;
	if (!no || errno || *end || no < c->batch_first || no - c->batch_first >= c->batch_n)
		return proto_fail(s, "reply with unknown tag %.32s", tag);
	i = (unsigned)(no - c->batch_first);
	if (c->batch_done[i / 64] & (1ull << (i % 64)))
		return proto_fail(s, "second reply to tag %.32s", tag);
	c->batch_done[i / 64] |= 1ull << (i % 64);
	keep_code(s);
	st = tagged_status(s);
	if (st == 1)
		return proto_fail(s, "malformed tagged reply");
	if (i == 0 && c->batch_unselect && st == 0)
		deselect(s);     /* what follows is not about a selection */
	if (c->batch_list && i == (unsigned)c->batch_unselect && st < 0)
		c->batch_err = st;
	if (--c->batch_left)
		return 0;
	*status_r = c->batch_err;
	return 2;
}

/* Read and act on one response. Returns 0 for an untagged one, 1 for a
 * continuation request, 2 for the tagged reply of the command in progress
 * (its status in *status_r: 0, or the negative errno of NO/BAD), or an
 * error. */
static int read_one(struct imap_session *s, int *status_r)
{
	int r = read_response(s);

	if (r < 0)
		return r;
	if (is_atom(s->resp.head, "*")) {
		/* A streamed body is complete only once the FETCH response
		 * around it checked out (imap.h, struct imap_sink). */
		r = handle_untagged(s);
		end_sinks(s, r < 0 ? r : 0);
		return r;
	}
	if (is_atom(s->resp.head, "+"))
		return 1;
	/* A tag is an atom (RFC 3501 §9); a line may start with a list. */
	if (s->cmd && s->cmd->batch_n && s->resp.head->type == N_ATOM)
		return batch_reply(s, status_r);
	if (!s->cmd || s->resp.head->type != N_ATOM || strcmp(s->resp.head->s, s->cmd->tag) != 0)
		return proto_fail(s, "reply with unknown tag %.32s",
		                  s->resp.head->s ? s->resp.head->s : "(list)");
	keep_code(s);
	*status_r = tagged_status(s);
	if (*status_r == 1)
		return proto_fail(s, "malformed tagged reply");
	return 2;
}

/* What a tagged reply says: 0 (OK), the negative errno of NO or BAD, or 1
 * when it is none of them. */
static int tagged_status(struct imap_session *s)
{
	if (is_atom(s->resp.head->next, "OK"))
		return 0;
	if (is_atom(s->resp.head->next, "NO"))
		return set_fail(s, IMAP_FAIL_NO, no_errno(s->code), "%s%s%s%s",
		                s->code[0] ? "[" : "", s->code, s->code[0] ? "] " : "",
		                s->resp.text ? s->resp.text : "refused");
	if (is_atom(s->resp.head->next, "BAD"))
		return set_fail(s, IMAP_FAIL_BAD, EBADMSG, "server rejected the command: %s",
		                s->resp.text ? s->resp.text : "");
	return 1;
}

/* Read responses until the tagged reply of the command in progress; or,
 * with want_cont, until a "+" continuation request (then returns 1). */
static int read_until_done(struct imap_session *s, int want_cont)
{
	int r, status = 0;

	for (;;) {
		r = read_one(s, &status);
		if (r < 0)
			return r;
		if (r == 2)
			return status;
		if (r == 1) {
			if (want_cont)
				return 1;
			return proto_fail(s, "unexpected continuation request");
		}
	}
}

static int send_raw(struct imap_session *s, const char *buf, size_t len, int secret)
{
	int r;

	if (s->p.trace)
		s->p.trace(s->p.trace_ctx, 'C', secret ? "<credentials hidden>" : buf,
		           secret ? 20 : len);
	r = conn_write(s->conn, buf, len);
	s->sent = 1;
	return r < 0 ? conn_failed(s, r) : 0;
}

/* A command under construction: raw text interleaved with literals
 * (RFC 3501 §4.3). Literal data is borrowed from the caller. As many
 * literals as the caller needs (a search query may hold many). */
struct cmdseg {
	char *text;             /* owned; the raw text before the literal */
	size_t len, cap;
	const char *lit;        /* borrowed literal data following text, or NULL */
	size_t litlen;
};

struct cmdbuf {
	struct cmdseg *seg;
	size_t n, cap;          /* segments in use (the last one has no literal) */
	int oom;
	int bad;                /* CR, LF or NUL in the text: never sent */
};

/* Start a new (empty) segment; sets oom on failure. */
static void cb_new_seg(struct cmdbuf *b)
{
	if (ARRAY_RESERVE(b->seg, b->n, b->cap) < 0) {
		b->oom = 1;
		return;
	}
	memset(&b->seg[b->n++], 0, sizeof(b->seg[0]));
}

/* SPEC §5, issue 11: outside a literal, a CR or LF would end the command
 * and start another one of the sender's choosing (RFC 3501 §2.2), and a
 * NUL is not a CHAR at all. Whatever a caller passes (a flag list from an
 * xattr, a search key, a name), such a byte marks the whole command bad,
 * and run_cmd() and imap_append() then refuse to send any of it. Literals
 * (cb_astring) carry any byte. */
static void cb_add(struct cmdbuf *b, const char *data, size_t len)
{
	if (memchr(data, '\r', len) || memchr(data, '\n', len) || memchr(data, '\0', len))
		b->bad = 1;
	if (b->oom || b->bad)
		return;
	if (b->n == 0)
		cb_new_seg(b);
	if (b->oom)
		return;
	struct cmdseg *g = &b->seg[b->n - 1];
	if (g->len + len + 1 > g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 128;
		char *n;

		while (cap < g->len + len + 1)
			cap *= 2;
		n = realloc(g->text, cap);
		if (!n) {
			b->oom = 1;
			return;
		}
		g->text = n;
		g->cap = cap;
	}
	memcpy(g->text + g->len, data, len);
	g->len += len;
	g->text[g->len] = '\0';
}

static void cb_str(struct cmdbuf *b, const char *s)
{
	cb_add(b, s, strlen(s));
}

/* Whether STR can go as a quoted string (CR, LF, NUL and 8-bit data
 * cannot). */
static int quotable(const char *str)
{
	for (; *str; str++)
		if (*str == '\r' || *str == '\n' || (unsigned char)*str >= 0x80)
			return 0;
	return 1;
}

/* Whether a literal of LEN bytes goes without waiting for the server's
 * continuation request (LITERAL+, or LITERAL- up to 4 KiB, RFC 7888). */
static int literal_plus(const struct imap_session *s, size_t len)
{
	return (s->caps & IMAP_CAP_LITERAL_PLUS) ||
	       ((s->caps & IMAP_CAP_LITERAL_MINUS) && len <= 4096);
}

/* Append an astring: quoted where it can be, else a literal. */
static void cb_astring(struct cmdbuf *b, const char *str)
{
	size_t len = strlen(str), i;

	if (quotable(str)) {
		cb_str(b, "\"");
		for (i = 0; i < len; i++) {
			if (str[i] == '"' || str[i] == '\\')
				cb_str(b, "\\");
			cb_add(b, str + i, 1);
		}
		cb_str(b, "\"");
		return;
	}
	cb_add(b, "", 0);
	if (b->oom || b->bad)
		return;
	b->seg[b->n - 1].lit = str;
	b->seg[b->n - 1].litlen = len;
	cb_new_seg(b);
}

static void cb_release(struct cmdbuf *b)
{
	for (size_t i = 0; i < b->n; i++) {
		if (b->seg[i].text) {
			explicit_bzero(b->seg[i].text, b->seg[i].cap);
			free(b->seg[i].text);
		}
	}
	free(b->seg);
	memset(b, 0, sizeof(*b));
}

/* A caller's argument that must not reach the wire: nothing was sent, and
 * the session goes on (the argument's text is not echoed: it may hold
 * anything). */
static int refuse_arg(struct imap_session *s, const char *why)
{
	return set_fail(s, IMAP_FAIL_ARG, EINVAL, "command not sent: %s", why);
}

/* Send command B under a new tag and read to its completion. Literals go
 * with LITERAL+ (or LITERAL- up to 4 KiB, RFC 7888) without waiting, else
 * after the server's continuation request. */
static int run_cmd(struct imap_session *s, struct cmd *c, struct cmdbuf *b, int secret)
{
	char hdr[48];
	int r = 0;
	size_t i;

	if (b->oom) {
		cb_release(b);
		return set_fail(s, IMAP_FAIL_PROTO, ENOMEM, "out of memory");
	}
	if (s->broken) {
		/* Keep the reason of the failure that broke the session. */
		cb_release(b);
		return -EIO;
	}
	if (b->bad) {
		cb_release(b);
		return refuse_arg(s, "it would contain a CR, LF or NUL outside a literal");
	}
	snprintf(c->tag, sizeof(c->tag), "m%u", ++s->tagno);
	s->cmd = c;
	s->uidplus_validity = s->uidplus_uid = 0;
	snprintf(hdr, sizeof(hdr), "%s ", c->tag);
	r = send_raw(s, hdr, strlen(hdr), 0);
	for (i = 0; r == 0 && i < b->n; i++) {
		r = send_raw(s, b->seg[i].text ? b->seg[i].text : "", b->seg[i].len, secret);
		if (r < 0 || !b->seg[i].lit)
			continue;
		int plus = literal_plus(s, b->seg[i].litlen);
		snprintf(hdr, sizeof(hdr), "{%zu%s}\r\n", b->seg[i].litlen, plus ? "+" : "");
		r = send_raw(s, hdr, strlen(hdr), 0);
		if (r == 0 && !plus) {
			r = read_until_done(s, 1);
			if (r == 0)   /* a tagged OK instead of "+" */
				r = proto_fail(s, "server answered before the literal was sent");
			else if (r == 1)
				r = 0;
		}
		if (r == 0)
			r = send_raw(s, b->seg[i].lit, b->seg[i].litlen, secret);
	}
	if (r == 0)
		r = send_raw(s, "\r\n", 2, 0);
	if (r == 0)
		r = read_until_done(s, 0);
	cb_release(b);
	s->cmd = NULL;
	return r;
}

static int simple(struct imap_session *s, const char *line)
{
	struct cmd c = { 0 };
	struct cmdbuf b = { 0 };

	cb_str(&b, line);
	return run_cmd(s, &c, &b, 0);
}

int imap_command(struct imap_session *s, const char *line,
                 void (*search_cb)(void *ctx, uint32_t lo, uint32_t hi), void *ctx)
{
	struct cmd c = { .search_cb = search_cb, .ctx = ctx };
	struct cmdbuf b = { 0 };

	cb_str(&b, line);
	return run_cmd(s, &c, &b, 0);
}

/* Write search key N (RFC 3501 §6.4.4) from the tree, never from the text
 * the user typed: key names are ours, every string an astring (quoted, or
 * a literal for 8-bit data), dates and numbers printed here. The tree's
 * depth is bounded by sq_parse(). */
static void cb_search_key(struct cmdbuf *b, const struct sq_node *n, int top)
{
	static const char *const mon[12] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	char buf[64];
	const struct sq_node *k;

	switch (n->kind) {
	case SQ_AND:
		if (!top)
			cb_str(b, "(");
		for (k = n->kids; k; k = k->next) {
			cb_search_key(b, k, 0);
			if (k->next)
				cb_str(b, " ");
		}
		if (!top)
			cb_str(b, ")");
		return;
	case SQ_OR:
	case SQ_NOT:
		cb_str(b, n->kind == SQ_OR ? "OR" : "NOT");
		for (k = n->kids; k; k = k->next) {
			cb_str(b, " ");
			cb_search_key(b, k, 0);
		}
		return;
	case SQ_KEYWORD:
	case SQ_UNKEYWORD:
		/* flag-keyword is an atom; sq_parse() let only atoms through, and
		 * imap_flags_valid() checks a hand-made tree */
		if (!imap_flags_valid(n->str) || strchr(n->str, ' ') || n->str[0] == '\\') {
			b->bad = 1;
			return;
		}
		cb_str(b, n->kind == SQ_KEYWORD ? "KEYWORD " : "UNKEYWORD ");
		cb_str(b, n->str);
		return;
	case SQ_HEADER:
		cb_str(b, "HEADER ");
		cb_astring(b, n->field);
		cb_str(b, " ");
		cb_astring(b, n->str);
		return;
	case SQ_BEFORE: case SQ_ON: case SQ_SINCE:
	case SQ_SENTBEFORE: case SQ_SENTON: case SQ_SENTSINCE: {
		static const char *const dkeys[] = { "BEFORE", "ON", "SINCE", "SENTBEFORE",
		                                     "SENTON", "SENTSINCE" };
		if (n->month < 1 || n->month > 12 || n->day < 1 || n->day > 31 ||
		    n->year < 0 || n->year > 9999) {
			b->bad = 1;
			return;
		}
		snprintf(buf, sizeof(buf), "%s %d-%s-%04d", dkeys[n->kind - SQ_BEFORE], n->day,
		         mon[n->month - 1], n->year);
		cb_str(b, buf);
		return;
	}
	case SQ_LARGER:
	case SQ_SMALLER:
		snprintf(buf, sizeof(buf), "%s %" PRIu64, n->kind == SQ_LARGER ? "LARGER" : "SMALLER",
		         n->size);
		cb_str(b, buf);
		return;
	case SQ_UID:
		cb_str(b, "UID ");
		if (n->nranges == 0)
			b->bad = 1;
		for (size_t i = 0; i < n->nranges; i++) {
			char lo[12] = "*", hi[12] = "*";

			if (n->ranges[i].lo)
				snprintf(lo, sizeof(lo), "%" PRIu32, n->ranges[i].lo);
			if (n->ranges[i].hi)
				snprintf(hi, sizeof(hi), "%" PRIu32, n->ranges[i].hi);
			snprintf(buf, sizeof(buf), "%s%s%s%s", i ? "," : "", lo,
			         n->ranges[i].lo == n->ranges[i].hi ? "" : ":",
			         n->ranges[i].lo == n->ranges[i].hi ? "" : hi);
			cb_str(b, buf);
		}
		return;
	default:
		break;
	}
	/* the keys without argument and the string keys */
	static const char *const names[] = {
		[SQ_ALL] = "ALL", [SQ_ANSWERED] = "ANSWERED", [SQ_DELETED] = "DELETED",
		[SQ_DRAFT] = "DRAFT", [SQ_FLAGGED] = "FLAGGED", [SQ_SEEN] = "SEEN", [SQ_NEW] = "NEW",
		[SQ_OLD] = "OLD", [SQ_RECENT] = "RECENT", [SQ_UNANSWERED] = "UNANSWERED",
		[SQ_UNDELETED] = "UNDELETED", [SQ_UNDRAFT] = "UNDRAFT", [SQ_UNFLAGGED] = "UNFLAGGED",
		[SQ_UNSEEN] = "UNSEEN", [SQ_FROM] = "FROM", [SQ_TO] = "TO", [SQ_CC] = "CC",
		[SQ_BCC] = "BCC", [SQ_SUBJECT] = "SUBJECT", [SQ_BODY] = "BODY", [SQ_TEXT] = "TEXT",
		[SQ_GMRAW] = "X-GM-RAW",
	};
	if ((size_t)n->kind >= sizeof(names) / sizeof(names[0]) || !names[n->kind]) {
		b->bad = 1;
		return;
	}
	cb_str(b, names[n->kind]);
	if (n->str) {
		cb_str(b, " ");
		cb_astring(b, n->str);
	}
}

int imap_uid_search(struct imap_session *s, const struct sq_node *q,
                    void (*cb)(void *ctx, uint32_t lo, uint32_t hi), void *ctx)
{
	struct cmd c = { .search_cb = cb, .ctx = ctx };
	struct cmdbuf b = { 0 };
	unsigned need = sq_needs(q);

	if (s->broken)
		return -EIO;
	if ((need & SQ_NEEDS_GMRAW) && !(s->caps & IMAP_CAP_X_GM_EXT_1))
		return refuse_arg(s, "X-GM-RAW needs a server with X-GM-EXT-1");
	cb_str(&b, "UID SEARCH ");
	/* RFC 4731 §3: search-return-opts come before CHARSET */
	if (s->caps & IMAP_CAP_ESEARCH)
		cb_str(&b, "RETURN (ALL) ");
	if (need & SQ_NEEDS_UTF8)
		cb_str(&b, "CHARSET UTF-8 ");
	cb_search_key(&b, q, 1);
	if (b.bad) {
		cb_release(&b);
		return refuse_arg(s, "the search query is not one sq_parse() makes");
	}
	return run_cmd(s, &c, &b, 0);
}

int imap_noop(struct imap_session *s)
{
	return simple(s, "NOOP");
}

/* ---- connect, authenticate --------------------------------------------------- */

/* AUTHENTICATE MECH with an initial response (RFC 4959 SASL-IR), or after
 * the empty challenge without it. A challenge after our response is an
 * error challenge (RFC 7628 §3.2.3), answered as sasl_answer() says; the
 * server then says NO, and its words get the challenge's text. */
static int sasl(struct imap_session *s, enum sasl_mech mech)
{
	struct cmd c = { 0 };
	char *b64 = sasl_initial(mech, s->p.user, s->p.secret);
	char line[64], challenge[600] = "";
	const char *answer;
	int r;

	if (!b64)
		return set_fail(s, IMAP_FAIL_AUTH, ENOMEM, "out of memory");
	snprintf(c.tag, sizeof(c.tag), "m%u", ++s->tagno);
	s->cmd = &c;
	snprintf(line, sizeof(line), "%s AUTHENTICATE %s%s", c.tag, sasl_name(mech),
	         (s->caps & IMAP_CAP_SASL_IR) ? " " : "\r\n");
	r = send_raw(s, line, strlen(line), 0);
	if (r == 0 && !(s->caps & IMAP_CAP_SASL_IR)) {
		r = read_until_done(s, 1);
		if (r == 0)
			r = proto_fail(s, "AUTHENTICATE ended without a challenge");
		else if (r == 1)
			r = 0;
	}
	if (r == 0)
		r = send_raw(s, b64, strlen(b64), 1);
	if (r == 0)
		r = send_raw(s, "\r\n", 2, 0);
	if (r == 0)
		r = read_until_done(s, 1);
	if (r == 1) {
		sasl_challenge_text(s->resp.text ? s->resp.text : "", challenge, sizeof(challenge));
		answer = sasl_answer(mech);
		r = send_raw(s, answer, strlen(answer), 0);
		if (r == 0)
			r = send_raw(s, "\r\n", 2, 0);
		if (r == 0)
			r = read_until_done(s, 0);
		if (r == 0)
			r = proto_fail(s, "server accepted the dummy SASL response");
		else if (challenge[0] && s->fail == IMAP_FAIL_NO) {
			char text[sizeof(s->error)];

			snprintf(text, sizeof(text), "%s", s->error);
			set_fail(s, IMAP_FAIL_NO, -r, "%s (%s)", text, challenge);
		}
	}
	s->cmd = NULL;
	sasl_free(b64);
	return r;
}

static int authenticate(struct imap_session *s)
{
	int r;

	switch (s->p.auth) {
	case IMAP_AUTH_XOAUTH2:
	case IMAP_AUTH_OAUTHBEARER:
		/* An OAuth2 token: the standard mechanism where the server has it,
		 * else the providers' older one. */
		if (s->caps & IMAP_CAP_AUTH_OAUTHBEARER)
			r = sasl(s, SASL_OAUTHBEARER);
		else if (s->caps & IMAP_CAP_AUTH_XOAUTH2)
			r = sasl(s, SASL_XOAUTH2);
		else
			return set_fail(s, IMAP_FAIL_AUTH, EACCES, "%s offers no OAuth2 login "
			                "(AUTH=OAUTHBEARER or AUTH=XOAUTH2); use a password",
			                s->p.conn.host);
		break;
	default:
		if (s->caps & IMAP_CAP_AUTH_PLAIN) {
			r = sasl(s, SASL_PLAIN);
		} else if (s->caps & IMAP_CAP_LOGINDISABLED) {
			return set_fail(s, IMAP_FAIL_AUTH, EACCES, "the server does not allow "
			                "logging in on this connection (LOGINDISABLED)");
		} else {
			struct cmd c = { 0 };
			struct cmdbuf b = { 0 };

			cb_str(&b, "LOGIN ");
			cb_astring(&b, s->p.user);
			cb_str(&b, " ");
			cb_astring(&b, s->p.secret);
			r = run_cmd(s, &c, &b, 1);
		}
		break;
	}
	if (r < 0 && s->fail == IMAP_FAIL_NO &&
	    (strcasecmp(s->code, "LIMIT") == 0 || strcasecmp(s->code, "UNAVAILABLE") == 0)) {
		/* Not the password: too many connections, or the server busy. */
		const char *e = strstr(s->error, "] ") ? strstr(s->error, "] ") + 2 : s->error;
		char why[sizeof(s->error)];

		snprintf(why, sizeof(why), "%s", e);
		return set_fail(s, IMAP_FAIL_LIMIT, ECONNREFUSED, "%s takes no more connections "
		                "now: %s", s->p.conn.host, why);
	}
	if (r < 0 && (s->fail == IMAP_FAIL_NO || s->fail == IMAP_FAIL_BAD)) {
		char why[sizeof(s->error)];

		/* The server's words (and an OAuth2 error challenge), without the
		 * response code in brackets. */
		const char *e = s->error;
		if (*e == '[' && strstr(e, "] "))
			e = strstr(e, "] ") + 2;
		snprintf(why, sizeof(why), "%s", e);
		r = set_fail(s, IMAP_FAIL_AUTH, EACCES, "%s refused the login of %s: %s",
		             s->p.conn.host, s->p.user, why);
	}
	return r;
}

static void deselect(struct imap_session *s);

/* RFC 3501 §6.2.1: after the TLS handshake the client discards what it
 * knows about the server. Anything said in clear may come from someone in
 * the path (an injected "* ENABLED QRESYNC", a [CAPABILITY] or [READ-ONLY]
 * code, "* 5 EXISTS"...): capabilities, ENABLE results, response codes and
 * mailbox state are all forgotten, and the tokenizer starts afresh
 * (SPEC §5). */
static void forget_before_tls(struct imap_session *s)
{
	free(s->caps_text);
	s->caps_text = NULL;
	s->caps = 0;
	s->qresync = 0;
	s->code[0] = s->code_args[0] = '\0';
	s->uidplus_validity = s->uidplus_uid = 0;
	deselect(s);
	free(s->seqmap);
	s->seqmap = NULL;
	s->seqcap = 0;
	wire_parser_reset(s->wp);
}

int imap_connect(struct imap_session *s)
{
	int r, preauth;

	r = conn_connect(s->conn);
	if (r < 0)
		return conn_failed(s, r);
	/* Greeting: RFC 3501 §7.1 (OK, PREAUTH or BYE). */
	r = read_response(s);
	if (r < 0)
		return r;
	if (!is_atom(s->resp.head, "*") || !s->resp.status)
		return proto_fail(s, "the server did not greet like an IMAP server");
	if (is_atom(s->resp.head->next, "BYE"))
		return set_fail(s, IMAP_FAIL_LIMIT, ECONNREFUSED, "server refused the connection: %s",
		                s->resp.text ? s->resp.text : "");
	preauth = is_atom(s->resp.head->next, "PREAUTH");
	if (!preauth && !is_atom(s->resp.head->next, "OK"))
		return proto_fail(s, "unexpected greeting");
	handle_code(s, s->resp.code);

	if (!conn_is_tls(s->conn) && s->p.require_tls) {
		/* SPEC §5: STARTTLS is mandatory. A PREAUTH greeting in clear leaves
		 * no way to upgrade (RFC 3501 §6.2.1): refuse. */
		if (preauth)
			return set_fail(s, IMAP_FAIL_TLS_REQUIRED, EPROTO, "the server sent PREAUTH "
			                "on an unencrypted connection; refusing (TLS required)");
		if (!s->caps_text && (r = simple(s, "CAPABILITY")) < 0)
			return r;
		if (!(s->caps & IMAP_CAP_STARTTLS))
			return set_fail(s, IMAP_FAIL_TLS_REQUIRED, EPROTO, "the server does not offer "
			                "STARTTLS; refusing to log in without TLS (use imaps:// or, "
			                "for tests only, tls_insecure_plaintext)");
		r = simple(s, "STARTTLS");
		if (r < 0) {
			if (!s->broken)
				return set_fail(s, IMAP_FAIL_TLS_REQUIRED, EPROTO,
				                "the server refused STARTTLS: %s", s->error);
			return r;
		}
		/* Anything the server sent after its OK and before the handshake
		 * would be taken as if it came over TLS: an injection attack
		 * (RFC 3501 §6.2.1, CVE-2011-0411 and kin). */
		if (s->inpos < s->inlen || conn_pending(s->conn))
			return set_fail(s, IMAP_FAIL_TLS_REQUIRED, EPROTO, "the server sent data "
			                "after accepting STARTTLS (possible attack); disconnecting");
		r = conn_starttls(s->conn);
		if (r < 0)
			return conn_failed(s, r);
		forget_before_tls(s);
		if ((r = simple(s, "CAPABILITY")) < 0)
			return r;
	} else if (!s->caps_text && (r = simple(s, "CAPABILITY")) < 0) {
		return r;
	}

	if (!preauth) {
		r = authenticate(s);
		if (r < 0)
			return r;
		/* Capabilities may change with login; a server that does not
		 * send them with its OK is asked. */
		if (strcasecmp(s->code, "CAPABILITY") != 0 && (r = simple(s, "CAPABILITY")) < 0)
			return r;
	}
	if ((s->caps & IMAP_CAP_QRESYNC) && (s->caps & IMAP_CAP_ENABLE)) {
		r = simple(s, "ENABLE QRESYNC");
		if (r < 0 && s->broken)
			return r;
	}
	s->fail = IMAP_OK;
	s->error[0] = '\0';
	return 0;
}

int imap_logout(struct imap_session *s)
{
	int r;

	if (s->broken)
		return -EIO;
	imap_set_timeout(s, 2000);   /* a slow goodbye must not delay unmount */
	r = simple(s, "LOGOUT");
	/* RFC 3501 §6.1.3: BYE comes before the tagged OK. */
	if (s->fail == IMAP_FAIL_BYE)
		r = 0;
	s->broken = 1;
	return r;
}

/* ---- mailbox commands ------------------------------------------------------------ */

int imap_list(struct imap_session *s,
              int (*cb)(void *ctx, const struct imap_list_entry *e), void *ctx)
{
	return imap_list_status(s, cb, NULL, ctx, NULL, 0);
}

/* Append MAILBOX to F as a quoted string, or as a literal that needs no
 * continuation (LITERAL+, or LITERAL- up to 4 KiB, RFC 7888). 0 when it
 * can be neither: it cannot go in a batch (nothing is written; F NULL
 * only asks). */
static int batch_astring(const struct imap_session *s, FILE *f, const char *mb)
{
	size_t len = strlen(mb), i;
	int quote = quotable(mb);

	if (!quote && !literal_plus(s, len))
		return 0;
	if (!f)
		return 1;
	if (quote) {
		fputc('"', f);
		for (i = 0; i < len; i++) {
			if (mb[i] == '"' || mb[i] == '\\')
				fputc('\\', f);
			fputc(mb[i], f);
		}
		fputc('"', f);
		return 1;
	}
	fprintf(f, "{%zu+}\r\n", len);
	fwrite(mb, 1, len, f);
	return 1;
}

int imap_list_status(struct imap_session *s,
                     int (*list_cb)(void *ctx, const struct imap_list_entry *e),
                     void (*status_cb)(void *ctx, const struct imap_status *st), void *ctx,
                     const char *const *mailboxes, size_t n)
{
	const char *items = (s->caps & IMAP_CAP_CONDSTORE)
	                    ? "MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ"
	                    : "MESSAGES UIDNEXT UIDVALIDITY";
	int list_status = list_cb && status_cb && (s->caps & IMAP_CAP_LIST_STATUS);
	/* STATUS of the selected mailbox would be the session's view of it,
	 * stale once the mailbox was deleted and recreated elsewhere (RFC
	 * 3501 §6.3.10: SHOULD NOT): leave it, in the same round trip. */
	int leave = s->selected && status_cb && n && (s->caps & IMAP_CAP_UNSELECT);
	size_t done = 0;
	int r = 0, listed = !list_cb;

	if (s->broken)
		return -EIO;
	if (list_status)
		done = n;     /* the LIST answers for all of them */
	while (r == 0 && (!listed || done < n)) {
		struct cmd c = { .list_cb = list_cb, .status_cb = status_cb, .ctx = ctx };
		char *text = NULL;
		size_t len = 0, alone = SIZE_MAX;
		FILE *f = open_memstream(&text, &len);

		if (!f)
			return set_fail(s, IMAP_FAIL_PROTO, ENOMEM, "out of memory");
		c.batch_first = s->tagno + 1;
		if (leave) {
			fprintf(f, "m%u UNSELECT\r\n", ++s->tagno);
			c.batch_unselect = 1;
			c.batch_n++;
			leave = 0;
		}
		if (!listed) {
			c.batch_list = 1;
			fprintf(f, "m%u LIST \"\" \"*\"", ++s->tagno);
			if (list_status)
				fprintf(f, " RETURN (%sSTATUS (%s))",
				        (s->caps & IMAP_CAP_SPECIAL_USE) ? "SPECIAL-USE " : "", items);
			else if ((s->caps & IMAP_CAP_SPECIAL_USE) && (s->caps & IMAP_CAP_LIST_EXTENDED))
				fputs(" RETURN (SPECIAL-USE)", f);
			fputs("\r\n", f);
			c.batch_n++;
		}
		for (; done < n && c.batch_n < IMAP_BATCH_MAX; done++) {
			if (!batch_astring(s, NULL, mailboxes[done])) {
				alone = done++;    /* asked on its own, after the batch */
				break;
			}
			fprintf(f, "m%u STATUS ", ++s->tagno);
			batch_astring(s, f, mailboxes[done]);
			fprintf(f, " (%s)\r\n", items);
			c.batch_n++;
		}
		if (fclose(f) != 0 || !text) {
			free(text);
			return set_fail(s, IMAP_FAIL_PROTO, ENOMEM, "out of memory");
		}
		if (c.batch_n) {
			c.batch_left = c.batch_n;
			s->cmd = &c;
			if (s->p.trace)
				for (const char *l = text, *e; *l; l = e + 1) {
					e = strchr(l, '\n');
					s->p.trace(s->p.trace_ctx, 'C', l, (size_t)(e - l + 1));
				}
			r = conn_write(s->conn, text, len);
			s->sent = 1;
			r = r < 0 ? conn_failed(s, r) : read_until_done(s, 0);
			s->cmd = NULL;
			if (r == 0)
				r = c.list_err;
			listed = 1;
		}
		free(text);
		if (r == 0 && alone != SIZE_MAX) {
			struct cmd one = { .status_cb = status_cb, .ctx = ctx };
			struct cmdbuf b = { 0 };

			cb_str(&b, "STATUS ");
			cb_astring(&b, mailboxes[alone]);
			cb_str(&b, " (");
			cb_str(&b, items);
			cb_str(&b, ")");
			r = run_cmd(s, &one, &b, 0);
			if (r < 0 && !s->broken)
				r = 0;   /* refused: that mailbox gets no answer */
		}
	}
	return r;
}

static void deselect(struct imap_session *s)
{
	free(s->selected);
	s->selected = NULL;
	memset(&s->mb, 0, sizeof(s->mb));
	s->ev = NULL;
	s->ev_ctx = NULL;
}

int imap_select(struct imap_session *s, const char *mailbox, int readonly, int force,
                uint32_t known_uidvalidity, uint64_t known_modseq,
                const struct imap_events *ev, void *ctx, struct imap_mailbox *mb_r)
{
	struct cmd c = { 0 };
	struct cmdbuf b = { 0 };
	int r;

	if (!force && s->selected && strcmp(s->selected, mailbox) == 0 &&
	    s->mb.readonly == (readonly != 0)) {
		s->ev = ev;
		s->ev_ctx = ctx;
		if (mb_r)
			*mb_r = s->mb;
		return 1;
	}
	deselect(s);
	s->selected = strdup(mailbox);
	if (!s->selected)
		return set_fail(s, IMAP_FAIL_PROTO, ENOMEM, "out of memory");
	s->ev = ev;
	s->ev_ctx = ctx;

	cb_str(&b, readonly ? "EXAMINE " : "SELECT ");
	cb_astring(&b, mailbox);
	if (s->qresync && known_uidvalidity && known_modseq) {
		char q[80];

		snprintf(q, sizeof(q), " (QRESYNC (%u %" PRIu64 "))", known_uidvalidity,
		         known_modseq);
		cb_str(&b, q);
	} else if (s->caps & IMAP_CAP_CONDSTORE) {
		cb_str(&b, " (CONDSTORE)");
	}
	r = run_cmd(s, &c, &b, 0);
	if (r < 0) {
		/* RFC 3501 §6.3.1: a failed SELECT leaves no mailbox selected. */
		deselect(s);
		return r;
	}
	s->mb.readonly = readonly != 0 || strcasecmp(s->code, "READ-ONLY") == 0;
	if (mb_r)
		*mb_r = s->mb;
	return 0;
}

int imap_uid_fetch(struct imap_session *s, const char *uidset, const char *items,
                   const char *modifiers)
{
	struct cmd c = { 0 };
	struct cmdbuf b = { 0 };

	cb_str(&b, "UID FETCH ");
	cb_str(&b, uidset);
	cb_str(&b, " (");
	cb_str(&b, items);
	cb_str(&b, ")");
	if (modifiers && *modifiers) {
		cb_str(&b, " (");
		cb_str(&b, modifiers);
		cb_str(&b, ")");
	}
	return run_cmd(s, &c, &b, 0);
}

/* ---- changing things ---------------------------------------------------------- */

int imap_uid_store(struct imap_session *s, uint32_t uid, const char *op, const char *flags)
{
	char line[64];
	struct cmd c = { 0 };
	struct cmdbuf b = { 0 };

	if (!imap_flags_valid(flags))
		return refuse_arg(s, "the flag list is not RFC 3501 flags and keywords");
	snprintf(line, sizeof(line), "UID STORE %u %s (", uid, op);
	cb_str(&b, line);
	cb_str(&b, flags);
	cb_str(&b, ")");
	return run_cmd(s, &c, &b, 0);
}

int imap_uid_expunge(struct imap_session *s, uint32_t uid)
{
	char line[48];

	snprintf(line, sizeof(line), "UID EXPUNGE %u", uid);
	return simple(s, line);
}

/* UID MOVE / UID COPY of one message; the new UID from COPYUID. */
static int move_copy(struct imap_session *s, const char *verb, uint32_t uid,
                     const char *mailbox, uint32_t *uidvalidity_r, uint32_t *uid_r)
{
	char line[48];
	struct cmd c = { 0 };
	struct cmdbuf b = { 0 };
	int r;

	snprintf(line, sizeof(line), "UID %s %u ", verb, uid);
	cb_str(&b, line);
	cb_astring(&b, mailbox);
	r = run_cmd(s, &c, &b, 0);
	if (r == 0) {
		*uidvalidity_r = s->uidplus_validity;
		*uid_r = s->uidplus_uid;
	}
	return r;
}

int imap_uid_move(struct imap_session *s, uint32_t uid, const char *mailbox,
                  uint32_t *uidvalidity_r, uint32_t *uid_r)
{
	return move_copy(s, "MOVE", uid, mailbox, uidvalidity_r, uid_r);
}

int imap_uid_copy(struct imap_session *s, uint32_t uid, const char *mailbox,
                  uint32_t *uidvalidity_r, uint32_t *uid_r)
{
	return move_copy(s, "COPY", uid, mailbox, uidvalidity_r, uid_r);
}

static int mailbox_cmd(struct imap_session *s, const char *verb, const char *a, const char *b2)
{
	struct cmd c = { 0 };
	struct cmdbuf b = { 0 };

	cb_str(&b, verb);
	cb_str(&b, " ");
	cb_astring(&b, a);
	if (b2) {
		cb_str(&b, " ");
		cb_astring(&b, b2);
	}
	return run_cmd(s, &c, &b, 0);
}

int imap_create(struct imap_session *s, const char *mailbox)
{
	return mailbox_cmd(s, "CREATE", mailbox, NULL);
}

int imap_leave(struct imap_session *s)
{
	char *name;
	int r;

	if (!s->selected)
		return 0;
	if (s->caps & IMAP_CAP_UNSELECT) {
		r = simple(s, "UNSELECT");
	} else {
		/* EXAMINE makes the selection read-only (its events are not
		 * delivered: deselect() forgot the handlers), and CLOSE of a
		 * read-only selection expunges nothing (RFC 3501 §6.4.2). */
		name = s->selected;
		s->selected = NULL;
		deselect(s);
		r = mailbox_cmd(s, "EXAMINE", name, NULL);
		free(name);
		if (r == 0)
			r = simple(s, "CLOSE");
	}
	deselect(s);
	return r < 0 && s->broken ? r : 0;
}

/* Whether MAILBOX, or a mailbox below it, may be selected (a name that
 * begins with it: leaving one more than needed costs nothing). */
static int selected_at(const struct imap_session *s, const char *mailbox)
{
	return s->selected && strncmp(s->selected, mailbox, strlen(mailbox)) == 0;
}

int imap_delete(struct imap_session *s, const char *mailbox)
{
	/* Some servers refuse to delete or rename the selected mailbox. */
	int r = selected_at(s, mailbox) ? imap_leave(s) : 0;

	return r < 0 ? r : mailbox_cmd(s, "DELETE", mailbox, NULL);
}

int imap_rename(struct imap_session *s, const char *from, const char *to)
{
	int r = selected_at(s, from) ? imap_leave(s) : 0;

	return r < 0 ? r : mailbox_cmd(s, "RENAME", from, to);
}

struct status_one {
	const char *mailbox;
	uint32_t messages;
	int have;
};

static void status_one_cb(void *ctx, const struct imap_status *st)
{
	struct status_one *o = ctx;

	if (strcmp(st->mailbox, o->mailbox) == 0 && (st->have & IMAP_STATUS_MESSAGES)) {
		o->messages = st->messages;
		o->have = 1;
	}
}

int imap_status_messages(struct imap_session *s, const char *mailbox, uint32_t *count_r)
{
	struct status_one o = { .mailbox = mailbox };
	struct cmd c = { .status_cb = status_one_cb, .ctx = &o };
	struct cmdbuf b = { 0 };
	int r;

	cb_str(&b, "STATUS ");
	cb_astring(&b, mailbox);
	cb_str(&b, " (MESSAGES)");
	r = run_cmd(s, &c, &b, 0);
	if (r == 0 && !o.have)
		r = proto_fail(s, "STATUS without a message count");
	if (r == 0)
		*count_r = o.messages;
	return r;
}

/* SIZE bytes of FD from offset 0, as a literal's data: not traced, and in
 * pieces, so that memory does not grow with the message. */
static int send_file(struct imap_session *s, int fd, uint64_t size)
{
	int r = 0;

	for (uint64_t off = 0; r == 0 && off < size; ) {
		char buf[65536];
		size_t want = size - off < sizeof(buf) ? (size_t)(size - off) : sizeof(buf);
		ssize_t n = pread(fd, buf, want, (off_t)off);

		if (n <= 0) {
			/* The file shrank under us: the literal can no longer be
			 * completed, so the connection cannot be used any more. */
			r = set_fail(s, IMAP_FAIL_CONN, EIO, "cannot read the message to append");
			s->broken = 1;
			break;
		}
		r = conn_write(s->conn, buf, (size_t)n);
		if (r < 0)
			r = conn_failed(s, r);
		off += (uint64_t)n;
	}
	return r;
}

/* APPEND (RFC 3501 §6.3.11) of SIZE bytes read from FD at offset 0, as one
 * literal sent in pieces, so that memory does not grow with the message. */
int imap_append(struct imap_session *s, const char *mailbox, const char *flags, time_t date,
                int fd, uint64_t size, uint32_t *uidvalidity_r, uint32_t *uid_r)
{
	struct cmd c = { 0 };
	struct cmdbuf b = { 0 };
	char hdr[96], datebuf[40];
	int r, plus;

	if (s->broken)
		return -EIO;
	if (flags && !imap_flags_valid(flags))
		return refuse_arg(s, "the flag list is not RFC 3501 flags and keywords");
	cb_str(&b, "APPEND ");
	cb_astring(&b, mailbox);
	if (flags && *flags) {
		cb_str(&b, " (");
		cb_str(&b, flags);
		cb_str(&b, ")");
	}
	if (date) {
		mime_format_internaldate(date, datebuf, sizeof(datebuf));
		cb_str(&b, " \"");
		cb_str(&b, datebuf);
		cb_str(&b, "\"");
	}
	if (b.oom) {
		cb_release(&b);
		return set_fail(s, IMAP_FAIL_PROTO, ENOMEM, "out of memory");
	}
	if (b.bad) {
		cb_release(&b);
		return refuse_arg(s, "it would contain a CR, LF or NUL outside a literal");
	}
	/* The mailbox name may itself need a literal: send those segments
	 * first through run_cmd's machinery would end the command, so only
	 * quoted names are handled here (mailbox names are 7-bit mUTF-7). */
	if (b.n > 1) {
		cb_release(&b);
		return set_fail(s, IMAP_FAIL_BAD, EINVAL, "mailbox name needs a literal");
	}
	plus = (s->caps & IMAP_CAP_LITERAL_PLUS) ||
	       ((s->caps & IMAP_CAP_LITERAL_MINUS) && size <= 4096);
	snprintf(c.tag, sizeof(c.tag), "m%u", ++s->tagno);
	s->cmd = &c;
	s->uidplus_validity = s->uidplus_uid = 0;
	snprintf(hdr, sizeof(hdr), "%s ", c.tag);
	r = send_raw(s, hdr, strlen(hdr), 0);
	if (r == 0)
		r = send_raw(s, b.seg[0].text, b.seg[0].len, 0);
	snprintf(hdr, sizeof(hdr), " {%" PRIu64 "%s}\r\n", size, plus ? "+" : "");
	if (r == 0)
		r = send_raw(s, hdr, strlen(hdr), 0);
	if (r == 0 && !plus) {
		r = read_until_done(s, 1);
		if (r == 1)
			r = 0;
		else if (r == 0)
			r = proto_fail(s, "server answered APPEND before the message was sent");
	}
	if (r == 0)
		r = send_file(s, fd, size);
	if (r == 0)
		r = send_raw(s, "\r\n", 2, 0);
	if (r == 0)
		r = read_until_done(s, 0);
	if (r == 0) {
		*uidvalidity_r = s->uidplus_validity;
		*uid_r = s->uidplus_uid;
	}
	cb_release(&b);
	s->cmd = NULL;
	return r;
}

int imap_notify(struct imap_session *s)
{
	/* MessageNew with MessageExpunge, FlagChange with both (RFC 5465
	 * §5); with CONDSTORE the STATUS of a folder whose flags changed
	 * carries its new HIGHESTMODSEQ. */
	return simple(s, "NOTIFY SET (selected (MessageNew MessageExpunge FlagChange)) "
	              "(personal (MessageNew MessageExpunge FlagChange MailboxName "
	              "SubscriptionChange))");
}

/* ---- IDLE (RFC 2177) ------------------------------------------------------------- */

int imap_idle_begin(struct imap_session *s)
{
	char line[32];
	int r;

	snprintf(s->idle.tag, sizeof(s->idle.tag), "m%u", ++s->tagno);
	snprintf(line, sizeof(line), "%s IDLE\r\n", s->idle.tag);
	s->cmd = &s->idle;
	r = send_raw(s, line, strlen(line), 0);
	if (r == 0)
		r = read_until_done(s, 1);
	if (r == 1) {
		s->idling = 1;
		return 0;
	}
	s->cmd = NULL;
	return r < 0 ? r : set_fail(s, IMAP_FAIL_NO, EIO, "IDLE ended at once");
}

int imap_idle_wait(struct imap_session *s, int timeout_ms)
{
	int r, status = 0;

	if (s->inpos >= s->inlen) {
		/* Wait for the first byte with the caller's timeout; once a
		 * response has started, the normal deadline applies. */
		conn_set_timeout(s->conn, timeout_ms);
		ssize_t n = conn_read(s->conn, s->inbuf, sizeof(s->inbuf));
		conn_set_timeout(s->conn, s->p.conn.timeout_ms);
		if (n == -ETIMEDOUT)
			return 0;
		if (n < 0)
			return conn_failed(s, (int)n);
		if (s->p.trace)
			s->p.trace(s->p.trace_ctx, 'S', s->inbuf, (size_t)n < 300 ? (size_t)n : 300);
		s->inpos = 0;
		s->inlen = (size_t)n;
	}
	/* Everything the server has sent so far. */
	do {
		r = read_one(s, &status);
		if (r < 0)
			return r;
		if (r != 0) {
			s->idling = 0;
			s->cmd = NULL;
			return proto_fail(s, "the server ended IDLE");
		}
	} while (s->inpos < s->inlen || conn_pending(s->conn));
	return 1;
}

int imap_idle_end(struct imap_session *s)
{
	int r;

	if (!s->idling)
		return 0;
	s->idling = 0;
	s->cmd = &s->idle;
	r = send_raw(s, "DONE\r\n", 6, 0);
	if (r == 0)
		r = read_until_done(s, 0);
	s->cmd = NULL;
	return r;
}
