/* append.h - a file written into a folder becomes a message (SPEC §2).
 *
 * Ownership: the caller's, throughout.
 */
#ifndef MAILFS_APPEND_H
#define MAILFS_APPEND_H

#include "fs/engine/engine.h"

struct body_tmp;

struct append_req {
	struct folder *f;           /* where it goes */
	struct body_tmp *data;      /* the bytes, from offset 0; not changed, but it
	                               may become the cached body of the message:
	                               the caller must not write to it again */
	uint64_t size;
	const char *flags;          /* validated flag list (imap_flags_valid), or NULL */
	time_t date;                /* INTERNALDATE */
	const char *name;           /* the file's name, for messages to the user */
	int replace;                /* a copy of an earlier close() is on the server: */
	uint32_t prev;              /* its UID in F, 0 if the server did not say */
};

/* APPEND the bytes (bare LFs sent as CRLF) to A->f, put the new message in
 * the cache, tell the face, then remove the earlier copy when A->replace.
 * *landed_r says whether the new copy is on the server, *uid_r its UID (0 if
 * the server did not say). Returns 0, or the error for close(): the
 * server's refusal (then the bytes are kept in CACHE_DIR/unsent/), or the
 * failure to remove the earlier copy (then the new one landed all the
 * same). */
int append_message(struct engine *m, const struct append_req *a, uint32_t *uid_r,
                   int *landed_r);

/* The bytes of a file being written: a file of the cache directory, gone
 * when closed uncommitted. _clone replaces T by a copy of its first SIZE
 * bytes: after append_message() T may be the cached body of the message
 * and must not change any more. */
int append_buffer_new(struct engine *m, struct body_tmp *t);
int append_buffer_clone(struct engine *m, struct body_tmp *t, uint64_t size);
void append_buffer_close(struct engine *m, struct body_tmp *t);

#endif
