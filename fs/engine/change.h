/* change.h - operations that change the server (SPEC §2 "Operations"): the
 * server first, then the cache and the kernel. 0 or a negative errno meant
 * for the program that asked. */
#ifndef MAILFS_CHANGE_H
#define MAILFS_CHANGE_H

#include "fs/engine/engine.h"

/* rm: expunge exactly F/UID, or with trash= move it there. */
int change_unlink(struct engine *m, struct folder *f, uint32_t uid);
/* mv to another directory: move F/UID into TO; *uid_r gets its UID there,
 * 0 when the server did not say. */
int change_move(struct engine *m, struct folder *f, uint32_t uid, struct folder *to,
                uint32_t *uid_r);
/* setxattr user.mail.flags. */
int change_set_flags(struct engine *m, struct folder *f, uint32_t uid, const char *value,
                     size_t len);
/* mkdir / rmdir / rename of directories. */
int change_mkdir(struct engine *m, int64_t parent, const char *name, struct folder **f_r);
int change_rmdir(struct engine *m, struct folder *f);
int change_rename_dir(struct engine *m, struct folder *f, int64_t parent, const char *name);

/* Forget F/UID in the cache and the kernel (it left the server). */
void change_forget(struct engine *m, struct folder *f, uint32_t uid);

#endif
