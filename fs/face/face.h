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

#define INO_ROOT    ((fuse_ino_t)1)
#define INO_STATUS  ((fuse_ino_t)2)
#define STATUS_NAME ".mailfs-status"

static inline fuse_ino_t ino_folder(int64_t id) { return (fuse_ino_t)id << 32; }
static inline fuse_ino_t ino_msg(int64_t id, uint32_t uid) { return ((fuse_ino_t)id << 32) | uid; }
static inline int64_t ino_folder_id(fuse_ino_t ino) { return (int64_t)(ino >> 32); }
static inline uint32_t ino_uid(fuse_ino_t ino) { return (uint32_t)ino; }
/* A directory named by folder id (0: the root). */
static inline fuse_ino_t ino_dir(int64_t id) { return id ? ino_folder(id) : INO_ROOT; }

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
