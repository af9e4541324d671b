/* fuzz_wire.c - libFuzzer target for the IMAP response tokenizer
 * (net/wire.c).
 *
 * The input is a server byte stream (the corpus holds plain transcripts).
 * It is tokenized three times with the same small, input-derived limits:
 * whole, one byte at a time, and in chunks of input-derived sizes. Each
 * chunk is copied into a heap buffer of exactly its size, so ASan catches a
 * read past the end of what the tokenizer was given. The client's choices
 * (stream or accumulate each literal, text mode after a status word, and
 * now and then at a random point) come from a generator seeded with a hash
 * of the input and are taken after every token that is not literal data,
 * so they are the same in the three runs.
 *
 * Each run writes a transcript: every token (type, data, announced size),
 * streamed literal data concatenated per literal, and the final result. wire.h promises that feeding a stream in any chunks gives the same
 * tokens; the three transcripts must be identical. Token invariants of
 * wire.h are checked as they arrive.
 */
#include "tests/fuzz/fuzzutil.h"

#include <errno.h>
#include <strings.h>

#include "net/wire.h"

struct feed {
	const struct wire_limits *lim;
	uint64_t seed;
	int mode;                   /* 0 whole, 1 byte by byte, 2 chunks */
	struct fuzz_buf out;        /* the transcript */
	struct fuzz_buf lit;        /* data of the literal being streamed */
	int in_lit;

	/* what the client knows about the line */
	unsigned depth;
	int in_code;
	unsigned ntop;              /* top-level tokens of this line */
	uint64_t lit_left;          /* streamed literal bytes still due */
	int accumulating;           /* the next STRING is an accumulated literal */
	uint64_t accum_size;
	uint64_t held;              /* bytes accumulated in this line */
};

static void flush_literal(struct feed *f)
{
	if (!f->in_lit)
		return;
	fuzz_buf_addc(&f->out, 'D');
	fuzz_buf_add_u64(&f->out, f->lit.len);
	fuzz_buf_add(&f->out, f->lit.data, f->lit.len);
	f->lit.len = 0;
	f->in_lit = 0;
}

static int is_status_word(const char *s)
{
	return !strcasecmp(s, "OK") || !strcasecmp(s, "NO") || !strcasecmp(s, "BAD") ||
	       !strcasecmp(s, "BYE") || !strcasecmp(s, "PREAUTH");
}

/* Act on one token that is not literal data; CHOICES is the same generator
 * state in every run. */
static void on_token(struct feed *f, struct wire_parser *p, const struct wire_token *t,
                     struct fuzz_rng *choices)
{
	/* an accumulated literal comes back as the very next token */
	int accumulated = f->accumulating;

	FUZZ_CHECK(!accumulated || t->type == WIRE_STRING);
	f->accumulating = 0;
	flush_literal(f);
	fuzz_buf_addc(&f->out, (char)('A' + t->type));

	switch (t->type) {
	case WIRE_ATOM:
	case WIRE_STRING:
	case WIRE_TEXT:
		FUZZ_CHECK(t->data != NULL);
		FUZZ_CHECK(t->data[t->len] == '\0');
		fuzz_buf_add_u64(&f->out, t->len);
		fuzz_buf_add(&f->out, t->data, t->len);
		if (t->type == WIRE_ATOM) {
			FUZZ_CHECK(t->len > 0);
			FUZZ_CHECK(memchr(t->data, '\0', t->len) == NULL);
			FUZZ_CHECK(!memchr(t->data, '\r', t->len) && !memchr(t->data, '\n', t->len));
		} else if (t->type == WIRE_TEXT) {
			FUZZ_CHECK(memchr(t->data, '\0', t->len) == NULL);
			FUZZ_CHECK(!memchr(t->data, '\r', t->len) && !memchr(t->data, '\n', t->len));
		} else if (accumulated) {
			FUZZ_CHECK(t->len == f->accum_size);
		} else {
			/* quoted: QUOTED-CHAR excludes CR, LF and NUL */
			FUZZ_CHECK(memchr(t->data, '\0', t->len) == NULL);
			FUZZ_CHECK(!memchr(t->data, '\r', t->len) && !memchr(t->data, '\n', t->len));
		}
		break;
	case WIRE_LITERAL_BEGIN:
		FUZZ_CHECK(t->size <= f->lim->max_literal_stream);
		fuzz_buf_add_u64(&f->out, t->size);
		fuzz_buf_addc(&f->out, (char)t->binary);
		break;
	default:
		FUZZ_CHECK(t->data == NULL && t->len == 0);
		break;
	}
	FUZZ_CHECK(wire_depth(p) <= f->lim->max_depth);

	switch (t->type) {
	case WIRE_LPAREN:
		f->depth++;
		if (!f->in_code && f->depth == 1)
			f->ntop++;
		break;
	case WIRE_RPAREN:
		FUZZ_CHECK(f->depth > 0);
		f->depth--;
		break;
	case WIRE_LBRACKET:
		FUZZ_CHECK(!f->in_code);
		f->in_code = 1;
		break;
	case WIRE_RBRACKET:
		FUZZ_CHECK(f->in_code);
		f->in_code = 0;
		break;
	case WIRE_EOL:
		FUZZ_CHECK(f->depth == 0 && wire_depth(p) == 0 && !f->in_code);
		f->ntop = 0;
		f->held = 0;
		break;
	case WIRE_LITERAL_BEGIN:
		if (fuzz_below(choices, 3) == 0) {
			int r = wire_literal_accumulate(p);

			fuzz_buf_addc(&f->out, (char)-r);
			if (r == 0) {
				/* the line's own bytes count too: what is held
				 * is at most the budget */
				FUZZ_CHECK(t->size <= f->lim->max_literal);
				FUZZ_CHECK(f->held + t->size <= f->lim->max_response);
				f->held += t->size;
				f->accumulating = 1;
				f->accum_size = t->size;
			} else {
				/* over max_literal, or over max_response */
				FUZZ_CHECK(r == -EMSGSIZE);
			}
		} else {
			f->lit_left = t->size;
			f->in_lit = 1;   /* recorded even when empty */
		}
		/* fall through */
	case WIRE_ATOM:
	case WIRE_STRING:
		if (!f->in_code && f->depth == 0 && !accumulated)
			f->ntop++;
		break;
	default:
		break;
	}

	/* Text mode where imap.c asks for it, and sometimes anywhere (the
	 * tokenizer ignores the call where it makes no sense). */
	if (t->type == WIRE_ATOM && !f->in_code && f->depth == 0 &&
	    ((f->ntop == 1 && strcmp(t->data, "+") == 0) ||
	     (f->ntop == 2 && is_status_word(t->data)))) {
		wire_expect_text(p);
		fuzz_buf_addc(&f->out, 't');
	} else if (fuzz_below(choices, 16) == 0) {
		wire_expect_text(p);
		fuzz_buf_addc(&f->out, 't');
	}
}

static void run_feed(struct feed *f, const uint8_t *data, size_t size)
{
	struct wire_parser *p = wire_parser_new(f->lim);
	struct fuzz_chunker chunks;
	struct fuzz_rng choices = { f->seed ^ 0x63686f696365u };
	enum wire_result r = WIRE_MORE;
	size_t off = 0;

	FUZZ_CHECK(p != NULL);
	fuzz_chunker_init(&chunks, f->seed, f->mode);
	while (off < size && r != WIRE_BAD) {
		size_t n;
		char *chunk = fuzz_next_chunk(&chunks, data + off, size - off, &n);
		const char *in = chunk;
		size_t len = n;

		/* Go on while tokens come, also with nothing left to give: an
		 * accumulated literal of size 0 ends without a byte. */
		for (;;) {
			struct wire_token t;
			size_t before = len;

			r = wire_next(p, &in, &len, &t);
			FUZZ_CHECK(len <= before && in == chunk + (n - len));
			if (r == WIRE_MORE) {
				FUZZ_CHECK(len == 0);
				break;
			}
			if (r == WIRE_BAD) {
				FUZZ_CHECK(wire_error(p) != NULL);
				break;
			}
			FUZZ_CHECK(r == WIRE_OK);
			if (t.type == WIRE_LITERAL_DATA) {
				FUZZ_CHECK(f->in_lit);
				FUZZ_CHECK(t.len > 0 && t.len <= f->lit_left);
				/* zero copy: the data is the input just consumed */
				FUZZ_CHECK(t.data == in - t.len && t.data >= chunk);
				f->lit_left -= t.len;
				fuzz_buf_add(&f->lit, t.data, t.len);
				continue;
			}
			FUZZ_CHECK(!f->in_lit || f->lit_left == 0);
			on_token(f, p, &t, &choices);
		}
		free(chunk);
		off += n;
	}
	flush_literal(f);
	/* The result, but not the reason: when a stream breaks two rules, which
	 * one is noticed first may depend on the chunking (e.g. a line over
	 * max_line that also holds an unclosed section). */
	fuzz_buf_addc(&f->out, (char)('0' + r));
	if (r == WIRE_BAD) {
		/* bad stays bad until reset */
		const char *in = "* OK\r\n";
		size_t len = 6;
		struct wire_token t;

		FUZZ_CHECK(wire_next(p, &in, &len, &t) == WIRE_BAD);
		wire_parser_reset(p);
		FUZZ_CHECK(wire_next(p, &in, &len, &t) == WIRE_OK);
	}
	wire_parser_free(p);
	fuzz_buf_release(&f->lit);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t lines[] = { 1, 4, 16, 64, 300, 4096, 512 * 1024 };
	static const size_t literals[] = { 0, 1, 7, 64, 1000, 1024 * 1024 };
	static const size_t streams[] = { 0, 5, 100, 10000, (size_t)4 << 30 };
	static const unsigned depths[] = { 0, 1, 2, 3, 8, 64 };
	static const size_t responses[] = { 1, 8, 64, 1000, 100000, 8 * 1024 * 1024 };
	struct fuzz_rng r = { fuzz_hash(data, size) };
	struct wire_limits lim;
	struct feed f[3];

	/* Half of the time limits that a realistic stream fits in. */
	if (fuzz_below(&r, 2)) {
		lim = wire_default_limits;
		lim.max_literal = 4096;
	} else {
		lim.max_line = lines[fuzz_below(&r, sizeof(lines) / sizeof(lines[0]))];
		lim.max_literal = literals[fuzz_below(&r, sizeof(literals) / sizeof(literals[0]))];
		lim.max_literal_stream = streams[fuzz_below(&r, sizeof(streams) / sizeof(streams[0]))];
		lim.max_depth = depths[fuzz_below(&r, sizeof(depths) / sizeof(depths[0]))];
		lim.max_response = responses[fuzz_below(&r, sizeof(responses) / sizeof(responses[0]))];
	}
	for (int i = 0; i < 3; i++) {
		memset(&f[i], 0, sizeof(f[i]));
		f[i].lim = &lim;
		f[i].seed = r.state;
		f[i].mode = i;
		run_feed(&f[i], data, size);
	}
	fuzz_same_transcript(&f[0].out, 0, &f[1].out, 1);
	fuzz_same_transcript(&f[0].out, 0, &f[2].out, 2);
	for (int i = 0; i < 3; i++)
		fuzz_buf_release(&f[i].out);
	return 0;
}
