/* config.c - the account file. */
#include "fs/config.h"
#include "fs/options.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *config_path(void)
{
	const char *base = getenv("XDG_CONFIG_HOME");
	char *out = NULL;

	if (base && base[0] == '/') {
		if (asprintf(&out, "%s/mailfs/config", base) < 0)
			return NULL;
		return out;
	}
	base = getenv("HOME");
	if (!base || base[0] != '/') {
		struct passwd *pw = getpwuid(getuid());
		base = pw ? pw->pw_dir : "/";
	}
	if (asprintf(&out, "%s/.config/mailfs/config", base) < 0)
		return NULL;
	return out;
}

/* A user's name for a message, or the number. */
static void uid_name(uid_t uid, char *buf, size_t size)
{
	struct passwd *pw = getpwuid(uid);   /* start-up: no other thread yet */

	if (pw && pw->pw_name[0])
		snprintf(buf, size, "%s", pw->pw_name);
	else
		snprintf(buf, size, "%lu", (unsigned long)uid);
}

int config_check_file(const char *what, const char *path, const struct stat *st,
                      const char *chmod_mode, char *err, size_t errlen)
{
	uid_t me = geteuid();

	/* Whoever can write the file decides which command mailfs runs and
	 * which password it sends: only the user may (as ssh demands of
	 * ~/.ssh/config). Unlike ssh, a file of root's is refused too: SPEC
	 * §5 asks for the user's own. */
	if (st->st_uid != me) {
		char owner[64], user[64];

		uid_name(st->st_uid, owner, sizeof(owner));
		uid_name(me, user, sizeof(user));
		snprintf(err, errlen, "%s %s belongs to %s, not to %s who runs mailfs; "
		         "if it is yours, run as root: chown %s %s", what, path, owner, user,
		         user, path);
		return -EACCES;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen, "%s %s can be changed by others (mode %03o); run: chmod %s %s",
		         what, path, (unsigned)(st->st_mode & 0777), chmod_mode, path);
		return -EACCES;
	}
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Set a string option unless the command line did. */
static int set_str(char **field, const char *value)
{
	if (*field)
		return 0;
	*field = strdup(value);
	return *field ? 0 : -ENOMEM;
}

static int flag_value(const char *v)
{
	if (!*v || !strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1"))
		return 1;
	if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0"))
		return 0;
	return -1;
}

static int is_secret_key(const char *key)
{
	return !strcmp(key, "password") || !strcmp(key, "password_command") ||
	       !strcmp(key, "password_file") || !strcmp(key, "oauth2_token_command");
}

/* One key of the account; on -EINVAL, WHY may say more than "bad value". */
static int apply(struct mfs_options *o, const char *key, const char *v, int *secret,
                 char *why, size_t whylen)
{
	static const struct { const char *key; size_t off; } strs[] = {
		{ "url", offsetof(struct mfs_options, url) },
		{ "mountpoint", offsetof(struct mfs_options, mountpoint) },
		{ "password_command", offsetof(struct mfs_options, password_command) },
		{ "password_file", offsetof(struct mfs_options, password_file) },
		{ "oauth2_token_command", offsetof(struct mfs_options, oauth2_token_command) },
		{ "cafile", offsetof(struct mfs_options, cafile) },
		{ "cache_dir", offsetof(struct mfs_options, cache_dir) },
		{ "trash", offsetof(struct mfs_options, trash) },
		{ "password", offsetof(struct mfs_options, password) },
	};
	static const struct { const char *key; size_t off; } flags[] = {
		{ "prefetch", offsetof(struct mfs_options, prefetch) },
		{ "show_views", offsetof(struct mfs_options, show_views) },
		{ "pop3_delete", offsetof(struct mfs_options, pop3_delete) },
		{ "tls_insecure_plaintext", offsetof(struct mfs_options, tls_insecure_plaintext) },
	};
	size_t i;
	int f;

	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		if (strcmp(key, strs[i].key) != 0)
			continue;
		if (!*v)
			return -EINVAL;
		if (!strcmp(key, "password"))
			*secret = 1;
		return set_str((char **)((char *)o + strs[i].off), v);
	}
	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		int *field = (int *)((char *)o + flags[i].off);

		/* "prefetch", "prefetch = no", or "noprefetch" as on the command
		 * line; only where the command line said neither. */
		if (strcmp(key, flags[i].key) == 0)
			f = flag_value(v);
		else if (strncmp(key, "no", 2) == 0 && strcmp(key + 2, flags[i].key) == 0)
			f = *v ? -1 : 0;
		else
			continue;
		if (f < 0)
			return -EINVAL;
		if (*field == OPTIONS_UNSET)
			*field = f;
		return 0;
	}
	/* The numbers, read as on the command line. */
	if (!strcmp(key, "poll") || !strcmp(key, "timeout") || !strcmp(key, "cache_size") ||
	    !strcmp(key, "max_connections"))
		return options_set_value(o, key, v, 1, why, whylen);
	return -ENOENT;
}

/* The account file at PATH, opened for reading once it may be trusted:
 * checked on the descriptor that is read (no window for a swap), and
 * before a line of it is believed. */
static int open_trusted(const char *path, const char *name, struct stat *st, FILE **fp_r,
                        char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0) {
		snprintf(err, errlen, "\"%s\" is not a URL, and there is no account file %s to "
		         "look it up in", name, path);
		return -ENOENT;
	}
	if (fstat(fd, st) < 0) {
		close(fd);
		snprintf(err, errlen, "cannot read %s", path);
		return -EIO;
	}
	r = config_check_file("account file", path, st, "go-w", err, errlen);
	if (r < 0) {
		close(fd);
		return r;
	}
	*fp_r = fdopen(fd, "r");
	if (!*fp_r) {
		close(fd);
		snprintf(err, errlen, "cannot read %s", path);
		return -EIO;
	}
	return 0;
}

/* Reading account NAME of the file at PATH. */
struct reader {
	const char *path, *name;
	char section[256];
	int lineno;
	int found;            /* the section was there */
	int secret;           /* it holds a password */
	int sources;          /* password sources it names */
	int cli_secret;       /* the command line named one: the file's are ignored */
};

/* One line S of the file: a comment, a section, or a key of NAME's
 * section applied to O. */
static int read_line(struct reader *rd, char *s, struct mfs_options *o, char *err,
                     size_t errlen)
{
	char *eq, *key, *value, why[256];
	int r;

	if (!*s || *s == '#' || *s == ';')
		return 0;
	if (*s == '[') {
		char *close = strchr(s, ']');

		if (!close || close[1]) {
			snprintf(err, errlen, "%s:%d: bad section line", rd->path, rd->lineno);
			return -EINVAL;
		}
		*close = '\0';
		snprintf(rd->section, sizeof(rd->section), "%s", trim(s + 1));
		if (strcmp(rd->section, rd->name) == 0)
			rd->found = 1;
		return 0;
	}
	if (strcmp(rd->section, rd->name) != 0)
		return 0;
	eq = strchr(s, '=');
	if (eq) {
		*eq = '\0';
		key = trim(s);
		value = trim(eq + 1);
	} else {
		key = s;
		value = (char *)"";
	}
	if (is_secret_key(key)) {
		if (rd->cli_secret)
			return 0;
		if (++rd->sources > 1) {
			snprintf(err, errlen, "%s:%d: account \"%s\" gives more than one of "
			         "password, password_command, password_file and "
			         "oauth2_token_command", rd->path, rd->lineno, rd->name);
			return -EINVAL;
		}
	}
	why[0] = '\0';
	r = apply(o, key, value, &rd->secret, why, sizeof(why));
	if (r == -ENOENT)
		snprintf(err, errlen, "%s:%d: unknown option \"%s\"", rd->path, rd->lineno, key);
	else if (r < 0 && why[0])
		snprintf(err, errlen, "%s:%d: %s", rd->path, rd->lineno, why);
	else if (r < 0)
		snprintf(err, errlen, "%s:%d: bad value for %s", rd->path, rd->lineno, key);
	return r;
}

int config_load(const char *path, const char *name, struct mfs_options *o,
                char *err, size_t errlen)
{
	/* A password source on the command line wins over all of the file's. */
	struct reader rd = {
		.path = path, .name = name,
		.cli_secret = o->password_command || o->password_file || o->oauth2_token_command,
	};
	char line[4096], iobuf[BUFSIZ];
	struct stat st;
	FILE *fp;
	int r;

	r = open_trusted(path, name, &st, &fp, err, errlen);
	if (r < 0)
		return r;
	/* The file may hold a password, and every byte of it passes through
	 * the FILE's buffer, which fclose() would free as it is: ours is
	 * wiped after it. */
	setvbuf(fp, iobuf, _IOFBF, sizeof(iobuf));
	while (r == 0 && fgets(line, sizeof(line), fp)) {
		rd.lineno++;
		r = read_line(&rd, trim(line), o, err, errlen);
	}
	fclose(fp);
	explicit_bzero(iobuf, sizeof(iobuf));
	explicit_bzero(line, sizeof(line));
	if (r < 0)
		return r;
	if (!rd.found) {
		snprintf(err, errlen, "no account \"%s\" in %s (and it is not a URL)", name, path);
		return -ENOENT;
	}
	if (rd.secret && (st.st_mode & 077)) {
		snprintf(err, errlen, "%s holds a password but others can read it; "
		         "run: chmod 600 %s", path, path);
		return -EACCES;
	}
	if (!o->url) {
		snprintf(err, errlen, "account \"%s\" in %s has no url", name, path);
		return -EINVAL;
	}
	return 0;
}

int config_account(struct mfs_options *o, char *err, size_t errlen)
{
	char *path;
	int r;

	if (!o->account)
		return 0;
	path = config_path();
	if (!path) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = config_load(path, o->account, o, err, errlen);
	free(path);
	return r;
}
