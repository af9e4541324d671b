/* options.h - the command line of SPEC §1.
 *
 * Ownership: strings in struct mfs_options are malloc'd and freed by
 * options_free().
 */
#ifndef MAILFS_OPTIONS_H
#define MAILFS_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

struct fuse_args;

enum mfs_proto { PROTO_IMAP, PROTO_POP3 };

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
	int tls_insecure_plaintext;
	char *cache_dir;
	char *cache_size_text;
	uint64_t cache_size;        /* bytes */
	int prefetch;
	int show_views;             /* list .mailfs at the root (SPEC §9) */
	int poll;                   /* seconds */
	int timeout;                /* seconds */
	char *trash;
	int pop3_delete;

	int foreground;
	int debug;
	int show_help;
	int show_version;
	int extra_args;             /* words after the mount point (an error) */
};

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

/* Parse the command line into O and leave FUSE's own options in ARGS (an
 * initialized FUSE_ARGS_INIT(argc, argv)). A first word that is not a URL
 * names an account of the account file (config.h): it goes to O->account,
 * and the caller fills what the command line leaves unset from there
 * (config_load) before options_finish(). Returns 0, or -EINVAL with a
 * one-line reason in err. */
int options_parse(struct fuse_args *args, struct mfs_options *o, char *err, size_t errlen);
/* Complete O: defaults, the URL taken apart, the mount point made
 * absolute, and the rules between options checked (tls_insecure_plaintext
 * towards a host that is not loopback, options_host_is_loopback(), is an
 * error). Returns 0, or -EINVAL with a one-line reason in err. */
int options_finish(struct mfs_options *o, char *err, size_t errlen);

void options_free(struct mfs_options *o);

/* The default cache directory: $XDG_CACHE_HOME/mailfs/USER@HOST, or
 * ~/.cache/mailfs/USER@HOST. malloc'd; NULL on ENOMEM. */
char *options_default_cache_dir(const struct mfs_options *o);

extern const char options_usage[];

#endif
