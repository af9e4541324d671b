/* write.c - files being written into the mount, as FUSE sees them. The
 * APPEND itself is the engine's (fs/engine/append.c). */
#include "fs/face/write.h"
#include "fs/engine/append.h"
#include "fs/engine/change.h"
#include "fs/engine/layout.h"
#include "fs/log.h"
#include "cache/body.h"
#include "cache/store.h"
#include "net/imap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A file being written. The bytes of the last close() are what the server
 * holds (SPEC §2): every change of the bytes makes a new generation, and a
 * flush of a generation the server has not seen appends the whole file
 * again and then removes the copy of the previous flush by its UID. */
struct wnode {
	struct wnode *next;
	fuse_ino_t ino;
	uint64_t nlookup;        /* the kernel's references */
	int64_t folder;          /* the directory it was created in */
	char *name;              /* the name the writer uses (rename may change it;
	                            NULL once it no longer resolves) */
	struct body_tmp data;    /* the bytes written */
	int published;           /* DATA may be a cached body now: copy before writing */
	uint64_t size;
	struct timespec mtime;
	int mtime_set;           /* the writer set it: becomes INTERNALDATE */
	char *flags;             /* user.mail.flags for the APPEND (validated) */
	uint64_t gen;            /* bumped by every write and truncate */
	uint64_t tried;          /* the generation of the last APPEND attempt */
	int error;               /* why that attempt failed (positive errno), or 0 */
	int appending;           /* an APPEND (and the removal after it) runs */
	int appended;            /* a copy is on the server: TARGET, or unknown if 0 */
	int cancelled;           /* removed by the writer: never (again) appended */
	fuse_ino_t target;       /* the message the last copy became, 0 if unknown */
};

struct write_table {
	pthread_mutex_t lock;
	pthread_cond_t cond;         /* an APPEND finished */
	struct wnode *nodes;         /* protected by lock */
	fuse_ino_t next_ino;         /* protected by lock */
};

int write_init(struct face *fc)
{
	struct write_table *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	t->next_ino = WRITE_INO_BASE;
	fc->writes = t;
	return 0;
}

static void wnode_free(struct face *fc, struct wnode *w)
{
	append_buffer_close(fc->m, &w->data);
	free(w->name);
	free(w->flags);
	free(w);
}

void write_free(struct face *fc)
{
	struct write_table *t = fc->writes;

	if (!t)
		return;
	while (t->nodes) {
		struct wnode *w = t->nodes;
		t->nodes = w->next;
		wnode_free(fc, w);
	}
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->cond);
	free(t);
	fc->writes = NULL;
}

/* Table lock held. */
static struct wnode *by_ino(struct write_table *t, fuse_ino_t ino)
{
	for (struct wnode *w = t->nodes; w; w = w->next)
		if (w->ino == ino)
			return w;
	return NULL;
}

/* A written file still resolving by NAME (while the kernel holds it).
 * Table lock held. */
static struct wnode *by_name(struct write_table *t, int64_t folder, const char *name)
{
	for (struct wnode *w = t->nodes; w; w = w->next)
		if (w->folder == folder && w->name && strcmp(w->name, name) == 0)
			return w;
	return NULL;
}

/* Node INO, or the node named NAME in FOLDER when NAME is set, once no
 * APPEND of it runs (its bytes are being read then). Looked up again after
 * each wait: a node whose APPEND ended may have been forgotten meanwhile.
 * Table lock held. */
static struct wnode *settled(struct write_table *t, fuse_ino_t ino, int64_t folder,
                             const char *name)
{
	for (;;) {
		struct wnode *w = name ? by_name(t, folder, name) : by_ino(t, ino);

		if (!w || !w->appending)
			return w;
		pthread_cond_wait(&t->cond, &t->lock);
	}
}

/* W's bytes are about to change: once they may be a cached body, they are
 * copied first. Table lock held. */
static int private_data(struct face *fc, struct wnode *w)
{
	int r;

	if (!w->published)
		return 0;
	r = append_buffer_clone(fc->m, &w->data, w->size);
	if (r == 0)
		w->published = 0;
	return r;
}

static void wnode_attr(struct face *fc, const struct wnode *w, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = w->ino;
	st->st_mode = S_IFREG | 0600;
	st->st_nlink = 1;
	st->st_uid = fc->uid;
	st->st_gid = fc->gid;
	st->st_size = (off_t)w->size;
	st->st_blocks = (blkcnt_t)((w->size + 511) / 512);
	st->st_blksize = 4096;
	st->st_mtim = w->mtime;
	st->st_atim = w->mtime;
	st->st_ctim = w->mtime;
}

static void entry_for(struct face *fc, struct wnode *w, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = w->ino;
	wnode_attr(fc, w, &e->attr);
	/* Size and times change while it is written: never cached. The
	 * name is short-lived too. */
	e->attr_timeout = 0;
	e->entry_timeout = 1.0;
}

int write_create(struct face *fc, struct folder *f, const char *name, struct fuse_entry_param *e)
{
	struct write_table *t = fc->writes;
	struct wnode *w;
	int r;

	if (!folder_server(f) || (folder_flags(f) & STORE_FOLDER_NOSELECT))
		return -EPERM;      /* messages live in folders that hold messages */
	if (strlen(name) > LAYOUT_NAME_MAX)
		return -ENAMETOOLONG;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->name = strdup(name);
	if (!w->name) {
		free(w);
		return -ENOMEM;
	}
	r = append_buffer_new(fc->m, &w->data);
	if (r < 0) {
		free(w->name);
		free(w);
		return r;
	}
	clock_gettime(CLOCK_REALTIME, &w->mtime);
	w->folder = f->id;
	w->nlookup = 1;
	pthread_mutex_lock(&t->lock);
	if (by_name(t, f->id, name)) {
		pthread_mutex_unlock(&t->lock);
		wnode_free(fc, w);
		return -EEXIST;
	}
	w->ino = t->next_ino++;
	w->next = t->nodes;
	t->nodes = w;
	entry_for(fc, w, e);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

int write_lookup(struct face *fc, int64_t folder, const char *name, struct fuse_entry_param *e)
{
	struct write_table *t = fc->writes;
	struct wnode *w;
	fuse_ino_t ino;

	pthread_mutex_lock(&t->lock);
	w = by_name(t, folder, name);
	if (w) {
		w->nlookup++;
		entry_for(fc, w, e);
		pthread_mutex_unlock(&t->lock);
		return 0;
	}
	pthread_mutex_unlock(&t->lock);
	ino = names_find(fc, folder, name, 0);
	if (!ino)
		return -ENOENT;
	memset(e, 0, sizeof(*e));
	e->ino = ino;
	e->entry_timeout = 1.0;
	e->attr_timeout = 1.0;
	return 1;     /* the caller fills in the attributes of INO */
}

int write_getattr(struct face *fc, fuse_ino_t ino, struct stat *st)
{
	struct write_table *t = fc->writes;
	struct wnode *w;

	pthread_mutex_lock(&t->lock);
	w = by_ino(t, ino);
	if (w)
		wnode_attr(fc, w, st);
	pthread_mutex_unlock(&t->lock);
	return w ? 0 : -ENOENT;
}

ssize_t write_data(struct face *fc, fuse_ino_t ino, const char *buf, size_t size, off_t off)
{
	struct write_table *t = fc->writes;
	struct wnode *w;
	ssize_t n = -ENOENT;

	pthread_mutex_lock(&t->lock);
	w = settled(t, ino, 0, NULL);
	if (w && (n = private_data(fc, w)) == 0) {
		size_t done = 0;

		while (done < size) {
			ssize_t k = pwrite(w->data.fd, buf + done, size - done, off + (off_t)done);
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0) {
				n = -errno;
				break;
			}
			done += (size_t)k;
		}
		if (done == size)
			n = (ssize_t)size;
		if ((uint64_t)off + done > w->size)
			w->size = (uint64_t)off + done;
		w->gen++;
		if (!w->mtime_set)
			clock_gettime(CLOCK_REALTIME, &w->mtime);
	}
	pthread_mutex_unlock(&t->lock);
	if (n == -ENOSPC || n == -EDQUOT)
		log_err("cache directory %s is full: cannot take the message being written",
		        fc->m->opt->cache_dir);
	return n;
}

void write_read(struct face *fc, fuse_req_t req, fuse_ino_t ino, size_t size, off_t off)
{
	struct write_table *t = fc->writes;
	struct wnode *w;
	char *buf = malloc(size ? size : 1);
	ssize_t n = -ENOENT;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&t->lock);
	w = by_ino(t, ino);
	if (w)
		n = pread(w->data.fd, buf, size, off);
	if (n < 0 && w)
		n = -errno;
	pthread_mutex_unlock(&t->lock);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

int write_flush(struct face *fc, fuse_ino_t ino)
{
	struct write_table *t = fc->writes;
	struct append_req a = { 0 };
	struct wnode *w;
	uint64_t gen;
	char *flags = NULL, *name = NULL;
	uint32_t uid;
	int landed, r;

	pthread_mutex_lock(&t->lock);
	w = settled(t, ino, 0, NULL);
	if (!w || w->cancelled || w->size == 0) {
		/* Nothing to send: an empty file is not a message (an emptied
		 * one leaves the copy of its last non-empty close). */
		pthread_mutex_unlock(&t->lock);
		return 0;
	}
	if (w->gen == w->tried) {
		/* The server has seen these bytes, or refused them: the result
		 * stands until they change. */
		r = -w->error;
		pthread_mutex_unlock(&t->lock);
		return r;
	}
	/* Everything the APPEND needs is copied now: rename and unlink change
	 * the node while the lock is not held. */
	name = strdup(w->name ? w->name : "(a removed file)");
	flags = w->flags ? strdup(w->flags) : NULL;
	a.f = tree_get(fc->m, w->folder);
	if (!name || (w->flags && !flags) || !a.f) {
		pthread_mutex_unlock(&t->lock);
		free(name);
		free(flags);
		return name && (!w->flags || flags) ? -ENOENT : -ENOMEM;
	}
	w->appending = 1;
	gen = w->gen;
	a.data = &w->data;
	a.size = w->size;
	a.flags = flags;
	a.name = name;
	/* The date is always sent, "now" unless the writer set one: then the
	 * server's INTERNALDATE and the cached mtime are the same second. */
	a.date = w->mtime_set ? w->mtime.tv_sec : time(NULL);
	a.replace = w->appended;
	a.prev = w->target ? ino_uid(w->target) : 0;
	pthread_mutex_unlock(&t->lock);

	/* Writes wait while appending is set, so the bytes hold still. */
	r = append_message(fc->m, &a, &uid, &landed);

	pthread_mutex_lock(&t->lock);
	w->appending = 0;
	w->tried = gen;
	w->error = -r;
	if (landed) {
		w->appended = 1;
		w->published = 1;
		w->target = uid ? ino_msg(a.f->id, uid) : 0;
	}
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
	free(flags);
	free(name);
	return r;
}

void write_release(struct face *fc, fuse_ino_t ino)
{
	/* A writer that never flushed (it was killed, or only used mmap):
	 * what it wrote is still appended; the error can only be logged. */
	write_flush(fc, ino);
}

void write_forget(struct face *fc, fuse_ino_t ino, uint64_t nlookup)
{
	struct write_table *t = fc->writes;
	struct wnode **pp, *w;
	int pending;

	pthread_mutex_lock(&t->lock);
	w = by_ino(t, ino);
	if (w)
		w->nlookup = w->nlookup > nlookup ? w->nlookup - nlookup : 0;
	if (!w || w->nlookup) {
		pthread_mutex_unlock(&t->lock);
		return;
	}
	pending = !w->cancelled && w->size && w->gen != w->tried;
	pthread_mutex_unlock(&t->lock);
	/* Forgotten with bytes never flushed: append them now rather than
	 * lose them. */
	if (pending)
		write_flush(fc, ino);
	pthread_mutex_lock(&t->lock);
	for (pp = &t->nodes; *pp && (*pp)->ino != ino; pp = &(*pp)->next)
		;
	w = *pp;
	if (!w || w->nlookup || w->appending) {
		pthread_mutex_unlock(&t->lock);
		return;     /* looked up again meanwhile: it stays */
	}
	*pp = w->next;
	pthread_mutex_unlock(&t->lock);
	/* Its name keeps meaning the message for a while. */
	if (w->appended && w->target && w->name)
		names_add(fc, w->folder, w->name, w->target);
	wnode_free(fc, w);
}

int write_setattr(struct face *fc, fuse_ino_t ino, const struct stat *attr, int to_set,
                  struct stat *st_r)
{
	struct write_table *t = fc->writes;
	struct wnode *w;
	int r = 0;

	pthread_mutex_lock(&t->lock);
	w = settled(t, ino, 0, NULL);
	if (!w) {
		r = -ENOENT;
	} else if (to_set & FUSE_SET_ATTR_SIZE) {
		/* `exec 3>f` again: the file is written anew, and its next
		 * close() replaces what the last one stored. */
		r = private_data(fc, w);
		if (r == 0 && ftruncate(w->data.fd, attr->st_size) < 0)
			r = -errno;
		if (r == 0) {
			w->size = (uint64_t)attr->st_size;
			w->gen++;
		}
	}
	if (w && r == 0) {
		/* Mode and owner are accepted and ignored (cp -p, rsync -a, tar x);
		 * the mtime set before close becomes the INTERNALDATE. */
		if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
			clock_gettime(CLOCK_REALTIME, &w->mtime);
			w->mtime_set = 1;
		} else if (to_set & FUSE_SET_ATTR_MTIME) {
			w->mtime = attr->st_mtim;
			w->mtime_set = 1;
		}
		wnode_attr(fc, w, st_r);
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

int write_set_flags(struct face *fc, fuse_ino_t ino, const char *value, size_t len)
{
	struct write_table *t = fc->writes;
	struct wnode *w;
	/* Validated here, where it enters, as for a message (SPEC §5): the
	 * APPEND sends it much later. */
	char *flags = imap_flags_normalize(value, len);
	fuse_ino_t target = 0;
	int r = 0;

	if (!flags)
		return -errno;
	pthread_mutex_lock(&t->lock);
	w = settled(t, ino, 0, NULL);
	if (!w) {
		r = -ENOENT;
	} else if (w->appended && w->gen == w->tried && !w->error && !w->target) {
		r = -EPERM;     /* stored, but the server did not say where */
	} else {
		/* For the next APPEND; and when the server holds these bytes
		 * already (rsync -X sets attributes after close), for it. */
		free(w->flags);
		w->flags = flags;
		flags = NULL;
		if (w->appended && w->gen == w->tried && !w->error)
			target = w->target;
	}
	pthread_mutex_unlock(&t->lock);
	free(flags);
	if (target) {
		struct folder *f = tree_get(fc->m, ino_folder_id(target));

		r = f && !folder_gone(f) ? change_set_flags(fc->m, f, ino_uid(target), value, len)
		                         : -ENOENT;
	}
	return r;
}

int write_get_flags(struct face *fc, fuse_ino_t ino, char *buf, size_t size)
{
	struct write_table *t = fc->writes;
	struct wnode *w;
	int r;

	pthread_mutex_lock(&t->lock);
	w = by_ino(t, ino);
	if (!w)
		r = -ENOENT;
	else
		r = snprintf(buf, size, "%s", w->flags ? w->flags : "");
	pthread_mutex_unlock(&t->lock);
	return r;
}

int write_rename(struct face *fc, int64_t folder, const char *name, int64_t newfolder,
                 const char *newname)
{
	struct write_table *t = fc->writes;
	struct wnode *w, *old;
	char *copy;

	pthread_mutex_lock(&t->lock);
	w = by_name(t, folder, name);
	if (!w) {
		pthread_mutex_unlock(&t->lock);
		return -ENOENT;
	}
	if (newfolder != folder) {
		/* Moving a file still being written to another folder: mv falls
		 * back to copy and delete. */
		pthread_mutex_unlock(&t->lock);
		return -EXDEV;
	}
	copy = strdup(newname);
	if (!copy) {
		pthread_mutex_unlock(&t->lock);
		return -ENOMEM;
	}
	/* rsync's last step: its temporary name becomes the real one. A file
	 * being written under the target name is replaced (it stops
	 * resolving; it is still appended when closed). */
	old = by_name(t, folder, newname);
	if (old && old != w) {
		free(old->name);
		old->name = NULL;
	}
	free(w->name);
	w->name = copy;
	pthread_mutex_unlock(&t->lock);
	return 0;
}

int write_unlink(struct face *fc, int64_t folder, const char *name)
{
	struct write_table *t = fc->writes;
	struct wnode *w;
	fuse_ino_t target = 0;

	pthread_mutex_lock(&t->lock);
	/* An APPEND running now decides what there is to delete. */
	w = settled(t, 0, folder, name);
	if (w) {
		if (w->appended)
			target = w->target;
		free(w->name);
		w->name = NULL;        /* no longer resolves */
		w->cancelled = 1;      /* nor is it sent (again) when closed */
	}
	pthread_mutex_unlock(&t->lock);
	if (!w)
		target = names_find(fc, folder, name, 1);
	if (!w && !target)
		return -ENOENT;
	if (target) {
		/* rm of what was just copied in deletes that message. */
		struct folder *f = tree_get(fc->m, ino_folder_id(target));
		return f ? change_unlink(fc->m, f, ino_uid(target)) : 0;
	}
	return 0;
}
