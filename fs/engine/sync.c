/* sync.c - when folders are compared with the server.
 *
 * A folder is synced the first time it is looked at (synchronously when
 * nothing is cached, so that `ls` shows the truth; in the background when a
 * cached listing can be shown at once), and then every `poll` seconds by
 * the background thread here, which also refreshes the folder list. The
 * backend may push a round earlier (IDLE).
 */
#include "fs/engine/engine.h"
#include "fs/engine/fetch.h"
#include "fs/log.h"
#include "cache/body.h"
#include "cache/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct sync_worker {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int64_t *queue;            /* folder ids; protected by lock */
	size_t nqueue, capqueue;   /* protected by lock */
	int poll_now;              /* protected by lock */
	int stop;                  /* protected by lock */
	pthread_t thread;
};

int folder_sync(struct engine *m, struct folder *f)
{
	int r;

	if (!folder_server(f) || (folder_flags(f) & STORE_FOLDER_NOSELECT))
		return 0;
	pthread_mutex_lock(&f->lock);
	if (f->syncing) {
		while (f->syncing)
			pthread_cond_wait(&f->cond, &f->lock);
		r = f->synced ? 0 : f->last_error;
		pthread_mutex_unlock(&f->lock);
		return r;
	}
	f->syncing = 1;
	pthread_mutex_unlock(&f->lock);

	r = m->ops->sync(m, f);

	pthread_mutex_lock(&f->lock);
	f->syncing = 0;
	f->last_error = r;
	if (r == 0) {
		f->synced = 1;
		f->last_sync = time(NULL);
	}
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	return r;
}

int folder_forgotten(const struct folder *f, uint32_t uid)
{
	unsigned n = f->ngone < 256 ? f->ngone : 256;

	for (unsigned i = 0; i < n; i++)
		if (f->gone_uids[i] == uid)
			return 1;
	return 0;
}

int folder_ensure(struct engine *m, struct folder *f)
{
	int cached;

	if (!folder_server(f) || (folder_flags(f) & STORE_FOLDER_NOSELECT))
		return 0;
	pthread_mutex_lock(&f->lock);
	f->wanted = 1;
	if (f->synced) {
		pthread_mutex_unlock(&f->lock);
		return 0;
	}
	cached = f->has_cache;
	if (cached)
		f->synced = 1;   /* show the cache now, revalidate below */
	pthread_mutex_unlock(&f->lock);
	if (cached) {
		folder_sync_later(m, f);
		return 0;
	}
	/* A program waits for this listing. */
	__atomic_add_fetch(&m->waiting_listings, 1, __ATOMIC_RELAXED);
	int r = folder_sync(m, f);
	__atomic_sub_fetch(&m->waiting_listings, 1, __ATOMIC_RELAXED);
	return r;
}

void folder_sync_later(struct engine *m, struct folder *f)
{
	struct sync_worker *w = m->sync;

	if (!w) {
		folder_sync(m, f);
		return;
	}
	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; i < w->nqueue; i++) {
		if (w->queue[i] == f->id) {
			pthread_mutex_unlock(&w->lock);
			return;
		}
	}
	if (w->nqueue == w->capqueue) {
		size_t cap = w->capqueue ? w->capqueue * 2 : 16;
		int64_t *q = realloc(w->queue, cap * sizeof(*q));

		if (!q) {
			pthread_mutex_unlock(&w->lock);
			return;
		}
		w->queue = q;
		w->capqueue = cap;
	}
	w->queue[w->nqueue++] = f->id;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

void sync_poll_now(struct engine *m)
{
	struct sync_worker *w = m->sync;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->poll_now = 1;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

uint64_t cache_usage(struct engine *m)
{
	uint64_t added = fetch_take_bytes(m), limit = m->opt->cache_size, bytes;
	int count;

	pthread_mutex_lock(&m->status_lock);
	m->cache_bytes += added;
	bytes = m->cache_bytes;
	count = !m->cache_counted;
	pthread_mutex_unlock(&m->status_lock);
	if (!count && (bytes <= limit || m->opt->proto == PROTO_POP3))
		return bytes;
	/* Count (first time), or evict down to 90% of the limit. */
	int64_t now = body_evict(m->bodies, m->opt->proto == PROTO_POP3 ? UINT64_MAX : limit,
	                         limit / 10 * 9);
	if (now < 0)
		return bytes;
	pthread_mutex_lock(&m->status_lock);
	m->cache_bytes = (uint64_t)now;
	m->cache_counted = 1;
	pthread_mutex_unlock(&m->status_lock);
	if (!count)
		log_info("cache over its %llu MB limit: evicted the least recently read bodies",
		         (unsigned long long)(limit >> 20));
	return (uint64_t)now;
}

/* Refresh the folder list, then every folder looked at since mounting. */
static void poll_round(struct engine *m)
{
	int64_t *ids;
	size_t n = 0, i;
	int r;

	r = m->ops->list(m);
	if (r < 0)
		log_debug("poll: folder list failed: %s", strerror(-r));
	pthread_rwlock_rdlock(&m->tree_lock);
	ids = malloc((m->nfolders + 1) * sizeof(*ids));
	for (i = 0; ids && i < m->nfolders; i++) {
		struct folder *f = m->folders[i];

		pthread_mutex_lock(&f->lock);
		if (!folder_gone(f) && f->wanted)
			ids[n++] = f->id;
		pthread_mutex_unlock(&f->lock);
	}
	pthread_rwlock_unlock(&m->tree_lock);
	for (i = 0; i < n; i++) {
		struct folder *f = tree_get(m, ids[i]);

		if (f && !folder_gone(f))
			folder_sync(m, f);
	}
	free(ids);
	cache_usage(m);
}

static void *sync_main(void *arg)
{
	struct engine *m = arg;
	struct sync_worker *w = m->sync;
	struct timespec next;

	cache_usage(m);     /* counts the cache once, evicting if needed */
	clock_gettime(CLOCK_MONOTONIC, &next);
	next.tv_sec += m->opt->poll;
	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		struct timespec now;

		if (w->nqueue) {
			int64_t id = w->queue[0];
			struct folder *f;

			memmove(w->queue, w->queue + 1, (w->nqueue - 1) * sizeof(*w->queue));
			w->nqueue--;
			pthread_mutex_unlock(&w->lock);
			f = tree_get(m, id);
			if (f && !folder_gone(f))
				folder_sync(m, f);
			pthread_mutex_lock(&w->lock);
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (w->poll_now || now.tv_sec > next.tv_sec ||
		    (now.tv_sec == next.tv_sec && now.tv_nsec >= next.tv_nsec)) {
			w->poll_now = 0;
			pthread_mutex_unlock(&w->lock);
			poll_round(m);
			clock_gettime(CLOCK_MONOTONIC, &next);
			next.tv_sec += m->opt->poll;
			pthread_mutex_lock(&w->lock);
			continue;
		}
		pthread_cond_timedwait(&w->cond, &w->lock, &next);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int sync_start(struct engine *m)
{
	struct sync_worker *w = calloc(1, sizeof(*w));
	pthread_condattr_t ca;
	int r;

	if (!w)
		return -ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	m->sync = w;
	r = pthread_create(&w->thread, NULL, sync_main, m);
	if (r) {
		m->sync = NULL;
		free(w);
		return -r;
	}
	return 0;
}

void sync_stop(struct engine *m)
{
	struct sync_worker *w = m->sync;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	m->sync = NULL;
	free(w->queue);
	free(w);
}
