/* store.c - SQLite metadata cache. */
#include "cache/store.h"
#include "net/grow.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#define SCHEMA_VERSION 1

/* Messages are keyed by (folder, uid); WITHOUT ROWID keeps them clustered
 * in UID order, which is the order of readdir. A message's file name begins
 * with its UID, so lookups by name go through the primary key too. */
static const char schema[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS folder("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  parent INTEGER NOT NULL,"
	"  name TEXT NOT NULL,"
	"  server TEXT,"
	"  delim TEXT NOT NULL DEFAULT '',"
	"  flags INTEGER NOT NULL DEFAULT 0,"
	"  uidvalidity INTEGER NOT NULL DEFAULT 0,"
	"  uidnext INTEGER NOT NULL DEFAULT 0,"
	"  modseq INTEGER NOT NULL DEFAULT 0,"
	"  synced INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS message("
	"  folder INTEGER NOT NULL,"
	"  uid INTEGER NOT NULL,"
	"  name TEXT NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  date INTEGER NOT NULL,"
	"  flags TEXT NOT NULL DEFAULT '',"
	"  msgid TEXT,"
	"  uidl TEXT,"
	"  modseq INTEGER NOT NULL DEFAULT 0,"
	"  state INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY(folder, uid)) WITHOUT ROWID;"
	/* POP3: every UIDL ever seen, so that nothing is downloaded twice and a
	 * message removed locally never comes back. uid is the message's UID
	 * in the tree, never reused. */
	/* Views (SPEC §9): a message's MIME structure in BODYSTRUCTURE syntax,
	 * and a number for each of its parts that is never used again (the
	 * parts' inode numbers). Both go with their message. */
	"CREATE TABLE IF NOT EXISTS structure("
	"  folder INTEGER NOT NULL,"
	"  uid INTEGER NOT NULL,"
	"  text TEXT NOT NULL,"
	"  PRIMARY KEY(folder, uid)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS part("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  folder INTEGER NOT NULL,"
	"  uid INTEGER NOT NULL,"
	"  section TEXT NOT NULL,"
	"  UNIQUE(folder, uid, section));"
	"CREATE TRIGGER IF NOT EXISTS message_gone AFTER DELETE ON message BEGIN"
	"  DELETE FROM structure WHERE folder=old.folder AND uid=old.uid;"
	"  DELETE FROM part WHERE folder=old.folder AND uid=old.uid;"
	"END;"
	"CREATE TABLE IF NOT EXISTS pop3_uidl("
	"  uidl TEXT PRIMARY KEY,"
	"  uid INTEGER NOT NULL UNIQUE,"
	"  state INTEGER NOT NULL) WITHOUT ROWID;";

enum stmt_id {
	S_FOLDER_LIST, S_FOLDER_ADD, S_FOLDER_UPDATE, S_FOLDER_SYNCED, S_FOLDER_DEL, S_FOLDER_DEL_MSGS,
	S_FOLDER_RENEW, S_FOLDER_MOVE_CHILDREN,
	S_MSG_PUT, S_MSG_GET, S_MSG_LIST, S_MSG_FLAGS, S_MSG_SIZE, S_MSG_DEL, S_MSG_UIDS,
	S_MSG_COUNT, S_MSG_COUNT_ALL, S_BEGIN, S_COMMIT, S_ROLLBACK,
	S_NAMES_GET, S_NAMES_SET, S_NAMES_ALL, S_NAMES_ONE,
	S_STRUCT_GET, S_STRUCT_PUT, S_PART_ADD, S_PART_ID, S_PART_GET,
	S_POP3_GET, S_POP3_RESERVE, S_POP3_SET, S_POP3_LIST_STATE, S_POP3_DEL, S_COUNT_
};

static const char *const stmt_sql[S_COUNT_] = {
	[S_FOLDER_LIST] = "SELECT id, parent, name, server, delim, flags, uidvalidity, uidnext,"
	                  " modseq, synced FROM folder ORDER BY id",
	[S_FOLDER_ADD] = "INSERT INTO folder(parent, name, server, delim, flags, uidvalidity,"
	                 " uidnext, modseq, synced) VALUES(?,?,?,?,?,?,?,?,?)",
	[S_FOLDER_UPDATE] = "UPDATE folder SET parent=?, name=?, server=?, delim=?, flags=?"
	                    " WHERE id=?",
	[S_FOLDER_SYNCED] = "UPDATE folder SET uidvalidity=?, uidnext=?, modseq=?, synced=?"
	                    " WHERE id=?",
	[S_FOLDER_DEL] = "DELETE FROM folder WHERE id=?",
	[S_FOLDER_DEL_MSGS] = "DELETE FROM message WHERE folder=?",
	[S_FOLDER_RENEW] = "INSERT INTO folder(parent, name, server, delim, flags)"
	                   " SELECT parent, name, server, delim, flags FROM folder WHERE id=?",
	[S_FOLDER_MOVE_CHILDREN] = "UPDATE folder SET parent=? WHERE parent=?",
	[S_MSG_PUT] = "INSERT OR REPLACE INTO message(folder, uid, name, size, date, flags,"
	              " msgid, uidl, modseq, state) VALUES(?,?,?,?,?,?,?,?,?,?)",
	[S_MSG_GET] = "SELECT uid, name, size, date, flags, msgid, uidl, modseq, state"
	              " FROM message WHERE folder=? AND uid=?",
	[S_MSG_LIST] = "SELECT uid, name, size, date, flags, msgid, uidl, modseq, state"
	               " FROM message WHERE folder=? AND uid>? ORDER BY uid LIMIT ?",
	[S_MSG_FLAGS] = "UPDATE message SET flags=?1, modseq=CASE WHEN ?2>0 THEN ?2 ELSE modseq END"
	                " WHERE folder=?3 AND uid=?4",
	[S_MSG_SIZE] = "UPDATE message SET size=?, state=state|1 WHERE folder=? AND uid=?",
	[S_MSG_DEL] = "DELETE FROM message WHERE folder=? AND uid=?",
	[S_MSG_UIDS] = "SELECT uid FROM message WHERE folder=? ORDER BY uid",
	[S_MSG_COUNT] = "SELECT count(*), coalesce(sum(size), 0), coalesce(max(uid), 0)"
	                " FROM message WHERE folder=?",
	[S_MSG_COUNT_ALL] = "SELECT folder, count(*), coalesce(sum(size), 0), coalesce(max(uid), 0)"
	                    " FROM message GROUP BY folder ORDER BY folder",
	[S_POP3_GET] = "SELECT uid, state FROM pop3_uidl WHERE uidl=?",
	[S_POP3_RESERVE] = "INSERT INTO pop3_uidl(uidl, uid, state)"
	                   " SELECT ?, coalesce(max(uid), 0) + 1, 0 FROM pop3_uidl",
	[S_POP3_SET] = "UPDATE pop3_uidl SET state=? WHERE uidl=?",
	[S_POP3_LIST_STATE] = "SELECT uidl, uid FROM pop3_uidl WHERE state=?",
	[S_POP3_DEL] = "DELETE FROM pop3_uidl WHERE uidl=?",
	[S_NAMES_GET] = "SELECT value FROM meta WHERE key='names'",
	[S_NAMES_SET] = "INSERT OR REPLACE INTO meta VALUES('names', ?)",
	[S_NAMES_ALL] = "SELECT folder, uid, name FROM message",
	[S_NAMES_ONE] = "UPDATE message SET name=? WHERE folder=? AND uid=?",
	[S_STRUCT_GET] = "SELECT text FROM structure WHERE folder=? AND uid=?",
	[S_STRUCT_PUT] = "INSERT OR REPLACE INTO structure(folder, uid, text)"
	                 " SELECT ?1, ?2, ?3 WHERE EXISTS"
	                 " (SELECT 1 FROM message WHERE folder=?1 AND uid=?2)",
	[S_PART_ADD] = "INSERT OR IGNORE INTO part(folder, uid, section) SELECT ?1, ?2, ?3"
	               " WHERE EXISTS (SELECT 1 FROM message WHERE folder=?1 AND uid=?2)",
	[S_PART_ID] = "SELECT id FROM part WHERE folder=? AND uid=? AND section=?",
	[S_PART_GET] = "SELECT folder, uid, section FROM part WHERE id=?",
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
};

struct store {
	pthread_mutex_t lock;
	sqlite3 *db;                  /* protected by lock */
	sqlite3_stmt *stmt[S_COUNT_]; /* protected by lock */
	char error[256];              /* protected by lock */
};

static int db_errno(struct store *st, int rc)
{
	snprintf(st->error, sizeof(st->error), "cache database: %s", sqlite3_errmsg(st->db));
	switch (rc & 0xff) {
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_READONLY:
	case SQLITE_PERM:
		return -EACCES;
	default:
		return -EIO;
	}
}

/* A prepared statement, reset and ready for binding. */
static sqlite3_stmt *stmt(struct store *st, enum stmt_id id)
{
	sqlite3_stmt *s = st->stmt[id];

	if (!s) {
		if (sqlite3_prepare_v3(st->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
		                       &st->stmt[id], NULL) != SQLITE_OK)
			return NULL;
		s = st->stmt[id];
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

/* Run a statement that returns no rows. */
static int exec(struct store *st, sqlite3_stmt *s)
{
	int rc;

	if (!s)
		return db_errno(st, sqlite3_errcode(st->db));
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : db_errno(st, rc);
}

static int begin(struct store *st)
{
	return exec(st, stmt(st, S_BEGIN));
}

static int finish(struct store *st, int r)
{
	if (r == 0) {
		r = exec(st, stmt(st, S_COMMIT));
		if (r == 0)
			return 0;
	}
	exec(st, stmt(st, S_ROLLBACK));
	return r;
}

int store_open(const char *dir, int durable, struct store **st_r, char *err, size_t errlen)
{
	struct store *st;
	char *path = NULL, *msg = NULL;
	int rc, fd, r = -EIO;

	st = calloc(1, sizeof(*st));
	if (!st || asprintf(&path, "%s/mailfs.db", dir) < 0) {
		free(st);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&st->lock, NULL);
	/* Create the file ourselves so that it is 0600 whatever the umask. */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		goto fail;
	}
	fchmod(fd, 0600);
	close(fd);
	rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", path,
		         st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 5000);
	rc = sqlite3_exec(st->db, durable ?
	                  "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;" :
	                  "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
	                  NULL, NULL, &msg);
	/* One transaction: a crash while creating leaves all tables or none. */
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, &msg);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(st->db, schema, NULL, NULL, &msg);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(st->db, "INSERT OR IGNORE INTO meta VALUES('schema', '1');"
		                  "COMMIT", NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot set up %s: %s", path, msg ? msg : sqlite3_errstr(rc));
		r = (rc & 0xff) == SQLITE_FULL ? -ENOSPC : -EIO;
		sqlite3_free(msg);
		goto fail;
	}
	/* The WAL and shared-memory files inherit the database's mode. */
	free(path);
	*st_r = st;
	return 0;
fail:
	if (st->db)
		sqlite3_close(st->db);
	pthread_mutex_destroy(&st->lock);
	free(path);
	free(st);
	return r;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	for (int i = 0; i < S_COUNT_; i++)
		sqlite3_finalize(st->stmt[i]);
	/* Fold the WAL back so the next open starts small. */
	sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	sqlite3_close(st->db);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

const char *store_error(struct store *st)
{
	return st->error[0] ? st->error : "no error";
}

static const char *col_text(sqlite3_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(s, i);
}

/* ---- folders ---------------------------------------------------------------- */

int store_folder_list(struct store *st, int (*cb)(void *ctx, const struct store_folder *f),
                      void *ctx)
{
	sqlite3_stmt *s;
	int rc, r = 0;

	pthread_mutex_lock(&st->lock);
	s = stmt(st, S_FOLDER_LIST);
	if (!s) {
		r = db_errno(st, sqlite3_errcode(st->db));
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *delim = col_text(s, 4);
		struct store_folder f = {
			.id = sqlite3_column_int64(s, 0),
			.parent = sqlite3_column_int64(s, 1),
			.name = col_text(s, 2),
			.server = col_text(s, 3),
			.delim = delim ? delim[0] : '\0',
			.flags = (unsigned)sqlite3_column_int(s, 5),
			.uidvalidity = (uint32_t)sqlite3_column_int64(s, 6),
			.uidnext = (uint32_t)sqlite3_column_int64(s, 7),
			.modseq = (uint64_t)sqlite3_column_int64(s, 8),
			.synced = sqlite3_column_int64(s, 9),
		};
		r = cb(ctx, &f);
		if (r)
			break;
	}
	if (!r && rc != SQLITE_DONE)
		r = db_errno(st, rc);
	sqlite3_reset(s);
out:
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* The folder's place in the tree, as parameters 1-5. */
static void bind_place(sqlite3_stmt *s, const struct store_folder *f)
{
	char delim[2] = { f->delim, '\0' };

	sqlite3_bind_int64(s, 1, f->parent);
	sqlite3_bind_text(s, 2, f->name, -1, SQLITE_TRANSIENT);
	if (f->server)
		sqlite3_bind_text(s, 3, f->server, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 4, delim, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(s, 5, (int)f->flags);
}

/* Its sync state, as parameters FIRST to FIRST + 3. */
static void bind_state(sqlite3_stmt *s, int first, const struct store_folder *f)
{
	sqlite3_bind_int64(s, first, f->uidvalidity);
	sqlite3_bind_int64(s, first + 1, f->uidnext);
	sqlite3_bind_int64(s, first + 2, (sqlite3_int64)f->modseq);
	sqlite3_bind_int64(s, first + 3, f->synced);
}

int store_folder_add(struct store *st, const struct store_folder *f, int64_t *id_r)
{
	sqlite3_stmt *s;
	int r;

	pthread_mutex_lock(&st->lock);
	s = stmt(st, S_FOLDER_ADD);
	if (s) {
		bind_place(s, f);
		bind_state(s, 6, f);
	}
	r = exec(st, s);
	if (r == 0)
		*id_r = sqlite3_last_insert_rowid(st->db);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_folder_update(struct store *st, const struct store_folder *f)
{
	sqlite3_stmt *s;
	int r;

	pthread_mutex_lock(&st->lock);
	s = stmt(st, S_FOLDER_UPDATE);
	if (s) {
		bind_place(s, f);
		sqlite3_bind_int64(s, 6, f->id);
	}
	r = exec(st, s);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_folder_synced(struct store *st, const struct store_folder *f)
{
	sqlite3_stmt *s;
	int r;

	pthread_mutex_lock(&st->lock);
	s = stmt(st, S_FOLDER_SYNCED);
	if (s) {
		bind_state(s, 1, f);
		sqlite3_bind_int64(s, 5, f->id);
	}
	r = exec(st, s);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_folder_delete(struct store *st, int64_t id)
{
	sqlite3_stmt *s;
	int r;

	pthread_mutex_lock(&st->lock);
	r = begin(st);
	if (r == 0) {
		s = stmt(st, S_FOLDER_DEL_MSGS);
		if (s)
			sqlite3_bind_int64(s, 1, id);
		r = exec(st, s);
	}
	if (r == 0) {
		s = stmt(st, S_FOLDER_DEL);
		if (s)
			sqlite3_bind_int64(s, 1, id);
		r = exec(st, s);
	}
	r = finish(st, r);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_folder_renew(struct store *st, int64_t id, int64_t *new_id_r)
{
	sqlite3_stmt *s;
	int64_t nid = 0;
	int r;

	pthread_mutex_lock(&st->lock);
	r = begin(st);
	if (r == 0) {
		s = stmt(st, S_FOLDER_RENEW);
		if (s)
			sqlite3_bind_int64(s, 1, id);
		r = exec(st, s);
		nid = sqlite3_last_insert_rowid(st->db);
		/* No row copied: last_insert_rowid is some earlier folder's. */
		if (r == 0 && sqlite3_changes(st->db) == 0) {
			snprintf(st->error, sizeof(st->error), "no folder %" PRId64, id);
			r = -ENOENT;
		}
	}
	if (r == 0) {
		s = stmt(st, S_FOLDER_MOVE_CHILDREN);
		if (s) {
			sqlite3_bind_int64(s, 1, nid);
			sqlite3_bind_int64(s, 2, id);
		}
		r = exec(st, s);
	}
	if (r == 0) {
		s = stmt(st, S_FOLDER_DEL_MSGS);
		if (s)
			sqlite3_bind_int64(s, 1, id);
		r = exec(st, s);
	}
	if (r == 0) {
		s = stmt(st, S_FOLDER_DEL);
		if (s)
			sqlite3_bind_int64(s, 1, id);
		r = exec(st, s);
	}
	r = finish(st, r);
	if (r == 0)
		*new_id_r = nid;
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* ---- messages --------------------------------------------------------------- */

static void bind_opt_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

/* One row of messages, inside the caller's transaction and lock. */
static int msg_put(struct store *st, int64_t folder, const struct store_msg *m)
{
	sqlite3_stmt *s = stmt(st, S_MSG_PUT);

	if (s) {
		sqlite3_bind_int64(s, 1, folder);
		sqlite3_bind_int64(s, 2, m->uid);
		sqlite3_bind_text(s, 3, m->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)m->size);
		sqlite3_bind_int64(s, 5, m->date);
		sqlite3_bind_text(s, 6, m->flags ? m->flags : "", -1, SQLITE_STATIC);
		bind_opt_text(s, 7, m->msgid);
		bind_opt_text(s, 8, m->uidl);
		sqlite3_bind_int64(s, 9, (sqlite3_int64)m->modseq);
		sqlite3_bind_int(s, 10, (int)m->state);
	}
	return exec(st, s);
}

int store_msg_put(struct store *st, int64_t folder, const struct store_msg *msgs, size_t n)
{
	int r;

	pthread_mutex_lock(&st->lock);
	r = begin(st);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = msg_put(st, folder, &msgs[i]);
	r = finish(st, r);
	pthread_mutex_unlock(&st->lock);
	return r;
}

static int msg_rows(struct store *st, sqlite3_stmt *s,
                    int (*cb)(void *ctx, const struct store_msg *m), void *ctx, int *found)
{
	int rc, r = 0;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_msg m = {
			.uid = (uint32_t)sqlite3_column_int64(s, 0),
			.name = col_text(s, 1),
			.size = (uint64_t)sqlite3_column_int64(s, 2),
			.date = sqlite3_column_int64(s, 3),
			.flags = col_text(s, 4),
			.msgid = col_text(s, 5),
			.uidl = col_text(s, 6),
			.modseq = (uint64_t)sqlite3_column_int64(s, 7),
			.state = (unsigned)sqlite3_column_int(s, 8),
		};
		if (!m.name || !m.flags) {
			r = -ENOMEM;
			break;
		}
		(*found)++;
		r = cb(ctx, &m);
		if (r)
			break;
	}
	if (!r && rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = db_errno(st, rc);
	sqlite3_reset(s);
	return r;
}

int store_msg_get(struct store *st, int64_t folder, uint32_t uid,
                  int (*cb)(void *ctx, const struct store_msg *m), void *ctx)
{
	sqlite3_stmt *s;
	int r, found = 0;

	pthread_mutex_lock(&st->lock);
	s = stmt(st, S_MSG_GET);
	if (!s) {
		r = db_errno(st, sqlite3_errcode(st->db));
	} else {
		sqlite3_bind_int64(s, 1, folder);
		sqlite3_bind_int64(s, 2, uid);
		r = msg_rows(st, s, cb, ctx, &found);
		if (r == 0 && !found)
			r = -ENOENT;
	}
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_msg_list(struct store *st, int64_t folder, uint32_t after, size_t limit,
                   int (*cb)(void *ctx, const struct store_msg *m), void *ctx)
{
	sqlite3_stmt *s;
	int r, found = 0;

	pthread_mutex_lock(&st->lock);
	s = stmt(st, S_MSG_LIST);
	if (!s) {
		r = db_errno(st, sqlite3_errcode(st->db));
	} else {
		sqlite3_bind_int64(s, 1, folder);
		sqlite3_bind_int64(s, 2, after);
		sqlite3_bind_int64(s, 3, limit ? (sqlite3_int64)limit : -1);
		r = msg_rows(st, s, cb, ctx, &found);
	}
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_msg_set_flags(struct store *st, int64_t folder, const uint32_t *uids,
                        const char *const *flags, const uint64_t *modseqs, size_t n)
{
	sqlite3_stmt *s;
	int r;

	pthread_mutex_lock(&st->lock);
	r = begin(st);
	for (size_t i = 0; r == 0 && i < n; i++) {
		s = stmt(st, S_MSG_FLAGS);
		if (s) {
			sqlite3_bind_text(s, 1, flags[i], -1, SQLITE_STATIC);
			sqlite3_bind_int64(s, 2, modseqs ? (sqlite3_int64)modseqs[i] : 0);
			sqlite3_bind_int64(s, 3, folder);
			sqlite3_bind_int64(s, 4, uids[i]);
		}
		r = exec(st, s);
	}
	r = finish(st, r);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_msg_set_size(struct store *st, int64_t folder, uint32_t uid, uint64_t size)
{
	sqlite3_stmt *s;
	int r;

	pthread_mutex_lock(&st->lock);
	s = stmt(st, S_MSG_SIZE);
	if (s) {
		sqlite3_bind_int64(s, 1, (sqlite3_int64)size);
		sqlite3_bind_int64(s, 2, folder);
		sqlite3_bind_int64(s, 3, uid);
	}
	r = exec(st, s);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_msg_delete(struct store *st, int64_t folder, const uint32_t *uids, size_t n)
{
	sqlite3_stmt *s;
	int r;

	pthread_mutex_lock(&st->lock);
	r = begin(st);
	for (size_t i = 0; r == 0 && i < n; i++) {
		s = stmt(st, S_MSG_DEL);
		if (s) {
			sqlite3_bind_int64(s, 1, folder);
			sqlite3_bind_int64(s, 2, uids[i]);
		}
		r = exec(st, s);
	}
	r = finish(st, r);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_msg_uids(struct store *st, int64_t folder, uint32_t **uids_r, size_t *n_r)
{
	sqlite3_stmt *s;
	uint32_t *uids = NULL;
	size_t n = 0, cap = 0;
	int rc, r = 0;

	pthread_mutex_lock(&st->lock);
	s = stmt(st, S_MSG_UIDS);
	if (!s) {
		r = db_errno(st, sqlite3_errcode(st->db));
		goto out;
	}
	sqlite3_bind_int64(s, 1, folder);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((r = ARRAY_RESERVE(uids, n, cap)) < 0)
			break;
		uids[n++] = (uint32_t)sqlite3_column_int64(s, 0);
	}
	if (!r && rc != SQLITE_DONE)
		r = db_errno(st, rc);
	sqlite3_reset(s);
out:
	pthread_mutex_unlock(&st->lock);
	if (r) {
		free(uids);
		return r;
	}
	*uids_r = uids;
	*n_r = n;
	return 0;
}

int store_msg_stats(struct store *st, int64_t folder, struct store_stats *stats_r)
{
	sqlite3_stmt *s;
	int rc, r = 0;

	pthread_mutex_lock(&st->lock);
	s = stmt(st, S_MSG_COUNT);
	if (!s) {
		r = db_errno(st, sqlite3_errcode(st->db));
	} else {
		sqlite3_bind_int64(s, 1, folder);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			stats_r->count = (uint64_t)sqlite3_column_int64(s, 0);
			stats_r->bytes = (uint64_t)sqlite3_column_int64(s, 1);
			stats_r->max_uid = (uint32_t)sqlite3_column_int64(s, 2);
		} else {
			r = db_errno(st, rc);
		}
		sqlite3_reset(s);
	}
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_msg_stats_all(struct store *st, struct store_folder_stats **all_r, size_t *n_r)
{
	struct store_folder_stats *all = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *s;
	int rc, r = 0;

	pthread_mutex_lock(&st->lock);
	s = stmt(st, S_MSG_COUNT_ALL);
	if (!s) {
		r = db_errno(st, sqlite3_errcode(st->db));
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (ARRAY_RESERVE(all, n + 1, cap) < 0) {
			r = -ENOMEM;
			break;
		}
		all[n].folder = sqlite3_column_int64(s, 0);
		all[n].stats.count = (uint64_t)sqlite3_column_int64(s, 1);
		all[n].stats.bytes = (uint64_t)sqlite3_column_int64(s, 2);
		all[n].stats.max_uid = (uint32_t)sqlite3_column_int64(s, 3);
		n++;
	}
	if (!r && rc != SQLITE_DONE)
		r = db_errno(st, rc);
	sqlite3_reset(s);
out:
	pthread_mutex_unlock(&st->lock);
	if (r < 0) {
		free(all);
		return r;
	}
	*all_r = all;
	*n_r = n;
	return 0;
}

/* ---- views ------------------------------------------------------------------ */

int store_structure_get(struct store *st, int64_t folder, uint32_t uid, char **text_r)
{
	sqlite3_stmt *s;
	int rc, r = 0;

	*text_r = NULL;
	pthread_mutex_lock(&st->lock);
	s = stmt(st, S_STRUCT_GET);
	if (!s) {
		r = db_errno(st, sqlite3_errcode(st->db));
	} else {
		sqlite3_bind_int64(s, 1, folder);
		sqlite3_bind_int64(s, 2, uid);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			*text_r = strdup((const char *)sqlite3_column_text(s, 0));
			if (!*text_r)
				r = -ENOMEM;
		} else {
			r = rc == SQLITE_DONE ? -ENOENT : db_errno(st, rc);
		}
		sqlite3_reset(s);
	}
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_structure_put(struct store *st, int64_t folder, uint32_t uid, const char *text)
{
	sqlite3_stmt *s;
	int rc, r = 0;

	pthread_mutex_lock(&st->lock);
	s = stmt(st, S_STRUCT_PUT);
	if (!s) {
		r = db_errno(st, sqlite3_errcode(st->db));
	} else {
		sqlite3_bind_int64(s, 1, folder);
		sqlite3_bind_int64(s, 2, uid);
		sqlite3_bind_text(s, 3, text, -1, SQLITE_STATIC);
		rc = sqlite3_step(s);
		if (rc != SQLITE_DONE)
			r = db_errno(st, rc);
		else if (sqlite3_changes(st->db) == 0)
			r = -ENOENT;
		sqlite3_reset(s);
	}
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* One part's number, made when new; st->lock held. */
static int part_id(struct store *st, int64_t folder, uint32_t uid, const char *section,
                   int64_t *id_r)
{
	sqlite3_stmt *add = stmt(st, S_PART_ADD), *get = stmt(st, S_PART_ID);
	int rc;

	if (!add || !get)
		return db_errno(st, sqlite3_errcode(st->db));
	sqlite3_bind_int64(add, 1, folder);
	sqlite3_bind_int64(add, 2, uid);
	sqlite3_bind_text(add, 3, section, -1, SQLITE_STATIC);
	rc = sqlite3_step(add);
	sqlite3_reset(add);
	if (rc != SQLITE_DONE)
		return db_errno(st, rc);
	sqlite3_bind_int64(get, 1, folder);
	sqlite3_bind_int64(get, 2, uid);
	sqlite3_bind_text(get, 3, section, -1, SQLITE_STATIC);
	rc = sqlite3_step(get);
	if (rc == SQLITE_ROW)
		*id_r = sqlite3_column_int64(get, 0);
	sqlite3_reset(get);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_errno(st, rc);
}

int store_part_ids(struct store *st, int64_t folder, uint32_t uid,
                   const char *const *sections, size_t n, int64_t *ids_r)
{
	int r = 0;

	pthread_mutex_lock(&st->lock);
	if ((r = begin(st)) == 0) {
		for (size_t i = 0; i < n && r == 0; i++)
			r = part_id(st, folder, uid, sections[i], &ids_r[i]);
		r = finish(st, r);
	}
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_part_get(struct store *st, int64_t id, int64_t *folder_r, uint32_t *uid_r,
                   char **section_r)
{
	sqlite3_stmt *s;
	int rc, r = 0;

	*section_r = NULL;
	pthread_mutex_lock(&st->lock);
	s = stmt(st, S_PART_GET);
	if (!s) {
		r = db_errno(st, sqlite3_errcode(st->db));
	} else {
		sqlite3_bind_int64(s, 1, id);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			*folder_r = sqlite3_column_int64(s, 0);
			*uid_r = (uint32_t)sqlite3_column_int64(s, 1);
			*section_r = strdup((const char *)sqlite3_column_text(s, 2));
			if (!*section_r)
				r = -ENOMEM;
		} else {
			r = rc == SQLITE_DONE ? -ENOENT : db_errno(st, rc);
		}
		sqlite3_reset(s);
	}
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* ---- POP3 ------------------------------------------------------------------- */

int store_pop3_get(struct store *st, const char *uidl, uint32_t *uid_r, int *state_r)
{
	sqlite3_stmt *s;
	int rc, r;

	pthread_mutex_lock(&st->lock);
	s = stmt(st, S_POP3_GET);
	if (!s) {
		r = db_errno(st, sqlite3_errcode(st->db));
	} else {
		sqlite3_bind_text(s, 1, uidl, -1, SQLITE_STATIC);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			*uid_r = (uint32_t)sqlite3_column_int64(s, 0);
			*state_r = sqlite3_column_int(s, 1);
			r = 0;
		} else {
			r = rc == SQLITE_DONE ? -ENOENT : db_errno(st, rc);
		}
		sqlite3_reset(s);
	}
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_pop3_reserve(struct store *st, const char *uidl, uint32_t *uid_r)
{
	sqlite3_stmt *s;
	int r, state;

	pthread_mutex_lock(&st->lock);
	s = stmt(st, S_POP3_RESERVE);
	if (s)
		sqlite3_bind_text(s, 1, uidl, -1, SQLITE_STATIC);
	r = exec(st, s);
	pthread_mutex_unlock(&st->lock);
	if (r == 0)
		r = store_pop3_get(st, uidl, uid_r, &state);
	return r;
}

int store_pop3_stored(struct store *st, int64_t folder, const struct store_msg *msg)
{
	sqlite3_stmt *s;
	int r;

	pthread_mutex_lock(&st->lock);
	r = begin(st);
	if (r == 0)
		r = msg_put(st, folder, msg);
	if (r == 0) {
		s = stmt(st, S_POP3_SET);
		if (s) {
			sqlite3_bind_int(s, 1, STORE_POP3_STORED);
			sqlite3_bind_text(s, 2, msg->uidl, -1, SQLITE_STATIC);
		}
		r = exec(st, s);
	}
	r = finish(st, r);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_pop3_set_state(struct store *st, const char *uidl, int state)
{
	sqlite3_stmt *s;
	int r;

	pthread_mutex_lock(&st->lock);
	s = stmt(st, S_POP3_SET);
	if (s) {
		sqlite3_bind_int(s, 1, state);
		sqlite3_bind_text(s, 2, uidl, -1, SQLITE_STATIC);
	}
	r = exec(st, s);
	if (r == 0 && sqlite3_changes(st->db) == 0)
		r = -ENOENT;
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_pop3_drop_reserved(struct store *st, void (*cb)(void *ctx, uint32_t uid), void *ctx)
{
	sqlite3_stmt *s;
	char **uidls = NULL;
	size_t n = 0, cap = 0;
	int rc, r = 0;

	pthread_mutex_lock(&st->lock);
	s = stmt(st, S_POP3_LIST_STATE);
	if (!s) {
		r = db_errno(st, sqlite3_errcode(st->db));
		goto out;
	}
	sqlite3_bind_int(s, 1, STORE_POP3_RESERVED);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((r = ARRAY_RESERVE(uidls, n, cap)) < 0)
			break;
		uidls[n] = strdup(col_text(s, 0) ? col_text(s, 0) : "");
		if (!uidls[n]) {
			r = -ENOMEM;
			break;
		}
		n++;
		cb(ctx, (uint32_t)sqlite3_column_int64(s, 1));
	}
	sqlite3_reset(s);
	for (size_t i = 0; r == 0 && i < n; i++) {
		s = stmt(st, S_POP3_DEL);
		if (s)
			sqlite3_bind_text(s, 1, uidls[i], -1, SQLITE_STATIC);
		r = exec(st, s);
	}
out:
	pthread_mutex_unlock(&st->lock);
	for (size_t i = 0; i < n; i++)
		free(uidls[i]);
	free(uidls);
	return r;
}

int store_names_version(struct store *st)
{
	sqlite3_stmt *s;
	int v = 1;

	pthread_mutex_lock(&st->lock);
	s = stmt(st, S_NAMES_GET);
	if (s && sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	if (s)
		sqlite3_reset(s);
	pthread_mutex_unlock(&st->lock);
	return v;
}

struct renamed {
	int64_t folder;
	uint32_t uid;
	char *name;
};

int store_names_rename(struct store *st, int version,
                       char *(*cb)(void *ctx, uint32_t uid, const char *name), void *ctx)
{
	struct renamed *list = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *s;
	int r = 0, rc;

	pthread_mutex_lock(&st->lock);
	/* Read all first: the rows are not changed under a running SELECT. */
	s = stmt(st, S_NAMES_ALL);
	if (!s) {
		r = db_errno(st, sqlite3_errcode(st->db));
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(s, 2);
		uint32_t uid = (uint32_t)sqlite3_column_int64(s, 1);
		char *nn = name ? cb(ctx, uid, name) : NULL;

		if (!nn)
			continue;
		if ((r = ARRAY_RESERVE(list, n, cap)) < 0) {
			free(nn);
			break;
		}
		list[n++] = (struct renamed){ sqlite3_column_int64(s, 0), uid, nn };
	}
	if (!r && rc != SQLITE_DONE)
		r = db_errno(st, rc);
	sqlite3_reset(s);
	if (r == 0 && (r = begin(st)) == 0) {
		for (size_t i = 0; r == 0 && i < n; i++) {
			s = stmt(st, S_NAMES_ONE);
			if (s) {
				sqlite3_bind_text(s, 1, list[i].name, -1, SQLITE_STATIC);
				sqlite3_bind_int64(s, 2, list[i].folder);
				sqlite3_bind_int64(s, 3, list[i].uid);
			}
			r = exec(st, s);
		}
		if (r == 0) {
			s = stmt(st, S_NAMES_SET);
			if (s)
				sqlite3_bind_int(s, 1, version);
			r = exec(st, s);
		}
		r = finish(st, r);
	}
out:
	pthread_mutex_unlock(&st->lock);
	for (size_t i = 0; i < n; i++)
		free(list[i].name);
	free(list);
	return r;
}
