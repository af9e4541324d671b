/* backend_pop3.c - the POP3 side of mail_ops (SPEC §3): one INBOX,
 * downloaded into the cache, which is the user's copy.
 *
 * A round (at mount and every `poll` seconds): log in, UIDL, RETR every
 * message whose UIDL was never seen, and with pop3_delete DELE every message
 * whose local copy is durable, then QUIT, which commits the DELEs
 * (RFC 1939 §6). A session is never kept open between rounds: POP3 servers
 * lock the mailbox while one is open.
 *
 * The order that makes "no message is on neither side" hold at any crash:
 * reserve a UID for the UIDL (committed), write the body into an unnamed
 * file, fsync it, link it under its final name, fsync the directory, then
 * commit the message row and the UIDL's STORED state in one durable
 * transaction; only then DELE, which the server applies at QUIT.
 */
#include "fs/engine/engine.h"
#include "fs/engine/layout.h"
#include "fs/log.h"
#include "cache/body.h"
#include "cache/store.h"
#include "net/mime.h"
#include "net/pop3.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HEADER_PEEK 65536

struct pop3b {
	struct engine *m;
	struct pop3_params params;
	pthread_mutex_t lock;
	struct pop3_session *s;    /* the session of the round in progress; lock */
	int stop;                  /* protected by lock */
	char *caps;                /* protected by lock */
	uint64_t downloaded;       /* this mount; protected by lock */
	uint64_t deleted;          /* on the server, this mount; protected by lock */
	uint32_t on_server;        /* at the last round; protected by lock */
};

static struct pop3b *P(struct engine *m)
{
	return m->backend;
}

/* One line for the user, and whether the failure is the kind that passes
 * (network, "mailbox in use"): then a mount may come up from its cache. */
static int explain(struct pop3b *b, struct pop3_session *s, int r, char *err, size_t errlen)
{
	const struct mfs_options *o = b->m->opt;

	switch (pop3_fail_class(s)) {
	case POP3_FAIL_CONN: {
		int transient;
		const char *advice = conn_fail_advice(pop3_conn_fail(s), &transient);

		snprintf(err, errlen, "%s%s", pop3_error(s), advice);
		return transient;
	}
	case POP3_FAIL_AUTH:
		snprintf(err, errlen, "%s (check %s)", pop3_error(s),
		         b->params.auth == POP3_AUTH_PASSWORD ? "the user name and password"
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

/* Connect and log in; NULL with a reason in err and *transient_r. */
static struct pop3_session *session_open(struct pop3b *b, char *err, size_t errlen,
                                         int *r_out, int *transient_r)
{
	struct pop3_session *s = pop3_session_new(&b->params);
	int r;

	*transient_r = 0;
	if (!s) {
		snprintf(err, errlen, "out of memory");
		*r_out = -ENOMEM;
		return NULL;
	}
	pthread_mutex_lock(&b->lock);
	b->s = s;
	if (b->stop)
		pop3_abort(s);
	pthread_mutex_unlock(&b->lock);
	r = pop3_connect(s);
	if (r == 0) {
		pthread_mutex_lock(&b->lock);
		if (!b->caps)
			b->caps = strdup(pop3_caps(s) & POP3_CAP_UIDL ? "UIDL" : "");
		pthread_mutex_unlock(&b->lock);
		status_online(b->m, 1);
		return s;
	}
	*transient_r = explain(b, s, r, err, errlen);
	pthread_mutex_lock(&b->lock);
	b->s = NULL;
	pthread_mutex_unlock(&b->lock);
	pop3_session_free(s);
	*r_out = r;
	return NULL;
}

static void session_close(struct pop3b *b, struct pop3_session *s)
{
	pthread_mutex_lock(&b->lock);
	b->s = NULL;
	pthread_mutex_unlock(&b->lock);
	pop3_session_free(s);
}

static int pop3b_open(struct engine *m, char *err, size_t errlen)
{
	struct pop3b *b = calloc(1, sizeof(*b));
	const struct mfs_options *o = m->opt;
	struct pop3_session *s;
	int r, transient;

	if (!b) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	b->m = m;
	pthread_mutex_init(&b->lock, NULL);
	mfs_conn_params(m, &b->params.conn);
	b->params.require_tls = !o->tls_insecure_plaintext;
	b->params.user = o->user;
	b->params.secret = m->secret;
	b->params.auth = o->oauth2_token_command ? POP3_AUTH_XOAUTH2 : POP3_AUTH_PASSWORD;
	if (o->debug)
		b->params.trace = log_protocol;
	m->backend = b;

	/* Check the account before mounting, then let go of the mailbox. */
	s = session_open(b, err, errlen, &r, &transient);
	if (!s) {
		/* A mount that has downloaded before comes up from its cache
		 * (SPEC §3); a first mount, or a refused login, fails. */
		if (transient && m->nfolders > 0) {
			log_warn("%s; the mount comes up from the cache", err);
			status_error(m, "%s", err);
			m->offline_start = 1;
			return 0;
		}
		return r;
	}
	pop3_quit(s);
	session_close(b, s);
	return 0;
}

static int pop3b_list(struct engine *m)
{
	static const struct tree_entry inbox = { .server = "INBOX", .delim = 0, .flags = 0 };

	return tree_sync(m, &inbox, 1);
}

/* ---- a round ------------------------------------------------------------------- */

struct uidl_list {
	uint32_t *n;
	char **uidl;
	size_t count, cap;
};

static int uidl_cb(void *ctx, uint32_t n, const char *uidl)
{
	struct uidl_list *l = ctx;

	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		uint32_t *nn = realloc(l->n, cap * sizeof(*nn));
		char **nu;

		if (!nn)
			return -ENOMEM;
		l->n = nn;
		nu = realloc(l->uidl, cap * sizeof(*nu));
		if (!nu)
			return -ENOMEM;
		l->uidl = nu;
		l->cap = cap;
	}
	l->uidl[l->count] = strdup(uidl);
	if (!l->uidl[l->count])
		return -ENOMEM;
	l->n[l->count++] = n;
	return 0;
}

static void uidl_free(struct uidl_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->uidl[i]);
	free(l->uidl);
	free(l->n);
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

/* Download message N (UIDL) into the cache, durably. */
static int download(struct engine *m, struct pop3_session *s, struct folder *f, uint32_t n,
                    const char *uidl, char *why, size_t whylen)
{
	struct body_tmp tmp = { .fd = -1 };
	struct body_sink bs = { .sink.write = body_write };
	char hdr[HEADER_PEEK + 1];
	char *subject = NULL, *decoded = NULL, *msgid = NULL, *date = NULL, *name = NULL;
	struct store_msg msg = { .uidl = uidl, .flags = "", .state = STORE_MSG_SIZE_EXACT };
	uint64_t size = 0;
	uint32_t uid;
	time_t when;
	ssize_t got;
	int r;

	r = store_pop3_reserve(m->store, uidl, &uid);
	if (r < 0)
		return r;
	r = body_create(m->bodies, &tmp);
	if (r < 0) {
		snprintf(why, whylen, "cannot store message %u in %s: %s", n, m->opt->cache_dir,
		         strerror(-r));
		goto out;
	}
	bs.fd = tmp.fd;
	r = pop3_retr(s, n, &bs.sink, &size);
	if (r < 0) {
		/* The sink's error (the disk) or the server's. */
		if (pop3_fail_class(s) == POP3_OK || bs.err)
			snprintf(why, whylen, "cannot store message %u in %s: %s", n,
			         m->opt->cache_dir, strerror(-r));
		else
			snprintf(why, whylen, "%s", pop3_error(s));
		goto out;
	}
	/* The name, date and Message-ID come from the header. */
	got = pread(tmp.fd, hdr, HEADER_PEEK, 0);
	if (got > 0) {
		hdr[got] = '\0';
		subject = mime_header(hdr, (size_t)got, "Subject");
		msgid = mime_header(hdr, (size_t)got, "Message-ID");
		date = mime_header(hdr, (size_t)got, "Date");
	}
	if (subject)
		decoded = mime_decode_words(subject, strlen(subject));
	name = layout_message_name(uid, decoded ? decoded : "");
	if (!name) {
		r = -ENOMEM;
		goto out;
	}
	if (!date || mime_parse_date(date, &when) < 0)
		when = time(NULL);
	/* Durable before listed (SPEC §3). */
	r = body_commit(m->bodies, &tmp, f->id, uid, 1);
	if (r < 0) {
		snprintf(why, whylen, "cannot store message %u in %s: %s", n, m->opt->cache_dir,
		         strerror(-r));
		goto out;
	}
	msg.uid = uid;
	msg.name = name;
	msg.size = size;
	msg.date = (int64_t)when;
	msg.msgid = msgid;
	r = store_pop3_stored(m->store, f->id, &msg);
	if (r < 0)
		snprintf(why, whylen, "cannot record message %u: %s", n, store_error(m->store));
out:
	if (r < 0 && r != -ENOMEM) {
		/* The reservation stays: its UID is burnt, its body removed at
		 * the next start; the UIDL is tried again next round. */
		body_remove(m->bodies, f->id, uid);
	}
	body_tmp_close(m->bodies, &tmp);
	free(subject);
	free(decoded);
	free(msgid);
	free(date);
	free(name);
	return r;
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

static int pop3b_sync(struct engine *m, struct folder *f)
{
	struct pop3b *b = P(m);
	struct uidl_list l = { 0 };
	struct pop3_session *s;
	char err[512];
	uint32_t count = 0, new = 0, dele = 0;
	uint64_t total;
	char why[512] = "";
	int r, transient;

	/* Leftovers of a round that was killed: their UIDs are burnt. */
	store_pop3_drop_reserved(m->store, forget_reserved,
	                         &(struct reserved_ctx){ .m = m, .folder = f->id });

	s = session_open(b, err, sizeof(err), &r, &transient);
	if (!s) {
		if (r == -EAGAIN)
			log_warn("%s; trying again in %d s", err, m->opt->poll);
		else
			log_warn("%s", err);
		status_error(m, "%s", err);
		status_online(m, 0);
		return r;
	}
	r = pop3_stat(s, &count, &total);
	if (r == 0)
		r = pop3_uidl(s, uidl_cb, &l);
	for (size_t i = 0; r == 0 && i < l.count; i++) {
		uint32_t uid;
		int state;

		pthread_mutex_lock(&b->lock);
		r = b->stop ? -ECANCELED : 0;
		pthread_mutex_unlock(&b->lock);
		if (r < 0)
			break;
		r = store_pop3_get(m->store, l.uidl[i], &uid, &state);
		if (r == -ENOENT) {
			r = download(m, s, f, l.n[i], l.uidl[i], why, sizeof(why));
			if (r < 0)
				break;
			new++;
			state = STORE_POP3_STORED;
			pthread_mutex_lock(&b->lock);
			b->downloaded++;
			pthread_mutex_unlock(&b->lock);
			if (new % 50 == 1)
				tell_dir(m, f->id);
		} else if (r < 0) {
			break;
		}
		/* Only what is stored (or was removed on purpose) may go. */
		if (m->opt->pop3_delete &&
		    (state == STORE_POP3_STORED || state == STORE_POP3_REMOVED)) {
			r = pop3_dele(s, l.n[i]);
			if (r < 0)
				break;
			dele++;
		}
	}
	if (r < 0) {
		if (!why[0])
			snprintf(why, sizeof(why), "%s", pop3_broken(s) || pop3_fail_class(s) != POP3_OK
			         ? pop3_error(s) : strerror(-r));
		log_warn("POP3 round stopped, the rest waits for the next one: %s", why);
		status_error(m, "%s", why);
	}
	/* QUIT even after an error: what was stored is stored, and its DELE
	 * may be committed. A broken connection commits nothing. */
	if (!pop3_broken(s)) {
		int q = pop3_quit(s);

		if (q == 0 && dele) {
			pthread_mutex_lock(&b->lock);
			b->deleted += dele;
			pthread_mutex_unlock(&b->lock);
		}
		if (q < 0 && dele)
			log_warn("the server did not confirm the deletion of %u messages; "
			         "they are tried again next time", dele);
	}
	pthread_mutex_lock(&b->lock);
	b->on_server = count;
	pthread_mutex_unlock(&b->lock);
	session_close(b, s);
	uidl_free(&l);
	if (new) {
		tell_dir(m, f->id);
		folder_touch(f);
		log_info("downloaded %u new message%s", new, new == 1 ? "" : "s");
	}
	return r;
}

static int pop3b_fetch(struct engine *m, struct fetch **fxs, size_t n)
{
	(void)fxs;
	(void)n;
	/* Every POP3 body is in the cache from the moment it is listed; one
	 * that is missing was lost locally (disk trouble), not on the server. */
	log_err("a POP3 message body is missing from the cache directory %s", m->opt->cache_dir);
	return -EIO;
}

struct uidl_of {
	char *uidl;
};

static int got_uidl(void *ctx, const struct store_msg *msg)
{
	struct uidl_of *u = ctx;

	u->uidl = msg->uidl ? strdup(msg->uidl) : NULL;
	return 0;
}

static int pop3b_remove(struct engine *m, struct folder *f, uint32_t uid)
{
	struct uidl_of u = { 0 };
	int r;

	/* rm is local (SPEC §3): the UIDL is remembered so the message never
	 * comes back; the server copy stays, unless pop3_delete removes it. */
	r = store_msg_get(m->store, f->id, uid, got_uidl, &u);
	if (r < 0)
		return r;
	r = u.uidl ? store_pop3_set_state(m->store, u.uidl, STORE_POP3_REMOVED) : 0;
	free(u.uidl);
	return r;
}

static int pop3b_move(struct engine *m, struct folder *f, uint32_t uid, struct folder *to,
                      uint32_t *uid_r)
{
	(void)m; (void)f; (void)uid; (void)to;
	*uid_r = 0;
	return -EPERM;
}

static int pop3b_append(struct engine *m, struct folder *f, int fd, uint64_t size,
                        const char *flags, time_t date, uint32_t *uid_r)
{
	(void)m; (void)f; (void)fd; (void)size; (void)flags; (void)date;
	*uid_r = 0;
	return -EPERM;
}

static int pop3b_set_flags(struct engine *m, struct folder *f, uint32_t uid, const char *flags)
{
	(void)m; (void)f; (void)uid; (void)flags;
	return -EPERM;
}

static int pop3b_mkdir(struct engine *m, const char *server)
{
	(void)m; (void)server;
	return -EPERM;
}

static int pop3b_rmdir(struct engine *m, struct folder *f)
{
	(void)m; (void)f;
	return -EPERM;
}

static int pop3b_rename(struct engine *m, struct folder *f, const char *server)
{
	(void)m; (void)f; (void)server;
	return -EPERM;
}

static void pop3b_start(struct engine *m)
{
	struct folder *inbox = tree_by_path(m, "INBOX");

	if (!inbox)
		return;
	/* Always watched, and always showing what is downloaded so far: a
	 * first `ls` does not wait for the whole mailbox. */
	pthread_mutex_lock(&inbox->lock);
	inbox->wanted = 1;
	inbox->synced = 1;
	inbox->has_cache = 1;
	pthread_mutex_unlock(&inbox->lock);
	folder_sync_later(m, inbox);
}

static void pop3b_stop(struct engine *m)
{
	struct pop3b *b = P(m);

	pthread_mutex_lock(&b->lock);
	b->stop = 1;
	if (b->s)
		pop3_abort(b->s);
	pthread_mutex_unlock(&b->lock);
}

static void pop3b_close(struct engine *m)
{
	struct pop3b *b = P(m);

	if (!b)
		return;
	free(b->caps);
	pthread_mutex_destroy(&b->lock);
	free(b);
	m->backend = NULL;
}

static void pop3b_status(struct engine *m, char **buf, size_t *len)
{
	struct pop3b *b = P(m);

	pthread_mutex_lock(&b->lock);
	status_printf(buf, len, "protocol: POP3%s\n", m->opt->pop3_delete ?
	           ", deleting from the server what is stored (pop3_delete)" :
	           ", leaving mail on the server");
	status_printf(buf, len, "downloaded this mount: %llu, deleted on the server: %llu, "
	           "on the server at the last look: %u\n",
	           (unsigned long long)b->downloaded, (unsigned long long)b->deleted,
	           b->on_server);
	pthread_mutex_unlock(&b->lock);
}

const struct mail_ops backend_pop3 = {
	.open = pop3b_open,
	.list = pop3b_list,
	.sync = pop3b_sync,
	.fetch = pop3b_fetch,
	.remove = pop3b_remove,
	.move = pop3b_move,
	.append = pop3b_append,
	.set_flags = pop3b_set_flags,
	.mkdir = pop3b_mkdir,
	.rmdir = pop3b_rmdir,
	.rename = pop3b_rename,
	.start = pop3b_start,
	.stop = pop3b_stop,
	.close = pop3b_close,
	.status = pop3b_status,
};
