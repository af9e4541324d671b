/* synccount.h - counts the fsync(2) and fdatasync(2) calls of the code under
 * test, for the tests of the `durable` flag: a SIGKILL cannot tell a synced
 * write from one still in the page cache, a count can.
 *
 * The test binary is linked with -Wl,--wrap=fsync -Wl,--wrap=fdatasync
 * (ldflags_<name> in the Makefile), so that every call in the objects linked
 * in goes through the wrappers below: they note the call and make the real
 * one. A shared library's calls cannot be wrapped: test_store links SQLite
 * statically for that. Single-threaded tests only.
 */
#ifndef MAILFS_SYNCCOUNT_H
#define MAILFS_SYNCCOUNT_H

#include <stddef.h>
#include <sys/stat.h>

struct sync_call {
	int data_only;      /* fdatasync rather than fsync */
	int is_dir;         /* on a directory */
	ino_t ino;          /* of the file or directory synced */
	int probe;          /* what sync_probe() said just before the call */
};

#define SYNC_CALLS_KEPT 64
static struct sync_call sync_calls[SYNC_CALLS_KEPT];
static size_t sync_ncalls;          /* all calls, also those not kept */
static int (*sync_probe)(void);     /* asked at each call, when set */

static inline void sync_reset(void)
{
	sync_ncalls = 0;
	sync_probe = NULL;
}

static inline void sync_note(int fd, int data_only)
{
	struct stat st;

	if (sync_ncalls < SYNC_CALLS_KEPT) {
		struct sync_call *c = &sync_calls[sync_ncalls];
		int ok = fstat(fd, &st) == 0;

		c->data_only = data_only;
		c->is_dir = ok && S_ISDIR(st.st_mode);
		c->ino = ok ? st.st_ino : 0;
		c->probe = sync_probe ? sync_probe() : 0;
	}
	sync_ncalls++;
}

int __real_fsync(int fd);
int __real_fdatasync(int fd);
int __wrap_fsync(int fd);
int __wrap_fdatasync(int fd);

int __wrap_fsync(int fd)
{
	sync_note(fd, 0);
	return __real_fsync(fd);
}

int __wrap_fdatasync(int fd)
{
	sync_note(fd, 1);
	return __real_fdatasync(fd);
}

#endif
