/* write.h - files being written into the mount, as FUSE sees them (SPEC §2).
 *
 * create + write + close appends a message: the bytes go to an unnamed file
 * in the cache, and a flush (close) or fsync with bytes the server has not
 * seen hands them to the engine's APPEND (fs/engine/append.h); the server's
 * answer is what close() returns. The name the writer created keeps
 * resolving to what it wrote (for cp -p's and rsync's last steps:
 * utimensat, chmod, rename of the temporary name) without ever being listed:
 * `ls` shows the message under its derived name only (names.c keeps it
 * resolving after the kernel forgot the file).
 *
 * Such files have inodes of their own (folder part 0, from WRITE_INO_BASE),
 * which live until the kernel forgets them. Every function returns 0 (or a
 * count) or a negative errno.
 */
#ifndef MAILFS_WRITE_H
#define MAILFS_WRITE_H

#include "fs/face/face.h"

#define WRITE_INO_BASE 16

static inline int write_is_ino(fuse_ino_t ino)
{
	return ino_folder_id(ino) == 0 && ino >= WRITE_INO_BASE;
}

int write_init(struct face *fc);
void write_free(struct face *fc);

/* Create file NAME in folder F. */
int write_create(struct face *fc, struct folder *f, const char *name, struct fuse_entry_param *e);
/* Resolve NAME in folder FOLDER if it is a file being written (0, and a
 * kernel reference counted), or a name kept for a message (1: E->ino is set,
 * the caller fills in its attributes); -ENOENT if neither. */
int write_lookup(struct face *fc, int64_t folder, const char *name, struct fuse_entry_param *e);
int write_getattr(struct face *fc, fuse_ino_t ino, struct stat *st);
/* Returns the bytes written or a negative errno. */
ssize_t write_data(struct face *fc, fuse_ino_t ino, const char *buf, size_t size, off_t off);
void write_read(struct face *fc, fuse_req_t req, fuse_ino_t ino, size_t size, off_t off);
/* Append what was written, if the server has not seen it: the result of
 * close() and fsync(). */
int write_flush(struct face *fc, fuse_ino_t ino);
void write_release(struct face *fc, fuse_ino_t ino);
void write_forget(struct face *fc, fuse_ino_t ino, uint64_t nlookup);
int write_setattr(struct face *fc, fuse_ino_t ino, const struct stat *attr, int to_set,
                  struct stat *st_r);
/* Flags for the APPEND, set with setxattr before close (after it, on the
 * message the file became). */
int write_set_flags(struct face *fc, fuse_ino_t ino, const char *value, size_t len);
int write_get_flags(struct face *fc, fuse_ino_t ino, char *buf, size_t size);

/* rename/unlink of a name this module resolves: 0 done, -ENOENT when NAME
 * is not one of ours, or another error. */
int write_rename(struct face *fc, int64_t folder, const char *name, int64_t newfolder,
                 const char *newname);
int write_unlink(struct face *fc, int64_t folder, const char *name);

/* ---- names.c: names that keep resolving ------------------------------------- */

/* Let NAME in FOLDER resolve to INO for a while: a file copied in (once the
 * kernel forgot it) or a message moved there under that name. */
void names_add(struct face *fc, int64_t folder, const char *name, fuse_ino_t ino);
/* What NAME in FOLDER resolves to, 0 if nothing; with TAKE it stops
 * resolving. */
fuse_ino_t names_find(struct face *fc, int64_t folder, const char *name, int take);
int names_init(struct face *fc);
void names_free(struct face *fc);

#endif
