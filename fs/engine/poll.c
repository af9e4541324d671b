/* poll.c - the background thread that keeps folders fresh: it runs the
 * syncs asked for (folder_sync_later, and folder-list refreshes the server
 * announced), and every `poll` seconds refreshes the folder list, asks the
 * state of every folder looked at since mounting in the same round trip,
 * syncs those that changed, and keeps the cache within cache_size
 * (evict.c). */
#include "fs/engine/engine.h"
#include "net/grow.h"
#include "fs/log.h"
#include "cache/store.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
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

static double seconds_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Refresh the folder list and ask the state of every folder looked at
 * since mounting, in one go where the driver can (LIST-STATUS, or LIST and
 * STATUS pipelined), then sync the folders whose state changed. */
void poll_once(struct engine *m)
{
	struct driver_folder *watch;
	struct timespec t0;
	size_t n = 0, synced = 0, i;
	int trips;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_rwlock_rdlock(&m->tree_lock);
	watch = malloc((m->nfolders + 1) * sizeof(*watch));
	for (i = 0; watch && i < m->nfolders; i++) {
		struct folder *f = m->folders[i];
		int want;

		pthread_mutex_lock(&f->lock);
		want = !folder_gone(f) && f->wanted;
		f->unchanged = 0;
		pthread_mutex_unlock(&f->lock);
		if (want && folder_server(f) && !(folder_flags(f) & STORE_FOLDER_NOSELECT))
			watch[n++] = folder_view(m, f);
	}
	pthread_rwlock_unlock(&m->tree_lock);
	trips = tree_refresh(m, watch, n);
	if (trips < 0)
		log_debug("poll: folder list failed: %s", strerror(-trips));
	for (i = 0; i < n; i++) {
		struct folder *f = tree_get(m, watch[i].id);
		int unchanged;

		if (!f || folder_gone(f))
			continue;
		pthread_mutex_lock(&f->lock);
		unchanged = f->unchanged;
		pthread_mutex_unlock(&f->lock);
		if (!unchanged) {
			folder_sync(m, f);
			synced++;
		}
	}
	free(watch);
	pthread_mutex_lock(&m->status_lock);
	if (trips < 0)
		snprintf(m->poll_state, sizeof(m->poll_state), "the folder list failed: %s",
		         strerror(-trips));
	else
		snprintf(m->poll_state, sizeof(m->poll_state), "%zu folder%s asked in %d round "
		         "trip%s, %zu synced, %.3f s", n, n == 1 ? "" : "s", trips,
		         trips == 1 ? "" : "s", synced, seconds_since(&t0));
	pthread_mutex_unlock(&m->status_lock);
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
			if (id == POLL_TREE) {
				int r = tree_refresh(m, NULL, 0);

				if (r < 0)
					log_debug("folder list failed: %s", strerror(-r));
			} else if ((f = tree_get(m, id)) && !folder_gone(f)) {
				folder_sync(m, f);
			}
			pthread_mutex_lock(&w->lock);
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > next.tv_sec ||
		    (now.tv_sec == next.tv_sec && now.tv_nsec >= next.tv_nsec)) {
			pthread_mutex_unlock(&w->lock);
			poll_once(m);
			evict_check(m);
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
