/* pop3d.c - the POP3 driver (driver.h, SPEC §3): one INBOX, downloaded into
 * the cache, which is the user's copy.
 *
 * A round (at mount and every `poll` seconds): log in, UIDL, RETR every
 * message whose UIDL was never seen, and with pop3_delete DELE every message
 * whose local copy is durable, then QUIT, which commits the DELEs
 * (RFC 1939 §6). A session is never kept open between rounds: POP3 servers
 * lock the mailbox while one is open.
 *
 * The order that makes "no message is on neither side" hold at any crash
 * (the engine's half is in driver_uidl_begin/_stored): reserve a UID for
 * the UIDL (committed), write the body into an unnamed file, fsync it, link
 * it under its final name, fsync the directory, then commit the message
 * row and the UIDL's STORED state in one durable transaction; only then
 * DELE, which the server applies at QUIT.
 */
#include "fs/engine/drivers/driver.h"
#include "fs/options.h"
#include "fs/log.h"
#include "net/grow.h"
#include "net/pop3.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

struct pop3d {
	struct engine *m;
	const struct mfs_options *opt;
	struct pop3_params params;
	pthread_mutex_t lock;
	struct pop3_session *s;    /* the session of the round in progress; lock */
	int stop;                  /* protected by lock */
	char *caps;                /* CAPA, as the server sent it; lock */
	struct timespec not_before;   /* no login before (CLOCK_MONOTONIC): the
	                                 server said "not now" at mount time. Set
	                                 by open, then only used by sync (one
	                                 round at a time) */
	uint64_t downloaded;       /* this mount; protected by lock */
	uint64_t deleted;          /* on the server, this mount; protected by lock */
	uint32_t on_server;        /* at the last round; protected by lock */
};

/* One line for the user, and whether the failure is the kind that passes
 * (network, "mailbox in use"): then a mount may come up from its cache. */
static int explain(struct pop3d *d, struct pop3_session *s, int r, char *err, size_t errlen)
{
	const struct mfs_options *o = d->opt;

	switch (pop3_fail_class(s)) {
	case POP3_FAIL_CONN: {
		int transient;
		const char *advice = conn_fail_advice(pop3_conn_fail(s), &transient);

		snprintf(err, errlen, "%s%s", pop3_error(s), advice);
		return transient;
	}
	case POP3_FAIL_AUTH:
		snprintf(err, errlen, "%s (check %s)", pop3_error(s),
		         d->params.auth == POP3_AUTH_PASSWORD ? "the user name and password"
		                                              : "the token that oauth2_token_command prints");
		return 0;
	case POP3_FAIL_PROTO:
		snprintf(err, errlen, "%s:%u does not answer like a POP3 server: %s", o->host,
		         o->port, pop3_error(s));
		return 0;
	default:
		snprintf(err, errlen, "%s", pop3_error(s));
		return r == -EAGAIN;
	}
}

/* RFC 2449 §8.1.1-2: IN-USE comes after a successful authentication (the
 * mailbox is locked by another session), LOGIN-DELAY to a user who logged
 * in too recently: the account is right, only the moment is not. (SYS/TEMP
 * says nothing about the account: it is treated like the network.) */
static int not_now(const char *code)
{
	return strcasecmp(code, "IN-USE") == 0 || strcasecmp(code, "LOGIN-DELAY") == 0;
}

/* Connect and log in; NULL with a reason in err, *transient_r and *busy_r
 * (the server said "not now" to the account: not_now()). */
static struct pop3_session *session_open(struct pop3d *d, char *err, size_t errlen,
                                         int *r_out, int *transient_r, int *busy_r)
{
	struct pop3_session *s = pop3_session_new(&d->params);
	int r;

	*transient_r = 0;
	*busy_r = 0;
	if (!s) {
		snprintf(err, errlen, "out of memory");
		*r_out = -ENOMEM;
		return NULL;
	}
	pthread_mutex_lock(&d->lock);
	d->s = s;
	if (d->stop)
		pop3_abort(s);
	pthread_mutex_unlock(&d->lock);
	r = pop3_connect(s);
	if (r == 0 || pop3_caps_text(s)[0]) {
		/* What this server offers now (also when it then said "not
		 * now"), for the status file. */
		char *caps = strdup(pop3_caps_text(s));

		pthread_mutex_lock(&d->lock);
		if (caps) {
			free(d->caps);
			d->caps = caps;
		}
		pthread_mutex_unlock(&d->lock);
	}
	if (r == 0) {
		driver_online(d->m, 1);
		return s;
	}
	*transient_r = explain(d, s, r, err, errlen);
	*busy_r = r == -EAGAIN && pop3_fail_class(s) == POP3_FAIL_ERR && not_now(pop3_resp_code(s));
	pthread_mutex_lock(&d->lock);
	d->s = NULL;
	pthread_mutex_unlock(&d->lock);
	pop3_session_free(s);
	*r_out = r;
	return NULL;
}

static void session_close(struct pop3d *d, struct pop3_session *s)
{
	pthread_mutex_lock(&d->lock);
	d->s = NULL;
	pthread_mutex_unlock(&d->lock);
	pop3_session_free(s);
}

static int pop3d_open(struct engine *m, const struct driver_params *p, void **drv_r,
                      char *err, size_t errlen, int *transient_r)
{
	struct pop3d *d = calloc(1, sizeof(*d));
	const struct mfs_options *o = p->opt;
	struct pop3_session *s;
	int r, busy;

	*transient_r = 0;
	if (!d) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	d->m = m;
	d->opt = o;
	pthread_mutex_init(&d->lock, NULL);
	driver_conn_params(p, &d->params.conn);
	d->params.require_tls = !o->tls_insecure_plaintext;
	d->params.user = o->user;
	d->params.secret = p->secret;
	d->params.auth = o->oauth2_token_command ? POP3_AUTH_XOAUTH2 : POP3_AUTH_PASSWORD;
	if (o->debug)
		d->params.trace = log_protocol;
	*drv_r = d;

	/* Check the account before mounting, then let go of the mailbox. */
	s = session_open(d, err, errlen, &r, transient_r, &busy);
	if (!s && busy) {
		/* The account is right and the mailbox busy: mount (empty the
		 * first time, else from the cache) and download at the next
		 * poll, not sooner: a LOGIN-DELAY server counts every login. */
		log_warn("%s; mounting anyway, mail is downloaded in %d s", err, o->poll);
		driver_error(m, "%s", err);
		clock_gettime(CLOCK_MONOTONIC, &d->not_before);
		d->not_before.tv_sec += o->poll;
		*transient_r = 0;
		return 0;
	}
	if (!s)
		return r;
	pop3_quit(s);
	session_close(d, s);
	return 0;
}

/* One INBOX, and no state to report without a round (WATCH is synced). */
static int pop3d_list(void *drv, int (*cb)(void *ctx, const struct driver_list_entry *e),
                      void *ctx, const struct driver_folder *watch, size_t n)
{
	static const struct driver_list_entry inbox = { .server = "INBOX" };

	(void)drv;
	(void)watch;
	(void)n;
	return cb(ctx, &inbox);
}

/* ---- a round ------------------------------------------------------------------- */

struct uidl_list {
	struct {
		uint32_t n;        /* message number */
		char *uidl;
	} *e;
	size_t count, cap;
};

static int uidl_cb(void *ctx, uint32_t n, const char *uidl)
{
	struct uidl_list *l = ctx;

	if (ARRAY_RESERVE(l->e, l->count, l->cap) < 0)
		return -ENOMEM;
	l->e[l->count].uidl = strdup(uidl);
	if (!l->e[l->count].uidl)
		return -ENOMEM;
	l->e[l->count++].n = n;
	return 0;
}

static void uidl_free(struct uidl_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->e[i].uidl);
	free(l->e);
}

struct body_sink {
	struct pop3_sink sink;
	int fd;
	uint64_t off;
	int err;           /* the local write failed */
};

static int body_write(struct pop3_sink *sk, const char *data, size_t len)
{
	struct body_sink *b = (struct body_sink *)sk;

	while (len) {
		ssize_t n = pwrite(b->fd, data, len, (off_t)b->off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return b->err = -errno;
		data += n;
		len -= (size_t)n;
		b->off += (uint64_t)n;
	}
	return 0;
}

/* Download message N (UIDL) into the cache of FOLDER, durably. */
static int download(struct pop3d *d, struct pop3_session *s, int64_t folder, uint32_t n,
                    const char *uidl, char *why, size_t whylen)
{
	struct driver_download dl;
	struct body_sink bs = { .sink.write = body_write };
	uint64_t size = 0;
	uint32_t uid;
	int r;

	r = driver_uidl_begin(d->m, uidl, &uid, &dl);
	if (r < 0) {
		snprintf(why, whylen, "cannot store message %u in %s: %s", n, d->opt->cache_dir,
		         strerror(-r));
		return r;
	}
	bs.fd = dl.fd;
	r = pop3_retr(s, n, &bs.sink, &size);
	if (r < 0) {
		/* The sink's error (the disk) or the server's. */
		if (pop3_fail_class(s) == POP3_OK || bs.err)
			snprintf(why, whylen, "cannot store message %u in %s: %s", n,
			         d->opt->cache_dir, strerror(-r));
		else
			snprintf(why, whylen, "%s", pop3_error(s));
		driver_uidl_abandon(d->m, folder, uid, &dl);
		return r;
	}
	return driver_uidl_stored(d->m, folder, uidl, uid, &dl, size, why, whylen);
}

static int stopping(struct pop3d *d)
{
	int stop;

	pthread_mutex_lock(&d->lock);
	stop = d->stop;
	pthread_mutex_unlock(&d->lock);
	return stop;
}

/* UIDL, then RETR what is new and DELE what may go. *new_r, *dele_r: how
 * many of each; WHY: one line when it stopped. */
static int round_messages(struct pop3d *d, struct pop3_session *s, int64_t folder,
                          uint32_t *count_r, uint32_t *new_r, uint32_t *dele_r,
                          char *why, size_t whylen)
{
	struct uidl_list l = { 0 };
	uint64_t total;
	int r;

	r = pop3_stat(s, count_r, &total);
	if (r == 0)
		r = pop3_uidl(s, uidl_cb, &l);
	for (size_t i = 0; r == 0 && i < l.count; i++) {
		enum driver_uidl_state state;

		if (stopping(d)) {
			r = -ECANCELED;
			break;
		}
		r = driver_uidl_state(d->m, l.e[i].uidl, &state);
		if (r == 0 && state == DRIVER_UIDL_NEW) {
			r = download(d, s, folder, l.e[i].n, l.e[i].uidl, why, whylen);
			if (r < 0)
				break;
			++*new_r;
			state = DRIVER_UIDL_STORED;
			pthread_mutex_lock(&d->lock);
			d->downloaded++;
			pthread_mutex_unlock(&d->lock);
		}
		/* Only what is stored (or was removed on purpose) may go. */
		if (r == 0 && d->opt->pop3_delete &&
		    (state == DRIVER_UIDL_STORED || state == DRIVER_UIDL_REMOVED)) {
			r = pop3_dele(s, l.e[i].n);
			if (r == 0)
				++*dele_r;
		}
	}
	uidl_free(&l);
	return r;
}

/* Whether the "not now" of mount time still holds (the first round, at
 * start, waits for the next poll). */
static int too_soon(struct pop3d *d)
{
	struct timespec now;

	if (!d->not_before.tv_sec)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec > d->not_before.tv_sec ||
	    (now.tv_sec == d->not_before.tv_sec && now.tv_nsec >= d->not_before.tv_nsec)) {
		d->not_before.tv_sec = 0;
		return 0;
	}
	return 1;
}

static int pop3d_sync(void *drv, const struct driver_folder *f, struct driver_sync *st)
{
	struct pop3d *d = drv;
	struct pop3_session *s;
	char err[512], why[512] = "";
	uint32_t count = 0, new = 0, dele = 0;
	int r, transient, busy;

	/* Leftovers of a round that was killed: their UIDs are burnt. */
	driver_uidl_cleanup(d->m, f->id);
	if (too_soon(d))
		return -EAGAIN;   /* said at mount time; the poll tries again */
	s = session_open(d, err, sizeof(err), &r, &transient, &busy);
	if (!s) {
		if (r == -EAGAIN)
			log_warn("%s; trying again in %d s", err, d->opt->poll);
		else
			log_warn("%s", err);
		driver_error(d->m, "%s", err);
		driver_online(d->m, 0);
		return r;
	}
	r = round_messages(d, s, f->id, &count, &new, &dele, why, sizeof(why));
	if (r < 0) {
		if (!why[0])
			snprintf(why, sizeof(why), "%s", pop3_broken(s) || pop3_fail_class(s) != POP3_OK
			         ? pop3_error(s) : strerror(-r));
		log_warn("POP3 round stopped, the rest waits for the next one: %s", why);
		driver_error(d->m, "%s", why);
	}
	/* QUIT even after an error: what was stored is stored, and its DELE
	 * may be committed. A broken connection commits nothing. */
	if (!pop3_broken(s)) {
		int q = pop3_quit(s);

		if (q == 0 && dele) {
			pthread_mutex_lock(&d->lock);
			d->deleted += dele;
			pthread_mutex_unlock(&d->lock);
		}
		if (q < 0 && dele)
			log_warn("the server did not confirm the deletion of %u messages; "
			         "they are tried again next time", dele);
	}
	pthread_mutex_lock(&d->lock);
	d->on_server = count;
	pthread_mutex_unlock(&d->lock);
	session_close(d, s);
	st->changed = new > 0;
	if (new)
		log_info("downloaded %u new message%s", new, new == 1 ? "" : "s");
	return r;
}

static void pop3d_start(void *drv)
{
	(void)drv;
}

static void pop3d_stop(void *drv)
{
	struct pop3d *d = drv;

	pthread_mutex_lock(&d->lock);
	d->stop = 1;
	if (d->s)
		pop3_abort(d->s);
	pthread_mutex_unlock(&d->lock);
}

static void pop3d_close(void *drv)
{
	struct pop3d *d = drv;

	if (!d)
		return;
	free(d->caps);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

static void pop3d_status(void *drv, FILE *out)
{
	struct pop3d *d = drv;

	pthread_mutex_lock(&d->lock);
	fprintf(out, "protocol: POP3%s\n", d->opt->pop3_delete ?
	        ", deleting from the server what is stored (pop3_delete)" :
	        ", leaving mail on the server");
	fprintf(out, "capabilities: %s\n", !d->caps ? "(not connected yet)" :
	        d->caps[0] ? d->caps : "(none: the server does not answer CAPA)");
	fprintf(out, "downloaded this mount: %llu, deleted on the server: %llu, "
	        "on the server at the last look: %u\n",
	        (unsigned long long)d->downloaded, (unsigned long long)d->deleted,
	        d->on_server);
	pthread_mutex_unlock(&d->lock);
}

/* No folders, no changes on the server: rm is local, and every body is
 * in the cache from the moment it is listed (no fetch). */
const struct driver driver_pop3 = {
	.name = "POP3",
	.caps = DRIVER_UIDL,
	.open = pop3d_open,
	.list = pop3d_list,
	.sync = pop3d_sync,
	.start = pop3d_start,
	.stop = pop3d_stop,
	.close = pop3d_close,
	.status = pop3d_status,
};
