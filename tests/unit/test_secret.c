/* test_secret.c - where the password comes from (fs/secret.c): the
 * password file's checks (SPEC §5) and the password command. */
#include "tests/unit/testutil.h"

#include <errno.h>
#include <sys/stat.h>

#include "fs/secret.h"

static char dir[64];
static char path[128];

static void write_file(const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_password_file(void **state)
{
	static const struct { mode_t mode; int err; const char *says; } cases[] = {
		{ 0600, 0, NULL },
		{ 0400, 0, NULL },
		{ 0640, -EACCES, "can be read by others; run: chmod 600 " },
		{ 0604, -EACCES, "can be read by others; run: chmod 600 " },
		/* writable: its own words, not "read" (the old message) */
		{ 0620, -EACCES, "can be changed by others (mode 620); run: chmod 600 " },
		{ 0602, -EACCES, "can be changed by others (mode 602); run: chmod 600 " },
		{ 0666, -EACCES, "can be changed by others (mode 666); run: chmod 600 " },
	};
	char err[512];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *secret = NULL;
		int r;

		write_file("hunter2\nsecond line\n", cases[i].mode);
		err[0] = '\0';
		r = secret_from_file(path, &secret, err, sizeof(err));
		if (r != cases[i].err)
			fail_msg("case %zu: %d, want %d (%s)", i, r, cases[i].err, err);
		if (cases[i].says) {
			assert_null(secret);
			if (!strstr(err, cases[i].says) || !strstr(err, path) ||
			    strncmp(err, "password file ", 14) != 0)
				fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err, cases[i].says);
		} else {
			assert_string_equal(secret, "hunter2");
			free(secret);
		}
	}

	if (geteuid() != 0) {
		print_message("    SKIP: not root: the other-owner case is not run\n");
		return;
	}
	/* Someone else's, private: root could read it, mailfs must not. */
	{
		char *secret = NULL;

		write_file("hunter2\n", 0600);
		assert_int_equal(chown(path, 65534, 65534), 0);
		assert_int_equal(secret_from_file(path, &secret, err, sizeof(err)), -EACCES);
		assert_null(secret);
		if (!strstr(err, "belongs to") || !strstr(err, path) || !strstr(err, "chown root "))
			fail_msg("other owner: \"%s\"", err);
	}
}

static void test_password_command(void **state)
{
	char err[256], *secret = NULL;

	(void)state;
	assert_int_equal(secret_from_command("printf 'p4ss\\nrest\\n'", &secret, err, sizeof(err)), 0);
	assert_string_equal(secret, "p4ss");
	free(secret);
	secret = NULL;
	assert_int_equal(secret_from_command("exit 3", &secret, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "exit status 3"));
	assert_int_equal(secret_from_command("true", &secret, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "printed nothing"));
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_secret.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/pw", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_password_file),
		cmocka_unit_test(test_password_command),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
