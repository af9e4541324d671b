/* bodystructure.h - a message's MIME structure as IMAP's BODYSTRUCTURE
 * describes it (RFC 3501 §7.4.2 "body", RFC 9051 §7.5.2), parsed from the
 * tokens of net/wire.h. Pure: no I/O.
 *
 * The tree is also the common shape of SPEC §9's views: the engine makes the
 * same tree from a whole cached message (fs/engine/render.c), and builds the
 * text and parts views from a tree, whichever the source. bs_format() writes
 * a tree back in BODYSTRUCTURE syntax, which is how the cache keeps it;
 * bs_parse() reads that (or a server's) text again.
 *
 * Part numbers are not stored: they follow from the shape (RFC 3501 §6.4.5).
 * The parts of a multipart numbered S are S.1, S.2, ... (1, 2, ... at the
 * top); the body of a message/rfc822 part S is numbered S when it is a
 * multipart (its parts are S.1, S.2, ...) and S.1 otherwise; a message that
 * is not multipart has the single part 1. bs_walk() hands each part its
 * number. What is said here of message/rfc822 holds for message/global too
 * (RFC 9051 §9 media-message).
 *
 * Ownership: a tree and all its strings belong to whoever holds the root and
 * are freed with bs_free(). Strings are NUL-terminated copies; a NIL is NULL.
 */
#ifndef MAILFS_BODYSTRUCTURE_H
#define MAILFS_BODYSTRUCTURE_H

#include "net/wire.h"

#include <stddef.h>
#include <stdint.h>

/* Bounds on what a server may describe; past them the parse fails. */
#define BS_MAX_PARTS   10000   /* parts in one tree, every level counted */
#define BS_MAX_DEPTH   32      /* levels of parts, the top one included */
#define BS_MAX_PARAMS  64      /* parameters of one Content-Type or disposition */
#define BS_SECTION_MAX 160     /* a part number as text, NUL included */

struct bs_param {
	char *name;             /* as sent (a name may end in '*', RFC 2231) */
	char *value;            /* as sent: RFC 2231/2047 encodings are not undone
	                           here; never NULL ("" for a NIL) */
};

/* Which fields a part carries (the others are 0 or NULL): a multipart its
 * type, subtype, params, disposition and kids; any other part all but lines,
 * subject and kids; text/ * its lines too; a message/rfc822 with its body
 * (see kids) its lines, subject and one kid too. */
struct bs_part {
	char *type;             /* lower case: "text", "multipart", "message", ... */
	char *subtype;          /* lower case: "plain", "mixed", "rfc822", ... */
	struct bs_param *params;         /* Content-Type parameters (charset, name, ...) */
	size_t nparams;
	char *id;               /* Content-ID or NULL */
	char *description;      /* Content-Description or NULL */
	char *encoding;         /* Content-Transfer-Encoding, lower case; NULL = 7bit */
	uint64_t size;          /* octets of the body as sent (still encoded) */
	uint64_t lines;         /* text/ * and message/rfc822: lines of the body; else 0 */
	char *disposition;      /* lower case: "attachment", "inline", ... or NULL */
	struct bs_param *disp_params;    /* its parameters (filename, ...) */
	size_t ndisp_params;
	char *subject;          /* message/rfc822: its envelope's subject as sent
	                           (RFC 2047 not undone), or NULL */
	struct bs_part *kids;   /* multipart: its parts (none only when the
	                           server sent NIL for them, as Exchange does for
	                           an empty multipart);
	                           message/rfc822: one, the body, unless the
	                           server sent the part as a basic one, without
	                           envelope and body: then none;
	                           anything else: none */
	size_t nkids;
};

/* Streaming: feed the tokens of one BODYSTRUCTURE value, starting with its
 * opening WIRE_LPAREN, as wire_next() returns them (literals accumulated,
 * see wire_literal_accumulate(); a WIRE_LITERAL_BEGIN may be fed or left
 * out, but the WIRE_STRING of the accumulated literal must follow it).
 * Returns 0 while more is wanted, 1 when the value is complete (feed nothing
 * more), or -EINVAL when it is not a valid body, a bound above is passed, or
 * tokens come after the end; -ENOMEM. After an error every call returns it
 * again. Of the envelope of a message/rfc822 part only the subject is kept;
 * the rest of it and the extension data the parser does not keep (MD5,
 * language, location, unknown extensions) are checked for balance and
 * dropped. Both the strict RFC 3501 grammar and what real servers send are
 * taken where the meaning is clear: extension data cut short, a missing or
 * NIL line count (0), NIL for an id, description, encoding or subject, a
 * number as a quoted string, an atom as a string, an empty parameter list,
 * a multipart with NIL for its parts, a message/rfc822 without envelope and
 * body (a leaf), a disposition that is a bare string (dropped: servers put
 * a description there). Refused: NIL or "" as a type or subtype, a
 * single-part body of type multipart (its parts are unknown), a parameter
 * list of odd length, NUL in a string, a negative or overflowing number.
 * Types, subtypes, encodings and dispositions are lower-cased (ASCII). */
struct bs_parser;
struct bs_parser *bs_parser_new(void);
int bs_feed(struct bs_parser *bp, const struct wire_token *t);
/* After bs_feed() returned 1: the tree (the caller owns it), else NULL. */
struct bs_part *bs_take(struct bs_parser *bp);
/* Why the last bs_feed() failed; never NULL. */
const char *bs_error(const struct bs_parser *bp);
void bs_parser_free(struct bs_parser *bp);

/* The whole of one BODYSTRUCTURE value from text (as bs_format() writes it,
 * or a server's bytes; literals allowed; spaces may follow, nothing else,
 * not even CRLF). 0 and *root_r, or -EINVAL with a reason in err (which may
 * be NULL), or -ENOMEM. */
int bs_parse(const char *text, size_t len, struct bs_part **root_r, char *err, size_t errlen);

/* The tree in BODYSTRUCTURE syntax (without the word BODYSTRUCTURE): a
 * malloc'd NUL-terminated string, or NULL with errno ENOMEM, or EINVAL when
 * the tree is not one bs_parse() could give: more than BS_MAX_PARTS parts,
 * deeper than BS_MAX_DEPTH, more than BS_MAX_PARAMS parameters, a NULL or
 * empty type or subtype, upper case in a type, subtype, encoding or
 * disposition, a NULL parameter name or value, disposition parameters
 * without a disposition, or kids on a part that is neither a multipart nor
 * a message/rfc822 with one. Strings that cannot be quoted (CR, LF,
 * 8-bit) are written as literals. bs_parse(bs_format(t)) gives a tree equal
 * to t in every field its kind carries (see struct bs_part). */
char *bs_format(const struct bs_part *root);

void bs_free(struct bs_part *root);
/* Frees what P holds, not P itself (a part on the stack or in an array). */
void bs_part_release(struct bs_part *p);

/* A parameter's value by name (ASCII case-insensitive), or NULL. */
const char *bs_param(const struct bs_param *params, size_t n, const char *name);

/* Calls cb for each part in depth-first order, parents before their
 * children, with its part number ("" for a multipart at the top, which has
 * no number of its own; see above; the multipart body of a message/rfc822
 * part has its parent's number) and its depth (0 at the top, one more for
 * each multipart or message/rfc822 above). Stops and returns what cb
 * returned when that is not 0; -E2BIG for a tree deeper than BS_MAX_DEPTH or
 * a number longer than BS_SECTION_MAX (none that bs_parse() gives). */
int bs_walk(const struct bs_part *root,
            int (*cb)(void *ctx, const struct bs_part *p, const char *section, unsigned depth),
            void *ctx);

/* The part numbered SECTION ("" a multipart at the top; "2.1" ...), or
 * NULL. Where two parts share a number (a message/rfc822 part and its
 * multipart body), the message/rfc822 part: BODY[S] is that message. */
const struct bs_part *bs_find(const struct bs_part *root, const char *section);

#endif
