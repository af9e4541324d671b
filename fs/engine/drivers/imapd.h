/* imapd.h - the IMAP driver's parts, shared by its files:
 *
 *   imapd.c         the driver table: open, list, start, stop, status
 *   imapd_pool.c    sessions: opening them, explaining failures, the pool
 *   imapd_sync.c    what the server says (events), a folder's sync, downloads
 *   imapd_changes.c deletes, moves, APPEND, flags, folders
 *   imapd_idle.c    IDLE on INBOX, and a spare connection at start
 *   imapd_views.c   structures and single sections for the views (SPEC §9)
 *
 * Every untagged response of a session goes through the same event
 * handlers, whatever command it arrived in: new message metadata, flag
 * changes and expunges are reported to the engine (driver.h). A sync is
 * therefore only a matter of asking the server the right question and
 * letting the events do the rest.
 */
#ifndef MAILFS_IMAPD_H
#define MAILFS_IMAPD_H

#include "fs/engine/drivers/driver.h"
#include "net/imap.h"

#include <pthread.h>
#include <time.h>

struct imapd;
struct sync_state;

struct slot {
	struct imapd *d;
	struct imap_session *s;    /* protected by imapd.lock */
	int busy;                  /* protected by imapd.lock */
	time_t used;               /* monotonic seconds, when last given back */
	/* The rest belongs to the thread holding the slot. */
	int64_t folder;            /* the folder events are about, 0: none */
	struct sync_state *sync;
	struct fetch **batch;      /* bodies being fetched, ascending UIDs */
	size_t nbatch;
	struct fetch *cur;         /* the one whose literal is streaming */
	size_t ndone;              /* bodies of the batch complete */
	struct imap_sink sink;
	struct imapd_views *views; /* serving a view (imapd_views.c), or NULL */
};

struct imapd {
	struct engine *m;              /* where events are reported */
	const struct mfs_options *opt;
	struct imap_params params;
	pthread_mutex_t lock;
	pthread_cond_t cond;           /* a slot was given back; CLOCK_MONOTONIC */
	/* max_connections slots; the pool uses the first pool_max of them,
	 * one fewer than allowed while a connection watches for changes
	 * (IDLE), so that the mount never holds more than max_connections. */
	struct slot *slots;            /* busy and s protected by lock */
	int nslots;
	int pool_max;                  /* protected by lock */
	/* A server that refused another connection ([LIMIT], [UNAVAILABLE],
	 * BYE at greeting) while some were open: the pool keeps to the
	 * limit sessions it had, until limit_until (monotonic seconds), then
	 * tries one more; the pause doubles each time it is refused. */
	int limit;                     /* 0: none known; protected by lock */
	time_t limit_until;            /* protected by lock */
	int limit_pause;               /* seconds; protected by lock */
	int said_limit;                /* the limit was logged; lock */
	char *caps;                    /* protected by lock */
	unsigned capbits;              /* IMAP_CAP_* of the first session; lock */
	int have_caps;                 /* a session was ever opened; lock */
	int started;                   /* mounted: failures are logged (atomic) */

	/* IDLE on INBOX (RFC 2177), on a connection of its own. */
	pthread_t idle_thread;
	int idle_running;
	struct slot idle;              /* idle.s protected by lock */
	int idle_stop;                 /* protected by lock */
	int idle_state;                /* 0 off, 1 connecting, 2 idling, 3 waiting
	                                  for a first connection; lock */
	int idle_kick;                 /* the first session opened: end the IDLE
	                                  thread's pause; lock */
	int notify;                    /* the watching session has NOTIFY on
	                                  (every folder watched); lock */
	time_t idle_hold_until;        /* the pool took the watcher's place: no
	                                  watching before (monotonic); lock */
	pthread_cond_t idle_cond;      /* wakes the IDLE thread's pauses */
	pthread_t warm_thread;         /* opens a spare connection at start */
	int warm_running;
};

/* imapd_sync.c */
extern const struct imap_events imapd_events;
int imapd_sync(void *drv, const struct driver_folder *f, struct driver_sync *st);
int imapd_fetch(void *drv, const struct driver_folder *f, struct fetch **fxs, size_t n);
/* Append UID range LO..HI to a growing sequence-set string. */
int imapd_set_add(char **set, size_t *len, size_t *cap, uint32_t lo, uint32_t hi);

/* imapd_changes.c: the change operations of struct driver */
int imapd_remove(void *drv, const struct driver_folder *f, uint32_t uid);
int imapd_move(void *drv, const struct driver_folder *f, uint32_t uid,
               const struct driver_folder *to, uint32_t *uid_r);
int imapd_append(void *drv, const struct driver_folder *f, uint32_t from, int fd,
                 uint64_t size, const char *flags, time_t date, uint32_t *uid_r);
int imapd_set_flags(void *drv, const struct driver_folder *f, uint32_t uid, const char *flags);
int imapd_mkdir(void *drv, const char *server);
int imapd_rmdir(void *drv, const struct driver_folder *f, int noselect);
int imapd_rename(void *drv, const struct driver_folder *f, const char *server);

/* imapd_pool.c */
/* Open a new session; NULL with a reason in ERR, *R_OUT and *TRANSIENT_R
 * (the network, not the account, is the trouble). */
struct imap_session *imapd_session_open(struct imapd *d, char *err, size_t errlen, int *r_out,
                                        int *transient_r);
/* Take a session, preferring one that has SERVER selected; waits while
 * all are busy. NULL with *R_OUT when no session can be had. */
struct slot *imapd_pool_get(struct imapd *d, const char *server, int *r_out);
void imapd_pool_put(struct slot *sl);
/* Give S, opened outside the pool, to an empty slot; logged out and freed
 * when there is none. */
void imapd_pool_adopt(struct imapd *d, struct imap_session *s);
/* The idle pooled sessions that have SERVER (or a folder below it)
 * selected leave it (imap_leave): a server without UNSELECT may refuse to
 * rename or delete a folder open on another connection. */
void imapd_pool_leave(struct imapd *d, const char *server);
time_t imapd_now(void);

/* imapd_views.c */
int imapd_structure(void *drv, const struct driver_folder *f, const uint32_t *uids, size_t n,
                    void (*cb)(void *ctx, uint32_t uid, const struct bs_part *root), void *ctx);
/* SECS grouped by UID (the requests of one message next to each other). */
int imapd_sections(void *drv, const struct driver_folder *f, struct driver_section *secs,
                   size_t n);
/* UID SEARCH of a parsed query in F (imapd_views.c). */
int imapd_search(void *drv, const struct driver_folder *f, const struct sq_node *q,
                 void (*cb)(void *ctx, uint32_t lo, uint32_t hi), void *ctx);
/* The events of a slot serving a view. */
void imapd_view_fetch(struct slot *sl, const struct imap_fetch *f);
struct imap_sink *imapd_view_body(struct slot *sl, uint32_t uid, const char *section,
                                  int binary, uint64_t size);

/* imapd_idle.c */
void imapd_idle_start(struct imapd *d);
void imapd_idle_stop(struct imapd *d);
void imapd_idle_status(struct imapd *d, FILE *out);

#endif
