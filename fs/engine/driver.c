/* driver.c - the engine's side of driver.h: what a driver reports is
 * written to the cache here, and the face is told; and what the drivers
 * share (their connection parameters). */
#include "fs/engine/engine.h"
#include "net/grow.h"
#include "fs/engine/change.h"
#include "fs/engine/layout.h"
#include "fs/log.h"
#include "cache/body.h"
#include "cache/store.h"
#include "net/conn.h"
#include "net/mime.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void free_rows(struct store_msg *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((char *)rows[i].name);
		free((char *)rows[i].msgid);
	}
	free(rows);
}

int driver_msgs_new(struct engine *m, int64_t folder, const struct driver_msg *msgs, size_t n)
{
	struct folder *f = tree_get(m, folder);
	struct store_msg *rows = calloc(n ? n : 1, sizeof(*rows));
	size_t k = 0;
	int r = 0;

	if (!f)
		return 0;
	if (!rows)
		return -ENOMEM;
	for (size_t i = 0; i < n && r == 0; i++) {
		struct store_msg *row = &rows[k];
		char *name, *msgid;

		/* A message another connection expunged while this sync heard
		 * of it stays gone. */
		pthread_mutex_lock(&f->lock);
		int gone = folder_forgotten(f, msgs[i].uid);
		pthread_mutex_unlock(&f->lock);
		if (gone)
			continue;
		r = layout_from_header(msgs[i].uid, msgs[i].header, msgs[i].header_len, &name,
		                       &msgid, NULL);
		if (r < 0)
			break;
		*row = (struct store_msg){
			.uid = msgs[i].uid, .name = name, .size = msgs[i].size,
			.date = (int64_t)msgs[i].date, .flags = msgs[i].flags, .msgid = msgid,
			.modseq = msgs[i].modseq,
		};
		k++;
	}
	if (r == 0 && k)
		r = store_msg_put(m->store, folder, rows, k);
	free_rows(rows, k);
	if (r == 0 && n) {
		/* A first listing is read while it is fetched (folder_listed). */
		pthread_mutex_lock(&f->lock);
		if (f->listing && msgs[n - 1].uid > f->listed_upto) {
			f->listed_upto = msgs[n - 1].uid;
			pthread_cond_broadcast(&f->cond);
		}
		pthread_mutex_unlock(&f->lock);
	}
	return r;
}

int driver_msgs_flags(struct engine *m, int64_t folder, const uint32_t *uids,
                      const char *const *flags, const uint64_t *modseq, size_t n)
{
	return store_msg_set_flags(m->store, folder, uids, flags, modseq, n);
}

/* UIDs of a range gone from the server, taken from the cache a bounded
 * batch at a time. */
#define GONE_BATCH 1024

struct uid_list {
	uint32_t uids[GONE_BATCH];
	size_t n;
	uint32_t hi;
};

static int collect_uid(void *ctx, const struct store_msg *msg)
{
	struct uid_list *l = ctx;

	if (msg->uid > l->hi || l->n == GONE_BATCH)
		return 1;
	l->uids[l->n++] = msg->uid;
	return 0;
}

void driver_msgs_gone(struct engine *m, int64_t folder, uint32_t lo, uint32_t hi)
{
	struct folder *f = tree_get(m, folder);
	struct uid_list *l;
	uint32_t after = lo - 1;

	if (!f)
		return;
	if (lo == hi) {
		change_forget(m, f, lo);
		return;
	}
	/* A range (VANISHED) is intersected with the cache, never walked: a
	 * hostile 1:4294967295 costs what the cache holds, and memory a batch
	 * (VANISHED (EARLIER) of a whole folder is a million UIDs). */
	if (!(l = malloc(sizeof(*l))))
		return;
	l->hi = hi;
	do {
		l->n = 0;
		if (store_msg_list(m->store, folder, after, GONE_BATCH, collect_uid, l) < 0)
			break;
		for (size_t i = 0; i < l->n; i++)
			change_forget(m, f, l->uids[i]);
		if (l->n)
			after = l->uids[l->n - 1];
	} while (l->n == GONE_BATCH && after < hi);
	free(l);
}

int driver_msgs_known(struct engine *m, int64_t folder, uint32_t **uids_r, size_t *n_r)
{
	return store_msg_uids(m->store, folder, uids_r, n_r);
}

struct uid_window {
	uint32_t *uids;
	size_t n;
};

static int window_add(void *ctx, const struct store_msg *msg)
{
	struct uid_window *w = ctx;

	w->uids[w->n++] = msg->uid;
	return 0;
}

int driver_msgs_known_after(struct engine *m, int64_t folder, uint32_t after, uint32_t *uids,
                            size_t max, size_t *n_r)
{
	struct uid_window w = { .uids = uids };
	int r = max ? store_msg_list(m->store, folder, after, max, window_add, &w) : 0;

	*n_r = w.n;
	return r < 0 ? r : 0;
}

uint64_t driver_msgs_count(struct engine *m, int64_t folder)
{
	struct store_stats stats = { 0 };

	store_msg_stats(m->store, folder, &stats);
	return stats.count;
}

static int row_found(void *ctx, const struct store_msg *msg)
{
	(void)msg;
	*(int *)ctx = 1;
	return 0;
}

int driver_msg_known(struct engine *m, int64_t folder, uint32_t uid)
{
	int found = 0;

	store_msg_get(m->store, folder, uid, row_found, &found);
	return found;
}

void driver_new_mail(struct engine *m, int64_t folder)
{
	struct folder *f = tree_get(m, folder);

	if (f && !folder_gone(f))
		folder_sync_later(m, f);
}

/* Whether ST is what F's last sync saw (F's lock held): then nothing
 * changed. Without a mod-sequence a flag change cannot be told. */
static int status_same(const struct folder *f, const struct driver_status *st)
{
	return f->synced && st->modseq && st->modseq == f->modseq &&
	       st->uidnext == f->uidnext && st->uidvalidity == f->uidvalidity;
}

void driver_folder_status(struct engine *m, int64_t folder, const struct driver_status *st)
{
	struct folder *f = tree_get(m, folder);

	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	f->unchanged = status_same(f, st);
	pthread_mutex_unlock(&f->lock);
}

void driver_folder_news(struct engine *m, const char *server, const struct driver_status *st)
{
	struct folder *f = NULL;
	int sync;

	if (!server) {
		poll_enqueue(m, POLL_TREE);
		return;
	}
	/* Seldom (a change made elsewhere): a walk over the folders will do. */
	pthread_rwlock_rdlock(&m->tree_lock);
	for (size_t i = 0; i < m->nfolders && !f; i++)
		if (!m->folders[i]->gone && m->folders[i]->server &&
		    strcmp(m->folders[i]->server, server) == 0)
			f = m->folders[i];
	pthread_rwlock_unlock(&m->tree_lock);
	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	/* Those never looked at are synced when they are; news that only
	 * repeats the last sync (the server tells of our own SELECT) is none. */
	sync = f->wanted && !(st && status_same(f, st));
	pthread_mutex_unlock(&f->lock);
	if (sync)
		folder_sync_later(m, f);
}

void driver_lost_track(struct engine *m, int64_t folder)
{
	struct folder *f = tree_get(m, folder);

	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	f->modseq = 0;      /* no shortcut next time: compare every UID */
	pthread_mutex_unlock(&f->lock);
	folder_sync_later(m, f);
}

int driver_inbox(struct engine *m, struct driver_folder *f_r)
{
	struct folder *f = tree_by_path(m, "INBOX");
	const char *server = f ? folder_server(f) : NULL;

	if (!server)
		return -ENOENT;
	*f_r = folder_view(m, f);
	f_r->server = strdup(server);
	return f_r->server ? 0 : -ENOMEM;
}

void driver_online(struct engine *m, int online)
{
	status_online(m, online);
}

void driver_error(struct engine *m, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	status_error(m, "%s", text);
}

void driver_progress(struct engine *m, const char *fmt, ...)
{
	char text[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	status_progress(m, "%s", text);
}

void driver_progress_done(struct engine *m, const char *fmt, ...)
{
	char text[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	status_progress_done(m, "%s", text);
}

/* ---- POP3 ---------------------------------------------------------------------- */

int driver_uidl_state(struct engine *m, const char *uidl, enum driver_uidl_state *state_r)
{
	uint32_t uid;
	int state, r = store_pop3_get(m->store, uidl, &uid, &state);

	if (r == -ENOENT) {
		*state_r = DRIVER_UIDL_NEW;
		return 0;
	}
	if (r < 0)
		return r;
	*state_r = state == STORE_POP3_STORED ? DRIVER_UIDL_STORED :
	           state == STORE_POP3_REMOVED ? DRIVER_UIDL_REMOVED : DRIVER_UIDL_RESERVED;
	return 0;
}

struct reserved_ctx {
	struct engine *m;
	int64_t folder;
};

/* Called under the store's lock: nothing here may take another lock that
 * is held while the store is called (the tree's). */
static void forget_reserved(void *ctx, uint32_t uid)
{
	struct reserved_ctx *c = ctx;

	body_remove(c->m->bodies, c->folder, uid);
}

void driver_uidl_cleanup(struct engine *m, int64_t folder)
{
	struct reserved_ctx c = { .m = m, .folder = folder };

	store_pop3_drop_reserved(m->store, forget_reserved, &c);
}

int driver_uidl_begin(struct engine *m, const char *uidl, uint32_t *uid_r,
                      struct driver_download *dl)
{
	int r = store_pop3_reserve(m->store, uidl, uid_r);

	dl->fd = -1;
	dl->tmp = NULL;
	if (r < 0)
		return r;
	dl->tmp = calloc(1, sizeof(*dl->tmp));
	if (!dl->tmp)
		return -ENOMEM;
	r = body_create(m->bodies, dl->tmp);
	if (r < 0) {
		free(dl->tmp);
		dl->tmp = NULL;
		return r;
	}
	dl->fd = dl->tmp->fd;
	return 0;
}

static void download_end(struct engine *m, struct driver_download *dl)
{
	if (dl->tmp) {
		body_tmp_close(m->bodies, dl->tmp);
		free(dl->tmp);
	}
	dl->tmp = NULL;
	dl->fd = -1;
}

void driver_uidl_abandon(struct engine *m, int64_t folder, uint32_t uid,
                         struct driver_download *dl)
{
	/* The reservation stays: its UID is burnt, its body removed at the
	 * next round; the UIDL is tried again then. */
	body_remove(m->bodies, folder, uid);
	download_end(m, dl);
}

#define HEADER_PEEK 65536

int driver_uidl_stored(struct engine *m, int64_t folder, const char *uidl, uint32_t uid,
                       struct driver_download *dl, uint64_t size, char *why, size_t whylen)
{
	char hdr[HEADER_PEEK + 1];
	char *msgid = NULL, *date = NULL, *name = NULL;
	struct store_msg msg = {
		.uid = uid, .uidl = uidl, .flags = "", .size = size, .state = STORE_MSG_SIZE_EXACT,
	};
	ssize_t got = pread(dl->fd, hdr, HEADER_PEEK, 0);
	time_t when;
	int r;

	/* The name, date and Message-ID come from the header. */
	r = layout_from_header(uid, got > 0 ? hdr : NULL, got > 0 ? (size_t)got : 0, &name,
	                       &msgid, &date);
	if (r < 0)
		goto out;
	if (!date || mime_parse_date(date, &when) < 0)
		when = time(NULL);
	/* Durable before listed (SPEC §3). */
	r = body_commit(m->bodies, dl->tmp, folder, uid, 1);
	if (r < 0) {
		snprintf(why, whylen, "cannot store message %u in %s: %s", uid, m->opt->cache_dir,
		         strerror(-r));
		goto out;
	}
	msg.name = name;
	msg.date = (int64_t)when;
	msg.msgid = msgid;
	r = store_pop3_stored(m->store, folder, &msg);
	if (r < 0)
		snprintf(why, whylen, "cannot record message %u: %s", uid, store_error(m->store));
	else
		tell_dir(m, folder);     /* `ls` shows what is downloaded so far */
out:
	if (r < 0 && r != -ENOMEM)
		body_remove(m->bodies, folder, uid);
	download_end(m, dl);
	free(msgid);
	free(date);
	free(name);
	return r;
}

/* ---- shared by the drivers ------------------------------------------------------ */

void driver_conn_params(const struct driver_params *p, struct conn_params *c)
{
	c->host = p->opt->host;
	c->port = p->opt->port;
	c->implicit_tls = p->opt->implicit_tls;
	c->tls = p->tls;
	c->timeout_ms = p->opt->timeout * 1000;
}
