/*
 * backend.c - what every runtime backend of the node agent shares: copying and freeing the
 * structs of backend.h.
 */
#include <stdlib.h>
#include <string.h>

#include "base/strv.h"
#include "node/backend.h"

void
node_backend_free(struct node_backend *b)
{
	if (!b)
		return;
	if (b->ops && b->ops->free)
		b->ops->free(b->data);
	free(b);
}

static int
dup_or_null(const char *s, char **ret)
{
	*ret = NULL;
	if (s && !(*ret = strdup(s)))
		return KORCH_ENOMEM;
	return 0;
}

int
backend_container_copy(const struct backend_container *c, struct backend_container **ret)
{
	struct backend_container *n = calloc(1, sizeof(*n));
	if (!n)
		return KORCH_ENOMEM;
	*n = *c;
	n->id = n->sandbox_id = n->reason = n->message = n->log_path = NULL;
	n->labels = NULL;
	if (dup_or_null(c->id, &n->id) < 0 || dup_or_null(c->sandbox_id, &n->sandbox_id) < 0 ||
	    dup_or_null(c->reason, &n->reason) < 0 || dup_or_null(c->message, &n->message) < 0 ||
	    dup_or_null(c->log_path, &n->log_path) < 0 ||
	    (c->labels && !(n->labels = json_deep_copy(c->labels)))) {
		backend_container_free(n);
		return KORCH_ENOMEM;
	}
	*ret = n;
	return 0;
}

void
backend_container_free(struct backend_container *c)
{
	if (!c)
		return;
	free(c->id);
	free(c->sandbox_id);
	json_decref(c->labels);
	free(c->reason);
	free(c->message);
	free(c->log_path);
	free(c);
}

void
backend_container_list_free(struct backend_container **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		backend_container_free(v[i]);
	free(v);
}

void
backend_sandbox_free(struct backend_sandbox *s)
{
	if (!s)
		return;
	free(s->id);
	json_decref(s->labels);
	free(s->netns_path);
	free(s);
}

void
backend_sandbox_list_free(struct backend_sandbox **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		backend_sandbox_free(v[i]);
	free(v);
}

void
backend_image_free(struct backend_image *img)
{
	if (!img)
		return;
	free(img->id);
	free(img->name);
	free(img->image_id);
	strv_free(img->entrypoint);
	strv_free(img->cmd);
	strv_free(img->env);
	free(img->working_dir);
	free(img->user);
	free(img);
}

const char *
backend_label(const json_t *labels, const char *key)
{
	return json_string_value(json_object_get(labels, key));
}

const char *
backend_state_name(enum backend_state s)
{
	switch (s) {
	case BACKEND_CREATED: return "created";
	case BACKEND_RUNNING: return "running";
	case BACKEND_EXITED: return "exited";
	case BACKEND_UNKNOWN: break;
	}
	return "unknown";
}
