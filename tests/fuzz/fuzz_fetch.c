/* fuzz_fetch.c - libFuzzer target for the IMAP response parser and the
 * handling of untagged responses in net/imap.c: read_response() building
 * the response tree, FETCH (body literals streamed to a sink, the sequence
 * map), EXPUNGE, EXISTS, VANISHED, LIST, SEARCH/ESEARCH, STATUS, response
 * codes, tagged replies; and imap_parse_uidset().
 *
 * Those functions are static, and the public entry points all send a
 * command first and want a conversation. So this file #includes imap.c
 * itself: the target sees the statics, and imap.c stays as it is with no
 * test hooks. (It is compiled here with the fuzzer's instrumentation, so
 * the Makefile does not link imap.o as well.)
 *
 * The input is what a server sends (the corpus holds plain transcripts).
 * A thread writes it into one end of a SOCK_SEQPACKET socketpair in
 * records and then closes that end; the session reads the other end
 * through conn.c, so every record is one conn_read(), responses and
 * literals are split across reads as the records fall, and a read past the
 * input gets a clean ECONNRESET. The session starts as if a mailbox were
 * selected (mostly empty, sometimes with an input-derived number of
 * messages and a partly known sequence map), and with a command in progress
 * (tag m1, then m2 after its tagged reply, ...). Responses are read and
 * acted on with read_one() until the session breaks.
 *
 * Each input is run three times: in records as large as a read takes, one
 * byte at a time, and in records of input-derived sizes (fuzzutil.h's
 * chunker). The choices of the client (discard a body, fail a sink write at
 * some byte, fail a LIST callback) come from a generator seeded with a hash
 * of the input and are taken at events, so they are the same in the three
 * runs. Each run writes a transcript: every event with what it carries,
 * the bytes each sink took and how it ended, LIST and SEARCH results, each
 * tagged reply, and the session's state at the end (but not the error
 * text). Where a socket cuts the stream must not matter: the three
 * transcripts must be identical.
 *
 * Checks besides: every sink gets end() exactly once, never a write after
 * end() or after a write that failed, and with err 0 exactly the announced
 * bytes; events carry what imap.h promises; the sequence map covers the
 * mailbox; the session ends broken (not timed out); nothing leaks.
 */
#include "net/imap.c"

#include "tests/fuzz/fuzzutil.h"

#include <pthread.h>
#include <sys/socket.h>

struct fuzz_sink {
	struct imap_sink sk;
	struct fuzz_sink *next;     /* all sinks of this input */
	struct fuzz_ctx *ctx;
	unsigned id;                /* in the order the bodies started */
	uint64_t size, got;
	uint64_t fail_at;           /* the write that reaches this byte fails */
	struct fuzz_buf took;       /* the bytes before fail_at */
	int failed, ended;
};

struct fuzz_ctx {
	struct imap_session *s;
	struct fuzz_rng choices;
	struct fuzz_sink *sinks;
	unsigned nsinks;
	struct fuzz_buf out;        /* the transcript */
};

/* Reads N bytes at P, so that ASan checks they are all there. */
static void touch(const char *p, size_t n)
{
	static volatile unsigned char sum;

	for (size_t i = 0; i < n; i++)
		sum = (unsigned char)(sum + (unsigned char)p[i]);
}

static void out_bytes(struct fuzz_ctx *c, const char *p, size_t n)
{
	fuzz_buf_add_u64(&c->out, n);
	fuzz_buf_add(&c->out, p, n);
}

static int sink_write(struct imap_sink *sk, const char *data, size_t len)
{
	struct fuzz_sink *fs = (struct fuzz_sink *)sk;

	FUZZ_CHECK(!fs->ended && !fs->failed);
	FUZZ_CHECK(len > 0 && len <= fs->size - fs->got);
	touch(data, len);
	/* What the sink takes must not depend on how the literal was cut:
	 * keep the bytes before fail_at only. */
	if (fs->got < fs->fail_at)
		fuzz_buf_add(&fs->took, data,
		             fs->fail_at - fs->got < len ? (size_t)(fs->fail_at - fs->got) : len);
	fs->got += len;
	if (fs->got >= fs->fail_at) {
		fs->failed = 1;
		return -EIO;
	}
	return 0;
}

static void sink_end(struct imap_sink *sk, int err)
{
	struct fuzz_sink *fs = (struct fuzz_sink *)sk;
	struct fuzz_ctx *c = fs->ctx;

	FUZZ_CHECK(!fs->ended);
	FUZZ_CHECK(err <= 0);
	fs->ended = 1;
	if (err == 0 && !fs->failed)
		FUZZ_CHECK(fs->got == fs->size);
	fuzz_buf_addc(&c->out, 'E');
	fuzz_buf_add_u64(&c->out, fs->id);
	fuzz_buf_add_u64(&c->out, (uint64_t)-err);
	fuzz_buf_addc(&c->out, (char)fs->failed);
	out_bytes(c, fs->took.data, fs->took.len);
	fuzz_buf_release(&fs->took);
}

static struct imap_sink *ev_body(void *ctx, uint32_t uid, const char *section, int binary,
                                 uint64_t offset, uint64_t size)
{
	struct fuzz_ctx *c = ctx;
	struct fuzz_sink *fs;

	fuzz_buf_addc(&c->out, 'B');
	fuzz_buf_add_u64(&c->out, (uint64_t)binary);
	for (const char *p = section; *p; p++)
		fuzz_buf_addc(&c->out, *p);
	fuzz_buf_addc(&c->out, ']');
	fuzz_buf_add_u64(&c->out, uid);
	fuzz_buf_add_u64(&c->out, offset);
	fuzz_buf_add_u64(&c->out, size);
	if (fuzz_below(&c->choices, 8) == 0)
		return NULL;   /* discard */
	fs = calloc(1, sizeof(*fs));
	FUZZ_CHECK(fs != NULL);
	fs->sk.write = sink_write;
	fs->sk.end = sink_end;
	fs->ctx = c;
	fs->id = c->nsinks++;
	fs->size = size;
	fs->fail_at = fuzz_below(&c->choices, 8) == 0 ? fuzz_below(&c->choices, size + 1)
	                                               : UINT64_MAX;
	fs->next = c->sinks;
	c->sinks = fs;
	fuzz_buf_add_u64(&c->out, fs->id);
	return &fs->sk;
}

static void ev_fetch(void *ctx, const struct imap_fetch *f)
{
	struct fuzz_ctx *c = ctx;
	struct imap_session *s = c->s;

	FUZZ_CHECK(f->seq >= 1 && f->seq <= s->mb.exists);
	FUZZ_CHECK(f->uid == s->seqmap[f->seq - 1]);
	FUZZ_CHECK(!(f->have & IMAP_HAVE_UID) || f->uid != 0);
	fuzz_buf_addc(&c->out, 'F');
	fuzz_buf_add_u64(&c->out, f->seq);
	fuzz_buf_add_u64(&c->out, f->uid);
	fuzz_buf_add_u64(&c->out, f->have);
	if (f->have & IMAP_HAVE_FLAGS) {
		FUZZ_CHECK(f->flags != NULL && strlen(f->flags) < 65536);
		out_bytes(c, f->flags, strlen(f->flags));
	}
	if (f->have & IMAP_HAVE_SIZE)
		fuzz_buf_add_u64(&c->out, f->size);
	if (f->have & IMAP_HAVE_DATE)
		fuzz_buf_add_u64(&c->out, (uint64_t)f->internaldate);
	if (f->have & IMAP_HAVE_MODSEQ)
		fuzz_buf_add_u64(&c->out, f->modseq);
	if (f->have & IMAP_HAVE_HEADER) {
		FUZZ_CHECK(f->header != NULL && f->header[f->header_len] == '\0');
		touch(f->header, f->header_len);
		out_bytes(c, f->header, f->header_len);
	}
	FUZZ_CHECK(f->nheaders <= IMAP_MAX_HEADER_SECTIONS);
	for (unsigned i = 0; i < f->nheaders; i++) {
		FUZZ_CHECK(f->headers[i].data[f->headers[i].len] == '\0');
		out_bytes(c, f->headers[i].section, strlen(f->headers[i].section));
		out_bytes(c, f->headers[i].data, f->headers[i].len);
	}
	if (f->have & IMAP_HAVE_BODY)
		fuzz_buf_add_u64(&c->out, f->body_size);
	/* net/imap.h: a structure, or none with the reason, only when one came */
	if (!(f->have & IMAP_HAVE_STRUCTURE))
		FUZZ_CHECK(!f->structure && !f->structure_error[0]);
	else
		FUZZ_CHECK(!f->structure != !f->structure_error[0]);
	if (f->structure) {
		/* What was parsed can be written and read back (net/bodystructure.h). */
		char *text = bs_format(f->structure), err[128];
		struct bs_part *again = NULL;

		FUZZ_CHECK(text != NULL);
		FUZZ_CHECK(bs_parse(text, strlen(text), &again, err, sizeof(err)) == 0);
		bs_free(again);
		out_bytes(c, text, strlen(text));
		free(text);
	}
}

static void ev_expunge(void *ctx, uint32_t lo, uint32_t hi)
{
	struct fuzz_ctx *c = ctx;

	FUZZ_CHECK(lo != 0 && lo <= hi);
	fuzz_buf_addc(&c->out, 'X');
	fuzz_buf_add_u64(&c->out, lo);
	fuzz_buf_add_u64(&c->out, hi);
}

static void ev_exists(void *ctx, uint32_t count)
{
	struct fuzz_ctx *c = ctx;

	FUZZ_CHECK(count == c->s->mb.exists);
	fuzz_buf_addc(&c->out, 'N');
	fuzz_buf_add_u64(&c->out, count);
}

static void ev_lost_track(void *ctx)
{
	struct fuzz_ctx *c = ctx;

	fuzz_buf_addc(&c->out, 'L');
}

/* A STATUS response, asked (the command's) or not (NOTIFY's, the events'). */
static void status_cb(void *ctx, const struct imap_status *st)
{
	struct fuzz_ctx *c = ctx;

	FUZZ_CHECK(st->mailbox != NULL);
	FUZZ_CHECK(!(st->have & ~15u));
	fuzz_buf_addc(&c->out, 'S');
	fuzz_buf_add(&c->out, st->mailbox, strlen(st->mailbox) + 1);
	fuzz_buf_add_u64(&c->out, st->have);
	fuzz_buf_add_u64(&c->out, st->messages);
	fuzz_buf_add_u64(&c->out, st->uidnext);
	fuzz_buf_add_u64(&c->out, st->uidvalidity);
	fuzz_buf_add_u64(&c->out, st->highestmodseq);
}

static void ev_mailboxes(void *ctx)
{
	struct fuzz_ctx *c = ctx;

	fuzz_buf_addc(&c->out, 'L');
}

static const struct imap_events events = {
	.fetch = ev_fetch,
	.expunge = ev_expunge,
	.exists = ev_exists,
	.lost_track = ev_lost_track,
	.body = ev_body,
	.status = status_cb,
	.mailboxes = ev_mailboxes,
};

static int list_cb(void *ctx, const struct imap_list_entry *e)
{
	struct fuzz_ctx *c = ctx;

	FUZZ_CHECK(e->name != NULL && strlen(e->name) < 65536);
	fuzz_buf_addc(&c->out, 'l');
	out_bytes(c, e->name, strlen(e->name));
	fuzz_buf_addc(&c->out, e->delim);
	fuzz_buf_add_u64(&c->out, e->flags);
	return fuzz_below(&c->choices, 16) == 0 ? -EIO : 0;
}

static void search_cb(void *ctx, uint32_t lo, uint32_t hi)
{
	struct fuzz_ctx *c = ctx;

	FUZZ_CHECK(lo >= 1 && lo <= hi);
	fuzz_buf_addc(&c->out, 's');
	fuzz_buf_add_u64(&c->out, lo);
	fuzz_buf_add_u64(&c->out, hi);
}

static void trace(void *ctx, char dir, const char *line, size_t len)
{
	(void)ctx;
	FUZZ_CHECK(dir == 'S');
	touch(line, len);   /* where a read ends differs between runs: not recorded */
}

/* ---- the server: the input, in records --------------------------------- */

struct writer {
	int fd;
	const uint8_t *data;
	size_t size;
	uint64_t seed;
	int mode;                   /* fuzz_chunker's: whole, bytes, chunks */
};

static void *write_records(void *arg)
{
	struct writer *w = arg;
	struct fuzz_chunker chunks;
	/* A record longer than the read buffer would be cut (SOCK_SEQPACKET). */
	const size_t cap = sizeof(((struct imap_session *)NULL)->inbuf);
	size_t off = 0;

	fuzz_chunker_init(&chunks, w->seed, w->mode);
	while (off < w->size) {
		size_t n;
		char *rec = fuzz_next_chunk(&chunks, w->data + off, w->size - off, &n);
		ssize_t k;

		do
			k = send(w->fd, rec, n < cap ? n : cap, MSG_NOSIGNAL);
		while (k < 0 && errno == EINTR);
		free(rec);
		if (k < 0)
			break;   /* the session gave up and closed its end */
		off += (size_t)k;
	}
	close(w->fd);
	return NULL;
}

/* ---- imap_parse_uidset --------------------------------------------------- */

struct uidset_ctx {
	uint32_t ranges[2 * 128];
	unsigned n;
};

static void uidset_range(void *ctx, uint32_t lo, uint32_t hi)
{
	struct uidset_ctx *u = ctx;

	FUZZ_CHECK(u->n + 2 <= sizeof(u->ranges) / sizeof(u->ranges[0]));
	u->ranges[u->n++] = lo;
	u->ranges[u->n++] = hi;
}

/* A number of a sequence set (RFC 3501 §9 seq-number: nz-number or "*";
 * leading zeros tolerated as imap.c does), or -1. */
static int64_t model_number(const char **pp, uint32_t star)
{
	const char *p = *pp;
	uint64_t v = 0;

	if (*p == '*') {
		*pp = p + 1;
		return star ? star : -1;
	}
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++)
		if ((v = v * 10 + (uint64_t)(*p - '0')) > UINT32_MAX)
			return -1;
	*pp = p;
	return v ? (int64_t)v : -1;
}

/* The ranges a plain reading of the grammar gives, or -1. */
static int model_uidset(const char *p, uint32_t star, struct uidset_ctx *u)
{
	for (;;) {
		int64_t a = model_number(&p, star), b = a;

		if (a < 0)
			return -1;
		if (*p == ':' && (p++, b = model_number(&p, star)) < 0)
			return -1;
		uidset_range(u, (uint32_t)(a < b ? a : b), (uint32_t)(a < b ? b : a));
		if (*p == '\0')
			return 0;
		if (*p++ != ',')
			return -1;
	}
}

/* The last line of the input (after its last LF, at most 128 bytes) as a
 * sequence set: transcripts may end with one, and it is not a response.
 * imap_parse_uidset() must agree with the model, range by range. */
static void fuzz_uidset(const uint8_t *data, size_t size, uint64_t seed)
{
	const uint8_t *nl = size ? memrchr(data, '\n', size) : NULL;
	size_t from = nl ? (size_t)(nl - data) + 1 : 0;
	size_t n = size - from < 128 ? size - from : 128;
	char *set = fuzz_strndup(data + from, n);
	uint32_t star = (uint32_t)seed;
	struct uidset_ctx got = { .n = 0 }, want = { .n = 0 };
	int r;

	r = imap_parse_uidset(set, star, NULL, NULL);
	FUZZ_CHECK(r == imap_parse_uidset(set, star, uidset_range, &got));
	FUZZ_CHECK(r == 0 || r == -EPROTO);
	if (r == 0) {
		FUZZ_CHECK(model_uidset(set, star, &want) == 0);
		FUZZ_CHECK(got.n == want.n && memcmp(got.ranges, want.ranges, got.n * 4) == 0);
		for (unsigned i = 0; i < got.n; i += 2)
			FUZZ_CHECK(got.ranges[i] >= 1 && got.ranges[i] <= got.ranges[i + 1]);
	} else {
		FUZZ_CHECK(model_uidset(set, star, &want) < 0);
	}
	free(set);
}

/* One run of the session on the input fed in MODE; the transcript in
 * *OUT (the caller releases it). */
static void run_session(const uint8_t *data, size_t size, uint64_t seed, int mode,
                        struct fuzz_buf *out)
{
	struct fuzz_rng r = { seed };
	struct fuzz_ctx ctx = { .choices = { seed ^ 0x63686f696365u } };
	struct imap_params params = { .conn = { .host = "fuzz", .timeout_ms = 5000, .have_fd = 1 } };
	struct writer w = { .data = data, .size = size, .seed = seed ^ 0x7265636fu, .mode = mode };
	struct cmd c;
	struct imap_session *s;
	pthread_t thread;
	uint32_t exists, uid = 0;
	int sv[2], res;

	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	params.conn.fd = sv[0];
	if (fuzz_below(&r, 4) == 0) {
		params.trace = trace;
		params.trace_ctx = &ctx;
	}
	s = imap_session_new(&params);
	FUZZ_CHECK(s != NULL);
	FUZZ_CHECK(conn_connect(s->conn) == 0);
	ctx.s = s;
	w.fd = sv[1];
	FUZZ_CHECK(pthread_create(&thread, NULL, write_records, &w) == 0);

	/* As imap_select() leaves it: a mailbox selected, events going to
	 * ctx. Mostly empty, as when the SELECT response starts (the corpus
	 * starts with one); else up to 255 messages whose UIDs (ascending)
	 * are partly known. */
	s->selected = strdup("INBOX");
	FUZZ_CHECK(s->selected != NULL);
	s->ev = &events;
	s->ev_ctx = &ctx;
	s->qresync = (int)fuzz_below(&r, 2);
	exists = fuzz_below(&r, 4) == 0 ? (uint32_t)fuzz_below(&r, 256) : 0;
	FUZZ_CHECK(seqmap_reserve(s, exists) == 0);
	for (uint32_t i = 0; i < exists; i++) {
		uid += 1 + (uint32_t)fuzz_below(&r, 3);
		s->seqmap[i] = fuzz_below(&r, 4) ? uid : 0;
	}
	s->mb.exists = exists;

	for (unsigned tagno = 1;; ) {
		int status = 0;

		memset(&c, 0, sizeof(c));
		snprintf(c.tag, sizeof(c.tag), "m%u", tagno);
		c.list_cb = list_cb;
		c.search_cb = search_cb;
		c.ctx = &ctx;
		/* Half the commands ask for STATUS (the others see it as NOTIFY's),
		 * and some have the LIST of the next one pass as unasked. */
		c.status_cb = fuzz_below(&r, 2) ? status_cb : NULL;
		if (fuzz_below(&r, 4) == 0)
			c.list_cb = NULL;
		s->cmd = &c;
		do {
			res = read_one(s, &status);
			FUZZ_CHECK(s->mb.exists <= s->seqcap || s->mb.exists == 0);
			FUZZ_CHECK(s->resp.nsinks == 0);
			if (res == 1)
				fuzz_buf_addc(&ctx.out, '+');
		} while (res == 0 || res == 1);
		if (res != 2)
			break;
		FUZZ_CHECK(status == 0 || status == -EBADMSG || s->fail == IMAP_FAIL_NO);
		fuzz_buf_addc(&ctx.out, 'T');
		fuzz_buf_add_u64(&ctx.out, tagno);
		fuzz_buf_add_u64(&ctx.out, (uint64_t)-status);
		fuzz_buf_add_u64(&ctx.out, (uint64_t)c.list_err);
		tagno++;
	}
	s->cmd = NULL;
	FUZZ_CHECK(res < 0 && s->broken);
	FUZZ_CHECK(!(s->fail == IMAP_FAIL_CONN && conn_fail_class(s->conn) == CONN_FAIL_TIMEOUT));

	/* How the session ended and what it knows; not the error text (when
	 * the stream breaks two rules, which one shows first may depend on
	 * where a read ended). */
	fuzz_buf_addc(&ctx.out, 'Z');
	fuzz_buf_add_u64(&ctx.out, (uint64_t)-res);
	fuzz_buf_add_u64(&ctx.out, (uint64_t)s->fail);
	fuzz_buf_add_u64(&ctx.out, s->caps);
	fuzz_buf_add_u64(&ctx.out, s->mb.uidvalidity);
	fuzz_buf_add_u64(&ctx.out, s->mb.uidnext);
	fuzz_buf_add_u64(&ctx.out, s->mb.highestmodseq);
	fuzz_buf_add_u64(&ctx.out, (uint64_t)s->mb.readonly);
	fuzz_buf_add_u64(&ctx.out, s->mb.exists);
	fuzz_buf_add(&ctx.out, s->seqmap, s->mb.exists * sizeof(*s->seqmap));

	imap_session_free(s);   /* closes our end: a blocked writer returns */
	FUZZ_CHECK(pthread_join(thread, NULL) == 0);
	while (ctx.sinks) {
		struct fuzz_sink *next = ctx.sinks->next;

		FUZZ_CHECK(ctx.sinks->ended);
		free(ctx.sinks);
		ctx.sinks = next;
	}
	*out = ctx.out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t seed = fuzz_hash(data, size);
	struct fuzz_buf out[3];

	fuzz_uidset(data, size, seed);
	for (int mode = 0; mode < 3; mode++)
		run_session(data, size, seed, mode, &out[mode]);
	fuzz_same_transcript(&out[0], 0, &out[1], 1);
	fuzz_same_transcript(&out[0], 0, &out[2], 2);
	for (int mode = 0; mode < 3; mode++)
		fuzz_buf_release(&out[mode]);
	return 0;
}
