/* store.h - the metadata cache: one SQLite database per account (SPEC §4).
 *
 * Holds the folder tree with each folder's sync state (UIDVALIDITY, UIDNEXT,
 * HIGHESTMODSEQ) and every known message (folder, UID, file name, size,
 * INTERNALDATE, flags, Message-ID, POP3 UIDL). Bodies live beside it, see
 * body.h. The database runs in WAL mode, so a crash at any instant leaves
 * it consistent.
 *
 * Thread safety: every function may be called from any thread; calls are
 * serialized on one connection. Callbacks run with the store locked and must
 * not call back into the store.
 *
 * Ownership: all memory belongs to the caller unless stated otherwise;
 * strings in structs handed to callbacks are borrowed until the callback
 * returns.
 *
 * Errors: 0 or a negative errno (-EIO for a database failure, -ENOSPC when
 * the disk is full, -ENOENT for a missing row); store_error() tells more.
 */
#ifndef MAILFS_STORE_H
#define MAILFS_STORE_H

#include <stddef.h>
#include <stdint.h>

enum store_folder_flag {
	STORE_FOLDER_NOSELECT = 1u << 0,   /* a directory that holds no messages */
	STORE_FOLDER_VIRTUAL  = 1u << 1,   /* not listed by the server, only implied
	                                      by a child's name */
	STORE_FOLDER_NOINFERIORS = 1u << 2,
	/* bits 8-10: the folder's role (RFC 6154 special use), a number the
	 * engine gives meaning to (folder_role()); 0 for none */
	STORE_FOLDER_ROLE_MASK = 7u << 8,
};
#define STORE_FOLDER_ROLE_SHIFT 8

struct store_folder {
	int64_t id;             /* assigned by the store, never reused */
	int64_t parent;         /* 0 for a top-level directory */
	const char *name;       /* directory name shown (UTF-8) */
	const char *server;     /* full server name (modified UTF-7), NULL when virtual */
	char delim;             /* hierarchy delimiter, '\0' if none */
	unsigned flags;         /* STORE_FOLDER_* */
	uint32_t uidvalidity;   /* 0: never synced */
	uint32_t uidnext;
	uint64_t modseq;        /* HIGHESTMODSEQ at the last complete sync */
	int64_t synced;         /* time of the last complete sync, 0: never */
};

enum store_msg_state {
	STORE_MSG_SIZE_EXACT = 1u << 0,   /* size was checked against the body */
};

struct store_msg {
	uint32_t uid;
	const char *name;       /* file name */
	uint64_t size;          /* bytes of the message as read() returns them */
	int64_t date;           /* INTERNALDATE (or Date header), seconds since the epoch */
	const char *flags;      /* space-separated IMAP flags and keywords, "" if none */
	const char *msgid;      /* Message-ID header or NULL */
	const char *uidl;       /* POP3 UIDL or NULL */
	uint64_t modseq;
	unsigned state;         /* STORE_MSG_* */
};

struct store;

/* Open (creating if needed) DIR/mailfs.db with mode 0600. DURABLE makes
 * every commit reach the disk before it returns (synchronous=FULL; POP3,
 * where the cache is the only copy). Returns 0 or a negative errno with a
 * reason in err. */
int store_open(const char *dir, int durable, struct store **st_r, char *err, size_t errlen);
void store_close(struct store *st);
const char *store_error(struct store *st);

/* Folders. */
int store_folder_list(struct store *st, int (*cb)(void *ctx, const struct store_folder *f),
                      void *ctx);
/* Insert F (its id is ignored) and return the new id. */
int store_folder_add(struct store *st, const struct store_folder *f, int64_t *id_r);
/* Write the place of F->id in the tree: parent, name, server name,
 * delimiter and flags. */
int store_folder_update(struct store *st, const struct store_folder *f);
/* Write the sync state of F->id: UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ and the
 * time of the sync (the rest of F is not used). The two are apart because
 * different threads own them (a rename and a sync may meet). */
int store_folder_synced(struct store *st, const struct store_folder *f);
/* Delete folder ID and every message in it. */
int store_folder_delete(struct store *st, int64_t id);
/* The folder's UIDVALIDITY changed: its messages are forgotten and it gets
 * a fresh id (so no inode of the old messages is ever reused), with its
 * sync state cleared. Children keep pointing at it. */
int store_folder_renew(struct store *st, int64_t id, int64_t *new_id_r);

/* File names are derived outside the store (fs/layout.c); when the rules
 * change, the names of an older cache are derived again. _version: the rules
 * the names were made under (1 for a cache from before versions were kept).
 * _rename: CB gets the UID and name of every message and returns a new
 * malloc'd name, or NULL to keep it; the new names and VERSION are written in
 * one transaction. */
int store_names_version(struct store *st);
int store_names_rename(struct store *st, int version,
                       char *(*cb)(void *ctx, uint32_t uid, const char *name), void *ctx);

/* Messages. */
/* Insert or replace messages in one transaction. Replacing keeps nothing of
 * the old row. */
int store_msg_put(struct store *st, int64_t folder, const struct store_msg *msgs, size_t n);
int store_msg_get(struct store *st, int64_t folder, uint32_t uid,
                  int (*cb)(void *ctx, const struct store_msg *m), void *ctx);
/* Messages with UID > AFTER in UID order, at most LIMIT (0: all). cb returns
 * 0 to go on, anything else to stop (returned). */
int store_msg_list(struct store *st, int64_t folder, uint32_t after, size_t limit,
                   int (*cb)(void *ctx, const struct store_msg *m), void *ctx);
/* Update flags (and modseq when non-zero) of several messages in one
 * transaction; FLAGS[i] for UIDS[i]. Unknown UIDs are ignored. */
int store_msg_set_flags(struct store *st, int64_t folder, const uint32_t *uids,
                        const char *const *flags, const uint64_t *modseqs, size_t n);
int store_msg_set_size(struct store *st, int64_t folder, uint32_t uid, uint64_t size);
int store_msg_delete(struct store *st, int64_t folder, const uint32_t *uids, size_t n);
/* All UIDs of a folder in ascending order; *uids_r is malloc'd (caller frees). */
int store_msg_uids(struct store *st, int64_t folder, uint32_t **uids_r, size_t *n_r);
/* Count, total size and highest UID of a folder's messages. */
struct store_stats {
	uint64_t count;
	uint64_t bytes;
	uint32_t max_uid;      /* 0 when empty */
};
int store_msg_stats(struct store *st, int64_t folder, struct store_stats *stats_r);
/* The same for every folder that has messages, in one query, ordered by
 * folder id; *all_r is malloc'd (caller frees). */
struct store_folder_stats {
	int64_t folder;
	struct store_stats stats;
};
int store_msg_stats_all(struct store *st, struct store_folder_stats **all_r, size_t *n_r);

/* Views (SPEC §9). A message's MIME structure (BODYSTRUCTURE syntax,
 * net/bodystructure.h): -ENOENT when not known; put is -ENOENT when the
 * message is not (or no longer) in the store. Both go with the message. */
int store_structure_get(struct store *st, int64_t folder, uint32_t uid, char **text_r);
int store_structure_put(struct store *st, int64_t folder, uint32_t uid, const char *text);
/* A number for each of N parts (by section) of FOLDER/UID, made when new,
 * never used again for anything else (the parts' inode numbers); -ENOENT
 * when the message is not in the store. */
int store_part_ids(struct store *st, int64_t folder, uint32_t uid,
                   const char *const *sections, size_t n, int64_t *ids_r);
/* The part numbered ID: -ENOENT when unknown or gone with its message.
 * *section_r is malloc'd. */
int store_part_get(struct store *st, int64_t id, int64_t *folder_r, uint32_t *uid_r,
                   char **section_r);

/* POP3 (SPEC §3): every UIDL ever seen, with the UID its message has (or
 * had) in the tree. A download first reserves a UID (state RESERVED,
 * committed), then stores the body, then commits the message row and the
 * state STORED together: a crash at any point leaves at most a RESERVED
 * row, whose body (if any) is dropped at the next start. */
enum store_pop3_state {
	STORE_POP3_RESERVED = 0,   /* being downloaded */
	STORE_POP3_STORED = 1,     /* in the cache */
	STORE_POP3_REMOVED = 2,    /* removed locally: never downloaded again */
};

/* State and UID of UIDL, or -ENOENT when never seen. */
int store_pop3_get(struct store *st, const char *uidl, uint32_t *uid_r, int *state_r);
/* Record UIDL as RESERVED with a new UID (never used before). */
int store_pop3_reserve(struct store *st, const char *uidl, uint32_t *uid_r);
/* In one transaction: the message row (MSG->uidl set) and state STORED. */
int store_pop3_stored(struct store *st, int64_t folder, const struct store_msg *msg);
int store_pop3_set_state(struct store *st, const char *uidl, int state);
/* Forget every RESERVED row, calling cb with its UID first. */
int store_pop3_drop_reserved(struct store *st, void (*cb)(void *ctx, uint32_t uid), void *ctx);

#endif
