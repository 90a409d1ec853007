/*
 * korchd.h - what korchd's files share: its configuration (flags over the YAML config file over
 * the defaults of DESIGN.md "Where things live").
 */
#ifndef KORCHD_H
#define KORCHD_H

#include <stdbool.h>
#include <stddef.h>
#include <korch/common.h>
#include <korch/log.h>

#define KORCHD_DEFAULT_DATA_DIR "/var/lib/korch"
#define KORCHD_DEFAULT_RUN_DIR "/run/korch"
#define KORCHD_DEFAULT_CONFIG "/etc/korch/korch.yaml"
#define KORCHD_ETC_KUBECONFIG "/etc/korch/admin.kubeconfig"
#define KORCHD_MAX_LISTEN 8

enum korchd_role {
	ROLE_ALL,           /* control plane and a node agent for this machine */
	ROLE_CONTROL_PLANE, /* store, API server, controllers, scheduler */
	ROLE_NODE,          /* the node agent only (against a control plane's API) */
};

struct korchd_config {
	char *config_path;               /* --config */
	bool config_given;               /* --config was passed: the file must exist */
	char *data_dir;                  /* --data-dir */
	char *run_dir;                   /* --run-dir */
	char *instance;                  /* --instance */
	char *listen[KORCHD_MAX_LISTEN]; /* --listen ADDR:PORT (HTTPS) */
	size_t n_listen;                 /* how many */
	char *node_name;                 /* --node-name */
	char *node_ip;                   /* --node-ip */
	char *cluster_cidr;              /* --cluster-cidr: all pods */
	char *service_cidr;              /* --service-cidr: Service virtual IPs */
	char *pod_cidr;                  /* --pod-cidr: this node's pods */
	char *tls_cert_file;        /* --tls-cert-file (default: generated under DATA_DIR/pki) */
	char *tls_key_file;         /* --tls-key-file */
	char *token_file;           /* --token-file (default DATA_DIR/tokens.csv) */
	char *cgroup_parent;        /* --cgroup-parent */
	char *eviction_hard;        /* --eviction-hard (checked; NULL: the defaults) */
	enum korchd_role role;      /* --role */
	korch_log_level log_level;  /* --log-level */
	unsigned max_read_inflight; /* --max-requests-inflight */
	unsigned max_mutating_inflight; /* --max-mutating-requests-inflight */
	bool sync_normal;               /* --store-sync normal */
	bool no_pod_network;            /* --pod-network false */
};

void korchd_config_clear(struct korchd_config *cfg);

/* `korchd run`: serve until SIGTERM or SIGINT. Returns the exit status. */
int korchd_run(struct korchd_config *cfg);

/* `korchd reset`: remove an instance's run-time leftovers. Returns the exit status. */
int korchd_reset(struct korchd_config *cfg);

/*
 * The first start's files: the PKI, the token file with an admin token, DATA_DIR/admin.kubeconfig
 * (and /etc/korch/admin.kubeconfig with the default data dir) for server_url.
 */
int korchd_setup_files(const struct korchd_config *cfg, korch_error **err);
int korchd_write_kubeconfig(const struct korchd_config *cfg, const char *server_url,
			    korch_error **err);

/* The first non-loopback IPv4 address of an interface that is up, else 127.0.0.1. */
char *korchd_default_node_ip(void);

#endif
