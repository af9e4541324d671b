/* options.h - the command line of SPEC §1.
 *
 * Ownership: strings in struct mfs_options are malloc'd and freed by
 * options_free().
 */
#ifndef MAILFS_OPTIONS_H
#define MAILFS_OPTIONS_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

struct fuse_args;

enum mfs_proto { PROTO_IMAP, PROTO_POP3 };

/* max_connections may go up to this. */
#define MAX_CONNECTIONS 64
#define MAX_CONNECTIONS_TEXT "64"

struct mfs_options {
	/* From the URL. */
	char *url;
	enum mfs_proto proto;
	int implicit_tls;           /* imaps://, pop3s:// */
	char *user;                 /* percent-decoded */
	char *host;                 /* without brackets for IPv6 literals */
	unsigned port;

	char *account;              /* the account name given instead of a URL */
	char *mountpoint;
	char *password;             /* from the account file (never the command line) */
	char *password_command;
	char *password_file;
	char *oauth2_token_command;
	char *cafile;
	int tls_insecure_plaintext; /* flags: 0 or 1 once options_finish() ran */
	char *cache_dir;
	char *cache_size_text;      /* as given; NULL: not given */
	uint64_t cache_size;        /* bytes */
	int prefetch;
	int show_views;             /* list .mailfs at the root (SPEC §9) */
	int poll;                   /* seconds */
	int timeout;                /* seconds */
	int max_connections;        /* IMAP: sessions held at once, IDLE included */
	char *trash;
	int pop3_delete;

	/* How FUSE's requests are served (main.c's serve()). */
	int singlethread;           /* -s: by the main thread, one at a time */
	int clone_fd;               /* -o clone_fd: a /dev/fuse descriptor per thread */
	int max_threads;            /* -o max_threads=N: at most N threads (default 16) */
	int max_idle_threads;       /* -o max_idle_threads=N; -1: no limit (the default) */

	int foreground;
	int debug;
	int show_help;
	int show_version;
	int extra_args;             /* words after the mount point (an error) */
	char *refused;              /* options_parse's reason for refusing an argument */
};

/* Until options_finish(), an int option of struct mfs_options that holds
 * OPTIONS_UNSET was given neither on the command line nor (yet) in the
 * account file: the file, then the default, decide. */
#define OPTIONS_UNSET INT_MIN

/* Parse "scheme://user@host[:port]" into O. Returns 0 or -EINVAL with a
 * reason in err. */
int options_parse_url(const char *url, struct mfs_options *o, char *err, size_t errlen);

/* Whether HOST (as in a URL, IPv6 without brackets) is this machine's
 * loopback: an address in 127.0.0.0/8, ::1 (or ::ffff:127.x.y.z), or the
 * name "localhost" when every address it resolves to is one of those. No
 * other name counts. Where tls_insecure_plaintext is allowed (SPEC §5). */
int options_host_is_loopback(const char *host);

/* Parse a size such as "2G", "512M", "100000" into bytes. -EINVAL if bad. */
int options_parse_size(const char *text, uint64_t *bytes_r);
/* Parse a duration: a number of seconds, alone or followed by s, m or h
 * ("90", "90s", "5m", "1h"). -EINVAL if bad or over INT_MAX seconds; then
 * *seconds_r is left as it was. */
int options_parse_duration(const char *text, int *seconds_r);
/* Parse a count: decimal digits only, at most INT_MAX. -EINVAL if bad. */
int options_parse_count(const char *text, int *count_r);

/* Set option KEY of O from TEXT, as the command line ("-o KEY=TEXT") or
 * the account file ("KEY = TEXT") gives it: poll and timeout (durations),
 * cache_size (a size), max_threads and max_idle_threads (counts; the
 * account file does not offer these). TEXT is checked, and its range, even
 * when KEEP is set and O already has a value for KEY: then that value stays
 * (the command line wins over the account file). Returns 0, -ENOENT when
 * KEY is none of these, or -EINVAL (-ENOMEM) with a one-line reason in err
 * that names KEY and says what a value looks like. */
int options_set_value(struct mfs_options *o, const char *key, const char *text, int keep,
                      char *err, size_t errlen);

/* O with nothing given yet: every int option OPTIONS_UNSET. */
void options_init(struct mfs_options *o);

/* Parse the command line into O (options_init() first) and leave FUSE's
 * own options in ARGS (an initialized FUSE_ARGS_INIT(argc, argv)). An
 * option that neither mailfs nor FUSE takes (libfuse 3.14: its mount,
 * low-level and command-line options), or one of mount(8)'s own, is
 * refused here, by name, before anything else happens. A flag is turned
 * off with its no-form (noprefetch, nopop3_delete,
 * notls_insecure_plaintext). A first word that is not a URL names an
 * account of the account file (config.h): it goes to O->account, and the
 * caller fills what the command line leaves unset from there (config_load)
 * before options_finish(). Returns 0, or -EINVAL with a one-line reason in
 * err. */
int options_parse(struct fuse_args *args, struct mfs_options *o, char *err, size_t errlen);
/* Complete O: defaults for what is still unset, the URL taken apart, the
 * mount point made absolute, and the rules between options checked
 * (tls_insecure_plaintext towards a host that is not loopback,
 * options_host_is_loopback(), is an error). Returns 0, or -EINVAL with a
 * one-line reason in err. */
int options_finish(struct mfs_options *o, char *err, size_t errlen);

void options_free(struct mfs_options *o);

/* The default cache directory: $XDG_CACHE_HOME/mailfs/USER@HOST, or
 * ~/.cache/mailfs/USER@HOST. malloc'd; NULL on ENOMEM. */
char *options_default_cache_dir(const struct mfs_options *o);

extern const char options_usage[];

#endif
