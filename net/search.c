/* search.c - search queries of SPEC §9 (issue 14): parse, write, match.
 *
 * The grammar is RFC 3501 §6.4.4 / §9 "search-key" (RFC 9051 the same
 * less NEW/OLD/RECENT, which are kept for old servers), read from a
 * directory name: no literals, UTF-8 allowed in atoms, U+2215 for '/'.
 * The input is checked whole first (UTF-8, controls, length), so the
 * parser below only meets clean bytes; recursion is bounded by
 * SQ_MAX_DEPTH and memory by SQ_MAX_NODES and SQ_MAX_LEN.
 */
#include "net/search.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum arg { A_NONE, A_STR, A_HEADER, A_DATE, A_NUM, A_SET, A_ATOM, A_KEY, A_KEY2 };

/* Indexed by enum sq_kind. */
static const struct { const char *name; enum arg arg; } keys[] = {
	[SQ_ALL] = { "ALL", A_NONE }, [SQ_AND] = { NULL, A_NONE },
	[SQ_OR] = { "OR", A_KEY2 }, [SQ_NOT] = { "NOT", A_KEY },
	[SQ_ANSWERED] = { "ANSWERED", A_NONE }, [SQ_DELETED] = { "DELETED", A_NONE },
	[SQ_DRAFT] = { "DRAFT", A_NONE }, [SQ_FLAGGED] = { "FLAGGED", A_NONE },
	[SQ_SEEN] = { "SEEN", A_NONE }, [SQ_NEW] = { "NEW", A_NONE },
	[SQ_OLD] = { "OLD", A_NONE }, [SQ_RECENT] = { "RECENT", A_NONE },
	[SQ_UNANSWERED] = { "UNANSWERED", A_NONE }, [SQ_UNDELETED] = { "UNDELETED", A_NONE },
	[SQ_UNDRAFT] = { "UNDRAFT", A_NONE }, [SQ_UNFLAGGED] = { "UNFLAGGED", A_NONE },
	[SQ_UNSEEN] = { "UNSEEN", A_NONE },
	[SQ_KEYWORD] = { "KEYWORD", A_ATOM }, [SQ_UNKEYWORD] = { "UNKEYWORD", A_ATOM },
	[SQ_FROM] = { "FROM", A_STR }, [SQ_TO] = { "TO", A_STR }, [SQ_CC] = { "CC", A_STR },
	[SQ_BCC] = { "BCC", A_STR }, [SQ_SUBJECT] = { "SUBJECT", A_STR },
	[SQ_BODY] = { "BODY", A_STR }, [SQ_TEXT] = { "TEXT", A_STR },
	[SQ_HEADER] = { "HEADER", A_HEADER },
	[SQ_BEFORE] = { "BEFORE", A_DATE }, [SQ_ON] = { "ON", A_DATE },
	[SQ_SINCE] = { "SINCE", A_DATE }, [SQ_SENTBEFORE] = { "SENTBEFORE", A_DATE },
	[SQ_SENTON] = { "SENTON", A_DATE }, [SQ_SENTSINCE] = { "SENTSINCE", A_DATE },
	[SQ_LARGER] = { "LARGER", A_NUM }, [SQ_SMALLER] = { "SMALLER", A_NUM },
	[SQ_UID] = { "UID", A_SET }, [SQ_GMRAW] = { "X-GM-RAW", A_STR },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const char months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

#define DIVSLASH "\xe2\x88\x95"   /* U+2215, '/' in names */

/* ---- parsing ---------------------------------------------------------------- */

struct parser {
	const char *p;
	char *err;
	size_t errlen;
	unsigned nodes;
};

static int fail(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Record why the query was refused (never with bytes of the input). */
static int fail(struct parser *ps, const char *fmt, ...)
{
	va_list ap;

	if (ps->errlen) {
		va_start(ap, fmt);
		vsnprintf(ps->err, ps->errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Strict UTF-8 (RFC 3629): no overlong forms, surrogates or values past
 * U+10FFFF; and no C0 control or DEL anywhere. */
static int check_input(struct parser *ps, const unsigned char *s)
{
	size_t i = 0;

	while (s[i]) {
		unsigned c = s[i], n, cp, min;

		if (i >= SQ_MAX_LEN)
			return fail(ps, "query longer than %d bytes", SQ_MAX_LEN);
		if (c < 0x20 || c == 0x7f)
			return fail(ps, "control character at byte %zu", i);
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f, min = 0x80;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f, min = 0x800;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07, min = 0x10000;
		else
			return fail(ps, "invalid UTF-8 at byte %zu", i);
		for (unsigned k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return fail(ps, "invalid UTF-8 at byte %zu", i);
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return fail(ps, "invalid UTF-8 at byte %zu", i);
		i += n + 1;
	}
	return 0;
}

static struct sq_node *new_node(struct parser *ps, enum sq_kind kind, int *r)
{
	struct sq_node *n;

	if (++ps->nodes > SQ_MAX_NODES) {
		*r = fail(ps, "more than %d keys", SQ_MAX_NODES);
		return NULL;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		*r = -ENOMEM;
	else
		n->kind = kind;
	return n;
}

void sq_free(struct sq_node *q)
{
	while (q) {
		struct sq_node *next = q->next;

		sq_free(q->kids);
		free(q->str);
		free(q->field);
		free(q->ranges);
		free(q);
		q = next;
	}
}

static int at_end_of_token(char c)
{
	return c == '\0' || c == ' ' || c == '(' || c == ')';
}

/* A string: quoted (\" and \\ escapes) or an atom; U+2215 becomes '/'.
 * QUOTED_R (may be NULL) says which it was. */
static int read_string(struct parser *ps, char **out_r, int *quoted_r)
{
	const char *p = ps->p;
	size_t len = strlen(p);   /* an upper bound of the result */
	char *out = malloc(len + 1), *o = out;
	int quoted = *p == '"';

	if (!out)
		return -ENOMEM;
	if (quoted)
		p++;
	for (;;) {
		if (quoted ? *p == '"' : at_end_of_token(*p))
			break;
		if (*p == '\0') {
			free(out);
			return fail(ps, "quoted string not closed");
		}
		if (!quoted && (*p == '"' || *p == '\\' || *p == '{')) {
			free(out);
			return fail(ps, *p == '{' ? "literals ({N}) are not taken; quote the string" :
			            "a string with \" or \\ must be quoted");
		}
		if (quoted && *p == '\\') {
			if (p[1] != '"' && p[1] != '\\') {
				free(out);
				return fail(ps, "unknown escape in a quoted string");
			}
			p++;
		}
		if (strncmp(p, DIVSLASH, 3) == 0) {
			*o++ = '/';
			p += 3;
		} else {
			*o++ = *p++;
		}
	}
	if (quoted)
		p++;
	else if (o == out) {
		free(out);
		return fail(ps, "string expected");
	}
	*o = '\0';
	ps->p = p;
	*out_r = out;
	if (quoted_r)
		*quoted_r = quoted;
	return 0;
}

static int days_in_month(int y, int m)
{
	static const int d[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return d[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
}

/* date = date-text / DQUOTE date-text DQUOTE; date-text = 1*2DIGIT "-"
 * Mon "-" 4DIGIT (RFC 3501 §9). */
static int read_date(struct parser *ps, struct sq_node *n)
{
	char *s, *p;
	int r = read_string(ps, &s, NULL), d = 0, y = 0, m, i;

	if (r < 0)
		return r;
	p = s;
	for (i = 0; i < 2 && *p >= '0' && *p <= '9'; i++)
		d = d * 10 + *p++ - '0';
	r = i && *p == '-' ? 0 : -1;
	for (m = 0; r == 0 && m < 12; m++)
		if (strncasecmp(p + 1, months[m], 3) == 0)
			break;
	if (r == 0 && m < 12 && p[4] == '-') {
		p += 5;
		for (i = 0; i < 4 && *p >= '0' && *p <= '9'; i++)
			y = y * 10 + *p++ - '0';
		if (i == 4 && *p == '\0' && d >= 1 && d <= days_in_month(y, m + 1)) {
			n->year = y, n->month = m + 1, n->day = d;
			free(s);
			return 0;
		}
	}
	free(s);
	return fail(ps, "not a date (d-Mon-yyyy, a day that exists)");
}

/* A number below 2^63 (RFC 9051 number64). */
static int read_number(struct parser *ps, uint64_t *v_r)
{
	uint64_t v = 0;
	const char *p = ps->p;

	if (*p < '0' || *p > '9')
		return fail(ps, "number expected");
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > INT64_MAX)
			return fail(ps, "number too large");
	}
	if (!at_end_of_token(*p))
		return fail(ps, "number expected");
	ps->p = p;
	*v_r = v;
	return 0;
}

/* One seq-number of a UID set: nz-number (< 2^32, no leading zero) or '*'
 * (stored as 0). */
static int read_uid(const char **pp, uint32_t *v_r)
{
	const char *p = *pp;
	uint64_t v = 0;

	if (*p == '*') {
		*pp = p + 1;
		*v_r = 0;
		return 0;
	}
	if (*p < '1' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++)
		if ((v = v * 10 + (uint64_t)(*p - '0')) > UINT32_MAX)
			return -1;
	*pp = p;
	*v_r = (uint32_t)v;
	return 0;
}

/* sequence-set (RFC 3501 §9), of UIDs. */
static int read_set(struct parser *ps, struct sq_node *n)
{
	const char *p = ps->p;
	size_t cap = 1;

	for (const char *q = p; !at_end_of_token(*q); q++)
		cap += *q == ',';
	n->ranges = calloc(cap, sizeof(*n->ranges));
	if (!n->ranges)
		return -ENOMEM;
	for (;;) {
		struct sq_range *g = &n->ranges[n->nranges];

		if (n->nranges >= cap || read_uid(&p, &g->lo) < 0)
			return fail(ps, "not a UID set");
		g->hi = g->lo;
		if (*p == ':' && (p++, read_uid(&p, &g->hi) < 0))
			return fail(ps, "not a UID set");
		n->nranges++;
		if (*p != ',')
			break;
		p++;
	}
	if (!at_end_of_token(*p))
		return fail(ps, "not a UID set");
	ps->p = p;
	return 0;
}

/* flag-keyword = atom: ATOM-CHARs only (RFC 3501 §9). */
static int is_atom(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || strchr("(){%*\"\\]", *s))
			return 0;
	return 1;
}

static int read_group(struct parser *ps, unsigned depth, char close, struct sq_node **n_r);

/* One search-key at nesting DEPTH. */
static int read_key(struct parser *ps, unsigned depth, struct sq_node **n_r)
{
	char word[16];
	size_t len = 0;
	size_t k;
	struct sq_node *n;
	int r = 0;

	if (depth > SQ_MAX_DEPTH)
		return fail(ps, "nested deeper than %d", SQ_MAX_DEPTH);
	if (*ps->p == '(') {
		ps->p++;
		return read_group(ps, depth + 1, ')', n_r);
	}
	if ((*ps->p >= '0' && *ps->p <= '9') || *ps->p == '*')
		return fail(ps, "sequence numbers are not taken: use UID");
	while (!at_end_of_token(ps->p[len]) && len < sizeof(word) - 1) {
		word[len] = ps->p[len];
		len++;
	}
	word[len] = '\0';
	for (k = 0; k < NKEYS; k++)
		if (keys[k].name && at_end_of_token(ps->p[len]) && strcasecmp(word, keys[k].name) == 0)
			break;
	if (len == 0)
		return fail(ps, "search key expected");
	if (k == NKEYS)
		return fail(ps, "unknown search key");
	ps->p += len;
	n = new_node(ps, (enum sq_kind)k, &r);
	if (!n)
		return r;
	if (keys[k].arg != A_NONE) {
		if (*ps->p != ' ') {
			sq_free(n);
			return fail(ps, "%s needs an argument", keys[k].name);
		}
		while (*ps->p == ' ')
			ps->p++;
	}
	switch (keys[k].arg) {
	case A_NONE:
		break;
	case A_STR:
		r = read_string(ps, &n->str, NULL);
		break;
	case A_HEADER:
		r = read_string(ps, &n->field, NULL);
		for (const char *f = n->field; r == 0 && *f; f++)
			if ((unsigned char)*f <= ' ' || (unsigned char)*f >= 0x7f || *f == ':')
				r = fail(ps, "not a header field name");
		if (r == 0 && !n->field[0])
			r = fail(ps, "not a header field name");
		if (r == 0 && *ps->p != ' ')
			r = fail(ps, "HEADER needs a field name and a string");
		while (r == 0 && *ps->p == ' ')
			ps->p++;
		if (r == 0)
			r = read_string(ps, &n->str, NULL);
		break;
	case A_DATE:
		r = read_date(ps, n);
		break;
	case A_NUM:
		r = read_number(ps, &n->size);
		break;
	case A_SET:
		r = read_set(ps, n);
		break;
	case A_ATOM:
		r = read_string(ps, &n->str, NULL);
		if (r == 0 && !is_atom(n->str))
			r = fail(ps, "not a keyword");
		break;
	case A_KEY:
		r = read_key(ps, depth + 1, &n->kids);
		break;
	case A_KEY2:
		r = read_key(ps, depth + 1, &n->kids);
		if (r == 0 && *ps->p != ' ')
			r = fail(ps, "OR needs two keys");
		while (r == 0 && *ps->p == ' ')
			ps->p++;
		if (r == 0)
			r = read_key(ps, depth + 1, &n->kids->next);
		break;
	}
	if (r < 0) {
		sq_free(n);
		return r;
	}
	*n_r = n;
	return 0;
}

/* Keys up to CLOSE (')' or the end), as one normalised node: the key itself
 * when there is one, else an AND of them with inner groups spliced in. */
static int read_group(struct parser *ps, unsigned depth, char close, struct sq_node **n_r)
{
	struct sq_node *first = NULL, **tail = &first, *k, *and;
	size_t count = 0;
	int r = 0;

	if (depth > SQ_MAX_DEPTH)
		return fail(ps, "nested deeper than %d", SQ_MAX_DEPTH);
	for (;;) {
		while (*ps->p == ' ')
			ps->p++;
		if (*ps->p == close)
			break;
		if (*ps->p == '\0' || *ps->p == ')') {
			r = fail(ps, *ps->p ? "unbalanced )" : "unbalanced (");
			goto out;
		}
		r = read_key(ps, depth, &k);
		if (r < 0)
			goto out;
		if (*ps->p != '\0' && *ps->p != ' ' && *ps->p != ')') {
			sq_free(k);
			r = fail(ps, "space expected between keys");
			goto out;
		}
		if (k->kind == SQ_AND) {   /* splice the group's keys in */
			*tail = k->kids;
			for (; *tail; tail = &(*tail)->next)
				count++;
			k->kids = NULL;
			sq_free(k);
		} else {
			*tail = k;
			tail = &k->next;
			count++;
		}
	}
	if (count == 0) {
		r = fail(ps, close ? "empty parentheses" : "empty query");
		goto out;
	}
	if (close)
		ps->p++;
	if (count == 1) {
		*n_r = first;
		return 0;
	}
	and = new_node(ps, SQ_AND, &r);
	if (!and)
		goto out;
	and->kids = first;
	*n_r = and;
	return 0;
out:
	sq_free(first);
	return r;
}

int sq_parse(const char *name, struct sq_node **root_r, char *err, size_t errlen)
{
	struct parser ps = { .p = name, .err = err, .errlen = errlen };
	int r;

	*root_r = NULL;
	if (errlen)
		err[0] = '\0';
	r = check_input(&ps, (const unsigned char *)name);
	if (r == 0)
		r = read_group(&ps, 0, '\0', root_r);
	if (r == -ENOMEM)
		fail(&ps, "out of memory");
	return r;
}

unsigned sq_needs(const struct sq_node *q)
{
	unsigned need = 0;

	for (; q; q = q->next) {
		need |= sq_needs(q->kids);
		if ((q->kind >= SQ_ANSWERED && q->kind <= SQ_UNKEYWORD))
			need |= SQ_NEEDS_FLAGS;
		else if (q->kind == SQ_GMRAW)
			need |= SQ_NEEDS_GMRAW;
		else if (q->kind == SQ_UID)
			need |= SQ_NEEDS_UID;
		else if (q->kind == SQ_BODY || q->kind == SQ_TEXT)
			need |= SQ_NEEDS_BODY;
		for (const char *s = q->str; s && *s; s++)
			if ((unsigned char)*s >= 0x80)
				need |= SQ_NEEDS_UTF8;
	}
	return need;
}

/* ---- writing ---------------------------------------------------------------- */

struct out {
	char *s;
	size_t len, cap;
	int oom;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->oom)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = (o->len + n + 1) * 2;
		char *p = realloc(o->s, cap);

		if (!p) {
			o->oom = 1;
			return;
		}
		o->s = p;
		o->cap = cap;
	}
	memcpy(o->s + o->len, s, n);
	o->len += n;
	o->s[o->len] = '\0';
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* A string as read_string() reads it back: an atom where possible. */
static void put_string(struct out *o, const char *s)
{
	int atom = *s != '\0';

	for (const char *p = s; *p; p++)
		if (strchr(" ()\"\\{", *p))
			atom = 0;
	if (!atom)
		put(o, "\"", 1);
	for (; *s; s++) {
		if (*s == '/')
			puts_(o, DIVSLASH);
		else if (*s == '"' || *s == '\\')
			put(o, "\\", 1), put(o, s, 1);
		else
			put(o, s, 1);
	}
	if (!atom)
		put(o, "\"", 1);
}

static void put_node(struct out *o, const struct sq_node *n, int top)
{
	char buf[48];

	if (n->kind == SQ_AND) {
		if (!top)
			put(o, "(", 1);
		for (const struct sq_node *k = n->kids; k; k = k->next) {
			put_node(o, k, 0);
			if (k->next)
				put(o, " ", 1);
		}
		if (!top)
			put(o, ")", 1);
		return;
	}
	puts_(o, keys[n->kind].name);
	switch (keys[n->kind].arg) {
	case A_NONE:
		return;
	case A_STR:
	case A_ATOM:
		put(o, " ", 1);
		put_string(o, n->str);
		return;
	case A_HEADER:
		put(o, " ", 1);
		put_string(o, n->field);
		put(o, " ", 1);
		put_string(o, n->str);
		return;
	case A_DATE:
		snprintf(buf, sizeof(buf), " %d-%s-%04d", n->day, months[n->month - 1], n->year);
		break;
	case A_NUM:
		snprintf(buf, sizeof(buf), " %" PRIu64, n->size);
		break;
	case A_SET:
		for (size_t i = 0; i < n->nranges; i++) {
			const struct sq_range *g = &n->ranges[i];
			char a[12] = "*", b[12] = "*";

			if (g->lo)
				snprintf(a, sizeof(a), "%" PRIu32, g->lo);
			if (g->hi)
				snprintf(b, sizeof(b), "%" PRIu32, g->hi);
			snprintf(buf, sizeof(buf), "%s%s%s%s", i ? "," : " ", a,
			         g->lo == g->hi ? "" : ":", g->lo == g->hi ? "" : b);
			puts_(o, buf);
		}
		return;
	case A_KEY:
	case A_KEY2:
		for (const struct sq_node *k = n->kids; k; k = k->next) {
			put(o, " ", 1);
			put_node(o, k, 0);
		}
		return;
	}
	puts_(o, buf);
}

char *sq_format(const struct sq_node *q)
{
	struct out o = { 0 };

	put(&o, "", 0);
	put_node(&o, q, 1);
	if (o.oom) {
		free(o.s);
		errno = ENOMEM;
		return NULL;
	}
	return o.s;
}

/* ---- matching ---------------------------------------------------------------- */

/* A copy of S folded for comparison: ASCII and Latin-1 letters (U+00C0 to
 * U+00DE but U+00D7) to lower case; both have a lower case of the same
 * length, so folded needles are found in folded haystacks. */
static char *fold(const char *s, size_t len)
{
	char *f = malloc(len + 1);

	if (!f)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		f[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		if (c == 0xc3 && i + 1 < len) {
			unsigned char d = (unsigned char)s[i + 1];

			f[i + 1] = (char)(d >= 0x80 && d <= 0x9e && d != 0x97 ? d + 32 : d);
			i++;
		}
	}
	f[len] = '\0';
	return f;
}

/* Whether NEEDLE is in HAY (LEN bytes), folded: 1, 0 or -ENOMEM. */
static int contains(const char *hay, size_t len, const char *needle)
{
	size_t nlen = strlen(needle);
	char *h, *n;
	int r;

	if (nlen == 0)
		return 1;
	h = fold(hay, len);
	n = fold(needle, nlen);
	r = !h || !n ? -ENOMEM : memmem(h, len, n, nlen) != NULL;
	free(h);
	free(n);
	return r;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t civil_days(int64_t y, int m, int d)
{
	int64_t era, yoe, doy;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

/* The calendar day of T in the zone OFF seconds east of UTC. */
static int64_t day_of(time_t t, int off)
{
	int64_t s = (int64_t)t + off;

	return s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
}

static int match_date(const struct sq_node *q, const struct sq_message *m)
{
	int sent = q->kind >= SQ_SENTBEFORE;
	int64_t day, want = civil_days(q->year, q->month, q->day);

	if (sent && !m->has_date)
		return 0;
	day = sent ? day_of(m->date, m->date_off) : day_of(m->internaldate, m->internal_off);
	switch (sent ? q->kind - SQ_SENTBEFORE + SQ_BEFORE : q->kind) {
	case SQ_BEFORE:
		return day < want;
	case SQ_ON:
		return day == want;
	default:
		return day >= want;
	}
}

static int match_uid(const struct sq_node *q, const struct sq_message *m)
{
	uint32_t star = m->max_uid ? m->max_uid : m->uid;

	for (size_t i = 0; i < q->nranges; i++) {
		uint32_t a = q->ranges[i].lo ? q->ranges[i].lo : star;
		uint32_t b = q->ranges[i].hi ? q->ranges[i].hi : star;

		if ((a <= b && m->uid >= a && m->uid <= b) || (a > b && m->uid >= b && m->uid <= a))
			return 1;
	}
	return 0;
}

int sq_match(const struct sq_node *q, const struct sq_message *m)
{
	static const char *const fields[] = {
		[SQ_FROM - SQ_FROM] = "From", [SQ_TO - SQ_FROM] = "To", [SQ_CC - SQ_FROM] = "Cc",
		[SQ_BCC - SQ_FROM] = "Bcc", [SQ_SUBJECT - SQ_FROM] = "Subject",
	};
	const char *v;
	size_t len;
	int r;

	switch (q->kind) {
	case SQ_ALL:
		return 1;
	case SQ_AND:
		for (const struct sq_node *k = q->kids; k; k = k->next)
			if ((r = sq_match(k, m)) <= 0)
				return r;
		return 1;
	case SQ_OR:
		r = sq_match(q->kids, m);
		return r != 0 ? r : sq_match(q->kids->next, m);
	case SQ_NOT:
		r = sq_match(q->kids, m);
		return r < 0 ? r : !r;
	case SQ_FROM: case SQ_TO: case SQ_CC: case SQ_BCC: case SQ_SUBJECT: case SQ_HEADER:
		r = m->header(m->ctx, q->kind == SQ_HEADER ? q->field : fields[q->kind - SQ_FROM],
		              &v, &len);
		return r <= 0 ? r : contains(v, len, q->str);
	case SQ_BODY:
	case SQ_TEXT:
		r = (q->kind == SQ_BODY ? m->body : m->text)(m->ctx, &v, &len);
		return r < 0 ? r : contains(v, len, q->str);
	case SQ_BEFORE: case SQ_ON: case SQ_SINCE:
	case SQ_SENTBEFORE: case SQ_SENTON: case SQ_SENTSINCE:
		return match_date(q, m);
	case SQ_LARGER:
		return m->size > q->size;
	case SQ_SMALLER:
		return m->size < q->size;
	case SQ_UID:
		return match_uid(q, m);
	default:   /* flag keys and X-GM-RAW: only a server knows */
		return -EINVAL;
	}
}
