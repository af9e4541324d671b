/* change.c - file operations that change the server (SPEC §2 "Operations"),
 * and what they change in the cache and the kernel afterwards.
 *
 * The server is asked first; only when it agreed is the cache updated. So a
 * failed operation leaves the cache as it was, and the error reaches the
 * program that caused it.
 */
#include "fs/engine/change.h"
#include "fs/engine/layout.h"
#include "fs/log.h"
#include "cache/body.h"
#include "cache/store.h"
#include "net/imap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct row {
	struct store_msg m;
	char *name, *flags, *msgid, *uidl;
	int found;
};

static int copy_row(void *ctx, const struct store_msg *msg)
{
	struct row *r = ctx;

	r->m = *msg;
	r->name = strdup(msg->name);
	r->flags = strdup(msg->flags);
	r->msgid = msg->msgid ? strdup(msg->msgid) : NULL;
	r->uidl = msg->uidl ? strdup(msg->uidl) : NULL;
	r->m.name = r->name;
	r->m.flags = r->flags;
	r->m.msgid = r->msgid;
	r->m.uidl = r->uidl;
	r->found = r->name && r->flags;
	return 0;
}

static void row_free(struct row *r)
{
	free(r->name);
	free(r->flags);
	free(r->msgid);
	free(r->uidl);
}

void change_forget(struct engine *m, struct folder *f, uint32_t uid)
{
	struct row row = { 0 };

	pthread_mutex_lock(&f->lock);
	f->gone_uids[f->ngone++ % 256] = uid;
	pthread_mutex_unlock(&f->lock);

	if (store_msg_get(m->store, f->id, uid, copy_row, &row) < 0)
		return;
	store_msg_delete(m->store, f->id, &uid, 1);
	body_remove(m->bodies, f->id, uid);
	if (row.found)
		tell_entry(m, f->id, row.name);
	tell_dir(m, f->id);
	folder_touch(f);
	row_free(&row);
}

/* Move F/UID into TO, and let the cache follow without a download: same
 * bytes, date and flags under the new UID. The row and the body are taken
 * before the MOVE, because the server's EXPUNGE of the source arrives
 * during it (and removes them). *nuid_r is 0 when the server did not say
 * the new UID; then TO is synced soon instead. */
static int move_msg(struct engine *m, struct folder *f, uint32_t uid, struct folder *to,
                    uint32_t *nuid_r)
{
	struct row row = { 0 };
	struct body_tmp held = { .fd = -1 };
	struct driver_folder vf, vt;
	char *name = NULL;
	uint32_t nuid = 0;
	int r;

	if (store_msg_get(m->store, f->id, uid, copy_row, &row) < 0 || !row.found) {
		row_free(&row);
		return -ENOENT;
	}
	body_hold(m->bodies, f->id, uid, &held);
	vf = folder_view(m, f);
	vt = folder_view(m, to);
	r = m->driver->move(m->drv, &vf, uid, &vt, &nuid);
	if (r == 0 && nuid)
		name = layout_message_rename(row.name, nuid);
	if (name) {
		row.m.uid = nuid;
		row.m.name = name;
		row.m.modseq = 0;
		if (store_msg_put(m->store, to->id, &row.m, 1) == 0 && held.fd >= 0)
			body_commit(m->bodies, &held, to->id, nuid, 0);
		tell_dir(m, to->id);
	} else if (r == 0) {
		folder_sync_later(m, to);
	}
	if (r == 0)
		change_forget(m, f, uid);
	body_tmp_close(m->bodies, &held);
	free(name);
	row_free(&row);
	*nuid_r = name ? nuid : 0;
	return r;
}

/* rm of F/UID on the server; where the cache is the only copy (POP3), rm
 * is local (SPEC §3): the UIDL is remembered so the message is never
 * downloaded again, and the server copy stays (unless pop3_delete takes
 * it at the next round). */
static int remove_one(struct engine *m, struct folder *f, uint32_t uid)
{
	struct driver_folder v = folder_view(m, f);
	struct row row = { 0 };
	int r;

	if (m->driver->remove)
		return m->driver->remove(m->drv, &v, uid);
	if (!(m->driver->caps & DRIVER_UIDL))
		return -EPERM;
	r = store_msg_get(m->store, f->id, uid, copy_row, &row);
	if (r == 0 && row.uidl)
		r = store_pop3_set_state(m->store, row.uidl, STORE_POP3_REMOVED);
	row_free(&row);
	return r;
}

int change_unlink(struct engine *m, struct folder *f, uint32_t uid)
{
	int r;

	if (m->opt->trash) {
		/* trash=FOLDER: rm moves there; in the trash itself it deletes.
		 * trash=\\Trash: the folder the server gives that role, whatever
		 * its (localized) name. */
		const char *trash = m->opt->trash;
		struct folder *t = trash[0] == '\\' ? tree_by_role(m, folder_role_parse(trash))
		                                    : tree_by_path(m, trash);

		if (!t || !folder_server(t) || (folder_flags(t) & STORE_FOLDER_NOSELECT)) {
			log_warn("trash folder %s does not exist on the server", m->opt->trash);
			return -EIO;
		}
		if (t != f) {
			uint32_t nuid;

			r = folder_ensure(m, t);
			return r < 0 ? r : move_msg(m, f, uid, t, &nuid);
		}
	}
	r = remove_one(m, f, uid);
	if (r == 0)
		change_forget(m, f, uid);
	return r;
}

int change_move(struct engine *m, struct folder *f, uint32_t uid, struct folder *to,
                uint32_t *uid_r)
{
	int r;

	*uid_r = 0;
	if (!m->driver->move)
		return -EPERM;
	if (!folder_server(to) || (folder_flags(to) & STORE_FOLDER_NOSELECT))
		return -EXDEV;    /* not a folder that can hold messages */
	r = folder_ensure(m, to);
	if (r < 0)
		return r;
	return move_msg(m, f, uid, to, uid_r);
}

int change_set_flags(struct engine *m, struct folder *f, uint32_t uid, const char *value,
                     size_t len)
{
	/* Atoms only (SPEC §5); a trailing newline from `setfattr -v "$(...)"`
	 * and friends is only a separator. */
	char *flags = imap_flags_normalize(value, len);
	int r;

	if (!flags)
		return -errno;
	if (m->driver->set_flags) {
		struct driver_folder v = folder_view(m, f);

		r = m->driver->set_flags(m->drv, &v, uid, flags);
	} else {
		r = -EPERM;
	}
	free(flags);
	return r;
}

int change_mkdir(struct engine *m, int64_t parent, const char *name, struct folder **f_r)
{
	char *server = NULL;
	struct folder *f;
	int r;

	if (tree_child(m, parent, name))
		return -EEXIST;
	r = tree_server_name(m, parent, name, &server);
	if (r < 0)
		return r;
	r = m->driver->mkdir ? m->driver->mkdir(m->drv, server) : -EPERM;
	free(server);
	if (r < 0)
		return r;
	r = tree_refresh(m, NULL, 0);
	if (r < 0)
		return r;
	f = tree_child(m, parent, name);
	if (!f)
		return -EIO;     /* created, but the server does not list it */
	*f_r = f;
	return 0;
}

static void count_child(void *ctx, struct folder *f)
{
	(void)f;
	(*(int *)ctx)++;
}

int change_rmdir(struct engine *m, struct folder *f)
{
	int kids = 0, r;

	if (folder_server(f) && strcasecmp(folder_server(f), "INBOX") == 0)
		return -EPERM;
	tree_children(m, f->id, count_child, &kids);
	if (kids)
		return -ENOTEMPTY;
	if (folder_server(f)) {
		struct driver_folder v = folder_view(m, f);

		r = m->driver->rmdir ? m->driver->rmdir(m->drv, &v,
		                                         folder_flags(f) & STORE_FOLDER_NOSELECT)
		                     : -EPERM;
		if (r < 0)
			return r;
	}
	/* The folder list now says what is left (an implied parent may go). */
	r = tree_refresh(m, NULL, 0);
	if (r >= 0 && !folder_gone(f)) {
		/* Still listed: the server kept it as a \Noselect parent. */
		log_info("folder %s was deleted but is still listed by the server", folder_name(f));
	}
	return 0;
}

int change_rename_dir(struct engine *m, struct folder *f, int64_t parent, const char *name)
{
	char *server = NULL;
	int r;

	if (!folder_server(f) || strcasecmp(folder_server(f), "INBOX") == 0)
		return folder_server(f) ? -EPERM : -EXDEV;
	if (tree_child(m, parent, name))
		return -EEXIST;
	for (int64_t p = parent; p; ) {
		struct folder *a = tree_get(m, p);
		if (!a)
			break;
		if (a == f)
			return -EINVAL;   /* into itself */
		p = folder_parent(a);
	}
	r = tree_server_name(m, parent, name, &server);
	if (r < 0)
		return r;
	if (m->driver->rename) {
		struct driver_folder v = folder_view(m, f);

		r = m->driver->rename(m->drv, &v, server);
	} else {
		r = -EPERM;
	}
	if (r == 0)
		r = tree_rename(m, f, parent, name, server);
	free(server);
	if (r == 0)
		tree_refresh(m, NULL, 0);
	return r;
}
