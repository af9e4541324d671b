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
	int tmpfd;            /* DIR/tmp */
	atomic_uint seq;      /* names of named temporary files */
};

static int mkdirat_p(int at, const char *name)
{
	if (mkdirat(at, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Remove every entry of directory FD (one level: tmp holds plain files). */
static void empty_dir(int fd)
{
	int dfd = dup(fd);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	struct dirent *e;

	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return;
	}
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			unlinkat(fd, e->d_name, 0);
	closedir(d);
}

int body_cache_open(const char *dir, struct body_cache **bc_r)
{
	struct body_cache *bc = calloc(1, sizeof(*bc));
	int r;

	if (!bc)
		return -ENOMEM;
	bc->dirfd = bc->bodiesfd = bc->tmpfd = -1;
	bc->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bc->dirfd < 0) {
		r = -errno;
		goto fail;
	}
	if ((r = mkdirat_p(bc->dirfd, "bodies")) < 0 || (r = mkdirat_p(bc->dirfd, "tmp")) < 0)
		goto fail;
	bc->bodiesfd = openat(bc->dirfd, "bodies", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bc->tmpfd = openat(bc->dirfd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bc->bodiesfd < 0 || bc->tmpfd < 0) {
		r = -errno;
		goto fail;
	}
	empty_dir(bc->tmpfd);
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
	if (bc->dirfd >= 0)
		close(bc->dirfd);
	free(bc);
}

static void body_path(char *buf, size_t size, int64_t folder, uint32_t uid)
{
	snprintf(buf, size, "%" PRId64 "/%" PRIu32, folder, uid);
}

int body_open(struct body_cache *bc, int64_t folder, uint32_t uid)
{
	char path[48];
	int fd;

	body_path(path, sizeof(path), folder, uid);
	fd = openat(bc->bodiesfd, path, O_RDONLY | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)   /* O_NOATIME on a file we do not own */
		fd = openat(bc->bodiesfd, path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
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

struct victim {
	int64_t folder;
	uint32_t uid;
	time_t atime;
	uint64_t size;
};

static int by_atime(const void *a, const void *b)
{
	const struct victim *x = a, *y = b;

	return x->atime < y->atime ? -1 : x->atime > y->atime;
}

int64_t body_evict(struct body_cache *bc, uint64_t limit, uint64_t target)
{
	struct victim *v = NULL;
	size_t n = 0, cap = 0;
	uint64_t total = 0;
	int dfd = dup(bc->bodiesfd);
	DIR *top = dfd >= 0 ? fdopendir(dfd) : NULL;
	struct dirent *e;

	if (!top) {
		if (dfd >= 0)
			close(dfd);
		return -errno;
	}
	rewinddir(top);
	while ((e = readdir(top))) {
		int64_t folder;
		int ffd;
		DIR *d;
		struct dirent *f;

		if (e->d_name[0] == '.')
			continue;
		folder = strtoll(e->d_name, NULL, 10);
		ffd = openat(bc->bodiesfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		d = ffd >= 0 ? fdopendir(ffd) : NULL;
		if (!d) {
			if (ffd >= 0)
				close(ffd);
			continue;
		}
		while ((f = readdir(d))) {
			struct stat st;

			if (f->d_name[0] == '.' || fstatat(ffd, f->d_name, &st, 0) < 0)
				continue;
			if (ARRAY_RESERVE(v, n, cap) < 0)
				break;
			v[n++] = (struct victim){ folder, (uint32_t)strtoul(f->d_name, NULL, 10),
			                          st.st_atim.tv_sec, (uint64_t)st.st_size };
			total += (uint64_t)st.st_size;
		}
		closedir(d);
	}
	closedir(top);
	if (total > limit) {
		qsort(v, n, sizeof(*v), by_atime);
		for (size_t i = 0; i < n && total > target; i++)
			if (body_remove(bc, v[i].folder, v[i].uid) == 0)
				total -= v[i].size;
	}
	free(v);
	return (int64_t)total;
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

int body_commit(struct body_cache *bc, struct body_tmp *t, int64_t folder, uint32_t uid,
                int durable)
{
	char dir[24], path[48], proc[64];
	int r, dfd;

	snprintf(dir, sizeof(dir), "%" PRId64, folder);
	if ((r = mkdirat_p(bc->bodiesfd, dir)) < 0)
		return r;
	if (durable && fsync(t->fd) < 0)
		return -errno;
	body_path(path, sizeof(path), folder, uid);
	if (t->path[0]) {
		/* Named temporary: link, so an existing body is never replaced. */
		r = linkat(bc->tmpfd, t->path, bc->bodiesfd, path, 0);
	} else {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", t->fd);
		r = linkat(AT_FDCWD, proc, bc->bodiesfd, path, AT_SYMLINK_FOLLOW);
	}
	if (r < 0 && errno != EEXIST)
		return -errno;
	if (durable) {
		dfd = openat(bc->bodiesfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			return -errno;
		r = fsync(dfd);
		close(dfd);
		if (r < 0)
			return -errno;
		if (fsync(bc->bodiesfd) < 0)
			return -errno;
	}
	return 0;
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

int body_remove(struct body_cache *bc, int64_t folder, uint32_t uid)
{
	char path[48];

	body_path(path, sizeof(path), folder, uid);
	if (unlinkat(bc->bodiesfd, path, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int body_remove_folder(struct body_cache *bc, int64_t folder)
{
	char dir[24];
	int fd;

	snprintf(dir, sizeof(dir), "%" PRId64, folder);
	fd = openat(bc->bodiesfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	empty_dir(fd);
	close(fd);
	if (unlinkat(bc->bodiesfd, dir, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}
