/* tree.c - the folder table: which directories exist and what they map to.
 *
 * The server's LIST is the truth; the store keeps a copy so that a mount
 * without network still shows the tree. tree_sync() reconciles the two and
 * tells the kernel about directories that went away.
 */
#include "fs/engine/engine.h"
#include "net/grow.h"
#include "fs/engine/layout.h"
#include "fs/log.h"
#include "cache/body.h"
#include "cache/store.h"
#include "net/mutf7.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static struct folder *folder_new(const struct store_folder *sf)
{
	struct folder *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->id = sf->id;
	f->parent = sf->parent;
	f->name = strdup(sf->name);
	f->server = sf->server ? strdup(sf->server) : NULL;
	if (!f->name || (sf->server && !f->server)) {
		free(f->name);
		free(f->server);
		free(f);
		return NULL;
	}
	f->delim = sf->delim;
	f->flags = sf->flags;
	f->uidvalidity = sf->uidvalidity;
	f->uidnext = sf->uidnext;
	f->modseq = sf->modseq;
	f->has_cache = sf->uidvalidity != 0;
	f->mtime = time(NULL);
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	return f;
}

/* A tree field changes: under tree_lock, but read elsewhere without it
 * (folder_gone() and friends, mfs.h). */
#define tree_set(field, value) __atomic_store_n((field), (value), __ATOMIC_RELEASE)

static void folder_free(struct folder *f)
{
	free(f->name);
	free(f->server);
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->cond);
	free(f);
}

/* ---- the indexes (tree_lock held for writing to change them) -------------
 *
 * m->folders is ordered by id (the store hands out ascending ids and never
 * reuses one), so a folder is found by binary search. Live folders are also
 * in a hash table by (parent, name) and in their parent's list of
 * subdirectories; nsub and ntop count those lists. Every operation is
 * O(1) or O(log n), so that a server listing many folders costs
 * O(n log n), not O(n^2) (issue 11). */

static uint64_t key_hash(int64_t parent, const char *name)
{
	uint64_t h = 14695981039346656037ull ^ (uint64_t)parent;   /* FNV-1a */

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ull;
	return h;
}

static struct folder **bucket(struct engine *m, int64_t parent, const char *name)
{
	return &m->byname[key_hash(parent, name) & (m->nbyname - 1)];
}

static struct folder *find_child(struct engine *m, int64_t parent, const char *name)
{
	if (!m->nbyname)
		return NULL;
	for (struct folder *f = *bucket(m, parent, name); f; f = f->hnext)
		if (f->parent == parent && strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

static struct folder *get_locked(struct engine *m, int64_t id)
{
	size_t lo = 0, hi = m->nfolders;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->folders[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < m->nfolders && m->folders[lo]->id == id ? m->folders[lo] : NULL;
}

/* Put live folder F into the hash and its parent's list. */
static int link_folder(struct engine *m, struct folder *f)
{
	struct folder *p = f->parent ? get_locked(m, f->parent) : NULL, **b;

	if (2 * (m->nlive + 1) > m->nbyname) {
		size_t n = m->nbyname ? 2 * m->nbyname : 64;
		struct folder **nb = calloc(n, sizeof(*nb)), **old = m->byname;
		size_t oldn = m->nbyname;

		if (!nb)
			return -ENOMEM;
		m->byname = nb;
		m->nbyname = n;
		for (size_t i = 0; i < oldn; i++) {
			for (struct folder *c = old[i], *next; c; c = next) {
				next = c->hnext;
				b = bucket(m, c->parent, c->name);
				c->hnext = *b;
				*b = c;
			}
		}
		free(old);
	}
	b = bucket(m, f->parent, f->name);
	f->hnext = *b;
	*b = f;
	m->nlive++;
	f->prev_sib = NULL;
	f->next_sib = p ? p->kids : m->top;
	if (f->next_sib)
		f->next_sib->prev_sib = f;
	if (p) {
		p->kids = f;
		p->nsub++;
	} else {
		m->top = f;
		m->ntop++;
	}
	return 0;
}

static void unlink_folder(struct engine *m, struct folder *f)
{
	struct folder *p = f->parent ? get_locked(m, f->parent) : NULL, **pp;

	for (pp = bucket(m, f->parent, f->name); *pp; pp = &(*pp)->hnext) {
		if (*pp == f) {
			*pp = f->hnext;
			break;
		}
	}
	f->hnext = NULL;
	m->nlive--;
	if (f->next_sib)
		f->next_sib->prev_sib = f->prev_sib;
	if (f->prev_sib)
		f->prev_sib->next_sib = f->next_sib;
	else if (p)
		p->kids = f->next_sib;
	else
		m->top = f->next_sib;
	f->next_sib = f->prev_sib = NULL;
	if (p)
		p->nsub--;
	else
		m->ntop--;
}

/* Add F (its id above all others) to the table and the indexes. */
static int table_add(struct engine *m, struct folder *f)
{
	if (ARRAY_RESERVE(m->folders, m->nfolders, m->capfolders) < 0)
		return -ENOMEM;
	if (link_folder(m, f) < 0)
		return -ENOMEM;
	m->folders[m->nfolders++] = f;
	return 0;
}

/* Keep a string that other threads may still read until unmount;
 * tree_lock held for writing. */
static void retire(struct engine *m, char *p)
{
	if (ARRAY_RESERVE(m->retired, m->nretired, m->capretired) < 0)
		return;   /* leaked: better than freed under a reader */
	m->retired[m->nretired++] = p;
}

struct loaded {
	struct folder **f;
	size_t n, cap;
};

static int load_one(void *ctx, const struct store_folder *sf)
{
	struct loaded *l = ctx;
	struct folder *f;

	if (ARRAY_RESERVE(l->f, l->n, l->cap) < 0)
		return -ENOMEM;
	f = folder_new(sf);
	if (!f)
		return -ENOMEM;
	l->f[l->n++] = f;
	return 0;
}

/* The name message UID would get now, from the subject part of NAME; NULL
 * when it stays. */
static char *rederive(void *ctx, uint32_t uid, const char *name)
{
	char *nn = layout_message_rename(name, uid);

	(void)ctx;
	if (nn && strcmp(nn, name) == 0) {
		free(nn);
		nn = NULL;
	}
	return nn;
}

int tree_load(struct engine *m)
{
	struct loaded l = { 0 };
	int r = 0;

	/* Names made under older rules (a bidi control from a subject) are
	 * made again before anything is shown. */
	if (store_names_version(m->store) < LAYOUT_NAMES_VERSION)
		r = store_names_rename(m->store, LAYOUT_NAMES_VERSION, rederive, NULL);
	if (r < 0)
		return r;
	/* Read first, then link: the store's lock is never taken under
	 * tree_lock (a store callback may look at the tree). */
	r = store_folder_list(m->store, load_one, &l);
	pthread_mutex_lock(&m->tree_change);
	pthread_rwlock_wrlock(&m->tree_lock);
	for (size_t i = 0; i < l.n; i++) {
		if (r == 0 && table_add(m, l.f[i]) == 0)
			continue;
		r = -ENOMEM;
		folder_free(l.f[i]);
	}
	pthread_rwlock_unlock(&m->tree_lock);
	pthread_mutex_unlock(&m->tree_change);
	free(l.f);
	return r;
}

void tree_free(struct engine *m)
{
	for (size_t i = 0; i < m->nfolders; i++)
		folder_free(m->folders[i]);
	free(m->folders);
	free(m->byname);
	for (size_t i = 0; i < m->nretired; i++)
		free(m->retired[i]);
	free(m->retired);
	free(m->warned);
}

struct folder *tree_get(struct engine *m, int64_t id)
{
	struct folder *f;

	pthread_rwlock_rdlock(&m->tree_lock);
	f = get_locked(m, id);
	pthread_rwlock_unlock(&m->tree_lock);
	return f;
}

struct folder *tree_child(struct engine *m, int64_t parent, const char *name)
{
	struct folder *f;

	pthread_rwlock_rdlock(&m->tree_lock);
	f = find_child(m, parent, name);
	pthread_rwlock_unlock(&m->tree_lock);
	return f;
}

void tree_children_locked(struct engine *m, int64_t parent,
                          void (*cb)(void *ctx, struct folder *f), void *ctx)
{
	struct folder *p = parent ? get_locked(m, parent) : NULL;

	if (parent && (!p || p->gone))
		return;
	for (struct folder *f = p ? p->kids : m->top; f; f = f->next_sib)
		cb(ctx, f);
}

void tree_children(struct engine *m, int64_t parent,
                   void (*cb)(void *ctx, struct folder *f), void *ctx)
{
	pthread_rwlock_rdlock(&m->tree_lock);
	tree_children_locked(m, parent, cb, ctx);
	pthread_rwlock_unlock(&m->tree_lock);
}

/* UIDs dropped a bounded batch at a time (a folder may hold a million). */
#define DROP_BATCH 4096

struct drop_batch {
	uint32_t uids[DROP_BATCH];
	size_t n;
};

static int drop_add(void *ctx, const struct store_msg *msg)
{
	struct drop_batch *b = ctx;

	b->uids[b->n++] = msg->uid;
	return 0;
}

void tree_drop_content(struct engine *m, struct folder *f)
{
	struct drop_batch *b = malloc(sizeof(*b));

	while (b) {
		b->n = 0;
		if (store_msg_list(m->store, f->id, 0, DROP_BATCH, drop_add, b) < 0 || !b->n ||
		    store_msg_delete(m->store, f->id, b->uids, b->n) < 0)
			break;
	}
	free(b);
	body_remove_folder(m->bodies, f->id);
}

/* Split wire name SERVER by DELIM into directory names. Returns the count,
 * -EILSEQ when a component is not valid modified UTF-7, -EINVAL when it
 * cannot be a directory name, or -ELOOP when it has more than
 * TREE_MAX_DEPTH components (counted before anything is allocated). */
static int split_name(const char *server, char delim, char ***parts_r)
{
	char **parts;
	const char *p = server;
	int n = 0, depth = 1;

	for (const char *q = delim ? strchr(server, delim) : NULL; q; q = strchr(q + 1, delim))
		if (++depth > TREE_MAX_DEPTH)
			return -ELOOP;
	parts = calloc((size_t)depth, sizeof(*parts));
	if (!parts)
		return -ENOMEM;
	for (;;) {
		const char *end = delim ? strchr(p, delim) : NULL;
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char *raw = strndup(p, len), *utf8 = NULL, *dir = NULL;
		int bad = -EINVAL;

		if (raw) {
			utf8 = mutf7_decode(raw);
			dir = utf8 ? layout_dir_name(utf8) : NULL;
			if (!utf8 && errno == EINVAL)
				bad = -EILSEQ;
		}
		free(raw);
		free(utf8);
		if (!dir) {
			while (n > 0)
				free(parts[--n]);
			free(parts);
			return bad;
		}
		parts[n++] = dir;
		if (!end)
			break;
		p = end + 1;
	}
	*parts_r = parts;
	return n;
}

/* Whether folder NAME was warned about before (and remember it, as a hash:
 * a hostile list of many long names costs no memory). Past WARN_MAX
 * remembered names the answer is always yes, after one line that says so.
 * tree_change held. */
#define WARN_MAX 1024
static int warned_before(struct engine *m, const char *name)
{
	uint64_t h = key_hash(0, name) | 1;    /* 0 marks a free slot */
	size_t i;

	if (!m->warned && !(m->warned = calloc(2 * WARN_MAX, sizeof(*m->warned))))
		return 1;
	for (i = h & (2 * WARN_MAX - 1); m->warned[i]; i = (i + 1) & (2 * WARN_MAX - 1))
		if (m->warned[i] == h)
			return 1;
	if (m->nwarned == WARN_MAX) {
		m->nwarned++;
		log_warn("more folders cannot be shown; they are not named one by one");
	}
	if (m->nwarned >= WARN_MAX)
		return 1;
	m->warned[i] = h;
	m->nwarned++;
	return 0;
}

/* Create a folder below PARENT; tree_change held, tree_lock not. */
static struct folder *create(struct engine *m, int64_t parent, const char *name,
                             const char *server, char delim, unsigned flags)
{
	struct store_folder sf = {
		.parent = parent, .name = name, .server = server, .delim = delim, .flags = flags,
	};
	struct folder *f;
	int r;

	if (store_folder_add(m->store, &sf, &sf.id) < 0)
		return NULL;
	f = folder_new(&sf);
	if (!f) {
		store_folder_delete(m->store, sf.id);
		return NULL;
	}
	pthread_rwlock_wrlock(&m->tree_lock);
	r = table_add(m, f);
	pthread_rwlock_unlock(&m->tree_lock);
	if (r < 0) {
		store_folder_delete(m->store, sf.id);
		folder_free(f);
		return NULL;
	}
	return f;
}

static void persist(struct engine *m, struct folder *f)
{
	struct store_folder sf = {
		.id = f->id, .parent = f->parent, .name = f->name, .server = f->server,
		.delim = f->delim, .flags = f->flags,
	};
	store_folder_update(m->store, &sf);
}

/* A server name, cut for a log line (a hostile one can be very long). */
#define SHOWN_NAME 200

/* Make the folders of entry E exist (its implied parents too), marked as
 * listed. tree_change held. Returns 1 when the tree changed. */
static int add_entry(struct engine *m, const struct tree_entry *e)
{
	char **parts;
	int np = split_name(e->server, e->delim, &parts), changed = 0, skip = 0;
	int64_t parent = 0;

	if (np < 0) {
		/* Said once per mount, not at every poll. */
		if (np != -ENOMEM && !warned_before(m, e->server))
			log_warn("folder \"%.*s%s\" is not shown: %s", SHOWN_NAME, e->server,
			         strlen(e->server) > SHOWN_NAME ? "..." : "",
			         np == -EILSEQ ? "its name is not valid modified UTF-7 "
			         "(RFC 3501 §5.1.3)" : np == -ELOOP ? "it is nested too deeply "
			         "(more than " TREE_MAX_DEPTH_TEXT " levels)" :
			         "its name cannot be a directory name");
		return 0;
	}
	if (strcmp(parts[0], LAYOUT_VIEWS_NAME) == 0 || strcmp(parts[0], LAYOUT_STATUS_NAME) == 0) {
		if (!warned_before(m, e->server))
			log_warn("folder \"%.*s%s\" is not shown: the mount's root keeps the name "
			         "%s for itself", SHOWN_NAME, e->server,
			         strlen(e->server) > SHOWN_NAME ? "..." : "", parts[0]);
		skip = 1;
	}
	for (int k = 0; k < np && !skip; k++) {
		int last = k == np - 1;
		struct folder *f = find_child(m, parent, parts[k]);

		if (!f) {
			f = create(m, parent, parts[k], last ? e->server : NULL, e->delim,
			           last ? e->flags : STORE_FOLDER_NOSELECT | STORE_FOLDER_VIRTUAL);
			if (!f)
				break;
			changed = 1;
		} else if (last && f->server && strcmp(f->server, e->server) != 0) {
			/* Two server names map to one directory: keep the first. */
			if (!warned_before(m, e->server))
				log_warn("folders \"%s\" and \"%.*s\" would share a directory; "
				         "showing the first", f->server, SHOWN_NAME, e->server);
		} else if (last && (!f->server || f->flags != e->flags)) {
			/* A real folder where an implied one was, or new flags. */
			char *server = f->server ? NULL : strdup(e->server);

			pthread_rwlock_wrlock(&m->tree_lock);
			if (server)
				tree_set(&f->server, server);
			tree_set(&f->flags, e->flags);
			tree_set(&f->delim, e->delim);
			pthread_rwlock_unlock(&m->tree_lock);
			persist(m, f);
			changed = 1;
		}
		f->mark = 1;
		parent = f->id;
	}
	for (int k = 0; k < np; k++)
		free(parts[k]);
	free(parts);
	return changed;
}

/* Whatever the server no longer lists is gone, with its cache. tree_change
 * held. Returns 1 when the tree changed. */
static int drop_unlisted(struct engine *m)
{
	int changed = 0;

	for (size_t i = 0; i < m->nfolders; i++) {
		struct folder *f = m->folders[i];

		if (f->gone || f->mark)
			continue;
		pthread_rwlock_wrlock(&m->tree_lock);
		unlink_folder(m, f);
		tree_set(&f->gone, 1);
		pthread_rwlock_unlock(&m->tree_lock);
		tree_drop_content(m, f);
		store_folder_delete(m->store, f->id);
		tell_entry(m, f->parent, f->name);
		changed = 1;
	}
	return changed;
}

int tree_sync(struct engine *m, const struct tree_entry *entries, size_t n)
{
	int changed = 0;

	/* One change of the tree at a time. The server's answer is worked
	 * through without tree_lock, which is only taken for writing to link
	 * or unlink one folder: readers are never held up for long. Reading
	 * the tree here needs no tree_lock, since only this thread changes it
	 * now. */
	pthread_mutex_lock(&m->tree_change);
	for (size_t i = 0; i < m->nfolders; i++)
		m->folders[i]->mark = 0;
	for (size_t i = 0; i < n; i++)
		changed |= add_entry(m, &entries[i]);
	changed |= drop_unlisted(m);
	if (changed) {
		/* Directory listings and link counts of parents changed. */
		tell_dir(m, 0);
		for (size_t i = 0; i < m->nfolders; i++)
			if (!m->folders[i]->gone && m->folders[i]->nsub)
				tell_dir(m, m->folders[i]->id);
	}
	pthread_mutex_unlock(&m->tree_change);
	return 0;
}

struct list_ctx {
	struct tree_entry *e;
	size_t n, cap;
	size_t over;               /* folders past TREE_MAX_FOLDERS */
};

static int list_cb(void *ctx, const struct driver_list_entry *le)
{
	struct list_ctx *c = ctx;

	if (c->n == TREE_MAX_FOLDERS) {
		c->over++;
		return 0;
	}
	if (ARRAY_RESERVE(c->e, c->n, c->cap) < 0)
		return -ENOMEM;
	c->e[c->n].server = strdup(le->server);
	if (!c->e[c->n].server)
		return -ENOMEM;
	c->e[c->n].delim = le->delim;
	c->e[c->n].flags = (le->noselect ? STORE_FOLDER_NOSELECT : 0) |
	                   (le->noinferiors ? STORE_FOLDER_NOINFERIORS : 0) |
	                   ((unsigned)le->role << STORE_FOLDER_ROLE_SHIFT & STORE_FOLDER_ROLE_MASK);
	c->n++;
	return 0;
}

int tree_refresh(struct engine *m, const struct driver_folder *watch, size_t n)
{
	struct list_ctx c = { 0 };
	int r = m->driver->list(m->drv, list_cb, &c, watch, n), trips = r;

	if (r > 0)
		r = 0;
	if (r == 0 && c.over && !__atomic_exchange_n(&m->said_too_many, 1, __ATOMIC_RELAXED))
		log_warn("%s lists %zu folders; only the first %d are shown", m->opt->host,
		         c.n + c.over, TREE_MAX_FOLDERS);
	if (r == 0)
		r = tree_sync(m, c.e, c.n);
	for (size_t i = 0; i < c.n; i++)
		free((char *)c.e[i].server);
	free(c.e);
	return r < 0 ? r : trips;
}

struct folder *tree_renew(struct engine *m, struct folder *f)
{
	struct store_folder sf;
	struct folder *nf;
	int64_t nid;
	int r;

	pthread_mutex_lock(&m->tree_change);
	if (f->gone || store_folder_renew(m->store, f->id, &nid) < 0) {
		pthread_mutex_unlock(&m->tree_change);
		return NULL;
	}
	sf = (struct store_folder){ .id = nid, .parent = f->parent, .name = f->name,
	                            .server = f->server, .delim = f->delim, .flags = f->flags };
	nf = folder_new(&sf);
	if (!nf) {
		pthread_mutex_unlock(&m->tree_change);
		return NULL;
	}
	nf->wanted = f->wanted;
	pthread_rwlock_wrlock(&m->tree_lock);
	unlink_folder(m, f);
	r = table_add(m, nf);
	if (r == 0) {
		tree_set(&f->gone, 1);
		/* The subdirectories move to the new id. */
		while (f->kids) {
			struct folder *c = f->kids;

			unlink_folder(m, c);
			tree_set(&c->parent, nid);
			link_folder(m, c);
		}
	} else {
		link_folder(m, f);
	}
	pthread_rwlock_unlock(&m->tree_lock);
	pthread_mutex_unlock(&m->tree_change);
	if (r < 0) {
		folder_free(nf);
		return NULL;
	}
	body_remove_folder(m->bodies, f->id);
	/* The directory's inode changes: make the kernel look it up again. */
	tell_entry(m, f->parent, f->name);
	log_warn("folder \"%s\" was recreated on the server (UIDVALIDITY changed); "
	         "its cache was dropped", f->name);
	return nf;
}

struct folder *tree_by_path(struct engine *m, const char *path)
{
	char *copy = strdup(path), *save = NULL, *part;
	struct folder *f = NULL;
	int64_t parent = 0;

	if (!copy)
		return NULL;
	pthread_rwlock_rdlock(&m->tree_lock);
	for (part = strtok_r(copy, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
		f = find_child(m, parent, part);
		if (!f)
			break;
		parent = f->id;
	}
	pthread_rwlock_unlock(&m->tree_lock);
	free(copy);
	return f;
}

static const char *const role_names[DRIVER_ROLE_COUNT_] = {
	[DRIVER_ROLE_SENT] = "\\Sent", [DRIVER_ROLE_TRASH] = "\\Trash",
	[DRIVER_ROLE_DRAFTS] = "\\Drafts", [DRIVER_ROLE_JUNK] = "\\Junk",
	[DRIVER_ROLE_ARCHIVE] = "\\Archive", [DRIVER_ROLE_ALL] = "\\All",
	[DRIVER_ROLE_FLAGGED] = "\\Flagged",
};

enum driver_role folder_role(const struct folder *f)
{
	unsigned role = (folder_flags(f) & STORE_FOLDER_ROLE_MASK) >> STORE_FOLDER_ROLE_SHIFT;

	return role < DRIVER_ROLE_COUNT_ ? (enum driver_role)role : DRIVER_ROLE_NONE;
}

const char *folder_role_name(enum driver_role role)
{
	return role > DRIVER_ROLE_NONE && role < DRIVER_ROLE_COUNT_ ? role_names[role] : NULL;
}

enum driver_role folder_role_parse(const char *name)
{
	for (int r = DRIVER_ROLE_NONE + 1; r < DRIVER_ROLE_COUNT_; r++)
		if (strcasecmp(name, role_names[r]) == 0)
			return (enum driver_role)r;
	return DRIVER_ROLE_NONE;
}

/* The first live server folder with ROLE below PARENT's list FIRST, in
 * tree order; tree_lock held. */
static struct folder *find_role(struct folder *first, enum driver_role role)
{
	for (struct folder *f = first; f; f = f->next_sib) {
		struct folder *found;

		if (f->server && folder_role(f) == role)
			return f;
		if ((found = find_role(f->kids, role)))
			return found;
	}
	return NULL;
}

struct folder *tree_by_role(struct engine *m, enum driver_role role)
{
	struct folder *f;

	pthread_rwlock_rdlock(&m->tree_lock);
	f = role ? find_role(m->top, role) : NULL;
	pthread_rwlock_unlock(&m->tree_lock);
	return f;
}

/* The hierarchy delimiter new folders get: the parent's, or the one most
 * folders use. */
static char delim_for(struct engine *m, struct folder *parent)
{
	if (parent && parent->delim)
		return parent->delim;
	for (size_t i = 0; i < m->nfolders; i++)
		if (!m->folders[i]->gone && m->folders[i]->delim)
			return m->folders[i]->delim;
	return '/';
}

/* Wire name of directory DIRNAME below folder PARENT (0: root); tree_lock
 * held. Implied parents have no wire name: theirs is built from their
 * ancestors. */
static int server_name_locked(struct engine *m, int64_t parent, const char *dirname,
                              char **server_r)
{
	struct folder *p = parent ? get_locked(m, parent) : NULL;
	char delim = delim_for(m, p);
	char *comp, *enc, *prefix = NULL, *out = NULL, *back;
	int r;

	if (parent && !p)
		return -ENOENT;
	if (p && (p->flags & STORE_FOLDER_NOINFERIORS))
		return -EPERM;
	comp = layout_dir_component(dirname);
	if (!comp)
		return -ENOMEM;
	/* The name must come back the same from the server's listing. */
	back = layout_dir_name(comp);
	if (!back || strcmp(back, dirname) != 0 || strchr(comp, delim)) {
		free(back);
		free(comp);
		return -EINVAL;
	}
	free(back);
	enc = mutf7_encode(comp);
	free(comp);
	if (!enc)
		return -EINVAL;
	if (p && p->server) {
		prefix = strdup(p->server);
	} else if (p) {
		r = server_name_locked(m, p->parent, p->name, &prefix);
		if (r < 0) {
			free(enc);
			return r;
		}
	}
	if (prefix ? asprintf(&out, "%s%c%s", prefix, delim, enc) < 0
	           : !(out = strdup(enc)))
		out = NULL;
	free(prefix);
	free(enc);
	if (!out)
		return -ENOMEM;
	*server_r = out;
	return 0;
}

int tree_server_name(struct engine *m, int64_t parent, const char *dirname, char **server_r)
{
	int r;

	pthread_rwlock_rdlock(&m->tree_lock);
	r = server_name_locked(m, parent, dirname, server_r);
	pthread_rwlock_unlock(&m->tree_lock);
	return r;
}

int tree_rename(struct engine *m, struct folder *f, int64_t parent, const char *name,
                const char *server)
{
	char *nname = strdup(name), *oldserver;
	size_t oldlen;

	if (!nname)
		return -ENOMEM;
	pthread_mutex_lock(&m->tree_change);
	oldserver = f->server;     /* retired below, never freed while mounted */
	oldlen = oldserver ? strlen(oldserver) : 0;
	for (size_t i = 0; i < m->nfolders; i++)
		m->folders[i]->mark = 0;
	pthread_rwlock_wrlock(&m->tree_lock);
	unlink_folder(m, f);
	retire(m, f->name);
	tree_set(&f->name, nname);
	tree_set(&f->parent, parent);
	link_folder(m, f);
	f->mark = 1;
	/* The server renamed the whole subtree (RFC 3501 §6.3.5): so do we,
	 * keeping every id and so every cached message. */
	for (size_t i = 0; oldserver && i < m->nfolders; i++) {
		struct folder *c = m->folders[i];
		char *ns = NULL;

		if (c->gone || !c->server)
			continue;
		if (c == f) {
			ns = strdup(server);
		} else if (strncmp(c->server, oldserver, oldlen) == 0 &&
		           c->server[oldlen] == c->delim && c->delim) {
			if (asprintf(&ns, "%s%s", server, c->server + oldlen) < 0)
				ns = NULL;
		}
		if (!ns)
			continue;
		/* Other threads may be using the old name right now: it is kept
		 * until unmount rather than freed. */
		retire(m, c->server);
		tree_set(&c->server, ns);
		c->mark = 1;
	}
	pthread_rwlock_unlock(&m->tree_lock);
	for (size_t i = 0; i < m->nfolders; i++)
		if (m->folders[i]->mark)
			persist(m, m->folders[i]);
	pthread_mutex_unlock(&m->tree_change);
	return 0;
}
