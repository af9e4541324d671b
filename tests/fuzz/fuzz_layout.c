/* fuzz_layout.c - libFuzzer target for the file-name sanitizer and the
 * folder name mapping (fs/engine/layout.c).
 *
 * Input: a UID in the first 4 bytes (big-endian; missing bytes are 0), then
 * a subject, cut at its first NUL. The subject is also used as a folder
 * component and as a file name.
 *
 * Message names (layout.h, SPEC §2) must be valid UTF-8 of at most
 * LAYOUT_NAME_MAX bytes, "<10 digits>[ <subject>].eml", without "/", NUL,
 * C0/C1 controls, DEL, bidi controls or invisible format characters (U+061C,
 * U+200B, U+200E/F, U+2028-U+202E, U+2060-U+2064, U+2066-U+206F, U+FEFF,
 * U+FFF9-U+FFFB), without a leading ".", two spaces in a row, or a
 * space or dot just before ".eml"; layout_message_uid() must give the UID
 * back; a subject that needs no sanitizing must appear unchanged.
 * Folder names: whatever layout_dir_name() accepts maps back exactly
 * through layout_dir_component() and is a name the kernel takes.
 */
#include "tests/fuzz/fuzzutil.h"

#include <errno.h>
#include <inttypes.h>

#include "fs/engine/layout.h"

#define SUBJECT_MAX (LAYOUT_NAME_MAX - 10 - 1 - 4)

static int is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

/* The bidi controls and invisible format characters SPEC §5 keeps out of
 * file names (written out here, not taken from net/utf8.c). */
static int is_bidi_or_invisible(uint32_t cp)
{
	static const uint32_t ranges[][2] = {
		{ 0x061c, 0x061c }, { 0x200b, 0x200b }, { 0x200e, 0x200f },
		{ 0x2028, 0x202e }, { 0x2060, 0x2064 }, { 0x2066, 0x206f },
		{ 0xfeff, 0xfeff }, { 0xfff9, 0xfffb },
	};

	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
		if (cp >= ranges[i][0] && cp <= ranges[i][1])
			return 1;
	return 0;
}

/* Valid UTF-8 without NUL, controls, bidi controls, invisible format
 * characters or "/". */
static int clean_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	uint32_t cp;

	while (n > 0) {
		size_t k = fuzz_utf8_next(p, n, &cp);

		if (k == 0 || is_control(cp) || is_bidi_or_invisible(cp) || cp == '/')
			return 0;
		p += k;
		n -= k;
	}
	return 1;
}

static void check_message_name(uint32_t uid, const char *subject)
{
	char *name = layout_message_name(uid, subject);
	size_t len;
	uint32_t back;

	FUZZ_CHECK(name != NULL);
	len = strlen(name);
	FUZZ_CHECK(len <= LAYOUT_NAME_MAX && len >= 14);
	FUZZ_CHECK(clean_utf8(name));
	FUZZ_CHECK(name[0] != '.');
	FUZZ_CHECK(strcmp(name + len - 4, ".eml") == 0);
	FUZZ_CHECK(name[len - 5] != ' ' && name[len - 5] != '.');
	FUZZ_CHECK(strstr(name, "  ") == NULL);
	for (int i = 0; i < 10; i++)
		FUZZ_CHECK(name[i] >= '0' && name[i] <= '9');
	FUZZ_CHECK(len == 14 || (name[10] == ' ' && name[11] != ' ' && name[11] != '.'));
	FUZZ_CHECK(layout_message_uid(name, &back) == 0 && back == uid);

	/* A subject that is already a clean name part is kept as it is. */
	if (subject && subject[0] && strlen(subject) <= SUBJECT_MAX && clean_utf8(subject) &&
	    !strstr(subject, "  ") && subject[0] != ' ' && subject[0] != '.' &&
	    subject[strlen(subject) - 1] != ' ' && subject[strlen(subject) - 1] != '.') {
		char want[LAYOUT_NAME_MAX + 1];

		snprintf(want, sizeof(want), "%010" PRIu32 " %s.eml", uid, subject);
		FUZZ_CHECK(strcmp(name, want) == 0);
	}
	free(name);
}

static void check_dir_name(const char *component)
{
	char *name, *back;

	errno = 0;
	name = layout_dir_name(component);
	if (!name) {
		FUZZ_CHECK(errno == EINVAL);
		return;
	}
	FUZZ_CHECK(strlen(name) <= LAYOUT_NAME_MAX && clean_utf8(name));
	FUZZ_CHECK(name[0] && strcmp(name, ".") != 0 && strcmp(name, "..") != 0);
	back = layout_dir_component(name);
	FUZZ_CHECK(back != NULL && strcmp(back, component) == 0);
	free(back);
	free(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t uid = 0, u;
	size_t i;
	char *subject, *comp;

	for (i = 0; i < 4; i++)
		uid = uid << 8 | (i < size ? data[i] : 0);
	subject = fuzz_strndup(data + (size < 4 ? size : 4), size < 4 ? 0 : size - 4);

	check_message_name(uid, subject);
	check_message_name(uid, NULL);
	check_dir_name(subject);

	/* A directory name the user made up maps to some component; it is
	 * valid only if it maps back (the caller's check), never a crash. */
	comp = layout_dir_component(subject);
	FUZZ_CHECK(comp != NULL && strlen(comp) <= strlen(subject));
	check_dir_name(comp);
	free(comp);

	/* Any file name may be looked up. */
	if (layout_message_uid(subject, &u) == 0)
		for (i = 0; i < 10; i++)
			FUZZ_CHECK(subject[i] >= '0' && subject[i] <= '9');
	free(subject);
	return 0;
}
