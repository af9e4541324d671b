/* main.c - mailfs start-up and shutdown.
 *
 * Order matters (SPEC §1): the account is checked (connect, TLS, login)
 * before anything is mounted and before daemonizing, so that a wrong
 * password or host makes the `mailfs` command itself fail with one line and
 * a non-zero status. Threads start only after daemonizing (fork keeps only
 * the calling thread).
 */
#include "fs/engine/engine.h"
#include "fs/engine/render.h"
#include "fs/engine/fetch.h"
#include "fs/config.h"
#include "fs/log.h"
#include "fs/options.h"
#include "fs/secret.h"
#include "fs/face/face.h"
#include "fs/face/write.h"
#include "cache/body.h"
#include "cache/store.h"
#include "net/conn.h"
#include "net/tls.h"
#include "net/utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define FETCH_THREADS 2

/* The one line of a failed start (SPEC §1), often with a server's reason
 * in it: shown with its controls made visible, as log.c does (SPEC §5). */
static void say_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say_error(const char *fmt, ...)
{
	char text[1024], vis[4 * sizeof(text) + 1];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	utf8_visible(vis, sizeof(vis), text, strlen(text), 0);
	fprintf(stderr, "mailfs: %s\n", vis);
}

/* mkdir -p with mode 0700 for what we create. */
static int make_dirs(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Create and lock the cache directory (mode 0700); *lockfd_r holds the
 * lock. One line in ERR on failure. */
static int setup_cache_dir(struct mfs_options *o, int *lockfd_r, char *err, size_t errlen)
{
	char *abs, *lockpath = NULL;
	struct stat st;
	int r, fd;

	if (!o->cache_dir && !(o->cache_dir = options_default_cache_dir(o))) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = make_dirs(o->cache_dir);
	if (r < 0) {
		snprintf(err, errlen, "cannot create cache directory %s: %s", o->cache_dir,
		         strerror(-r));
		return r;
	}
	abs = realpath(o->cache_dir, NULL);
	if (!abs) {
		snprintf(err, errlen, "cannot use cache directory %s: %s", o->cache_dir,
		         strerror(errno));
		return -errno;
	}
	free(o->cache_dir);
	o->cache_dir = abs;
	/* SPEC §5: the cache holds mail; only its owner may enter it. */
	if (stat(abs, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "cache directory %s is not a directory", abs);
		return -ENOTDIR;
	}
	if ((st.st_mode & 077) && chmod(abs, 0700) < 0) {
		snprintf(err, errlen, "cannot make cache directory %s private: %s", abs,
		         strerror(errno));
		return -errno;
	}
	if (asprintf(&lockpath, "%s/lock", abs) < 0) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(lockpath);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create a lock in %s: %s", abs, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		snprintf(err, errlen, "cache directory %s is in use by another mailfs; "
		         "unmount it first or give another cache_dir", abs);
		return -EBUSY;
	}
	*lockfd_r = fd;
	return 0;
}

/* SPEC §5: the secret must not end up in a core dump, and other processes
 * of the user must not read it through ptrace or /proc/PID/mem: a process
 * that is not dumpable allows neither. Done before anything is read (the
 * account file may hold the password), so there is no moment when mailfs
 * holds it and is dumpable. A password_command gets its own flag back at
 * exec. Also: a closed stdin/stdout/stderr must not become our sockets. */
static int harden(void)
{
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		say_error("cannot keep the password out of core dumps (prctl: %s)",
		          strerror(errno));
		return -1;
	}
	for (int fd = open("/dev/null", O_RDWR); fd >= 0 && fd <= 2; fd = open("/dev/null", O_RDWR))
		;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* The FUSE session, mounted on the mount point (fsname is the URL, as
 * mount(8) shows it; a ',' or '\\' in it would end or escape the option,
 * so they are escaped, fuse_opt syntax). */
static struct fuse_session *session_new(struct face *fc, struct fuse_args *args,
                                        const struct mfs_options *opt, char *err, size_t errlen)
{
	struct fuse_session *se;
	char *fsname = malloc(strlen(opt->url) * 2 + 64), *p;
	int r;

	if (!fsname) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p = fsname + sprintf(fsname, "-ofsname=");
	for (const char *u = opt->url; *u; u++) {
		if (*u == ',' || *u == '\\')
			*p++ = '\\';
		*p++ = *u;
	}
	strcpy(p, ",subtype=mailfs,default_permissions");
	r = fuse_opt_add_arg(args, fsname);
	free(fsname);
	se = r == 0 ? fuse_session_new(args, &fs_ops, sizeof(fs_ops), fc) : NULL;
	if (!se) {
		snprintf(err, errlen, "cannot create the FUSE session (bad FUSE options?)");
		return NULL;
	}
	if (fuse_set_signal_handlers(se) < 0) {
		snprintf(err, errlen, "cannot install signal handlers");
		goto fail;
	}
	if (fuse_session_mount(se, opt->mountpoint) < 0) {
		snprintf(err, errlen, "cannot mount on %s (does it exist, and is it empty and "
		         "not mounted?)", opt->mountpoint);
		fuse_remove_signal_handlers(se);
		goto fail;
	}
	return se;
fail:
	fuse_session_destroy(se);
	return NULL;
}

/* Serve requests until unmounted, as -s, max_threads, max_idle_threads and
 * clone_fd say (README, "Choices where the specification is silent"). A
 * signal (fusermount -u, SIGTERM) ends the loop with its number: a clean
 * stop. Only a negative value is an error. */
static int serve(struct fuse_session *se, const struct mfs_options *opt)
{
	struct fuse_loop_config *lc;
	int r;

	if (opt->singlethread)
		return fuse_session_loop(se) < 0 ? -1 : 0;
	lc = fuse_loop_cfg_create();
	if (!lc)
		return -1;
	fuse_loop_cfg_set_clone_fd(lc, (unsigned)opt->clone_fd);
	fuse_loop_cfg_set_max_threads(lc, (unsigned)opt->max_threads);
	/* Unset: libfuse's default, no limit (setting it to UINT_MAX, its own
	 * "no limit", makes libfuse 3.14 print a warning). */
	if (opt->max_idle_threads >= 0)
		fuse_loop_cfg_set_idle_threads(lc, (unsigned)opt->max_idle_threads);
	r = fuse_session_loop_mt(se, lc);
	fuse_loop_cfg_destroy(lc);
	return r < 0 ? -1 : 0;
}

/* The command line, the account file, the rest of the options: 0, 1 when
 * --help or --version was answered, -1 after one line about an error. */
static int parse_options(struct fuse_args *args, struct mfs_options *opt)
{
	char err[768];

	if (options_parse(args, opt, err, sizeof(err)) < 0 ||
	    (!opt->show_help && !opt->show_version &&
	     (config_account(opt, err, sizeof(err)) < 0 ||
	      options_finish(opt, err, sizeof(err)) < 0))) {
		say_error("%s", err);
		return -1;
	}
	if (opt->show_help) {
		fputs(options_usage, stdout);
		return 1;
	}
	if (opt->show_version) {
		printf("mailfs %s (libfuse %s)\n", MAILFS_VERSION, fuse_pkgversion());
		return 1;
	}
	log_init(opt->debug);
	if (!opt->implicit_tls && opt->tls_insecure_plaintext)
		log_warn("tls_insecure_plaintext: password and mail cross the network "
		         "unencrypted; use this only for tests on loopback");
	return 0;
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct mfs_options opt = { 0 };
	struct engine m = { 0 };
	struct face fc = { .m = &m };
	char err[768] = "", *secret = NULL;
	int lockfd = -1, ret = 1;

	if (harden() < 0)
		return 1;
	switch (parse_options(&args, &opt)) {
	case 0:
		break;
	case 1:
		ret = 0;      /* --help, --version */
		/* fall through */
	default:
		goto out_options;
	}

	if (setup_cache_dir(&opt, &lockfd, err, sizeof(err)) < 0 ||
	    secret_get(&opt, &secret, err, sizeof(err)) < 0) {
		say_error("%s", err);
		goto out_cache;
	}
	fc.uid = getuid();
	fc.gid = getgid();
	notify_attach(&fc);
	/* The engine owns the secret from here. */
	if (engine_init(&m, &opt, opt.proto == PROTO_POP3 ? &driver_pop3 : &driver_imap, secret,
	                err, sizeof(err)) < 0 ||
	    write_init(&fc) < 0 || names_init(&fc) < 0) {
		say_error("%s", err[0] ? err : "out of memory");
		goto out_engine;
	}
	/* Check the account now: a wrong password or host fails here, before
	 * anything is mounted (SPEC §1). */
	if (engine_open(&m, err, sizeof(err)) < 0) {
		say_error("%s", err);
		goto out_engine;
	}
	fc.se = session_new(&fc, &args, &opt, err, sizeof(err));
	if (!fc.se) {
		say_error("%s", err);
		goto out_engine;
	}
	if (!opt.foreground)
		log_to_syslog();
	if (fuse_daemonize(opt.foreground) < 0) {
		log_err("cannot daemonize");
		goto out_session;
	}
	/* Threads only now: fork keeps only the calling thread. GMime and
	 * libxml2 (the views) set themselves up before any thread runs. */
	render_init();
	if (notify_start(&fc) < 0 || engine_start(&m) < 0) {
		log_err("cannot start threads");
		goto out_threads;
	}
	log_info("mounted %s on %s", opt.url, opt.mountpoint);
	ret = serve(fc.se, &opt) < 0;

out_threads:
	engine_stop(&m);
	notify_stop(&fc);
	render_done();
out_session:
	fuse_session_unmount(fc.se);
	fuse_remove_signal_handlers(fc.se);
	fuse_session_destroy(fc.se);
out_engine:
	write_free(&fc);
	names_free(&fc);
	engine_free(&m);
	secret = NULL;
out_cache:
	if (secret) {
		explicit_bzero(secret, strlen(secret));
		free(secret);
	}
	if (lockfd >= 0)
		close(lockfd);
out_options:
	fuse_opt_free_args(&args);
	options_free(&opt);
	return ret;
}
