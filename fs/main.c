/* main.c - mailfs start-up and shutdown.
 *
 * Order matters (SPEC §1): the account is checked (connect, TLS, login)
 * before anything is mounted and before daemonizing, so that a wrong
 * password or host makes the `mailfs` command itself fail with one line and
 * a non-zero status. Threads start only after daemonizing (fork keeps only
 * the calling thread).
 */
#include "fs/engine/engine.h"
#include "fs/engine/fetch.h"
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

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* The one line of a failed start (SPEC §1), often with a server's reason
 * in it: shown with its controls made visible, as log.c does (SPEC §5). */
static void die(const char *fmt, ...)
{
	char text[1024], vis[4 * sizeof(text) + 1];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	utf8_visible(vis, sizeof(vis), text, strlen(text), 0);
	fprintf(stderr, "mailfs: %s\n", vis);
	exit(1);
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

static int setup_cache_dir(struct mfs_options *o, int *lockfd_r)
{
	char *abs, *lockpath = NULL;
	struct stat st;
	int r, fd;

	if (!o->cache_dir && !(o->cache_dir = options_default_cache_dir(o)))
		die("out of memory");
	r = make_dirs(o->cache_dir);
	if (r < 0)
		die("cannot create cache directory %s: %s", o->cache_dir, strerror(-r));
	abs = realpath(o->cache_dir, NULL);
	if (!abs)
		die("cannot use cache directory %s: %s", o->cache_dir, strerror(errno));
	free(o->cache_dir);
	o->cache_dir = abs;
	/* SPEC §5: the cache holds mail; only its owner may enter it. */
	if (stat(abs, &st) < 0 || !S_ISDIR(st.st_mode))
		die("cache directory %s is not a directory", abs);
	if ((st.st_mode & 077) && chmod(abs, 0700) < 0)
		die("cannot make cache directory %s private: %s", abs, strerror(errno));
	if (asprintf(&lockpath, "%s/lock", abs) < 0)
		die("out of memory");
	fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(lockpath);
	if (fd < 0)
		die("cannot create a lock in %s: %s", abs, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		die("cache directory %s is in use by another mailfs; "
		    "unmount it first or give another cache_dir", abs);
	*lockfd_r = fd;
	return 0;
}

void mfs_conn_params(const struct engine *m, struct conn_params *c)
{
	c->host = m->opt->host;
	c->port = m->opt->port;
	c->implicit_tls = m->opt->implicit_tls;
	c->tls = m->tls;
	c->timeout_ms = m->opt->timeout * 1000;
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct mfs_options opt = { 0 };
	struct engine m = { 0 };
	struct face fc = { 0 };
	struct fuse_loop_config *lc = NULL;
	char err[768];
	char *fsname = NULL;
	int lockfd = -1, r, ret = 1;

	/* SPEC §5: the secret must not end up in a core dump, and other
	 * processes of the user must not read it through ptrace or
	 * /proc/PID/mem: a process that is not dumpable allows neither. Done
	 * before anything is read (the account file may hold the password),
	 * so there is no moment when mailfs holds it and is dumpable. A
	 * password_command gets its own flag back at exec. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		die("cannot keep the password out of core dumps (prctl: %s)", strerror(errno));
	/* A closed stdin/stdout/stderr must not become our sockets or files. */
	for (int fd = open("/dev/null", O_RDWR); fd >= 0 && fd <= 2; fd = open("/dev/null", O_RDWR))
		;
	signal(SIGPIPE, SIG_IGN);
	if (options_parse(&args, &opt, err, sizeof(err)) < 0)
		die("%s", err);
	if (opt.show_help || opt.show_version) {
		if (opt.show_help)
			fputs(options_usage, stdout);
		else
			printf("mailfs %s (libfuse %s)\n", MAILFS_VERSION, fuse_pkgversion());
		fuse_opt_free_args(&args);
		options_free(&opt);
		return 0;
	}
	log_init(opt.debug);
	if (!opt.implicit_tls && opt.tls_insecure_plaintext)
		log_warn("tls_insecure_plaintext: password and mail cross the network "
		         "unencrypted; use this only for tests on loopback");

	m.opt = &opt;
	m.ops = opt.proto == PROTO_POP3 ? &backend_pop3 : &backend_imap;
	fc.m = &m;
	fc.uid = getuid();
	fc.gid = getgid();
	notify_attach(&fc);
	m.mount_time = time(NULL);
	pthread_mutex_init(&m.tree_change, NULL);
	pthread_rwlock_init(&m.tree_lock, NULL);
	pthread_mutex_init(&m.status_lock, NULL);

	setup_cache_dir(&opt, &lockfd);
	if (secret_get(&opt, &m.secret, err, sizeof(err)) < 0)
		die("%s", err);
	m.tls = tls_ctx_new(opt.cafile, err, sizeof(err));
	if (!m.tls)
		die("%s", err);
	r = store_open(opt.cache_dir, opt.proto == PROTO_POP3, &m.store, err, sizeof(err));
	if (r < 0)
		die("%s", err);
	r = body_cache_open(opt.cache_dir, &m.bodies);
	if (r < 0)
		die("cannot use cache directory %s: %s", opt.cache_dir, strerror(-r));
	if (write_init(&fc) < 0 || names_init(&fc) < 0)
		die("out of memory");
	r = tree_load(&m);
	if (r < 0)
		die("cannot read the cache in %s: %s", opt.cache_dir, store_error(m.store));

	/* Check the account now: a wrong password or host fails here. */
	r = m.ops->open(&m, err, sizeof(err));
	if (r < 0)
		die("%s", err);
	r = m.ops->list(&m);
	if (r < 0 && !m.offline_start)
		die("cannot list the folders of %s: %s", opt.host,
		    m.last_error[0] ? m.last_error : strerror(-r));

	/* Only the owner may see the mail, even with allow_other. */
	/* fsname is the URL, as mount(8) shows it; a ',' or '\\' in it would
	 * end or escape the option, so they are escaped (fuse_opt syntax). */
	fsname = malloc(strlen(opt.url) * 2 + 64);
	if (!fsname)
		die("out of memory");
	{
		char *p = fsname + sprintf(fsname, "-ofsname=");

		for (const char *u = opt.url; *u; u++) {
			if (*u == ',' || *u == '\\')
				*p++ = '\\';
			*p++ = *u;
		}
		strcpy(p, ",subtype=mailfs,default_permissions");
	}
	fuse_opt_add_arg(&args, fsname);

	fc.se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), &fc);
	if (!fc.se)
		die("cannot create the FUSE session (bad FUSE options?)");
	if (fuse_set_signal_handlers(fc.se) < 0)
		die("cannot install signal handlers");
	if (fuse_session_mount(fc.se, opt.mountpoint) < 0)
		die("cannot mount on %s (does it exist, and is it empty and not mounted?)",
		    opt.mountpoint);
	if (!opt.foreground)
		log_to_syslog();
	if (fuse_daemonize(opt.foreground) < 0)
		die("cannot daemonize");

	m.mounted = 1;
	if (notify_start(&fc) < 0 || fetch_start(&m, FETCH_THREADS) < 0 || sync_start(&m) < 0) {
		log_err("cannot start threads");
		goto unmount;
	}
	m.ops->start(&m);
	if (opt.prefetch && prefetch_start(&m) < 0)
		log_warn("cannot start prefetching");
	log_info("mounted %s on %s", opt.url, opt.mountpoint);

	lc = fuse_loop_cfg_create();
	fuse_loop_cfg_set_clone_fd(lc, 0);
	fuse_loop_cfg_set_max_threads(lc, 16);
	/* A signal (fusermount -u, SIGTERM) ends the loop with its number:
	 * a clean stop. Only a negative value is an error. */
	ret = fuse_session_loop_mt(fc.se, lc) < 0;
	fuse_loop_cfg_destroy(lc);

unmount:
	/* Stop the producers of work first, then what they feed. */
	prefetch_stop(&m);
	m.ops->stop(&m);
	sync_stop(&m);
	fetch_stop(&m);
	notify_stop(&fc);
	fuse_session_unmount(fc.se);
	fuse_remove_signal_handlers(fc.se);
	fuse_session_destroy(fc.se);
	m.ops->close(&m);
	write_free(&fc);
	names_free(&fc);
	store_close(m.store);
	body_cache_close(m.bodies);
	tls_ctx_free(m.tls);
	explicit_bzero(m.secret, strlen(m.secret));
	free(m.secret);
	tree_free(&m);
	free(fsname);
	fuse_opt_free_args(&args);
	options_free(&opt);
	if (lockfd >= 0)
		close(lockfd);
	return ret;
}
