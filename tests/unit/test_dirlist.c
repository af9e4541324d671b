/* test_dirlist.c - a message folder's listing streamed from the store
 * (fs/face/dirlist.c, issue 16): readdir resumes from the offset of the
 * last entry it returned, whatever was added or removed meanwhile.
 *
 * The replies are built with libfuse's own fuse_add_direntry[_plus] (which
 * use no request) and read back as the kernel reads them (linux/fuse.h).
 * The randomized test prints its seed (MAILFS_TEST_SEED to repeat).
 */
#include "tests/unit/testutil.h"

#include <linux/fuse.h>

#include "fs/face/face.h"
#include "cache/store.h"

/* ops.c's, which this binary does not link: the attributes a listing
 * gives a message. */
void face_msg_attr(struct face *fc, int64_t folder, const struct store_msg *msg,
                   struct stat *st)
{
	(void)fc;
	memset(st, 0, sizeof(*st));
	st->st_ino = ino_msg(folder, msg->uid);
	st->st_mode = S_IFREG | 0600;
	st->st_size = (off_t)msg->size;
}

struct fixture {
	char dir[64];
	struct store *st;
	struct engine m;
	struct face fc;
	int64_t folder;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct store_folder f = { .name = "Bulk", .server = "Bulk", .delim = '/' };
	char err[256] = "";

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/mailfs-test-dirlist.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	assert_int_equal(store_open(fx->dir, 0, &fx->st, err, sizeof(err)), 0);
	assert_int_equal(store_folder_add(fx->st, &f, &fx->folder), 0);
	fx->m.store = fx->st;
	fx->fc.m = &fx->m;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	store_close(fx->st);
	rm_tree(fx->dir);
	free(fx);
	return 0;
}

static void msg_name(uint32_t uid, char *buf, size_t len)
{
	snprintf(buf, len, "%010u message %u.eml", uid, uid * 7);
}

static void put(struct fixture *fx, uint32_t uid)
{
	char name[64];
	struct store_msg msg = { .uid = uid, .name = name, .size = uid, .flags = "" };

	msg_name(uid, name, sizeof(name));
	assert_int_equal(store_msg_put(fx->st, fx->folder, &msg, 1), 0);
}

static void drop(struct fixture *fx, uint32_t uid)
{
	assert_int_equal(store_msg_delete(fx->st, fx->folder, &uid, 1), 0);
}

/* One readdir from OFF into a reply of SIZE bytes: the UIDs listed into
 * uids (checked against their names and inode numbers), their count
 * returned, the offset to go on from in *next_r (OFF when none). */
static size_t readdir_once(struct fixture *fx, off_t off, size_t size, int plus,
                           uint32_t *uids, off_t *next_r)
{
	char *buf = malloc(size);
	struct dirbuf b = { .buf = buf, .size = size, .plus = plus };
	size_t n = 0, pos = 0;

	assert_non_null(buf);
	assert_int_equal(dirlist_msgs(&fx->fc, fx->folder, off, &b), 0);
	assert_true(b.used <= size);
	*next_r = off;
	while (pos < b.used) {
		const struct fuse_dirent *de;
		char want[64];
		uint32_t uid;

		if (plus) {
			const struct fuse_direntplus *dp = (const void *)(buf + pos);

			de = &dp->dirent;
			assert_int_equal(dp->entry_out.nodeid, de->ino);
			assert_int_equal(dp->entry_out.attr.ino, de->ino);
			pos += FUSE_DIRENTPLUS_SIZE(dp);
		} else {
			de = (const void *)(buf + pos);
			pos += FUSE_DIRENT_SIZE(de);
		}
		uid = (uint32_t)de->ino;
		assert_int_equal(de->ino, ino_msg(fx->folder, uid));
		msg_name(uid, want, sizeof(want));
		assert_int_equal(de->namelen, strlen(want));
		assert_memory_equal(de->name, want, de->namelen);
		/* The offset says where the store resumes: after this UID. */
		assert_int_equal((off_t)de->off, DIR_OFF_MSGS + (off_t)uid);
		assert_true((off_t)de->off > *next_r);
		*next_r = (off_t)de->off;
		uids[n++] = uid;
	}
	assert_int_equal(pos, b.used);
	/* Only a reply that stopped short says it is full. */
	free(buf);
	return n;
}

static void list_all_unchanged(struct fixture *fx, int plus, size_t size)
{
	uint32_t got[64];
	uint32_t expect = 1;
	off_t off = plus ? 0 : 2;    /* anything below DIR_OFF_MSGS: from the first */
	size_t calls = 0, n;

	while ((n = readdir_once(fx, off, size, plus, got, &off)) > 0) {
		for (size_t i = 0; i < n; i++)
			assert_int_equal(got[i], expect++);
		calls++;
	}
	assert_int_equal(expect, 501);
	assert_true(calls > 10);     /* a bounded reply: many calls */
}

static void test_resume_unchanged(void **state)
{
	struct fixture *fx = *state;

	for (uint32_t uid = 1; uid <= 500; uid++)
		put(fx, uid);
	list_all_unchanged(fx, 0, 512);
	list_all_unchanged(fx, 1, 1024);
}

static void test_small_buffer(void **state)
{
	struct fixture *fx = *state;
	char buf[16];
	struct dirbuf b = { .buf = buf, .size = sizeof(buf) };
	off_t off;
	uint32_t got[4];

	put(fx, 7);
	/* Not even one entry fits: none is given, and the reply is full. */
	assert_int_equal(dirlist_msgs(&fx->fc, fx->folder, 0, &b), 0);
	assert_int_equal(b.used, 0);
	assert_true(b.full);
	/* Past the last: nothing, also for offsets no UID can reach. */
	assert_int_equal(readdir_once(fx, DIR_OFF_MSGS + 7, 4096, 0, got, &off), 0);
	assert_int_equal(readdir_once(fx, DIR_OFF_MSGS + UINT32_MAX, 4096, 0, got, &off), 0);
	assert_int_equal(readdir_once(fx, INT64_MAX, 4096, 1, got, &off), 0);
	assert_int_equal(readdir_once(fx, DIR_OFF_MSGS + 6, 4096, 0, got, &off), 1);
	assert_int_equal(got[0], 7);
}

/* POSIX readdir while the folder changes: messages arrive (below and above
 * the listing's position) and vanish (the one it stands on too) between
 * calls. No entry twice; every message present throughout exactly once;
 * nothing that was gone before the call that would list it. */
#define MAXUID 6000

static void test_resume_while_changing(void **state)
{
	struct fixture *fx = *state;
	uint64_t seed = test_seed("dirlist"), rs = seed;
	static unsigned char present[MAXUID + 1], initial[MAXUID + 1], touched[MAXUID + 1],
	                     seen[MAXUID + 1];
	uint32_t got[64];

	memset(present, 0, sizeof(present));
	memset(initial, 0, sizeof(initial));
	memset(touched, 0, sizeof(touched));
	memset(seen, 0, sizeof(seen));
	for (uint32_t uid = 2; uid <= 4000; uid += 2) {
		put(fx, uid);
		present[uid] = initial[uid] = 1;
	}
	for (int pass = 0; pass < 4; pass++) {
		int plus = pass & 1;
		off_t off = 0;
		size_t n;

		memset(seen, 0, sizeof(seen));
		memset(touched, 0, sizeof(touched));
		for (uint32_t uid = 1; uid <= MAXUID; uid++)
			initial[uid] = present[uid];
		while ((n = readdir_once(fx, off, plus ? 700 : 300, plus, got, &off)) > 0) {
			uint32_t at = (uint32_t)(off - DIR_OFF_MSGS);

			for (size_t i = 0; i < n; i++) {
				assert_true(got[i] <= MAXUID);
				assert_false(seen[got[i]]);          /* at most once */
				assert_true(present[got[i]]);       /* there when listed */
				seen[got[i]] = 1;
			}
			/* Changes before the next call. */
			for (int k = 0; k < 6; k++) {
				uint32_t uid = 1 + (uint32_t)(xorshift64s(&rs) % MAXUID);

				if (present[uid]) {
					drop(fx, uid);
					present[uid] = 0;
				} else {
					put(fx, uid);
					present[uid] = 1;
				}
				touched[uid] = 1;
			}
			/* The entry the listing stands on goes away. */
			if (present[at] && xorshift64s(&rs) % 4 == 0) {
				drop(fx, at);
				present[at] = 0;
				touched[at] = 1;
			}
		}
		for (uint32_t uid = 1; uid <= MAXUID; uid++) {
			if (initial[uid] && !touched[uid] && !seen[uid])
				fail_msg("seed %" PRIu64 ", pass %d: UID %u was there throughout and "
				         "was not listed", seed, pass, uid);
			if (!initial[uid] && !touched[uid] && seen[uid])
				fail_msg("seed %" PRIu64 ": UID %u listed, never there", seed, uid);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_resume_unchanged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_buffer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume_while_changing, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
