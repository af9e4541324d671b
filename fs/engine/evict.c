/* evict.c - the cache_size limit (SPEC §1): count what downloads added, and
 * evict the least recently read bodies when over the limit. Never when the
 * cache holds the only copy (a driver without DRIVER_REFETCH: POP3). */
#include "fs/engine/engine.h"
#include "fs/log.h"
#include "cache/body.h"

#include <stdint.h>

uint64_t evict_check(struct engine *m)
{
	uint64_t added = fetch_take_bytes(m) + view_take_bytes(m), limit = m->opt->cache_size, bytes;
	int keep_all = !(m->driver->caps & DRIVER_REFETCH);
	int count;
	int64_t now;

	pthread_mutex_lock(&m->status_lock);
	m->cache_bytes += added;
	bytes = m->cache_bytes;
	count = !m->cache_counted;
	pthread_mutex_unlock(&m->status_lock);
	if (!count && (bytes <= limit || keep_all))
		return bytes;
	/* Count (first time), or evict down to 90% of the limit. */
	now = body_evict(m->bodies, limit, limit / 10 * 9, keep_all);
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
