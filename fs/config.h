/* config.h - named accounts in $XDG_CONFIG_HOME/mailfs/config (or
 * ~/.config/mailfs/config), so that `mailfs work ~/mail` works:
 *
 *     # comment
 *     [work]
 *     url = imaps://alice%40example.org@imap.example.org
 *     password_command = pass show mail/work
 *     cache_size = 2G
 *     prefetch
 *
 * A section is an account; its keys are the -o options of SPEC §1 (a flag
 * alone on its line, or "= yes"), plus `url` (required), `mountpoint` and
 * `password`. A file that holds a password is refused when group or others
 * may read it. What the command line says wins over the file.
 */
#ifndef MAILFS_CONFIG_H
#define MAILFS_CONFIG_H

#include <stddef.h>

struct mfs_options;

/* The config file's path (malloc'd), from XDG_CONFIG_HOME or HOME. */
char *config_path(void);

/* Fill what O does not set yet from account NAME of the file at PATH.
 * Returns 0, or -errno with a one-line reason in err (no such account, a
 * line that is not understood, a secret in a file others can read). */
int config_load(const char *path, const char *name, struct mfs_options *o,
                char *err, size_t errlen);

#endif
