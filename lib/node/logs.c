/*
 * logs.c - the CRI log reader: rotated files in order, "TIME STREAM TAG text" lines turned
 * back into the container's output, tail, since, timestamps, byte limits and follow (inotify on
 * the file, reopened when rotation replaces it).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "base/vec.h"
#include "node/logs.h"

#define MAX_ROTATED 64

/* One logical line: its time and its text (parts of a split line joined). */
struct line {
	int64_t t;  /* wall ns of its first part */
	char *text; /* with the trailing newline */
	size_t len; /* bytes of text */
};

struct reader {
	const struct log_read_options *o; /* options */
	log_output_fn fn;                 /* output */
	void *userdata;                   /* for fn */
	int64_t written;                  /* bytes output so far */
	bool stop;                        /* fn asked to stop, or the limit was reached */
	struct strbuf partial;            /* a split line being joined */
	int64_t partial_t;                /* its first part's time */
	/* tail: the last lines, a ring */
	struct line *ring;        /* tail_lines entries */
	size_t ring_n, ring_head; /* held, next slot */
};

/* RFC 3339 with nanoseconds, trailing zeros dropped (Go's RFC3339Nano). */
static void
format_nano(int64_t wall_ns, char buf[static 48])
{
	char base[32];
	format_rfc3339(wall_ns - wall_ns % NSEC_PER_SEC, false, base);
	long ns = (long)(wall_ns % NSEC_PER_SEC);
	base[strlen(base) - 1] = '\0'; /* drop the Z */
	if (ns == 0) {
		snprintf(buf, 48, "%sZ", base);
		return;
	}
	char frac[16];
	snprintf(frac, sizeof(frac), "%09ld", ns);
	for (int i = 8; i > 0 && frac[i] == '0'; i--)
		frac[i] = '\0';
	snprintf(buf, 48, "%s.%sZ", base, frac);
}

static void
emit(struct reader *r, const char *data, size_t len)
{
	if (r->stop || len == 0)
		return;
	if (r->o->limit_bytes > 0 && r->written + (int64_t)len > r->o->limit_bytes) {
		len = (size_t)(r->o->limit_bytes - r->written);
		r->stop = true;
	}
	r->written += (int64_t)len;
	if (len && r->fn(data, len, r->userdata) != 0)
		r->stop = true;
}

static void
emit_line(struct reader *r, int64_t t, const char *text, size_t len)
{
	/* t 0: a line that was not a CRI line, of unknown time: kept, shown as it is. */
	if (t && r->o->since_wall_ns && t < r->o->since_wall_ns)
		return;
	if (r->o->timestamps && t) {
		char ts[48];
		format_nano(t, ts);
		size_t n = strlen(ts);
		ts[n++] = ' ';
		ts[n] = '\0';
		emit(r, ts, n);
	}
	emit(r, text, len);
}

/* A complete logical line: into the tail ring, or out. */
static void
line_done(struct reader *r, int64_t t, const char *text, size_t len, bool buffering)
{
	if (!buffering) {
		emit_line(r, t, text, len);
		return;
	}
	if (t && r->o->since_wall_ns && t < r->o->since_wall_ns)
		return;
	struct line *slot = &r->ring[r->ring_head];
	free(slot->text);
	slot->text = malloc(len);
	if (slot->text)
		memcpy(slot->text, text, len);
	slot->len = slot->text ? len : 0;
	slot->t = t;
	r->ring_head = (r->ring_head + 1) % (size_t)r->o->tail_lines;
	if (r->ring_n < (size_t)r->o->tail_lines)
		r->ring_n++;
}

/* One line of the file (without its newline). */
static void
parse_line(struct reader *r, const char *s, size_t len, bool buffering)
{
	/* "TIME STREAM TAG text" */
	const char *sp1 = memchr(s, ' ', len);
	const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - s)) : NULL;
	const char *sp3 = sp2 ? memchr(sp2 + 1, ' ', len - (size_t)(sp2 + 1 - s)) : NULL;
	char ts[48];
	int64_t t = 0;
	bool cri = sp1 && sp2 && (size_t)(sp1 - s) < sizeof(ts);
	if (cri) {
		memcpy(ts, s, (size_t)(sp1 - s));
		ts[sp1 - s] = '\0';
		cri = parse_rfc3339(ts, &t) == 0;
	}
	if (!cri) {
		strbuf_append(&r->partial, s, len);
		strbuf_putc(&r->partial, '\n');
		line_done(r, 0, strbuf_str(&r->partial), r->partial.len, buffering);
		strbuf_truncate(&r->partial, 0);
		return;
	}
	char tag = sp2 + 1 < s + len ? sp2[1] : 'F';
	const char *text = sp3 ? sp3 + 1 : s + len;
	size_t tlen = (size_t)(s + len - text);
	if (r->partial.len == 0)
		r->partial_t = t;
	strbuf_append(&r->partial, text, tlen);
	if (tag == 'P')
		return;
	strbuf_putc(&r->partial, '\n');
	line_done(r, r->partial_t, strbuf_str(&r->partial), r->partial.len, buffering);
	strbuf_truncate(&r->partial, 0);
}

/* Reads fd from its current offset to the end; a trailing piece without newline waits. */
static int
read_lines(struct reader *r, int fd, struct strbuf *carry, bool buffering, korch_error **err)
{
	char buf[65536];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return error_errno(err, errno, "read log");
		}
		if (n == 0)
			return 0;
		strbuf_append(carry, buf, (size_t)n);
		size_t start = 0;
		for (size_t i = 0; i < carry->len; i++)
			if (carry->buf[i] == '\n') {
				parse_line(r, carry->buf + start, i - start, buffering);
				start = i + 1;
				if (r->stop)
					return 0;
			}
		if (start) {
			memmove(carry->buf, carry->buf + start, carry->len - start);
			strbuf_truncate(carry, carry->len - start);
		}
	}
}

static int
read_path(struct reader *r, const char *path, bool buffering, korch_error **err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : error_errno(err, errno, "open %s", path);
	struct strbuf carry = STRBUF_INIT;
	int ret = read_lines(r, fd, &carry, buffering, err);
	if (ret == 0 && carry.len)
		parse_line(r, carry.buf, carry.len, buffering);
	strbuf_free(&carry);
	close(fd);
	return ret;
}

static void
flush_ring(struct reader *r)
{
	size_t cap = (size_t)r->o->tail_lines;
	for (size_t i = 0; i < r->ring_n && !r->stop; i++) {
		struct line *l = &r->ring[(r->ring_head + cap - r->ring_n + i) % cap];
		emit_line(r, l->t, l->text, l->len);
	}
}

/* Follows path after the end: new lines as they come, a rotation reopens the file. */
static int
follow(struct reader *r, const char *path, korch_error **err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, errno, "open %s", path);
	struct stat st;
	fstat(fd, &st);
	lseek(fd, 0, SEEK_END);
	int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (in >= 0)
		inotify_add_watch(in, path, IN_MODIFY | IN_MOVE_SELF | IN_DELETE_SELF);
	struct strbuf carry = STRBUF_INIT;
	int ret = 0;
	bool last_round = false;
	while (!r->stop) {
		if ((ret = read_lines(r, fd, &carry, false, err)) < 0 || r->stop)
			break;
		struct stat now;
		if (stat(path, &now) == 0 && now.st_ino != st.st_ino) {
			/* Rotated: what is left of the old file, then the new one from its start. */
			if ((ret = read_lines(r, fd, &carry, false, err)) < 0)
				break;
			close(fd);
			if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
				ret = error_errno(err, errno, "open %s", path);
				break;
			}
			fstat(fd, &st);
			if (in >= 0)
				inotify_add_watch(in, path,
						  IN_MODIFY | IN_MOVE_SELF | IN_DELETE_SELF);
			continue;
		}
		if (last_round)
			break;
		if (r->o->still_running && !r->o->still_running(r->o->userdata)) {
			/* The writer is done: one more read catches what it wrote last. */
			last_round = true;
			continue;
		}
		struct pollfd pfd = { .fd = in, .events = POLLIN };
		if (in >= 0 && poll(&pfd, 1, 1000) > 0) {
			char ev[4096];
			while (read(in, ev, sizeof(ev)) > 0)
				;
		} else if (in < 0) {
			usleep(200000);
		}
	}
	if (ret == 0 && carry.len && !r->stop)
		parse_line(r, carry.buf, carry.len, false);
	strbuf_free(&carry);
	if (in >= 0)
		close(in);
	if (fd >= 0)
		close(fd);
	return ret;
}

int
logs_read_file(const char *path, const struct log_read_options *o, log_output_fn fn, void *userdata,
	       korch_error **err)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return errno == ENOENT
			       ? error_set(err, KORCH_ENOTFOUND, "log file %s not found", path)
			       : error_errno(err, errno, "log file %s", path);
	struct reader r = { .o = o, .fn = fn, .userdata = userdata, .partial = STRBUF_INIT };
	bool buffering = o->tail_lines >= 0;
	if (o->tail_lines == 0) {
		int fr = o->follow ? follow(&r, path, err) : 0;
		strbuf_free(&r.partial);
		return fr;
	}
	if (buffering && !(r.ring = calloc((size_t)o->tail_lines, sizeof(*r.ring))))
		return error_oom(err);
	int ret = 0;
	/* Oldest first: PATH.N ... PATH.1, then PATH. */
	int oldest = 0;
	for (int i = 1; i <= MAX_ROTATED; i++) {
		char rot[PATH_MAX];
		snprintf(rot, sizeof(rot), "%s.%d", path, i);
		if (stat(rot, &st) < 0)
			break;
		oldest = i;
	}
	for (int i = oldest; i >= 0 && ret == 0 && !r.stop; i--) {
		char p[PATH_MAX];
		if (i)
			snprintf(p, sizeof(p), "%s.%d", path, i);
		else
			snprintf(p, sizeof(p), "%s", path);
		ret = read_path(&r, p, buffering, err);
	}
	if (ret == 0 && r.partial.len) {
		line_done(&r, r.partial_t, strbuf_str(&r.partial), r.partial.len, buffering);
		strbuf_truncate(&r.partial, 0);
	}
	if (ret == 0 && buffering)
		flush_ring(&r);
	if (r.ring) {
		for (int64_t i = 0; i < o->tail_lines; i++)
			free(r.ring[i].text);
		free(r.ring);
	}
	if (ret == 0 && o->follow && !r.stop)
		ret = follow(&r, path, err);
	strbuf_free(&r.partial);
	return ret;
}
