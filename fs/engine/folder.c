/* folder.c - when a folder is compared with the server, and what its sync
 * changes in the engine.
 *
 * A folder is synced the first time it is looked at (synchronously when
 * nothing is cached, so that `ls` shows the truth; in the background when a
 * cached listing can be shown at once), and then every `poll` seconds by
 * the poll thread (poll.c). The driver may ask for one earlier (IDLE, new
 * mail).
 */
#include "fs/engine/engine.h"
#include "fs/log.h"
#include "cache/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct driver_folder folder_view(struct engine *m, struct folder *f)
{
	struct driver_folder v = {
		.id = f->id, .server = folder_server(f), .name = folder_name(f),
	};

	(void)m;
	pthread_mutex_lock(&f->lock);
	v.uidvalidity = f->uidvalidity;
	pthread_mutex_unlock(&f->lock);
	return v;
}

int folder_forgotten(const struct folder *f, uint32_t uid)
{
	unsigned n = f->ngone < 256 ? f->ngone : 256;

	for (unsigned i = 0; i < n; i++)
		if (f->gone_uids[i] == uid)
			return 1;
	return 0;
}

/* One sync of F by the driver, and what it learned kept: the new state in
 * the folder and the store, the face told when messages came or went. A
 * folder recreated on the server (UIDVALIDITY changed) gets a new id and is
 * synced afresh under it. */
static int sync_once(struct engine *m, struct folder *f)
{
	struct driver_folder v = folder_view(m, f);
	struct driver_sync st;
	struct store_folder sf = { .id = f->id };
	int r, first;

	pthread_mutex_lock(&f->lock);
	st = (struct driver_sync){ .uidvalidity = f->uidvalidity, .uidnext = f->uidnext,
	                           .modseq = f->modseq };
	pthread_mutex_unlock(&f->lock);
	first = st.uidvalidity == 0;
	r = m->driver->sync(m->drv, &v, &st);
	if (r == -ESTALE) {
		/* Nothing cached is valid, and nothing is deleted on the
		 * server (SPEC §4). */
		struct folder *nf = tree_renew(m, f);

		return nf ? folder_sync(m, nf) : -EIO;
	}
	if (r < 0)
		return r;
	pthread_mutex_lock(&f->lock);
	f->uidvalidity = st.uidvalidity;
	f->uidnext = st.uidnext;
	f->modseq = st.modseq;
	f->has_cache = 1;
	sf.uidvalidity = f->uidvalidity;
	sf.uidnext = f->uidnext;
	sf.modseq = f->modseq;
	sf.synced = time(NULL);
	pthread_mutex_unlock(&f->lock);
	r = store_folder_synced(m->store, &sf);
	if (st.changed)
		folder_touch(f);
	if (st.changed && !first)
		tell_dir(m, f->id);
	return r;
}

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

	r = sync_once(m, f);

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

int folder_ensure(struct engine *m, struct folder *f)
{
	int cached, r;

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
	r = folder_sync(m, f);
	__atomic_sub_fetch(&m->waiting_listings, 1, __ATOMIC_RELAXED);
	return r;
}

/* ---- first listings, streamed -------------------------------------------------- */

/* A first listing of a folder of a million messages takes half a minute:
 * `ls` shows what the store holds while the rest is fetched (issue 16).
 * The sync stores the server's answer in batches in UID order
 * (driver_msgs_new() moves listed_upto), and readdir, having listed every
 * stored UID, waits in folder_listed() for the next batch or the end. */
struct listing_thread {
	struct listing_thread *next;   /* protected by mfs.listings_lock */
	pthread_t thread;
	struct engine *m;
	struct folder *f;
	int done;                      /* atomic */
};

static int listing_state(struct folder *f)
{
	if (f->listing)
		return 1;
	if (f->synced || f->has_cache)
		return 0;
	return f->last_error ? f->last_error : -EIO;
}

static int listing_run(struct engine *m, struct folder *f)
{
	int r;

	__atomic_add_fetch(&m->waiting_listings, 1, __ATOMIC_RELAXED);
	r = folder_sync(m, f);
	__atomic_sub_fetch(&m->waiting_listings, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&f->lock);
	f->listing = 0;
	if (r < 0 && !f->last_error)
		f->last_error = r;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	return r;
}

static void *listing_main(void *arg)
{
	struct listing_thread *lt = arg;

	listing_run(lt->m, lt->f);
	__atomic_store_n(&lt->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Start F's first listing in a thread; the ones that ended are joined
 * here, so that a long mount keeps no more than those running. */
static int listing_start(struct engine *m, struct folder *f)
{
	struct listing_thread *lt, **pp;
	int r = 0;

	pthread_mutex_lock(&m->listings_lock);
	for (pp = &m->listings; *pp;) {
		lt = *pp;
		if (__atomic_load_n(&lt->done, __ATOMIC_ACQUIRE)) {
			*pp = lt->next;
			pthread_join(lt->thread, NULL);
			free(lt);
		} else {
			pp = &lt->next;
		}
	}
	if (m->listings_stopped) {
		r = -ESHUTDOWN;
	} else if (!(lt = calloc(1, sizeof(*lt)))) {
		r = -ENOMEM;
	} else {
		lt->m = m;
		lt->f = f;
		r = -pthread_create(&lt->thread, NULL, listing_main, lt);
		if (r == 0) {
			lt->next = m->listings;
			m->listings = lt;
		} else {
			free(lt);
		}
	}
	pthread_mutex_unlock(&m->listings_lock);
	return r;
}

int folder_open(struct engine *m, struct folder *f)
{
	if (!folder_server(f) || (folder_flags(f) & STORE_FOLDER_NOSELECT))
		return 0;
	pthread_mutex_lock(&f->lock);
	f->wanted = 1;
	if (f->synced || f->listing) {
		pthread_mutex_unlock(&f->lock);
		return 0;
	}
	if (f->has_cache) {
		f->synced = 1;   /* show the cache now, revalidate below */
		pthread_mutex_unlock(&f->lock);
		folder_sync_later(m, f);
		return 0;
	}
	f->listing = 1;
	f->listed_upto = 0;
	pthread_mutex_unlock(&f->lock);
	if (listing_start(m, f) < 0)
		return listing_run(m, f);   /* no thread: list now */
	return 0;
}

int folder_listing(struct folder *f, uint32_t *upto_r)
{
	int r;

	pthread_mutex_lock(&f->lock);
	r = listing_state(f);
	*upto_r = f->listed_upto;
	pthread_mutex_unlock(&f->lock);
	return r;
}

int folder_listed(struct folder *f, uint32_t upto)
{
	int r;

	pthread_mutex_lock(&f->lock);
	while (f->listing && f->listed_upto <= upto)
		pthread_cond_wait(&f->cond, &f->lock);
	r = listing_state(f);
	pthread_mutex_unlock(&f->lock);
	return r;
}

void folder_listings_stop(struct engine *m)
{
	struct listing_thread *lt;

	pthread_mutex_lock(&m->listings_lock);
	m->listings_stopped = 1;
	lt = m->listings;
	m->listings = NULL;
	pthread_mutex_unlock(&m->listings_lock);
	while (lt) {
		struct listing_thread *next = lt->next;

		pthread_join(lt->thread, NULL);
		free(lt);
		lt = next;
	}
}

void folder_sync_later(struct engine *m, struct folder *f)
{
	if (poll_enqueue(m, f->id) < 0)
		folder_sync(m, f);     /* no poll thread (yet): now */
}
