/*
 * monitor-log.c - CRI-format log files with size rotation.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "runtime/monitor-log.h"

struct log_writer {
	char *path;        /* the current file */
	int fd;            /* O_APPEND */
	int64_t size;      /* bytes in the current file */
	int64_t max_bytes; /* rotate past this; 0: never */
	int max_files;     /* files kept, the current one included */
};

char *
format_time_nano(int64_t wall_ns, char buf[static 40])
{
	time_t sec = (time_t)(wall_ns / NSEC_PER_SEC);
	long nsec = (long)(wall_ns % NSEC_PER_SEC);
	if (nsec < 0) {
		sec--;
		nsec += NSEC_PER_SEC;
	}
	struct tm tm;
	gmtime_r(&sec, &tm);
	size_t n = strftime(buf, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, 40 - n, ".%09ldZ", nsec);
	return buf;
}

static int
open_current(struct log_writer *w, korch_error **err)
{
	int fd = open(w->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0)
		return error_errno(err, errno, "open log %s", w->path);
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return error_errno(err, e, "stat log %s", w->path);
	}
	w->fd = fd;
	w->size = st.st_size;
	return 0;
}

int
log_writer_open(const char *path, int64_t max_bytes, int max_files, struct log_writer **ret,
		korch_error **err)
{
	_cleanup_free_ char *dir = strdup(path);
	if (!dir)
		return error_oom(err);
	int r = mkdir_p(dirname(dir), 0755, err);
	if (r < 0)
		return korch_error_prefix(err, r, "log directory");
	struct log_writer *w = calloc(1, sizeof(*w));
	if (!w || !(w->path = strdup(path))) {
		free(w);
		return error_oom(err);
	}
	w->max_bytes = max_bytes;
	w->max_files = max_files < 1 ? 1 : max_files;
	if ((r = open_current(w, err)) < 0) {
		free(w->path);
		free(w);
		return r;
	}
	*ret = w;
	return 0;
}

void
log_writer_free(struct log_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	free(w->path);
	free(w);
}

/* PATH -> PATH.1 -> ... -> PATH.(max_files-1), the oldest dropped; one file: truncate. */
static int
rotate(struct log_writer *w, korch_error **err)
{
	if (w->max_files <= 1) {
		if (ftruncate(w->fd, 0) < 0)
			return error_errno(err, errno, "truncate log %s", w->path);
		w->size = 0;
		return 0;
	}
	char from[4200], to[4200];
	snprintf(to, sizeof(to), "%s.%d", w->path, w->max_files - 1);
	if (unlink(to) < 0 && errno != ENOENT)
		return error_errno(err, errno, "remove %s", to);
	for (int i = w->max_files - 2; i >= 1; i--) {
		snprintf(from, sizeof(from), "%s.%d", w->path, i);
		snprintf(to, sizeof(to), "%s.%d", w->path, i + 1);
		if (rename(from, to) < 0 && errno != ENOENT)
			return error_errno(err, errno, "rotate %s", from);
	}
	snprintf(to, sizeof(to), "%s.1", w->path);
	if (rename(w->path, to) < 0)
		return error_errno(err, errno, "rotate %s", w->path);
	close(w->fd);
	w->fd = -1;
	return open_current(w, err);
}

/* One line from up to two pieces of text (the pending part and the new data). */
static int
write_line(struct log_writer *w, int64_t wall_ns, const char *stream, char tag, const char *a,
	   size_t alen, const char *b, size_t blen, korch_error **err)
{
	char head[96], ts[40];
	int hlen = snprintf(head, sizeof(head), "%s %s %c ", format_time_nano(wall_ns, ts), stream,
			    tag);
	size_t total = (size_t)hlen + alen + blen + 1;
	if (w->max_bytes > 0 && w->size > 0 && w->size + (int64_t)total > w->max_bytes) {
		int r = rotate(w, err);
		if (r < 0)
			return r;
	}
	struct iovec iov[4] = {
		{ head, (size_t)hlen },
		{ (void *)a, alen },
		{ (void *)b, blen },
		{ (void *)"\n", 1 },
	};
	size_t done = 0;
	while (done < total) {
		ssize_t n = writev(w->fd, iov, 4);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return error_errno(err, errno, "write log %s", w->path);
		}
		done += (size_t)n;
		/* A short write: skip what went out and go on with the rest. */
		for (int i = 0; i < 4 && n > 0; i++) {
			size_t k = (size_t)n < iov[i].iov_len ? (size_t)n : iov[i].iov_len;
			iov[i].iov_base = (char *)iov[i].iov_base + k;
			iov[i].iov_len -= k;
			n -= (ssize_t)k;
		}
	}
	w->size += (int64_t)total;
	return 0;
}

int
log_writer_line(struct log_writer *w, int64_t wall_ns, const char *stream, char tag,
		const char *text, size_t len, korch_error **err)
{
	return write_line(w, wall_ns, stream, tag, text, len, NULL, 0, err);
}

int
log_stream_feed(struct log_stream *s, struct log_writer *w, int64_t wall_ns, const char *data,
		size_t len, korch_error **err)
{
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t seg = nl ? (size_t)(nl - data) : len;
		size_t room = LOG_LINE_MAX - s->len;
		int r;
		if (seg > room || (seg == room && !nl)) {
			/* The line outgrows one CRI line: a part of exactly LOG_LINE_MAX bytes. */
			r = write_line(w, wall_ns, s->name, 'P', s->pending, s->len, data, room,
				       err);
			s->len = 0;
			data += room;
			len -= room;
		} else if (nl) {
			r = write_line(w, wall_ns, s->name, 'F', s->pending, s->len, data, seg,
				       err);
			s->len = 0;
			data += seg + 1;
			len -= seg + 1;
		} else {
			if (!s->pending && !(s->pending = malloc(LOG_LINE_MAX)))
				return error_oom(err);
			memcpy(s->pending + s->len, data, seg);
			s->len += seg;
			return 0;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

int
log_stream_flush(struct log_stream *s, struct log_writer *w, int64_t wall_ns, korch_error **err)
{
	if (s->len == 0)
		return 0;
	int r = write_line(w, wall_ns, s->name, 'F', s->pending, s->len, NULL, 0, err);
	s->len = 0;
	return r;
}

void
log_stream_clear(struct log_stream *s)
{
	free(s->pending);
	s->pending = NULL;
	s->len = 0;
}
