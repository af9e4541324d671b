/* engine.h - the mail engine: folders, sync, changes, downloads, APPEND,
 * prefetch, the cache limit and the status text, behind the FUSE face
 * (fs/face/) and above the drivers (drivers/). FUSE-free: the engine names
 * folders by id and messages by (folder id, UID), and tells the face what
 * changed through struct engine_tell; the face turns that into inode
 * numbers and kernel notifications.
 *
 * Ownership: all memory belongs to its creator unless stated otherwise.
 * Folder objects are never freed while mounted (a folder removed on the
 * server is only marked gone), so a pointer to one stays valid. Folder ids
 * are never reused (a UIDVALIDITY change gives the folder a new id).
 */
#ifndef MAILFS_ENGINE_H
#define MAILFS_ENGINE_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "fs/options.h"
#include "fs/engine/drivers/driver.h"

struct store;
struct body_cache;
struct tls_ctx;
struct engine;
struct fetch;

/* What the engine tells the face: something the kernel may have cached is
 * no longer true. Directories are named by folder id, 0 for the root. Any
 * thread may call these, with no engine lock held. */
struct engine_tell {
	void *ctx;
	/* NAME in directory DIR no longer means what it meant. */
	void (*entry)(void *ctx, int64_t dir, const char *name);
	/* The listing (or the attributes) of directory DIR changed. */
	void (*dir)(void *ctx, int64_t dir);
	/* The size of message FOLDER/UID is not what was said. */
	void (*msg)(void *ctx, int64_t folder, uint32_t uid);
	/* Return once what was told so far reached the kernel (bounded). */
	void (*sync)(void *ctx);
};

/* One directory of the tree: a server folder, or a directory only implied
 * by the name of a folder below it. */
struct folder {
	int64_t id;             /* fixed at creation */

	/* Protected by mfs.tree_lock (see there); read without it through
	 * the folder_*() accessors below. */
	char *server;           /* wire name; NULL for an implied directory */
	char delim;
	int64_t parent;         /* folder id, 0 for the root */
	char *name;             /* directory name */
	unsigned flags;         /* STORE_FOLDER_* */
	int gone;               /* removed from the server or renewed */
	int nsub;               /* live subdirectories */
	struct folder *kids;    /* the first of them */
	struct folder *next_sib, *prev_sib;   /* the parent's other ones */
	struct folder *hnext;   /* hash chain of mfs.byname */
	int mark;               /* scratch of the thread holding mfs.tree_change */

	time_t mtime;           /* directory mtime, the last change seen: atomic
	                           (folder_mtime(), folder_touch()) */

	/* Protected by lock. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int syncing;            /* a sync runs now */
	int synced;             /* synced at least once since mounting */
	int wanted;             /* looked at since mounting: keep it fresh */
	int unchanged;          /* the poll round's STATUS matched the last sync */
	time_t last_sync;       /* last successful sync */
	int last_error;         /* of the last sync, 0 if it worked */
	uint32_t uidvalidity, uidnext;
	uint64_t modseq;
	int has_cache;          /* the store holds a listing from before */
	int listing;            /* a first listing (nothing cached) is being
	                           fetched for a reader (folder_open) */
	uint32_t listed_upto;   /* during it: every message up to this UID is
	                           in the store (UID FETCH 1:* answers in UID
	                           order) */
	/* UIDs that left the server lately. A UID is never used again within
	 * a UIDVALIDITY, so a sync that saw one before it left (on another
	 * connection) must not put it back (folder_forgotten()). A ring. */
	uint32_t gone_uids[256];
	unsigned ngone;
};

/* The tree fields of a folder read without tree_lock: a snapshot, which
 * may be out of date by the time it is used (a folder renamed or removed
 * meanwhile; its old strings stay valid until unmount). tree.c writes these
 * fields with atomic stores under tree_lock. */
static inline int folder_gone(const struct folder *f)
{
	return __atomic_load_n(&f->gone, __ATOMIC_ACQUIRE);
}
static inline const char *folder_server(const struct folder *f)
{
	return __atomic_load_n(&f->server, __ATOMIC_ACQUIRE);
}
static inline const char *folder_name(const struct folder *f)
{
	return __atomic_load_n(&f->name, __ATOMIC_ACQUIRE);
}
static inline unsigned folder_flags(const struct folder *f)
{
	return __atomic_load_n(&f->flags, __ATOMIC_ACQUIRE);
}
static inline int64_t folder_parent(const struct folder *f)
{
	return __atomic_load_n(&f->parent, __ATOMIC_ACQUIRE);
}
static inline time_t folder_mtime(const struct folder *f)
{
	return __atomic_load_n(&f->mtime, __ATOMIC_RELAXED);
}
/* The directory's content changed now. */
static inline void folder_touch(struct folder *f)
{
	__atomic_store_n(&f->mtime, time(NULL), __ATOMIC_RELAXED);
}

struct engine {
	/* Set by engine_init/engine_open before any other thread exists, and
	 * only read afterwards (the store, the bodies and the driver lock
	 * inside themselves). */
	struct mfs_options *opt;
	const struct driver *driver;    /* chosen by the URL's scheme */
	void *drv;                      /* the driver's state */
	struct store *store;
	struct body_cache *bodies;
	struct tls_ctx *tls;
	struct engine_tell tell;
	time_t mount_time;
	char *secret;                   /* password or token; wiped at exit */
	int offline_start;              /* the server could not be reached at mount
	                                   time: the tree comes from the cache */

	/* The folder tree (tree.c). tree_change lets one thread at a time
	 * change it; that thread takes tree_lock for writing only for the
	 * moment it changes a field below or a folder's tree fields. So these
	 * are read under tree_lock, or by the thread holding tree_change. */
	pthread_mutex_t tree_change;
	pthread_rwlock_t tree_lock;
	struct folder **folders;    /* by ascending id; gone ones too */
	size_t nfolders, capfolders;
	struct folder **byname;     /* hash of live folders by (parent, name) */
	size_t nbyname;             /* buckets, a power of 2 */
	size_t nlive;
	struct folder *top;         /* live top-level directories */
	int ntop;                   /* their number */
	char **retired;             /* old folder names, freed at unmount */
	size_t nretired, capretired;
	uint64_t *warned;           /* hashes of folders warned about (tree_change only) */
	size_t nwarned;
	int said_too_many;          /* TREE_MAX_FOLDERS was logged (atomic) */

	/* Set by engine_start before the threads that use them start. */
	struct fetch_table *fetches;
	struct poll_worker *poll;       /* atomic pointer (poll.c) */

	struct prefetcher *prefetch;
	struct view_table *views;       /* set by engine_init (view.c) */
	struct search_table *searches;  /* set by engine_init (search.c) */
	/* Listings a program waits for right now: downloads pause meanwhile
	 * (fetch.c), so that on a busy machine `ls` is not held up by a
	 * large body. */
	int waiting_listings;       /* atomic (__atomic builtins) */

	/* First listings run by threads of their own (folder_open). */
	pthread_mutex_t listings_lock;
	struct listing_thread *listings;  /* protected by listings_lock */
	int listings_stopped;       /* no new ones; protected by listings_lock */

	pthread_mutex_t status_lock;
	uint64_t cache_bytes;       /* bodies in the cache; protected by status_lock */
	int cache_counted;          /* cache_bytes is known; protected by status_lock */
	char prefetch_state[128];   /* protected by status_lock */
	char poll_state[160];       /* the last poll round; protected by status_lock */
	char last_error[256];       /* protected by status_lock */
	time_t last_error_time;     /* protected by status_lock */
	int online;                 /* protected by status_lock */
};

/* ---- engine.c: the engine's life ---------------------------------------------- */

/* Set up M for OPT with DRIVER: the cache (store, bodies), TLS, the tree
 * from the cache; M takes SECRET (wiped and freed by engine_free). ERR gets
 * one line. */
int engine_init(struct engine *m, struct mfs_options *opt, const struct driver *driver,
                char *secret, char *err, size_t errlen);
/* Log in once (a wrong password or host fails here), or come up offline
 * from the cache when the network is the trouble; then list the folders. */
int engine_open(struct engine *m, char *err, size_t errlen);
/* Background work (downloads, syncs, the driver's, prefetch), once mounted. */
int engine_start(struct engine *m);
/* Stop it, producers of work first; then free everything. */
void engine_stop(struct engine *m);
void engine_free(struct engine *m);

/* ---- tree.c: the folder table ------------------------------------------- */

/* A server may list at most this many folders, each at most this deep:
 * past them folders are left out with a log line (issue 11: a hostile
 * LIST must not make the mount hang or grow without bound). */
#define TREE_MAX_FOLDERS 100000
#define TREE_MAX_DEPTH 64
#define TREE_MAX_DEPTH_TEXT "64"

/* Ask the driver for the folder list and make the tree match it
 * (tree_sync), keeping to TREE_MAX_FOLDERS; with WATCH (N folders) the
 * driver reports their state too (driver_folder_status). Returns the
 * round trips it took, or a negative errno. */
int tree_refresh(struct engine *m, const struct driver_folder *watch, size_t n);
/* Load the folders of the store; message names made under older rules
 * (LAYOUT_NAMES_VERSION) are made again first. */
int tree_load(struct engine *m);
/* Free the table at unmount. */
void tree_free(struct engine *m);
/* The folder with id ID (gone ones too), or NULL. */
struct folder *tree_get(struct engine *m, int64_t id);
/* The live child named NAME of directory PARENT (0: root), or NULL. */
struct folder *tree_child(struct engine *m, int64_t parent, const char *name);
/* Call cb for every live child of PARENT, with tree_lock held for reading;
 * _locked: the caller holds it. */
void tree_children(struct engine *m, int64_t parent,
                   void (*cb)(void *ctx, struct folder *f), void *ctx);
void tree_children_locked(struct engine *m, int64_t parent,
                          void (*cb)(void *ctx, struct folder *f), void *ctx);

/* A folder as the server lists it. */
struct tree_entry {
	const char *server;     /* wire name */
	char delim;
	unsigned flags;         /* STORE_FOLDER_NOSELECT / NOINFERIORS */
};
/* Make the tree match the server's list: add, update and remove folders
 * (with their cached messages and bodies), adding implied parents, and
 * tell the kernel. */
int tree_sync(struct engine *m, const struct tree_entry *entries, size_t n);
/* The live folder at directory path PATH ("Archive/2024"), or NULL. */
struct folder *tree_by_path(struct engine *m, const char *path);
/* The live folder the server marks with ROLE (the first in tree order),
 * or NULL. */
struct folder *tree_by_role(struct engine *m, enum driver_role role);
/* F's role (RFC 6154), and a role's name ("\\Trash"; NULL for none or an
 * unknown name). folder_role_parse: the role NAME names, or DRIVER_ROLE_NONE. */
enum driver_role folder_role(const struct folder *f);
const char *folder_role_name(enum driver_role role);
enum driver_role folder_role_parse(const char *name);
/* The wire name a new folder DIRNAME below PARENT (0: root) gets: -EINVAL
 * when the name could not come back the same from the server. */
int tree_server_name(struct engine *m, int64_t parent, const char *dirname, char **server_r);
/* F was renamed on the server to SERVER, now directory NAME below PARENT;
 * its subfolders follow. Ids (and so inodes and cache) are kept. */
int tree_rename(struct engine *m, struct folder *f, int64_t parent, const char *name,
                const char *server);
/* Give folder F a fresh id after a UIDVALIDITY change: the old folder is
 * marked gone, its cache dropped; returns the new folder. */
struct folder *tree_renew(struct engine *m, struct folder *f);
/* Forget all content of F (messages, bodies). */
void tree_drop_content(struct engine *m, struct folder *f);

/* ---- folder.c: keeping folders fresh ----------------------------------------- */

/* Make sure F has a listing to show: sync it now if there is none, or
 * start a background revalidation of a cached listing once per mount.
 * Returns 0 or a negative errno (the sync failed and nothing is cached). */
int folder_ensure(struct engine *m, struct folder *f);
/* folder_ensure() for a reader of F's listing (opendir), which does not
 * wait for a first listing: that is fetched by a thread of its own, and
 * readdir lists what is stored so far (folder_listing, folder_listed).
 * Returns 0 or a negative errno (no thread could be started and the sync
 * failed). */
int folder_open(struct engine *m, struct folder *f);
/* For readdir of F after folder_open(): 1 while its first listing is being
 * fetched (every message up to UID *upto_r is in the store; folder_listed()
 * waits for more), 0 when the store holds its listing, or the error that
 * ended a first listing that failed with nothing cached. */
int folder_listing(struct folder *f, uint32_t *upto_r);
/* Wait until F's first listing stored messages above UID UPTO, or ended;
 * then as folder_listing(). Bounded by the sync's own timeouts. */
int folder_listed(struct folder *f, uint32_t upto);
/* At unmount: wait for the first listings still running. */
void folder_listings_stop(struct engine *m);
/* Sync F now, or wait for a sync already running. */
int folder_sync(struct engine *m, struct folder *f);
/* Sync F soon, in the background. */
void folder_sync_later(struct engine *m, struct folder *f);
/* F as the driver sees it: id, wire name, directory name and UIDVALIDITY
 * now (the strings stay valid until unmount). */
struct driver_folder folder_view(struct engine *m, struct folder *f);
/* Whether UID of F left the server lately (change_forget); f->lock held. */
int folder_forgotten(const struct folder *f, uint32_t uid);

/* ---- poll.c: the background thread ---------------------------------------------- */

/* It runs queued syncs, and every `poll` seconds refreshes the folder list
 * and every folder looked at since mounting. */
int poll_start(struct engine *m);
void poll_stop(struct engine *m);
/* One poll round now, on the calling thread. */
void poll_once(struct engine *m);
/* Queue a sync of FOLDER, or (POLL_TREE) a refresh of the folder list;
 * -ENOENT when the thread does not run. */
#define POLL_TREE 0
int poll_enqueue(struct engine *m, int64_t folder);

/* ---- evict.c ---------------------------------------------------------------------- */

/* The cache_size limit (SPEC §1): count what downloads added, and evict
 * the least recently read bodies when over the limit (never when the cache
 * is the only copy). Returns the bytes of bodies in the cache. */
uint64_t evict_check(struct engine *m);

/* ---- fetch.c: the downloads (what the face and the drivers use of it is in
 * fetch.h) ------------------------------------------------------------------------ */

/* Queue background downloads (prefetch) of up to MAX uncached messages of
 * FOLDER with UIDs above AFTER; *last_r gets the highest UID looked at, to
 * go on from. Returns how many were queued, or a negative errno. */
int fetch_prefetch(struct engine *m, int64_t folder, uint32_t after, unsigned max,
                   uint32_t *last_r);
/* Downloads queued or running. */
int fetch_busy(struct engine *m);
/* Bytes published in the cache since the last call. */
uint64_t fetch_take_bytes(struct engine *m);

int fetch_start(struct engine *m, int nthreads);
void fetch_stop(struct engine *m);

/* ---- search.c: SPEC §9's search directories ------------------------------------ */

/* Different queries (directory names) one mount keeps at most. */
#define SEARCH_MAX_QUERIES 4096
int search_init(struct engine *m);
void search_free(struct engine *m);
/* The number (1, 2, ...) of the query whose directory is named NAME,
 * parsed the first time (net/search.h). -EINVAL: NAME is no query, or none
 * this mount can run (flags or X-GM-RAW without a server that searches);
 * -ENOSPC past SEARCH_MAX_QUERIES. */
int search_query(struct engine *m, const char *name, uint32_t *id_r);
/* Whether ID names a query (for an inode the kernel hands back). */
int search_known(struct engine *m, uint32_t id);
/* The UIDs of F's cached messages that match query ID, ascending, into
 * *UIDS_R (malloc'd, the caller frees): the server's answer, or the query
 * evaluated over the cache; reused until F changes or `poll` seconds
 * pass. */
int search_run(struct engine *m, uint32_t id, struct folder *f, uint32_t **uids_r,
               size_t *n_r);
/* Whether UID is among UIDS (N of them, ascending). */
int search_has(const uint32_t *uids, size_t n, uint32_t uid);

/* ---- view.c: SPEC §9's views of a message ---------------------------------- */

struct bs_part;
int view_init(struct engine *m);
void view_free(struct engine *m);
/* Bytes of views made since the last call (for the cache limit). */
uint64_t view_take_bytes(struct engine *m);
/* The MIME structure of UID of F: the store's, the cached body's, or the
 * server's BODYSTRUCTURE (kept). The caller frees it (bs_free). */
int view_structure(struct engine *m, struct folder *f, uint32_t uid, struct bs_part **root_r);
/* The text view of UID of F (made now when not in the cache, with the
 * next ones of F when they are read in order): a read-only descriptor. */
int view_text_open(struct engine *m, struct folder *f, uint32_t uid);
/* The size of the text view of FOLDER/UID: 1 and the exact size when it
 * was made, else 0 and an upper bound (from MSG_SIZE, the message's size,
 * and its structure when known), asking no server. */
int view_text_size(struct engine *m, int64_t folder, uint32_t uid, uint64_t msg_size,
                   uint64_t *size_r);
/* The parts view of a message: each leaf part, and each forwarded
 * message (dir), with the message it belongs to (owner: "" the message
 * itself, else the section of the message/rfc822 part). */
struct view_part {
	int64_t id;             /* never used again for another part (store) */
	char *section;          /* "1", "2.1" */
	char *owner;
	char *name;             /* file name: "2 report.pdf" (render_part_name) */
	char *type;             /* "application/pdf" */
	int dir;                /* a message/rfc822 part: a directory */
	int exact;              /* size is the part's decoded size (it was made) */
	uint64_t size;          /* else an upper bound: the size as sent */
};
int view_parts(struct engine *m, struct folder *f, uint32_t uid, struct view_part **parts_r,
               size_t *n_r);
void view_parts_free(struct view_part *parts, size_t n);
/* Part SECTION of UID of F with its transfer encoding undone (made now when
 * not in the cache): a read-only descriptor. */
int view_part_open(struct engine *m, struct folder *f, uint32_t uid, const char *section);

/* ---- prefetch.c ----------------------------------------------------------- */
int prefetch_start(struct engine *m);
void prefetch_stop(struct engine *m);

/* Telling the face (struct engine_tell). */
static inline void tell_entry(struct engine *m, int64_t dir, const char *name)
{
	m->tell.entry(m->tell.ctx, dir, name);
}
static inline void tell_dir(struct engine *m, int64_t dir)
{
	m->tell.dir(m->tell.ctx, dir);
}
static inline void tell_msg(struct engine *m, int64_t folder, uint32_t uid)
{
	m->tell.msg(m->tell.ctx, folder, uid);
}
static inline void tell_sync(struct engine *m)
{
	m->tell.sync(m->tell.ctx);
}

/* ---- status.c --------------------------------------------------------------- */
/* Remember ERR as the last error shown in the status file. */
void status_error(struct engine *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void status_online(struct engine *m, int online);
void status_prefetch(struct engine *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* In the foreground: a progress line on stderr (rewritten in place on a
 * terminal, an occasional line otherwise) while a first sync or a prefetch
 * runs; _done ends it, with a last line when FMT is not "". */
void status_progress(struct engine *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void status_progress_done(struct engine *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The text of the status file (SPEC §2): connection, capabilities,
 * folders, prefetch, last error; malloc'd, controls made visible. */
int status_render(struct engine *m, char **buf_r, size_t *len_r);


#endif
