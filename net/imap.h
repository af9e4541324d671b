/* imap.h - one IMAP4rev1 client session (RFC 3501 and the extensions of
 * SPEC §8), used synchronously by one thread at a time.
 *
 * A command is sent, and responses are read until its tagged completion.
 * Every untagged response that concerns the selected mailbox, whenever it
 * arrives (in the middle of another command, during IDLE), goes to the
 * event table given to imap_select(): FETCH data, expunges (EXPUNGE mapped to
 * a UID through the session's sequence map, or VANISHED), EXISTS, and body
 * literals, which are streamed to a sink as they arrive instead of being
 * held in memory.
 *
 * Return values: 0, or a negative errno:
 *   - transport: -EIO, -ETIMEDOUT, -ECONNRESET (the session is then broken);
 *   - malformed server data or a violated limit: -EPROTO (broken);
 *   - the server said NO: an errno chosen from the response code
 *     (OVERQUOTA -EDQUOT, TOOBIG -EFBIG, TRYCREATE/NONEXISTENT -ENOENT,
 *     ALREADYEXISTS -EEXIST, AUTHENTICATIONFAILED/NOPERM -EACCES,
 *     INUSE -EBUSY, LIMIT -ENOSPC, otherwise -EIO); the session stays usable;
 *   - the server said BAD: -EBADMSG (usable);
 *   - the caller's argument was refused before anything was sent (a CR, LF
 *     or NUL that would land in the command outside a literal, a flag list
 *     that is not RFC 3501 flags): -EINVAL, IMAP_FAIL_ARG (usable).
 * imap_error() describes the last failure in one line.
 *
 * Ownership: all memory belongs to the caller unless stated otherwise;
 * strings handed to callbacks are borrowed until the callback returns.
 * Mailbox names are passed and returned as they are on the wire (modified
 * UTF-7); converting them is the caller's business.
 */
#ifndef MAILFS_IMAP_H
#define MAILFS_IMAP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "net/conn.h"

struct bs_part;
struct sq_node;

/* Capabilities the client acts on. */
enum imap_cap {
	IMAP_CAP_IMAP4REV1    = 1u << 0,
	IMAP_CAP_IMAP4REV2    = 1u << 1,
	IMAP_CAP_STARTTLS     = 1u << 2,
	IMAP_CAP_LOGINDISABLED = 1u << 3,
	IMAP_CAP_AUTH_PLAIN   = 1u << 4,
	IMAP_CAP_AUTH_XOAUTH2 = 1u << 5,
	IMAP_CAP_AUTH_OAUTHBEARER = 1u << 6,
	IMAP_CAP_SASL_IR      = 1u << 7,
	IMAP_CAP_IDLE         = 1u << 8,
	IMAP_CAP_UIDPLUS      = 1u << 9,
	IMAP_CAP_MOVE         = 1u << 10,
	IMAP_CAP_CONDSTORE    = 1u << 11,
	IMAP_CAP_QRESYNC      = 1u << 12,
	IMAP_CAP_ENABLE       = 1u << 13,
	IMAP_CAP_LITERAL_PLUS = 1u << 14,
	IMAP_CAP_LITERAL_MINUS = 1u << 15,
	IMAP_CAP_NAMESPACE    = 1u << 16,
	IMAP_CAP_SPECIAL_USE  = 1u << 17,
	IMAP_CAP_LIST_EXTENDED = 1u << 18,
	IMAP_CAP_NOTIFY       = 1u << 19,
	IMAP_CAP_ESEARCH      = 1u << 20,
	IMAP_CAP_BINARY       = 1u << 21,
	IMAP_CAP_UTF8_ACCEPT  = 1u << 22,
	IMAP_CAP_LIST_STATUS  = 1u << 23,
	IMAP_CAP_X_GM_EXT_1   = 1u << 24,   /* Gmail: X-GM-RAW search */
	IMAP_CAP_UNSELECT     = 1u << 25,
};

enum imap_fail {
	IMAP_OK = 0,
	IMAP_FAIL_CONN,     /* transport; see conn_fail for the class */
	IMAP_FAIL_TLS_REQUIRED, /* STARTTLS not offered/refused, PREAUTH in clear,
	                           or data injected after the STARTTLS reply */
	IMAP_FAIL_AUTH,     /* the server refused the credentials */
	IMAP_FAIL_PROTO,    /* malformed or unexpected server data */
	IMAP_FAIL_NO,       /* a command was refused (NO) */
	IMAP_FAIL_BAD,      /* a command was rejected (BAD) */
	IMAP_FAIL_BYE,      /* the server closed the session */
	IMAP_FAIL_ARG,      /* the caller's argument was refused before sending;
	                       the session is still usable */
	IMAP_FAIL_LIMIT,    /* the server takes no more connections now: BYE
	                       at greeting, or the login refused with
	                       [LIMIT] or [UNAVAILABLE]; try again later */
};

enum imap_auth {
	IMAP_AUTH_PASSWORD = 0, /* AUTHENTICATE PLAIN if offered, else LOGIN */
	IMAP_AUTH_XOAUTH2,      /* secret is an OAuth2 access token */
	IMAP_AUTH_OAUTHBEARER,
};

struct imap_params {
	struct conn_params conn;   /* host, port, implicit TLS, TLS context, timeout */
	int require_tls;           /* 1: a plain connection must be upgraded with
	                              STARTTLS before anything else (SPEC §5) */
	const char *user;          /* borrowed for the life of the session */
	const char *secret;        /* password or token; borrowed for the life of the
	                              session; never logged */
	enum imap_auth auth;
	/* Optional protocol trace (for -d): DIR is 'C' or 'S'; secrets are
	 * replaced before the line is passed. */
	void (*trace)(void *ctx, char dir, const char *line, size_t len);
	void *trace_ctx;
};

/* Data of one FETCH response. */
enum imap_have {
	IMAP_HAVE_UID      = 1u << 0,
	IMAP_HAVE_FLAGS    = 1u << 1,
	IMAP_HAVE_SIZE     = 1u << 2,
	IMAP_HAVE_DATE     = 1u << 3,
	IMAP_HAVE_MODSEQ   = 1u << 4,
	IMAP_HAVE_HEADER   = 1u << 5,   /* BODY[HEADER...] data */
	IMAP_HAVE_BODY     = 1u << 6,   /* a body section went to a sink */
	IMAP_HAVE_STRUCTURE = 1u << 7,  /* BODYSTRUCTURE */
};

/* A header section of a FETCH response (BODY[HEADER...], BODY[2.HEADER...],
 * BODY[1.MIME]): SECTION is what the brackets held ("HEADER.FIELDS (FROM)",
 * "2.HEADER"), DATA its bytes (NIL gives ""). */
struct imap_header_section {
	const char *section;
	const char *data;
	size_t len;
};
#define IMAP_MAX_HEADER_SECTIONS 16
/* Body sections one FETCH response may carry to sinks; more are refused
 * (the sink's end() gets -EPROTO). Ask for no more in one command. */
#define IMAP_MAX_SECTIONS 16

struct imap_fetch {
	uint32_t seq;
	uint32_t uid;              /* from the response or the sequence map; 0 if unknown */
	unsigned have;             /* IMAP_HAVE_* */
	const char *flags;         /* space-separated, e.g. "\\Seen $Label1" */
	uint64_t size;             /* RFC822.SIZE */
	time_t internaldate;
	uint64_t modseq;
	const char *header;        /* the first header section's contents */
	size_t header_len;
	struct imap_header_section headers[IMAP_MAX_HEADER_SECTIONS];  /* all of them */
	unsigned nheaders;
	uint64_t body_size;        /* bytes of the streamed body section */
	/* BODYSTRUCTURE (net/bodystructure.h), freed after the callback
	 * (a callee that wants to keep it writes it out with bs_format()); NULL
	 * with IMAP_HAVE_STRUCTURE when the server's could not be read, and
	 * structure_error says why. */
	struct bs_part *structure;
	char structure_error[128];
};

/* Where a body literal goes. */
struct imap_sink {
	/* Called with each chunk in order. Return 0, or a negative errno to stop
	 * delivering (the rest of the literal is read and discarded). */
	int (*write)(struct imap_sink *sk, const char *data, size_t len);
	/* Called once at the end: err is 0 when the whole literal arrived and the
	 * FETCH response parsed, else why not. The sink may be freed here. */
	void (*end)(struct imap_sink *sk, int err);
};

/* What a STATUS response says of a mailbox (0 for what it did not say). */
enum imap_status_have {
	IMAP_STATUS_MESSAGES = 1u << 0,
	IMAP_STATUS_UIDNEXT = 1u << 1,
	IMAP_STATUS_UIDVALIDITY = 1u << 2,
	IMAP_STATUS_HIGHESTMODSEQ = 1u << 3,
};
struct imap_status {
	const char *mailbox;       /* on the wire */
	unsigned have;             /* IMAP_STATUS_* */
	uint32_t messages, uidnext, uidvalidity;
	uint64_t highestmodseq;
};

struct imap_events {
	void (*fetch)(void *ctx, const struct imap_fetch *f);
	/* The messages with UIDs LO..HI (those of them that existed) left the
	 * mailbox: EXPUNGE (LO == HI) or VANISHED, whose ranges can be huge. */
	void (*expunge)(void *ctx, uint32_t lo, uint32_t hi);
	void (*exists)(void *ctx, uint32_t count);
	/* An EXPUNGE named a message whose UID the session does not know; the
	 * owner has to compare the whole mailbox again. */
	void (*lost_track)(void *ctx);
	/* The data of a body section of SIZE bytes starts for UID (0 if
	 * unknown): SECTION is what the brackets held, without a partial
	 * ("" for BODY[] and RFC822, "TEXT", "1.2"), BINARY says BINARY[...],
	 * OFFSET is the partial fetch's start. Return a sink, or NULL to
	 * discard the data. May be NULL. A literal streams to the sink; a
	 * quoted string or NIL (a short or missing section) is given in one
	 * write. */
	struct imap_sink *(*body)(void *ctx, uint32_t uid, const char *section, int binary,
	                          uint64_t offset, uint64_t size);
	/* Said without being asked (NOTIFY, RFC 5465): the state of another
	 * mailbox changed (STATUS), or the mailbox list did (LIST). May be
	 * NULL. */
	void (*status)(void *ctx, const struct imap_status *st);
	void (*mailboxes)(void *ctx);
};

struct imap_mailbox {
	uint32_t uidvalidity;
	uint32_t uidnext;          /* 0 if the server did not say */
	uint32_t exists;
	uint64_t highestmodseq;    /* 0: no CONDSTORE for this mailbox */
	int readonly;
};

struct imap_list_entry {
	const char *name;          /* on the wire (modified UTF-7) */
	char delim;                /* '\0' for a flat namespace (NIL) */
	unsigned flags;            /* IMAP_LIST_* */
};

enum imap_list_flag {
	IMAP_LIST_NOSELECT    = 1u << 0,   /* \Noselect or \NonExistent */
	IMAP_LIST_NOINFERIORS = 1u << 1,
	IMAP_LIST_HASCHILDREN = 1u << 2,
	IMAP_LIST_HASNOCHILDREN = 1u << 3,
	IMAP_LIST_SENT        = 1u << 8,   /* RFC 6154 special use */
	IMAP_LIST_TRASH       = 1u << 9,
	IMAP_LIST_DRAFTS      = 1u << 10,
	IMAP_LIST_JUNK        = 1u << 11,
	IMAP_LIST_ARCHIVE     = 1u << 12,
	IMAP_LIST_ALL         = 1u << 13,
	IMAP_LIST_FLAGGED     = 1u << 14,
};

struct imap_session;

/* Allocate a session. NULL on ENOMEM. */
struct imap_session *imap_session_new(const struct imap_params *params);
/* Close without LOGOUT and free. */
void imap_session_free(struct imap_session *s);

/* Connect, read the greeting, upgrade with STARTTLS where required, log in,
 * learn the capabilities and ENABLE QRESYNC where offered. */
int imap_connect(struct imap_session *s);

/* LOGOUT, then close. The session can only be freed afterwards. */
int imap_logout(struct imap_session *s);

/* Make a blocked command (e.g. IDLE) fail soon; any thread may call it. */
void imap_abort(struct imap_session *s);

unsigned imap_caps(const struct imap_session *s);
/* 1 when ENABLE QRESYNC succeeded (VANISHED replaces EXPUNGE, and SELECT
 * takes QRESYNC parameters). */
int imap_qresync_enabled(const struct imap_session *s);
/* The capability list as the server sent it; borrowed. */
const char *imap_caps_text(const struct imap_session *s);
/* 1 when the session can no longer be used (transport or protocol error). */
int imap_broken(const struct imap_session *s);
/* Whether the server sent something (or closed the connection) that has not
 * been read yet; does not block. */
int imap_pending(struct imap_session *s);
enum imap_fail imap_fail_class(const struct imap_session *s);
/* Class of the transport failure when imap_fail_class() is IMAP_FAIL_CONN. */
enum conn_fail imap_conn_fail(const struct imap_session *s);
/* One line about the last failure; never NULL. */
const char *imap_error(const struct imap_session *s);
/* Response code of the last tagged reply ("OVERQUOTA", "APPENDUID", ...),
 * and its arguments, or "" ; borrowed until the next command. */
const char *imap_resp_code(const struct imap_session *s);
const char *imap_resp_code_args(const struct imap_session *s);

void imap_set_timeout(struct imap_session *s, int timeout_ms);

/* LIST "" "*": calls cb for every mailbox. cb returns 0 or a negative errno
 * that stops the listing (the response is still read to its end). */
int imap_list(struct imap_session *s,
              int (*cb)(void *ctx, const struct imap_list_entry *e), void *ctx);

/* In one round trip: LIST "" "*" when LIST_CB is given (as imap_list()),
 * and the STATUS (MESSAGES UIDNEXT UIDVALIDITY, and HIGHESTMODSEQ where
 * the server has CONDSTORE) of the N MAILBOXES, to STATUS_CB. Where the
 * server has LIST-STATUS (RFC 5819) the LIST brings the status of every
 * mailbox it lists; otherwise a STATUS command for each is sent with the
 * LIST, before any reply is read. At most IMAP_BATCH_MAX commands go
 * together; a mailbox name that would need the server's go-ahead for a
 * literal is asked on its own. A mailbox whose STATUS the server refuses
 * gets no call; the call fails when the LIST (or the session) does. A
 * selected mailbox is left first (UNSELECT, in the same round trip) where
 * the server has UNSELECT; the STATUS of a mailbox still selected is the
 * session's view of it (imap_selected() says which). */
#define IMAP_BATCH_MAX 256
int imap_list_status(struct imap_session *s,
                     int (*list_cb)(void *ctx, const struct imap_list_entry *e),
                     void (*status_cb)(void *ctx, const struct imap_status *st), void *ctx,
                     const char *const *mailboxes, size_t n);
/* How often the session waited for the server after sending something:
 * the round trips so far. */
uint64_t imap_round_trips(const struct imap_session *s);

/* NOTIFY SET (RFC 5465), while MAILBOX (INBOX) is selected: its changes
 * come as usual (EXISTS, EXPUNGE, FETCH), and those of every other
 * personal mailbox as STATUS responses, changes of the list as LIST ones,
 * both to the events' status and mailboxes. Wait for them with IDLE. */
int imap_notify(struct imap_session *s);

/* SELECT (or EXAMINE when readonly) MAILBOX. When it is already selected in
 * that mode and FORCE is 0, nothing is sent and 1 is returned (call
 * imap_noop() to collect updates). With QRESYNC enabled and
 * KNOWN_UIDVALIDITY/KNOWN_MODSEQ non-zero, the select asks for the changes
 * since then (RFC 7162 §3.2.5); they arrive as events during the call.
 * EV/CTX receive every later event of this mailbox. MB_R (may be NULL) gets
 * the mailbox state. Returns 0 after a SELECT, 1, or an error. */
int imap_select(struct imap_session *s, const char *mailbox, int readonly, int force,
                uint32_t known_uidvalidity, uint64_t known_modseq,
                const struct imap_events *ev, void *ctx, struct imap_mailbox *mb_r);

/* The selected mailbox (wire name) or NULL; and its state, kept current as
 * EXISTS/EXPUNGE/VANISHED/HIGHESTMODSEQ arrive. Borrowed. */
const char *imap_selected(const struct imap_session *s);
const struct imap_mailbox *imap_mailbox(const struct imap_session *s);

/* UID FETCH UIDSET (ITEMS) [(MODIFIERS)]; the results go to the events.
 * ITEMS and MODIFIERS are inserted verbatim. */
int imap_uid_fetch(struct imap_session *s, const char *uidset, const char *items,
                   const char *modifiers);

/* imap_watched() says whether a FETCH response for UID arrived since
 * imap_watch(): the server knows the message in this session's view. */
void imap_watch(struct imap_session *s, uint32_t uid);
int imap_watched(const struct imap_session *s);

/* NOOP: collects pending updates. */
int imap_noop(struct imap_session *s);

/* Send any command (a plain line without literals, e.g. "UID SEARCH ALL")
 * and read to its completion; untagged SEARCH/ESEARCH results are passed to
 * cb as UID ranges when cb is not NULL. */
int imap_command(struct imap_session *s, const char *line,
                 void (*search_cb)(void *ctx, uint32_t lo, uint32_t hi), void *ctx);

/* UID SEARCH with the query Q (net/search.h, from sq_parse()) in the
 * selected mailbox: "UID SEARCH [RETURN (ALL)] [CHARSET UTF-8] KEYS", with
 * RETURN (ALL) where the server has ESEARCH (RFC 4731), CHARSET UTF-8 when
 * a string is not ASCII (such strings go as literals), every string an
 * astring. The matching UIDs go to CB as ranges LO..HI (from SEARCH one by
 * one, from ESEARCH ALL as the server's ranges; none when nothing
 * matched). Refused with -EINVAL (IMAP_FAIL_ARG, nothing sent): X-GM-RAW
 * when the server lacks X-GM-EXT-1, and a hand-made tree that sq_parse()
 * could not have made. */
int imap_uid_search(struct imap_session *s, const struct sq_node *q,
                    void (*cb)(void *ctx, uint32_t lo, uint32_t hi), void *ctx);

/* UID STORE UID OP (FLAGS), e.g. OP "+FLAGS.SILENT", FLAGS "\\Deleted";
 * FLAGS must pass imap_flags_valid(), else -EINVAL and nothing is sent. */
int imap_uid_store(struct imap_session *s, uint32_t uid, const char *op, const char *flags);
/* UID EXPUNGE UID (RFC 4315): expunges that message only, when \Deleted. */
int imap_uid_expunge(struct imap_session *s, uint32_t uid);
/* UID MOVE (RFC 6851) / UID COPY of one message into MAILBOX. The new UID and
 * the target's UIDVALIDITY come from COPYUID (RFC 4315), or are 0 when the
 * server did not say. */
int imap_uid_move(struct imap_session *s, uint32_t uid, const char *mailbox,
                  uint32_t *uidvalidity_r, uint32_t *uid_r);
int imap_uid_copy(struct imap_session *s, uint32_t uid, const char *mailbox,
                  uint32_t *uidvalidity_r, uint32_t *uid_r);
/* APPEND SIZE bytes read from FD (from offset 0) to MAILBOX with FLAGS
 * (space-separated, may be NULL; must pass imap_flags_valid(), else
 * -EINVAL and nothing is sent) and INTERNALDATE DATE (0: the server's
 * now). The new UID from APPENDUID, or 0. Memory use does not depend on
 * SIZE. */
int imap_append(struct imap_session *s, const char *mailbox, const char *flags, time_t date,
                int fd, uint64_t size, uint32_t *uidvalidity_r, uint32_t *uid_r);
int imap_create(struct imap_session *s, const char *mailbox);
/* Leave the selected mailbox without expunging anything: UNSELECT (RFC
 * 3691) where offered, else EXAMINE it and CLOSE the read-only selection;
 * never CLOSE a read-write one, which would expunge. The session has no
 * mailbox selected afterwards; fails only when the session broke. */
int imap_leave(struct imap_session *s);
/* DELETE / RENAME; when the mailbox (or one below it) is selected on this
 * session it is left first (imap_leave). */
int imap_delete(struct imap_session *s, const char *mailbox);
int imap_rename(struct imap_session *s, const char *from, const char *to);
/* STATUS MAILBOX (MESSAGES). */
int imap_status_messages(struct imap_session *s, const char *mailbox, uint32_t *count_r);

/* IDLE (RFC 2177). imap_idle_begin sends IDLE and waits for the
 * continuation. imap_idle_wait waits up to timeout_ms for the server to say
 * something; events are delivered; returns 1 when something arrived, 0 on
 * timeout, or an error. imap_idle_end sends DONE and reads the completion. */
int imap_idle_begin(struct imap_session *s);
int imap_idle_wait(struct imap_session *s, int timeout_ms);
int imap_idle_end(struct imap_session *s);

/* Flags and keywords (SPEC §5): a flag list that reaches the wire is a list
 * of RFC 3501 flags, each "\\" atom or atom (flag-extension, flag-keyword),
 * separated by single spaces. imap_flags_valid() says whether FLAGS is
 * exactly that ("" is the empty list). imap_flags_normalize() takes what a
 * user wrote (an xattr value of LEN bytes: any run of spaces, tabs and line
 * ends separates flags) and returns that form, malloc'd, or NULL with errno
 * EINVAL (something that is not a flag) or ENOMEM. */
int imap_flags_valid(const char *flags);
char *imap_flags_normalize(const char *value, size_t len);

/* Parse an IMAP sequence set of UIDs ("1:3,7,9:*" with * = star) calling cb
 * for each range lo <= hi. Returns 0 or -EPROTO. Exposed for unit tests. */
int imap_parse_uidset(const char *set, uint32_t star,
                      void (*cb)(void *ctx, uint32_t lo, uint32_t hi), void *ctx);

#endif
