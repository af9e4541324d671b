/* imapd_changes.c - what the IMAP driver changes on the server (SPEC §2
 * "Operations"): exact deletes, moves, APPEND (and finding a message whose
 * APPEND answer was cut off), flags, folders. */
#include "fs/engine/drivers/imapd.h"
#include "fs/options.h"
#include "fs/log.h"
#include "net/mime.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A session with F selected read-write, events going to F. */
static struct slot *select_rw(struct imapd *d, const struct driver_folder *f, int *r_out)
{
	struct slot *sl = imapd_pool_get(d, f->server, r_out);
	int r;

	if (!sl)
		return NULL;
	sl->folder = f->id;
	r = imap_select(sl->s, f->server, 0, 0, 0, 0, &imapd_events, sl, NULL);
	if (r < 0) {
		*r_out = r;
		imapd_pool_put(sl);
		return NULL;
	}
	return sl;
}

/* Make sure this session sees message UID: it answers UID FETCH with it.
 * A session whose view predates the message (another connection moved it
 * in or appended it) hears of it only at its next command, and a STORE or
 * MOVE of it would match nothing, answered OK all the same: so one NOOP
 * and a second look. -ENOENT when the server does not have it. Without
 * QRESYNC this also maps its sequence number, so that an EXPUNGE removes
 * the right file. */
static int ensure_present(struct slot *sl, uint32_t uid)
{
	char set[16];
	int r;

	snprintf(set, sizeof(set), "%u", uid);
	for (int look = 0; look < 2; look++) {
		imap_watch(sl->s, uid);
		r = imap_uid_fetch(sl->s, set, "UID", NULL);
		if (r < 0)
			return r;
		if (imap_watched(sl->s))
			return 0;
		if (look == 0 && (r = imap_noop(sl->s)) < 0)
			return r;
	}
	return -ENOENT;
}

struct deleted {
	uint32_t uid;
	int others;
};

static void deleted_cb(void *ctx, uint32_t lo, uint32_t hi)
{
	struct deleted *d = ctx;

	if (lo != d->uid || hi != d->uid)
		d->others = 1;
}

/* Without UIDPLUS, a plain EXPUNGE would take every \Deleted message of
 * the folder with it: only allowed when no message but UID is \Deleted
 * (SPEC §2). Returns 0 when it is safe, -EPERM when not. */
static int only_deleted(struct slot *sl, uint32_t uid)
{
	struct deleted d = { .uid = uid };
	/* NOOP first: a server may answer SEARCH from the state it last
	 * reported, missing flags another client set since (Dovecot does). */
	int r = imap_noop(sl->s);

	if (r == 0)
		r = imap_command(sl->s, "UID SEARCH DELETED", deleted_cb, &d);

	if (r < 0)
		return r;
	return d.others ? -EPERM : 0;
}

/* Expunge exactly UID: \Deleted, then UID EXPUNGE of that UID (UIDPLUS). */
static int expunge_one(struct slot *sl, uint32_t uid)
{
	int uidplus = imap_caps(sl->s) & IMAP_CAP_UIDPLUS;
	int r;

	if (!uidplus && (r = only_deleted(sl, uid)) < 0) {
		if (r == -EPERM)
			log_warn("cannot delete message %u of %s alone: the server has no UIDPLUS "
			         "and other messages there are marked \\Deleted", uid,
			         imap_selected(sl->s));
		return r;
	}
	r = ensure_present(sl, uid);
	if (r == 0)
		r = imap_uid_store(sl->s, uid, "+FLAGS.SILENT", "\\Deleted");
	if (r < 0)
		return r;
	if (uidplus) {
		r = imap_uid_expunge(sl->s, uid);
		/* Refused: the flag comes off again, or another client's
		 * EXPUNGE would remove the message later, after rm failed. */
		if (r < 0 && !imap_broken(sl->s))
			imap_uid_store(sl->s, uid, "-FLAGS.SILENT", "\\Deleted");
		return r;
	}
	/* Checked again right before: another client may have marked one
	 * meanwhile. */
	r = only_deleted(sl, uid);
	if (r == 0)
		r = imap_command(sl->s, "EXPUNGE", NULL, NULL);
	else
		imap_uid_store(sl->s, uid, "-FLAGS.SILENT", "\\Deleted");
	return r;
}

/* A UID the server gave in COPYUID/APPENDUID (RFC 4315) for folder F, if it
 * is of the UIDVALIDITY the cache holds; else 0 (unknown). */
static uint32_t known_uid(const struct driver_folder *f, uint32_t uidvalidity, uint32_t uid)
{
	return uidvalidity && uidvalidity == f->uidvalidity ? uid : 0;
}

int imapd_move(void *drv, const struct driver_folder *f, uint32_t uid,
               const struct driver_folder *to, uint32_t *uid_r)
{
	struct slot *sl;
	uint32_t uv = 0, nuid = 0;
	int r;

	*uid_r = 0;
	sl = select_rw(drv, f, &r);
	if (!sl)
		return r;
	r = ensure_present(sl, uid);
	if (r == 0 && (imap_caps(sl->s) & IMAP_CAP_MOVE)) {
		r = imap_uid_move(sl->s, uid, to->server, &uv, &nuid);
	} else if (r == 0) {
		/* UID COPY + delete; refuse before copying if the delete could
		 * not be exact, so that no duplicate is left behind. */
		if (!(imap_caps(sl->s) & IMAP_CAP_UIDPLUS))
			r = only_deleted(sl, uid);
		if (r == 0)
			r = imap_uid_copy(sl->s, uid, to->server, &uv, &nuid);
		if (r == 0)
			r = expunge_one(sl, uid);
	}
	if (r == 0)
		*uid_r = known_uid(to, uv, nuid);
	imapd_pool_put(sl);
	return r;
}

int imapd_remove(void *drv, const struct driver_folder *f, uint32_t uid)
{
	struct slot *sl;
	int r;

	sl = select_rw(drv, f, &r);
	if (!sl)
		return r;
	r = expunge_one(sl, uid);
	imapd_pool_put(sl);
	return r;
}

struct landed {
	struct engine *m;
	int64_t folder;
	uint32_t from;           /* UIDs below existed before the APPEND */
	uint32_t uid;            /* the newest match that is not in the cache */
	unsigned checked;        /* a bound against a server that answers 1:4294967295 */
};

static void landed_cb(void *ctx, uint32_t lo, uint32_t hi)
{
	struct landed *l = ctx;

	for (uint32_t u = hi; u >= lo && u >= l->from && u > l->uid; u--) {
		if (++l->checked > 1000)
			break;
		if (!driver_msg_known(l->m, l->folder, u)) {
			l->uid = u;
			break;
		}
		if (u == 0)
			break;
	}
}

/* The connection broke after the message may have reached the server. If it
 * did, a failure from close() would make the user copy it a second time, so
 * look for it over a new connection: a message with the same Message-ID and
 * exactly the same size, newer than what the folder held before the APPEND
 * (FROM) and not one mailfs knew already, is this one. Returns 1 with
 * *uid_r (0 when the UID cannot be trusted), 0 when it is not there, or a
 * negative errno when that cannot be told (no Message-ID, still no
 * network): then the failure stands. */
static int append_landed(struct imapd *d, const struct driver_folder *f, int fd, uint64_t size,
                         uint32_t from, uint32_t *uid_r)
{
	struct landed l = { .m = d->m, .folder = f->id, .from = from };
	char hdr[16384], cmd[1200];
	ssize_t n = pread(fd, hdr, sizeof(hdr), 0);
	char *id = n > 0 ? mime_header(hdr, (size_t)n, "Message-ID") : NULL;
	struct slot *sl;
	int r = -EINVAL;

	/* Only what fits a quoted string as it is. */
	for (const char *p = id; p && *p; p++)
		if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\')
			goto out;
	if (!id || !*id || size < 1 || strlen(id) > 900)
		goto out;
	snprintf(cmd, sizeof(cmd), "UID SEARCH UID %u:* HEADER Message-ID \"%s\" "
	         "LARGER %" PRIu64 " SMALLER %" PRIu64, from ? from : 1, id, size - 1, size + 1);
	sl = select_rw(d, f, &r);
	if (!sl)
		goto out;
	r = imap_command(sl->s, cmd, landed_cb, &l);
	if (r == 0 && l.uid) {
		*uid_r = known_uid(f, imap_mailbox(sl->s)->uidvalidity, l.uid);
		r = 1;
	}
	imapd_pool_put(sl);
out:
	free(id);
	return r;
}

int imapd_append(void *drv, const struct driver_folder *f, uint32_t from, int fd,
                 uint64_t size, const char *flags, time_t date, uint32_t *uid_r)
{
	struct imapd *d = drv;
	struct slot *sl = imapd_pool_get(d, f->server, &(int){ 0 });
	uint32_t uv = 0, uid = 0;
	int r, cut;

	*uid_r = 0;
	if (!sl)
		return -EIO;
	r = imap_append(sl->s, f->server, flags, date, fd, size, &uv, &uid);
	if (r == 0)
		*uid_r = known_uid(f, uv, uid);
	else
		log_warn("cannot append to %s: %s", f->server, imap_error(sl->s));
	/* Dovecot says [LIMIT] for a message over quota_max_mail_size where
	 * RFC 7889 has [TOOBIG]: both mean "too large". */
	if (r == -ENOSPC && strcasecmp(imap_resp_code(sl->s), "LIMIT") == 0)
		r = -EFBIG;
	cut = r < 0 && imap_fail_class(sl->s) == IMAP_FAIL_CONN;
	imapd_pool_put(sl);
	if (cut && append_landed(d, f, fd, size, from, uid_r) == 1) {
		log_info("the connection broke during the APPEND to %s, but the server "
		         "has the message (UID %u)", f->server, *uid_r);
		r = 0;
	}
	return r;
}

int imapd_set_flags(void *drv, const struct driver_folder *f, uint32_t uid, const char *flags)
{
	struct slot *sl;
	int r;

	sl = select_rw(drv, f, &r);
	if (!sl)
		return r;
	/* Not .SILENT: the FETCH the server answers with updates the cache
	 * with what it really kept (PERMANENTFLAGS may drop keywords). */
	r = ensure_present(sl, uid);
	if (r == 0)
		r = imap_uid_store(sl->s, uid, "FLAGS", flags);
	imapd_pool_put(sl);
	return r;
}

int imapd_mkdir(void *drv, const char *server)
{
	struct slot *sl = imapd_pool_get(drv, NULL, &(int){ 0 });
	int r;

	if (!sl)
		return -EIO;
	r = imap_create(sl->s, server);
	imapd_pool_put(sl);
	return r;
}

/* A server that lacks UNSELECT may refuse to DELETE or RENAME a folder
 * that another connection has open ("NO Can't RENAME the currently-open
 * folder"): once the pool's other sessions left it, the command is tried
 * again. */
static int retry_left(struct imapd *d, struct slot *sl, const char *server, int r)
{
	if (r < 0 && !imap_broken(sl->s) && imap_fail_class(sl->s) == IMAP_FAIL_NO) {
		imapd_pool_leave(d, server);
		return 1;
	}
	return 0;
}

int imapd_rmdir(void *drv, const struct driver_folder *f, int noselect)
{
	/* (the session that has the folder selected, if one has: it leaves it) */
	struct slot *sl = imapd_pool_get(drv, f->server, &(int){ 0 });
	uint32_t n = 0;
	int r = 0;

	if (!sl)
		return -EIO;
	/* Some servers (Dovecot among them) delete a folder with its
	 * messages: rmdir must only ever remove an empty one. */
	if (!noselect)
		r = imap_status_messages(sl->s, f->server, &n);
	if (r == 0 && n > 0)
		r = -ENOTEMPTY;
	else if (r == 0) {
		r = imap_delete(sl->s, f->server);
		if (retry_left(drv, sl, f->server, r))
			r = imap_delete(sl->s, f->server);
	}
	imapd_pool_put(sl);
	return r;
}

int imapd_rename(void *drv, const struct driver_folder *f, const char *server)
{
	struct slot *sl = imapd_pool_get(drv, f->server, &(int){ 0 });
	int r;

	if (!sl)
		return -EIO;
	r = imap_rename(sl->s, f->server, server);
	if (retry_left(drv, sl, f->server, r))
		r = imap_rename(sl->s, f->server, server);
	imapd_pool_put(sl);
	return r;
}
