/* fetch.c - body reads and downloads.
 *
 * A read that misses the cache joins or starts the download of its
 * message. Downloads run on fetcher threads in batches: when a folder is
 * being read through in UID order (grep -r, cp -r), the batch also takes the
 * next uncached messages of the folder, all in one pipelined UID FETCH, and
 * the window doubles while the reader keeps going forward (SPEC §7). Each
 * message of a batch is published in the cache, and its readers answered,
 * as soon as its own FETCH response is complete.
 *
 * With `prefetch`, a background job feeds batches of everything not cached
 * to the fetchers whenever no reader is waiting.
 *
 * When the cache has no room (a full disk, a quota: SPEC §4 and §6), a body
 * that is not cached is read from the server in pieces, each read fetching
 * just the bytes it asks for (BODY.PEEK[]<off.len>), whatever the size of
 * the message: memory holds only the pieces being read, and nothing is
 * kept. The cache is tried again FULL_RETRY_S later.
 */
#include "fs/engine/engine.h"
#include "fs/engine/fetch.h"
#include "fs/log.h"
#include "cache/body.h"
#include "cache/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define RA_MAX_MSGS 1024            /* messages in one batch */
#define RA_MAX_BYTES (32u << 20)    /* bytes in one batch */
#define RA_FOLDERS 8                /* folders whose reading pattern is followed */
#define FULL_RETRY_S 60             /* after the cache refused a body for lack of
                                       room, how long bodies are only read in
                                       pieces before it is tried again */
#define FULL_MARGIN (1u << 20)      /* free space a download must leave */
#define PARTIAL_MIN (1u << 20)      /* a first read of a message this large fetches
                                       only what was asked */
#define PARTIAL_MAX (256u << 10)

struct fetch {
	struct fetch *next;         /* in the table; protected by table lock */
	struct engine *m;
	int64_t folder;
	uint32_t uid;
	uint64_t listed_size;       /* what the store (and the kernel) believed */
	unsigned window;            /* messages to fetch along with this one */
	uint64_t part_off;          /* non-zero part_len: only the part_len bytes */
	uint64_t part_len;          /* at part_off are wanted: a first peek at the
	                               start, or a piece of a body the cache has no
	                               room for. In memory, never cached. 0: the
	                               whole body */

	/* Protected by the table lock. */
	struct body_tmp tmp;
	uint64_t total;             /* UINT64_MAX until fetch_begin */
	uint64_t have;              /* bytes written to tmp */
	int queued;                 /* waiting for a fetcher thread */
	int background;             /* prefetch: no reader asked for it */
	int done;
	int error;
	struct fetch_reader *pending;
	int write_err;              /* first error writing the cache file */
	char *mem;                  /* a part (part_len): its bytes */
};

/* How a folder is being read: forward in UID order makes the window grow. */
struct readahead {
	int64_t folder;
	uint32_t last_uid;
	unsigned window;
	unsigned age;
};

struct fetch_table {
	pthread_mutex_t lock;
	pthread_cond_t cond;        /* fetchers wait for jobs */
	struct fetch *active;       /* every download not yet ended; lock */
	struct readahead ra[RA_FOLDERS];   /* lock */
	unsigned ra_clock;          /* lock */
	int64_t peeked_folder;      /* the last message peeked at; lock */
	uint32_t peeked_uid;        /* lock */
	int stop;                   /* lock */
	time_t full_until;          /* the cache refused a body for lack of room:
	                               bodies go in pieces until then (monotonic
	                               seconds); lock */
	time_t full_said;           /* when the log last said so; lock */
	int nthreads;
	pthread_t *threads;
	uint64_t fetched_bytes;     /* since the last eviction check; lock */
};

int64_t fetch_folder(const struct fetch *fx) { return fx->folder; }
uint32_t fetch_uid(const struct fetch *fx) { return fx->uid; }

/* Answer read R from file descriptor FD holding TOTAL bytes. */
static void reply_from_fd(struct fetch_reader *r, int fd, uint64_t total)
{
	char stackbuf[65536], *buf = stackbuf;
	size_t size = r->size;
	ssize_t n;

	if ((uint64_t)r->off >= total) {
		r->done(r, NULL, 0, 0);
		return;
	}
	if ((uint64_t)r->off + size > total)
		size = (size_t)(total - (uint64_t)r->off);
	if (size > sizeof(stackbuf)) {
		buf = malloc(size);
		if (!buf) {
			r->done(r, NULL, 0, ENOMEM);
			return;
		}
	}
	n = pread(fd, buf, size, r->off);
	if (n < 0)
		r->done(r, NULL, 0, EIO);
	else
		r->done(r, buf, (size_t)n, 0);
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
static int read_cached(struct engine *m, struct fetch_reader *r, int64_t folder, uint32_t uid,
                       uint64_t size_expected)
{
	struct stat st;
	int fd = body_open(m->bodies, folder, uid);

	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != size_expected) {
		/* Truncated by a power loss, or from before a size correction:
		 * not trusted, downloaded again. */
		close(fd);
		if (m->driver->caps & DRIVER_REFETCH)
			body_remove(m->bodies, folder, uid);
		return 0;
	}
	reply_from_fd(r, fd, (uint64_t)st.st_size);
	body_touch(fd, &st);
	close(fd);
	return 1;
}

/* Answer read R from MEM, which holds HAVE bytes of the body from BASE on
 * (R starts at BASE or after). */
static void reply_from_mem(struct fetch_reader *r, const char *mem, uint64_t base,
                           uint64_t have)
{
	uint64_t off = (uint64_t)r->off - base;

	if (off >= have)
		r->done(r, NULL, 0, 0);
	else
		r->done(r, mem + off, off + r->size > have ? (size_t)(have - off) : r->size, 0);
}

/* Answer the pending reads that can be answered; table lock held. With
 * FINAL, answer all of them (EOF or error). */
static void serve_pending(struct fetch *fx, int final)
{
	struct fetch_reader **pp = &fx->pending;
	uint64_t base = fx->part_off;    /* where fx's bytes start in the body */
	uint64_t last = fx->total == UINT64_MAX ? UINT64_MAX : base + fx->total;

	while (*pp) {
		struct fetch_reader *p = *pp;
		uint64_t end = (uint64_t)p->off + p->size;

		if (end > last)
			end = last;
		if (fx->error && (final || (uint64_t)p->off < last)) {
			/* The reader learns "I/O error", whatever broke on the way
			 * (the log says what). */
			*pp = p->next;
			p->done(p, NULL, 0, fx->error == -ENOMEM ? ENOMEM : EIO);
		} else if (base + fx->have >= end || final) {
			*pp = p->next;
			if (fx->mem)
				reply_from_mem(p, fx->mem, base, fx->have);
			else
				reply_from_fd(p, fx->tmp.fd, fx->have);
		} else {
			pp = &p->next;
		}
	}
}

/* A download of FOLDER/UID that covers SIZE bytes at OFF (a part covers
 * only its bytes; SIZE 0: a download of the whole body). Table lock held. */
static struct fetch *find_covering(struct fetch_table *t, int64_t folder, uint32_t uid,
                                   off_t off, size_t size)
{
	for (struct fetch *fx = t->active; fx; fx = fx->next)
		if (fx->folder == folder && fx->uid == uid && !fx->done &&
		    (!fx->part_len || (size && (uint64_t)off >= fx->part_off &&
		                       (uint64_t)off + size <= fx->part_off + fx->part_len)))
			return fx;
	return NULL;
}

static struct fetch *find_active(struct fetch_table *t, int64_t folder, uint32_t uid)
{
	return find_covering(t, folder, uid, 0, 0);
}

static struct fetch *new_fetch(struct engine *m, int64_t folder, uint32_t uid, uint64_t size)
{
	struct fetch *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return NULL;
	fx->m = m;
	fx->folder = folder;
	fx->uid = uid;
	fx->listed_size = size;
	fx->total = UINT64_MAX;
	fx->tmp.fd = -1;
	fx->window = 1;
	return fx;
}

static time_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* The cache has no room for a body (ERR: ENOSPC, EDQUOT): said in the log
 * and the status file, at most once every FULL_RETRY_S. Table lock held. */
static void say_full(struct engine *m, struct fetch_table *t, int err)
{
	time_t now = mono_now();

	if (t->full_said && now - t->full_said < FULL_RETRY_S)
		return;
	t->full_said = now;
	log_warn("cache directory %s is full (%s): messages that are not cached are read "
	         "from the server, piece by piece as programs read them, and not kept",
	         m->opt->cache_dir, strerror(-err));
	status_error(m, "cache directory full: bodies are read from the server each time");
}

/* Writing a body into the cache failed with ERR: say why. Table lock held. */
static void cache_refused(struct engine *m, struct fetch_table *t, int err)
{
	if (err == -ENOSPC || err == -EDQUOT) {
		/* For a while, bodies that are not cached are read in pieces. */
		t->full_until = mono_now() + FULL_RETRY_S;
		say_full(m, t, err);
		return;
	}
	log_err("cannot cache message bodies in %s: %s", m->opt->cache_dir, strerror(-err));
	status_error(m, "cannot write to the cache directory: %s", strerror(-err));
}

/* Whether a body of SIZE bytes is to be read in pieces: the cache refused
 * one for lack of room lately, or its disk has no room for this one (a
 * smaller one may still fit). Table lock held. */
static int cache_full(struct engine *m, struct fetch_table *t, uint64_t size)
{
	struct statvfs sv;

	if (t->full_until && mono_now() < t->full_until)
		return 1;
	if (statvfs(m->opt->cache_dir, &sv) == 0 &&
	    (uint64_t)sv.f_bavail * sv.f_frsize < size + FULL_MARGIN) {
		say_full(m, t, -ENOSPC);
		return 1;
	}
	return 0;
}

/* Queue reader P of FOLDER/UID (SIZE bytes, as the store says) as a piece
 * of its own, or join a piece that covers it. Table lock held. */
static void read_piece(struct engine *m, struct fetch_table *t, int64_t folder, uint32_t uid,
                       uint64_t size, struct fetch_reader *p)
{
	struct fetch *fx = find_covering(t, folder, uid, p->off, p->size);

	if (!fx) {
		fx = new_fetch(m, folder, uid, size);
		if (!fx) {
			p->done(p, NULL, 0, ENOMEM);
			return;
		}
		fx->part_off = (uint64_t)p->off;
		fx->part_len = p->size ? p->size : 1;
		fx->queued = 1;
		fx->next = t->active;
		t->active = fx;
		pthread_cond_signal(&t->cond);
	}
	p->next = fx->pending;
	fx->pending = p;
}

/* A miss on FOLDER/UID: how many messages to fetch with it. Table lock
 * held. Reading forward doubles the window; anything else resets it. */
static unsigned readahead_window(struct fetch_table *t, int64_t folder, uint32_t uid)
{
	struct readahead *ra = NULL, *oldest = &t->ra[0];

	t->ra_clock++;
	for (int i = 0; i < RA_FOLDERS; i++) {
		if (t->ra[i].folder == folder) {
			ra = &t->ra[i];
			break;
		}
		if (t->ra[i].age < oldest->age)
			oldest = &t->ra[i];
	}
	if (!ra) {
		ra = oldest;
		ra->folder = folder;
		ra->last_uid = 0;
		ra->window = 1;
	}
	ra->age = t->ra_clock;
	if (uid > ra->last_uid && ra->last_uid)
		ra->window = ra->window < RA_MAX_MSGS / 2 ? ra->window * 2 : RA_MAX_MSGS;
	else if (uid <= ra->last_uid)
		ra->window = 1;
	ra->last_uid = uid;
	return ra->window;
}

void fetch_read(struct engine *m, int64_t folder, uint32_t uid, struct fetch_reader *p)
{
	struct fetch_table *t = m->fetches;
	struct msg_info info = { 0 };
	struct fetch *fx;
	int r;

	r = store_msg_get(m->store, folder, uid, got_msg, &info);
	if (r < 0) {
		p->done(p, NULL, 0, r == -ENOENT ? ENOENT : EIO);
		return;
	}
	if (read_cached(m, p, folder, uid, info.size))
		return;

	pthread_mutex_lock(&t->lock);
	fx = find_covering(t, folder, uid, p->off, p->size);
	if (!fx) {
		/* The body may have been published since we looked. */
		pthread_mutex_unlock(&t->lock);
		if (read_cached(m, p, folder, uid, info.size))
			return;
		pthread_mutex_lock(&t->lock);
		fx = find_covering(t, folder, uid, p->off, p->size);
	}
	if ((!fx || fx->write_err == -ENOSPC || fx->write_err == -EDQUOT) &&
	    cache_full(m, t, info.size)) {
		read_piece(m, t, folder, uid, info.size, p);
		pthread_mutex_unlock(&t->lock);
		return;
	}
	if (!fx) {
		fx = new_fetch(m, folder, uid, info.size);
		if (!fx) {
			pthread_mutex_unlock(&t->lock);
			p->done(p, NULL, 0, ENOMEM);
			return;
		}
		fx->window = p->off == 0 ? readahead_window(t, folder, uid) : 1;
		/* A first look at the start of a large message (a file manager
		 * sniffing its type, `head`): fetch just that. Reading on, or
		 * reading it again, downloads it whole. */
		if (p->off == 0 && p->size <= PARTIAL_MAX && info.size >= PARTIAL_MIN &&
		    fx->window == 1 && !m->opt->prefetch &&
		    !(t->peeked_folder == folder && t->peeked_uid == uid)) {
			fx->part_len = p->size;
			t->peeked_folder = folder;
			t->peeked_uid = uid;
		}
		fx->queued = 1;
		fx->next = t->active;
		t->active = fx;
		pthread_cond_signal(&t->cond);
	} else if (fx->background) {
		/* A reader now waits for a prefetched message. */
		fx->background = 0;
	}
	p->next = fx->pending;
	fx->pending = p;
	serve_pending(fx, 0);
	pthread_mutex_unlock(&t->lock);
}

/* What part FX, of TOTAL bytes, tells of the body's size, corrected as a
 * whole body's would be (SPEC §2): a part shorter than asked for ends with
 * the body; one that goes past the size the store has, shows the body is
 * at least that long. An empty part after the start says only that the
 * body ends before it (RFC 3501 §6.4.5): nothing is changed then. */
static void part_size(struct fetch *fx, uint64_t total)
{
	struct engine *m = fx->m;
	struct msg_info info = { 0 };
	uint64_t end = fx->part_off + total;

	if (total == 0 && fx->part_off > 0)
		return;
	if (store_msg_get(m->store, fx->folder, fx->uid, got_msg, &info) < 0 || !info.found)
		return;
	if ((total < fx->part_len && end != info.size) || end > info.size) {
		log_debug("message %lld/%u: size %llu, not %llu (a part of it says)",
		          (long long)fx->folder, fx->uid, (unsigned long long)end,
		          (unsigned long long)info.size);
		store_msg_set_size(m->store, fx->folder, fx->uid, end);
		tell_msg(m, fx->folder, fx->uid);
	}
}

int fetch_begin(struct fetch *fx, uint64_t total)
{
	struct fetch_table *t = fx->m->fetches;
	struct engine *m = fx->m;
	int r;

	pthread_mutex_lock(&t->lock);
	fx->total = total;
	fx->have = 0;
	if (fx->part_len) {
		/* A part: in memory, and no larger than asked for (the server
		 * says how large: SPEC §5). */
		free(fx->mem);
		fx->mem = NULL;
		if (total > fx->part_len)
			fx->write_err = -EPROTO;
		else if (!(fx->mem = malloc(total ? total : 1)))
			fx->write_err = -ENOMEM;
		r = fx->write_err;
		pthread_mutex_unlock(&t->lock);
		if (r == 0)
			part_size(fx, total);
		return r;
	}
	if (fx->tmp.fd < 0) {
		r = body_create(m->bodies, &fx->tmp);
		if (r < 0) {
			fx->write_err = r;
			cache_refused(m, t, r);
			pthread_mutex_unlock(&t->lock);
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
		tell_msg(m, fx->folder, fx->uid);
	}
	return 0;
}

/* A large download gives way while a program waits for a listing: it stops
 * reading for a moment, TCP stops the server's side too, and the listing
 * gets the CPU (SPEC §7, "ls while a 25 MB body downloads"). Bounded, so a
 * stream of listings cannot starve a reader. */
static void give_way(struct fetch *fx)
{
	struct timespec pause = { 0, 2000000 };

	if (fx->total < (1u << 20))
		return;
	for (int i = 0; i < 100 &&
	     __atomic_load_n(&fx->m->waiting_listings, __ATOMIC_RELAXED) > 0; i++)
		nanosleep(&pause, NULL);
}

int fetch_data(struct fetch *fx, const char *data, size_t len)
{
	struct fetch_table *t = fx->m->fetches;
	int r = 0;

	give_way(fx);

	pthread_mutex_lock(&t->lock);
	if (fx->write_err) {
		r = fx->write_err;
	} else if (fx->have + len > fx->total) {
		r = -EPROTO;
	} else if (fx->part_len) {
		memcpy(fx->mem + fx->have, data, len);
		fx->have += len;
		serve_pending(fx, 0);
	} else {
		size_t done = 0;

		while (done < len) {
			ssize_t n = pwrite(fx->tmp.fd, data + done, len - done,
			                   (off_t)(fx->have + done));
			if (n < 0) {
				if (errno == EINTR)
					continue;
				r = -errno;
				break;
			}
			done += (size_t)n;
		}
		fx->have += done;
		if (r < 0) {
			/* What arrived so far still serves its readers; the
			 * others are read in pieces once this ends (fetch_end). */
			fx->write_err = r;
			cache_refused(fx->m, t, r);
		}
		serve_pending(fx, 0);
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

void fetch_end(struct fetch *fx, int err)
{
	struct fetch_table *t = fx->m->fetches;
	struct engine *m = fx->m;
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
	if (!err && !fx->part_len) {
		int r = body_commit(m->bodies, &fx->tmp, fx->folder, fx->uid, 0);
		if (r < 0) {
			log_warn("cannot keep a body in the cache: %s", strerror(-r));
		} else {
			t->fetched_bytes += fx->total;
			t->full_until = 0;     /* there is room again */
			t->full_said = 0;
		}
	}
	fx->error = err;
	fx->done = 1;
	if (err && !fx->part_len && (fx->write_err == -ENOSPC || fx->write_err == -EDQUOT)) {
		/* The cache ran out of room for this body: those still waiting
		 * for bytes are served in pieces from the server instead. */
		struct fetch_reader *p = fx->pending, *next;
		uint64_t size = fx->total != UINT64_MAX ? fx->total : fx->listed_size;

		fx->pending = NULL;
		for (; p; p = next) {
			next = p->next;
			read_piece(m, t, fx->folder, fx->uid, size, p);
		}
	}
	serve_pending(fx, 1);
	body_tmp_close(m->bodies, &fx->tmp);
	free(fx->mem);
	fx->mem = NULL;
	for (pp = &t->active; *pp; pp = &(*pp)->next) {
		if (*pp == fx) {
			*pp = fx->next;
			break;
		}
	}
	pthread_mutex_unlock(&t->lock);
}

struct batch_ctx {
	struct fetch_table *t;
	struct engine *m;
	int64_t folder;
	struct fetch **fxs;
	size_t n, max;
	uint64_t bytes;
	uint32_t last_seen;         /* highest UID looked at */
};

/* Add the next messages of the folder that are neither cached nor being
 * fetched; table lock held. */
static int batch_add(void *ctx, const struct store_msg *msg)
{
	struct batch_ctx *b = ctx;
	struct fetch *fx;

	if (b->n >= b->max || b->bytes + msg->size > RA_MAX_BYTES)
		return 1;
	b->last_seen = msg->uid;
	if (find_active(b->t, b->folder, msg->uid) ||
	    body_exists(b->m->bodies, b->folder, msg->uid))
		return 0;
	fx = new_fetch(b->m, b->folder, msg->uid, msg->size);
	if (!fx)
		return 1;
	fx->next = b->t->active;
	b->t->active = fx;
	b->fxs[b->n++] = fx;
	b->bytes += msg->size;
	return 0;
}

/* Take the next job: the oldest a reader waits for, else the oldest
 * prefetch. Table lock held; NULL when there is none. */
static struct fetch *next_job(struct fetch_table *t)
{
	struct fetch *fg = NULL, *bg = NULL;

	for (struct fetch *q = t->active; q; q = q->next) {
		if (!q->queued)
			continue;
		if (q->background)
			bg = q;        /* the list is newest first: keep the oldest */
		else
			fg = q;
	}
	return fg ? fg : bg;
}

/* Download FXS (N, of FOLDER) through the driver. */
static int fetch_from_server(struct engine *m, int64_t folder, struct fetch **fxs, size_t n)
{
	struct folder *f = tree_get(m, folder);
	struct driver_folder v;

	if (!m->driver->fetch) {
		/* Every body is in the cache from the moment it is listed (POP3);
		 * one that is missing was lost locally (disk trouble), not on the
		 * server. */
		log_err("a message body is missing from the cache directory %s",
		        m->opt->cache_dir);
		return -EIO;
	}
	if (!f || folder_gone(f) || !folder_server(f))
		return -ENOENT;
	v = folder_view(m, f);
	return m->driver->fetch(m->drv, &v, fxs, n);
}

static void *fetcher_main(void *arg)
{
	struct engine *m = arg;
	struct fetch_table *t = m->fetches;
	struct fetch **fxs = calloc(RA_MAX_MSGS, sizeof(*fxs));

	/* Downloads are bulk work: when the CPU is short, listings and
	 * lookups go first (Linux: nice applies per thread). */
	setpriority(PRIO_PROCESS, (id_t)gettid(), 5);

	if (!fxs)
		return NULL;
	pthread_mutex_lock(&t->lock);
	for (;;) {
		struct fetch *fx;
		size_t n = 1;

		while (!t->stop && !(fx = next_job(t)))
			pthread_cond_wait(&t->cond, &t->lock);
		if (t->stop)
			break;
		fx->queued = 0;
		fxs[0] = fx;
		/* Queued jobs of the same folder ride along, then the messages
		 * after this one, as far as the window says. Kept in UID order. */
		for (struct fetch *q = t->active; q && n < RA_MAX_MSGS && !fx->part_len; q = q->next) {
			if (q->queued && q->folder == fx->folder && q->background == fx->background &&
			    !q->part_len) {
				q->queued = 0;
				fxs[n++] = q;
			}
		}
		if (fx->window > 1) {
			struct batch_ctx b = {
				.t = t, .m = m, .folder = fx->folder, .fxs = fxs, .n = n,
				.max = fx->window < RA_MAX_MSGS ? fx->window : RA_MAX_MSGS,
				.bytes = fx->listed_size,
			};
			/* (The store lock is taken under the table lock; the store
			 * never calls back into fetch.c.) */
			store_msg_list(m->store, fx->folder, fx->uid, b.max * 2, batch_add, &b);
			n = b.n;
		}
		for (size_t i = 1; i < n; i++)     /* insertion sort by UID */
			for (size_t j = i; j > 0 && fxs[j]->uid < fxs[j - 1]->uid; j--) {
				struct fetch *tmp = fxs[j];
				fxs[j] = fxs[j - 1];
				fxs[j - 1] = tmp;
			}
		pthread_mutex_unlock(&t->lock);

		int r = fetch_from_server(m, fx->folder, fxs, n);
		if (r < 0)
			log_debug("download of %zu message(s) from folder %lld failed: %s", n,
			          (long long)fx->folder, strerror(-r));
		for (size_t i = 0; i < n; i++) {
			fetch_end(fxs[i], r < 0 ? r : -EIO);   /* those not ended yet failed */
			free(fxs[i]);
		}
		pthread_mutex_lock(&t->lock);
	}
	pthread_mutex_unlock(&t->lock);
	free(fxs);
	return NULL;
}

int fetch_prefetch(struct engine *m, int64_t folder, uint32_t after, unsigned max,
                   uint32_t *last_r)
{
	struct fetch_table *t = m->fetches;
	struct fetch *fxs_local[64];
	struct batch_ctx b = {
		.t = t, .m = m, .folder = folder, .fxs = fxs_local, .max = max < 64 ? max : 64,
	};
	int r;

	if (!t)
		return -EINVAL;
	pthread_mutex_lock(&t->lock);
	*last_r = after;
	if (cache_full(m, t, 0)) {
		/* Nothing can be kept: downloading it all would be for nothing. */
		pthread_mutex_unlock(&t->lock);
		return -ENOSPC;
	}
	r = store_msg_list(m->store, folder, after, b.max * 4, batch_add, &b);
	for (size_t i = 0; i < b.n; i++) {
		b.fxs[i]->queued = 1;
		b.fxs[i]->background = 1;
		b.fxs[i]->window = RA_MAX_MSGS;
	}
	if (b.last_seen > *last_r)
		*last_r = b.last_seen;
	if (b.n)
		pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
	return r < 0 ? r : (int)b.n;
}

int fetch_busy(struct engine *m)
{
	struct fetch_table *t = m->fetches;
	int n = 0;

	pthread_mutex_lock(&t->lock);
	for (struct fetch *q = t->active; q; q = q->next)
		n++;
	pthread_mutex_unlock(&t->lock);
	return n;
}

uint64_t fetch_take_bytes(struct engine *m)
{
	struct fetch_table *t = m->fetches;
	uint64_t n;

	pthread_mutex_lock(&t->lock);
	n = t->fetched_bytes;
	t->fetched_bytes = 0;
	pthread_mutex_unlock(&t->lock);
	return n;
}

int fetch_start(struct engine *m, int nthreads)
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

void fetch_stop(struct engine *m)
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
		free(fx->mem);
		free(fx);
	}
	m->fetches = NULL;
	free(t->threads);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->cond);
	free(t);
}

uint64_t fetch_part_len(const struct fetch *fx)
{
	return fx->part_len;
}

uint64_t fetch_part_off(const struct fetch *fx)
{
	return fx->part_off;
}
