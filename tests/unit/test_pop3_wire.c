/* test_pop3_wire.c - the POP3 response reader (net/pop3_wire.c).
 *
 * Every table case is fed whole, one byte at a time and in random chunks
 * (fixed seeds). Each chunk is handed over in a buffer of its own size, so
 * ASan sees any read past it, and every data chunk the reader returns must
 * point into the chunk being fed (zero copy). The concatenated output, the
 * final result and the bytes left after the end marker must be the same
 * every time.
 *
 * A driver follows a script of what the client would read: 'L' a status
 * line, 'M' a multi-line body, '*' status lines until the input runs out.
 */
#include "tests/unit/testutil.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "net/pop3_wire.h"

#define IN(s) s, sizeof(s) - 1

/* ---- a growing string --------------------------------------------------- */

static void sb_add(struct sb *b, const char *s)
{
	sb_addn(b, s, strlen(s));
}

static void sb_release(struct sb *b)
{
	free(b->s);
	memset(b, 0, sizeof(*b));
}

/* A printable rendering, for failure messages. */
static const char *show(const char *s, size_t n)
{
	static char out[4][600];
	static int k;
	char *o = out[k++ % 4];
	size_t j = 0;

	for (size_t i = 0; i < n && j + 8 < sizeof(out[0]); i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r')
			j += (size_t)sprintf(o + j, "\\r");
		else if (c == '\n')
			j += (size_t)sprintf(o + j, "\\n");
		else if (c >= 0x20 && c < 0x7f)
			o[j++] = (char)c;
		else
			j += (size_t)sprintf(o + j, "\\x%02x", c);
	}
	if (j + 8 >= sizeof(out[0]))
		j += (size_t)sprintf(o + j, "...");
	o[j] = '\0';
	return o;
}

/* ---- feeding ------------------------------------------------------------ */

enum feed { FEED_WHOLE, FEED_BYTES, FEED_RAND7, FEED_RAND64, FEED_RAND4K, FEED_COUNT };

static const char *const feed_names[] = { "whole", "byte by byte", "random 1-7",
	                                   "random 1-64", "random 1-4096" };

struct chunker {
	enum feed feed;
	uint32_t seed;
	const size_t *splits;   /* explicit chunk ends, or NULL */
	size_t nsplits, at;
};

static size_t next_size(struct chunker *c, size_t left)
{
	size_t n;

	if (c->splits) {
		size_t end = c->at < c->nsplits ? c->splits[c->at] : SIZE_MAX;
		c->at++;
		return end;   /* an absolute position; see run() */
	}
	switch (c->feed) {
	case FEED_WHOLE:
		return left;
	case FEED_BYTES:
		return 1;
	default:
		c->seed = c->seed * 1103515245u + 12345u;   /* fixed seed: repeatable */
		n = 1 + (c->seed >> 8) % (c->feed == FEED_RAND7 ? 7 : c->feed == FEED_RAND64 ? 64
		                                                                         : 4096);
		return n < left ? n : left;
	}
}

struct result {
	enum pop3_wire_result final;   /* END: the whole script was read */
	struct sb out;                 /* lines as "[line]", bodies (see raw) */
	struct sb rest;                /* input left after the script */
	char err[128];
};

/* Run SCRIPT over IN. With raw, bodies are appended as they are; otherwise
 * each body is followed by "|". */
static void run(const char *script, const char *in, size_t len, size_t max_line,
                struct chunker *ch, bool raw, struct result *res)
{
	struct pop3_wire *p = pop3_wire_new(max_line);
	const char *step = script;
	size_t pos = 0;
	bool in_multi = false;

	memset(res, 0, sizeof(*res));
	sb_add(&res->out, "");
	sb_add(&res->rest, "");
	assert_non_null(p);
	assert_string_equal(pop3_wire_error(p), "no error");
	res->final = POP3_WIRE_MORE;
	while (*step) {
		size_t csize;
		char *chunk;
		const char *cur;
		size_t n;

		if (pos == len)
			break;
		csize = next_size(ch, len - pos);
		if (ch->splits)
			csize = (csize > len ? len : csize) - pos;
		if (csize == 0)
			continue;
		chunk = malloc(csize);
		assert_non_null(chunk);
		memcpy(chunk, in + pos, csize);
		cur = chunk;
		n = csize;
		while (*step) {
			enum pop3_wire_result r;
			const char *d;
			size_t dl;

			if (*step == 'M') {
				if (!in_multi) {
					pop3_wire_begin_multi(p);
					in_multi = true;
				}
				r = pop3_wire_multi(p, &cur, &n, &d, &dl);
				if (r == POP3_WIRE_OK) {
					assert_true(dl > 0);
					/* zero copy: the data is inside the chunk fed */
					assert_true(d >= chunk && d + dl <= chunk + csize);
					sb_addn(&res->out, d, dl);
					continue;
				}
				if (r == POP3_WIRE_END) {
					if (!raw)
						sb_add(&res->out, "|");
					in_multi = false;
					step++;
					continue;
				}
			} else {
				r = pop3_wire_line(p, &cur, &n, &d, &dl);
				if (r == POP3_WIRE_OK) {
					assert_int_equal(strlen(d), dl);   /* NUL-terminated, no NUL */
					sb_add(&res->out, "[");
					sb_addn(&res->out, d, dl);
					sb_add(&res->out, "]");
					if (*step == 'L')
						step++;
					continue;
				}
			}
			if (r == POP3_WIRE_BAD) {
				res->final = POP3_WIRE_BAD;
				snprintf(res->err, sizeof(res->err), "%s", pop3_wire_error(p));
				/* sticky until reset */
				assert_int_equal(pop3_wire_multi(p, &cur, &n, &d, &dl), POP3_WIRE_BAD);
				assert_int_equal(pop3_wire_line(p, &cur, &n, &d, &dl), POP3_WIRE_BAD);
				free(chunk);
				goto out;
			}
			assert_int_equal(r, POP3_WIRE_MORE);
			assert_int_equal(n, 0);
			break;
		}
		if (!*step) {
			sb_addn(&res->rest, cur, n);
			sb_addn(&res->rest, in + pos + csize, len - pos - csize);
			res->final = POP3_WIRE_END;
		}
		free(chunk);
		pos += csize;
	}
	if (!*step) {
		res->final = POP3_WIRE_END;
	} else if (*step == '*' && pos == len) {
		res->final = POP3_WIRE_MORE;
	}
	if (res->final == POP3_WIRE_MORE) {
		/* with no input, still nothing */
		const char *cur = "", *d;
		size_t n = 0, dl;

		if (*step == 'M' && !in_multi)
			pop3_wire_begin_multi(p);
		assert_int_equal(*step == 'M' ? pop3_wire_multi(p, &cur, &n, &d, &dl)
		                              : pop3_wire_line(p, &cur, &n, &d, &dl), POP3_WIRE_MORE);
	}
	if (res->final == POP3_WIRE_END) {
		/* back in status mode */
		const char *cur = "+OK\r\n", *d;
		size_t n = 5, dl;

		assert_int_equal(pop3_wire_line(p, &cur, &n, &d, &dl), POP3_WIRE_OK);
		assert_string_equal(d, "+OK");
	}
out:
	pop3_wire_free(p);
}

static void release(struct result *res)
{
	sb_release(&res->out);
	sb_release(&res->rest);
}

static const char *result_name(enum pop3_wire_result r)
{
	switch (r) {
	case POP3_WIRE_OK: return "OK";
	case POP3_WIRE_MORE: return "MORE";
	case POP3_WIRE_END: return "END";
	case POP3_WIRE_BAD: return "BAD";
	}
	return "?";
}

/* Check one run against the expectation; OUT and REST are ignored for BAD
 * (what came before the error depends on where the chunks were cut). */
static void expect(const char *name, const char *how, const struct result *res,
                   enum pop3_wire_result final, const char *out, size_t outlen,
                   const char *rest, size_t restlen)
{
	if (res->final != final)
		fail_msg("%s (%s): result %s, not %s (%s); output \"%s\"", name, how,
		         result_name(res->final), result_name(final), res->err,
		         show(res->out.s, res->out.len));
	if (final == POP3_WIRE_BAD)
		return;
	if (res->out.len != outlen || memcmp(res->out.s, out, outlen) != 0)
		fail_msg("%s (%s): output\n  \"%s\", not\n  \"%s\"", name, how,
		         show(res->out.s, res->out.len), show(out, outlen));
	if (final == POP3_WIRE_END && (res->rest.len != restlen ||
	                               memcmp(res->rest.s, rest, restlen) != 0))
		fail_msg("%s (%s): left \"%s\", not \"%s\"", name, how,
		         show(res->rest.s, res->rest.len), show(rest, restlen));
}

static void run_all_feeds(const char *name, const char *script, const char *in, size_t len,
                          size_t max_line, bool raw, enum pop3_wire_result final,
                          const char *out, size_t outlen, const char *rest, size_t restlen)
{
	for (int f = 0; f < FEED_COUNT; f++) {
		for (uint32_t seed = 1; seed <= (f >= FEED_RAND7 ? 3u : 1u); seed++) {
			struct chunker ch = { .feed = (enum feed)f, .seed = seed * 7919u };
			struct result res;
			char how[64];

			snprintf(how, sizeof(how), "%s, seed %u", feed_names[f], seed);
			run(script, in, len, max_line, &ch, raw, &res);
			expect(name, how, &res, final, out, outlen, rest, restlen);
			release(&res);
		}
	}
}

/* ---- multi-line bodies ----------------------------------------------------- */

struct multi_case {
	const char *name;
	const char *in;
	size_t len;
	size_t max_line;
	enum pop3_wire_result final;    /* END, MORE or BAD */
	const char *out;
	size_t outlen;
	const char *rest;
	size_t restlen;
};

#define M_END(name, in, out, rest) \
	{ name, IN(in), 0, POP3_WIRE_END, IN(out), IN(rest) }
#define M_END_MAX(name, max, in, out) \
	{ name, IN(in), max, POP3_WIRE_END, IN(out), IN("") }
#define M_MORE(name, in, out) \
	{ name, IN(in), 0, POP3_WIRE_MORE, IN(out), IN("") }
#define M_BAD(name, in) \
	{ name, IN(in), 0, POP3_WIRE_BAD, IN(""), IN("") }
#define M_BAD_MAX(name, max, in) \
	{ name, IN(in), max, POP3_WIRE_BAD, IN(""), IN("") }

static const struct multi_case multi_cases[] = {
	M_END("empty body", ".\r\n", "", ""),
	M_END("plain body", "Subject: hi\r\n\r\nHello\r\nworld\r\n.\r\n",
	      "Subject: hi\r\n\r\nHello\r\nworld\r\n", ""),
	M_END("bytes after the end stay in the input", "a\r\n.\r\n+OK next\r\nmore",
	      "a\r\n", "+OK next\r\nmore"),
	M_END("a terminator right after the end stays", "x.\r\n.\r\n.\r\n", "x.\r\n", ".\r\n"),
	M_END("stuffed dot at the start of the body", "..hidden\r\nx\r\n.\r\n",
	      ".hidden\r\nx\r\n", ""),
	M_END("stuffed dots at the start of lines", "a\r\n..b\r\n...c\r\n....\r\n.\r\n",
	      "a\r\n.b\r\n..c\r\n...\r\n", ""),
	M_END("a line that is a single dot", "..\r\n.\r\n", ".\r\n", ""),
	M_END("body of single dots", "..\r\n..\r\n.\r\n", ".\r\n.\r\n", ""),
	M_END("leading dot before another character is dropped", ".x\r\n.y z\r\n.\r\n",
	      "x\r\ny z\r\n", ""),
	M_END("dot then space is data", ". \r\n.\r\n", " \r\n", ""),
	M_END("dots not at line start are data", "end.\r\n a.\r\n x.\r\n.\r\n",
	      "end.\r\n a.\r\n x.\r\n", ""),
	M_END("CRLF.CRLF-like bytes not at a line start", "a .\r\n.. .\r\nb..\r\n.\r\n",
	      "a .\r\n. .\r\nb..\r\n", ""),
	M_END("empty lines", "\r\n\r\n\r\n.\r\n", "\r\n\r\n\r\n", ""),
	M_END("8-bit, tab, controls other than CR LF NUL", "caf\xc3\xa9\t\x01\x7f\xff\r\n.\r\n",
	      "caf\xc3\xa9\t\x01\x7f\xff\r\n", ""),
	M_END_MAX("line of max_line bytes", 16, "0123456789abcdef\r\n.\r\n",
	          "0123456789abcdef\r\n"),
	M_END_MAX("stuffed line of max_line bytes after unstuffing", 16,
	          ".0123456789abcdef\r\n..123456789abcdef\r\n.\r\n",
	          "0123456789abcdef\r\n.123456789abcdef\r\n"),
	M_END_MAX("many lines just under the limit", 4, "abcd\r\nabcd\r\n.abc\r\n\r\n.\r\n",
	          "abcd\r\nabcd\r\nabc\r\n\r\n"),
	M_BAD_MAX("line one over max_line", 16, "0123456789abcdefg\r\n.\r\n"),
	M_BAD_MAX("stuffed line one over max_line", 16, "..123456789abcdefg\r\n.\r\n"),
	M_BAD_MAX("long line with no end", 16, "0123456789abcdefg"),

	/* hostile */
	M_MORE("no final dot", "a\r\nb\r\n", "a\r\nb\r\n"),
	M_MORE("dot CR at the end, no LF yet", "a\r\n.\r", "a\r\n"),
	M_MORE("a stuffed dot is not the end", "a\r\n..\r\n", "a\r\n.\r\n"),
	M_MORE("dot space is not the end", "a\r\n. \r\n", "a\r\n \r\n"),
	M_MORE("no CRLF before the dot", "a.\r\n", "a.\r\n"),
	M_MORE("half a line", "abc", "abc"),
	M_BAD("bare LF", "a\nb\r\n.\r\n"),
	M_BAD("bare CR", "a\rb\r\n.\r\n"),
	M_BAD("CR CR LF", "a\r\r\n.\r\n"),
	M_BAD("bare CR after the dot", "a\r\n.\rx\r\n"),
	M_BAD("terminator with bare LF", "a\r\n.\n"),
	M_BAD("terminator with CR CR", "a\r\n.\r\r\n"),
	M_BAD("LF-only body", "a\n.\n"),
	M_BAD("NUL", "a\0b\r\n.\r\n"),
	M_BAD("NUL after a dot", ".\0\r\n.\r\n"),
	M_BAD("NUL at the start of a line", "\0\r\n.\r\n"),
};

static void test_multi(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(multi_cases); i++) {
		const struct multi_case *c = &multi_cases[i];

		run_all_feeds(c->name, "M", c->in, c->len, c->max_line, true, c->final,
		              c->out, c->outlen, c->rest, c->restlen);
	}
}

/* The end marker cut at every pair of places (three chunks). */
static void test_end_marker_split(void **state)
{
	static const struct {
		const char *in, *out, *rest;
	} inputs[] = {
		{ "abc\r\n.\r\nXY", "abc\r\n", "XY" },
		{ "a\r\n..b\r\n.\r\n", "a\r\n.b\r\n", "" },
		{ "..\r\n..\r\n.\r\n+OK", ".\r\n.\r\n", "+OK" },
		{ ".\r\n.\r\n", "", ".\r\n" },
		{ "\r\n.\r\n\r\n", "\r\n", "\r\n" },
	};

	(void)state;
	for (size_t k = 0; k < ARRAY_SIZE(inputs); k++) {
		size_t len = strlen(inputs[k].in);

		for (size_t i = 0; i <= len; i++) {
			for (size_t j = i; j <= len; j++) {
				size_t splits[] = { i, j, len };
				struct chunker ch = { .splits = splits, .nsplits = 3 };
				struct result res;
				char how[64];

				snprintf(how, sizeof(how), "cut at %zu and %zu", i, j);
				run("M", inputs[k].in, len, 0, &ch, true, &res);
				expect(show(inputs[k].in, len), how, &res, POP3_WIRE_END,
				       inputs[k].out, strlen(inputs[k].out),
				       inputs[k].rest, strlen(inputs[k].rest));
				release(&res);
			}
		}
	}
}

/* Responses one after the other, as a session reads them. */
static void test_sequence(void **state)
{
	static const char in[] =
		"+OK 2 messages\r\n1 AAA\r\n2 B.B\r\n.\r\n"
		"+OK 120 octets\r\nFrom: x\r\n\r\n..hidden\r\n.\r\n"
		"-ERR [IN-USE] busy\r\n"
		"+OK\r\n.\r\n"
		"+OK bye\r\n";
	static const char first[] = "+OK 2 messages\r\n1 AAA\r\n2 B.B\r\n.\r\n";
	static const char out[] =
		"[+OK 2 messages]1 AAA\r\n2 B.B\r\n|"
		"[+OK 120 octets]From: x\r\n\r\n.hidden\r\n|"
		"[-ERR [IN-USE] busy]"
		"[+OK]|"
		"[+OK bye]";

	(void)state;
	run_all_feeds("sequence", "LMLMLLML", IN(in), 0, false, POP3_WIRE_END, IN(out), IN(""));
	/* stopping early leaves the rest */
	run_all_feeds("sequence, first two", "LM", IN(in), 0, false, POP3_WIRE_END,
	              IN("[+OK 2 messages]1 AAA\r\n2 B.B\r\n|"),
	              in + strlen(first), sizeof(in) - 1 - strlen(first));
}

/* ---- generated inputs ---------------------------------------------------------- */

static char *repeat(char c, size_t n, const char *suffix)
{
	size_t sl = strlen(suffix);
	char *s = malloc(n + sl + 1);

	assert_non_null(s);
	memset(s, c, n);
	memcpy(s + n, suffix, sl + 1);
	return s;
}

static void big_feeds(const char *name, const char *in, size_t len,
                      enum pop3_wire_result final, const char *out, size_t outlen)
{
	static const enum feed feeds[] = { FEED_WHOLE, FEED_BYTES, FEED_RAND4K };

	for (size_t f = 0; f < ARRAY_SIZE(feeds); f++) {
		struct chunker ch = { .feed = feeds[f], .seed = 42 };
		struct result res;

		run("M", in, len, 0, &ch, true, &res);
		expect(name, feed_names[feeds[f]], &res, final, out, outlen, "", 0);
		release(&res);
	}
}

static void test_long_lines(void **state)
{
	char *in, *out;

	(void)state;
	/* 1,000,000 bytes is the default limit: allowed */
	in = repeat('x', 1000000, "\r\n.\r\n");
	out = repeat('x', 1000000, "\r\n");
	big_feeds("line of 1,000,000 bytes", in, strlen(in), POP3_WIRE_END, out, strlen(out));
	free(in);
	free(out);

	/* one more: BAD, and a line of 1 MB never ends either */
	in = repeat('x', 1000001, "\r\n.\r\n");
	big_feeds("line of 1,000,001 bytes", in, strlen(in), POP3_WIRE_BAD, NULL, 0);
	free(in);
	in = repeat('x', 1 << 20, "");
	big_feeds("line of 1 MB without end", in, strlen(in), POP3_WIRE_BAD, NULL, 0);
	free(in);
	in = repeat('.', 1 << 20, "\r\n.\r\n");
	big_feeds("line of 1 MB of dots", in, strlen(in), POP3_WIRE_BAD, NULL, 0);
	free(in);
}

/* A server that never sends the final dot: MORE forever, never END. */
static void test_no_end(void **state)
{
	static const char *const lines[] = { "line\r\n", "..\r\n", ". \r\n", ".x\r\n", "\r\n",
	                                     "x.\r\n" };
	struct pop3_wire *p = pop3_wire_new(0);
	uint64_t total = 0;

	(void)state;
	assert_non_null(p);
	pop3_wire_begin_multi(p);
	for (int i = 0; i < 200000; i++) {
		const char *line = lines[i % ARRAY_SIZE(lines)], *cur = line, *d;
		size_t n = strlen(line), dl;
		enum pop3_wire_result r;

		while ((r = pop3_wire_multi(p, &cur, &n, &d, &dl)) == POP3_WIRE_OK)
			total += dl;
		assert_int_equal(r, POP3_WIRE_MORE);
		assert_int_equal(n, 0);
	}
	/* "line\r\n" ".\r\n" " \r\n" "x\r\n" "\r\n" "x.\r\n" */
	assert_int_equal(total, (uint64_t)(200000 / 6) * (6 + 3 + 3 + 3 + 2 + 4) + 6 + 3);
	pop3_wire_free(p);
}

/* ---- status lines ------------------------------------------------------- */

struct line_case {
	const char *name;
	const char *in;
	size_t len;
	size_t max_line;
	enum pop3_wire_result final;    /* MORE or BAD */
	const char *out;                /* "[line]" each */
};

static const struct line_case line_cases[] = {
	{ "one line", IN("+OK\r\n"), 0, POP3_WIRE_MORE, "[+OK]" },
	{ "two lines", IN("+OK hi there\r\n-ERR [IN-USE] busy\r\n"), 0, POP3_WIRE_MORE,
	  "[+OK hi there][-ERR [IN-USE] busy]" },
	{ "empty line", IN("\r\n+OK\r\n"), 0, POP3_WIRE_MORE, "[][+OK]" },
	{ "a line not finished", IN("+OK\r\n+OK no end"), 0, POP3_WIRE_MORE, "[+OK]" },
	{ "CR at the end, no LF yet", IN("+OK\r"), 0, POP3_WIRE_MORE, "" },
	{ "8-bit and tab", IN("+OK caf\xc3\xa9\tx\r\n"), 0, POP3_WIRE_MORE,
	  "[+OK caf\xc3\xa9\tx]" },
	{ "dot lines are plain lines here", IN(".\r\n..\r\n"), 0, POP3_WIRE_MORE, "[.][..]" },
	{ "line of max_line bytes", IN("+OK 1234\r\n"), 8, POP3_WIRE_MORE, "[+OK 1234]" },
	{ "status line over the limit", IN("+OK 12345\r\n"), 8, POP3_WIRE_BAD, "" },
	{ "over the limit without CRLF", IN("+OK 12345"), 8, POP3_WIRE_BAD, "" },
	{ "bare LF", IN("+OK\n"), 0, POP3_WIRE_BAD, "" },
	{ "bare CR", IN("+OK\rx\r\n"), 0, POP3_WIRE_BAD, "" },
	{ "CR CR LF", IN("+OK\r\r\n"), 0, POP3_WIRE_BAD, "" },
	{ "NUL", IN("+OK\0\r\n"), 0, POP3_WIRE_BAD, "" },
	{ "NUL after a good line", IN("+OK\r\n-ERR\0"), 0, POP3_WIRE_BAD, "" },
};

static void test_lines(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(line_cases); i++) {
		const struct line_case *c = &line_cases[i];

		run_all_feeds(c->name, "*", c->in, c->len, c->max_line, false, c->final,
		              c->out, strlen(c->out), NULL, 0);
	}
}

static void test_long_status_line(void **state)
{
	char *in = repeat('x', 1 << 20, "\r\n");

	(void)state;
	for (int f = 0; f < FEED_COUNT; f++) {
		struct chunker ch = { .feed = (enum feed)f, .seed = 5 };
		struct result res;

		if (f == FEED_RAND7)
			continue;   /* slow and says nothing new */
		run("*", in, strlen(in), 0, &ch, false, &res);
		expect("status line of 1 MB", feed_names[f], &res, POP3_WIRE_BAD, NULL, 0, NULL, 0);
		release(&res);
	}
	free(in);
}

/* BAD sticks until pop3_wire_reset(); reset forgets everything. */
static void test_reset(void **state)
{
	struct pop3_wire *p = pop3_wire_new(0);
	const char *cur, *d;
	size_t n, dl;

	(void)state;
	assert_non_null(p);
	cur = "+OK\n";
	n = 4;
	assert_int_equal(pop3_wire_line(p, &cur, &n, &d, &dl), POP3_WIRE_BAD);
	assert_string_not_equal(pop3_wire_error(p), "no error");
	cur = "+OK\r\n";
	n = 5;
	assert_int_equal(pop3_wire_line(p, &cur, &n, &d, &dl), POP3_WIRE_BAD);
	pop3_wire_reset(p);
	assert_string_equal(pop3_wire_error(p), "no error");
	assert_int_equal(pop3_wire_line(p, &cur, &n, &d, &dl), POP3_WIRE_OK);
	assert_string_equal(d, "+OK");

	/* reset in the middle of a body: back to status mode */
	pop3_wire_begin_multi(p);
	cur = "half a li";
	n = 9;
	assert_int_equal(pop3_wire_multi(p, &cur, &n, &d, &dl), POP3_WIRE_OK);
	pop3_wire_reset(p);
	cur = "+OK again\r\n";
	n = 11;
	assert_int_equal(pop3_wire_line(p, &cur, &n, &d, &dl), POP3_WIRE_OK);
	assert_string_equal(d, "+OK again");

	/* a half status line is forgotten too */
	cur = "-ERR hal";
	n = 8;
	assert_int_equal(pop3_wire_line(p, &cur, &n, &d, &dl), POP3_WIRE_MORE);
	pop3_wire_reset(p);
	cur = "+OK\r\n";
	n = 5;
	assert_int_equal(pop3_wire_line(p, &cur, &n, &d, &dl), POP3_WIRE_OK);
	assert_string_equal(d, "+OK");
	pop3_wire_free(p);
}

/* Bodies come out without copies: a long run of lines is one chunk. */
static void test_zero_copy(void **state)
{
	static const char first[] = "line one\r\nline two\r\n\r\nthree\r\n";
	static const char in[] = "line one\r\nline two\r\n\r\nthree\r\n..four\r\nfive\r\n.\r\n";
	struct pop3_wire *p = pop3_wire_new(0);
	const char *cur = in, *d;
	size_t n = sizeof(in) - 1, dl;

	(void)state;
	assert_non_null(p);
	pop3_wire_begin_multi(p);
	assert_int_equal(pop3_wire_multi(p, &cur, &n, &d, &dl), POP3_WIRE_OK);
	assert_ptr_equal(d, in);
	assert_int_equal(dl, strlen(first));
	assert_int_equal(pop3_wire_multi(p, &cur, &n, &d, &dl), POP3_WIRE_OK);
	assert_ptr_equal(d, in + strlen(first) + 1);   /* after the stuffing dot */
	assert_int_equal(dl, strlen(".four\r\nfive\r\n"));
	assert_int_equal(pop3_wire_multi(p, &cur, &n, &d, &dl), POP3_WIRE_END);
	assert_int_equal(n, 0);
	pop3_wire_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_multi),
		cmocka_unit_test(test_end_marker_split),
		cmocka_unit_test(test_sequence),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_no_end),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_long_status_line),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_zero_copy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
