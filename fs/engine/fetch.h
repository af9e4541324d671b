/* fetch.h - reading message bodies: from the cache, or streamed from the
 * server while readers wait for exactly the bytes they asked for.
 *
 * A read of a body that is not cached joins (or starts) one download of
 * that message. The download writes into an unnamed cache file; each read
 * is answered as soon as its range has arrived (so the first bytes of a
 * 25 MB message are served long before the last ones), and the body is
 * published in the cache only once complete. Downloads run on a few
 * fetcher threads, never on FUSE's threads, so a long download blocks no
 * other operation.
 *
 * The backend's fetch operation feeds a download with fetch_begin(),
 * fetch_data() and fetch_end().
 */
#ifndef MAILFS_FETCH_H
#define MAILFS_FETCH_H

#include <stdint.h>
#include <stddef.h>

#include <sys/types.h>

struct engine;
struct fetch;

/* A read waiting for body bytes. The caller fills in off, size and done,
 * and keeps the reader alive until done() was called, exactly once: with
 * the bytes (LEN may be short at the end of the body; DATA is borrowed for
 * the call), or with ERR (a positive errno: EIO, ENOENT, ENOMEM). done()
 * may run on any thread, before fetch_read() returns or later. */
struct fetch_reader {
	off_t off;
	size_t size;
	void (*done)(struct fetch_reader *r, const char *data, size_t len, int err);
	struct fetch_reader *next;    /* the engine's */
};

/* Read R->size bytes at R->off of message FOLDER/UID: from the cache, or
 * once the bytes have arrived from the server. */
void fetch_read(struct engine *m, int64_t folder, uint32_t uid, struct fetch_reader *r);

int64_t fetch_folder(const struct fetch *fx);
uint32_t fetch_uid(const struct fetch *fx);
/* Non-zero for a part: only the fetch_part_len() bytes at fetch_part_off()
 * are wanted (BODY.PEEK[]<off.len>): a first peek at the start of a large
 * message, or a piece of a body the cache has no room for. The download
 * then holds just those, and the server's literal (BODY[]<off>) may be no
 * longer. */
uint64_t fetch_part_len(const struct fetch *fx);
uint64_t fetch_part_off(const struct fetch *fx);

/* The body (or the part) has TOTAL bytes (the literal size). Returns 0 or
 * -errno: the download cannot take it (no room in the cache, a part larger
 * than asked for); the body's bytes are then not wanted. */
int fetch_begin(struct fetch *fx, uint64_t total);
/* More body bytes, in order. Returns 0 or -errno (e.g. -ENOSPC). */
int fetch_data(struct fetch *fx, const char *data, size_t len);
/* The download ended: ERR 0 if all TOTAL bytes arrived. Idempotent. */
void fetch_end(struct fetch *fx, int err);

#endif
