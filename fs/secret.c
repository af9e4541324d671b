/* secret.c - password sources. */
#include "fs/secret.h"
#include "fs/config.h"
#include "fs/options.h"
#include "net/utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define SECRET_MAX 16384   /* OAuth2 tokens can be long; passwords are not */

/* Keep the first line of BUF (LEN bytes) as a new string. */
static char *first_line(const char *buf, size_t len)
{
	size_t n = 0;

	while (n < len && buf[n] != '\n' && buf[n] != '\r' && buf[n] != '\0')
		n++;
	return strndup(buf, n);
}

static ssize_t read_all(int fd, char *buf, size_t size)
{
	size_t got = 0;

	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int secret_from_command(const char *cmd, char **out_r, char *err, size_t errlen)
{
	char *buf = NULL;
	int pfd[2], status, r = -EIO;
	ssize_t n;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "cannot run password command: %s", strerror(errno));
		return -errno;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "cannot run password command: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return -EIO;
	}
	if (pid == 0) {
		/* stdin stays as it is: a command such as `pass` may prompt. */
		dup2(pfd[1], 1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	buf = malloc(SECRET_MAX + 1);
	n = buf ? read_all(pfd[0], buf, SECRET_MAX) : -1;
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (n < 0) {
		snprintf(err, errlen, "cannot read the output of the password command");
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(err, errlen, "the password command failed (exit status %d): %s",
		         WIFEXITED(status) ? WEXITSTATUS(status) : -1, cmd);
	} else {
		*out_r = first_line(buf, (size_t)n);
		if (!*out_r)
			r = -ENOMEM;
		else if (!**out_r) {
			free(*out_r);
			snprintf(err, errlen, "the password command printed nothing: %s", cmd);
		} else
			r = 0;
	}
	if (buf) {
		explicit_bzero(buf, SECRET_MAX + 1);
		free(buf);
	}
	return r;
}

int secret_from_file(const char *path, char **out_r, char *err, size_t errlen)
{
	char *buf;
	struct stat st;
	ssize_t n;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open password file %s: %s", path, strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) < 0) {
		close(fd);
		snprintf(err, errlen, "cannot read password file %s: %s", path, strerror(errno));
		return -EIO;
	}
	/* SPEC §5, on the descriptor that is read: someone else's file, or one
	 * others may write, could hand mailfs a password of their choosing
	 * (their server, our mail); one others may read gives it away. */
	r = config_check_file("password file", path, &st, "600", err, errlen);
	if (r < 0) {
		close(fd);
		return r;
	}
	if (st.st_mode & 077) {
		close(fd);
		snprintf(err, errlen, "password file %s can be read by others; "
		         "run: chmod 600 %s", path, path);
		return -EACCES;
	}
	buf = malloc(SECRET_MAX + 1);
	n = buf ? read_all(fd, buf, SECRET_MAX) : -1;
	close(fd);
	if (n < 0) {
		free(buf);
		snprintf(err, errlen, "cannot read password file %s", path);
		return -EIO;
	}
	*out_r = first_line(buf, (size_t)n);
	explicit_bzero(buf, SECRET_MAX + 1);
	free(buf);
	if (!*out_r)
		return -ENOMEM;
	if (!**out_r) {
		free(*out_r);
		snprintf(err, errlen, "password file %s is empty", path);
		return -EINVAL;
	}
	return 0;
}

/* Ask on the controlling terminal without echo. The answer is read with
 * read(2) into BUF, which is wiped: a stdio FILE would keep its own copy
 * in a buffer that fclose() frees unwiped. */
static int prompt(const struct mfs_options *o, char **out_r, char *err, size_t errlen)
{
	struct termios old, quiet;
	char buf[1024], user[4 * 256 + 1];
	size_t got = 0;
	ssize_t n;
	int fd, restore;

	fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "no password given: use -o password_command=CMD or "
		         "-o password_file=PATH, or run mailfs from a terminal");
		return -EINVAL;
	}
	/* Echo goes off before the prompt shows (as getpass(3) does): what
	 * is typed after the prompt is never echoed nor flushed away. */
	restore = tcgetattr(fd, &old) == 0;
	if (restore) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	/* The user name is percent-decoded from the URL: no escape
	 * sequence of it reaches the terminal (SPEC §5). */
	utf8_visible(user, sizeof(user), o->user, strnlen(o->user, 256), 0);
	dprintf(fd, "Password for %s@%s: ", user, o->host);
	/* Canonical mode: each read(2) gives at most one line. */
	while (got < sizeof(buf) - 1) {
		n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (memchr(buf + got - (size_t)n, '\n', (size_t)n))
			break;
	}
	if (restore)
		tcsetattr(fd, TCSAFLUSH, &old);
	n = write(fd, "\n", 1);     /* the Enter that was not echoed */
	(void)n;
	close(fd);
	if (got == 0) {
		snprintf(err, errlen, "no password entered");
		return -EINVAL;
	}
	*out_r = first_line(buf, got);
	explicit_bzero(buf, sizeof(buf));
	return *out_r ? 0 : -ENOMEM;
}

int secret_get(const struct mfs_options *o, char **secret_r, char *err, size_t errlen)
{
	if (o->password) {
		*secret_r = strdup(o->password);
		return *secret_r ? 0 : -ENOMEM;
	}
	if (o->password_command)
		return secret_from_command(o->password_command, secret_r, err, errlen);
	if (o->oauth2_token_command)
		return secret_from_command(o->oauth2_token_command, secret_r, err, errlen);
	if (o->password_file)
		return secret_from_file(o->password_file, secret_r, err, errlen);
	if (isatty(0))
		return prompt(o, secret_r, err, errlen);
	snprintf(err, errlen, "no password given: use -o password_command=CMD or "
	         "-o password_file=PATH, or run mailfs from a terminal");
	return -EINVAL;
}
