/* engine.c - the engine's life: set up from the options and the cache,
 * checked against the server, started once mounted, stopped and freed in
 * the reverse order. */
#include "fs/engine/engine.h"
#include "fs/log.h"
#include "cache/body.h"
#include "cache/store.h"
#include "net/tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FETCH_THREADS 2

int engine_init(struct engine *m, struct mfs_options *opt, const struct driver *driver,
                char *secret, char *err, size_t errlen)
{
	int r;

	m->opt = opt;
	m->driver = driver;
	m->secret = secret;
	m->mount_time = time(NULL);
	pthread_mutex_init(&m->tree_change, NULL);
	pthread_rwlock_init(&m->tree_lock, NULL);
	pthread_mutex_init(&m->status_lock, NULL);
	pthread_mutex_init(&m->listings_lock, NULL);
	m->tls = tls_ctx_new(opt->cafile, err, errlen);
	if (!m->tls)
		return -EINVAL;
	/* Where the cache is the only copy, every commit reaches the disk. */
	r = store_open(opt->cache_dir, !(m->driver->caps & DRIVER_REFETCH), &m->store, err,
	               errlen);
	if (r < 0)
		return r;
	r = body_cache_open(opt->cache_dir, &m->bodies);
	if (r < 0) {
		snprintf(err, errlen, "cannot use cache directory %s: %s", opt->cache_dir,
		         strerror(-r));
		return r;
	}
	if (opt->trash && opt->trash[0] == '\\' && !folder_role_parse(opt->trash)) {
		snprintf(err, errlen, "trash=%s: not a special use (\\Trash, \\Junk, \\Archive, "
		         "\\Sent, \\Drafts, \\All, \\Flagged), nor a folder name", opt->trash);
		return -EINVAL;
	}
	if ((r = view_init(m)) < 0 || (r = search_init(m)) < 0) {
		snprintf(err, errlen, "out of memory");
		return r;
	}
	r = tree_load(m);
	if (r < 0)
		snprintf(err, errlen, "cannot read the cache in %s: %s", opt->cache_dir,
		         store_error(m->store));
	return r;
}

int engine_open(struct engine *m, char *err, size_t errlen)
{
	struct driver_params p = {
		.opt = m->opt, .secret = m->secret, .tls = m->tls, .folders_cached = m->nfolders > 0,
	};
	int r, transient;

	r = m->driver->open(m, &p, &m->drv, err, errlen, &transient);
	if (r < 0) {
		/* Unreachable, with a cache from an earlier mount: come up from
		 * the cache (SPEC §3, §4); a refused login or certificate always
		 * fails. */
		if (!m->drv || !transient || m->nfolders == 0)
			return r;
		log_warn("%s; the mount comes up from the cache", err);
		status_error(m, "%s", err);
		m->offline_start = 1;
		return 0;
	}
	r = tree_refresh(m, NULL, 0);
	if (r < 0)
		snprintf(err, errlen, "cannot list the folders of %s: %s", m->opt->host,
		         m->last_error[0] ? m->last_error : strerror(-r));
	return r < 0 ? r : 0;
}

int engine_start(struct engine *m)
{
	int r;

	r = fetch_start(m, FETCH_THREADS);
	if (r == 0)
		r = poll_start(m);
	if (r < 0)
		return r;
	if (!(m->driver->caps & DRIVER_FOLDERS)) {
		/* One INBOX, downloaded (POP3): always watched, and always
		 * showing what is downloaded so far, so that a first `ls` does
		 * not wait for the whole mailbox. */
		struct folder *inbox = tree_by_path(m, "INBOX");

		if (inbox) {
			pthread_mutex_lock(&inbox->lock);
			inbox->wanted = 1;
			inbox->synced = 1;
			inbox->has_cache = 1;
			pthread_mutex_unlock(&inbox->lock);
			folder_sync_later(m, inbox);
		}
	}
	m->driver->start(m->drv);
	if (m->opt->prefetch && prefetch_start(m) < 0)
		log_warn("cannot start prefetching");
	return 0;
}

void engine_stop(struct engine *m)
{
	/* The producers of work first, then what they feed. */
	prefetch_stop(m);
	if (m->drv)
		m->driver->stop(m->drv);
	folder_listings_stop(m);
	poll_stop(m);
	fetch_stop(m);
}

void engine_free(struct engine *m)
{
	if (m->drv)
		m->driver->close(m->drv);
	m->drv = NULL;
	if (m->store)
		store_close(m->store);
	if (m->bodies)
		body_cache_close(m->bodies);
	view_free(m);
	search_free(m);
	tls_ctx_free(m->tls);
	if (m->secret) {
		explicit_bzero(m->secret, strlen(m->secret));
		free(m->secret);
	}
	tree_free(m);
	pthread_mutex_destroy(&m->status_lock);
	pthread_mutex_destroy(&m->listings_lock);
	pthread_rwlock_destroy(&m->tree_lock);
	pthread_mutex_destroy(&m->tree_change);
}
