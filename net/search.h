/* search.h - the query of a search directory (SPEC §9, issue 14): a list of
 * IMAP search keys (RFC 3501 §6.4.4, RFC 9051 §6.4.4) written as a directory
 * name, parsed into a tree, written back in a canonical form, and evaluated
 * over a message where no server can do it (POP3). Pure: libc only.
 *
 * What sq_parse() takes (all else is -EINVAL, with a reason in ERR that
 * never quotes the input):
 *   - UTF-8 only; no C0 control, no DEL (so no CR, LF, TAB); at most
 *     SQ_MAX_LEN bytes. U+2215 (E2 88 95) stands for '/' inside strings.
 *   - keys, case-insensitive, separated by one or more spaces; leading and
 *     trailing spaces are ignored:
 *       ALL
 *       ANSWERED DELETED DRAFT FLAGGED SEEN NEW OLD RECENT UNANSWERED
 *       UNDELETED UNDRAFT UNFLAGGED UNSEEN; KEYWORD atom, UNKEYWORD atom
 *       FROM TO CC BCC SUBJECT BODY TEXT  string;  HEADER field string
 *       BEFORE ON SINCE SENTBEFORE SENTON SENTSINCE  date
 *       LARGER SMALLER  number (< 2^63)
 *       UID  uid-set ("1:5,9,20:*"; no 0, no leading zero, each < 2^32)
 *       X-GM-RAW string
 *       NOT key;  OR key key;  ( key key ... )
 *   - a string is an atom (any UTF-8 run without SP ( ) " \ { and controls)
 *     or "quoted" with \" and \\ as the only escapes; literals ({N}) are
 *     refused. A HEADER field name is printable ASCII without ':'.
 *   - a date is d-Mon-yyyy or "d-Mon-yyyy" (month names in any case), and
 *     must exist (30-Feb-2024 is refused).
 *   - sequence-number sets (a bare "1:5") are refused: sequence numbers
 *     mean nothing to a directory; UID sets are taken.
 *   - an empty query (or only spaces) is refused.
 *   - bounds: SQ_MAX_DEPTH levels of ( ), NOT and OR; SQ_MAX_NODES keys.
 *     The number of strings is not bounded otherwise: imap_uid_search()
 *     sends any number of literals.
 *
 * The tree is normalised: a group of one key is that key, and a group
 * directly inside the top level or another group is spliced into it, so
 * "(FROM a (TO b))" and "FROM a TO b" are the same tree and the same
 * canonical text.
 *
 * Ownership: a tree and all its strings belong to whoever holds the root,
 * freed with sq_free(). Strings are NUL-terminated UTF-8 with '∕' already
 * turned into '/'.
 */
#ifndef MAILFS_SEARCH_H
#define MAILFS_SEARCH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SQ_MAX_LEN   4096   /* bytes of a query */
#define SQ_MAX_DEPTH 32     /* nesting of ( ), NOT and OR */
#define SQ_MAX_NODES 512    /* keys and groups in one query */

enum sq_kind {
	SQ_ALL,
	SQ_AND,             /* kids: two or more keys (the top level, a group) */
	SQ_OR,              /* kids: exactly two */
	SQ_NOT,             /* kids: exactly one */
	/* flag keys: no argument */
	SQ_ANSWERED, SQ_DELETED, SQ_DRAFT, SQ_FLAGGED, SQ_SEEN, SQ_NEW, SQ_OLD,
	SQ_RECENT, SQ_UNANSWERED, SQ_UNDELETED, SQ_UNDRAFT, SQ_UNFLAGGED, SQ_UNSEEN,
	SQ_KEYWORD, SQ_UNKEYWORD,   /* str: the keyword (an atom) */
	/* string keys: str */
	SQ_FROM, SQ_TO, SQ_CC, SQ_BCC, SQ_SUBJECT, SQ_BODY, SQ_TEXT,
	SQ_HEADER,          /* field and str */
	/* date keys: year, month (1-12), day */
	SQ_BEFORE, SQ_ON, SQ_SINCE, SQ_SENTBEFORE, SQ_SENTON, SQ_SENTSINCE,
	/* size keys: size */
	SQ_LARGER, SQ_SMALLER,
	SQ_UID,             /* ranges */
	SQ_GMRAW,           /* X-GM-RAW: str (Gmail search syntax, opaque) */
};

/* One range of a UID set; 0 stands for '*'. lo and hi as written. */
struct sq_range {
	uint32_t lo, hi;
};

struct sq_node {
	enum sq_kind kind;
	struct sq_node *kids;       /* AND, OR, NOT: the first operand */
	struct sq_node *next;       /* the next operand of the parent */
	char *str;                  /* string keys, KEYWORD, UNKEYWORD, X-GM-RAW */
	char *field;                /* HEADER: the field name */
	int year, month, day;       /* date keys */
	uint64_t size;              /* LARGER, SMALLER */
	struct sq_range *ranges;    /* UID */
	size_t nranges;
};

/* Parse NAME (NUL-terminated). 0 and the tree in *ROOT_R (caller frees with
 * sq_free()), or -EINVAL with a short reason in ERR (ERRLEN bytes, may be
 * 0) and *ROOT_R NULL, or -ENOMEM. */
int sq_parse(const char *name, struct sq_node **root_r, char *err, size_t errlen);
void sq_free(struct sq_node *q);

enum sq_need {
	SQ_NEEDS_UTF8  = 1u << 0,   /* a string holds non-ASCII: CHARSET UTF-8 */
	SQ_NEEDS_FLAGS = 1u << 1,   /* flag keys or (UN)KEYWORD: server only */
	SQ_NEEDS_GMRAW = 1u << 2,   /* X-GM-RAW: server with X-GM-EXT-1 only */
	SQ_NEEDS_UID   = 1u << 3,   /* UID set (sq_message.uid, max_uid) */
	SQ_NEEDS_BODY  = 1u << 4,   /* BODY or TEXT: the body is read */
};

/* What Q uses (SQ_NEEDS_*). A local evaluation is possible when neither
 * SQ_NEEDS_FLAGS nor SQ_NEEDS_GMRAW is set. */
unsigned sq_needs(const struct sq_node *q);

/* The canonical text of Q, malloc'd (caller frees), or NULL (ENOMEM):
 * keys upper case, single spaces, a string as an atom where it can be one
 * and quoted otherwise, '/' in strings written as U+2215 (so the text is
 * itself a valid directory name when short enough), dates as d-Mon-yyyy,
 * numbers without leading zeros. sq_parse() of it gives the same tree and
 * so the same text: two queries with the same text are the same query. */
char *sq_format(const struct sq_node *q);

/* A message as sq_match() sees it. The callbacks return values borrowed
 * until sq_match() returns (the caller may keep them around between calls
 * for speed). */
struct sq_message {
	void *ctx;
	/* The decoded UTF-8 values of every field named NAME (case-insensitive),
	 * joined (by any separator). 1 with the value in *VALUE_R and its length
	 * in *LEN_R, 0 when the message has no such field, or a negative errno
	 * that ends the match. */
	int (*header)(void *ctx, const char *name, const char **value_r, size_t *len_r);
	/* The decoded UTF-8 text of the body (BODY), and of the header and body
	 * (TEXT): 0, or a negative errno. */
	int (*body)(void *ctx, const char **text_r, size_t *len_r);
	int (*text)(void *ctx, const char **text_r, size_t *len_r);
	time_t internaldate;
	int internal_off;           /* seconds east of UTC of the zone whose
	                               calendar day the internal date is taken in
	                               (the mount's local zone, or 0 for UTC) */
	int has_date;               /* 1 when the Date header was readable */
	time_t date;                /* the Date header as a time */
	int date_off;               /* seconds east of UTC as the Date header
	                               writes it (0 for -0000) */
	uint64_t size;              /* RFC822.SIZE: octets of the message */
	uint32_t uid;
	uint32_t max_uid;           /* the largest UID of the folder: '*' */
};

/* Whether message M matches Q (RFC 3501 §6.4.4): 1, 0, or a negative errno:
 * -EINVAL for a flag key or X-GM-RAW (see sq_needs()), or a callback's error.
 *   - strings: substring, case-insensitive in ASCII and in Latin-1 letters
 *     (U+00C0-U+00DE and their lower case); other characters must be equal.
 *     The empty string matches every message that has the field (HEADER
 *     "x" "": every message with an x field).
 *   - BEFORE/ON/SINCE: the calendar day of internaldate in internal_off;
 *     SENT*: the calendar day of the Date header in its own zone (date_off),
 *     as RFC 3501 says "disregarding time and timezone"; a message without
 *     a readable Date header matches no SENT* key.
 *   - LARGER n: size > n; SMALLER n: size < n.
 *   - UID: '*' is max_uid (or uid when max_uid is 0). */
int sq_match(const struct sq_node *q, const struct sq_message *m);

#endif
