/* driver.h - what a mail driver (IMAP, POP3) is to the engine, in the way
 * isync's driver.h is: the engine calls the operations of struct driver;
 * the driver talks to the server and reports what it learns through the
 * driver_*() functions at the end, which are the engine's. A driver never
 * looks at the folder tree, the sync schedule or the store itself: the
 * engine decides what to store and what to tell the face. What differs
 * between protocols is a capability flag (enum driver_cap), not a test of
 * the protocol in the engine.
 *
 * Folders are named by struct driver_folder: the folder's id (for the
 * reports) and its wire name, a snapshot taken by the engine.
 *
 * Errors: every operation returns 0 or a negative errno meant for the
 * program that caused it (EIO for the network or a protocol error; what the
 * server refused keeps its errno: EDQUOT, EFBIG, ENOENT, EEXIST, EACCES,
 * EPERM, ENOTEMPTY). Ownership: all memory belongs to the caller unless
 * stated otherwise; strings handed to callbacks are borrowed for the call.
 */
#ifndef MAILFS_DRIVER_H
#define MAILFS_DRIVER_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <time.h>

struct engine;
struct fetch;
struct mfs_options;
struct tls_ctx;
struct body_tmp;
struct bs_part;
struct sq_node;

enum driver_cap {
	DRIVER_FOLDERS = 1u << 0,  /* folders besides INBOX: mkdir, rmdir, rename */
	DRIVER_WRITE   = 1u << 1,  /* messages can be added, moved, re-flagged */
	DRIVER_REFETCH = 1u << 2,  /* bodies can be fetched again: the cache may
	                              evict them. Without it the cache holds the
	                              only copy (POP3): never evicted, and rm is
	                              local */
	DRIVER_UIDL    = 1u << 3,  /* messages carry a POP3 UIDL (user.pop3.uidl) */
};

struct driver_folder {
	int64_t id;
	const char *server;        /* wire name */
	const char *name;          /* its directory name, for messages to the user */
	uint32_t uidvalidity;      /* of what the cache holds, 0 if nothing */
};

/* What a folder is for (RFC 6154 special use). */
enum driver_role {
	DRIVER_ROLE_NONE, DRIVER_ROLE_SENT, DRIVER_ROLE_TRASH, DRIVER_ROLE_DRAFTS,
	DRIVER_ROLE_JUNK, DRIVER_ROLE_ARCHIVE, DRIVER_ROLE_ALL, DRIVER_ROLE_FLAGGED,
	DRIVER_ROLE_COUNT_
};

/* A folder as the server lists it. */
struct driver_list_entry {
	const char *server;        /* wire name */
	char delim;                /* hierarchy delimiter, '\0' if none */
	int noselect;              /* holds no messages, only folders */
	int noinferiors;           /* can hold no folders */
	enum driver_role role;     /* its special use (RFC 6154), if the server says */
};

/* The sync state of a folder, handed to sync and updated by it. */
struct driver_sync {
	uint32_t uidvalidity;      /* 0: never synced */
	uint32_t uidnext;          /* UIDs below were seen by an earlier sync */
	uint64_t modseq;           /* HIGHESTMODSEQ of the last sync, 0: none */
	int changed;               /* out: messages came or went */
};

/* Views (SPEC §9): one section of a message that a view needs, and what
 * the server gave for it. */
struct driver_section {
	uint32_t uid;
	const char *section;       /* a part number as bs_walk() gives it ("1",
	                              "2.1"); for HEADER, the number of the
	                              message whose header it is ("" at the top) */
	int header;                /* the header fields the text view shows
	                              (DRIVER_VIEW_FIELDS), not the part */
	/* Filled in by the driver: */
	char *data;                /* malloc'd, NUL-terminated; NULL on error */
	size_t len;
	int decoded;               /* the server undid the transfer encoding
	                              (BINARY, RFC 3516) */
	int err;                   /* 0, -ENOENT (no such message or part),
	                              or why it could not be had */
};
#define DRIVER_VIEW_FIELDS "FROM TO CC DATE SUBJECT"

/* What the driver is given at open. */
struct driver_params {
	const struct mfs_options *opt;
	const char *secret;        /* password or token; borrowed until close */
	struct tls_ctx *tls;
	int folders_cached;        /* the cache holds a tree from before */
};

struct driver {
	const char *name;
	unsigned caps;             /* enum driver_cap */
	/* Connect and log in once, to check the account before mounting.
	 * *drv_r gets the driver's state (also when it fails with
	 * *transient_r set: the network, not the account, is the trouble, and
	 * a mount with a cache may come up offline). ERR gets one line. */
	int (*open)(struct engine *m, const struct driver_params *p, void **drv_r,
	            char *err, size_t errlen, int *transient_r);
	/* Call CB for every folder the server lists; CB's error stops it.
	 * With WATCH (N folders the engine keeps fresh), also report their
	 * state with driver_folder_status(), in the same round trip where the
	 * protocol allows (a poll round). Returns the round trips it took, or
	 * a negative errno. */
	int (*list)(void *drv, int (*cb)(void *ctx, const struct driver_list_entry *e),
	            void *ctx, const struct driver_folder *watch, size_t n);
	/* Bring folder F up to date from state ST, reporting new messages,
	 * flag changes and expunges; ST then holds the new state. -ESTALE:
	 * the folder's UIDVALIDITY is not ST's (ST has the new one): the
	 * engine renews it and syncs again from nothing. */
	int (*sync)(void *drv, const struct driver_folder *f, struct driver_sync *st);
	/* Download the bodies of FXS (N of them, in F, ascending UIDs) in one
	 * go, feeding each through fetch_begin/fetch_data/fetch_end
	 * (fetch.h) as it arrives. */
	int (*fetch)(void *drv, const struct driver_folder *f, struct fetch **fxs, size_t n);
	/* Changes (SPEC §2 "Operations"), on the server only; NULL without
	 * DRIVER_WRITE or DRIVER_FOLDERS. */
	/* Delete message UID of F: exactly that message, never another one. */
	int (*remove)(void *drv, const struct driver_folder *f, uint32_t uid);
	/* Move UID of F into TO; *uid_r gets its UID there, 0 if unknown. */
	int (*move)(void *drv, const struct driver_folder *f, uint32_t uid,
	            const struct driver_folder *to, uint32_t *uid_r);
	/* Append SIZE bytes of FD to F with FLAGS (a valid flag list or NULL)
	 * and DATE; *uid_r gets the new UID, 0 if unknown. FROM: UIDs below
	 * existed before (to recognise the message after a cut connection). */
	int (*append)(void *drv, const struct driver_folder *f, uint32_t from, int fd,
	              uint64_t size, const char *flags, time_t date, uint32_t *uid_r);
	/* Replace the flags of UID of F. */
	int (*set_flags)(void *drv, const struct driver_folder *f, uint32_t uid,
	                 const char *flags);
	/* Views (SPEC §9). The MIME structure of UIDS (N of them, in F,
	 * ascending): CB for each the server describes, with a tree borrowed
	 * for the call (NULL: the server's description could not be read).
	 * A section "" that is not a header is the whole message. Sections: each of SECS filled in (its own err says
	 * when one could not be had); fails as a whole only when the server
	 * could not be asked. NULL for a driver whose bodies are all in the
	 * cache (no DRIVER_REFETCH): views are then made from the bodies. */
	int (*structure)(void *drv, const struct driver_folder *f, const uint32_t *uids, size_t n,
	                 void (*cb)(void *ctx, uint32_t uid, const struct bs_part *root),
	                 void *ctx);
	int (*sections)(void *drv, const struct driver_folder *f, struct driver_section *secs,
	                size_t n);
	/* Search (SPEC §9): the UIDs of F that match Q, as ranges to CB (in
	 * any order; a range may hold UIDs that do not exist). NULL for a
	 * driver that cannot ask a server: the engine then evaluates Q over
	 * the cache. */
	int (*search)(void *drv, const struct driver_folder *f, const struct sq_node *q,
	              void (*cb)(void *ctx, uint32_t lo, uint32_t hi), void *ctx);
	/* Create, delete (only when it holds no message), rename folders. */
	int (*mkdir)(void *drv, const char *server);
	int (*rmdir)(void *drv, const struct driver_folder *f, int noselect);
	int (*rename)(void *drv, const struct driver_folder *f, const char *server);
	/* Start background work once mounted; stop it before unmount. */
	void (*start)(void *drv);
	void (*stop)(void *drv);
	/* Log out and free DRV. */
	void (*close)(void *drv);
	/* Write lines about the connection to the status text. */
	void (*status)(void *drv, FILE *out);
};

extern const struct driver driver_imap;
extern const struct driver driver_pop3;

/* ---- what a driver reports (engine/driver.c) -------------------------------
 * Any thread may call these, holding none of the engine's locks. */

/* A message as the server describes it. */
struct driver_msg {
	uint32_t uid;
	uint64_t size;             /* RFC822.SIZE */
	time_t date;               /* INTERNALDATE */
	const char *flags;         /* space-separated */
	uint64_t modseq;
	const char *header;        /* Subject and Message-ID header lines, or NULL */
	size_t header_len;
};

/* New messages of FOLDER (ascending UIDs). Returns 0 or a negative errno
 * (the cache could not take them). */
int driver_msgs_new(struct engine *m, int64_t folder, const struct driver_msg *msgs, size_t n);
/* Flags of messages of FOLDER changed (N of them). */
int driver_msgs_flags(struct engine *m, int64_t folder, const uint32_t *uids,
                      const char *const *flags, const uint64_t *modseq, size_t n);
/* The messages LO..HI of FOLDER (those that existed) left the server. */
void driver_msgs_gone(struct engine *m, int64_t folder, uint32_t lo, uint32_t hi);
/* The UIDs of FOLDER in the cache, ascending; malloc'd into *uids_r. */
int driver_msgs_known(struct engine *m, int64_t folder, uint32_t **uids_r, size_t *n_r);
/* At most MAX of them above UID AFTER, ascending, into UIDS; the count in
 * *n_r (fewer than MAX: there are no more). */
int driver_msgs_known_after(struct engine *m, int64_t folder, uint32_t after, uint32_t *uids,
                            size_t max, size_t *n_r);
/* How many messages of FOLDER the cache holds; whether it holds UID. */
uint64_t driver_msgs_count(struct engine *m, int64_t folder);
int driver_msg_known(struct engine *m, int64_t folder, uint32_t uid);
/* New mail in FOLDER (outside a sync): sync it soon. */
void driver_new_mail(struct engine *m, int64_t folder);
/* The state of a folder as the server gives it without selecting it
 * (STATUS). The engine syncs the folder only when it differs from what
 * the last sync saw; without a mod-sequence flag changes cannot be seen
 * this way, and it is synced anyway. */
struct driver_status {
	uint32_t uidvalidity, uidnext, messages;
	uint64_t modseq;           /* HIGHESTMODSEQ; 0: not given */
};
void driver_folder_status(struct engine *m, int64_t folder, const struct driver_status *st);
/* The server said, unasked, that the folder with wire name SERVER
 * changed (ST: its state, if said), or (SERVER NULL) that the folder list
 * did: sync it unless ST is what its last sync saw, or list the folders
 * again, soon. */
void driver_folder_news(struct engine *m, const char *server, const struct driver_status *st);
/* An expunge the driver could not map to a UID: FOLDER must be compared
 * whole at its next sync, soon. */
void driver_lost_track(struct engine *m, int64_t folder);
/* INBOX now (its id changes when it is renewed); *F_R's server is malloc'd.
 * -ENOENT when there is none. */
int driver_inbox(struct engine *m, struct driver_folder *f_r);
/* Whether the server can be reached; the last error, for the status text. */
void driver_online(struct engine *m, int online);
void driver_error(struct engine *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A first listing of many messages is under way (foreground progress). */
void driver_progress(struct engine *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void driver_progress_done(struct engine *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* POP3 (DRIVER_UIDL): messages are known by UIDL, and a downloaded one is
 * the user's only copy, stored durably before the server may delete it. */
enum driver_uidl_state {
	DRIVER_UIDL_NEW,           /* never downloaded */
	DRIVER_UIDL_RESERVED,      /* a download began and did not end: not stored */
	DRIVER_UIDL_STORED,        /* in the cache, durably */
	DRIVER_UIDL_REMOVED,       /* removed locally by the user */
};
int driver_uidl_state(struct engine *m, const char *uidl, enum driver_uidl_state *state_r);
/* Forget what an interrupted round left reserved (in FOLDER). */
void driver_uidl_cleanup(struct engine *m, int64_t folder);
/* A download in progress: the driver writes the message into FD. */
struct driver_download {
	int fd;
	struct body_tmp *tmp;      /* the engine's */
};
/* Start downloading UIDL: *uid_r gets its UID, DL a file to fill. */
int driver_uidl_begin(struct engine *m, const char *uidl, uint32_t *uid_r,
                      struct driver_download *dl);
/* The download of UID (SIZE bytes in DL) is complete: store it durably in
 * FOLDER, and end DL. Only after this returns 0 may the server delete the
 * message. WHY gets one line on failure. */
int driver_uidl_stored(struct engine *m, int64_t folder, const char *uidl, uint32_t uid,
                       struct driver_download *dl, uint64_t size, char *why, size_t whylen);
/* End DL of a download that failed (its UID stays burnt). */
void driver_uidl_abandon(struct engine *m, int64_t folder, uint32_t uid,
                         struct driver_download *dl);

/* ---- helpers the drivers share (engine/driver.c) ---------------------------- */

struct conn_params;
/* The connection part of a session's parameters, from the options (host,
 * port, implicit TLS, timeout) and the mount's TLS context. */
void driver_conn_params(const struct driver_params *p, struct conn_params *c);

#endif
