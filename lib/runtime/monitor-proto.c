/*
 * monitor-proto.c - length-prefixed JSON frames with SCM_RIGHTS, for korch-monitor and its
 * clients.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/error.h"
#include "runtime/monitor-proto.h"

int
proto_encode(json_t *msg, struct strbuf *out, korch_error **err)
{
	_cleanup_free_ char *text = json_dumps(msg, JSON_COMPACT);
	if (!text)
		return error_oom(err);
	size_t n = strlen(text);
	if (n > MONITOR_MESSAGE_MAX)
		return error_set(err, KORCH_ETOOLARGE, "message of %zu bytes is over the %d limit",
				 n, MONITOR_MESSAGE_MAX);
	unsigned char head[4] = { (unsigned char)(n >> 24), (unsigned char)(n >> 16),
				  (unsigned char)(n >> 8), (unsigned char)n };
	if (strbuf_append(out, (const char *)head, 4) < 0 || strbuf_append(out, text, n) < 0)
		return error_oom(err);
	return 0;
}

static int
wait_writable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	return RETRY_EINTR(poll(&p, 1, -1)) < 0 ? -errno : 0;
}

int
proto_send(int fd, json_t *msg, const int *fds, size_t n_fds, korch_error **err)
{
	_cleanup_strbuf_ struct strbuf frame = STRBUF_INIT;
	if (n_fds > MONITOR_FDS_MAX)
		return error_set(err, KORCH_EINVALID, "at most %d fds per message",
				 MONITOR_FDS_MAX);
	int r = proto_encode(msg, &frame, err);
	if (r < 0)
		return r;
	size_t off = 0;
	while (off < frame.len) {
		struct iovec iov = { frame.buf + off, frame.len - off };
		union {
			char buf[CMSG_SPACE(sizeof(int) * MONITOR_FDS_MAX)];
			struct cmsghdr align;
		} ctl;
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		if (off == 0 && n_fds > 0) {
			memset(&ctl, 0, sizeof(ctl));
			mh.msg_control = ctl.buf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
			struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
			memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
		}
		ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN && (r = wait_writable(fd)) == 0)
				continue;
			return error_errno(err, errno, "send to korch-monitor socket");
		}
		off += (size_t)n;
	}
	return 0;
}

static void
queue_fds(struct proto_reader *r, struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int fds[MONITOR_FDS_QUEUE];
		if (n > MONITOR_FDS_QUEUE)
			n = MONITOR_FDS_QUEUE;
		memcpy(fds, CMSG_DATA(c), n * sizeof(int));
		for (size_t i = 0; i < n; i++) {
			if (r->n_fds < MONITOR_FDS_QUEUE)
				r->fds[r->n_fds++] = fds[i];
			else
				close(fds[i]); /* a peer flooding us with fds */
		}
	}
}

int
proto_reader_fill(struct proto_reader *r, int fd, korch_error **err)
{
	if (r->cap - r->len < 65536) {
		size_t ncap = r->cap ? r->cap * 2 : 65536;
		while (ncap - r->len < 65536)
			ncap *= 2;
		if (ncap > MONITOR_MESSAGE_MAX + 4 + 65536)
			ncap = MONITOR_MESSAGE_MAX + 4 + 65536;
		if (ncap > r->cap) {
			char *b = realloc(r->buf, ncap);
			if (!b)
				return error_oom(err);
			r->buf = b;
			r->cap = ncap;
		}
	}
	if (r->len == r->cap)
		return error_set(err, KORCH_ETOOLARGE, "message over the %d byte limit",
				 MONITOR_MESSAGE_MAX);
	union {
		char buf[CMSG_SPACE(sizeof(int) * MONITOR_FDS_QUEUE)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { r->buf + r->len, r->cap - r->len };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl) };
	ssize_t n = RETRY_EINTR(recvmsg(fd, &mh, MSG_CMSG_CLOEXEC));
	if (n < 0) {
		if (errno == EAGAIN)
			return -EAGAIN;
		if (errno == ECONNRESET)
			return 0;
		return error_errno(err, errno, "receive from socket");
	}
	queue_fds(r, &mh);
	if (mh.msg_flags & MSG_CTRUNC)
		return error_set(err, KORCH_EPROTO, "too many fds in one message");
	r->len += (size_t)n;
	return (int)n;
}

int
proto_reader_next(struct proto_reader *r, json_t **ret, korch_error **err)
{
	if (r->len < 4)
		return 0;
	const unsigned char *h = (const unsigned char *)r->buf;
	size_t n = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
	if (n > MONITOR_MESSAGE_MAX)
		return error_set(err, KORCH_ETOOLARGE, "message of %zu bytes is over the %d limit",
				 n, MONITOR_MESSAGE_MAX);
	if (r->len < 4 + n)
		return 0;
	json_error_t jerr;
	json_t *msg = json_loadb(r->buf + 4, n, JSON_REJECT_DUPLICATES, &jerr);
	memmove(r->buf, r->buf + 4 + n, r->len - 4 - n);
	r->len -= 4 + n;
	if (!msg)
		return error_set(err, KORCH_EPROTO, "bad message: %s", jerr.text);
	if (!json_is_object(msg)) {
		json_decref(msg);
		return error_set(err, KORCH_EPROTO, "bad message: not a JSON object");
	}
	*ret = msg;
	return 1;
}

int
proto_reader_take_fds(struct proto_reader *r, size_t n, int *ret_fds, korch_error **err)
{
	if (n > r->n_fds)
		return error_set(err, KORCH_EPROTO, "message announced %zu fds, %zu arrived", n,
				 r->n_fds);
	memcpy(ret_fds, r->fds, n * sizeof(int));
	memmove(r->fds, r->fds + n, (r->n_fds - n) * sizeof(int));
	r->n_fds -= n;
	return 0;
}

void
proto_reader_clear(struct proto_reader *r)
{
	for (size_t i = 0; i < r->n_fds; i++)
		close(r->fds[i]);
	free(r->buf);
	*r = (struct proto_reader)PROTO_READER_INIT;
}

json_t *
proto_error_json(const korch_error *err)
{
	return json_pack("{s:i, s:i, s:s}", "code", err ? korch_error_code(err) : KORCH_ESYSTEM,
			 "errno", err ? korch_error_errno(err) : 0, "message",
			 err ? korch_error_message(err) : "unknown error");
}

int
proto_error_from_json(json_t *error, korch_error **err)
{
	json_int_t code = json_integer_value(json_object_get(error, "code"));
	json_int_t errnum = json_integer_value(json_object_get(error, "errno"));
	const char *msg = json_string_value(json_object_get(error, "message"));
	if (code >= 0 || code < KORCH_EPROTO - 100)
		code = KORCH_EPROTO;
	return error_set_errno(err, (int)code, (int)errnum, "%s", msg ? msg : "unknown error");
}
