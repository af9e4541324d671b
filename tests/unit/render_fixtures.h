/* render_fixtures.h - the tricky messages of issue 13, shared by the unit
 * test of fs/engine/render.c (tests/unit/test_render.c), the integration
 * check against Dovecot (tests/integration/structcheck.c, which writes them
 * out for t_render_structure.sh) and the fuzz target's seeds.
 *
 * Each is written with LF line ends and handed out with CRLF, as IMAP and
 * POP3 deliver messages; the big ones are generated. render_fixture() gives
 * a malloc'd message; render_fixture_count() how many there are.
 */
#ifndef MAILFS_RENDER_FIXTURES_H
#define MAILFS_RENDER_FIXTURES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct render_fixture {
	const char *name;
	const char *text;       /* LF line ends; NULL: generated */
};

static const struct render_fixture render_fixtures[] = {
	{ "qp-soft-break",
	  "From: Alice <alice@example.org>\n"
	  "To: Bob <bob@example.org>\n"
	  "Date: Tue, 1 Jul 2025 10:52:37 +0200\n"
	  "Subject: Cafe\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: text/plain; charset=utf-8\n"
	  "Content-Transfer-Encoding: quoted-printable\n"
	  "\n"
	  "Un caf=C3=A9 cr=\n"
	  "=C3=A8me, s'il vous pla=C3=AEt.\n"
	  "Soft=\n"
	  "ly broken line=3D ok.\n" },
	{ "base64-text",
	  "From: alice@example.org\n"
	  "Subject: base64\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: text/plain; charset=\"UTF-8\"\n"
	  "Content-Transfer-Encoding: base64\n"
	  "\n"
	  "R3LDvMOfZSBhdXMgS8O2bG4KWndlaXRlIFplaWxlIG1pdCBpbnZvaWNlIDQyCg==\n" },
	{ "html-only",
	  "From: news@example.org\n"
	  "Subject: HTML only\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: text/html; charset=utf-8\n"
	  "\n"
	  "<!DOCTYPE html><html><head><title>Title is hidden</title>\n"
	  "<style>p { color: red; } .secret { }</style>\n"
	  "<script>var hidden = \"script text\";</script></head>\n"
	  "<body><!-- a comment --><h1>Big   news</h1>\n"
	  "<p>Fish &amp; chips &lt;today&gt;&nbsp;only &eacute;t&eacute; &#8364;5</p>\n"
	  "<ul><li>one</li><li>two<ol><li>two.a</li></ol></li></ul>\n"
	  "<table><tr><td>cell 1</td><td>cell 2</td></tr><tr><td>row 2</td></tr></table>\n"
	  "<div>a<br>b<br><br><br>c</div><noscript>no script</noscript>\n"
	  "<pre>  pre  kept\n    indented</pre>\n"
	  "<p>end <a href=\"http://example.org/attr-value\">link</a></p>\n"
	  "</body></html>\n" },
	{ "alternative",
	  "From: alice@example.org\n"
	  "Subject: alternative\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: multipart/alternative; boundary=\"alt\"\n"
	  "\n"
	  "This is a multi-part message in MIME format.\n"
	  "--alt\n"
	  "Content-Type: text/plain; charset=us-ascii\n"
	  "\n"
	  "The plain alternative.\n"
	  "--alt\n"
	  "Content-Type: text/html; charset=us-ascii\n"
	  "\n"
	  "<p>The <b>HTML</b> alternative.</p>\n"
	  "--alt--\n" },
	{ "alternative-related",
	  "From: alice@example.org\n"
	  "Subject: html and images\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: multipart/alternative; boundary=\"a1\"\n"
	  "\n"
	  "--a1\n"
	  "Content-Type: multipart/related; boundary=\"r1\"; type=\"text/html\"\n"
	  "\n"
	  "--r1\n"
	  "Content-Type: text/html; charset=utf-8\n"
	  "Content-Transfer-Encoding: quoted-printable\n"
	  "\n"
	  "<p>Look at <img src=3D\"cid:logo@x\" alt=3D\"the logo\"> this.</p>\n"
	  "--r1\n"
	  "Content-Type: image/png\n"
	  "Content-ID: <logo@x>\n"
	  "Content-Transfer-Encoding: base64\n"
	  "Content-Disposition: inline\n"
	  "\n"
	  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\n"
	  "--r1--\n"
	  "\n"
	  "--a1--\n" },
	{ "iso-8859-1",
	  "From: =?ISO-8859-1?Q?Fran=E7ois?= <f@example.org>\n"
	  "Subject: latin1\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: text/plain; charset=ISO-8859-1\n"
	  "Content-Transfer-Encoding: 8bit\n"
	  "\n"
	  "Caf\xe9 cr\xe8me \xe0 la fran\xe7" "aise.\n" },
	{ "windows-1252",
	  "From: bob@example.org\n"
	  "Subject: cp1252\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: text/plain; charset=windows-1252\n"
	  "Content-Transfer-Encoding: 8bit\n"
	  "\n"
	  "Price: \x80" "100, \x93smart quotes\x94 and \x91single\x92\x85\n" },
	{ "koi8-r",
	  "From: ivan@example.org\n"
	  "Subject: =?koi8-r?B?8NLJ18XU?=\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: text/plain; charset=koi8-r\n"
	  "Content-Transfer-Encoding: 8bit\n"
	  "\n"
	  "\xf0\xd2\xc9\xd7\xc5\xd4, \xcd\xc9\xd2!\n" },
	{ "shift_jis",
	  "From: taro@example.jp\n"
	  "Subject: =?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?=\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: text/plain; charset=Shift_JIS\n"
	  "Content-Transfer-Encoding: 8bit\n"
	  "\n"
	  "\x93\xfa\x96\x7b\x8c\xea\x82\xcc\x83\x65\x83\x4c\x83\x58\x83\x67\n" },
	{ "rfc2047-headers",
	  "From: =?utf-8?Q?J=C3=BCrgen_M=C3=BCller?= <j@example.de>\n"
	  "To: =?iso-8859-1?q?Andr=E9?= <andre@example.fr>, plain@example.org\n"
	  "Cc: \"Quoted, Name\" <q@example.org>\n"
	  "Date: Wed, 2 Jul 2025 08:00:00 +0000\n"
	  "Subject: =?UTF-8?B?w4lsw6h2ZQ==?= =?UTF-8?Q?_et_ma=C3=AEtre?=\n"
	  " folded on two lines\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: text/plain\n"
	  "\n"
	  "Body.\n" },
	{ "rfc2231-names",
	  "From: alice@example.org\n"
	  "Subject: names\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: multipart/mixed; boundary=\"m\"\n"
	  "\n"
	  "--m\n"
	  "Content-Type: text/plain\n"
	  "\n"
	  "See attached.\n"
	  "--m\n"
	  "Content-Type: application/pdf\n"
	  "Content-Disposition: attachment;\n"
	  " filename*0*=utf-8''%E2%82%AC%20rapport%20;\n"
	  " filename*1*=%C3%A9t%C3%A9.pdf\n"
	  "Content-Transfer-Encoding: base64\n"
	  "\n"
	  "JVBERi0xLjQK\n"
	  "--m\n"
	  "Content-Type: text/plain; name*=iso-8859-1'fr'caf%E9.txt\n"
	  "Content-Disposition: attachment\n"
	  "\n"
	  "a text attachment\n"
	  "--m\n"
	  "Content-Type: application/octet-stream; name=\"=?utf-8?B?w6ljb2xlLmJpbg==?=\"\n"
	  "\n"
	  "binary\n"
	  "--m--\n" },
	{ "nested-forward",
	  "From: carol@example.org\n"
	  "Subject: Fwd: Fwd: origin\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: multipart/mixed; boundary=\"o\"\n"
	  "\n"
	  "--o\n"
	  "Content-Type: text/plain\n"
	  "\n"
	  "Outer text.\n"
	  "--o\n"
	  "Content-Type: message/rfc822\n"
	  "Content-Disposition: attachment; filename=\"fwd.eml\"\n"
	  "\n"
	  "From: bob@example.org\n"
	  "Subject: Fwd:\n"
	  "  origin\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: multipart/mixed; boundary=\"i\"\n"
	  "\n"
	  "preamble\n"
	  "--i\n"
	  "Content-Type: text/plain\n"
	  "\n"
	  "Middle text.\n"
	  "--i\n"
	  "Content-Type: message/rfc822\n"
	  "\n"
	  "From: alice@example.org\n"
	  "Subject: origin\n"
	  "\n"
	  "Inner text.\n"
	  "--i--\n"
	  "epilogue of i\n"
	  "\n"
	  "--o\n"
	  "Content-Type: message/rfc822\n"
	  "\n"
	  "Subject: leaf message\n"
	  "\n"
	  "Leaf body.\n"
	  "--o--\n"
	  "outer epilogue\n" },
	{ "missing-end-boundary",
	  "From: alice@example.org\n"
	  "Subject: no end\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: multipart/mixed; boundary=\"b\"\n"
	  "\n"
	  "--b\n"
	  "Content-Type: text/plain\n"
	  "\n"
	  "First part.\n"
	  "--b\n"
	  "Content-Type: text/plain\n"
	  "\n"
	  "Second part, never closed.\n"
	  "Last line.\n" },
	{ "big-attachment", NULL },
	{ "bad-base64",
	  "From: alice@example.org\n"
	  "Subject: bad base64\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: text/plain; charset=utf-8\n"
	  "Content-Transfer-Encoding: base64\n"
	  "\n"
	  "SGVsbG8g***d29y\n"
	  "bGQh!!!\n"
	  "====\n"
	  "x\n" },
	{ "unknown-charset",
	  "From: alice@example.org\n"
	  "Subject: unknown charset\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: multipart/mixed; boundary=\"u\"\n"
	  "\n"
	  "--u\n"
	  "Content-Type: text/plain; charset=x-no-such-charset\n"
	  "Content-Transfer-Encoding: 8bit\n"
	  "\n"
	  "Valid UTF-8: cr\xc3\xa8me\n"
	  "--u\n"
	  "Content-Type: text/plain; charset=x-no-such-charset\n"
	  "Content-Transfer-Encoding: 8bit\n"
	  "\n"
	  "Latin-1: cr\xe8me\n"
	  "--u\n"
	  "Content-Type: text/plain; charset=utf-8\n"
	  "Content-Transfer-Encoding: 8bit\n"
	  "\n"
	  "Bad UTF-8: a\xff" "b\xc3(c\n"
	  "--u--\n" },
	{ "deep-nesting", NULL },
	{ "big-part-header", NULL },
	{ "evil-names",
	  "From: mallory@example.org\n"
	  "Subject: evil names\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: multipart/mixed; boundary=\"e\"\n"
	  "\n"
	  "--e\n"
	  "Content-Type: application/octet-stream\n"
	  "Content-Disposition: attachment; filename=\"../../x\"\n"
	  "\n"
	  "x\n"
	  "--e\n"
	  "Content-Type: application/octet-stream\n"
	  "Content-Disposition: attachment; filename*=utf-8''a%01b%1B%5B31mc%0Ad.txt\n"
	  "\n"
	  "x\n"
	  "--e\n"
	  "Content-Type: application/octet-stream\n"
	  "Content-Disposition: attachment; filename=\"invoice\xe2\x80\xae" "fdp.exe\"\n"
	  "\n"
	  "x\n"
	  "--e\n"
	  "Content-Type: image/png\n"
	  "Content-Disposition: attachment; filename=\"\"\n"
	  "\n"
	  "x\n"
	  "--e\n"
	  "Content-Type: application/pdf\n"
	  "Content-Disposition: attachment; filename=\""
	  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	  "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
	  "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"
	  ".pdf\"\n"
	  "\n"
	  "x\n"
	  "--e\n"
	  "Content-Type: text/plain; name=\"..\"\n"
	  "Content-Disposition: attachment\n"
	  "\n"
	  "x\n"
	  "--e--\n" },
	{ "text-attachment",
	  "From: alice@example.org\n"
	  "Subject: text attachment\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: multipart/mixed; boundary=\"t\"\n"
	  "\n"
	  "--t\n"
	  "\n"
	  "A part with no header at all.\n"
	  "--t\n"
	  "Content-Type: text/plain; charset=utf-8; name=\"notes.txt\"\n"
	  "Content-Disposition: attachment; filename=\"notes.txt\"\n"
	  "Content-Description: my notes\n"
	  "\n"
	  "notes that the text view does not show\n"
	  "--t\n"
	  "Content-Type: text/csv\n"
	  "\n"
	  "a,b\n"
	  "--t--\n" },
	{ "no-content-type",
	  "From: old@example.org\n"
	  "Subject: no MIME at all\n"
	  "\n"
	  "Plain 8-bit UTF-8 without any MIME: na\xc3\xafve.\n" },
	{ "uuencode",
	  "From: alice@example.org\n"
	  "Subject: uuencoded\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: multipart/mixed; boundary=\"u\"\n"
	  "\n"
	  "--u\n"
	  "Content-Type: application/octet-stream; name=\"hello.txt\"\n"
	  "Content-Transfer-Encoding: x-uuencode\n"
	  "\n"
	  "begin 644 hello.txt\n"
	  "&:&5L;&\\*\n"
	  "`\n"
	  "end\n"
	  "--u--\n" },
	{ "digest",
	  "From: list@example.org\n"
	  "Subject: digest\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: multipart/digest; boundary=\"d\"\n"
	  "\n"
	  "--d\n"
	  "\n"
	  "Subject: first of the digest\n"
	  "\n"
	  "Digest message one.\n"
	  "--d\n"
	  "Content-Type: message/rfc822\n"
	  "\n"
	  "Subject: second\n"
	  "Content-Type: text/plain; charset=utf-8\n"
	  "Content-Transfer-Encoding: quoted-printable\n"
	  "\n"
	  "Digest message tw=C3=B6.\n"
	  "--d--\n" },
	{ "message-top",
	  "From: wrapper@example.org\n"
	  "Subject: a message that is a message\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: message/rfc822\n"
	  "\n"
	  "From: inner@example.org\n"
	  "Subject: the inner one\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: multipart/alternative; boundary=\"x\"\n"
	  "\n"
	  "--x\n"
	  "Content-Type: text/html\n"
	  "\n"
	  "<p>only html</p>\n"
	  "--x--\n" },
	{ "odd-boundaries",
	  "From: alice@example.org\n"
	  "Subject: odd boundaries\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: multipart/mixed; boundary=\"odd\"\n"
	  "\n"
	  "--odd   \n"
	  "Content-Type: text/plain\n"
	  "\n"
	  "padding after the delimiter\n"
	  "--odd\n"
	  "Content-Type: multipart/alternative; boundary=\"in\"\n"
	  "\n"
	  "--in\n"
	  "Content-Type: text/plain\n"
	  "\n"
	  "inner\n"
	  "--in--\n"
	  "--odd\n"
	  "Content-Type: text/plain\n"
	  "\n"
	  "\n"
	  "--odd--   \n"
	  "\n"
	  "epilogue\n" },
	{ "upper-case-and-comments",
	  "From: alice@example.org\n"
	  "Subject: upper case\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: MULTIPART/Mixed; BOUNDARY=\"Up\"\n"
	  "\n"
	  "--Up\n"
	  "Content-Type: TEXT/PLAIN; CHARSET=UTF-8; Format=Flowed\n"
	  "Content-Transfer-Encoding: BASE64 (a comment)\n"
	  "Content-Disposition: INLINE; FILENAME=raw8bit\xe9.txt\n"
	  "\n"
	  "SGkgdGhlcmUK\n"
	  "--Up\n"
	  "Content-Type: text/plain\n"
	  "--Up\n"
	  "Content-Type: text/plain\n"
	  "\n"
	  "\n"
	  "--Up--\n" },
	{ "rfc822-base64",
	  "From: alice@example.org\n"
	  "Subject: encoded message\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: multipart/mixed; boundary=\"r\"\n"
	  "\n"
	  "--r\n"
	  "Content-Type: message/rfc822\n"
	  "Content-Transfer-Encoding: base64\n"
	  "\n"
	  "U3ViamVjdDogaW5uZXIKCmlubmVyIGJvZHkK\n"
	  "--r--\n" },
	{ "multipart-without-boundary",
	  "From: alice@example.org\n"
	  "Subject: no boundary\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: multipart/mixed\n"
	  "\n"
	  "Text of a multipart that has no boundary.\n" },
	{ "boundary-never-seen",
	  "From: alice@example.org\n"
	  "Subject: boundary never seen\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: multipart/mixed; boundary=\"zz\"\n"
	  "\n"
	  "Only a preamble.\n" },
	{ "prefix-boundaries",
	  "From: alice@example.org\n"
	  "Subject: a boundary that starts another\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: multipart/mixed; boundary=\"b\"\n"
	  "\n"
	  "--b\n"
	  "Content-Type: multipart/alternative; boundary=\"b2\"\n"
	  "\n"
	  "--b2\n"
	  "Content-Type: text/plain\n"
	  "\n"
	  "inner plain\n"
	  "--b2--\n"
	  "--b\n"
	  "Content-Type: text/plain\n"
	  "\n"
	  "outer second\n"
	  "--b--\n" },
	{ "rfc822-unclosed",
	  "From: alice@example.org\n"
	  "Subject: forward with an unclosed multipart\n"
	  "MIME-Version: 1.0\n"
	  "Content-Type: multipart/mixed; boundary=\"out\"\n"
	  "\n"
	  "--out\n"
	  "Content-Type: message/rfc822\n"
	  "\n"
	  "Subject: inner\n"
	  "Content-Type: multipart/mixed; boundary=\"in\"\n"
	  "\n"
	  "--in\n"
	  "Content-Type: text/plain\n"
	  "\n"
	  "inner text, its multipart never closed\n"
	  "--out\n"
	  "Content-Type: text/plain\n"
	  "\n"
	  "after\n"
	  "--out--\n" },
	{ "empty-body", "From: alice@example.org\nSubject: empty\n\n" },
	{ "header-only", "From: alice@example.org\nSubject: no blank line" },
	{ "not-a-message", "Just a line of text, no header at all.\nAnd another.\n" },
};

static inline size_t render_fixture_count(void)
{
	return sizeof(render_fixtures) / sizeof(render_fixtures[0]);
}

struct render_fixture_buf {
	char *data;
	size_t len, cap;
};

static inline void rfb_add(struct render_fixture_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;

		while (cap < b->len + n + 1)
			cap *= 2;
		b->data = realloc(b->data, cap);
		if (!b->data)
			abort();
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/* LF -> CRLF */
static inline void rfb_text(struct render_fixture_buf *b, const char *s)
{
	for (const char *nl; (nl = strchr(s, '\n')) != NULL; s = nl + 1) {
		rfb_add(b, s, (size_t)(nl - s));
		rfb_add(b, "\r\n", 2);
	}
	rfb_add(b, s, strlen(s));
}

/* The 3 MB attachment beside a short text: base64 of a byte pattern. */
static inline void rfb_big_attachment(struct render_fixture_buf *b)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char line[80];

	rfb_text(b, "From: alice@example.org\nSubject: big attachment\nMIME-Version: 1.0\n"
	            "Content-Type: multipart/mixed; boundary=\"big\"\n\n--big\n"
	            "Content-Type: text/plain; charset=utf-8\n\nThe short text beside the invoice.\n"
	            "--big\nContent-Type: application/octet-stream; name=\"big.bin\"\n"
	            "Content-Disposition: attachment; filename=\"big.bin\"\n"
	            "Content-Transfer-Encoding: base64\n\n");
	/* 3 * 2^20 bytes = 55,188 lines of 57 bytes (76 characters) and one of 12 */
	for (unsigned long i = 0, left = 3UL << 20; left > 0; i++) {
		unsigned long n = left >= 57 ? 57 : left, k = 0;

		for (unsigned long j = 0; j < n; j += 3) {
			unsigned long v = ((i + j) * 2654435761UL) & 0xffffff;

			line[k++] = b64[(v >> 18) & 63];
			line[k++] = b64[(v >> 12) & 63];
			line[k++] = j + 1 < n ? b64[(v >> 6) & 63] : '=';
			line[k++] = j + 2 < n ? b64[v & 63] : '=';
		}
		line[k++] = '\r';
		line[k++] = '\n';
		rfb_add(b, line, k);
		left -= n;
	}
	rfb_text(b, "--big--\n");
}

/* 10,000 multiparts, each inside the one before. */
static inline void rfb_deep(struct render_fixture_buf *b)
{
	char line[128];
	int i, n = 10000;

	rfb_text(b, "From: alice@example.org\nSubject: deep\nMIME-Version: 1.0\n"
	            "Content-Type: multipart/mixed; boundary=\"d0\"\n\n");
	for (i = 1; i < n; i++) {
		snprintf(line, sizeof(line), "--d%d\nContent-Type: multipart/mixed; boundary=\"d%d\"\n\n",
		         i - 1, i);
		rfb_text(b, line);
	}
	snprintf(line, sizeof(line), "--d%d\nContent-Type: text/plain\n\ndeepest text\n", n - 1);
	rfb_text(b, line);
	for (i = n - 1; i >= 0; i--) {
		snprintf(line, sizeof(line), "--d%d--\n", i);
		rfb_text(b, line);
	}
}

/* A part whose header is 1 MB: one field folded over many lines. */
static inline void rfb_big_header(struct render_fixture_buf *b)
{
	rfb_text(b, "From: alice@example.org\nSubject: big part header\nMIME-Version: 1.0\n"
	            "Content-Type: multipart/mixed; boundary=\"h\"\n\n--h\n"
	            "Content-Type: text/plain; charset=utf-8\nX-Filler: start");
	for (int i = 0; i < 18000; i++)
		rfb_text(b, "\n  filler filler filler filler filler filler filler filler");
	rfb_text(b, "\n\nText after a 1 MB header.\n--h--\n");
}

/* Fixture I as a malloc'd message (CRLF line ends) and its length. */
static inline char *render_fixture(size_t i, size_t *len_r)
{
	struct render_fixture_buf b = { 0 };

	if (render_fixtures[i].text)
		rfb_text(&b, render_fixtures[i].text);
	else if (strcmp(render_fixtures[i].name, "big-attachment") == 0)
		rfb_big_attachment(&b);
	else if (strcmp(render_fixtures[i].name, "deep-nesting") == 0)
		rfb_deep(&b);
	else
		rfb_big_header(&b);
	*len_r = b.len;
	return b.data;
}

#endif
