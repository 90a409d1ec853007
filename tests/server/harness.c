/*
 * harness.c - see harness.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/loop.h"
#include "base/strbuf.h"
#include "client/client.h"
#include "harness.h"

static void
on_stop(struct loop_source *src, int fd, uint32_t revents, void *userdata)
{
	uint64_t v;
	if (read(fd, &v, sizeof(v)) < 0)
		return;
	korch_loop_quit(userdata);
}

static void
signal_ready(struct harness *h)
{
	uint64_t one = 1;
	if (write(h->ready_fd, &one, sizeof(one)) < 0)
		abort();
}

/* The loop's thread: everything of the server is made, run and freed here. */
static void *
run(void *arg)
{
	struct harness *h = arg;
	korch_clock *clock = NULL;
	korch_loop *loop = NULL;
	struct store *store = NULL;
	struct client *client = NULL;
	struct server *srv = NULL;
	struct loop_source *stop = NULL;
	korch_error *err = NULL;
	char path[160];
	snprintf(path, sizeof(path), "%s/state.db", h->dir);
	int r = korch_clock_new_real(&clock, &err);
	if (r == 0)
		r = korch_loop_new(clock, &loop, &err);
	if (r == 0) {
		struct store_options so = { .loop = loop,
					    .sync_normal = true,
					    .compact_keep_revisions = h->compact_keep,
					    .compact_keep_ns = h->compact_keep ? -1 : 0,
					    .compact_interval_ms = h->compact_keep ? 50 : 0 };
		r = store_open(path, &so, &store, &err);
	}
	if (r == 0)
		r = client_new_local(store, clock, &client, &err);
	if (r == 0) {
		/* The namespaces korchd makes. */
		static const char *const names[] = { "default", "kube-system" };
		for (size_t i = 0; i < 2 && r == 0; i++) {
			json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind",
					       "Namespace", "metadata", "name", names[i]);
			r = client_create(client, ns, NULL, NULL, &err);
			json_decref(ns);
		}
	}
	if (r == 0)
		r = server_new(client, loop, &h->opts, &srv, &err);
	if (r == 0)
		r = loop_add_io(loop, h->stop_fd, EPOLLIN, on_stop, loop, &stop, &err);
	h->start_status = r;
	if (r < 0)
		snprintf(h->start_error, sizeof(h->start_error), "%s", korch_error_message(err));
	signal_ready(h);
	if (r == 0)
		korch_loop_run(loop, NULL);
	loop_source_free(stop);
	server_free(srv);
	client_free(client);
	store_close(store);
	korch_loop_free(loop);
	korch_clock_free(clock);
	korch_error_free(err);
	return NULL;
}

void
harness_start(struct harness *h, const char *tokens_csv)
{
	snprintf(h->dir, sizeof(h->dir), "/tmp/korch-test-server-XXXXXX");
	assert_non_null(mkdtemp(h->dir));
	snprintf(h->socket, sizeof(h->socket), "%s/korchd.sock", h->dir);
	snprintf(h->tokens, sizeof(h->tokens), "%s/tokens.csv", h->dir);
	if (tokens_csv)
		assert_int_equal(
			write_file_atomic(h->tokens, tokens_csv, strlen(tokens_csv), 0600, NULL),
			0);
	h->opts.socket_path = h->socket;
	h->opts.token_file = h->tokens;
	h->stop_fd = eventfd(0, EFD_CLOEXEC);
	h->ready_fd = eventfd(0, EFD_CLOEXEC);
	assert_true(h->stop_fd >= 0 && h->ready_fd >= 0);
	assert_int_equal(pthread_create(&h->thread, NULL, run, h), 0);
	uint64_t v;
	assert_int_equal(read(h->ready_fd, &v, sizeof(v)), (ssize_t)sizeof(v));
	if (h->start_status < 0) {
		pthread_join(h->thread, NULL);
		fail_msg("server_new: %s", h->start_error);
	}
}

void
harness_stop(struct harness *h)
{
	uint64_t one = 1;
	if (write(h->stop_fd, &one, sizeof(one)) < 0)
		abort();
	pthread_join(h->thread, NULL);
	close(h->stop_fd);
	close(h->ready_fd);
	rm_rf(h->dir, NULL);
}

korch_client *
harness_client(struct harness *h, const char *token)
{
	korch_connect_options o = KORCH_CONNECT_OPTIONS_INIT;
	o.token = token;
	korch_client *c = NULL;
	korch_error *err = NULL;
	if (korch_client_connect(h->socket, &o, &c, &err) < 0)
		fail_msg("connect: %s", korch_error_message(err));
	return c;
}

/* Joins the chunks of a chunked body; true when it ended with its last (empty) chunk and every
 * chunk was framed as HTTP/1.1 frames it. */
static bool
unchunk(struct strbuf *out, const char *p, const char *end)
{
	while (p < end) {
		char *eol;
		unsigned long n = strtoul(p, &eol, 16);
		if (eol == p || (size_t)(end - eol) < 2 || memcmp(eol, "\r\n", 2) != 0)
			return false;
		p = eol + 2;
		if (n == 0)
			return end - p == 2 && memcmp(p, "\r\n", 2) == 0;
		if ((size_t)(end - p) < n + 2) {
			strbuf_append(out, p, (size_t)(end - p));
			return false;
		}
		strbuf_append(out, p, n);
		p += n;
		if (memcmp(p, "\r\n", 2) != 0)
			return false;
		p += 2;
	}
	return false;
}

int
http_send(struct harness *h, const char *head, const char *body, size_t body_len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, h->socket);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	struct strbuf req = STRBUF_INIT;
	strbuf_printf(&req, "%s\r\nHost: localhost\r\nConnection: close\r\n", head);
	if (body)
		strbuf_printf(&req, "Content-Length: %zu\r\n", body_len);
	strbuf_puts(&req, "\r\n");
	if (body)
		strbuf_append(&req, body, body_len);
	/* The server may answer (413) and close before taking the whole body: no SIGPIPE. */
	for (size_t off = 0; off < req.len;) {
		ssize_t n = send(fd, req.buf + off, req.len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	strbuf_free(&req);
	return fd;
}

int
http_read(int fd, struct http_reply *ret)
{
	struct strbuf in = STRBUF_INIT;
	char buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		strbuf_append(&in, buf, (size_t)n);
	close(fd);
	*ret = (struct http_reply){ 0 };
	const char *sep = in.buf ? strstr(in.buf, "\r\n\r\n") : NULL;
	if (!sep) {
		strbuf_free(&in);
		return -1;
	}
	sscanf(in.buf, "HTTP/1.%*d %d", &ret->status);
	ret->headers = strndup(in.buf, (size_t)(sep - in.buf) + 2);
	struct strbuf b = STRBUF_INIT;
	const char *start = sep + 4, *end = in.buf + in.len;
	if (strcasestr(ret->headers, "Transfer-Encoding: chunked"))
		ret->chunked_complete = unchunk(&b, start, end);
	else
		strbuf_append(&b, start, (size_t)(end - start));
	ret->body_len = b.len;
	ret->body = b.buf ? strbuf_steal(&b) : strdup("");
	strbuf_free(&in);
	return 0;
}

int
http_raw(struct harness *h, const char *head, const char *body, size_t body_len,
	 struct http_reply *ret)
{
	int fd = http_send(h, head, body, body_len);
	return fd < 0 ? -1 : http_read(fd, ret);
}

void
http_reply_free(struct http_reply *r)
{
	free(r->headers);
	free(r->body);
	*r = (struct http_reply){ 0 };
}

char *
http_header(const struct http_reply *r, const char *name)
{
	char want[128];
	snprintf(want, sizeof(want), "\r\n%s:", name);
	const char *p = strcasestr(r->headers, want);
	if (!p)
		return NULL;
	p += strlen(want);
	while (*p == ' ')
		p++;
	return strndup(p, strcspn(p, "\r\n"));
}
