/* render.h - what SPEC §9's views show of a message: its text as a reader
 * sees it, and its parts as files. Decoding is GMime's (MIME structure,
 * base64 / quoted-printable / uuencode, charsets, RFC 2047 and RFC 2231) and
 * libxml2's (HTML to visible text); this module only chooses and arranges.
 * Pure: no I/O, no locks; callable from any thread after render_init().
 *
 * Two sources, one result. A view is built from a structure tree (struct
 * bs_part, net/bodystructure.h) and the raw bytes of the sections it needs:
 * over IMAP the tree is the server's BODYSTRUCTURE and the sections are
 * fetched one by one (render_text_needs() says which); from a whole cached
 * message, render_structure() makes the tree and render_message_source() serves
 * the sections from the message. For the same message both give the same
 * text, byte for byte, as long as the server's BODYSTRUCTURE agrees with
 * GMime's reading of the message.
 *
 * The text view (render_text()): UTF-8, LF line ends, no NUL.
 *   From: ... / To: ... / Cc: ... / Date: ... / Subject: ...  (those present,
 *   in this order, RFC 2047 decoded, folded lines joined), a blank line, then
 *   the parts in order: text/plain and text/html leaves that are not
 *   attachments (an HTML one rendered to its visible text); in a
 *   multipart/alternative only one alternative (the first text/plain one,
 *   else the first that gives text, else the last); a message/rfc822 part as
 *   a blank line, its own header lines, a blank line and its parts; every
 *   other leaf as one line "[attachment: NAME, TYPE, SIZE]". Undecodable
 *   bytes become U+FFFD; a text is never dropped for a bad charset.
 *
 * Ownership: returned buffers are malloc'd and belong to the caller.
 */
#ifndef MAILFS_RENDER_H
#define MAILFS_RENDER_H

#include "net/bodystructure.h"

#include <stddef.h>

/* Once, before any other thread runs (GMime's own set-up is not
 * thread-safe); render_done() at exit. */
void render_init(void);
void render_done(void);

/* The structure of a whole message (as BODY[] gives it), in the shape
 * BODYSTRUCTURE would give: types and encodings in lower case, parameters
 * as written in the message, size = octets of each body as it stands in the
 * message, lines for text and message/rfc822. 0, -EINVAL (not a message at
 * all; GMime takes almost anything), -ENOMEM. */
int render_structure(const char *msg, size_t len, struct bs_part **root_r);

/* Where a view's sections come from. SECTION is an IMAP part number as
 * bs_walk() gives it ("1", "2.1", ...), or for header == 1 the header of
 * the message at that number ("" for the message itself, "2" for the
 * message/rfc822 part 2). get() sets *data and *len to the section's bytes as
 * BODY[SECTION] or BODY[SECTION.HEADER] gives them, or for a part as
 * BINARY[SECTION] gives them (the transfer encoding undone by the server,
 * RFC 3516) with *decoded set to 1; or it returns a negative errno, which
 * ends the build with that error. */
struct render_source {
	int (*get)(void *ctx, const char *section, int header, const char **data, size_t *len,
	           int *decoded);
	void *ctx;
};

/* The sections render_text() will ask for, each once, in the order it asks:
 * cb(ctx, section, header). Lets a caller fetch them all in one pipelined
 * batch first. Stops at and returns cb's first non-zero result. */
int render_text_needs(const struct bs_part *root,
                    int (*cb)(void *ctx, const char *section, int header), void *ctx);

/* The text view (see above). 0, or get()'s error, or -ENOMEM. */
int render_text(const struct bs_part *root, const struct render_source *src,
              char **text_r, size_t *len_r);

/* A source that serves sections from the whole message MSG (which must
 * outlive it, and be the message render_structure() was given). */
struct render_source *render_message_source(const char *msg, size_t len);
void render_message_source_free(struct render_source *src);

/* The bytes of a leaf part with its transfer encoding undone (base64,
 * quoted-printable, x-uuencode; anything else as is), from RAW as
 * BODY[SECTION] gives it. Bad input decodes as far as it goes. */
int render_decode(const struct bs_part *p, const char *raw, size_t len, char **out_r, size_t *len_r);

/* The file name of part P numbered SECTION in the parts view: "SECTION NAME"
 * with NAME the part's file name (disposition filename, else Content-Type
 * name; RFC 2231 and RFC 2047 decoded) made safe as layout_message_name()
 * makes subjects safe, or else from its type ("text.txt", "text.html",
 * "image.png", "part.bin", ...). Never "." or "..", never a
 * "/" or a control character, at most LAYOUT_NAME_MAX bytes. A
 * message/rfc822 part's directory is "SECTION SUBJECT" (the envelope's
 * subject decoded, bs_part.subject), else "SECTION message". malloc'd, or
 * NULL on ENOMEM. */
char *render_part_name(const struct bs_part *p, const char *section);

/* The visible text of an HTML document, as UTF-8 with LF line ends: no tags,
 * scripts, styles or attribute values; entities decoded; block elements
 * (p, div, br, li, tr, h1-h6, ...) end lines; runs of blank lines collapse
 * to one. CHARSET is the one the MIME part declares (may be NULL: then a
 * <meta> charset, else UTF-8 with bad bytes as U+FFFD). */
int render_html_text(const char *html, size_t len, const char *charset, char **out_r,
                   size_t *len_r);

#endif
