/* test_options.c - the command line of SPEC §1 (fs/options.h). */
#include "tests/unit/testutil.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include "fs/options.h"

/* An existing directory to mount on (fuse_parse_cmdline resolves it). */
static char mnt_dir[64];
static char mnt_real[PATH_MAX];

static int group_setup(void **state)
{
	(void)state;
	snprintf(mnt_dir, sizeof(mnt_dir), "/tmp/mailfs-test-options.XXXXXX");
	if (!mkdtemp(mnt_dir) || !realpath(mnt_dir, mnt_real))
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	rmdir(mnt_dir);
	return 0;
}

/* --- URLs ------------------------------------------------------------------ */

struct url_case {
	const char *url;
	int ok;
	enum mfs_proto proto;
	int tls;
	const char *user;
	const char *host;
	unsigned port;
};

#define GOOD(u, p, t, us, h, po) { u, 1, p, t, us, h, po }
#define BAD(u) { u, 0, 0, 0, NULL, NULL, 0 }

static const struct url_case url_cases[] = {
	GOOD("imaps://alice@imap.example.org", PROTO_IMAP, 1, "alice", "imap.example.org", 993),
	GOOD("imap://alice@imap.example.org", PROTO_IMAP, 0, "alice", "imap.example.org", 143),
	GOOD("pop3s://bob@pop.example.org", PROTO_POP3, 1, "bob", "pop.example.org", 995),
	GOOD("pop3://bob@pop.example.org", PROTO_POP3, 0, "bob", "pop.example.org", 110),
	GOOD("imaps://alice@imap.example.org:10993", PROTO_IMAP, 1, "alice", "imap.example.org", 10993),
	GOOD("imap://alice@127.0.0.1:1143", PROTO_IMAP, 0, "alice", "127.0.0.1", 1143),
	GOOD("pop3://bob@localhost:1", PROTO_POP3, 0, "bob", "localhost", 1),
	GOOD("pop3s://bob@localhost:65535", PROTO_POP3, 1, "bob", "localhost", 65535),
	GOOD("imaps://alice%40example.org@imap.example.org", PROTO_IMAP, 1,
	     "alice@example.org", "imap.example.org", 993),
	GOOD("imaps://a%2Bb%2bc%20d@h", PROTO_IMAP, 1, "a+b+c d", "h", 993),
	GOOD("imaps://j%C3%BCrgen@h", PROTO_IMAP, 1, "j\xc3\xbcrgen", "h", 993),
	/* A raw '@' in the user: the host is after the last one. */
	GOOD("imaps://alice@example.org@imap.example.org", PROTO_IMAP, 1,
	     "alice@example.org", "imap.example.org", 993),
	GOOD("imaps://alice@[::1]:9993", PROTO_IMAP, 1, "alice", "::1", 9993),
	GOOD("imap://alice@[::1]", PROTO_IMAP, 0, "alice", "::1", 143),
	GOOD("pop3s://bob@[2001:db8::25]:10995", PROTO_POP3, 1, "bob", "2001:db8::25", 10995),
	GOOD("IMAPS://alice@Imap.Example.ORG", PROTO_IMAP, 1, "alice", "Imap.Example.ORG", 993),
	GOOD("Pop3://bob@h", PROTO_POP3, 0, "bob", "h", 110),
	GOOD("POP3S://bob@h:2", PROTO_POP3, 1, "bob", "h", 2),
	GOOD("imaps://alice@mail-1.example_test.org", PROTO_IMAP, 1, "alice",
	     "mail-1.example_test.org", 993),
	/* A trailing slash is no path. */
	GOOD("imaps://alice@imap.example.org/", PROTO_IMAP, 1, "alice", "imap.example.org", 993),
	GOOD("imaps://alice@imap.example.org:994/", PROTO_IMAP, 1, "alice", "imap.example.org", 994),

	/* Scheme. */
	BAD(""),
	BAD("alice@imap.example.org"),
	BAD("imap.example.org"),
	BAD("imaps:/alice@h"),
	BAD("imaps:alice@h"),
	BAD("//alice@h"),
	BAD("http://alice@h"),
	BAD("smtp://alice@h"),
	BAD("imapx://alice@h"),
	BAD("pop://alice@h"),
	BAD(" imaps://alice@h"),
	/* User. */
	BAD("imaps://imap.example.org"),
	BAD("imaps://@imap.example.org"),
	BAD("imaps://imap.example.org:993"),
	/* A password does not belong in the URL, not even encoded. */
	BAD("imaps://alice:secret@imap.example.org"),
	BAD("imaps://alice:@imap.example.org"),
	BAD("imaps://alice%3Asecret@imap.example.org"),
	/* Percent escapes. */
	BAD("imaps://al%4@h"),
	BAD("imaps://alice%4@h"),
	BAD("imaps://alice%@h"),
	BAD("imaps://al%zzice@h"),
	BAD("imaps://al%g1ice@h"),
	BAD("imaps://al%00ice@h"),
	BAD("imaps://%00@h"),
	/* Host. */
	BAD("imaps://alice@"),
	BAD("imaps://alice@:993"),
	BAD("imaps://alice@/"),
	BAD("imaps://alice@[]"),
	BAD("imaps://alice@[]:993"),
	BAD("imaps://alice@[::1"),
	BAD("imaps://alice@[::1]x"),
	BAD("imaps://alice@[::1]:"),
	BAD("imaps://alice@::1"),
	BAD("imaps://alice@ho st"),
	BAD("imaps://alice@h$st"),
	/* Port. */
	BAD("imaps://alice@h:0"),
	BAD("imaps://alice@h:65536"),
	BAD("imaps://alice@h:99999999999999999999999"),
	BAD("imaps://alice@h:abc"),
	BAD("imaps://alice@h:"),
	BAD("imaps://alice@h:993x"),
	BAD("imaps://alice@h:12:34"),
	BAD("imaps://alice@h:-1"),
	BAD("imaps://alice@h:+993"),
	BAD("imaps://alice@h: 993"),
	BAD("imaps://alice@[::1]:0"),
	BAD("imaps://alice@[::1]:65536"),
	/* Path, query, fragment. */
	BAD("imaps://alice@imap.example.org/INBOX"),
	BAD("imaps://alice@imap.example.org:993/INBOX"),
	BAD("imaps://alice@imap.example.org//"),
	BAD("imaps://alice@imap.example.org?x=1"),
	BAD("imaps://alice@imap.example.org#frag"),
	BAD("imaps://alice@[::1]/INBOX"),
};

static void test_parse_url(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(url_cases); i++) {
		const struct url_case *c = &url_cases[i];
		struct mfs_options o = { 0 };
		char err[256] = "";
		int r = options_parse_url(c->url, &o, err, sizeof(err));

		if (!c->ok) {
			if (r != -EINVAL)
				fail_msg("\"%s\": %d (user \"%s\", host \"%s\", port %u), want -EINVAL",
				         c->url, r, o.user ? o.user : "", o.host ? o.host : "", o.port);
			if (!err[0])
				fail_msg("\"%s\": no reason given", c->url);
			options_free(&o);
			continue;
		}
		if (r != 0)
			fail_msg("\"%s\": %d %s", c->url, r, err);
		assert_int_equal(o.proto, c->proto);
		assert_int_equal(o.implicit_tls, c->tls);
		assert_non_null(o.user);
		assert_string_equal(o.user, c->user);
		assert_non_null(o.host);
		assert_string_equal(o.host, c->host);
		assert_int_equal(o.port, c->port);
		options_free(&o);
	}
}

/* Parsing into options that already hold a URL replaces it without a leak. */
static void test_parse_url_twice(void **state)
{
	struct mfs_options o = { 0 };
	char err[256] = "";

	(void)state;
	assert_int_equal(options_parse_url("imaps://alice@one.example.org:1", &o, err,
	                                   sizeof(err)), 0);
	assert_int_equal(options_parse_url("pop3://bob@two.example.org", &o, err,
	                                   sizeof(err)), 0);
	assert_int_equal(o.proto, PROTO_POP3);
	assert_int_equal(o.implicit_tls, 0);
	assert_string_equal(o.user, "bob");
	assert_string_equal(o.host, "two.example.org");
	assert_int_equal(o.port, 110);
	assert_int_equal(options_parse_url("imaps://carol@three:1", &o, err, sizeof(err)), 0);
	assert_int_equal(options_parse_url("imaps://carol@three:0", &o, err, sizeof(err)), -EINVAL);
	options_free(&o);
}

/* --- sizes ----------------------------------------------------------------- */

struct size_case {
	const char *text;
	int ok;
	uint64_t bytes;
};

static const struct size_case size_cases[] = {
	{ "500", 1, 500 },
	{ "0", 1, 0 },
	{ "1K", 1, UINT64_C(1) << 10 },
	{ "1k", 1, UINT64_C(1) << 10 },
	{ "512M", 1, UINT64_C(512) << 20 },
	{ "512m", 1, UINT64_C(512) << 20 },
	{ "2G", 1, UINT64_C(2) << 30 },
	{ "1T", 1, UINT64_C(1) << 40 },
	{ "2GB", 1, UINT64_C(2) << 30 },
	{ "2gb", 1, UINT64_C(2) << 30 },
	{ "100KB", 1, UINT64_C(100) << 10 },
	{ "18446744073709551615", 1, UINT64_MAX },
	{ "16777215T", 1, UINT64_C(16777215) << 40 },
	{ "17179869183G", 1, UINT64_C(17179869183) << 30 },

	{ "", 0, 0 },
	{ "G", 0, 0 },
	{ "GB", 0, 0 },
	{ "-1", 0, 0 },
	{ "+1", 0, 0 },
	{ " 1G", 0, 0 },
	{ "1 G", 0, 0 },
	{ "1G ", 0, 0 },
	{ "1X", 0, 0 },
	{ "1GBB", 0, 0 },
	{ "1GiB", 0, 0 },
	{ "1.5G", 0, 0 },
	{ "0x10", 0, 0 },
	{ "18446744073709551616", 0, 0 },
	{ "99999999999999999999999", 0, 0 },
	{ "16777216T", 0, 0 },
	{ "17179869184G", 0, 0 },
	{ "18014398509481984K", 0, 0 },
};

static void test_parse_size(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(size_cases); i++) {
		const struct size_case *c = &size_cases[i];
		uint64_t bytes = 12345;
		int r = options_parse_size(c->text, &bytes);

		if (c->ok) {
			if (r != 0)
				fail_msg("\"%s\": %d", c->text, r);
			if (bytes != c->bytes)
				fail_msg("\"%s\": %" PRIu64 ", want %" PRIu64, c->text, bytes, c->bytes);
		} else {
			if (r != -EINVAL)
				fail_msg("\"%s\": %d (%" PRIu64 "), want -EINVAL", c->text, r, bytes);
			if (bytes != 12345)
				fail_msg("\"%s\": result written on failure", c->text);
		}
	}
	assert_int_equal(options_parse_size(NULL, &(uint64_t){ 0 }), -EINVAL);
}

/* --- durations and counts --------------------------------------------------- */

struct num_case {
	const char *text;
	int ok;
	int value;
};

static const struct num_case duration_cases[] = {
	{ "90", 1, 90 },
	{ "0", 1, 0 },
	{ "007", 1, 7 },
	{ "45s", 1, 45 },
	{ "5m", 1, 300 },
	{ "1h", 1, 3600 },
	{ "24h", 1, 86400 },
	{ "0h", 1, 0 },
	{ "2147483647", 1, INT_MAX },
	{ "2147483647s", 1, INT_MAX },
	{ "35791394m", 1, 35791394 * 60 },
	{ "596523h", 1, 596523 * 3600 },

	{ "", 0, 0 },
	{ "s", 0, 0 },
	{ "m", 0, 0 },
	{ "5x", 0, 0 },
	{ "-1", 0, 0 },
	{ "+1", 0, 0 },
	{ "-1m", 0, 0 },
	{ " 5", 0, 0 },
	{ "5 ", 0, 0 },
	{ "5 m", 0, 0 },
	{ "1.5m", 0, 0 },
	{ "1,5m", 0, 0 },
	{ "5M", 0, 0 },                 /* months, or mega-? refused */
	{ "5S", 0, 0 },
	{ "1H", 0, 0 },
	{ "5mm", 0, 0 },
	{ "5ms", 0, 0 },
	{ "1h30m", 0, 0 },
	{ "5d", 0, 0 },
	{ "0x10", 0, 0 },
	{ "1e3", 0, 0 },
	{ "2147483648", 0, 0 },
	{ "35791395m", 0, 0 },
	{ "596524h", 0, 0 },
	{ "99999999999999999999", 0, 0 },
	{ "99999999999999999999h", 0, 0 },
	{ "\xef\xbc\x95", 0, 0 },       /* a full-width 5 */
	{ "5\n", 0, 0 },
};

static const struct num_case count_cases[] = {
	{ "1", 1, 1 },
	{ "0", 1, 0 },
	{ "16", 1, 16 },
	{ "2147483647", 1, INT_MAX },

	{ "", 0, 0 },
	{ "-1", 0, 0 },
	{ "+1", 0, 0 },
	{ "4x", 0, 0 },
	{ "4s", 0, 0 },
	{ "1.5", 0, 0 },
	{ " 4", 0, 0 },
	{ "0x4", 0, 0 },
	{ "2147483648", 0, 0 },
	{ "99999999999999999999", 0, 0 },
};

static void check_numbers(const struct num_case *cases, size_t n,
                          int (*parse)(const char *, int *), const char *what)
{
	for (size_t i = 0; i < n; i++) {
		const struct num_case *c = &cases[i];
		int v = 12345, r = parse(c->text, &v);

		if (c->ok && (r != 0 || v != c->value))
			fail_msg("%s \"%s\": %d, %d; want %d", what, c->text, r, v, c->value);
		if (!c->ok && (r != -EINVAL || v != 12345))
			fail_msg("%s \"%s\": %d, %d; want -EINVAL, untouched", what, c->text, r, v);
	}
	assert_int_equal(parse(NULL, &(int){ 0 }), -EINVAL);
}

static void test_parse_duration(void **state)
{
	(void)state;
	check_numbers(duration_cases, ARRAY_SIZE(duration_cases), options_parse_duration,
	              "duration");
}

static void test_parse_count(void **state)
{
	(void)state;
	check_numbers(count_cases, ARRAY_SIZE(count_cases), options_parse_count, "count");
}

/* options_set_value: the one reader of numbers for the command line and the
 * account file; ranges; a reason that names the option; KEEP. */
static void test_set_value(void **state)
{
	static const struct {
		const char *key, *text;
		int r;
		int poll, timeout;
		uint64_t cache_size;
		const char *says;
	} cases[] = {
		{ "poll", "5m", 0, 300, OPTIONS_UNSET, 0, NULL },
		{ "poll", "1", 0, 1, OPTIONS_UNSET, 0, NULL },
		{ "poll", "24h", 0, 86400, OPTIONS_UNSET, 0, NULL },
		{ "poll", "86400s", 0, 86400, OPTIONS_UNSET, 0, NULL },
		{ "timeout", "2m", 0, OPTIONS_UNSET, 120, 0, NULL },
		{ "timeout", "1h", 0, OPTIONS_UNSET, 3600, 0, NULL },
		{ "cache_size", "2G", 0, OPTIONS_UNSET, OPTIONS_UNSET, UINT64_C(2) << 30, NULL },
		{ "cache_size", "0", 0, OPTIONS_UNSET, OPTIONS_UNSET, 0, NULL },
		{ "poll", "0", -EINVAL, 0, 0, 0, "poll=0 is out of range: from 1s to 24h" },
		{ "poll", "0s", -EINVAL, 0, 0, 0, "out of range" },
		{ "poll", "86401", -EINVAL, 0, 0, 0, "out of range" },
		{ "poll", "25h", -EINVAL, 0, 0, 0, "out of range" },
		{ "timeout", "3601", -EINVAL, 0, 0, 0, "timeout=3601 is out of range: from 1s to 1h" },
		{ "timeout", "2h", -EINVAL, 0, 0, 0, "out of range" },
		{ "poll", "5x", -EINVAL, 0, 0, 0, "bad poll \"5x\": give seconds, or a number with "
		                                  "s, m or h (90, 45s, 5m, 1h)" },
		{ "poll", "", -EINVAL, 0, 0, 0, "bad poll \"\"" },
		{ "poll", "-1", -EINVAL, 0, 0, 0, "bad poll \"-1\"" },
		{ "poll", "1.5m", -EINVAL, 0, 0, 0, "bad poll \"1.5m\"" },
		{ "timeout", "99999999999999999999", -EINVAL, 0, 0, 0, "bad timeout" },
		{ "cache_size", "1.5G", -EINVAL, 0, 0, 0, "bad cache_size \"1.5G\": give bytes, or a "
		                                          "number with K, M, G or T (500M, 2G)" },
		{ "cache_size", "", -EINVAL, 0, 0, 0, "bad cache_size" },
		{ "cache_size", "-1", -EINVAL, 0, 0, 0, "bad cache_size" },
		{ "max_threads", "0", -EINVAL, 0, 0, 0, "max_threads=0 is out of range: from 1 to 100000" },
		{ "max_threads", "100001", -EINVAL, 0, 0, 0, "out of range" },
		{ "max_connections", "0", -EINVAL, 0, 0, 0,
		  "max_connections=0 is out of range: from 1 to 64" },
		{ "max_connections", "65", -EINVAL, 0, 0, 0, "out of range" },
		{ "max_connections", "4x", -EINVAL, 0, 0, 0, "bad max_connections" },
		{ "max_threads", "4x", -EINVAL, 0, 0, 0, "bad max_threads \"4x\": give a number" },
		{ "max_threads", "1m", -EINVAL, 0, 0, 0, "bad max_threads" },
		{ "max_idle_threads", "-1", -EINVAL, 0, 0, 0, "bad max_idle_threads" },
		{ "pol", "5", -ENOENT, 0, 0, 0, NULL },
		{ "trash", "5", -ENOENT, 0, 0, 0, NULL },
		{ "", "5", -ENOENT, 0, 0, 0, NULL },
	};
	struct mfs_options o;
	char err[256];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int r;

		options_init(&o);
		err[0] = '\0';
		r = options_set_value(&o, cases[i].key, cases[i].text, 0, err, sizeof(err));
		if (r != cases[i].r)
			fail_msg("case %zu: %s=%s: %d (%s), want %d", i, cases[i].key, cases[i].text, r,
			         err, cases[i].r);
		if (r == 0) {
			assert_int_equal(o.poll, cases[i].poll);
			assert_int_equal(o.timeout, cases[i].timeout);
			if (cases[i].cache_size || strcmp(cases[i].key, "cache_size") == 0) {
				assert_string_equal(o.cache_size_text, cases[i].text);
				assert_int_equal(o.cache_size, cases[i].cache_size);
			}
		} else if (r == -EINVAL) {
			if (!strstr(err, cases[i].says))
				fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err, cases[i].says);
			/* Nothing changed. */
			assert_int_equal(o.poll, OPTIONS_UNSET);
			assert_int_equal(o.timeout, OPTIONS_UNSET);
			assert_int_equal(o.max_threads, OPTIONS_UNSET);
			assert_int_equal(o.max_idle_threads, OPTIONS_UNSET);
			assert_null(o.cache_size_text);
		}
		options_free(&o);
	}

	/* KEEP: a value given before stays, and the new text is checked
	 * all the same. */
	options_init(&o);
	assert_int_equal(options_set_value(&o, "poll", "7", 0, err, sizeof(err)), 0);
	assert_int_equal(options_set_value(&o, "poll", "5m", 1, err, sizeof(err)), 0);
	assert_int_equal(o.poll, 7);
	assert_int_equal(options_set_value(&o, "poll", "5x", 1, err, sizeof(err)), -EINVAL);
	assert_int_equal(options_set_value(&o, "poll", "5m", 0, err, sizeof(err)), 0);
	assert_int_equal(o.poll, 300);
	assert_int_equal(options_set_value(&o, "cache_size", "1G", 0, err, sizeof(err)), 0);
	assert_int_equal(options_set_value(&o, "cache_size", "2G", 1, err, sizeof(err)), 0);
	assert_int_equal(o.cache_size, UINT64_C(1) << 30);
	assert_string_equal(o.cache_size_text, "1G");
	assert_int_equal(options_set_value(&o, "cache_size", "2X", 1, err, sizeof(err)), -EINVAL);
	options_free(&o);
}

/* --- the command line ------------------------------------------------------- */

#define MNT "@MNT@"   /* replaced by the mount directory */
#define URL "imaps://alice%40example.org@imap.example.org"

struct cmdline {
	struct fuse_args args;
	char **argv;            /* ours, until fuse_opt_parse replaces it */
	int argc;
	struct mfs_options o;
	char err[256];
	int r;
};

/* Parse ARGV (NULL-terminated, without argv[0]). */
static void parse(struct cmdline *c, const char *const *argv)
{
	char **v;
	int n = 0;

	while (argv[n])
		n++;
	v = calloc((size_t)n + 2, sizeof(*v));
	assert_non_null(v);
	v[0] = strdup("mailfs");
	assert_non_null(v[0]);
	for (int i = 0; i < n; i++) {
		v[i + 1] = strdup(strcmp(argv[i], MNT) == 0 ? mnt_dir : argv[i]);
		assert_non_null(v[i + 1]);
	}
	memset(c, 0, sizeof(*c));
	c->argv = v;
	c->argc = n + 1;
	c->args = (struct fuse_args)FUSE_ARGS_INIT(n + 1, v);
	c->r = options_parse(&c->args, &c->o, c->err, sizeof(c->err));
	if (c->r == 0 && !c->o.show_help && !c->o.show_version)
		c->r = options_finish(&c->o, c->err, sizeof(c->err));
}

static void cmdline_release(struct cmdline *c)
{
	options_free(&c->o);
	/* Once fuse_opt_parse has run to the end, ARGS is its own copy (ours
	 * was not allocated); when it failed, ARGS may still be ours. */
	if (c->args.argv != c->argv)
		fuse_opt_free_args(&c->args);
	for (int i = 0; i < c->argc; i++)
		free(c->argv[i]);
	free(c->argv);
}

/* What is left for FUSE: "-o" lists split into options, each entry
 * followed by '|' ("|allow_other|ro|" for -o allow_other,ro), and the other
 * arguments after argv[0] in OTHER the same way. */
static void leftover(const struct fuse_args *args, char *opts, size_t optslen,
                     char *other, size_t otherlen)
{
	snprintf(opts, optslen, "|");
	snprintf(other, otherlen, "|");
	for (int i = 1; i < args->argc; i++) {
		const char *a = args->argv[i], *list = NULL;

		if (strcmp(a, "-o") == 0) {
			assert_true(i + 1 < args->argc);
			list = args->argv[++i];
		} else if (strncmp(a, "-o", 2) == 0) {
			list = a + 2;
		}
		if (list) {
			for (const char *p = list; ; ) {
				size_t len = strcspn(p, ",");

				snprintf(opts + strlen(opts), optslen - strlen(opts), "%.*s|",
				         (int)len, p);
				if (!p[len])
					break;
				p += len + 1;
			}
		} else {
			snprintf(other + strlen(other), otherlen - strlen(other), "%s|", a);
		}
	}
}

/* Remove option OPT from a list made by leftover(). */
static void drop_opt(char *opts, const char *opt)
{
	char pat[128], *p;

	snprintf(pat, sizeof(pat), "|%s|", opt);
	while ((p = strstr(opts, pat)))
		memmove(p, p + strlen(pat) - 1, strlen(p + strlen(pat) - 1) + 1);
}

static void test_cmdline_basic(void **state)
{
	static const char *const argv[] = { URL, MNT, NULL };
	struct cmdline c;
	char opts[512], other[512];

	(void)state;
	parse(&c, argv);
	if (c.r != 0)
		fail_msg("%d %s", c.r, c.err);
	assert_string_equal(c.o.url, URL);
	assert_int_equal(c.o.proto, PROTO_IMAP);
	assert_int_equal(c.o.implicit_tls, 1);
	assert_string_equal(c.o.user, "alice@example.org");
	assert_string_equal(c.o.host, "imap.example.org");
	assert_int_equal(c.o.port, 993);
	assert_non_null(c.o.mountpoint);
	assert_string_equal(c.o.mountpoint, mnt_real);
	/* Defaults of SPEC §1. */
	assert_int_equal(c.o.poll, 60);
	assert_int_equal(c.o.timeout, 30);
	assert_int_equal(c.o.cache_size, UINT64_C(1) << 30);
	assert_null(c.o.password_command);
	assert_null(c.o.password_file);
	assert_null(c.o.oauth2_token_command);
	assert_null(c.o.cache_dir);
	assert_null(c.o.trash);
	assert_int_equal(c.o.prefetch, 0);
	assert_int_equal(c.o.pop3_delete, 0);
	assert_int_equal(c.o.tls_insecure_plaintext, 0);
	assert_int_equal(c.o.foreground, 0);
	assert_int_equal(c.o.debug, 0);
	assert_int_equal(c.o.show_help, 0);
	assert_int_equal(c.o.show_version, 0);
	/* Nothing left for FUSE but argv[0]. */
	leftover(&c.args, opts, sizeof(opts), other, sizeof(other));
	drop_opt(opts, "subtype=mailfs");
	assert_string_equal(opts, "|");
	assert_string_equal(other, "|");
	assert_string_equal(c.args.argv[0], "mailfs");
	cmdline_release(&c);
}

static void test_cmdline_mixed_options(void **state)
{
	static const char *const argv[] = {
		"-o", "allow_other,password_command=echo x,poll=5",
		URL, MNT,
		"-o", "ro",
		"-o", "_netdev,noauto,user,cache_size=512M,timeout=10,cafile=/etc/ssl/ca.pem",
		"-oprefetch,trash=Gel\xc3\xb6scht,cache_dir=/var/cache/m,default_permissions",
		"-o", "tls_insecure_plaintext,nofail,defaults,auto,nouser,users",
		NULL,
	};
	struct cmdline c;
	char opts[512], other[512];

	(void)state;
	parse(&c, argv);
	/* tls_insecure_plaintext is refused towards imap.example.org... */
	assert_int_equal(c.r, -EINVAL);
	assert_non_null(strstr(c.err, "tls_insecure_plaintext"));
	cmdline_release(&c);
	/* ...and taken towards loopback, with everything else as it was. */
	{
		const char *loop[ARRAY_SIZE(argv)];

		for (size_t i = 0; i < ARRAY_SIZE(argv); i++)
			loop[i] = argv[i] && strcmp(argv[i], URL) == 0 ?
			          "imaps://alice%40example.org@127.0.0.1" : argv[i];
		parse(&c, loop);
	}
	if (c.r != 0)
		fail_msg("%d %s", c.r, c.err);
	assert_string_equal(c.o.password_command, "echo x");
	assert_int_equal(c.o.poll, 5);
	assert_int_equal(c.o.timeout, 10);
	assert_string_equal(c.o.cache_size_text, "512M");
	assert_int_equal(c.o.cache_size, UINT64_C(512) << 20);
	assert_string_equal(c.o.cafile, "/etc/ssl/ca.pem");
	assert_int_equal(c.o.prefetch, 1);
	assert_string_equal(c.o.trash, "Gel\xc3\xb6scht");
	assert_string_equal(c.o.cache_dir, "/var/cache/m");
	assert_int_equal(c.o.tls_insecure_plaintext, 1);
	assert_string_equal(c.o.user, "alice@example.org");
	assert_string_equal(c.o.mountpoint, mnt_real);

	leftover(&c.args, opts, sizeof(opts), other, sizeof(other));
	/* FUSE's own options, in order, and nothing of ours or of mount(8)'s
	 * (fuse_parse_cmdline may add a subtype of its own). */
	drop_opt(opts, "subtype=mailfs");
	assert_string_equal(opts, "|allow_other|ro|default_permissions|");
	assert_string_equal(other, "|");
	cmdline_release(&c);
}

static void test_cmdline_foreground_debug(void **state)
{
	static const char *const f[] = { "-f", URL, MNT, NULL };
	static const char *const d[] = { URL, "-d", MNT, NULL };
	static const char *const fd[] = { URL, MNT, "-f", "-o", "debug", NULL };
	struct cmdline c;

	(void)state;
	parse(&c, f);
	assert_int_equal(c.r, 0);
	assert_int_equal(c.o.foreground, 1);
	assert_int_equal(c.o.debug, 0);
	assert_string_equal(c.o.mountpoint, mnt_real);
	cmdline_release(&c);

	parse(&c, d);
	assert_int_equal(c.r, 0);
	assert_int_equal(c.o.foreground, 1);
	assert_int_equal(c.o.debug, 1);
	assert_string_equal(c.o.url, URL);
	cmdline_release(&c);

	parse(&c, fd);
	assert_int_equal(c.r, 0);
	assert_int_equal(c.o.foreground, 1);
	assert_int_equal(c.o.debug, 1);
	cmdline_release(&c);
}

static void test_cmdline_help_version(void **state)
{
	const char *const *const help[] = {
		(const char *const[]){ "--help", NULL },
		(const char *const[]){ "-h", NULL },
		(const char *const[]){ URL, MNT, "-h", NULL },
		(const char *const[]){ "-o", "allow_other", "--help", URL, NULL },
	};
	const char *const *const version[] = {
		(const char *const[]){ "--version", NULL },
		(const char *const[]){ "-V", NULL },
		(const char *const[]){ "-V", URL, MNT, NULL },
	};
	struct cmdline c;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(help); i++) {
		parse(&c, help[i]);
		if (c.r != 0)
			fail_msg("help case %zu: %d %s", i, c.r, c.err);
		assert_int_equal(c.o.show_help, 1);
		assert_int_equal(c.o.show_version, 0);
		cmdline_release(&c);
	}
	for (size_t i = 0; i < ARRAY_SIZE(version); i++) {
		parse(&c, version[i]);
		if (c.r != 0)
			fail_msg("version case %zu: %d %s", i, c.r, c.err);
		assert_int_equal(c.o.show_version, 1);
		assert_int_equal(c.o.show_help, 0);
		cmdline_release(&c);
	}
	assert_non_null(strstr(options_usage, "URL MOUNTPOINT"));
	assert_non_null(strstr(options_usage, "password_command"));
}

static void test_cmdline_errors(void **state)
{
	const char *const *const cases[] = {
		/* Missing arguments. */
		(const char *const[]){ NULL },
		(const char *const[]){ URL, NULL },
		(const char *const[]){ "-f", URL, NULL },
		(const char *const[]){ "-o", "allow_other", URL, NULL },
		/* Too many, or a mount point that does not exist. */
		(const char *const[]){ URL, MNT, "extra", NULL },
		(const char *const[]){ URL, "/nonexistent/mailfs/mountpoint", NULL },
		/* A bad URL. */
		(const char *const[]){ "imaps://alice:pw@h", MNT, NULL },
		(const char *const[]){ "http://alice@h", MNT, NULL },
		/* Bad values. */
		(const char *const[]){ "-o", "poll=0", URL, MNT, NULL },
		(const char *const[]){ "-o", "poll=-5", URL, MNT, NULL },
		(const char *const[]){ "-o", "poll=86401", URL, MNT, NULL },
		(const char *const[]){ "-o", "poll=abc", URL, MNT, NULL },
		(const char *const[]){ "-o", "timeout=0", URL, MNT, NULL },
		(const char *const[]){ "-o", "timeout=3601", URL, MNT, NULL },
		(const char *const[]){ "-o", "cache_size=1X", URL, MNT, NULL },
		(const char *const[]){ "-o", "cache_size=", URL, MNT, NULL },
		/* More than one way to get the password. */
		(const char *const[]){ "-o", "password_command=echo x,password_file=/p", URL, MNT,
		                       NULL },
		(const char *const[]){ "-o", "password_file=/p", "-o", "oauth2_token_command=t",
		                       URL, MNT, NULL },
		(const char *const[]){ "-o", "oauth2_token_command=t,password_command=p", URL,
		                       MNT, NULL },
		/* Options of the other protocol. */
		(const char *const[]){ "-o", "trash=Trash", "pop3s://bob@pop.example.org", MNT,
		                       NULL },
		(const char *const[]){ "-o", "prefetch", "pop3://bob@pop.example.org", MNT, NULL },
		(const char *const[]){ "-o", "pop3_delete", URL, MNT, NULL },
	};
	struct cmdline c;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		parse(&c, cases[i]);
		if (c.r != -EINVAL)
			fail_msg("case %zu: %d, want -EINVAL", i, c.r);
		if (!c.err[0])
			fail_msg("case %zu: no reason given", i);
		cmdline_release(&c);
	}
}

static void test_cmdline_protocol_options(void **state)
{
	static const char *const pop[] = {
		"-o", "pop3_delete,password_file=/home/bob/.pw", "pop3s://bob@pop.example.org:1995",
		MNT, NULL,
	};
	static const char *const imap[] = {
		"-o", "trash=Trash,prefetch,oauth2_token_command=oauth2 get", "imap://alice@h",
		MNT, NULL,
	};
	struct cmdline c;

	(void)state;
	parse(&c, pop);
	if (c.r != 0)
		fail_msg("%d %s", c.r, c.err);
	assert_int_equal(c.o.proto, PROTO_POP3);
	assert_int_equal(c.o.implicit_tls, 1);
	assert_int_equal(c.o.port, 1995);
	assert_int_equal(c.o.pop3_delete, 1);
	assert_string_equal(c.o.password_file, "/home/bob/.pw");
	cmdline_release(&c);

	parse(&c, imap);
	if (c.r != 0)
		fail_msg("%d %s", c.r, c.err);
	assert_int_equal(c.o.proto, PROTO_IMAP);
	assert_int_equal(c.o.implicit_tls, 0);
	assert_string_equal(c.o.trash, "Trash");
	assert_int_equal(c.o.prefetch, 1);
	assert_string_equal(c.o.oauth2_token_command, "oauth2 get");
	cmdline_release(&c);
}

/* Numbers on the command line: read as in the account file (fuse_opt's
 * "%d" took "5m" for 5 and "5x" for 5); a refusal names the option. */
static void test_cmdline_values(void **state)
{
	static const struct {
		const char *opts;
		int poll, timeout;
		uint64_t cache_size;
		const char *says;           /* NULL: accepted */
	} cases[] = {
		{ "poll=5m", 300, 30, UINT64_C(1) << 30, NULL },
		{ "poll=90s,timeout=2m", 90, 120, UINT64_C(1) << 30, NULL },
		{ "poll=1h,timeout=1h", 3600, 3600, UINT64_C(1) << 30, NULL },
		{ "poll=24h", 86400, 30, UINT64_C(1) << 30, NULL },
		{ "poll=45", 45, 30, UINT64_C(1) << 30, NULL },
		{ "cache_size=512M", 60, 30, UINT64_C(512) << 20, NULL },
		{ "cache_size=0", 60, 30, 0, NULL },
		{ "poll=5,timeout=9,poll=10m", 600, 9, UINT64_C(1) << 30, NULL },  /* the last */
		{ "poll=5x", 0, 0, 0, "bad poll \"5x\"" },
		{ "poll=-1", 0, 0, 0, "bad poll \"-1\"" },
		{ "poll=", 0, 0, 0, "bad poll \"\"" },
		{ "poll=1.5m", 0, 0, 0, "bad poll \"1.5m\"" },
		{ "poll=5M", 0, 0, 0, "bad poll \"5M\"" },
		{ "poll=99999999999999999999", 0, 0, 0, "bad poll" },
		{ "poll=0", 0, 0, 0, "poll=0 is out of range" },
		{ "poll=86401", 0, 0, 0, "poll=86401 is out of range" },
		{ "timeout=5x", 0, 0, 0, "bad timeout \"5x\"" },
		{ "timeout=2h", 0, 0, 0, "timeout=2h is out of range" },
		{ "timeout=0", 0, 0, 0, "timeout=0 is out of range" },
		{ "cache_size=1.5G", 0, 0, 0, "bad cache_size \"1.5G\"" },
		{ "cache_size=", 0, 0, 0, "bad cache_size" },
		{ "cache_size=-1", 0, 0, 0, "bad cache_size" },
		{ "cache_size=99999999999999999999", 0, 0, 0, "bad cache_size" },
		{ "poll=5m,cache_size=5x", 0, 0, 0, "bad cache_size" },
	};
	struct cmdline c;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *const argv[] = { "-o", cases[i].opts, URL, MNT, NULL };

		parse(&c, argv);
		if (!cases[i].says) {
			if (c.r != 0)
				fail_msg("%s: %d %s", cases[i].opts, c.r, c.err);
			if (c.o.poll != cases[i].poll || c.o.timeout != cases[i].timeout ||
			    c.o.cache_size != cases[i].cache_size)
				fail_msg("%s: poll %d, timeout %d, cache_size %" PRIu64 "; want %d, %d, %"
				         PRIu64, cases[i].opts, c.o.poll, c.o.timeout, c.o.cache_size,
				         cases[i].poll, cases[i].timeout, cases[i].cache_size);
		} else {
			if (c.r != -EINVAL)
				fail_msg("%s: %d (poll %d, timeout %d), want -EINVAL", cases[i].opts, c.r,
				         c.o.poll, c.o.timeout);
			if (!strstr(c.err, cases[i].says))
				fail_msg("%s: \"%s\" does not say \"%s\"", cases[i].opts, c.err,
				         cases[i].says);
		}
		cmdline_release(&c);
	}
}

/* An option that neither mailfs nor FUSE takes is refused by
 * options_parse, by its name, before the account file, the password and the
 * connection (it used to be left for fuse_session_new(), after the login). */
static void test_cmdline_unknown(void **state)
{
	static const struct { const char *arg; const char *name; } cases[] = {
		{ "password_comand=echo hunter2", "password_comand" },
		{ "pasword_file=/home/me/hunter2", "pasword_file" },
		{ "pol=5", "pol" },
		{ "Poll=5", "Poll" },
		{ "poll", "poll" },                 /* a value option without its value */
		{ "cache_size", "cache_size" },
		{ "trash", "trash" },
		{ "prefetchh", "prefetchh" },
		{ "no_prefetch", "no_prefetch" },
		{ "nopoll=5", "nopoll" },
		{ "notrash", "notrash" },
		{ "cahe_dir=/tmp/c", "cahe_dir" },
		{ "allow_others", "allow_others" },
		/* Not in libfuse 3.14, which would refuse them after the login. */
		{ "nonempty", "nonempty" },
		{ "relatime", "relatime" },
		{ "large_read", "large_read" },
		{ "kernel_cache", "kernel_cache" },
		{ "x-systemd.automount", "x-systemd.automount" },
		{ "uid=0", "uid" },
		{ "show_viewz", "show_viewz" },
		/* Words on the command line, not in a -o list. */
		{ "@-x", "-x" },
		{ "@--poll=5", "--poll" },
		{ "@--bogus", "--bogus" },
		{ "@-S", "-S" },
	};
	struct cmdline c;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *arg = cases[i].arg;
		const char *const in_o[] = { "-o", arg, URL, MNT, NULL };
		const char *const word[] = { URL, arg + 1, MNT, NULL };
		char want[128];

		parse(&c, arg[0] == '@' ? word : in_o);
		snprintf(want, sizeof(want), "unknown option %s (see mailfs --help)", cases[i].name);
		if (c.r != -EINVAL || strcmp(c.err, want) != 0)
			fail_msg("%s: %d \"%s\", want -EINVAL \"%s\"", arg, c.r, c.err, want);
		/* Never the value: it may be a password. */
		if (strstr(c.err, "hunter2"))
			fail_msg("%s: the reason shows the value: %s", arg, c.err);
		cmdline_release(&c);
	}
	/* Among good options, anywhere in the line. */
	{
		const char *const argv[] = { "-o", "allow_other,poll=5", URL, "-f", MNT, "-o",
		                             "ro,password_command=x,timeot=10,trash=T", NULL };

		parse(&c, argv);
		assert_int_equal(c.r, -EINVAL);
		assert_string_equal(c.err, "unknown option timeot (see mailfs --help)");
		cmdline_release(&c);
	}
	/* A last "-o" with nothing after it: one line of ours. */
	{
		const char *const argv[] = { URL, MNT, "-o", NULL };

		parse(&c, argv);
		assert_int_equal(c.r, -EINVAL);
		assert_non_null(strstr(c.err, "-o needs a list of options"));
		cmdline_release(&c);
	}
}

/* libfuse's chatter ("FUSE library version" for -d): not the test's. */
static void fuse_quiet(enum fuse_log_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
}

/* What FUSE takes (mount(8) passes it, SPEC §1) is left for FUSE, and
 * libfuse itself takes what is left: fuse_session_new() succeeds on it. */
static void test_cmdline_fuse_options(void **state)
{
	static const char *const opts[] = {
		"rw", "ro", "dev", "nodev", "suid", "nosuid", "exec", "noexec", "async", "sync",
		"dirsync", "atime", "noatime", "allow_other", "allow_root", "default_permissions",
		"auto_unmount", "blkdev", "fsname=mail", "subtype=mailfs", "max_read=131072",
		"blksize=4096", "context=system_u:object_r:fusefs_t:s0", "fscontext=x",
		"defcontext=x", "rootcontext=x", "user=alice", "debug",
		"@-d", "@--debug", "@-n", "@-r", "@-f",
		/* mount(8)'s own, dropped before FUSE sees them. */
		"_netdev", "noauto", "auto", "user", "nouser", "users", "nofail", "defaults", "",
	};
	static const struct fuse_lowlevel_ops no_ops;
	struct cmdline c;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(opts); i++) {
		const char *opt = opts[i];
		const char *const in_o[] = { "-o", opt, URL, MNT, NULL };
		const char *const word[] = { URL, opt + 1, MNT, NULL };
		struct fuse_session *se;

		parse(&c, opt[0] == '@' ? word : in_o);
		if (c.r != 0)
			fail_msg("%s: %d %s", opt, c.r, c.err);
		fuse_set_log_func(fuse_quiet);
		se = fuse_session_new(&c.args, &no_ops, sizeof(no_ops), NULL);
		fuse_set_log_func(NULL);
		if (!se)
			fail_msg("%s: libfuse refuses what options_parse left for it", opt);
		fuse_session_destroy(se);
		cmdline_release(&c);
	}
	/* FUSE's numbers are numbers ("%u" reads "4096x" as 4096). */
	{
		const char *const bad[] = { "max_read=4096x", "max_read=", "blksize=-1", "blksize=4k" };

		for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
			const char *const argv[] = { "-o", bad[i], URL, MNT, NULL };

			parse(&c, argv);
			if (c.r != -EINVAL || !strstr(c.err, "bad "))
				fail_msg("%s: %d %s", bad[i], c.r, c.err);
			cmdline_release(&c);
		}
	}
}

/* Flags are turned off by their no-form, which is ours, not FUSE's. */
static void test_cmdline_flags_off(void **state)
{
	static const struct {
		const char *opts, *url;
		int prefetch, pop3_delete, insecure;
	} cases[] = {
		{ "noprefetch", URL, 0, 0, 0 },
		{ "prefetch,noprefetch", URL, 0, 0, 0 },
		{ "noprefetch,prefetch", URL, 1, 0, 0 },
		/* Off is no option of the other protocol. */
		{ "noprefetch", "pop3s://bob@pop.example.org", 0, 0, 0 },
		{ "nopop3_delete", URL, 0, 0, 0 },
		{ "pop3_delete,nopop3_delete", "pop3s://bob@pop.example.org", 0, 0, 0 },
		{ "nopop3_delete,pop3_delete", "pop3s://bob@pop.example.org", 0, 1, 0 },
		/* Off is fine towards any host. */
		{ "notls_insecure_plaintext", "imap://alice@imap.example.org", 0, 0, 0 },
		{ "tls_insecure_plaintext,notls_insecure_plaintext", "imap://alice@192.0.2.1", 0, 0, 0 },
	};
	struct cmdline c;
	char opts[512], other[512];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *const argv[] = { "-o", cases[i].opts, cases[i].url, MNT, NULL };

		parse(&c, argv);
		if (c.r != 0)
			fail_msg("%s: %d %s", cases[i].opts, c.r, c.err);
		if (c.o.prefetch != cases[i].prefetch || c.o.pop3_delete != cases[i].pop3_delete ||
		    c.o.tls_insecure_plaintext != cases[i].insecure)
			fail_msg("%s: prefetch %d pop3_delete %d insecure %d", cases[i].opts,
			         c.o.prefetch, c.o.pop3_delete, c.o.tls_insecure_plaintext);
		leftover(&c.args, opts, sizeof(opts), other, sizeof(other));
		drop_opt(opts, "subtype=mailfs");
		if (strcmp(opts, "|") != 0)
			fail_msg("%s: left for FUSE: %s", cases[i].opts, opts);
		cmdline_release(&c);
	}
}

/* -s, max_threads, max_idle_threads, clone_fd: read for serve() (they used
 * to go to fuse_parse_cmdline(), and serve() ignored them). */
static void test_cmdline_loop_options(void **state)
{
	static const struct {
		const char *a, *b;
		int single, clone, max, idle;
		const char *says;
	} cases[] = {
		{ NULL, NULL, 0, 0, 16, -1, NULL },
		{ "-s", NULL, 1, 0, 16, -1, NULL },
		{ "-o", "clone_fd", 0, 1, 16, -1, NULL },
		{ "-o", "max_threads=4", 0, 0, 4, -1, NULL },
		{ "-o", "max_threads=1,max_idle_threads=0", 0, 0, 1, 0, NULL },
		{ "-o", "max_threads=100000,clone_fd", 0, 1, 100000, -1, NULL },
		{ "-o", "max_threads=0", 0, 0, 0, 0, "max_threads=0 is out of range" },
		{ "-o", "max_threads=4x", 0, 0, 0, 0, "bad max_threads \"4x\"" },
		{ "-o", "max_threads=-1", 0, 0, 0, 0, "bad max_threads \"-1\"" },
		{ "-o", "max_threads=", 0, 0, 0, 0, "bad max_threads" },
		{ "-o", "max_threads=100001", 0, 0, 0, 0, "out of range" },
		{ "-o", "max_idle_threads=99999999999999999999", 0, 0, 0, 0, "bad max_idle_threads" },
		{ "-s", "-oclone_fd", 0, 0, 0, 0, "-s serves requests on one thread" },
		{ "-s", "-omax_threads=2", 0, 0, 0, 0, "-s serves requests on one thread" },
		{ "-s", "-omax_idle_threads=2", 0, 0, 0, 0, "-s serves requests on one thread" },
	};
	struct cmdline c;
	char opts[512], other[512];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *argv[6] = { URL, MNT, NULL };

		argv[2] = cases[i].a;
		argv[3] = cases[i].a ? cases[i].b : NULL;
		parse(&c, argv);
		if (cases[i].says) {
			if (c.r != -EINVAL || !strstr(c.err, cases[i].says))
				fail_msg("case %zu: %d \"%s\", want \"%s\"", i, c.r, c.err, cases[i].says);
			cmdline_release(&c);
			continue;
		}
		if (c.r != 0)
			fail_msg("case %zu: %d %s", i, c.r, c.err);
		assert_int_equal(c.o.singlethread, cases[i].single);
		assert_int_equal(c.o.clone_fd, cases[i].clone);
		assert_int_equal(c.o.max_threads, cases[i].max);
		assert_int_equal(c.o.max_idle_threads, cases[i].idle);
		/* Nothing of them left for libfuse. */
		leftover(&c.args, opts, sizeof(opts), other, sizeof(other));
		drop_opt(opts, "subtype=mailfs");
		assert_string_equal(opts, "|");
		assert_string_equal(other, "|");
		cmdline_release(&c);
	}
}

/* --- tls_insecure_plaintext: loopback only (SPEC §5) ----------------------- */

static void test_loopback(void **state)
{
	static const struct { const char *host; int loopback; } cases[] = {
		{ "127.0.0.1", 1 },
		{ "127.255.255.254", 1 },
		{ "127.1", 1 },                 /* getaddrinfo reads it as 127.0.0.1 */
		{ "::1", 1 },
		{ "0:0:0:0:0:0:0:1", 1 },
		{ "::ffff:127.0.0.1", 1 },
		{ "localhost", 1 },             /* (every sane /etc/hosts) */
		{ "LocalHost", 1 },
		{ "192.0.2.1", 0 },             /* TEST-NET-1, RFC 5737 */
		{ "10.0.0.1", 0 },
		{ "128.0.0.1", 0 },
		{ "126.255.255.255", 0 },
		{ "0.0.0.0", 0 },
		{ "::", 0 },
		{ "::2", 0 },
		{ "::ffff:192.0.2.1", 0 },
		{ "fe80::1", 0 },
		{ "2001:db8::1", 0 },
		{ "example.org", 0 },           /* names other than localhost: never */
		{ "localhost.example.org", 0 },
		{ "127.0.0.1.nip.io", 0 },
		{ "localhos", 0 },
		{ "", 0 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		if (options_host_is_loopback(cases[i].host) != cases[i].loopback)
			fail_msg("case %zu: %s: want %d", i, cases[i].host, cases[i].loopback);
}

static void test_cmdline_insecure(void **state)
{
	static const struct { const char *url; int ok; } cases[] = {
		{ "imap://alice@127.0.0.1:1143", 1 },
		{ "imap://alice@[::1]:1143", 1 },
		{ "pop3://bob@localhost:1110", 1 },
		{ "imap://alice@192.0.2.1", 0 },
		{ "pop3://bob@[2001:db8::1]:110", 0 },
		{ "imap://alice@imap.example.org", 0 },
		{ "imaps://alice@imap.example.org", 0 },   /* no effect there: still an error */
	};
	struct cmdline c;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *const argv[] = { "-o", "tls_insecure_plaintext", cases[i].url, MNT, NULL };
		const char *const plain[] = { cases[i].url, MNT, NULL };

		parse(&c, argv);
		if (cases[i].ok ? c.r != 0 : c.r != -EINVAL)
			fail_msg("case %zu: %s: %d (%s)", i, cases[i].url, c.r, c.err);
		if (!cases[i].ok && (!strstr(c.err, "tls_insecure_plaintext") ||
		                     !strstr(c.err, c.o.host)))
			fail_msg("case %zu: the reason does not name the option and the host: %s",
			         i, c.err);
		cmdline_release(&c);
		/* Without the option every one of these URLs is fine. */
		parse(&c, plain);
		if (c.r != 0)
			fail_msg("case %zu without the option: %d (%s)", i, c.r, c.err);
		cmdline_release(&c);
	}
}

/* --- the default cache directory ------------------------------------------- */

static char *save_env(const char *name)
{
	const char *v = getenv(name);

	return v ? strdup(v) : NULL;
}

static void restore_env(const char *name, char *value)
{
	if (value)
		setenv(name, value, 1);
	else
		unsetenv(name);
	free(value);
}

static void assert_cache_dir(const struct mfs_options *o, const char *want)
{
	char *dir = options_default_cache_dir(o);

	assert_non_null(dir);
	assert_string_equal(dir, want);
	free(dir);
}

static void test_default_cache_dir(void **state)
{
	char *xdg = save_env("XDG_CACHE_HOME"), *home = save_env("HOME");
	struct mfs_options o = { 0 };
	char err[256], want[PATH_MAX + 64];
	struct passwd *pw;

	(void)state;
	assert_int_equal(options_parse_url("imaps://alice%40example.org@imap.example.org:993",
	                                   &o, err, sizeof(err)), 0);

	setenv("XDG_CACHE_HOME", "/xdg/cache", 1);
	setenv("HOME", "/home/tester", 1);
	assert_cache_dir(&o, "/xdg/cache/mailfs/alice@example.org@imap.example.org");

	unsetenv("XDG_CACHE_HOME");
	assert_cache_dir(&o, "/home/tester/.cache/mailfs/alice@example.org@imap.example.org");

	/* Empty or relative XDG_CACHE_HOME is to be ignored (XDG base directory
	 * specification). */
	setenv("XDG_CACHE_HOME", "", 1);
	assert_cache_dir(&o, "/home/tester/.cache/mailfs/alice@example.org@imap.example.org");
	setenv("XDG_CACHE_HOME", "relative/cache", 1);
	assert_cache_dir(&o, "/home/tester/.cache/mailfs/alice@example.org@imap.example.org");

	/* Without HOME, the password database. */
	unsetenv("XDG_CACHE_HOME");
	unsetenv("HOME");
	pw = getpwuid(getuid());
	if (pw) {
		snprintf(want, sizeof(want), "%s/.cache/mailfs/alice@example.org@imap.example.org",
		         pw->pw_dir);
		assert_cache_dir(&o, want);
	}

	/* IPv6 host and POP3. */
	options_free(&o);
	assert_int_equal(options_parse_url("pop3s://bob@[::1]:10995", &o, err, sizeof(err)), 0);
	setenv("XDG_CACHE_HOME", "/c", 1);
	assert_cache_dir(&o, "/c/mailfs/bob@::1");

	options_free(&o);
	restore_env("XDG_CACHE_HOME", xdg);
	restore_env("HOME", home);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_url),
		cmocka_unit_test(test_parse_url_twice),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_parse_count),
		cmocka_unit_test(test_set_value),
		cmocka_unit_test(test_cmdline_basic),
		cmocka_unit_test(test_cmdline_mixed_options),
		cmocka_unit_test(test_cmdline_foreground_debug),
		cmocka_unit_test(test_cmdline_help_version),
		cmocka_unit_test(test_cmdline_errors),
		cmocka_unit_test(test_cmdline_protocol_options),
		cmocka_unit_test(test_cmdline_values),
		cmocka_unit_test(test_cmdline_unknown),
		cmocka_unit_test(test_cmdline_fuse_options),
		cmocka_unit_test(test_cmdline_flags_off),
		cmocka_unit_test(test_cmdline_loop_options),
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_cmdline_insecure),
		cmocka_unit_test(test_default_cache_dir),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
