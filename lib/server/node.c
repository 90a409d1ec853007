/*
 * node.c - the requests that need a node or a signing key rather than the store: pods/log
 * (streamed from the node agent's log call, with back-pressure), metrics.k8s.io/v1beta1 (from the
 * node agent's samples) and serviceaccounts/token (TokenRequest through lib/client). Without a
 * node agent the first two answer 503 saying so.
 */
#include <stdlib.h>
#include <string.h>

#include "api/codec.h"
#include "base/error.h"
#include "base/json.h"
#include "base/util.h"
#include "server/server-internal.h"

/* Log text buffered for a slow reader before the node agent is asked to pause. */
#define LOG_HIGH_WATER (1024 * 1024)

struct log_stream {
	struct request *req; /* the request it answers */
	void *handle;        /* the node agent's stream, NULL once done */
	struct strbuf out;   /* text not sent yet */
	size_t off;          /* bytes of out sent */
	bool paused;         /* the node agent waits for log_resume */
	bool done;           /* no more text will come */
};

const char *
pod_container(struct request *req, const json_t *pod)
{
	const char *name = request_arg(req, "container");
	const json_t *containers = json_object_get(json_object_get(pod, "spec"), "containers");
	const json_t *inits = json_object_get(json_object_get(pod, "spec"), "initContainers");
	size_t i;
	json_t *c;
	if (!name || !*name) {
		if (json_array_size(containers) == 1)
			return json_string_value(
				json_object_get(json_array_get(containers, 0), "name"));
		_cleanup_strbuf_ struct strbuf names = STRBUF_INIT;
		json_array_foreach (containers, i, c) {
			if (i)
				strbuf_putc(&names, ' ');
			strbuf_puts(&names, json_string_value(json_object_get(c, "name")));
		}
		respond_status(req, 400, "BadRequest",
			       "a container name must be specified for pod %s, choose one of: [%s]",
			       req->route.name, strbuf_str(&names));
		return NULL;
	}
	json_array_foreach (containers, i, c)
		if (streq(json_string_value(json_object_get(c, "name")), name))
			return name;
	json_array_foreach (inits, i, c)
		if (streq(json_string_value(json_object_get(c, "name")), name))
			return name;
	respond_status(req, 400, "BadRequest", "container %s is not valid for pod %s", name,
		       req->route.name);
	return NULL;
}

/* ---- logs ---- */

void
log_stream_free(struct log_stream *ls)
{
	if (!ls)
		return;
	const struct server_node_ops *ops = ls->req->srv->opts.node;
	if (ls->handle && ops && ops->log_cancel)
		ops->log_cancel(ls->handle);
	strbuf_free(&ls->out);
	free(ls);
}

static int
log_write(const char *data, size_t len, void *userdata)
{
	struct log_stream *ls = userdata;
	if (strbuf_append(&ls->out, data, len) < 0)
		return 1;
	request_wake(ls->req);
	if (ls->out.len - ls->off > LOG_HIGH_WATER) {
		ls->paused = true;
		return 1;
	}
	return 0;
}

static void
log_done(int r, const korch_error *error, void *userdata)
{
	struct log_stream *ls = userdata;
	ls->done = true;
	ls->handle = NULL;
	request_wake(ls->req);
}

static ssize_t
log_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct request *req = cls;
	struct log_stream *ls = req->log;
	if (req->peer_gone || !ls)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	size_t pending = ls->out.len - ls->off;
	if (pending) {
		size_t n = MIN(pending, max);
		memcpy(buf, ls->out.buf + ls->off, n);
		ls->off += n;
		if (ls->off == ls->out.len) {
			strbuf_truncate(&ls->out, 0);
			ls->off = 0;
			const struct server_node_ops *ops = req->srv->opts.node;
			if (ls->paused && ls->handle && ops->log_resume) {
				ls->paused = false;
				ops->log_resume(ls->handle);
			}
		}
		return (ssize_t)n;
	}
	if (ls->done || req->srv->stopping)
		return MHD_CONTENT_READER_END_OF_STREAM;
	request_suspend(req);
	return 0;
}

static bool
int_arg(struct request *req, const char *key, int64_t *ret)
{
	const char *v = request_arg(req, key);
	if (!v || !*v)
		return true;
	if (parse_int64(v, ret) < 0) {
		respond_status(req, 400, "BadRequest", "%s: invalid value \"%s\"", key, v);
		return false;
	}
	return true;
}

void
handle_log(struct request *req)
{
	struct server *s = req->srv;
	const struct route *r = &req->route;
	_cleanup_error_ korch_error *e = NULL;
	_cleanup_json_ json_t *pod = NULL;
	int rc = client_get(s->client, r->kind, r->ns, r->name, &pod, &e);
	if (rc < 0) {
		respond_error(req, rc, e);
		return;
	}
	const char *container = pod_container(req, pod);
	if (!container)
		return;
	struct server_log_request lr = {
		.ns = r->ns,
		.pod = r->name,
		.container = container,
		.follow = request_arg_true(req, "follow"),
		.previous = request_arg_true(req, "previous"),
		.timestamps = request_arg_true(req, "timestamps"),
		.tail_lines = -1,
	};
	if (!int_arg(req, "tailLines", &lr.tail_lines) ||
	    !int_arg(req, "sinceSeconds", &lr.since_seconds) ||
	    !int_arg(req, "limitBytes", &lr.limit_bytes))
		return;
	const char *since_time = request_arg(req, "sinceTime");
	if (since_time && *since_time) {
		if (lr.since_seconds) {
			respond_status(
				req, 422, "Invalid",
				"PodLogOptions \"%s\" is invalid: [spec.sinceSeconds: Forbidden: "
				"at most one of `sinceTime` or `sinceSeconds` may be specified]",
				r->name);
			return;
		}
		if (parse_rfc3339(since_time, &lr.since_time_ns) < 0) {
			respond_status(req, 400, "BadRequest", "sinceTime: invalid value \"%s\"",
				       since_time);
			return;
		}
	}
	if (lr.tail_lines < -1 || lr.since_seconds < 0 || lr.limit_bytes < 0) {
		respond_status(req, 422, "Invalid",
			       "PodLogOptions \"%s\" is invalid: tailLines, sinceSeconds and "
			       "limitBytes must not be negative",
			       r->name);
		return;
	}
	const char *node =
		json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));
	if (!node || !*node) {
		respond_status(req, 400, "BadRequest",
			       "container \"%s\" in pod \"%s\" is waiting to start: the pod is not "
			       "scheduled to a node yet",
			       container, r->name);
		return;
	}
	const struct server_node_ops *ops = s->opts.node;
	if (!ops || !ops->log_start) {
		respond_status(
			req, 503, "ServiceUnavailable",
			"pods \"%s\": logs are not available: this korchd runs no node agent",
			r->name);
		return;
	}
	struct log_stream *ls = calloc(1, sizeof(*ls));
	if (!ls) {
		respond_status(req, 500, "InternalError", "out of memory");
		return;
	}
	ls->req = req;
	req->log = ls;
	rc = ops->log_start(ops->node, &lr, log_write, log_done, ls, &ls->handle, &e);
	if (rc < 0) {
		ls->handle = NULL;
		respond_error(req, rc, e);
		return;
	}
	struct MHD_Response *resp =
		MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, log_read, req, NULL);
	if (!resp) {
		respond_status(req, 500, "InternalError", "out of memory");
		return;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
	req->answered = true;
	req->mode = STREAM_LOG;
	MHD_queue_response(req->conn, 200, resp);
	MHD_destroy_response(resp);
}

/* ---- metrics.k8s.io ---- */

static json_t *
metrics_item(const json_t *sample, bool pod)
{
	json_t *meta = json_pack("{s:O?, s:O?}", "name", json_object_get(sample, "name"),
				 "namespace", json_object_get(sample, "namespace"));
	json_t *item = json_pack("{s:o, s:O?, s:O?}", "metadata", meta, "timestamp",
				 json_object_get(sample, "timestamp"), "window",
				 json_object_get(sample, "window"));
	if (pod)
		json_object_set(item, "containers", json_object_get(sample, "containers"));
	else
		json_object_set(item, "usage", json_object_get(sample, "usage"));
	return item;
}

void
handle_metrics(struct request *req)
{
	const struct route *r = &req->route;
	const struct server_node_ops *ops = req->srv->opts.node;
	if (!ops || !ops->metrics) {
		respond_status(req, 503, "ServiceUnavailable",
			       "the metrics API is not available: this korchd runs no node agent");
		return;
	}
	_cleanup_error_ korch_error *e = NULL;
	_cleanup_json_ json_t *samples = NULL;
	int rc = ops->metrics(ops->node, &samples, &e);
	if (rc < 0) {
		respond_error(req, rc, e);
		return;
	}
	bool pods = streq(r->resource, "pods");
	const char *kind = pods ? "PodMetrics" : "NodeMetrics";
	json_t *items = json_array();
	if (pods) {
		size_t i;
		json_t *p;
		json_array_foreach (json_object_get(samples, "pods"), i, p) {
			if (r->ns &&
			    !streq(json_string_value(json_object_get(p, "namespace")), r->ns))
				continue;
			if (r->name &&
			    !streq(json_string_value(json_object_get(p, "name")), r->name))
				continue;
			json_array_append_new(items, metrics_item(p, true));
		}
	} else {
		json_t *n = json_object_get(samples, "node");
		if (n &&
		    (!r->name || streq(json_string_value(json_object_get(n, "name")), r->name)))
			json_array_append_new(items, metrics_item(n, false));
	}
	if (r->name) {
		json_t *one = json_array_get(items, 0);
		if (!one) {
			json_decref(items);
			respond_status(req, 404, "NotFound", "%s.metrics.k8s.io \"%s\" not found",
				       r->resource, r->name);
			return;
		}
		json_object_set_new(one, "kind", json_string(kind));
		json_object_set_new(one, "apiVersion", json_string("metrics.k8s.io/v1beta1"));
		respond_json(req, 200, one);
		json_decref(items);
		return;
	}
	char list_kind[32];
	snprintf(list_kind, sizeof(list_kind), "%sList", kind);
	_cleanup_json_ json_t *list =
		json_pack("{s:s, s:s, s:{}, s:o}", "kind", list_kind, "apiVersion",
			  "metrics.k8s.io/v1beta1", "metadata", "items", items);
	respond_json(req, 200, list);
}

/* ---- serviceaccounts/token ---- */

void
handle_token(struct request *req)
{
	const struct route *r = &req->route;
	_cleanup_json_ json_t *body = NULL;
	_cleanup_error_ korch_error *e = NULL;
	if (req->body.len && request_body_object(req, &body) < 0)
		return;
	_cleanup_json_ json_t *out = NULL;
	int rc = client_token_request(req->srv->client, r->ns, r->name, body, &out, &e);
	if (rc < 0) {
		respond_error(req, rc, e);
		return;
	}
	respond_json(req, 201, out);
}
