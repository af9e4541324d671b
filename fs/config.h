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
 * alone on its line, "= yes" or "= no", or its no-form alone; numbers as
 * on the command line, options_set_value()), plus `url` (required),
 * `mountpoint` and `password`; of a key given twice, the first counts.
 * The file is refused when someone else owns it or may write to it,
 * whatever it holds (a password_command is code that mailfs runs), and
 * when it holds a password that group or others may read (SPEC §5). What
 * the command line says wins over the file.
 */
#ifndef MAILFS_CONFIG_H
#define MAILFS_CONFIG_H

#include <stddef.h>
#include <sys/stat.h>

struct mfs_options;

/* Whether the file WHAT ("account file", "password file") at PATH, whose
 * fstat() of the open descriptor is ST, may be trusted: owned by the user
 * running mailfs (the effective uid) and not writable by group or others.
 * Returns 0, or -EACCES with one line in err that names the file, says what
 * is wrong and gives the command that fixes it ("chmod CHMOD_MODE PATH",
 * e.g. "go-w" or "600", or the chown). */
int config_check_file(const char *what, const char *path, const struct stat *st,
                      const char *chmod_mode, char *err, size_t errlen);

/* The config file's path (malloc'd), from XDG_CONFIG_HOME or HOME. */
char *config_path(void);

/* Fill what O does not set yet (O as options_parse() leaves it: a string
 * NULL or an int OPTIONS_UNSET is not set) from account NAME of the file at
 * PATH.
 * Returns 0, or -errno with a one-line reason in err (no such account, a
 * line that is not understood, a file someone else owns or may change, a
 * secret in a file others can read). */
int config_load(const char *path, const char *name, struct mfs_options *o,
                char *err, size_t errlen);

/* `mailfs NAME MOUNTPOINT`: when O names an account (o->account), its
 * options in the account file at config_path() fill what the command line
 * left unset (config_load). 0 when O names none. */
int config_account(struct mfs_options *o, char *err, size_t errlen);

#endif
