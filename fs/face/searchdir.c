/* searchdir.c - the face of SPEC §9's search directories:
 *
 *   .mailfs/search/                lists nothing: a query is made by naming it
 *   .mailfs/search/QUERY/          the folder tree, as directories
 *   .mailfs/search/QUERY/F/        the messages of F that match QUERY, under
 *                                  their names and inode numbers in F/
 *
 * A message listed here is the message of F/ (the same inode), so reading
 * it, its xattrs, rm and mv act on it exactly as in F/ (ops.c maps a search
 * directory to its folder for unlink and rename). What matches may change
 * at any time, so these listings are not kept by the kernel, and the names
 * in them are said with a short timeout (TTL_GUESS).
 */
#include "fs/face/face.h"
#include "fs/engine/layout.h"
#include "cache/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The folder of search directory INO (NULL for a query's top). */
static int search_folder(struct face *fc, fuse_ino_t ino, struct folder **f_r)
{
	int64_t id = ino_search_folder(ino);

	*f_r = NULL;
	if (!search_known(fc->m, ino_search_query(ino)))
		return -ENOENT;
	if (!id)
		return 0;
	*f_r = tree_get(fc->m, id);
	if (!*f_r || folder_gone(*f_r))
		return -ENOENT;
	return 0;
}

int searchdir_lookup(struct face *fc, fuse_ino_t parent, const char *name,
                  struct fuse_entry_param *e)
{
	struct engine *m = fc->m;
	struct folder *f, *sub;
	uint32_t qid, uid, *uids;
	size_t n;
	int r;

	memset(e, 0, sizeof(*e));
	e->entry_timeout = TTL_GUESS;
	e->attr_timeout = TTL_LONG;
	if (parent == INO_VIEWS_SEARCH) {
		/* The one place where a directory name becomes a query; nothing
		 * of it is sent as it is (net/search.h). */
		if ((r = search_query(m, name, &qid)) < 0)
			return r;
		e->ino = ino_search(qid, 0);
		e->entry_timeout = TTL_LONG;
		pthread_rwlock_rdlock(&m->tree_lock);
		face_ro_dir_attr(fc, e->ino, m->ntop, m->mount_time, &e->attr);
		pthread_rwlock_unlock(&m->tree_lock);
		return 0;
	}
	if ((r = search_folder(fc, parent, &f)) < 0)
		return r;
	sub = tree_child(m, f ? f->id : 0, name);
	if (sub && sub->id < SEARCH_FOLDER_LIMIT) {
		e->ino = ino_search(ino_search_query(parent), sub->id);
		e->entry_timeout = TTL_LONG;
		pthread_rwlock_rdlock(&m->tree_lock);
		face_ro_dir_attr(fc, e->ino, sub->nsub, folder_mtime(sub), &e->attr);
		pthread_rwlock_unlock(&m->tree_lock);
		return 0;
	}
	if (!f || layout_message_uid(name, &uid) < 0)
		return -ENOENT;
	if ((r = search_run(m, ino_search_query(parent), f, &uids, &n)) < 0)
		return r;
	r = search_has(uids, n, uid) ? 0 : -ENOENT;
	free(uids);
	if (r == 0)
		r = face_msg_stat(fc, f->id, uid, name, &e->attr);
	e->ino = e->attr.st_ino;
	return r;
}

int searchdir_getattr(struct face *fc, fuse_ino_t ino, struct stat *st)
{
	struct engine *m = fc->m;
	struct folder *f;
	int r;

	if (ino == INO_VIEWS_SEARCH) {
		face_ro_dir_attr(fc, ino, 0, m->mount_time, st);
		return 0;
	}
	if ((r = search_folder(fc, ino, &f)) < 0)
		return r;
	pthread_rwlock_rdlock(&m->tree_lock);
	face_ro_dir_attr(fc, ino, f ? f->nsub : m->ntop, f ? folder_mtime(f) : m->mount_time, st);
	pthread_rwlock_unlock(&m->tree_lock);
	return 0;
}

int searchdir_opendir(struct face *fc, fuse_ino_t ino)
{
	struct folder *f;

	if (ino == INO_VIEWS_SEARCH)
		return 0;
	return search_folder(fc, ino, &f);
}

struct snap_ctx {
	struct face *fc;
	struct dirsnap *d;
	uint32_t qid;
	int64_t folder;
	const uint32_t *uids;
	size_t n;
	int err;
};

static void snap_sub(void *ctx, struct folder *f)
{
	struct snap_ctx *c = ctx;
	struct dent *de;

	if (f->id >= SEARCH_FOLDER_LIMIT)
		return;
	if (!(de = face_snap_add(c->d, f->name))) {
		c->err = -ENOMEM;
		return;
	}
	/* tree_lock is held (tree_children). */
	face_ro_dir_attr(c->fc, ino_search(c->qid, f->id), f->nsub, folder_mtime(f), &de->st);
}

static int snap_msg(void *ctx, const struct store_msg *msg)
{
	struct snap_ctx *c = ctx;
	struct dent *de;

	if (!search_has(c->uids, c->n, msg->uid))
		return 0;
	if (!(de = face_snap_add(c->d, msg->name)))
		return -ENOMEM;
	face_msg_attr(c->fc, c->folder, msg, &de->st);
	de->ttl = TTL_GUESS;
	return 0;
}

int searchdir_snap(struct face *fc, fuse_ino_t ino, struct dirsnap *d)
{
	struct engine *m = fc->m;
	struct snap_ctx c = { .fc = fc, .d = d };
	struct folder *f;
	uint32_t *uids = NULL;
	struct dent *de;
	int r;

	if (!(de = face_snap_add(d, ".")) || !(de = face_snap_add(d, "..")))
		return -ENOMEM;
	d->e[0].st.st_ino = ino;
	d->e[0].st.st_mode = d->e[1].st.st_mode = S_IFDIR;
	if (ino == INO_VIEWS_SEARCH)
		return 0;
	if ((r = search_folder(fc, ino, &f)) < 0)
		return r;
	c.qid = ino_search_query(ino);
	c.folder = f ? f->id : 0;
	tree_children(m, c.folder, snap_sub, &c);
	if (c.err || !f)
		return c.err;
	if ((r = search_run(m, c.qid, f, &uids, &c.n)) < 0)
		return r;
	c.uids = uids;
	if (c.n)
		r = store_msg_list(m->store, f->id, 0, 0, snap_msg, &c);
	free(uids);
	return r;
}
