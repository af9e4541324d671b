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
"    show_views             list .mailfs (text and parts views) at the mount root\n"
"    poll=SECONDS           look for server-side changes this often (default 60)\n"
"    timeout=SECONDS        deadline of any one network operation (default 30)\n"
"    trash=FOLDER           IMAP: rm moves the message to FOLDER instead of expunging\n"
"    pop3_delete            POP3: delete messages on the server once stored locally\n"
"\n"
"general options:\n"
"    -f                     stay in the foreground\n"
"    -d                     debug output (implies -f)\n"
"    -o allow_other, ...    FUSE mount options (see mount.fuse3(8))\n"
"    -h, --help             this text\n"
"    -V, --version          version\n"
"\n"
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

enum { KEY_HELP, KEY_VERSION, KEY_DISCARD };

#define OPT(t, field, v) { t, offsetof(struct mfs_options, field), v }
static const struct fuse_opt opt_spec[] = {
	OPT("password_command=%s", password_command, 0),
	OPT("password_file=%s", password_file, 0),
	OPT("oauth2_token_command=%s", oauth2_token_command, 0),
	OPT("cafile=%s", cafile, 0),
	OPT("tls_insecure_plaintext", tls_insecure_plaintext, 1),
	OPT("cache_dir=%s", cache_dir, 0),
	OPT("cache_size=%s", cache_size_text, 0),
	OPT("prefetch", prefetch, 1),
	OPT("show_views", show_views, 1),
	OPT("poll=%d", poll, 0),
	OPT("timeout=%d", timeout, 0),
	OPT("trash=%s", trash, 0),
	OPT("pop3_delete", pop3_delete, 1),
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
	FUSE_OPT_END
};

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct mfs_options *o = data;   /* fuse_opt's base for the offsets above */
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
		return 1;
	}
}

int options_parse(struct fuse_args *args, struct mfs_options *o, char *err, size_t errlen)
{
	struct fuse_cmdline_opts fo;

	o->poll = INT_MIN;      /* unset: the account file or the default decides */
	o->timeout = INT_MIN;
	o->cache_size = 1ull << 30;
	if (fuse_opt_parse(args, o, opt_spec, opt_proc) < 0) {
		snprintf(err, errlen, "bad options (see mailfs --help)");
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

int options_finish(struct mfs_options *o, char *err, size_t errlen)
{
	if (o->poll == INT_MIN)
		o->poll = 60;
	if (o->timeout == INT_MIN)
		o->timeout = 30;
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
	if (o->cache_size_text && options_parse_size(o->cache_size_text, &o->cache_size) < 0) {
		snprintf(err, errlen, "bad cache_size: %s (e.g. 500M, 2G)", o->cache_size_text);
		return -EINVAL;
	}
	if (o->poll < 1 || o->poll > 86400) {
		snprintf(err, errlen, "poll must be between 1 and 86400 seconds");
		return -EINVAL;
	}
	if (o->timeout < 1 || o->timeout > 3600) {
		snprintf(err, errlen, "timeout must be between 1 and 3600 seconds");
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
