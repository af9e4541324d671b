/* test_store.c - the SQLite metadata cache (cache/store.h).
 *
 * Every test works in a fresh directory from mkdtemp() that is removed at
 * the end. The test opens the database with sqlite3 itself where it checks
 * what the store promises about the file (WAL mode, integrity after a crash).
 * The crash test kills a writer with SIGKILL at random moments; the seed is
 * printed and can be fixed with MAILFS_TEST_SEED.
 */
#include "tests/unit/testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cache/store.h"
#include "tests/unit/synccount.h"

struct fixture {
	char dir[64];
	char db[96];
	struct store *st;
};

/* --- helpers -------------------------------------------------------------- */

static uint64_t rnd_state;

static uint64_t rnd(void)
{
	return xorshift64s(&rnd_state);
}

static struct store *open_store(const char *dir, int durable)
{
	struct store *st = NULL;
	char err[256] = "";
	int r = store_open(dir, durable, &st, err, sizeof(err));

	if (r != 0)
		fail_msg("store_open(%s): %d %s", dir, r, err);
	assert_non_null(st);
	return st;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/mailfs-test-store.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->db, sizeof(fx->db), "%s/mailfs.db", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	store_close(fx->st);
	rm_tree(fx->dir);
	free(fx);
	return 0;
}

/* One string column of a query run on a separate connection of our own. */
static void sql_text(const char *db, const char *sql, char *out, size_t outlen)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *s = NULL;
	const unsigned char *t;

	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		fail_msg("sqlite3_open_v2(%s): %s", db, h ? sqlite3_errmsg(h) : "?");
	if (sqlite3_prepare_v2(h, sql, -1, &s, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(h));
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	t = sqlite3_column_text(s, 0);
	snprintf(out, outlen, "%s", t ? (const char *)t : "(null)");
	sqlite3_finalize(s);
	sqlite3_close(h);
}

/* --- collecting what callbacks see ---------------------------------------- */

struct got_folder {
	int64_t id, parent;
	char *name, *server;
	char delim;
	unsigned flags;
	uint32_t uidvalidity, uidnext;
	uint64_t modseq;
	int64_t synced;
};

struct got_folders {
	struct got_folder f[64];
	size_t n;
	size_t stop_after;     /* 0: never stop */
	int stop_value;
};

static char *dup_or_null(const char *s)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	assert_non_null(d);
	return d;
}

static int collect_folder(void *ctx, const struct store_folder *f)
{
	struct got_folders *g = ctx;
	struct got_folder *o;

	assert_true(g->n < ARRAY_SIZE(g->f));
	o = &g->f[g->n++];
	o->id = f->id;
	o->parent = f->parent;
	o->name = dup_or_null(f->name);
	o->server = dup_or_null(f->server);
	o->delim = f->delim;
	o->flags = f->flags;
	o->uidvalidity = f->uidvalidity;
	o->uidnext = f->uidnext;
	o->modseq = f->modseq;
	o->synced = f->synced;
	if (g->stop_after && g->n == g->stop_after)
		return g->stop_value;
	return 0;
}

static void got_folders_release(struct got_folders *g)
{
	for (size_t i = 0; i < g->n; i++) {
		free(g->f[i].name);
		free(g->f[i].server);
	}
	g->n = 0;
}

static void list_folders(struct store *st, struct got_folders *g)
{
	got_folders_release(g);
	assert_int_equal(store_folder_list(st, collect_folder, g), 0);
}

static const struct got_folder *find_folder(const struct got_folders *g, int64_t id)
{
	for (size_t i = 0; i < g->n; i++)
		if (g->f[i].id == id)
			return &g->f[i];
	return NULL;
}

struct got_msg {
	uint32_t uid;
	char *name;
	uint64_t size;
	int64_t date;
	char *flags, *msgid, *uidl;
	uint64_t modseq;
	unsigned state;
};

struct got_msgs {
	struct got_msg *m;
	size_t n, cap;
	size_t stop_after;     /* 0: never stop */
	int stop_value;
};

static int collect_msg(void *ctx, const struct store_msg *m)
{
	struct got_msgs *g = ctx;
	struct got_msg *o;

	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 64;
		g->m = realloc(g->m, g->cap * sizeof(*g->m));
		assert_non_null(g->m);
	}
	o = &g->m[g->n++];
	o->uid = m->uid;
	o->name = dup_or_null(m->name);
	o->size = m->size;
	o->date = m->date;
	o->flags = dup_or_null(m->flags);
	o->msgid = dup_or_null(m->msgid);
	o->uidl = dup_or_null(m->uidl);
	o->modseq = m->modseq;
	o->state = m->state;
	if (g->stop_after && g->n == g->stop_after)
		return g->stop_value;
	return 0;
}

static void got_msgs_reset(struct got_msgs *g)
{
	for (size_t i = 0; i < g->n; i++) {
		free(g->m[i].name);
		free(g->m[i].flags);
		free(g->m[i].msgid);
		free(g->m[i].uidl);
	}
	g->n = 0;
}

static void got_msgs_release(struct got_msgs *g)
{
	got_msgs_reset(g);
	free(g->m);
	memset(g, 0, sizeof(*g));
}

static void assert_str_or_null(const char *got, const char *want)
{
	if (!want)
		assert_null(got);
	else {
		assert_non_null(got);
		assert_string_equal(got, want);
	}
}

static void assert_msg_equal(const struct got_msg *g, const struct store_msg *w)
{
	assert_int_equal(g->uid, w->uid);
	assert_string_equal(g->name, w->name);
	assert_int_equal(g->size, w->size);
	assert_int_equal(g->date, w->date);
	assert_string_equal(g->flags, w->flags ? w->flags : "");
	assert_str_or_null(g->msgid, w->msgid);
	assert_str_or_null(g->uidl, w->uidl);
	assert_int_equal(g->modseq, w->modseq);
	assert_int_equal(g->state, w->state);
}

/* Gets one message into G (reset first); returns store_msg_get's result. */
static int get_msg(struct store *st, int64_t folder, uint32_t uid, struct got_msgs *g)
{
	got_msgs_reset(g);
	return store_msg_get(st, folder, uid, collect_msg, g);
}

static int64_t add_folder(struct store *st, int64_t parent, const char *name)
{
	struct store_folder f = {
		.parent = parent, .name = name, .server = name, .delim = '/',
	};
	int64_t id = -1;

	assert_int_equal(store_folder_add(st, &f, &id), 0);
	assert_true(id > 0);
	return id;
}

/* --- open ------------------------------------------------------------------ */

static void assert_mode_0600(const char *path, int must_exist)
{
	struct stat sb;

	if (stat(path, &sb) < 0) {
		if (must_exist)
			fail_msg("stat %s: %s", path, strerror(errno));
		return;
	}
	if ((sb.st_mode & 07777) != 0600)
		fail_msg("%s has mode %04o, want 0600", path, (unsigned)(sb.st_mode & 07777));
}

static void test_open_mode(void **state)
{
	struct fixture *fx = *state;
	char path[128];
	mode_t old = umask(0);
	int fd;

	fx->st = open_store(fx->dir, 0);
	assert_mode_0600(fx->db, 1);
	/* WAL and shared memory, while the connection is open. */
	snprintf(path, sizeof(path), "%s-wal", fx->db);
	assert_mode_0600(path, 1);
	snprintf(path, sizeof(path), "%s-shm", fx->db);
	assert_mode_0600(path, 0);
	store_close(fx->st);
	fx->st = NULL;

	/* A database left readable by others is tightened at the next open. */
	assert_int_equal(chmod(fx->db, 0666), 0);
	fx->st = open_store(fx->dir, 1);
	assert_mode_0600(fx->db, 1);
	store_close(fx->st);
	fx->st = NULL;

	/* So is an empty file someone created with a loose mode. */
	assert_int_equal(unlink(fx->db), 0);
	fd = open(fx->db, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	close(fd);
	fx->st = open_store(fx->dir, 0);
	assert_mode_0600(fx->db, 1);
	umask(old);
}

static void test_open_wal(void **state)
{
	struct fixture *fx = *state;
	char buf[64];

	fx->st = open_store(fx->dir, 0);
	sql_text(fx->db, "PRAGMA journal_mode", buf, sizeof(buf));
	assert_string_equal(buf, "wal");
	store_close(fx->st);
	fx->st = NULL;
	/* WAL mode is a property of the file: it is still on after close. */
	sql_text(fx->db, "PRAGMA journal_mode", buf, sizeof(buf));
	assert_string_equal(buf, "wal");
	fx->st = open_store(fx->dir, 1);
	sql_text(fx->db, "PRAGMA journal_mode", buf, sizeof(buf));
	assert_string_equal(buf, "wal");
	sql_text(fx->db, "PRAGMA integrity_check", buf, sizeof(buf));
	assert_string_equal(buf, "ok");
}

static void test_open_missing_dir(void **state)
{
	struct fixture *fx = *state;
	struct store *st = NULL;
	char dir[128], err[256] = "";

	snprintf(dir, sizeof(dir), "%s/does/not/exist", fx->dir);
	assert_true(store_open(dir, 0, &st, err, sizeof(err)) < 0);
	assert_null(st);
	assert_true(err[0] != '\0');
}

/* 0 if store_open in the read-only DIR fails with a reason, else 1. */
static int readonly_open_fails(const char *dir)
{
	struct store *st = NULL;
	char err[256] = "";
	int r = store_open(dir, 0, &st, err, sizeof(err));

	if (r == 0) {
		fprintf(stderr, "store_open in a read-only directory succeeded\n");
		store_close(st);
		return 1;
	}
	if (r > 0 || err[0] == '\0' || st) {
		fprintf(stderr, "store_open: r=%d, err=\"%s\"\n", r, err);
		return 1;
	}
	printf("    read-only directory: %d %s\n", r, err);
	fflush(stdout);
	return 0;
}

static void test_open_readonly_dir(void **state)
{
	struct fixture *fx = *state;
	const uid_t nobody = 65534;
	pid_t pid;
	int status;

	if (geteuid() != 0) {
		assert_int_equal(chmod(fx->dir, 0500), 0);
		assert_int_equal(readonly_open_fails(fx->dir), 0);
		assert_int_equal(chmod(fx->dir, 0700), 0);
		return;
	}
	/* Root ignores the mode bits: try the same as an ordinary user that
	 * owns the directory; skip when privileges cannot be dropped. */
	assert_int_equal(chown(fx->dir, nobody, nobody), 0);
	assert_int_equal(chmod(fx->dir, 0500), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(nobody) < 0 || setuid(nobody) < 0)
			_exit(77);
		_exit(readonly_open_fails(fx->dir));
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(chown(fx->dir, 0, 0), 0);
	assert_int_equal(chmod(fx->dir, 0700), 0);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77) {
		printf("    SKIP: running as root and cannot drop privileges\n");
		return;
	}
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* --- folders ---------------------------------------------------------------- */

static void test_folder_add_list_update_delete(void **state)
{
	struct fixture *fx = *state;
	struct got_folders *g = calloc(1, sizeof(*g));
	struct store_folder inbox = {
		.parent = 0, .name = "INBOX", .server = "INBOX", .delim = '/',
		.flags = 0, .uidvalidity = UINT32_MAX, .uidnext = 4242,
		.modseq = UINT64_C(0x7fffffffffffffff), .synced = 1700000000,
	};
	struct store_folder virt = {
		.parent = 0, .name = "Archive", .server = NULL, .delim = '\0',
		.flags = STORE_FOLDER_VIRTUAL | STORE_FOLDER_NOSELECT,
	};
	struct store_folder child = {
		.name = "2024", .server = "Archive.2024", .delim = '.',
		.flags = STORE_FOLDER_NOINFERIORS, .uidvalidity = 7, .uidnext = 1,
	};
	const struct got_folder *f;
	int64_t id_inbox, id_virt, id_child;

	assert_non_null(g);
	fx->st = open_store(fx->dir, 0);
	list_folders(fx->st, g);
	assert_int_equal(g->n, 0);

	assert_int_equal(store_folder_add(fx->st, &inbox, &id_inbox), 0);
	inbox.id = 999;   /* ignored */
	assert_int_equal(store_folder_add(fx->st, &virt, &id_virt), 0);
	child.parent = id_virt;
	assert_int_equal(store_folder_add(fx->st, &child, &id_child), 0);
	assert_true(id_inbox > 0);
	assert_true(id_virt > id_inbox);
	assert_true(id_child > id_virt);

	list_folders(fx->st, g);
	assert_int_equal(g->n, 3);
	f = find_folder(g, id_inbox);
	assert_non_null(f);
	assert_int_equal(f->parent, 0);
	assert_string_equal(f->name, "INBOX");
	assert_string_equal(f->server, "INBOX");
	assert_int_equal(f->delim, '/');
	assert_int_equal(f->flags, 0);
	assert_int_equal(f->uidvalidity, UINT32_MAX);
	assert_int_equal(f->uidnext, 4242);
	assert_int_equal(f->modseq, UINT64_C(0x7fffffffffffffff));
	assert_int_equal(f->synced, 1700000000);
	f = find_folder(g, id_virt);
	assert_non_null(f);
	assert_string_equal(f->name, "Archive");
	assert_null(f->server);
	assert_int_equal(f->delim, '\0');
	assert_int_equal(f->flags, STORE_FOLDER_VIRTUAL | STORE_FOLDER_NOSELECT);
	assert_int_equal(f->uidvalidity, 0);
	assert_int_equal(f->synced, 0);
	f = find_folder(g, id_child);
	assert_non_null(f);
	assert_int_equal(f->parent, id_virt);
	assert_string_equal(f->server, "Archive.2024");
	assert_int_equal(f->delim, '.');
	assert_int_equal(f->flags, STORE_FOLDER_NOINFERIORS);

	/* Update: the virtual folder turns out to exist on the server. */
	virt.id = id_virt;
	virt.server = "Archive";
	virt.delim = '.';
	virt.flags = 0;
	virt.uidvalidity = 99;
	virt.uidnext = 100;
	virt.modseq = 5;
	virt.synced = 12345;
	assert_int_equal(store_folder_update(fx->st, &virt), 0);
	list_folders(fx->st, g);
	f = find_folder(g, id_virt);
	assert_non_null(f);
	assert_string_equal(f->server, "Archive");
	assert_int_equal(f->uidvalidity, 0);     /* the place only */
	assert_int_equal(store_folder_synced(fx->st, &virt), 0);
	list_folders(fx->st, g);
	assert_int_equal(g->n, 3);
	f = find_folder(g, id_virt);
	assert_non_null(f);
	assert_string_equal(f->server, "Archive");
	assert_int_equal(f->delim, '.');
	assert_int_equal(f->flags, 0);
	assert_int_equal(f->uidvalidity, 99);
	assert_int_equal(f->uidnext, 100);
	assert_int_equal(f->modseq, 5);
	assert_int_equal(f->synced, 12345);
	/* The others are untouched. */
	f = find_folder(g, id_inbox);
	assert_int_equal(f->uidnext, 4242);

	/* Rename and re-parent through update. */
	child.id = id_child;
	child.parent = id_inbox;
	child.name = "Jahr 2024";
	assert_int_equal(store_folder_update(fx->st, &child), 0);
	list_folders(fx->st, g);
	f = find_folder(g, id_child);
	assert_int_equal(f->parent, id_inbox);
	assert_string_equal(f->name, "Jahr 2024");

	assert_int_equal(store_folder_delete(fx->st, id_inbox), 0);
	list_folders(fx->st, g);
	assert_int_equal(g->n, 2);
	assert_null(find_folder(g, id_inbox));
	assert_non_null(find_folder(g, id_virt));
	assert_non_null(find_folder(g, id_child));
	/* Deleting what is not there is harmless. */
	assert_int_equal(store_folder_delete(fx->st, id_inbox), 0);

	got_folders_release(g);
	free(g);
}

static void test_folder_ids_never_reused(void **state)
{
	struct fixture *fx = *state;
	int64_t a, b, c, d, e;

	fx->st = open_store(fx->dir, 0);
	a = add_folder(fx->st, 0, "a");
	b = add_folder(fx->st, 0, "b");
	c = add_folder(fx->st, 0, "c");
	assert_int_equal(store_folder_delete(fx->st, c), 0);
	d = add_folder(fx->st, 0, "d");
	assert_true(d > c);
	assert_int_equal(store_folder_delete(fx->st, a), 0);
	assert_int_equal(store_folder_delete(fx->st, b), 0);
	assert_int_equal(store_folder_delete(fx->st, d), 0);
	/* Not even across a reopen of an empty table. */
	store_close(fx->st);
	fx->st = open_store(fx->dir, 0);
	e = add_folder(fx->st, 0, "e");
	assert_true(e > d);
}

static void put_simple(struct store *st, int64_t folder, uint32_t first, uint32_t n)
{
	struct store_msg *m = calloc(n, sizeof(*m));
	char (*names)[24] = calloc(n, sizeof(*names));

	assert_non_null(m);
	assert_non_null(names);
	for (uint32_t i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "%" PRIu32 ".eml", first + i);
		m[i].uid = first + i;
		m[i].name = names[i];
		m[i].size = (uint64_t)(first + i) * 10;
		m[i].date = 1000000 + first + i;
		m[i].flags = "";
	}
	assert_int_equal(store_msg_put(st, folder, m, n), 0);
	free(names);
	free(m);
}

static void test_folder_renew(void **state)
{
	struct fixture *fx = *state;
	struct got_folders *g = calloc(1, sizeof(*g));
	struct store_folder p = {
		.parent = 0, .name = "Lists", .server = "Lists", .delim = '/',
		.flags = STORE_FOLDER_NOINFERIORS, .uidvalidity = 11, .uidnext = 50,
		.modseq = 77, .synced = 999,
	};
	struct store_stats stats;
	const struct got_folder *f;
	int64_t top, pid, c1, c2, other, orphan, nid = -1, nid2 = -1;

	assert_non_null(g);
	fx->st = open_store(fx->dir, 0);
	top = add_folder(fx->st, 0, "top");
	p.parent = top;
	assert_int_equal(store_folder_add(fx->st, &p, &pid), 0);
	c1 = add_folder(fx->st, pid, "c1");
	c2 = add_folder(fx->st, pid, "c2");
	other = add_folder(fx->st, 0, "other");
	put_simple(fx->st, pid, 1, 20);
	put_simple(fx->st, c1, 1, 5);
	put_simple(fx->st, other, 1, 3);

	assert_int_equal(store_folder_renew(fx->st, pid, &nid), 0);
	assert_true(nid > other);
	assert_true(nid != pid);

	list_folders(fx->st, g);
	assert_int_equal(g->n, 5);
	assert_null(find_folder(g, pid));
	f = find_folder(g, nid);
	assert_non_null(f);
	assert_int_equal(f->parent, top);
	assert_string_equal(f->name, "Lists");
	assert_string_equal(f->server, "Lists");
	assert_int_equal(f->delim, '/');
	assert_int_equal(f->flags, STORE_FOLDER_NOINFERIORS);
	assert_int_equal(f->uidvalidity, 0);
	assert_int_equal(f->uidnext, 0);
	assert_int_equal(f->modseq, 0);
	assert_int_equal(f->synced, 0);
	assert_int_equal(find_folder(g, c1)->parent, nid);
	assert_int_equal(find_folder(g, c2)->parent, nid);
	assert_int_equal(find_folder(g, other)->parent, 0);

	/* The messages are dropped under the old id and absent under the new. */
	assert_int_equal(store_msg_stats(fx->st, pid, &stats), 0);
	assert_int_equal(stats.count, 0);
	assert_int_equal(store_msg_stats(fx->st, nid, &stats), 0);
	assert_int_equal(stats.count, 0);
	/* The children's and other folders' messages stay. */
	assert_int_equal(store_msg_stats(fx->st, c1, &stats), 0);
	assert_int_equal(stats.count, 5);
	assert_int_equal(store_msg_stats(fx->st, other, &stats), 0);
	assert_int_equal(stats.count, 3);

	/* A second renewal gives yet another id. */
	assert_int_equal(store_folder_renew(fx->st, nid, &nid2), 0);
	assert_true(nid2 > nid);
	list_folders(fx->st, g);
	assert_int_equal(find_folder(g, c1)->parent, nid2);

	/* Renewing a folder that is not there creates nothing and moves
	 * nothing, not even a folder whose parent is that missing id. */
	orphan = add_folder(fx->st, 424242, "orphan");
	nid = -1;
	assert_int_equal(store_folder_renew(fx->st, 424242, &nid), -ENOENT);
	assert_int_equal(nid, -1);
	list_folders(fx->st, g);
	assert_int_equal(g->n, 6);
	assert_int_equal(find_folder(g, orphan)->parent, 424242);
	assert_int_equal(find_folder(g, c1)->parent, nid2);

	got_folders_release(g);
	free(g);
}

static void test_folder_delete_drops_messages(void **state)
{
	struct fixture *fx = *state;
	struct got_msgs g = { 0 };
	struct store_stats stats;
	int64_t a, b;

	fx->st = open_store(fx->dir, 0);
	a = add_folder(fx->st, 0, "a");
	b = add_folder(fx->st, 0, "b");
	put_simple(fx->st, a, 1, 10);
	put_simple(fx->st, b, 1, 10);
	assert_int_equal(store_folder_delete(fx->st, a), 0);
	assert_int_equal(store_msg_stats(fx->st, a, &stats), 0);
	assert_int_equal(stats.count, 0);
	assert_int_equal(get_msg(fx->st, a, 1, &g), -ENOENT);
	assert_int_equal(store_msg_stats(fx->st, b, &stats), 0);
	assert_int_equal(stats.count, 10);
	got_msgs_release(&g);
}

/* --- messages --------------------------------------------------------------- */

static void test_msg_put_get(void **state)
{
	struct fixture *fx = *state;
	struct got_msgs g = { 0 };
	const struct store_msg m[] = {
		{ .uid = 1, .name = "1 Hello.eml", .size = 1234, .date = 1700000000,
		  .flags = "\\Seen \\Flagged $Label1", .msgid = "<a@example.org>",
		  .uidl = NULL, .modseq = 17, .state = 0 },
		{ .uid = 7, .name = "7 No flags.eml", .size = 0, .date = -1,
		  .flags = "", .msgid = NULL, .uidl = "UIDL-7", .modseq = 0,
		  .state = STORE_MSG_SIZE_EXACT },
		{ .uid = UINT32_MAX, .name = "4294967295.eml", .size = UINT64_C(1) << 40,
		  .date = INT64_C(4102444800), .flags = "\\Answered",
		  .msgid = "<max@example.org>", .uidl = "u", .modseq = UINT64_C(1) << 62,
		  .state = 0 },
	};
	struct store_msg nullflags = {
		.uid = 9, .name = "9.eml", .size = 9, .date = 9, .flags = NULL,
	};
	struct store_msg replace = {
		.uid = 7, .name = "7 Replaced.eml", .size = 77, .date = 70,
		.flags = "\\Deleted", .msgid = NULL, .uidl = NULL, .modseq = 0, .state = 0,
	};
	int64_t a, b;

	fx->st = open_store(fx->dir, 0);
	a = add_folder(fx->st, 0, "a");
	b = add_folder(fx->st, 0, "b");
	assert_int_equal(store_msg_put(fx->st, a, m, ARRAY_SIZE(m)), 0);
	for (size_t i = 0; i < ARRAY_SIZE(m); i++) {
		assert_int_equal(get_msg(fx->st, a, m[i].uid, &g), 0);
		assert_int_equal(g.n, 1);
		assert_msg_equal(&g.m[0], &m[i]);
	}
	/* Missing: another UID, or the same UID in another folder. */
	assert_int_equal(get_msg(fx->st, a, 2, &g), -ENOENT);
	assert_int_equal(g.n, 0);
	assert_int_equal(get_msg(fx->st, b, 1, &g), -ENOENT);
	assert_int_equal(get_msg(fx->st, 12345, 1, &g), -ENOENT);

	/* NULL flags are stored as "". */
	assert_int_equal(store_msg_put(fx->st, a, &nullflags, 1), 0);
	assert_int_equal(get_msg(fx->st, a, 9, &g), 0);
	assert_string_equal(g.m[0].flags, "");

	/* Replacing keeps nothing of the old row. */
	assert_int_equal(store_msg_put(fx->st, a, &replace, 1), 0);
	assert_int_equal(get_msg(fx->st, a, 7, &g), 0);
	assert_msg_equal(&g.m[0], &replace);

	/* An empty batch is fine. */
	assert_int_equal(store_msg_put(fx->st, b, m, 0), 0);
	got_msgs_release(&g);
}

static void test_msg_batch_list(void **state)
{
	struct fixture *fx = *state;
	enum { N = 5000 };
	struct store_msg *m = calloc(N, sizeof(*m));
	char (*names)[32] = calloc(N, sizeof(*names));
	struct got_msgs g = { 0 };
	struct store_stats stats;
	uint32_t *uids = NULL;
	uint64_t bytes = 0;
	size_t n = 0;
	int64_t a, b;

	assert_non_null(m);
	assert_non_null(names);
	rnd_state = 0x1234567;
	fx->st = open_store(fx->dir, 0);
	a = add_folder(fx->st, 0, "a");
	b = add_folder(fx->st, 0, "b");
	/* UIDs 1..N in a random order. */
	for (uint32_t i = 0; i < N; i++)
		m[i].uid = i + 1;
	for (uint32_t i = N - 1; i > 0; i--) {
		uint32_t j = (uint32_t)(rnd() % (i + 1)), t = m[i].uid;

		m[i].uid = m[j].uid;
		m[j].uid = t;
	}
	for (uint32_t i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "%" PRIu32 " subject.eml", m[i].uid);
		m[i].name = names[i];
		m[i].size = (uint64_t)m[i].uid * 3;
		m[i].date = m[i].uid;
		m[i].flags = (m[i].uid & 1) ? "\\Seen" : "";
		bytes += m[i].size;
	}
	assert_int_equal(store_msg_put(fx->st, a, m, N), 0);
	put_simple(fx->st, b, 1, 3);

	assert_int_equal(store_msg_stats(fx->st, a, &stats), 0);
	assert_int_equal(stats.count, N);
	assert_int_equal(stats.bytes, bytes);
	assert_int_equal(stats.max_uid, N);
	{
		/* All folders at once: the same numbers; an empty folder
		 * has no row. */
		int64_t empty = add_folder(fx->st, 0, "empty");
		struct store_folder_stats *all = NULL;
		size_t nall = 99;

		assert_int_equal(store_msg_stats_all(fx->st, &all, &nall), 0);
		assert_int_equal(nall, 2);
		assert_true(a < b);
		assert_int_equal(all[0].folder, a);
		assert_int_equal(all[0].stats.count, N);
		assert_int_equal(all[0].stats.bytes, bytes);
		assert_int_equal(all[0].stats.max_uid, N);
		assert_int_equal(all[1].folder, b);
		assert_int_equal(all[1].stats.count, 3);
		assert_int_equal(all[1].stats.bytes, 10 + 20 + 30);
		assert_int_equal(all[1].stats.max_uid, 3);
		assert_true(empty != a && empty != b);
		free(all);
	}

	/* Everything, in UID order. */
	assert_int_equal(store_msg_list(fx->st, a, 0, 0, collect_msg, &g), 0);
	assert_int_equal(g.n, N);
	for (size_t i = 0; i < N; i++) {
		char want[32];

		snprintf(want, sizeof(want), "%zu subject.eml", i + 1);
		assert_int_equal(g.m[i].uid, i + 1);
		assert_string_equal(g.m[i].name, want);
		assert_int_equal(g.m[i].size, (i + 1) * 3);
	}

	/* A page in the middle. */
	got_msgs_reset(&g);
	assert_int_equal(store_msg_list(fx->st, a, 100, 10, collect_msg, &g), 0);
	assert_int_equal(g.n, 10);
	for (size_t i = 0; i < 10; i++)
		assert_int_equal(g.m[i].uid, 101 + i);
	/* The last page is short. */
	got_msgs_reset(&g);
	assert_int_equal(store_msg_list(fx->st, a, N - 4, 10, collect_msg, &g), 0);
	assert_int_equal(g.n, 4);
	assert_int_equal(g.m[0].uid, N - 3);
	assert_int_equal(g.m[3].uid, N);
	/* Past the end. */
	got_msgs_reset(&g);
	assert_int_equal(store_msg_list(fx->st, a, N, 10, collect_msg, &g), 0);
	assert_int_equal(g.n, 0);
	/* No limit from the middle on. */
	got_msgs_reset(&g);
	assert_int_equal(store_msg_list(fx->st, a, N - 100, 0, collect_msg, &g), 0);
	assert_int_equal(g.n, 100);
	/* Only the folder asked for. */
	got_msgs_reset(&g);
	assert_int_equal(store_msg_list(fx->st, b, 0, 0, collect_msg, &g), 0);
	assert_int_equal(g.n, 3);

	assert_int_equal(store_msg_uids(fx->st, a, &uids, &n), 0);
	assert_int_equal(n, N);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(uids[i], i + 1);
	free(uids);

	got_msgs_release(&g);
	free(names);
	free(m);
}

static void test_msg_set_flags(void **state)
{
	struct fixture *fx = *state;
	struct got_msgs g = { 0 };
	const uint32_t uids[] = { 2, 4, 999 };
	const char *const flags1[] = { "\\Seen", "\\Seen \\Answered", "\\Deleted" };
	const char *const flags2[] = { "", "$Junk", "x" };
	const uint64_t modseqs[] = { 500, 0, 600 };
	int64_t a;

	fx->st = open_store(fx->dir, 0);
	a = add_folder(fx->st, 0, "a");
	put_simple(fx->st, a, 1, 5);
	/* Give every message a modseq to compare against. */
	{
		const uint32_t all[] = { 1, 2, 3, 4, 5 };
		const char *const none[] = { "", "", "", "", "" };
		const uint64_t ms[] = { 10, 20, 30, 40, 50 };

		assert_int_equal(store_msg_set_flags(fx->st, a, all, none, ms, 5), 0);
	}

	/* Without modseqs: flags change, modseq stays; UID 999 is ignored. */
	assert_int_equal(store_msg_set_flags(fx->st, a, uids, flags1, NULL, 3), 0);
	assert_int_equal(get_msg(fx->st, a, 2, &g), 0);
	assert_string_equal(g.m[0].flags, "\\Seen");
	assert_int_equal(g.m[0].modseq, 20);
	assert_int_equal(get_msg(fx->st, a, 4, &g), 0);
	assert_string_equal(g.m[0].flags, "\\Seen \\Answered");
	assert_int_equal(g.m[0].modseq, 40);
	assert_int_equal(get_msg(fx->st, a, 3, &g), 0);
	assert_string_equal(g.m[0].flags, "");
	assert_int_equal(g.m[0].modseq, 30);
	assert_int_equal(get_msg(fx->st, a, 999, &g), -ENOENT);

	/* With modseqs: a zero entry leaves that message's modseq alone. */
	assert_int_equal(store_msg_set_flags(fx->st, a, uids, flags2, modseqs, 3), 0);
	assert_int_equal(get_msg(fx->st, a, 2, &g), 0);
	assert_string_equal(g.m[0].flags, "");
	assert_int_equal(g.m[0].modseq, 500);
	assert_int_equal(get_msg(fx->st, a, 4, &g), 0);
	assert_string_equal(g.m[0].flags, "$Junk");
	assert_int_equal(g.m[0].modseq, 40);
	/* Nothing else moved: names and sizes are kept. */
	assert_string_equal(g.m[0].name, "4.eml");
	assert_int_equal(g.m[0].size, 40);
	assert_int_equal(get_msg(fx->st, a, 999, &g), -ENOENT);

	/* An empty batch is fine. */
	assert_int_equal(store_msg_set_flags(fx->st, a, uids, flags2, NULL, 0), 0);
	got_msgs_release(&g);
}

static void test_msg_set_size_delete_uids(void **state)
{
	struct fixture *fx = *state;
	struct got_msgs g = { 0 };
	struct store_stats stats;
	const uint32_t del[] = { 3, 10, 12345 };
	uint32_t *uids = NULL;
	size_t n = 99;
	int64_t a;

	fx->st = open_store(fx->dir, 0);
	a = add_folder(fx->st, 0, "a");
	put_simple(fx->st, a, 1, 10);   /* sizes 10..100, total 550 */

	assert_int_equal(get_msg(fx->st, a, 5, &g), 0);
	assert_int_equal(g.m[0].state & STORE_MSG_SIZE_EXACT, 0);
	assert_int_equal(store_msg_set_size(fx->st, a, 5, 4321), 0);
	assert_int_equal(get_msg(fx->st, a, 5, &g), 0);
	assert_int_equal(g.m[0].size, 4321);
	assert_int_equal(g.m[0].state & STORE_MSG_SIZE_EXACT, STORE_MSG_SIZE_EXACT);
	assert_string_equal(g.m[0].name, "5.eml");
	/* Others are untouched. */
	assert_int_equal(get_msg(fx->st, a, 6, &g), 0);
	assert_int_equal(g.m[0].size, 60);
	assert_int_equal(g.m[0].state & STORE_MSG_SIZE_EXACT, 0);
	assert_int_equal(store_msg_stats(fx->st, a, &stats), 0);
	assert_int_equal(stats.bytes, 550 - 50 + 4321);

	/* Delete a batch; unknown UIDs are no error. */
	assert_int_equal(store_msg_delete(fx->st, a, del, ARRAY_SIZE(del)), 0);
	assert_int_equal(get_msg(fx->st, a, 3, &g), -ENOENT);
	assert_int_equal(get_msg(fx->st, a, 10, &g), -ENOENT);
	assert_int_equal(get_msg(fx->st, a, 2, &g), 0);
	assert_int_equal(store_msg_stats(fx->st, a, &stats), 0);
	assert_int_equal(stats.count, 8);
	assert_int_equal(stats.bytes, 550 - 50 + 4321 - 30 - 100);
	assert_int_equal(stats.max_uid, 9);

	assert_int_equal(store_msg_uids(fx->st, a, &uids, &n), 0);
	assert_int_equal(n, 8);
	{
		const uint32_t want[] = { 1, 2, 4, 5, 6, 7, 8, 9 };

		for (size_t i = 0; i < n; i++)
			assert_int_equal(uids[i], want[i]);
	}
	free(uids);

	/* An empty folder has no UIDs. */
	uids = NULL;
	n = 99;
	assert_int_equal(store_msg_uids(fx->st, 777, &uids, &n), 0);
	assert_int_equal(n, 0);
	free(uids);
	got_msgs_release(&g);
}

static void test_msg_stats_empty(void **state)
{
	struct fixture *fx = *state;
	struct store_stats stats;
	const uint32_t all[] = { 1, 2 };
	int64_t a;

	fx->st = open_store(fx->dir, 0);
	a = add_folder(fx->st, 0, "a");
	memset(&stats, 0xff, sizeof(stats));
	assert_int_equal(store_msg_stats(fx->st, a, &stats), 0);
	assert_int_equal(stats.count, 0);
	assert_int_equal(stats.bytes, 0);
	assert_int_equal(stats.max_uid, 0);
	/* A folder id that does not exist is just as empty. */
	memset(&stats, 0xff, sizeof(stats));
	assert_int_equal(store_msg_stats(fx->st, 9999, &stats), 0);
	assert_int_equal(stats.count, 0);
	assert_int_equal(stats.bytes, 0);
	assert_int_equal(stats.max_uid, 0);
	/* And one whose messages were all deleted. */
	put_simple(fx->st, a, 1, 2);
	assert_int_equal(store_msg_stats(fx->st, a, &stats), 0);
	assert_int_equal(stats.count, 2);
	assert_int_equal(stats.bytes, 30);
	assert_int_equal(stats.max_uid, 2);
	assert_int_equal(store_msg_delete(fx->st, a, all, 2), 0);
	memset(&stats, 0xff, sizeof(stats));
	assert_int_equal(store_msg_stats(fx->st, a, &stats), 0);
	assert_int_equal(stats.count, 0);
	assert_int_equal(stats.bytes, 0);
	assert_int_equal(stats.max_uid, 0);
}

static void test_callback_stop(void **state)
{
	struct fixture *fx = *state;
	struct got_folders *gf = calloc(1, sizeof(*gf));
	struct got_msgs g = { 0 };
	int64_t a;

	assert_non_null(gf);
	fx->st = open_store(fx->dir, 0);
	a = add_folder(fx->st, 0, "a");
	add_folder(fx->st, 0, "b");
	add_folder(fx->st, 0, "c");
	put_simple(fx->st, a, 1, 10);

	gf->stop_after = 2;
	gf->stop_value = 7;
	assert_int_equal(store_folder_list(fx->st, collect_folder, gf), 7);
	assert_int_equal(gf->n, 2);
	got_folders_release(gf);
	gf->stop_value = -ENOMEM;
	assert_int_equal(store_folder_list(fx->st, collect_folder, gf), -ENOMEM);
	assert_int_equal(gf->n, 2);

	g.stop_after = 3;
	g.stop_value = 42;
	assert_int_equal(store_msg_list(fx->st, a, 0, 0, collect_msg, &g), 42);
	assert_int_equal(g.n, 3);
	assert_int_equal(g.m[2].uid, 3);
	got_msgs_reset(&g);
	g.stop_value = -EINTR;
	assert_int_equal(store_msg_list(fx->st, a, 5, 0, collect_msg, &g), -EINTR);
	assert_int_equal(g.n, 3);
	assert_int_equal(g.m[2].uid, 8);

	got_msgs_reset(&g);
	g.stop_after = 1;
	g.stop_value = 5;
	assert_int_equal(store_msg_get(fx->st, a, 4, collect_msg, &g), 5);
	assert_int_equal(g.n, 1);

	/* The store is still usable after an early stop. */
	got_msgs_reset(&g);
	g.stop_after = 0;
	assert_int_equal(store_msg_list(fx->st, a, 0, 0, collect_msg, &g), 0);
	assert_int_equal(g.n, 10);

	got_msgs_release(&g);
	got_folders_release(gf);
	free(gf);
}

/* What `durable` promises, counted (synccount.h; SQLite is linked in
 * statically, so its own calls are seen): every commit reaches the disk
 * before it returns (synchronous=FULL); without it, commits do not sync
 * (WAL, synchronous=NORMAL). */
static void test_durable_syncs(void **state)
{
	struct fixture *fx = *state;
	struct store_folder f = { .parent = 0, .name = "INBOX", .server = "INBOX", .delim = '/' };
	struct store_msg m = { .name = "x.eml", .size = 5, .flags = "", .state = STORE_MSG_SIZE_EXACT };
	const uint32_t commits = 5;
	int64_t id;

	for (int durable = 0; durable <= 1; durable++) {
		fx->st = open_store(fx->dir, durable);
		assert_int_equal(store_folder_add(fx->st, &f, &id), 0);
		sync_reset();
		for (uint32_t i = 1; i <= commits; i++) {
			m.uid = i;
			assert_int_equal(store_msg_put(fx->st, id, &m, 1), 0);
		}
		if (durable ? sync_ncalls < commits : sync_ncalls != 0)
			fail_msg("%s store: %zu sync calls for %u commits", durable ? "durable" : "normal",
			         sync_ncalls, commits);
		store_close(fx->st);
		fx->st = NULL;
	}
}

static void test_reopen_keeps_data(void **state)
{
	struct fixture *fx = *state;
	struct got_folders *gf = calloc(1, sizeof(*gf));
	struct got_msgs g = { 0 };
	struct store_folder f = {
		.parent = 0, .name = "INBOX", .server = "INBOX", .delim = '/',
		.uidvalidity = 3, .uidnext = 101, .modseq = 9000, .synced = 42,
	};
	struct store_msg m = {
		.uid = 100, .name = "100 x.eml", .size = 5, .date = 6, .flags = "\\Seen",
		.msgid = "<m@x>", .uidl = NULL, .modseq = 8999, .state = STORE_MSG_SIZE_EXACT,
	};
	struct store_stats stats;
	int64_t id;

	assert_non_null(gf);
	for (int durable = 0; durable <= 1; durable++) {
		fx->st = open_store(fx->dir, durable);
		assert_int_equal(store_folder_add(fx->st, &f, &id), 0);
		assert_int_equal(store_msg_put(fx->st, id, &m, 1), 0);
		store_close(fx->st);
		fx->st = NULL;

		fx->st = open_store(fx->dir, !durable);
		list_folders(fx->st, gf);
		assert_int_equal(gf->n, (size_t)durable + 1);
		assert_non_null(find_folder(gf, id));
		assert_int_equal(find_folder(gf, id)->uidnext, 101);
		assert_int_equal(find_folder(gf, id)->modseq, 9000);
		assert_int_equal(get_msg(fx->st, id, 100, &g), 0);
		assert_msg_equal(&g.m[0], &m);
		assert_int_equal(store_msg_stats(fx->st, id, &stats), 0);
		assert_int_equal(stats.count, 1);
		store_close(fx->st);
		fx->st = NULL;
	}
	got_msgs_release(&g);
	got_folders_release(gf);
	free(gf);
}

/* Names made under older rules are renamed once, in one transaction, and
 * the version is remembered across a reopen. */
static char *add_x(void *ctx, uint32_t uid, const char *name)
{
	char *out = NULL;

	++*(int *)ctx;
	if (uid % 2 && asprintf(&out, "%s.x", name) < 0)
		out = NULL;
	return out;     /* even UIDs keep their name */
}

static void test_names_rename(void **state)
{
	struct fixture *fx = *state;
	struct got_msgs g = { 0 };
	const struct store_msg m[] = {
		{ .uid = 1, .name = "one", .flags = "" },
		{ .uid = 2, .name = "two", .flags = "" },
		{ .uid = 3, .name = "three", .flags = "" },
	};
	int64_t a, b;
	int calls = 0;

	fx->st = open_store(fx->dir, 0);
	assert_int_equal(store_names_version(fx->st), 1);    /* never set: 1 */
	a = add_folder(fx->st, 0, "a");
	b = add_folder(fx->st, 0, "b");
	assert_int_equal(store_msg_put(fx->st, a, m, 3), 0);
	assert_int_equal(store_msg_put(fx->st, b, m, 1), 0);
	assert_int_equal(store_names_rename(fx->st, 2, add_x, &calls), 0);
	assert_int_equal(calls, 4);
	assert_int_equal(store_names_version(fx->st), 2);
	assert_int_equal(get_msg(fx->st, a, 1, &g), 0);
	assert_string_equal(g.m[0].name, "one.x");
	assert_int_equal(get_msg(fx->st, a, 2, &g), 0);
	assert_string_equal(g.m[0].name, "two");
	assert_int_equal(get_msg(fx->st, a, 3, &g), 0);
	assert_string_equal(g.m[0].name, "three.x");
	assert_int_equal(get_msg(fx->st, b, 1, &g), 0);
	assert_string_equal(g.m[0].name, "one.x");
	store_close(fx->st);
	fx->st = open_store(fx->dir, 0);
	assert_int_equal(store_names_version(fx->st), 2);
	got_msgs_release(&g);
}

static void test_strings_round_trip(void **state)
{
	struct fixture *fx = *state;
	struct got_folders *gf = calloc(1, sizeof(*gf));
	struct got_msgs g = { 0 };
	struct store_folder f = {
		.parent = 0,
		.name = "Entw\xc3\xbc" "rfe 'single' \"double\" \xe2\x80\x94 \xf0\x9f\x93\xa7 ; DROP TABLE folder; --",
		.server = "Entw&APw-rfe 'single' \"double\" %_*\\",
		.delim = '"',
	};
	struct store_msg m = {
		.uid = 1,
		.name = "1 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e 'it''s' \"q\" \\ %.eml",
		.size = 1, .date = 1,
		.flags = "\\Seen $Label'1 \"x\" \xc3\xa9t\xc3\xa9",
		.msgid = "<'a'\"b\"\xc3\xa4@example.org>",
		.uidl = "'\"uidl\"'",
	};
	const char *const newflags[] = { "\\Flagged 'q' \"dq\" \xe2\x82\xac" };
	int64_t id;

	assert_non_null(gf);
	fx->st = open_store(fx->dir, 0);
	assert_int_equal(store_folder_add(fx->st, &f, &id), 0);
	assert_int_equal(store_msg_put(fx->st, id, &m, 1), 0);
	assert_int_equal(store_msg_set_flags(fx->st, id, &m.uid, newflags, NULL, 1), 0);
	store_close(fx->st);
	fx->st = open_store(fx->dir, 0);

	list_folders(fx->st, gf);
	assert_int_equal(gf->n, 1);
	assert_string_equal(gf->f[0].name, f.name);
	assert_string_equal(gf->f[0].server, f.server);
	assert_int_equal(gf->f[0].delim, '"');
	assert_int_equal(get_msg(fx->st, id, 1, &g), 0);
	m.flags = newflags[0];
	assert_msg_equal(&g.m[0], &m);

	got_msgs_release(&g);
	got_folders_release(gf);
	free(gf);
}

/* --- crash safety ------------------------------------------------------------ */

#define CRASH_BATCH 37
#define CRASH_RUNS  12

/* The writer: batches of CRASH_BATCH consecutive UIDs from FIRST on, each
 * message's size uid*10 and name "<uid>.eml", with flag and size updates of
 * the batch before in between. Tells the parent on FD when the store is open
 * ('o') and after its first batch ('c'). Never returns. */
static void crash_writer(const char *dir, int durable, int64_t folder, uint32_t first, int fd)
{
	struct store_msg m[CRASH_BATCH];
	char names[CRASH_BATCH][24];
	const char *flags[CRASH_BATCH];
	uint32_t uids[CRASH_BATCH];
	struct store *st;
	char err[256];

	if (store_open(dir, durable, &st, err, sizeof(err)) < 0)
		_exit(2);
	if (write(fd, "o", 1) != 1)
		_exit(3);
	for (uint32_t uid = first, k = 0; ; uid += CRASH_BATCH, k++) {
		for (uint32_t i = 0; i < CRASH_BATCH; i++) {
			snprintf(names[i], sizeof(names[i]), "%" PRIu32 ".eml", uid + i);
			m[i] = (struct store_msg){
				.uid = uid + i, .name = names[i], .size = (uint64_t)(uid + i) * 10,
				.date = uid + i, .flags = "", .msgid = "<crash@example.org>",
			};
			uids[i] = uid + i;
			flags[i] = "\\Seen";
		}
		if (store_msg_put(st, folder, m, CRASH_BATCH) < 0)
			_exit(4);
		if (store_msg_set_flags(st, folder, uids, flags, NULL, CRASH_BATCH) < 0)
			_exit(5);
		if (store_msg_set_size(st, folder, uid, (uint64_t)uid * 10) < 0)
			_exit(6);
		if (k == 0 && write(fd, "c", 1) != 1)
			_exit(7);
	}
}

static void read_byte(int fd, char want)
{
	char c;
	ssize_t n;

	do
		n = read(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		fail_msg("writer died before sending '%c'", want);
	assert_int_equal(c, want);
}

/* Everything a crashed writer may leave: UIDs 1..N with N a multiple of the
 * batch size, each row complete. Returns N. */
static uint32_t check_after_crash(struct fixture *fx, int64_t folder)
{
	struct got_msgs g = { 0 };
	struct store_stats stats;
	struct store *st;
	char buf[256];

	sql_text(fx->db, "PRAGMA integrity_check", buf, sizeof(buf));
	assert_string_equal(buf, "ok");
	sql_text(fx->db, "PRAGMA journal_mode", buf, sizeof(buf));
	assert_string_equal(buf, "wal");

	st = open_store(fx->dir, 0);
	assert_int_equal(store_msg_stats(st, folder, &stats), 0);
	assert_int_equal(store_msg_list(st, folder, 0, 0, collect_msg, &g), 0);
	assert_int_equal(g.n, stats.count);
	assert_int_equal(stats.max_uid, stats.count);
	assert_int_equal(stats.count % CRASH_BATCH, 0);
	for (size_t i = 0; i < g.n; i++) {
		const struct got_msg *m = &g.m[i];
		char want[24];

		snprintf(want, sizeof(want), "%" PRIu32 ".eml", m->uid);
		assert_int_equal(m->uid, i + 1);
		assert_string_equal(m->name, want);
		assert_int_equal(m->size, (uint64_t)m->uid * 10);
		assert_int_equal(m->date, m->uid);
		assert_true(strcmp(m->flags, "") == 0 || strcmp(m->flags, "\\Seen") == 0);
		assert_string_equal(m->msgid, "<crash@example.org>");
		assert_null(m->uidl);
		assert_true(m->state == 0 || m->state == STORE_MSG_SIZE_EXACT);
	}
	store_close(st);
	got_msgs_release(&g);
	return (uint32_t)stats.count;
}

static void test_crash_safety(void **state)
{
	struct fixture *fx = *state;
	uint32_t have = 0;
	int64_t folder;

	rnd_state = test_seed("crash test");
	fx->st = open_store(fx->dir, 0);
	folder = add_folder(fx->st, 0, "INBOX");
	store_close(fx->st);
	fx->st = NULL;

	for (int run = 0; run < CRASH_RUNS; run++) {
		unsigned delay_us = (unsigned)(rnd() % 30000);
		int durable = run % 3 == 2, p[2], status;
		pid_t pid;

		assert_int_equal(pipe(p), 0);
		fflush(NULL);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			crash_writer(fx->dir, durable, folder, have + 1, p[1]);
		}
		close(p[1]);
		read_byte(p[0], 'o');
		/* Every other run is sure to kill after data was committed. */
		if (run % 2)
			read_byte(p[0], 'c');
		usleep(delay_us);
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		close(p[0]);
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
			fail_msg("writer ended by itself (status 0x%x) in run %d", status, run);

		{
			uint32_t now = check_after_crash(fx, folder);

			assert_true(now >= have);
			if (run % 2)
				assert_true(now > have);
			printf("    run %2d: killed after %5u us (%s), %u messages\n", run,
			       delay_us, durable ? "durable" : "normal", now);
			have = now;
		}
	}
	assert_true(have > 0);
}

/* Views: a message's structure and its parts' numbers go with the message;
 * a number is never used again. */
static void test_views(void **state)
{
	struct fixture *fx = *state;
	const char *const secs[] = { "1", "2", "2.1" }, *const more[] = { "2.1", "3" };
	int64_t a, b, ids[3], ids2[2], again[3], folder;
	uint32_t uid, one = 1;
	char *text = NULL, *sec = NULL;

	fx->st = open_store(fx->dir, 0);
	a = add_folder(fx->st, 0, "a");
	b = add_folder(fx->st, 0, "b");
	put_simple(fx->st, a, 1, 3);
	put_simple(fx->st, b, 1, 1);
	assert_int_equal(store_structure_get(fx->st, a, 1, &text), -ENOENT);
	assert_null(text);
	assert_int_equal(store_structure_put(fx->st, a, 1, "(\"text\" \"plain\")"), 0);
	assert_int_equal(store_structure_put(fx->st, a, 2, "two"), 0);
	assert_int_equal(store_structure_put(fx->st, a, 9, "no message"), -ENOENT);
	assert_int_equal(store_structure_get(fx->st, a, 1, &text), 0);
	assert_string_equal(text, "(\"text\" \"plain\")");
	free(text);
	assert_int_equal(store_structure_get(fx->st, a, 9, &text), -ENOENT);

	/* Numbers: one per (message, section), the same when asked again. */
	assert_int_equal(store_part_ids(fx->st, a, 1, secs, 3, ids), 0);
	assert_true(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
	assert_int_equal(store_part_ids(fx->st, a, 1, more, 2, ids2), 0);
	assert_int_equal(ids2[0], ids[2]);
	assert_true(ids2[1] > ids[2]);
	assert_int_equal(store_part_ids(fx->st, b, 1, secs, 3, again), 0);
	assert_true(again[0] > ids2[1]);
	assert_int_equal(store_part_get(fx->st, ids[2], &folder, &uid, &sec), 0);
	assert_int_equal(folder, a);
	assert_int_equal(uid, 1);
	assert_string_equal(sec, "2.1");
	free(sec);
	assert_int_equal(store_part_ids(fx->st, a, 9, secs, 1, again), -ENOENT);

	/* Re-putting the message (new flags) keeps them. */
	put_simple(fx->st, a, 1, 1);
	assert_int_equal(store_structure_get(fx->st, a, 1, &text), 0);
	free(text);
	assert_int_equal(store_part_get(fx->st, ids[0], &folder, &uid, &sec), 0);
	free(sec);

	/* The message goes: so do they; its numbers are not given again. */
	assert_int_equal(store_msg_delete(fx->st, a, &one, 1), 0);
	assert_int_equal(store_structure_get(fx->st, a, 1, &text), -ENOENT);
	assert_int_equal(store_part_get(fx->st, ids[0], &folder, &uid, &sec), -ENOENT);
	assert_null(sec);
	put_simple(fx->st, a, 1, 1);
	assert_int_equal(store_part_ids(fx->st, a, 1, secs, 3, again), 0);
	assert_true(again[0] > ids2[1] && again[0] != ids[0]);
	/* The folder goes: so do its messages' structures. */
	assert_int_equal(store_folder_delete(fx->st, a), 0);
	assert_int_equal(store_structure_get(fx->st, a, 2, &text), -ENOENT);
	assert_int_equal(store_part_get(fx->st, again[1], &folder, &uid, &sec), -ENOENT);
	assert_int_equal(store_part_ids(fx->st, b, 1, secs, 1, ids), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_open_mode),
		T(test_open_wal),
		T(test_open_missing_dir),
		T(test_open_readonly_dir),
		T(test_folder_add_list_update_delete),
		T(test_folder_ids_never_reused),
		T(test_folder_renew),
		T(test_folder_delete_drops_messages),
		T(test_msg_put_get),
		T(test_msg_batch_list),
		T(test_msg_set_flags),
		T(test_msg_set_size_delete_uids),
		T(test_msg_stats_empty),
		T(test_callback_stop),
		T(test_reopen_keeps_data),
		T(test_durable_syncs),
		T(test_names_rename),
		T(test_views),
		T(test_strings_round_trip),
		T(test_crash_safety),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
