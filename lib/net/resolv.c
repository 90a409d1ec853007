/*
 * resolv.c - the kubelet's resolv.conf rules: policy, dnsConfig merge, limits, rendering.
 */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "base/vec.h"
#include "net/resolv.h"

#define MAX_NAMESERVERS 3
#define MAX_SEARCHES 32
#define MAX_SEARCH_CHARS 2048

struct dns_conf {
	struct ptrvec servers;  /* char * */
	struct ptrvec searches; /* char * */
	struct ptrvec options;  /* char *, "name" or "name:value" */
};

static void
dns_conf_clear(struct dns_conf *c)
{
	ptrvec_free(&c->servers, free);
	ptrvec_free(&c->searches, free);
	ptrvec_free(&c->options, free);
}

static bool
contains(const struct ptrvec *v, const char *s)
{
	for (size_t i = 0; i < v->n; i++)
		if (streq(v->items[i], s))
			return true;
	return false;
}

/* Appends a copy of s (n bytes) unless it is there already. */
static int
add_unique(struct ptrvec *v, const char *s, size_t n)
{
	char *copy = strndup(s, n);
	if (!copy)
		return KORCH_ENOMEM;
	if (contains(v, copy)) {
		free(copy);
		return 0;
	}
	if (ptrvec_push(v, copy) < 0) {
		free(copy);
		return KORCH_ENOMEM;
	}
	return 0;
}

static size_t
option_name_len(const char *opt)
{
	const char *colon = strchr(opt, ':');
	return colon ? (size_t)(colon - opt) : strlen(opt);
}

/* Sets an option, replacing one of the same name. */
static int
set_option(struct ptrvec *v, const char *opt)
{
	size_t n = option_name_len(opt);
	char *copy = strdup(opt);
	if (!copy)
		return KORCH_ENOMEM;
	for (size_t i = 0; i < v->n; i++) {
		const char *o = v->items[i];
		if (option_name_len(o) == n && strncmp(o, opt, n) == 0) {
			free(v->items[i]);
			v->items[i] = copy;
			return 0;
		}
	}
	if (ptrvec_push(v, copy) < 0) {
		free(copy);
		return KORCH_ENOMEM;
	}
	return 0;
}

/* The node's resolv.conf: nameserver, search and options lines (the kubelet reads no others). */
static int
parse_host(const char *text, struct dns_conf *c)
{
	const char *line = text;
	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char buf[4096];
		if (len >= sizeof(buf))
			len = sizeof(buf) - 1;
		memcpy(buf, line, len);
		buf[len] = '\0';
		char *hash = strpbrk(buf, "#;");
		if (hash)
			*hash = '\0';
		char *save = NULL;
		char *word = strtok_r(buf, " \t\r", &save);
		if (word) {
			bool ns = streq(word, "nameserver"), search = streq(word, "search");
			bool opts = streq(word, "options");
			if (search) /* a later search line replaces an earlier one */
				ptrvec_free(&c->searches, free);
			for (char *w; (w = strtok_r(NULL, " \t\r", &save));) {
				int r = 0;
				if (ns)
					r = add_unique(&c->servers, w, strlen(w));
				else if (search)
					r = add_unique(&c->searches, w,
						       strlen(w) - (endswith(w, ".") ? 1 : 0));
				else if (opts)
					r = set_option(&c->options, w);
				if (r < 0)
					return r;
				if (ns)
					break;
			}
		}
		line = end ? end + 1 : NULL;
	}
	return 0;
}

static int
string_list(const json_t *cfg, const char *key, const char *field, struct ptrvec *into,
	    korch_error **err)
{
	json_t *list = json_object_get(cfg, key);
	if (!list)
		return 0;
	if (!json_is_array(list))
		return error_set(err, KORCH_EINVALID,
				 "spec.dnsConfig.%s: must be a list of strings", field);
	size_t i;
	json_t *v;
	json_array_foreach (list, i, v) {
		const char *s = json_string_value(v);
		if (!s || !*s)
			return error_set(err, KORCH_EINVALID,
					 "spec.dnsConfig.%s[%zu]: must be a non-empty string",
					 field, i);
		if (add_unique(into, s, strlen(s)) < 0)
			return error_oom(err);
	}
	return 0;
}

static int
merge_config(const json_t *cfg, struct dns_conf *c, korch_error **err)
{
	if (!cfg || json_is_null(cfg))
		return 0;
	if (!json_is_object(cfg))
		return error_set(err, KORCH_EINVALID, "spec.dnsConfig: must be an object");
	int r = string_list(cfg, "nameservers", "nameservers", &c->servers, err);
	if (r == 0)
		r = string_list(cfg, "searches", "searches", &c->searches, err);
	if (r < 0)
		return r;
	json_t *opts = json_object_get(cfg, "options");
	if (opts && !json_is_array(opts))
		return error_set(err, KORCH_EINVALID, "spec.dnsConfig.options: must be a list");
	size_t i;
	json_t *o;
	json_array_foreach (opts, i, o) {
		const char *name = json_string_value(json_object_get(o, "name"));
		const char *value = json_string_value(json_object_get(o, "value"));
		if (!name || !*name)
			return error_set(err, KORCH_EINVALID,
					 "spec.dnsConfig.options[%zu].name: Required value", i);
		_cleanup_free_ char *opt = NULL;
		if ((value ? asprintf(&opt, "%s:%s", name, value) : asprintf(&opt, "%s", name)) < 0)
			return error_oom(err);
		if (set_option(&c->options, opt) < 0)
			return error_oom(err);
	}
	return 0;
}

static int
cluster_first(const struct resolv_params *p, struct dns_conf *c)
{
	/* The node's searches come after the cluster's. */
	struct ptrvec host_searches = c->searches;
	c->searches = (struct ptrvec)PTRVEC_INIT;
	ptrvec_free(&c->servers, free);
	ptrvec_free(&c->options, free);
	const char *d = p->cluster_domain;
	_cleanup_free_ char *a = NULL, *b = NULL;
	int r = KORCH_ENOMEM;
	if (asprintf(&a, "%s.svc.%s", p->namespace_, d) >= 0 && asprintf(&b, "svc.%s", d) >= 0 &&
	    add_unique(&c->searches, a, strlen(a)) == 0 &&
	    add_unique(&c->searches, b, strlen(b)) == 0 &&
	    add_unique(&c->searches, d, strlen(d)) == 0 &&
	    add_unique(&c->servers, p->cluster_dns, strlen(p->cluster_dns)) == 0 &&
	    set_option(&c->options, "ndots:5") == 0)
		r = 0;
	for (size_t i = 0; r == 0 && i < host_searches.n; i++)
		r = add_unique(&c->searches, host_searches.items[i],
			       strlen(host_searches.items[i]));
	ptrvec_free(&host_searches, free);
	return r;
}

static int
render(struct dns_conf *c, char **ret_text)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	size_t chars = 0, n = 0;
	if (c->searches.n) {
		strbuf_puts(&sb, "search");
		for (size_t i = 0; i < c->searches.n && n < MAX_SEARCHES; i++, n++) {
			size_t len = strlen(c->searches.items[i]);
			if (chars + len + (n ? 1 : 0) > MAX_SEARCH_CHARS)
				break;
			chars += len + (n ? 1 : 0);
			strbuf_printf(&sb, " %s", (char *)c->searches.items[i]);
		}
		strbuf_putc(&sb, '\n');
	}
	for (size_t i = 0; i < c->servers.n && i < MAX_NAMESERVERS; i++)
		strbuf_printf(&sb, "nameserver %s\n", (char *)c->servers.items[i]);
	if (c->options.n) {
		strbuf_puts(&sb, "options");
		for (size_t i = 0; i < c->options.n; i++)
			strbuf_printf(&sb, " %s", (char *)c->options.items[i]);
		strbuf_putc(&sb, '\n');
	}
	if (sb.oom)
		return KORCH_ENOMEM;
	char *s = strbuf_steal(&sb);
	if (!s)
		return KORCH_ENOMEM;
	*ret_text = s;
	return 0;
}

int
resolv_conf_render(const struct resolv_params *p, char **ret_text, korch_error **err)
{
	const char *policy = p->dns_policy ? p->dns_policy : "ClusterFirst";
	enum { CLUSTER, HOST, NONE } kind;
	if (streq(policy, "ClusterFirst"))
		kind = p->host_network ? HOST : CLUSTER;
	else if (streq(policy, "ClusterFirstWithHostNet"))
		kind = CLUSTER;
	else if (streq(policy, "Default"))
		kind = HOST;
	else if (streq(policy, "None"))
		kind = NONE;
	else
		return error_set(
			err, KORCH_EINVALID,
			"spec.dnsPolicy: Unsupported value: \"%s\": supported values: "
			"\"ClusterFirst\", \"ClusterFirstWithHostNet\", \"Default\", \"None\"",
			policy);
	if (kind == NONE) {
		const json_t *ns = json_object_get(p->dns_config, "nameservers");
		if (!json_is_array(ns) || json_array_size(ns) == 0)
			return error_set(
				err, KORCH_EINVALID,
				"spec.dnsConfig: Required value: must provide at least one "
				"DNS nameserver when DNS policy is None");
	}
	struct dns_conf c = { PTRVEC_INIT, PTRVEC_INIT, PTRVEC_INIT };
	int r = 0;
	if (kind != NONE && p->host_resolv)
		r = parse_host(p->host_resolv, &c);
	if (r == 0 && kind == CLUSTER)
		r = cluster_first(p, &c);
	if (r < 0) {
		dns_conf_clear(&c);
		return error_oom(err);
	}
	r = merge_config(p->dns_config, &c, err);
	if (r == 0 && render(&c, ret_text) < 0)
		r = error_oom(err);
	dns_conf_clear(&c);
	return r;
}
