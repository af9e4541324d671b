/* imapd_sync.c - what an IMAP server says about a folder (the events every
 * session's responses go through), the sync of a folder (SPEC §2, §4), and
 * body downloads. */
#include "fs/engine/drivers/imapd.h"
#include "net/grow.h"
#include "fs/engine/fetch.h"
#include "fs/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 2000             /* messages reported to the engine at once */

/* The metadata asked for every new message: what the tree shows. */
#define META_ITEMS "UID FLAGS RFC822.SIZE INTERNALDATE " \
                   "BODY.PEEK[HEADER.FIELDS (SUBJECT MESSAGE-ID)]"

/* A comparison of every UID with the cache, streamed (issue 16): the
 * server lists UIDs in ascending order (its sequence order), and they are
 * merged with the cache's, read CMP_BATCH at a time. Cached UIDs passed
 * over are gone, listed ones not cached are missing; both are kept as
 * ranges, acted on only once the server's answer is complete (a reply cut
 * half-way changes nothing), at most CMP_RANGES of each a round: when they
 * fill up, another round compares from where this one stopped. */
#ifndef CMP_BATCH
#define CMP_BATCH 4096        /* (tests build with small ones) */
#endif
#ifndef CMP_RANGES
#define CMP_RANGES 4096
#endif

struct compare {
	uint32_t from;              /* UIDs below are not compared (the n:* rule) */
	uint32_t have[CMP_BATCH];   /* cached UIDs, ascending */
	size_t nhave, ihave;
	uint32_t after;             /* the cache is read above this UID */
	int have_end;               /* nothing cached above have[] */
	uint32_t last;              /* the last UID the server listed */
	uint32_t gone[CMP_RANGES][2];   /* cached, not listed; ascending */
	size_t ngone;
	uint32_t miss[CMP_RANGES][2];   /* listed, not cached; ascending */
	size_t nmiss;
	int stopped;                /* ranges full: compared up to last only */
	int unordered;              /* the server's order was not ascending */
	int err;
};

/* What a sync gathers from the events before reporting it. */
struct sync_state {
	struct driver_msg *msgs;   /* new messages; flags and header owned */
	size_t nmsgs;
	uint32_t *fuids;           /* flag changes */
	char **fflags;             /* owned */
	uint64_t *fmodseq;
	size_t nflags;
	uint32_t *seen;            /* every UID the server listed, when collecting */
	size_t nseen, capseen;
	int collect_seen;
	struct compare *cmp;       /* a streamed comparison runs (full_compare) */
	uint32_t min_new;          /* ignore metadata of UIDs below (the n:* rule) */
	uint32_t max_seen;         /* highest UID the server listed in this sync */
	uint32_t nnew;             /* new messages so far */
	uint32_t progress_of;      /* a first listing of this many: show progress */
	const char *name;          /* the folder, for the progress line */
	int changed;
	int err;
};

static void free_msg(struct driver_msg *msg)
{
	free((char *)msg->flags);
	free((char *)msg->header);
}

/* Hand what the sync gathered to the engine. */
static void sync_flush(struct slot *sl)
{
	struct sync_state *st = sl->sync;
	struct engine *m = sl->d->m;
	int r;

	if (st->nmsgs) {
		r = driver_msgs_new(m, sl->folder, st->msgs, st->nmsgs);
		if (r < 0)
			st->err = r;
		for (size_t i = 0; i < st->nmsgs; i++)
			free_msg(&st->msgs[i]);
		st->nmsgs = 0;
		st->changed = 1;
	}
	if (st->nflags) {
		r = driver_msgs_flags(m, sl->folder, st->fuids, (const char *const *)st->fflags,
		                      st->fmodseq, st->nflags);
		if (r < 0)
			st->err = r;
		for (size_t i = 0; i < st->nflags; i++)
			free(st->fflags[i]);
		st->nflags = 0;
	}
}

static void sync_free(struct sync_state *st)
{
	free(st->msgs);
	free(st->fuids);
	free(st->fflags);
	free(st->fmodseq);
	free(st->seen);
}

/* ---- events ----------------------------------------------------------------- */

/* A new message's metadata, kept until the next sync_flush(). */
static int keep_new(struct slot *sl, const struct imap_fetch *f)
{
	struct sync_state *st = sl->sync;
	struct driver_msg *msg;

	if (st->nmsgs == BATCH)
		sync_flush(sl);
	if (!st->msgs && !(st->msgs = calloc(BATCH, sizeof(*st->msgs))))
		return -ENOMEM;
	msg = &st->msgs[st->nmsgs];
	*msg = (struct driver_msg){
		.uid = f->uid, .size = f->size, .date = f->internaldate, .modseq = f->modseq,
		.flags = strdup(f->flags ? f->flags : ""),
		.header = f->header ? strndup(f->header, f->header_len) : NULL,
		.header_len = f->header ? f->header_len : 0,
	};
	if (!msg->flags || (f->header && !msg->header)) {
		free_msg(msg);
		return -ENOMEM;
	}
	st->nmsgs++;
	st->nnew++;
	if (st->progress_of)
		driver_progress(sl->d->m, "listing %s: %u of %u messages", st->name, st->nnew,
		                st->progress_of);
	return 0;
}

/* Flags of a known message, kept until the next sync_flush(). */
static int keep_flags(struct slot *sl, const struct imap_fetch *f)
{
	struct sync_state *st = sl->sync;

	if (st->nflags == BATCH)
		sync_flush(sl);
	if (!st->fuids) {
		st->fuids = calloc(BATCH, sizeof(*st->fuids));
		st->fflags = calloc(BATCH, sizeof(*st->fflags));
		st->fmodseq = calloc(BATCH, sizeof(*st->fmodseq));
		if (!st->fuids || !st->fflags || !st->fmodseq)
			return -ENOMEM;
	}
	st->fflags[st->nflags] = strdup(f->flags);
	if (!st->fflags[st->nflags])
		return -ENOMEM;
	st->fuids[st->nflags] = f->uid;
	st->fmodseq[st->nflags] = f->modseq;
	st->nflags++;
	return 0;
}

static int keep_seen(struct sync_state *st, uint32_t uid)
{
	if (ARRAY_RESERVE(st->seen, st->nseen, st->capseen) < 0)
		return -ENOMEM;
	st->seen[st->nseen++] = uid;
	return 0;
}

static void cmp_seen(struct slot *sl, uint32_t uid);

static void ev_fetch(void *ctx, const struct imap_fetch *f)
{
	struct slot *sl = ctx;
	struct sync_state *st = sl->sync;
	int r = 0;

	if (sl->views)
		imapd_view_fetch(sl, f);   /* and flags another client changed */
	if (!sl->folder || !f->uid)
		return;
	if (st && st->collect_seen)
		r = keep_seen(st, f->uid);
	else if (st && st->cmp)
		cmp_seen(sl, f->uid);
	if (r == 0 && (f->have & (IMAP_HAVE_SIZE | IMAP_HAVE_DATE)) ==
	              (IMAP_HAVE_SIZE | IMAP_HAVE_DATE)) {
		/* A new message (metadata was only asked for those). */
		if (!st || f->uid < st->min_new)
			return;
		if (f->uid > st->max_seen)
			st->max_seen = f->uid;
		r = keep_new(sl, f);
	} else if (r == 0 && (f->have & IMAP_HAVE_FLAGS)) {
		if (st) {
			r = keep_flags(sl, f);
		} else {
			/* Unsolicited: another client changed flags. */
			const char *flags = f->flags;
			uint64_t modseq = f->modseq;

			driver_msgs_flags(sl->d->m, sl->folder, &f->uid, &flags, &modseq, 1);
		}
	}
	if (r < 0 && st)
		st->err = r;
}

static void ev_expunge(void *ctx, uint32_t lo, uint32_t hi)
{
	struct slot *sl = ctx;

	if (!sl->folder)
		return;
	driver_msgs_gone(sl->d->m, sl->folder, lo, hi);
	if (sl->sync)
		sl->sync->changed = 1;
}

static void ev_exists(void *ctx, uint32_t count)
{
	struct slot *sl = ctx;

	(void)count;
	/* New mail while doing something else: fetch it soon. A sync in
	 * progress compares counts itself. */
	if (sl->folder && !sl->sync)
		driver_new_mail(sl->d->m, sl->folder);
}

static void ev_lost_track(void *ctx)
{
	struct slot *sl = ctx;

	if (sl->folder)
		driver_lost_track(sl->d->m, sl->folder);
}

/* NOTIFY (RFC 5465), on the watching session: another folder changed, or
 * the folder list did. */
static void ev_status(void *ctx, const struct imap_status *st)
{
	struct slot *sl = ctx;
	struct driver_status ds = { .uidvalidity = st->uidvalidity, .uidnext = st->uidnext,
	                            .messages = st->messages, .modseq = st->highestmodseq };
	unsigned all = IMAP_STATUS_UIDNEXT | IMAP_STATUS_UIDVALIDITY;

	/* (NOTIFY leaves UIDVALIDITY out when it did not change, RFC 5465
	 * §5.2: then it is the one the engine knows, or the sync finds out.) */
	driver_folder_news(sl->d->m, st->mailbox, (st->have & all) == all ? &ds : NULL);
}

static void ev_mailboxes(void *ctx)
{
	struct slot *sl = ctx;

	driver_folder_news(sl->d->m, NULL, NULL);
}

static int sink_write(struct imap_sink *sk, const char *data, size_t len)
{
	struct slot *sl = (struct slot *)((char *)sk - offsetof(struct slot, sink));

	return sl->cur ? fetch_data(sl->cur, data, len) : 0;
}

static void sink_end(struct imap_sink *sk, int err)
{
	struct slot *sl = (struct slot *)((char *)sk - offsetof(struct slot, sink));

	/* This message's FETCH response is complete: publish it now, not at
	 * the end of the batch. */
	if (sl->cur) {
		fetch_end(sl->cur, err);
		if (!err)
			sl->ndone++;
		sl->cur = NULL;
	}
}

static struct imap_sink *ev_body(void *ctx, uint32_t uid, const char *section, int binary,
                                 uint64_t offset, uint64_t size)
{
	struct slot *sl = ctx;
	struct fetch *fx = NULL;

	if (sl->views)
		return imapd_view_body(sl, uid, section, binary, size);
	if (!sl->nbatch || sl->cur || section[0])
		return NULL;
	if (!uid && sl->nbatch == 1) {
		fx = sl->batch[0];
	} else {
		size_t lo = 0, hi = sl->nbatch;   /* binary search: ascending UIDs */

		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (fetch_uid(sl->batch[mid]) < uid)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < sl->nbatch && fetch_uid(sl->batch[lo]) == uid)
			fx = sl->batch[lo];
	}
	/* A part starts where it was asked to (RFC 3501 §7.4.2: BODY[]<off>);
	 * a whole body at 0. */
	if (!fx || offset != (fetch_part_len(fx) ? fetch_part_off(fx) : 0))
		return NULL;
	if (fetch_begin(fx, size) < 0) {
		/* The server has the message; what failed is ours (the cache
		 * full, say), and fetch_end tells the readers. */
		sl->ndone++;
		return NULL;
	}
	sl->cur = fx;
	sl->sink.write = sink_write;
	sl->sink.end = sink_end;
	return &sl->sink;
}

const struct imap_events imapd_events = {
	.fetch = ev_fetch,
	.expunge = ev_expunge,
	.exists = ev_exists,
	.lost_track = ev_lost_track,
	.body = ev_body,
	.status = ev_status,
	.mailboxes = ev_mailboxes,
};

/* ---- a folder's sync ------------------------------------------------------------ */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int imapd_set_add(char **set, size_t *len, size_t *cap, uint32_t lo, uint32_t hi)
{
	char item[24];
	int n = lo == hi ? snprintf(item, sizeof(item), "%s%u", *len ? "," : "", lo)
	                 : snprintf(item, sizeof(item), "%s%u:%u", *len ? "," : "", lo, hi);

	if (*len + (size_t)n + 1 > *cap) {
		size_t ncap = *cap ? *cap * 2 : 256;
		char *ns = realloc(*set, ncap);
		if (!ns)
			return -ENOMEM;
		*set = ns;
		*cap = ncap;
	}
	memcpy(*set + *len, item, (size_t)n + 1);
	*len += (size_t)n;
	return 0;
}

/* Fetch the metadata of UIDS (ascending) as new messages, in commands of
 * bounded length. */
static int fetch_uids(struct slot *sl, const uint32_t *uids, size_t n)
{
	char *set = NULL;
	size_t len = 0, cap = 0, i = 0;
	int r = 0;

	while (r == 0 && i < n) {
		len = 0;
		for (int ranges = 0; r == 0 && i < n && ranges < 500; ranges++) {
			size_t j = i;
			while (j + 1 < n && uids[j + 1] == uids[j] + 1)
				j++;
			r = imapd_set_add(&set, &len, &cap, uids[i], uids[j]);
			i = j + 1;
		}
		if (r == 0)
			r = imap_uid_fetch(sl->s, set, META_ITEMS, NULL);
		sync_flush(sl);
	}
	free(set);
	return r;
}

/* Fetch the metadata of the ranges of C as new messages, in commands of
 * bounded length. */
static int fetch_ranges(struct slot *sl, const struct compare *c)
{
	char *set = NULL;
	size_t len = 0, cap = 0, i = 0;
	int r = 0;

	while (r == 0 && i < c->nmiss) {
		len = 0;
		for (int ranges = 0; r == 0 && i < c->nmiss && ranges < 500; ranges++, i++)
			r = imapd_set_add(&set, &len, &cap, c->miss[i][0], c->miss[i][1]);
		if (r == 0)
			r = imap_uid_fetch(sl->s, set, META_ITEMS, NULL);
		sync_flush(sl);
	}
	free(set);
	return r;
}

/* The next cached UID of the comparison, or 0 when none is left. */
static uint32_t cmp_head(struct slot *sl, struct compare *c)
{
	if (c->ihave == c->nhave && !c->have_end && !c->err) {
		c->ihave = c->nhave = 0;
		c->err = driver_msgs_known_after(sl->d->m, sl->folder, c->after, c->have, CMP_BATCH,
		                                 &c->nhave);
		if (c->err || c->nhave < CMP_BATCH)
			c->have_end = 1;
		if (c->nhave)
			c->after = c->have[c->nhave - 1];
	}
	return c->ihave < c->nhave ? c->have[c->ihave] : 0;
}

/* The server listed UID. */
static void cmp_seen(struct slot *sl, uint32_t uid)
{
	struct compare *c = sl->sync->cmp;
	uint32_t h, lo = 0, hi = 0;

	if (uid < c->from || c->unordered || c->stopped)
		return;
	if (c->last && uid <= c->last) {
		c->unordered = 1;
		return;
	}
	if (c->ngone == CMP_RANGES || c->nmiss == CMP_RANGES) {
		c->stopped = 1;     /* the next round starts at last + 1 */
		return;
	}
	c->last = uid;
	while ((h = cmp_head(sl, c)) && h < uid) {
		if (!lo)
			lo = h;
		hi = h;
		c->ihave++;
	}
	if (lo) {
		c->gone[c->ngone][0] = lo;
		c->gone[c->ngone][1] = hi;
		c->ngone++;
	}
	if (h == uid) {
		c->ihave++;
	} else if (c->nmiss && c->miss[c->nmiss - 1][1] + 1 == uid) {
		c->miss[c->nmiss - 1][1] = uid;
	} else {
		c->miss[c->nmiss][0] = c->miss[c->nmiss][1] = uid;
		c->nmiss++;
	}
}

static int compare_collected(struct slot *sl, uint32_t exists);

/* Compare every UID the server has with the cache: UID FETCH 1:* (FLAGS)
 * refreshes all flags and tells which messages are gone and which are
 * missing (SPEC §4, for servers without CONDSTORE, and whenever counts
 * disagree). Streamed: memory does not grow with the folder. */
static int full_compare(struct slot *sl, uint32_t exists)
{
	struct sync_state *st = sl->sync;
	struct engine *m = sl->d->m;
	struct compare *c = malloc(sizeof(*c));
	uint32_t from = 1, above;
	char set[24];
	int r = 0;

	if (!c)
		return -ENOMEM;
	for (;;) {
		memset(c, 0, sizeof(*c));
		c->from = from;
		c->after = from - 1;
		st->cmp = c;
		if (exists) {
			snprintf(set, sizeof(set), "%u:*", from);
			r = imap_uid_fetch(sl->s, set, "UID FLAGS", NULL);
		}
		st->cmp = NULL;
		sync_flush(sl);
		if (r == 0 && c->unordered) {
			/* Not in ascending order: gather it all, as it comes. */
			free(c);
			return compare_collected(sl, exists);
		}
		if (r == 0)
			r = c->err;
		if (r < 0)
			break;
		/* Cached above the last UID the server has: gone too. */
		above = c->stopped ? 0 : cmp_head(sl, c);
		if (above && c->ngone < CMP_RANGES) {
			c->gone[c->ngone][0] = above;
			c->gone[c->ngone][1] = UINT32_MAX;
			c->ngone++;
		} else if (above) {
			c->stopped = 1;     /* no room: the next round drops them */
		}
		if ((r = c->err) < 0)
			break;
		for (size_t i = 0; i < c->ngone; i++)
			driver_msgs_gone(m, sl->folder, c->gone[i][0], c->gone[i][1]);
		if (c->ngone)
			st->changed = 1;
		if (c->nmiss) {
			st->min_new = 1;
			r = fetch_ranges(sl, c);
			st->changed = 1;
		}
		if (c->last > st->max_seen)
			st->max_seen = c->last;
		if (r < 0 || !c->stopped || c->last == UINT32_MAX)
			break;
		from = c->last + 1;
	}
	free(c);
	return r;
}

/* full_compare() for a server that does not list UIDs in ascending order:
 * every UID it has is gathered first (4 bytes a message, and as much
 * again for the cache's). */
static int compare_collected(struct slot *sl, uint32_t exists)
{
	struct sync_state *st = sl->sync;
	struct engine *m = sl->d->m;
	uint32_t *have = NULL, *missing = NULL;
	size_t nhave = 0, nmissing = 0, i, j;
	int r = 0;

	st->nseen = 0;
	st->collect_seen = 1;
	if (exists)
		r = imap_uid_fetch(sl->s, "1:*", "UID FLAGS", NULL);
	st->collect_seen = 0;
	if (r < 0)
		return r;
	sync_flush(sl);
	if (driver_msgs_known(m, sl->folder, &have, &nhave) < 0)
		return -EIO;
	qsort(st->seen, st->nseen, sizeof(*st->seen), cmp_u32);
	/* Gone from the server. */
	for (i = j = 0; i < nhave; i++) {
		while (j < st->nseen && st->seen[j] < have[i])
			j++;
		if (j < st->nseen && st->seen[j] == have[i])
			continue;
		driver_msgs_gone(m, sl->folder, have[i], have[i]);
		st->changed = 1;
	}
	/* On the server but not here. */
	if (st->nseen && !(missing = malloc(st->nseen * sizeof(*missing)))) {
		free(have);
		return -ENOMEM;
	}
	for (i = j = 0; i < st->nseen; i++) {
		while (j < nhave && have[j] < st->seen[i])
			j++;
		if (j < nhave && have[j] == st->seen[i])
			continue;
		missing[nmissing++] = st->seen[i];
	}
	free(have);
	if (nmissing) {
		st->min_new = 1;
		r = fetch_uids(sl, missing, nmissing);
		st->changed = 1;
	}
	if (st->nseen && st->seen[st->nseen - 1] > st->max_seen)
		st->max_seen = st->seen[st->nseen - 1];
	free(missing);
	return r;
}

/* Flags and expunges since the last sync of a folder known before, then the
 * new messages: from the watermark up. The server answers n:* with the last
 * message even when it is below n (RFC 3501 §6.4.8), hence min_new. */
static int sync_known(struct slot *sl, const struct driver_sync *in, int fresh, int qresync,
                      const struct imap_mailbox *mb0)
{
	struct sync_state *st = sl->sync;
	struct imap_mailbox mb = *mb0;
	uint32_t wm = in->uidnext;
	char set[40];
	int r = 0;

	if (fresh && !qresync) {
		if ((imap_caps(sl->s) & IMAP_CAP_CONDSTORE) && in->modseq && mb.highestmodseq) {
			if (mb.highestmodseq != in->modseq) {
				snprintf(set, sizeof(set), "CHANGEDSINCE %" PRIu64, in->modseq);
				r = imap_uid_fetch(sl->s, "1:*", "UID FLAGS", set);
			}
		} else {
			r = full_compare(sl, mb.exists);
		}
	}
	sync_flush(sl);
	mb = *imap_mailbox(sl->s);
	if (r == 0 && mb.exists &&
	    (fresh ? !mb.uidnext || mb.uidnext > wm
	           : mb.exists != driver_msgs_count(sl->d->m, sl->folder))) {
		st->min_new = wm ? wm : 1;
		snprintf(set, sizeof(set), "%u:*", wm ? wm : 1);
		r = imap_uid_fetch(sl->s, set, META_ITEMS, NULL);
	}
	return r;
}

/* The watermark sync->uidnext is what syncs have seen, not the highest UID
 * in the cache: an APPEND or MOVE adds a higher UID to the cache while a
 * message another client added just before it may not be known yet. */
int imapd_sync(void *drv, const struct driver_folder *f, struct driver_sync *io)
{
	struct imapd *d = drv;
	struct engine *m = d->m;
	struct sync_state st = { .name = f->name };
	struct imap_mailbox mb;
	uint32_t wm = io->uidnext;
	int r, first = io->uidvalidity == 0, qresync, fresh;
	struct slot *sl;

	sl = imapd_pool_get(d, f->server, &r);
	if (!sl)
		return r;
	sl->folder = f->id;
	sl->sync = &st;
	qresync = !first && io->modseq && imap_qresync_enabled(sl->s);
	/* With QRESYNC a SELECT costs what a NOOP costs, and unlike a NOOP
	 * it sees a folder that was deleted and recreated elsewhere (a
	 * session keeps its view of the one it had selected). */
	r = imap_select(sl->s, f->server, 0, qresync, qresync ? io->uidvalidity : 0,
	                qresync ? io->modseq : 0, &imapd_events, sl, &mb);
	if (r < 0)
		goto out;
	fresh = r == 0;
	if (!fresh) {
		/* Selected here already: expunges and flag changes came as events;
		 * NOOP collects what is pending. */
		r = imap_noop(sl->s);
		if (r < 0)
			goto out;
		mb = *imap_mailbox(sl->s);
	}
	if (!first && mb.uidvalidity != io->uidvalidity) {
		/* The folder was deleted and recreated: nothing cached is valid,
		 * and nothing is deleted on the server (SPEC §4). */
		io->uidvalidity = mb.uidvalidity;
		r = -ESTALE;
		goto out;
	}
	if (first) {
		st.min_new = 1;
		st.progress_of = mb.exists >= 2000 ? mb.exists : 0;
		if (mb.exists)
			r = imap_uid_fetch(sl->s, "1:*", META_ITEMS, NULL);
		if (st.progress_of)
			driver_progress_done(m, "listed %s: %u messages", f->name, st.nnew);
		st.changed = 1;
	} else {
		r = sync_known(sl, io, fresh, qresync, &mb);
	}
	if (r < 0)
		goto out;
	sync_flush(sl);
	/* The counts must agree now; if not, compare everything. */
	mb = *imap_mailbox(sl->s);
	if (!first && driver_msgs_count(m, f->id) != mb.exists) {
		log_debug("folder %s: %u messages on the server, %" PRIu64 " known: comparing all",
		          f->server, mb.exists, driver_msgs_count(m, f->id));
		r = full_compare(sl, mb.exists);
		if (r < 0)
			goto out;
	}
	if (st.err) {
		r = st.err;
		goto out;
	}
	mb = *imap_mailbox(sl->s);
	if (st.max_seen + 1 > wm)
		wm = st.max_seen + 1;
	if (fresh && mb.uidnext > wm)
		wm = mb.uidnext;
	io->uidvalidity = mb.uidvalidity;
	io->uidnext = wm;
	io->modseq = mb.highestmodseq;
	io->changed = st.changed;
out:
	if (r < 0 && r != -ESTALE) {
		sync_flush(sl);
		log_debug("sync of %s failed: %s", f->server, imap_error(sl->s));
		if (!imap_broken(sl->s) && r != -EIO)
			driver_error(m, "folder %s: %s", f->name, imap_error(sl->s));
	}
	imapd_pool_put(sl);
	sync_free(&st);
	return r;
}

/* ---- bodies ----------------------------------------------------------------------- */

int imapd_fetch(void *drv, const struct driver_folder *f, struct fetch **fxs, size_t n)
{
	struct imapd *d = drv;
	struct slot *sl;
	char *set = NULL;
	size_t len = 0, cap = 0, i = 0;
	int r;

	while (i < n) {
		size_t j = i;
		while (j + 1 < n && fetch_uid(fxs[j + 1]) == fetch_uid(fxs[j]) + 1)
			j++;
		if (imapd_set_add(&set, &len, &cap, fetch_uid(fxs[i]), fetch_uid(fxs[j])) < 0) {
			free(set);
			return -ENOMEM;
		}
		i = j + 1;
	}
	sl = imapd_pool_get(d, f->server, &r);
	if (!sl) {
		free(set);
		return r;
	}
	sl->folder = f->id;
	sl->batch = fxs;
	sl->nbatch = n;
	sl->ndone = 0;
	sl->cur = NULL;
	r = imap_select(sl->s, f->server, 0, 0, 0, 0, &imapd_events, sl, NULL);
	if (r >= 0 && n == 1 && fetch_part_len(fxs[0])) {
		char items[80];

		snprintf(items, sizeof(items), "UID BODY.PEEK[]<%llu.%llu>",
		         (unsigned long long)fetch_part_off(fxs[0]),
		         (unsigned long long)fetch_part_len(fxs[0]));
		r = imap_uid_fetch(sl->s, set, items, NULL);
	} else if (r >= 0) {
		/* BODY.PEEK: reading never sets \Seen (SPEC §2). All bodies in
		 * one command: the server streams them back to back. */
		r = imap_uid_fetch(sl->s, set, "UID BODY.PEEK[]", NULL);
	}
	if (r >= 0 && sl->ndone < n) {
		/* Expunged meanwhile: the listing is out of date. */
		log_info("%zu message(s) of %s are no longer on the server", n - sl->ndone,
		         f->server);
		driver_new_mail(d->m, f->id);
		r = -EIO;
	}
	imapd_pool_put(sl);
	free(set);
	return r < 0 ? r : 0;
}
