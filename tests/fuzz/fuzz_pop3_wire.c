/* fuzz_pop3_wire.c - libFuzzer target for the POP3 response reader
 * (net/pop3_wire.c).
 *
 * The input is a server byte stream (the corpus holds plain transcripts).
 * A driver reads status lines and, after some of them, a multi-line body,
 * as the client would: after "+OK" lines mostly, after others rarely (the
 * choice comes from a generator seeded with a hash of the input, one draw
 * per status line, so it is the same in every run). The stream is fed
 * whole, one byte at a time and in chunks of input-derived sizes, each
 * chunk in a heap buffer of exactly its size so that ASan sees a read past
 * it, with the same input-derived max_line.
 *
 * Checks: status lines hold no CR, LF or NUL and fit max_line; a body is
 * lines ending in CRLF, none longer than max_line, and undoing its
 * byte-stuffing is all that happened to the bytes the server sent for it
 * (compared with the raw input up to the "." line); the three runs give the
 * same lines, bodies and result. Only the body cut short by a bad byte may
 * differ: the whole-input run does not deliver the bytes of its chunk
 * before the bad one, so there the shorter must be a prefix of the longer.
 */
#include "tests/fuzz/fuzzutil.h"

#include "net/pop3_wire.h"

struct feed {
	size_t max_line;            /* as given to pop3_wire_new() */
	uint64_t seed;
	int mode;                   /* 0 whole, 1 byte by byte, 2 chunks */
	struct fuzz_buf out;        /* complete lines and bodies, the result */
	struct fuzz_buf body;       /* the body being read */
	int result;
};

/* The raw bytes RAW of a multi-line response body, from after the status
 * line to the end of the "." line, must give BODY once unstuffed. */
static void check_unstuffed(const char *raw, size_t rawlen, const char *body, size_t bodylen,
                            size_t max_line)
{
	size_t i = 0, j = 0;

	for (;;) {
		const char *eol;
		size_t n;

		FUZZ_CHECK(i < rawlen);
		if (raw[i] == '.') {
			i++;
			if (rawlen - i == 2 && raw[i] == '\r' && raw[i + 1] == '\n') {
				FUZZ_CHECK(j == bodylen);
				return;
			}
		}
		eol = memchr(raw + i, '\n', rawlen - i);
		FUZZ_CHECK(eol != NULL && eol > raw + i && eol[-1] == '\r');
		n = (size_t)(eol - (raw + i)) + 1;
		FUZZ_CHECK(n - 2 <= max_line);
		FUZZ_CHECK(memchr(raw + i, '\0', n) == NULL);
		FUZZ_CHECK(memchr(raw + i, '\r', n) == eol - 1);
		FUZZ_CHECK(bodylen - j >= n && memcmp(body + j, raw + i, n) == 0);
		i += n;
		j += n;
	}
}

static void run_feed(struct feed *f, const uint8_t *data, size_t size)
{
	struct pop3_wire *p = pop3_wire_new(f->max_line);
	size_t max_line = f->max_line ? f->max_line : 1000000;
	struct fuzz_chunker chunks;
	struct fuzz_rng choices = { f->seed ^ 0x63686f696365u };
	enum pop3_wire_result r = POP3_WIRE_MORE;
	int multi = 0;
	size_t off = 0, body_start = 0;

	FUZZ_CHECK(p != NULL);
	fuzz_chunker_init(&chunks, f->seed, f->mode);
	while (off < size && r != POP3_WIRE_BAD) {
		size_t n;
		char *chunk = fuzz_next_chunk(&chunks, data + off, size - off, &n);
		const char *in = chunk;
		size_t len = n;

		while (len > 0) {
			const char *d;
			size_t dlen, before = len;

			if (!multi) {
				r = pop3_wire_line(p, &in, &len, &d, &dlen);
				FUZZ_CHECK(len <= before && in == chunk + (n - len));
				if (r != POP3_WIRE_OK)
					break;
				FUZZ_CHECK(d[dlen] == '\0' && strlen(d) == dlen && dlen <= max_line);
				FUZZ_CHECK(!memchr(d, '\r', dlen) && !memchr(d, '\n', dlen));
				fuzz_buf_addc(&f->out, 'S');
				fuzz_buf_add_u64(&f->out, dlen);
				fuzz_buf_add(&f->out, d, dlen);
				if (fuzz_below(&choices, strncmp(d, "+OK", 3) == 0 ? 4 : 32) != 0)
					continue;
				pop3_wire_begin_multi(p);
				multi = 1;
				body_start = off + (size_t)(in - chunk);
				fuzz_buf_addc(&f->out, 'M');
				continue;
			}
			r = pop3_wire_multi(p, &in, &len, &d, &dlen);
			FUZZ_CHECK(len <= before && in == chunk + (n - len));
			if (r == POP3_WIRE_OK) {
				FUZZ_CHECK(dlen > 0 && memchr(d, '\0', dlen) == NULL);
				fuzz_buf_add(&f->body, d, dlen);
				continue;
			}
			if (r != POP3_WIRE_END)
				break;
			check_unstuffed((const char *)data + body_start,
			                off + (size_t)(in - chunk) - body_start,
			                f->body.data, f->body.len, max_line);
			fuzz_buf_addc(&f->out, 'B');
			fuzz_buf_add_u64(&f->out, f->body.len);
			fuzz_buf_add(&f->out, f->body.data, f->body.len);
			f->body.len = 0;
			multi = 0;
		}
		if (r == POP3_WIRE_MORE)
			FUZZ_CHECK(len == 0);
		free(chunk);
		off += n;
	}
	if (r == POP3_WIRE_BAD) {
		const char *in = "\r\n", *d;   /* fits any max_line */
		size_t len = 2, dlen;

		FUZZ_CHECK(strcmp(pop3_wire_error(p), "no error") != 0);
		FUZZ_CHECK(pop3_wire_line(p, &in, &len, &d, &dlen) == POP3_WIRE_BAD);
		pop3_wire_reset(p);
		FUZZ_CHECK(pop3_wire_line(p, &in, &len, &d, &dlen) == POP3_WIRE_OK);
	}
	f->result = r == POP3_WIRE_BAD ? 2 : multi;
	pop3_wire_free(p);
}

static void compare(const struct feed *a, const struct feed *b)
{
	const struct fuzz_buf *x = &a->body, *y = &b->body;

	FUZZ_CHECK(a->result == b->result);
	FUZZ_CHECK(a->out.len == b->out.len &&
	           (a->out.len == 0 || memcmp(a->out.data, b->out.data, a->out.len) == 0));
	if (a->result == 2) {
		if (x->len > y->len) {
			x = &b->body;
			y = &a->body;
		}
		FUZZ_CHECK(x->len == 0 || memcmp(x->data, y->data, x->len) == 0);
	} else {
		FUZZ_CHECK(x->len == y->len && (x->len == 0 || memcmp(x->data, y->data, x->len) == 0));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t lines[] = { 0, 1, 2, 3, 10, 80, 998, 4096 };
	struct fuzz_rng r = { fuzz_hash(data, size) };
	struct feed f[3];
	size_t max_line = lines[fuzz_below(&r, sizeof(lines) / sizeof(lines[0]))];

	for (int i = 0; i < 3; i++) {
		memset(&f[i], 0, sizeof(f[i]));
		f[i].max_line = max_line;
		f[i].seed = r.state;
		f[i].mode = i;
		run_feed(&f[i], data, size);
	}
	compare(&f[0], &f[1]);
	compare(&f[0], &f[2]);
	for (int i = 0; i < 3; i++) {
		fuzz_buf_release(&f[i].out);
		fuzz_buf_release(&f[i].body);
	}
	return 0;
}
