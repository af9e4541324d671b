/* write.c - files being written, APPEND at close, and names kept alive. */
#include "fs/face/write.h"
#include "fs/engine/change.h"
#include "fs/engine/layout.h"
#include "fs/log.h"
#include "cache/body.h"
#include "cache/store.h"
#include "net/imap.h"
#include "net/mime.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ALIAS_SECONDS 60     /* how long a name outlives its writer */
#define HEADER_PEEK 65536    /* bytes read to find Subject and Message-ID */

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
	time_t done;             /* when last appended or failed */
	fuse_ino_t target;       /* the message the last copy became, 0 if unknown */
};

struct alias {
	struct alias *next;
	int64_t folder;
	char *name;
	fuse_ino_t ino;
	time_t until;
};

struct write_table {
	pthread_mutex_t lock;
	pthread_cond_t cond;         /* an APPEND finished */
	struct wnode *nodes;         /* protected by lock */
	struct alias *aliases;       /* protected by lock */
	fuse_ino_t next_ino;         /* protected by lock */
};

int write_init(struct mfs *m)
{
	struct write_table *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	t->next_ino = WRITE_INO_BASE;
	m->writes = t;
	return 0;
}

static void wnode_free(struct mfs *m, struct wnode *w)
{
	body_tmp_close(m->bodies, &w->data);
	free(w->name);
	free(w->flags);
	free(w);
}

void write_free(struct mfs *m)
{
	struct write_table *t = m->writes;

	if (!t)
		return;
	while (t->nodes) {
		struct wnode *w = t->nodes;
		t->nodes = w->next;
		wnode_free(m, w);
	}
	while (t->aliases) {
		struct alias *a = t->aliases;
		t->aliases = a->next;
		free(a->name);
		free(a);
	}
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->cond);
	free(t);
	m->writes = NULL;
}

/* Table lock held. */
static struct wnode *by_ino(struct write_table *t, fuse_ino_t ino)
{
	for (struct wnode *w = t->nodes; w; w = w->next)
		if (w->ino == ino)
			return w;
	return NULL;
}

/* A written file still resolving by NAME: while the kernel holds it, and
 * for a while after it was appended. Table lock held. */
static struct wnode *by_name(struct write_table *t, int64_t folder, const char *name)
{
	for (struct wnode *w = t->nodes; w; w = w->next)
		if (w->folder == folder && w->name && strcmp(w->name, name) == 0)
			return w;
	return NULL;
}

static struct alias *alias_by_name(struct write_table *t, int64_t folder, const char *name)
{
	time_t now = time(NULL);
	struct alias **pp = &t->aliases;

	while (*pp) {
		struct alias *a = *pp;

		if (a->until < now) {     /* expired: drop on the way */
			*pp = a->next;
			free(a->name);
			free(a);
			continue;
		}
		if (a->folder == folder && strcmp(a->name, name) == 0)
			return a;
		pp = &a->next;
	}
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

static void wnode_attr(struct mfs *m, const struct wnode *w, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = w->ino;
	st->st_mode = S_IFREG | 0600;
	st->st_nlink = 1;
	st->st_uid = m->uid;
	st->st_gid = m->gid;
	st->st_size = (off_t)w->size;
	st->st_blocks = (blkcnt_t)((w->size + 511) / 512);
	st->st_blksize = 4096;
	st->st_mtim = w->mtime;
	st->st_atim = w->mtime;
	st->st_ctim = w->mtime;
}

static void entry_for(struct mfs *m, struct wnode *w, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = w->ino;
	wnode_attr(m, w, &e->attr);
	/* Size and times change while it is written: never cached. The
	 * name is short-lived too. */
	e->attr_timeout = 0;
	e->entry_timeout = 1.0;
}

int write_create(struct mfs *m, struct folder *f, const char *name, struct fuse_entry_param *e)
{
	struct write_table *t = m->writes;
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
	r = body_create(m->bodies, &w->data);
	if (r < 0) {
		log_err("cannot create a file in the cache directory %s: %s", m->opt->cache_dir,
		        strerror(-r));
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
		wnode_free(m, w);
		return -EEXIST;
	}
	w->ino = t->next_ino++;
	w->next = t->nodes;
	t->nodes = w;
	entry_for(m, w, e);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

int write_lookup(struct mfs *m, int64_t folder, const char *name, struct fuse_entry_param *e)
{
	struct write_table *t = m->writes;
	struct wnode *w;
	struct alias *a;
	fuse_ino_t ino = 0;

	pthread_mutex_lock(&t->lock);
	w = by_name(t, folder, name);
	if (w) {
		w->nlookup++;
		entry_for(m, w, e);
		pthread_mutex_unlock(&t->lock);
		return 0;
	}
	a = alias_by_name(t, folder, name);
	if (a)
		ino = a->ino;
	pthread_mutex_unlock(&t->lock);
	if (!ino)
		return -ENOENT;
	memset(e, 0, sizeof(*e));
	e->ino = ino;
	e->entry_timeout = 1.0;
	e->attr_timeout = 1.0;
	return 1;     /* the caller fills in the attributes of INO */
}

int write_getattr(struct mfs *m, fuse_ino_t ino, struct stat *st)
{
	struct write_table *t = m->writes;
	struct wnode *w;

	pthread_mutex_lock(&t->lock);
	w = by_ino(t, ino);
	if (w)
		wnode_attr(m, w, st);
	pthread_mutex_unlock(&t->lock);
	return w ? 0 : -ENOENT;
}

ssize_t write_data(struct mfs *m, fuse_ino_t ino, const char *buf, size_t size, off_t off)
{
	struct write_table *t = m->writes;
	struct wnode *w;
	ssize_t n = -ENOENT;

	pthread_mutex_lock(&t->lock);
	w = settled(t, ino, 0, NULL);
	if (w) {
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
		        m->opt->cache_dir);
	return n;
}

void write_read(struct mfs *m, fuse_req_t req, fuse_ino_t ino, size_t size, off_t off)
{
	struct write_table *t = m->writes;
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

/* IMAP wants CRLF line ends (RFC 5322 §2.3); a server would convert bare
 * LFs itself and then serve other bytes than we would cache. So they are
 * converted before the APPEND, into a new file. Returns 0 with *out_r
 * unused (fd stays), or 1 with a converted copy in *out_r. */
static int crlf(struct mfs *m, int fd, uint64_t size, struct body_tmp *out_r,
                uint64_t *size_r)
{
	char in[65536], outbuf[2 * 65536];
	uint64_t bare = 0, off;
	char prev = 0;
	int r;

	for (off = 0; off < size; ) {
		ssize_t n = pread(fd, in, sizeof(in), (off_t)off);
		if (n <= 0)
			return -EIO;
		for (ssize_t i = 0; i < n; i++) {
			if (in[i] == '\n' && prev != '\r')
				bare++;
			prev = in[i];
		}
		off += (uint64_t)n;
	}
	if (!bare)
		return 0;
	r = body_create(m->bodies, out_r);
	if (r < 0)
		return r;
	prev = 0;
	for (off = 0; off < size; ) {
		ssize_t n = pread(fd, in, sizeof(in), (off_t)off), k = 0;
		if (n <= 0)
			goto fail;
		for (ssize_t i = 0; i < n; i++) {
			if (in[i] == '\n' && prev != '\r')
				outbuf[k++] = '\r';
			outbuf[k++] = in[i];
			prev = in[i];
		}
		if (write(out_r->fd, outbuf, (size_t)k) != k)
			goto fail;
		off += (uint64_t)n;
	}
	*size_r = size + bare;
	return 1;
fail:
	body_tmp_close(m->bodies, out_r);
	return -EIO;
}

/* Keep the bytes of a failed APPEND where the user can find them
 * (README: "what happens to a message that could not be stored"). */
static void save_unsent(struct mfs *m, const char *name, int data, uint64_t size, int err)
{
	char *dir = NULL, *path = NULL, stamp[32], buf[65536];
	struct tm tm;
	time_t now = time(NULL);
	int fd = -1;

	if (asprintf(&dir, "%s/unsent", m->opt->cache_dir) < 0)
		return;
	mkdir(dir, 0700);
	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	if (asprintf(&path, "%s/%s-%s", dir, stamp, name[0] == '.' ? name + 1 : name) < 0)
		goto out;
	for (char *p = path + strlen(dir) + 1; *p; p++)
		if (*p == '/')
			*p = '_';
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	for (uint64_t off = 0; off < size; ) {
		ssize_t n = pread(data, buf, sizeof(buf), (off_t)off);
		if (n <= 0 || write(fd, buf, (size_t)n) != n)
			break;
		off += (uint64_t)n;
	}
	if (fsync(fd) == 0)
		log_err("%s was not stored on the server (%s); its bytes are kept in %s",
		        name, strerror(err), path);
out:
	if (fd >= 0)
		close(fd);
	free(path);
	free(dir);
}

/* The appended message is in the cache already: its row, and its body. */
static void cache_appended(struct mfs *m, struct folder *f, uint32_t uid, struct body_tmp *body,
                           uint64_t size, time_t date, const char *flags)
{
	char hdr[HEADER_PEEK + 1];
	char *subject = NULL, *decoded = NULL, *msgid = NULL;
	ssize_t n = pread(body->fd, hdr, HEADER_PEEK, 0);
	struct store_msg msg = {
		.uid = uid, .size = size, .date = date, .flags = flags ? flags : "",
		.state = STORE_MSG_SIZE_EXACT,
	};

	if (n > 0) {
		subject = mime_header(hdr, (size_t)n, "Subject");
		msgid = mime_header(hdr, (size_t)n, "Message-ID");
	}
	if (subject)
		decoded = mime_decode_words(subject, strlen(subject));
	msg.name = layout_message_name(uid, decoded ? decoded : "");
	msg.msgid = msgid;
	if (msg.name && store_msg_put(m->store, f->id, &msg, 1) == 0)
		body_commit(m->bodies, body, f->id, uid, 0);
	free((char *)msg.name);
	free(subject);
	free(decoded);
	free(msgid);
}

/* Take the copy of an earlier flush off the server, now that a newer one is
 * there: by its exact UID, never by anything that could match another
 * message (SPEC §2). Its name leaves the cache and the kernel. */
static int remove_previous(struct mfs *m, struct folder *f, fuse_ino_t prev, const char *name)
{
	int r;

	if (!prev) {
		/* The server did not say the UID of that copy (no UIDPLUS):
		 * nothing exact can remove it. */
		log_err("%s: the copy stored at an earlier close() of this file is still on "
		        "the server beside the new one (the server did not tell its UID)", name);
		return -EIO;
	}
	r = m->ops->remove(m, f, ino_uid(prev));
	if (r == 0)
		msg_forget(m, f, ino_uid(prev));
	else
		log_err("%s: the copy stored at an earlier close() (UID %u) could not be "
		        "removed: %s", name, ino_uid(prev), strerror(-r));
	return r;
}

int write_flush(struct mfs *m, fuse_ino_t ino)
{
	struct write_table *t = m->writes;
	struct body_tmp conv = { .fd = -1 };
	struct body_tmp *send;
	struct wnode *w;
	struct folder *f;
	uint64_t size, sendsize, gen;
	char *flags = NULL, *name = NULL;
	fuse_ino_t prev = 0;
	int had_copy, landed;
	time_t date;
	uint32_t uid = 0;
	int r;

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
	if (!name || (w->flags && !flags)) {
		pthread_mutex_unlock(&t->lock);
		free(name);
		free(flags);
		return -ENOMEM;
	}
	w->appending = 1;
	gen = w->gen;
	size = w->size;
	had_copy = w->appended;
	prev = w->target;
	/* The date is always sent, "now" unless the writer set one: then the
	 * server's INTERNALDATE and the cached mtime are the same second. */
	date = w->mtime_set ? w->mtime.tv_sec : time(NULL);
	f = tree_get(m, w->folder);
	pthread_mutex_unlock(&t->lock);

	/* Writes wait while appending is set, so the bytes hold still. */
	send = &w->data;
	sendsize = size;
	r = crlf(m, w->data.fd, size, &conv, &sendsize);
	if (r == 1)
		send = &conv;
	if (r >= 0)
		r = f && !folder_gone(f) ? m->ops->append(m, f, send->fd, sendsize, flags, date, &uid)
		                  : -ENOENT;
	landed = r == 0;
	if (landed) {
		if (uid)
			cache_appended(m, f, uid, send, sendsize, date, flags);
		else
			folder_sync_later(m, f);
		notify_inode(m, ino_folder(f->id), 0, 0);
		folder_touch(f);
		/* The whole file is there now: the copy of an earlier close()
		 * goes. If it cannot, close() says so (and the new copy stays:
		 * better two whole copies than none). */
		if (had_copy)
			r = remove_previous(m, f, prev, name);
	} else {
		save_unsent(m, name, w->data.fd, size, -r);
		status_error(m, "%s was not stored on the server: %s", name, strerror(-r));
	}
	if (conv.fd >= 0)
		body_tmp_close(m->bodies, &conv);

	pthread_mutex_lock(&t->lock);
	w->appending = 0;
	w->tried = gen;
	w->error = -r;
	w->done = time(NULL);
	if (landed) {
		w->appended = 1;
		w->target = uid ? ino_msg(f->id, uid) : 0;
	}
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
	/* The message shows under its own name: `ls` right after close()
	 * must see it, not the kernel's cached listing. */
	if (landed)
		notify_sync(m);
	free(flags);
	free(name);
	return r;
}

void write_release(struct mfs *m, fuse_ino_t ino)
{
	/* A writer that never flushed (it was killed, or only used mmap):
	 * what it wrote is still appended; the error can only be logged. */
	write_flush(m, ino);
}

void write_forget(struct mfs *m, fuse_ino_t ino, uint64_t nlookup)
{
	struct write_table *t = m->writes;
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
		write_flush(m, ino);
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
		write_alias(m, w->folder, w->name, w->target);
	wnode_free(m, w);
}

int write_setattr(struct mfs *m, fuse_ino_t ino, const struct stat *attr, int to_set,
                  struct stat *st_r)
{
	struct write_table *t = m->writes;
	struct wnode *w;
	int r = 0;

	pthread_mutex_lock(&t->lock);
	w = settled(t, ino, 0, NULL);
	if (!w) {
		r = -ENOENT;
	} else if (to_set & FUSE_SET_ATTR_SIZE) {
		/* `exec 3>f` again: the file is written anew, and its next
		 * close() replaces what the last one stored. */
		if (ftruncate(w->data.fd, attr->st_size) < 0) {
			r = -errno;
		} else {
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
		wnode_attr(m, w, st_r);
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

int write_set_flags(struct mfs *m, fuse_ino_t ino, const char *value, size_t len)
{
	struct write_table *t = m->writes;
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
		struct folder *f = tree_get(m, ino_folder_id(target));

		r = f && !folder_gone(f) ? change_set_flags(m, f, ino_uid(target), value, len) : -ENOENT;
	}
	return r;
}

int write_get_flags(struct mfs *m, fuse_ino_t ino, char *buf, size_t size)
{
	struct write_table *t = m->writes;
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

int write_rename(struct mfs *m, int64_t folder, const char *name, int64_t newfolder,
                 const char *newname)
{
	struct write_table *t = m->writes;
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

int write_unlink(struct mfs *m, int64_t folder, const char *name)
{
	struct write_table *t = m->writes;
	struct wnode *w;
	struct alias *a;
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
	} else if ((a = alias_by_name(t, folder, name))) {
		target = a->ino;
		a->until = 0;
	}
	pthread_mutex_unlock(&t->lock);
	if (!w && !target)
		return -ENOENT;
	if (target) {
		/* rm of what was just copied in deletes that message. */
		struct folder *f = tree_get(m, ino_folder_id(target));
		return f ? change_unlink(m, f, ino_uid(target)) : 0;
	}
	return 0;
}

void write_alias(struct mfs *m, int64_t folder, const char *name, fuse_ino_t ino)
{
	struct write_table *t = m->writes;
	struct alias *a = calloc(1, sizeof(*a));

	if (!a || !(a->name = strdup(name))) {
		free(a);
		return;
	}
	a->folder = folder;
	a->ino = ino;
	a->until = time(NULL) + ALIAS_SECONDS;
	pthread_mutex_lock(&t->lock);
	alias_by_name(t, folder, "");   /* drop expired ones */
	a->next = t->aliases;
	t->aliases = a;
	pthread_mutex_unlock(&t->lock);
	/* The kernel may hold NAME for the old inode (a rename): drop it. */
	notify_entry(m, ino_folder(folder), name);
}
