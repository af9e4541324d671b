/* test_render.c - the text and parts views (fs/engine/render.c): the
 * tricky messages of render_fixtures.h rendered to their exact text, the
 * same text from a structure and sections made by hand (cut out of the
 * message here, not by GMime) as from the whole message, part names, HTML
 * to text, transfer decoding, charsets, and hostile input. */
#include "tests/unit/testutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "fs/engine/layout.h"
#include "fs/engine/render.h"
#include "tests/unit/render_fixtures.h"

#define FFFD "\xef\xbf\xbd"

/* ---- helpers ---------------------------------------------------------------- */

static char *fixture(const char *name, size_t *len_r)
{
	for (size_t i = 0; i < render_fixture_count(); i++)
		if (strcmp(render_fixtures[i].name, name) == 0)
			return render_fixture(i, len_r);
	fail_msg("no fixture %s", name);
	return NULL;
}

/* LF -> CRLF, malloc'd */
static char *crlf(const char *s)
{
	struct render_fixture_buf b = { 0 };

	rfb_text(&b, s);
	if (!b.data)
		rfb_add(&b, "", 0);
	return b.data;
}

/* Strict UTF-8 without NUL, written out here (not net/utf8.c's). */
static int valid_utf8(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *e = p + n;

	while (p < e) {
		unsigned char c = *p;
		unsigned char lo = 0x80, hi = 0xbf;
		int k;

		if (c == 0)
			return 0;
		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			lo = c == 0xe0 ? 0xa0 : 0x80;
			hi = c == 0xed ? 0x9f : 0xbf;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			lo = c == 0xf0 ? 0x90 : 0x80;
			hi = c == 0xf4 ? 0x8f : 0xbf;
		} else {
			return 0;
		}
		if (e - p <= k)
			return 0;
		for (int i = 1; i <= k; i++) {
			if (p[i] < lo || p[i] > hi)
				return 0;
			lo = 0x80;
			hi = 0xbf;
		}
		p += k + 1;
	}
	return 1;
}

/* What SPEC §5 keeps out of file names: C0, DEL, C1, the bidi controls and
 * invisible format characters (written out here). */
static int bad_in_name(uint32_t cp)
{
	static const uint32_t ranges[][2] = {
		{ 0x00, 0x1f }, { 0x7f, 0x9f }, { 0x061c, 0x061c }, { 0x200b, 0x200b },
		{ 0x200e, 0x200f }, { 0x2028, 0x202e }, { 0x2060, 0x2064 }, { 0x2066, 0x206f },
		{ 0xfeff, 0xfeff }, { 0xfff9, 0xfffb },
	};

	for (size_t i = 0; i < ARRAY_SIZE(ranges); i++)
		if (cp >= ranges[i][0] && cp <= ranges[i][1])
			return 1;
	return cp == '/';
}

/* NULL, or what is wrong with part name NAME of part SECTION. */
static const char *check_part_name(const char *name, const char *section)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t n = strlen(name), sl = strlen(section);

	if (n == 0 || n > LAYOUT_NAME_MAX)
		return "empty or longer than LAYOUT_NAME_MAX";
	if (!valid_utf8(name, n))
		return "not valid UTF-8";
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return "a dot name";
	if (sl && (strncmp(name, section, sl) != 0 || name[sl] != ' ' || name[sl + 1] == '\0'))
		return "not \"SECTION NAME\"";
	while (*p) {
		uint32_t cp;
		int k = *p < 0x80 ? 1 : *p < 0xe0 ? 2 : *p < 0xf0 ? 3 : 4;

		cp = k == 1 ? *p : (uint32_t)(*p & (0x7f >> k));
		for (int i = 1; i < k; i++)
			cp = cp << 6 | (p[i] & 0x3f);
		if (bad_in_name(cp))
			return "a control, bidi, invisible character or /";
		p += k;
	}
	return NULL;
}

static char *text_of(const char *msg, size_t len)
{
	struct bs_part *root = NULL;
	struct render_source *src;
	char *text;
	size_t tlen;

	assert_int_equal(render_structure(msg, len, &root), 0);
	src = render_message_source(msg, len);
	assert_non_null(src);
	assert_int_equal(render_text(root, src, &text, &tlen), 0);
	assert_int_equal(strlen(text), tlen);
	assert_true(valid_utf8(text, tlen));
	render_message_source_free(src);
	bs_free(root);
	return text;
}

/* ---- trees made by hand --------------------------------------------------- */

static struct bs_param *params(size_t *n_r, const char *const *kv)
{
	size_t n = 0;
	struct bs_param *ps;

	while (kv && kv[2 * n])
		n++;
	*n_r = n;
	if (!n)
		return NULL;
	ps = calloc(n, sizeof(*ps));
	assert_non_null(ps);
	for (size_t i = 0; i < n; i++) {
		ps[i].name = strdup(kv[2 * i]);
		ps[i].value = strdup(kv[2 * i + 1]);
	}
	return ps;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Fills P: a leaf */
static void mk_leaf(struct bs_part *p, const char *type, const char *subtype,
                    const char *const *ps, const char *enc, uint64_t size, uint64_t lines,
                    const char *disp, const char *const *dps)
{
	memset(p, 0, sizeof(*p));
	p->type = dup_or_null(type);
	p->subtype = dup_or_null(subtype);
	p->params = params(&p->nparams, ps);
	p->encoding = dup_or_null(enc);
	p->size = size;
	p->lines = lines;
	p->disposition = dup_or_null(disp);
	p->disp_params = params(&p->ndisp_params, dps);
}

static void mk_multi(struct bs_part *p, const char *subtype, const char *boundary, size_t nkids)
{
	const char *ps[] = { "boundary", boundary, NULL };

	mk_leaf(p, "multipart", subtype, ps, "7bit", 0, 0, NULL, NULL);
	p->nkids = nkids;
	p->kids = calloc(nkids, sizeof(*p->kids));
	assert_non_null(p->kids);
}

static void mk_message(struct bs_part *p, const char *subject, uint64_t size, uint64_t lines,
                       const char *disp, const char *const *dps)
{
	mk_leaf(p, "message", "rfc822", NULL, "7bit", size, lines, disp, dps);
	p->subject = dup_or_null(subject);
	p->nkids = 1;
	p->kids = calloc(1, sizeof(*p->kids));
	assert_non_null(p->kids);
}

static const char *const US_ASCII[] = { "charset", "us-ascii", NULL };

static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int same_params(const struct bs_param *a, size_t na, const struct bs_param *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (!same_str(a[i].name, b[i].name) || !same_str(a[i].value, b[i].value))
			return 0;
	return 1;
}

/* Compares two trees; prints where they differ. */
static int same_tree(const struct bs_part *a, const struct bs_part *b, const char *where)
{
	if (!same_str(a->type, b->type) || !same_str(a->subtype, b->subtype) ||
	    !same_params(a->params, a->nparams, b->params, b->nparams) ||
	    !same_str(a->id, b->id) || !same_str(a->description, b->description) ||
	    !same_str(a->encoding, b->encoding) || a->size != b->size || a->lines != b->lines ||
	    !same_str(a->disposition, b->disposition) ||
	    !same_params(a->disp_params, a->ndisp_params, b->disp_params, b->ndisp_params) ||
	    !same_str(a->subject, b->subject) || a->nkids != b->nkids) {
		print_message("trees differ at %s: %s/%s size %" PRIu64 " lines %" PRIu64
		              " kids %zu, against %s/%s size %" PRIu64 " lines %" PRIu64 " kids %zu\n",
		              where, a->type, a->subtype, a->size, a->lines, a->nkids, b->type,
		              b->subtype, b->size, b->lines, b->nkids);
		return 0;
	}
	for (size_t i = 0; i < a->nkids; i++) {
		char sub[64];

		snprintf(sub, sizeof(sub), "%s/%zu", where, i + 1);
		if (!same_tree(&a->kids[i], &b->kids[i], sub))
			return 0;
	}
	return 1;
}

/* A source of sections given here, which counts what is asked. */
struct tsec {
	const char *section;
	int header;
	const char *data;       /* LF line ends: served with CRLF */
	int asked;
};

struct tsrc {
	struct tsec *secs;
	size_t n;
	char *bufs[32];
	size_t nbufs;
	int fail_with;
	int decoded;            /* serve bodies as already decoded (BINARY[]) */
};

static int tsrc_get(void *ctx, const char *section, int header, const char **data, size_t *len,
                    int *decoded)
{
	struct tsrc *t = ctx;

	if (t->fail_with)
		return t->fail_with;
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->secs[i].section, section) == 0 && !t->secs[i].header == !header) {
			char *b = crlf(t->secs[i].data);

			t->secs[i].asked++;
			assert_true(t->nbufs < ARRAY_SIZE(t->bufs));
			t->bufs[t->nbufs++] = b;
			*data = b;
			*len = strlen(b);
			*decoded = !header && t->decoded;
			return 0;
		}
	print_message("render_text asked for %s (header %d), which the test does not serve\n",
	              section, header);
	return -ENOENT;
}

static void tsrc_release(struct tsrc *t)
{
	for (size_t i = 0; i < t->nbufs; i++)
		free(t->bufs[i]);
	t->nbufs = 0;
}

struct need_list {
	char items[16][BS_SECTION_MAX + 2];
	size_t n;
};

static int record_need(void *ctx, const char *section, int header)
{
	struct need_list *l = ctx;

	assert_true(l->n < ARRAY_SIZE(l->items));
	snprintf(l->items[l->n++], sizeof(l->items[0]), "%d%s", header, section);
	return 0;
}

/* ---- the fixtures' texts ---------------------------------------------------- */

struct text_case {
	const char *fixture;
	const char *text;
};

static const struct text_case text_cases[] = {
	{ "qp-soft-break",
	  "From: Alice <alice@example.org>\nTo: Bob <bob@example.org>\n"
	  "Date: Tue, 1 Jul 2025 10:52:37 +0200\nSubject: Cafe\n\n"
	  "Un caf\xc3\xa9 cr\xc3\xa8me, s'il vous pla\xc3\xaet.\nSoftly broken line= ok.\n" },
	{ "base64-text",
	  "From: alice@example.org\nSubject: base64\n\n"
	  "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln\nZweite Zeile mit invoice 42\n" },
	{ "html-only",
	  "From: news@example.org\nSubject: HTML only\n\n"
	  "Big news\n\nFish & chips <today> only \xc3\xa9t\xc3\xa9 \xe2\x82\xac" "5\n\n"
	  "one\ntwo\ntwo.a\ncell 1 cell 2\nrow 2\na\nb\n\nc\n  pre  kept\n    indented\n\n"
	  "end link\n" },
	{ "alternative", "From: alice@example.org\nSubject: alternative\n\nThe plain alternative.\n" },
	{ "alternative-related",
	  "From: alice@example.org\nSubject: html and images\n\nLook at this.\n"
	  "[attachment: image.png, image/png, 70 B]\n" },
	{ "iso-8859-1",
	  "From: Fran\xc3\xa7ois <f@example.org>\nSubject: latin1\n\n"
	  "Caf\xc3\xa9 cr\xc3\xa8me \xc3\xa0 la fran\xc3\xa7" "aise.\n" },
	{ "windows-1252",
	  "From: bob@example.org\nSubject: cp1252\n\n"
	  "Price: \xe2\x82\xac" "100, \xe2\x80\x9csmart quotes\xe2\x80\x9d and "
	  "\xe2\x80\x98single\xe2\x80\x99\xe2\x80\xa6\n" },
	{ "koi8-r",
	  "From: ivan@example.org\nSubject: \xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\n\n"
	  "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82, \xd0\xbc\xd0\xb8\xd1\x80!\n" },
	{ "shift_jis",
	  "From: taro@example.jp\nSubject: \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\n\n"
	  "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9"
	  "\xe3\x83\x88\n" },
	{ "rfc2047-headers",
	  "From: J\xc3\xbcrgen M\xc3\xbcller <j@example.de>\n"
	  "To: Andr\xc3\xa9 <andre@example.fr>, plain@example.org\n"
	  "Cc: \"Quoted, Name\" <q@example.org>\nDate: Wed, 2 Jul 2025 08:00:00 +0000\n"
	  "Subject: \xc3\x89l\xc3\xa8ve et ma\xc3\xaetre folded on two lines\n\nBody.\n" },
	{ "rfc2231-names",
	  "From: alice@example.org\nSubject: names\n\nSee attached.\n"
	  "[attachment: \xe2\x82\xac rapport \xc3\xa9t\xc3\xa9.pdf, application/pdf, 9 B]\n"
	  "[attachment: caf\xc3\xa9.txt, text/plain, 17 B]\n"
	  "[attachment: \xc3\xa9" "cole.bin, application/octet-stream, 6 B]\n" },
	{ "nested-forward",
	  "From: carol@example.org\nSubject: Fwd: Fwd: origin\n\nOuter text.\n\n"
	  "From: bob@example.org\nSubject: Fwd:  origin\n\nMiddle text.\n\n"
	  "From: alice@example.org\nSubject: origin\n\nInner text.\n\n"
	  "Subject: leaf message\n\nLeaf body.\n" },
	{ "missing-end-boundary",
	  "From: alice@example.org\nSubject: no end\n\nFirst part.\nSecond part, never closed.\n"
	  "Last line.\n" },
	{ "big-attachment",
	  "From: alice@example.org\nSubject: big attachment\n\nThe short text beside the invoice.\n"
	  "[attachment: big.bin, application/octet-stream, 3.0 MB]\n" },
	{ "bad-base64", "From: alice@example.org\nSubject: bad base64\n\nHello world!\n" },
	{ "unknown-charset",
	  "From: alice@example.org\nSubject: unknown charset\n\nValid UTF-8: cr\xc3\xa8me\n"
	  "Latin-1: cr\xc3\xa8me\nBad UTF-8: a" FFFD "b" FFFD "(c\n" },
	{ "big-part-header",
	  "From: alice@example.org\nSubject: big part header\n\nText after a 1 MB header.\n" },
	{ "evil-names",
	  "From: mallory@example.org\nSubject: evil names\n\n"
	  "[attachment: \xe2\x88\x95..\xe2\x88\x95x, application/octet-stream, 1 B]\n"
	  "[attachment: a b [31mc d.txt, application/octet-stream, 1 B]\n"
	  "[attachment: invoice fdp.exe, application/octet-stream, 1 B]\n"
	  "[attachment: image.png, image/png, 1 B]\n"
	  "[attachment: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	  "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
	  "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC.pdf, application/pdf, 1 B]\n"
	  "[attachment: text.txt, text/plain, 1 B]\n" },
	{ "text-attachment",
	  "From: alice@example.org\nSubject: text attachment\n\nA part with no header at all.\n"
	  "[attachment: notes.txt, text/plain, 38 B]\n[attachment: text.csv, text/csv, 3 B]\n" },
	{ "no-content-type",
	  "From: old@example.org\nSubject: no MIME at all\n\n"
	  "Plain 8-bit UTF-8 without any MIME: na\xc3\xafve.\n" },
	{ "uuencode",
	  "From: alice@example.org\nSubject: uuencoded\n\n"
	  "[attachment: hello.txt, application/octet-stream, 27 B]\n" },
	{ "digest",
	  "From: list@example.org\nSubject: digest\n\nSubject: first of the digest\n\n"
	  "Digest message one.\n\nSubject: second\n\nDigest message tw\xc3\xb6.\n" },
	{ "message-top",
	  "From: wrapper@example.org\nSubject: a message that is a message\n\n"
	  "From: inner@example.org\nSubject: the inner one\n\nonly html\n" },
	{ "odd-boundaries",
	  "From: alice@example.org\nSubject: odd boundaries\n\npadding after the delimiter\n"
	  "inner\n" },
	{ "upper-case-and-comments", "From: alice@example.org\nSubject: upper case\n\nHi there\n" },
	{ "rfc822-base64",
	  "From: alice@example.org\nSubject: encoded message\n\n"
	  "[attachment: message.eml, message/rfc822, 27 B]\n" },
	{ "multipart-without-boundary", "From: alice@example.org\nSubject: no boundary\n\n" },
	{ "boundary-never-seen", "From: alice@example.org\nSubject: boundary never seen\n\n" },
	{ "prefix-boundaries",
	  "From: alice@example.org\nSubject: a boundary that starts another\n\ninner plain\n"
	  "outer second\n" },
	{ "rfc822-unclosed",
	  "From: alice@example.org\nSubject: forward with an unclosed multipart\n\n"
	  "Subject: inner\n\ninner text, its multipart never closed\nafter\n" },
	{ "empty-body", "From: alice@example.org\nSubject: empty\n\n" },
	{ "header-only", "From: alice@example.org\nSubject: no blank line\n\n" },
	{ "not-a-message", "\n" },
};

static void test_fixture_texts(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(text_cases); i++) {
		size_t len;
		char *msg = fixture(text_cases[i].fixture, &len);
		char *text = text_of(msg, len);

		if (strcmp(text, text_cases[i].text) != 0)
			fail_msg("%s: got\n%s\nwanted\n%s", text_cases[i].fixture, text, text_cases[i].text);
		free(text);
		free(msg);
	}
}

/* Every fixture has an expected text above. */
static void test_fixtures_all_covered(void **state)
{
	(void)state;
	for (size_t i = 0; i < render_fixture_count(); i++) {
		size_t k;

		if (strcmp(render_fixtures[i].name, "deep-nesting") == 0)
			continue;       /* test_deep below */
		for (k = 0; k < ARRAY_SIZE(text_cases); k++)
			if (strcmp(text_cases[k].fixture, render_fixtures[i].name) == 0)
				break;
		if (k == ARRAY_SIZE(text_cases))
			fail_msg("fixture %s has no expected text", render_fixtures[i].name);
	}
}

/* ---- two sources, one result ---------------------------------------------- */

/* Runs render_text on HAND (a tree written here) with the sections SECS,
 * checks that render_structure() gives the same tree, that the message's
 * own source serves the same bytes for each section, that
 * render_text_needs() lists exactly the sections asked for, and that both
 * give the text WANT. */
static void two_sources(const char *name, struct bs_part *hand, struct tsec *secs, size_t nsecs,
                        const char *want)
{
	struct tsrc t = { .secs = secs, .n = nsecs };
	struct render_source src = { tsrc_get, &t }, *msrc;
	struct need_list needs = { .n = 0 };
	struct bs_part *mine = NULL;
	size_t len, tlen;
	char *msg = fixture(name, &len), *text;

	assert_int_equal(render_structure(msg, len, &mine), 0);
	if (!same_tree(mine, hand, name))
		fail_msg("%s: render_structure() is not the tree written by hand", name);

	msrc = render_message_source(msg, len);
	assert_non_null(msrc);
	for (size_t i = 0; i < nsecs; i++) {
		const char *d;
		size_t n;
		int dec = -1;
		char *want_bytes = crlf(secs[i].data);

		assert_int_equal(msrc->get(msrc->ctx, secs[i].section, secs[i].header, &d, &n, &dec), 0);
		assert_int_equal(dec, 0);
		if (n != strlen(want_bytes) || memcmp(d, want_bytes, n) != 0)
			fail_msg("%s: section %s (header %d): the message source serves %zu bytes, "
			         "cut by hand %zu", name, secs[i].section, secs[i].header, n,
			         strlen(want_bytes));
		free(want_bytes);
	}

	assert_int_equal(render_text(hand, &src, &text, &tlen), 0);
	assert_string_equal(text, want);
	free(text);
	tsrc_release(&t);
	assert_int_equal(render_text_needs(hand, record_need, &needs), 0);
	for (size_t i = 0; i < nsecs; i++) {
		char item[BS_SECTION_MAX + 2];
		size_t k;

		snprintf(item, sizeof(item), "%d%s", secs[i].header, secs[i].section);
		for (k = 0; k < needs.n; k++)
			if (strcmp(needs.items[k], item) == 0)
				break;
		/* what render_text asked for is what render_text_needs lists */
		assert_int_equal(secs[i].asked ? 1 : 0, k < needs.n ? 1 : 0);
		assert_true(secs[i].asked <= 1);
	}
	assert_int_equal(render_text(mine, msrc, &text, &tlen), 0);
	assert_string_equal(text, want);
	free(text);
	render_message_source_free(msrc);
	bs_free(mine);
	free(msg);
}

static void test_two_sources_qp(void **state)
{
	const char *ps[] = { "charset", "utf-8", NULL };
	struct bs_part *t = calloc(1, sizeof(*t));
	struct tsec secs[] = {
		{ "", 1, "From: Alice <alice@example.org>\nTo: Bob <bob@example.org>\n"
		         "Date: Tue, 1 Jul 2025 10:52:37 +0200\nSubject: Cafe\nMIME-Version: 1.0\n"
		         "Content-Type: text/plain; charset=utf-8\n"
		         "Content-Transfer-Encoding: quoted-printable\n\n", 0 },
		{ "1", 0, "Un caf=C3=A9 cr=\n=C3=A8me, s'il vous pla=C3=AEt.\nSoft=\n"
		          "ly broken line=3D ok.\n", 0 },
	};

	(void)state;
	mk_leaf(t, "text", "plain", ps, "quoted-printable", 81, 4, NULL, NULL);
	two_sources("qp-soft-break", t, secs, ARRAY_SIZE(secs), text_cases[0].text);
	bs_free(t);
}

static void test_two_sources_alternative(void **state)
{
	struct bs_part *t = calloc(1, sizeof(*t));
	struct tsec secs[] = {
		{ "", 1, "From: alice@example.org\nSubject: alternative\nMIME-Version: 1.0\n"
		         "Content-Type: multipart/alternative; boundary=\"alt\"\n\n", 0 },
		{ "1", 0, "The plain alternative.", 0 },
		{ "2", 0, "<p>The <b>HTML</b> alternative.</p>", 0 },
	};

	(void)state;
	mk_multi(t, "alternative", "alt", 2);
	mk_leaf(&t->kids[0], "text", "plain", US_ASCII, "7bit", 22, 0, NULL, NULL);
	mk_leaf(&t->kids[1], "text", "html", US_ASCII, "7bit", 35, 0, NULL, NULL);
	two_sources("alternative", t, secs, ARRAY_SIZE(secs),
	            "From: alice@example.org\nSubject: alternative\n\nThe plain alternative.\n");
	/* the plain one only */
	assert_int_equal(secs[1].asked, 1);
	assert_int_equal(secs[2].asked, 0);
	bs_free(t);
}

static void test_two_sources_forward(void **state)
{
	const char *fwd[] = { "filename", "fwd.eml", NULL };
	struct bs_part *t = calloc(1, sizeof(*t)), *m, *mm, *m2;
	struct tsec secs[] = {
		{ "", 1, "From: carol@example.org\nSubject: Fwd: Fwd: origin\nMIME-Version: 1.0\n"
		         "Content-Type: multipart/mixed; boundary=\"o\"\n\n", 0 },
		{ "1", 0, "Outer text.", 0 },
		{ "2", 1, "From: bob@example.org\nSubject: Fwd:\n  origin\nMIME-Version: 1.0\n"
		          "Content-Type: multipart/mixed; boundary=\"i\"\n\n", 0 },
		{ "2.1", 0, "Middle text.", 0 },
		{ "2.2", 1, "From: alice@example.org\nSubject: origin\n\n", 0 },
		{ "2.2.1", 0, "Inner text.", 0 },
		{ "3", 1, "Subject: leaf message\n\n", 0 },
		{ "3.1", 0, "Leaf body.", 0 },
		/* the whole embedded messages, as BODY[2] and BODY[2.2] */
		{ "2", 0, "From: bob@example.org\nSubject: Fwd:\n  origin\nMIME-Version: 1.0\n"
		          "Content-Type: multipart/mixed; boundary=\"i\"\n\npreamble\n--i\n"
		          "Content-Type: text/plain\n\nMiddle text.\n--i\n"
		          "Content-Type: message/rfc822\n\nFrom: alice@example.org\n"
		          "Subject: origin\n\nInner text.\n--i--\nepilogue of i\n", 0 },
		{ "2.2", 0, "From: alice@example.org\nSubject: origin\n\nInner text.", 0 },
	};

	(void)state;
	mk_multi(t, "mixed", "o", 3);
	mk_leaf(&t->kids[0], "text", "plain", US_ASCII, "7bit", 11, 0, NULL, NULL);
	m = &t->kids[1];
	mk_message(m, "Fwd: origin", 287, 20, "attachment", fwd);
	mm = &m->kids[0];
	mk_multi(mm, "mixed", "i", 2);
	mk_leaf(&mm->kids[0], "text", "plain", US_ASCII, "7bit", 12, 0, NULL, NULL);
	mk_message(&mm->kids[1], "origin", 55, 3, NULL, NULL);
	mk_leaf(&mm->kids[1].kids[0], "text", "plain", US_ASCII, "7bit", 11, 0, NULL, NULL);
	m2 = &t->kids[2];
	mk_message(m2, "leaf message", 35, 2, NULL, NULL);
	mk_leaf(&m2->kids[0], "text", "plain", US_ASCII, "7bit", 10, 0, NULL, NULL);
	two_sources("nested-forward", t, secs, ARRAY_SIZE(secs),
	            "From: carol@example.org\nSubject: Fwd: Fwd: origin\n\nOuter text.\n\n"
	            "From: bob@example.org\nSubject: Fwd:  origin\n\nMiddle text.\n\n"
	            "From: alice@example.org\nSubject: origin\n\nInner text.\n\n"
	            "Subject: leaf message\n\nLeaf body.\n");
	assert_int_equal(secs[8].asked + secs[9].asked, 0);
	bs_free(t);
}

static void test_two_sources_missing_end(void **state)
{
	struct bs_part *t = calloc(1, sizeof(*t));
	struct tsec secs[] = {
		{ "", 1, "From: alice@example.org\nSubject: no end\nMIME-Version: 1.0\n"
		         "Content-Type: multipart/mixed; boundary=\"b\"\n\n", 0 },
		{ "1", 0, "First part.", 0 },
		/* no close delimiter: the part runs to the end, line break included */
		{ "2", 0, "Second part, never closed.\nLast line.\n", 0 },
	};

	(void)state;
	mk_multi(t, "mixed", "b", 2);
	mk_leaf(&t->kids[0], "text", "plain", US_ASCII, "7bit", 11, 0, NULL, NULL);
	mk_leaf(&t->kids[1], "text", "plain", US_ASCII, "7bit", 40, 2, NULL, NULL);
	two_sources("missing-end-boundary", t, secs, ARRAY_SIZE(secs),
	            "From: alice@example.org\nSubject: no end\n\nFirst part.\n"
	            "Second part, never closed.\nLast line.\n");
	bs_free(t);
}

/* The text of the message with a 3 MB attachment needs the header and the
 * short text only: the attachment is never asked for. */
static void test_needs_skip_attachment(void **state)
{
	const char *name[] = { "name", "big.bin", NULL }, *fname[] = { "filename", "big.bin", NULL };
	const char *u8[] = { "charset", "utf-8", NULL };
	struct bs_part *t = calloc(1, sizeof(*t)), *mine = NULL;
	struct need_list needs = { .n = 0 };
	struct tsec secs[] = {
		{ "", 1, "From: alice@example.org\nSubject: big attachment\nMIME-Version: 1.0\n"
		         "Content-Type: multipart/mixed; boundary=\"big\"\n\n", 0 },
		{ "1", 0, "The short text beside the invoice.", 0 },
	};
	size_t len;
	char *msg = fixture("big-attachment", &len);

	(void)state;
	/* 3 MiB in base64: lines of 57 octets (76 characters and CRLF), the
	 * last of 12 (16 characters; its CRLF is the delimiter's) */
	mk_multi(t, "mixed", "big", 2);
	mk_leaf(&t->kids[0], "text", "plain", u8, "7bit", 34, 0, NULL, NULL);
	mk_leaf(&t->kids[1], "application", "octet-stream", name, "base64",
	        (3u << 20) / 57 * 78 + ((3u << 20) % 57 + 2) / 3 * 4, 0, "attachment", fname);
	assert_int_equal(render_structure(msg, len, &mine), 0);
	assert_true(same_tree(mine, t, "big-attachment"));
	assert_int_equal(render_text_needs(mine, record_need, &needs), 0);
	assert_int_equal(needs.n, 2);
	assert_string_equal(needs.items[0], "1");      /* header of the message */
	assert_string_equal(needs.items[1], "01");     /* BODY[1] */
	bs_free(mine);
	free(msg);
	two_sources("big-attachment", t, secs, ARRAY_SIZE(secs),
	            "From: alice@example.org\nSubject: big attachment\n\n"
	            "The short text beside the invoice.\n"
	            "[attachment: big.bin, application/octet-stream, 3.0 MB]\n");
	bs_free(t);
}

static int stop_at_second(void *ctx, const char *section, int header)
{
	int *n = ctx;

	(void)section;
	(void)header;
	return ++*n == 2 ? -EINTR : 0;
}

/* A source's error ends the build with it; a callback's result ends
 * render_text_needs(). */
static void test_source_errors(void **state)
{
	struct bs_part *t = calloc(1, sizeof(*t));
	struct tsrc ts = { .fail_with = -EIO };
	struct render_source src = { tsrc_get, &ts };
	char *text = (char *)"x";
	size_t tlen = 1;
	int n = 0;

	(void)state;
	mk_multi(t, "mixed", "b", 2);
	mk_leaf(&t->kids[0], "text", "plain", US_ASCII, "7bit", 1, 0, NULL, NULL);
	mk_leaf(&t->kids[1], "text", "plain", US_ASCII, "7bit", 1, 0, NULL, NULL);
	assert_int_equal(render_text(t, &src, &text, &tlen), -EIO);
	assert_null(text);
	assert_int_equal(render_text_needs(t, stop_at_second, &n), -EINTR);
	assert_int_equal(n, 2);
	bs_free(t);
}

/* ---- the parts view's names ------------------------------------------------- */

struct name_case {
	const char *type, *subtype;
	const char *dparam[5];  /* disposition parameters */
	const char *param[5];   /* Content-Type parameters */
	const char *section;
	const char *want;       /* NULL: only the rules are checked */
};

static const struct name_case name_cases[] = {
	{ "application", "pdf", { "filename", "report.pdf" }, { 0 }, "2", "2 report.pdf" },
	{ "application", "pdf", { 0 }, { "name", "by-type.pdf" }, "2", "2 by-type.pdf" },
	{ "application", "pdf", { "filename", "disp.pdf" }, { "name", "type.pdf" }, "2", "2 disp.pdf" },
	{ "application", "octet-stream", { "filename", "../../x" }, { 0 }, "1.2",
	  "1.2 \xe2\x88\x95..\xe2\x88\x95x" },
	{ "application", "octet-stream", { "filename", "/etc/passwd" }, { 0 }, "3",
	  "3 \xe2\x88\x95" "etc\xe2\x88\x95passwd" },
	{ "application", "octet-stream", { "filename", ".." }, { 0 }, "3", "3 part.bin" },
	{ "application", "octet-stream", { "filename", "." }, { 0 }, "3", "3 part.bin" },
	{ "application", "octet-stream", { "filename", "" }, { 0 }, "3", "3 part.bin" },
	{ "application", "octet-stream", { "filename", "   " }, { 0 }, "3", "3 part.bin" },
	{ "application", "octet-stream", { "filename", ".hidden" }, { 0 }, "3", "3 hidden" },
	{ "application", "octet-stream", { "filename", "a\x01" "b\x1b[2Jc\x7f" "d\r\ne.txt" }, { 0 },
	  "4", "4 a b [2Jc d e.txt" },
	{ "application", "octet-stream", { "filename*", "utf-8''a%00b%0Ac%1B.txt" }, { 0 }, "4", NULL },
	{ "application", "octet-stream", { "filename", "invoice\xe2\x80\xae" "fdp.exe" }, { 0 }, "5",
	  "5 invoice fdp.exe" },
	{ "application", "octet-stream", { "filename", "\xe2\x80\x8b\xef\xbb\xbfzero.txt" }, { 0 }, "5",
	  "5 zero.txt" },
	{ "application", "octet-stream", { "filename", "bad\xff\xfe.bin" }, { 0 }, "5", NULL },
	{ "application", "pdf", { "filename*0*", "utf-8''%E2%82%AC%20rapport%20",
	  "filename*1*", "%C3%A9t%C3%A9.pdf" }, { 0 }, "2",
	  "2 \xe2\x82\xac rapport \xc3\xa9t\xc3\xa9.pdf" },
	/* Dovecot joins the continuations itself */
	{ "application", "pdf", { "filename*", "utf-8''%E2%82%AC%20rapport%20%C3%A9t%C3%A9.pdf" },
	  { 0 }, "2", "2 \xe2\x82\xac rapport \xc3\xa9t\xc3\xa9.pdf" },
	{ "text", "plain", { 0 }, { "name*", "iso-8859-1'fr'caf%E9.txt" }, "3", "3 caf\xc3\xa9.txt" },
	{ "application", "octet-stream", { 0 }, { "name", "=?utf-8?B?w6ljb2xlLmJpbg==?=" }, "4",
	  "4 \xc3\xa9" "cole.bin" },
	{ "application", "octet-stream", { "filename", "=?ISO-8859-1?Q?na=EFve.txt?=" }, { 0 }, "4",
	  "4 na\xc3\xafve.txt" },
	/* raw Latin-1: GMime's guess, never invalid UTF-8 */
	{ "application", "octet-stream", { "filename", "caf\xe9.txt" }, { 0 }, "4", NULL },
	{ "application", "octet-stream", { "filename", "a \"quoted\" \\name;x=y.txt" }, { 0 }, "6",
	  "6 a \"quoted\" \\name;x=y.txt" },
	{ "text", "plain", { 0 }, { 0 }, "1", "1 text.txt" },
	{ "text", "html", { 0 }, { 0 }, "1.1", "1.1 text.html" },
	{ "text", "calendar", { 0 }, { 0 }, "2", "2 text.ics" },
	{ "text", "x-whatever", { 0 }, { 0 }, "2", "2 text.txt" },
	{ "image", "png", { 0 }, { 0 }, "2", "2 image.png" },
	{ "image", "x-new", { 0 }, { 0 }, "2", "2 image.bin" },
	{ "application", "pdf", { 0 }, { 0 }, "2", "2 part.pdf" },
	{ "application", "x-unknown", { 0 }, { 0 }, "2", "2 part.bin" },
	{ NULL, NULL, { 0 }, { 0 }, "2", "2 text.txt" },          /* no type: RFC 2045 text/plain */
	{ "application", "octet-stream", { "filename", "x.pdf" }, { 0 }, "", "x.pdf" },
};

static void test_part_names(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(name_cases); i++) {
		const struct name_case *c = &name_cases[i];
		struct bs_part p;
		char *name;
		const char *why;

		mk_leaf(&p, c->type, c->subtype, c->param[0] ? c->param : NULL, "base64", 10, 0,
		        c->dparam[0] ? "attachment" : NULL, c->dparam[0] ? c->dparam : NULL);
		name = render_part_name(&p, c->section);
		assert_non_null(name);
		if ((why = check_part_name(name, c->section)) != NULL)
			fail_msg("case %zu: \"%s\": %s", i, name, why);
		if (c->want && strcmp(name, c->want) != 0)
			fail_msg("case %zu: got \"%s\", wanted \"%s\"", i, name, c->want);
		free(name);
		bs_part_release(&p);
	}
}

/* Long names: at most LAYOUT_NAME_MAX bytes, a short extension kept, cut
 * at a character boundary. */
static void test_part_names_long(void **state)
{
	const char *sections[] = { "1", "2.10.3", "1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1" };

	(void)state;
	for (size_t s = 0; s < ARRAY_SIZE(sections); s++)
		for (int kind = 0; kind < 3; kind++) {
			char long_name[1200] = "", *name;
			const char *dps[] = { "filename", long_name, NULL };
			struct bs_part p;

			for (int i = 0; i < 300; i++)
				strcat(long_name, kind == 0 ? "a" : kind == 1 ? "\xc3\xa9" : "\xe2\x82\xac");
			strcat(long_name, ".pdf");
			mk_leaf(&p, "application", "pdf", NULL, "base64", 10, 0, "attachment", dps);
			name = render_part_name(&p, sections[s]);
			assert_non_null(name);
			assert_null(check_part_name(name, sections[s]));
			assert_true(strlen(name) <= LAYOUT_NAME_MAX);
			assert_true(strlen(name) > LAYOUT_NAME_MAX - 4);
			assert_string_equal(name + strlen(name) - 4, ".pdf");
			free(name);
			bs_part_release(&p);
		}
}

static void test_message_part_names(void **state)
{
	struct bs_part p;
	char *name;

	(void)state;
	mk_message(&p, "=?UTF-8?B?w4lsw6h2ZQ==?= / ../ report", 10, 1, NULL, NULL);
	mk_leaf(&p.kids[0], "text", "plain", NULL, "7bit", 1, 1, NULL, NULL);
	name = render_part_name(&p, "2");
	assert_string_equal(name, "2 \xc3\x89l\xc3\xa8ve \xe2\x88\x95 ..\xe2\x88\x95 report");
	free(name);
	free(p.subject);
	p.subject = NULL;
	name = render_part_name(&p, "2");
	assert_string_equal(name, "2 message");
	free(name);
	p.subject = strdup("\x1b]0;evil\x07");
	name = render_part_name(&p, "2");
	assert_null(check_part_name(name, "2"));
	assert_string_equal(name, "2 ]0;evil");
	free(name);
	bs_part_release(&p);
}

/* Every name render_structure()'s trees give for the evil fixture is safe,
 * and none leaves the directory. */
static void test_fixture_names_safe(void **state)
{
	size_t len;
	char *msg = fixture("evil-names", &len);
	struct bs_part *root = NULL;

	(void)state;
	assert_int_equal(render_structure(msg, len, &root), 0);
	assert_int_equal(root->nkids, 6);
	for (size_t i = 0; i < root->nkids; i++) {
		char sec[24], *name;

		snprintf(sec, sizeof(sec), "%zu", i + 1);
		name = render_part_name(&root->kids[i], sec);
		assert_non_null(name);
		if (check_part_name(name, sec))
			fail_msg("\"%s\": %s", name, check_part_name(name, sec));
		free(name);
	}
	bs_free(root);
	free(msg);
}

/* ---- HTML ---------------------------------------------------------------------- */

struct html_case {
	const char *html, *charset, *want;
};

static const struct html_case html_cases[] = {
	{ "<p>Hello <b>bold</b> world</p>", NULL, "Hello bold world\n" },
	{ "<script>alert(1)</script><style>x{}</style>visible", "utf-8", "visible\n" },
	{ "<head><title>t</title><meta charset=utf-8></head><body>b</body>", NULL, "b\n" },
	{ "a<!-- hidden -->b", NULL, "ab\n" },
	{ "<template><p>t</p></template><noscript>n</noscript>shown", NULL, "shown\n" },
	{ "&lt;&gt;&amp;&quot;&#39;&eacute;&#x20AC;&euro;", NULL, "<>&\"'\xc3\xa9\xe2\x82\xac\xe2\x82\xac\n" },
	{ "a&nbsp;&nbsp;b", NULL, "a  b\n" },
	{ "  lots \n\t of   \r\n space  ", NULL, "lots of space\n" },
	{ "<div>one</div><div>two</div>three", NULL, "one\ntwo\nthree\n" },
	{ "<p>one</p><p>two</p>", NULL, "one\n\ntwo\n" },
	{ "a<br>b<br/><br><br><br>c", NULL, "a\nb\n\nc\n" },
	{ "<ul><li>x<ul><li>y</li></ul></li><li>z</li></ul>", NULL, "x\ny\nz\n" },
	{ "<table><tr><th>h1</th><th>h2</th></tr><tr><td>a</td><td>b</td></tr></table>", NULL,
	  "h1 h2\na b\n" },
	{ "<pre>  a\n   b</pre>after", NULL, "  a\n   b\nafter\n" },
	{ "<a href=\"http://x/secret\" title=\"t\">link</a><img src=x alt=\"alt\">", NULL, "link\n" },
	{ "<h1>T</h1>text<h2>U</h2>", NULL, "T\ntext\nU\n" },
	{ "", NULL, "" },
	{ "<html><body></body></html>", NULL, "" },
	{ "<p><p><p>", NULL, "" },
	{ "unclosed <b>bold <i>and", NULL, "unclosed bold and\n" },
	/* charsets: the MIME one, else <meta>, else UTF-8 */
	{ "caf\xe9", "iso-8859-1", "caf\xc3\xa9\n" },
	{ "<meta charset=\"iso-8859-1\">caf\xe9", NULL, "caf\xc3\xa9\n" },
	{ "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1252\">\x93q\x94",
	  NULL, "\xe2\x80\x9cq\xe2\x80\x9d\n" },
	{ "<meta charset=\"iso-8859-1\">caf\xc3\xa9", "utf-8", "caf\xc3\xa9\n" },
	{ "bad \xff\xfe bytes", NULL, "bad " FFFD FFFD " bytes\n" },
	{ "\xe6\x97\xa5\xe6\x9c\xac", NULL, "\xe6\x97\xa5\xe6\x9c\xac\n" },
	{ "<p>\x82\xa0</p>", "shift_jis", "\xe3\x81\x82\n" },
	{ "nul\0byte", NULL, "nul" FFFD "byte\n" },
};

static void test_html(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(html_cases); i++) {
		const struct html_case *c = &html_cases[i];
		size_t in = strlen(c->html), n;
		char *out;

		if (strstr(c->want, "nul" FFFD))
			in = 8;
		assert_int_equal(render_html_text(c->html, in, c->charset, &out, &n), 0);
		assert_int_equal(strlen(out), n);
		if (strcmp(out, c->want) != 0)
			fail_msg("case %zu: got \"%s\", wanted \"%s\"", i, out, c->want);
		free(out);
	}
}

/* Deep and wide HTML: a loop, no recursion; libxml2 stops at its own depth
 * limit and the text still comes. */
static void test_html_deep(void **state)
{
	struct render_fixture_buf b = { 0 };
	char *out;
	size_t n;

	(void)state;
	for (int i = 0; i < 100000; i++)
		rfb_add(&b, "<div><span>", 11);
	rfb_add(&b, "deep", 4);
	assert_int_equal(render_html_text(b.data, b.len, "utf-8", &out, &n), 0);
	assert_true(valid_utf8(out, n));
	free(out);
	free(b.data);
}

/* ---- transfer encodings ---------------------------------------------------------- */

struct decode_case {
	const char *enc, *in, *want;
	size_t want_len;        /* 0: strlen(want) */
};

static const struct decode_case decode_cases[] = {
	{ "base64", "aGVsbG8gd29ybGQ=", "hello world", 0 },
	{ "BASE64", "aGVs\r\nbG8=\r\n", "hello", 0 },
	{ "base64", "aGV*sb!G8=", "hello", 0 },              /* what is not base64 is skipped */
	{ "base64", "AAEC", "\0\1\2", 3 },
	{ "base64", "", "", 0 },
	{ "quoted-printable", "caf=C3=A9 cr=\r\n=C3=A8me=3D", "caf\xc3\xa9 cr\xc3\xa8me=", 0 },
	{ "quoted-printable", "soft=\nbreak", "softbreak", 0 },
	{ "x-uuencode", "begin 644 a.txt\r\n&:&5L;&\\*\r\n`\r\nend\r\n", "hello\n", 0 },
	{ "7bit", "as =C3=A9 is", "as =C3=A9 is", 0 },
	{ "8bit", "raw \xff", "raw \xff", 0 },
	{ "binary", "b\0in", "b\0in", 4 },
	{ NULL, "no encoding", "no encoding", 0 },
	{ "x-unknown", "kept", "kept", 0 },
};

static void test_decode(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(decode_cases); i++) {
		const struct decode_case *c = &decode_cases[i];
		size_t want_len = c->want_len ? c->want_len : strlen(c->want), n;
		size_t in_len = c->enc && strcmp(c->enc, "binary") == 0 ? 4 : strlen(c->in);
		struct bs_part p;
		char *out;

		mk_leaf(&p, "application", "octet-stream", NULL, c->enc, in_len, 0, NULL, NULL);
		assert_int_equal(render_decode(&p, c->in, in_len, &out, &n), 0);
		if (n != want_len || memcmp(out, c->want, n) != 0)
			fail_msg("case %zu (%s): got %zu bytes \"%.*s\"", i, c->enc, n, (int)n, out);
		assert_int_equal(out[n], '\0');
		free(out);
		bs_part_release(&p);
	}
}

/* The 3 MB attachment decodes to its 3 MiB. */
static void test_decode_big(void **state)
{
	size_t len, n;
	char *msg = fixture("big-attachment", &len), *out;
	struct bs_part *root = NULL;
	struct render_source *src = render_message_source(msg, len);
	const char *d;

	(void)state;
	assert_int_equal(render_structure(msg, len, &root), 0);
	assert_non_null(src);
	int dec = -1;

	assert_int_equal(src->get(src->ctx, "2", 0, &d, &n, &dec), 0);
	assert_int_equal(dec, 0);
	assert_int_equal(render_decode(&root->kids[1], d, n, &out, &n), 0);
	assert_int_equal(n, 3u << 20);
	free(out);
	render_message_source_free(src);
	bs_free(root);
	free(msg);
}

/* ---- charsets in the text view ---------------------------------------------------- */

struct charset_case {
	const char *charset, *enc, *body, *want;
};

static const struct charset_case charset_cases[] = {
	{ "iso-8859-1", "8bit", "caf\xe9", "caf\xc3\xa9\n" },
	/* bytes 0x80-0x9F are never meant as C1 controls: Windows-1252 */
	{ "iso-8859-1", "8bit", "\x93q\x94 \xe9", "\xe2\x80\x9cq\xe2\x80\x9d \xc3\xa9\n" },
	{ "us-ascii", "8bit", "na\xc3\xafve", "na\xc3\xafve\n" },
	{ "us-ascii", "8bit", "na\xefve", "na\xc3\xafve\n" },
	{ NULL, "8bit", "na\xefve", "na\xc3\xafve\n" },
	{ "utf-8", "8bit", "a\xff" "b", "a" FFFD "b\n" },
	{ "utf-8", "8bit", "cut \xe2\x82", "cut " FFFD "\n" },
	{ "x-nonexistent", "8bit", "a\xc3\xa9", "a\xc3\xa9\n" },
	{ "x-nonexistent", "8bit", "a\xe9", "a\xc3\xa9\n" },
	{ "koi8-r", "8bit", "\xcd\xc9\xd2", "\xd0\xbc\xd0\xb8\xd1\x80\n" },
	{ "iso-2022-jp", "7bit", "\x1b$BF|K\\\x1b(B ok", "\xe6\x97\xa5\xe6\x9c\xac ok\n" },
	{ "gb2312", "8bit", "\xd6\xd0\xce\xc4", "\xe4\xb8\xad\xe6\x96\x87\n" },
	{ "shift_jis", "8bit", "\x82\xa0\xff", "\xe3\x81\x82" FFFD "\n" },
	{ "utf-16le", "base64", "aABpAA==", "hi\n" },
	{ "utf-8", "quoted-printable", "nul=00byte=0D=0Aline=0Dcr", "nul" FFFD "byte\nline\ncr\n" },
	{ "utf-8", "8bit", "", "" },
};

static void test_charsets(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(charset_cases); i++) {
		const struct charset_case *c = &charset_cases[i];
		const char *ps[] = { "charset", c->charset, NULL };
		struct bs_part p;
		struct tsec secs[] = { { "", 1, "Subject: c\n\n", 0 }, { "1", 0, c->body, 0 } };
		struct tsrc t = { .secs = secs, .n = 2 };
		struct render_source src = { tsrc_get, &t };
		char *text, want[256];
		size_t n;

		mk_leaf(&p, "text", "plain", c->charset ? ps : NULL, c->enc, strlen(c->body), 0, NULL, NULL);
		assert_int_equal(render_text(&p, &src, &text, &n), 0);
		snprintf(want, sizeof(want), "Subject: c\n\n%s", c->want);
		if (strcmp(text, want) != 0)
			fail_msg("case %zu (%s): got \"%s\"", i, c->charset, text);
		assert_true(valid_utf8(text, n));
		free(text);
		tsrc_release(&t);
		bs_part_release(&p);
	}
}

/* A source that hands over a body already decoded (BINARY[] of RFC 3516):
 * the text takes its bytes as they are, where the same bytes as the raw
 * section would have been decoded once more. */
static void test_source_decoded(void **state)
{
	const char *ps[] = { "charset", "utf-8", NULL };
	struct bs_part p;
	struct tsec secs[] = { { "", 1, "Subject: d\n\n", 0 }, { "1", 0, "caf\xc3\xa9 =41 QUJD\n", 0 } };
	char *text;
	size_t n;

	(void)state;
	for (int dec = 0; dec <= 1; dec++) {
		struct tsrc t = { .secs = secs, .n = 2, .decoded = dec };
		struct render_source src = { tsrc_get, &t };

		mk_leaf(&p, "text", "plain", ps, dec ? "base64" : "quoted-printable",
		        strlen(secs[1].data), 1, NULL, NULL);
		assert_int_equal(render_text(&p, &src, &text, &n), 0);
		/* decoded: the bytes verbatim; raw quoted-printable: =41 is "A" */
		assert_string_equal(text, dec ? "Subject: d\n\ncaf\xc3\xa9 =41 QUJD\n"
		                              : "Subject: d\n\ncaf\xc3\xa9 A QUJD\n");
		free(text);
		tsrc_release(&t);
		bs_part_release(&p);
	}
}

/* ---- sizes on attachment lines ------------------------------------------------------ */

static void test_sizes(void **state)
{
	static const struct {
		uint64_t size;
		const char *enc, *want;
	} cases[] = {
		{ 0, "7bit", "0 B" }, { 1023, "binary", "1023 B" }, { 1024, "8bit", "1.0 KB" },
		{ 1536, NULL, "1.5 KB" }, { 10188, "7bit", "9.9 KB" }, { 10189, "7bit", "10 KB" },
		{ 235520, "quoted-printable", "230 KB" }, { 1048575, "7bit", "1.0 MB" },
		{ 78, "base64", "57 B" }, { 4, "base64", "3 B" },
		{ 55189 * 78 + 52, "BASE64", "3.0 MB" }, { 63, "x-uuencode", "45 B" },
		{ UINT64_MAX, "7bit", "16384 PB" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct bs_part p;
		struct tsec secs[] = { { "", 1, "\n", 0 } };
		struct tsrc t = { .secs = secs, .n = 1 };
		struct render_source src = { tsrc_get, &t };
		char *text, want[128];
		size_t n;

		mk_leaf(&p, "application", "zip", NULL, cases[i].enc, cases[i].size, 0, NULL, NULL);
		assert_int_equal(render_text(&p, &src, &text, &n), 0);
		snprintf(want, sizeof(want), "\n[attachment: part.zip, application/zip, %s]\n", cases[i].want);
		if (strcmp(text, want) != 0)
			fail_msg("case %zu: got \"%s\", wanted \"%s\"", i, text, want);
		free(text);
		tsrc_release(&t);
		bs_part_release(&p);
	}
}

/* ---- hostile input ------------------------------------------------------------------- */

static unsigned depth_of(const struct bs_part *p)
{
	unsigned d = 0;

	for (size_t i = 0; i < p->nkids; i++) {
		unsigned k = depth_of(&p->kids[i]) + 1;

		if (k > d)
			d = k;
	}
	return d;
}

static size_t parts_of(const struct bs_part *p)
{
	size_t n = 1;

	for (size_t i = 0; i < p->nkids; i++)
		n += parts_of(&p->kids[i]);
	return n;
}

/* 10,000 nested multiparts: the tree stops within BS_MAX_DEPTH (the rest
 * is one leaf), and the text comes. */
static void test_deep(void **state)
{
	size_t len;
	char *msg = fixture("deep-nesting", &len), *text;
	struct bs_part *root = NULL;

	(void)state;
	assert_int_equal(render_structure(msg, len, &root), 0);
	assert_true(depth_of(root) < BS_MAX_DEPTH);
	assert_true(depth_of(root) >= BS_MAX_DEPTH - 2);
	bs_free(root);
	text = text_of(msg, len);
	assert_non_null(strstr(text, "Subject: deep\n\n[attachment: part.bin, multipart/mixed, "));
	free(text);
	free(msg);
}

/* 10,000 messages each inside the one before. */
static void test_deep_messages(void **state)
{
	struct render_fixture_buf b = { 0 };
	struct bs_part *root = NULL;
	char *text;

	(void)state;
	for (int i = 0; i < 10000; i++)
		rfb_text(&b, "Subject: level\nContent-Type: message/rfc822\n\n");
	rfb_text(&b, "Subject: bottom\n\nbottom text\n");
	assert_int_equal(render_structure(b.data, b.len, &root), 0);
	assert_true(depth_of(root) < BS_MAX_DEPTH);
	bs_free(root);
	text = text_of(b.data, b.len);
	assert_non_null(strstr(text, "Subject: level\n"));
	free(text);
	free(b.data);
}

/* More delimiter lines than a tree may have parts: refused before GMime
 * builds them all. Just under the bound: parts past BS_MAX_PARTS are not in
 * the tree. */
static void test_many_parts(void **state)
{
	struct render_fixture_buf b = { 0 };
	struct bs_part *root = NULL;
	char *text;

	(void)state;
	rfb_text(&b, "Subject: many\nContent-Type: multipart/mixed; boundary=m\n\n");
	for (int i = 0; i < 2 * BS_MAX_PARTS + 1; i++)
		rfb_text(&b, "--m\n\nx\n");
	assert_int_equal(render_structure(b.data, b.len, &root), -E2BIG);
	assert_null(root);
	assert_null(render_message_source(b.data, b.len));
	assert_int_equal(errno, E2BIG);
	free(b.data);

	memset(&b, 0, sizeof(b));
	rfb_text(&b, "Subject: many\nContent-Type: multipart/mixed; boundary=m\n\n");
	for (int i = 0; i < BS_MAX_PARTS + 5; i++)
		rfb_text(&b, "--m\n\nx\n");
	rfb_text(&b, "--m--\n");
	assert_int_equal(render_structure(b.data, b.len, &root), 0);
	assert_true(parts_of(root) <= BS_MAX_PARTS);
	bs_free(root);
	text = text_of(b.data, b.len);
	assert_non_null(strstr(text, "[attachment: part.bin, multipart/mixed, "));
	free(text);
	free(b.data);
}

/* Trees a server may send that render_structure() never makes. */
static void test_odd_trees(void **state)
{
	struct tsec secs[] = { { "", 1, "Subject: odd\n\n", 0 }, { "1", 0, "one", 0 },
	                       { "1.1", 0, "inner", 0 }, { "2", 0, "two", 0 } };
	struct tsrc t = { .secs = secs, .n = ARRAY_SIZE(secs) };
	struct render_source src = { tsrc_get, &t };
	struct bs_part *root = calloc(1, sizeof(*root));
	char *text, *name;
	size_t n;

	(void)state;
	mk_multi(root, "alternative", "x", 2);
	/* message/rfc822 without a body part, and a part without any type */
	mk_leaf(&root->kids[0], "message", "rfc822", NULL, NULL, 3, 0, NULL, NULL);
	mk_leaf(&root->kids[1], NULL, NULL, NULL, NULL, 3, 0, NULL, NULL);
	assert_int_equal(render_text(root, &src, &text, &n), 0);
	/* no text/plain among them: the first that shows text (a leaf
	 * without type is text/plain only in a tree made from the message,
	 * where render_structure() writes the type out) else the last */
	assert_string_equal(text, "Subject: odd\n\n[attachment: text.txt, application/octet-stream, 3 B]\n");
	free(text);
	tsrc_release(&t);
	name = render_part_name(&root->kids[0], "1");
	assert_null(check_part_name(name, "1"));
	free(name);
	/* a multipart with no parts at all */
	bs_part_release(&root->kids[0]);
	bs_part_release(&root->kids[1]);
	free(root->kids);
	root->kids = NULL;
	root->nkids = 0;
	root->size = 0;
	assert_int_equal(render_text(root, &src, &text, &n), 0);
	assert_string_equal(text, "Subject: odd\n\n[attachment: part.bin, multipart/alternative, 0 B]\n");
	free(text);
	tsrc_release(&t);
	bs_free(root);
}

/* Mangled fixtures: any bytes give a structure within the bounds, sections
 * inside the message, and valid UTF-8 text without NUL. */
static void test_mangled(void **state)
{
	uint64_t seed = test_seed("mangled messages");

	(void)state;
	for (int round = 0; round < 300; round++) {
		size_t i = (size_t)(xorshift64s(&seed) % render_fixture_count()), len;
		char *msg, *text;
		struct bs_part *root = NULL;

		if (strcmp(render_fixtures[i].name, "big-attachment") == 0 ||
		    strcmp(render_fixtures[i].name, "deep-nesting") == 0 ||
		    strcmp(render_fixtures[i].name, "big-part-header") == 0)
			continue;
		msg = render_fixture(i, &len);
		for (int k = 0, n = 1 + (int)(xorshift64s(&seed) % 8); k < n && len > 0; k++) {
			size_t at = (size_t)(xorshift64s(&seed) % len);
			static const char junk[] = "\n\r-=?*'\"%;:<>\0\xff\xc3";

			switch (xorshift64s(&seed) % 3) {
			case 0:
				msg[at] = junk[xorshift64s(&seed) % (sizeof(junk) - 1)];
				break;
			case 1:
				len = at;       /* cut */
				break;
			default:
				msg[at] = (char)xorshift64s(&seed);
			}
		}
		assert_int_equal(render_structure(msg, len, &root), 0);
		assert_true(depth_of(root) < BS_MAX_DEPTH);
		bs_free(root);
		text = text_of(msg, len);
		free(text);
		free(msg);
	}
}

/* ---- concurrency: GMime and libxml2 from several threads at once ------------------------ */

static void *render_all(void *arg)
{
	(void)arg;
	for (size_t i = 0; i < render_fixture_count(); i++) {
		size_t len;
		char *msg, *text, *html;

		/* the big ones are slow under the sanitizers, and covered above */
		if (strcmp(render_fixtures[i].name, "big-attachment") == 0 ||
		    strcmp(render_fixtures[i].name, "deep-nesting") == 0 ||
		    strcmp(render_fixtures[i].name, "big-part-header") == 0)
			continue;
		msg = render_fixture(i, &len);
		text = text_of(msg, len);
		assert_int_equal(render_html_text(msg, len, NULL, &html, &len), 0);
		free(html);
		free(text);
		free(msg);
	}
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t th[4];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(th); i++)
		assert_int_equal(pthread_create(&th[i], NULL, render_all, NULL), 0);
	for (size_t i = 0; i < ARRAY_SIZE(th); i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture_texts),
		cmocka_unit_test(test_fixtures_all_covered),
		cmocka_unit_test(test_two_sources_qp),
		cmocka_unit_test(test_two_sources_alternative),
		cmocka_unit_test(test_two_sources_forward),
		cmocka_unit_test(test_two_sources_missing_end),
		cmocka_unit_test(test_needs_skip_attachment),
		cmocka_unit_test(test_source_errors),
		cmocka_unit_test(test_part_names),
		cmocka_unit_test(test_part_names_long),
		cmocka_unit_test(test_message_part_names),
		cmocka_unit_test(test_fixture_names_safe),
		cmocka_unit_test(test_html),
		cmocka_unit_test(test_html_deep),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_decode_big),
		cmocka_unit_test(test_charsets),
		cmocka_unit_test(test_source_decoded),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_deep),
		cmocka_unit_test(test_deep_messages),
		cmocka_unit_test(test_many_parts),
		cmocka_unit_test(test_odd_trees),
		cmocka_unit_test(test_mangled),
		cmocka_unit_test(test_threads),
	};
	int r;

	render_init();
	r = cmocka_run_group_tests(tests, NULL, NULL);
	render_done();
	return r;
}
