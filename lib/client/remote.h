/*
 * remote.h - the client over HTTP (libcurl): a korchd's unix socket or an https:// API server
 * from a kubeconfig, with the calls the public korch_client makes remotely.
 */
#ifndef KORCH_CLIENT_REMOTE_H
#define KORCH_CLIENT_REMOTE_H

#include <stdbool.h>
#include <jansson.h>
#include <korch/client.h>
#include <korch/node.h>
#include "api/kinds.h"

struct remote;

/* Resolves target (socket, kubeconfig, URL or NULL) into a connection that sends on demand. */
int remote_open(const char *target, const korch_connect_options *opts, struct remote **ret,
		korch_error **err);
void remote_free(struct remote *r);

/* The path of a kind's collection, object or subresource ("/apis/apps/v1/namespaces/d/..."). */
char *remote_path(const struct kind_info *k, const char *ns, const char *name,
		  const char *subresource);

/*
 * One request with a JSON body (body may be NULL; content_type NULL: application/json). A 2xx
 * JSON answer goes to *ret (may be NULL) and *ret_http (may be NULL); a Status error becomes a
 * korch error with the code its reason says, its message and its causes.
 */
int remote_call(struct remote *r, const char *method, const char *path, const char *content_type,
		const json_t *body, long *ret_http, json_t **ret, korch_error **err);

/*
 * A streaming GET (a watch with lines = true: fn gets one JSON line at a time; logs: raw
 * chunks). fn returns non-zero to stop (then 0 is returned). No request timeout applies.
 */
int remote_stream(struct remote *r, const char *path, bool lines,
		  int (*fn)(const char *data, size_t len, void *userdata), void *userdata,
		  korch_error **err);

/*
 * pods/NAME/exec over WebSocket v5.channel.k8s.io: the streams of opts (-1: this process's
 * stdout or stderr; no stdin), until it exits.
 */
int remote_exec(struct remote *r, const char *path, const korch_exec_options *opts,
		int *ret_exit_code, korch_error **err);

/* ---- the public calls, remotely (public-remote.c) ---- */

int rc_get(struct remote *r, const struct kind_info *k, const char *ns, const char *name,
	   json_t **ret, korch_error **err);
int rc_list(struct remote *r, const struct kind_info *k, const char *ns,
	    const korch_list_options *o, json_t **ret, korch_error **err);
int rc_create(struct remote *r, const json_t *obj, const korch_write_options *o, json_t **ret,
	      korch_error **err);
int rc_update(struct remote *r, const json_t *obj, const char *subresource,
	      const korch_write_options *o, json_t **ret, korch_error **err);
int rc_patch(struct remote *r, const struct kind_info *k, const char *ns, const char *name,
	     int patch_type, const json_t *patch, const korch_write_options *o, json_t **ret,
	     korch_error **err);
int rc_apply(struct remote *r, const json_t *obj, const korch_write_options *o, json_t **ret,
	     int *ret_result, korch_error **err);
int rc_delete(struct remote *r, const struct kind_info *k, const char *ns, const char *name,
	      const korch_delete_options *o, json_t **ret, korch_error **err);
int rc_watch(struct remote *r, const struct kind_info *k, const char *ns,
	     const korch_watch_options *o, korch_watch_fn fn, void *userdata, korch_error **err);
/* korch_pod_logs and korch_pod_exec (korch/node.h) through the API. */
int rc_logs(struct remote *r, const char *ns, const char *pod, const korch_logs_options *o,
	    korch_logs_fn fn, void *userdata, korch_error **err);
int rc_exec(struct remote *r, const char *ns, const char *pod, char *const argv[],
	    const korch_exec_options *o, int *ret_exit_code, korch_error **err);

#endif
