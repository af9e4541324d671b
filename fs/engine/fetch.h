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

#include "fs/engine/engine.h"

struct fetch;

/* Answer READ (fuse_reply_buf or fuse_reply_err) of SIZE bytes at OFF of
 * message FOLDER/UID, now or once the bytes have arrived. */
void fetch_read(struct mfs *m, fuse_req_t req, int64_t folder, uint32_t uid, size_t size,
                off_t off);

int64_t fetch_folder(const struct fetch *fx);
uint32_t fetch_uid(const struct fetch *fx);
/* Non-zero for a peek: only the first fetch_part_len() bytes are wanted
 * (BODY.PEEK[]<0.N>); the download then holds just those. */
uint64_t fetch_part_len(const struct fetch *fx);

/* The body has TOTAL bytes (the literal size). Returns 0 or -errno. */
int fetch_begin(struct fetch *fx, uint64_t total);
/* More body bytes, in order. Returns 0 or -errno (e.g. -ENOSPC). */
int fetch_data(struct fetch *fx, const char *data, size_t len);
/* The download ended: ERR 0 if all TOTAL bytes arrived. Idempotent. */
void fetch_end(struct fetch *fx, int err);

/* Queue background downloads (prefetch) of up to MAX uncached messages of
 * FOLDER with UIDs above AFTER; *last_r gets the highest UID looked at, to
 * go on from. Returns how many were queued, or a negative errno. */
int fetch_prefetch(struct mfs *m, int64_t folder, uint32_t after, unsigned max,
                   uint32_t *last_r);
/* Downloads queued or running. */
int fetch_busy(struct mfs *m);
/* Bytes published in the cache since the last call. */
uint64_t fetch_take_bytes(struct mfs *m);

int fetch_start(struct mfs *m, int nthreads);
void fetch_stop(struct mfs *m);

#endif
