/* imapd_idle.c - INBOX watched with IDLE (RFC 2177) on a connection of its
 * own, and a spare connection opened at start. */
#include "fs/engine/drivers/imapd.h"
#include "fs/options.h"
#include "fs/log.h"
#include "fs/nap.h"

#include <stdlib.h>
#include <time.h>

#define IDLE_RESTART_MS (25 * 60 * 1000)   /* RFC 2177: re-issue within 29 min */

/* Sleep MS, or less: until stopped, or until the mount's first session
 * opened (a mount that came up offline reaches the server). Returns 1 when
 * stopping. */
static int idle_sleep(struct imapd *d, int ms)
{
	return nap(&d->lock, &d->idle_cond, &d->idle_stop, &d->idle_kick, ms);
}

static int stopping(struct imapd *d)
{
	int stop;

	pthread_mutex_lock(&d->lock);
	stop = d->idle_stop;
	pthread_mutex_unlock(&d->lock);
	return stop;
}

static void set_state(struct imapd *d, int state)
{
	pthread_mutex_lock(&d->lock);
	d->idle_state = state;
	pthread_mutex_unlock(&d->lock);
}

/* Whether the capabilities are known and lack IDLE (a mount that came up
 * offline learns them with its first session, on any thread); sets the
 * state to "connecting" or "waiting for a first connection" otherwise. */
static int no_idle(struct imapd *d)
{
	int no;

	pthread_mutex_lock(&d->lock);
	no = d->have_caps && !(d->capbits & IMAP_CAP_IDLE);
	if (!no)
		d->idle_state = d->have_caps ? 1 : 3;
	pthread_mutex_unlock(&d->lock);
	return no;
}

/* Watch INBOX on session S until the connection ends; 1 when IDLE ran. */
static int watch(struct imapd *d, struct imap_session *s, const struct driver_folder *inbox)
{
	int r, waited = 0, began;

	pthread_mutex_lock(&d->lock);
	d->idle.s = s;
	d->idle.folder = inbox->id;
	if (d->idle_stop)
		imap_abort(s);
	pthread_mutex_unlock(&d->lock);
	r = imap_select(s, inbox->server, 0, 0, 0, 0, &imapd_events, &d->idle, NULL);
	if (r >= 0 && (imap_caps(s) & IMAP_CAP_NOTIFY)) {
		/* Every other folder too (RFC 5465): their changes come as
		 * STATUS, the list's as LIST (imapd_sync.c's events). */
		r = imap_notify(s);
		if (r < 0 && !imap_broken(s)) {
			log_debug("NOTIFY refused (%s): other folders are polled", imap_error(s));
			r = 0;
		} else if (r >= 0) {
			pthread_mutex_lock(&d->lock);
			d->notify = 1;
			pthread_mutex_unlock(&d->lock);
			/* What changed elsewhere before this. */
			driver_folder_news(d->m, NULL, NULL);
		}
	}
	if (r >= 0) {
		/* Whatever happened while we were not watching. */
		driver_new_mail(d->m, inbox->id);
		r = imap_idle_begin(s);
	}
	began = r >= 0;
	if (began)
		set_state(d, 2);
	while (r >= 0) {
		r = imap_idle_wait(s, 60000);
		if (r == 0 && (waited += 60000) >= IDLE_RESTART_MS) {
			waited = 0;
			r = imap_idle_end(s);
			if (r >= 0)
				r = imap_idle_begin(s);
		}
	}
	pthread_mutex_lock(&d->lock);
	d->idle.s = NULL;
	d->idle_state = 0;
	d->notify = 0;
	pthread_mutex_unlock(&d->lock);
	return began;
}

/* While the pool has taken the watcher's place (imapd_pool.c), wait. 1 when
 * stopping. */
static int hold(struct imapd *d)
{
	time_t until;

	pthread_mutex_lock(&d->lock);
	until = d->idle_hold_until;
	pthread_mutex_unlock(&d->lock);
	for (time_t now = imapd_now(); now < until; now = imapd_now())
		if (idle_sleep(d, (int)(until - now) * 1000))
			return 1;
	return 0;
}

/* The pool may use every connection: nothing watches (lock not held). */
static void pool_takes_all(struct imapd *d)
{
	pthread_mutex_lock(&d->lock);
	d->pool_max = d->nslots;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

/* What the server says in INBOX (EXISTS, EXPUNGE, FETCH) goes through the
 * same events as everywhere; new mail makes the engine fetch the new
 * messages. Reconnects with a growing pause. */
static void *idle_main(void *arg)
{
	struct imapd *d = arg;
	int backoff = 1000;

	while (!stopping(d)) {
		struct driver_folder inbox;
		struct imap_session *s = NULL;
		char err[512];
		int r, transient, have = 0;

		if (no_idle(d)) {
			pool_takes_all(d);
			break;     /* INBOX is polled like everything else */
		}
		if (hold(d))
			break;
		/* INBOX's id changes when it is renewed: asked each time. */
		if (driver_inbox(d->m, &inbox) == 0) {
			have = 1;
			s = imapd_session_open(d, err, sizeof(err), &r, &transient);
		}
		if (!s) {
			if (have)
				free((char *)inbox.server);
			if (idle_sleep(d, have ? backoff : d->opt->poll * 1000))
				break;
			backoff = backoff < 60000 ? backoff * 2 : 60000;
			continue;
		}
		if (!(imap_caps(s) & IMAP_CAP_IDLE)) {
			/* The first session of a mount that came up offline, on a
			 * server without IDLE: INBOX is polled, and the session
			 * serves the pool. */
			free((char *)inbox.server);
			pool_takes_all(d);
			imapd_pool_adopt(d, s);
			break;
		}
		if (watch(d, s, &inbox))
			backoff = 1000;
		free((char *)inbox.server);
		if (!stopping(d))
			log_debug("IDLE on INBOX ended: %s", imap_error(s));
		imap_session_free(s);
		if (idle_sleep(d, backoff))
			break;
		backoff = backoff < 60000 ? backoff * 2 : 60000;
	}
	set_state(d, 0);
	return NULL;
}

/* Keep a spare connection: a listing while a long download holds the
 * first one should not wait for a TLS handshake and a login (SPEC §7). */
static void *warm_main(void *arg)
{
	struct imapd *d = arg;
	char err[512];
	int r, transient;

	for (int i = 1; i < 2; i++) {
		struct imap_session *s;

		pthread_mutex_lock(&d->lock);
		int skip = i >= d->pool_max || d->slots[i].s || d->slots[i].busy || d->idle_stop;
		if (!skip)
			d->slots[i].busy = 1;
		pthread_mutex_unlock(&d->lock);
		if (skip)
			continue;
		s = imapd_session_open(d, err, sizeof(err), &r, &transient);
		pthread_mutex_lock(&d->lock);
		d->slots[i].s = s;
		d->slots[i].used = imapd_now();
		d->slots[i].busy = 0;
		pthread_cond_signal(&d->cond);
		pthread_mutex_unlock(&d->lock);
	}
	return NULL;
}

void imapd_idle_start(struct imapd *d)
{
	/* The kick is for a first session opened from now on. */
	pthread_mutex_lock(&d->lock);
	d->idle_kick = 0;
	pthread_mutex_unlock(&d->lock);
	if (pthread_create(&d->warm_thread, NULL, warm_main, d) == 0)
		d->warm_running = 1;
	/* Mounted offline, nothing is known of the server yet: the thread
	 * starts anyway and learns with the first session whether there is
	 * IDLE, its own (it retries like after a lost connection) or one
	 * that another thread opened first. */
	if (d->nslots == 1 || no_idle(d)) {
		pool_takes_all(d);
		return;     /* INBOX is polled like everything else */
	}
	d->idle.d = d;
	if (pthread_create(&d->idle_thread, NULL, idle_main, d) == 0)
		d->idle_running = 1;
	else
		set_state(d, 0);
}

void imapd_idle_stop(struct imapd *d)
{
	/* Wake anything blocked on the network; the threads that own the
	 * sessions are being stopped. */
	pthread_mutex_lock(&d->lock);
	d->idle_stop = 1;
	if (d->idle.s)
		imap_abort(d->idle.s);
	for (int i = 0; i < d->nslots; i++)
		if (d->slots[i].s && d->slots[i].busy)
			imap_abort(d->slots[i].s);
	pthread_cond_broadcast(&d->idle_cond);
	pthread_mutex_unlock(&d->lock);
	if (d->idle_running)
		pthread_join(d->idle_thread, NULL);
	d->idle_running = 0;
	if (d->warm_running)
		pthread_join(d->warm_thread, NULL);
	d->warm_running = 0;
}

void imapd_idle_status(struct imapd *d, FILE *out)
{
	pthread_mutex_lock(&d->lock);
	if (d->idle_state == 2 && d->notify)
		fprintf(out, "changes: every folder watched with NOTIFY and IDLE\n");
	fprintf(out, "INBOX: %s\n", d->idle_state == 2 ? "watched with IDLE" :
	        d->idle_state == 1 ? "IDLE reconnecting" :
	        d->idle_state == 3 ? "polled until the server can be reached (then IDLE "
	                             "where it is offered)" :
	        d->nslots == 1 ? "polled (max_connections=1 leaves none to watch with)" :
	        "polled");
	pthread_mutex_unlock(&d->lock);
}
