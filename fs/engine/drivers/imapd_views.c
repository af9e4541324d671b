/* imapd_views.c - what SPEC §9's views ask of an IMAP server: a message's
 * MIME structure (BODYSTRUCTURE, RFC 3501 §7.4.2) and single sections of it
 * (BINARY.PEEK[n] where the server offers RFC 3516, else BODY.PEEK[n]),
 * never the whole message; and the matches of a search directory's query
 * (UID SEARCH). */
#include "fs/engine/drivers/imapd.h"
#include "net/bodystructure.h"
#include "net/grow.h"
#include "fs/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a slot does while it serves a view: the events of its session
 * (imapd_sync.c) hand structures and sections here. */
/* A section's data arrives in a sink of its own: one FETCH response may
 * stream several, whose ends come together after the response. */
struct section_sink {
	struct imap_sink sink;         /* first: the callbacks cast back */
	struct driver_section *s;
	size_t cap;                    /* of s->data */
	int open;
};

struct imapd_views {
	/* structure() */
	void (*cb)(void *ctx, uint32_t uid, const struct bs_part *root);
	void *ctx;
	/* sections(): the requests of one command (at most IMAP_MAX_SECTIONS) */
	struct driver_section *secs;
	size_t n;
	struct section_sink sinks[IMAP_MAX_SECTIONS];
};

/* The selected folder is F as the cache knows it: the same UIDVALIDITY, or
 * the UIDs would name other messages (RFC 3501 §2.3.1.1). */
static int select_folder(struct slot *sl, const struct driver_folder *f)
{
	struct imap_mailbox mb = { 0 };
	int r = imap_select(sl->s, f->server, 0, 0, 0, 0, &imapd_events, sl, &mb);

	if (r < 0)
		return r;
	if (r == 0 && f->uidvalidity && mb.uidvalidity != f->uidvalidity)
		return -ESTALE;
	if (r == 1 && f->uidvalidity && imap_mailbox(sl->s)->uidvalidity != f->uidvalidity)
		return -ESTALE;
	return 0;
}

void imapd_view_fetch(struct slot *sl, const struct imap_fetch *f)
{
	struct imapd_views *v = sl->views;

	if (v->cb && (f->have & IMAP_HAVE_STRUCTURE) && f->uid) {
		if (!f->structure)
			log_warn("%s: the server's description of message %" PRIu32 " cannot be "
			         "read (%s): its views are made from the whole message",
			         imap_selected(sl->s), f->uid, f->structure_error);
		v->cb(v->ctx, f->uid, f->structure);
		return;
	}
	/* Header sections: "HEADER.FIELDS (...)" or "2.HEADER.FIELDS (...)". */
	for (unsigned i = 0; i < f->nheaders; i++) {
		const char *name = f->headers[i].section, *h = strstr(name, "HEADER");
		size_t numlen = h && h > name ? (size_t)(h - name - 1) : 0;

		if (!h)
			continue;
		for (size_t j = 0; j < v->n; j++) {
			struct driver_section *s = &v->secs[j];

			if (!s->header || s->uid != f->uid || s->data ||
			    strlen(s->section) != numlen || strncmp(s->section, name, numlen) != 0)
				continue;
			s->data = malloc(f->headers[i].len + 1);
			if (!s->data) {
				s->err = -ENOMEM;
				break;
			}
			memcpy(s->data, f->headers[i].data, f->headers[i].len);
			s->data[f->headers[i].len] = '\0';
			s->len = f->headers[i].len;
			s->err = 0;
			break;
		}
	}
}

static int view_write(struct imap_sink *sk, const char *data, size_t len)
{
	struct section_sink *ss = (struct section_sink *)sk;
	struct driver_section *s = ss->s;

	if (s->len + len + 1 > ss->cap) {
		size_t want = s->len + len + 1;
		char *grown;

		if (want < s->len)
			return -ENOMEM;
		if (want < 2 * ss->cap)
			want = 2 * ss->cap;
		if (!(grown = realloc(s->data, want)))
			return -ENOMEM;
		s->data = grown;
		ss->cap = want;
	}
	memcpy(s->data + s->len, data, len);
	s->len += len;
	s->data[s->len] = '\0';
	return 0;
}

static void view_end(struct imap_sink *sk, int err)
{
	struct section_sink *ss = (struct section_sink *)sk;
	struct driver_section *s = ss->s;

	ss->open = 0;
	if (err) {
		free(s->data);
		s->data = NULL;
		s->len = 0;
		s->err = err;
		return;
	}
	if (!s->data && !(s->data = calloc(1, 1))) {   /* an empty part */
		s->err = -ENOMEM;
		return;
	}
	s->err = 0;
}

struct imap_sink *imapd_view_body(struct slot *sl, uint32_t uid, const char *section,
                                  int binary, uint64_t size)
{
	struct imapd_views *v = sl->views;

	(void)size;
	if (v->cb)
		return NULL;
	for (size_t j = 0; j < v->n; j++) {
		struct driver_section *s = &v->secs[j];
		struct section_sink *ss = &v->sinks[j];

		if (s->header || s->uid != uid || ss->open || s->data ||
		    strcmp(s->section, section) != 0)
			continue;
		s->decoded = binary;
		s->len = 0;
		*ss = (struct section_sink){ .sink = { view_write, view_end }, .s = s, .open = 1 };
		return &ss->sink;
	}
	return NULL;
}

int imapd_structure(void *drv, const struct driver_folder *f, const uint32_t *uids, size_t n,
                    void (*cb)(void *ctx, uint32_t uid, const struct bs_part *root), void *ctx)
{
	struct imapd *d = drv;
	struct imapd_views v = { .cb = cb, .ctx = ctx };
	struct slot *sl;
	char *set = NULL;
	size_t len = 0, cap = 0;
	int r = 0;

	for (size_t i = 0, j; i < n && r == 0; i = j + 1) {
		for (j = i; j + 1 < n && uids[j + 1] == uids[j] + 1; j++)
			;
		r = imapd_set_add(&set, &len, &cap, uids[i], uids[j]);
	}
	if (r < 0 || !set) {
		free(set);
		return r < 0 ? r : 0;
	}
	sl = imapd_pool_get(d, f->server, &r);
	if (!sl) {
		free(set);
		return r;
	}
	sl->folder = f->id;
	sl->views = &v;
	r = select_folder(sl, f);
	if (r == 0)
		r = imap_uid_fetch(sl->s, set, "UID BODYSTRUCTURE", NULL);
	sl->views = NULL;
	imapd_pool_put(sl);
	free(set);
	return r < 0 ? r : 0;
}

/* The FETCH items for the requests of one message (SECS[0..N)). */
static char *section_items(const struct driver_section *secs, size_t n, int binary)
{
	char *items = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&items, &len);

	if (!out)
		return NULL;
	fputs("UID", out);
	for (size_t i = 0; i < n; i++) {
		const char *sec = secs[i].section;

		if (secs[i].header)
			fprintf(out, " BODY.PEEK[%s%sHEADER.FIELDS (" DRIVER_VIEW_FIELDS ")]", sec,
			        sec[0] ? "." : "");
		else   /* "": the whole message, as it is */
			fprintf(out, " %s.PEEK[%s]", binary && sec[0] ? "BINARY" : "BODY", sec);
	}
	if (fclose(out) != 0) {
		free(items);
		return NULL;
	}
	return items;
}

/* A part number as this driver writes it into a command: digits and dots
 * only (it comes from a tree the server or the cache described). */
static int section_ok(const char *sec)
{
	size_t n = strlen(sec);

	return n < 128 && strspn(sec, "0123456789.") == n && sec[0] != '.' &&
	       (n == 0 || sec[n - 1] != '.') && !strstr(sec, "..");
}

/* Fetch the requests of one message: SECS[0..N), all of the same UID. */
static int fetch_message(struct slot *sl, struct imapd_views *v, struct driver_section *secs,
                         size_t n, int binary)
{
	char uid[16], *items;
	int r;

	for (size_t i = 0; i < n; i++) {
		if (!section_ok(secs[i].section))
			return -EINVAL;
		free(secs[i].data);
		secs[i].data = NULL;
		secs[i].len = 0;
		secs[i].err = -ENOENT;   /* until the server sends it */
	}
	items = section_items(secs, n, binary);
	if (!items)
		return -ENOMEM;
	snprintf(uid, sizeof(uid), "%" PRIu32, secs[0].uid);
	v->secs = secs;
	v->n = n;
	r = imap_uid_fetch(sl->s, uid, items, NULL);
	free(items);
	return r;
}

int imapd_sections(void *drv, const struct driver_folder *f, struct driver_section *secs,
                   size_t n)
{
	struct imapd *d = drv;
	struct imapd_views v = { 0 };
	struct slot *sl;
	int r, binary;

	sl = imapd_pool_get(d, f->server, &r);
	if (!sl)
		return r;
	pthread_mutex_lock(&d->lock);
	binary = !!(d->capbits & IMAP_CAP_BINARY);
	pthread_mutex_unlock(&d->lock);
	sl->folder = f->id;
	sl->views = &v;
	r = select_folder(sl, f);
	for (size_t i = 0, j; i < n && r >= 0; i = j) {
		/* One message at a time, at most IMAP_MAX_SECTIONS sections in one
		 * command (what one response may stream). */
		for (j = i + 1; j < n && secs[j].uid == secs[i].uid && j - i < IMAP_MAX_SECTIONS; j++)
			;
		r = fetch_message(sl, &v, secs + i, j - i, binary);
		/* A server may refuse BINARY for a transfer encoding it does
		 * not know (RFC 3516 §4.2, [UNKNOWN-CTE]): ask again as is. */
		if (r < 0 && binary && !imap_broken(sl->s))
			r = fetch_message(sl, &v, secs + i, j - i, 0);
		if (r < 0 && !imap_broken(sl->s)) {
			for (size_t k = i; k < j; k++)
				secs[k].err = -EIO;
			r = 0;   /* the next message may still work */
		}
	}
	sl->views = NULL;
	imapd_pool_put(sl);
	return r < 0 ? r : 0;
}

int imapd_search(void *drv, const struct driver_folder *f, const struct sq_node *q,
                 void (*cb)(void *ctx, uint32_t lo, uint32_t hi), void *ctx)
{
	struct imapd *d = drv;
	struct slot *sl;
	int r = 0;

	sl = imapd_pool_get(d, f->server, &r);
	if (!sl)
		return r;
	sl->folder = f->id;
	r = select_folder(sl, f);
	if (r == 0)
		r = imap_uid_search(sl->s, q, cb, ctx);
	imapd_pool_put(sl);
	return r < 0 ? r : 0;
}
