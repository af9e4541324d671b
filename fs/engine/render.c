/* render.c - the text and parts views of a message (SPEC §9).
 *
 * GMime parses MIME, undoes the transfer encodings, converts charsets and
 * decodes RFC 2047 words and RFC 2231 parameters; libxml2's forgiving HTML
 * parser reads real-world HTML. What is written here is what those libraries
 * do not say: which parts a reader sees, and where in the message each part
 * begins and ends (GMime keeps a leaf's content as a window on the message,
 * but not the extent of a multipart or of an embedded message, which
 * BODYSTRUCTURE's sizes and BODY[n] need).
 *
 * Thread safety: every GMime and libxml2 object is made and freed within one
 * call. Shared state is only what the libraries set up in render_init():
 * GMime's charset tables and default parser options (read only) and its
 * iconv cache (which has its own lock), libxml2's parser globals.
 */
#include "fs/engine/render.h"
#include "fs/engine/layout.h"
#include "net/mime.h"
#include "net/utf8.h"

#include <gmime/gmime.h>
#include <libxml/HTMLparser.h>
#include <libxml/HTMLtree.h>

#include <errno.h>
#include <iconv.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FFFD "\xef\xbf\xbd"

/* Shared state that the libraries guard with locks of their own, which
 * ThreadSanitizer cannot see (it took their use from several threads for
 * data races), is made before any thread renders and kept: a converter of
 * each charset mail mostly comes in (net/mime.h, mime_charset_keep: glibc
 * would unload and load their modules again), and every charset a text
 * is converted from later. */
static const char *const kept_charsets[] = {
	"WINDOWS-1250", "WINDOWS-1251", "WINDOWS-1252", "WINDOWS-1253", "WINDOWS-1254",
	"WINDOWS-1255", "WINDOWS-1256", "WINDOWS-1257", "WINDOWS-1258", "ISO-8859-2",
	"ISO-8859-3", "ISO-8859-4", "ISO-8859-5", "ISO-8859-6", "ISO-8859-7", "ISO-8859-8",
	"ISO-8859-9", "ISO-8859-10", "ISO-8859-13", "ISO-8859-14", "ISO-8859-15", "ISO-8859-1",
	"ISO-8859-16", "KOI8-R", "KOI8-U", "SHIFT_JIS", "CP932", "EUC-JP", "ISO-2022-JP",
	"GB2312", "GBK", "GB18030", "BIG5", "BIG5-HKSCS", "EUC-KR", "CP949", "ISO-2022-KR",
	"TIS-620", "IBM437", "IBM850", "MACINTOSH", "UTF-7", "UTF-16", "UTF-32",
};

/* The same for GLib's time zones: GMime makes one for each message's Date,
 * GLib keeps them in a cache behind its own locks and frees one with its
 * last date. Those of every quarter hour from -12:00 to +14:00, made here
 * before any thread renders, stay. */
#define ZONE_QUARTERS (26 * 4 + 1)
static GTimeZone *kept_zones[ZONE_QUARTERS + 2];

void render_init(void)
{
	g_mime_init();
	xmlInitParser();
	for (size_t i = 0; i < sizeof(kept_charsets) / sizeof(kept_charsets[0]); i++)
		mime_charset_keep(kept_charsets[i]);
	for (int q = 0; q < ZONE_QUARTERS; q++)
		kept_zones[q] = g_time_zone_new_offset((q - 12 * 4) * 15 * 60);
	kept_zones[ZONE_QUARTERS] = g_time_zone_new_utc();
	kept_zones[ZONE_QUARTERS + 1] = g_time_zone_new_local();
}

void render_done(void)
{
	for (size_t i = 0; i < sizeof(kept_zones) / sizeof(kept_zones[0]); i++)
		if (kept_zones[i])
			g_time_zone_unref(kept_zones[i]);
	xmlCleanupParser();
	g_mime_shutdown();
}

/* ---- small helpers ------------------------------------------------------ */

static char *lower_dup(const char *s)
{
	char *d = strdup(s ? s : "");

	for (char *p = d; p && *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return d;
}

static int is_type(const struct bs_part *p, const char *type, const char *subtype)
{
	return p->type && strcasecmp(p->type, type) == 0 &&
	       (!subtype || (p->subtype && strcasecmp(p->subtype, subtype) == 0));
}

static int is_rfc822(const struct bs_part *p)
{
	return is_type(p, "message", "rfc822") && p->nkids == 1;
}

static int is_multipart(const struct bs_part *p)
{
	return is_type(p, "multipart", NULL) && p->nkids > 0;
}

static const char *param(const struct bs_param *ps, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (ps[i].name && strcasecmp(ps[i].name, name) == 0)
			return ps[i].value;
	return NULL;
}

/* The number of kid I (from 0) of P, numbered SECTION (RFC 3501 §6.4.5, as
 * net/bodystructure.h says). */
static void kid_section(const struct bs_part *p, const char *section, size_t i, char *out)
{
	if (is_rfc822(p)) {
		if (is_multipart(&p->kids[0]))
			snprintf(out, BS_SECTION_MAX, "%s", section);
		else
			snprintf(out, BS_SECTION_MAX, "%s%s1", section, *section ? "." : "");
	} else {
		snprintf(out, BS_SECTION_MAX, "%s%s%zu", section, *section ? "." : "", i + 1);
	}
}

/* ---- GMime over the caller's bytes -------------------------------------- */

/* A GMime memory stream reading MSG in place. GMimeStreamMem reads from a
 * GByteArray; g_byte_array_new_take() wraps the bytes without copying them
 * (a cached message may be tens of MB), and g_byte_array_free(, FALSE) in
 * mem_close() hands them back unfreed. Nothing here writes to the stream, so
 * the array never reallocates what it does not own. */
struct mem {
	GByteArray *arr;
	GMimeStream *stream;
};

static void mem_open(struct mem *m, const char *msg, size_t len)
{
	m->arr = len ? g_byte_array_new_take((guint8 *)msg, len) : g_byte_array_new();
	m->stream = g_mime_stream_mem_new_with_byte_array(m->arr);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(m->stream), FALSE);
}

static void mem_close(struct mem *m)
{
	g_object_unref(m->stream);
	g_byte_array_free(m->arr, FALSE);
}

/* The first header's offset in O's header block (for a message, the
 * smaller of the message's and its body's: GMime splits one block between
 * them), or -1. */
static gint64 hdr_start(GMimeObject *o)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(o);
	gint64 at = -1;

	if (g_mime_header_list_get_count(hl) > 0)
		at = g_mime_header_get_offset(g_mime_header_list_get_header_at(hl, 0));
	if (GMIME_IS_MESSAGE(o) && GMIME_MESSAGE(o)->mime_part) {
		gint64 b = hdr_start(GMIME_MESSAGE(o)->mime_part);

		if (b >= 0 && (at < 0 || b < at))
			at = b;
	}
	return at;
}

static int is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A header's value as Dovecot's BODYSTRUCTURE writes it (RFC 3501 leaves
 * the unfolding to the server): without the white space after the colon,
 * line breaks removed (a space put in when the next line does not start
 * with one); with HUMAN (the envelope's subject), every run of white space
 * one space and none at either end. NULL when absent; errno ENOMEM on
 * failure. */
static char *raw_header(GMimeObject *o, const char *name, int human)
{
	GMimeHeader *h = g_mime_header_list_get_header(g_mime_object_get_header_list(o), name);
	const char *v = h ? g_mime_header_get_raw_value(h) : NULL;
	char *out, *d;

	if (!v) {
		errno = 0;
		return NULL;
	}
	while (is_wsp(*v))
		v++;
	if (!(out = malloc(strlen(v) + 1)))
		return NULL;
	for (d = out; *v; v++) {
		if (human && is_wsp(*v)) {
			if (d > out && d[-1] != ' ')
				*d++ = ' ';
		} else if (*v == '\r' || *v == '\n') {
			if (v[1] && !is_wsp(v[1]))
				*d++ = ' ';
		} else {
			*d++ = *v;
		}
	}
	if (human && d > out && d[-1] == ' ')
		d--;
	*d = '\0';
	return out;
}

/* ---- where parts begin and end ------------------------------------------ */

struct bnd {
	const char *b;
	size_t len;
};

struct span {
	char section[BS_SECTION_MAX];
	int header;             /* BODY[S.HEADER] (or BODY[HEADER]) rather than BODY[S] */
	size_t start, end;
};

struct conv {
	const char *msg;
	size_t len;
	GByteArray *arr;        /* the message's, to know GMime's windows on it */
	size_t nparts;
	struct bnd *bnds;       /* the boundaries of the enclosing multiparts */
	size_t nbnds, capbnds;
	struct span *spans;     /* for render_message_source() */
	size_t nspans, capspans;
};

#define UNKNOWN ((size_t)-1)

static size_t line_next(const struct conv *c, size_t at)
{
	const char *nl = at < c->len ? memchr(c->msg + at, '\n', c->len - at) : NULL;

	return nl ? (size_t)(nl - c->msg) + 1 : c->len;
}

/* Where the line break before AT begins (it belongs to the delimiter that
 * starts at AT, RFC 2046 §5.1.1). */
static size_t break_before(const struct conv *c, size_t at)
{
	if (at >= 2 && c->msg[at - 2] == '\r' && c->msg[at - 1] == '\n')
		return at - 2;
	if (at >= 1 && c->msg[at - 1] == '\n')
		return at - 1;
	return at;
}

/* Whether the line at AT is a delimiter of one of the first N boundaries:
 * "--" boundary ["--"] then only white space (RFC 2046 §5.1.1, the test
 * GMime's parser makes). 2 for a close delimiter, 1 for another, 0 for
 * none; *LEVEL_R (may be NULL) says whose. */
static int delimiter(const struct conv *c, size_t at, size_t n, size_t *level_r)
{
	size_t end = line_next(c, at), len;
	const char *s = c->msg + at;

	if (end - at < 2 || s[0] != '-' || s[1] != '-')
		return 0;
	len = end - at;
	if (len && s[len - 1] == '\n')
		len--;
	if (len && s[len - 1] == '\r')
		len--;
	for (size_t i = n; i-- > 0;) {
		const struct bnd *b = &c->bnds[i];
		size_t k = 2 + b->len;
		int kind = 1;

		if (len < k || memcmp(s + 2, b->b, b->len) != 0)
			continue;
		if (len >= k + 2 && s[k] == '-' && s[k + 1] == '-') {
			kind = 2;
			k += 2;
		}
		while (k < len && (s[k] == ' ' || s[k] == '\t'))
			k++;
		if (k < len && kind == 2) {
			/* "--b--x": not a close delimiter; maybe an open one? */
			k = 2 + b->len;
			kind = 1;
			while (k < len && (s[k] == ' ' || s[k] == '\t'))
				k++;
		}
		if (k == len) {
			if (level_r)
				*level_r = i;
			return kind;
		}
	}
	return 0;
}

/* The first delimiter line of the first N boundaries at or after AT, or
 * the end of the message. */
static size_t next_delimiter(const struct conv *c, size_t at, size_t n)
{
	for (; at < c->len; at = line_next(c, at))
		if (delimiter(c, at, n, NULL))
			return at;
	return c->len;
}

/* Where the body begins after a header block that starts at AT: after its
 * first empty line, or at a delimiter line when there is none before it. */
static size_t header_end(const struct conv *c, size_t at)
{
	for (; at < c->len; at = line_next(c, at)) {
		const char *s = c->msg + at;

		if (s[0] == '\n' || (s[0] == '\r' && at + 1 < c->len && s[1] == '\n'))
			return line_next(c, at);
		if (delimiter(c, at, c->nbnds, NULL))
			return at;
	}
	return c->len;
}

/* A leaf's content as GMime found it: [start, end) in the message. */
static int leaf_window(const struct conv *c, GMimeObject *o, size_t *start_r, size_t *end_r)
{
	GMimeDataWrapper *w = GMIME_IS_PART(o) ? g_mime_part_get_content(GMIME_PART(o)) : NULL;
	GMimeStream *s = w ? g_mime_data_wrapper_get_stream(w) : NULL;
	gint64 end;

	/* Only a window on our own bytes tells a position. */
	if (!s || !GMIME_IS_STREAM_MEM(s) || GMIME_STREAM_MEM(s)->buffer != c->arr)
		return 0;
	end = s->bound_end < 0 ? (gint64)c->len : s->bound_end;
	if (s->bound_start < 0 || end < s->bound_start || (guint64)end > c->len)
		return 0;
	*start_r = (size_t)s->bound_start;
	*end_r = (size_t)end;
	return 1;
}

/* Where O's body begins, or UNKNOWN. */
static size_t body_start(const struct conv *c, GMimeObject *o)
{
	size_t s, e;
	gint64 h;

	if (leaf_window(c, o, &s, &e))
		return s;
	h = hdr_start(o);
	if (h < 0 && GMIME_IS_MESSAGE_PART(o) && g_mime_message_part_get_message(GMIME_MESSAGE_PART(o))) {
		/* A multipart/digest part without a header of its own: the
		 * embedded message starts the body (RFC 2046 §5.1.5). */
		h = hdr_start(GMIME_OBJECT(g_mime_message_part_get_message(GMIME_MESSAGE_PART(o))));
		return h < 0 || (guint64)h > c->len ? UNKNOWN : (size_t)h;
	}
	return h < 0 || (guint64)h > c->len ? UNKNOWN : header_end(c, (size_t)h);
}

/* Where a body that starts at AT ends: before the line break of the next
 * delimiter of the first N boundaries, or at the end of the message. */
static size_t body_stop(const struct conv *c, size_t at, size_t n)
{
	size_t d = next_delimiter(c, at, n);

	return d < c->len ? break_before(c, d) : c->len;
}

static int bnd_push(struct conv *c, const char *b)
{
	if (c->nbnds == c->capbnds) {
		size_t cap = c->capbnds ? c->capbnds * 2 : 16;
		struct bnd *n = realloc(c->bnds, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		c->bnds = n;
		c->capbnds = cap;
	}
	c->bnds[c->nbnds].b = b ? b : "";
	c->bnds[c->nbnds].len = b ? strlen(b) : 0;
	c->nbnds++;
	return 0;
}

static GMimeObject *multipart_last(GMimeObject *o)
{
	int n = g_mime_multipart_get_count(GMIME_MULTIPART(o));

	return n > 0 ? g_mime_multipart_get_part(GMIME_MULTIPART(o), n - 1) : NULL;
}

/* Where O's body ends, O's enclosing multiparts' boundaries being on
 * c->bnds. A leaf ends where GMime's window on it ends. A container ends
 * where its last part ends (GMime nests up to 1,024 levels, so this
 * follows the last parts down in a loop, not by recursion), or, for a
 * multipart whose close delimiter follows, at the end of its epilogue:
 * the next delimiter of an enclosing multipart, or the end of the message. */
static int body_end(struct conv *c, GMimeObject *o, size_t *end_r)
{
	size_t base = c->nbnds, x = UNKNOWN, s, e;
	GMimeObject *path = o;
	int r = 0;

	for (;;) {
		if (leaf_window(c, path, &s, &e)) {
			x = e;
			break;
		}
		if (GMIME_IS_MULTIPART(path)) {
			GMimeObject *last = multipart_last(path);

			if ((r = bnd_push(c, g_mime_multipart_get_boundary(GMIME_MULTIPART(path)))) < 0)
				goto out;
			if (last) {
				path = last;
				continue;
			}
		} else if (GMIME_IS_MESSAGE_PART(path)) {
			GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(path));

			if (m && m->mime_part) {
				path = m->mime_part;
				continue;
			}
		}
		/* No content: the body runs to the next delimiter. */
		s = body_start(c, path);
		if (s == UNKNOWN) {
			x = UNKNOWN;
			break;
		}
		x = body_stop(c, s, c->nbnds);
		if (x < s)
			x = s;
		break;
	}
	/* Back up: each multipart on the way whose close delimiter comes next
	 * also holds its epilogue. */
	while (c->nbnds > base) {
		size_t level = c->nbnds - 1, at, lv;

		c->nbnds--;
		if (x == UNKNOWN)
			continue;
		/* the line after the break that ends the last part */
		if (x + 1 < c->len && c->msg[x] == '\r' && c->msg[x + 1] == '\n')
			at = x + 2;
		else if (x < c->len && c->msg[x] == '\n')
			at = x + 1;
		else if (x == 0 || c->msg[x - 1] == '\n')
			at = x;
		else
			continue;
		if (delimiter(c, at, level + 1, &lv) == 2 && lv == level)
			x = body_stop(c, line_next(c, at), level);
	}
	*end_r = x;
out:
	c->nbnds = base;
	return r;
}

static int span_add(struct conv *c, const char *section, int header, size_t start, size_t end)
{
	struct span *sp;

	if (c->nspans == c->capspans) {
		size_t cap = c->capspans ? c->capspans * 2 : 16;
		struct span *n = realloc(c->spans, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		c->spans = n;
		c->capspans = cap;
	}
	sp = &c->spans[c->nspans++];
	snprintf(sp->section, sizeof(sp->section), "%s", section);
	sp->header = header;
	sp->start = start;
	sp->end = end < start ? start : end;
	return 0;
}

/* ---- the structure ------------------------------------------------------- */

/* Parameters as Dovecot's BODYSTRUCTURE gives them (and RFC 3501 asks: as
 * written): plain ones in order; RFC 2231 ones, which GMime has joined and
 * decoded, after them by name, as one "NAME*" with the value in RFC 2231
 * form again (utf-8, percent-encoded), or as "NAME" when no part was
 * encoded. An RFC 2047 word in a value stays decoded. */
static int conv_params(GMimeParamList *list, int add_charset, struct bs_param **ps_r, size_t *n_r)
{
	int n = list ? g_mime_param_list_length(list) : 0, pass;
	size_t k = 0, max = (size_t)(n > 0 ? n : 0) + 1;
	struct bs_param *ps;
	int have_charset = 0;

	*ps_r = NULL;
	*n_r = 0;
	if (max > BS_MAX_PARAMS)
		max = BS_MAX_PARAMS;
	/* one more for the default charset */
	if (!(ps = calloc(max + 1, sizeof(*ps))))
		return -ENOMEM;
	for (pass = 0; pass < 2; pass++) {
		/* Dovecot sorts the joined RFC 2231 ones by name. */
		int order[BS_MAX_PARAMS], m = 0;

		for (int i = 0; i < n && m < BS_MAX_PARAMS; i++) {
			GMimeParam *p = g_mime_param_list_get_parameter_at(list, i);
			int rfc2231 = g_mime_param_get_encoding_method(p) == GMIME_PARAM_ENCODING_METHOD_RFC2231;

			if (rfc2231 == pass)
				order[m++] = i;
		}
		for (int a = 1; pass && a < m; a++)
			for (int b = a; b > 0; b--) {
				const char *x = g_mime_param_get_name(g_mime_param_list_get_parameter_at(list, order[b - 1]));
				const char *y = g_mime_param_get_name(g_mime_param_list_get_parameter_at(list, order[b]));
				int t;

				if (strcmp(x ? x : "", y ? y : "") <= 0)
					break;
				t = order[b];
				order[b] = order[b - 1];
				order[b - 1] = t;
			}
		for (int j = 0; j < m && k < max; j++) {
			GMimeParam *p = g_mime_param_list_get_parameter_at(list, order[j]);
			const char *name = g_mime_param_get_name(p) ? g_mime_param_get_name(p) : "";
			const char *value = g_mime_param_get_value(p);
			const char *cs = g_mime_param_get_charset(p), *lang = g_mime_param_get_lang(p);
			struct bs_param *o = &ps[k++];

			if (strcasecmp(name, "charset") == 0)
				have_charset = 1;
			if (pass && cs) {
				size_t vl = strlen(value ? value : "");
				char *v = malloc(strlen(name) + 2), *w = malloc(7 + (lang ? strlen(lang) : 0) + 3 * vl + 1), *q;

				o->name = v;
				o->value = w;
				if (!v || !w)
					goto nomem;
				sprintf(v, "%s*", name);
				q = w + sprintf(w, "utf-8'%s'", lang ? lang : "");
				for (const unsigned char *u = (const unsigned char *)(value ? value : ""); *u; u++) {
					/* RFC 2231 §7 attribute-char */
					if ((*u >= 'a' && *u <= 'z') || (*u >= 'A' && *u <= 'Z') ||
					    (*u >= '0' && *u <= '9') || strchr("!#$&+-.^_`|~", *u))
						*q++ = (char)*u;
					else
						q += sprintf(q, "%%%02X", *u);
				}
				*q = '\0';
			} else {
				o->name = strdup(name);
				o->value = strdup(value ? value : "");
				if (!o->name || !o->value)
					goto nomem;
			}
		}
	}
	/* Dovecot's default for text (RFC 2045 §5.2). */
	if (add_charset && !have_charset && k < BS_MAX_PARAMS) {
		ps[k].name = strdup("charset");
		ps[k].value = strdup("us-ascii");
		k++;
		if (!ps[k - 1].name || !ps[k - 1].value)
			goto nomem;
	}
	if (k == 0) {
		free(ps);
		ps = NULL;
	}
	*ps_r = ps;
	*n_r = k;
	return 0;
nomem:
	for (size_t i = 0; i <= max; i++) {
		free(ps[i].name);
		free(ps[i].value);
	}
	free(ps);
	return -ENOMEM;
}

/* Whether O's Content-Type as written has a boundary: GMime makes one up
 * for a multipart that has none (for writing it out again). */
static int written_boundary(GMimeObject *o)
{
	GMimeHeader *h = g_mime_header_list_get_header(g_mime_object_get_header_list(o), "Content-Type");
	const char *v = h ? g_mime_header_get_raw_value(h) : NULL;
	GMimeContentType *ct = v ? g_mime_content_type_parse(NULL, v) : NULL;
	int has = ct && g_mime_content_type_get_parameter(ct, "boundary");

	if (ct)
		g_object_unref(ct);
	return has;
}

/* The fields every part has: type, parameters, id, description, encoding,
 * disposition. TYPE/SUBTYPE override GMime's (NULL: GMime's). */
static int conv_fields(GMimeObject *o, struct bs_part *p, const char *type, const char *subtype)
{
	GMimeContentType *ct = g_mime_object_get_content_type(o);
	GMimeContentDisposition *cd = g_mime_object_get_content_disposition(o);
	char *enc;
	int r;

	p->type = lower_dup(type ? type : g_mime_content_type_get_media_type(ct));
	p->subtype = lower_dup(subtype ? subtype : g_mime_content_type_get_media_subtype(ct));
	if (!p->type || !p->subtype)
		return -ENOMEM;
	if (!*p->subtype) {
		free(p->subtype);
		p->subtype = strdup(strcmp(p->type, "text") == 0 ? "plain" : "unknown");
		if (!p->subtype)
			return -ENOMEM;
	}
	if (GMIME_IS_MULTIPART(o) && !written_boundary(o)) {
		/* not the boundary GMime made up */
		GMimeHeader *h = g_mime_header_list_get_header(g_mime_object_get_header_list(o),
		                                               "Content-Type");
		const char *v = h ? g_mime_header_get_raw_value(h) : NULL;
		GMimeContentType *w = v ? g_mime_content_type_parse(NULL, v) : NULL;

		r = conv_params(w ? g_mime_content_type_get_parameters(w) : NULL, 0, &p->params,
		                &p->nparams);
		if (w)
			g_object_unref(w);
	} else {
		r = conv_params(g_mime_content_type_get_parameters(ct), strcmp(p->type, "text") == 0,
		                &p->params, &p->nparams);
	}
	if (r < 0)
		return r;
	errno = 0;
	if (!(p->id = raw_header(o, "Content-ID", 0)) && errno)
		return -ENOMEM;
	if (!(p->description = raw_header(o, "Content-Description", 0)) && errno)
		return -ENOMEM;
	if (!(enc = raw_header(o, "Content-Transfer-Encoding", 0)) && errno)
		return -ENOMEM;
	/* The mechanism is a token (RFC 2045 §6.1); a comment may follow. */
	if (enc)
		enc[strcspn(enc, " \t(;")] = '\0';
	p->encoding = lower_dup(enc && *enc ? enc : "7bit");
	free(enc);
	if (!p->encoding)
		return -ENOMEM;
	if (cd && g_mime_content_disposition_get_disposition(cd) &&
	    *g_mime_content_disposition_get_disposition(cd)) {
		if (!(p->disposition = lower_dup(g_mime_content_disposition_get_disposition(cd))))
			return -ENOMEM;
		if ((r = conv_params(g_mime_content_disposition_get_parameters(cd), 0,
		                     &p->disp_params, &p->ndisp_params)) < 0)
			return r;
	}
	return 0;
}

static uint64_t count_lines(const struct conv *c, size_t start, size_t end)
{
	uint64_t n = 0;

	for (const char *s = c->msg + start, *e = c->msg + end;
	     s < e && (s = memchr(s, '\n', (size_t)(e - s))) != NULL; s++)
		n++;
	return n;
}

/* A part with no content of its own: Dovecot's stand-in for a multipart
 * without parts, text/plain of 0 octets, numbered SECTION. */
static int conv_empty(struct conv *c, struct bs_part *p, const char *section)
{
	if (span_add(c, section, 0, 0, 0) < 0)
		return -ENOMEM;
	p->type = strdup("text");
	p->subtype = strdup("plain");
	p->encoding = strdup("7bit");
	p->params = calloc(1, sizeof(*p->params));
	if (!p->type || !p->subtype || !p->encoding || !p->params)
		return -ENOMEM;
	p->nparams = 1;
	p->params[0].name = strdup("charset");
	p->params[0].value = strdup("us-ascii");
	return p->params[0].name && p->params[0].value ? 0 : -ENOMEM;
}

static int conv_part(struct conv *c, GMimeObject *o, struct bs_part *p, const char *section,
                     unsigned depth);

/* Whether O is shown as a container at DEPTH: within the nesting and part
 * bounds a tree may have (net/bodystructure.h), deeper ones are leaves. */
static int container_at(const struct conv *c, GMimeObject *o, unsigned depth)
{
	int kids;

	if (depth + 1 >= BS_MAX_DEPTH)
		return 0;
	if (GMIME_IS_MULTIPART(o)) {
		kids = g_mime_multipart_get_count(GMIME_MULTIPART(o));
		return c->nparts + (size_t)(kids > 0 ? kids : 1) <= BS_MAX_PARTS;
	}
	if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeContentType *ct = g_mime_object_get_content_type(o);

		return g_mime_content_type_is_type(ct, "message", "rfc822") &&
		       c->nparts + 1 <= BS_MAX_PARTS;
	}
	return 0;
}

static int conv_multipart(struct conv *c, GMimeObject *o, struct bs_part *p, const char *section,
                          unsigned depth)
{
	int n = g_mime_multipart_get_count(GMIME_MULTIPART(o)), r;

	if ((r = conv_fields(o, p, "multipart", NULL)) < 0)
		return r;
	p->nkids = n > 0 ? (size_t)n : 1;
	if (!(p->kids = calloc(p->nkids, sizeof(*p->kids))))
		return -ENOMEM;
	c->nparts += p->nkids;
	if (n <= 0) {
		char sub[BS_SECTION_MAX];

		kid_section(p, section, 0, sub);
		return conv_empty(c, &p->kids[0], sub);
	}
	if ((r = bnd_push(c, g_mime_multipart_get_boundary(GMIME_MULTIPART(o)))) < 0)
		return r;
	for (int i = 0; i < n && r == 0; i++) {
		char sub[BS_SECTION_MAX];

		kid_section(p, section, (size_t)i, sub);
		r = conv_part(c, g_mime_multipart_get_part(GMIME_MULTIPART(o), i), &p->kids[i], sub,
		              depth + 1);
	}
	c->nbnds--;
	return r;
}

static int conv_message(struct conv *c, GMimeObject *o, struct bs_part *p, const char *section,
                        unsigned depth)
{
	GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
	GMimeObject *body = m ? m->mime_part : NULL;
	size_t start = body_start(c, o), end, inner;
	char sub[BS_SECTION_MAX];
	int r;

	if ((r = conv_fields(o, p, "message", "rfc822")) < 0 || (r = body_end(c, o, &end)) < 0)
		return r;
	if (start == UNKNOWN || end == UNKNOWN || end < start)
		start = end = 0;
	p->size = end - start;
	p->lines = count_lines(c, start, end);
	errno = 0;
	if (m && !(p->subject = raw_header(GMIME_OBJECT(m), "Subject", 1)) && errno)
		return -ENOMEM;
	p->nkids = 1;
	if (!(p->kids = calloc(1, sizeof(*p->kids))))
		return -ENOMEM;
	c->nparts++;
	/* The embedded header runs from the body's start to the embedded
	 * body's (BODY[S.HEADER] holds the empty line). */
	inner = body ? body_start(c, body) : UNKNOWN;
	if (inner == UNKNOWN || inner < start || inner > end)
		inner = end > start ? header_end(c, start) : start;
	if (inner > end)
		inner = end;
	if ((r = span_add(c, section, 0, start, end)) < 0 ||
	    (r = span_add(c, section, 1, start, inner)) < 0)
		return r;
	if (!body) {
		snprintf(sub, sizeof(sub), "%s%s1", section, *section ? "." : "");
		return conv_empty(c, &p->kids[0], sub);
	}
	if (container_at(c, body, depth + 1) && GMIME_IS_MULTIPART(body))
		snprintf(sub, sizeof(sub), "%s", section);
	else
		snprintf(sub, sizeof(sub), "%s%s1", section, *section ? "." : "");
	return conv_part(c, body, &p->kids[0], sub, depth + 1);
}

static int conv_leaf(struct conv *c, GMimeObject *o, struct bs_part *p, const char *section)
{
	size_t start, end;
	int r;

	if ((r = conv_fields(o, p, NULL, NULL)) < 0)
		return r;
	if (!leaf_window(c, o, &start, &end)) {
		/* A container shown as a leaf, or a leaf GMime found empty. */
		start = body_start(c, o);
		if ((r = body_end(c, o, &end)) < 0)
			return r;
		if (start == UNKNOWN || end == UNKNOWN || end < start)
			start = end = 0;
	}
	p->size = end - start;
	if (strcmp(p->type, "text") == 0 || (strcmp(p->type, "message") == 0 &&
	                                     strcmp(p->subtype, "rfc822") == 0))
		p->lines = count_lines(c, start, end);
	return span_add(c, section, 0, start, end);
}

static int conv_part(struct conv *c, GMimeObject *o, struct bs_part *p, const char *section,
                     unsigned depth)
{
	if (container_at(c, o, depth))
		return GMIME_IS_MULTIPART(o) ? conv_multipart(c, o, p, section, depth)
		                             : conv_message(c, o, p, section, depth);
	return conv_leaf(c, o, p, section);
}

/* GMime builds every part before anything can be bounded (about 1.3 KB
 * each: a 1 MB message of empty parts took 137 MB). A tree holds at most
 * BS_MAX_PARTS parts; a message with many more lines that could be
 * delimiters is refused before GMime sees it. */
#define MAX_DELIMITER_LINES (2 * BS_MAX_PARTS)

static int too_many_parts(const char *msg, size_t len)
{
	size_t n = 0;

	for (const char *s = msg, *e = msg + len; s < e;) {
		const char *nl = memchr(s, '\n', (size_t)(e - s));

		if (e - s >= 2 && s[0] == '-' && s[1] == '-' && ++n > MAX_DELIMITER_LINES)
			return 1;
		if (!nl)
			break;
		s = nl + 1;
	}
	return 0;
}

/* Parses MSG into a tree (ROOT_R, may be NULL) and the spans (in C). */
static int conv_message_top(struct conv *c, const char *msg, size_t len, struct bs_part **root_r)
{
	struct mem mem;
	GMimeParser *parser;
	GMimeMessage *m;
	struct bs_part *root;
	size_t hend;
	int r;

	memset(c, 0, sizeof(*c));
	if (root_r)
		*root_r = NULL;
	/* (a GByteArray counts in guint) */
	if (len > G_MAXUINT || too_many_parts(msg, len))
		return -E2BIG;
	if (!(root = calloc(1, sizeof(*root))))
		return -ENOMEM;
	c->msg = msg;
	c->len = len;
	mem_open(&mem, msg, len);
	c->arr = mem.arr;
	parser = g_mime_parser_new_with_stream(mem.stream);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	m = g_mime_parser_construct_message(parser, NULL);
	g_object_unref(parser);
	hend = header_end(c, 0);
	c->nparts = 1;
	if ((r = span_add(c, "", 1, 0, hend)) < 0)
		goto out;
	if (!m || !m->mime_part) {
		/* Only a header, or what GMime cannot read as a message at
		 * all ("", a line of text): an empty text body after what
		 * passes for the header, as Dovecot reads it. */
		if ((r = conv_empty(c, root, "1")) == 0) {
			c->spans[c->nspans - 1].start = hend;
			c->spans[c->nspans - 1].end = len;
			root->size = len - hend;
			root->lines = count_lines(c, hend, len);
		}
	} else {
		r = conv_part(c, m->mime_part, root,
		              container_at(c, m->mime_part, 0) && GMIME_IS_MULTIPART(m->mime_part) ? "" : "1", 0);
	}
out:
	if (m)
		g_object_unref(m);
	mem_close(&mem);
	free(c->bnds);
	c->bnds = NULL;
	if (r == 0 && root_r) {
		*root_r = root;
	} else {
		bs_free(root);
	}
	return r;
}

int render_structure(const char *msg, size_t len, struct bs_part **root_r)
{
	struct conv c;
	int r = conv_message_top(&c, msg, len, root_r);

	free(c.spans);
	return r;
}

/* ---- the message as a source of sections -------------------------------- */

struct msg_source {
	struct render_source src;
	const char *msg;
	struct span *spans;     /* in the order of the tree */
	size_t nspans;
	size_t next;            /* where the last search ended */
};

static int msg_get(void *ctx, const char *section, int header, const char **data, size_t *len,
                   int *decoded)
{
	struct msg_source *ms = ctx;

	*decoded = 0;
	/* render_text() asks in the tree's order: from where the last one
	 * was found, round, the whole view takes one pass. */
	for (size_t k = 0; k < ms->nspans; k++) {
		size_t i = (ms->next + k) % ms->nspans;
		const struct span *sp = &ms->spans[i];

		if (!sp->header == !header && strcmp(sp->section, section) == 0) {
			*data = ms->msg + sp->start;
			*len = sp->end - sp->start;
			ms->next = i + 1;
			return 0;
		}
	}
	return -ENOENT;
}

struct render_source *render_message_source(const char *msg, size_t len)
{
	struct msg_source *ms = calloc(1, sizeof(*ms));
	struct conv c;
	int r;

	if (!ms)
		return NULL;
	if ((r = conv_message_top(&c, msg, len, NULL)) < 0) {
		free(c.spans);
		free(ms);
		errno = -r;
		return NULL;
	}
	ms->src.get = msg_get;
	ms->src.ctx = ms;
	ms->msg = msg;
	ms->spans = c.spans;
	ms->nspans = c.nspans;
	return &ms->src;
}

void render_message_source_free(struct render_source *src)
{
	struct msg_source *ms = src ? src->ctx : NULL;

	if (ms) {
		free(ms->spans);
		free(ms);
	}
}

/* ---- decoding ------------------------------------------------------------ */

int render_decode(const struct bs_part *p, const char *raw, size_t len, char **out_r, size_t *len_r)
{
	GMimeContentEncoding enc = p->encoding ? g_mime_content_encoding_from_string(p->encoding)
	                                       : GMIME_CONTENT_ENCODING_DEFAULT;
	struct mem in;
	GMimeStream *out;
	GMimeDataWrapper *w;
	GByteArray *arr;
	char *res;

#if !GLIB_CHECK_VERSION(2, 46, 0)
#error "render_decode() hands g_malloc()'d bytes to free()"
#endif
	*out_r = NULL;
	*len_r = 0;
	if (enc != GMIME_CONTENT_ENCODING_BASE64 && enc != GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE &&
	    enc != GMIME_CONTENT_ENCODING_UUENCODE) {
		if (!(res = malloc(len + 1)))
			return -ENOMEM;
		if (len)
			memcpy(res, raw, len);
		res[len] = '\0';
		*out_r = res;
		*len_r = len;
		return 0;
	}
	if (len > G_MAXUINT)
		return -E2BIG;  /* (a GByteArray counts in guint) */
	/* The data wrapper runs GMime's decoding filter (which also finds a
	 * uuencoded body's "begin" line). */
	mem_open(&in, raw, len);
	w = g_mime_data_wrapper_new_with_stream(in.stream, enc);
	out = g_mime_stream_mem_new();
	g_mime_data_wrapper_write_to_stream(w, out);
	g_object_unref(w);
	mem_close(&in);
	/* The decoded bytes are handed over, not copied (an attachment may be
	 * large): since GLib 2.46, g_malloc() is malloc(), so the caller's
	 * free() is right for them. */
	arr = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out));
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(out), FALSE);
	g_object_unref(out);
	*len_r = arr->len;
	g_byte_array_append(arr, (const guint8 *)"", 1);
	*out_r = (char *)g_byte_array_free(arr, FALSE);
	return 0;
}

static int utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;

	while (n > 0) {
		long k = utf8_next(p, n, &cp);

		if (k < 0)
			return 0;
		p += k;
		n -= (size_t)k;
	}
	return 1;
}

/* UTF-8 (valid or not) into B: invalid sequences and NUL become U+FFFD. */
static void add_utf8(struct utf8_buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	while (n > 0) {
		uint32_t cp;
		long k = utf8_next(p, n, &cp);

		if (k < 0 || cp == 0) {
			utf8_buf_add(b, FFFD, 3);
			k = k < 0 ? -k : k;
		} else {
			utf8_buf_add(b, p, (size_t)k);
		}
		p += k;
		n -= (size_t)k;
	}
}

/* Converts with iconv (GMime's, which knows the charset names mail uses);
 * a byte iconv cannot take becomes U+FFFD and the conversion goes on. 0, or
 * -1 when iconv does not know CHARSET. */
static int add_iconv(struct utf8_buf *b, const char *in, size_t len, const char *charset)
{
	iconv_t cd = g_mime_iconv_open("UTF-8", charset);
	char out[4096];
	char *ip = (char *)in;
	size_t il = len;

	if (cd == (iconv_t)-1)
		return -1;
	mime_charset_keep(g_mime_charset_iconv_name(charset));
	for (;;) {
		char *op = out;
		size_t ol = sizeof(out);
		size_t r = g_mime_iconv(cd, il ? &ip : NULL, &il, &op, &ol);
		int err = errno;

		add_utf8(b, out, (size_t)(op - out));
		if (r != (size_t)-1 && il == 0) {
			/* Flush the shift state (ISO-2022-JP and kin). */
			op = out;
			ol = sizeof(out);
			g_mime_iconv(cd, NULL, NULL, &op, &ol);
			add_utf8(b, out, (size_t)(op - out));
			break;
		}
		if (r == (size_t)-1 && err == E2BIG)
			continue;
		if (r == (size_t)-1 && il > 0) {
			/* EILSEQ, or EINVAL: a sequence cut at the end. */
			utf8_buf_add(b, FFFD, 3);
			ip++;
			il--;
			iconv(cd, NULL, NULL, NULL, NULL);
			continue;
		}
		break;
	}
	g_mime_iconv_close(cd);
	return 0;
}

static int has_c1_bytes(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80 && (unsigned char)s[i] <= 0x9f)
			return 1;
	return 0;
}

/* Text in CHARSET (NULL: not said) to UTF-8 into B, never losing it: no
 * charset, US-ASCII or one iconv does not know is taken as UTF-8 when it is
 * valid UTF-8, else as Windows-1252 (which is what senders of 8-bit text
 * without a charset mostly meant, and what WHATWG's encoding standard reads
 * "us-ascii" and "iso-8859-1" as); an ISO-8859 text holding bytes 0x80-0x9F
 * (C1 controls there, never meant) is read as the matching Windows code
 * page, as GMime's own text parts do. */
static void add_text(struct utf8_buf *b, const char *in, size_t len, const char *charset)
{
	const char *cs = charset && *charset ? g_mime_charset_canon_name(charset) : NULL;

	if (!cs || strcasecmp(cs, "us-ascii") == 0 || strcasecmp(cs, "ascii") == 0 ||
	    strcasecmp(cs, "utf-8") == 0 || strcasecmp(cs, "utf8") == 0) {
		if ((cs && strncasecmp(cs, "utf", 3) == 0) || utf8_valid(in, len)) {
			add_utf8(b, in, len);
			return;
		}
		cs = "windows-1252";
	} else if (strncasecmp(cs, "iso-8859-", 9) == 0 && has_c1_bytes(in, len)) {
		cs = g_mime_charset_iso_to_windows(cs);
	}
	if (add_iconv(b, in, len, cs) == 0)
		return;
	if (utf8_valid(in, len))
		add_utf8(b, in, len);
	else
		add_iconv(b, in, len, "windows-1252");
}

/* ---- HTML to text --------------------------------------------------------- */

static int name_in(const xmlChar *name, const char *const *list)
{
	for (; *list; list++)
		if (strcasecmp((const char *)name, *list) == 0)
			return 1;
	return 0;
}

/* Elements whose content a browser does not show. */
static const char *const html_hidden[] = {
	"script", "style", "head", "title", "template", "noscript", "object", "embed",
	"iframe", "svg", "math", "select", "datalist", NULL,
};

/* Elements that begin and end a line (HTML's block-level elements, and
 * those that display as rows or list items). */
static const char *const html_block[] = {
	"address", "article", "aside", "blockquote", "body", "caption", "center", "dd",
	"details", "dialog", "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure",
	"footer", "form", "frameset", "h1", "h2", "h3", "h4", "h5", "h6", "header",
	"hgroup", "hr", "html", "legend", "li", "listing", "main", "menu", "nav", "ol",
	"p", "plaintext", "pre", "section", "summary", "table", "tbody", "tfoot", "thead",
	"tr", "ul", "xmp", NULL,
};

struct html_out {
	struct utf8_buf b;
	int breaks;             /* line breaks owed before the next text (at most 2) */
	int space;              /* a collapsed white space owed */
	size_t line;            /* where the current line starts in b */
};

static void html_owe(struct html_out *h, int n)
{
	if (h->breaks < n)
		h->breaks = n;
}

/* Ends the current line: its trailing spaces go, and no blank line comes
 * first or after another. */
static void html_newline(struct html_out *h)
{
	while (h->b.len > h->line && h->b.data[h->b.len - 1] == ' ')
		h->b.len--;
	if (h->b.len == 0 || (h->b.len >= 2 && h->b.data[h->b.len - 1] == '\n' &&
	                      h->b.data[h->b.len - 2] == '\n'))
		return;
	utf8_buf_addc(&h->b, '\n');
	h->line = h->b.len;
}

static void html_char(struct html_out *h, const char *c, size_t n)
{
	if (h->b.len > 0 && h->breaks > 0) {
		for (int i = 0; i < h->breaks; i++)
			html_newline(h);
		h->space = 0;
	}
	h->breaks = 0;
	if (h->space && h->b.len > h->line)
		utf8_buf_addc(&h->b, ' ');
	h->space = 0;
	utf8_buf_add(&h->b, c, n);
}

static void html_text(struct html_out *h, const char *s, int pre)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	while (n > 0) {
		uint32_t cp;
		long k = utf8_next(p, n, &cp);

		if (k < 0) {
			html_char(h, FFFD, 3);
			k = -k;
		} else if (pre && cp == '\n') {
			html_char(h, "", 0);
			html_newline(h);
		} else if (pre && cp == '\r') {
			/* CR LF, or a lone CR: one line break */
			if (!(n > 1 && p[1] == '\n')) {
				html_char(h, "", 0);
				html_newline(h);
			}
		} else if (!pre && (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\f')) {
			h->space = 1;
		} else if (cp == 0xa0) {
			/* &nbsp; is a space to grep for; it does not collapse */
			html_char(h, " ", 1);
		} else {
			html_char(h, (const char *)p, (size_t)k);
		}
		p += k;
		n -= (size_t)k;
	}
}

static void html_enter(struct html_out *h, xmlNodePtr n)
{
	if (strcasecmp((const char *)n->name, "br") == 0) {
		html_char(h, "", 0);
		html_newline(h);
		h->space = 0;
	} else if (strcasecmp((const char *)n->name, "p") == 0) {
		html_owe(h, 2);
	} else if (name_in(n->name, html_block)) {
		html_owe(h, 1);
	} else if ((strcasecmp((const char *)n->name, "td") == 0 ||
	            strcasecmp((const char *)n->name, "th") == 0) && n->prev) {
		h->space = 1;
	}
}

static void html_leave(struct html_out *h, xmlNodePtr n)
{
	if (strcasecmp((const char *)n->name, "p") == 0)
		html_owe(h, 2);
	else if (name_in(n->name, html_block))
		html_owe(h, 1);
}

/* The visible text of DOC, in a loop over the tree (libxml2 nests as deep
 * as the input does, up to its own limit). */
static void html_walk(struct html_out *h, xmlDocPtr doc)
{
	xmlNodePtr n = doc->children;
	int pre = 0;

	while (n) {
		int descend = 0;

		if (n->type == XML_ELEMENT_NODE && n->name) {
			if (!name_in(n->name, html_hidden)) {
				html_enter(h, n);
				descend = n->children != NULL;
				if (descend && (strcasecmp((const char *)n->name, "pre") == 0 ||
				                strcasecmp((const char *)n->name, "textarea") == 0))
					pre++;
				if (!descend)
					html_leave(h, n);
			}
		} else if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) && n->content) {
			html_text(h, (const char *)n->content, pre > 0);
		}
		if (descend) {
			n = n->children;
			continue;
		}
		while (n && !n->next) {
			n = n->parent;
			if (!n || n->type == XML_DOCUMENT_NODE || n->type == XML_HTML_DOCUMENT_NODE) {
				n = NULL;
				break;
			}
			if (n->name && (strcasecmp((const char *)n->name, "pre") == 0 ||
			                strcasecmp((const char *)n->name, "textarea") == 0))
				pre--;
			html_leave(h, n);
		}
		if (n)
			n = n->next;
	}
}

/* The charset a document's <meta> declares: HTML 4's http-equiv form
 * (libxml2 reads it) or HTML5's charset attribute; NULL when none. The
 * caller frees it with xmlFree(). */
static xmlChar *html_meta_charset(xmlDocPtr doc)
{
	const xmlChar *v = htmlGetMetaEncoding(doc);
	xmlNodePtr n = doc->children;

	if (v)
		return xmlStrdup(v);
	/* a walk in document order, in a loop */
	while (n) {
		if (n->type == XML_ELEMENT_NODE && n->name &&
		    strcasecmp((const char *)n->name, "meta") == 0) {
			xmlChar *cs = xmlGetProp(n, (const xmlChar *)"charset");

			if (cs)
				return cs;
		}
		if (n->type == XML_ELEMENT_NODE && n->children) {
			n = n->children;
			continue;
		}
		while (n && !n->next)
			n = n->parent && n->parent->type == XML_ELEMENT_NODE ? n->parent : NULL;
		if (n)
			n = n->next;
	}
	return NULL;
}

static xmlDocPtr html_parse(const char *utf8, size_t len)
{
	if (len > INT32_MAX)
		len = INT32_MAX;
	return htmlReadMemory(utf8, (int)len, NULL, "UTF-8",
	                      HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
	                      HTML_PARSE_RECOVER | HTML_PARSE_IGNORE_ENC);
}

int render_html_text(const char *html, size_t len, const char *charset, char **out_r,
                     size_t *len_r)
{
	struct utf8_buf in = { 0 };
	struct html_out h = { 0 };
	xmlDocPtr doc = NULL;
	char *out;

	*out_r = NULL;
	*len_r = 0;
	/* libxml2 gets UTF-8 that is sure to be valid: its own reading of
	 * bad bytes switches the whole document to Latin-1. */
	add_text(&in, html, len, charset ? charset : "utf-8");
	if (in.failed)
		goto nomem;
	if (in.len)
		doc = html_parse(in.data, in.len);
	if (doc && !charset) {
		/* No MIME charset: the document's own <meta> says, as in a
		 * browser without an HTTP charset. */
		xmlChar *meta = html_meta_charset(doc);

		if (meta && strcasecmp((const char *)meta, "utf-8") != 0 &&
		    strcasecmp((const char *)meta, "utf8") != 0) {
			char *cs = strdup((const char *)meta);

			xmlFree(meta);
			if (!cs)
				goto nomem;
			xmlFreeDoc(doc);
			doc = NULL;
			in.len = 0;
			add_text(&in, html, len, cs);
			free(cs);
			if (in.failed)
				goto nomem;
			if (in.len)
				doc = html_parse(in.data, in.len);
		} else {
			xmlFree(meta);
		}
	}
	if (doc)
		html_walk(&h, doc);
	xmlFreeDoc(doc);
	doc = NULL;
	free(in.data);
	in.data = NULL;
	while (h.b.len > 0 && (h.b.data[h.b.len - 1] == ' ' || h.b.data[h.b.len - 1] == '\n'))
		h.b.len--;
	if (h.b.len > 0)
		utf8_buf_addc(&h.b, '\n');
	if (h.b.failed)
		goto nomem;
	out = utf8_buf_finish(&h.b);
	if (!out)
		return -ENOMEM;
	*len_r = strlen(out);
	*out_r = out;
	return 0;
nomem:
	xmlFreeDoc(doc);
	free(in.data);
	free(h.b.data);
	return -ENOMEM;
}

/* ---- names ----------------------------------------------------------------- */

/* Extension and name word of a part's type when it has no file name. */
static const struct {
	const char *type, *ext;
} type_ext[] = {
	{ "text/plain", "txt" }, { "text/html", "html" }, { "text/calendar", "ics" },
	{ "text/csv", "csv" }, { "text/vcard", "vcf" }, { "text/x-vcard", "vcf" },
	{ "text/xml", "xml" }, { "text/markdown", "md" }, { "image/png", "png" },
	{ "image/jpeg", "jpg" }, { "image/jpg", "jpg" }, { "image/gif", "gif" },
	{ "image/webp", "webp" }, { "image/svg+xml", "svg" }, { "image/bmp", "bmp" },
	{ "image/tiff", "tif" }, { "audio/mpeg", "mp3" }, { "audio/ogg", "ogg" },
	{ "audio/wav", "wav" }, { "video/mp4", "mp4" }, { "video/mpeg", "mpg" },
	{ "application/pdf", "pdf" }, { "application/zip", "zip" },
	{ "application/gzip", "gz" }, { "application/json", "json" },
	{ "application/xml", "xml" }, { "application/msword", "doc" },
	{ "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx" },
	{ "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx" },
	{ "application/vnd.ms-excel", "xls" }, { "application/pgp-signature", "asc" },
	{ "application/pgp-encrypted", "asc" }, { "application/pgp-keys", "asc" },
	{ "application/pkcs7-signature", "p7s" }, { "application/x-pkcs7-signature", "p7s" },
	{ "application/ics", "ics" }, { "message/rfc822", "eml" },
	{ "message/delivery-status", "txt" }, { "message/disposition-notification", "txt" },
};

static void default_name(const struct bs_part *p, char *out, size_t size)
{
	const char *ext = NULL, *word = "part";
	char mime[128];

	snprintf(mime, sizeof(mime), "%s/%s", p->type ? p->type : "", p->subtype ? p->subtype : "");
	for (size_t i = 0; i < sizeof(type_ext) / sizeof(type_ext[0]); i++)
		if (strcasecmp(mime, type_ext[i].type) == 0)
			ext = type_ext[i].ext;
	if (!p->type || is_type(p, "text", NULL))
		word = "text";
	else if (is_type(p, "image", NULL))
		word = "image";
	else if (is_type(p, "audio", NULL))
		word = "audio";
	else if (is_type(p, "video", NULL))
		word = "video";
	else if (is_type(p, "message", NULL))
		word = "message";
	if (!ext)
		ext = strcmp(word, "text") == 0 ? "txt" : "bin";
	snprintf(out, size, "%s.%s", word, ext);
}

/* "NAME=VALUE; ..." of PS appended to S for GMime to parse again. */
static void params_string(GString *s, const struct bs_param *ps, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *q;

		if (!ps[i].name || !ps[i].value || !*ps[i].name)
			continue;
		/* quoted where it has to be */
		q = g_mime_utils_quote_string(ps[i].value);
		g_string_append_printf(s, "; %s=%s", ps[i].name, q && *q ? q : "\"\"");
		g_free(q);
	}
}

/* The part's file name decoded to UTF-8 (RFC 2231 and RFC 2047 undone by
 * GMime, from the parameters as the tree has them), or NULL. */
static char *file_name(const struct bs_part *p)
{
	GString *s = g_string_new(NULL);
	const char *v = NULL;
	char *res = NULL;

	/* GMime decodes parameters as it parses a header value: give it the
	 * disposition's, then the type's, as header values. */
	if (param(p->disp_params, p->ndisp_params, "filename") ||
	    param(p->disp_params, p->ndisp_params, "filename*") ||
	    param(p->disp_params, p->ndisp_params, "filename*0") ||
	    param(p->disp_params, p->ndisp_params, "filename*0*")) {
		GMimeContentDisposition *cd;

		g_string_assign(s, "attachment");
		params_string(s, p->disp_params, p->ndisp_params);
		cd = g_mime_content_disposition_parse(NULL, s->str);
		v = cd ? g_mime_content_disposition_get_parameter(cd, "filename") : NULL;
		if (v && *v)
			res = strdup(v);
		if (cd)
			g_object_unref(cd);
	}
	if (!res && p->nparams) {
		GMimeContentType *ct;

		g_string_assign(s, "application/octet-stream");
		params_string(s, p->params, p->nparams);
		ct = g_mime_content_type_parse(NULL, s->str);
		v = ct ? g_mime_content_type_get_parameter(ct, "name") : NULL;
		if (v && *v)
			res = strdup(v);
		if (ct)
			g_object_unref(ct);
	}
	g_string_free(s, TRUE);
	if (res && !utf8_valid(res, strlen(res))) {
		/* Raw 8-bit in a parameter: GMime's guess of its charset. */
		char *u = g_mime_utils_decode_8bit(NULL, res, strlen(res));

		free(res);
		res = u ? strdup(u) : NULL;
		g_free(u);
	}
	return res;
}

/* NAME made safe for a file name in at most MAX bytes, keeping a short
 * extension when the name has to be cut. */
static size_t safe_name(const char *name, char *out, size_t max)
{
	size_t n = strlen(name), len;
	char *all = malloc(3 * n + 1);
	const char *dot;

	if (!all)
		return 0;
	len = layout_sanitize(name, all, 3 * n);
	dot = strrchr(all, '.');
	if (len > max && dot && dot > all && (size_t)(all + len - dot) <= 16 &&
	    !strchr(dot, ' ') && (size_t)(all + len - dot) < max) {
		size_t ext = (size_t)(all + len - dot);
		char *stem = strndup(all, (size_t)(dot - all));

		if (stem) {
			len = layout_sanitize(stem, out, max - ext);
			memcpy(out + len, dot, ext + 1);
			len += ext;
			free(stem);
		} else {
			len = 0;
		}
	} else {
		len = layout_sanitize(all, out, max);
	}
	free(all);
	return len;
}

char *render_part_name(const struct bs_part *p, const char *section)
{
	char name[LAYOUT_NAME_MAX + 1];
	size_t slen = strlen(section ? section : ""), room, len = 0;
	char *decoded = NULL, *res;

	if (slen > LAYOUT_NAME_MAX - 16)
		slen = LAYOUT_NAME_MAX - 16;
	room = LAYOUT_NAME_MAX - slen - (slen ? 1 : 0);
	if (is_rfc822(p)) {
		if (p->subject) {
			decoded = g_mime_utils_header_decode_text(NULL, p->subject);
			if (decoded)
				len = safe_name(decoded, name, room);
			g_free(decoded);
		}
		if (len == 0)
			len = (size_t)snprintf(name, sizeof(name), "message");
	} else {
		decoded = file_name(p);
		if (decoded)
			len = safe_name(decoded, name, room);
		free(decoded);
		if (len == 0)
			default_name(p, name, sizeof(name));
	}
	if (!(res = malloc(slen + 1 + strlen(name) + 1)))
		return NULL;
	if (slen)
		sprintf(res, "%.*s %s", (int)slen, section, name);
	else
		strcpy(res, name);
	return res;
}

/* ---- the text view ----------------------------------------------------------- */

struct text_ctx {
	const struct render_source *src;        /* render_text() */
	struct utf8_buf b;
	int (*need)(void *ctx, const char *section, int header);   /* render_text_needs() */
	void *need_ctx;
};

static int is_attachment(const struct bs_part *p)
{
	return p->disposition && strcasecmp(p->disposition, "attachment") == 0;
}

static int is_text_leaf(const struct bs_part *p)
{
	return (is_type(p, "text", "plain") || is_type(p, "text", "html")) && !is_attachment(p) &&
	       p->nkids == 0;
}

/* Whether P shows some text in the view (for multipart/alternative). */
static int gives_text(const struct bs_part *p, unsigned depth)
{
	if (depth > BS_MAX_DEPTH)
		return 0;
	if (is_text_leaf(p) || is_rfc822(p))
		return 1;
	if (is_multipart(p))
		for (size_t i = 0; i < p->nkids; i++)
			if (gives_text(&p->kids[i], depth + 1))
				return 1;
	return 0;
}

/* RFC 2046 §5.1.4 orders alternatives from plainest to richest; the view
 * wants greppable text: the first text/plain one, else the first that
 * shows text, else the last (what a reader would see). */
static size_t choose_alternative(const struct bs_part *p, unsigned depth)
{
	for (size_t i = 0; i < p->nkids; i++)
		if (is_text_leaf(&p->kids[i]) && is_type(&p->kids[i], "text", "plain"))
			return i;
	for (size_t i = 0; i < p->nkids; i++)
		if (gives_text(&p->kids[i], depth + 1))
			return i;
	return p->nkids - 1;
}

static void text_line_end(struct text_ctx *t)
{
	if (t->b.len > 0 && t->b.data[t->b.len - 1] != '\n')
		utf8_buf_addc(&t->b, '\n');
}

/* A header value on one line: valid UTF-8, controls as spaces. */
static void add_header_value(struct utf8_buf *b, const char *v)
{
	const unsigned char *p = (const unsigned char *)v;
	size_t n = strlen(v);

	while (n > 0) {
		uint32_t cp;
		long k = utf8_next(p, n, &cp);

		if (k < 0) {
			utf8_buf_add(b, FFFD, 3);
			k = -k;
		} else if (utf8_is_control(cp)) {
			utf8_buf_addc(b, ' ');
		} else {
			utf8_buf_add(b, p, (size_t)k);
		}
		p += k;
		n -= (size_t)k;
	}
}

/* The header lines of the message whose header is HDR. */
static void text_header(struct text_ctx *t, const char *hdr, size_t len)
{
	static const char *const fields[] = { "From", "To", "Cc", "Date", "Subject" };
	struct mem mem;
	GMimeParser *parser;
	GMimeMessage *m;

	if (len > G_MAXUINT)
		return;         /* no header of 4 GiB is one to show */
	mem_open(&mem, hdr, len);
	parser = g_mime_parser_new_with_stream(mem.stream);
	m = g_mime_parser_construct_message(parser, NULL);
	g_object_unref(parser);
	if (m) {
		GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(m));

		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
			GMimeHeader *h = g_mime_header_list_get_header(hl, fields[i]);
			const char *v = h ? g_mime_header_get_value(h) : NULL;

			if (!v)
				continue;
			while (*v == ' ' || *v == '\t')
				v++;
			utf8_buf_add(&t->b, fields[i], strlen(fields[i]));
			utf8_buf_add(&t->b, ": ", 2);
			add_header_value(&t->b, v);
			utf8_buf_addc(&t->b, '\n');
		}
		g_object_unref(m);
	}
	mem_close(&mem);
}

/* What SIZE says on an attachment line: the size of the part once decoded,
 * estimated from its encoded size alone (so that a tree from BODYSTRUCTURE
 * and one from the message give the same line): base64 carries 57 bytes in
 * a line of 76 characters and CRLF, uuencode 45 in 63; anything else is
 * taken at its encoded size. Shown as `ls -h` would, in units of 1024. */
static void size_text(const struct bs_part *p, char *out, size_t n)
{
	static const char *const unit[] = { "B", "KB", "MB", "GB", "TB", "PB" };
	uint64_t s = p->size, div = 1, t = 0;
	unsigned u = 0;

	if (p->encoding && strcasecmp(p->encoding, "base64") == 0)
		s = s / 78 * 57 + s % 78 * 3 / 4;
	else if (p->encoding && (strcasecmp(p->encoding, "x-uuencode") == 0 ||
	                         strcasecmp(p->encoding, "uuencode") == 0))
		s = s / 63 * 45 + s % 63 * 45 / 63;
	if (s < 1024) {
		snprintf(out, n, "%" PRIu64 " B", s);
		return;
	}
	/* tenths of the unit, rounded half up; 1023.96 KB is 1.0 MB */
	for (u = 1; u < sizeof(unit) / sizeof(unit[0]); u++) {
		div *= 1024;
		t = s / div * 10 + (s % div * 10 + div / 2) / div;
		if (t < 10240 || u + 1 == sizeof(unit) / sizeof(unit[0]))
			break;
	}
	if (t < 100)
		snprintf(out, n, "%" PRIu64 ".%" PRIu64 " %s", t / 10, t % 10, unit[u]);
	else
		snprintf(out, n, "%" PRIu64 " %s", (t + 5) / 10, unit[u]);
}

static void text_attachment(struct text_ctx *t, const struct bs_part *p)
{
	char *name = render_part_name(p, "");
	char size[32], *line;
	int n;

	if (!name) {
		t->b.failed = 1;
		return;
	}
	size_text(p, size, sizeof(size));
	n = asprintf(&line, "[attachment: %s, %s/%s, %s]", name, p->type ? p->type : "application",
	             p->subtype ? p->subtype : "octet-stream", size);
	free(name);
	if (n < 0) {
		t->b.failed = 1;
		return;
	}
	text_line_end(t);
	add_header_value(&t->b, line);   /* the type is the server's: no controls */
	utf8_buf_addc(&t->b, '\n');
	free(line);
}

/* Text part P's text, from its raw bytes. */
static int text_body(struct text_ctx *t, const struct bs_part *p, const char *raw, size_t len,
                     int decoded)
{
	const char *charset = param(p->params, p->nparams, "charset");
	char *dec, *html = NULL;
	size_t dlen, start = t->b.len;
	int r;

	if (decoded) {
		/* BINARY (RFC 3516): the server undid the transfer encoding. */
		if (!(dec = malloc(len + 1)))
			return -ENOMEM;
		memcpy(dec, raw, len);
		dlen = len;
	} else if ((r = render_decode(p, raw, len, &dec, &dlen)) < 0) {
		return r;
	}
	if (is_type(p, "text", "html")) {
		size_t hlen;

		r = render_html_text(dec, dlen, charset, &html, &hlen);
		if (r == 0)
			utf8_buf_add(&t->b, html, hlen);
		free(html);
	} else {
		add_text(&t->b, dec, dlen, charset);
	}
	free(dec);
	if (r < 0)
		return r;
	/* LF line ends: CRLF and a lone CR become LF. */
	if (!t->b.failed) {
		size_t o = start;

		for (size_t i = start; i < t->b.len; i++) {
			char ch = t->b.data[i];

			if (ch == '\r') {
				if (i + 1 < t->b.len && t->b.data[i + 1] == '\n')
					continue;
				ch = '\n';
			}
			t->b.data[o++] = ch;
		}
		t->b.len = o;
	}
	text_line_end(t);
	return 0;
}

static int text_get(struct text_ctx *t, const char *section, int header, const char **d,
                    size_t *n, int *decoded)
{
	*decoded = 0;
	if (t->need)
		return t->need(t->need_ctx, section, header);
	return t->src->get(t->src->ctx, section, header, d, n, decoded);
}

static int text_part(struct text_ctx *t, const struct bs_part *p, const char *section, unsigned depth);

/* Message MSG's header lines and body, the message (or message/rfc822 part)
 * being numbered SECTION; BODY its body part, numbered BODY_SECTION. */
static int text_message(struct text_ctx *t, const char *section, const struct bs_part *body,
                        const char *body_section, unsigned depth)
{
	const char *d = NULL;
	size_t n = 0;
	int decoded, r = text_get(t, section, 1, &d, &n, &decoded);

	if (r != 0)
		return r;
	if (!t->need) {
		text_header(t, d, n);
		utf8_buf_addc(&t->b, '\n');
	}
	return text_part(t, body, body_section, depth);
}

static int text_part(struct text_ctx *t, const struct bs_part *p, const char *section, unsigned depth)
{
	char sub[BS_SECTION_MAX];
	int r = 0;

	if (depth > BS_MAX_DEPTH || t->b.failed)
		return t->b.failed ? -ENOMEM : 0;
	if (is_multipart(p)) {
		if (is_type(p, "multipart", "alternative")) {
			size_t i = choose_alternative(p, depth);

			kid_section(p, section, i, sub);
			return text_part(t, &p->kids[i], sub, depth + 1);
		}
		for (size_t i = 0; i < p->nkids && r == 0; i++) {
			kid_section(p, section, i, sub);
			r = text_part(t, &p->kids[i], sub, depth + 1);
		}
		return r;
	}
	if (is_rfc822(p)) {
		/* A forwarded message: a blank line, its header lines, a
		 * blank line, its parts. */
		if (!t->need) {
			text_line_end(t);
			if (t->b.len < 2 || t->b.data[t->b.len - 2] != '\n')
				utf8_buf_addc(&t->b, '\n');
		}
		kid_section(p, section, 0, sub);
		return text_message(t, section, &p->kids[0], sub, depth + 1);
	}
	if (is_text_leaf(p)) {
		const char *d = NULL;
		size_t n = 0;
		int decoded;

		if ((r = text_get(t, section, 0, &d, &n, &decoded)) != 0 || t->need)
			return r;
		return text_body(t, p, d, n, decoded);
	}
	if (!t->need)
		text_attachment(t, p);
	return 0;
}

/* The number of the root's body: "" for a multipart, else "1". */
static const char *root_section(const struct bs_part *root)
{
	return is_multipart(root) ? "" : "1";
}

int render_text_needs(const struct bs_part *root,
                      int (*cb)(void *ctx, const char *section, int header), void *ctx)
{
	struct text_ctx t = { .need = cb, .need_ctx = ctx };

	return text_message(&t, "", root, root_section(root), 0);
}

int render_text(const struct bs_part *root, const struct render_source *src, char **text_r,
                size_t *len_r)
{
	struct text_ctx t = { .src = src };
	int r = text_message(&t, "", root, root_section(root), 0);
	char *text;

	*text_r = NULL;
	*len_r = 0;
	if (r == 0 && t.b.failed)
		r = -ENOMEM;
	if (r < 0) {
		free(t.b.data);
		return r;
	}
	text_line_end(&t);
	if (!(text = utf8_buf_finish(&t.b)))
		return -ENOMEM;
	*text_r = text;
	*len_r = t.b.len;
	return 0;
}
