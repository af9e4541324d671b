/* search.c - SPEC §9's search directories, the engine's half: a query named
 * by a directory (net/search.h parses it, once), and its matches in a
 * folder. Where the driver can search (IMAP), the server answers with UID
 * SEARCH and no body moves; where it cannot (POP3, whose bodies are all in
 * the cache), the query is evaluated here over the cached messages. The
 * matches of a (query, folder) are kept until the folder changes or `poll`
 * seconds pass.
 *
 * Queries are known by a number (1, 2, ...) for the life of the mount, one
 * per directory name (two names of the same meaning are two directories:
 * a directory has one name). Their trees are never freed before unmount, so
 * a search runs on one without the table's lock.
 */
#include "fs/engine/engine.h"
#include "fs/log.h"
#include "cache/body.h"
#include "cache/store.h"
#include "net/grow.h"
#include "net/mime.h"
#include "net/search.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Matches of one query in one folder, kept for reuse. */
struct search_result {
	int64_t folder;
	uint32_t *uids;             /* ascending */
	size_t n;
	time_t taken;
	struct search_result *next;
};

struct search_query {
	char *name;                 /* the directory name */
	struct sq_node *q;          /* immutable once made */
	unsigned needs;             /* sq_needs(q) */
	struct search_result *results;
};

struct search_table {
	pthread_mutex_t lock;       /* protects everything below and the results */
	struct search_query *qs;    /* query id - 1 */
	size_t n, cap;
};

int search_init(struct engine *m)
{
	struct search_table *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	m->searches = t;
	return 0;
}

static void results_free(struct search_result *r)
{
	while (r) {
		struct search_result *next = r->next;

		free(r->uids);
		free(r);
		r = next;
	}
}

void search_free(struct engine *m)
{
	struct search_table *t = m->searches;

	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		free(t->qs[i].name);
		sq_free(t->qs[i].q);
		results_free(t->qs[i].results);
	}
	free(t->qs);
	pthread_mutex_destroy(&t->lock);
	free(t);
	m->searches = NULL;
}

/* Whether this mount can run a query that needs NEEDS: without a server
 * to ask, flags and Gmail's own syntax mean nothing (SPEC §9). */
static int runnable(const struct engine *m, unsigned needs)
{
	return m->driver->search || !(needs & (SQ_NEEDS_FLAGS | SQ_NEEDS_GMRAW));
}

int search_query(struct engine *m, const char *name, uint32_t *id_r)
{
	struct search_table *t = m->searches;
	struct sq_node *q = NULL;
	char err[128];
	unsigned needs;
	int r;

	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->qs[i].name, name) == 0) {
			*id_r = (uint32_t)i + 1;
			pthread_mutex_unlock(&t->lock);
			return 0;
		}
	pthread_mutex_unlock(&t->lock);

	/* Not seen yet: parse it outside the lock. */
	r = sq_parse(name, &q, err, sizeof(err));
	if (r == -EINVAL)
		log_debug("search: not a query (%s)", err);
	if (r < 0)
		return r;
	needs = sq_needs(q);
	if (!runnable(m, needs)) {
		log_debug("search: a query of flags or X-GM-RAW needs a server that searches");
		sq_free(q);
		return -EINVAL;
	}

	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < t->n; i++)   /* another thread may have added it */
		if (strcmp(t->qs[i].name, name) == 0) {
			*id_r = (uint32_t)i + 1;
			r = 1;
			break;
		}
	if (r == 0 && t->n >= SEARCH_MAX_QUERIES) {
		log_warn("search: more than %d different searches in this mount; remount to "
		         "start afresh", SEARCH_MAX_QUERIES);
		r = -ENOSPC;
	} else if (r == 0 && ARRAY_RESERVE(t->qs, t->n + 1, t->cap) < 0) {
		r = -ENOMEM;
	} else if (r == 0) {
		struct search_query *sq = &t->qs[t->n];

		*sq = (struct search_query){ .name = strdup(name), .q = q, .needs = needs };
		if (!sq->name) {
			r = -ENOMEM;
		} else {
			q = NULL;
			*id_r = (uint32_t)++t->n;
		}
	}
	pthread_mutex_unlock(&t->lock);
	sq_free(q);
	return r < 0 ? r : 0;
}

int search_known(struct engine *m, uint32_t id)
{
	struct search_table *t = m->searches;
	int known;

	pthread_mutex_lock(&t->lock);
	known = id >= 1 && id <= t->n;
	pthread_mutex_unlock(&t->lock);
	return known;
}

/* ---- matches kept ------------------------------------------------------------------ */

/* A copy of the matches of query ID in FOLDER that are still good: taken
 * after the folder last changed (in an earlier second: a change within the
 * same second cannot be told apart) and less than `poll` seconds ago. 1 and
 * the copy, 0 when there are none, or -ENOMEM. */
static int kept_get(struct engine *m, uint32_t id, struct folder *f, uint32_t **uids_r,
                    size_t *n_r)
{
	struct search_table *t = m->searches;
	time_t now = time(NULL), changed = folder_mtime(f);
	int r = 0;

	pthread_mutex_lock(&t->lock);
	for (struct search_result *res = t->qs[id - 1].results; res; res = res->next) {
		if (res->folder != f->id)
			continue;
		if (res->taken > changed && now - res->taken < m->opt->poll) {
			*uids_r = malloc((res->n ? res->n : 1) * sizeof(**uids_r));
			if (!*uids_r) {
				r = -ENOMEM;
				break;
			}
			if (res->n)
				memcpy(*uids_r, res->uids, res->n * sizeof(**uids_r));
			*n_r = res->n;
			r = 1;
		}
		break;
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

/* Keep a copy of UIDS as the matches of query ID in FOLDER taken at TAKEN
 * (nothing is kept when memory is short: the next listing searches again). */
static void kept_put(struct engine *m, uint32_t id, int64_t folder, const uint32_t *uids,
                     size_t n, time_t taken)
{
	struct search_table *t = m->searches;
	struct search_result *res, **p;
	uint32_t *copy = malloc((n ? n : 1) * sizeof(*copy));

	if (!copy)
		return;
	if (n)
		memcpy(copy, uids, n * sizeof(*copy));
	pthread_mutex_lock(&t->lock);
	for (p = &t->qs[id - 1].results; *p && (*p)->folder != folder; p = &(*p)->next)
		;
	if (!*p && (*p = calloc(1, sizeof(**p))))
		(*p)->folder = folder;
	if ((res = *p)) {
		free(res->uids);
		res->uids = copy;
		res->n = n;
		res->taken = taken;
		copy = NULL;
	}
	pthread_mutex_unlock(&t->lock);
	free(copy);
}

/* ---- asking the server -------------------------------------------------------------- */

struct uid_list {
	uint32_t *uids;
	size_t n, cap;
	int err;
};

/* Ranges from the server; it may name millions, or a huge range of UIDs
 * that do not exist: only UIDs the cache knows are kept (KNOWN). */
struct server_ctx {
	struct uid_list *out;
	const uint32_t *known;
	size_t nknown;
};

static void add_range(void *ctx, uint32_t lo, uint32_t hi)
{
	struct server_ctx *c = ctx;
	struct uid_list *l = c->out;
	size_t a = 0, b = c->nknown;

	if (l->err || lo > hi)
		return;
	while (a < b) {                 /* the first known UID >= lo */
		size_t mid = a + (b - a) / 2;

		if (c->known[mid] < lo)
			a = mid + 1;
		else
			b = mid;
	}
	for (; a < c->nknown && c->known[a] <= hi; a++) {
		if (ARRAY_RESERVE(l->uids, l->n + 1, l->cap) < 0) {
			l->err = -ENOMEM;
			return;
		}
		l->uids[l->n++] = c->known[a];
	}
}

static int cmp_uid(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int search_has(const uint32_t *uids, size_t n, uint32_t uid)
{
	return n && bsearch(&uid, uids, n, sizeof(*uids), cmp_uid) != NULL;
}

static int search_server(struct engine *m, const struct sq_node *q, struct folder *f,
                         struct uid_list *out)
{
	struct driver_folder df = folder_view(m, f);
	struct server_ctx c = { .out = out };
	uint32_t *known = NULL;
	size_t nknown = 0, w = 0;
	int r;

	r = driver_msgs_known(m, f->id, &known, &nknown);
	if (r < 0)
		return r;
	c.known = known;
	c.nknown = nknown;
	r = m->driver->search(m->drv, &df, q, add_range, &c);
	free(known);
	if (r == 0)
		r = out->err;
	if (r < 0)
		return r;
	/* SEARCH may answer in any order, and twice for one UID. */
	if (out->n > 1)
		qsort(out->uids, out->n, sizeof(*out->uids), cmp_uid);
	for (size_t i = 0; i < out->n; i++)
		if (w == 0 || out->uids[i] != out->uids[w - 1])
			out->uids[w++] = out->uids[i];
	out->n = w;
	return 0;
}

/* ---- evaluating here (POP3) --------------------------------------------------------- */

#define HEADER_MAX (256 * 1024)  /* bytes of a cached message's header read */
#define HEADER_STEP 16384

/* A cached message as sq_match() sees it. */
struct local_msg {
	struct engine *m;
	struct folder *f;
	uint32_t uid;
	char *header;               /* the header block, NUL-terminated */
	size_t header_len;
	char *value;                /* the last header value asked for */
	char *text;                 /* the text view, once asked for */
	size_t text_len;
	size_t body_off;            /* where its body starts */
	int text_err;
};

static int read_header(struct local_msg *lm)
{
	int fd = body_open(lm->m->bodies, lm->f->id, lm->uid), r = 0;
	size_t len = 0, cap = 0;
	char *buf = NULL;

	if (fd < 0)
		return fd;
	/* In steps, so that a big message costs its header, not HEADER_MAX. */
	while (len < HEADER_MAX) {
		size_t want = HEADER_MAX - len < HEADER_STEP ? HEADER_MAX - len : HEADER_STEP;
		size_t from = len > 2 ? len - 2 : 0;      /* an end cut between steps */
		ssize_t got;

		if (ARRAY_RESERVE(buf, len + want + 1, cap) < 0) {
			r = -ENOMEM;
			break;
		}
		got = read(fd, buf + len, want);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			r = got < 0 ? -errno : 0;
			break;
		}
		len += (size_t)got;
		buf[len] = '\0';
		if (strstr(buf + from, "\n\r\n") || strstr(buf + from, "\n\n"))
			break;
	}
	close(fd);
	if (r == 0 && !buf && !(buf = calloc(1, 1)))
		r = -ENOMEM;
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[len] = '\0';
	lm->header = buf;
	lm->header_len = len;
	return 0;
}

static int local_header(void *ctx, const char *name, const char **value_r, size_t *len_r)
{
	struct local_msg *lm = ctx;
	char *raw = mime_header(lm->header, lm->header_len, name);

	if (!raw)
		return errno == ENOMEM ? -ENOMEM : 0;
	free(lm->value);
	lm->value = mime_decode_words(raw, strlen(raw));
	free(raw);
	if (!lm->value)
		return -ENOMEM;
	*value_r = lm->value;
	*len_r = strlen(lm->value);
	return 1;
}

/* The text view (SPEC §9): the decoded header fields, a blank line, the
 * decoded text of every text part. */
static int local_text_load(struct local_msg *lm)
{
	int fd;
	size_t cap = 0;

	if (lm->text || lm->text_err)
		return lm->text_err;
	fd = view_text_open(lm->m, lm->f, lm->uid);
	if (fd < 0)
		return lm->text_err = fd;
	for (;;) {
		ssize_t got;

		if (ARRAY_RESERVE(lm->text, lm->text_len + 65536 + 1, cap) < 0) {
			lm->text_err = -ENOMEM;
			break;
		}
		got = read(fd, lm->text + lm->text_len, 65536);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			if (got < 0)
				lm->text_err = -errno;
			break;
		}
		lm->text_len += (size_t)got;
	}
	close(fd);
	if (lm->text_err)
		return lm->text_err;
	lm->text[lm->text_len] = '\0';
	{
		char *blank = strstr(lm->text, "\n\n");

		lm->body_off = blank ? (size_t)(blank - lm->text) + 2 : lm->text_len;
	}
	return 0;
}

static int local_body(void *ctx, const char **text_r, size_t *len_r)
{
	struct local_msg *lm = ctx;
	int r = local_text_load(lm);

	if (r < 0)
		return r;
	*text_r = lm->text + lm->body_off;
	*len_r = lm->text_len - lm->body_off;
	return 0;
}

static int local_text(void *ctx, const char **text_r, size_t *len_r)
{
	struct local_msg *lm = ctx;
	int r = local_text_load(lm);

	if (r < 0)
		return r;
	*text_r = lm->text;
	*len_r = lm->text_len;
	return 0;
}

/* A message of the folder as the store lists it: what sq_match() needs
 * beside the files. */
struct local_item {
	uint32_t uid;
	uint64_t size;
	time_t date;
};

struct local_list {
	struct local_item *items;
	size_t n, cap;
};

/* The store's rows are gathered first: the store is not to be asked again
 * (the text view asks it) from inside its own callback, nor held while
 * files are read. */
static int local_gather(void *ctx, const struct store_msg *msg)
{
	struct local_list *l = ctx;

	if (ARRAY_RESERVE(l->items, l->n + 1, l->cap) < 0)
		return -ENOMEM;
	l->items[l->n++] = (struct local_item){ msg->uid, msg->size, (time_t)msg->date };
	return 0;
}

/* Seconds east of UTC that a Date header's value DATE writes ("+0200" at
 * the end, or before a comment); 0 when it names none or a zone by name. */
static int date_offset(const char *date)
{
	int off = 0;

	for (const char *p = date; *p; p++) {
		if ((*p == '+' || *p == '-') && strspn(p + 1, "0123456789") == 4 &&
		    (p == date || p[-1] == ' ')) {
			int hh = (p[1] - '0') * 10 + (p[2] - '0'), mm = (p[3] - '0') * 10 + (p[4] - '0');

			off = (*p == '-' ? -1 : 1) * (hh * 3600 + mm * 60);
		}
	}
	return off;
}

/* Whether the cached message IT of F matches Q: 1, 0, or a negative errno. */
static int local_one(struct engine *m, struct folder *f, const struct sq_node *q,
                     const struct local_item *it, uint32_t max_uid)
{
	struct local_msg lm = { .m = m, .f = f, .uid = it->uid };
	struct sq_message sm = {
		.ctx = &lm, .header = local_header, .body = local_body, .text = local_text,
		.internaldate = it->date, .size = it->size, .uid = it->uid, .max_uid = max_uid,
	};
	struct tm tm;
	int r = read_header(&lm);

	if (r == -ENOENT)
		return 0;       /* not (or no more) in the cache: not a match */
	if (r < 0)
		return r;
	localtime_r(&sm.internaldate, &tm);
	sm.internal_off = (int)tm.tm_gmtoff;
	{
		char *date = mime_header(lm.header, lm.header_len, "Date");

		if (date && mime_parse_date(date, &sm.date) == 0) {
			sm.has_date = 1;
			sm.date_off = date_offset(date);
		}
		free(date);
	}
	r = sq_match(q, &sm);
	free(lm.header);
	free(lm.value);
	free(lm.text);
	return r;
}

static int search_local(struct engine *m, const struct sq_node *q, struct folder *f,
                        struct uid_list *out)
{
	struct local_list l = { 0 };
	int r = store_msg_list(m->store, f->id, 0, 0, local_gather, &l);

	for (size_t i = 0; r == 0 && i < l.n; i++) {
		r = local_one(m, f, q, &l.items[i], l.items[l.n - 1].uid);
		if (r == 1) {
			r = ARRAY_RESERVE(out->uids, out->n + 1, out->cap);
			if (r == 0)
				out->uids[out->n++] = l.items[i].uid;
		}
	}
	free(l.items);
	return r;
}

/* ---- the matches ------------------------------------------------------------------ */

int search_run(struct engine *m, uint32_t id, struct folder *f, uint32_t **uids_r,
               size_t *n_r)
{
	struct search_table *t = m->searches;
	struct uid_list out = { 0 };
	const struct sq_node *q;
	time_t taken;
	int r;

	*uids_r = NULL;
	*n_r = 0;
	pthread_mutex_lock(&t->lock);
	q = id >= 1 && id <= t->n ? t->qs[id - 1].q : NULL;
	pthread_mutex_unlock(&t->lock);
	if (!q)
		return -ENOENT;
	if (!folder_server(f) || (folder_flags(f) & STORE_FOLDER_NOSELECT))
		return 0;       /* a directory that holds no messages */
	r = folder_ensure(m, f);
	if (r < 0)
		return r;
	r = kept_get(m, id, f, uids_r, n_r);
	if (r != 0)
		return r < 0 ? r : 0;
	taken = time(NULL);
	r = m->driver->search ? search_server(m, q, f, &out) : search_local(m, q, f, &out);
	if (r < 0) {
		free(out.uids);
		return r;
	}
	kept_put(m, id, f->id, out.uids, out.n, taken);
	*uids_r = out.uids;
	*n_r = out.n;
	return 0;
}
