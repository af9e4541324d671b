/* log.h - where mailfs says things: stderr until it daemonizes (and always
 * in the foreground), syslog afterwards. Only fs/ logs; net/ and cache/
 * return reasons instead. */
#ifndef MAILFS_LOG_H
#define MAILFS_LOG_H

#include <stddef.h>

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_init(int debug);
/* Switch to syslog (after daemonizing). */
void log_to_syslog(void);
/* One line; controls, invalid UTF-8, bidi and invisible characters in it are
 * shown as escapes (utf8_visible), whatever their source. */
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int log_debug_enabled(void);
/* A protocol trace callback for -d (struct imap_params/pop3_params .trace):
 * logs one line sent ('C') or received ('S') at debug level. */
void log_protocol(void *ctx, char dir, const char *line, size_t len);

#define log_err(...)   log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_debug_enabled()) log_msg(LOG_LVL_DEBUG, __VA_ARGS__); } while (0)

#endif
