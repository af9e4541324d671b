/* secret.h - getting the password or token (SPEC §1): password_command,
 * password_file, oauth2_token_command, or a prompt on the terminal.
 *
 * The secret never goes into argv, the environment of children, or a log.
 */
#ifndef MAILFS_SECRET_H
#define MAILFS_SECRET_H

#include <stddef.h>

struct mfs_options;

/* Get the secret for O into a malloc'd string (caller wipes with
 * explicit_bzero and frees). Returns 0 or a negative errno with a one-line
 * reason in err. */
int secret_get(const struct mfs_options *o, char **secret_r, char *err, size_t errlen);

/* Run CMD with /bin/sh -c and return the first line of its stdout
 * (malloc'd). Exposed for tests. */
int secret_from_command(const char *cmd, char **out_r, char *err, size_t errlen);
/* First line of PATH, refused when someone else owns it or group or others
 * may read or write it (config_check_file). */
int secret_from_file(const char *path, char **out_r, char *err, size_t errlen);

#endif
