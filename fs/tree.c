/* tree.c - the folder table: which directories exist and what they map to.
 *
 * The server's LIST is the truth; the store keeps a copy so that a mount
 * without network still shows the tree. tree_sync() reconciles the two and
 * tells the kernel about directories that went away.
 */
#include "fs/mfs.h"
#include "fs/layout.h"
#include "fs/log.h"
#include "cache/body.h"
#include "cache/store.h"
#include "net/mutf7.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Add F to the table; tree_lock held for writing. */
static int table_add(struct mfs *m, struct folder *f)
{
	struct folder **n = realloc(m->folders, (m->nfolders + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	m->folders = n;
	m->folders[m->nfolders++] = f;
	return 0;
}

/* Recount subdirectories; tree_lock held for writing. */
static void recount(struct mfs *m)
{
	size_t i;

	m->ntop = 0;
	for (i = 0; i < m->nfolders; i++)
		m->folders[i]->nsub = 0;
	for (i = 0; i < m->nfolders; i++) {
		struct folder *f = m->folders[i];
		struct folder *p;

		if (f->gone)
			continue;
		if (f->parent == 0) {
			m->ntop++;
			continue;
		}
		for (size_t j = 0; j < m->nfolders; j++) {
			p = m->folders[j];
			if (p->id == f->parent && !p->gone) {
				p->nsub++;
				break;
			}
		}
	}
}

/* Keep a string that other threads may still read until unmount;
 * tree_lock held for writing. */
static void retire(struct mfs *m, char *p)
{
	char **n = realloc(m->retired, (m->nretired + 1) * sizeof(*n));

	if (!n)
		return;   /* leaked: better than freed under a reader */
	m->retired = n;
	m->retired[m->nretired++] = p;
}

static int load_one(void *ctx, const struct store_folder *sf)
{
	struct mfs *m = ctx;
	struct folder *f = folder_new(sf);

	if (!f || table_add(m, f) < 0) {
		free(f);
		return -ENOMEM;
	}
	return 0;
}

int tree_load(struct mfs *m)
{
	int r;

	pthread_rwlock_wrlock(&m->tree_lock);
	r = store_folder_list(m->store, load_one, m);
	recount(m);
	pthread_rwlock_unlock(&m->tree_lock);
	return r;
}

static struct folder *get_locked(struct mfs *m, int64_t id)
{
	for (size_t i = 0; i < m->nfolders; i++)
		if (m->folders[i]->id == id)
			return m->folders[i];
	return NULL;
}

static struct folder *child_locked(struct mfs *m, int64_t parent, const char *name)
{
	for (size_t i = 0; i < m->nfolders; i++) {
		struct folder *f = m->folders[i];
		if (!f->gone && f->parent == parent && strcmp(f->name, name) == 0)
			return f;
	}
	return NULL;
}

struct folder *tree_get(struct mfs *m, int64_t id)
{
	struct folder *f;

	pthread_rwlock_rdlock(&m->tree_lock);
	f = get_locked(m, id);
	pthread_rwlock_unlock(&m->tree_lock);
	return f;
}

struct folder *tree_child(struct mfs *m, int64_t parent, const char *name)
{
	struct folder *f;

	pthread_rwlock_rdlock(&m->tree_lock);
	f = child_locked(m, parent, name);
	pthread_rwlock_unlock(&m->tree_lock);
	return f;
}

void tree_children(struct mfs *m, int64_t parent,
                   void (*cb)(void *ctx, struct folder *f), void *ctx)
{
	pthread_rwlock_rdlock(&m->tree_lock);
	for (size_t i = 0; i < m->nfolders; i++) {
		struct folder *f = m->folders[i];
		if (!f->gone && f->parent == parent)
			cb(ctx, f);
	}
	pthread_rwlock_unlock(&m->tree_lock);
}

void tree_drop_content(struct mfs *m, struct folder *f)
{
	uint32_t *uids = NULL;
	size_t n = 0;

	if (store_msg_uids(m->store, f->id, &uids, &n) == 0 && n)
		store_msg_delete(m->store, f->id, uids, n);
	free(uids);
	body_remove_folder(m->bodies, f->id);
}

/* Split wire name SERVER by DELIM into directory names. Returns the count,
 * -EILSEQ when a component is not valid modified UTF-7, or -EINVAL when it
 * cannot be a directory name. */
static int split_name(const char *server, char delim, char ***parts_r)
{
	char **parts = NULL;
	const char *p = server;
	int n = 0;

	for (;;) {
		const char *end = delim ? strchr(p, delim) : NULL;
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char *raw = strndup(p, len), *utf8 = NULL, *dir = NULL;
		char **np = realloc(parts, (size_t)(n + 1) * sizeof(*parts));
		int bad = -EINVAL;

		if (raw && np) {
			parts = np;
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
			free(np ? np : parts);
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

/* Whether NAME was already warned about (and remember it); tree_lock held
 * for writing. The list lives with the retired strings, freed at unmount. */
static int warned_before(struct mfs *m, const char *name)
{
	char *copy;

	for (size_t i = 0; i < m->nwarned; i++)
		if (strcmp(m->warned[i], name) == 0)
			return 1;
	copy = strdup(name);
	if (copy) {
		char **n = realloc(m->warned, (m->nwarned + 1) * sizeof(*n));
		if (n) {
			m->warned = n;
			m->warned[m->nwarned++] = copy;
		} else {
			free(copy);
		}
	}
	return 0;
}

/* Create a folder below PARENT; tree_lock held for writing. */
static struct folder *create_locked(struct mfs *m, int64_t parent, const char *name,
                                    const char *server, char delim, unsigned flags)
{
	struct store_folder sf = {
		.parent = parent, .name = name, .server = server, .delim = delim, .flags = flags,
	};
	struct folder *f;

	if (store_folder_add(m->store, &sf, &sf.id) < 0)
		return NULL;
	f = folder_new(&sf);
	if (!f || table_add(m, f) < 0) {
		store_folder_delete(m->store, sf.id);
		free(f);
		return NULL;
	}
	return f;
}

static void persist(struct mfs *m, struct folder *f)
{
	struct store_folder sf = {
		.id = f->id, .parent = f->parent, .name = f->name, .server = f->server,
		.delim = f->delim, .flags = f->flags, .uidvalidity = f->uidvalidity,
		.uidnext = f->uidnext, .modseq = f->modseq, .synced = f->last_sync,
	};
	store_folder_update(m->store, &sf);
}

int tree_sync(struct mfs *m, const struct tree_entry *entries, size_t n)
{
	size_t i;
	int changed = 0;

	pthread_rwlock_wrlock(&m->tree_lock);
	for (i = 0; i < m->nfolders; i++)
		m->folders[i]->mark = 0;
	for (i = 0; i < n; i++) {
		char **parts;
		int np = split_name(entries[i].server, entries[i].delim, &parts);
		int64_t parent = 0;

		if (np < 0) {
			/* Said once per mount, not at every poll. */
			if (!warned_before(m, entries[i].server))
				log_warn("folder \"%s\" is not shown: %s", entries[i].server,
				         np == -EILSEQ ? "its name is not valid modified UTF-7 "
				         "(RFC 3501 §5.1.3)" : "its name cannot be a directory name");
			continue;
		}
		for (int k = 0; k < np; k++) {
			int last = k == np - 1;
			struct folder *f = child_locked(m, parent, parts[k]);

			if (!f) {
				f = create_locked(m, parent, parts[k], last ? entries[i].server : NULL,
				                  entries[i].delim, last ? entries[i].flags :
				                  STORE_FOLDER_NOSELECT | STORE_FOLDER_VIRTUAL);
				if (!f)
					break;
				changed = 1;
			} else if (last && (!f->server || strcmp(f->server, entries[i].server) != 0 ||
			                    f->flags != entries[i].flags)) {
				if (f->server && strcmp(f->server, entries[i].server) != 0) {
					/* Two server names map to one directory: keep the first. */
					log_warn("folders \"%s\" and \"%s\" would share a directory; "
					         "showing the first", f->server, entries[i].server);
				} else {
					/* A real folder where an implied one was, or new flags. */
					f->server = f->server ? f->server : strdup(entries[i].server);
					f->flags = entries[i].flags;
					f->delim = entries[i].delim;
					persist(m, f);
					changed = 1;
				}
			}
			f->mark = 1;
			parent = f->id;
		}
		for (int k = 0; k < np; k++)
			free(parts[k]);
		free(parts);
	}
	/* Whatever the server no longer lists is gone, with its cache. */
	for (i = 0; i < m->nfolders; i++) {
		struct folder *f = m->folders[i];

		if (f->gone || f->mark)
			continue;
		f->gone = 1;
		tree_drop_content(m, f);
		store_folder_delete(m->store, f->id);
		notify_entry(m, f->parent ? ino_folder(f->parent) : INO_ROOT, f->name);
		changed = 1;
	}
	recount(m);
	pthread_rwlock_unlock(&m->tree_lock);
	if (changed) {
		/* Directory listings and link counts of parents changed. */
		notify_inode(m, INO_ROOT, 0, 0);
		pthread_rwlock_rdlock(&m->tree_lock);
		for (i = 0; i < m->nfolders; i++)
			if (!m->folders[i]->gone && m->folders[i]->nsub)
				notify_inode(m, ino_folder(m->folders[i]->id), 0, 0);
		pthread_rwlock_unlock(&m->tree_lock);
	}
	return 0;
}

struct folder *tree_renew(struct mfs *m, struct folder *f)
{
	struct store_folder sf;
	struct folder *nf;
	int64_t nid;

	pthread_rwlock_wrlock(&m->tree_lock);
	if (store_folder_renew(m->store, f->id, &nid) < 0) {
		pthread_rwlock_unlock(&m->tree_lock);
		return NULL;
	}
	sf = (struct store_folder){ .id = nid, .parent = f->parent, .name = f->name,
	                            .server = f->server, .delim = f->delim, .flags = f->flags };
	nf = folder_new(&sf);
	if (!nf || table_add(m, nf) < 0) {
		free(nf);
		pthread_rwlock_unlock(&m->tree_lock);
		return NULL;
	}
	nf->wanted = f->wanted;
	f->gone = 1;
	for (size_t i = 0; i < m->nfolders; i++)
		if (m->folders[i]->parent == f->id)
			m->folders[i]->parent = nid;
	recount(m);
	pthread_rwlock_unlock(&m->tree_lock);
	body_remove_folder(m->bodies, f->id);
	/* The directory's inode changes: make the kernel look it up again. */
	notify_entry(m, f->parent ? ino_folder(f->parent) : INO_ROOT, f->name);
	log_warn("folder \"%s\" was recreated on the server (UIDVALIDITY changed); "
	         "its cache was dropped", f->name);
	return nf;
}

struct folder *tree_by_path(struct mfs *m, const char *path)
{
	char *copy = strdup(path), *save = NULL, *part;
	struct folder *f = NULL;
	int64_t parent = 0;

	if (!copy)
		return NULL;
	pthread_rwlock_rdlock(&m->tree_lock);
	for (part = strtok_r(copy, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
		f = child_locked(m, parent, part);
		if (!f)
			break;
		parent = f->id;
	}
	pthread_rwlock_unlock(&m->tree_lock);
	free(copy);
	return f;
}

/* The hierarchy delimiter new folders get: the parent's, or the one most
 * folders use. */
static char delim_for(struct mfs *m, struct folder *parent)
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
static int server_name_locked(struct mfs *m, int64_t parent, const char *dirname,
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

int tree_server_name(struct mfs *m, int64_t parent, const char *dirname, char **server_r)
{
	int r;

	pthread_rwlock_rdlock(&m->tree_lock);
	r = server_name_locked(m, parent, dirname, server_r);
	pthread_rwlock_unlock(&m->tree_lock);
	return r;
}

int tree_rename(struct mfs *m, struct folder *f, int64_t parent, const char *name,
                const char *server)
{
	size_t oldlen = f->server ? strlen(f->server) : 0;
	char *oldserver = f->server ? strdup(f->server) : NULL;
	char *nname = strdup(name);

	if ((f->server && !oldserver) || !nname) {
		free(oldserver);
		free(nname);
		return -ENOMEM;
	}
	pthread_rwlock_wrlock(&m->tree_lock);
	retire(m, f->name);
	f->name = nname;
	f->parent = parent;
	/* The server renamed the whole subtree (RFC 3501 §6.3.5): so do we,
	 * keeping every id and so every cached message. */
	for (size_t i = 0; oldserver && i < m->nfolders; i++) {
		struct folder *c = m->folders[i];
		char *ns = NULL;

		if (c->gone || !c->server)
			continue;
		if (c == f) {
			ns = strdup(server);
		} else if (strncmp(c->server, oldserver, oldlen) == 0 && c->server[oldlen] &&
		           c->server[oldlen] == c->delim) {
			if (asprintf(&ns, "%s%s", server, c->server + oldlen) < 0)
				ns = NULL;
		}
		if (!ns)
			continue;
		/* Other threads may be using the old name right now: it is kept
		 * until unmount rather than freed. */
		retire(m, c->server);
		c->server = ns;
		persist(m, c);
	}
	if (!oldserver)
		persist(m, f);
	recount(m);
	pthread_rwlock_unlock(&m->tree_lock);
	free(oldserver);
	return 0;
}
