/* structcheck.c - the test program of t_render_structure.sh: puts
 * fs/engine/render.c's structure, sections, text and part names beside what
 * a real Dovecot says of the same messages (structcheck.py fetches those).
 * A test program only: it is not part of mailfs.
 *
 *   structcheck fixtures DIR         the messages of tests/unit/render_fixtures.h
 *                                    as DIR/NN-NAME.eml
 *   structcheck tree MSG             render_structure()'s tree, one line per part
 *   structcheck sections MSG LIST DIR
 *                                    for each line "H S" of LIST, the bytes
 *                                    render_message_source() serves for section S
 *                                    (H 1: its header) into DIR/b_S or DIR/h_S
 *                                    ("top" for S = ""); none: no file
 *   structcheck needs TREE           render_text_needs() of a tree: "H S" lines
 *   structcheck text TREE DIR        render_text() of a tree, sections read from
 *                                    DIR/b_S or DIR/h_S ("top" for S = "")
 *   structcheck text-msg MSG         render_text() of render_structure() and
 *                                    render_message_source()
 *   structcheck names TREE | names-msg MSG
 *                                    "S<TAB>NAME" of render_part_name() for
 *                                    each leaf and message/rfc822 part
 *
 * A tree file holds one line per part, depth first: DEPTH NKIDS TYPE SUBTYPE
 * PARAMS ID DESCRIPTION ENCODING SIZE LINES DISPOSITION DISP-PARAMS SUBJECT;
 * a string is "-" for NIL or "=" and the string with every byte outside
 * [0-9A-Za-z._*'@<>/+!#$&^`|~?:;[]{}-] written %XX; a parameter list is "-"
 * or "=" and its names and values so escaped, joined by ",".
 */
#include "fs/engine/render.h"
#include "tests/unit/render_fixtures.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *what)
{
	fprintf(stderr, "structcheck: %s\n", what);
	exit(2);
}

static char *slurp(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	char *d = NULL;
	size_t len = 0, cap = 0, n;

	if (!f) {
		perror(path);
		exit(2);
	}
	do {
		if (len + 65536 > cap) {
			cap = (len + 65536) * 2;
			if (!(d = realloc(d, cap)))
				die("out of memory");
		}
		n = fread(d + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	fclose(f);
	d[len] = '\0';
	*len_r = len;
	return d;
}

/* ---- the tree file ---- */

static int keep(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("._*'@<>/+!#$&^`|~?:;[]{}-", c));
}

static void put_str(const char *s)
{
	if (!s) {
		fputs(" -", stdout);
		return;
	}
	fputs(" =", stdout);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (keep(*p))
			putchar(*p);
		else
			printf("%%%02X", *p);
}

static void put_params(const struct bs_param *ps, size_t n)
{
	if (n == 0) {
		fputs(" -", stdout);
		return;
	}
	fputs(" =", stdout);
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < 2; k++) {
			const char *s = k ? ps[i].value : ps[i].name;

			if (i || k)
				putchar(',');
			for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++)
				if (keep(*p))
					putchar(*p);
				else
					printf("%%%02X", *p);
		}
}

static void dump(const struct bs_part *p, unsigned depth)
{
	printf("%u %zu", depth, p->nkids);
	put_str(p->type);
	put_str(p->subtype);
	put_params(p->params, p->nparams);
	put_str(p->id);
	put_str(p->description);
	put_str(p->encoding);
	printf(" %" PRIu64 " %" PRIu64, p->size, p->lines);
	put_str(p->disposition);
	put_params(p->disp_params, p->ndisp_params);
	put_str(p->subject);
	putchar('\n');
	for (size_t i = 0; i < p->nkids; i++)
		dump(&p->kids[i], depth + 1);
}

static char *unescape(const char *s, size_t n)
{
	char *d = malloc(n + 1), *o = d;

	if (!d)
		die("out of memory");
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (s[i] == '%' && i + 2 < n + 1 && sscanf(s + i + 1, "%2x", &v) == 1) {
			*o++ = (char)v;
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return d;
}

static char *get_str(char **tok)
{
	char *t = strsep(tok, " ");

	if (!t || strcmp(t, "-") == 0)
		return NULL;
	if (*t != '=')
		die("bad string in tree file");
	return unescape(t + 1, strlen(t + 1));
}

static void get_params(char **tok, struct bs_param **ps_r, size_t *n_r)
{
	char *t = strsep(tok, " "), *item;
	size_t n = 0;
	struct bs_param *ps = NULL;

	*ps_r = NULL;
	*n_r = 0;
	if (!t || strcmp(t, "-") == 0)
		return;
	t++;
	for (int k = 0; (item = strsep(&t, ",")) != NULL; k = !k) {
		if (!k) {
			if (!(ps = realloc(ps, (n + 1) * sizeof(*ps))))
				die("out of memory");
			ps[n].name = unescape(item, strlen(item));
			ps[n].value = NULL;
			n++;
		} else {
			ps[n - 1].value = unescape(item, strlen(item));
		}
	}
	*ps_r = ps;
	*n_r = n;
}

/* Reads part P and its kids from the lines at *LINE. */
static void read_part(char ***line, struct bs_part *p)
{
	char *l = **line, *tok, *end;

	if (!l)
		die("tree file ends early");
	(*line)++;
	tok = l;
	strsep(&tok, " ");      /* depth: implied by the shape */
	p->nkids = strtoul(strsep(&tok, " "), &end, 10);
	p->type = get_str(&tok);
	p->subtype = get_str(&tok);
	get_params(&tok, &p->params, &p->nparams);
	p->id = get_str(&tok);
	p->description = get_str(&tok);
	p->encoding = get_str(&tok);
	p->size = strtoull(strsep(&tok, " "), &end, 10);
	p->lines = strtoull(strsep(&tok, " "), &end, 10);
	p->disposition = get_str(&tok);
	get_params(&tok, &p->disp_params, &p->ndisp_params);
	p->subject = get_str(&tok);
	if (p->nkids) {
		if (!(p->kids = calloc(p->nkids, sizeof(*p->kids))))
			die("out of memory");
		for (size_t i = 0; i < p->nkids; i++)
			read_part(line, &p->kids[i]);
	}
}

static struct bs_part *read_tree(const char *path)
{
	size_t len, n = 0;
	char *text = slurp(path, &len), **lines, **at, *l, *s = text;
	struct bs_part *root = calloc(1, sizeof(*root));

	if (!(lines = calloc(len + 2, sizeof(*lines))) || !root)
		die("out of memory");
	while ((l = strsep(&s, "\n")) != NULL)
		if (*l)
			lines[n++] = l;
	at = lines;
	read_part(&at, root);
	free(lines);
	free(text);
	return root;
}

/* ---- sections and names, numbered as RFC 3501 §6.4.5 and bodystructure.h say ---- */

static int is_multi(const struct bs_part *p)
{
	return p->type && strcmp(p->type, "multipart") == 0 && p->nkids > 0;
}

static int is_msg(const struct bs_part *p)
{
	return p->type && p->subtype && strcmp(p->type, "message") == 0 &&
	       strcmp(p->subtype, "rfc822") == 0 && p->nkids == 1;
}

static void names(const struct bs_part *p, const char *section)
{
	char sub[BS_SECTION_MAX];

	if (is_multi(p)) {
		for (size_t i = 0; i < p->nkids; i++) {
			snprintf(sub, sizeof(sub), "%s%s%zu", section, *section ? "." : "", i + 1);
			names(&p->kids[i], sub);
		}
		return;
	}
	if (is_msg(p)) {
		char *n = render_part_name(p, section);

		printf("%s\t%s\n", section, n);
		free(n);
		if (is_multi(&p->kids[0]))
			snprintf(sub, sizeof(sub), "%s", section);
		else
			snprintf(sub, sizeof(sub), "%s.1", section);
		names(&p->kids[0], sub);
		return;
	}
	char *n = render_part_name(p, section);

	printf("%s\t%s\n", section, n);
	free(n);
}

static int print_need(void *ctx, const char *section, int header)
{
	(void)ctx;
	printf("%d %s\n", header, section);
	return 0;
}

struct dir_source {
	const char *dir;
	char *bufs[4096];
	size_t nbufs;
};

static int dir_get(void *ctx, const char *section, int header, const char **data, size_t *len,
                   int *decoded)
{
	struct dir_source *ds = ctx;

	*decoded = 0;
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%c_%s", ds->dir, header ? 'h' : 'b', *section ? section : "top");
	if (!(f = fopen(path, "rb"))) {
		fprintf(stderr, "structcheck: render_text asked for %s, which render_text_needs "
		        "did not list\n", path);
		return -ENOENT;
	}
	fclose(f);
	if (ds->nbufs == sizeof(ds->bufs) / sizeof(ds->bufs[0]))
		return -ENOMEM;
	*data = ds->bufs[ds->nbufs++] = slurp(path, len);
	return 0;
}

static void write_out(const char *s, size_t n)
{
	if (n && fwrite(s, 1, n, stdout) != n)
		die("write error");
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	struct bs_part *root = NULL;
	char *msg, *text;
	size_t len, tlen;
	int r;

	render_init();
	if (strcmp(cmd, "fixtures") == 0 && argc == 3) {
		for (size_t i = 0; i < render_fixture_count(); i++) {
			char path[4096];
			FILE *f;

			msg = render_fixture(i, &len);
			snprintf(path, sizeof(path), "%s/%02zu-%s.eml", argv[2], i, render_fixtures[i].name);
			if (!(f = fopen(path, "wb")) || fwrite(msg, 1, len, f) != len || fclose(f))
				die("cannot write a fixture");
			free(msg);
		}
	} else if ((strcmp(cmd, "tree") == 0 || strcmp(cmd, "names-msg") == 0 ||
	            strcmp(cmd, "text-msg") == 0 || strcmp(cmd, "sections") == 0) && argc >= 3) {
		msg = slurp(argv[2], &len);
		if ((r = render_structure(msg, len, &root)) < 0) {
			fprintf(stderr, "structcheck: render_structure: %s\n", strerror(-r));
			return 1;
		}
		if (strcmp(cmd, "tree") == 0) {
			dump(root, 0);
		} else if (strcmp(cmd, "names-msg") == 0) {
			names(root, is_multi(root) ? "" : "1");
		} else {
			struct render_source *src = render_message_source(msg, len);
			const char *d;
			size_t n;

			if (!src)
				die("render_message_source failed");
			if (strcmp(cmd, "sections") == 0) {
				size_t llen;
				char *list, *l, *at;

				if (argc != 5)
					die("usage: sections MSG LIST DIR");
				at = list = slurp(argv[3], &llen);
				while ((l = strsep(&at, "\n")) != NULL) {
					char path[4096], *sec = l + 2;
					FILE *f;

					if (strlen(l) < 2)
						continue;
					int decoded;

					if (src->get(src->ctx, sec, l[0] == '1', &d, &n, &decoded) < 0)
						continue;
					snprintf(path, sizeof(path), "%s/%c_%s", argv[4],
					         l[0] == '1' ? 'h' : 'b', *sec ? sec : "top");
					if (!(f = fopen(path, "wb")) || fwrite(d, 1, n, f) != n || fclose(f))
						die("cannot write a section");
				}
				free(list);
			} else {
				if ((r = render_text(root, src, &text, &tlen)) < 0) {
					fprintf(stderr, "structcheck: render_text: %s\n", strerror(-r));
					return 1;
				}
				write_out(text, tlen);
				free(text);
			}
			render_message_source_free(src);
		}
		free(msg);
	} else if (strcmp(cmd, "needs") == 0 && argc == 3) {
		root = read_tree(argv[2]);
		render_text_needs(root, print_need, NULL);
	} else if (strcmp(cmd, "names") == 0 && argc == 3) {
		root = read_tree(argv[2]);
		names(root, is_multi(root) ? "" : "1");
	} else if (strcmp(cmd, "text") == 0 && argc == 4) {
		static struct dir_source ds;
		struct render_source src = { dir_get, &ds };

		root = read_tree(argv[2]);
		ds.dir = argv[3];
		if ((r = render_text(root, &src, &text, &tlen)) < 0) {
			fprintf(stderr, "structcheck: render_text: %s\n", strerror(-r));
			return 1;
		}
		write_out(text, tlen);
		free(text);
		for (size_t i = 0; i < ds.nbufs; i++)
			free(ds.bufs[i]);
	} else {
		die("usage: see the top of tests/integration/structcheck.c");
	}
	bs_free(root);
	render_done();
	return 0;
}
