/* body.h - message bodies in the cache directory, one file per message:
 * DIR/bodies/<folder id>/<uid>; and the views made from them (SPEC §9: a
 * message's text, its parts), DIR/views/<folder id>/<uid>/<name>.
 *
 * A body is written into an unnamed temporary file (O_TMPFILE, or a file
 * in DIR/tmp that is cleaned at start-up where O_TMPFILE is missing) and
 * only linked under its final name once complete, so a crash at any instant
 * never leaves a partial body under a name that could be served as whole.
 * Folder ids are never reused (store.h), so a body file always belongs to
 * the message it is named after.
 *
 * Errors: 0 or a negative errno. Ownership: all memory belongs to the
 * caller; returned file descriptors belong to the caller.
 */
#ifndef MAILFS_BODY_H
#define MAILFS_BODY_H

#include <stdint.h>
#include <sys/stat.h>

struct body_cache;

struct body_tmp {
	int fd;               /* open for reading and writing; -1 when unused */
	char path[64];        /* name under DIR/tmp when O_TMPFILE was not available */
};

/* Open the body cache under DIR (creating DIR/bodies and DIR/tmp, mode 0700)
 * and remove leftovers of a previous crash. */
int body_cache_open(const char *dir, struct body_cache **bc_r);
void body_cache_close(struct body_cache *bc);

/* Open the body of FOLDER/UID read-only: a file descriptor, or -ENOENT. */
int body_open(struct body_cache *bc, int64_t folder, uint32_t uid);
/* A view's NAME: lower-case ASCII letters, digits and dots, starting with a
 * letter, shorter than BODY_VIEW_NAME_MAX ("text", "p2.1"); else -EINVAL. */
#define BODY_VIEW_NAME_MAX 200
/* Open view NAME of FOLDER/UID read-only, or -ENOENT. */
int body_view_open(struct body_cache *bc, int64_t folder, uint32_t uid, const char *name);

/* Whether the body of FOLDER/UID is in the cache (no check of its size). */
int body_exists(struct body_cache *bc, int64_t folder, uint32_t uid);

/* Note that the body open on FD (with ST from fstat) was just read: its
 * access time, which eviction goes by, is moved to now at most hourly. */
void body_touch(int fd, const struct stat *st);

/* Evict the least recently read bodies and views until they take at most
 * TARGET bytes, if they take more than LIMIT; with VIEWS_ONLY bodies count
 * but stay (they are the only copy). Evicting a body leaves its views (they
 * stay true). Returns the bytes in use afterwards, or a negative errno. */
int64_t body_evict(struct body_cache *bc, uint64_t limit, uint64_t target, int views_only);

/* Start a new body. */
int body_create(struct body_cache *bc, struct body_tmp *t);
/* Publish T as the body of FOLDER/UID (with DURABLE, after fsync of the data
 * and then of the directory). T's descriptor stays open for the caller to
 * close with body_tmp_close(). If a body is already there, the existing
 * one is kept and 0 is returned. */
int body_commit(struct body_cache *bc, struct body_tmp *t, int64_t folder, uint32_t uid,
                int durable);
/* The same for view NAME of FOLDER/UID. */
int body_view_commit(struct body_cache *bc, struct body_tmp *t, int64_t folder, uint32_t uid,
                     const char *name, int durable);
/* Close T's descriptor; an uncommitted body is discarded. */
void body_tmp_close(struct body_cache *bc, struct body_tmp *t);

/* Keep the body of FOLDER/UID alive under a temporary name, whatever
 * happens to FOLDER/UID meanwhile (a message about to be moved): T can then
 * be committed under another name or closed. -ENOENT when not cached. */
int body_hold(struct body_cache *bc, int64_t folder, uint32_t uid, struct body_tmp *t);

/* Remove the body of FOLDER/UID and its views. */
int body_remove(struct body_cache *bc, int64_t folder, uint32_t uid);
/* Remove every body and view of FOLDER. */
int body_remove_folder(struct body_cache *bc, int64_t folder);

#endif
