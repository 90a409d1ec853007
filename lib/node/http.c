/*
 * http.c - HTTP GETs for probes and lifecycle hooks through libcurl's multi interface, driven
 * by the korch loop (its socket and timer callbacks become loop sources): nothing blocks, any
 * number of probes run at once. libcurl (and GnuTLS under it) is set up on the first request
 * only, so that an agent whose pods have no HTTP probe pays nothing for it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "base/error.h"
#include "base/loop.h"
#include "base/util.h"
#include "base/vec.h"
#include "node/node-internal.h"

#define BODY_MAX 10240 /* the kubelet reads at most 10 KiB of a probe's response */

struct http_ctx {
	korch_loop *loop;          /* borrowed */
	CURLM *multi;              /* made on first use */
	struct loop_source *timer; /* curl's timeout */
	struct ptrvec reqs;        /* struct http_req in flight */
};

struct http_req {
	struct http_ctx *h;           /* owner */
	CURL *easy;                   /* the transfer */
	struct curl_slist *headers;   /* request headers */
	http_done_fn done;            /* completion */
	void *userdata;               /* for done */
	http_socket_fn open_socket;   /* or NULL */
	void *socket_userdata;        /* for open_socket */
	char *url;                    /* for messages */
	size_t body;                  /* bytes read so far */
	char errbuf[CURL_ERROR_SIZE]; /* curl's message */
};

/* One socket curl watches. */
struct http_sock {
	struct http_ctx *h;      /* owner */
	struct loop_source *src; /* the fd on the loop */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void
curl_init(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void
req_free(struct http_req *r)
{
	if (!r)
		return;
	if (r->easy) {
		if (r->h->multi)
			curl_multi_remove_handle(r->h->multi, r->easy);
		curl_easy_cleanup(r->easy);
	}
	curl_slist_free_all(r->headers);
	free(r->url);
	free(r);
}

static void
forget(struct http_req *r)
{
	struct ptrvec *v = &r->h->reqs;
	for (size_t i = 0; i < v->n; i++)
		if (v->items[i] == r) {
			ptrvec_remove(v, i);
			return;
		}
}

/* Finished transfers: report each once. */
static void
check_done(struct http_ctx *h)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(h->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct http_req *r = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		if (!r)
			continue;
		long code = 0;
		char message[CURL_ERROR_SIZE + 512];
		message[0] = '\0';
		if (msg->data.result == CURLE_OK) {
			curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
		} else {
			snprintf(message, sizeof(message), "Get \"%s\": %s", r->url,
				 r->errbuf[0] ? r->errbuf : curl_easy_strerror(msg->data.result));
			code = 0;
		}
		forget(r);
		http_done_fn done = r->done;
		void *ud = r->userdata;
		req_free(r);
		if (done)
			done(ud, code, message[0] ? message : NULL);
	}
}

static void
on_io(struct loop_source *src, int fd, uint32_t revents, void *userdata)
{
	struct http_ctx *h = userdata;
	int mask = 0;
	if (revents & EPOLLIN)
		mask |= CURL_CSELECT_IN;
	if (revents & EPOLLOUT)
		mask |= CURL_CSELECT_OUT;
	if (revents & (EPOLLERR | EPOLLHUP))
		mask |= CURL_CSELECT_ERR;
	int running = 0;
	curl_multi_socket_action(h->multi, fd, mask, &running);
	check_done(h);
}

static void
on_timer(struct loop_source *src, void *userdata)
{
	struct http_ctx *h = userdata;
	int running = 0;
	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(h);
}

static int
socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct http_ctx *h = userp;
	struct http_sock *hs = socketp;
	if (what == CURL_POLL_REMOVE) {
		if (hs) {
			loop_source_free(hs->src);
			free(hs);
			curl_multi_assign(h->multi, s, NULL);
		}
		return 0;
	}
	uint32_t events = 0;
	if (what & CURL_POLL_IN)
		events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		events |= EPOLLOUT;
	if (hs)
		return loop_source_set_events(hs->src, events, NULL) < 0 ? -1 : 0;
	hs = calloc(1, sizeof(*hs));
	if (!hs)
		return -1;
	hs->h = h;
	if (loop_add_io(h->loop, s, events, on_io, h, &hs->src, NULL) < 0) {
		free(hs);
		return -1;
	}
	curl_multi_assign(h->multi, s, hs);
	return 0;
}

static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct http_ctx *h = userp;
	if (timeout_ms < 0)
		loop_timer_set(h->timer, -1);
	else
		loop_timer_set(h->timer, korch_clock_now_ns(korch_loop_clock(h->loop)) +
						 (int64_t)timeout_ms * NSEC_PER_MSEC);
	return 0;
}

static size_t
body_cb(char *data, size_t size, size_t n, void *userdata)
{
	struct http_req *r = userdata;
	r->body += size * n;
	/* Past the kubelet's limit the body is not read further; the status code stands. */
	return r->body > BODY_MAX ? 0 : size * n;
}

static curl_socket_t
open_socket_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
	struct http_req *r = clientp;
	int fd = r->open_socket(r->socket_userdata, addr->family, addr->socktype);
	return fd < 0 ? CURL_SOCKET_BAD : fd;
}

int
http_ctx_new(korch_loop *loop, struct http_ctx **ret, korch_error **err)
{
	struct http_ctx *h = calloc(1, sizeof(*h));
	if (!h)
		return error_oom(err);
	h->loop = loop;
	*ret = h;
	return 0;
}

static int
ctx_start(struct http_ctx *h, korch_error **err)
{
	if (h->multi)
		return 0;
	pthread_once(&curl_once, curl_init);
	if (curl_init_result != CURLE_OK)
		return error_set(err, KORCH_ESYSTEM, "libcurl: %s",
				 curl_easy_strerror(curl_init_result));
	int r = loop_add_timer(h->loop, -1, on_timer, h, &h->timer, err);
	if (r < 0)
		return r;
	if (!(h->multi = curl_multi_init()))
		return error_set(err, KORCH_ENOMEM, "libcurl: cannot make a multi handle");
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	return 0;
}

void
http_ctx_free(struct http_ctx *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->reqs.n; i++)
		req_free(h->reqs.items[i]);
	ptrvec_free(&h->reqs, NULL);
	if (h->multi)
		curl_multi_cleanup(h->multi);
	loop_source_free(h->timer);
	free(h);
}

int
http_get(struct http_ctx *h, const char *url, const json_t *headers, int64_t timeout_ns,
	 http_socket_fn open_socket, void *socket_userdata, http_done_fn done, void *userdata,
	 struct http_req **ret, korch_error **err)
{
	int r = ctx_start(h, err);
	if (r < 0)
		return r;
	struct http_req *q = calloc(1, sizeof(*q));
	if (!q || !(q->url = strdup(url)) || !(q->easy = curl_easy_init())) {
		req_free(q);
		return error_oom(err);
	}
	q->h = h;
	q->done = done;
	q->userdata = userdata;
	q->open_socket = open_socket;
	q->socket_userdata = socket_userdata;
	bool user_agent = false, accept = false;
	size_t i;
	json_t *hd;
	json_array_foreach (headers, i, hd) {
		const char *name = json_string_value(json_object_get(hd, "name"));
		const char *value = json_string_value(json_object_get(hd, "value"));
		if (!name)
			continue;
		char line[1024];
		snprintf(line, sizeof(line), "%s: %s", name, value ? value : "");
		if (strcasecmp(name, "User-Agent") == 0)
			user_agent = true;
		if (strcasecmp(name, "Accept") == 0)
			accept = true;
		q->headers = curl_slist_append(q->headers, line);
	}
	if (!user_agent)
		q->headers = curl_slist_append(q->headers, "User-Agent: kube-probe/1.32");
	if (!accept)
		q->headers = curl_slist_append(q->headers, "Accept: */*");
	CURL *e = q->easy;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, q->headers);
	curl_easy_setopt(e, CURLOPT_PRIVATE, q);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, q->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)MAX(timeout_ns / NSEC_PER_MSEC, 1));
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, body_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	if (open_socket) {
		curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket_cb);
		curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, q);
	}
	if (ptrvec_push(&h->reqs, q) < 0) {
		req_free(q);
		return error_oom(err);
	}
	if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
		forget(q);
		req_free(q);
		return error_set(err, KORCH_ESYSTEM, "libcurl: cannot add the request for %s", url);
	}
	if (ret)
		*ret = q;
	return 0;
}

void
http_cancel(struct http_req *req)
{
	if (!req)
		return;
	forget(req);
	req_free(req);
}
