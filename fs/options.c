/* options.c - command line and URL parsing (SPEC §1). */
#include "fs/options.h"

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <fuse_opt.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char options_usage[] =
"usage: mailfs [options] URL MOUNTPOINT\n"
"       mailfs [options] ACCOUNT [MOUNTPOINT]   (an account of ~/.config/mailfs/config)\n"
"       mailfs --version | --help\n"
"\n"
"URL:   imaps://USER@HOST[:993]   IMAP over TLS\n"
"       imap://USER@HOST[:143]    IMAP with mandatory STARTTLS\n"
"       pop3s://USER@HOST[:995]   POP3 over TLS\n"
"       pop3://USER@HOST[:110]    POP3 with mandatory STLS\n"
"       (USER may be percent-encoded: alice%40example.org@imap.example.org)\n"
"\n"
"mailfs options (-o name=value,...):\n"
"    password_command=CMD   run CMD with /bin/sh -c; first line of its output is the password\n"
"    password_file=PATH     first line of PATH (must not be readable by group or others)\n"
"    oauth2_token_command=CMD  like password_command, but prints an OAuth2 access token\n"
"    cafile=PATH            also trust the CA certificate(s) in PATH\n"
"    tls_insecure_plaintext allow imap:// and pop3:// without STARTTLS (loopback tests only)\n"
"    cache_dir=PATH         default $XDG_CACHE_HOME/mailfs/USER@HOST\n"
"    cache_size=SIZE        IMAP body cache limit (default 1G)\n"
"    prefetch               IMAP: download every message body in the background\n"
"    show_views             list .mailfs (the text and parts views) at the mount root\n"
"    poll=DURATION          look for server-side changes this often (default 60s)\n"
"    timeout=DURATION       deadline of any one network operation (default 30s)\n"
"    max_connections=N      IMAP: hold at most N connections to the server, the one\n"
"                           watching for changes included (default 4, 1 to " MAX_CONNECTIONS_TEXT ")\n"
"    trash=FOLDER           IMAP: rm moves the message to FOLDER instead of expunging\n"
"                           (trash=\\Trash: the folder the server marks as trash)\n"
"    pop3_delete            POP3: delete messages on the server once stored locally\n"
"\n"
"general options:\n"
"    -f                     stay in the foreground\n"
"    -d                     debug output (implies -f)\n"
"    -s                     serve one request at a time, on one thread\n"
"    -o max_threads=N       serve at most N requests at a time (default 16)\n"
"    -o clone_fd            one /dev/fuse descriptor per thread\n"
"    -o allow_other, ...    FUSE mount options (see mount.fuse3(8))\n"
"    -h, --help             this text\n"
"    -V, --version          version\n"
"\n"
"A DURATION is in seconds, or a number with s, m or h (90, 45s, 5m, 1h).\n"
"A flag is turned off with \"no\" before its name (noprefetch, noshow_views,\n"
"nopop3_delete, notls_insecure_plaintext); the command line wins over the\n"
"account file.\n"
"With no password option and a terminal, mailfs asks for the password.\n";

static int from_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode %XX escapes (RFC 3986 §2.1); NULL if malformed or it hides a NUL. */
static char *pct_decode(const char *s, size_t len)
{
	char *out = malloc(len + 1), *p = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (s[i] != '%') {
			*p++ = s[i];
			continue;
		}
		hi = i + 2 < len ? from_hex(s[i + 1]) : -1;
		lo = hi >= 0 ? from_hex(s[i + 2]) : -1;
		if (lo < 0 || (hi == 0 && lo == 0)) {
			free(out);
			return NULL;
		}
		*p++ = (char)(hi * 16 + lo);
		i += 2;
	}
	*p = '\0';
	return out;
}

/* HOST[:PORT] of a URL, between P and END ("[v6]:port" too). */
static int parse_hostport(const char *hostp, const char *end, const char *url,
                          struct mfs_options *o, char *err, size_t errlen)
{
	const char *portp = NULL;

	if (*hostp == '[') {
		const char *close = memchr(hostp, ']', (size_t)(end - hostp));
		if (!close) {
			snprintf(err, errlen, "bad IPv6 address in URL: %s", url);
			return -EINVAL;
		}
		free(o->host);
		o->host = strndup(hostp + 1, (size_t)(close - hostp - 1));
		if (close[1] == ':')
			portp = close + 2;
		else if (close + 1 != end) {
			snprintf(err, errlen, "bad host in URL: %s", url);
			return -EINVAL;
		}
	} else {
		const char *colon = memchr(hostp, ':', (size_t)(end - hostp));
		free(o->host);
		o->host = strndup(hostp, (size_t)((colon ? colon : end) - hostp));
		if (colon)
			portp = colon + 1;
	}
	if (!o->host || !o->host[0]) {
		snprintf(err, errlen, "URL needs a host: %s", url);
		return -EINVAL;
	}
	for (const char *p = o->host; *p; p++) {
		if (!isalnum((unsigned char)*p) && !strchr(".-_:", *p)) {
			snprintf(err, errlen, "bad host name in URL: %s", o->host);
			return -EINVAL;
		}
	}
	if (portp) {
		char *e;
		unsigned long port = strtoul(portp, &e, 10);

		/* Digits only: strtoul would also take a sign and blanks. */
		if (!isdigit((unsigned char)*portp) || e != end || port == 0 || port > 65535) {
			snprintf(err, errlen, "bad port in URL: %s", url);
			return -EINVAL;
		}
		o->port = (unsigned)port;
	}
	return 0;
}

int options_parse_url(const char *url, struct mfs_options *o, char *err, size_t errlen)
{
	static const struct { const char *scheme; enum mfs_proto proto; int tls; unsigned port; }
	schemes[] = {
		{ "imaps://", PROTO_IMAP, 1, 993 }, { "imap://", PROTO_IMAP, 0, 143 },
		{ "pop3s://", PROTO_POP3, 1, 995 }, { "pop3://", PROTO_POP3, 0, 110 },
	};
	const char *rest = NULL, *at, *end;
	size_t i;

	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t n = strlen(schemes[i].scheme);
		if (strncasecmp(url, schemes[i].scheme, n) == 0) {
			rest = url + n;
			break;
		}
	}
	if (!rest) {
		snprintf(err, errlen, "URL must start with imaps://, imap://, pop3s:// or pop3://: %s",
		         url);
		return -EINVAL;
	}
	o->proto = schemes[i].proto;
	o->implicit_tls = schemes[i].tls;
	o->port = schemes[i].port;

	/* The host is after the last '@' (a raw '@' in the user is tolerated). */
	end = rest + strcspn(rest, "/?#");
	if (*end && !(*end == '/' && end[1] == '\0')) {
		snprintf(err, errlen, "URL must not have a path, query or fragment: %s", url);
		return -EINVAL;
	}
	at = NULL;
	for (const char *p = rest; p < end; p++)
		if (*p == '@')
			at = p;
	if (!at || at == rest) {
		snprintf(err, errlen, "URL needs a user name: %sUSER@HOST", schemes[i].scheme);
		return -EINVAL;
	}
	free(o->user);
	o->user = pct_decode(rest, (size_t)(at - rest));
	if (!o->user || strchr(o->user, ':')) {
		snprintf(err, errlen, "bad user name in URL (a password does not belong in the URL; "
		         "use password_command or password_file)");
		return -EINVAL;
	}
	return parse_hostport(at + 1, end, url, o, err, errlen);
}

static int addr_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		return ntohl(in->sin_addr.s_addr) >> 24 == 127;    /* RFC 1122 §3.2.1.3 */
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) ||                  /* ::1, RFC 4291 §2.5.3 */
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return 0;
}

int options_host_is_loopback(const char *host)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST };
	struct addrinfo *res = NULL, *ai;
	int ok;

	/* An address is read, not looked up (getaddrinfo as net/conn.c does,
	 * so "127.1" means here what it means there). Of the names, only
	 * "localhost" (RFC 6761 §6.3), and only when every address it has is
	 * loopback: another name is refused even if it resolves to 127.0.0.1
	 * today, since a resolver may answer conn.c differently. */
	if (getaddrinfo(host, NULL, &hints, &res) != 0) {
		if (strcasecmp(host, "localhost") != 0)
			return 0;
		hints.ai_flags = 0;
		if (getaddrinfo(host, NULL, &hints, &res) != 0)
			return 0;
	}
	ok = res != NULL;
	for (ai = res; ai; ai = ai->ai_next)
		if (!addr_is_loopback(ai->ai_addr))
			ok = 0;
	freeaddrinfo(res);
	return ok;
}

int options_parse_size(const char *text, uint64_t *bytes_r)
{
	char *end;
	unsigned long long v;
	uint64_t mult = 1;

	if (!text || !isdigit((unsigned char)text[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno)
		return -EINVAL;
	switch (toupper((unsigned char)*end)) {
	case '\0': break;
	case 'K': mult = 1ull << 10; end++; break;
	case 'M': mult = 1ull << 20; end++; break;
	case 'G': mult = 1ull << 30; end++; break;
	case 'T': mult = 1ull << 40; end++; break;
	default: return -EINVAL;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || (v && mult > UINT64_MAX / v))
		return -EINVAL;
	*bytes_r = v * mult;
	return 0;
}

/* Digits, then what END points to; -EINVAL unless at least one digit and
 * the value fits in 64 bits (strtoull alone would take blanks, a sign or
 * "0x"). */
static int digits(const char *text, unsigned long long *v_r, char **end_r)
{
	if (!text || !isdigit((unsigned char)text[0]))
		return -EINVAL;
	errno = 0;
	*v_r = strtoull(text, end_r, 10);
	return errno ? -EINVAL : 0;
}

int options_parse_duration(const char *text, int *seconds_r)
{
	unsigned long long v, mult;
	char *end;

	if (digits(text, &v, &end) < 0)
		return -EINVAL;
	/* Lower case only: "5M" could as well mean months, or mega-. */
	switch (*end) {
	case '\0': mult = 1; break;
	case 's': mult = 1; end++; break;
	case 'm': mult = 60; end++; break;
	case 'h': mult = 3600; end++; break;
	default: return -EINVAL;
	}
	if (*end || v > INT_MAX / mult)
		return -EINVAL;
	*seconds_r = (int)(v * mult);
	return 0;
}

int options_parse_count(const char *text, int *count_r)
{
	unsigned long long v;
	char *end;

	if (digits(text, &v, &end) < 0 || *end || v > INT_MAX)
		return -EINVAL;
	*count_r = (int)v;
	return 0;
}

/* The options with a number, read alike from the command line and the
 * account file. Ranges: poll up to a day, a network deadline up to an hour;
 * threads up to libfuse's own bound (FUSE_LOOP_MT_MAX_THREADS). */
enum value_kind { VALUE_DURATION, VALUE_COUNT };

static const struct value_opt {
	const char *name;
	enum value_kind kind;
	size_t off;                 /* an int of struct mfs_options */
	int min, max;
	const char *range;          /* MIN..MAX as a user writes it */
} value_opts[] = {
	{ "poll", VALUE_DURATION, offsetof(struct mfs_options, poll), 1, 86400, "1s to 24h" },
	{ "timeout", VALUE_DURATION, offsetof(struct mfs_options, timeout), 1, 3600, "1s to 1h" },
	{ "max_connections", VALUE_COUNT, offsetof(struct mfs_options, max_connections), 1,
	  MAX_CONNECTIONS, "1 to " MAX_CONNECTIONS_TEXT },
	{ "max_threads", VALUE_COUNT, offsetof(struct mfs_options, max_threads), 1, 100000,
	  "1 to 100000" },
	{ "max_idle_threads", VALUE_COUNT, offsetof(struct mfs_options, max_idle_threads), 0,
	  100000, "0 to 100000" },
};

int options_set_value(struct mfs_options *o, const char *key, const char *text, int keep,
                      char *err, size_t errlen)
{
	const struct value_opt *v = NULL;
	uint64_t bytes;
	int n, *field;

	if (strcmp(key, "cache_size") == 0) {
		if (options_parse_size(text, &bytes) < 0) {
			snprintf(err, errlen, "bad cache_size \"%.64s\": give bytes, or a number with "
			         "K, M, G or T (500M, 2G)", text);
			return -EINVAL;
		}
		if (keep && o->cache_size_text)
			return 0;
		free(o->cache_size_text);
		if (!(o->cache_size_text = strdup(text))) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		o->cache_size = bytes;
		return 0;
	}
	for (size_t i = 0; i < sizeof(value_opts) / sizeof(value_opts[0]); i++)
		if (strcmp(key, value_opts[i].name) == 0)
			v = &value_opts[i];
	if (!v)
		return -ENOENT;
	if ((v->kind == VALUE_DURATION ? options_parse_duration(text, &n) :
	                                 options_parse_count(text, &n)) < 0) {
		snprintf(err, errlen, "bad %s \"%.64s\": give %s", key, text,
		         v->kind == VALUE_DURATION ? "seconds, or a number with s, m or h "
		                                     "(90, 45s, 5m, 1h)" : "a number");
		return -EINVAL;
	}
	if (n < v->min || n > v->max) {
		snprintf(err, errlen, "%s=%.64s is out of range: from %s", key, text, v->range);
		return -EINVAL;
	}
	field = (int *)((char *)o + v->off);
	if (!keep || *field == OPTIONS_UNSET)
		*field = n;
	return 0;
}

void options_init(struct mfs_options *o)
{
	memset(o, 0, sizeof(*o));
	o->tls_insecure_plaintext = OPTIONS_UNSET;
	o->prefetch = OPTIONS_UNSET;
	o->show_views = OPTIONS_UNSET;
	o->pop3_delete = OPTIONS_UNSET;
	o->poll = OPTIONS_UNSET;
	o->timeout = OPTIONS_UNSET;
	o->max_connections = OPTIONS_UNSET;
	o->max_threads = OPTIONS_UNSET;
	o->max_idle_threads = OPTIONS_UNSET;
}

enum { KEY_HELP, KEY_VERSION, KEY_DISCARD, KEY_VALUE, KEY_FUSE_NUMBER };

#define OPT(t, field, v) { t, offsetof(struct mfs_options, field), v }
#define FUSE_KEEP(t) FUSE_OPT_KEY(t, FUSE_OPT_KEY_KEEP)
static const struct fuse_opt opt_spec[] = {
	OPT("password_command=%s", password_command, 0),
	OPT("password_file=%s", password_file, 0),
	OPT("oauth2_token_command=%s", oauth2_token_command, 0),
	OPT("cafile=%s", cafile, 0),
	OPT("tls_insecure_plaintext", tls_insecure_plaintext, 1),
	OPT("notls_insecure_plaintext", tls_insecure_plaintext, 0),
	OPT("cache_dir=%s", cache_dir, 0),
	OPT("prefetch", prefetch, 1),
	OPT("noprefetch", prefetch, 0),
	OPT("show_views", show_views, 1),
	OPT("noshow_views", show_views, 0),
	OPT("trash=%s", trash, 0),
	OPT("pop3_delete", pop3_delete, 1),
	OPT("nopop3_delete", pop3_delete, 0),
	/* Numbers: read by options_set_value(), as in the account file
	 * (fuse_opt's "%d" would take "5m" as 5). */
	FUSE_OPT_KEY("cache_size=", KEY_VALUE),
	FUSE_OPT_KEY("poll=", KEY_VALUE),
	FUSE_OPT_KEY("timeout=", KEY_VALUE),
	FUSE_OPT_KEY("max_connections=", KEY_VALUE),
	/* fuse_parse_cmdline() would take these too, and serve() would ignore
	 * them: they are read here, for serve() to honour. */
	OPT("-s", singlethread, 1),
	OPT("clone_fd", clone_fd, 1),
	FUSE_OPT_KEY("max_threads=", KEY_VALUE),
	FUSE_OPT_KEY("max_idle_threads=", KEY_VALUE),
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	/* What mount(8) and fstab add, which FUSE itself does not take. */
	FUSE_OPT_KEY("_netdev", KEY_DISCARD),
	FUSE_OPT_KEY("noauto", KEY_DISCARD),
	FUSE_OPT_KEY("auto", KEY_DISCARD),
	FUSE_OPT_KEY("user", KEY_DISCARD),
	FUSE_OPT_KEY("nouser", KEY_DISCARD),
	FUSE_OPT_KEY("users", KEY_DISCARD),
	FUSE_OPT_KEY("nofail", KEY_DISCARD),
	FUSE_OPT_KEY("defaults", KEY_DISCARD),
	/* What libfuse 3.14 itself takes, left for it: fuse_parse_cmdline()
	 * (lib/helper.c), fuse_session_new() (lib/fuse_lowlevel.c) and its
	 * mount options (lib/mount.c). Anything else would be refused by
	 * fuse_session_new(), only after the password and the login: it is
	 * refused by opt_proc() instead, first. (test_options checks that
	 * libfuse takes each of these.) */
	FUSE_KEEP("-f"),
	FUSE_KEEP("-d"),
	FUSE_KEEP("--debug"),
	FUSE_KEEP("debug"),
	FUSE_KEEP("fsname="),
	FUSE_KEEP("subtype="),
	FUSE_KEEP("allow_other"),
	FUSE_KEEP("allow_root"),
	FUSE_KEEP("auto_unmount"),
	FUSE_KEEP("blkdev"),
	FUSE_KEEP("default_permissions"),
	FUSE_KEEP("context="),
	FUSE_KEEP("fscontext="),
	FUSE_KEEP("defcontext="),
	FUSE_KEEP("rootcontext="),
	FUSE_KEEP("user="),
	FUSE_KEEP("-n"),
	FUSE_KEEP("-r"),
	FUSE_KEEP("ro"),
	FUSE_KEEP("rw"),
	FUSE_KEEP("suid"),
	FUSE_KEEP("nosuid"),
	FUSE_KEEP("dev"),
	FUSE_KEEP("nodev"),
	FUSE_KEEP("exec"),
	FUSE_KEEP("noexec"),
	FUSE_KEEP("async"),
	FUSE_KEEP("sync"),
	FUSE_KEEP("dirsync"),
	FUSE_KEEP("atime"),
	FUSE_KEEP("noatime"),
	/* Numbers that libfuse ("%u": "4096x" is 4096) or the kernel read. */
	FUSE_OPT_KEY("max_read=", KEY_FUSE_NUMBER),
	FUSE_OPT_KEY("blksize=", KEY_FUSE_NUMBER),
	FUSE_OPT_END
};

/* A one-line reason for refusing ARG, kept on O for options_parse(). */
static int refuse(struct mfs_options *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int refuse(struct mfs_options *o, const char *fmt, ...)
{
	va_list ap;

	if (!o->refused) {
		va_start(ap, fmt);
		if (vasprintf(&o->refused, fmt, ap) < 0)
			o->refused = NULL;
		va_end(ap);
	}
	return -1;
}

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct mfs_options *o = data;   /* fuse_opt's base for the offsets above */
	const char *eq = strchr(arg, '=');
	char name[64], err[256];
	int n, r;
	(void)outargs;

	switch (key) {
	case KEY_HELP:
		o->show_help = 1;
		return 0;
	case KEY_VERSION:
		o->show_version = 1;
		return 0;
	case KEY_DISCARD:
		return 0;
	case KEY_VALUE:
		snprintf(name, sizeof(name), "%.*s", (int)(eq - arg), arg);
		r = options_set_value(o, name, eq + 1, 0, err, sizeof(err));
		return r < 0 ? refuse(o, "%s", err) : 0;
	case KEY_FUSE_NUMBER:
		if (options_parse_count(eq + 1, &n) < 0)
			return refuse(o, "bad %.*s \"%.64s\": give a number", (int)(eq - arg), arg,
			              eq + 1);
		return 1;
	case FUSE_OPT_KEY_NONOPT:
		/* URL, then the mount point: both ours, so that a bad mount point
		 * gets our one-line message rather than libfuse's two. */
		if (!o->url) {
			o->url = strdup(arg);
			return 0;
		}
		if (!o->mountpoint) {
			o->mountpoint = strdup(arg);
			return 0;
		}
		o->extra_args++;
		return 0;
	default:
		/* ",," in an option list: nothing, as for libfuse. */
		if (!*arg)
			return 0;
		/* Only the name: the value of a misspelt password option may be
		 * the password itself. */
		return refuse(o, "unknown option %.*s (see mailfs --help)",
		              (int)(eq ? eq - arg : (ptrdiff_t)strlen(arg)), arg);
	}
}

int options_parse(struct fuse_args *args, struct mfs_options *o, char *err, size_t errlen)
{
	struct fuse_cmdline_opts fo;

	options_init(o);
	/* libfuse would say this in a line of its own, before ours. */
	if (args->argc > 1 && strcmp(args->argv[args->argc - 1], "-o") == 0) {
		snprintf(err, errlen, "-o needs a list of options (see mailfs --help)");
		return -EINVAL;
	}
	if (fuse_opt_parse(args, o, opt_spec, opt_proc) < 0) {
		snprintf(err, errlen, "%s", o->refused ? o->refused : "bad options (see mailfs --help)");
		return -EINVAL;
	}
	if (o->show_help || o->show_version)
		return 0;
	memset(&fo, 0, sizeof(fo));
	if (fuse_parse_cmdline(args, &fo) < 0) {
		free(fo.mountpoint);   /* set when a later argument was refused */
		snprintf(err, errlen, "bad options (see mailfs --help)");
		return -EINVAL;
	}
	o->foreground = fo.foreground || fo.debug;
	o->debug = fo.debug;
	free(fo.mountpoint);    /* (never set: the mount point is ours) */
	if (o->extra_args) {
		snprintf(err, errlen, "more arguments than a URL and a mount point "
		         "(see mailfs --help)");
		return -EINVAL;
	}
	if (fo.show_help)
		o->show_help = 1;
	if (fo.show_version)
		o->show_version = 1;
	if (o->show_help || o->show_version)
		return 0;
	if (o->singlethread && (o->clone_fd || o->max_threads != OPTIONS_UNSET ||
	                        o->max_idle_threads != OPTIONS_UNSET)) {
		snprintf(err, errlen, "-s serves requests on one thread: it does not go with "
		         "max_threads, max_idle_threads or clone_fd");
		return -EINVAL;
	}
	if (o->url && !strstr(o->url, "://")) {
		/* An account name: the rest comes from the account file. */
		o->account = o->url;
		o->url = NULL;
	}
	return 0;
}

/* The mount point, absolute; "~" (from an account file, where no shell
 * expanded it) is the home directory. */
static int mountpoint_abs(struct mfs_options *o, char *err, size_t errlen)
{
	char *abs;
	struct stat st;

	if (o->mountpoint[0] == '~' && (o->mountpoint[1] == '/' || !o->mountpoint[1])) {
		const char *home = getenv("HOME");
		char *full = NULL;
		struct passwd *pw = home ? NULL : getpwuid(getuid());

		if (!home)
			home = pw ? pw->pw_dir : "/";
		if (asprintf(&full, "%s%s", home, o->mountpoint + 1) < 0)
			return -ENOMEM;
		free(o->mountpoint);
		o->mountpoint = full;
	}
	abs = realpath(o->mountpoint, NULL);
	if (!abs || stat(abs, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "mount point %s: %s", o->mountpoint,
		         abs ? "not a directory" : strerror(errno));
		free(abs);
		return -EINVAL;
	}
	free(o->mountpoint);
	o->mountpoint = abs;
	return 0;
}

/* V, or DEF when V was not given. */
static void or_default(int *v, int def)
{
	if (*v == OPTIONS_UNSET)
		*v = def;
}

int options_finish(struct mfs_options *o, char *err, size_t errlen)
{
	or_default(&o->poll, 60);
	or_default(&o->timeout, 30);
	or_default(&o->max_connections, 4);
	or_default(&o->tls_insecure_plaintext, 0);
	or_default(&o->prefetch, 0);
	or_default(&o->show_views, 0);
	or_default(&o->pop3_delete, 0);
	/* More than libfuse's 10: a reader that waits for a download holds
	 * its thread, and ls must not wait behind a few of them. */
	or_default(&o->max_threads, 16);
	or_default(&o->max_idle_threads, -1);
	if (!o->cache_size_text)
		o->cache_size = 1ull << 30;
	if (!o->url || !o->mountpoint) {
		snprintf(err, errlen, "need a URL (or an account name) and a mount point "
		         "(see mailfs --help)");
		return -EINVAL;
	}
	if (mountpoint_abs(o, err, errlen) < 0)
		return -EINVAL;
	if (options_parse_url(o->url, o, err, errlen) < 0)
		return -EINVAL;
	/* SPEC §5: the password in clear never leaves the machine. Checked
	 * here, before any connection is tried. */
	if (o->tls_insecure_plaintext && !options_host_is_loopback(o->host)) {
		snprintf(err, errlen, "tls_insecure_plaintext is only for a server on this machine "
		         "(127.0.0.0/8, ::1, localhost), not %s: remove it and use TLS", o->host);
		return -EINVAL;
	}
	if (!!o->password_command + !!o->password_file + !!o->oauth2_token_command > 1) {
		snprintf(err, errlen, "give only one of password_command, password_file and "
		         "oauth2_token_command");
		return -EINVAL;
	}
	if (o->proto == PROTO_POP3 && (o->trash || o->prefetch)) {
		snprintf(err, errlen, "%s is an IMAP option", o->trash ? "trash" : "prefetch");
		return -EINVAL;
	}
	if (o->proto == PROTO_IMAP && o->pop3_delete) {
		snprintf(err, errlen, "pop3_delete is a POP3 option");
		return -EINVAL;
	}
	return 0;
}

void options_free(struct mfs_options *o)
{
	if (o->password) {
		explicit_bzero(o->password, strlen(o->password));
		free(o->password);
	}
	free(o->account);
	free(o->url);
	free(o->user);
	free(o->host);
	free(o->mountpoint);
	free(o->password_command);
	free(o->password_file);
	free(o->oauth2_token_command);
	free(o->cafile);
	free(o->cache_dir);
	free(o->cache_size_text);
	free(o->trash);
	free(o->refused);
	memset(o, 0, sizeof(*o));
}

char *options_default_cache_dir(const struct mfs_options *o)
{
	const char *base = getenv("XDG_CACHE_HOME");
	const char *sub = "mailfs";
	char *out = NULL;

	if (!base || base[0] != '/') {
		base = getenv("HOME");
		if (!base || base[0] != '/') {
			struct passwd *pw = getpwuid(getuid());
			base = pw ? pw->pw_dir : "/tmp";
		}
		sub = ".cache/mailfs";
	}
	if (asprintf(&out, "%s/%s/%s@%s", base, sub, o->user, o->host) < 0)
		return NULL;
	/* A '/' in a (percent-decoded) user name must not lead elsewhere. */
	for (char *p = out + strlen(base) + strlen(sub) + 2; *p; p++)
		if (*p == '/')
			*p = '_';
	return out;
}
