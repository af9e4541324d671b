/* dirlist.c - a message folder's listing, streamed from the store (issue 16).
 *
 * Nothing of a listing is kept between readdir calls: the directory offset
 * handed to the kernel says where the store resumes (DIR_OFF_MSGS + UID,
 * face.h), and each call reads only the rows that fit in its reply. A
 * folder of a million messages costs what one reply holds, and programs
 * listing it at once cost nothing extra. Messages are listed in UID order,
 * and a call only ever asks for UIDs above the offset it was given, so
 * what arrives or goes during a listing follows readdir(3): no entry twice,
 * every unchanged entry once, one added or removed meanwhile shown or not.
 */
#include "fs/face/face.h"
#include "cache/store.h"

#include <errno.h>
#include <string.h>

int dirbuf_add(struct dirbuf *b, const char *name, const struct stat *st, double ttl,
               off_t next)
{
	size_t n;

	if (b->full)
		return 0;
	if (b->plus) {
		struct fuse_entry_param e = {
			.ino = st->st_ino, .attr = *st, .entry_timeout = ttl, .attr_timeout = ttl,
		};
		n = fuse_add_direntry_plus(b->req, b->buf + b->used, b->size - b->used, name, &e,
		                           next);
	} else {
		n = fuse_add_direntry(b->req, b->buf + b->used, b->size - b->used, name, st, next);
	}
	if (n > b->size - b->used) {
		b->full = 1;
		return 0;
	}
	b->used += n;
	return 1;
}

struct msgs_ctx {
	struct face *fc;
	struct dirbuf *b;
	int64_t folder;
};

/* Runs with the store locked: formats only. */
static int add_msg(void *ctx, const struct store_msg *msg)
{
	struct msgs_ctx *c = ctx;
	struct stat st;

	face_msg_attr(c->fc, c->folder, msg, &st);
	return dirbuf_add(c->b, msg->name, &st, TTL_LONG, DIR_OFF_MSGS + (off_t)msg->uid) ? 0 : 1;
}

int dirlist_msgs(struct face *fc, int64_t folder, off_t off, struct dirbuf *b)
{
	struct msgs_ctx c = { .fc = fc, .b = b, .folder = folder };
	/* The smallest entry takes 32 bytes (24 of header, a name padded to
	 * 8), one with attributes 128 more: no more rows than could fit. */
	size_t limit = b->size / (b->plus ? 160 : 32) + 1;
	uint32_t after = 0;
	int r;

	if (off >= DIR_OFF_MSGS + (off_t)UINT32_MAX)
		return 0;
	if (off > DIR_OFF_MSGS)
		after = (uint32_t)(off - DIR_OFF_MSGS);
	r = store_msg_list(fc->m->store, folder, after, limit, add_msg, &c);
	return r < 0 ? r : 0;
}
