/* backend_imap.c - the IMAP side of mail_ops: a small pool of sessions,
 * folder sync (SPEC §2, §4) and body downloads.
 *
 * Every untagged response of a session goes through the same event
 * handlers, whatever command it arrived in: new message metadata is added
 * to the store, flag changes update it, expunges remove the message and
 * tell the kernel. A sync is therefore only a matter of asking the server
 * the right question and letting the events do the rest.
 */
#include "fs/engine/engine.h"
#include "fs/engine/change.h"
#include "fs/engine/fetch.h"
#include "fs/engine/layout.h"
#include "fs/log.h"
#include "cache/body.h"
#include "cache/store.h"
#include "net/imap.h"
#include "net/mime.h"
#include "net/tls.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define POOL_MAX 4             /* connections, IDLE not counted */
#define BATCH 2000             /* rows per store transaction during a sync */

/* The metadata asked for every new message: what the tree shows. */
#define META_ITEMS "UID FLAGS RFC822.SIZE INTERNALDATE " \
                   "BODY.PEEK[HEADER.FIELDS (SUBJECT MESSAGE-ID)]"

struct imapb;

/* What a sync gathers from the events before writing to the store. */
struct sync_state {
	struct store_msg *msgs;    /* new messages; strings owned */
	size_t nmsgs;
	uint32_t *fuids;           /* flag changes */
	char **fflags;             /* owned */
	uint64_t *fmodseq;
	size_t nflags;
	uint32_t *seen;            /* every UID the server listed, when collecting */
	size_t nseen, capseen;
	int collect_seen;
	uint32_t min_new;          /* ignore metadata of UIDs below (the n:* rule) */
	uint32_t max_seen;         /* highest UID the server listed in this sync */
	uint32_t nnew;             /* new messages so far */
	uint32_t progress_of;      /* a first listing of this many: show progress */
	int changed;
	int err;
};

struct slot {
	struct imapb *b;
	struct imap_session *s;
	int busy;                  /* protected by imapb.lock */
	time_t used;               /* monotonic seconds, when last given back */
	/* The rest belongs to the thread holding the slot. */
	struct folder *f;          /* the folder events are about */
	struct sync_state *sync;
	struct fetch **batch;      /* bodies being fetched, ascending UIDs */
	size_t nbatch;
	struct fetch *cur;         /* the one whose literal is streaming */
	size_t ndone;              /* bodies of the batch complete */
	struct imap_sink sink;
};

struct imapb {
	struct engine *m;
	struct imap_params params;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct slot slots[POOL_MAX];   /* busy and s protected by lock */
	char *caps;                    /* protected by lock */

	/* IDLE on INBOX (RFC 2177), on a connection of its own. */
	pthread_t idle_thread;
	int idle_running;
	struct slot idle;              /* idle.s protected by lock */
	int idle_stop;                 /* protected by lock */
	int idle_state;                /* 0 off, 1 connecting, 2 idling; lock */
	pthread_cond_t idle_cond;      /* wakes the IDLE thread's pauses */
	pthread_t warm_thread;         /* opens a spare connection at start */
	int warm_running;
	int said_too_many;             /* the folder limit was logged (atomic) */
};

static struct imapb *B(struct engine *m)
{
	return m->backend;
}

/* ---- events ---------------------------------------------------------------- */

static void sync_flush(struct slot *sl);

static void free_msg(struct store_msg *msg)
{
	free((char *)msg->name);
	free((char *)msg->flags);
	free((char *)msg->msgid);
}

/* Build the store row of a new message from its FETCH data. */
static int msg_from_fetch(const struct imap_fetch *f, struct store_msg *msg)
{
	char *subject = NULL, *decoded = NULL, *msgid = NULL;

	memset(msg, 0, sizeof(*msg));
	msg->uid = f->uid;
	msg->size = f->size;
	msg->date = (int64_t)f->internaldate;
	msg->modseq = f->modseq;
	if (f->header) {
		subject = mime_header(f->header, f->header_len, "Subject");
		msgid = mime_header(f->header, f->header_len, "Message-ID");
	}
	if (subject)
		decoded = mime_decode_words(subject, strlen(subject));
	msg->name = layout_message_name(f->uid, decoded ? decoded : "");
	msg->flags = strdup(f->flags ? f->flags : "");
	msg->msgid = msgid;
	free(subject);
	free(decoded);
	if (!msg->name || !msg->flags) {
		free_msg(msg);
		return -ENOMEM;
	}
	return 0;
}

static void ev_fetch(void *ctx, const struct imap_fetch *f)
{
	struct slot *sl = ctx;
	struct sync_state *st = sl->sync;
	struct folder *fo = sl->f;

	if (!fo || !f->uid)
		return;
	if (st && st->collect_seen) {
		if (st->nseen == st->capseen) {
			size_t cap = st->capseen ? st->capseen * 2 : 1024;
			uint32_t *n = realloc(st->seen, cap * sizeof(*n));
			if (!n) {
				st->err = -ENOMEM;
				return;
			}
			st->seen = n;
			st->capseen = cap;
		}
		st->seen[st->nseen++] = f->uid;
	}
	if ((f->have & (IMAP_HAVE_SIZE | IMAP_HAVE_DATE)) == (IMAP_HAVE_SIZE | IMAP_HAVE_DATE)) {
		/* A new message (metadata was only asked for those). */
		if (!st || f->uid < st->min_new)
			return;
		if (f->uid > st->max_seen)
			st->max_seen = f->uid;
		if (st->nmsgs == BATCH)
			sync_flush(sl);
		if (!st->msgs && !(st->msgs = calloc(BATCH, sizeof(*st->msgs)))) {
			st->err = -ENOMEM;
			return;
		}
		if (msg_from_fetch(f, &st->msgs[st->nmsgs]) < 0) {
			st->err = -ENOMEM;
			return;
		}
		st->nmsgs++;
		st->nnew++;
		if (st->progress_of)
			status_progress(sl->b->m, "listing %s: %u of %u messages", folder_name(fo),
			                st->nnew, st->progress_of);
		return;
	}
	if (!(f->have & IMAP_HAVE_FLAGS))
		return;
	if (!st) {
		/* Unsolicited: another client changed flags. */
		const char *flags = f->flags;
		uint64_t modseq = f->modseq;
		store_msg_set_flags(sl->b->m->store, fo->id, &f->uid, &flags, &modseq, 1);
		return;
	}
	if (st->nflags == BATCH)
		sync_flush(sl);
	if (!st->fuids) {
		st->fuids = calloc(BATCH, sizeof(*st->fuids));
		st->fflags = calloc(BATCH, sizeof(*st->fflags));
		st->fmodseq = calloc(BATCH, sizeof(*st->fmodseq));
		if (!st->fuids || !st->fflags || !st->fmodseq) {
			st->err = -ENOMEM;
			return;
		}
	}
	st->fflags[st->nflags] = strdup(f->flags);
	if (!st->fflags[st->nflags]) {
		st->err = -ENOMEM;
		return;
	}
	st->fuids[st->nflags] = f->uid;
	st->fmodseq[st->nflags] = f->modseq;
	st->nflags++;
}

struct uid_list {
	uint32_t *uids;
	size_t n, cap;
	uint32_t hi;
};

static int collect_uid(void *ctx, const struct store_msg *msg)
{
	struct uid_list *l = ctx;

	if (msg->uid > l->hi)
		return 1;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		uint32_t *n = realloc(l->uids, cap * sizeof(*n));
		if (!n)
			return 1;
		l->uids = n;
		l->cap = cap;
	}
	l->uids[l->n++] = msg->uid;
	return 0;
}

/* Messages LO..HI left the server: forget those the cache knows (a range
 * is intersected with the store, never walked). */
static void ev_expunge(void *ctx, uint32_t lo, uint32_t hi)
{
	struct slot *sl = ctx;
	struct uid_list l = { .hi = hi };

	if (!sl->f)
		return;
	if (lo == hi) {
		msg_forget(sl->b->m, sl->f, lo);
	} else {
		store_msg_list(sl->b->m->store, sl->f->id, lo - 1, 0, collect_uid, &l);
		for (size_t i = 0; i < l.n; i++)
			msg_forget(sl->b->m, sl->f, l.uids[i]);
		free(l.uids);
	}
	if (sl->sync)
		sl->sync->changed = 1;
}

static void ev_exists(void *ctx, uint32_t count)
{
	struct slot *sl = ctx;

	(void)count;
	/* New mail while doing something else: fetch it soon. A sync in
	 * progress compares counts itself. */
	if (sl->f && !sl->sync)
		folder_sync_later(sl->b->m, sl->f);
}

static void ev_lost_track(void *ctx)
{
	struct slot *sl = ctx;

	if (!sl->f)
		return;
	pthread_mutex_lock(&sl->f->lock);
	sl->f->modseq = 0;      /* no shortcut next time: compare every UID */
	pthread_mutex_unlock(&sl->f->lock);
	folder_sync_later(sl->b->m, sl->f);
}

static int sink_write(struct imap_sink *sk, const char *data, size_t len)
{
	struct slot *sl = (struct slot *)((char *)sk - offsetof(struct slot, sink));

	return sl->cur ? fetch_data(sl->cur, data, len) : 0;
}

static void sink_end(struct imap_sink *sk, int err)
{
	struct slot *sl = (struct slot *)((char *)sk - offsetof(struct slot, sink));

	/* This message's FETCH response is complete: publish it now, not at
	 * the end of the batch. */
	if (sl->cur) {
		fetch_end(sl->cur, err);
		if (!err)
			sl->ndone++;
		sl->cur = NULL;
	}
}

static struct imap_sink *ev_body(void *ctx, uint32_t uid, uint64_t offset, uint64_t size)
{
	struct slot *sl = ctx;
	struct fetch *fx = NULL;

	if (!sl->nbatch || offset != 0 || sl->cur)
		return NULL;
	if (!uid && sl->nbatch == 1) {
		fx = sl->batch[0];
	} else {
		size_t lo = 0, hi = sl->nbatch;   /* binary search: ascending UIDs */

		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (fetch_uid(sl->batch[mid]) < uid)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < sl->nbatch && fetch_uid(sl->batch[lo]) == uid)
			fx = sl->batch[lo];
	}
	if (!fx || fetch_begin(fx, size) < 0)
		return NULL;
	sl->cur = fx;
	sl->sink.write = sink_write;
	sl->sink.end = sink_end;
	return &sl->sink;
}

static const struct imap_events events = {
	.fetch = ev_fetch,
	.expunge = ev_expunge,
	.exists = ev_exists,
	.lost_track = ev_lost_track,
	.body = ev_body,
};

/* ---- the pool ---------------------------------------------------------------- */

/* One line telling the user what went wrong and what to do; returns 1 when
 * the failure is the kind that passes (network trouble), so that a mount
 * with a cache may come up offline. */
static int explain(struct imapb *b, struct imap_session *s, char *err, size_t errlen)
{
	const struct mfs_options *o = b->m->opt;

	switch (imap_fail_class(s)) {
	case IMAP_FAIL_CONN: {
		int transient;
		const char *advice = conn_fail_advice(imap_conn_fail(s), &transient);

		snprintf(err, errlen, "%s%s", imap_error(s), advice);
		return transient;
	}
	case IMAP_FAIL_AUTH:
		/* LOGINDISABLED and no other way in: mailfs refused by itself and
		 * never tried the password, so the password is not what to check. */
		if ((imap_caps(s) & IMAP_CAP_LOGINDISABLED) && !(imap_caps(s) & IMAP_CAP_AUTH_PLAIN) &&
		    b->params.auth == IMAP_AUTH_PASSWORD) {
			snprintf(err, errlen, "%s: %s", o->host, imap_error(s));
			return 0;
		}
		if (b->params.auth != IMAP_AUTH_PASSWORD)
			snprintf(err, errlen, "%s (check the token that oauth2_token_command prints)",
			         imap_error(s));
		else
			snprintf(err, errlen, "%s (check the user name and password)", imap_error(s));
		return 0;
	case IMAP_FAIL_PROTO:
		snprintf(err, errlen, "%s:%u does not answer like an IMAP server: %s", o->host,
		         o->port, imap_error(s));
		return 0;
	case IMAP_FAIL_BYE:
		snprintf(err, errlen, "%s: %s", o->host, imap_error(s));
		return 1;
	default:
		snprintf(err, errlen, "%s: %s", o->host, imap_error(s));
		return 0;
	}
}

/* Open a new session; NULL with a reason in err and *transient_r. */
static struct imap_session *session_open(struct imapb *b, char *err, size_t errlen, int *r_out,
                                         int *transient_r)
{
	struct imap_session *s = imap_session_new(&b->params);
	int r;

	*transient_r = 0;
	if (!s) {
		*r_out = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r = imap_connect(s);
	if (r < 0) {
		*transient_r = explain(b, s, err, errlen);
		imap_session_free(s);
		*r_out = r;
		return NULL;
	}
	pthread_mutex_lock(&b->lock);
	if (!b->caps)
		b->caps = strdup(imap_caps_text(s));
	pthread_mutex_unlock(&b->lock);
	status_online(b->m, 1);
	return s;
}

/* Idle for longer than this, a pooled session is checked before use. */
#define POOL_STALE_S 120

static time_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* Take a session, preferring one that has SERVER selected. Waits while all
 * are busy. */
static struct slot *pool_get(struct imapb *b, const char *server, int *r_out)
{
	struct slot *sl = NULL;
	char err[512];

	pthread_mutex_lock(&b->lock);
	for (;;) {
		struct slot *any = NULL, *empty = NULL;

		for (int i = 0; i < POOL_MAX; i++) {
			struct slot *c = &b->slots[i];
			if (c->busy)
				continue;
			if (!c->s) {
				if (!empty)
					empty = c;
				continue;
			}
			const char *sel = imap_selected(c->s);
			if (server && sel && strcmp(sel, server) == 0) {
				sl = c;
				break;
			}
			if (!any)
				any = c;
		}
		if (!sl)
			sl = any ? any : empty;
		if (sl)
			break;
		pthread_cond_wait(&b->cond, &b->lock);
	}
	sl->busy = 1;
	pthread_mutex_unlock(&b->lock);
	/* A session that waited in the pool may have died meanwhile (the
	 * server's autologout, a network that dropped it), or have news
	 * waiting: a NOOP finds out, and a dead one is replaced now instead of
	 * failing the caller's command. Only sessions with something to read
	 * or idle for a while pay the round trip. */
	if (sl->s && (imap_pending(sl->s) || mono_now() - sl->used > POOL_STALE_S) &&
	    imap_noop(sl->s) < 0) {
		log_debug("an idle connection to %s is gone (%s); opening another",
		          b->m->opt->host, imap_error(sl->s));
		imap_session_free(sl->s);
		sl->s = NULL;
	}
	if (!sl->s) {
		int transient;

		sl->s = session_open(b, err, sizeof(err), r_out, &transient);
		if (!sl->s) {
			log_warn("%s", err);
			status_error(b->m, "%s", err);
			status_online(b->m, 0);
			pthread_mutex_lock(&b->lock);
			sl->busy = 0;
			pthread_cond_signal(&b->cond);
			pthread_mutex_unlock(&b->lock);
			if (*r_out != -ENOMEM)
				*r_out = -EIO;
			return NULL;
		}
	}
	sl->f = NULL;
	sl->sync = NULL;
	sl->batch = NULL;
	sl->nbatch = 0;
	sl->cur = NULL;
	return sl;
}

static void pool_put(struct slot *sl)
{
	struct imapb *b = sl->b;

	if (imap_broken(sl->s)) {
		/* Bad server data gets its own words: "lost" would send the user
		 * looking for a network problem. Before the mount, main.c puts
		 * the reason in its one line instead (SPEC §1). */
		int proto = imap_fail_class(sl->s) == IMAP_FAIL_PROTO;

		/* A session imapb_stop() aborted at unmount lost nothing, so
		 * nothing is said. */
		if (b->m->mounted && imap_conn_fail(sl->s) != CONN_FAIL_ABORTED)
			log_warn("%s %s%s: %s", proto ? "protocol error from" : "connection to",
			         b->m->opt->host, proto ? ", connection closed" : " lost",
			         imap_error(sl->s));
		status_error(b->m, "%s%s", proto ? "protocol error: " : "", imap_error(sl->s));
		imap_session_free(sl->s);
		sl->s = NULL;
	}
	sl->f = NULL;
	sl->sync = NULL;
	sl->batch = NULL;
	sl->nbatch = 0;
	sl->cur = NULL;
	sl->used = mono_now();
	pthread_mutex_lock(&b->lock);
	sl->busy = 0;
	pthread_cond_signal(&b->cond);
	pthread_mutex_unlock(&b->lock);
}

/* ---- mail_ops ------------------------------------------------------------------- */

static int imapb_open(struct engine *m, char *err, size_t errlen)
{
	struct imapb *b = calloc(1, sizeof(*b));
	const struct mfs_options *o = m->opt;
	int r, transient;

	if (!b) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	b->m = m;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	pthread_cond_init(&b->idle_cond, NULL);
	for (int i = 0; i < POOL_MAX; i++)
		b->slots[i].b = b;
	mfs_conn_params(m, &b->params.conn);
	b->params.require_tls = !o->tls_insecure_plaintext;
	b->params.user = o->user;
	b->params.secret = m->secret;
	b->params.auth = o->oauth2_token_command ? IMAP_AUTH_XOAUTH2 : IMAP_AUTH_PASSWORD;
	if (o->debug)
		b->params.trace = log_protocol;
	m->backend = b;

	/* The first session checks the account before anything is mounted. */
	b->slots[0].s = session_open(b, err, errlen, &r, &transient);
	b->slots[0].used = mono_now();
	if (b->slots[0].s)
		return 0;
	/* Unreachable, with a cache from an earlier mount: come up from the
	 * cache (SPEC §4); a refused login or certificate always fails. */
	if (m->nfolders > 0 && transient) {
		log_warn("%s; the mount comes up from the cache", err);
		status_error(m, "%s", err);
		m->offline_start = 1;
		return 0;
	}
	return r;
}

struct list_ctx {
	struct tree_entry *e;
	size_t n, cap;
	size_t over;               /* folders past TREE_MAX_FOLDERS */
	int err;
};

static int list_cb(void *ctx, const struct imap_list_entry *le)
{
	struct list_ctx *c = ctx;

	if (c->n == TREE_MAX_FOLDERS) {
		c->over++;
		return 0;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 32;
		struct tree_entry *ne = realloc(c->e, cap * sizeof(*ne));
		if (!ne)
			return -ENOMEM;
		c->e = ne;
		c->cap = cap;
	}
	c->e[c->n].server = strdup(le->name);
	if (!c->e[c->n].server)
		return -ENOMEM;
	c->e[c->n].delim = le->delim;
	c->e[c->n].flags = ((le->flags & IMAP_LIST_NOSELECT) ? STORE_FOLDER_NOSELECT : 0) |
	                   ((le->flags & IMAP_LIST_NOINFERIORS) ? STORE_FOLDER_NOINFERIORS : 0);
	c->n++;
	return 0;
}

static int imapb_list(struct engine *m)
{
	struct imapb *b = B(m);
	struct list_ctx c = { 0 };
	struct slot *sl;
	int r;

	sl = pool_get(b, NULL, &r);
	if (!sl)
		return r;
	r = imap_list(sl->s, list_cb, &c);
	pool_put(sl);
	if (r == 0 && c.over && !__atomic_exchange_n(&b->said_too_many, 1, __ATOMIC_RELAXED))
		log_warn("%s lists %zu folders; only the first %d are shown", m->opt->host,
		         c.n + c.over, TREE_MAX_FOLDERS);
	if (r == 0)
		r = tree_sync(m, c.e, c.n);
	for (size_t i = 0; i < c.n; i++)
		free((char *)c.e[i].server);
	free(c.e);
	return r;
}

static void sync_flush(struct slot *sl)
{
	struct sync_state *st = sl->sync;
	struct engine *m = sl->b->m;
	int r;

	if (st->nmsgs) {
		size_t keep = 0;

		/* Messages another connection expunged while this sync heard
		 * of them stay gone. */
		pthread_mutex_lock(&sl->f->lock);
		for (size_t i = 0; i < st->nmsgs; i++) {
			if (folder_forgotten(sl->f, st->msgs[i].uid))
				free_msg(&st->msgs[i]);
			else
				st->msgs[keep++] = st->msgs[i];
		}
		pthread_mutex_unlock(&sl->f->lock);
		st->nmsgs = keep;
		r = store_msg_put(m->store, sl->f->id, st->msgs, st->nmsgs);
		if (r < 0)
			st->err = r;
		for (size_t i = 0; i < st->nmsgs; i++)
			free_msg(&st->msgs[i]);
		st->nmsgs = 0;
		st->changed = 1;
	}
	if (st->nflags) {
		r = store_msg_set_flags(m->store, sl->f->id, st->fuids,
		                        (const char *const *)st->fflags, st->fmodseq, st->nflags);
		if (r < 0)
			st->err = r;
		for (size_t i = 0; i < st->nflags; i++)
			free(st->fflags[i]);
		st->nflags = 0;
	}
}

static void sync_free(struct sync_state *st)
{
	free(st->msgs);
	free(st->fuids);
	free(st->fflags);
	free(st->fmodseq);
	free(st->seen);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Append UID range lo..hi to a sequence-set string. */
static int set_add(char **set, size_t *len, size_t *cap, uint32_t lo, uint32_t hi)
{
	char item[24];
	int n = lo == hi ? snprintf(item, sizeof(item), "%s%u", *len ? "," : "", lo)
	                 : snprintf(item, sizeof(item), "%s%u:%u", *len ? "," : "", lo, hi);

	if (*len + (size_t)n + 1 > *cap) {
		size_t ncap = *cap ? *cap * 2 : 256;
		char *ns = realloc(*set, ncap);
		if (!ns)
			return -ENOMEM;
		*set = ns;
		*cap = ncap;
	}
	memcpy(*set + *len, item, (size_t)n + 1);
	*len += (size_t)n;
	return 0;
}

/* Fetch the metadata of UIDS (ascending) as new messages, in commands of
 * bounded length. */
static int fetch_uids(struct slot *sl, const uint32_t *uids, size_t n)
{
	char *set = NULL;
	size_t len = 0, cap = 0, i = 0;
	int r = 0;

	while (r == 0 && i < n) {
		len = 0;
		for (int ranges = 0; r == 0 && i < n && ranges < 500; ranges++) {
			size_t j = i;
			while (j + 1 < n && uids[j + 1] == uids[j] + 1)
				j++;
			r = set_add(&set, &len, &cap, uids[i], uids[j]);
			i = j + 1;
		}
		if (r == 0)
			r = imap_uid_fetch(sl->s, set, META_ITEMS, NULL);
		sync_flush(sl);
	}
	free(set);
	return r;
}

/* Compare every UID the server has with the store: UID FETCH 1:* (FLAGS)
 * refreshes all flags and tells which messages are gone and which are
 * missing (SPEC §4, for servers without CONDSTORE, and whenever counts
 * disagree). */
static int full_compare(struct slot *sl, uint32_t exists)
{
	struct sync_state *st = sl->sync;
	struct engine *m = sl->b->m;
	uint32_t *have = NULL, *missing = NULL;
	size_t nhave = 0, nmissing = 0, i, j;
	int r = 0;

	st->nseen = 0;
	st->collect_seen = 1;
	if (exists)
		r = imap_uid_fetch(sl->s, "1:*", "UID FLAGS", NULL);
	st->collect_seen = 0;
	if (r < 0)
		return r;
	sync_flush(sl);
	if (store_msg_uids(m->store, sl->f->id, &have, &nhave) < 0)
		return -EIO;
	qsort(st->seen, st->nseen, sizeof(*st->seen), cmp_u32);
	/* Gone from the server. */
	for (i = j = 0; i < nhave; i++) {
		while (j < st->nseen && st->seen[j] < have[i])
			j++;
		if (j < st->nseen && st->seen[j] == have[i])
			continue;
		msg_forget(m, sl->f, have[i]);
		st->changed = 1;
	}
	/* On the server but not here. */
	if (st->nseen && !(missing = malloc(st->nseen * sizeof(*missing)))) {
		free(have);
		return -ENOMEM;
	}
	for (i = j = 0; i < st->nseen; i++) {
		while (j < nhave && have[j] < st->seen[i])
			j++;
		if (j < nhave && have[j] == st->seen[i])
			continue;
		missing[nmissing++] = st->seen[i];
	}
	free(have);
	if (nmissing) {
		st->min_new = 1;
		r = fetch_uids(sl, missing, nmissing);
		st->changed = 1;
	}
	if (st->nseen && st->seen[st->nseen - 1] > st->max_seen)
		st->max_seen = st->seen[st->nseen - 1];
	free(missing);
	return r;
}

static uint64_t store_count(struct engine *m, struct folder *f)
{
	struct store_stats stats = { 0 };

	store_msg_stats(m->store, f->id, &stats);
	return stats.count;
}

/* Bring F up to date. The watermark f->uidnext is what syncs have seen, not
 * the highest UID in the store: an APPEND or MOVE adds a higher UID to the
 * store while a message another client added just before it may not be
 * known yet. */
static int imapb_sync(struct engine *m, struct folder *f)
{
	struct imapb *b = B(m);
	struct sync_state st = { 0 };
	struct imap_mailbox mb;
	uint32_t uidvalidity, wm;
	uint64_t modseq;
	struct slot *sl;
	int r, first, qresync, fresh;
	char set[40];

	pthread_mutex_lock(&f->lock);
	uidvalidity = f->uidvalidity;
	modseq = f->modseq;
	wm = f->uidnext;
	pthread_mutex_unlock(&f->lock);
	first = uidvalidity == 0;

	sl = pool_get(b, folder_server(f), &r);
	if (!sl)
		return r;
	sl->f = f;
	sl->sync = &st;
	qresync = !first && modseq && imap_qresync_enabled(sl->s);
	r = imap_select(sl->s, folder_server(f), 0, 0, qresync ? uidvalidity : 0, qresync ? modseq : 0,
	                &events, sl, &mb);
	if (r < 0)
		goto out;
	fresh = r == 0;
	if (!fresh) {
		/* Selected here already: expunges and flag changes came as events;
		 * NOOP collects what is pending. */
		r = imap_noop(sl->s);
		if (r < 0)
			goto out;
		mb = *imap_mailbox(sl->s);
	}
	if (!first && mb.uidvalidity != uidvalidity) {
		/* The folder was deleted and recreated: nothing cached is valid,
		 * and nothing is deleted on the server (SPEC §4). */
		struct folder *nf = tree_renew(m, f);

		pool_put(sl);
		sync_free(&st);
		if (!nf)
			return -EIO;
		return folder_sync(m, nf);
	}

	if (first) {
		st.min_new = 1;
		st.progress_of = mb.exists >= 2000 ? mb.exists : 0;
		if (mb.exists)
			r = imap_uid_fetch(sl->s, "1:*", META_ITEMS, NULL);
		if (st.progress_of)
			status_progress_done(m, "listed %s: %u messages", folder_name(f), st.nnew);
		st.changed = 1;
	} else {
		if (fresh && !qresync) {
			/* Flags and expunges since the last sync. */
			if ((imap_caps(sl->s) & IMAP_CAP_CONDSTORE) && modseq && mb.highestmodseq) {
				if (mb.highestmodseq != modseq) {
					snprintf(set, sizeof(set), "CHANGEDSINCE %" PRIu64, modseq);
					r = imap_uid_fetch(sl->s, "1:*", "UID FLAGS", set);
				}
			} else {
				r = full_compare(sl, mb.exists);
			}
		}
		sync_flush(sl);
		/* New messages: from the watermark up. The server answers n:*
		 * with the last message even when it is below n (RFC 3501
		 * §6.4.8), hence min_new. */
		mb = *imap_mailbox(sl->s);
		if (r == 0 && mb.exists &&
		    (fresh ? !mb.uidnext || mb.uidnext > wm : mb.exists != store_count(m, f))) {
			st.min_new = wm ? wm : 1;
			snprintf(set, sizeof(set), "%u:*", wm ? wm : 1);
			r = imap_uid_fetch(sl->s, set, META_ITEMS, NULL);
		}
	}
	if (r < 0)
		goto out;
	sync_flush(sl);
	/* The counts must agree now; if not, compare everything. */
	mb = *imap_mailbox(sl->s);
	if (!first && store_count(m, f) != mb.exists) {
		log_debug("folder %s: %u messages on the server, %" PRIu64 " known: comparing all",
		          folder_server(f), mb.exists, store_count(m, f));
		r = full_compare(sl, mb.exists);
		if (r < 0)
			goto out;
	}
	if (st.err) {
		r = st.err;
		goto out;
	}
	mb = *imap_mailbox(sl->s);
	pthread_mutex_lock(&f->lock);
	f->uidvalidity = mb.uidvalidity;
	if (st.max_seen + 1 > wm)
		wm = st.max_seen + 1;
	if (fresh && mb.uidnext > wm)
		wm = mb.uidnext;
	f->uidnext = wm;
	f->modseq = mb.highestmodseq;
	f->has_cache = 1;
	struct store_folder sf = {
		.id = f->id, .uidvalidity = f->uidvalidity, .uidnext = f->uidnext,
		.modseq = f->modseq, .synced = time(NULL),
	};
	pthread_mutex_unlock(&f->lock);
	r = store_folder_synced(m->store, &sf);
	if (st.changed)
		folder_touch(f);
	if (st.changed && !first)
		tell_dir(m, f->id);
out:
	if (r < 0) {
		sync_flush(sl);
		log_debug("sync of %s failed: %s", folder_server(f), imap_error(sl->s));
		if (!imap_broken(sl->s) && r != -EIO)
			status_error(m, "folder %s: %s", folder_name(f), imap_error(sl->s));
	}
	pool_put(sl);
	sync_free(&st);
	return r;
}

static int imapb_fetch(struct engine *m, struct fetch **fxs, size_t n)
{
	struct imapb *b = B(m);
	struct folder *f = tree_get(m, fetch_folder(fxs[0]));
	struct slot *sl;
	char *set = NULL;
	size_t len = 0, cap = 0, i = 0;
	int r;

	if (!f || folder_gone(f) || !folder_server(f))
		return -ENOENT;
	while (i < n) {
		size_t j = i;
		while (j + 1 < n && fetch_uid(fxs[j + 1]) == fetch_uid(fxs[j]) + 1)
			j++;
		if (set_add(&set, &len, &cap, fetch_uid(fxs[i]), fetch_uid(fxs[j])) < 0) {
			free(set);
			return -ENOMEM;
		}
		i = j + 1;
	}
	sl = pool_get(b, folder_server(f), &r);
	if (!sl) {
		free(set);
		return r;
	}
	sl->f = f;
	sl->batch = fxs;
	sl->nbatch = n;
	sl->ndone = 0;
	sl->cur = NULL;
	r = imap_select(sl->s, folder_server(f), 0, 0, 0, 0, &events, sl, NULL);
	if (r >= 0 && n == 1 && fetch_part_len(fxs[0])) {
		char items[64];

		snprintf(items, sizeof(items), "UID BODY.PEEK[]<0.%llu>",
		         (unsigned long long)fetch_part_len(fxs[0]));
		r = imap_uid_fetch(sl->s, set, items, NULL);
	} else if (r >= 0) {
		/* BODY.PEEK: reading never sets \Seen (SPEC §2). All bodies in
		 * one command: the server streams them back to back. */
		r = imap_uid_fetch(sl->s, set, "UID BODY.PEEK[]", NULL);
	}
	if (r >= 0 && sl->ndone < n) {
		/* Expunged meanwhile: the listing is out of date. */
		log_info("%zu message(s) of %s are no longer on the server", n - sl->ndone,
		         folder_server(f));
		folder_sync_later(m, f);
		r = -EIO;
	}
	sl->batch = NULL;
	sl->nbatch = 0;
	sl->cur = NULL;
	pool_put(sl);
	free(set);
	return r < 0 ? r : 0;
}

/* ---- changes ------------------------------------------------------------------ */

/* A session with F selected read-write, events going to F. */
static struct slot *select_rw(struct imapb *b, struct folder *f, int *r_out)
{
	struct slot *sl = pool_get(b, folder_server(f), r_out);
	int r;

	if (!sl)
		return NULL;
	sl->f = f;
	r = imap_select(sl->s, folder_server(f), 0, 0, 0, 0, &events, sl, NULL);
	if (r < 0) {
		*r_out = r;
		pool_put(sl);
		return NULL;
	}
	return sl;
}

/* Server errors as the program that caused them should see them: what the
 * server refused keeps its errno (EDQUOT, EFBIG, ENOENT, EEXIST, EACCES),
 * anything about the connection or the protocol is EIO. */
static int user_errno(struct slot *sl, int r)
{
	if (r >= 0)
		return 0;
	if (imap_broken(sl->s) || r == -EPROTO || r == -EBADMSG || r == -ETIMEDOUT ||
	    r == -ECONNRESET)
		return -EIO;
	return r;
}

/* Without QRESYNC an EXPUNGE names a sequence number: make sure the session
 * knows which UID sits there, so that the event removes the right file. */
static int learn_uid(struct slot *sl, uint32_t uid)
{
	char set[16];

	if (imap_qresync_enabled(sl->s))
		return 0;
	snprintf(set, sizeof(set), "%u", uid);
	return imap_uid_fetch(sl->s, set, "UID", NULL);
}

struct deleted {
	uint32_t uid;
	int others;
};

static void deleted_cb(void *ctx, uint32_t lo, uint32_t hi)
{
	struct deleted *d = ctx;

	if (lo != d->uid || hi != d->uid)
		d->others = 1;
}

/* Without UIDPLUS, a plain EXPUNGE would take every \Deleted message of
 * the folder with it: only allowed when no message but UID is \Deleted
 * (SPEC §2). Returns 0 when it is safe, -EPERM when not. */
static int only_deleted(struct slot *sl, uint32_t uid)
{
	struct deleted d = { .uid = uid };
	/* NOOP first: a server may answer SEARCH from the state it last
	 * reported, missing flags another client set since (Dovecot does). */
	int r = imap_noop(sl->s);

	if (r == 0)
		r = imap_command(sl->s, "UID SEARCH DELETED", deleted_cb, &d);

	if (r < 0)
		return r;
	return d.others ? -EPERM : 0;
}

/* Expunge exactly UID: \Deleted, then UID EXPUNGE of that UID (UIDPLUS). */
static int expunge_one(struct slot *sl, uint32_t uid)
{
	int uidplus = imap_caps(sl->s) & IMAP_CAP_UIDPLUS;
	int r;

	if (!uidplus && (r = only_deleted(sl, uid)) < 0) {
		if (r == -EPERM)
			log_warn("cannot delete message %u of %s alone: the server has no UIDPLUS "
			         "and other messages there are marked \\Deleted", uid,
			         imap_selected(sl->s));
		return r;
	}
	r = learn_uid(sl, uid);
	if (r == 0)
		r = imap_uid_store(sl->s, uid, "+FLAGS.SILENT", "\\Deleted");
	if (r < 0)
		return r;
	if (uidplus) {
		r = imap_uid_expunge(sl->s, uid);
		/* Refused: the flag comes off again, or another client's
		 * EXPUNGE would remove the message later, after rm failed. */
		if (r < 0 && !imap_broken(sl->s))
			imap_uid_store(sl->s, uid, "-FLAGS.SILENT", "\\Deleted");
		return r;
	}
	/* Checked again right before: another client may have marked one
	 * meanwhile. */
	r = only_deleted(sl, uid);
	if (r == 0)
		r = imap_command(sl->s, "EXPUNGE", NULL, NULL);
	else
		imap_uid_store(sl->s, uid, "-FLAGS.SILENT", "\\Deleted");
	return r;
}

static uint32_t known_uid(struct folder *to, uint32_t uidvalidity, uint32_t uid)
{
	uint32_t uv;

	pthread_mutex_lock(&to->lock);
	uv = to->uidvalidity;
	pthread_mutex_unlock(&to->lock);
	return uidvalidity && uidvalidity == uv ? uid : 0;
}

static int imapb_move(struct engine *m, struct folder *f, uint32_t uid, struct folder *to,
                      uint32_t *uid_r)
{
	struct slot *sl;
	uint32_t uv = 0, nuid = 0;
	int r;

	*uid_r = 0;
	sl = select_rw(B(m), f, &r);
	if (!sl)
		return r;
	r = learn_uid(sl, uid);
	if (r == 0 && (imap_caps(sl->s) & IMAP_CAP_MOVE)) {
		r = imap_uid_move(sl->s, uid, folder_server(to), &uv, &nuid);
	} else if (r == 0) {
		/* UID COPY + delete; refuse before copying if the delete could
		 * not be exact, so that no duplicate is left behind. */
		if (!(imap_caps(sl->s) & IMAP_CAP_UIDPLUS))
			r = only_deleted(sl, uid);
		if (r == 0)
			r = imap_uid_copy(sl->s, uid, folder_server(to), &uv, &nuid);
		if (r == 0)
			r = expunge_one(sl, uid);
	}
	if (r == 0)
		*uid_r = known_uid(to, uv, nuid);
	r = user_errno(sl, r);
	pool_put(sl);
	return r;
}

static int imapb_remove(struct engine *m, struct folder *f, uint32_t uid)
{
	struct slot *sl;
	int r;

	sl = select_rw(B(m), f, &r);
	if (!sl)
		return r;
	r = user_errno(sl, expunge_one(sl, uid));
	pool_put(sl);
	return r;
}

struct landed {
	struct engine *m;
	struct folder *f;
	uint32_t from;           /* UIDs below existed before the APPEND */
	uint32_t uid;            /* the newest match that is not in the cache */
	unsigned checked;        /* a bound against a server that answers 1:4294967295 */
};

static int row_found(void *ctx, const struct store_msg *msg)
{
	(void)msg;
	*(int *)ctx = 1;
	return 0;
}

static void landed_cb(void *ctx, uint32_t lo, uint32_t hi)
{
	struct landed *l = ctx;

	for (uint32_t u = hi; u >= lo && u >= l->from && u > l->uid; u--) {
		int cached = 0;

		if (++l->checked > 1000)
			break;

		store_msg_get(l->m->store, l->f->id, u, row_found, &cached);
		if (!cached) {
			l->uid = u;
			break;
		}
		if (u == 0)
			break;
	}
}

/* The connection broke after the message may have reached the server. If it
 * did, a failure from close() would make the user copy it a second time, so
 * look for it over a new connection: a message with the same Message-ID and
 * exactly the same size, newer than what the folder held before the APPEND
 * (FROM) and not one mailfs knew already, is this one. Returns 1 with
 * *uid_r (0 when the UID cannot be trusted), 0 when it is not there, or a
 * negative errno when that cannot be told (no Message-ID, still no
 * network): then the failure stands. */
static int append_landed(struct engine *m, struct folder *f, int fd, uint64_t size,
                         uint32_t from, uint32_t *uid_r)
{
	struct landed l = { .m = m, .f = f, .from = from };
	char hdr[16384], cmd[1200];
	ssize_t n = pread(fd, hdr, sizeof(hdr), 0);
	char *id = n > 0 ? mime_header(hdr, (size_t)n, "Message-ID") : NULL;
	struct slot *sl;
	int r = -EINVAL;

	/* Only what fits a quoted string as it is. */
	for (const char *p = id; p && *p; p++)
		if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\')
			goto out;
	if (!id || !*id || size < 1 || strlen(id) > 900)
		goto out;
	snprintf(cmd, sizeof(cmd), "UID SEARCH UID %u:* HEADER Message-ID \"%s\" "
	         "LARGER %" PRIu64 " SMALLER %" PRIu64, from ? from : 1, id, size - 1, size + 1);
	sl = select_rw(B(m), f, &r);
	if (!sl)
		goto out;
	r = imap_command(sl->s, cmd, landed_cb, &l);
	if (r == 0 && l.uid) {
		*uid_r = known_uid(f, imap_mailbox(sl->s)->uidvalidity, l.uid);
		r = 1;
	}
	pool_put(sl);
out:
	free(id);
	return r;
}

static int imapb_append(struct engine *m, struct folder *f, int fd, uint64_t size,
                        const char *flags, time_t date, uint32_t *uid_r)
{
	struct slot *sl = pool_get(B(m), folder_server(f), &(int){ 0 });
	uint32_t uv = 0, uid = 0, from;
	int r, cut;

	*uid_r = 0;
	if (!sl)
		return -EIO;
	pthread_mutex_lock(&f->lock);
	from = f->uidnext;
	pthread_mutex_unlock(&f->lock);
	r = imap_append(sl->s, folder_server(f), flags, date, fd, size, &uv, &uid);
	if (r == 0)
		*uid_r = known_uid(f, uv, uid);
	else
		log_warn("cannot append to %s: %s", folder_server(f), imap_error(sl->s));
	/* Dovecot says [LIMIT] for a message over quota_max_mail_size where
	 * RFC 7889 has [TOOBIG]: both mean "too large". */
	if (r == -ENOSPC && strcasecmp(imap_resp_code(sl->s), "LIMIT") == 0)
		r = -EFBIG;
	cut = r < 0 && imap_fail_class(sl->s) == IMAP_FAIL_CONN;
	r = user_errno(sl, r);
	pool_put(sl);
	if (cut && append_landed(m, f, fd, size, from, uid_r) == 1) {
		log_info("the connection broke during the APPEND to %s, but the server "
		         "has the message (UID %u)", folder_server(f), *uid_r);
		r = 0;
	}
	return r;
}

static int imapb_set_flags(struct engine *m, struct folder *f, uint32_t uid, const char *flags)
{
	struct slot *sl;
	int r;

	sl = select_rw(B(m), f, &r);
	if (!sl)
		return r;
	/* Not .SILENT: the FETCH the server answers with updates the cache
	 * with what it really kept (PERMANENTFLAGS may drop keywords). */
	r = imap_uid_store(sl->s, uid, "FLAGS", flags);
	r = user_errno(sl, r);
	pool_put(sl);
	return r;
}

static int imapb_mkdir(struct engine *m, const char *server)
{
	struct slot *sl = pool_get(B(m), NULL, &(int){ 0 });
	int r;

	if (!sl)
		return -EIO;
	r = imap_create(sl->s, server);
	r = user_errno(sl, r);
	pool_put(sl);
	return r;
}

static int imapb_rmdir(struct engine *m, struct folder *f)
{
	struct slot *sl = pool_get(B(m), NULL, &(int){ 0 });
	uint32_t n = 0;
	int r = 0;

	if (!sl)
		return -EIO;
	/* Some servers (Dovecot among them) delete a folder with its
	 * messages: rmdir must only ever remove an empty one. */
	if (!(folder_flags(f) & STORE_FOLDER_NOSELECT))
		r = imap_status_messages(sl->s, folder_server(f), &n);
	if (r == 0 && n > 0)
		r = -ENOTEMPTY;
	else if (r == 0)
		r = imap_delete(sl->s, folder_server(f));
	r = r == -ENOTEMPTY ? r : user_errno(sl, r);
	pool_put(sl);
	return r;
}

static int imapb_rename(struct engine *m, struct folder *f, const char *server)
{
	struct slot *sl = pool_get(B(m), NULL, &(int){ 0 });
	int r;

	if (!sl)
		return -EIO;
	r = imap_rename(sl->s, folder_server(f), server);
	r = user_errno(sl, r);
	pool_put(sl);
	return r;
}

/* ---- IDLE --------------------------------------------------------------------- */

#define IDLE_RESTART_MS (25 * 60 * 1000)   /* RFC 2177: re-issue within 29 min */

/* Sleep MS unless stopped; returns 1 when stopping. */
static int idle_sleep(struct imapb *b, int ms)
{
	struct timespec until;
	int stop;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&b->lock);
	while (!b->idle_stop && pthread_cond_timedwait(&b->idle_cond, &b->lock, &until) == 0)
		;
	stop = b->idle_stop;
	pthread_mutex_unlock(&b->lock);
	return stop;
}

/* INBOX is watched with IDLE: what the server says in it (EXISTS, EXPUNGE,
 * FETCH) goes through the same events as everywhere; new mail makes the
 * sync thread fetch the new messages. Reconnects with a growing pause. */
static void *idle_main(void *arg)
{
	struct imapb *b = arg;
	struct engine *m = b->m;
	int backoff = 1000, r;

	for (;;) {
		struct imap_session *s;
		struct folder *inbox;
		char err[512];
		int waited = 0;

		pthread_mutex_lock(&b->lock);
		if (b->idle_stop) {
			pthread_mutex_unlock(&b->lock);
			break;
		}
		b->idle_state = 1;
		pthread_mutex_unlock(&b->lock);
		inbox = tree_by_path(m, "INBOX");
		int transient;

		s = inbox && folder_server(inbox) ? session_open(b, err, sizeof(err), &r, &transient) : NULL;
		if (!s) {
			if (idle_sleep(b, inbox ? backoff : m->opt->poll * 1000))
				break;
			backoff = backoff < 60000 ? backoff * 2 : 60000;
			continue;
		}
		pthread_mutex_lock(&b->lock);
		b->idle.s = s;
		b->idle.f = inbox;
		if (b->idle_stop)
			imap_abort(s);
		pthread_mutex_unlock(&b->lock);
		r = imap_select(s, folder_server(inbox), 0, 0, 0, 0, &events, &b->idle, NULL);
		if (r >= 0) {
			/* Whatever happened while we were not watching. */
			folder_sync_later(m, inbox);
			r = imap_idle_begin(s);
		}
		if (r >= 0) {
			backoff = 1000;
			pthread_mutex_lock(&b->lock);
			b->idle_state = 2;
			pthread_mutex_unlock(&b->lock);
		}
		while (r >= 0) {
			r = imap_idle_wait(s, 60000);
			if (r == 0 && (waited += 60000) >= IDLE_RESTART_MS) {
				waited = 0;
				r = imap_idle_end(s);
				if (r >= 0)
					r = imap_idle_begin(s);
			}
		}
		pthread_mutex_lock(&b->lock);
		b->idle.s = NULL;
		b->idle_state = 0;
		pthread_mutex_unlock(&b->lock);
		if (!b->idle_stop)
			log_debug("IDLE on INBOX ended: %s", imap_error(s));
		imap_session_free(s);
		if (idle_sleep(b, backoff))
			break;
		backoff = backoff < 60000 ? backoff * 2 : 60000;
	}
	return NULL;
}

/* Keep a spare connection: a listing while a long download holds the
 * first one should not wait for a TLS handshake and a login (SPEC §7). */
static void *warm_main(void *arg)
{
	struct imapb *b = arg;
	char err[512];
	int r, transient;

	for (int i = 1; i < 2 && i < POOL_MAX; i++) {
		struct imap_session *s;

		pthread_mutex_lock(&b->lock);
		int skip = b->slots[i].s || b->slots[i].busy || b->idle_stop;
		if (!skip)
			b->slots[i].busy = 1;
		pthread_mutex_unlock(&b->lock);
		if (skip)
			continue;
		s = session_open(b, err, sizeof(err), &r, &transient);
		pthread_mutex_lock(&b->lock);
		b->slots[i].s = s;
		b->slots[i].used = mono_now();
		b->slots[i].busy = 0;
		pthread_cond_signal(&b->cond);
		pthread_mutex_unlock(&b->lock);
	}
	return NULL;
}

static void imapb_start(struct engine *m)
{
	struct imapb *b = B(m);
	unsigned caps = 0;

	if (pthread_create(&b->warm_thread, NULL, warm_main, b) == 0)
		b->warm_running = 1;

	pthread_mutex_lock(&b->lock);
	for (int i = 0; i < POOL_MAX; i++)
		if (b->slots[i].s)
			caps = imap_caps(b->slots[i].s);
	pthread_mutex_unlock(&b->lock);
	if (!(caps & IMAP_CAP_IDLE))
		return;     /* INBOX is polled like everything else */
	b->idle.b = b;
	if (pthread_create(&b->idle_thread, NULL, idle_main, b) == 0)
		b->idle_running = 1;
}

static void imapb_stop(struct engine *m)
{
	struct imapb *b = B(m);

	/* Wake anything blocked on the network; the threads that own the
	 * sessions are being stopped. */
	pthread_mutex_lock(&b->lock);
	b->idle_stop = 1;
	if (b->idle.s)
		imap_abort(b->idle.s);
	for (int i = 0; i < POOL_MAX; i++)
		if (b->slots[i].s && b->slots[i].busy)
			imap_abort(b->slots[i].s);
	pthread_cond_broadcast(&b->idle_cond);
	pthread_mutex_unlock(&b->lock);
	if (b->idle_running)
		pthread_join(b->idle_thread, NULL);
	b->idle_running = 0;
	if (b->warm_running)
		pthread_join(b->warm_thread, NULL);
	b->warm_running = 0;
}

static void imapb_close(struct engine *m)
{
	struct imapb *b = B(m);

	if (!b)
		return;
	for (int i = 0; i < POOL_MAX; i++) {
		if (b->slots[i].s) {
			imap_logout(b->slots[i].s);
			imap_session_free(b->slots[i].s);
		}
	}
	free(b->caps);
	pthread_mutex_destroy(&b->lock);
	pthread_cond_destroy(&b->cond);
	pthread_cond_destroy(&b->idle_cond);
	free(b);
	m->backend = NULL;
}

static void imapb_status(struct engine *m, char **buf, size_t *len)
{
	struct imapb *b = B(m);
	int n = 0;

	pthread_mutex_lock(&b->lock);
	for (int i = 0; i < POOL_MAX; i++)
		n += b->slots[i].s != NULL;
	status_printf(buf, len, "protocol: IMAP, %d connection%s open\n", n, n == 1 ? "" : "s");
	status_printf(buf, len, "capabilities: %s\n", b->caps ? b->caps : "(not connected yet)");
	status_printf(buf, len, "INBOX: %s\n", b->idle_state == 2 ? "watched with IDLE" :
	           b->idle_state == 1 ? "IDLE reconnecting" : "polled");
	pthread_mutex_unlock(&b->lock);
}

const struct mail_ops backend_imap = {
	.open = imapb_open,
	.list = imapb_list,
	.sync = imapb_sync,
	.fetch = imapb_fetch,
	.remove = imapb_remove,
	.move = imapb_move,
	.append = imapb_append,
	.set_flags = imapb_set_flags,
	.mkdir = imapb_mkdir,
	.rmdir = imapb_rmdir,
	.rename = imapb_rename,
	.start = imapb_start,
	.stop = imapb_stop,
	.close = imapb_close,
	.status = imapb_status,
};
