/* imapd.c - the IMAP driver (driver.h): a small pool of sessions, folder
 * sync (SPEC §2, §4), body downloads and the changes, over net/imap.c. The
 * parts are listed in imapd.h. */
#include "fs/engine/drivers/imapd.h"
#include "fs/options.h"
#include "fs/log.h"
#include "net/conn.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int imapd_open(struct engine *m, const struct driver_params *p, void **drv_r,
                      char *err, size_t errlen, int *transient_r)
{
	struct imapd *d = calloc(1, sizeof(*d));
	const struct mfs_options *o = p->opt;
	int r;

	*transient_r = 0;
	if (!d) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	d->m = m;
	d->opt = o;
	d->nslots = o->max_connections > 0 ? o->max_connections : 1;
	d->slots = calloc((size_t)d->nslots, sizeof(*d->slots));
	if (!d->slots) {
		free(d);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* One connection watches for changes (IDLE) when two are allowed. */
	d->pool_max = d->nslots > 1 ? d->nslots - 1 : 1;
	pthread_mutex_init(&d->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&d->idle_cond, NULL);
	for (int i = 0; i < d->nslots; i++)
		d->slots[i].d = d;
	driver_conn_params(p, &d->params.conn);
	d->params.require_tls = !o->tls_insecure_plaintext;
	d->params.user = o->user;
	d->params.secret = p->secret;
	d->params.auth = o->oauth2_token_command ? IMAP_AUTH_XOAUTH2 : IMAP_AUTH_PASSWORD;
	if (o->debug)
		d->params.trace = log_protocol;
	*drv_r = d;

	/* The first session checks the account before anything is mounted. */
	d->slots[0].s = imapd_session_open(d, err, errlen, &r, transient_r);
	d->slots[0].used = imapd_now();
	return d->slots[0].s ? 0 : r;
}

struct list_ctx {
	struct imapd *d;
	int (*cb)(void *ctx, const struct driver_list_entry *e);
	void *ctx;
	const struct driver_folder **watch;   /* sorted by wire name */
	size_t nwatch;
	struct imap_session *s;
	unsigned char *recreated;             /* by watch index: a new UIDVALIDITY */
};

static int by_server(const void *a, const void *b)
{
	const struct driver_folder *const *x = a, *const *y = b;

	return strcmp((*x)->server, (*y)->server);
}

static int server_cmp(const void *key, const void *elem)
{
	const struct driver_folder *const *f = elem;

	return strcmp(key, (*f)->server);
}

/* A STATUS answer of a poll round, for a watched folder (LIST-STATUS
 * answers for all of them). */
static void status_cb(void *ctx, const struct imap_status *st)
{
	struct list_ctx *c = ctx;
	const struct driver_folder **f;
	struct driver_status ds;

	const char *sel = imap_selected(c->s);

	f = bsearch(st->mailbox, c->watch, c->nwatch, sizeof(*c->watch), server_cmp);
	if (!f || (st->have & (IMAP_STATUS_UIDNEXT | IMAP_STATUS_UIDVALIDITY)) !=
	          (IMAP_STATUS_UIDNEXT | IMAP_STATUS_UIDVALIDITY))
		return;     /* not asked, or too little said to tell */
	if (sel && strcmp(sel, st->mailbox) == 0)
		return;     /* the session's own view (no UNSELECT): synced */
	ds = (struct driver_status){ .uidvalidity = st->uidvalidity, .uidnext = st->uidnext,
	                             .messages = st->messages, .modseq = st->highestmodseq };
	driver_folder_status(c->d->m, (*f)->id, &ds);
	if ((*f)->uidvalidity && st->uidvalidity != (*f)->uidvalidity)
		c->recreated[f - c->watch] = 1;
}

static int list_cb(void *ctx, const struct imap_list_entry *le)
{
	static const struct { unsigned flag; enum driver_role role; } roles[] = {
		{ IMAP_LIST_SENT, DRIVER_ROLE_SENT }, { IMAP_LIST_TRASH, DRIVER_ROLE_TRASH },
		{ IMAP_LIST_DRAFTS, DRIVER_ROLE_DRAFTS }, { IMAP_LIST_JUNK, DRIVER_ROLE_JUNK },
		{ IMAP_LIST_ARCHIVE, DRIVER_ROLE_ARCHIVE }, { IMAP_LIST_ALL, DRIVER_ROLE_ALL },
		{ IMAP_LIST_FLAGGED, DRIVER_ROLE_FLAGGED },
	};
	struct list_ctx *c = ctx;
	struct driver_list_entry e = {
		.server = le->name, .delim = le->delim,
		.noselect = (le->flags & IMAP_LIST_NOSELECT) != 0,
		.noinferiors = (le->flags & IMAP_LIST_NOINFERIORS) != 0,
	};

	/* (a folder with several roles keeps the first of this order) */
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]) && !e.role; i++)
		if (le->flags & roles[i].flag)
			e.role = roles[i].role;
	return c->cb(c->ctx, &e);
}

static int imapd_list(void *drv, int (*cb)(void *ctx, const struct driver_list_entry *e),
                      void *ctx, const struct driver_folder *watch, size_t n)
{
	struct imapd *d = drv;
	struct list_ctx c = { .d = d, .cb = cb, .ctx = ctx, .nwatch = n };
	const char **names = NULL;
	struct slot *sl;
	uint64_t trips;
	int r;

	if (n) {
		c.watch = malloc(n * sizeof(*c.watch));
		names = malloc(n * sizeof(*names));
		c.recreated = calloc(n, 1);
		if (!c.watch || !names || !c.recreated) {
			free(c.watch);
			free(names);
			free(c.recreated);
			return -ENOMEM;
		}
		for (size_t i = 0; i < n; i++)
			c.watch[i] = &watch[i];
		qsort(c.watch, n, sizeof(*c.watch), by_server);
		for (size_t i = 0; i < n; i++)
			names[i] = c.watch[i]->server;
	}
	sl = imapd_pool_get(d, NULL, &r);
	if (sl) {
		c.s = sl->s;
		trips = imap_round_trips(sl->s);
		r = imap_list_status(sl->s, list_cb, n ? status_cb : NULL, &c, names, n);
		trips = imap_round_trips(sl->s) - trips;
		imapd_pool_put(sl);
		if (r == 0)
			r = trips > INT_MAX ? INT_MAX : (int)trips;
	}
	/* A folder deleted and recreated elsewhere: a session that has it
	 * selected keeps its view of the old one, which a NOOP does not
	 * refresh (only a SELECT does, and the sync's is one with QRESYNC
	 * alone): those sessions leave it, and the sync selects it afresh. */
	for (size_t i = 0; i < n; i++)
		if (c.recreated[i])
			imapd_pool_leave(d, c.watch[i]->server);
	free(c.watch);
	free(names);
	free(c.recreated);
	return r;
}

static void imapd_start(void *drv)
{
	struct imapd *d = drv;

	__atomic_store_n(&d->started, 1, __ATOMIC_RELAXED);
	imapd_idle_start(d);
}

static void imapd_stop(void *drv)
{
	imapd_idle_stop(drv);
}

static void imapd_close(void *drv)
{
	struct imapd *d = drv;

	if (!d)
		return;
	for (int i = 0; i < d->nslots; i++) {
		if (d->slots[i].s) {
			imap_logout(d->slots[i].s);
			imap_session_free(d->slots[i].s);
		}
	}
	free(d->slots);
	free(d->caps);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->cond);
	pthread_cond_destroy(&d->idle_cond);
	free(d);
}

static void imapd_status(void *drv, FILE *out)
{
	struct imapd *d = drv;
	time_t now = imapd_now();
	int n = 0;

	pthread_mutex_lock(&d->lock);
	for (int i = 0; i < d->nslots; i++)
		n += d->slots[i].s != NULL;
	n += d->idle.s != NULL;
	fprintf(out, "protocol: IMAP, %d connection%s open (max_connections=%d)\n", n,
	        n == 1 ? "" : "s", d->nslots);
	if (d->limit && now < d->limit_until)
		fprintf(out, "connection limit: the server took no more than %d for the pool; "
		        "one more is tried in %lld s\n", d->limit, (long long)(d->limit_until - now));
	fprintf(out, "capabilities: %s\n", d->caps ? d->caps : "(not connected yet)");
	pthread_mutex_unlock(&d->lock);
	imapd_idle_status(d, out);
}

const struct driver driver_imap = {
	.name = "IMAP",
	.caps = DRIVER_FOLDERS | DRIVER_WRITE | DRIVER_REFETCH,
	.open = imapd_open,
	.list = imapd_list,
	.sync = imapd_sync,
	.fetch = imapd_fetch,
	.structure = imapd_structure,
	.sections = imapd_sections,
	.search = imapd_search,
	.remove = imapd_remove,
	.move = imapd_move,
	.append = imapd_append,
	.set_flags = imapd_set_flags,
	.mkdir = imapd_mkdir,
	.rmdir = imapd_rmdir,
	.rename = imapd_rename,
	.start = imapd_start,
	.stop = imapd_stop,
	.close = imapd_close,
	.status = imapd_status,
};
