/* names.c - names that keep resolving for a while after the fact: the
 * name a program copied a message in under, once the kernel forgot the
 * file, and the name mv gave a message it moved to another folder. `cp -p`,
 * rsync and file managers do their last steps (utimensat, chmod, rename of
 * a temporary name) on that name; `ls` never lists it.
 */
#include "fs/face/write.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ALIAS_SECONDS 60     /* how long a name outlives its writer */

struct alias {
	struct alias *next;
	int64_t folder;
	char *name;
	fuse_ino_t ino;
	time_t until;
};

struct alias_table {
	pthread_mutex_t lock;
	struct alias *head;          /* protected by lock */
};

int names_init(struct face *fc)
{
	struct alias_table *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	fc->aliases = t;
	return 0;
}

static void alias_free(struct alias *a)
{
	free(a->name);
	free(a);
}

void names_free(struct face *fc)
{
	struct alias_table *t = fc->aliases;

	if (!t)
		return;
	while (t->head) {
		struct alias *a = t->head;

		t->head = a->next;
		alias_free(a);
	}
	pthread_mutex_destroy(&t->lock);
	free(t);
	fc->aliases = NULL;
}

/* The live alias NAME in FOLDER; expired ones are dropped on the way (NAME
 * NULL: only that). Table lock held. */
static struct alias *find(struct alias_table *t, int64_t folder, const char *name)
{
	time_t now = time(NULL);
	struct alias **pp = &t->head;

	while (*pp) {
		struct alias *a = *pp;

		if (a->until < now) {
			*pp = a->next;
			alias_free(a);
			continue;
		}
		if (name && a->folder == folder && strcmp(a->name, name) == 0)
			return a;
		pp = &a->next;
	}
	return NULL;
}

void names_add(struct face *fc, int64_t folder, const char *name, fuse_ino_t ino)
{
	struct alias_table *t = fc->aliases;
	struct alias *a = calloc(1, sizeof(*a));

	if (!a || !(a->name = strdup(name))) {
		free(a);
		return;
	}
	a->folder = folder;
	a->ino = ino;
	a->until = time(NULL) + ALIAS_SECONDS;
	pthread_mutex_lock(&t->lock);
	find(t, 0, NULL);
	a->next = t->head;
	t->head = a;
	pthread_mutex_unlock(&t->lock);
	/* The kernel may hold NAME for the old inode (a rename): drop it. */
	notify_entry(fc, ino_folder(folder), name);
}

fuse_ino_t names_find(struct face *fc, int64_t folder, const char *name, int take)
{
	struct alias_table *t = fc->aliases;
	struct alias *a;
	fuse_ino_t ino = 0;

	pthread_mutex_lock(&t->lock);
	a = find(t, folder, name);
	if (a) {
		ino = a->ino;
		if (take)
			a->until = 0;
	}
	pthread_mutex_unlock(&t->lock);
	return ino;
}
