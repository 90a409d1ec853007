/*
 * run.c - korchd's life: files, the store, then the roles (roles.h: API server, controllers,
 * scheduler, node agent) on one loop and one client; SIGTERM or SIGINT ends it cleanly,
 * leaving the containers to korch-monitor.
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
#include "roles.h"
#include "server/server.h"

struct daemon {
	struct korchd_config *cfg;            /* borrowed */
	korch_clock *clock;                   /* the real clock */
	korch_loop *loop;                     /* everything runs here */
	struct store *store;                  /* DATA_DIR/state.db */
	struct client *client;                /* the write path, shared by every role */
	struct korchd_roles *roles;           /* API server, controllers, scheduler, node agent */
	struct loop_source *sigterm, *sigint; /* stop */
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

/* The port of the first listen address (what pods reach the API at); 6443 when it says none. */
static int
listen_port(const struct korchd_config *cfg)
{
	const char *colon = strrchr(cfg->listen[0], ':');
	int64_t port = 0;
	if (!colon || parse_int64(colon + 1, &port) < 0 || port <= 0 || port > 65535)
		return 6443;
	return (int)port;
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
	unsigned port = server_https_port(korchd_roles_server(d->roles));
	snprintf(buf, len, "https://%s:%u", host, port ? port : (unsigned)listen_port(d->cfg));
}

/* The roles --role asks for, with the API server's files, then the kubeconfig. */
static int
start_roles(struct daemon *d, const char *state, korch_error **err)
{
	struct korchd_config *cfg = d->cfg;
	char path[600];
	_cleanup_free_ char *cert = NULL, *key = NULL, *sa_key = NULL, *token_file = NULL;
	_cleanup_free_ char *ca = NULL;
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
	snprintf(path, sizeof(path), "%s/pki/%s", cfg->data_dir, PKI_CA_CERT);
	if ((r = read_text(path, &ca, err)) < 0)
		return r;
	if ((r = client_set_service_ranges(d->client, cfg->service_cidr, 0, 0, err)) < 0)
		return korch_error_prefix(err, r, "--service-cidr");
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
	};
	struct korchd_roles_options ro = {
		.loop = d->loop,
		.client = d->client,
		.state_path = state,
		.data_dir = cfg->data_dir,
		.run_dir = cfg->run_dir,
		.control_plane = true,
		.node = cfg->role == ROLE_ALL,
		.server = &so,
		.cluster_cidr = cfg->cluster_cidr,
		.root_ca_pem = ca,
		/* Pods cannot reach a loopback address: then the kubernetes Service has none. */
		.api_host = startswith(cfg->node_ip, "127.") ? NULL : cfg->node_ip,
		.api_port = listen_port(cfg),
		.node_name = cfg->node_name,
		.node_ip = cfg->node_ip,
		.pod_cidr = cfg->pod_cidr,
		.eviction_hard = cfg->eviction_hard,
		.pod_network = !cfg->no_pod_network,
		.instance = cfg->instance,
		.cgroup_parent = cfg->cgroup_parent,
	};
	r = korchd_roles_start(&ro, &d->roles, err);
	explicit_bzero(key, strlen(key));
	explicit_bzero(sa_key, strlen(sa_key));
	if (r < 0)
		return r;
	char url[256];
	server_url(d, url, sizeof(url));
	if ((r = korchd_write_kubeconfig(cfg, url, err)) < 0)
		return r;
	log_info("korchd", "API on %s and %s; kubeconfig %s/admin.kubeconfig", url, sock,
		 cfg->data_dir);
	return 0;
}

static void
daemon_stop(struct daemon *d)
{
	korchd_roles_free(d->roles);
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
	if (r == 0)
		r = start_roles(&d, state, &err);
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
