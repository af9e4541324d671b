/* prefetch.c - the `prefetch` option (SPEC §1): download every message
 * body in the background, for an offline copy and a fast first grep -r.
 *
 * Folder by folder, batches of uncached messages are queued to the fetcher
 * threads as background jobs, which any reader's job overtakes. It keeps at
 * most a few batches queued, stops at 90% of cache_size (a cache that
 * evicts what it just prefetched helps no one), and looks again after each
 * poll interval for new mail.
 */
#include "fs/engine/engine.h"
#include "fs/log.h"
#include "fs/nap.h"
#include "cache/body.h"
#include "cache/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_MAX 512        /* background downloads queued at a time */

struct prefetcher {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stop;                /* protected by lock */
};

/* One pass over every folder; returns 1 when stopping. */
static int pass(struct engine *m, struct prefetcher *p)
{
	uint64_t limit = m->opt->cache_size / 10 * 9;
	int64_t *ids;
	size_t n = 0;
	int queued = 0;

	pthread_rwlock_rdlock(&m->tree_lock);
	ids = malloc((m->nfolders + 1) * sizeof(*ids));
	for (size_t i = 0; ids && i < m->nfolders; i++) {
		struct folder *f = m->folders[i];
		if (!folder_gone(f) && folder_server(f) && !(folder_flags(f) & STORE_FOLDER_NOSELECT))
			ids[n++] = f->id;
	}
	pthread_rwlock_unlock(&m->tree_lock);
	for (size_t i = 0; i < n; i++) {
		struct folder *f = tree_get(m, ids[i]);
		uint32_t after = 0, last;

		if (!f || folder_gone(f) || folder_ensure(m, f) < 0)
			continue;
		for (;;) {
			if (evict_check(m) > limit) {
				status_prefetch(m, "paused: the cache is at its cache_size limit");
				free(ids);
				return nap(&p->lock, &p->cond, &p->stop, NULL, 1000L * m->opt->poll);
			}
			while (fetch_busy(m) > QUEUE_MAX)
				if (nap(&p->lock, &p->cond, &p->stop, NULL, 50)) {
					free(ids);
					return 1;
				}
			last = after;
			int r = fetch_prefetch(m, f->id, after, 256, &last);
			if (r < 0 || last == after)
				break;
			queued += r;
			after = last;
			status_prefetch(m, "downloading %s", folder_name(f));
			status_progress(m, "prefetch: %s, %llu MB cached", folder_name(f),
			                (unsigned long long)(evict_check(m) >> 20));
		}
	}
	free(ids);
	while (fetch_busy(m) > 0)
		if (nap(&p->lock, &p->cond, &p->stop, NULL, 100))
			return 1;
	status_prefetch(m, "complete");
	if (queued)
		status_progress_done(m, "prefetch complete: %llu MB of message bodies cached",
		                     (unsigned long long)(evict_check(m) >> 20));
	return 0;
}

static void *prefetch_main(void *arg)
{
	struct engine *m = arg;
	struct prefetcher *p = m->prefetch;

	while (!pass(m, p))
		if (nap(&p->lock, &p->cond, &p->stop, NULL, 1000L * m->opt->poll))
			break;
	return NULL;
}

int prefetch_start(struct engine *m)
{
	struct prefetcher *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	m->prefetch = p;
	status_prefetch(m, "starting");
	if (pthread_create(&p->thread, NULL, prefetch_main, m) != 0) {
		m->prefetch = NULL;
		free(p);
		return -EAGAIN;
	}
	return 0;
}

void prefetch_stop(struct engine *m)
{
	struct prefetcher *p = m->prefetch;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	m->prefetch = NULL;
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
}
