/*
 * proxy.c - desired nftables state per Service, the difference from what was applied, and one
 * libnftables transaction per sync.
 */
#include <errno.h>
#include <fcntl.h>
#include <nftables/libnftables.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/hashmap.h"
#include "base/json.h"
#include "base/log.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "net/netns.h"
#include "net/proxy.h"

#define MASQ_MARK "0x00004000"
#define AFFINITY_SET_DEF "type ipv4_addr; flags dynamic,timeout;"

enum piece_kind { P_MAP, P_SET, P_CHAIN, P_ELEM };

/* One named thing in the table. */
struct piece {
	enum piece_kind kind; /* what it is */
	int level;            /* chains: 0 fixed leaves, 1 endpoint, 2 service, 3 external,
			       4 dispatch, 5 base: a chain goes before those using it */
	char *name;           /* set, map or chain name; for P_ELEM the map or set */
	char *body;           /* definition, rules ("r1; r2;"), or for P_ELEM the key */
	char *value;          /* P_ELEM in a map: the value; NULL in a set */
};

struct pieces {
	struct piece *items; /* n entries */
	size_t n;            /* used */
	size_t cap;          /* allocated */
};

/* What korch applied for one Service, and what the sync in progress wants instead. */
struct svc_state {
	char *fingerprint;     /* resourceVersions of the Service and its endpoints, or NULL */
	struct pieces applied; /* in the kernel */
	struct pieces pending; /* staged by the sync in progress */
	char *pending_fp;      /* the fingerprint that goes with pending */
	bool has_pending;      /* pending replaces applied when the transaction succeeds */
	bool seen;             /* still wanted after the sync in progress */
	bool listed;           /* given to the sync in progress */
	bool removed;          /* named as removed by the sync in progress */
};

/* The transaction's text by phase, so that things exist before what refers to them. */
enum phase {
	PH_TABLE,
	PH_DEL_ELEM,
	PH_SETS,
	PH_CHAIN0, /* + level */
	PH_ADD_ELEM = PH_CHAIN0 + 6,
	PH_FLUSH,
	PH_COUNT,
};

struct proxy {
	char *table;                   /* table name */
	struct net_cidr cluster_cidr;  /* masquerade boundary */
	uint32_t *node_ips;            /* NodePort addresses */
	size_t n_node_ips;             /* how many */
	int netns_fd;                  /* the namespace the table lives in */
	struct hashmap services;       /* "NS/NAME" -> struct svc_state */
	struct pieces global_applied;  /* static chains, maps, hostports, node addresses */
	struct hashmap hostports;      /* pod key -> struct hostport_list */
	bool applied_valid;            /* false: the next sync rewrites the whole table */
	bool synced_once;              /* a sync with the full list of Services succeeded */
	struct hashmap garbage_chains; /* flushed chains to delete */
	struct hashmap garbage_sets;   /* unused affinity sets to delete */
	struct strbuf phase[PH_COUNT]; /* the transaction being built */
	size_t commands;               /* commands in it */
	struct hashmap elem_add;       /* map or set -> struct strbuf of elements to add */
	struct hashmap elem_del;       /* map or set -> struct strbuf of keys to delete */
	struct ptrvec new_garbage;     /* "c NAME" / "s NAME" flushed by the sync in progress */
	struct ptrvec revived;         /* chain names added again by the sync in progress */
	struct hashmap sets_used;      /* sets the transaction's rules name (see note_sets()) */
	struct hashmap sets_added;     /* sets the transaction defines */
	struct hashmap chains_used;    /* chains the transaction's rules jump or go to */
	struct strbuf fp;              /* scratch for fingerprints */
	bool tx_full;                  /* the transaction rewrites the table */
};

struct hostport_list {
	struct proxy_hostport *items; /* n entries */
	size_t n;                     /* how many */
};

static const struct {
	const char *name; /* map or set */
	bool map;         /* a verdict map (else a set) */
	const char *def;  /* its definition */
} table_sets[] = {
	{ "nodeport-ips", false, "type ipv4_addr;" },
	{ "service-ips", true, "type ipv4_addr . inet_proto . inet_service : verdict;" },
	{ "service-nodeports", true, "type inet_proto . inet_service : verdict;" },
	{ "no-endpoint-services", true, "type ipv4_addr . inet_proto . inet_service : verdict;" },
	{ "no-endpoint-nodeports", true, "type inet_proto . inet_service : verdict;" },
};

static void
pieces_clear(struct pieces *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->items[i].name);
		free(p->items[i].body);
		free(p->items[i].value);
	}
	free(p->items);
	*p = (struct pieces){ 0 };
}

/*
 * Adds a piece; takes name, body and value (formatted by the caller with asprintf, so NULL means
 * out of memory; only elements of the nodeport-ips set have no value).
 */
static int
pieces_add(struct pieces *p, enum piece_kind kind, int level, char *name, char *body, char *value)
{
	bool ok = name && body && (kind != P_ELEM || value || streq(name, "nodeport-ips"));
	struct piece *x = ok ? VEC_PUSH(p->items, p->n, p->cap) : NULL;
	if (!x) {
		free(name);
		free(body);
		free(value);
		return KORCH_ENOMEM;
	}
	*x = (struct piece){ kind, level, name, body, value };
	return 0;
}

static char *fmt(const char *f, ...) _printf_(1, 2);
static char *
fmt(const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	char *s = NULL;
	if (vasprintf(&s, f, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

static void
svc_state_free(void *p)
{
	struct svc_state *s = p;
	free(s->fingerprint);
	free(s->pending_fp);
	pieces_clear(&s->applied);
	pieces_clear(&s->pending);
	free(s);
}

static void
hostport_list_free(void *p)
{
	struct hostport_list *l = p;
	free(l->items);
	free(l);
}

int
proxy_new(const struct proxy_config *config, struct proxy **ret, korch_error **err)
{
	_cleanup_(proxy_freep) struct proxy *p = calloc(1, sizeof(*p));
	if (!p)
		return error_oom(err);
	p->netns_fd = -1;
	if (!config->table || !*config->table)
		return error_set(err, KORCH_EINVALID, "proxy: a table name is needed");
	p->table = strdup(config->table);
	p->cluster_cidr = config->cluster_cidr;
	if (config->n_node_ips) {
		p->node_ips = calloc(config->n_node_ips, sizeof(uint32_t));
		if (!p->node_ips)
			return error_oom(err);
		memcpy(p->node_ips, config->node_ips, config->n_node_ips * sizeof(uint32_t));
		p->n_node_ips = config->n_node_ips;
	}
	p->netns_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (p->netns_fd < 0)
		return error_errno(err, errno, "open /proc/thread-self/ns/net");
	if (!p->table)
		return error_oom(err);
	*ret = steal_pointer(&p);
	return 0;
}

static void tx_reset(struct proxy *p);

void
proxy_free(struct proxy *p)
{
	if (!p)
		return;
	hashmap_free(&p->services, svc_state_free);
	hashmap_free(&p->hostports, hostport_list_free);
	hashmap_free(&p->garbage_chains, NULL);
	hashmap_free(&p->garbage_sets, NULL);
	pieces_clear(&p->global_applied);
	tx_reset(p);
	strbuf_free(&p->fp);
	if (p->netns_fd >= 0)
		close(p->netns_fd);
	free(p->node_ips);
	free(p->table);
	free(p);
}

int
proxy_set_hostports(struct proxy *p, const char *pod_key, const struct proxy_hostport *ports,
		    size_t n, korch_error **err)
{
	struct hostport_list *old = hashmap_remove(&p->hostports, pod_key);
	if (old)
		hostport_list_free(old);
	if (n == 0)
		return 0;
	struct hostport_list *l = calloc(1, sizeof(*l));
	if (!l || !(l->items = calloc(n, sizeof(*ports)))) {
		free(l);
		return error_oom(err);
	}
	memcpy(l->items, ports, n * sizeof(*ports));
	l->n = n;
	if (hashmap_put(&p->hostports, pod_key, l, NULL) < 0) {
		hostport_list_free(l);
		return error_oom(err);
	}
	return 0;
}

/* ---- rendering ---- */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *
ip_str(uint32_t ip, char buf[static NET_IP4_STRLEN])
{
	return ip4_format(ip, buf);
}

/* The pieces of the table that do not belong to one Service. */
static int
render_global(struct proxy *p, struct pieces *out)
{
	char cb[20], ipb[NET_IP4_STRLEN];
	const char *cluster = cidr_format(&p->cluster_cidr, cb);
	int r = 0;
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(table_sets); i++)
		r = pieces_add(out, table_sets[i].map ? P_MAP : P_SET, 0,
			       strdup(table_sets[i].name), strdup(table_sets[i].def), NULL);
	static const struct {
		const char *name; /* chain */
		int level;        /* see struct piece */
		const char *body; /* rules */
	} fixed[] = {
		{ "mark-for-masquerade", 0, "meta mark set meta mark | " MASQ_MARK ";" },
		{ "reject-chain", 0, "reject;" },
		{ "services", 4,
		  "ip daddr . meta l4proto . th dport vmap @service-ips; "
		  "ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports;" },
		{ "service-endpoints-check", 4,
		  "ip daddr . meta l4proto . th dport vmap @no-endpoint-services; "
		  "ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports;" },
		{ "nat-prerouting", 5,
		  "type nat hook prerouting priority dstnat; policy accept; "
		  "jump services; jump hostports;" },
		{ "nat-output", 5,
		  "type nat hook output priority -100; policy accept; "
		  "jump services; jump hostports;" },
		{ "nat-postrouting", 5,
		  "type nat hook postrouting priority srcnat; policy accept; jump masquerading;" },
		{ "filter-input", 5,
		  "type filter hook input priority -110; policy accept; "
		  "ct state new jump service-endpoints-check;" },
		{ "filter-forward", 5,
		  "type filter hook forward priority -110; policy accept; "
		  "ct state new jump service-endpoints-check;" },
		{ "filter-output", 5,
		  "type filter hook output priority -110; policy accept; "
		  "ct state new jump service-endpoints-check;" },
	};
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(fixed); i++)
		r = pieces_add(out, P_CHAIN, fixed[i].level, strdup(fixed[i].name),
			       strdup(fixed[i].body), NULL);
	if (r == 0)
		r = pieces_add(out, P_CHAIN, 4, strdup("masquerading"),
			       fmt("ip saddr %s ip daddr != %s masquerade; "
				   "meta mark & " MASQ_MARK " == 0 return; "
				   "meta mark set meta mark ^ " MASQ_MARK
				   "; masquerade fully-random;",
				   cluster, cluster),
			       NULL);
	for (size_t i = 0; r == 0 && i < p->n_node_ips; i++)
		r = pieces_add(out, P_ELEM, 0, strdup("nodeport-ips"),
			       strdup(ip_str(p->node_ips[i], ipb)), NULL);
	if (r < 0)
		return r;
	/* hostports, sorted by their text so that the chain's body is stable */
	struct ptrvec rules = PTRVEC_INIT;
	size_t it = 0;
	const char *key;
	void *v;
	while (r == 0 && hashmap_next(&p->hostports, &it, &key, &v)) {
		const struct hostport_list *l = v;
		for (size_t i = 0; r == 0 && i < l->n; i++) {
			const struct proxy_hostport *h = &l->items[i];
			char hb[NET_IP4_STRLEN], pb[NET_IP4_STRLEN];
			char *rule = fmt("ip daddr %s %s dport %u dnat ip to %s:%u;",
					 h->host_ip ? ip_str(h->host_ip, hb) : "@nodeport-ips",
					 svc_proto_nft(h->proto), h->host_port,
					 ip_str(h->pod_ip, pb), h->pod_port);
			r = rule && ptrvec_push(&rules, rule) == 0 ? 0 : KORCH_ENOMEM;
			if (r < 0)
				free(rule);
		}
	}
	if (r == 0) {
		if (rules.n > 1)
			qsort(rules.items, rules.n, sizeof(void *), cmp_str);
		struct strbuf sb = STRBUF_INIT;
		for (size_t i = 0; i < rules.n; i++)
			strbuf_printf(&sb, "%s%s", i ? " " : "", (char *)rules.items[i]);
		char *body = strbuf_steal(&sb);
		r = pieces_add(out, P_CHAIN, 4, strdup("hostports"), body, NULL);
	}
	ptrvec_free(&rules, free);
	return r;
}

struct ep_target {
	uint32_t ip;   /* endpoint address */
	uint16_t port; /* target port */
};

/* The chains, sets and elements of one Service port that has ready endpoints. */
static int
render_port_with_endpoints(struct proxy *p, const struct svc *s, const struct svc_port *sp,
			   const char *base, const struct ep_target *eps, size_t n,
			   struct pieces *out)
{
	char cb[20], ipb[NET_IP4_STRLEN];
	const char *proto = svc_proto_nft(sp->proto);
	struct strbuf chain = STRBUF_INIT, checks = STRBUF_INIT;
	_cleanup_free_ char **names = calloc(n, sizeof(char *));
	int r = names ? 0 : KORCH_ENOMEM;
	/* Not for the node's own connections: replies come back through it anyway, and a
	 * source port rewritten at random for each new connection collides with the backend's
	 * TIME_WAIT sockets of earlier ones when one client opens many (measured: a VIP at 20% of
	 * direct throughput with "Connection: close"). */
	strbuf_printf(&chain, "ip saddr != %s fib saddr type != local jump mark-for-masquerade; ",
		      cidr_format(&p->cluster_cidr, cb));
	for (size_t i = 0; r == 0 && i < n; i++) {
		ip_str(eps[i].ip, ipb);
		names[i] = fmt("%s__%s/%u", base, ipb, eps[i].port);
		if (!names[i]) {
			r = KORCH_ENOMEM;
			break;
		}
		_cleanup_free_ char *update = NULL;
		if (s->affinity_timeout_s) {
			update = fmt("update @affinity-%s { ip saddr timeout %us }; ", names[i],
				     s->affinity_timeout_s);
			strbuf_printf(&checks, "ip saddr @affinity-%s goto endpoint-%s; ", names[i],
				      names[i]);
			r = pieces_add(out, P_SET, 0, fmt("affinity-%s", names[i]),
				       strdup(AFFINITY_SET_DEF), NULL);
		}
		if (r == 0)
			r = pieces_add(out, P_CHAIN, 1, fmt("endpoint-%s", names[i]),
				       fmt("ip saddr %s jump mark-for-masquerade; %s"
					   "meta l4proto %s dnat ip to %s:%u;",
					   ipb, update ? update : "", proto, ipb, eps[i].port),
				       NULL);
	}
	strbuf_puts(&chain, strbuf_str(&checks));
	for (size_t i = 0; r == 0 && i + 1 < n; i++)
		strbuf_printf(&chain, "numgen random mod %zu 0 goto endpoint-%s; ", n - i,
			      names[i]);
	if (r == 0) {
		strbuf_printf(&chain, "goto endpoint-%s;", names[n - 1]);
		r = chain.oom || checks.oom ? KORCH_ENOMEM : 0;
	}
	if (r == 0)
		r = pieces_add(out, P_CHAIN, 2, fmt("service-%s", base), strbuf_steal(&chain),
			       NULL);
	if (r == 0)
		r = pieces_add(out, P_ELEM, 0, strdup("service-ips"),
			       fmt("%s . %s . %u", ip_str(s->cluster_ip, ipb), proto, sp->port),
			       fmt("goto service-%s", base));
	bool external = sp->node_port || s->n_external_ips;
	if (r == 0 && external)
		r = pieces_add(out, P_CHAIN, 3, fmt("external-%s", base),
			       fmt("jump mark-for-masquerade; goto service-%s;", base), NULL);
	for (size_t i = 0; r == 0 && i < s->n_external_ips; i++)
		r = pieces_add(
			out, P_ELEM, 0, strdup("service-ips"),
			fmt("%s . %s . %u", ip_str(s->external_ips[i], ipb), proto, sp->port),
			fmt("goto external-%s", base));
	if (r == 0 && sp->node_port)
		r = pieces_add(out, P_ELEM, 0, strdup("service-nodeports"),
			       fmt("%s . %u", proto, sp->node_port), fmt("goto external-%s", base));
	for (size_t i = 0; names && i < n; i++)
		free(names[i]);
	strbuf_free(&chain);
	strbuf_free(&checks);
	return r;
}

/* A port without ready endpoints: new connections to it are rejected. */
static int
render_port_without_endpoints(const struct svc *s, const struct svc_port *sp, struct pieces *out)
{
	char ipb[NET_IP4_STRLEN];
	const char *proto = svc_proto_nft(sp->proto);
	int r = pieces_add(out, P_ELEM, 0, strdup("no-endpoint-services"),
			   fmt("%s . %s . %u", ip_str(s->cluster_ip, ipb), proto, sp->port),
			   strdup("goto reject-chain"));
	for (size_t i = 0; r == 0 && i < s->n_external_ips; i++)
		r = pieces_add(
			out, P_ELEM, 0, strdup("no-endpoint-services"),
			fmt("%s . %s . %u", ip_str(s->external_ips[i], ipb), proto, sp->port),
			strdup("goto reject-chain"));
	if (r == 0 && sp->node_port)
		r = pieces_add(out, P_ELEM, 0, strdup("no-endpoint-nodeports"),
			       fmt("%s . %u", proto, sp->node_port), strdup("goto reject-chain"));
	return r;
}

static int
render_service(struct proxy *p, const struct svc *s, struct pieces *out)
{
	if (s->headless || s->external_name || !s->cluster_ip)
		return 0; /* DNS only */
	_cleanup_free_ struct ep_target *eps = calloc(s->n_eps ? s->n_eps : 1, sizeof(*eps));
	if (!eps)
		return KORCH_ENOMEM;
	for (size_t i = 0; i < s->n_ports; i++) {
		const struct svc_port *sp = &s->ports[i];
		size_t n = 0;
		for (size_t e = 0; e < s->n_eps; e++)
			for (size_t k = 0; k < s->eps[e].n_ports; k++) {
				const struct svc_ep_port *ep = &s->eps[e].ports[k];
				if (ep->proto == sp->proto && streq(ep->name, sp->name)) {
					eps[n++] = (struct ep_target){ s->eps[e].ip, ep->port };
					break;
				}
			}
		_cleanup_free_ char *base =
			fmt("%s/%s/%s/%u", s->ns, s->name, svc_proto_nft(sp->proto), sp->port);
		if (!base)
			return KORCH_ENOMEM;
		int r = n ? render_port_with_endpoints(p, s, sp, base, eps, n, out)
			  : render_port_without_endpoints(s, sp, out);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- the transaction ---- */

static const char *
set_def(const char *name, bool *ret_map)
{
	for (size_t i = 0; i < ARRAY_SIZE(table_sets); i++)
		if (streq(table_sets[i].name, name)) {
			*ret_map = table_sets[i].map;
			return table_sets[i].def;
		}
	return NULL;
}

static void
strbuf_freep_value(void *v)
{
	strbuf_free(v);
	free(v);
}

static void
tx_reset(struct proxy *p)
{
	for (int i = 0; i < PH_COUNT; i++)
		strbuf_free(&p->phase[i]);
	hashmap_free(&p->elem_add, strbuf_freep_value);
	hashmap_free(&p->elem_del, strbuf_freep_value);
	ptrvec_free(&p->new_garbage, free);
	ptrvec_free(&p->revived, free);
	hashmap_free(&p->sets_used, NULL);
	hashmap_free(&p->sets_added, NULL);
	hashmap_free(&p->chains_used, NULL);
	p->commands = 0;
}

/*
 * libnftables resolves "@set" and "goto chain" in a rule from its cache, which a new context
 * fills only with what the commands need: a set the transaction does not define is "No such file
 * or directory", and a chain it does not define makes libnftables fetch every chain of the table
 * (90 ms at 10,000 Services). So an incremental transaction first declares again every set and
 * chain its rules name (a no-op for the kernel when they exist).
 */
static int
note_name(struct hashmap *m, const char *start)
{
	size_t n = strcspn(start, " ;}");
	char name[300];
	if (n == 0 || n >= sizeof(name))
		return 0;
	memcpy(name, start, n);
	name[n] = '\0';
	return hashmap_put(m, name, (void *)1, NULL) < 0 ? KORCH_ENOMEM : 0;
}

static int
note_sets(struct proxy *p, const char *body)
{
	int r = 0;
	for (const char *at = strchr(body, '@'); r == 0 && at; at = strchr(at + 1, '@'))
		r = note_name(&p->sets_used, at + 1);
	static const char *const verbs[] = { "goto ", "jump " };
	for (size_t v = 0; v < ARRAY_SIZE(verbs); v++)
		for (const char *g = strstr(body, verbs[v]); r == 0 && g;
		     g = strstr(g + 5, verbs[v]))
			r = note_name(&p->chains_used, g + 5);
	return r;
}

static int
elem_list_add(struct hashmap *m, const char *map, const char *text)
{
	struct strbuf *sb = hashmap_get(m, map);
	if (!sb) {
		sb = calloc(1, sizeof(*sb));
		if (!sb || hashmap_put(m, map, sb, NULL) < 0) {
			free(sb);
			return KORCH_ENOMEM;
		}
	}
	return strbuf_printf(sb, "%s%s", sb->len ? ", " : "", text);
}

static int
note(struct ptrvec *v, const char *prefix, const char *name)
{
	char *s = fmt("%s%s", prefix, name);
	if (!s || ptrvec_push(v, s) < 0) {
		free(s);
		return KORCH_ENOMEM;
	}
	return 0;
}

static int
emit_add(struct proxy *p, const struct piece *x)
{
	const char *t = p->table;
	switch (x->kind) {
	case P_MAP:
	case P_SET:
		p->commands++;
		if (hashmap_put(&p->sets_added, x->name, (void *)1, NULL) < 0)
			return KORCH_ENOMEM;
		return strbuf_printf(&p->phase[PH_SETS], "add %s inet %s %s { %s }\n",
				     x->kind == P_MAP ? "map" : "set", t, x->name, x->body);
	case P_CHAIN:
		p->commands++;
		if (hashmap_contains(&p->garbage_chains, x->name) && note(&p->revived, "", x->name))
			return KORCH_ENOMEM;
		if (note_sets(p, x->body) < 0)
			return KORCH_ENOMEM;
		return strbuf_printf(&p->phase[PH_CHAIN0 + x->level],
				     "add chain inet %s %s { %s }\n", t, x->name, x->body);
	case P_ELEM: {
		_cleanup_free_ char *e =
			x->value ? fmt("%s : %s", x->body, x->value) : strdup(x->body);
		return e ? elem_list_add(&p->elem_add, x->name, e) : KORCH_ENOMEM;
	}
	}
	return 0;
}

static int
emit_remove(struct proxy *p, const struct piece *x)
{
	switch (x->kind) {
	case P_CHAIN:
		p->commands += 2;
		if (note(&p->new_garbage, "c ", x->name) < 0)
			return KORCH_ENOMEM;
		return strbuf_printf(&p->phase[PH_FLUSH],
				     "add chain inet %s %s\nflush chain inet %s %s\n", p->table,
				     x->name, p->table, x->name);
	case P_ELEM: return elem_list_add(&p->elem_del, x->name, x->body);
	case P_SET: return note(&p->new_garbage, "s ", x->name);
	case P_MAP: return 0; /* the fixed maps stay */
	}
	return 0;
}

static int
emit_change(struct proxy *p, const struct piece *old, const struct piece *x)
{
	if (x->kind == P_CHAIN) {
		p->commands += 3;
		if (note_sets(p, x->body) < 0)
			return KORCH_ENOMEM;
		return strbuf_printf(&p->phase[PH_CHAIN0 + x->level],
				     "add chain inet %s %s\nflush chain inet %s %s\n"
				     "add chain inet %s %s { %s }\n",
				     p->table, x->name, p->table, x->name, p->table, x->name,
				     x->body);
	}
	if (x->kind == P_ELEM) {
		int r = emit_remove(p, old);
		return r < 0 ? r : emit_add(p, x);
	}
	return 0; /* set and map definitions are constant */
}

static bool
same_identity(const struct piece *a, const struct piece *b)
{
	return a->kind == b->kind && streq(a->name, b->name) &&
	       (a->kind != P_ELEM || streq(a->body, b->body));
}

/* Emits what turns old into new. Per Service the lists are short: quadratic is fine. */
static int
diff(struct proxy *p, const struct pieces *old, const struct pieces *new)
{
	int r = 0;
	for (size_t i = 0; r == 0 && i < new->n; i++) {
		const struct piece *x = &new->items[i], *o = NULL;
		for (size_t k = 0; !o && k < old->n; k++)
			if (same_identity(&old->items[k], x))
				o = &old->items[k];
		if (!o)
			r = emit_add(p, x);
		else if (!streq(o->body, x->body) || !streq_null(o->value, x->value))
			r = emit_change(p, o, x);
	}
	for (size_t k = 0; r == 0 && k < old->n; k++) {
		bool kept = false;
		for (size_t i = 0; !kept && i < new->n; i++)
			kept = same_identity(&old->items[k], &new->items[i]);
		if (!kept)
			r = emit_remove(p, &old->items[k]);
	}
	return r;
}

static int
emit_all(struct proxy *p, const struct pieces *ps)
{
	int r = 0;
	for (size_t i = 0; r == 0 && i < ps->n; i++)
		r = emit_add(p, &ps->items[i]);
	return r;
}

/* Joins the phases and the element lists into the transaction's text. */
static char *
tx_text(struct proxy *p)
{
	struct strbuf out = STRBUF_INIT;
	size_t it = 0;
	const char *map;
	void *v;
	while (hashmap_next(&p->elem_del, &it, &map, &v)) {
		p->commands++;
		strbuf_printf(&p->phase[PH_DEL_ELEM], "delete element inet %s %s { %s }\n",
			      p->table, map, strbuf_str(v));
	}
	it = 0;
	while (hashmap_next(&p->elem_add, &it, &map, &v)) {
		bool is_map = false;
		const char *def = set_def(map, &is_map);
		p->commands++;
		strbuf_printf(&p->phase[PH_ADD_ELEM],
			      "add %s inet %s %s { %s elements = { %s }; }\n",
			      is_map ? "map" : "set", p->table, map, def ? def : "", strbuf_str(v));
	}
	it = 0;
	while (hashmap_next(&p->sets_used, &it, &map, &v)) {
		if (hashmap_contains(&p->sets_added, map))
			continue;
		bool is_map = false;
		const char *def = set_def(map, &is_map);
		p->commands++;
		strbuf_printf(&p->phase[PH_SETS], "add %s inet %s %s { %s }\n",
			      is_map ? "map" : "set", p->table, map, def ? def : AFFINITY_SET_DEF);
	}
	it = 0;
	while (!p->tx_full && hashmap_next(&p->chains_used, &it, &map, &v)) {
		p->commands++;
		strbuf_printf(&p->phase[PH_TABLE], "add chain inet %s %s\n", p->table, map);
	}
	for (int i = 0; i < PH_COUNT; i++) {
		strbuf_puts(&out, strbuf_str(&p->phase[i]));
		if (p->phase[i].oom)
			out.oom = true;
	}
	if (out.oom) {
		strbuf_free(&out);
		return NULL;
	}
	return strbuf_steal(&out);
}

/*
 * Runs text as one transaction in the namespace netns_fd (-1: the calling thread's) with a new
 * libnftables context: a context's cache of the table goes stale with every commit, and a stale
 * cache makes libnftables refuse commands (a "flush chain" of a chain it does not know), while a
 * new one fetches only what the commands need. The error names libnftables' first complaint.
 */
static int
nft_apply(int netns_fd, const char *text, korch_error **err)
{
	int saved = -1;
	if (netns_fd >= 0) {
		int r = netns_enter(netns_fd, &saved, err);
		if (r < 0)
			return r;
	}
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (saved >= 0)
		netns_leave(saved);
	if (!nft)
		return error_oom(err);
	int r = 0;
	if (nft_ctx_buffer_output(nft) < 0 || nft_ctx_buffer_error(nft) < 0) {
		r = error_oom(err);
	} else if (nft_run_cmd_from_buffer(nft, text) != 0) {
		const char *e = nft_ctx_get_error_buffer(nft);
		size_t len = e ? strcspn(e, "\n") : 0;
		r = error_set(err, KORCH_ESYSTEM, "nftables: %.*s", (int)len, e ? e : "");
	}
	nft_ctx_free(nft);
	return r;
}

static void
commit(struct proxy *p, bool full, struct pieces *global)
{
	size_t it = 0;
	const char *key;
	void *v;
	struct ptrvec gone = PTRVEC_INIT;
	while (hashmap_next(&p->services, &it, &key, &v)) {
		struct svc_state *st = v;
		if (!st->seen) {
			if (ptrvec_push(&gone, (void *)key) < 0)
				st->seen = true; /* keep it: a later sync removes it */
			continue;
		}
		if (st->has_pending) {
			pieces_clear(&st->applied);
			st->applied = st->pending;
			st->pending = (struct pieces){ 0 };
			free(st->fingerprint);
			st->fingerprint = steal_pointer(&st->pending_fp);
			st->has_pending = false;
		}
	}
	for (size_t i = 0; i < gone.n; i++)
		svc_state_free(hashmap_remove(&p->services, gone.items[i]));
	ptrvec_free(&gone, NULL);
	pieces_clear(&p->global_applied);
	p->global_applied = *global;
	*global = (struct pieces){ 0 };
	if (full) {
		hashmap_free(&p->garbage_chains, NULL);
		hashmap_free(&p->garbage_sets, NULL);
	}
	for (size_t i = 0; i < p->new_garbage.n; i++) {
		const char *g = p->new_garbage.items[i];
		hashmap_put(g[0] == 'c' ? &p->garbage_chains : &p->garbage_sets, g + 2, (void *)1,
			    NULL);
	}
	for (size_t i = 0; i < p->revived.n; i++)
		hashmap_remove(&p->garbage_chains, p->revived.items[i]);
	p->applied_valid = true;
	p->synced_once = true;
}

static void
rollback(struct proxy *p)
{
	size_t it = 0;
	const char *key;
	void *v;
	while (hashmap_next(&p->services, &it, &key, &v)) {
		struct svc_state *st = v;
		pieces_clear(&st->pending);
		free(st->pending_fp);
		st->pending_fp = NULL;
		st->has_pending = false;
	}
}

/* Decodes and renders one Service into its state's pending pieces unless it is unchanged. */
static int
stage_service(struct proxy *p, const json_t *svc, const struct hashmap *index, bool full,
	      size_t *rendered, korch_error **err)
{
	char key[SVC_KEY_MAX];
	int r = svc_object_key(svc, key, err);
	if (r < 0)
		return korch_error_prefix(err, r, "service");
	struct svc_state *st = hashmap_get(&p->services, key);
	if (!st) {
		st = calloc(1, sizeof(*st));
		if (!st || hashmap_put(&p->services, key, st, NULL) < 0) {
			free(st);
			return error_oom(err);
		}
		st->seen = true;
	}
	if (st->listed)
		return error_set(err, KORCH_EINVALID, "service %s: listed twice", key);
	if (st->removed)
		return error_set(err, KORCH_EINVALID, "service %s: both changed and removed", key);
	st->listed = true;
	st->seen = true;
	const struct ptrvec *eps = hashmap_get(index, key);
	bool have_fp = svc_fingerprint(svc, eps, &p->fp);
	if (!full && have_fp && streq(strbuf_str(&p->fp), st->fingerprint))
		return 0;
	struct svc s;
	r = svc_decode(svc, eps, &s, err);
	if (r < 0)
		return r;
	r = render_service(p, &s, &st->pending);
	svc_clear(&s);
	if (r < 0)
		return error_oom(err);
	if (have_fp && !(st->pending_fp = strdup(strbuf_str(&p->fp))))
		return error_oom(err);
	st->has_pending = true;
	(*rendered)++;
	return full ? emit_all(p, &st->pending) : diff(p, &st->applied, &st->pending);
}

/* What a sync is given. */
struct sync_input {
	const json_t *services;     /* Services (all of them, or the changed ones), or NULL */
	const json_t *endpoints;    /* their endpoint objects */
	bool partial;               /* services holds only the changed ones */
	const char *const *removed; /* partial: keys of Services that are gone */
	size_t n_removed;           /* how many */
};

static int
stage(struct proxy *p, const struct sync_input *in, const struct hashmap *index, bool full,
      struct pieces *global, size_t *rendered, korch_error **err)
{
	/* Everything is still wanted unless the full list says otherwise or it was removed. */
	size_t it = 0;
	const char *key;
	void *v;
	while (hashmap_next(&p->services, &it, &key, &v)) {
		struct svc_state *st = v;
		st->seen = !in->services || in->partial;
		st->listed = st->removed = false;
	}
	for (size_t i = 0; i < in->n_removed; i++) {
		struct svc_state *st = hashmap_get(&p->services, in->removed[i]);
		if (st) {
			st->seen = false;
			st->removed = true;
		}
	}
	size_t i;
	json_t *svc;
	json_array_foreach (in->services, i, svc) {
		int r = stage_service(p, svc, index, full, rendered, err);
		if (r < 0)
			return r;
	}
	static const struct pieces none;
	it = 0;
	while (hashmap_next(&p->services, &it, &key, &v)) {
		struct svc_state *st = v;
		int r = 0;
		if (full && st->seen && !st->listed) /* a rewrite keeps what was not given */
			r = emit_all(p, &st->applied);
		else if (!full && !st->seen)
			r = diff(p, &st->applied, &none);
		if (r < 0)
			return error_oom(err);
	}
	if (render_global(p, global) < 0)
		return error_oom(err);
	int r = full ? emit_all(p, global) : diff(p, &p->global_applied, global);
	if (r < 0)
		return error_oom(err);
	if (full) {
		p->commands += 3;
		if (strbuf_printf(&p->phase[PH_TABLE],
				  "add table inet %s\ndelete table inet %s\nadd table inet %s\n",
				  p->table, p->table, p->table) < 0)
			return error_oom(err);
	}
	return 0;
}

static int
sync_common(struct proxy *p, const struct sync_input *in, struct proxy_stats *ret_stats,
	    korch_error **err)
{
	if (in->services && !json_is_array(in->services))
		return error_set(err, KORCH_EINVALID, "services: a list of objects is needed");
	if ((!in->services || in->partial) && !p->synced_once)
		return error_set(err, KORCH_EINVALID,
				 "proxy: the first sync needs the list of Services");
	struct hashmap index = HASHMAP_INIT;
	int r = svc_index_endpoints(in->endpoints, &index, err);
	if (r < 0)
		return r;
	struct proxy_stats stats = { 0 };
	/* An incremental transaction the kernel refuses (someone removed our table, say) is
	 * retried once as a full rewrite. */
	for (int attempt = 0; attempt < 2; attempt++) {
		bool full = !p->applied_valid;
		struct pieces global = { 0 };
		size_t rendered = 0;
		tx_reset(p);
		p->tx_full = full;
		_cleanup_free_ char *text = NULL;
		r = stage(p, in, &index, full, &global, &rendered, err);
		if (r == 0 && !(text = tx_text(p)))
			r = error_oom(err);
		if (r == 0 && p->commands > 0) {
			_cleanup_error_ korch_error *e = NULL;
			r = nft_apply(p->netns_fd, text, &e);
			if (r < 0 && !full) {
				log_warn("net",
					 "proxy: incremental sync failed, rewriting the table: %s",
					 korch_error_message(e));
				rollback(p);
				pieces_clear(&global);
				p->applied_valid = false;
				continue;
			}
			if (r < 0)
				error_propagate(err, &e, r);
		}
		if (r < 0) {
			rollback(p);
			pieces_clear(&global);
			break;
		}
		stats = (struct proxy_stats){ .commands = p->commands,
					      .bytes = text ? strlen(text) : 0,
					      .full = full,
					      .services = rendered };
		commit(p, full, &global);
		stats.garbage = p->garbage_chains.n + p->garbage_sets.n;
		break;
	}
	tx_reset(p);
	svc_index_free(&index);
	if (r == 0 && ret_stats)
		*ret_stats = stats;
	return r;
}

int
proxy_sync(struct proxy *p, const json_t *services, const json_t *endpoints,
	   struct proxy_stats *ret_stats, korch_error **err)
{
	struct sync_input in = { .services = services, .endpoints = endpoints };
	return sync_common(p, &in, ret_stats, err);
}

int
proxy_update(struct proxy *p, const json_t *changed, const json_t *endpoints,
	     const char *const *removed, size_t n_removed, struct proxy_stats *ret_stats,
	     korch_error **err)
{
	if (!changed && n_removed == 0)
		return error_set(err, KORCH_EINVALID, "proxy: nothing to update");
	_cleanup_json_ json_t *none = changed ? NULL : json_array();
	struct sync_input in = { .services = changed ? changed : none,
				 .endpoints = endpoints,
				 .partial = true,
				 .removed = removed,
				 .n_removed = n_removed };
	if (!in.services)
		return error_oom(err);
	return sync_common(p, &in, ret_stats, err);
}

int
proxy_collect_garbage(struct proxy *p, korch_error **err)
{
	size_t n = p->garbage_chains.n + p->garbage_sets.n;
	if (n == 0)
		return 0;
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	size_t it = 0;
	const char *name;
	void *v;
	while (hashmap_next(&p->garbage_chains, &it, &name, &v))
		strbuf_printf(&sb, "delete chain inet %s %s\n", p->table, name);
	it = 0;
	while (hashmap_next(&p->garbage_sets, &it, &name, &v))
		strbuf_printf(&sb, "delete set inet %s %s\n", p->table, name);
	if (sb.oom)
		return error_oom(err);
	int r = nft_apply(p->netns_fd, strbuf_str(&sb), err);
	if (r < 0) {
		p->applied_valid = false; /* let the next sync rewrite the table */
		return r;
	}
	hashmap_free(&p->garbage_chains, NULL);
	hashmap_free(&p->garbage_sets, NULL);
	return (int)n;
}

int
proxy_reset_table(const char *table, korch_error **err)
{
	_cleanup_free_ char *text = fmt("add table inet %s\ndelete table inet %s\n", table, table);
	return text ? nft_apply(-1, text, err) : error_oom(err);
}
