/* pop3.c - POP3 client session.
 *
 * Status lines and multi-line responses are read through the pure reader
 * (pop3_wire.c) from one input buffer. A RETR body goes from that buffer to
 * the sink chunk by chunk, so a 25 MB message costs no more memory than a
 * 4 KB one. CAPA, UIDL and LIST responses are cut into lines of at most
 * LINE_MAX bytes, which is far more than any valid line of theirs needs.
 *
 * The session walks an explicit state (enum pop3_state, with a names table
 * as curl's pop3.c has); the state name says in every error message which
 * step failed.
 */
#include "net/pop3.h"
#include "net/grow.h"
#include "net/sasl.h"
#include "net/pop3_wire.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

/* RFC 2449 §4: a command line is at most 255 octets, CRLF included. */
#define CMD_LINE_MAX 255
/* RFC 1939 §7: a unique-id is 1 to 70 characters 0x21-0x7E. */
#define UIDL_MAX 70
/* SPEC §5: message counts are bounded before anything is allocated. STAT
 * gives the highest message number UIDL and LIST may list, so this bounds
 * them too; nothing is allocated by the count itself, only per line read
 * (a UIDL of up to 70 bytes each). IMAP bounds its sequence map at 50
 * million messages of 4 bytes (imap.c, IMAP_MAX_EXISTS); what one UIDL
 * line costs here and in the backend is tens of times that, hence 10
 * million. */
#define MAX_MESSAGES 10000000u
/* A CAPA, UIDL or LIST line, CRLF excluded. */
#define LIST_LINE_MAX 1024

enum pop3_state {
	POP3_S_INIT,            /* nothing done yet */
	POP3_S_CONNECT,
	POP3_S_GREETING,
	POP3_S_CAPA,
	POP3_S_STLS,
	POP3_S_UPGRADETLS,
	POP3_S_AUTH,
	POP3_S_USER,
	POP3_S_PASS,
	POP3_S_TRANSACTION,     /* logged in, no command running */
	POP3_S_STAT,
	POP3_S_UIDL,
	POP3_S_LIST,
	POP3_S_RETR,
	POP3_S_DELE,
	POP3_S_NOOP,
	POP3_S_QUIT,
	POP3_S_CLOSED,          /* after QUIT, or a failure that broke the session */
};

static const char *const state_names[] = {
	[POP3_S_INIT] = "INIT",
	[POP3_S_CONNECT] = "CONNECT",
	[POP3_S_GREETING] = "GREETING",
	[POP3_S_CAPA] = "CAPA",
	[POP3_S_STLS] = "STLS",
	[POP3_S_UPGRADETLS] = "UPGRADETLS",
	[POP3_S_AUTH] = "AUTH",
	[POP3_S_USER] = "USER",
	[POP3_S_PASS] = "PASS",
	[POP3_S_TRANSACTION] = "TRANSACTION",
	[POP3_S_STAT] = "STAT",
	[POP3_S_UIDL] = "UIDL",
	[POP3_S_LIST] = "LIST",
	[POP3_S_RETR] = "RETR",
	[POP3_S_DELE] = "DELE",
	[POP3_S_NOOP] = "NOOP",
	[POP3_S_QUIT] = "QUIT",
	[POP3_S_CLOSED] = "CLOSED",
};

enum reply { R_OK, R_ERR, R_CONT };

struct pop3_session {
	struct pop3_params p;
	struct conn *conn;
	struct pop3_wire *wire;
	enum pop3_state state;
	char inbuf[65536];
	size_t inpos, inlen;

	/* the last status line, without "+OK "/"-ERR "/"+ " */
	enum reply reply;
	char text[1024];

	unsigned caps;
	char caps_text[POP3_CAPS_TEXT_MAX + 1];
	int caps_cut;           /* caps_text ends in "..." */
	int broken;
	enum pop3_fail fail;
	char error[512];
	char code[64];

	/* Message numbers: the highest valid one is the STAT count plus the
	 * messages this session DELE'd (RFC 1939 §5: STAT does not count
	 * them), 0 before the first STAT. */
	uint32_t maxmsg;
	int have_stat;
	uint32_t *deleted;      /* sorted, unique: numbers DELE'd this session */
	size_t ndeleted, deleted_cap;

	char line[LIST_LINE_MAX + 3];  /* multi-line responses cut into lines */
	size_t line_len;
};

static int set_fail(struct pop3_session *s, enum pop3_fail cls, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int set_fail(struct pop3_session *s, enum pop3_fail cls, int err, const char *fmt, ...)
{
	char buf[sizeof(s->error)];   /* the arguments may point into s->error */
	va_list ap;

	s->fail = cls;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* Server text ends up in logs and on terminals: no control bytes. */
	for (char *c = buf; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	memcpy(s->error, buf, sizeof(buf));
	if (cls == POP3_FAIL_CONN || cls == POP3_FAIL_PROTO || cls == POP3_FAIL_TLS_REQUIRED ||
	    cls == POP3_FAIL_AUTH) {
		s->broken = 1;
		s->state = POP3_S_CLOSED;
	}
	return -err;
}

#define proto_fail(s, ...) set_fail((s), POP3_FAIL_PROTO, EPROTO, __VA_ARGS__)

static int conn_failed(struct pop3_session *s, int err)
{
	return set_fail(s, POP3_FAIL_CONN, -err, "%s (during %s)", conn_error(s->conn),
	                state_names[s->state]);
}

struct pop3_session *pop3_session_new(const struct pop3_params *params)
{
	struct pop3_session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->p = *params;
	s->conn = conn_new(&params->conn);
	s->wire = pop3_wire_new(0);
	if (!s->conn || !s->wire) {
		pop3_session_free(s);
		return NULL;
	}
	return s;
}

void pop3_session_free(struct pop3_session *s)
{
	if (!s)
		return;
	conn_free(s->conn);
	pop3_wire_free(s->wire);
	free(s->deleted);
	explicit_bzero(s->inbuf, sizeof(s->inbuf));
	free(s);
}

void pop3_abort(struct pop3_session *s)
{
	conn_abort(s->conn);
}

unsigned pop3_caps(const struct pop3_session *s) { return s->caps; }
const char *pop3_caps_text(const struct pop3_session *s) { return s->caps_text; }
int pop3_broken(const struct pop3_session *s) { return s->broken; }
enum pop3_fail pop3_fail_class(const struct pop3_session *s) { return s->fail; }
enum conn_fail pop3_conn_fail(const struct pop3_session *s) { return conn_fail_class(s->conn); }
const char *pop3_error(const struct pop3_session *s) { return s->error[0] ? s->error : "no error"; }
const char *pop3_resp_code(const struct pop3_session *s) { return s->code; }

/* ---- reading ---------------------------------------------------------------- */

static int fill(struct pop3_session *s)
{
	ssize_t n;

	s->inpos = s->inlen = 0;
	n = conn_read(s->conn, s->inbuf, sizeof(s->inbuf));
	if (n < 0)
		return conn_failed(s, (int)n);
	s->inlen = (size_t)n;
	return 0;
}

static void trace(struct pop3_session *s, char dir, const char *line, size_t len)
{
	if (s->p.trace)
		s->p.trace(s->p.trace_ctx, dir, line, len);
}

/* RFC 2449 §8: "-ERR [CODE/SUB] text". Keeps the code in s->code (or "")
 * and returns the text after it. */
static const char *take_code(struct pop3_session *s, const char *text)
{
	size_t i = 1;

	s->code[0] = '\0';
	if (text[0] != '[')
		return text;
	while (text[i] && text[i] != ']' && i < sizeof(s->code)) {
		char c = text[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '/'))
			return text;
		i++;
	}
	if (text[i] != ']' || i == 1)
		return text;
	memcpy(s->code, text + 1, i - 1);
	s->code[i - 1] = '\0';
	text += i + 1;
	while (*text == ' ')
		text++;
	return text;
}

/* Read one status line: "+OK", "-ERR", or with want_cont a SASL
 * continuation "+ ". Sets s->reply and s->text (and s->code for -ERR). */
static int read_status(struct pop3_session *s, int want_cont)
{
	const char *line;
	size_t len;

	for (;;) {
		if (s->inpos < s->inlen) {
			const char *p = s->inbuf + s->inpos;
			size_t n = s->inlen - s->inpos;
			enum pop3_wire_result r = pop3_wire_line(s->wire, &p, &n, &line, &len);

			s->inpos = (size_t)(p - s->inbuf);
			if (r == POP3_WIRE_OK)
				break;
			if (r == POP3_WIRE_BAD)
				return proto_fail(s, "malformed reply to %s: %s", state_names[s->state],
				                  pop3_wire_error(s->wire));
		}
		int r = fill(s);
		if (r < 0)
			return r;
	}
	trace(s, 'S', line, len);
	if (len >= 3 && strncasecmp(line, "+OK", 3) == 0 && (len == 3 || line[3] == ' ')) {
		s->reply = R_OK;
		line += len > 3 ? 4 : 3;
	} else if (len >= 4 && strncasecmp(line, "-ERR", 4) == 0 && (len == 4 || line[4] == ' ')) {
		s->reply = R_ERR;
		line += len > 4 ? 5 : 4;
		line = take_code(s, line);
	} else if (want_cont && line[0] == '+' && (len == 1 || line[1] == ' ')) {
		s->reply = R_CONT;
		line += len > 1 ? 2 : 1;
	} else {
		char shown[64];
		size_t i;

		for (i = 0; i < len && i < sizeof(shown) - 1; i++)
			shown[i] = (line[i] >= 0x20 && line[i] < 0x7f) ? line[i] : '?';
		shown[i] = '\0';
		return proto_fail(s, "unexpected reply to %s: \"%s\"", state_names[s->state], shown);
	}
	snprintf(s->text, sizeof(s->text), "%s", line);
	return 0;
}

/* The next data chunk of a multi-line response: 1 with a chunk, 0 at its
 * end, or an error. The chunk points into s->inbuf until the next call. */
static int read_chunk(struct pop3_session *s, const char **data_r, size_t *len_r)
{
	for (;;) {
		if (s->inpos < s->inlen) {
			const char *p = s->inbuf + s->inpos;
			size_t n = s->inlen - s->inpos;
			enum pop3_wire_result r = pop3_wire_multi(s->wire, &p, &n, data_r, len_r);

			s->inpos = (size_t)(p - s->inbuf);
			if (r == POP3_WIRE_OK)
				return 1;
			if (r == POP3_WIRE_END)
				return 0;
			if (r == POP3_WIRE_BAD)
				return proto_fail(s, "malformed %s response: %s", state_names[s->state],
				                  pop3_wire_error(s->wire));
		}
		int r = fill(s);
		if (r < 0)
			return r;
	}
}

/* Read a multi-line response to its end, calling FN with each line (CRLF
 * removed, NUL-terminated, writable). FN returns 0, a protocol error (the
 * session is then broken: return at once), or another negative errno, which
 * stops the calls but not the reading; that error is returned at the end. */
static int read_lines(struct pop3_session *s,
                      int (*fn)(struct pop3_session *s, char *line, size_t len, void *ctx),
                      void *ctx)
{
	const char *d;
	size_t n;
	int r, stop = 0;

	s->line_len = 0;
	pop3_wire_begin_multi(s->wire);
	while ((r = read_chunk(s, &d, &n)) == 1) {
		while (n > 0) {
			const char *nl = memchr(d, '\n', n);
			size_t k = nl ? (size_t)(nl - d) + 1 : n;

			/* LIST_LINE_MAX bytes and the CRLF */
			if (k > LIST_LINE_MAX + 2 - s->line_len)
				return proto_fail(s, "line too long in the %s response",
				                  state_names[s->state]);
			memcpy(s->line + s->line_len, d, k);
			s->line_len += k;
			d += k;
			n -= k;
			if (!nl)
				continue;
			/* The reader lets no LF through without its CR. */
			s->line_len -= 2;
			s->line[s->line_len] = '\0';
			if (!stop) {
				r = fn(s, s->line, s->line_len, ctx);
				if (r < 0 && s->broken)
					return r;
				stop = r < 0 ? r : 0;
			}
			s->line_len = 0;
		}
	}
	if (r < 0)
		return r;
	return stop;
}

/* ---- writing ---------------------------------------------------------------- */

/* Send "CMD[ ARG]\r\n". With secret, the trace shows the argument (or,
 * without one, the whole line) as "<credentials hidden>" and the line is
 * wiped after use. */
static int send_cmd(struct pop3_session *s, const char *cmd, const char *arg, int secret)
{
	size_t cl = strlen(cmd), al = arg ? strlen(arg) : 0;
	size_t len = cl + (arg ? 1 + al : 0) + 2;
	char *buf;
	int r;

	/* SPEC §5: a CR or LF in the text would end this command and start
	 * one of the sender's choosing (RFC 1939 §3). None of it is sent, and
	 * the text is not echoed (it may be a secret). A C string holds no
	 * NUL. */
	if (strpbrk(cmd, "\r\n") || (arg && strpbrk(arg, "\r\n")))
		return set_fail(s, POP3_FAIL_ARG, EINVAL, "command not sent: it would contain "
		                "a CR or LF");
	buf = malloc(len + 1);
	if (!buf)
		return set_fail(s, POP3_FAIL_CONN, ENOMEM, "out of memory");
	memcpy(buf, cmd, cl);
	if (arg) {
		buf[cl] = ' ';
		memcpy(buf + cl + 1, arg, al);
	}
	memcpy(buf + len - 2, "\r\n", 2);
	buf[len] = '\0';
	if (s->p.trace) {
		if (secret) {
			/* With an argument, the argument is the secret; without,
			 * the whole line is. */
			static const char hidden[] = "<credentials hidden>";
			char shown[64];
			int n = arg ? snprintf(shown, sizeof(shown), "%s %s", cmd, hidden)
			            : snprintf(shown, sizeof(shown), "%s", hidden);

			trace(s, 'C', shown, (size_t)n);
		} else {
			trace(s, 'C', buf, len - 2);
		}
	}
	r = conn_write(s->conn, buf, len);
	if (secret)
		explicit_bzero(buf, len);
	free(buf);
	return r < 0 ? conn_failed(s, r) : 0;
}

/* ---- commands ------------------------------------------------------------- */

static int err_errno(const char *code)
{
	static const char *const later[] = { "IN-USE", "LOGIN-DELAY", "SYS/TEMP" };

	for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++) {
		size_t n = strlen(later[i]);

		/* hierarchical codes (RFC 2449 §8): SYS/TEMP/... is SYS/TEMP */
		if (strncasecmp(code, later[i], n) == 0 && (code[n] == '\0' || code[n] == '/'))
			return EAGAIN;
	}
	if (strncasecmp(code, "AUTH", 4) == 0 && (code[4] == '\0' || code[4] == '/'))
		return EACCES;
	return EIO;
}

/* The -ERR just read, as the failure of the command in progress. */
static int err_fail(struct pop3_session *s)
{
	int err = err_errno(s->code);
	enum pop3_state st = s->state;

	s->state = POP3_S_TRANSACTION;
	return set_fail(s, POP3_FAIL_ERR, err, "%s failed: %s%s%s%s", state_names[st],
	                s->code[0] ? "[" : "", s->code, s->code[0] ? "] " : "",
	                s->text[0] ? s->text : "no reason given");
}

/* Start a command in the transaction state. */
static int begin(struct pop3_session *s, enum pop3_state st)
{
	if (s->broken)
		return -EIO;   /* keep the reason of the failure that broke it */
	if (s->state != POP3_S_TRANSACTION)
		return set_fail(s, POP3_FAIL_ERR, EINVAL, "%s while not logged in",
		                state_names[st]);
	/* Commands are not pipelined, and POP3 has no unsolicited responses:
	 * bytes waiting now would be taken as the reply to this command. */
	if (s->inpos < s->inlen || conn_pending(s->conn))
		return proto_fail(s, "the server sent unsolicited data before %s",
		                  state_names[st]);
	s->state = st;
	return 0;
}

/* One command with a single-line reply. */
static int simple(struct pop3_session *s, enum pop3_state st, const char *arg)
{
	int r = begin(s, st);

	if (r < 0)
		return r;
	r = send_cmd(s, state_names[st], arg, 0);
	if (r < 0 && s->fail == POP3_FAIL_ARG) {
		s->state = POP3_S_TRANSACTION;   /* nothing was sent */
		return r;
	}
	if (r == 0)
		r = read_status(s, 0);
	if (r < 0)
		return r;
	if (s->reply == R_ERR)
		return err_fail(s);
	s->state = POP3_S_TRANSACTION;
	return 0;
}

/* A decimal number of at most MAX with no sign or spaces; *end_r past it. */
static int parse_u64(const char *p, uint64_t max, uint64_t *v_r, const char **end_r)
{
	uint64_t v = 0;
	const char *q = p;

	for (; *q >= '0' && *q <= '9'; q++) {
		if (v > (max - (uint64_t)(*q - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*q - '0');
	}
	if (q == p || q - p > 20)
		return -1;
	*v_r = v;
	*end_r = q;
	return 0;
}

int pop3_stat(struct pop3_session *s, uint32_t *count_r, uint64_t *size_r)
{
	uint64_t count, size;
	const char *p;
	int r = simple(s, POP3_S_STAT, NULL);

	if (r < 0)
		return r;
	/* RFC 1939 §5: "+OK nn mm", and nothing required about what follows. */
	s->state = POP3_S_STAT;
	if (parse_u64(s->text, UINT64_MAX, &count, &p) < 0 || *p != ' ' ||
	    parse_u64(p + 1, UINT64_MAX, &size, &p) < 0 || (*p && *p != ' '))
		return proto_fail(s, "malformed STAT reply: %.64s", s->text);
	if (count > MAX_MESSAGES || count + s->ndeleted > MAX_MESSAGES)
		return proto_fail(s, "the server reports %" PRIu64 " messages; more than %u "
		                  "are not supported", count, MAX_MESSAGES);
	s->maxmsg = (uint32_t)(count + s->ndeleted);
	s->have_stat = 1;
	s->state = POP3_S_TRANSACTION;
	if (count_r)
		*count_r = (uint32_t)count;
	if (size_r)
		*size_r = size;
	return 0;
}

/* ---- UIDL and LIST ------------------------------------------------------------ */

/* A set of strings, to find a UIDL listed twice. Grows with the lines
 * actually read; those are bounded by the STAT count. */
struct strset {
	char *pool;
	size_t pool_len, pool_cap;
	uint32_t *slots;        /* offset + 1 into pool, 0: empty; the pool stays
	                           under 10,000,000 * 71 bytes */
	size_t nslots, count;
};

static uint64_t hash_str(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ull;   /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

static int strset_grow(struct strset *set)
{
	size_t n = set->nslots ? set->nslots * 2 : 1024;
	uint32_t *slots = calloc(n, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < set->nslots; i++) {
		uint32_t off = set->slots[i];

		if (!off)
			continue;
		const char *str = set->pool + off - 1;
		size_t j = hash_str(str, strlen(str)) & (n - 1);

		while (slots[j])
			j = (j + 1) & (n - 1);
		slots[j] = off;
	}
	free(set->slots);
	set->slots = slots;
	set->nslots = n;
	return 0;
}

/* 1 if STR was there already, 0 when added, or -ENOMEM. */
static int strset_add(struct strset *set, const char *str, size_t len)
{
	size_t j;

	if ((set->count + 1) * 2 > set->nslots && strset_grow(set) < 0)
		return -ENOMEM;
	for (j = hash_str(str, len) & (set->nslots - 1); set->slots[j];
	     j = (j + 1) & (set->nslots - 1))
		if (strcmp(set->pool + set->slots[j] - 1, str) == 0)
			return 1;
	if (set->pool_len + len + 1 >= UINT32_MAX)
		return -ENOMEM;
	if (set->pool_len + len + 1 > set->pool_cap) {
		size_t cap = set->pool_cap ? set->pool_cap * 2 : 16384;
		char *np;

		while (cap < set->pool_len + len + 1)
			cap *= 2;
		np = realloc(set->pool, cap);
		if (!np)
			return -ENOMEM;
		set->pool = np;
		set->pool_cap = cap;
	}
	memcpy(set->pool + set->pool_len, str, len + 1);
	set->slots[j] = (uint32_t)set->pool_len + 1;
	set->pool_len += len + 1;
	set->count++;
	return 0;
}

static void strset_release(struct strset *set)
{
	free(set->pool);
	free(set->slots);
	memset(set, 0, sizeof(*set));
}

struct listing {
	int (*uidl_cb)(void *ctx, uint32_t n, const char *uidl);
	int (*list_cb)(void *ctx, uint32_t n, uint64_t size);
	void *ctx;
	uint32_t last;          /* the last message number listed, or 0 */
	size_t di;              /* s->deleted[di] is the first deleted number > last */
	struct strset seen;
};

static int is_deleted_upto(struct pop3_session *s, struct listing *l, uint32_t n, int *hit_r)
{
	uint32_t skipped = 0;

	*hit_r = 0;
	while (l->di < s->ndeleted && s->deleted[l->di] < n) {
		l->di++;
		skipped++;
	}
	if (l->di < s->ndeleted && s->deleted[l->di] == n)
		*hit_r = 1;
	return (int)skipped;
}

/* RFC 1939 §5, §7: numbers ascend from 1 with none missing, except those
 * deleted in this session, which are left out. */
static int check_number(struct pop3_session *s, struct listing *l, uint64_t n)
{
	int hit;
	uint32_t skipped;

	if (n == 0 || n > s->maxmsg)
		return proto_fail(s, "%s lists message %" PRIu64 ", outside 1..%u",
		                  state_names[s->state], n, s->maxmsg);
	if (n <= l->last)
		return proto_fail(s, "%s lists message %" PRIu64 " after %u",
		                  state_names[s->state], n, l->last);
	skipped = (uint32_t)is_deleted_upto(s, l, (uint32_t)n, &hit);
	if (hit)
		return proto_fail(s, "%s lists message %" PRIu64 ", which was deleted",
		                  state_names[s->state], n);
	if (n - l->last - 1 != skipped)
		return proto_fail(s, "%s leaves out message %u", state_names[s->state],
		                  l->last + 1);
	l->last = (uint32_t)n;
	return 0;
}

static int check_complete(struct pop3_session *s, struct listing *l)
{
	int hit;
	uint32_t skipped;

	if (l->last == s->maxmsg)
		return 0;
	skipped = (uint32_t)is_deleted_upto(s, l, s->maxmsg + 1, &hit);
	if (s->maxmsg - l->last != skipped)
		return proto_fail(s, "%s leaves out message %u", state_names[s->state],
		                  l->last + 1);
	return 0;
}

static int uidl_line(struct pop3_session *s, char *line, size_t len, void *ctx)
{
	struct listing *l = ctx;
	const char *p, *id;
	uint64_t n;
	size_t idlen;
	int r;

	(void)len;
	if (parse_u64(line, UINT32_MAX, &n, &p) < 0 || *p != ' ')
		return proto_fail(s, "malformed UIDL line: %.80s", line);
	if ((r = check_number(s, l, n)) < 0)
		return r;
	while (*p == ' ')
		p++;
	id = p;
	for (idlen = 0; id[idlen]; idlen++)
		if ((unsigned char)id[idlen] < 0x21 || (unsigned char)id[idlen] > 0x7e)
			return proto_fail(s, "UIDL of message %" PRIu64 " has a character outside "
			                  "0x21-0x7E", n);
	if (idlen == 0 || idlen > UIDL_MAX)
		return proto_fail(s, "UIDL of message %" PRIu64 " is %zu characters long "
		                  "(1 to %d allowed)", n, idlen, UIDL_MAX);
	r = strset_add(&l->seen, id, idlen);
	if (r < 0)
		return set_fail(s, POP3_FAIL_PROTO, ENOMEM, "out of memory");
	if (r == 1)
		return proto_fail(s, "UIDL %s is listed twice", id);
	return l->uidl_cb(l->ctx, (uint32_t)n, id);
}

static int list_line(struct pop3_session *s, char *line, size_t len, void *ctx)
{
	struct listing *l = ctx;
	const char *p;
	uint64_t n, size;
	int r;

	(void)len;
	/* RFC 1939 §5: "nn mm", anything may follow the size. */
	if (parse_u64(line, UINT32_MAX, &n, &p) < 0 || *p != ' ' ||
	    parse_u64(p + 1, UINT64_MAX, &size, &p) < 0 || (*p && *p != ' '))
		return proto_fail(s, "malformed LIST line: %.80s", line);
	if ((r = check_number(s, l, n)) < 0)
		return r;
	return l->list_cb(l->ctx, (uint32_t)n, size);
}

static int listing(struct pop3_session *s, enum pop3_state st, struct listing *l)
{
	int r;

	if (!s->broken && s->state == POP3_S_TRANSACTION && !s->have_stat &&
	    (r = pop3_stat(s, NULL, NULL)) < 0)
		return r;
	r = simple(s, st, NULL);
	if (r < 0)
		return r;
	s->state = st;
	r = read_lines(s, st == POP3_S_UIDL ? uidl_line : list_line, l);
	if (r == 0)   /* a callback that stopped early did not see the rest */
		r = check_complete(s, l);
	if (!s->broken)
		s->state = POP3_S_TRANSACTION;
	strset_release(&l->seen);
	return r;
}

int pop3_uidl(struct pop3_session *s, int (*cb)(void *ctx, uint32_t n, const char *uidl),
              void *ctx)
{
	struct listing l = { .uidl_cb = cb, .ctx = ctx };

	return listing(s, POP3_S_UIDL, &l);
}

int pop3_list(struct pop3_session *s, int (*cb)(void *ctx, uint32_t n, uint64_t size),
              void *ctx)
{
	struct listing l = { .list_cb = cb, .ctx = ctx };

	return listing(s, POP3_S_LIST, &l);
}

/* ---- RETR, DELE, NOOP, QUIT ------------------------------------------------------ */

int pop3_retr(struct pop3_session *s, uint32_t n, struct pop3_sink *sink, uint64_t *size_r)
{
	char arg[16];
	const char *d;
	size_t len;
	uint64_t got = 0;
	int r, werr = 0;

	if (size_r)
		*size_r = 0;
	if (n == 0)
		return -EINVAL;
	snprintf(arg, sizeof(arg), "%" PRIu32, n);
	r = simple(s, POP3_S_RETR, arg);
	if (r < 0)
		return r;
	s->state = POP3_S_RETR;
	pop3_wire_begin_multi(s->wire);
	/* The body is never traced. */
	while ((r = read_chunk(s, &d, &len)) == 1) {
		if (werr)
			continue;
		werr = sink->write(sink, d, len);
		if (werr == 0)
			got += len;
	}
	if (size_r)
		*size_r = got;
	if (r < 0)
		return r;
	s->state = POP3_S_TRANSACTION;
	return werr < 0 ? werr : 0;
}

static int add_deleted(struct pop3_session *s, uint32_t n)
{
	size_t lo = 0, hi = s->ndeleted;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->deleted[mid] < n)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < s->ndeleted && s->deleted[lo] == n)
		return 0;
	if (ARRAY_RESERVE(s->deleted, s->ndeleted, s->deleted_cap) < 0)
		return -ENOMEM;
	memmove(s->deleted + lo + 1, s->deleted + lo, (s->ndeleted - lo) * sizeof(*s->deleted));
	s->deleted[lo] = n;
	s->ndeleted++;
	return 0;
}

int pop3_dele(struct pop3_session *s, uint32_t n)
{
	char arg[16];
	int r;

	if (n == 0 || (s->have_stat && n > s->maxmsg))
		return -EINVAL;
	snprintf(arg, sizeof(arg), "%" PRIu32, n);
	r = simple(s, POP3_S_DELE, arg);
	if (r < 0)
		return r;
	/* Before the first STAT the count of messages is not known; STAT will
	 * add the deleted ones back (RFC 1939 §5). */
	if (add_deleted(s, n) < 0)
		return set_fail(s, POP3_FAIL_PROTO, ENOMEM, "out of memory");
	return 0;
}

int pop3_noop(struct pop3_session *s)
{
	return simple(s, POP3_S_NOOP, NULL);
}

int pop3_quit(struct pop3_session *s)
{
	int r = simple(s, POP3_S_QUIT, NULL);

	/* RFC 1939 §6: the UPDATE state; -ERR means some deletions failed. The
	 * server closes the connection either way. */
	if (!s->broken) {
		s->broken = 1;
		s->state = POP3_S_CLOSED;
	}
	return r;
}

/* ---- connect, authenticate --------------------------------------------------- */

/* Keep LINE of a CAPA response for pop3_caps_text(), within its bound (a
 * server may send any number of lines): what does not fit becomes "...".
 * The text never grows past POP3_CAPS_TEXT_MAX - 5, so ", ..." always
 * fits after it. */
static void caps_text_add(struct pop3_session *s, const char *line, size_t len)
{
	size_t used = strlen(s->caps_text), sep = used ? 2 : 0;

	if (len == 0 || s->caps_cut)
		return;
	if (used + sep + len > POP3_CAPS_TEXT_MAX - 5) {
		const char *more = sep ? ", ..." : "...";

		memcpy(s->caps_text + used, more, strlen(more) + 1);
		s->caps_cut = 1;
		return;
	}
	memcpy(s->caps_text + used, ", ", sep);
	memcpy(s->caps_text + used + sep, line, len);
	s->caps_text[used + sep + len] = '\0';
}

static int capa_line(struct pop3_session *s, char *line, size_t len, void *ctx)
{
	static const struct { const char *name; unsigned bit; } names[] = {
		{ "STLS", POP3_CAP_STLS }, { "UIDL", POP3_CAP_UIDL }, { "USER", POP3_CAP_USER },
		{ "RESP-CODES", POP3_CAP_RESP_CODES }, { "PIPELINING", POP3_CAP_PIPELINING },
		{ "TOP", POP3_CAP_TOP }, { "LOGIN-DELAY", POP3_CAP_LOGIN_DELAY },
		{ "AUTH-RESP-CODE", POP3_CAP_AUTH_RESP_CODE },
	};
	static const struct { const char *name; unsigned bit; } mechs[] = {
		{ "PLAIN", POP3_CAP_SASL_PLAIN }, { "XOAUTH2", POP3_CAP_SASL_XOAUTH2 },
		{ "OAUTHBEARER", POP3_CAP_SASL_OAUTHBEARER },
	};
	char *save = NULL, *word;

	(void)ctx;
	trace(s, 'S', line, len);
	caps_text_add(s, line, len);
	word = strtok_r(line, " \t", &save);
	if (!word)
		return 0;
	if (strcasecmp(word, "SASL") == 0) {
		while ((word = strtok_r(NULL, " \t", &save)))
			for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
				if (strcasecmp(word, mechs[i].name) == 0)
					s->caps |= mechs[i].bit;
		return 0;
	}
	/* "LOGIN-DELAY 900" and the like: the name is the first word. */
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(word, names[i].name) == 0)
			s->caps |= names[i].bit;
	return 0;
}

/* CAPA (RFC 2449 §5). A server without it (-ERR) is taken to have USER
 * only, as RFC 1939 servers do. */
static int capa(struct pop3_session *s)
{
	int r;

	s->caps = 0;
	s->caps_text[0] = '\0';
	s->caps_cut = 0;
	s->state = POP3_S_CAPA;
	r = send_cmd(s, "CAPA", NULL, 0);
	if (r == 0)
		r = read_status(s, 0);
	if (r < 0)
		return r;
	if (s->reply == R_ERR) {
		s->caps = POP3_CAP_USER;
		s->code[0] = '\0';
		return 0;
	}
	return read_lines(s, capa_line, NULL);
}

/* AUTH (RFC 5034 §4) with the initial response when the command line stays
 * within 255 octets (RFC 2449 §4); otherwise "AUTH MECH" alone and the
 * response after the server's empty challenge ("+ "). A challenge after the
 * response is answered per mechanism: OAUTHBEARER's error challenge with
 * "AQ==", the %x01 dummy response of RFC 7628 §3.2.3; XOAUTH2's with an
 * empty line, as Google and Microsoft document it; anything else (PLAIN
 * has no second step) is cancelled with "*" (RFC 5034 §4). The server must
 * then say -ERR. On return 0, s->reply is R_OK or R_ERR. */
static int sasl(struct pop3_session *s, enum sasl_mech mech, char *why, size_t whylen)
{
	char *b64 = sasl_initial(mech, s->p.user, s->p.secret);
	char cmd[32];
	int r, ir;

	if (!b64)
		return set_fail(s, POP3_FAIL_AUTH, ENOMEM, "out of memory");
	s->state = POP3_S_AUTH;
	snprintf(cmd, sizeof(cmd), "AUTH %s", sasl_name(mech));
	ir = strlen(cmd) + 1 + strlen(b64) + 2 <= CMD_LINE_MAX;
	r = send_cmd(s, cmd, ir ? b64 : NULL, ir);
	if (r == 0)
		r = read_status(s, 1);
	if (r == 0 && !ir && s->reply == R_CONT) {
		r = send_cmd(s, b64, NULL, 1);
		if (r == 0)
			r = read_status(s, 1);
	}
	if (r == 0 && s->reply == R_CONT) {
		/* An empty challenge is not an OAuth2 error: cancel. */
		const char *answer = s->text[0] ? sasl_answer(mech) : "*";

		sasl_challenge_text(s->text, why, whylen);
		r = send_cmd(s, answer, NULL, 0);
		if (r == 0)
			r = read_status(s, 0);
		if (r == 0 && s->reply == R_OK)
			r = proto_fail(s, "the server accepted the %s login after an error challenge",
			               sasl_name(mech));
	}
	sasl_free(b64);
	return r;
}

static int has_line_break(const char *str)
{
	return strpbrk(str, "\r\n") != NULL;
}

static int authenticate(struct pop3_session *s)
{
	char why[256] = "";
	int r;

	if (has_line_break(s->p.user) || has_line_break(s->p.secret))
		return set_fail(s, POP3_FAIL_AUTH, EINVAL, "the user name or the secret "
		                "contains a line break");
	switch (s->p.auth) {
	case POP3_AUTH_XOAUTH2:
	case POP3_AUTH_OAUTHBEARER:
		/* An OAuth2 token: the standard mechanism where the server lists
		 * it (RFC 5034 §3, CAPA's SASL line), else the providers' older
		 * one, also when CAPA names no mechanism at all: the server's
		 * -ERR then says what it wants. */
		r = sasl(s, s->caps & POP3_CAP_SASL_OAUTHBEARER ? SASL_OAUTHBEARER : SASL_XOAUTH2,
		         why, sizeof(why));
		break;
	default:
		if (s->caps & POP3_CAP_SASL_PLAIN) {
			r = sasl(s, SASL_PLAIN, why, sizeof(why));
		} else {
			/* RFC 1939 §7. Also when CAPA does not list USER: the
			 * server's -ERR then says what it wants. */
			s->state = POP3_S_USER;
			r = send_cmd(s, "USER", s->p.user, 0);
			if (r == 0)
				r = read_status(s, 0);
			if (r == 0 && s->reply == R_OK) {
				s->state = POP3_S_PASS;
				r = send_cmd(s, "PASS", s->p.secret, 1);
				if (r == 0)
					r = read_status(s, 0);
			}
		}
		break;
	}
	if (r < 0)
		return r;
	if (s->reply == R_OK)
		return 0;
	/* RFC 2449 §8.1, RFC 3206: IN-USE, LOGIN-DELAY and SYS/TEMP say "not
	 * now"; anything else is a refused login. */
	if (err_errno(s->code) == EAGAIN) {
		r = set_fail(s, POP3_FAIL_ERR, EAGAIN, "%s did not let %s log in now, try again "
		             "later: [%s] %s", s->p.conn.host, s->p.user, s->code, s->text);
		s->broken = 1;
		s->state = POP3_S_CLOSED;
		return r;
	}
	return set_fail(s, POP3_FAIL_AUTH, EACCES, "%s refused the login of %s: %s%s%s%s%s%s",
	                s->p.conn.host, s->p.user, s->code[0] ? "[" : "", s->code,
	                s->code[0] ? "] " : "", s->text[0] ? s->text : "no reason given",
	                why[0] ? "; " : "", why);
}

int pop3_connect(struct pop3_session *s)
{
	int r;

	if (s->state != POP3_S_INIT)
		return set_fail(s, POP3_FAIL_ERR, EINVAL, "already connected");
	s->state = POP3_S_CONNECT;
	r = conn_connect(s->conn);
	if (r < 0)
		return conn_failed(s, r);

	/* RFC 1939 §4: the greeting is +OK; -ERR is a refusal with a reason. */
	s->state = POP3_S_GREETING;
	r = read_status(s, 0);
	if (r < 0)
		return r;
	if (s->reply == R_ERR) {
		int err = err_errno(s->code);

		r = set_fail(s, POP3_FAIL_ERR, err == EAGAIN ? EAGAIN : EIO,
		             "%s refused the connection: %s%s%s%s", s->p.conn.host,
		             s->code[0] ? "[" : "", s->code, s->code[0] ? "] " : "",
		             s->text[0] ? s->text : "no reason given");
		s->broken = 1;
		s->state = POP3_S_CLOSED;
		return r;
	}

	r = capa(s);
	if (r < 0)
		return r;
	if (s->p.require_tls && !conn_is_tls(s->conn)) {
		/* SPEC §5, RFC 2595 §4: STLS is mandatory; without it, or if it
		 * is refused, nothing secret is sent. */
		if (!(s->caps & POP3_CAP_STLS))
			return set_fail(s, POP3_FAIL_TLS_REQUIRED, EPROTO, "%s does not offer STLS; "
			                "refusing to log in without TLS (use pop3s:// or, for tests "
			                "only, tls_insecure_plaintext)", s->p.conn.host);
		s->state = POP3_S_STLS;
		r = send_cmd(s, "STLS", NULL, 0);
		if (r == 0)
			r = read_status(s, 0);
		if (r < 0)
			return r;
		if (s->reply == R_ERR)
			return set_fail(s, POP3_FAIL_TLS_REQUIRED, EPROTO, "%s refused STLS: %s",
			                s->p.conn.host, s->text[0] ? s->text : "no reason given");
		/* Anything the server sent after its +OK and before the
		 * handshake would be taken as if it came over TLS: an injection
		 * attack (CVE-2011-0411 and kin). */
		if (s->inpos < s->inlen || conn_pending(s->conn))
			return set_fail(s, POP3_FAIL_TLS_REQUIRED, EPROTO, "%s sent data after "
			                "accepting STLS (possible attack); disconnecting",
			                s->p.conn.host);
		s->state = POP3_S_UPGRADETLS;
		r = conn_starttls(s->conn);
		if (r < 0)
			return conn_failed(s, r);
		/* RFC 2595 §4: what the server said in clear (capabilities, a
		 * response code, the last reply) may come from someone in the
		 * path; it is forgotten, and CAPA asked again (SPEC §5). */
		s->caps = 0;
		s->code[0] = s->text[0] = '\0';
		pop3_wire_reset(s->wire);
		r = capa(s);
		if (r < 0)
			return r;
	}

	r = authenticate(s);
	if (r < 0)
		return r;
	s->state = POP3_S_TRANSACTION;
	s->fail = POP3_OK;
	s->error[0] = '\0';
	s->code[0] = '\0';
	return 0;
}
