/* append.c - the APPEND pipeline (SPEC §2): the bytes of a file written
 * into a folder become a message on the server, in the cache at once, and
 * the copy of an earlier close() of the same file goes. */
#include "fs/engine/append.h"
#include "fs/engine/change.h"
#include "fs/engine/layout.h"
#include "fs/log.h"
#include "cache/body.h"
#include "cache/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER_PEEK 65536    /* bytes read to find Subject and Message-ID */

/* IMAP wants CRLF line ends (RFC 5322 §2.3); a server would convert bare
 * LFs itself and then serve other bytes than we would cache. So they are
 * converted before the APPEND, into a new file. Returns 0 with *out_r
 * unused (fd stays), or 1 with a converted copy in *out_r. */
static int crlf(struct engine *m, int fd, uint64_t size, struct body_tmp *out_r,
                uint64_t *size_r)
{
	char in[65536], outbuf[2 * 65536];
	uint64_t bare = 0, off;
	char prev = 0;
	int r;

	for (off = 0; off < size; ) {
		ssize_t n = pread(fd, in, sizeof(in), (off_t)off);
		if (n <= 0)
			return -EIO;
		for (ssize_t i = 0; i < n; i++) {
			if (in[i] == '\n' && prev != '\r')
				bare++;
			prev = in[i];
		}
		off += (uint64_t)n;
	}
	if (!bare)
		return 0;
	r = body_create(m->bodies, out_r);
	if (r < 0)
		return r;
	prev = 0;
	for (off = 0; off < size; ) {
		ssize_t n = pread(fd, in, sizeof(in), (off_t)off), k = 0;
		if (n <= 0)
			goto fail;
		for (ssize_t i = 0; i < n; i++) {
			if (in[i] == '\n' && prev != '\r')
				outbuf[k++] = '\r';
			outbuf[k++] = in[i];
			prev = in[i];
		}
		if (write(out_r->fd, outbuf, (size_t)k) != k)
			goto fail;
		off += (uint64_t)n;
	}
	*size_r = size + bare;
	return 1;
fail:
	body_tmp_close(m->bodies, out_r);
	return -EIO;
}

/* Keep the bytes of a failed APPEND where the user can find them
 * (README: "what happens to a message that could not be stored"). */
static void save_unsent(struct engine *m, const char *name, int data, uint64_t size, int err)
{
	char *dir = NULL, *path = NULL, stamp[32], buf[65536];
	struct tm tm;
	time_t now = time(NULL);
	int fd = -1;

	if (asprintf(&dir, "%s/unsent", m->opt->cache_dir) < 0)
		return;
	mkdir(dir, 0700);
	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	if (asprintf(&path, "%s/%s-%s", dir, stamp, name[0] == '.' ? name + 1 : name) < 0)
		goto out;
	for (char *p = path + strlen(dir) + 1; *p; p++)
		if (*p == '/')
			*p = '_';
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	for (uint64_t off = 0; off < size; ) {
		ssize_t n = pread(data, buf, sizeof(buf), (off_t)off);
		if (n <= 0 || write(fd, buf, (size_t)n) != n)
			break;
		off += (uint64_t)n;
	}
	if (fsync(fd) == 0)
		log_err("%s was not stored on the server (%s); its bytes are kept in %s",
		        name, strerror(err), path);
out:
	if (fd >= 0)
		close(fd);
	free(path);
	free(dir);
}

/* The appended message is in the cache already: its row, and its body. */
static void cache_appended(struct engine *m, struct folder *f, uint32_t uid,
                           struct body_tmp *body, uint64_t size, time_t date, const char *flags)
{
	char hdr[HEADER_PEEK + 1];
	char *name = NULL, *msgid = NULL;
	ssize_t n = pread(body->fd, hdr, HEADER_PEEK, 0);
	struct store_msg msg = {
		.uid = uid, .size = size, .date = date, .flags = flags ? flags : "",
		.state = STORE_MSG_SIZE_EXACT,
	};

	if (layout_from_header(uid, n > 0 ? hdr : NULL, n > 0 ? (size_t)n : 0, &name, &msgid,
	                       NULL) == 0) {
		msg.name = name;
		msg.msgid = msgid;
		if (store_msg_put(m->store, f->id, &msg, 1) == 0)
			body_commit(m->bodies, body, f->id, uid, 0);
	}
	free(name);
	free(msgid);
}

/* Take the copy of an earlier flush off the server, now that a newer one is
 * there: by its exact UID, never by anything that could match another
 * message (SPEC §2). Its name leaves the cache and the kernel. */
static int remove_previous(struct engine *m, struct folder *f, uint32_t prev, const char *name)
{
	int r;

	if (!prev) {
		/* The server did not say the UID of that copy (no UIDPLUS):
		 * nothing exact can remove it. */
		log_err("%s: the copy stored at an earlier close() of this file is still on "
		        "the server beside the new one (the server did not tell its UID)", name);
		return -EIO;
	}
	struct driver_folder v = folder_view(m, f);

	r = m->driver->remove(m->drv, &v, prev);
	if (r == 0)
		change_forget(m, f, prev);
	else
		log_err("%s: the copy stored at an earlier close() (UID %u) could not be "
		        "removed: %s", name, prev, strerror(-r));
	return r;
}

/* The APPEND itself, by the driver. */
static int upload(struct engine *m, struct folder *f, int fd, uint64_t size, const char *flags,
                  time_t date, uint32_t *uid_r)
{
	struct driver_folder v = folder_view(m, f);
	uint32_t from;

	if (folder_gone(f))
		return -ENOENT;
	if (!m->driver->append)
		return -EPERM;
	pthread_mutex_lock(&f->lock);
	from = f->uidnext;
	pthread_mutex_unlock(&f->lock);
	return m->driver->append(m->drv, &v, from, fd, size, flags, date, uid_r);
}

int append_message(struct engine *m, const struct append_req *a, uint32_t *uid_r, int *landed_r)
{
	struct body_tmp conv = { .fd = -1 };
	struct body_tmp *send = a->data;
	uint64_t sendsize = a->size;
	struct folder *f = a->f;
	uint32_t uid = 0;
	int r;

	*uid_r = 0;
	*landed_r = 0;
	r = crlf(m, a->data->fd, a->size, &conv, &sendsize);
	if (r == 1)
		send = &conv;
	if (r >= 0)
		r = upload(m, f, send->fd, sendsize, a->flags, a->date, &uid);
	if (r == 0) {
		*landed_r = 1;
		*uid_r = uid;
		if (uid)
			cache_appended(m, f, uid, send, sendsize, a->date, a->flags);
		else
			folder_sync_later(m, f);
		tell_dir(m, f->id);
		folder_touch(f);
		/* The whole file is there now: the copy of an earlier close()
		 * goes. If it cannot, close() says so (and the new copy stays:
		 * better two whole copies than none). */
		if (a->replace)
			r = remove_previous(m, f, a->prev, a->name);
		/* The message shows under its own name: `ls` right after
		 * close() must see it, not the kernel's cached listing. */
		tell_sync(m);
	} else {
		save_unsent(m, a->name, a->data->fd, a->size, -r);
		status_error(m, "%s was not stored on the server: %s", a->name, strerror(-r));
	}
	if (conv.fd >= 0)
		body_tmp_close(m->bodies, &conv);
	return r;
}

int append_buffer_new(struct engine *m, struct body_tmp *t)
{
	int r = body_create(m->bodies, t);

	if (r < 0)
		log_err("cannot create a file in the cache directory %s: %s", m->opt->cache_dir,
		        strerror(-r));
	return r;
}

int append_buffer_clone(struct engine *m, struct body_tmp *t, uint64_t size)
{
	struct body_tmp n = { .fd = -1 };
	char buf[65536];
	int r = append_buffer_new(m, &n);

	for (uint64_t off = 0; r == 0 && off < size; ) {
		ssize_t k = pread(t->fd, buf, sizeof(buf), (off_t)off);

		if (k <= 0)
			r = k < 0 ? -errno : -EIO;
		else if (write(n.fd, buf, (size_t)k) != k)
			r = -EIO;
		else
			off += (uint64_t)k;
	}
	if (r < 0) {
		if (n.fd >= 0)
			body_tmp_close(m->bodies, &n);
		return r;
	}
	/* The old one stays in the cache as the message's body. */
	body_tmp_close(m->bodies, t);
	*t = n;
	return 0;
}

void append_buffer_close(struct engine *m, struct body_tmp *t)
{
	body_tmp_close(m->bodies, t);
}
