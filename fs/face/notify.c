/* notify.c - pushing invalidations into the kernel's caches.
 *
 * libfuse warns that a notification must not be sent from the execution
 * path of an operation on the same inode (the kernel may hold the lock the
 * notification needs). So every invalidation is queued here and sent by a
 * thread that never serves a request.
 */
#include "fs/face/face.h"
#include "fs/log.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct note {
	struct note *next;
	fuse_ino_t ino;          /* parent for an entry, the inode otherwise */
	off_t off, len;
	char *name;              /* entry name, or NULL for an inode */
};

/* The queue is bounded (issue 16: a VANISHED of a million messages is
 * three million notes): past NOTIFY_MAX notes a producer waits for the
 * thread to send some, as long as that goes on; should the kernel stop
 * taking notes for a while (a request of the same directory waiting on
 * this producer, say), producers stop waiting until the queue is back to
 * half, so that nothing deadlocks. An inode note is not queued again while
 * the same one waits unsent: sent later, it covers this change too. */
#define NOTIFY_MAX 4096
#define NOTIFY_WAIT_MS 200
#define NOTIFY_PENDING 256     /* slots of the table of unsent inode notes */

struct notify_queue {
	pthread_mutex_t lock;
	pthread_cond_t cond;        /* a note was queued, or stop */
	pthread_cond_t sent_cond;   /* a note was sent */
	struct note *head, *tail;   /* protected by lock */
	size_t len;                 /* notes queued now; protected by lock */
	struct note *pending[NOTIFY_PENDING]; /* unsent inode notes by inode hash,
	                               protected by lock */
	int congested;              /* producers do not wait; protected by lock */
	uint64_t queued, sent;      /* notes so far; protected by lock */
	int stop;                   /* protected by lock */
	pthread_t thread;
};

static size_t pending_slot(const struct note *n)
{
	return (size_t)((n->ino * UINT64_C(0x9E3779B97F4A7C15)) >> 56) % NOTIFY_PENDING;
}

static int same_inode_note(const struct note *a, const struct note *b)
{
	return a && !a->name && !b->name && a->ino == b->ino && a->off == b->off &&
	       a->len == b->len;
}

static void push(struct face *fc, struct note *n)
{
	struct notify_queue *q = fc->notify;
	size_t slot = pending_slot(n);

	if (!q) {
		free(n->name);
		free(n);
		return;
	}
	pthread_mutex_lock(&q->lock);
	if (same_inode_note(q->pending[slot], n)) {
		pthread_mutex_unlock(&q->lock);
		free(n);
		return;
	}
	if (q->len >= NOTIFY_MAX && !q->congested && !q->stop) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += NOTIFY_WAIT_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (q->len >= NOTIFY_MAX && !q->congested && !q->stop)
			if (pthread_cond_timedwait(&q->sent_cond, &q->lock, &until) != 0) {
				q->congested = 1;
				log_debug("kernel notifications are slow: %zu queued", q->len);
			}
	}
	if (!n->name)
		q->pending[slot] = n;
	if (q->tail)
		q->tail->next = n;
	else
		q->head = n;
	q->tail = n;
	q->len++;
	q->queued++;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

void notify_entry(struct face *fc, fuse_ino_t parent, const char *name)
{
	struct note *n = calloc(1, sizeof(*n));

	if (!n)
		return;
	n->ino = parent;
	n->name = strdup(name);
	if (!n->name) {
		free(n);
		return;
	}
	push(fc, n);
}

void notify_inode(struct face *fc, fuse_ino_t ino, off_t off, off_t len)
{
	struct note *n = calloc(1, sizeof(*n));

	if (!n)
		return;
	n->ino = ino;
	n->off = off;
	n->len = len;
	push(fc, n);
}

static void *notify_main(void *arg)
{
	struct face *fc = arg;
	struct notify_queue *q = fc->notify;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct note *n;

		while (!q->head && !q->stop)
			pthread_cond_wait(&q->cond, &q->lock);
		if (!q->head)
			break;
		n = q->head;
		q->head = n->next;
		if (!q->head)
			q->tail = NULL;
		q->len--;
		/* From now on a change needs a note of its own. */
		if (q->pending[pending_slot(n)] == n)
			q->pending[pending_slot(n)] = NULL;
		if (q->len <= NOTIFY_MAX / 2)
			q->congested = 0;
		pthread_mutex_unlock(&q->lock);

		/* -ENOENT only means the kernel does not cache it: fine. */
		int r = n->name
		        ? fuse_lowlevel_notify_inval_entry(fc->se, n->ino, n->name, strlen(n->name))
		        : fuse_lowlevel_notify_inval_inode(fc->se, n->ino, n->off, n->len);
		if (r < 0 && r != -ENOENT)
			log_debug("invalidation of inode %llx failed: %s",
			          (unsigned long long)n->ino, strerror(-r));
		free(n->name);
		free(n);
		pthread_mutex_lock(&q->lock);
		q->sent++;
		pthread_cond_broadcast(&q->sent_cond);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

void notify_sync(struct face *fc)
{
	struct notify_queue *q = fc->notify;
	struct timespec until;
	uint64_t want;

	if (!q)
		return;
	/* Bounded: a reply is late, never lost, if the kernel is slow to
	 * take the notes. */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	pthread_mutex_lock(&q->lock);
	want = q->queued;
	while (q->sent < want && !q->stop &&
	       pthread_cond_timedwait(&q->sent_cond, &q->lock, &until) == 0)
		;
	pthread_mutex_unlock(&q->lock);
}

/* The engine's struct engine_tell, in inode numbers. */
/* The views (views.c) show each folder again, under their own names: what
 * changed in the tree changed there too. */
static void tell_entry_cb(void *ctx, int64_t dir, const char *name)
{
	size_t n = strlen(name);
	char *view = NULL;

	notify_entry(ctx, ino_dir(dir), name);
	if (dir >= VIEW_FOLDER_LIMIT)
		return;
	if (n > 4 && strcmp(name + n - 4, ".eml") == 0) {
		if (asprintf(&view, "%.*s.txt", (int)(n - 4), name) >= 0) {
			notify_entry(ctx, ino_view_msg(VIEW_TEXT, dir, 0), view);
			view[n - 4] = '\0';
			notify_entry(ctx, ino_view_msg(VIEW_PARTS, dir, 0), view);
			free(view);
		}
		return;
	}
	notify_entry(ctx, ino_view_msg(VIEW_TEXT, dir, 0), name);
	notify_entry(ctx, ino_view_msg(VIEW_PARTS, dir, 0), name);
}

static void tell_dir_cb(void *ctx, int64_t dir)
{
	notify_inode(ctx, ino_dir(dir), 0, 0);
	if (dir < VIEW_FOLDER_LIMIT) {
		notify_inode(ctx, ino_view_msg(VIEW_TEXT, dir, 0), 0, 0);
		notify_inode(ctx, ino_view_msg(VIEW_PARTS, dir, 0), 0, 0);
	}
}

static void tell_msg_cb(void *ctx, int64_t folder, uint32_t uid)
{
	struct face *fc = ctx;

	/* Attributes only (offset -1): safe from any thread, so sent now,
	 * before the reader is answered with more bytes than were said. */
	if (fc->se)
		fuse_lowlevel_notify_inval_inode(fc->se, ino_msg(folder, uid), -1, 0);
}

static void tell_sync_cb(void *ctx)
{
	notify_sync(ctx);
}

void notify_attach(struct face *fc)
{
	fc->m->tell = (struct engine_tell){
		.ctx = fc, .entry = tell_entry_cb, .dir = tell_dir_cb, .msg = tell_msg_cb,
		.sync = tell_sync_cb,
	};
}

int notify_start(struct face *fc)
{
	struct notify_queue *q = calloc(1, sizeof(*q));
	int r;

	if (!q)
		return -ENOMEM;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	pthread_cond_init(&q->sent_cond, NULL);
	fc->notify = q;
	r = pthread_create(&q->thread, NULL, notify_main, fc);
	if (r) {
		fc->notify = NULL;
		free(q);
		return -r;
	}
	return 0;
}

void notify_stop(struct face *fc)
{
	struct notify_queue *q = fc->notify;

	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	q->stop = 1;
	/* Pending notes are dropped: the mount is going away. */
	while (q->head) {
		struct note *n = q->head;
		q->head = n->next;
		free(n->name);
		free(n);
	}
	q->tail = NULL;
	q->len = 0;
	memset(q->pending, 0, sizeof(q->pending));
	pthread_cond_signal(&q->cond);
	pthread_cond_broadcast(&q->sent_cond);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->thread, NULL);
	fc->notify = NULL;
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
	pthread_cond_destroy(&q->sent_cond);
	free(q);
}
