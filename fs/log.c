/* log.c - stderr or syslog. */
#include "fs/log.h"
#include "net/utf8.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <time.h>

static int debug_on;
static int use_syslog;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_init(int debug)
{
	debug_on = debug;
}

void log_to_syslog(void)
{
	openlog("mailfs", LOG_PID, LOG_DAEMON);
	use_syslog = 1;
}

int log_debug_enabled(void)
{
	return debug_on;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	static const char *const tag[] = { "error: ", "warning: ", "", "debug: " };
	/* Most lines fit here; a longer one (a -d trace of a long response)
	 * is formatted and rendered on the heap. */
	char small[1024], small_vis[4 * sizeof(small) + 1];
	char *text = small, *big = NULL, *vis = small_vis;
	size_t vis_size = sizeof(small_vis);
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(small)) {
		int big_len;

		va_start(ap, fmt);
		big_len = vasprintf(&big, fmt, ap);
		va_end(ap);
		if (big_len < 0)
			big = NULL;
		else
			vis = malloc(4 * (size_t)big_len + 1);
		if (big && vis) {
			text = big;
			n = big_len;
			vis_size = 4 * (size_t)big_len + 1;
		} else {
			vis = small_vis;    /* out of memory: the line is cut */
			n = (int)sizeof(small) - 1;
		}
	}
	/* The line carries what servers said (NO reasons, BYE text, -d
	 * traces) and lands on a terminal or in syslog: an ESC from a hostile
	 * server must not drive the user's terminal (SPEC §5). */
	utf8_visible(vis, vis_size, text, (size_t)n, 0);
	if (use_syslog) {
		syslog(prio[lvl], "%s", vis);
	} else {
		pthread_mutex_lock(&log_lock);
		fprintf(stderr, "mailfs: %s%s\n", tag[lvl], vis);
		pthread_mutex_unlock(&log_lock);
	}
	if (vis != small_vis)
		free(vis);
	free(big);
}

void log_protocol(void *ctx, char dir, const char *line, size_t len)
{
	(void)ctx;
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	log_debug("%c: %.*s", dir, (int)len, line);
}
