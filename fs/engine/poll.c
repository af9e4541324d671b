/* poll.c - the background thread that keeps folders fresh: it runs the
 * syncs asked for (folder_sync_later), and every `poll` seconds refreshes
 * the folder list, syncs every folder looked at since mounting, and keeps
 * the cache within cache_size (evict.c). */
#include "fs/engine/engine.h"
#include "net/grow.h"
#include "fs/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct poll_worker {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int64_t *queue;            /* folder ids; protected by lock */
	size_t nqueue, capqueue;   /* protected by lock */
	int stop;                  /* protected by lock */
	pthread_t thread;
};

static struct poll_worker *worker(struct engine *m)
{
	return __atomic_load_n(&m->poll, __ATOMIC_ACQUIRE);
}

int poll_enqueue(struct engine *m, int64_t folder)
{
	struct poll_worker *w = worker(m);

	if (!w)
		return -ENOENT;
	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; i < w->nqueue; i++) {
		if (w->queue[i] == folder) {
			pthread_mutex_unlock(&w->lock);
			return 0;
		}
	}
	if (ARRAY_RESERVE(w->queue, w->nqueue, w->capqueue) < 0) {
		/* Dropped: the next poll round syncs it anyway. */
		pthread_mutex_unlock(&w->lock);
		return 0;
	}
	w->queue[w->nqueue++] = folder;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

/* Refresh the folder list, then every folder looked at since mounting. */
static void poll_round(struct engine *m)
{
	int64_t *ids;
	size_t n = 0, i;
	int r;

	r = tree_refresh(m);
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
	evict_check(m);
}

static void *poll_main(void *arg)
{
	struct engine *m = arg;
	struct poll_worker *w = worker(m);
	struct timespec next;

	evict_check(m);     /* counts the cache once, evicting if needed */
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
		if (now.tv_sec > next.tv_sec ||
		    (now.tv_sec == next.tv_sec && now.tv_nsec >= next.tv_nsec)) {
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

int poll_start(struct engine *m)
{
	struct poll_worker *w = calloc(1, sizeof(*w));
	pthread_condattr_t ca;
	int r;

	if (!w)
		return -ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	__atomic_store_n(&m->poll, w, __ATOMIC_RELEASE);
	r = pthread_create(&w->thread, NULL, poll_main, m);
	if (r) {
		__atomic_store_n(&m->poll, NULL, __ATOMIC_RELEASE);
		free(w);
		return -r;
	}
	return 0;
}

void poll_stop(struct engine *m)
{
	struct poll_worker *w = worker(m);

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	__atomic_store_n(&m->poll, NULL, __ATOMIC_RELEASE);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w->queue);
	free(w);
}
