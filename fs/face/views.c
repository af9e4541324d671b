/* views.c - the face of SPEC §9's views: a hidden directory .mailfs at the
 * root, reachable by name but not listed (unless -o show_views), with
 *
 *   .mailfs/text/F/NAME.txt    the text of message F/NAME.eml
 *   .mailfs/parts/F/NAME/      a file per part of it, a directory per
 *                              forwarded message, of the same form
 *   .mailfs/search/QUERY/F/    the messages of F that match (searchdir.c)
 *
 * All read-only (EROFS). What a view holds is made by the engine
 * (engine/view.c) when first wanted; until then its size is an upper bound
 * said with a short timeout (TTL_GUESS) in listings, which is enough for
 * read(2): a read that ends early is the end of the file for the kernel.
 * A lookup or getattr makes the view and says its exact size, so that a
 * program that asks for the size (stat, mmap, seek to the end) gets it
 * right.
 */
#include "fs/face/face.h"
#include "fs/engine/layout.h"
#include "fs/log.h"
#include "cache/store.h"
#include "net/grow.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const kind_names[] = { [VIEW_TEXT] = "text", [VIEW_PARTS] = "parts" };
#define SEARCH_NAME "search"

/* ---- names ----------------------------------------------------------------------- */

/* The view's name of message file NAME ("12 Hello.eml"): "12 Hello.txt" in
 * the text view, "12 Hello" in the parts view. NULL on ENOMEM. */
static char *view_name(enum view_kind k, const char *name)
{
	size_t n = strlen(name);
	char *out;

	if (n > 4 && strcmp(name + n - 4, ".eml") == 0)
		n -= 4;
	if (asprintf(&out, "%.*s%s", (int)n, name, k == VIEW_TEXT ? ".txt" : "") < 0)
		return NULL;
	return out;
}

/* ---- attributes ------------------------------------------------------------------- */

/* The folder of a view directory or file; NULL for the view's root. */
static int view_folder(struct face *fc, fuse_ino_t ino, struct folder **f_r)
{
	int64_t id = ino_view_folder(ino);

	*f_r = NULL;
	if (!id)
		return 0;
	*f_r = tree_get(fc->m, id);
	if (!*f_r || folder_gone(*f_r))
		return -ENOENT;
	return 0;
}

/* One message of a folder, as the store knows it. */
struct msg_info {
	uint32_t uid;
	uint64_t size;
	time_t date;
	char *name;             /* the .eml name */
	int found;
};

static int msg_info_cb(void *ctx, const struct store_msg *msg)
{
	struct msg_info *mi = ctx;

	mi->uid = msg->uid;
	mi->size = msg->size;
	mi->date = (time_t)msg->date;
	mi->name = strdup(msg->name);
	mi->found = 1;
	return mi->name ? 0 : -ENOMEM;
}

static int msg_info(struct engine *m, int64_t folder, uint32_t uid, struct msg_info *mi)
{
	int r;

	memset(mi, 0, sizeof(*mi));
	r = store_msg_get(m->store, folder, uid, msg_info_cb, mi);
	if (r == 0 && !mi->found)
		r = -ENOENT;
	return r;
}

/* The text of UID of F: made when MAKE, else its size so far. */
static int text_attr(struct face *fc, struct folder *f, const struct msg_info *mi, int make,
                     struct stat *st, double *ttl_r)
{
	struct engine *m = fc->m;
	fuse_ino_t ino = ino_view_msg(VIEW_TEXT, f->id, mi->uid);
	uint64_t size = 0;
	int exact;

	if (make) {
		int fd = view_text_open(m, f, mi->uid);

		if (fd < 0)
			return fd;
		close(fd);
	}
	exact = view_text_size(m, f->id, mi->uid, mi->size, &size);
	face_file_attr(fc, ino, 0400, size, mi->date, st);
	*ttl_r = exact ? TTL_LONG : TTL_GUESS;
	return 0;
}

/* The parts of UID of F that belong to the message OWNER ("" itself). */
struct parts {
	struct view_part *p;
	size_t n;
};

static int parts_of(struct face *fc, struct folder *f, uint32_t uid, struct parts *ps)
{
	return view_parts(fc->m, f, uid, &ps->p, &ps->n);
}

static void part_attr(struct face *fc, const struct view_part *p, time_t date,
                      struct stat *st, double *ttl_r)
{
	if (p->dir) {
		face_ro_dir_attr(fc, ino_part(p->id), 0, date, st);
		*ttl_r = TTL_LONG;
		return;
	}
	face_file_attr(fc, ino_part(p->id), 0400, p->size, date, st);
	*ttl_r = p->exact ? TTL_LONG : TTL_GUESS;
}

/* Part number ID: its message and the part's entry in *ps (index *i_r). */
static int part_find(struct face *fc, int64_t id, struct folder **f_r, struct msg_info *mi,
                     struct parts *ps, size_t *i_r)
{
	int64_t folder;
	uint32_t uid;
	char *section = NULL;
	int r = store_part_get(fc->m->store, id, &folder, &uid, &section);

	ps->p = NULL;
	ps->n = 0;
	memset(mi, 0, sizeof(*mi));
	if (r < 0)
		return r;
	*f_r = tree_get(fc->m, folder);
	if (!*f_r || folder_gone(*f_r))
		r = -ENOENT;
	if (r == 0)
		r = msg_info(fc->m, folder, uid, mi);
	if (r == 0)
		r = parts_of(fc, *f_r, uid, ps);
	if (r == 0) {
		r = -ENOENT;
		for (size_t i = 0; i < ps->n; i++)
			if (strcmp(ps->p[i].section, section) == 0) {
				*i_r = i;
				r = 0;
				break;
			}
	}
	free(section);
	return r;
}

static void parts_free(struct parts *ps, struct msg_info *mi)
{
	view_parts_free(ps->p, ps->n);
	ps->p = NULL;
	ps->n = 0;
	free(mi->name);
	mi->name = NULL;
}

/* Make part P of UID of F now (lookup, getattr): its exact size. */
static int part_make(struct face *fc, struct folder *f, uint32_t uid, struct view_part *p)
{
	struct stat st;
	int fd, r = 0;

	if (p->dir || p->exact)
		return 0;
	fd = view_part_open(fc->m, f, uid, p->section);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		r = -errno;
	close(fd);
	if (r == 0) {
		p->size = (uint64_t)st.st_size;
		p->exact = 1;
	}
	return r;
}

/* ---- lookup and getattr ---------------------------------------------------------- */

/* Message NAME (a view name of KIND) in folder F. */
static int lookup_msg(struct face *fc, enum view_kind k, struct folder *f, const char *name,
                      struct fuse_entry_param *e)
{
	struct engine *m = fc->m;
	struct msg_info mi;
	uint32_t uid;
	char *vname, *eml;
	size_t n = strlen(name);
	int r;

	/* Back to the message's own name, whose form says its UID. */
	if (k == VIEW_TEXT && (n < 4 || strcmp(name + n - 4, ".txt") != 0))
		return -ENOENT;
	if (asprintf(&eml, "%.*s.eml", (int)(k == VIEW_TEXT ? n - 4 : n), name) < 0)
		return -ENOMEM;
	r = layout_message_uid(eml, &uid);
	free(eml);
	if (r < 0)
		return -ENOENT;
	if ((r = folder_ensure(m, f)) < 0)
		return r;
	if ((r = msg_info(m, f->id, uid, &mi)) < 0)
		return r;
	vname = view_name(k, mi.name);
	if (!vname)
		r = -ENOMEM;
	else if (strcmp(vname, name) != 0)
		r = -ENOENT;
	else if (k == VIEW_TEXT)
		r = text_attr(fc, f, &mi, 1, &e->attr, &e->attr_timeout);
	else
		face_ro_dir_attr(fc, ino_view_msg(VIEW_PARTS, f->id, uid), 0, mi.date, &e->attr);
	free(vname);
	free(mi.name);
	e->ino = e->attr.st_ino;
	return r;
}

/* Part NAME of the message OWNER ("" the message itself, else the section
 * of a forwarded message) of UID of F. */
static int lookup_part(struct face *fc, struct folder *f, uint32_t uid, const char *owner,
                       const char *name, struct fuse_entry_param *e)
{
	struct msg_info mi;
	struct parts ps = { 0 };
	int r = msg_info(fc->m, f->id, uid, &mi);

	if (r == 0)
		r = parts_of(fc, f, uid, &ps);
	if (r == 0) {
		r = -ENOENT;
		for (size_t i = 0; i < ps.n; i++) {
			struct view_part *p = &ps.p[i];

			if (strcmp(p->owner, owner) != 0 || strcmp(p->name, name) != 0)
				continue;
			r = part_make(fc, f, uid, p);
			if (r == 0) {
				part_attr(fc, p, mi.date, &e->attr, &e->attr_timeout);
				e->ino = e->attr.st_ino;
			}
			break;
		}
	}
	parts_free(&ps, &mi);
	return r;
}

int views_lookup(struct face *fc, fuse_ino_t parent, const char *name,
                 struct fuse_entry_param *e)
{
	struct folder *f, *sub;
	enum view_kind k = ino_view(parent);
	int r;

	if (searchdir_is_ino(parent))
		return searchdir_lookup(fc, parent, name, e);
	memset(e, 0, sizeof(*e));
	e->entry_timeout = TTL_LONG;
	e->attr_timeout = TTL_LONG;
	if (parent == INO_ROOT) {   /* ".mailfs" */
		e->ino = INO_VIEWS;
		face_ro_dir_attr(fc, INO_VIEWS, 3, fc->m->mount_time, &e->attr);
		return 0;
	}
	if (parent == INO_VIEWS) {
		for (enum view_kind v = VIEW_TEXT; v <= VIEW_PARTS; v++)
			if (strcmp(name, kind_names[v]) == 0) {
				e->ino = ino_view_msg(v, 0, 0);
				face_ro_dir_attr(fc, e->ino, 0, fc->m->mount_time, &e->attr);
				return 0;
			}
		if (strcmp(name, SEARCH_NAME) == 0) {
			e->ino = INO_VIEWS_SEARCH;
			return searchdir_getattr(fc, e->ino, &e->attr);
		}
		return -ENOENT;
	}
	if (parent == INO_VIEWS_TEXT || parent == INO_VIEWS_PARTS)
		k = parent == INO_VIEWS_TEXT ? VIEW_TEXT : VIEW_PARTS;
	if (k == VIEW_PART) {
		struct msg_info mi;
		struct parts ps;
		size_t i;

		r = part_find(fc, ino_part_id(parent), &f, &mi, &ps, &i);
		if (r == 0 && !ps.p[i].dir)
			r = -ENOTDIR;
		if (r == 0)
			r = lookup_part(fc, f, mi.uid, ps.p[i].section, name, e);
		parts_free(&ps, &mi);
		return r;
	}
	if ((r = view_folder(fc, parent, &f)) < 0)
		return r;
	if (parent >= 16 && (uint32_t)parent != 0) {   /* a message's parts directory */
		if (k != VIEW_PARTS)
			return -ENOTDIR;
		return lookup_part(fc, f, (uint32_t)parent, "", name, e);
	}
	sub = tree_child(fc->m, f ? f->id : 0, name);
	if (sub && sub->id < VIEW_FOLDER_LIMIT) {
		e->ino = ino_view_msg(k, sub->id, 0);
		pthread_rwlock_rdlock(&fc->m->tree_lock);
		face_ro_dir_attr(fc, e->ino, sub->nsub, folder_mtime(sub), &e->attr);
		pthread_rwlock_unlock(&fc->m->tree_lock);
		return 0;
	}
	if (!f || !folder_server(f))
		return -ENOENT;
	return lookup_msg(fc, k, f, name, e);
}

int views_getattr(struct face *fc, fuse_ino_t ino, struct stat *st, double *ttl_r)
{
	struct engine *m = fc->m;
	struct folder *f;
	struct msg_info mi;
	int r;

	*ttl_r = TTL_LONG;
	if (searchdir_is_ino(ino))
		return searchdir_getattr(fc, ino, st);
	if (ino == INO_VIEWS || ino == INO_VIEWS_TEXT || ino == INO_VIEWS_PARTS) {
		face_ro_dir_attr(fc, ino, ino == INO_VIEWS ? 3 : 0, m->mount_time, st);
		return 0;
	}
	if (ino_view(ino) == VIEW_PART) {
		struct parts ps;
		size_t i;

		r = part_find(fc, ino_part_id(ino), &f, &mi, &ps, &i);
		if (r == 0)
			r = part_make(fc, f, mi.uid, &ps.p[i]);
		if (r == 0)
			part_attr(fc, &ps.p[i], mi.date, st, ttl_r);
		parts_free(&ps, &mi);
		return r;
	}
	if ((r = view_folder(fc, ino, &f)) < 0)
		return r;
	if ((uint32_t)ino == 0) {
		pthread_rwlock_rdlock(&m->tree_lock);
		face_ro_dir_attr(fc, ino, f->nsub, folder_mtime(f), st);
		pthread_rwlock_unlock(&m->tree_lock);
		return 0;
	}
	if ((r = msg_info(m, f->id, (uint32_t)ino, &mi)) < 0)
		return r;
	if (ino_view(ino) == VIEW_TEXT)
		r = text_attr(fc, f, &mi, 1, st, ttl_r);
	else
		face_ro_dir_attr(fc, ino, 0, mi.date, st);
	free(mi.name);
	return r;
}

/* ---- directories -------------------------------------------------------------------- */

int views_opendir(struct face *fc, fuse_ino_t ino)
{
	struct folder *f;
	struct msg_info mi;
	int r;

	if (ino == INO_VIEWS || ino == INO_VIEWS_TEXT || ino == INO_VIEWS_PARTS)
		return 0;
	if (searchdir_is_ino(ino))
		return searchdir_opendir(fc, ino);
	if (ino_view(ino) == VIEW_PART) {
		struct parts ps;
		size_t i;

		r = part_find(fc, ino_part_id(ino), &f, &mi, &ps, &i);
		if (r == 0 && !ps.p[i].dir)
			r = -ENOTDIR;
		parts_free(&ps, &mi);
		return r;
	}
	if ((r = view_folder(fc, ino, &f)) < 0)
		return r;
	if ((uint32_t)ino != 0) {
		if (ino_view(ino) != VIEW_PARTS)
			return -ENOTDIR;
		r = msg_info(fc->m, f->id, (uint32_t)ino, &mi);
		free(mi.name);
		return r;
	}
	return folder_ensure(fc->m, f);
}

struct snap_ctx {
	struct face *fc;
	struct dirsnap *d;
	enum view_kind k;
	int64_t folder;
	int err;
};

static void snap_sub(void *ctx, struct folder *f)
{
	struct snap_ctx *c = ctx;
	struct dent *de;

	if (f->id >= VIEW_FOLDER_LIMIT)
		return;
	if (!(de = face_snap_add(c->d, f->name))) {
		c->err = -ENOMEM;
		return;
	}
	/* tree_lock is held (tree_children). */
	face_ro_dir_attr(c->fc, ino_view_msg(c->k, f->id, 0), f->nsub, folder_mtime(f), &de->st);
}

/* Messages of a folder, gathered first: the store is not to be asked
 * again from inside its own callback. At most a reply's worth. */
struct gathered {
	struct store_msg *msgs;     /* name owned */
	size_t n, cap;
};

static int gather_msg(void *ctx, const struct store_msg *msg)
{
	struct gathered *g = ctx;
	char *name;

	if (ARRAY_RESERVE(g->msgs, g->n, g->cap) < 0 || !(name = strdup(msg->name)))
		return -ENOMEM;
	g->msgs[g->n] = *msg;
	g->msgs[g->n++].name = name;
	return 0;
}

/* A folder's messages in the text or parts view are streamed as the
 * folder's own are (dirlist.c): offset DIR_OFF_MSGS + UID, a reply's worth
 * of rows at a time. */
int views_list_msgs(struct face *fc, const struct dirsnap *d, off_t off, struct dirbuf *b)
{
	struct gathered g = { 0 };
	uint32_t after = off > DIR_OFF_MSGS ? (uint32_t)(off - DIR_OFF_MSGS) : 0;
	int r = 0;

	if (off >= DIR_OFF_MSGS + (off_t)UINT32_MAX)
		return 0;
	/* No more rows than could fit (dirlist_msgs()). */
	r = store_msg_list(fc->m->store, d->stream_folder, after,
	                   b->size / (b->plus ? 160 : 32) + 1, gather_msg, &g);
	for (size_t i = 0; r == 0 && i < g.n; i++) {
		const struct store_msg *msg = &g.msgs[i];
		char *name = view_name(d->stream_kind, msg->name);
		fuse_ino_t ino = ino_view_msg(d->stream_kind, d->stream_folder, msg->uid);
		struct stat st;
		double ttl = TTL_LONG;

		if (!name) {
			r = -ENOMEM;
			break;
		}
		if (d->stream_kind == VIEW_TEXT) {
			uint64_t size = 0;
			int exact = view_text_size(fc->m, d->stream_folder, msg->uid, msg->size, &size);

			face_file_attr(fc, ino, 0400, size, (time_t)msg->date, &st);
			ttl = exact ? TTL_LONG : TTL_GUESS;
		} else {
			face_ro_dir_attr(fc, ino, 0, (time_t)msg->date, &st);
		}
		int fit = dirbuf_add(b, name, &st, ttl, DIR_OFF_MSGS + (off_t)msg->uid);

		free(name);
		if (!fit)
			break;
	}
	for (size_t i = 0; i < g.n; i++)
		free((char *)g.msgs[i].name);
	free(g.msgs);
	return r < 0 ? r : 0;
}

/* The parts of UID of F that belong to OWNER. */
static int snap_parts(struct face *fc, struct dirsnap *d, struct folder *f, uint32_t uid,
                      const char *owner)
{
	struct msg_info mi;
	struct parts ps = { 0 };
	int r = msg_info(fc->m, f->id, uid, &mi);

	if (r == 0)
		r = parts_of(fc, f, uid, &ps);
	for (size_t i = 0; r == 0 && i < ps.n; i++) {
		struct dent *de;

		if (strcmp(ps.p[i].owner, owner) != 0)
			continue;
		if (!(de = face_snap_add(d, ps.p[i].name)))
			r = -ENOMEM;
		else
			part_attr(fc, &ps.p[i], mi.date, &de->st, &de->ttl);
	}
	parts_free(&ps, &mi);
	return r;
}

int views_snap(struct face *fc, fuse_ino_t ino, struct dirsnap *d)
{
	struct engine *m = fc->m;
	struct snap_ctx c = { .fc = fc, .d = d, .k = ino_view(ino) };
	struct folder *f;
	struct dent *de;
	int r;

	if (searchdir_is_ino(ino))
		return searchdir_snap(fc, ino, d);
	if (!(de = face_snap_add(d, ".")) || !(de = face_snap_add(d, "..")))
		return -ENOMEM;
	d->e[0].st.st_ino = ino;
	d->e[0].st.st_mode = d->e[1].st.st_mode = S_IFDIR;
	if (ino == INO_VIEWS) {
		for (enum view_kind v = VIEW_TEXT; v <= VIEW_PARTS; v++) {
			if (!(de = face_snap_add(d, kind_names[v])))
				return -ENOMEM;
			face_ro_dir_attr(fc, ino_view_msg(v, 0, 0), 0, m->mount_time, &de->st);
		}
		if (!(de = face_snap_add(d, SEARCH_NAME)))
			return -ENOMEM;
		return searchdir_getattr(fc, INO_VIEWS_SEARCH, &de->st);
	}
	if (c.k == VIEW_PART) {
		struct msg_info mi;
		struct parts ps;
		size_t i;

		r = part_find(fc, ino_part_id(ino), &f, &mi, &ps, &i);
		if (r == 0)
			r = snap_parts(fc, d, f, mi.uid, ps.p[i].section);
		parts_free(&ps, &mi);
		return r;
	}
	if (ino == INO_VIEWS_TEXT || ino == INO_VIEWS_PARTS)
		c.k = ino == INO_VIEWS_TEXT ? VIEW_TEXT : VIEW_PARTS;
	if ((r = view_folder(fc, ino, &f)) < 0)
		return r;
	if (f && (uint32_t)ino != 0)
		return snap_parts(fc, d, f, (uint32_t)ino, "");
	c.folder = f ? f->id : 0;
	tree_children(m, c.folder, snap_sub, &c);
	if (c.err)
		return c.err;
	if (f && folder_server(f) && !(folder_flags(f) & STORE_FOLDER_NOSELECT)) {
		d->stream_folder = f->id;     /* views_list_msgs() */
		d->stream_kind = c.k;
	}
	return r;
}

/* ---- reads and extended attributes ------------------------------------------------- */

static void reply_fd(fuse_req_t req, int fd, size_t size, off_t off)
{
	char *buf;
	ssize_t n;

	if (fd < 0) {
		face_reply_err(req, fd);
		return;
	}
	buf = malloc(size ? size : 1);
	if (!buf) {
		close(fd);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	do
		n = pread(fd, buf, size, off);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

void views_read(struct face *fc, fuse_req_t req, fuse_ino_t ino, size_t size, off_t off)
{
	struct folder *f;
	int r;

	if (ino_view(ino) == VIEW_PART) {
		struct msg_info mi;
		struct parts ps;
		size_t i;

		r = part_find(fc, ino_part_id(ino), &f, &mi, &ps, &i);
		if (r == 0 && ps.p[i].dir)
			r = -EISDIR;
		if (r == 0)
			reply_fd(req, view_part_open(fc->m, f, mi.uid, ps.p[i].section), size, off);
		else
			face_reply_err(req, r);
		parts_free(&ps, &mi);
		return;
	}
	if (ino_view(ino) != VIEW_TEXT || (uint32_t)ino == 0) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if ((r = view_folder(fc, ino, &f)) < 0) {
		face_reply_err(req, r);
		return;
	}
	reply_fd(req, view_text_open(fc->m, f, (uint32_t)ino), size, off);
}

#define CONTENT_TYPE "user.mail.content_type"

int views_getxattr(struct face *fc, fuse_ino_t ino, const char *name, char *buf, size_t size,
                   size_t *len_r)
{
	struct folder *f;
	struct msg_info mi;
	struct parts ps;
	size_t i;
	int r;

	if (ino_view(ino) != VIEW_PART || strcmp(name, CONTENT_TYPE) != 0)
		return -ENODATA;
	r = part_find(fc, ino_part_id(ino), &f, &mi, &ps, &i);
	if (r == 0) {
		*len_r = strlen(ps.p[i].type);
		if (*len_r > size)
			r = -ERANGE;
		else
			memcpy(buf, ps.p[i].type, *len_r);
	}
	parts_free(&ps, &mi);
	return r;
}

int views_listxattr(struct face *fc, fuse_ino_t ino, char *buf, size_t size, size_t *len_r)
{
	(void)fc;
	*len_r = 0;
	if (ino_view(ino) != VIEW_PART)
		return 0;
	if (size < sizeof(CONTENT_TYPE))
		return -ERANGE;
	memcpy(buf, CONTENT_TYPE, sizeof(CONTENT_TYPE));
	*len_r = sizeof(CONTENT_TYPE);
	return 0;
}
