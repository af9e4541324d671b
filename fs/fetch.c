/* fetch.c - body reads and downloads. */
#include "fs/fetch.h"
#include "fs/log.h"
#include "cache/body.h"
#include "cache/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct pending {
	struct pending *next;
	fuse_req_t req;
	off_t off;
	size_t size;
};

struct fetch {
	struct fetch *next;         /* in the table; protected by table lock */
	struct mfs *m;
	int64_t folder;
	uint32_t uid;
	uint64_t listed_size;       /* what the store (and the kernel) believed */

	/* Protected by the table lock. */
	struct body_tmp tmp;
	uint64_t total;             /* UINT64_MAX until fetch_begin */
	uint64_t have;              /* bytes written to tmp */
	int queued;                 /* waiting for a fetcher thread */
	int done;
	int error;
	struct pending *pending;
	int write_err;              /* first error writing the cache file */
};

struct fetch_table {
	pthread_mutex_t lock;
	pthread_cond_t cond;        /* fetchers wait for jobs */
	struct fetch *active;       /* every download not yet ended */
	int stop;
	int nthreads;
	pthread_t *threads;
};

int64_t fetch_folder(const struct fetch *fx) { return fx->folder; }
uint32_t fetch_uid(const struct fetch *fx) { return fx->uid; }

/* Answer one read from file descriptor FD holding TOTAL bytes. */
static void reply_from_fd(fuse_req_t req, int fd, uint64_t total, off_t off, size_t size)
{
	char stackbuf[65536], *buf = stackbuf;
	ssize_t n;

	if ((uint64_t)off >= total) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if ((uint64_t)off + size > total)
		size = (size_t)(total - (uint64_t)off);
	if (size > sizeof(stackbuf)) {
		buf = malloc(size);
		if (!buf) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
	}
	n = pread(fd, buf, size, off);
	if (n < 0)
		fuse_reply_err(req, EIO);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	if (buf != stackbuf)
		free(buf);
}

struct msg_info {
	uint64_t size;
	int found;
};

static int got_msg(void *ctx, const struct store_msg *msg)
{
	struct msg_info *i = ctx;

	i->size = msg->size;
	i->found = 1;
	return 0;
}

/* Serve from the cache if the body is there and whole. Returns 1 if
 * answered. */
static int read_cached(struct mfs *m, fuse_req_t req, int64_t folder, uint32_t uid,
                       uint64_t size_expected, size_t size, off_t off)
{
	struct stat st;
	int fd = body_open(m->bodies, folder, uid);

	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != size_expected) {
		/* Truncated by a power loss, or from before a size correction:
		 * not trusted, downloaded again. */
		close(fd);
		body_remove(m->bodies, folder, uid);
		return 0;
	}
	reply_from_fd(req, fd, (uint64_t)st.st_size, off, size);
	close(fd);
	return 1;
}

/* Answer the pending reads that can be answered; table lock held. With
 * FINAL, answer all of them (EOF or error). */
static void serve_pending(struct fetch *fx, int final)
{
	struct pending **pp = &fx->pending;

	while (*pp) {
		struct pending *p = *pp;
		uint64_t end = (uint64_t)p->off + p->size;

		if (fx->total != UINT64_MAX && end > fx->total)
			end = fx->total;
		if (fx->error && (final || (uint64_t)p->off < fx->total)) {
			fuse_reply_err(p->req, fx->error < 0 ? -fx->error : EIO);
		} else if (fx->have >= end || final) {
			reply_from_fd(p->req, fx->tmp.fd, fx->have, p->off, p->size);
		} else {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		free(p);
	}
}

void fetch_read(struct mfs *m, fuse_req_t req, int64_t folder, uint32_t uid, size_t size,
                off_t off)
{
	struct fetch_table *t = m->fetches;
	struct msg_info info = { 0 };
	struct pending *p;
	struct fetch *fx;
	int r;

	r = store_msg_get(m->store, folder, uid, got_msg, &info);
	if (r < 0) {
		fuse_reply_err(req, r == -ENOENT ? ENOENT : EIO);
		return;
	}
	if (read_cached(m, req, folder, uid, info.size, size, off))
		return;

	p = calloc(1, sizeof(*p));
	if (!p) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	p->req = req;
	p->off = off;
	p->size = size;

	pthread_mutex_lock(&t->lock);
	for (fx = t->active; fx; fx = fx->next)
		if (fx->folder == folder && fx->uid == uid && !fx->done)
			break;
	if (!fx) {
		/* The body may have been published since we looked. */
		pthread_mutex_unlock(&t->lock);
		if (read_cached(m, req, folder, uid, info.size, size, off)) {
			free(p);
			return;
		}
		pthread_mutex_lock(&t->lock);
		for (fx = t->active; fx; fx = fx->next)
			if (fx->folder == folder && fx->uid == uid && !fx->done)
				break;
	}
	if (!fx) {
		fx = calloc(1, sizeof(*fx));
		if (!fx) {
			pthread_mutex_unlock(&t->lock);
			free(p);
			fuse_reply_err(req, ENOMEM);
			return;
		}
		fx->m = m;
		fx->folder = folder;
		fx->uid = uid;
		fx->listed_size = info.size;
		fx->total = UINT64_MAX;
		fx->tmp.fd = -1;
		fx->queued = 1;
		fx->next = t->active;
		t->active = fx;
		pthread_cond_signal(&t->cond);
	}
	p->next = fx->pending;
	fx->pending = p;
	serve_pending(fx, 0);
	pthread_mutex_unlock(&t->lock);
}

int fetch_begin(struct fetch *fx, uint64_t total)
{
	struct fetch_table *t = fx->m->fetches;
	struct mfs *m = fx->m;
	int r;

	pthread_mutex_lock(&t->lock);
	fx->total = total;
	fx->have = 0;
	if (fx->tmp.fd < 0) {
		r = body_create(m->bodies, &fx->tmp);
		if (r < 0) {
			fx->write_err = r;
			pthread_mutex_unlock(&t->lock);
			log_err("cannot cache message bodies in %s: %s", m->opt->cache_dir,
			        strerror(-r));
			status_error(m, "cannot write to the cache directory: %s", strerror(-r));
			return r;
		}
	} else if (ftruncate(fx->tmp.fd, 0) < 0) {
		pthread_mutex_unlock(&t->lock);
		return -errno;
	}
	pthread_mutex_unlock(&t->lock);

	if (total != fx->listed_size) {
		/* RFC822.SIZE was wrong (SPEC §2): correct the store first, so a
		 * body file is never larger than what the store says, then make
		 * the kernel ask for the size again before it trusts the old
		 * one past this read (attributes only: safe from any thread). */
		log_debug("message %lld/%u: server said %llu bytes, body has %llu",
		          (long long)fx->folder, fx->uid, (unsigned long long)fx->listed_size,
		          (unsigned long long)total);
		store_msg_set_size(m->store, fx->folder, fx->uid, total);
		fuse_lowlevel_notify_inval_inode(m->se, ino_msg(fx->folder, fx->uid), -1, 0);
	}
	return 0;
}

int fetch_data(struct fetch *fx, const char *data, size_t len)
{
	struct fetch_table *t = fx->m->fetches;
	int r = 0;

	pthread_mutex_lock(&t->lock);
	if (fx->write_err) {
		r = fx->write_err;
	} else if (fx->have + len > fx->total) {
		r = -EPROTO;
	} else {
		size_t done = 0;

		while (done < len) {
			ssize_t n = pwrite(fx->tmp.fd, data + done, len - done,
			                   (off_t)(fx->have + done));
			if (n < 0) {
				if (errno == EINTR)
					continue;
				r = fx->write_err = -errno;
				break;
			}
			done += (size_t)n;
		}
		fx->have += done;
		serve_pending(fx, 0);
	}
	pthread_mutex_unlock(&t->lock);
	if (r == -ENOSPC || r == -EDQUOT) {
		log_err("cache directory %s is full; message bodies cannot be read until "
		        "there is space", fx->m->opt->cache_dir);
		status_error(fx->m, "cache directory full");
	}
	return r;
}

void fetch_end(struct fetch *fx, int err)
{
	struct fetch_table *t = fx->m->fetches;
	struct mfs *m = fx->m;
	struct fetch **pp;

	pthread_mutex_lock(&t->lock);
	if (fx->done) {
		pthread_mutex_unlock(&t->lock);
		return;
	}
	if (!err && fx->write_err)
		err = fx->write_err;
	if (!err && (fx->total == UINT64_MAX || fx->have != fx->total))
		err = -EIO;    /* never publish or serve a partial body as whole */
	if (!err) {
		int r = body_commit(m->bodies, &fx->tmp, fx->folder, fx->uid, 0);
		if (r < 0)
			log_warn("cannot keep a body in the cache: %s", strerror(-r));
	}
	fx->error = err;
	fx->done = 1;
	serve_pending(fx, 1);
	body_tmp_close(m->bodies, &fx->tmp);
	for (pp = &t->active; *pp; pp = &(*pp)->next) {
		if (*pp == fx) {
			*pp = fx->next;
			break;
		}
	}
	pthread_mutex_unlock(&t->lock);
}

static void *fetcher_main(void *arg)
{
	struct mfs *m = arg;
	struct fetch_table *t = m->fetches;

	pthread_mutex_lock(&t->lock);
	for (;;) {
		struct fetch *fx = NULL, *q;

		while (!t->stop) {
			/* Oldest queued job first: the list is newest-first. */
			for (q = t->active; q; q = q->next)
				if (q->queued)
					fx = q;
			if (fx)
				break;
			pthread_cond_wait(&t->cond, &t->lock);
		}
		if (t->stop)
			break;
		fx->queued = 0;
		pthread_mutex_unlock(&t->lock);

		int r = m->ops->fetch(m, fx);
		if (r < 0)
			log_debug("download of message %lld/%u failed: %s", (long long)fx->folder,
			          fx->uid, strerror(-r));
		fetch_end(fx, r < 0 ? r : 0);
		free(fx);   /* fetch_end took it out of the table */
		pthread_mutex_lock(&t->lock);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

int fetch_start(struct mfs *m, int nthreads)
{
	struct fetch_table *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	t->threads = calloc((size_t)nthreads, sizeof(*t->threads));
	if (!t->threads) {
		free(t);
		return -ENOMEM;
	}
	m->fetches = t;
	for (int i = 0; i < nthreads; i++) {
		if (pthread_create(&t->threads[i], NULL, fetcher_main, m) != 0)
			break;
		t->nthreads++;
	}
	return t->nthreads ? 0 : -EAGAIN;
}

void fetch_stop(struct mfs *m)
{
	struct fetch_table *t = m->fetches;

	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->stop = 1;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
	for (int i = 0; i < t->nthreads; i++)
		pthread_join(t->threads[i], NULL);
	/* Downloads never started: answer their readers. */
	while (t->active) {
		struct fetch *fx = t->active;
		t->active = fx->next;
		fx->error = -EIO;
		fx->done = 1;
		serve_pending(fx, 1);
		body_tmp_close(m->bodies, &fx->tmp);
		free(fx);
	}
	m->fetches = NULL;
	free(t->threads);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->cond);
	free(t);
}
