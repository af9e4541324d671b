/* test_body.c - body files with atomic publication (cache/body.h).
 *
 * Every test works in a fresh directory from mkdtemp() that is removed at
 * the end. The crash test kills a writer with SIGKILL at random moments; the
 * seed is printed and can be fixed with MAILFS_TEST_SEED.
 */
#include "tests/unit/testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cache/body.h"
#include "tests/unit/synccount.h"

struct fixture {
	char dir[64];
	struct body_cache *bc;
};

/* --- helpers -------------------------------------------------------------- */

static uint64_t rnd_state;

static uint64_t rnd(void)
{
	return xorshift64s(&rnd_state);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/mailfs-test-body.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	body_cache_close(fx->bc);
	rm_tree(fx->dir);
	free(fx);
	return 0;
}

static struct body_cache *open_cache(const char *dir)
{
	struct body_cache *bc = NULL;
	int r = body_cache_open(dir, &bc);

	if (r != 0)
		fail_msg("body_cache_open(%s): %s", dir, strerror(-r));
	assert_non_null(bc);
	return bc;
}

static void write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

/* The whole file behind FD (closed); *len_r gets its length. */
static char *read_fd(int fd, size_t *len_r)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	ssize_t n;

	assert_non_null(buf);
	for (;;) {
		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n >= 0);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	*len_r = len;
	return buf;
}

/* Create, write DATA and commit as FOLDER/UID; returns body_commit's result. */
static int store_body(struct body_cache *bc, int64_t folder, uint32_t uid,
                      const char *data, size_t len, int durable)
{
	struct body_tmp t = { .fd = -1 };
	int r;

	assert_int_equal(body_create(bc, &t), 0);
	assert_true(t.fd >= 0);
	write_all(t.fd, data, len);
	r = body_commit(bc, &t, folder, uid, durable);
	body_tmp_close(bc, &t);
	assert_int_equal(t.fd, -1);
	return r;
}

static void assert_body(struct body_cache *bc, int64_t folder, uint32_t uid,
                        const char *want, size_t wantlen)
{
	int fd = body_open(bc, folder, uid);
	size_t len;
	char *got;

	if (fd < 0)
		fail_msg("body_open(%" PRId64 ", %" PRIu32 "): %s", folder, uid, strerror(-fd));
	/* Read-only, as promised. */
	assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	got = read_fd(fd, &len);
	assert_int_equal(len, wantlen);
	assert_memory_equal(got, want, wantlen);
	free(got);
}

/* Regular files under PATH, recursively (directories are not counted). */
static size_t count_files(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	size_t n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char sub[512];
		struct stat sb;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		assert_int_equal(lstat(sub, &sb), 0);
		n += S_ISDIR(sb.st_mode) ? count_files(sub) : 1;
	}
	closedir(d);
	return n;
}

static size_t count_in(const char *dir, const char *sub)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	return count_files(path);
}

static int store_view(struct body_cache *bc, int64_t folder, uint32_t uid, const char *name,
                      const char *data, size_t len, int durable)
{
	struct body_tmp t = { .fd = -1 };
	int r;

	assert_int_equal(body_create(bc, &t), 0);
	write_all(t.fd, data, len);
	r = body_view_commit(bc, &t, folder, uid, name, durable);
	body_tmp_close(bc, &t);
	return r;
}

static void assert_view(struct body_cache *bc, int64_t folder, uint32_t uid, const char *name,
                        const char *want)
{
	int fd = body_view_open(bc, folder, uid, name);
	size_t len;
	char *got;

	if (fd < 0)
		fail_msg("body_view_open(%" PRId64 ", %" PRIu32 ", %s): %s", folder, uid, name,
		         strerror(-fd));
	got = read_fd(fd, &len);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(got, want, len);
	free(got);
}

/* Set the access time of FILE (below the cache) to T. */
static void set_atime(const char *dir, const char *file, time_t t)
{
	char path[512];
	struct timespec ts[2] = { { t, 0 }, { 0, UTIME_OMIT } };

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (utimensat(AT_FDCWD, path, ts, 0) < 0)
		fail_msg("utimensat(%s): %s", path, strerror(errno));
}

/* --- tests ------------------------------------------------------------------ */

static void test_open_creates_dirs(void **state)
{
	struct fixture *fx = *state;
	static const char *const subs[] = { "bodies", "views", "tmp" };
	mode_t old = umask(0);
	char path[256];
	struct stat sb;

	fx->bc = open_cache(fx->dir);
	umask(old);
	for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
		snprintf(path, sizeof(path), "%s/%s", fx->dir, subs[i]);
		assert_int_equal(lstat(path, &sb), 0);
		assert_true(S_ISDIR(sb.st_mode));
		if ((sb.st_mode & 07777) != 0700)
			fail_msg("%s has mode %04o, want 0700", path, (unsigned)(sb.st_mode & 07777));
	}
	/* Opening again (existing directories) works. */
	body_cache_close(fx->bc);
	fx->bc = open_cache(fx->dir);
}

static void test_open_missing_dir(void **state)
{
	struct fixture *fx = *state;
	struct body_cache *bc = NULL;
	char path[128];

	snprintf(path, sizeof(path), "%s/nope", fx->dir);
	assert_int_equal(body_cache_open(path, &bc), -ENOENT);
	assert_null(bc);
}

static void test_create_commit_open(void **state)
{
	struct fixture *fx = *state;
	const char msg[] = "From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n";
	char bin[300];

	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (char)i;   /* NUL bytes included */
	fx->bc = open_cache(fx->dir);
	assert_int_equal(body_open(fx->bc, 7, 42), -ENOENT);
	assert_int_equal(store_body(fx->bc, 7, 42, msg, sizeof(msg) - 1, 0), 0);
	assert_body(fx->bc, 7, 42, msg, sizeof(msg) - 1);
	/* Same UID in another folder, another UID in the same folder. */
	assert_int_equal(store_body(fx->bc, 8, 42, bin, sizeof(bin), 0), 0);
	assert_int_equal(store_body(fx->bc, 7, UINT32_MAX, "", 0, 0), 0);
	assert_body(fx->bc, 7, 42, msg, sizeof(msg) - 1);
	assert_body(fx->bc, 8, 42, bin, sizeof(bin));
	assert_body(fx->bc, 7, UINT32_MAX, "", 0);
	assert_int_equal(body_open(fx->bc, 7, 43), -ENOENT);
	assert_int_equal(body_open(fx->bc, 9, 42), -ENOENT);
	/* Nothing is left behind in tmp/. */
	assert_int_equal(count_in(fx->dir, "tmp"), 0);
	assert_int_equal(count_in(fx->dir, "bodies"), 3);
	/* And it is all still there after a reopen. */
	body_cache_close(fx->bc);
	fx->bc = open_cache(fx->dir);
	assert_body(fx->bc, 8, 42, bin, sizeof(bin));
}

static void test_commit_keeps_first(void **state)
{
	struct fixture *fx = *state;

	fx->bc = open_cache(fx->dir);
	assert_int_equal(store_body(fx->bc, 1, 5, "first version", 13, 0), 0);
	assert_int_equal(store_body(fx->bc, 1, 5, "second, longer version", 22, 0), 0);
	assert_body(fx->bc, 1, 5, "first version", 13);
	assert_int_equal(store_body(fx->bc, 1, 5, "third", 5, 1), 0);
	assert_body(fx->bc, 1, 5, "first version", 13);
	assert_int_equal(count_in(fx->dir, "bodies"), 1);
	assert_int_equal(count_in(fx->dir, "tmp"), 0);
}

static void test_commit_then_keep_reading_tmp(void **state)
{
	struct fixture *fx = *state;
	struct body_tmp t = { .fd = -1 };
	char buf[16] = "";

	/* The descriptor stays usable after commit (the caller serves from it). */
	fx->bc = open_cache(fx->dir);
	assert_int_equal(body_create(fx->bc, &t), 0);
	write_all(t.fd, "0123456789", 10);
	assert_int_equal(body_commit(fx->bc, &t, 3, 1, 0), 0);
	assert_int_equal(pread(t.fd, buf, sizeof(buf), 0), 10);
	assert_memory_equal(buf, "0123456789", 10);
	body_tmp_close(fx->bc, &t);
	assert_body(fx->bc, 3, 1, "0123456789", 10);
	/* Closing twice is harmless. */
	body_tmp_close(fx->bc, &t);
	assert_body(fx->bc, 3, 1, "0123456789", 10);
}

static void test_close_without_commit(void **state)
{
	struct fixture *fx = *state;
	struct body_tmp t[3];

	fx->bc = open_cache(fx->dir);
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		t[i].fd = -1;
		assert_int_equal(body_create(fx->bc, &t[i]), 0);
		write_all(t[i].fd, "partial", 7);
	}
	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		body_tmp_close(fx->bc, &t[i]);
	assert_int_equal(count_in(fx->dir, "bodies"), 0);
	assert_int_equal(count_in(fx->dir, "tmp"), 0);
	assert_int_equal(body_open(fx->bc, 1, 1), -ENOENT);
}

static void test_leftover_tmp_removed(void **state)
{
	struct fixture *fx = *state;
	static const char *const names[] = { "b12345.0", "b12345.1", "junk" };
	char path[256];
	int fd;

	fx->bc = open_cache(fx->dir);
	assert_int_equal(store_body(fx->bc, 2, 2, "kept", 4, 0), 0);
	body_cache_close(fx->bc);
	fx->bc = NULL;
	/* What a crash with named temporaries leaves behind. */
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		snprintf(path, sizeof(path), "%s/tmp/%s", fx->dir, names[i]);
		fd = open(path, O_CREAT | O_WRONLY | O_EXCL, 0600);
		assert_true(fd >= 0);
		write_all(fd, "half a mess", 11);
		close(fd);
	}
	assert_int_equal(count_in(fx->dir, "tmp"), ARRAY_SIZE(names));
	fx->bc = open_cache(fx->dir);
	assert_int_equal(count_in(fx->dir, "tmp"), 0);
	/* Published bodies are not touched. */
	assert_body(fx->bc, 2, 2, "kept", 4);
}

static void test_durable_commit(void **state)
{
	struct fixture *fx = *state;
	char big[100000];

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	fx->bc = open_cache(fx->dir);
	assert_int_equal(store_body(fx->bc, 4, 1, big, sizeof(big), 1), 0);
	assert_int_equal(store_body(fx->bc, 4, 2, "x", 1, 1), 0);
	/* A durable commit into a folder directory that already exists. */
	assert_int_equal(store_body(fx->bc, 4, 3, "yz", 2, 1), 0);
	assert_body(fx->bc, 4, 1, big, sizeof(big));
	assert_body(fx->bc, 4, 2, "x", 1);
	assert_body(fx->bc, 4, 3, "yz", 2);
	assert_int_equal(count_in(fx->dir, "tmp"), 0);
}

/* What `durable` promises, counted (synccount.h): the body's data reaches
 * the disk before it gets its name, the directory holding the name after;
 * without it, no sync at all. */
static char probe_path[128];

static int probe_named(void)
{
	return access(probe_path, F_OK) == 0;
}

static void test_durable_syncs(void **state)
{
	struct fixture *fx = *state;
	struct body_tmp t = { .fd = -1 };
	struct stat tmp_st, dir_st, bodies_st;
	char path[128];
	size_t i;
	int data_first = 0, dir_after = 0, bodies_after = 0;

	fx->bc = open_cache(fx->dir);
	sync_reset();
	assert_int_equal(store_body(fx->bc, 4, 6, "plain", 5, 0), 0);
	assert_int_equal(store_body(fx->bc, 5, 1, "new folder", 10, 0), 0);
	assert_int_equal(sync_ncalls, 0);

	assert_int_equal(body_create(fx->bc, &t), 0);
	write_all(t.fd, "durable", 7);
	assert_int_equal(fstat(t.fd, &tmp_st), 0);
	snprintf(probe_path, sizeof(probe_path), "%s/bodies/4/7", fx->dir);
	sync_reset();
	sync_probe = probe_named;
	assert_int_equal(body_commit(fx->bc, &t, 4, 7, 1), 0);
	sync_probe = NULL;
	body_tmp_close(fx->bc, &t);
	assert_body(fx->bc, 4, 7, "durable", 7);

	snprintf(path, sizeof(path), "%s/bodies/4", fx->dir);
	assert_int_equal(stat(path, &dir_st), 0);
	snprintf(path, sizeof(path), "%s/bodies", fx->dir);
	assert_int_equal(stat(path, &bodies_st), 0);
	assert_true(sync_ncalls >= 2 && sync_ncalls <= SYNC_CALLS_KEPT);
	for (i = 0; i < sync_ncalls; i++) {
		const struct sync_call *c = &sync_calls[i];

		if (!c->is_dir && c->ino == tmp_st.st_ino && !c->probe && !dir_after)
			data_first = 1;
		if (c->is_dir && c->ino == dir_st.st_ino && c->probe)
			dir_after = 1;
		if (c->is_dir && c->ino == bodies_st.st_ino && c->probe)
			bodies_after = 1;
	}
	if (!data_first || !dir_after)
		fail_msg("durable commit: %zu sync calls; data synced before the name: %d, "
		         "its directory after: %d", sync_ncalls, data_first, dir_after);
	/* bodies/ itself too: the folder directory may have just been made. */
	assert_true(bodies_after);
}

static void test_remove(void **state)
{
	struct fixture *fx = *state;
	char path[256];
	struct stat sb;

	fx->bc = open_cache(fx->dir);
	for (uint32_t uid = 1; uid <= 5; uid++) {
		assert_int_equal(store_body(fx->bc, 10, uid, "ten", 3, 0), 0);
		assert_int_equal(store_body(fx->bc, 11, uid, "eleven", 6, 0), 0);
	}
	assert_int_equal(body_remove(fx->bc, 10, 3), 0);
	assert_int_equal(body_open(fx->bc, 10, 3), -ENOENT);
	assert_body(fx->bc, 10, 2, "ten", 3);
	assert_body(fx->bc, 11, 3, "eleven", 6);
	/* Removing what is not there is no error. */
	assert_int_equal(body_remove(fx->bc, 10, 3), 0);
	assert_int_equal(body_remove(fx->bc, 99, 3), 0);
	/* A removed body can be stored again. */
	assert_int_equal(store_body(fx->bc, 10, 3, "again", 5, 0), 0);
	assert_body(fx->bc, 10, 3, "again", 5);

	assert_int_equal(body_remove_folder(fx->bc, 10), 0);
	for (uint32_t uid = 1; uid <= 5; uid++) {
		assert_int_equal(body_open(fx->bc, 10, uid), -ENOENT);
		assert_body(fx->bc, 11, uid, "eleven", 6);
	}
	snprintf(path, sizeof(path), "%s/bodies/10", fx->dir);
	assert_int_equal(lstat(path, &sb), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(count_in(fx->dir, "bodies"), 5);
	/* A folder with no bodies, twice. */
	assert_int_equal(body_remove_folder(fx->bc, 10), 0);
	assert_int_equal(body_remove_folder(fx->bc, 12345), 0);
	/* The folder can be filled again afterwards. */
	assert_int_equal(store_body(fx->bc, 10, 1, "new", 3, 1), 0);
	assert_body(fx->bc, 10, 1, "new", 3);
}

/* --- crash safety ------------------------------------------------------------ */

#define CRASH_SIZE  (1024 * 1024)
#define CRASH_CHUNK (64 * 1024)
#define CRASH_RUNS  12
#define CRASH_FOLDER 1

static unsigned char crash_byte(uint32_t uid, size_t off)
{
	return (unsigned char)((uid * 131u) ^ (off * 7u) ^ (off >> 11));
}

/* The writer: bodies of CRASH_SIZE bytes for UIDs FIRST, FIRST+1, ...,
 * written slowly in chunks, then committed (every other one durable). Tells
 * the parent on FD when it starts ('o') and after its first commit ('c').
 * Never returns. */
static void crash_writer(const char *dir, uint32_t first, int fd)
{
	static unsigned char chunk[CRASH_CHUNK];
	struct body_cache *bc;

	if (body_cache_open(dir, &bc) < 0)
		_exit(2);
	if (write(fd, "o", 1) != 1)
		_exit(3);
	for (uint32_t uid = first; ; uid++) {
		struct body_tmp t = { .fd = -1 };

		if (body_create(bc, &t) < 0)
			_exit(4);
		for (size_t off = 0; off < CRASH_SIZE; off += CRASH_CHUNK) {
			for (size_t i = 0; i < CRASH_CHUNK; i++)
				chunk[i] = crash_byte(uid, off + i);
			if (write(t.fd, chunk, CRASH_CHUNK) != CRASH_CHUNK)
				_exit(5);
			usleep(500);
		}
		if (body_commit(bc, &t, CRASH_FOLDER, uid, uid & 1) < 0)
			_exit(6);
		body_tmp_close(bc, &t);
		if (uid == first && write(fd, "c", 1) != 1)
			_exit(7);
	}
}

static void read_byte(int fd, char want)
{
	char c;
	ssize_t n;

	do
		n = read(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		fail_msg("writer died before sending '%c'", want);
	assert_int_equal(c, want);
}

/* Every body under bodies/ must be whole. Returns the highest UID seen. */
static uint32_t check_bodies(const char *dir, size_t *count_r)
{
	char path[256];
	DIR *d;
	struct dirent *e;
	uint32_t max = 0;
	size_t count = 0;

	snprintf(path, sizeof(path), "%s/bodies/%d", dir, CRASH_FOLDER);
	d = opendir(path);
	if (!d) {
		assert_int_equal(errno, ENOENT);
		*count_r = 0;
		return 0;
	}
	while ((e = readdir(d))) {
		char file[512], *end;
		unsigned long uid;
		size_t len;
		char *buf;
		int fd;

		if (e->d_name[0] == '.')
			continue;
		uid = strtoul(e->d_name, &end, 10);
		if (*end || uid == 0 || uid > UINT32_MAX)
			fail_msg("unexpected file bodies/%d/%s", CRASH_FOLDER, e->d_name);
		snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
		fd = open(file, O_RDONLY);
		assert_true(fd >= 0);
		buf = read_fd(fd, &len);
		if (len != CRASH_SIZE)
			fail_msg("body %lu has %zu bytes, want %d", uid, len, CRASH_SIZE);
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)buf[i] != crash_byte((uint32_t)uid, i))
				fail_msg("body %lu differs at byte %zu", uid, i);
		free(buf);
		if (uid > max)
			max = (uint32_t)uid;
		count++;
	}
	closedir(d);
	*count_r = count;
	return max;
}

static void test_crash_safety(void **state)
{
	struct fixture *fx = *state;
	uint32_t next = 1;
	size_t total = 0;

	rnd_state = test_seed("crash test");
	/* Create the directories before the first writer runs. */
	fx->bc = open_cache(fx->dir);
	body_cache_close(fx->bc);
	fx->bc = NULL;

	for (int run = 0; run < CRASH_RUNS; run++) {
		unsigned delay_us = (unsigned)(rnd() % 40000);
		int p[2], status;
		size_t count;
		uint32_t max;
		pid_t pid;

		assert_int_equal(pipe(p), 0);
		fflush(NULL);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			crash_writer(fx->dir, next, p[1]);
		}
		close(p[1]);
		read_byte(p[0], 'o');
		/* Every other run is sure to kill after a body was published. */
		if (run % 2)
			read_byte(p[0], 'c');
		usleep(delay_us);
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		close(p[0]);
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
			fail_msg("writer ended by itself (status 0x%x) in run %d", status, run);

		/* Before anyone cleans up: only whole bodies are visible. */
		max = check_bodies(fx->dir, &count);
		if (run % 2)
			assert_true(max >= next);
		assert_true(count >= total);
		/* The next start removes whatever the writer left in tmp/. */
		fx->bc = open_cache(fx->dir);
		assert_int_equal(count_in(fx->dir, "tmp"), 0);
		body_cache_close(fx->bc);
		fx->bc = NULL;
		printf("    run %2d: killed after %5u us, %zu bodies\n", run, delay_us, count);
		total = count;
		if (max >= next)
			next = max + 1;
		else
			next += 1000;   /* the body in progress was never published */
	}
	assert_true(total > 0);
}

/* Views (SPEC §9): published like bodies, under names that cannot climb
 * out, removed with their message and folder. */
static void test_views(void **state)
{
	struct fixture *fx = *state;
	static const char *const bad[] = { "", "../x", "a/b", ".hidden", "Text", "1", "p 1",
	                                   "p\n", "text/../../x" };
	char longname[BODY_VIEW_NAME_MAX + 1];

	fx->bc = open_cache(fx->dir);
	assert_int_equal(body_view_open(fx->bc, 3, 7, "text"), -ENOENT);
	assert_int_equal(store_view(fx->bc, 3, 7, "text", "hello\n", 6, 1), 0);
	assert_int_equal(store_view(fx->bc, 3, 7, "p2.1", "part", 4, 0), 0);
	assert_int_equal(store_view(fx->bc, 3, 8, "text", "other\n", 6, 0), 0);
	/* The first one stays, as for bodies. */
	assert_int_equal(store_view(fx->bc, 3, 7, "text", "second\n", 7, 0), 0);
	assert_view(fx->bc, 3, 7, "text", "hello\n");
	assert_view(fx->bc, 3, 7, "p2.1", "part");
	assert_int_equal(count_in(fx->dir, "views"), 3);
	assert_int_equal(count_in(fx->dir, "tmp"), 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(store_view(fx->bc, 3, 7, bad[i], "x", 1, 0), -EINVAL);
		assert_int_equal(body_view_open(fx->bc, 3, 7, bad[i]), -EINVAL);
	}
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(store_view(fx->bc, 3, 7, longname, "x", 1, 0), -EINVAL);
	assert_int_equal(count_in(fx->dir, "views"), 3);

	/* A message's removal takes its views; its neighbour's stay. */
	assert_int_equal(store_body(fx->bc, 3, 7, "msg", 3, 0), 0);
	assert_int_equal(body_remove(fx->bc, 3, 7), 0);
	assert_int_equal(body_view_open(fx->bc, 3, 7, "text"), -ENOENT);
	assert_int_equal(body_view_open(fx->bc, 3, 7, "p2.1"), -ENOENT);
	assert_view(fx->bc, 3, 8, "text", "other\n");
	/* A folder's removal takes all of them. */
	assert_int_equal(store_view(fx->bc, 4, 1, "text", "four", 4, 0), 0);
	assert_int_equal(body_remove_folder(fx->bc, 3), 0);
	assert_int_equal(body_view_open(fx->bc, 3, 8, "text"), -ENOENT);
	assert_view(fx->bc, 4, 1, "text", "four");
	assert_int_equal(count_in(fx->dir, "views"), 1);
}

/* Eviction goes by access time over bodies and views together; a body's
 * eviction leaves its views; VIEWS_ONLY never takes a body. */
static void test_evict(void **state)
{
	struct fixture *fx = *state;
	char big[1000];

	memset(big, 'x', sizeof(big));
	fx->bc = open_cache(fx->dir);
	assert_int_equal(store_body(fx->bc, 1, 1, big, 1000, 0), 0);        /* oldest */
	assert_int_equal(store_view(fx->bc, 1, 1, "text", big, 100, 0), 0); /* newest */
	assert_int_equal(store_body(fx->bc, 1, 2, big, 1000, 0), 0);
	assert_int_equal(store_view(fx->bc, 1, 2, "p1", big, 500, 0), 0);
	set_atime(fx->dir, "bodies/1/1", 1000);
	set_atime(fx->dir, "views/1/2/p1", 2000);
	set_atime(fx->dir, "bodies/1/2", 3000);
	set_atime(fx->dir, "views/1/1/text", 4000);

	/* Under the limit: counted, nothing goes. */
	assert_int_equal(body_evict(fx->bc, 10000, 9000, 0), 2600);
	assert_int_equal(count_in(fx->dir, "bodies") + count_in(fx->dir, "views"), 4);
	/* Bodies are the only copy: only the view goes (oldest first). */
	assert_int_equal(body_evict(fx->bc, 2200, 2100, 1), 2100);
	assert_int_equal(body_view_open(fx->bc, 1, 2, "p1"), -ENOENT);
	assert_body(fx->bc, 1, 1, big, 1000);
	assert_body(fx->bc, 1, 2, big, 1000);
	/* Far over the limit: every view goes, and the bodies stay. */
	assert_int_equal(body_evict(fx->bc, 100, 50, 1), 2000);
	assert_int_equal(body_view_open(fx->bc, 1, 1, "text"), -ENOENT);
	assert_int_equal(count_in(fx->dir, "bodies"), 2);
	assert_int_equal(store_view(fx->bc, 1, 1, "text", big, 100, 0), 0);
	set_atime(fx->dir, "views/1/1/text", 4000);
	/* Bodies may go: the oldest body first, its view stays. */
	set_atime(fx->dir, "bodies/1/1", 1000);
	assert_int_equal(body_evict(fx->bc, 2000, 1500, 0), 1100);
	assert_int_equal(body_open(fx->bc, 1, 1), -ENOENT);
	assert_body(fx->bc, 1, 2, big, 1000);
	assert_int_equal(body_view_open(fx->bc, 1, 1, "text") >= 0, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_open_creates_dirs),
		T(test_open_missing_dir),
		T(test_create_commit_open),
		T(test_commit_keeps_first),
		T(test_commit_then_keep_reading_tmp),
		T(test_close_without_commit),
		T(test_leftover_tmp_removed),
		T(test_durable_commit),
		T(test_durable_syncs),
		T(test_remove),
		T(test_views),
		T(test_evict),
		T(test_crash_safety),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
