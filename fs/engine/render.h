/* render.h - what SPEC §9's views show of a message: its text as a reader
 * sees it, and its parts as files. Decoding is GMime's (MIME structure,
 * base64 / quoted-printable / uuencode, charsets, RFC 2047 and RFC 2231) and
 * libxml2's (HTML to visible text); this module only chooses and arranges.
 * Pure: no I/O, no locks; callable from any thread after render_init():
 * every GMime and libxml2 object lives within one call, and what the
 * libraries share (GMime's charset tables, default parser options and iconv
 * cache, which has its own lock; libxml2's parser globals) is set up by
 * render_init().
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
 *   attachments (an HTML one rendered to its visible text), each ending
 *   with a line break; in a multipart/alternative only one alternative (the
 *   first text/plain one, else the first that gives text, else the last); a
 *   message/rfc822 part (whatever its disposition) as a blank line, its own
 *   header lines, a blank line and its parts; every other leaf, a text part
 *   with disposition "attachment" included, as one line
 *   "[attachment: NAME, TYPE, SIZE]": NAME as render_part_name() gives it
 *   without the part number, TYPE "type/subtype", SIZE the decoded size
 *   estimated from bs_part.size and .encoding alone (base64 carries 57
 *   octets in 78, uuencode 45 in 63, anything else counts as it is), so that
 *   both sources agree, written as `ls -h` does in units of 1024: "512 B",
 *   "2.9 KB", "230 KB", "3.0 MB". Undecodable bytes become U+FFFD; a text
 *   is never dropped for a bad charset: none, US-ASCII or one iconv does
 *   not know is read as UTF-8 where valid, else as Windows-1252; ISO-8859-n
 *   with bytes 0x80-0x9F as the matching Windows code page.
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
 * Dovecot's BODYSTRUCTURE gives (checked by t_render_structure.sh): types,
 * subtypes, encodings and dispositions in lower case; a text part without a
 * charset gets ("charset" "us-ascii") and a part without an encoding
 * "7bit", as RFC 2045 defaults them; size = octets of each body as it
 * stands in the message, lines (line feeds in it) for text and
 * message/rfc822; Content-ID and -Description unfolded as written; the
 * envelope subject of a message/rfc822 part unfolded with each run of white
 * space one space. Parameters are as written except those GMime decodes:
 * RFC 2231 ones (continuations joined) come last, sorted by name, as one
 * NAME* with the value written again as utf-8'LANG'%XX..., and an RFC 2047
 * word in a value comes decoded (Dovecot keeps both as sent; the names
 * decode the same either way). A multipart without parts (no boundary, or
 * one never seen) holds an empty text/plain, as in Dovecot. Nesting deeper
 * than BS_MAX_DEPTH, or parts past BS_MAX_PARTS, show the container as a
 * leaf of its type. What GMime cannot read as a message at all ("", a
 * line of text) is a header and an empty text/plain body, as in Dovecot.
 * 0, -E2BIG (more lines that could be delimiters than 2 * BS_MAX_PARTS:
 * GMime would build every part before any bound applies), -ENOMEM. */
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
 * outlive it, and be the message render_structure() was given), cut where
 * the same reading of the message puts them (BODY[S] of a leaf or a
 * message/rfc822 part, BODY[HEADER] and BODY[S.HEADER]; -ENOENT for any
 * other). NULL with errno set as render_structure() would fail. */
struct render_source *render_message_source(const char *msg, size_t len);
void render_message_source_free(struct render_source *src);

/* The bytes of a leaf part with its transfer encoding undone (base64,
 * quoted-printable, x-uuencode; anything else as is), from RAW as
 * BODY[SECTION] gives it, by GMime's decoders. Bad input decodes as far
 * as it goes (base64 skips what is not base64). *OUT_R is NUL-terminated
 * beyond *LEN_R. 0, -E2BIG (an encoded part of 4 GiB or more), -ENOMEM. */
int render_decode(const struct bs_part *p, const char *raw, size_t len, char **out_r, size_t *len_r);

/* The file name of part P numbered SECTION in the parts view: "SECTION NAME"
 * with NAME the part's file name (disposition filename, else Content-Type
 * name; RFC 2231 and RFC 2047 decoded by GMime, raw 8-bit guessed by it)
 * made safe by layout_sanitize() as subjects are in message names, with a
 * short extension kept when the name has to be cut; or else from its type:
 * "text.txt", "text.html", "image.png", "part.pdf", "part.bin" (the word is
 * the media type for text, image, audio, video and message, else "part").
 * Never "." or "..", never a "/", a control, bidi or invisible format
 * character, at most LAYOUT_NAME_MAX bytes. A message/rfc822 part's
 * directory is "SECTION SUBJECT" (bs_part.subject decoded), else
 * "SECTION message". An empty SECTION gives NAME alone. malloc'd, or NULL
 * on ENOMEM. */
char *render_part_name(const struct bs_part *p, const char *section);

/* The visible text of an HTML document, as UTF-8 with LF line ends: no tags,
 * scripts, styles or attribute values; nothing of head, template, noscript,
 * select, embedded objects or comments; entities decoded, &nbsp; a plain
 * space; white space collapsed as a browser does (kept in pre and
 * textarea); block elements (div, li, tr, h1-h6, ...) on lines of their own,
 * p between blank lines, br a line break, table cells apart by a space;
 * runs of blank lines collapse to one; no blank line first, one line break
 * last (nothing at all when there is no text). CHARSET is the one the MIME
 * part declares (may be NULL: then a <meta> charset, else UTF-8); bytes
 * it cannot take become U+FFFD. 0 or -ENOMEM. */
int render_html_text(const char *html, size_t len, const char *charset, char **out_r,
                   size_t *len_r);

#endif
