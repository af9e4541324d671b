/* write.h - files being written into the mount, and names that keep
 * resolving after the fact (SPEC §2).
 *
 * create + write + close appends a message: the bytes go to an unnamed file
 * in the cache, and the first flush (close) or fsync APPENDs them; the
 * server's answer is what close() returns. The name the writer created
 * keeps resolving to what it wrote (for cp -p's and rsync's last steps:
 * utimensat, chmod, rename of the temporary name) without ever being listed:
 * `ls` shows the message under its derived name only.
 *
 * Such files have inodes of their own (folder part 0, from WRITE_INO_BASE),
 * which live until the kernel forgets them.
 */
#ifndef MAILFS_WRITE_H
#define MAILFS_WRITE_H

#include "fs/engine/engine.h"

#define WRITE_INO_BASE 16

static inline int write_is_ino(fuse_ino_t ino)
{
	return ino_folder_id(ino) == 0 && ino >= WRITE_INO_BASE;
}

int write_init(struct mfs *m);
void write_free(struct mfs *m);

/* Create file NAME in folder F. */
int write_create(struct mfs *m, struct folder *f, const char *name, struct fuse_entry_param *e);
/* Resolve NAME in folder FOLDER if it is a file being written or an alias;
 * -ENOENT if not. Counts a kernel reference for written files. */
int write_lookup(struct mfs *m, int64_t folder, const char *name, struct fuse_entry_param *e);
int write_getattr(struct mfs *m, fuse_ino_t ino, struct stat *st);
/* Returns the bytes written or a negative errno. */
ssize_t write_data(struct mfs *m, fuse_ino_t ino, const char *buf, size_t size, off_t off);
void write_read(struct mfs *m, fuse_req_t req, fuse_ino_t ino, size_t size, off_t off);
/* Append what was written, once: the result of close() and fsync(). */
int write_flush(struct mfs *m, fuse_ino_t ino);
void write_release(struct mfs *m, fuse_ino_t ino);
void write_forget(struct mfs *m, fuse_ino_t ino, uint64_t nlookup);
int write_setattr(struct mfs *m, fuse_ino_t ino, const struct stat *attr, int to_set,
                  struct stat *st_r);
/* Flags for the APPEND, set with setxattr before close. */
int write_set_flags(struct mfs *m, fuse_ino_t ino, const char *value, size_t len);
int write_get_flags(struct mfs *m, fuse_ino_t ino, char *buf, size_t size);

/* rename/unlink of a name this module resolves: 0 done, -ENOENT when NAME
 * is not one of ours, or another error. */
int write_rename(struct mfs *m, int64_t folder, const char *name, int64_t newfolder,
                 const char *newname);
int write_unlink(struct mfs *m, int64_t folder, const char *name);

/* Let NAME in FOLDER resolve to INO for a while (a message moved there). */
void write_alias(struct mfs *m, int64_t folder, const char *name, fuse_ino_t ino);

#endif
