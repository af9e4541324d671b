/* fuzz_render.c - libFuzzer target for the views (fs/engine/render.c):
 * message bytes -> render_structure() -> render_text() through
 * render_message_source(), and render_html_text() of the raw input.
 *
 * Whatever the bytes: the structure stays within net/bodystructure.h's
 * bounds (nesting below BS_MAX_DEPTH, at most BS_MAX_PARTS parts, a
 * message/rfc822 part with at most one body, lower-case types),
 * the message source serves every section of it, each leaf's and message's
 * section as long as the tree's size says and inside the message, and every
 * section render_text_needs() lists; the text and the HTML's text are valid
 * UTF-8 without NUL; every part name is "SECTION NAME", valid UTF-8 of at
 * most LAYOUT_NAME_MAX bytes without "/", controls, bidi or invisible
 * characters; decoding a part never fails.
 *
 * GMime and GLib keep caches for the life of the process (charset tables,
 * GMime's iconv cache, GObject types): they are reachable, so LeakSanitizer
 * (which libFuzzer runs when an input allocates more than it frees) does
 * not take them for leaks; what render.c allocates for one input is freed
 * before the input ends.
 */
#include "tests/fuzz/fuzzutil.h"

#include <errno.h>

#include "fs/engine/layout.h"
#include "fs/engine/render.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	render_init();
	return 0;
}

static int bad_name_char(uint32_t cp)
{
	static const uint32_t ranges[][2] = {
		{ 0x00, 0x1f }, { 0x7f, 0x9f }, { 0x061c, 0x061c }, { 0x200b, 0x200b },
		{ 0x200e, 0x200f }, { 0x2028, 0x202e }, { 0x2060, 0x2064 }, { 0x2066, 0x206f },
		{ 0xfeff, 0xfeff }, { 0xfff9, 0xfffb },
	};

	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
		if (cp >= ranges[i][0] && cp <= ranges[i][1])
			return 1;
	return cp == '/';
}

static void check_name(const struct bs_part *p, const char *section)
{
	char *name = render_part_name(p, section);
	size_t n, sl = strlen(section);
	const unsigned char *u;

	FUZZ_CHECK(name != NULL);
	n = strlen(name);
	FUZZ_CHECK(n > 0 && n <= LAYOUT_NAME_MAX);
	FUZZ_CHECK(fuzz_utf8_valid(name, n));
	FUZZ_CHECK(strncmp(name, section, sl) == 0 && name[sl] == ' ' && name[sl + 1] != '\0');
	for (u = (const unsigned char *)name; n > 0;) {
		uint32_t cp;
		size_t k = fuzz_utf8_next(u, n, &cp);

		FUZZ_CHECK(k > 0 && !bad_name_char(cp));
		u += k;
		n -= k;
	}
	free(name);
}

struct walk {
	const uint8_t *msg;
	size_t size;
	struct render_source *src;
	size_t parts;
};

static void check_section(struct walk *w, const char *section, int header, uint64_t want)
{
	const char *d = NULL;
	size_t n = 0;
	int dec = -1;

	FUZZ_CHECK(w->src->get(w->src->ctx, section, header, &d, &n, &dec) == 0 && dec == 0);
	FUZZ_CHECK(d >= (const char *)w->msg && n <= w->size &&
	           (size_t)(d - (const char *)w->msg) <= w->size - n);
	if (!header)
		FUZZ_CHECK(n == want);
}

static void walk(struct walk *w, const struct bs_part *p, const char *section, unsigned depth)
{
	char sub[BS_SECTION_MAX];
	int multi = p->type && strcmp(p->type, "multipart") == 0 && p->nkids > 0;

	w->parts++;
	FUZZ_CHECK(depth < BS_MAX_DEPTH && w->parts <= BS_MAX_PARTS);
	FUZZ_CHECK(p->type && p->subtype && p->encoding);
	for (const char *c = p->type; *c; c++)
		FUZZ_CHECK(!(*c >= 'A' && *c <= 'Z'));
	/* (a multipart past the bounds is a leaf) */
	if (multi) {
		for (size_t i = 0; i < p->nkids; i++) {
			snprintf(sub, sizeof(sub), "%s%s%zu", section, *section ? "." : "", i + 1);
			walk(w, &p->kids[i], sub, depth + 1);
		}
		return;
	}
	if (!*section)
		section = "1";
	FUZZ_CHECK(p->size <= w->size);
	check_section(w, section, 0, p->size);
	check_name(p, section);
	if (strcmp(p->type, "message") == 0 && strcmp(p->subtype, "rfc822") == 0 && p->nkids) {
		FUZZ_CHECK(p->nkids == 1);
		check_section(w, section, 1, 0);
		multi = strcmp(p->kids[0].type, "multipart") == 0 && p->kids[0].nkids > 0;
		snprintf(sub, sizeof(sub), "%s%s", section, multi ? "" : ".1");
		walk(w, &p->kids[0], sub, depth + 1);
		return;
	}
	FUZZ_CHECK(p->nkids == 0);
	{
		const char *d;
		size_t n;
		int dec;
		char *out;

		FUZZ_CHECK(w->src->get(w->src->ctx, section, 0, &d, &n, &dec) == 0);
		FUZZ_CHECK(render_decode(p, d, n, &out, &n) == 0);
		free(out);
	}
}

static int served(void *ctx, const char *section, int header)
{
	struct render_source *src = ctx;
	const char *d;
	size_t n;
	int dec;

	FUZZ_CHECK(src->get(src->ctx, section, header, &d, &n, &dec) == 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const charsets[] = { NULL, "utf-8", "iso-8859-1", "shift_jis", "x-bogus" };
	struct bs_part *root = NULL;
	struct render_source *src;
	char *text, *html;
	size_t len;
	int r;

	/* A copy of its own, so that ASan sees any read past the end. */
	char *msg = malloc(size ? size : 1);

	FUZZ_CHECK(msg != NULL);
	if (size)
		memcpy(msg, data, size);
	r = render_structure(msg, size, &root);
	FUZZ_CHECK(r == 0 || r == -E2BIG);
	if (r == 0) {
		struct walk w = { (const uint8_t *)msg, size, NULL, 0 };

		src = render_message_source(msg, size);
		FUZZ_CHECK(src != NULL);
		w.src = src;
		check_section(&w, "", 1, 0);
		walk(&w, root, "", 0);
		FUZZ_CHECK(render_text_needs(root, served, src) == 0);
		FUZZ_CHECK(render_text(root, src, &text, &len) == 0);
		FUZZ_CHECK(len > 0 && text[len - 1] == '\n' && fuzz_utf8_valid(text, len));
		free(text);
		render_message_source_free(src);
		bs_part_release(root);
		free(root);
	}
	r = render_html_text(msg, size, charsets[fuzz_hash(data, size) % 5], &html, &len);
	FUZZ_CHECK(r == 0 && fuzz_utf8_valid(html, len));
	free(html);
	free(msg);
	return 0;
}
