/* face.h - the FUSE face of the mount: requests and replies (ops.c), files
 * being written and the names that keep resolving after a copy (write.c,
 * names.c), and kernel notifications (notify.c). The mail itself lives in
 * the engine (fs/engine/engine.h); the face only turns its folders and
 * messages into inodes and its answers into replies.
 *
 * Inodes are computed, not allocated: a folder's directory is
 * (folder id << 32) and a message is (folder id << 32 | UID). Folder ids are
 * never reused, so an inode number always denotes the same immutable
 * message, and the kernel may cache its attributes and pages for as long as
 * it likes. Only inodes of files being written (folder part 0) carry state.
 *
 * Ownership: all memory belongs to its creator unless stated otherwise.
 */
#ifndef MAILFS_FACE_H
#define MAILFS_FACE_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include "fs/engine/engine.h"
#include "fs/engine/layout.h"

struct store_msg;

#define INO_ROOT    ((fuse_ino_t)1)
#define INO_STATUS  ((fuse_ino_t)2)
#define STATUS_NAME LAYOUT_STATUS_NAME
/* The views of SPEC §9 (views.c): .mailfs, .mailfs/text, .mailfs/parts. */
#define INO_VIEWS       ((fuse_ino_t)3)
#define INO_VIEWS_TEXT  ((fuse_ino_t)4)
#define INO_VIEWS_PARTS ((fuse_ino_t)5)
#define INO_VIEWS_SEARCH ((fuse_ino_t)6)
#define VIEWS_NAME LAYOUT_VIEWS_NAME

static inline fuse_ino_t ino_folder(int64_t id) { return (fuse_ino_t)id << 32; }
static inline fuse_ino_t ino_msg(int64_t id, uint32_t uid) { return ((fuse_ino_t)id << 32) | uid; }
static inline int64_t ino_folder_id(fuse_ino_t ino) { return (int64_t)(ino >> 32); }
static inline uint32_t ino_uid(fuse_ino_t ino) { return (uint32_t)ino; }
/* A directory named by folder id (0: the root). */
static inline fuse_ino_t ino_dir(int64_t id) { return id ? ino_folder(id) : INO_ROOT; }

/* Inodes of the views carry a kind in their top 3 bits: the text view of a
 * folder (uid 0) or of a message, the parts view of a folder (uid 0) or of
 * a message (its directory), or a part (by its number in the store, which
 * is never used again). Folder ids of the views must stay below 2^29. */
enum view_kind { VIEW_NONE = 0, VIEW_TEXT = 1, VIEW_PARTS = 2, VIEW_PART = 3, VIEW_SEARCH = 4 };
#define VIEW_FOLDER_LIMIT ((int64_t)1 << 29)
static inline enum view_kind ino_view(fuse_ino_t ino) { return (enum view_kind)(ino >> 61); }
static inline fuse_ino_t ino_view_msg(enum view_kind k, int64_t folder, uint32_t uid)
{
	if (!folder && !uid)
		return k == VIEW_TEXT ? INO_VIEWS_TEXT : INO_VIEWS_PARTS;
	return ((fuse_ino_t)k << 61) | ((fuse_ino_t)folder << 32) | uid;
}
static inline int64_t ino_view_folder(fuse_ino_t ino)
{
	return ino < 16 ? 0 : (int64_t)((ino >> 32) & (VIEW_FOLDER_LIMIT - 1));
}
static inline fuse_ino_t ino_part(int64_t id) { return ((fuse_ino_t)VIEW_PART << 61) | (fuse_ino_t)id; }
static inline int64_t ino_part_id(fuse_ino_t ino) { return (int64_t)(ino & (((fuse_ino_t)1 << 61) - 1)); }
/* A search directory (searchdir.c): query number (search_query()) in bits
 * 29-60, the folder (0: the query's top) below. */
#define SEARCH_FOLDER_LIMIT VIEW_FOLDER_LIMIT
static inline fuse_ino_t ino_search(uint32_t query, int64_t folder)
{
	return ((fuse_ino_t)VIEW_SEARCH << 61) | ((fuse_ino_t)query << 29) | (fuse_ino_t)folder;
}
static inline uint32_t ino_search_query(fuse_ino_t ino) { return (uint32_t)(ino >> 29); }
static inline int64_t ino_search_folder(fuse_ino_t ino)
{
	return (int64_t)(ino & (SEARCH_FOLDER_LIMIT - 1));
}
static inline int searchdir_is_ino(fuse_ino_t ino)
{
	return ino_view(ino) == VIEW_SEARCH || ino == INO_VIEWS_SEARCH;
}
static inline int views_is_ino(fuse_ino_t ino)
{
	return ino_view(ino) != VIEW_NONE || (ino >= INO_VIEWS && ino <= INO_VIEWS_SEARCH);
}

/* Set up by main.c before the session serves requests or the notify
 * thread starts, and only read afterwards; the tables lock inside. */
struct face {
	struct engine *m;
	struct fuse_session *se;
	uid_t uid;                  /* owner of every file */
	gid_t gid;
	struct write_table *writes; /* files being written (write.c) */
	struct alias_table *aliases;/* names kept resolving (names.c) */
	struct notify_queue *notify;/* (notify.c) */
};

/* ---- ops.c ------------------------------------------------------------------ */
/* The low-level operations; the session's userdata is the struct face. */
extern const struct fuse_lowlevel_ops fs_ops;

/* What the handlers of ops.c and views.c share. */
#define TTL_LONG 86400.0     /* immutable messages, and anything we invalidate */
#define TTL_NEGATIVE 1.0     /* a name that does not exist (yet) */
#define TTL_GUESS 1.0        /* a size that is only an upper bound (views.c) */

/* The one place where an error of the engine becomes what the program sees
 * (negative errno in, positive out): what the server refused keeps its
 * errno (EDQUOT, EFBIG, ENOENT, EEXIST, EACCES, EPERM, ENOTEMPTY); trouble
 * with the network or the server's data is an I/O error. */
int face_errno(int r);
void face_reply_err(fuse_req_t req, int r);
/* A directory's attributes. */
void face_dir_attr(struct face *fc, fuse_ino_t ino, int nsub, time_t mtime, struct stat *st);
/* Answer getxattr/listxattr with LEN bytes of V for a buffer of SIZE. */
void face_reply_xattr(fuse_req_t req, const char *v, size_t len, size_t size);

/* ... of a directory of the views: read-only. */
void face_ro_dir_attr(struct face *fc, fuse_ino_t ino, int nsub, time_t mtime, struct stat *st);
/* A regular file's attributes, owned by the mounting user. */
void face_file_attr(struct face *fc, fuse_ino_t ino, mode_t perm, uint64_t size, time_t date,
                    struct stat *st);
/* A message's attributes (the same in its folder and in a search). */
void face_msg_attr(struct face *fc, int64_t folder, const struct store_msg *msg,
                   struct stat *st);
/* The attributes of message UID of FOLDER, when it is named NAME (any name
 * when NULL): 0, -ENOENT, or the store's error. */
int face_msg_stat(struct face *fc, int64_t folder, uint32_t uid, const char *name,
                  struct stat *st);

/* Directory offsets of the root and of a folder (ops.c, dirlist.c): what
 * readdir resumes from, the same for every open of the directory (the
 * kernel's readdir cache may continue a listing on another handle). After
 * "." 1, after ".." 2; after subdirectory ID, DIR_OFF_SUB + ID (folder ids
 * stay below 2^32, see ino_folder()); after message UID, DIR_OFF_MSGS +
 * UID; in the root, after the status file DIR_OFF_MSGS + 1 and after
 * .mailfs DIR_OFF_MSGS + 2. */
#define DIR_OFF_SUB  ((off_t)3)
#define DIR_OFF_MSGS ((off_t)1 << 33)

/* A readdir reply being filled. */
struct dirbuf {
	fuse_req_t req;
	char *buf;
	size_t size, used;
	int plus;               /* readdirplus: entries with attributes */
	int full;               /* an entry did not fit: the reply is complete */
};
/* Add NAME with ST (and TTL, readdirplus) to B; NEXT is the offset to
 * resume after it. 1 when it fit, 0 when B is full. */
int dirbuf_add(struct dirbuf *b, const char *name, const struct stat *st, double ttl,
               off_t next);
/* The messages of FOLDER after directory offset OFF (from the first when
 * OFF <= DIR_OFF_MSGS), as many as fit in B, read from the store in one
 * bounded query: 0 or the store's error. */
int dirlist_msgs(struct face *fc, int64_t folder, off_t off, struct dirbuf *b);

/* A directory listing as one snapshot, taken at the start of a pass: the
 * views and search directories (views.c, searchdir.c). */
struct dent {
	char *name;
	struct stat st;
	double ttl;
};

struct dirsnap {
	struct dent *e;
	size_t n, cap;
	int built;
	int err;
	/* A folder's directory of the text or parts view: its messages follow
	 * the entries above, streamed (views_list_msgs); 0 for none. */
	int64_t stream_folder;
	enum view_kind stream_kind;
};
/* A new entry NAME (its st and ttl to fill in), or NULL on ENOMEM. */
struct dent *face_snap_add(struct dirsnap *d, const char *name);

/* ---- views.c: SPEC §9's views, read-only ----------------------------------- */

/* Each works on an inode for which views_is_ino() holds (lookup: a parent,
 * or ".mailfs" in the root), and returns 0 or a negative errno. */
int views_lookup(struct face *fc, fuse_ino_t parent, const char *name,
                 struct fuse_entry_param *e);
int views_getattr(struct face *fc, fuse_ino_t ino, struct stat *st, double *ttl_r);
int views_opendir(struct face *fc, fuse_ino_t ino);
int views_snap(struct face *fc, fuse_ino_t ino, struct dirsnap *d);
/* The messages of D->stream_folder after offset OFF (from the first when
 * below DIR_OFF_MSGS), as many as fit in B. */
int views_list_msgs(struct face *fc, const struct dirsnap *d, off_t off, struct dirbuf *b);
/* Answers the read itself. */
void views_read(struct face *fc, fuse_req_t req, fuse_ino_t ino, size_t size, off_t off);
/* user.mail.content_type of a part: its length into *len_r. */
int views_getxattr(struct face *fc, fuse_ino_t ino, const char *name, char *buf, size_t size,
                   size_t *len_r);
int views_listxattr(struct face *fc, fuse_ino_t ino, char *buf, size_t size, size_t *len_r);

/* ---- searchdir.c: SPEC §9's search directories, under .mailfs/search ------ */

/* For an inode for which searchdir_is_ino() holds (lookup: a parent). */
int searchdir_lookup(struct face *fc, fuse_ino_t parent, const char *name,
                     struct fuse_entry_param *e);
int searchdir_getattr(struct face *fc, fuse_ino_t ino, struct stat *st);
int searchdir_opendir(struct face *fc, fuse_ino_t ino);
int searchdir_snap(struct face *fc, fuse_ino_t ino, struct dirsnap *d);

/* ---- notify.c: kernel cache invalidation ----------------------------------- */

/* Queue an invalidation; it is sent from a thread of its own, because
 * sending it from a request handler of the same inode can deadlock. */
void notify_entry(struct face *fc, fuse_ino_t parent, const char *name);
void notify_inode(struct face *fc, fuse_ino_t ino, off_t off, off_t len);
/* Wait (at most a second) until what was queued so far reached the
 * kernel: an operation whose effect shows under another name (APPEND) then
 * answers only when `ls` shows it. */
void notify_sync(struct face *fc);
/* Give the engine its struct engine_tell (before the engine does
 * anything); until notify_start(), what it tells is dropped. */
void notify_attach(struct face *fc);
int notify_start(struct face *fc);
void notify_stop(struct face *fc);

#endif
