/* status.c - the read-only .mailfs-status file at the mount root (SPEC §2):
 * connection state, server capabilities, per-folder counts and last sync,
 * and the last error. */
#include "fs/engine/engine.h"
#include "cache/store.h"
#include "net/utf8.h"

#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

void status_error(struct engine *m, const char *fmt, ...)
{
	char text[sizeof(m->last_error)];
	va_list ap;

	/* Mostly a server's words (NO reasons, BYE text): shown as escapes
	 * where they hold controls, and on one line (SPEC §5). */
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&m->status_lock);
	utf8_visible(m->last_error, sizeof(m->last_error), text, strlen(text), 0);
	m->last_error_time = time(NULL);
	pthread_mutex_unlock(&m->status_lock);
}

void status_prefetch(struct engine *m, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&m->status_lock);
	va_start(ap, fmt);
	vsnprintf(m->prefetch_state, sizeof(m->prefetch_state), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&m->status_lock);
}

void status_online(struct engine *m, int online)
{
	pthread_mutex_lock(&m->status_lock);
	m->online = online;
	pthread_mutex_unlock(&m->status_lock);
}

static void fmt_time(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (!t) {
		snprintf(buf, size, "never");
		return;
	}
	localtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
}

struct render {
	FILE *out;
	const struct store_folder_stats *stats;  /* by folder id */
	size_t nstats;
	locale_t utf8;          /* C.UTF-8 for display widths, or 0 */
};

#define PATH_COLUMN 40      /* display columns of a folder's path */

/* The columns terminal shows S (UTF-8) in: what wcswidth() says in a UTF-8
 * locale, whatever the daemon's own (日本語 takes 6, Données 7); the bytes
 * where it cannot tell. */
static int display_width(const struct render *r, const char *s)
{
	size_t n = strlen(s);
	wchar_t *w;
	int width = -1;

	if (r->utf8 && n < 4096 && (w = calloc(n + 1, sizeof(*w)))) {
		locale_t old = uselocale(r->utf8);
		size_t nw = mbstowcs(w, s, n + 1);

		if (nw != (size_t)-1)
			width = wcswidth(w, nw);
		uselocale(old);
		free(w);
	}
	return width < 0 ? (int)n : width;
}

static int by_folder(const void *key, const void *elem)
{
	int64_t id = *(const int64_t *)key, other = ((const struct store_folder_stats *)elem)->folder;

	return (id > other) - (id < other);
}

/* Folders in tree order, with their full path; tree_lock held. */
static void render_folders(struct render *r, struct folder *first, const char *prefix)
{
	for (struct folder *f = first; f; f = f->next_sib) {
		const struct store_folder_stats *fs;
		struct store_stats none = { 0 };
		char when[32], *path = NULL;
		int synced, err;
		time_t last;

		if (asprintf(&path, "%s%s", prefix, f->name) < 0)
			continue;
		int pad = PATH_COLUMN - display_width(r, path);
		if (pad < 0)
			pad = 0;
		pthread_mutex_lock(&f->lock);
		last = f->last_sync;
		synced = f->synced;
		err = f->last_error;
		pthread_mutex_unlock(&f->lock);
		if (folder_server(f)) {
			fs = r->nstats ? bsearch(&f->id, r->stats, r->nstats, sizeof(*r->stats), by_folder)
			                : NULL;
			const struct store_stats *st = fs ? &fs->stats : &none;
			fmt_time(last, when, sizeof(when));
			const char *role = folder_role_name(folder_role(f));

			fprintf(r->out, "  %s%*s %8llu messages %12llu bytes  synced: %s%s%s%s%s\n",
			        path, pad, "", (unsigned long long)st->count,
			        (unsigned long long)st->bytes, synced && last ? when : "not yet",
			        role ? "  special use: " : "", role ? role : "",
			        err ? "  error: " : "", err ? strerror(-err) : "");
		} else {
			fprintf(r->out, "  %s%*s (directory only)\n", path, pad, "");
		}
		char *sub = NULL;
		if (asprintf(&sub, "%s/", path) >= 0) {
			render_folders(r, f->kids, sub);
			free(sub);
		}
		free(path);
	}
}

int status_render(struct engine *m, char **buf_r, size_t *len_r)
{
	char *buf = NULL, *vis, when[32];
	size_t len = 0;
	int online;
	/* A stream grows the text as it goes: it may list 100,000 folders. */
	FILE *out = open_memstream(&buf, &len);

	if (!out)
		return -1;
	pthread_mutex_lock(&m->status_lock);
	online = m->online;
	pthread_mutex_unlock(&m->status_lock);
	fprintf(out, "mailfs %s\n", MAILFS_VERSION);
	fprintf(out, "account: %s\n", m->opt->url);
	fprintf(out, "connection: %s\n", online ? "online" : "offline");
	fmt_time(m->mount_time, when, sizeof(when));
	fprintf(out, "mounted: %s\n", when);
	pthread_mutex_lock(&m->status_lock);
	if (m->cache_counted)
		fprintf(out, "cache: %s, %llu MB of message bodies%s\n", m->opt->cache_dir,
		        (unsigned long long)(m->cache_bytes >> 20),
		        m->driver->caps & DRIVER_REFETCH ? "" : " (never evicted: the only copy)");
	else
		fprintf(out, "cache: %s\n", m->opt->cache_dir);
	if (m->opt->prefetch)
		fprintf(out, "prefetch: %s\n", m->prefetch_state);
	fprintf(out, "poll: every %d s; last round: %s\n", m->opt->poll,
	        m->poll_state[0] ? m->poll_state : "none yet");
	pthread_mutex_unlock(&m->status_lock);
	if (m->drv)
		m->driver->status(m->drv, out);
	fprintf(out, "folders:\n");
	/* One query for the counts of all folders, not one per folder. */
	struct render r = { out, NULL, 0, newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0) };
	struct store_folder_stats *stats = NULL;
	if (store_msg_stats_all(m->store, &stats, &r.nstats) == 0)
		r.stats = stats;
	pthread_rwlock_rdlock(&m->tree_lock);
	render_folders(&r, m->top, "");
	pthread_rwlock_unlock(&m->tree_lock);
	if (r.utf8)
		freelocale(r.utf8);
	free(stats);
	pthread_mutex_lock(&m->status_lock);
	if (m->last_error[0]) {
		fmt_time(m->last_error_time, when, sizeof(when));
		fprintf(out, "last error: %s: %s\n", when, m->last_error);
	} else {
		fprintf(out, "last error: none\n");
	}
	pthread_mutex_unlock(&m->status_lock);
	if (fclose(out) != 0) {
		free(buf);
		return -1;
	}
	/* The file also shows what the server named (capabilities, folders)
	 * and the URL: nothing in it but its own line breaks may act on a
	 * terminal that cats it (SPEC §5). */
	vis = malloc(4 * len + 1);
	if (!vis) {
		free(buf);
		return -1;
	}
	*len_r = utf8_visible(vis, 4 * len + 1, buf, len, 1);
	*buf_r = vis;
	free(buf);
	return 0;
}

/* ---- progress on stderr (foreground only) ------------------------------------ */

static pthread_mutex_t progress_lock = PTHREAD_MUTEX_INITIALIZER;
static struct timespec progress_last;   /* protected by progress_lock */
static int progress_shown;              /* a \r line is on the terminal; lock */

void status_progress(struct engine *m, const char *fmt, ...)
{
	struct timespec now;
	int tty = isatty(2);
	long gap_ms;
	va_list ap;
	char raw[160], line[4 * sizeof(raw) + 1];   /* folder names in it */

	if (!m->opt->foreground || m->opt->debug)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&progress_lock);
	gap_ms = (now.tv_sec - progress_last.tv_sec) * 1000 +
	         (now.tv_nsec - progress_last.tv_nsec) / 1000000;
	/* A terminal line ten times a second; a log line every five seconds. */
	if (gap_ms < (tty ? 100 : 5000)) {
		pthread_mutex_unlock(&progress_lock);
		return;
	}
	progress_last = now;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	utf8_visible(line, sizeof(line), raw, strlen(raw), 0);
	if (tty) {
		fprintf(stderr, "\rmailfs: %-70.70s", line);
		progress_shown = 1;
	} else {
		fprintf(stderr, "mailfs: %s\n", line);
	}
	fflush(stderr);
	pthread_mutex_unlock(&progress_lock);
}

void status_progress_done(struct engine *m, const char *fmt, ...)
{
	va_list ap;
	char raw[160], line[4 * sizeof(raw) + 1];

	if (!m->opt->foreground || m->opt->debug)
		return;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	utf8_visible(line, sizeof(line), raw, strlen(raw), 0);
	pthread_mutex_lock(&progress_lock);
	if (progress_shown)
		fprintf(stderr, "\r%-80s\r", "");
	progress_shown = 0;
	if (line[0])
		fprintf(stderr, "mailfs: %s\n", line);
	fflush(stderr);
	pthread_mutex_unlock(&progress_lock);
}
