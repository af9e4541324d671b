/* test_engine.c - the mail engine (fs/engine/) on its own: no FUSE, no
 * server. A fake driver plays the server from tables the tests edit (its
 * folders, their messages, and errors to answer with); the face is a
 * recorder of what the engine tells it; the cache is a temporary store.
 *
 * Covered: the tree from LIST (nested, implied, renamed, removed), a
 * folder's sync (new, expunged, re-flagged messages, a UIDVALIDITY
 * change), the outcomes of rm, mv, flags and APPEND, server errors
 * included, and the views (SPEC §9): what is asked of the server, what
 * the cache answers, a structure the server cannot describe.
 */
#include "tests/unit/testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <semaphore.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/engine/engine.h"
#include "fs/engine/append.h"
#include "fs/engine/change.h"
#include "fs/engine/fetch.h"
#include "fs/engine/render.h"
#include "net/bodystructure.h"
#include "net/search.h"
#include "cache/body.h"
#include "cache/store.h"

/* ---- the fake server -------------------------------------------------------- */

#define MAXF 16
#define MAXM 64

struct fmsg {
	uint32_t uid;
	char flags[64];
	char subject[64];
};

struct ffolder {
	char server[64];
	int noselect;
	uint32_t uidvalidity, uidnext;
	uint64_t modseq;       /* HIGHESTMODSEQ, 0: a server without CONDSTORE */
	struct fmsg msg[MAXM];
	int nmsg;
};

enum fop { OP_NONE, OP_REMOVE, OP_MOVE, OP_APPEND, OP_FLAGS, OP_SYNC, OP_STRUCTURE,
           OP_SECTIONS, OP_SEARCH, OP_COUNT_ };

static struct {
	struct ffolder f[MAXF];
	int nf;
	enum fop fail_op;      /* answer this operation with fail_err */
	int fail_err;
	int no_structure;      /* structure() cannot describe any message */
	int sections_asked;    /* sections requested, over all calls */
	int calls[OP_COUNT_];  /* per enum fop */
	/* A first listing in steps (test_first_listing): the sync waits on
	 * gate after each new message, and fails with -EIO after fail_after
	 * of them (0: never). */
	sem_t *gate;
	int fail_after;
} srv;

static struct ffolder *srv_folder(const char *server)
{
	for (int i = 0; i < srv.nf; i++)
		if (strcmp(srv.f[i].server, server) == 0)
			return &srv.f[i];
	return NULL;
}

static struct ffolder *srv_add_folder(const char *server, uint32_t uidvalidity)
{
	struct ffolder *f = &srv.f[srv.nf++];

	memset(f, 0, sizeof(*f));
	snprintf(f->server, sizeof(f->server), "%s", server);
	f->uidvalidity = uidvalidity;
	f->uidnext = 1;
	return f;
}

static uint32_t srv_add_msg(struct ffolder *f, const char *subject, const char *flags)
{
	struct fmsg *m = &f->msg[f->nmsg++];

	m->uid = f->uidnext++;
	if (f->modseq)
		f->modseq++;
	snprintf(m->subject, sizeof(m->subject), "%s", subject);
	snprintf(m->flags, sizeof(m->flags), "%s", flags);
	return m->uid;
}

static struct fmsg *srv_msg(struct ffolder *f, uint32_t uid)
{
	for (int i = 0; i < f->nmsg; i++)
		if (f->msg[i].uid == uid)
			return &f->msg[i];
	return NULL;
}

static void srv_del_msg(struct ffolder *f, uint32_t uid)
{
	for (int i = 0; i < f->nmsg; i++) {
		if (f->msg[i].uid == uid) {
			f->msg[i] = f->msg[--f->nmsg];
			if (f->modseq)
				f->modseq++;
			return;
		}
	}
}

static int failing(enum fop op)
{
	srv.calls[op]++;
	return srv.fail_op == op ? srv.fail_err : 0;
}

/* The header a message of the fake server has. */
static void header_of(const struct fmsg *m, char *buf, size_t size)
{
	snprintf(buf, size, "Subject: %s\r\nMessage-ID: <%u@fake>\r\n\r\n", m->subject, m->uid);
}

/* The whole of a message of the fake server: a quoted-printable text and a
 * base64 attachment (for the views). */
static char *whole_of(const struct fmsg *m)
{
	char *out = NULL;

	if (asprintf(&out, "From: fake@test\r\nSubject: %s\r\nMessage-ID: <%u@fake>\r\n"
	             "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
	             "--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
	             "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	             "cr=\r\n=C3=A8me %u\r\n"
	             "--b\r\nContent-Type: application/octet-stream; name=x.bin\r\n"
	             "Content-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b--\r\n",
	             m->subject, m->uid, m->uid) < 0)
		return NULL;
	return out;
}

/* ---- the fake driver ------------------------------------------------------------ */

static struct engine *fake_engine;

static int fk_open(struct engine *m, const struct driver_params *p, void **drv_r, char *err,
                   size_t errlen, int *transient_r)
{
	(void)p; (void)err; (void)errlen;
	fake_engine = m;
	*drv_r = &srv;
	*transient_r = 0;
	return 0;
}

/* The folders, and the STATUS of those watched (LIST-STATUS): one round
 * trip. */
static int fk_list(void *drv, int (*cb)(void *ctx, const struct driver_list_entry *e), void *ctx,
                   const struct driver_folder *watch, size_t n)
{
	(void)drv;
	for (int i = 0; i < srv.nf; i++) {
		struct driver_list_entry e = {
			.server = srv.f[i].server, .delim = '/', .noselect = srv.f[i].noselect,
		};
		int r = cb(ctx, &e);

		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < n; i++) {
		struct ffolder *f = srv_folder(watch[i].server);

		if (f) {
			struct driver_status st = { .uidvalidity = f->uidvalidity,
			                            .uidnext = f->uidnext,
			                            .messages = (uint32_t)f->nmsg,
			                            .modseq = f->modseq };
			driver_folder_status(fake_engine, watch[i].id, &st);
		}
	}
	return 1;
}

/* What an IMAP driver would learn by comparing everything: new messages,
 * all flags, and what the cache holds that the server does not. */
static int fk_sync(void *drv, const struct driver_folder *df, struct driver_sync *st)
{
	struct ffolder *f = srv_folder(df->server);
	uint32_t *known = NULL;
	size_t nknown = 0;
	int r = failing(OP_SYNC);

	(void)drv;
	if (r < 0)
		return r;
	if (!f)
		return -ENOENT;
	if (st->uidvalidity && st->uidvalidity != f->uidvalidity) {
		st->uidvalidity = f->uidvalidity;
		return -ESTALE;
	}
	r = driver_msgs_known(fake_engine, df->id, &known, &nknown);
	if (r < 0)
		return r;
	for (size_t i = 0; i < nknown; i++) {
		if (!srv_msg(f, known[i])) {
			driver_msgs_gone(fake_engine, df->id, known[i], known[i]);
			st->changed = 1;
		}
	}
	for (int i = 0, nnew = 0; i < f->nmsg; i++) {
		struct fmsg *m = &f->msg[i];
		char hdr[256];

		if (srv.gate && nnew)
			sem_wait(srv.gate);
		if (srv.fail_after && nnew == srv.fail_after) {
			r = -EIO;
			break;
		}
		nnew++;

		if (m->uid >= st->uidnext || !driver_msg_known(fake_engine, df->id, m->uid)) {
			struct driver_msg dm = { .uid = m->uid, .size = 100, .date = 1700000000,
			                         .flags = m->flags, .header = hdr };

			header_of(m, hdr, sizeof(hdr));
			dm.header_len = strlen(hdr);
			r = driver_msgs_new(fake_engine, df->id, &dm, 1);
			st->changed = 1;
		} else {
			const char *fl = m->flags;
			uint64_t modseq = 0;

			r = driver_msgs_flags(fake_engine, df->id, &m->uid, &fl, &modseq, 1);
		}
		if (r < 0)
			break;
	}
	free(known);
	st->uidvalidity = f->uidvalidity;
	st->uidnext = f->uidnext;
	st->modseq = f->modseq;
	return r;
}

static int fk_remove(void *drv, const struct driver_folder *df, uint32_t uid)
{
	struct ffolder *f = srv_folder(df->server);
	int r = failing(OP_REMOVE);

	(void)drv;
	if (r == 0 && f)
		srv_del_msg(f, uid);
	return r;
}

static int fk_move(void *drv, const struct driver_folder *df, uint32_t uid,
                   const struct driver_folder *to, uint32_t *uid_r)
{
	struct ffolder *f = srv_folder(df->server), *t = srv_folder(to->server);
	struct fmsg *m = f ? srv_msg(f, uid) : NULL;
	int r = failing(OP_MOVE);

	(void)drv;
	*uid_r = 0;
	if (r < 0)
		return r;
	if (!m || !t)
		return -ENOENT;
	*uid_r = srv_add_msg(t, m->subject, m->flags);
	srv_del_msg(f, uid);
	return 0;
}

static int fk_append(void *drv, const struct driver_folder *df, uint32_t from, int fd,
                     uint64_t size, const char *flags, time_t date, uint32_t *uid_r)
{
	struct ffolder *f = srv_folder(df->server);
	char buf[512] = "", *subj, *end;
	int r = failing(OP_APPEND);

	(void)drv; (void)from; (void)date;
	*uid_r = 0;
	if (r < 0)
		return r;
	if (!f)
		return -ENOENT;
	if (pread(fd, buf, sizeof(buf) - 1, 0) < 0 || size == 0)
		return -EIO;
	subj = strstr(buf, "Subject: ");
	subj = subj ? subj + 9 : (char *)"";
	end = strpbrk(subj, "\r\n");
	if (end)
		*end = '\0';
	*uid_r = srv_add_msg(f, subj, flags ? flags : "");
	return 0;
}

static int fk_set_flags(void *drv, const struct driver_folder *df, uint32_t uid,
                        const char *flags)
{
	struct ffolder *f = srv_folder(df->server);
	struct fmsg *m = f ? srv_msg(f, uid) : NULL;
	int r = failing(OP_FLAGS);

	(void)drv;
	if (r < 0)
		return r;
	if (!m)
		return -ENOENT;
	snprintf(m->flags, sizeof(m->flags), "%s", flags);
	return 0;
}

static int fk_mkdir(void *drv, const char *server)
{
	(void)drv;
	if (srv_folder(server))
		return -EEXIST;
	srv_add_folder(server, 77);
	return 0;
}

static int fk_rmdir(void *drv, const struct driver_folder *df, int noselect)
{
	struct ffolder *f = srv_folder(df->server);

	(void)drv; (void)noselect;
	if (!f)
		return -ENOENT;
	if (f->nmsg)
		return -ENOTEMPTY;
	*f = srv.f[--srv.nf];
	return 0;
}

static int fk_rename(void *drv, const struct driver_folder *df, const char *server)
{
	size_t n = strlen(df->server);

	(void)drv;
	/* The whole subtree goes (RFC 3501 §6.3.5). */
	for (int i = 0; i < srv.nf; i++) {
		char *s = srv.f[i].server, tail[64];

		if (strncmp(s, df->server, n) == 0 && (!s[n] || s[n] == '/')) {
			snprintf(tail, sizeof(tail), "%s", s + n);
			snprintf(s, sizeof(srv.f[i].server), "%s%s", server, tail);
		}
	}
	return 0;
}

static int fk_structure(void *drv, const struct driver_folder *df, const uint32_t *uids,
                        size_t n, void (*cb)(void *ctx, uint32_t uid, const struct bs_part *root),
                        void *ctx)
{
	struct ffolder *f = srv_folder(df->server);
	int r = failing(OP_STRUCTURE);

	(void)drv;
	for (size_t i = 0; r == 0 && i < n; i++) {
		struct fmsg *m = f ? srv_msg(f, uids[i]) : NULL;
		struct bs_part *root = NULL;
		char *msg;

		if (!m || !(msg = whole_of(m)))
			continue;
		if (render_structure(msg, strlen(msg), &root) == 0)
			cb(ctx, uids[i], srv.no_structure ? NULL : root);
		bs_free(root);
		free(msg);
	}
	return r;
}

/* Sections cut from the whole message by render.c's own source: what an
 * IMAP server's BODY[n] gives. */
static int fk_sections(void *drv, const struct driver_folder *df, struct driver_section *secs,
                       size_t n)
{
	struct ffolder *f = srv_folder(df->server);
	int r = failing(OP_SECTIONS);

	(void)drv;
	for (size_t i = 0; r == 0 && i < n; i++) {
		struct driver_section *sec = &secs[i];
		struct fmsg *m = f ? srv_msg(f, sec->uid) : NULL;
		char *msg = m ? whole_of(m) : NULL;
		struct render_source *src = msg ? render_message_source(msg, strlen(msg)) : NULL;
		const char *data;
		size_t len;
		int decoded;

		srv.sections_asked++;
		sec->err = -ENOENT;
		if (msg && !sec->header && !sec->section[0]) {
			sec->data = strdup(msg);
			sec->len = strlen(msg);
			sec->err = 0;
		} else if (src && src->get(src->ctx, sec->section, sec->header, &data, &len,
		                           &decoded) == 0) {
			sec->data = strndup(data, len);
			sec->len = len;
			sec->err = 0;
		}
		render_message_source_free(src);
		free(msg);
	}
	return r;
}

/* SEARCH as a server answers it: the fake knows SUBJECT (a substring) and
 * ALL; every match as a range of its own, and a range of UIDs that do not
 * exist besides (a server may answer "1:*"-like ranges). */
static int fk_search(void *drv, const struct driver_folder *df, const struct sq_node *q,
                     void (*cb)(void *ctx, uint32_t lo, uint32_t hi), void *ctx)
{
	struct ffolder *f = srv_folder(df->server);
	int r = failing(OP_SEARCH);

	(void)drv;
	if (r < 0)
		return r;
	if (!f)
		return -ENOENT;
	if (q->kind != SQ_ALL && q->kind != SQ_SUBJECT)
		return -EINVAL;
	for (int i = f->nmsg - 1; i >= 0; i--)      /* in any order */
		if (q->kind == SQ_ALL || strstr(f->msg[i].subject, q->str))
			cb(ctx, f->msg[i].uid, f->msg[i].uid);
	cb(ctx, 1000, 4000000000u);
	return 0;
}

static void fk_nothing(void *drv)
{
	(void)drv;
}

static void fk_status(void *drv, FILE *out)
{
	(void)drv;
	fprintf(out, "protocol: fake\n");
}

static const struct driver fake = {
	.name = "fake",
	.caps = DRIVER_FOLDERS | DRIVER_WRITE | DRIVER_REFETCH,
	.open = fk_open, .list = fk_list, .sync = fk_sync,
	.remove = fk_remove, .move = fk_move, .append = fk_append, .set_flags = fk_set_flags,
	.mkdir = fk_mkdir, .rmdir = fk_rmdir, .rename = fk_rename,
	.structure = fk_structure, .sections = fk_sections, .search = fk_search,
	.start = fk_nothing, .stop = fk_nothing, .close = fk_nothing, .status = fk_status,
};

/* ---- the face: what the engine told it ---------------------------------------------- */

static char told[8192];

static void tell_add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void tell_add(const char *fmt, ...)
{
	size_t len = strlen(told);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(told + len, sizeof(told) - len, fmt, ap);
	va_end(ap);
}

static void rec_entry(void *ctx, int64_t dir, const char *name)
{
	(void)ctx;
	tell_add("entry %lld %s; ", (long long)dir, name);
}

static void rec_dir(void *ctx, int64_t dir)
{
	(void)ctx;
	tell_add("dir %lld; ", (long long)dir);
}

static void rec_msg(void *ctx, int64_t folder, uint32_t uid)
{
	(void)ctx;
	tell_add("msg %lld/%u; ", (long long)folder, uid);
}

static void rec_sync(void *ctx)
{
	(void)ctx;
}

/* ---- the fixture ---------------------------------------------------------------------- */

static struct {
	char dir[64];
	struct mfs_options opt;
	struct engine m;
} fx;

static int setup(void **state)
{
	char err[256];

	(void)state;
	memset(&srv, 0, sizeof(srv));
	memset(&fx, 0, sizeof(fx));
	told[0] = '\0';
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/mailfs-test-engine.XXXXXX");
	assert_non_null(mkdtemp(fx.dir));
	fx.opt.cache_dir = fx.dir;
	fx.opt.host = (char *)"fake.test";
	fx.opt.poll = 60;
	fx.opt.timeout = 5;
	fx.opt.cache_size = 1 << 30;
	fx.m.tell = (struct engine_tell){ NULL, rec_entry, rec_dir, rec_msg, rec_sync };
	if (engine_init(&fx.m, &fx.opt, &fake, strdup("secret"), err, sizeof(err)) < 0)
		fail_msg("engine_init: %s", err);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	engine_free(&fx.m);
	rm_tree(fx.dir);
	return 0;
}

static void open_engine(void)
{
	char err[256];

	if (engine_open(&fx.m, err, sizeof(err)) < 0)
		fail_msg("engine_open: %s", err);
}

struct row {
	char name[256];
	char flags[64];
	int found;
};

static int got_row(void *ctx, const struct store_msg *msg)
{
	struct row *r = ctx;

	snprintf(r->name, sizeof(r->name), "%s", msg->name);
	snprintf(r->flags, sizeof(r->flags), "%s", msg->flags);
	r->found = 1;
	return 0;
}

/* The cached row of PATH/UID, or found == 0. */
static struct row cached(const char *path, uint32_t uid)
{
	struct folder *f = tree_by_path(&fx.m, path);
	struct row r = { .found = 0 };

	assert_non_null(f);
	store_msg_get(fx.m.store, f->id, uid, got_row, &r);
	return r;
}

static uint64_t count(const char *path)
{
	struct folder *f = tree_by_path(&fx.m, path);
	struct store_stats st = { 0 };

	assert_non_null(f);
	store_msg_stats(fx.m.store, f->id, &st);
	return st.count;
}

static struct folder *synced(const char *path)
{
	struct folder *f = tree_by_path(&fx.m, path);

	assert_non_null(f);
	assert_int_equal(folder_sync(&fx.m, f), 0);
	return f;
}

/* ---- the tree ----------------------------------------------------------------------------- */

static void test_tree_from_list(void **state)
{
	struct folder *a, *y, *x;

	(void)state;
	srv_add_folder("INBOX", 1);
	srv_add_folder("Archive/2024/Q1", 1);    /* Archive and 2024 only implied */
	srv_add_folder("Archive", 1);
	open_engine();
	a = tree_by_path(&fx.m, "Archive");
	y = tree_by_path(&fx.m, "Archive/2024");
	x = tree_by_path(&fx.m, "Archive/2024/Q1");
	assert_non_null(a);
	assert_non_null(y);
	assert_non_null(x);
	assert_string_equal(folder_server(a), "Archive");
	assert_null(folder_server(y));                 /* implied: no wire name */
	assert_true(folder_flags(y) & STORE_FOLDER_NOSELECT);
	assert_int_equal(folder_parent(x), y->id);
	assert_int_equal(a->nsub, 1);
	assert_int_equal(fx.m.ntop, 2);

	/* Renamed on the server (and by the engine): the subtree follows, ids
	 * and so cached messages stay. */
	assert_int_equal(change_rename_dir(&fx.m, a, 0, "Old"), 0);
	assert_null(tree_by_path(&fx.m, "Archive"));
	assert_ptr_equal(tree_by_path(&fx.m, "Old"), a);
	assert_ptr_equal(tree_by_path(&fx.m, "Old/2024/Q1"), x);
	assert_string_equal(folder_server(x), "Old/2024/Q1");
	assert_non_null(srv_folder("Old/2024/Q1"));

	/* A folder the server stops listing is gone, and the face is told. */
	told[0] = '\0';
	*srv_folder("Old/2024/Q1") = srv.f[--srv.nf];
	assert_int_equal(tree_refresh(&fx.m, NULL, 0), 1);
	assert_true(folder_gone(x));
	assert_null(tree_by_path(&fx.m, "Old/2024/Q1"));
	assert_non_null(strstr(told, "Q1"));
}

static void test_mkdir_rmdir(void **state)
{
	struct folder *f = NULL;

	(void)state;
	srv_add_folder("INBOX", 1);
	open_engine();
	assert_int_equal(change_mkdir(&fx.m, 0, "Projects", &f), 0);
	assert_non_null(f);
	assert_non_null(srv_folder("Projects"));
	assert_int_equal(change_mkdir(&fx.m, 0, "Projects", &f), -EEXIST);
	srv_add_msg(srv_folder("Projects"), "keep me", "");
	assert_int_equal(change_rmdir(&fx.m, f), -ENOTEMPTY);
	assert_non_null(srv_folder("Projects"));
	srv.f[srv.nf - 1].nmsg = 0;
	assert_int_equal(change_rmdir(&fx.m, f), 0);
	assert_true(folder_gone(f));
	assert_int_equal(change_rmdir(&fx.m, tree_by_path(&fx.m, "INBOX")), -EPERM);
}

/* ---- a folder's sync ------------------------------------------------------------------------ */

/* A poll round asks the state of the folders looked at with the folder
 * list, and syncs only those whose state changed since their last sync;
 * a folder without a mod-sequence (no CONDSTORE) cannot show a flag
 * change that way, and is synced each round. */
static void test_poll_status(void **state)
{
	struct ffolder *in, *work, *old;
	int before;

	(void)state;
	in = srv_add_folder("INBOX", 1);
	in->modseq = 10;
	srv_add_msg(in, "one", "");
	work = srv_add_folder("Work", 2);
	work->modseq = 20;
	srv_add_msg(work, "two", "");
	old = srv_add_folder("Old", 3);
	srv_add_msg(old, "three", "");
	srv_add_folder("Unseen", 4)->modseq = 5;   /* never looked at */
	open_engine();
	assert_int_equal(folder_ensure(&fx.m, tree_by_path(&fx.m, "INBOX")), 0);
	assert_int_equal(folder_ensure(&fx.m, tree_by_path(&fx.m, "Work")), 0);
	assert_int_equal(folder_ensure(&fx.m, tree_by_path(&fx.m, "Old")), 0);

	before = srv.calls[OP_SYNC];
	poll_once(&fx.m);
	assert_int_equal(srv.calls[OP_SYNC] - before, 1);     /* Old only */

	srv_add_msg(work, "new", "");
	before = srv.calls[OP_SYNC];
	poll_once(&fx.m);
	assert_int_equal(srv.calls[OP_SYNC] - before, 2);     /* Work and Old */
	assert_true(cached("Work", 2).found);

	/* A flag changed elsewhere: the mod-sequence says so. */
	snprintf(work->msg[0].flags, sizeof(work->msg[0].flags), "\\Flagged");
	work->modseq++;
	before = srv.calls[OP_SYNC];
	poll_once(&fx.m);
	assert_int_equal(srv.calls[OP_SYNC] - before, 2);
	assert_string_equal(cached("Work", 1).flags, "\\Flagged");

	before = srv.calls[OP_SYNC];
	poll_once(&fx.m);
	assert_int_equal(srv.calls[OP_SYNC] - before, 1);
	pthread_mutex_lock(&fx.m.status_lock);
	assert_non_null(strstr(fx.m.poll_state, "3 folders asked in 1 round trip, 1 synced"));
	pthread_mutex_unlock(&fx.m.status_lock);
}

static void test_sync(void **state)
{
	struct ffolder *in;
	struct folder *f;
	uint32_t a, b, c, d;
	struct row r;

	(void)state;
	in = srv_add_folder("INBOX", 5);
	a = srv_add_msg(in, "first", "\\Seen");
	b = srv_add_msg(in, "second", "");
	c = srv_add_msg(in, "third", "$Label1");
	open_engine();
	f = synced("INBOX");
	assert_int_equal(count("INBOX"), 3);
	r = cached("INBOX", b);
	assert_true(r.found);
	assert_string_equal(r.name, "0000000002 second.eml");

	/* Expunged, re-flagged and new on the server. */
	srv_del_msg(in, a);
	snprintf(srv_msg(in, c)->flags, sizeof(srv_msg(in, c)->flags), "\\Flagged");
	d = srv_add_msg(in, "fourth", "");
	told[0] = '\0';
	synced("INBOX");
	assert_false(cached("INBOX", a).found);
	assert_string_equal(cached("INBOX", c).flags, "\\Flagged");
	assert_string_equal(cached("INBOX", d).name, "0000000004 fourth.eml");
	assert_int_equal(count("INBOX"), 3);
	/* The face heard of the name that went and of the listing. */
	assert_non_null(strstr(told, "0000000001 first.eml"));
	assert_non_null(strstr(told, "dir "));

	/* Deleted and recreated on the server: the folder gets a new id and
	 * is listed afresh; nothing is deleted on the server. */
	in->uidvalidity = 6;
	in->nmsg = 0;
	in->uidnext = 1;
	srv_add_msg(in, "new life", "");
	synced("INBOX");
	assert_true(folder_gone(f));
	assert_true(tree_by_path(&fx.m, "INBOX")->id != f->id);
	assert_int_equal(count("INBOX"), 1);
	assert_string_equal(cached("INBOX", 1).name, "0000000001 new life.eml");
}

/* A first listing is read while it is fetched (issue 16): readdir lists
 * what the store holds, waits for more, and ends with the listing; each
 * message once, in UID order. A listing that fails ends the wait with the
 * error, never a hang. */
struct listed {
	uint32_t uids[MAXM];
	size_t n;
};

static int got_uid(void *ctx, const struct store_msg *msg)
{
	struct listed *l = ctx;

	assert_true(l->n < MAXM);
	l->uids[l->n++] = msg->uid;
	return 0;
}

/* What readdir does (fs/face/ops.c, list_msgs), two rows a call. */
static int list_streamed(struct folder *f, struct listed *l, sem_t *gate, int *waits_r)
{
	uint32_t after = 0;

	for (;;) {
		uint32_t upto;
		int listing = folder_listing(f, &upto), r;
		size_t before = l->n;

		if (listing < 0)
			return listing;
		assert_int_equal(store_msg_list(fx.m.store, f->id, after, 2, got_uid, l), 0);
		if (l->n > before) {
			after = l->uids[l->n - 1];
			continue;
		}
		if (!listing)
			return 0;
		/* Listed all that is stored: let the server go on. */
		sem_post(gate);
		(*waits_r)++;
		r = folder_listed(f, upto);
		if (r < 0)
			return r;
	}
}

static void test_first_listing(void **state)
{
	struct ffolder *big;
	struct folder *f;
	struct listed l = { .n = 0 };
	sem_t gate;
	int waits = 0;
	uint32_t upto;

	(void)state;
	big = srv_add_folder("Big", 9);
	for (int i = 0; i < 40; i++)
		srv_add_msg(big, "bulk", "");
	open_engine();
	f = tree_by_path(&fx.m, "Big");
	assert_non_null(f);
	sem_init(&gate, 0, 0);
	srv.gate = &gate;
	assert_int_equal(folder_open(&fx.m, f), 0);
	assert_int_equal(list_streamed(f, &l, &gate, &waits), 0);
	assert_int_equal(l.n, 40);
	for (size_t i = 0; i < l.n; i++)
		assert_int_equal(l.uids[i], i + 1);
	/* It did wait for the server, more than once. */
	assert_true(waits > 1);
	assert_int_equal(folder_listing(f, &upto), 0);

	/* A listing cut after 25 messages: the reader gets the error. */
	srv_add_folder("Cut", 10);
	for (int i = 0; i < 40; i++)
		srv_add_msg(&srv.f[srv.nf - 1], "cut", "");
	tree_refresh(&fx.m, NULL, 0);
	f = tree_by_path(&fx.m, "Cut");
	assert_non_null(f);
	srv.fail_after = 25;
	l.n = 0;
	assert_int_equal(folder_open(&fx.m, f), 0);
	assert_int_equal(list_streamed(f, &l, &gate, &waits), -EIO);
	assert_true(l.n <= 25);
	assert_int_equal(folder_listing(f, &upto), -EIO);
	/* Opened again: listed afresh, whole. */
	folder_listings_stop(&fx.m);
	srv.fail_after = 0;
	srv.gate = NULL;
	sem_destroy(&gate);
	assert_int_equal(folder_ensure(&fx.m, f), 0);
	assert_int_equal(count("Cut"), 40);
}

/* ---- changes --------------------------------------------------------------------------------- */

static void test_rm_mv_flags(void **state)
{
	struct ffolder *in, *ar;
	struct folder *fi, *fa;
	uint32_t a, b, nuid = 0;

	(void)state;
	in = srv_add_folder("INBOX", 1);
	ar = srv_add_folder("Archive", 2);
	a = srv_add_msg(in, "to delete", "");
	b = srv_add_msg(in, "to move", "\\Seen");
	open_engine();
	fi = synced("INBOX");
	fa = synced("Archive");

	/* A refusal leaves the cache as it was, and is the program's error. */
	srv.fail_op = OP_REMOVE;
	srv.fail_err = -EACCES;
	assert_int_equal(change_unlink(&fx.m, fi, a), -EACCES);
	assert_true(cached("INBOX", a).found);
	assert_non_null(srv_msg(in, a));
	srv.fail_op = OP_NONE;
	assert_int_equal(change_unlink(&fx.m, fi, a), 0);
	assert_false(cached("INBOX", a).found);
	assert_null(srv_msg(in, a));

	/* mv: the cache follows without a download, under the new UID. */
	assert_int_equal(change_move(&fx.m, fi, b, fa, &nuid), 0);
	assert_true(nuid > 0);
	assert_false(cached("INBOX", b).found);
	assert_string_equal(cached("Archive", nuid).name, "0000000001 to move.eml");
	assert_string_equal(cached("Archive", nuid).flags, "\\Seen");
	assert_int_equal(ar->nmsg, 1);

	/* Flags: atoms only, else EINVAL and nothing is sent. */
	srv.calls[OP_FLAGS] = 0;
	assert_int_equal(change_set_flags(&fx.m, fa, nuid, "\\Seen)\r\nX DELETE y", 17), -EINVAL);
	assert_int_equal(srv.calls[OP_FLAGS], 0);
	assert_int_equal(change_set_flags(&fx.m, fa, nuid, "\\Flagged $x\n", 12), 0);
	assert_string_equal(srv_msg(ar, nuid)->flags, "\\Flagged $x");
	srv.fail_op = OP_FLAGS;
	srv.fail_err = -EIO;
	assert_int_equal(change_set_flags(&fx.m, fa, nuid, "\\Seen", 5), -EIO);
	assert_string_equal(srv_msg(ar, nuid)->flags, "\\Flagged $x");
}

static void test_append(void **state)
{
	static const char text[] = "Subject: hello\nMessage-ID: <h@t>\n\nbody\n";
	struct append_req a = { 0 };
	struct body_tmp data = { .fd = -1 };
	struct ffolder *dr;
	uint32_t uid, first;
	int landed;
	char path[512], got[256];
	int fd;
	ssize_t n;

	(void)state;
	dr = srv_add_folder("Drafts", 3);
	open_engine();
	a.f = synced("Drafts");
	assert_int_equal(append_buffer_new(&fx.m, &data), 0);
	assert_int_equal(write(data.fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	a.data = &data;
	a.size = sizeof(text) - 1;
	a.date = 1700000000;
	a.name = "hello.eml";

	/* Refused: close() gets the error, the bytes are kept in unsent/. */
	srv.fail_op = OP_APPEND;
	srv.fail_err = -EDQUOT;
	assert_int_equal(append_message(&fx.m, &a, &uid, &landed), -EDQUOT);
	assert_false(landed);
	assert_int_equal(dr->nmsg, 0);
	snprintf(path, sizeof(path), "%s/unsent", fx.dir);
	assert_int_equal(access(path, F_OK), 0);

	/* Stored: in the cache at once, its body too, with CRLF line ends. */
	srv.fail_op = OP_NONE;
	assert_int_equal(append_message(&fx.m, &a, &first, &landed), 0);
	assert_true(landed);
	assert_string_equal(cached("Drafts", first).name, "0000000001 hello.eml");
	fd = body_open(fx.m.bodies, a.f->id, first);
	assert_true(fd >= 0);
	n = read(fd, got, sizeof(got) - 1);
	close(fd);
	assert_true(n > 0);
	got[n] = '\0';
	assert_string_equal(got, "Subject: hello\r\nMessage-ID: <h@t>\r\n\r\nbody\r\n");

	/* Written again and closed: the new copy replaces the first. */
	assert_int_equal(append_buffer_clone(&fx.m, &data, a.size), 0);
	a.replace = 1;
	a.prev = first;
	assert_int_equal(append_message(&fx.m, &a, &uid, &landed), 0);
	assert_true(uid != first);
	assert_int_equal(dr->nmsg, 1);
	assert_false(cached("Drafts", first).found);
	assert_true(cached("Drafts", uid).found);

	/* The earlier copy cannot be removed: the error is close()'s, and the
	 * new copy stays. */
	a.prev = uid;
	srv.fail_op = OP_REMOVE;
	srv.fail_err = -EIO;
	assert_int_equal(append_message(&fx.m, &a, &first, &landed), -EIO);
	assert_true(landed);
	assert_int_equal(dr->nmsg, 2);
	append_buffer_close(&fx.m, &data);
}

/* The whole of what FD holds (closed), NUL-terminated. */
static char *slurp(int fd, size_t *len_r)
{
	char *buf = calloc(1, 65536);
	ssize_t n;

	assert_true(fd >= 0);
	assert_non_null(buf);
	n = read(fd, buf, 65535);
	close(fd);
	assert_true(n >= 0);
	*len_r = (size_t)n;
	return buf;
}

static void test_views(void **state)
{
	struct ffolder *in;
	struct folder *f;
	struct view_part *parts = NULL;
	size_t n, nparts = 0;
	uint64_t size;
	char *text;

	(void)state;
	render_init();
	in = srv_add_folder("INBOX", 7);
	for (int i = 1; i <= 4; i++) {
		char subj[32];

		snprintf(subj, sizeof(subj), "views %d", i);
		srv_add_msg(in, subj, "");
	}
	open_engine();
	f = synced("INBOX");

	/* The text of 1: its structure, then its sections; no body. */
	assert_int_equal(view_text_size(&fx.m, f->id, 1, 100, &size), 0);
	assert_true(size >= 4 * 100);   /* a bound from the size alone */
	text = slurp(view_text_open(&fx.m, f, 1), &n);
	if (!strstr(text, "Subject: views 1\n") || !strstr(text, "\ncrème 1\n") ||
	    !strstr(text, "[attachment: x.bin, application/octet-stream, "))
		fail_msg("text of 1: %s", text);
	free(text);
	assert_int_equal(srv.calls[OP_STRUCTURE], 1);
	assert_int_equal(srv.calls[OP_SECTIONS], 1);
	assert_false(body_exists(fx.m.bodies, f->id, 1));
	assert_int_equal(view_text_size(&fx.m, f->id, 1, 100, &size), 1);
	assert_int_equal(size, n);
	/* Again: the cache answers. */
	free(slurp(view_text_open(&fx.m, f, 1), &n));
	assert_int_equal(srv.calls[OP_STRUCTURE], 1);
	assert_int_equal(srv.calls[OP_SECTIONS], 1);

	/* Read on in order: 2 takes 3 and 4 along, in one round of each. */
	free(slurp(view_text_open(&fx.m, f, 2), &n));
	assert_int_equal(srv.calls[OP_STRUCTURE], 2);
	assert_int_equal(srv.calls[OP_SECTIONS], 2);
	free(slurp(view_text_open(&fx.m, f, 4), &n));
	free(slurp(view_text_open(&fx.m, f, 3), &n));
	assert_int_equal(srv.calls[OP_STRUCTURE], 2);
	assert_int_equal(srv.calls[OP_SECTIONS], 2);

	/* The parts of 1: from the stored structure; the text with LF line
	 * ends, the attachment's own bytes. */
	assert_int_equal(view_parts(&fx.m, f, 1, &parts, &nparts), 0);
	assert_int_equal(nparts, 2);
	assert_string_equal(parts[0].name, "1 text.txt");
	assert_string_equal(parts[0].type, "text/plain");
	assert_string_equal(parts[1].name, "2 x.bin");
	assert_false(parts[1].exact);
	assert_true(parts[0].id != parts[1].id);
	view_parts_free(parts, nparts);
	assert_int_equal(srv.calls[OP_STRUCTURE], 2);
	text = slurp(view_part_open(&fx.m, f, 1, "1"), &n);
	assert_string_equal(text, "crème 1");   /* the CRLF before --b is the boundary's */
	free(text);
	text = slurp(view_part_open(&fx.m, f, 1, "2"), &n);
	assert_int_equal(n, 3);
	assert_memory_equal(text, "\0\1\2", 3);
	free(text);
	assert_int_equal(view_parts(&fx.m, f, 1, &parts, &nparts), 0);
	assert_true(parts[1].exact);
	assert_int_equal(parts[1].size, 3);
	view_parts_free(parts, nparts);
	assert_int_equal(view_part_open(&fx.m, f, 1, "3"), -ENOENT);

	/* A message the server cannot describe: made from the whole of it. */
	srv.no_structure = 1;
	srv_add_msg(in, "views 5", "");
	assert_int_equal(folder_sync(&fx.m, f), 0);
	srv.sections_asked = 0;
	text = slurp(view_text_open(&fx.m, f, 5), &n);
	if (!strstr(text, "Subject: views 5\n") || !strstr(text, "crème 5"))
		fail_msg("text of 5: %s", text);
	free(text);
	assert_int_equal(srv.sections_asked, 1);   /* BODY[], once */

	/* rm takes the message's views along. */
	assert_int_equal(change_unlink(&fx.m, f, 1), 0);
	assert_int_equal(body_view_open(fx.m.bodies, f->id, 1, "text"), -ENOENT);
	assert_int_equal(body_view_open(fx.m.bodies, f->id, 1, "p2"), -ENOENT);
	assert_int_equal(view_text_open(&fx.m, f, 1), -ENOENT);
	render_done();
}

/* ---- the status file ------------------------------------------------------------------------ */

/* The line of FOLDER in TEXT: the count column starts where it does for
 * an ASCII name, whatever the bytes of the name (its display width
 * counts). */
static void expect_aligned(const char *text, const char *name, int width)
{
	char want[256];
	const char *line;

	snprintf(want, sizeof(want), "\n  %s", name);
	line = strstr(text, want);
	if (!line)
		fail_msg("no line for %s in:\n%s", name, text);
	line += strlen(want);
	/* 40 columns for the path, a space, then the count right-aligned in 8 */
	for (int i = 0; i < 40 - width + 1 + 7; i++)
		if (line[i] != ' ')
			fail_msg("%s: the count is not in its column:\n%s", name, text);
	assert_int_equal(line[40 - width + 1 + 7], '0');
}

static void test_status_columns(void **state)
{
	char *text = NULL;
	size_t len = 0;

	(void)state;
	srv_add_folder("INBOX", 1);
	srv_add_folder("&ZeVnLIqe-", 2);        /* 日本語: 9 bytes, 6 columns */
	srv_add_folder("Donn&AOk-es", 3);       /* Données: 8 bytes, 7 columns */
	open_engine();
	assert_int_equal(status_render(&fx.m, &text, &len), 0);
	expect_aligned(text, "INBOX", 5);
	expect_aligned(text, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 6);
	expect_aligned(text, "Donn\xc3\xa9" "es", 7);
	free(text);
}

/* ---- search directories ------------------------------------------------------------------ */

static void expect_uids(uint32_t id, struct folder *f, const char *want)
{
	uint32_t *uids;
	size_t n;
	char got[256] = "";

	assert_int_equal(search_run(&fx.m, id, f, &uids, &n), 0);
	for (size_t i = 0; i < n; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%u", i ? " " : "", uids[i]);
	free(uids);
	assert_string_equal(got, want);
}

static void test_search(void **state)
{
	struct ffolder *in;
	struct folder *f;
	uint32_t id, id2, *uids;
	size_t n;

	(void)state;
	in = srv_add_folder("INBOX", 7);
	srv_add_msg(in, "apple 1", "");
	srv_add_msg(in, "banana", "");
	srv_add_msg(in, "apple 3", "");
	srv_add_msg(in, "cherry", "");
	srv_add_msg(in, "apple 5", "");
	open_engine();
	f = synced("INBOX");

	/* One number per name, parsed once; what does not parse is refused. */
	assert_int_equal(search_query(&fx.m, "SUBJECT apple", &id), 0);
	assert_int_equal(search_query(&fx.m, "SUBJECT apple", &id2), 0);
	assert_int_equal(id, id2);
	assert_int_equal(search_query(&fx.m, "subject  apple", &id2), 0);
	assert_int_not_equal(id, id2);          /* another name: another directory */
	assert_int_equal(search_query(&fx.m, "(SUBJECT apple", &id2), -EINVAL);
	assert_int_equal(search_query(&fx.m, "SUBJECT a\r\nX DELETE b", &id2), -EINVAL);
	assert_true(search_known(&fx.m, id));
	assert_false(search_known(&fx.m, 0));
	assert_false(search_known(&fx.m, 99));

	/* Sorted, without the UIDs the cache does not know. (A search in the
	 * second the folder last changed is not reused: it cannot be told
	 * whether it saw the change.) */
	sleep(1);
	expect_uids(id, f, "1 3 5");
	assert_int_equal(srv.calls[OP_SEARCH], 1);
	/* Reused while the folder did not change. */
	expect_uids(id, f, "1 3 5");
	assert_int_equal(srv.calls[OP_SEARCH], 1);

	/* New mail changes the folder: the next listing asks again. */
	srv_add_msg(in, "apple 6", "");
	sleep(1);       /* a change within the second of the search cannot be told */
	assert_int_equal(folder_sync(&fx.m, f), 0);
	expect_uids(id, f, "1 3 5 6");
	assert_int_equal(srv.calls[OP_SEARCH], 2);

	/* So does an rm through the mount. */
	sleep(1);
	assert_int_equal(change_unlink(&fx.m, f, 3), 0);
	expect_uids(id, f, "1 5 6");
	assert_int_equal(srv.calls[OP_SEARCH], 3);

	/* A server error comes back, and nothing is kept of it. */
	sleep(1);
	folder_touch(f);
	srv.fail_op = OP_SEARCH;
	srv.fail_err = -EIO;
	sleep(1);
	assert_int_equal(search_run(&fx.m, id, f, &uids, &n), -EIO);
	srv.fail_op = OP_NONE;
	expect_uids(id, f, "1 5 6");

	/* An unknown query number. */
	assert_int_equal(search_run(&fx.m, 99, f, &uids, &n), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tree_from_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mkdir_rmdir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_poll_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_listing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rm_mv_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_views, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_columns, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
