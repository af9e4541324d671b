/* log.c - stderr or syslog. */
#include "fs/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
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
	va_list ap;

	va_start(ap, fmt);
	if (use_syslog) {
		vsyslog(prio[lvl], fmt, ap);
	} else {
		pthread_mutex_lock(&log_lock);
		fprintf(stderr, "mailfs: %s", tag[lvl]);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		pthread_mutex_unlock(&log_lock);
	}
	va_end(ap);
}

void log_protocol(void *ctx, char dir, const char *line, size_t len)
{
	(void)ctx;
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	log_debug("%c: %.*s", dir, (int)len, line);
}
