/* imapd.c - the IMAP driver (driver.h): a small pool of sessions, folder
 * sync (SPEC §2, §4), body downloads and the changes, over net/imap.c. The
 * parts are listed in imapd.h. */
#include "fs/engine/drivers/imapd.h"
#include "fs/options.h"
#include "fs/log.h"
#include "net/conn.h"

#include <errno.h>
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
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	pthread_cond_init(&d->idle_cond, NULL);
	for (int i = 0; i < POOL_MAX; i++)
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
	int (*cb)(void *ctx, const struct driver_list_entry *e);
	void *ctx;
};

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
                      void *ctx)
{
	struct list_ctx c = { .cb = cb, .ctx = ctx };
	struct slot *sl;
	int r;

	sl = imapd_pool_get(drv, NULL, &r);
	if (!sl)
		return r;
	r = imap_list(sl->s, list_cb, &c);
	imapd_pool_put(sl);
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
	for (int i = 0; i < POOL_MAX; i++) {
		if (d->slots[i].s) {
			imap_logout(d->slots[i].s);
			imap_session_free(d->slots[i].s);
		}
	}
	free(d->caps);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->cond);
	pthread_cond_destroy(&d->idle_cond);
	free(d);
}

static void imapd_status(void *drv, FILE *out)
{
	struct imapd *d = drv;
	int n = 0;

	pthread_mutex_lock(&d->lock);
	for (int i = 0; i < POOL_MAX; i++)
		n += d->slots[i].s != NULL;
	fprintf(out, "protocol: IMAP, %d connection%s open\n", n, n == 1 ? "" : "s");
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
