/* body.c - body files with atomic publication. */
#include "cache/body.h"
#include "net/grow.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct body_cache {
	int dirfd;            /* the cache directory */
	int bodiesfd;         /* DIR/bodies */
	int viewsfd;          /* DIR/views */
	int tmpfd;            /* DIR/tmp */
	atomic_uint seq;      /* names of named temporary files */
};

static int mkdirat_p(int at, const char *name)
{
	if (mkdirat(at, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Remove every entry of directory FD, and the entries of its
 * subdirectories down to DEPTH more levels (the names here are the
 * cache's own: no symbolic links are followed, openat refuses them). */
static void empty_dir(int fd, int depth)
{
	int dfd = dup(fd);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	struct dirent *e;

	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return;
	}
	rewinddir(d);   /* the duplicate shares FD's offset: start at the start */
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (unlinkat(fd, e->d_name, 0) == 0 || errno != EISDIR || depth <= 0)
			continue;
		int sub = openat(fd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0) {
			empty_dir(sub, depth - 1);
			close(sub);
		}
		unlinkat(fd, e->d_name, AT_REMOVEDIR);
	}
	closedir(d);
}

int body_cache_open(const char *dir, struct body_cache **bc_r)
{
	struct body_cache *bc = calloc(1, sizeof(*bc));
	int r;

	if (!bc)
		return -ENOMEM;
	bc->dirfd = bc->bodiesfd = bc->viewsfd = bc->tmpfd = -1;
	bc->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bc->dirfd < 0) {
		r = -errno;
		goto fail;
	}
	if ((r = mkdirat_p(bc->dirfd, "bodies")) < 0 || (r = mkdirat_p(bc->dirfd, "views")) < 0 ||
	    (r = mkdirat_p(bc->dirfd, "tmp")) < 0)
		goto fail;
	bc->bodiesfd = openat(bc->dirfd, "bodies", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bc->viewsfd = openat(bc->dirfd, "views", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bc->tmpfd = openat(bc->dirfd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bc->bodiesfd < 0 || bc->viewsfd < 0 || bc->tmpfd < 0) {
		r = -errno;
		goto fail;
	}
	empty_dir(bc->tmpfd, 0);
	*bc_r = bc;
	return 0;
fail:
	body_cache_close(bc);
	return r;
}

void body_cache_close(struct body_cache *bc)
{
	if (!bc)
		return;
	if (bc->tmpfd >= 0)
		close(bc->tmpfd);
	if (bc->bodiesfd >= 0)
		close(bc->bodiesfd);
	if (bc->viewsfd >= 0)
		close(bc->viewsfd);
	if (bc->dirfd >= 0)
		close(bc->dirfd);
	free(bc);
}

static void body_path(char *buf, size_t size, int64_t folder, uint32_t uid)
{
	snprintf(buf, size, "%" PRId64 "/%" PRIu32, folder, uid);
}

/* A view's name: a few ASCII letters, digits and dots, starting with a
 * letter (it never climbs out, never hides, never collides with "."). */
static int view_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= BODY_VIEW_NAME_MAX || name[0] < 'a' || name[0] > 'z')
		return 0;
	return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789.") == n;
}

static int view_path(char *buf, size_t size, int64_t folder, uint32_t uid, const char *name)
{
	if (!view_name_ok(name))
		return -EINVAL;
	snprintf(buf, size, "%" PRId64 "/%" PRIu32 "/%s", folder, uid, name);
	return 0;
}

static int open_ro(int base, const char *path)
{
	int fd = openat(base, path, O_RDONLY | O_CLOEXEC | O_NOATIME);

	if (fd < 0 && errno == EPERM)   /* O_NOATIME on a file we do not own */
		fd = openat(base, path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int body_open(struct body_cache *bc, int64_t folder, uint32_t uid)
{
	char path[48];

	body_path(path, sizeof(path), folder, uid);
	return open_ro(bc->bodiesfd, path);
}

int body_view_open(struct body_cache *bc, int64_t folder, uint32_t uid, const char *name)
{
	char path[64 + BODY_VIEW_NAME_MAX];
	int r = view_path(path, sizeof(path), folder, uid, name);

	return r < 0 ? r : open_ro(bc->viewsfd, path);
}

int body_exists(struct body_cache *bc, int64_t folder, uint32_t uid)
{
	char path[48];

	body_path(path, sizeof(path), folder, uid);
	return faccessat(bc->bodiesfd, path, F_OK, 0) == 0;
}

void body_touch(int fd, const struct stat *st)
{
	struct timespec now, times[2];

	clock_gettime(CLOCK_REALTIME, &now);
	if (now.tv_sec - st->st_atim.tv_sec < 3600)
		return;
	times[0] = now;
	times[1].tv_nsec = UTIME_OMIT;
	futimens(fd, times);
}

/* A file eviction may remove: a body (name empty) or a view. */
struct victim {
	int64_t folder;
	uint32_t uid;
	char name[BODY_VIEW_NAME_MAX];
	time_t atime;
	uint64_t size;
};

static int by_atime(const void *a, const void *b)
{
	const struct victim *x = a, *y = b;

	return x->atime < y->atime ? -1 : x->atime > y->atime;
}

struct victims {
	struct victim *v;
	size_t n, cap;
	uint64_t total;
};

/* Note the files of directory FD (folder FOLDER; for views, message UID)
 * as victims: bodies are named by their UID, views by their name. */
static void scan_files(struct victims *vs, int fd, int64_t folder, uint32_t uid, int views)
{
	int dfd = dup(fd);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	struct dirent *f;

	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return;
	}
	rewinddir(d);   /* the duplicate shares FD's offset: start at the start */
	while ((f = readdir(d))) {
		struct stat st;

		if (f->d_name[0] == '.' || fstatat(fd, f->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) || (views && !view_name_ok(f->d_name)))
			continue;
		if (ARRAY_RESERVE(vs->v, vs->n, vs->cap) < 0)
			break;
		struct victim *v = &vs->v[vs->n++];
		*v = (struct victim){ folder, uid, "", st.st_atim.tv_sec, (uint64_t)st.st_size };
		if (views)   /* view_name_ok(): shorter than BODY_VIEW_NAME_MAX */
			memcpy(v->name, f->d_name, strlen(f->d_name) + 1);
		else
			v->uid = (uint32_t)strtoul(f->d_name, NULL, 10);
		vs->total += (uint64_t)st.st_size;
	}
	closedir(d);
}

/* Calls fn for each numbered subdirectory of FD with its number. */
static void each_subdir(int fd, void (*fn)(void *ctx, int sub, const char *name), void *ctx)
{
	int dfd = dup(fd);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	struct dirent *e;

	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return;
	}
	rewinddir(d);   /* the duplicate shares FD's offset: start at the start */
	while ((e = readdir(d))) {
		int sub;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		sub = openat(fd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			continue;
		fn(ctx, sub, e->d_name);
		close(sub);
	}
	closedir(d);
}

struct scan {
	struct victims *vs;
	int64_t folder;
	int views;
};

static void scan_message(void *ctx, int fd, const char *name)
{
	struct scan *sc = ctx;

	scan_files(sc->vs, fd, sc->folder, (uint32_t)strtoul(name, NULL, 10), 1);
}

static void scan_folder(void *ctx, int fd, const char *name)
{
	struct scan *sc = ctx, in = { sc->vs, strtoll(name, NULL, 10), sc->views };

	if (sc->views)
		each_subdir(fd, scan_message, &in);
	else
		scan_files(sc->vs, fd, in.folder, 0, 0);
}

int64_t body_evict(struct body_cache *bc, uint64_t limit, uint64_t target, int views_only)
{
	struct victims vs = { 0 };
	struct scan bodies = { &vs, 0, 0 }, views = { &vs, 0, 1 };
	uint64_t keep = 0;

	each_subdir(bc->bodiesfd, scan_folder, &bodies);
	if (views_only) {
		/* Bodies stay; they count, but are no victims. */
		keep = vs.total;
		vs.n = 0;
	}
	each_subdir(bc->viewsfd, scan_folder, &views);
	if (vs.total > limit) {
		qsort(vs.v, vs.n, sizeof(*vs.v), by_atime);
		for (size_t i = 0; i < vs.n && vs.total > target && vs.total > keep; i++) {
			char path[64 + BODY_VIEW_NAME_MAX];
			struct victim *v = &vs.v[i];
			int base = v->name[0] ? bc->viewsfd : bc->bodiesfd;

			if (v->name[0])
				view_path(path, sizeof(path), v->folder, v->uid, v->name);
			else
				body_path(path, sizeof(path), v->folder, v->uid);
			if (unlinkat(base, path, 0) == 0 || errno == ENOENT)
				vs.total -= v->size;
		}
	}
	free(vs.v);
	return (int64_t)vs.total;
}

int body_create(struct body_cache *bc, struct body_tmp *t)
{
	t->path[0] = '\0';
	t->fd = openat(bc->tmpfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (t->fd >= 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return -errno;
	snprintf(t->path, sizeof(t->path), "b%ld.%u", (long)getpid(),
	         atomic_fetch_add(&bc->seq, 1));
	t->fd = openat(bc->tmpfd, t->path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
	if (t->fd < 0) {
		t->path[0] = '\0';
		return -errno;
	}
	return 0;
}

/* Make the directories of PATH below BASE (each component but the last). */
static int mkdirs(int base, const char *path)
{
	char dir[64 + BODY_VIEW_NAME_MAX];

	for (const char *slash = strchr(path, '/'); slash; slash = strchr(slash + 1, '/')) {
		int r;

		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
		if ((r = mkdirat_p(base, dir)) < 0)
			return r;
	}
	return 0;
}

/* fsync the directories of PATH below BASE, deepest first, then BASE. */
static int sync_dirs(int base, const char *path)
{
	char dir[64 + BODY_VIEW_NAME_MAX];
	const char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	while ((slash = strrchr(dir, '/'))) {
		int fd;

		dir[slash - dir] = '\0';
		fd = openat(base, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		int r = fsync(fd);
		close(fd);
		if (r < 0)
			return -errno;
	}
	return fsync(base) < 0 ? -errno : 0;
}

/* Publish T under PATH below BASE; an existing file is kept. */
static int commit_at(struct body_cache *bc, struct body_tmp *t, int base, const char *path,
                     int durable)
{
	char proc[64];
	int r;

	if ((r = mkdirs(base, path)) < 0)
		return r;
	if (durable && fsync(t->fd) < 0)
		return -errno;
	if (t->path[0]) {
		/* Named temporary: link, so an existing file is never replaced. */
		r = linkat(bc->tmpfd, t->path, base, path, 0);
	} else {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", t->fd);
		r = linkat(AT_FDCWD, proc, base, path, AT_SYMLINK_FOLLOW);
	}
	if (r < 0 && errno != EEXIST)
		return -errno;
	return durable ? sync_dirs(base, path) : 0;
}

int body_commit(struct body_cache *bc, struct body_tmp *t, int64_t folder, uint32_t uid,
                int durable)
{
	char path[48];

	body_path(path, sizeof(path), folder, uid);
	return commit_at(bc, t, bc->bodiesfd, path, durable);
}

int body_view_commit(struct body_cache *bc, struct body_tmp *t, int64_t folder, uint32_t uid,
                     const char *name, int durable)
{
	char path[64 + BODY_VIEW_NAME_MAX];
	int r = view_path(path, sizeof(path), folder, uid, name);

	return r < 0 ? r : commit_at(bc, t, bc->viewsfd, path, durable);
}

void body_tmp_close(struct body_cache *bc, struct body_tmp *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	if (t->path[0])
		unlinkat(bc->tmpfd, t->path, 0);
	t->path[0] = '\0';
}

int body_hold(struct body_cache *bc, int64_t folder, uint32_t uid, struct body_tmp *t)
{
	char path[48];

	body_path(path, sizeof(path), folder, uid);
	snprintf(t->path, sizeof(t->path), "h%ld.%u", (long)getpid(),
	         atomic_fetch_add(&bc->seq, 1));
	if (linkat(bc->bodiesfd, path, bc->tmpfd, t->path, 0) < 0) {
		t->path[0] = '\0';
		t->fd = -1;
		return -errno;
	}
	t->fd = openat(bc->tmpfd, t->path, O_RDONLY | O_CLOEXEC);
	if (t->fd < 0) {
		int r = -errno;
		unlinkat(bc->tmpfd, t->path, 0);
		t->path[0] = '\0';
		return r;
	}
	return 0;
}

/* Remove directory NAME below BASE with what it holds, DEPTH levels down. */
static int remove_tree(int base, const char *name, int depth)
{
	int fd = openat(base, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	empty_dir(fd, depth);
	close(fd);
	if (unlinkat(base, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int body_remove(struct body_cache *bc, int64_t folder, uint32_t uid)
{
	char path[48];

	/* Its views first: a body without views is a state a crash may
	 * leave anyway, views without the message are not. */
	body_path(path, sizeof(path), folder, uid);
	int r = remove_tree(bc->viewsfd, path, 0);
	if (r < 0)
		return r;
	if (unlinkat(bc->bodiesfd, path, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int body_remove_folder(struct body_cache *bc, int64_t folder)
{
	char dir[24];
	int r;

	snprintf(dir, sizeof(dir), "%" PRId64, folder);
	if ((r = remove_tree(bc->viewsfd, dir, 1)) < 0)
		return r;
	return remove_tree(bc->bodiesfd, dir, 0);
}
