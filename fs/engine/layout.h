/* layout.h - how server names become file names and back (SPEC §2).
 *
 * Message files: "<uid, zero-padded to 10 digits> <subject>.eml", where the
 * subject is the decoded Subject header, sanitized. Sorting by name with plain
 * `ls` is arrival (UID) order; the name never changes for the life of the
 * message, because it only uses the UID and the subject.
 *
 * Folder directories: one path component per level of the server's
 * hierarchy, decoded from modified UTF-7 to UTF-8; a "/" inside a component
 * (possible when the delimiter is not "/") is shown as U+2215 "∕" and mapped
 * back.
 *
 * Ownership: returned strings are malloc'd and belong to the caller.
 */
#ifndef MAILFS_LAYOUT_H
#define MAILFS_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#define LAYOUT_NAME_MAX 255    /* bytes of one file name (NAME_MAX) */

/* Names the mount root keeps for itself (SPEC §2, §9): a top-level server
 * folder of either name is not shown. */
#define LAYOUT_STATUS_NAME ".mailfs-status"
#define LAYOUT_VIEWS_NAME ".mailfs"

/* Build the file name of message UID with decoded subject SUBJECT (UTF-8, may
 * be NULL or empty: then "<uid>.eml"). Sanitizing: invalid UTF-8 sequences
 * become U+FFFD; NUL, C0/C1 controls, DEL and the bidi controls and invisible
 * format characters of utf8_is_invisible() become a space; "/" becomes
 * "∕" (U+2215); runs of whitespace collapse to one space; leading and trailing
 * spaces and dots of the subject are dropped; the subject is cut at a
 * character boundary so that the whole name is at most LAYOUT_NAME_MAX bytes.
 * Returns NULL only on ENOMEM. */
char *layout_message_name(uint32_t uid, const char *subject);

/* The sanitizing of layout_message_name() alone, for other names made from
 * what a message says (the parts view's file names, fs/engine/render.c):
 * IN (UTF-8 or not, NULL for "") made safe by the rules above and cut at a
 * character boundary to at most MAX bytes, into OUT (MAX + 1 bytes, NUL
 * terminated). Returns its length; 0 when nothing is left. */
size_t layout_sanitize(const char *in, char *out, size_t max);

/* The file name of message UID from its header (HDR, LEN bytes holding
 * at least the Subject line; NULL for none), and the values of its
 * Message-ID and Date headers (NULL when missing; MSGID_R and DATE_R may be
 * NULL when not wanted). Every message name is made here: the listing, a
 * POP3 download, an APPEND. Returns 0 or -ENOMEM; strings are malloc'd. */
int layout_from_header(uint32_t uid, const char *hdr, size_t len, char **name_r,
                       char **msgid_r, char **date_r);

/* Parse the UID back out of a message file name made by layout_message_name.
 * Returns 0 and the UID, or -ENOENT when NAME is not of that form. (The
 * caller still compares the whole name with the stored one.) */
int layout_message_uid(const char *name, uint32_t *uid_r);

/* The subject part of message file name NAME (made by layout_message_name):
 * a pointer into NAME and its length in *LEN_R; "" when it has none. */
const char *layout_message_subject(const char *name, size_t *len_r);

/* The name of message UID with the subject part of NAME (a message moved
 * to another folder, or a name made again under newer rules). NULL only on
 * ENOMEM. */
char *layout_message_rename(const char *name, uint32_t uid);

/* The rules of layout_message_name() change now and then (issue 11: bidi
 * and invisible characters); names in a cache made under older rules are
 * derived again, from their subject part, when it is opened. */
#define LAYOUT_NAMES_VERSION 2

/* Turn one server-side hierarchy component (already decoded to UTF-8) into a
 * directory name: "/" becomes "∕". Returns NULL with errno EINVAL when the
 * component cannot be shown as a directory ("", ".", "..", control
 * characters, bidi controls or invisible format characters (the same as for
 * message names), invalid UTF-8, longer than LAYOUT_NAME_MAX bytes once mapped,
 * or "∕" itself, which would map back to "/"): such a folder is left out of
 * the tree. NULL with ENOMEM otherwise. */
char *layout_dir_name(const char *component);

/* Inverse of layout_dir_name: "∕" becomes "/". For every component that
 * layout_dir_name accepts, layout_dir_component(layout_dir_name(c)) is c.
 * A name the user creates (mkdir) maps to a component without checks; the
 * caller verifies that layout_dir_name gives the name back. Returns NULL on
 * ENOMEM. */
char *layout_dir_component(const char *dirname);

#endif
