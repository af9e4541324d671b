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
		imap_session_free(s);
		*r_out = r;
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

struct slot *imapd_pool_get(struct imapd *d, const char *server, int *r_out)
{
	struct slot *sl = NULL;
	char err[512];

	pthread_mutex_lock(&d->lock);
	for (;;) {
		struct slot *any = NULL, *empty = NULL;

		for (int i = 0; i < POOL_MAX; i++) {
			struct slot *c = &d->slots[i];
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
		pthread_cond_wait(&d->cond, &d->lock);
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
		int transient;
		struct imap_session *s = imapd_session_open(d, err, sizeof(err), r_out, &transient);

		if (!s) {
			log_warn("%s", err);
			driver_error(d->m, "%s", err);
			driver_online(d->m, 0);
			pthread_mutex_lock(&d->lock);
			sl->busy = 0;
			pthread_cond_signal(&d->cond);
			pthread_mutex_unlock(&d->lock);
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
	struct slot *mine[POOL_MAX];
	int n = 0;

	pthread_mutex_lock(&d->lock);
	for (int i = 0; i < POOL_MAX; i++) {
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
	for (int i = 0; i < POOL_MAX && s; i++) {
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
