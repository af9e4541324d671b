/* fuzz_bodystructure.c - libFuzzer target for the BODYSTRUCTURE parser and
 * writer (net/bodystructure.c).
 *
 * The input is the text of one BODYSTRUCTURE value (the corpus holds what
 * Dovecot and other servers send). It is parsed with bs_parse(), and again
 * through the wire tokenizer into bs_feed() in chunks cut by the input's
 * hash (one byte at a time, or random sizes); both must agree on success
 * and give equal trees. When it parses:
 *  - bs_format() must write it (a parsed tree is always writable), the text
 *    must parse to an equal tree, and writing that tree again must give the
 *    same text;
 *  - bs_walk() must number every part within BS_SECTION_MAX and
 *    BS_MAX_DEPTH, and bs_find() must find each number: the part itself, or
 *    for the multipart body of a message/rfc822 part, which shares its
 *    number, that message/rfc822 part;
 *  - the tree must keep the bounds of bodystructure.h.
 */
#include "tests/fuzz/fuzzutil.h"

#include <errno.h>

#include "net/bodystructure.h"
#include "net/wire.h"

static int str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static int params_eq(const struct bs_param *a, size_t na, const struct bs_param *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (!str_eq(a[i].name, b[i].name) || !str_eq(a[i].value, b[i].value))
			return 0;
	return 1;
}

static int tree_eq(const struct bs_part *a, const struct bs_part *b)
{
	if (!str_eq(a->type, b->type) || !str_eq(a->subtype, b->subtype) ||
	    !params_eq(a->params, a->nparams, b->params, b->nparams) ||
	    !str_eq(a->id, b->id) || !str_eq(a->description, b->description) ||
	    !str_eq(a->encoding, b->encoding) || a->size != b->size || a->lines != b->lines ||
	    !str_eq(a->disposition, b->disposition) ||
	    !params_eq(a->disp_params, a->ndisp_params, b->disp_params, b->ndisp_params) ||
	    !str_eq(a->subject, b->subject) || a->nkids != b->nkids)
		return 0;
	for (size_t i = 0; i < a->nkids; i++)
		if (!tree_eq(&a->kids[i], &b->kids[i]))
			return 0;
	return 1;
}

static int has_upper(const char *s)
{
	for (; s && *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			return 1;
	return 0;
}

/* The invariants bodystructure.h states for a parsed tree; the count of
 * parts in *n. */
static void check_tree(const struct bs_part *p, unsigned depth, size_t *n)
{
	int multi;

	FUZZ_CHECK(depth < BS_MAX_DEPTH);
	FUZZ_CHECK(++*n <= BS_MAX_PARTS);
	FUZZ_CHECK(p->type && *p->type && p->subtype && *p->subtype);
	FUZZ_CHECK(!has_upper(p->type) && !has_upper(p->subtype) &&
	           !has_upper(p->encoding) && !has_upper(p->disposition));
	FUZZ_CHECK(p->nparams <= BS_MAX_PARAMS && p->ndisp_params <= BS_MAX_PARAMS);
	for (size_t i = 0; i < p->nparams; i++)
		FUZZ_CHECK(p->params[i].name && p->params[i].value);
	for (size_t i = 0; i < p->ndisp_params; i++)
		FUZZ_CHECK(p->disp_params[i].name && p->disp_params[i].value);
	FUZZ_CHECK(!p->ndisp_params || p->disposition);
	multi = strcmp(p->type, "multipart") == 0;
	if (multi) {
		FUZZ_CHECK(!p->id && !p->description && !p->encoding && !p->size && !p->lines &&
		           !p->subject);
	} else if (p->nkids) {
		FUZZ_CHECK(p->nkids == 1 && strcmp(p->type, "message") == 0 &&
		           (strcmp(p->subtype, "rfc822") == 0 || strcmp(p->subtype, "global") == 0));
	} else {
		FUZZ_CHECK(!p->subject);
		FUZZ_CHECK(!p->lines || strcmp(p->type, "text") == 0);
	}
	for (size_t i = 0; i < p->nkids; i++)
		check_tree(&p->kids[i], depth + 1, n);
}

struct walk {
	const struct bs_part *root;
	char prev[BS_SECTION_MAX];
	const struct bs_part *first;
	size_t n;
};

static int walk_cb(void *ctx, const struct bs_part *p, const char *section, unsigned depth)
{
	struct walk *w = ctx;
	const struct bs_part *expect = p;

	FUZZ_CHECK(strlen(section) < BS_SECTION_MAX);
	FUZZ_CHECK(depth < BS_MAX_DEPTH);
	FUZZ_CHECK(*section || (w->n == 0 && p == w->root));
	if (w->n && strcmp(section, w->prev) == 0) {
		FUZZ_CHECK(strcmp(p->type, "multipart") == 0);
		FUZZ_CHECK(strcmp(w->first->type, "message") == 0 && &w->first->kids[0] == p);
		expect = w->first;
	} else {
		snprintf(w->prev, sizeof(w->prev), "%s", section);
		w->first = p;
	}
	FUZZ_CHECK(bs_find(w->root, section) == expect);
	w->n++;
	return 0;
}

/* The input through the tokenizer in chunks, into bs_feed(), as bs_parse()
 * does it (same limits, one space after the end). */
static int parse_chunked(const uint8_t *data, size_t size, uint64_t seed,
                         struct bs_part **root_r)
{
	struct wire_limits lim = wire_default_limits;
	struct wire_parser *wp;
	struct bs_parser *bp = bs_parser_new();
	struct fuzz_chunker chunks;
	size_t off = 0;
	int r = 0, done = 0;

	lim.max_line = lim.max_response = size + 1;
	lim.max_literal = size ? size : 1;
	wp = wire_parser_new(&lim);
	FUZZ_CHECK(wp && bp);
	fuzz_chunker_init(&chunks, seed, 1 + (int)(seed & 1));
	*root_r = NULL;
	while (r >= 0 && !done) {
		size_t n;
		char *chunk;
		const char *in;
		size_t left;

		if (off < size) {
			chunk = fuzz_next_chunk(&chunks, data + off, size - off, &n);
		} else {
			chunk = fuzz_strndup((const uint8_t *)" ", 1);
			n = 1;
			done = 1;
		}
		in = chunk;
		left = n;
		for (;;) {
			struct wire_token t;
			enum wire_result wr = wire_next(wp, &in, &left, &t);

			if (wr == WIRE_MORE)
				break;
			if (wr == WIRE_BAD) {
				r = -EINVAL;
				break;
			}
			if (t.type == WIRE_LITERAL_BEGIN && wire_literal_accumulate(wp) < 0) {
				r = -EINVAL;
				break;
			}
			r = bs_feed(bp, &t);
			if (r < 0) {
				FUZZ_CHECK(r == -EINVAL);
				FUZZ_CHECK(*bs_error(bp));
				break;
			}
		}
		free(chunk);
		off += n;
	}
	if (r == 1) {
		*root_r = bs_take(bp);
		FUZZ_CHECK(*root_r != NULL);
		r = 0;
	} else if (r == 0) {
		r = -EINVAL;
	} else {
		bs_free(bs_take(bp));
	}
	bs_parser_free(bp);
	wire_parser_free(wp);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bs_part *root, *chunked, *again;
	char err[256] = "";
	int r, r2;

	r = bs_parse((const char *)data, size, &root, err, sizeof(err));
	r2 = parse_chunked(data, size, fuzz_hash(data, size), &chunked);
	FUZZ_CHECK(r == 0 || r == -EINVAL);
	FUZZ_CHECK(r == r2);
	if (r < 0) {
		FUZZ_CHECK(root == NULL && chunked == NULL);
		FUZZ_CHECK(err[0] != '\0');
		return 0;
	}
	FUZZ_CHECK(root != NULL && chunked != NULL);
	FUZZ_CHECK(tree_eq(root, chunked));
	bs_free(chunked);

	{
		size_t n = 0;

		check_tree(root, 0, &n);
	}
	{
		struct walk w = { .root = root };

		FUZZ_CHECK(bs_walk(root, walk_cb, &w) == 0);
		FUZZ_CHECK(w.n > 0);
	}
	{
		char *f1 = bs_format(root), *f2;

		FUZZ_CHECK(f1 != NULL);
		r = bs_parse(f1, strlen(f1), &again, err, sizeof(err));
		if (r != 0)
			fprintf(stderr, "formatted text does not parse: %s\n%s\n", err, f1);
		FUZZ_CHECK(r == 0);
		FUZZ_CHECK(tree_eq(root, again));
		f2 = bs_format(again);
		FUZZ_CHECK(f2 != NULL && strcmp(f1, f2) == 0);
		free(f1);
		free(f2);
		bs_free(again);
	}
	bs_free(root);
	return 0;
}
