/*
 * run.c - korchd's life: files, the store, the control plane (API server, controllers,
 * scheduler), the node agent, all on one loop; SIGTERM or SIGINT ends it cleanly, leaving the
 * containers to korch-monitor.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "base/loop.h"
#include "base/util.h"
#include "client/client.h"
#include "korchd.h"
#include "server/pki.h"
#include "server/server.h"

struct daemon {
	struct korchd_config *cfg;            /* borrowed */
	korch_clock *clock;                   /* the real clock */
	korch_loop *loop;                     /* everything runs here */
	struct store *store;                  /* DATA_DIR/state.db */
	struct client *client;                /* the write path */
	struct server *server;                /* the API (control plane) */
	struct loop_source *sigterm, *sigint; /* stop */
					      /*
	 * Plug-in points of the components that land in their own issues: each is
	 * X_new(client, loop, ...) / X_free and goes here.
	 *   lib/controller (issue 6): the controller manager      (control plane)
	 *   lib/scheduler  (issue 7): the scheduler               (control plane)
	 *   lib/node       (issue 5): the node agent, whose log, exec and metrics calls
	 *                             become server_options.node  (node)
	 *   lib/net        (issue 9): the node's network, through the node agent; then the API
	 *                             also listens on NODE_IP for pods (kubernetes Service)
	 */
};

static void
on_stop(struct loop_source *src, const struct signalfd_siginfo *si, void *userdata)
{
	struct daemon *d = userdata;
	log_info("korchd", "signal %u: stopping", si->ssi_signo);
	korch_loop_quit(d->loop);
}

/* A thousand watchers need a thousand sockets: take what the hard limit allows. */
static void
raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int
read_text(const char *path, char **ret, korch_error **err)
{
	size_t len;
	int r = read_file(path, 256 * 1024, ret, &len, err);
	return r < 0 ? korch_error_prefix(err, r, "read %s", path) : 0;
}

static int
apply(struct client *c, json_t *obj, korch_error **err)
{
	if (!obj)
		return error_oom(err);
	struct client_write_opts o = { .field_manager = "korchd", .force = true };
	int r = client_apply(c, obj, &o, NULL, err);
	json_decref(obj);
	return r;
}

/* The port pods reach the API at: the first listen address's. */
static unsigned
api_port(const struct daemon *d)
{
	unsigned port = server_https_port(d->server);
	return port ? port : 6443;
}

/*
 * What a control plane makes on start, as kube-apiserver does: the four system namespaces
 * and the kubernetes Service with its Endpoints (the API for pods).
 */
static int
bootstrap(struct daemon *d, korch_error **err)
{
	static const char *const namespaces[] = { "default", "kube-system", "kube-public",
						  "kube-node-lease" };
	int r;
	for (size_t i = 0; i < ARRAY_SIZE(namespaces); i++)
		if ((r = apply(d->client,
			       json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind",
					 "Namespace", "metadata", "name", namespaces[i]),
			       err)) < 0)
			return korch_error_prefix(err, r, "namespace %s", namespaces[i]);
	char service_ip[64];
	snprintf(service_ip, sizeof(service_ip), "%s", d->cfg->service_cidr);
	char *slash = strchr(service_ip, '/');
	if (slash)
		*slash = '\0';
	/* The CIDR's network address plus one. */
	unsigned a, b, c, e;
	if (sscanf(service_ip, "%u.%u.%u.%u", &a, &b, &c, &e) != 4)
		return error_set(err, KORCH_EINVALID, "--service-cidr %s", d->cfg->service_cidr);
	snprintf(service_ip, sizeof(service_ip), "%u.%u.%u.%u", a, b, c, e + 1);
	unsigned port = api_port(d);
	r = apply(d->client,
		  json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s}}, s:{s:s, s:s, s:[s], s:[{s:s, "
			    "s:i, s:s, s:i}], s:s}}",
			    "apiVersion", "v1", "kind", "Service", "metadata", "name", "kubernetes",
			    "namespace", "default", "labels", "component", "apiserver", "provider",
			    "kubernetes", "spec", "type", "ClusterIP", "clusterIP", service_ip,
			    "clusterIPs", service_ip, "ports", "name", "https", "port", 443,
			    "protocol", "TCP", "targetPort", (int)port, "sessionAffinity", "None"),
		  err);
	if (r < 0)
		return korch_error_prefix(err, r, "the kubernetes Service");
	if (startswith(d->cfg->node_ip, "127.")) {
		/* Pods cannot reach a loopback address; Endpoints may not hold one. */
		log_info("korchd", "node address %s is loopback: pods cannot reach the API",
			 d->cfg->node_ip);
		return 0;
	}
	r = apply(d->client,
		  json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:[{s:[{s:s}], s:[{s:s, s:i, "
			    "s:s}]}]}",
			    "apiVersion", "v1", "kind", "Endpoints", "metadata", "name",
			    "kubernetes", "namespace", "default", "labels",
			    "endpointslice.kubernetes.io/skip-mirror", "true", "subsets",
			    "addresses", "ip", d->cfg->node_ip, "ports", "name", "https", "port",
			    (int)port, "protocol", "TCP"),
		  err);
	return r < 0 ? korch_error_prefix(err, r, "the kubernetes Endpoints") : 0;
}

/* https://HOST:PORT of the first listen address, 0.0.0.0 read as 127.0.0.1. */
static void
server_url(const struct daemon *d, char *buf, size_t len)
{
	char host[128];
	snprintf(host, sizeof(host), "%s", d->cfg->listen[0]);
	char *colon = strrchr(host, ':');
	if (colon)
		*colon = '\0';
	if (!*host || streq(host, "0.0.0.0"))
		snprintf(host, sizeof(host), "127.0.0.1");
	snprintf(buf, len, "https://%s:%u", host, api_port(d));
}

static int
start_control_plane(struct daemon *d, korch_error **err)
{
	struct korchd_config *cfg = d->cfg;
	char path[600];
	_cleanup_free_ char *cert = NULL, *key = NULL, *sa_key = NULL, *token_file = NULL;
	if (cfg->tls_cert_file) {
		if (read_text(cfg->tls_cert_file, &cert, err) < 0 ||
		    read_text(cfg->tls_key_file, &key, err) < 0)
			return KORCH_EINVALID;
	} else {
		snprintf(path, sizeof(path), "%s/pki/%s", cfg->data_dir, PKI_SERVER_CERT);
		int r = read_text(path, &cert, err);
		if (r < 0)
			return r;
		snprintf(path, sizeof(path), "%s/pki/%s", cfg->data_dir, PKI_SERVER_KEY);
		if ((r = read_text(path, &key, err)) < 0)
			return r;
	}
	snprintf(path, sizeof(path), "%s/pki/%s", cfg->data_dir, PKI_SA_KEY);
	int r = read_text(path, &sa_key, err);
	if (r < 0)
		return r;
	if (cfg->token_file)
		token_file = strdup(cfg->token_file);
	else if (asprintf(&token_file, "%s/tokens.csv", cfg->data_dir) < 0)
		token_file = NULL;
	char sock[600];
	snprintf(sock, sizeof(sock), "%s/korchd.sock", cfg->run_dir);
	const char *addrs[KORCHD_MAX_LISTEN + 2] = { 0 };
	size_t n_addrs = 0;
	bool node_covered = startswith(cfg->node_ip, "127.");
	for (size_t i = 0; i < cfg->n_listen; i++) {
		addrs[n_addrs++] = cfg->listen[i];
		const char *colon = strrchr(cfg->listen[i], ':');
		size_t hl = colon ? (size_t)(colon - cfg->listen[i]) : 0;
		if (hl == 0 || !strncmp(cfg->listen[i], "0.0.0.0", hl) ||
		    (strlen(cfg->node_ip) == hl && !strncmp(cfg->listen[i], cfg->node_ip, hl)))
			node_covered = true;
	}
	/*
	 * The kubernetes Service's endpoint is NODE_IP on the first listen address's port: pods
	 * reach the API there (through 10.96.0.1:443 once the proxy programs it).
	 */
	char node_addr[160];
	if (!node_covered) {
		const char *colon = strrchr(cfg->listen[0], ':');
		snprintf(node_addr, sizeof(node_addr), "%s%s", cfg->node_ip,
			 colon ? colon : ":6443");
		addrs[n_addrs++] = node_addr;
	}
	struct server_options so = {
		.socket_path = sock,
		.https_addrs = addrs,
		.tls_cert_pem = cert,
		.tls_key_pem = key,
		.token_file = token_file,
		.sa_key_pem = sa_key,
		.advertise_address = cfg->node_ip,
		.max_read_inflight = cfg->max_read_inflight,
		.max_mutating_inflight = cfg->max_mutating_inflight,
		.node = NULL, /* the node agent's calls, once lib/node lands */
	};
	r = server_new(d->client, d->loop, &so, &d->server, err);
	explicit_bzero(key, strlen(key));
	explicit_bzero(sa_key, strlen(sa_key));
	if (r < 0)
		return korch_error_prefix(err, r, "API server");
	if ((r = bootstrap(d, err)) < 0)
		return r;
	char url[256];
	server_url(d, url, sizeof(url));
	if ((r = korchd_write_kubeconfig(cfg, url, err)) < 0)
		return r;
	/* CONTROLLERS: controller manager (lib/controller, issue 6) starts here. */
	/* SCHEDULER: scheduler (lib/scheduler, issue 7) starts here. */
	log_info("korchd", "API on %s and %s; kubeconfig %s/admin.kubeconfig", url, sock,
		 cfg->data_dir);
	return 0;
}

static void
daemon_stop(struct daemon *d)
{
	/* NODE, SCHEDULER, CONTROLLERS stop here first, in that order, once they exist. */
	server_free(d->server);
	loop_source_free(d->sigterm);
	loop_source_free(d->sigint);
	client_free(d->client);
	store_close(d->store);
	korch_loop_free(d->loop);
	korch_clock_free(d->clock);
}

int
korchd_run(struct korchd_config *cfg)
{
	korch_log_set_handler(korch_log_stderr, cfg->log_level, NULL);
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	if (cfg->role == ROLE_NODE) {
		fprintf(stderr, "korchd: --role node (an agent joining a remote control plane) is "
				"not available yet; run --role all or control-plane\n");
		return 2;
	}
	struct daemon d = { .cfg = cfg };
	_cleanup_error_ korch_error *err = NULL;
	int r = korchd_setup_files(cfg, &err);
	char state[600];
	snprintf(state, sizeof(state), "%s/state.db", cfg->data_dir);
	if (r == 0 && (r = korch_clock_new_real(&d.clock, &err)) == 0 &&
	    (r = korch_loop_new(d.clock, &d.loop, &err)) == 0) {
		struct store_options so = { .loop = d.loop, .sync_normal = cfg->sync_normal };
		r = store_open(state, &so, &d.store, &err);
		if (r < 0)
			korch_error_prefix(&err, r, "open the state %s", state);
	}
	if (r == 0)
		r = client_new_local(d.store, d.clock, &d.client, &err);
	if (r == 0 && cfg->role != ROLE_NODE)
		r = start_control_plane(&d, &err);
	/* NODE: the node agent (lib/node, issue 5) starts here for --role all. */
	if (r == 0 && (r = loop_add_signal(d.loop, SIGTERM, on_stop, &d, &d.sigterm, &err)) == 0)
		r = loop_add_signal(d.loop, SIGINT, on_stop, &d, &d.sigint, &err);
	if (r == 0)
		r = korch_loop_run(d.loop, &err);
	if (r < 0)
		fprintf(stderr, "korchd: %s\n", korch_error_message(err));
	daemon_stop(&d);
	if (r == 0)
		log_info("korchd", "stopped");
	return r < 0 ? 1 : 0;
}
