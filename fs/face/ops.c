/* ops.c - FUSE low-level operations (fs_op_*).
 *
 * Each handler sends exactly one reply. Helpers return 0 or a negative
 * errno; handlers only translate.
 *
 * Messages are immutable, so their entries and attributes are given long
 * timeouts, and `open` answers ENOSYS once so that the kernel stops sending
 * OPEN/RELEASE and keeps page caches across opens (SPEC §7). What changes
 * on the server is pushed into the kernel with invalidations (notify.c).
 */
#include "fs/face/face.h"
#include "net/grow.h"
#include "fs/face/write.h"
#include "fs/engine/change.h"
#include "fs/engine/fetch.h"
#include "fs/engine/layout.h"
#include "fs/log.h"
#include "cache/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

static struct face *F(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

int face_errno(int r)
{
	switch (-r) {
	case EPROTO:
	case ETIMEDOUT:
	case ECONNRESET:
	case EBADMSG:
	case ESTALE:
		return EIO;
	default:
		return -r;
	}
}

void face_reply_err(fuse_req_t req, int r)
{
	fuse_reply_err(req, face_errno(r));
}

/* ---- attributes ----------------------------------------------------------- */

void face_dir_attr(struct face *fc, fuse_ino_t ino, int nsub, time_t mtime, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFDIR | 0700;
	st->st_nlink = 2 + (nlink_t)nsub;
	st->st_uid = fc->uid;
	st->st_gid = fc->gid;
	st->st_size = 4096;
	st->st_blksize = 4096;
	st->st_atime = st->st_mtime = st->st_ctime = mtime;
}

void face_ro_dir_attr(struct face *fc, fuse_ino_t ino, int nsub, time_t mtime, struct stat *st)
{
	face_dir_attr(fc, ino, nsub, mtime, st);
	st->st_mode = S_IFDIR | 0500;
}

void face_file_attr(struct face *fc, fuse_ino_t ino, mode_t perm, uint64_t size, time_t date,
                    struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFREG | perm;
	st->st_nlink = 1;
	st->st_uid = fc->uid;
	st->st_gid = fc->gid;
	st->st_size = (off_t)size;
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
	st->st_blksize = 4096;
	st->st_atime = st->st_mtime = st->st_ctime = date;
}

void face_msg_attr(struct face *fc, int64_t folder, const struct store_msg *msg,
                   struct stat *st)
{
	face_file_attr(fc, ino_msg(folder, msg->uid), 0600, msg->size, (time_t)msg->date, st);
}

/* The status file: regenerated at most five times a second, on getattr;
 * reads serve the text the last getattr measured. Its attributes are never
 * cached (timeout 0), and its mtime moves with each new text, so the kernel
 * drops stale pages (FUSE_CAP_AUTO_INVAL_DATA). The kernel asks getattr
 * before each read(2), so a text is kept while a reader is part-way
 * through it (for up to a second between reads): `cat` of a large status
 * sees one text, not pieces of several. */
static pthread_mutex_t status_text_lock = PTHREAD_MUTEX_INITIALIZER;
static char *status_text;            /* protected by status_text_lock */
static size_t status_len;            /* protected by status_text_lock */
static struct timespec status_when;  /* protected by status_text_lock */
static struct timespec status_mid;   /* protected by status_text_lock: last read
                                        that stopped short of the end; 0 if none */

static long ms_since(struct timespec then, struct timespec now)
{
	return (now.tv_sec - then.tv_sec) * 1000L + (now.tv_nsec - then.tv_nsec) / 1000000L;
}

static void status_attr(struct face *fc, struct stat *st)
{
	struct engine *m = fc->m;
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	pthread_mutex_lock(&status_text_lock);
	/* Fresh enough for a person, cheap enough for `ls -l` in a loop. */
	if (!status_text || (ms_since(status_when, now) > 200 &&
	                     (!status_mid.tv_sec || ms_since(status_mid, now) > 1000))) {
		char *text;
		size_t len;

		if (status_render(m, &text, &len) == 0) {
			free(status_text);
			status_text = text;
			status_len = len;
			status_when = now;
			status_mid = (struct timespec){ 0 };
		}
	}
	face_file_attr(fc, INO_STATUS, 0400, status_len, status_when.tv_sec, st);
	st->st_mtim = status_when;
	st->st_ctim = status_when;
	st->st_atim = status_when;
	pthread_mutex_unlock(&status_text_lock);
}

struct msg_lookup {
	struct face *fc;
	int64_t folder;
	const char *name;       /* when set, must match */
	struct stat *st;
	int found;
};

static int msg_found(void *ctx, const struct store_msg *msg)
{
	struct msg_lookup *l = ctx;

	if (l->name && strcmp(l->name, msg->name) != 0)
		return 0;
	face_msg_attr(l->fc, l->folder, msg, l->st);
	l->found = 1;
	return 0;
}

int face_msg_stat(struct face *fc, int64_t folder, uint32_t uid, const char *name,
                  struct stat *st)
{
	struct msg_lookup l = { .fc = fc, .folder = folder, .name = name, .st = st };
	int r = store_msg_get(fc->m->store, folder, uid, msg_found, &l);

	return r < 0 ? r : l.found ? 0 : -ENOENT;
}

/* Attributes of ino. */
static int get_attr(struct face *fc, fuse_ino_t ino, struct stat *st, double *ttl_r)
{
	struct engine *m = fc->m;
	struct folder *f;

	*ttl_r = TTL_LONG;
	if (views_is_ino(ino))
		return views_getattr(fc, ino, st, ttl_r);
	if (ino == INO_ROOT) {
		pthread_rwlock_rdlock(&m->tree_lock);
		face_dir_attr(fc, ino, m->ntop, m->mount_time, st);
		pthread_rwlock_unlock(&m->tree_lock);
		return 0;
	}
	if (ino == INO_STATUS) {
		status_attr(fc, st);
		*ttl_r = 0;
		return 0;
	}
	if (write_is_ino(ino)) {
		*ttl_r = 0;
		return write_getattr(fc, ino, st);
	}
	f = tree_get(m, ino_folder_id(ino));
	if (!f || folder_gone(f))
		return -ENOENT;
	if (ino_uid(ino) == 0) {
		pthread_rwlock_rdlock(&m->tree_lock);
		face_dir_attr(fc, ino, f->nsub, folder_mtime(f), st);
		pthread_rwlock_unlock(&m->tree_lock);
		return 0;
	}
	return face_msg_stat(fc, f->id, ino_uid(ino), NULL, st);
}

/* ---- lookup --------------------------------------------------------------- */

static int lookup(struct face *fc, fuse_ino_t parent, const char *name,
                  struct fuse_entry_param *e)
{
	struct engine *m = fc->m;
	struct folder *dir = NULL, *sub;
	int64_t pid = 0;
	uint32_t uid;
	int r;

	if (views_is_ino(parent) || (parent == INO_ROOT && strcmp(name, VIEWS_NAME) == 0))
		return views_lookup(fc, parent, name, e);
	memset(e, 0, sizeof(*e));
	e->entry_timeout = TTL_LONG;
	e->attr_timeout = TTL_LONG;
	if (parent == INO_ROOT) {
		if (strcmp(name, STATUS_NAME) == 0) {
			e->ino = INO_STATUS;
			e->attr_timeout = 0;
			status_attr(fc, &e->attr);
			return 0;
		}
	} else {
		if (ino_uid(parent) != 0)
			return -ENOTDIR;
		dir = tree_get(m, ino_folder_id(parent));
		if (!dir || folder_gone(dir))
			return -ENOENT;
		pid = dir->id;
	}
	if (dir) {
		/* A file being written, or a name kept for a moved message. */
		r = write_lookup(fc, pid, name, e);
		if (r == 0)
			return 0;
		if (r == 1) {
			double ttl;
			return get_attr(fc, e->ino, &e->attr, &ttl);
		}
	}
	sub = tree_child(m, pid, name);
	if (sub) {
		e->ino = ino_folder(sub->id);
		pthread_rwlock_rdlock(&m->tree_lock);
		face_dir_attr(fc, e->ino, sub->nsub, folder_mtime(sub), &e->attr);
		pthread_rwlock_unlock(&m->tree_lock);
		return 0;
	}
	if (!dir || layout_message_uid(name, &uid) < 0)
		return -ENOENT;
	r = folder_ensure(m, dir);
	if (r < 0)
		return r;
	r = face_msg_stat(fc, dir->id, uid, name, &e->attr);
	e->ino = e->attr.st_ino;
	return r;
}

static void fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int r = lookup(F(req), parent, name, &e);

	if (r == -ENOENT) {
		/* A negative entry, cached briefly: new mail is announced by
		 * invalidation anyway. */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = TTL_NEGATIVE;
		fuse_reply_entry(req, &e);
	} else if (r < 0) {
		face_reply_err(req, r);
	} else {
		fuse_reply_entry(req, &e);
	}
}

static void fs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	double ttl;
	int r = get_attr(F(req), ino, &st, &ttl);

	(void)fi;
	if (r < 0)
		face_reply_err(req, r);
	else
		fuse_reply_attr(req, &st, ttl);
}

/* ---- directories ---------------------------------------------------------- */

struct dent *face_snap_add(struct dirsnap *d, const char *name)
{
	if (ARRAY_RESERVE(d->e, d->n, d->cap) < 0)
		return NULL;
	d->e[d->n].name = strdup(name);
	if (!d->e[d->n].name)
		return NULL;
	d->e[d->n].ttl = TTL_LONG;
	return &d->e[d->n++];
}

static void snap_free(struct dirsnap *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->e[i].name);
	free(d->e);
	d->e = NULL;
	d->n = d->cap = 0;
}

/* An open directory. The root and the folders are streamed (dirlist.c):
 * all a handle keeps of them is the ids of the subdirectories, taken when
 * a pass starts (8 bytes a subdirectory, at most TREE_MAX_FOLDERS), so that
 * a pass lists each once, in id order, whatever happens to the tree's
 * sibling lists meanwhile. The views and search directories keep a whole
 * snapshot (views.c, searchdir.c). The kernel sends one readdir of a
 * handle at a time (the file's position lock), so no lock here. */
struct dirh {
	struct dirsnap snap;        /* views and search directories */
	int64_t *subs;              /* ids of the subdirectories, ascending */
	size_t nsubs, capsubs;
	int subs_taken;
	int subs_err;
};

static void dirh_free(struct dirh *h)
{
	if (!h)
		return;
	snap_free(&h->snap);
	free(h->subs);
	free(h);
}

static void take_sub(void *ctx, struct folder *f)
{
	struct dirh *h = ctx;

	if (h->subs_err)
		return;
	if (ARRAY_RESERVE(h->subs, h->nsubs, h->capsubs) < 0) {
		h->subs_err = -ENOMEM;
		return;
	}
	h->subs[h->nsubs++] = f->id;
}

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* The subdirectories of DIR (0: the root) after offset OFF: 1 when all
 * fit, 0 when B filled up first. */
static int list_subs(struct face *fc, struct dirh *h, int64_t dir, off_t off, struct dirbuf *b)
{
	struct engine *m = fc->m;
	size_t lo = 0, hi;

	if (!h->subs_taken || off == 0) {
		/* A pass starts: rewinddir shows the tree as it is now. */
		h->nsubs = 0;
		h->subs_err = 0;
		tree_children(m, dir, take_sub, h);
		if (h->subs_err)
			return h->subs_err;
		qsort(h->subs, h->nsubs, sizeof(*h->subs), cmp_id);
		h->subs_taken = 1;
	}
	if (off >= DIR_OFF_SUB) {
		hi = h->nsubs;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (DIR_OFF_SUB + h->subs[mid] <= off)
				lo = mid + 1;
			else
				hi = mid;
		}
	}
	for (size_t i = lo; i < h->nsubs; i++) {
		struct folder *f = tree_get(m, h->subs[i]);
		struct stat st;
		int fit = 1;

		if (!f)
			continue;
		pthread_rwlock_rdlock(&m->tree_lock);
		/* Gone or moved away meanwhile: not listed (readdir(3) allows
		 * either). */
		if (!f->gone && f->parent == dir) {
			face_dir_attr(fc, ino_folder(f->id), f->nsub, folder_mtime(f), &st);
			fit = dirbuf_add(b, f->name, &st, TTL_LONG, DIR_OFF_SUB + (off_t)f->id);
		}
		pthread_rwlock_unlock(&m->tree_lock);
		if (!fit)
			return 0;
	}
	return 1;
}

/* The messages of F after offset OFF. During a first listing (folder.c)
 * what the store holds so far is answered, and a reader who has listed
 * all of it waits for the next batch of the server's answer, or its end
 * (an error then, if it failed). */
static int list_msgs(struct folder *f, off_t off, struct dirbuf *b, struct face *fc)
{
	for (;;) {
		uint32_t upto;
		int listing = folder_listing(f, &upto), r;

		if (listing < 0)
			return listing;
		r = dirlist_msgs(fc, f->id, off, b);
		if (r < 0 || b->full || b->used || !listing)
			return r;
		/* All stored so far was listed (up to UPTO at least). */
		r = folder_listed(f, upto);
		if (r < 0)
			return r;
	}
}

/* The root or folder INO from offset OFF (see DIR_OFF_* in face.h): ".",
 * "..", the subdirectories, then the messages (dirlist.c), or in the root
 * the status file and .mailfs. */
static int list_stream(struct face *fc, fuse_ino_t ino, struct dirh *h, off_t off,
                       struct dirbuf *b)
{
	struct engine *m = fc->m;
	struct folder *f = NULL;
	struct stat st;
	int r;

	if (ino != INO_ROOT) {
		f = tree_get(m, ino_folder_id(ino));
		if (!f || folder_gone(f))
			return -ENOENT;
	}
	memset(&st, 0, sizeof(st));
	st.st_mode = S_IFDIR;
	if (off < 1) {
		st.st_ino = ino;
		if (!dirbuf_add(b, ".", &st, TTL_LONG, 1))
			return 0;
	}
	if (off < 2) {
		st.st_ino = 0;
		if (!dirbuf_add(b, "..", &st, TTL_LONG, 2))
			return 0;
	}
	if (off < DIR_OFF_MSGS) {
		r = list_subs(fc, h, f ? f->id : 0, off, b);
		if (r <= 0)
			return r;
	}
	if (f) {
		if (folder_server(f) && !(folder_flags(f) & STORE_FOLDER_NOSELECT))
			return list_msgs(f, off, b, fc);
		return 0;
	}
	if (off < DIR_OFF_MSGS + 1) {
		status_attr(fc, &st);
		if (!dirbuf_add(b, STATUS_NAME, &st, 0, DIR_OFF_MSGS + 1))
			return 0;
	}
	/* Hidden unless asked for: grep -r, find, du and backups see each
	 * message once (SPEC §9). */
	if (m->opt->show_views && off < DIR_OFF_MSGS + 2) {
		struct fuse_entry_param e;

		views_lookup(fc, INO_ROOT, VIEWS_NAME, &e);
		dirbuf_add(b, VIEWS_NAME, &e.attr, TTL_LONG, DIR_OFF_MSGS + 2);
	}
	return 0;
}

/* A directory of the views from its snapshot, offset = index + 1; then,
 * for a folder's directory of the text or parts view, its messages
 * streamed (offset DIR_OFF_MSGS + UID). */
static int list_snap(struct face *fc, fuse_ino_t ino, struct dirsnap *d, off_t off,
                     struct dirbuf *b)
{
	if (!d->built || off == 0) {
		/* (Re)build at the start of a pass: rewinddir shows fresh data. */
		snap_free(d);
		d->stream_folder = 0;
		d->err = views_snap(fc, ino, d);
		d->built = 1;
	}
	if (d->err)
		return d->err;
	for (size_t i = (size_t)off; off < DIR_OFF_MSGS && i < d->n; i++)
		if (!dirbuf_add(b, d->e[i].name, &d->e[i].st, d->e[i].ttl, (off_t)i + 1))
			return 0;
	if (d->stream_folder)
		return views_list_msgs(fc, d, off, b);
	return 0;
}

static void fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct face *fc = F(req);
	struct engine *m = fc->m;
	struct dirh *h;
	int r = 0;

	if (views_is_ino(ino)) {
		r = views_opendir(fc, ino);
		if (r < 0) {
			face_reply_err(req, r);
			return;
		}
	} else if (ino != INO_ROOT) {
		struct folder *f = tree_get(m, ino_folder_id(ino));

		if (ino_uid(ino) != 0) {
			fuse_reply_err(req, ENOTDIR);
			return;
		}
		if (!f || folder_gone(f)) {
			fuse_reply_err(req, ENOENT);
			return;
		}
		/* A first listing goes on while readdir answers. */
		r = folder_open(m, f);
		if (r < 0) {
			face_reply_err(req, r);
			return;
		}
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)h;
	/* The kernel may keep the listing until we invalidate it; what a
	 * search finds is asked anew each time (searchdir.c). */
	fi->cache_readdir = !searchdir_is_ino(ino);
	fi->keep_cache = fi->cache_readdir;
	if (fuse_reply_open(req, fi) == -ENOENT)
		dirh_free(h);   /* interrupted: no releasedir will come */
}

static void readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           struct fuse_file_info *fi, int plus)
{
	struct face *fc = F(req);
	struct dirh *h = (struct dirh *)(uintptr_t)fi->fh;
	struct dirbuf b = { .req = req, .size = size, .plus = plus };
	int r;

	if (!(b.buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (views_is_ino(ino))
		r = list_snap(fc, ino, &h->snap, off, &b);
	else
		r = list_stream(fc, ino, h, off, &b);
	/* What fit before an error is answered; the next call meets it. */
	if (r < 0 && b.used == 0)
		face_reply_err(req, r);
	else
		fuse_reply_buf(req, b.buf, b.used);
	free(b.buf);
}

static void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                          struct fuse_file_info *fi)
{
	readdir_common(req, ino, size, off, fi, 0);
}

static void fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                              struct fuse_file_info *fi)
{
	readdir_common(req, ino, size, off, fi, 1);
}

static void fs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	dirh_free((struct dirh *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* ---- files ------------------------------------------------------------------ */

static void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	/* SPEC §7: no OPEN/RELEASE round trips for immutable messages. The
	 * kernel remembers this answer for the life of the mount. */
	fuse_reply_err(req, ENOSYS);
}

/* A read of a message body, answered when the engine has the bytes. */
struct face_read {
	struct fetch_reader r;      /* first: read_done casts back */
	fuse_req_t req;
};

static void read_done(struct fetch_reader *r, const char *data, size_t len, int err)
{
	struct face_read *fr = (struct face_read *)r;

	if (err)
		fuse_reply_err(fr->req, err);
	else
		fuse_reply_buf(fr->req, data, len);
	free(fr);
}

static void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
	struct face *fc = F(req);
	struct engine *m = fc->m;
	struct face_read *fr;

	(void)fi;
	if (ino == INO_STATUS) {
		size_t left;

		pthread_mutex_lock(&status_text_lock);
		left = (size_t)off < status_len ? status_len - (size_t)off : 0;
		if (size < left)
			clock_gettime(CLOCK_REALTIME, &status_mid);
		else
			status_mid = (struct timespec){ 0 };
		fuse_reply_buf(req, left ? status_text + off : NULL, size < left ? size : left);
		pthread_mutex_unlock(&status_text_lock);
		return;
	}
	if (write_is_ino(ino)) {
		write_read(fc, req, ino, size, off);
		return;
	}
	if (views_is_ino(ino)) {
		views_read(fc, req, ino, size, off);
		return;
	}
	if (ino == INO_ROOT || ino_uid(ino) == 0) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	fr = calloc(1, sizeof(*fr));
	if (!fr) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fr->req = req;
	fr->r.off = off;
	fr->r.size = size;
	fr->r.done = read_done;
	fetch_read(m, ino_folder_id(ino), ino_uid(ino), &fr->r);
}

/* ---- extended attributes (SPEC §2) ----------------------------------------- */

struct xattr_ctx {
	const char *name;
	char value[4096];
	size_t len;
	int found;
	int pop3;
};

static void xattr_put(struct xattr_ctx *x, const char *v)
{
	size_t n = strlen(v);

	if (n > sizeof(x->value))
		n = sizeof(x->value);
	memcpy(x->value, v, n);
	x->len = n;
	x->found = 1;
}

static int xattr_get(void *ctx, const struct store_msg *msg)
{
	struct xattr_ctx *x = ctx;

	if (strcmp(x->name, "user.mail.flags") == 0) {
		xattr_put(x, msg->flags);
	} else if (strcmp(x->name, "user.mail.uid") == 0 && !x->pop3) {
		char buf[16];
		snprintf(buf, sizeof(buf), "%u", msg->uid);
		xattr_put(x, buf);
	} else if (strcmp(x->name, "user.pop3.uidl") == 0 && x->pop3 && msg->uidl) {
		xattr_put(x, msg->uidl);
	} else if (strcmp(x->name, "user.mail.message_id") == 0 && msg->msgid) {
		xattr_put(x, msg->msgid);
	}
	return 0;
}

static int xattr_list(void *ctx, const struct store_msg *msg)
{
	struct xattr_ctx *x = ctx;
	static const char flags[] = "user.mail.flags", uid[] = "user.mail.uid",
	                  uidl[] = "user.pop3.uidl", mid[] = "user.mail.message_id";

	x->len = 0;
	memcpy(x->value, flags, sizeof(flags));
	x->len += sizeof(flags);
	if (x->pop3) {
		memcpy(x->value + x->len, uidl, sizeof(uidl));
		x->len += sizeof(uidl);
	} else {
		memcpy(x->value + x->len, uid, sizeof(uid));
		x->len += sizeof(uid);
	}
	if (msg->msgid) {
		memcpy(x->value + x->len, mid, sizeof(mid));
		x->len += sizeof(mid);
	}
	x->found = 1;
	return 0;
}

void face_reply_xattr(fuse_req_t req, const char *v, size_t len, size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, v, len);
}

#define SPECIAL_USE_XATTR "user.mail.special_use"

static void fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct face *fc = F(req);
	struct engine *m = fc->m;
	struct xattr_ctx x = { .name = name, .pop3 = (m->driver->caps & DRIVER_UIDL) != 0 };
	int r;

	/* Only the user namespace exists here. Answering ENOTSUP (not
	 * ENODATA) for the others makes `ls -l` stop asking for
	 * security.selinux and POSIX ACLs after the first file (SPEC §7). */
	if (strncmp(name, "user.", 5) != 0) {
		fuse_reply_err(req, ENOTSUP);
		return;
	}
	if (write_is_ino(ino) && strcmp(name, "user.mail.flags") == 0) {
		r = write_get_flags(fc, ino, x.value, sizeof(x.value));
		if (r < 0)
			face_reply_err(req, r);
		else
			face_reply_xattr(req, x.value, (size_t)r, size);
		return;
	}
	if (views_is_ino(ino)) {
		size_t len = 0;

		r = views_getxattr(fc, ino, name, x.value, size ? size : sizeof(x.value), &len);
		if (r < 0)
			face_reply_err(req, r);
		else
			face_reply_xattr(req, x.value, len, size);
		return;
	}
	if (ino == INO_ROOT || ino == INO_STATUS || ino_uid(ino) == 0) {
		/* A folder's role (RFC 6154), where the server says it. */
		struct folder *f = ino_uid(ino) == 0 ? tree_get(m, ino_folder_id(ino)) : NULL;
		const char *role = f ? folder_role_name(folder_role(f)) : NULL;

		if (role && strcmp(name, SPECIAL_USE_XATTR) == 0)
			face_reply_xattr(req, role, strlen(role), size);
		else
			fuse_reply_err(req, ENODATA);
		return;
	}
	r = store_msg_get(m->store, ino_folder_id(ino), ino_uid(ino), xattr_get, &x);
	if (r < 0)
		face_reply_err(req, r);
	else if (!x.found)
		fuse_reply_err(req, ENODATA);
	else
		face_reply_xattr(req, x.value, x.len, size);
}

static void fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct face *fc = F(req);
	struct engine *m = fc->m;
	struct xattr_ctx x = { .pop3 = (m->driver->caps & DRIVER_UIDL) != 0 };
	int r;

	if (views_is_ino(ino)) {
		size_t len = 0;

		r = views_listxattr(fc, ino, x.value, sizeof(x.value), &len);
		if (r < 0)
			face_reply_err(req, r);
		else
			face_reply_xattr(req, x.value, len, size);
		return;
	}
	if (ino == INO_ROOT || ino == INO_STATUS || ino_uid(ino) == 0) {
		struct folder *f = ino_uid(ino) == 0 ? tree_get(m, ino_folder_id(ino)) : NULL;

		if (f && folder_role(f))
			face_reply_xattr(req, SPECIAL_USE_XATTR, sizeof(SPECIAL_USE_XATTR), size);
		else
			face_reply_xattr(req, "", 0, size);
		return;
	}
	r = store_msg_get(m->store, ino_folder_id(ino), ino_uid(ino), xattr_list, &x);
	if (r < 0)
		face_reply_err(req, r);
	else
		face_reply_xattr(req, x.value, x.len, size);
}

/* ---- the rest ----------------------------------------------------------------- */

static void fs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv = {
		.f_bsize = 4096, .f_frsize = 4096,
		/* Mail has no fixed size; report plenty of room so that file
		 * managers do not refuse to copy in. */
		.f_blocks = 1ull << 30, .f_bfree = 1ull << 29, .f_bavail = 1ull << 29,
		.f_files = 1ull << 32, .f_ffree = 1ull << 31, .f_favail = 1ull << 31,
		.f_namemax = LAYOUT_NAME_MAX,
	};

	(void)ino;
	fuse_reply_statfs(req, &sv);
}

static void fs_op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* Always readdirplus: the attributes come with the listing anyway. */
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	if (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT)
		conn->want |= FUSE_CAP_NO_OPEN_SUPPORT;
	if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
	conn->time_gran = 1000000000;
}

/* ---- changes (SPEC §2 "Operations") ---------------------------------------- */

/* The folder behind directory inode INO (NULL for the root). */
static int dir_folder(struct engine *m, fuse_ino_t ino, const char *name, struct folder **f_r)
{
	struct folder *f;

	*f_r = NULL;
	/* The views are read-only, and their name is taken (SPEC §9); a
	 * search is made by naming it, not by mkdir. */
	if (ino == INO_VIEWS_SEARCH)
		return -EPERM;
	if (views_is_ino(ino) || (ino == INO_ROOT && strcmp(name, VIEWS_NAME) == 0))
		return -EROFS;
	if (ino == INO_ROOT)
		return 0;
	if (ino_uid(ino) != 0 || write_is_ino(ino) || ino == INO_STATUS)
		return -ENOTDIR;
	f = tree_get(m, ino_folder_id(ino));
	if (!f || folder_gone(f))
		return -ENOENT;
	*f_r = f;
	return 0;
}

/* The directory a message found in search directory INO lives in, where
 * rm and mv act on it (SPEC §9); any other INO as it is. */
static fuse_ino_t msg_dir(fuse_ino_t ino)
{
	if (ino_view(ino) == VIEW_SEARCH && ino_search_folder(ino))
		return ino_folder(ino_search_folder(ino));
	return ino;
}

/* The message NAME in directory F: its UID. */
static int msg_by_name(struct face *fc, struct folder *f, const char *name, uint32_t *uid_r)
{
	struct stat st;
	int r;

	if (layout_message_uid(name, uid_r) < 0)
		return -ENOENT;
	r = folder_ensure(fc->m, f);
	return r < 0 ? r : face_msg_stat(fc, f->id, *uid_r, name, &st);
}

/* A new file NAME in directory PARENT: a message once it is written and
 * closed. */
static int create_file(struct face *fc, fuse_ino_t parent, const char *name,
                       struct fuse_entry_param *e)
{
	struct engine *m = fc->m;
	struct folder *f;
	uint32_t uid;
	int r;

	r = dir_folder(m, parent, name, &f);
	if (r == 0 && (!f || !(m->driver->caps & DRIVER_WRITE)))
		r = -EPERM;        /* the root holds folders; POP3 takes no mail in */
	if (r == 0 && (tree_child(m, f->id, name) || msg_by_name(fc, f, name, &uid) == 0))
		r = -EEXIST;
	if (r == 0)
		r = write_create(fc, f, name, e);
	return r;
}

static void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                         struct fuse_file_info *fi)
{
	struct face *fc = F(req);
	struct fuse_entry_param e;
	int r;

	(void)mode;
	r = create_file(fc, parent, name, &e);
	if (r < 0) {
		face_reply_err(req, r);
		return;
	}
	fi->fh = e.ino;
	fi->keep_cache = 0;
	if (fuse_reply_create(req, &e, fi) == -ENOENT)
		write_forget(fc, e.ino, 1);    /* interrupted: the kernel never saw it */
}

static void fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
                        off_t off, struct fuse_file_info *fi)
{
	ssize_t n;

	(void)fi;
	if (!write_is_ino(ino)) {
		/* Messages are immutable (SPEC §2), views read-only (§9). */
		fuse_reply_err(req, views_is_ino(ino) ? EROFS :
		                    ino == INO_ROOT || ino_uid(ino) == 0 ? EISDIR : EPERM);
		return;
	}
	n = write_data(F(req), ino, buf, size, off);
	if (n < 0)
		face_reply_err(req, (int)n);
	else
		fuse_reply_write(req, (size_t)n);
}

static void fs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	face_reply_err(req, write_is_ino(ino) ? write_flush(F(req), ino) : 0);
}

static void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)fi;
	(void)datasync;
	face_reply_err(req, write_is_ino(ino) ? write_flush(F(req), ino) : 0);
}

static void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	if (write_is_ino(ino))
		write_release(F(req), ino);
	fuse_reply_err(req, 0);
}

static void fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	/* Only files being written hold state; other inodes are computed. */
	if (write_is_ino(ino))
		write_forget(F(req), ino, nlookup);
	fuse_reply_none(req);
}

static void fs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *fd)
{
	for (size_t i = 0; i < count; i++)
		if (write_is_ino(fd[i].ino))
			write_forget(F(req), fd[i].ino, fd[i].nlookup);
	fuse_reply_none(req);
}

static void fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                          struct fuse_file_info *fi)
{
	struct face *fc = F(req);
	struct stat st;
	double ttl;
	int r;

	(void)fi;
	if (write_is_ino(ino)) {
		r = write_setattr(fc, ino, attr, to_set, &st);
		if (r < 0)
			face_reply_err(req, r);
		else
			fuse_reply_attr(req, &st, 0);
		return;
	}
	r = get_attr(fc, ino, &st, &ttl);
	if (r < 0) {
		face_reply_err(req, r);
		return;
	}
	if (views_is_ino(ino) && to_set) {
		fuse_reply_err(req, EROFS);
		return;
	}
	/* Directories take chmod, chown and times and ignore them, so that
	 * cp -p, rsync -a and tar x finish. A message takes times (nothing can
	 * change its INTERNALDATE) but not a new mode, owner or size. */
	if (S_ISREG(st.st_mode) && ino != INO_STATUS &&
	    (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID |
	               FUSE_SET_ATTR_SIZE))) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (ino == INO_STATUS && to_set) {
		fuse_reply_err(req, EPERM);
		return;
	}
	fuse_reply_attr(req, &st, ttl);
}

static void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct face *fc = F(req);
	struct engine *m = fc->m;
	struct folder *f;
	uint32_t uid;
	int r;

	r = dir_folder(m, msg_dir(parent), name, &f);
	if (r == 0 && !f)
		r = strcmp(name, STATUS_NAME) == 0 ? -EPERM : -ENOENT;
	if (r == 0) {
		r = write_unlink(fc, f->id, name);
		if (r == -ENOENT) {
			r = msg_by_name(fc, f, name, &uid);
			if (r == 0)
				r = change_unlink(m, f, uid);
		}
	}
	face_reply_err(req, r);
}

static void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
                         fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct face *fc = F(req);
	struct engine *m = fc->m;
	struct folder *f, *to, *sub;
	uint32_t uid, nuid;
	int r;

	if (flags & RENAME_EXCHANGE) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	r = dir_folder(m, msg_dir(parent), name, &f);
	if (r == 0)
		r = dir_folder(m, newparent, newname, &to);
	if (r < 0)
		goto out;
	sub = tree_child(m, f ? f->id : 0, name);
	if (sub) {
		/* A directory: RENAME on the server. */
		r = change_rename_dir(m, sub, to ? to->id : 0, newname);
		goto out;
	}
	if (!f) {
		r = strcmp(name, STATUS_NAME) == 0 ? -EPERM : -ENOENT;
		goto out;
	}
	if (to && (tree_child(m, to->id, newname) || msg_by_name(fc, to, newname, &uid) == 0)) {
		/* Replacing a message would delete one: refuse. */
		r = -EEXIST;
		goto out;
	}
	r = write_rename(fc, f->id, name, to ? to->id : 0, newname);
	if (r != -ENOENT)
		goto out;
	r = msg_by_name(fc, f, name, &uid);
	if (r < 0)
		goto out;
	if (!to)
		r = -EXDEV;
	else if (to == f)
		r = -EPERM;      /* names come from the message: they cannot change */
	else if ((r = change_move(m, f, uid, to, &nuid)) == 0 && nuid)
		/* The name the program moved it to keeps meaning the message
		 * for a while; `ls` shows the derived name only. */
		names_add(fc, to->id, newname, ino_msg(to->id, nuid));
out:
	face_reply_err(req, r);
}

static void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct face *fc = F(req);
	struct engine *m = fc->m;
	struct fuse_entry_param e = { 0 };
	struct folder *p, *f = NULL;
	int r;

	(void)mode;
	r = dir_folder(m, parent, name, &p);
	if (r == 0)
		r = change_mkdir(m, p ? p->id : 0, name, &f);
	if (r < 0) {
		face_reply_err(req, r);
		return;
	}
	e.ino = ino_folder(f->id);
	e.entry_timeout = e.attr_timeout = TTL_LONG;
	pthread_rwlock_rdlock(&m->tree_lock);
	face_dir_attr(fc, e.ino, f->nsub, folder_mtime(f), &e.attr);
	pthread_rwlock_unlock(&m->tree_lock);
	fuse_reply_entry(req, &e);
}

static void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct face *fc = F(req);
	struct engine *m = fc->m;
	struct folder *p, *f;
	int r;

	r = dir_folder(m, parent, name, &p);
	if (r == 0) {
		f = tree_child(m, p ? p->id : 0, name);
		r = f ? change_rmdir(m, f) : -ENOENT;
	}
	face_reply_err(req, r);
}

static void fs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
                           const char *value, size_t size, int flags)
{
	struct face *fc = F(req);
	struct engine *m = fc->m;
	struct folder *f;
	int r;

	(void)flags;
	if (views_is_ino(ino)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (strcmp(name, "user.mail.flags") != 0) {
		fuse_reply_err(req, strncmp(name, "user.", 5) == 0 ? EPERM : ENOTSUP);
		return;
	}
	if (write_is_ino(ino)) {
		face_reply_err(req, write_set_flags(fc, ino, value, size));
		return;
	}
	if (ino == INO_ROOT || ino == INO_STATUS || ino_uid(ino) == 0) {
		fuse_reply_err(req, EPERM);
		return;
	}
	f = tree_get(m, ino_folder_id(ino));
	r = f && !folder_gone(f) ? change_set_flags(m, f, ino_uid(ino), value, size) : -ENOENT;
	face_reply_err(req, r);
}

static void fs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	/* Removing the flags attribute clears the flags. */
	if (strcmp(name, "user.mail.flags") == 0) {
		fs_op_setxattr(req, ino, name, "", 0, 0);
		return;
	}
	fuse_reply_err(req, strncmp(name, "user.", 5) == 0 ? EPERM : ENOTSUP);
}

static void fs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	(void)ino; (void)newparent; (void)newname;
	fuse_reply_err(req, EPERM);
}

static void fs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	(void)link; (void)parent; (void)name;
	fuse_reply_err(req, EPERM);
}

static void fs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                        dev_t rdev)
{
	struct face *fc = F(req);
	struct fuse_entry_param e;
	int r;

	(void)rdev;
	/* Some programs create regular files with mknod; nothing else is a
	 * message. */
	r = S_ISREG(mode) ? create_file(fc, parent, name, &e) : -EPERM;
	if (r < 0)
		face_reply_err(req, r);
	else if (fuse_reply_entry(req, &e) == -ENOENT)
		write_forget(fc, e.ino, 1);
}

const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_op_init,
	.lookup = fs_op_lookup,
	.forget = fs_op_forget,
	.forget_multi = fs_op_forget_multi,
	.getattr = fs_op_getattr,
	.setattr = fs_op_setattr,
	.opendir = fs_op_opendir,
	.readdir = fs_op_readdir,
	.readdirplus = fs_op_readdirplus,
	.releasedir = fs_op_releasedir,
	.open = fs_op_open,
	.read = fs_op_read,
	.create = fs_op_create,
	.write = fs_op_write,
	.flush = fs_op_flush,
	.fsync = fs_op_fsync,
	.release = fs_op_release,
	.unlink = fs_op_unlink,
	.rename = fs_op_rename,
	.mkdir = fs_op_mkdir,
	.rmdir = fs_op_rmdir,
	.mknod = fs_op_mknod,
	.link = fs_op_link,
	.symlink = fs_op_symlink,
	.getxattr = fs_op_getxattr,
	.setxattr = fs_op_setxattr,
	.listxattr = fs_op_listxattr,
	.removexattr = fs_op_removexattr,
	.statfs = fs_op_statfs,
};
