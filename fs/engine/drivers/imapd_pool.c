/* imapd_pool.c - the IMAP driver's sessions: opening one, saying in one line
 * why it failed, and a small pool that hands them out. */
#include "fs/engine/drivers/imapd.h"
#include "fs/options.h"
#include "fs/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Idle for longer than this, a pooled session is checked before use. */
#define POOL_STALE_S 120

time_t imapd_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* One line telling the user what went wrong and what to do; returns 1 when
 * the failure is the kind that passes (network trouble), so that a mount
 * with a cache may come up offline. */
static int explain(struct imapd *d, struct imap_session *s, char *err, size_t errlen)
{
	const struct mfs_options *o = d->opt;

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
		    d->params.auth == IMAP_AUTH_PASSWORD) {
			snprintf(err, errlen, "%s: %s", o->host, imap_error(s));
			return 0;
		}
		if (d->params.auth != IMAP_AUTH_PASSWORD)
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
	case IMAP_FAIL_LIMIT:
		snprintf(err, errlen, "%s (too many connections to this account: close another "
		         "mail program, or lower max_connections)", imap_error(s));
		return 1;
	default:
		snprintf(err, errlen, "%s: %s", o->host, imap_error(s));
		return 0;
	}
}

struct imap_session *imapd_session_open(struct imapd *d, char *err, size_t errlen, int *r_out,
                                        int *transient_r)
{
	struct imap_session *s = imap_session_new(&d->params);
	int r;

	*transient_r = 0;
	if (!s) {
		*r_out = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r = imap_connect(s);
	if (r < 0) {
		*transient_r = explain(d, s, err, errlen);
		/* -EAGAIN: the server takes no more connections now. */
		*r_out = imap_fail_class(s) == IMAP_FAIL_LIMIT ? -EAGAIN : r;
		imap_session_free(s);
		return NULL;
	}
	pthread_mutex_lock(&d->lock);
	if (!d->have_caps) {
		/* The first session of the mount, also when it came up offline:
		 * now the IDLE thread can tell whether to watch INBOX. */
		d->have_caps = 1;
		d->capbits = imap_caps(s);
		d->caps = strdup(imap_caps_text(s));
		d->idle_kick = 1;
		pthread_cond_broadcast(&d->idle_cond);
	}
	pthread_mutex_unlock(&d->lock);
	driver_online(d->m, 1);
	return s;
}

/* The thread holding slot SL gives it session S (the old one is freed):
 * under the lock, because imapd's stop looks at every slot's session. */
static void slot_set(struct slot *sl, struct imap_session *s)
{
	struct imap_session *old;

	pthread_mutex_lock(&sl->d->lock);
	old = sl->s;
	sl->s = s;
	pthread_mutex_unlock(&sl->d->lock);
	if (old && old != s)
		imap_session_free(old);
}

static void slot_clear(struct slot *sl)
{
	sl->folder = 0;
	sl->sync = NULL;
	sl->batch = NULL;
	sl->nbatch = 0;
	sl->cur = NULL;
}

/* Sessions of the pool open now (lock held). */
static int pool_open(const struct imapd *d)
{
	int n = 0;

	for (int i = 0; i < d->pool_max; i++)
		n += d->slots[i].s != NULL;
	return n;
}

/* Whether the pool may open one more session now (lock held): not while
 * the server's limit holds. */
static int may_open(const struct imapd *d)
{
	return !d->limit || pool_open(d) < d->limit || imapd_now() >= d->limit_until;
}

/* Opening a session for SL failed with IMAP_FAIL_LIMIT (lock held):
 * returns 1 when the caller should wait for a session of the pool
 * instead, which the limit now keeps to those open. */
static int limit_hit(struct imapd *d, struct slot *sl)
{
	int open = pool_open(d) - (sl->s != NULL);

	if (open == 0)
		return 0;
	d->limit_pause = d->limit_pause ? d->limit_pause * 2 : 10;
	if (d->limit_pause > 300)
		d->limit_pause = 300;
	d->limit = open;
	d->limit_until = imapd_now() + d->limit_pause;
	if (!d->said_limit) {
		d->said_limit = 1;
		log_warn("%s takes no more connections: working with %d, trying one more "
		         "later", d->opt->host, open);
	}
	return 1;
}

/* A session for SL (not busy-marked by anyone else); NULL with *R_OUT. */
static struct imap_session *open_for(struct imapd *d, struct slot *sl, int *r_out, int *waitable)
{
	char err[512];
	int transient;
	struct imap_session *s = imapd_session_open(d, err, sizeof(err), r_out, &transient);

	*waitable = 0;
	if (s) {
		pthread_mutex_lock(&d->lock);
		if (d->limit && pool_open(d) + 1 > d->limit) {
			d->limit = 0;     /* the server takes more again */
			d->limit_pause = 0;
		}
		pthread_mutex_unlock(&d->lock);
		return s;
	}
	if (*r_out == -EAGAIN) {
		int idle;

		pthread_mutex_lock(&d->lock);
		*waitable = limit_hit(d, sl);
		idle = !*waitable && d->idle.s && !d->idle_stop;
		if (idle) {
			/* The pool has nothing open and the watching connection
			 * holds what the server allows: a user's operation comes
			 * first; the watcher waits, and INBOX is polled. */
			d->idle_hold_until = imapd_now() + 60;
			imap_abort(d->idle.s);
		}
		pthread_mutex_unlock(&d->lock);
		if (*waitable) {
			log_debug("%s", err);
			return NULL;
		}
		if (idle) {
			log_info("the server takes no more connections: the one watching for "
			         "changes is closed for a minute");
			for (int i = 0; i < 10 && !s; i++) {
				struct timespec ts = { 0, 200 * 1000 * 1000 };

				nanosleep(&ts, NULL);
				s = imapd_session_open(d, err, sizeof(err), r_out, &transient);
			}
			if (s)
				return s;
		}
	}
	log_warn("%s", err);
	driver_error(d->m, "%s", err);
	driver_online(d->m, 0);
	return NULL;
}

struct slot *imapd_pool_get(struct imapd *d, const char *server, int *r_out)
{
	struct slot *sl;

again:
	sl = NULL;
	pthread_mutex_lock(&d->lock);
	for (;;) {
		struct slot *any = NULL, *empty = NULL;
		int may = may_open(d);

		for (int i = 0; i < d->pool_max; i++) {
			struct slot *c = &d->slots[i];
			if (c->busy)
				continue;
			if (!c->s) {
				if (!empty && may)
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
		if (!may) {
			/* Until the limit's pause ends, or a session comes back. */
			struct timespec until = { .tv_sec = d->limit_until };
			pthread_cond_timedwait(&d->cond, &d->lock, &until);
		} else {
			pthread_cond_wait(&d->cond, &d->lock);
		}
	}
	sl->busy = 1;
	pthread_mutex_unlock(&d->lock);
	/* A session that waited in the pool may have died meanwhile (the
	 * server's autologout, a network that dropped it), or have news
	 * waiting: a NOOP finds out, and a dead one is replaced now instead of
	 * failing the caller's command. Only sessions with something to read
	 * or idle for a while pay the round trip. */
	if (sl->s && (imap_pending(sl->s) || imapd_now() - sl->used > POOL_STALE_S) &&
	    imap_noop(sl->s) < 0) {
		log_debug("an idle connection to %s is gone (%s); opening another",
		          d->opt->host, imap_error(sl->s));
		slot_set(sl, NULL);
	}
	if (!sl->s) {
		int waitable;
		struct imap_session *s = open_for(d, sl, r_out, &waitable);

		if (!s) {
			pthread_mutex_lock(&d->lock);
			sl->busy = 0;
			pthread_cond_broadcast(&d->cond);
			pthread_mutex_unlock(&d->lock);
			if (waitable)     /* another session of the pool will do */
				goto again;
			if (*r_out != -ENOMEM)
				*r_out = -EIO;
			return NULL;
		}
		slot_set(sl, s);
	}
	slot_clear(sl);
	return sl;
}

void imapd_pool_put(struct slot *sl)
{
	struct imapd *d = sl->d;

	if (imap_broken(sl->s)) {
		/* Bad server data gets its own words: "lost" would send the user
		 * looking for a network problem. Before the mount, main.c puts
		 * the reason in its one line instead (SPEC §1). */
		int proto = imap_fail_class(sl->s) == IMAP_FAIL_PROTO;

		/* A session the driver's stop aborted at unmount lost nothing,
		 * so nothing is said. */
		if (__atomic_load_n(&d->started, __ATOMIC_RELAXED) &&
		    imap_conn_fail(sl->s) != CONN_FAIL_ABORTED)
			log_warn("%s %s%s: %s", proto ? "protocol error from" : "connection to",
			         d->opt->host, proto ? ", connection closed" : " lost",
			         imap_error(sl->s));
		driver_error(d->m, "%s%s", proto ? "protocol error: " : "", imap_error(sl->s));
		slot_set(sl, NULL);
	}
	slot_clear(sl);
	sl->used = imapd_now();
	pthread_mutex_lock(&d->lock);
	sl->busy = 0;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

void imapd_pool_leave(struct imapd *d, const char *server)
{
	struct slot *mine[MAX_CONNECTIONS];
	int n = 0;

	pthread_mutex_lock(&d->lock);
	for (int i = 0; i < d->pool_max; i++) {
		struct slot *sl = &d->slots[i];
		const char *sel = sl->s && !sl->busy ? imap_selected(sl->s) : NULL;

		if (sel && strncmp(sel, server, strlen(server)) == 0) {
			sl->busy = 1;
			mine[n++] = sl;
		}
	}
	pthread_mutex_unlock(&d->lock);
	for (int i = 0; i < n; i++) {
		slot_clear(mine[i]);
		imap_leave(mine[i]->s);
		imapd_pool_put(mine[i]);
	}
}

void imapd_pool_adopt(struct imapd *d, struct imap_session *s)
{
	pthread_mutex_lock(&d->lock);
	for (int i = 0; i < d->pool_max && s; i++) {
		struct slot *sl = &d->slots[i];

		if (!sl->s && !sl->busy) {
			sl->s = s;
			sl->used = imapd_now();
			s = NULL;
			pthread_cond_signal(&d->cond);
		}
	}
	pthread_mutex_unlock(&d->lock);
	if (s) {
		imap_logout(s);
		imap_session_free(s);
	}
}
