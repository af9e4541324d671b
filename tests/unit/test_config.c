/* test_config.c - the account file (fs/config.c) and how it meets the
 * command line (fs/options.c). */
#include "tests/unit/testutil.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include "fs/config.h"
#include "fs/options.h"

static char dir[64];
static char path[128];

static void write_config(const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

/* Options as options_parse() leaves them when the command line said
 * nothing. */
static void unset(struct mfs_options *o)
{
	options_init(o);
}

static const char two_accounts[] =
	"# mailfs accounts\n"
	"\n"
	"[work]\n"
	"url = imaps://alice%40example.org@imap.example.org\n"
	"password_command = pass show mail/work\n"
	"cache_size = 2G\n"
	"poll = 30\n"
	"max_connections = 2\n"
	"prefetch\n"
	"trash = Trash\n"
	"\n"
	"[home]\n"
	"url = pop3s://bob@pop.example.net\n"
	"pop3_delete = yes\n"
	"mountpoint = ~/mail/home\n";

static void test_accounts(void **state)
{
	struct mfs_options o;
	char err[256];

	(void)state;
	write_config(two_accounts, 0644);
	unset(&o);
	assert_int_equal(config_load(path, "work", &o, err, sizeof(err)), 0);
	assert_string_equal(o.url, "imaps://alice%40example.org@imap.example.org");
	assert_string_equal(o.password_command, "pass show mail/work");
	assert_string_equal(o.cache_size_text, "2G");
	assert_string_equal(o.trash, "Trash");
	assert_int_equal(o.poll, 30);
	assert_int_equal(o.max_connections, 2);
	assert_int_equal(o.timeout, OPTIONS_UNSET);
	assert_int_equal(o.prefetch, 1);
	assert_int_equal(o.pop3_delete, OPTIONS_UNSET);
	options_free(&o);

	unset(&o);
	assert_int_equal(config_load(path, "home", &o, err, sizeof(err)), 0);
	assert_string_equal(o.url, "pop3s://bob@pop.example.net");
	assert_int_equal(o.pop3_delete, 1);
	assert_string_equal(o.mountpoint, "~/mail/home");
	options_free(&o);
}

static void test_command_line_wins(void **state)
{
	struct mfs_options o;
	char err[256];

	(void)state;
	write_config(two_accounts, 0644);
	unset(&o);
	o.poll = 5;
	o.trash = strdup("Bin");
	assert_int_equal(config_load(path, "work", &o, err, sizeof(err)), 0);
	assert_int_equal(o.poll, 5);
	assert_string_equal(o.trash, "Bin");
	options_free(&o);
}

static void test_errors(void **state)
{
	static const struct { const char *text; mode_t mode; const char *account; int err; } cases[] = {
		{ "[a]\nurl = imaps://x@y\n", 0600, "b", -ENOENT },          /* no such account */
		{ "[a]\nurl = imaps://x@y\nbogus = 1\n", 0600, "a", -ENOENT }, /* unknown key */
		{ "[a]\nurl = imaps://x@y\npoll = often\n", 0600, "a", -EINVAL },
		{ "[a]\nurl = imaps://x@y\nprefetch = maybe\n", 0600, "a", -EINVAL },
		{ "[a\nurl = imaps://x@y\n", 0600, "a", -EINVAL },          /* bad section line */
		{ "[a]\npoll = 5\n", 0600, "a", -EINVAL },                  /* no url */
		{ "[a]\nurl =\n", 0600, "a", -EINVAL },                     /* empty value */
		/* A password in a file others can read. */
		{ "[a]\nurl = imaps://x@y\npassword = hunter2\n", 0644, "a", -EACCES },
		{ "[a]\nurl = imaps://x@y\npassword = hunter2\n", 0640, "a", -EACCES },
	};
	struct mfs_options o;
	char err[256];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		write_config(cases[i].text, cases[i].mode);
		unset(&o);
		err[0] = '\0';
		int r = config_load(path, cases[i].account, &o, err, sizeof(err));
		if (r != cases[i].err)
			fail_msg("case %zu: %d, want %d (%s)", i, r, cases[i].err, err);
		assert_true(err[0] != '\0');
		options_free(&o);
	}
	/* Two password sources in one account. */
	write_config("[a]\nurl = imaps://x@y\npassword = p\npassword_command = c\n", 0600);
	unset(&o);
	assert_int_equal(config_load(path, "a", &o, err, sizeof(err)), -EINVAL);
	options_free(&o);
	/* A password source on the command line wins over every one of the file. */
	write_config("[a]\nurl = imaps://x@y\npassword = p\n", 0644);
	unset(&o);
	o.password_command = strdup("cli");
	assert_int_equal(config_load(path, "a", &o, err, sizeof(err)), 0);
	assert_null(o.password);
	assert_string_equal(o.password_command, "cli");
	options_free(&o);
	/* The same password is fine in a private file. */
	write_config("[a]\nurl = imaps://x@y\npassword = hunter2 # not a comment\n", 0600);
	unset(&o);
	assert_int_equal(config_load(path, "a", &o, err, sizeof(err)), 0);
	assert_string_equal(o.password, "hunter2 # not a comment");
	options_free(&o);
	/* No file at all. */
	unlink(path);
	unset(&o);
	assert_int_equal(config_load(path, "a", &o, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "not a URL"));
	options_free(&o);
}

/* Numbers in the file are read as on the command line (options_set_value):
 * "poll = 5m" is five minutes there too. */
static void test_values(void **state)
{
	static const struct {
		const char *lines;
		int poll, timeout;
		uint64_t cache_size;
	} good[] = {
		{ "poll = 5m\n", 300, OPTIONS_UNSET, 0 },
		{ "poll = 90s\ntimeout = 2m\n", 90, 120, 0 },
		{ "poll = 1h\ntimeout = 1h\n", 3600, 3600, 0 },
		{ "poll = 45\n", 45, OPTIONS_UNSET, 0 },
		{ "cache_size = 512M\n", OPTIONS_UNSET, OPTIONS_UNSET, UINT64_C(512) << 20 },
		{ "cache_size = 2G\n", OPTIONS_UNSET, OPTIONS_UNSET, UINT64_C(2) << 30 },
		{ "poll = 5m\npoll = 7\n", 300, OPTIONS_UNSET, 0 },      /* the first counts */
	};
	/* What it does not understand: one line with the file, the line, the
	 * key and what a value looks like. */
	static const struct { const char *line; const char *says; } bad[] = {
		{ "poll = 5x", ":3: bad poll \"5x\": give seconds, or a number with s, m or h" },
		{ "poll = -1", ":3: bad poll \"-1\"" },
		{ "poll =", ":3: bad poll \"\"" },
		{ "poll", ":3: bad poll \"\"" },
		{ "poll = 1.5m", ":3: bad poll \"1.5m\"" },
		{ "poll = 5 m", ":3: bad poll \"5 m\"" },
		{ "poll = 99999999999999999999", ":3: bad poll" },
		{ "poll = 0", ":3: poll=0 is out of range: from 1s to 24h" },
		{ "poll = 86401", ":3: poll=86401 is out of range" },
		{ "timeout = 3601", ":3: timeout=3601 is out of range: from 1s to 1h" },
		{ "timeout = often", ":3: bad timeout \"often\"" },
		{ "cache_size = 1.5G", ":3: bad cache_size \"1.5G\": give bytes, or a number with K, "
		                       "M, G or T" },
		{ "cache_size = -1", ":3: bad cache_size \"-1\"" },
		{ "cache_size = 99999999999999999999", ":3: bad cache_size" },
		{ "cache_size =", ":3: bad cache_size \"\"" },
		/* The command line's own: not keys of the file. */
		{ "max_threads = 4", ":3: unknown option \"max_threads\"" },
		{ "allow_other", ":3: unknown option \"allow_other\"" },
	};
	struct mfs_options o;
	char text[512], err[512];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		snprintf(text, sizeof(text), "[a]\nurl = imaps://x@y\n%s", good[i].lines);
		write_config(text, 0600);
		unset(&o);
		if (config_load(path, "a", &o, err, sizeof(err)) != 0)
			fail_msg("%s: %s", good[i].lines, err);
		if (o.poll != good[i].poll || o.timeout != good[i].timeout)
			fail_msg("%s: poll %d timeout %d", good[i].lines, o.poll, o.timeout);
		if (good[i].cache_size && o.cache_size != good[i].cache_size)
			fail_msg("%s: cache_size %" PRIu64, good[i].lines, o.cache_size);
		options_free(&o);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int r;

		snprintf(text, sizeof(text), "[a]\nurl = imaps://x@y\n%s\n", bad[i].line);
		write_config(text, 0600);
		unset(&o);
		err[0] = '\0';
		r = config_load(path, "a", &o, err, sizeof(err));
		if (r >= 0 || strncmp(err, path, strlen(path)) != 0 || !strstr(err, bad[i].says))
			fail_msg("\"%s\": %d \"%s\", want \"%s\"", bad[i].line, r, err, bad[i].says);
		if (strchr(err, '\n'))
			fail_msg("\"%s\": more than one line: %s", bad[i].line, err);
		options_free(&o);
	}
	/* The command line's value wins, and the file's is still read. */
	write_config("[a]\nurl = imaps://x@y\npoll = 5m\ncache_size = 2G\n", 0600);
	unset(&o);
	o.poll = 9;
	o.cache_size_text = strdup("3G");
	o.cache_size = UINT64_C(3) << 30;
	assert_int_equal(config_load(path, "a", &o, err, sizeof(err)), 0);
	assert_int_equal(o.poll, 9);
	assert_int_equal(o.cache_size, UINT64_C(3) << 30);
	options_free(&o);
	write_config("[a]\nurl = imaps://x@y\npoll = 5x\n", 0600);
	unset(&o);
	o.poll = 9;
	assert_int_equal(config_load(path, "a", &o, err, sizeof(err)), -EINVAL);
	options_free(&o);
}

/* Flags: on, off, or not said; the command line's no-forms. */
static void test_flags(void **state)
{
	static const struct { const char *lines; int prefetch; int r; } cases[] = {
		{ "prefetch\n", 1, 0 },
		{ "prefetch = yes\n", 1, 0 },
		{ "prefetch = true\n", 1, 0 },
		{ "prefetch = 1\n", 1, 0 },
		{ "prefetch = no\n", 0, 0 },
		{ "prefetch = false\n", 0, 0 },
		{ "prefetch = 0\n", 0, 0 },
		{ "noprefetch\n", 0, 0 },
		{ "", OPTIONS_UNSET, 0 },
		{ "prefetch\nnoprefetch\n", 1, 0 },     /* the first counts */
		{ "noprefetch\nprefetch\n", 0, 0 },
		{ "prefetch = maybe\n", 0, -EINVAL },
		{ "noprefetch = yes\n", 0, -EINVAL },
		{ "noprefetch = no\n", 0, -EINVAL },
		{ "no_prefetch\n", 0, -ENOENT },
		{ "notrash\n", 0, -ENOENT },
		{ "no\n", 0, -ENOENT },
	};
	struct mfs_options o;
	char text[512], err[512];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int r;

		snprintf(text, sizeof(text), "[a]\nurl = imaps://x@y\n%s", cases[i].lines);
		write_config(text, 0600);
		unset(&o);
		r = config_load(path, "a", &o, err, sizeof(err));
		if (r != cases[i].r || (r == 0 && o.prefetch != cases[i].prefetch))
			fail_msg("case %zu: %d (%s), prefetch %d", i, r, err, o.prefetch);
		options_free(&o);
	}
	/* What the command line said, on or off, stays. */
	write_config("[a]\nurl = imaps://x@y\nprefetch\npop3_delete = no\n"
	             "tls_insecure_plaintext\n", 0600);
	unset(&o);
	o.prefetch = 0;
	o.pop3_delete = 1;
	assert_int_equal(config_load(path, "a", &o, err, sizeof(err)), 0);
	assert_int_equal(o.prefetch, 0);
	assert_int_equal(o.pop3_delete, 1);
	assert_int_equal(o.tls_insecure_plaintext, 1);
	options_free(&o);
}

/* SPEC §5: the account file is refused when someone else owns it or may
 * change it, whatever it holds; the line names the file and the fix. */
static void test_file_trust(void **state)
{
	static const struct { mode_t mode; int err; const char *says; } cases[] = {
		{ 0600, 0, NULL },
		{ 0644, 0, NULL },              /* no password in it: others may read */
		{ 0400, 0, NULL },
		{ 0620, -EACCES, "can be changed by others (mode 620); run: chmod go-w " },
		{ 0602, -EACCES, "can be changed by others (mode 602); run: chmod go-w " },
		{ 0666, -EACCES, "can be changed by others (mode 666); run: chmod go-w " },
		{ 0660, -EACCES, "can be changed by others (mode 660); run: chmod go-w " },
	};
	static const char text[] = "[a]\nurl = imaps://x@y\npassword_command = echo hunter2\n";
	struct mfs_options o;
	char err[512];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		write_config(text, cases[i].mode);
		unset(&o);
		err[0] = '\0';
		int r = config_load(path, "a", &o, err, sizeof(err));
		if (r != cases[i].err)
			fail_msg("case %zu: %d, want %d (%s)", i, r, cases[i].err, err);
		if (cases[i].says) {
			assert_non_null(strstr(err, "account file"));
			assert_non_null(strstr(err, path));
			if (!strstr(err, cases[i].says))
				fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err, cases[i].says);
			assert_null(o.password_command);   /* nothing was taken from it */
		} else {
			assert_string_equal(o.password_command, "echo hunter2");
		}
		options_free(&o);
	}

	/* Someone else's file, private or not: refused (root can hand it to
	 * another user; others cannot make one). */
	if (geteuid() != 0) {
		print_message("    SKIP: not root: the other-owner case is not run\n");
		return;
	}
	write_config(text, 0600);
	assert_int_equal(chown(path, 65534, 65534), 0);
	unset(&o);
	assert_int_equal(config_load(path, "a", &o, err, sizeof(err)), -EACCES);
	if (!strstr(err, "account file") || !strstr(err, path) || !strstr(err, "belongs to") ||
	    !strstr(err, "chown root "))
		fail_msg("other owner: \"%s\"", err);
	assert_null(o.password_command);
	options_free(&o);
	assert_int_equal(chown(path, 0, 0), 0);
}

/* Through options_parse: an account name instead of a URL. */
static void test_options_parse(void **state)
{
	char *argv[] = { (char *)"mailfs", (char *)"work", (char *)"-o", (char *)"poll=7",
	                 dir, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(5, argv);
	struct mfs_options o = { 0 };
	char err[256], cfg[128];

	(void)state;
	snprintf(cfg, sizeof(cfg), "%s/mailfs", dir);
	mkdir(cfg, 0700);
	snprintf(path, sizeof(path), "%s/mailfs/config", dir);
	write_config(two_accounts, 0644);
	setenv("XDG_CONFIG_HOME", dir, 1);
	/* What main.c does: the command line, the account, the rest. */
	assert_int_equal(options_parse(&args, &o, err, sizeof(err)), 0);
	assert_string_equal(o.account, "work");
	assert_int_equal(config_account(&o, err, sizeof(err)), 0);
	assert_int_equal(options_finish(&o, err, sizeof(err)), 0);
	assert_string_equal(o.host, "imap.example.org");
	assert_string_equal(o.user, "alice@example.org");
	assert_int_equal(o.poll, 7);
	assert_int_equal(o.timeout, 30);
	assert_int_equal(o.prefetch, 1);
	options_free(&o);
	fuse_opt_free_args(&args);

	/* "The command line wins" also when it turns a flag of the file off,
	 * and for a number the file writes another way. */
	{
		static const struct { const char *opts, *account; int prefetch, pop3_delete, poll; }
		cases[] = {
			{ "noprefetch", "work", 0, 0, 30 },
			{ "noprefetch,poll=2m", "work", 0, 0, 120 },
			{ "prefetch", "work", 1, 0, 30 },
			{ "poll=1h", "work", 1, 0, 3600 },
			{ "nopop3_delete", "home", 0, 0, 60 },
			{ "poll=90s", "home", 0, 1, 90 },
		};

		for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
			char *v[] = { (char *)"mailfs", (char *)cases[i].account, (char *)"-o",
			              (char *)cases[i].opts, dir, NULL };
			struct fuse_args a = FUSE_ARGS_INIT(5, v);

			memset(&o, 0, sizeof(o));
			if (options_parse(&a, &o, err, sizeof(err)) != 0 ||
			    config_account(&o, err, sizeof(err)) != 0 ||
			    options_finish(&o, err, sizeof(err)) != 0)
				fail_msg("%s %s: %s", cases[i].account, cases[i].opts, err);
			if (o.prefetch != cases[i].prefetch || o.pop3_delete != cases[i].pop3_delete ||
			    o.poll != cases[i].poll)
				fail_msg("%s %s: prefetch %d, pop3_delete %d, poll %d", cases[i].account,
				         cases[i].opts, o.prefetch, o.pop3_delete, o.poll);
			options_free(&o);
			fuse_opt_free_args(&a);
		}
	}
	/* A misspelt option is refused before the account file is read: here
	 * one that does not exist (config_account is never reached). */
	{
		char *v[] = { (char *)"mailfs", (char *)"nosuchaccount", (char *)"-o",
		              (char *)"noprefetch,prefetsh", dir, NULL };
		struct fuse_args a = FUSE_ARGS_INIT(5, v);

		memset(&o, 0, sizeof(o));
		assert_int_equal(options_parse(&a, &o, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, "unknown option prefetsh (see mailfs --help)");
		options_free(&o);
		fuse_opt_free_args(&a);
	}
	unlink(path);
	rmdir(cfg);
	snprintf(path, sizeof(path), "%s/config", dir);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_config.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/config", dir);
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
		cmocka_unit_test(test_accounts),
		cmocka_unit_test(test_command_line_wins),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_file_trust),
		cmocka_unit_test(test_options_parse),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
