/* view.c - SPEC §9's views of a message: its text and its parts, made when
 * first wanted from the cheapest source there is, and kept in the cache
 * like bodies (cache/body.h), within cache_size:
 *
 *   1. the view file in the cache;
 *   2. the message's body in the cache, decoded here (render.c);
 *   3. the server: the message's BODYSTRUCTURE (kept in the store), then the
 *      single sections the view needs (driver->sections), never the whole
 *      message.
 *
 * A view is built by one thread at a time; a second reader of the same
 * view waits for the first. When the texts of a folder are read in UID
 * order (grep -r), one build takes the next VIEW_AHEAD messages along, in
 * one BODYSTRUCTURE command and one round of section fetches.
 */
#include "fs/engine/engine.h"
#include "fs/engine/render.h"
#include "fs/log.h"
#include "cache/body.h"
#include "cache/store.h"
#include "net/bodystructure.h"
#include "net/grow.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define VIEW_AHEAD 32          /* texts built in one go when reading through */
#define TEXT_NAME "text"

struct view_build {
	int64_t folder;
	uint32_t uid;
	char name[BODY_VIEW_NAME_MAX];
	struct view_build *next;
};

struct view_table {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct view_build *building;   /* lock */
	uint64_t added;                /* bytes of views published; lock */
	int64_t last_folder;           /* the text asked for last; lock */
	uint32_t last_uid;
};

int view_init(struct engine *m)
{
	struct view_table *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	m->views = t;
	return 0;
}

void view_free(struct engine *m)
{
	struct view_table *t = m->views;

	if (!t)
		return;
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->cond);
	free(t);
	m->views = NULL;
}

uint64_t view_take_bytes(struct engine *m)
{
	struct view_table *t = m->views;
	uint64_t n;

	pthread_mutex_lock(&t->lock);
	n = t->added;
	t->added = 0;
	pthread_mutex_unlock(&t->lock);
	return n;
}

/* ---- one build at a time ------------------------------------------------------ */

static struct view_build *find_build(struct view_table *t, int64_t folder, uint32_t uid,
                                     const char *name)
{
	for (struct view_build *b = t->building; b; b = b->next)
		if (b->folder == folder && b->uid == uid && strcmp(b->name, name) == 0)
			return b;
	return NULL;
}

/* Become the builder of view NAME of FOLDER/UID, after waiting for another
 * one; then look whether it is there now. Returns the view's descriptor
 * (nothing to build, and nothing claimed), -ENOENT (claimed: build it,
 * then release()), or another error. */
static int claim(struct engine *m, int64_t folder, uint32_t uid, const char *name,
                 struct view_build *b)
{
	struct view_table *t = m->views;
	int fd;

	pthread_mutex_lock(&t->lock);
	while (find_build(t, folder, uid, name))
		pthread_cond_wait(&t->cond, &t->lock);
	fd = body_view_open(m->bodies, folder, uid, name);
	if (fd == -ENOENT) {
		*b = (struct view_build){ folder, uid, "", t->building };
		snprintf(b->name, sizeof(b->name), "%s", name);
		t->building = b;
	}
	pthread_mutex_unlock(&t->lock);
	return fd;
}

static void release(struct engine *m, struct view_build *b)
{
	struct view_table *t = m->views;

	pthread_mutex_lock(&t->lock);
	for (struct view_build **p = &t->building; *p; p = &(*p)->next)
		if (*p == b) {
			*p = b->next;
			break;
		}
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

/* Keep LEN bytes of DATA as view NAME of FOLDER/UID. Views can always be
 * made again: no fsync (as IMAP bodies), but never a partial file. */
static int publish(struct engine *m, int64_t folder, uint32_t uid, const char *name,
                   const char *data, size_t len)
{
	struct body_tmp tmp = { .fd = -1 };
	size_t done = 0;
	int r = body_create(m->bodies, &tmp);

	while (r == 0 && done < len) {
		ssize_t n = write(tmp.fd, data + done, len - done);

		if (n < 0 && errno != EINTR)
			r = -errno;
		else if (n > 0)
			done += (size_t)n;
	}
	if (r == 0)
		r = body_view_commit(m->bodies, &tmp, folder, uid, name, 0);
	body_tmp_close(m->bodies, &tmp);
	if (r == 0) {
		pthread_mutex_lock(&m->views->lock);
		m->views->added += len;
		pthread_mutex_unlock(&m->views->lock);
	}
	return r;
}

/* ---- a cached body, mapped --------------------------------------------------- */

struct mapped {
	char *data;
	size_t len;
};

/* A mapped body counts in the daemon's memory (RSS) while GMime reads it
 * through: a text is made from a body above this size only when the server
 * cannot send just the sections it needs (POP3, offline), so that a 25 MB
 * attachment does not cost 25 MB for a few lines of text. */
#define VIEW_MAP_MAX ((off_t)4 << 20)
#define MAP_ANY ((off_t)INT64_MAX)

/* The largest body to map for F: VIEW_MAP_MAX where the server can be
 * asked instead. */
static off_t map_max(const struct engine *m, const struct folder *f)
{
	return m->driver->sections && folder_server(f) ? VIEW_MAP_MAX : MAP_ANY;
}

/* The cached body of FOLDER/UID, mapped; -EFBIG (nothing mapped) when it
 * is larger than MAX bytes. */
static int map_body(struct engine *m, int64_t folder, uint32_t uid, off_t max,
                    struct mapped *mb)
{
	struct stat st;
	int fd = body_open(m->bodies, folder, uid);

	mb->data = NULL;
	mb->len = 0;
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0 || st.st_size > max) {
		int r = st.st_size > max ? -EFBIG : -errno;
		close(fd);
		return r;
	}
	mb->len = (size_t)st.st_size;
	if (mb->len) {
		void *p = mmap(NULL, mb->len, PROT_READ, MAP_PRIVATE, fd, 0);

		if (p == MAP_FAILED) {
			int r = -errno;
			close(fd);
			return r;
		}
		mb->data = p;
	} else {
		mb->data = (char *)"";
	}
	body_touch(fd, &st);
	close(fd);
	return 0;
}

static void unmap_body(struct mapped *mb)
{
	if (mb->len)
		munmap(mb->data, mb->len);
	mb->data = NULL;
	mb->len = 0;
}

/* ---- structures ---------------------------------------------------------------- */

static int structure_cached(struct engine *m, int64_t folder, uint32_t uid,
                            struct bs_part **root_r)
{
	char *text = NULL, err[128];
	int r = store_structure_get(m->store, folder, uid, &text);

	if (r < 0)
		return r;
	r = bs_parse(text, strlen(text), root_r, err, sizeof(err));
	free(text);
	if (r == -EINVAL) {
		/* Written by us, so only a damaged cache does this: make it again. */
		log_warn("the cached structure of message %" PRIu32 " does not parse (%s)", uid, err);
		return -ENOENT;
	}
	return r;
}

static void structure_keep(struct engine *m, int64_t folder, uint32_t uid,
                           const struct bs_part *root)
{
	char *text = bs_format(root);

	if (text)
		store_structure_put(m->store, folder, uid, text);
	free(text);
}

struct keep_ctx {
	struct engine *m;
	int64_t folder;
};

static void keep_structure(void *ctx, uint32_t uid, const struct bs_part *root)
{
	struct keep_ctx *k = ctx;

	if (root)
		structure_keep(k->m, k->folder, uid, root);
}

/* Ask the server for the structures of UIDS that the store lacks. */
static int structures_fetch(struct engine *m, struct folder *f, const uint32_t *uids, size_t n)
{
	struct driver_folder df = folder_view(m, f);
	struct keep_ctx k = { m, f->id };

	if (!m->driver->structure || !folder_server(f))
		return -ENOENT;
	return m->driver->structure(m->drv, &df, uids, n, keep_structure, &k);
}

/* The whole of message UID of F from the server, into SEC (the caller
 * frees sec->data): for a message whose structure the server cannot
 * describe (a bug of its own). */
static int whole_message(struct engine *m, struct folder *f, uint32_t uid,
                         struct driver_section *sec)
{
	struct driver_folder df = folder_view(m, f);
	int r;

	*sec = (struct driver_section){ .uid = uid, .section = "" };
	if (!m->driver->sections)
		return -ENOENT;
	r = m->driver->sections(m->drv, &df, sec, 1);
	return r < 0 ? r : sec->err;
}

/* The structure of a message the server could not describe, from the
 * whole message (kept: the numbers are then GMime's). */
static int structure_from_whole(struct engine *m, struct folder *f, uint32_t uid,
                                struct bs_part **root_r)
{
	struct driver_section sec;
	int r = whole_message(m, f, uid, &sec);

	if (r == 0)
		r = render_structure(sec.data, sec.len, root_r);
	if (r == 0)
		structure_keep(m, f->id, uid, *root_r);
	free(sec.data);
	return r;
}

int view_structure(struct engine *m, struct folder *f, uint32_t uid, struct bs_part **root_r)
{
	struct mapped mb;
	int r = structure_cached(m, f->id, uid, root_r);

	if (r != -ENOENT)
		return r;
	r = map_body(m, f->id, uid, map_max(m, f), &mb);
	if (r == -EFBIG) {      /* big: the server's description, if it can */
		r = structures_fetch(m, f, &uid, 1);
		if (r == 0 && (r = structure_cached(m, f->id, uid, root_r)) != -ENOENT)
			return r;
		r = map_body(m, f->id, uid, MAP_ANY, &mb);
	}
	if (r == 0) {
		r = render_structure(mb.data, mb.len, root_r);
		unmap_body(&mb);
		if (r == 0)
			structure_keep(m, f->id, uid, *root_r);
		return r;
	}
	r = structures_fetch(m, f, &uid, 1);
	if (r < 0)
		return r;
	r = structure_cached(m, f->id, uid, root_r);
	return r == -ENOENT ? structure_from_whole(m, f, uid, root_r) : r;
}

/* ---- texts ------------------------------------------------------------------- */

/* What the server sent for one message's sections: a render source. */
struct fetched {
	struct driver_section *secs;
	size_t n;
};

static int fetched_get(void *ctx, const char *section, int header, const char **data,
                       size_t *len, int *decoded)
{
	struct fetched *fs = ctx;

	for (size_t i = 0; i < fs->n; i++) {
		struct driver_section *s = &fs->secs[i];

		if (s->header != header || strcmp(s->section, section) != 0)
			continue;
		if (s->err)
			return s->err;
		*data = s->data;
		*len = s->len;
		*decoded = s->decoded;
		return 0;
	}
	return -ENOENT;
}

/* The text of UID from the whole message MSG (a cached body, or one the
 * server sent whole). */
static int text_from_message(struct engine *m, int64_t folder, uint32_t uid, const char *msg,
                             size_t msglen)
{
	struct bs_part *root = NULL;
	struct render_source *src = NULL;
	char *text = NULL;
	size_t len = 0;
	int r = render_structure(msg, msglen, &root);

	if (r == 0 && !(src = render_message_source(msg, msglen)))
		r = -ENOMEM;
	if (r == 0)
		r = render_text(root, src, &text, &len);
	if (r == 0)
		r = publish(m, folder, uid, TEXT_NAME, text, len);
	render_message_source_free(src);
	bs_free(root);
	free(text);
	return r;
}

/* The sections a view needs, for the server: a growing list. */
struct needs {
	struct driver_section *secs;
	size_t n, cap;
	uint32_t uid;
};

static int add_need(void *ctx, const char *section, int header)
{
	struct needs *nd = ctx;
	char *sec = strdup(section);

	if (!sec || ARRAY_RESERVE(nd->secs, nd->n, nd->cap) < 0) {
		free(sec);
		return -ENOMEM;
	}
	nd->secs[nd->n++] = (struct driver_section){ .uid = nd->uid, .section = sec,
	                                             .header = header };
	return 0;
}

static void needs_free(struct needs *nd)
{
	for (size_t i = 0; i < nd->n; i++) {
		free((char *)nd->secs[i].section);
		free(nd->secs[i].data);
	}
	free(nd->secs);
}

/* The texts of UIDS (ascending; none of them cached, nor their bodies)
 * from the server: their structures in one command, then the sections
 * they need. Returns the result for UIDS[0]; the others are a bonus. */
static int texts_from_server(struct engine *m, struct folder *f, const uint32_t *uids, size_t n)
{
	struct driver_folder df = folder_view(m, f);
	struct bs_part **roots = calloc(n, sizeof(*roots));
	uint32_t *missing = calloc(n, sizeof(*missing));
	struct needs nd = { 0 };
	size_t nmissing = 0, first;
	int r = 0, r0 = -EIO;

	if (!roots || !missing || !m->driver->sections) {
		r = !m->driver->sections ? -ENOENT : -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (structure_cached(m, f->id, uids[i], &roots[i]) == -ENOENT)
			missing[nmissing++] = uids[i];
	if (nmissing && (r = structures_fetch(m, f, missing, nmissing)) < 0)
		goto out;
	for (size_t i = 0; i < n && r == 0; i++) {
		if (!roots[i] && structure_cached(m, f->id, uids[i], &roots[i]) < 0)
			continue;   /* gone from the server meanwhile */
		nd.uid = uids[i];
		r = render_text_needs(roots[i], add_need, &nd);
	}
	if (r < 0 || (nd.n && (r = m->driver->sections(m->drv, &df, nd.secs, nd.n)) < 0))
		goto out;
	first = 0;
	for (size_t i = 0; i < n; i++) {
		struct fetched fs = { nd.secs + first, 0 };
		char *text = NULL;
		size_t len = 0;
		int ri;

		while (first + fs.n < nd.n && nd.secs[first + fs.n].uid == uids[i])
			fs.n++;
		first += fs.n;
		if (!roots[i]) {
			/* Not described by the server: made from the whole message. */
			struct driver_section sec;

			ri = whole_message(m, f, uids[i], &sec);
			if (ri == 0)
				ri = text_from_message(m, f->id, uids[i], sec.data, sec.len);
			free(sec.data);
		} else {
			struct render_source src = { fetched_get, &fs };

			ri = render_text(roots[i], &src, &text, &len);
			if (ri < 0)
				log_warn("the text of message %" PRIu32 " in %s cannot be made: %s",
				         uids[i], folder_name(f), strerror(-ri));
			if (ri == 0)
				ri = publish(m, f->id, uids[i], TEXT_NAME, text, len);
			free(text);
		}
		if (i == 0)
			r0 = ri;
	}
	r = r0;
out:
	needs_free(&nd);
	for (size_t i = 0; roots && i < n; i++)
		bs_free(roots[i]);
	free(roots);
	free(missing);
	return r;
}

struct ahead {
	struct engine *m;
	int64_t folder;
	uint32_t *uids;
	size_t n, max;
};

static int ahead_add(void *ctx, const struct store_msg *msg)
{
	struct ahead *a = ctx;
	int fd;

	if (a->n >= a->max)
		return 1;
	if (body_exists(a->m->bodies, a->folder, msg->uid))
		return 0;   /* cheap from the cache when its turn comes */
	fd = body_view_open(a->m->bodies, a->folder, msg->uid, TEXT_NAME);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	a->uids[a->n++] = msg->uid;
	return 0;
}

/* Build the text of UID of F (claimed by the caller). */
static int text_build(struct engine *m, struct folder *f, uint32_t uid)
{
	struct view_table *t = m->views;
	uint32_t uids[VIEW_AHEAD + 1] = { uid };
	struct ahead a = { m, f->id, uids + 1, 0, VIEW_AHEAD };
	struct mapped mb;
	int through;

	int r = map_body(m, f->id, uid, map_max(m, f), &mb), big = r == -EFBIG;

	if (r == 0) {
		r = text_from_message(m, f->id, uid, mb.data, mb.len);
		unmap_body(&mb);
		return r;
	}
	/* Read in UID order (grep -r, cp -r): take the next ones along. */
	pthread_mutex_lock(&t->lock);
	through = t->last_folder == f->id && t->last_uid < uid;
	t->last_folder = f->id;
	t->last_uid = uid;
	pthread_mutex_unlock(&t->lock);
	if (through && !big)
		store_msg_list(m->store, f->id, uid, VIEW_AHEAD * 4, ahead_add, &a);
	r = texts_from_server(m, f, uids, 1 + a.n);
	if (r < 0 && big && map_body(m, f->id, uid, MAP_ANY, &mb) == 0) {
		/* The server cannot be asked now: from the body after all. */
		r = text_from_message(m, f->id, uid, mb.data, mb.len);
		unmap_body(&mb);
	}
	return r;
}

int view_text_open(struct engine *m, struct folder *f, uint32_t uid)
{
	struct view_build b;
	int fd = body_view_open(m->bodies, f->id, uid, TEXT_NAME), r;

	if (fd != -ENOENT)
		return fd;
	fd = claim(m, f->id, uid, TEXT_NAME, &b);
	if (fd != -ENOENT)
		return fd;
	r = text_build(m, f, uid);
	release(m, &b);
	return r < 0 ? r : body_view_open(m->bodies, f->id, uid, TEXT_NAME);
}

/* At most what a text of a message of SIZE bytes with structure ROOT
 * (NULL: unknown) can take: 3 bytes of UTF-8 for each byte of headers and
 * text (a byte of a legacy charset, or U+FFFD), a line per attachment. */
struct estimate {
	uint64_t leaves;       /* bytes of parts shown as attachment lines */
	uint64_t nparts;
};

static int estimate_part(void *ctx, const struct bs_part *p, const char *section,
                         unsigned depth)
{
	struct estimate *e = ctx;

	(void)section;
	(void)depth;
	e->nparts++;
	if (!p->nkids && strcmp(p->type, "text") != 0)
		e->leaves += p->size;
	return 0;
}

static uint64_t text_bound(uint64_t size, const struct bs_part *root)
{
	struct estimate e = { 0 };

	if (!root)
		return 4 * size + 4096;
	bs_walk(root, estimate_part, &e);
	if (e.leaves > size)
		e.leaves = size;
	return 3 * (size - e.leaves) + 600 * e.nparts + 1024;
}

static int size_of(int fd, uint64_t *size_r)
{
	struct stat st;
	int r = fstat(fd, &st) < 0 ? -errno : 0;

	close(fd);
	if (r == 0)
		*size_r = (uint64_t)st.st_size;
	return r;
}

int view_text_size(struct engine *m, int64_t folder, uint32_t uid, uint64_t msg_size,
                   uint64_t *size_r)
{
	struct bs_part *root = NULL;
	int fd = body_view_open(m->bodies, folder, uid, TEXT_NAME);

	if (fd >= 0 && size_of(fd, size_r) == 0)
		return 1;
	structure_cached(m, folder, uid, &root);
	*size_r = text_bound(msg_size, root);
	bs_free(root);
	return 0;
}

/* ---- parts ------------------------------------------------------------------- */

static void part_view_name(char *buf, size_t size, const char *section)
{
	snprintf(buf, size, "p%s", section);
}

/* The message whose part SECTION is: the section of the nearest
 * message/rfc822 part above it, "" for the message itself. Message
 * sections are the sections of message/rfc822 parts, in RFCS[0..N). */
static const char *owner_of(const char *section, char *const *rfcs, size_t n)
{
	const char *best = "";

	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(rfcs[i]);

		if (strncmp(section, rfcs[i], l) == 0 && section[l] == '.' && l > strlen(best))
			best = rfcs[i];
	}
	return best;
}

struct walk {
	char **rfcs;            /* sections of message/rfc822 parts */
	size_t nrfcs, caprfcs;
	struct view_part *parts;
	size_t n, cap;
	int err;
};

static int walk_rfcs(void *ctx, const struct bs_part *p, const char *section, unsigned depth)
{
	struct walk *w = ctx;
	char *s;

	(void)depth;
	if (strcmp(p->type, "message") != 0 || strcmp(p->subtype, "rfc822") != 0 || !p->nkids)
		return 0;
	if (!(s = strdup(section)) || ARRAY_RESERVE(w->rfcs, w->nrfcs, w->caprfcs) < 0) {
		free(s);
		return -ENOMEM;
	}
	w->rfcs[w->nrfcs++] = s;
	return 0;
}

static int walk_parts(void *ctx, const struct bs_part *p, const char *section, unsigned depth)
{
	struct walk *w = ctx;
	int rfc = strcmp(p->type, "message") == 0 && strcmp(p->subtype, "rfc822") == 0 && p->nkids;
	struct view_part *vp;

	(void)depth;
	/* Leaves and forwarded messages; a multipart is only their frame. */
	if (p->nkids && !rfc)
		return 0;
	if (ARRAY_RESERVE(w->parts, w->n, w->cap) < 0)
		return -ENOMEM;
	vp = &w->parts[w->n];
	*vp = (struct view_part){ .dir = rfc, .size = p->size };
	vp->section = strdup(section);
	vp->owner = strdup(owner_of(section, w->rfcs, w->nrfcs));
	vp->name = render_part_name(p, section);
	if (asprintf(&vp->type, "%s/%s", p->type, p->subtype) < 0)
		vp->type = NULL;
	w->n++;
	if (!vp->section || !vp->owner || !vp->name || !vp->type)
		return -ENOMEM;
	return 0;
}

void view_parts_free(struct view_part *parts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(parts[i].section);
		free(parts[i].owner);
		free(parts[i].name);
		free(parts[i].type);
	}
	free(parts);
}

int view_parts(struct engine *m, struct folder *f, uint32_t uid, struct view_part **parts_r,
               size_t *n_r)
{
	struct bs_part *root = NULL;
	struct walk w = { 0 };
	const char **secs = NULL;
	int64_t *ids = NULL;
	int r = view_structure(m, f, uid, &root);

	if (r == 0)
		r = bs_walk(root, walk_rfcs, &w);
	if (r == 0)
		r = bs_walk(root, walk_parts, &w);
	if (r == 0 && w.n) {
		secs = calloc(w.n, sizeof(*secs));
		ids = calloc(w.n, sizeof(*ids));
		if (!secs || !ids)
			r = -ENOMEM;
		for (size_t i = 0; r == 0 && i < w.n; i++)
			secs[i] = w.parts[i].section;
		if (r == 0)
			r = store_part_ids(m->store, f->id, uid, secs, w.n, ids);
		for (size_t i = 0; r == 0 && i < w.n; i++) {
			char name[BODY_VIEW_NAME_MAX];
			int fd;

			w.parts[i].id = ids[i];
			part_view_name(name, sizeof(name), w.parts[i].section);
			fd = w.parts[i].dir ? -ENOENT : body_view_open(m->bodies, f->id, uid, name);
			if (fd >= 0 && size_of(fd, &w.parts[i].size) == 0)
				w.parts[i].exact = 1;
		}
	}
	for (size_t i = 0; i < w.nrfcs; i++)
		free(w.rfcs[i]);
	free(w.rfcs);
	free(secs);
	free(ids);
	bs_free(root);
	if (r < 0) {
		view_parts_free(w.parts, w.n);
		return r;
	}
	*parts_r = w.parts;
	*n_r = w.n;
	return 0;
}

/* A part sent as lines (7bit, 8bit, quoted-printable) has the wire's CRLF
 * line ends, not its own: they become LF, as any mail program saves such
 * an attachment on this system and as Python's email decodes it. What was
 * sent as bytes (base64, uuencode, binary) stays exactly as it was. */
static size_t own_line_ends(const struct bs_part *p, char *buf, size_t len)
{
	const char *enc = p->encoding ? p->encoding : "7bit";
	size_t o = 0;

	if (strcmp(enc, "base64") == 0 || strcmp(enc, "binary") == 0 ||
	    strcmp(enc, "x-uuencode") == 0 || strcmp(enc, "uuencode") == 0 ||
	    strcmp(enc, "x-uue") == 0)
		return len;
	for (size_t i = 0; i < len; i++)
		if (buf[i] != '\r' || i + 1 >= len || buf[i + 1] != '\n')
			buf[o++] = buf[i];
	return o;
}

/* Part SECTION (tree P) cut from the whole message MSG, transfer encoding
 * undone into *out_r. */
static int part_from_message(const char *msg, size_t len, const struct bs_part *p,
                             const char *section, char **out_r, size_t *outlen_r)
{
	struct render_source *src = render_message_source(msg, len);
	const char *raw;
	size_t rawlen;
	int decoded, r;

	if (!src)
		return -ENOMEM;
	r = src->get(src->ctx, section, 0, &raw, &rawlen, &decoded);
	if (r == 0)
		r = render_decode(p, raw, rawlen, out_r, outlen_r);
	render_message_source_free(src);
	return r;
}

/* Part SECTION of UID of F from the server alone, into *out_r; when the
 * server cannot give it by its number, cut from the whole message. */
static int part_from_server(struct engine *m, struct folder *f, uint32_t uid,
                            const struct bs_part *p, const char *section, char **out_r,
                            size_t *outlen_r)
{
	struct driver_folder df = folder_view(m, f);
	struct driver_section sec = { .uid = uid, .section = section };
	int r = m->driver->sections ? m->driver->sections(m->drv, &df, &sec, 1) : -ENOENT;

	if (r == 0 && sec.err == 0 && sec.decoded) {
		*out_r = sec.data;   /* the server undid the encoding */
		*outlen_r = sec.len;
		return 0;
	}
	if (r == 0 && sec.err == 0)
		r = render_decode(p, sec.data, sec.len, out_r, outlen_r);
	else if (r == 0 && (r = whole_message(m, f, uid, &sec)) == 0)
		r = part_from_message(sec.data, sec.len, p, section, out_r, outlen_r);
	free(sec.data);
	return r;
}

/* Build part SECTION of UID of F (claimed by the caller). */
static int part_build(struct engine *m, struct folder *f, uint32_t uid, const char *section,
                      const char *name)
{
	struct bs_part *root = NULL;
	const struct bs_part *p;
	struct mapped mb = { 0 };
	char *out = NULL;
	size_t outlen = 0;
	int r, cached = map_body(m, f->id, uid, MAP_ANY, &mb) == 0;

	/* From the body: its own structure, so that the numbers match it. */
	r = cached ? render_structure(mb.data, mb.len, &root) : view_structure(m, f, uid, &root);
	if (r == 0 && (!(p = bs_find(root, section)) || p->nkids))
		r = -ENOENT;
	if (r == 0)
		r = cached ? part_from_message(mb.data, mb.len, p, section, &out, &outlen) :
		             part_from_server(m, f, uid, p, section, &out, &outlen);
	if (r == 0)
		r = publish(m, f->id, uid, name, out, own_line_ends(p, out, outlen));
	free(out);
	bs_free(root);
	if (cached)
		unmap_body(&mb);
	return r;
}

int view_part_open(struct engine *m, struct folder *f, uint32_t uid, const char *section)
{
	struct view_build b;
	char name[BODY_VIEW_NAME_MAX];
	int fd, r;

	part_view_name(name, sizeof(name), section);
	fd = body_view_open(m->bodies, f->id, uid, name);
	if (fd != -ENOENT)
		return fd;
	fd = claim(m, f->id, uid, name, &b);
	if (fd != -ENOENT)
		return fd;
	r = part_build(m, f, uid, section, name);
	release(m, &b);
	return r < 0 ? r : body_view_open(m->bodies, f->id, uid, name);
}
