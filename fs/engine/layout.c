/* layout.c - message file names and folder directory names (SPEC §2).
 *
 * A message name depends only on the UID and the Subject, which never change
 * for the life of a message (RFC 3501 §2.3.1.1 for the UID), so flag changes
 * never rename a file. The sanitizer is what keeps a hostile Subject from
 * producing a name the kernel or a shell would misread.
 */
#include "fs/engine/layout.h"
#include "net/mime.h"
#include "net/utf8.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UID_DIGITS 10   /* UINT32_MAX is 4294967295 */
#define EXT ".eml"
#define EXT_LEN (sizeof(EXT) - 1)
/* "<uid> <subject>.eml" */
#define SUBJECT_MAX (LAYOUT_NAME_MAX - UID_DIGITS - 1 - EXT_LEN)

/* U+2215 DIVISION SLASH, which looks like "/" and may stand in a name. */
#define DIVISION_SLASH "\xe2\x88\x95"
#define DIVISION_SLASH_LEN 3


/* C0, DEL and C1 (U+0080-U+009F): terminals act on them, and a file name
 * should never be able to move the cursor or end a line. The bidi controls
 * and invisible format characters (utf8_is_invisible) are treated alike: a
 * name must show what it is, and "\u202e" in "invoice\u202efdp.eml" would
 * make it show as "invoicelme.pdf". */
static int is_control(uint32_t cp)
{
	return utf8_is_control(cp) || utf8_is_invisible(cp);
}

size_t layout_sanitize(const char *in, char *out, size_t max)
{
	size_t len = 0, left;
	const unsigned char *p = (const unsigned char *)(in ? in : "");

	/* One pass: map each character, collapse white space, drop leading
	 * spaces and dots, and stop at the first character that does not
	 * fit; trailing spaces and dots are dropped at the end, after the
	 * cut, so that the cut never leaves "subject .eml". */
	for (left = strlen((const char *)p); left > 0;) {
		const char *c = (const char *)p;
		size_t clen;
		uint32_t cp;
		long k = utf8_next(p, left, &cp);

		if (k < 0) {
			c = "\xef\xbf\xbd";     /* U+FFFD */
			clen = 3;
			k = -k;
		} else if (is_control(cp) || cp == ' ') {
			c = " ";
			clen = 1;
		} else if (cp == '/') {
			c = DIVISION_SLASH;
			clen = DIVISION_SLASH_LEN;
		} else {
			clen = (size_t)k;
		}
		p += k;
		left -= (size_t)k;
		if (*c == ' ' && (len == 0 || out[len - 1] == ' '))
			continue;
		if (*c == '.' && len == 0)
			continue;
		if (len + clen > max)
			break;
		memcpy(out + len, c, clen);
		len += clen;
	}
	while (len > 0 && (out[len - 1] == ' ' || out[len - 1] == '.'))
		len--;
	out[len] = '\0';
	return len;
}

char *layout_message_name(uint32_t uid, const char *subject)
{
	char subj[SUBJECT_MAX + 1];
	size_t len = layout_sanitize(subject, subj, SUBJECT_MAX);
	char *name;

	name = malloc(UID_DIGITS + 1 + len + EXT_LEN + 1);
	if (name == NULL)
		return NULL;
	if (len == 0)
		sprintf(name, "%010" PRIu32 EXT, uid);
	else
		sprintf(name, "%010" PRIu32 " %s" EXT, uid, subj);
	return name;
}

int layout_from_header(uint32_t uid, const char *hdr, size_t len, char **name_r,
                       char **msgid_r, char **date_r)
{
	char *subject = hdr ? mime_header(hdr, len, "Subject") : NULL;
	char *decoded = subject ? mime_decode_words(subject, strlen(subject)) : NULL;

	*name_r = layout_message_name(uid, decoded ? decoded : "");
	if (msgid_r)
		*msgid_r = hdr ? mime_header(hdr, len, "Message-ID") : NULL;
	if (date_r)
		*date_r = hdr ? mime_header(hdr, len, "Date") : NULL;
	free(subject);
	free(decoded);
	return *name_r ? 0 : -ENOMEM;
}

const char *layout_message_subject(const char *name, size_t *len_r)
{
	uint32_t uid;
	size_t n = strlen(name);

	if (layout_message_uid(name, &uid) < 0 || n == UID_DIGITS + EXT_LEN) {
		*len_r = 0;
		return "";
	}
	*len_r = n - UID_DIGITS - 1 - EXT_LEN;
	return name + UID_DIGITS + 1;
}

char *layout_message_rename(const char *name, uint32_t uid)
{
	size_t len;
	const char *subj = layout_message_subject(name, &len);
	char *subject = strndup(subj, len), *out;

	if (!subject)
		return NULL;
	out = layout_message_name(uid, subject);
	free(subject);
	return out;
}

int layout_message_uid(const char *name, uint32_t *uid_r)
{
	size_t n = strnlen(name, LAYOUT_NAME_MAX + 1);
	uint64_t uid = 0;
	size_t i;

	if (n > LAYOUT_NAME_MAX || n < UID_DIGITS + EXT_LEN)
		return -ENOENT;
	for (i = 0; i < UID_DIGITS; i++) {
		if (name[i] < '0' || name[i] > '9')
			return -ENOENT;
		uid = uid * 10 + (uint64_t)(name[i] - '0');
	}
	if (uid > UINT32_MAX)
		return -ENOENT;
	/* "<uid>.eml", or "<uid> <at least one byte>.eml" */
	if (n == UID_DIGITS + EXT_LEN) {
		if (strcmp(name + UID_DIGITS, EXT) != 0)
			return -ENOENT;
	} else if (name[UID_DIGITS] != ' ' || n < UID_DIGITS + 2 + EXT_LEN
		   || strcmp(name + n - EXT_LEN, EXT) != 0) {
		return -ENOENT;
	}
	*uid_r = (uint32_t)uid;
	return 0;
}

char *layout_dir_name(const char *component)
{
	const unsigned char *p = (const unsigned char *)component;
	size_t left = strlen(component), out_len = 0;
	char *name, *o;

	if (left == 0 || strcmp(component, ".") == 0 || strcmp(component, "..") == 0)
		goto inval;
	/* First pass: validate and measure. U+2215 in the server's name is
	 * refused, because it would come back as "/" and name another
	 * folder: the two functions must be exact inverses. */
	while (left > 0) {
		uint32_t cp;
		long k = utf8_next(p, left, &cp);

		if (k < 0 || is_control(cp) || cp == 0x2215)
			goto inval;
		out_len += cp == '/' ? DIVISION_SLASH_LEN : (size_t)k;
		p += k;
		left -= (size_t)k;
	}
	if (out_len > LAYOUT_NAME_MAX)
		goto inval;

	name = malloc(out_len + 1);
	if (name == NULL)
		return NULL;
	for (o = name, p = (const unsigned char *)component; *p != '\0'; p++) {
		if (*p == '/') {
			memcpy(o, DIVISION_SLASH, DIVISION_SLASH_LEN);
			o += DIVISION_SLASH_LEN;
		} else {
			*o++ = (char)*p;
		}
	}
	*o = '\0';
	return name;

inval:
	errno = EINVAL;
	return NULL;
}

char *layout_dir_component(const char *dirname)
{
	char *comp = malloc(strlen(dirname) + 1);
	const char *p = dirname;
	char *o = comp;

	if (comp == NULL)
		return NULL;
	/* Matching the three bytes is enough: in UTF-8 they cannot be the
	 * tail of another character. */
	while (*p != '\0') {
		if (strncmp(p, DIVISION_SLASH, DIVISION_SLASH_LEN) == 0) {
			*o++ = '/';
			p += DIVISION_SLASH_LEN;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return comp;
}
