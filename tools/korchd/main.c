/*
 * korchd - the korch daemon: the state store, the Kubernetes API server, the controllers, the
 * scheduler and a node agent for this machine, on one event loop. Flags override the YAML
 * config file, which overrides the defaults.
 *
 * korchd links the library's internals (as korch-monitor does): the API server, the
 * controllers, the scheduler and the node agent are internal entry points that take the
 * in-process client and the loop.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "api/codec.h"
#include "base/error.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/util.h"
#include "korchd.h"
#include "node/agent.h"

static const char usage[] =
	"Usage: korchd [OPTIONS]          run the daemon\n"
	"       korchd reset [OPTIONS]    remove an instance's bridge, nftables table, cgroups,\n"
	"                                 mounts and run directory (the state stays)\n"
	"\n"
	"Options (each also a key of the config file, without the dashes):\n"
	"  -c, --config FILE              YAML config file [" KORCHD_DEFAULT_CONFIG "]\n"
	"      --data-dir DIR             state, images, PKI, admin.kubeconfig\n"
	"                                 [" KORCHD_DEFAULT_DATA_DIR "]\n"
	"      --run-dir DIR              API socket, monitor socket, sandboxes\n"
	"                                 [" KORCHD_DEFAULT_RUN_DIR "]\n"
	"      --instance NAME            names the bridge, nftables table and cgroup parent\n"
	"                                 [korch]\n"
	"      --listen ADDR:PORT         HTTPS address of the API; repeatable [127.0.0.1:6443]\n"
	"      --node-name NAME           this machine's Node [the host name]\n"
	"      --node-ip ADDR             this machine's address [its first non-loopback IPv4]\n"
	"      --cluster-cidr CIDR        addresses of all pods [10.244.0.0/16]\n"
	"      --service-cidr CIDR        Service virtual IPs [10.96.0.0/12]\n"
	"      --pod-cidr CIDR            this node's pods [10.244.0.0/24]\n"
	"      --pod-network BOOL         run the pod network (bridge, Service proxy, DNS) [true]\n"
	"      --tls-cert-file FILE       API server certificate [generated in DATA_DIR/pki]\n"
	"      --tls-key-file FILE        its key\n"
	"      --token-file FILE          bearer tokens, kube-apiserver's CSV format\n"
	"                                 [DATA_DIR/tokens.csv, made with an admin token]\n"
	"      --cgroup-parent PATH       parent cgroup of pods [korch-INSTANCE beside korchd]\n"
	"      --eviction-hard LIST       node pressure thresholds, SIGNAL<VALUE joined by commas\n"
	"                                 [memory.available<100Mi,nodefs.available<10%]\n"
	"      --role ROLE                all, control-plane or node [all]\n"
	"      --max-requests-inflight N  read-only requests at once, then 429 [400]\n"
	"      --max-mutating-requests-inflight N\n"
	"                                 writes at once, then 429 [200]\n"
	"      --store-sync MODE          full (durable, the default) or normal (faster)\n"
	"      --log-level LEVEL          error, warn, info or debug [info]\n"
	"  -h, --help                     this text\n"
	"      --version                  the version\n"
	"\n"
	"Files: DATA_DIR/state.db, DATA_DIR/pki/, DATA_DIR/tokens.csv, DATA_DIR/admin.kubeconfig,\n"
	"RUN_DIR/korchd.sock. SIGTERM or SIGINT stops korchd; containers keep running under\n"
	"korch-monitor and are adopted on the next start. See korchd(8).\n";

enum {
	OPT_DATA_DIR = 256,
	OPT_RUN_DIR,
	OPT_INSTANCE,
	OPT_LISTEN,
	OPT_NODE_NAME,
	OPT_NODE_IP,
	OPT_CLUSTER_CIDR,
	OPT_SERVICE_CIDR,
	OPT_POD_CIDR,
	OPT_POD_NETWORK,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_TOKEN_FILE,
	OPT_CGROUP_PARENT,
	OPT_EVICTION_HARD,
	OPT_ROLE,
	OPT_MAX_READ,
	OPT_MAX_MUTATING,
	OPT_STORE_SYNC,
	OPT_LOG_LEVEL,
	OPT_VERSION,
};

static const struct option options[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "data-dir", required_argument, NULL, OPT_DATA_DIR },
	{ "run-dir", required_argument, NULL, OPT_RUN_DIR },
	{ "instance", required_argument, NULL, OPT_INSTANCE },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "node-name", required_argument, NULL, OPT_NODE_NAME },
	{ "node-ip", required_argument, NULL, OPT_NODE_IP },
	{ "cluster-cidr", required_argument, NULL, OPT_CLUSTER_CIDR },
	{ "service-cidr", required_argument, NULL, OPT_SERVICE_CIDR },
	{ "pod-cidr", required_argument, NULL, OPT_POD_CIDR },
	{ "pod-network", required_argument, NULL, OPT_POD_NETWORK },
	{ "tls-cert-file", required_argument, NULL, OPT_TLS_CERT },
	{ "tls-key-file", required_argument, NULL, OPT_TLS_KEY },
	{ "token-file", required_argument, NULL, OPT_TOKEN_FILE },
	{ "cgroup-parent", required_argument, NULL, OPT_CGROUP_PARENT },
	{ "eviction-hard", required_argument, NULL, OPT_EVICTION_HARD },
	{ "role", required_argument, NULL, OPT_ROLE },
	{ "max-requests-inflight", required_argument, NULL, OPT_MAX_READ },
	{ "max-mutating-requests-inflight", required_argument, NULL, OPT_MAX_MUTATING },
	{ "store-sync", required_argument, NULL, OPT_STORE_SYNC },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

/* Which settings came from flags: the config file fills only the others. */
struct given {
	bool set[OPT_VERSION + 1];
};

void
korchd_config_clear(struct korchd_config *cfg)
{
	char **strs[] = { &cfg->config_path,   &cfg->data_dir,     &cfg->run_dir,
			  &cfg->instance,      &cfg->node_name,    &cfg->node_ip,
			  &cfg->cluster_cidr,  &cfg->service_cidr, &cfg->pod_cidr,
			  &cfg->tls_cert_file, &cfg->tls_key_file, &cfg->token_file,
			  &cfg->cgroup_parent, &cfg->eviction_hard };
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
	for (size_t i = 0; i < cfg->n_listen; i++)
		free(cfg->listen[i]);
	cfg->n_listen = 0;
}

static int
set_str(char **field, const char *value)
{
	char *v = strdup(value);
	if (!v)
		return KORCH_ENOMEM;
	free(*field);
	*field = v;
	return 0;
}

static int
parse_unsigned(const char *name, const char *value, unsigned *ret, korch_error **err)
{
	int64_t n;
	if (parse_int64(value, &n) < 0 || n <= 0 || n > 1000000)
		return error_set(err, KORCH_EINVALID,
				 "--%s: expected a positive number, got \"%s\"", name, value);
	*ret = (unsigned)n;
	return 0;
}

/* One setting by option id, from a flag or the config file. */
static int
apply_setting(struct korchd_config *cfg, int id, const char *name, const char *value,
	      korch_error **err)
{
	switch (id) {
	case OPT_DATA_DIR: return set_str(&cfg->data_dir, value);
	case OPT_RUN_DIR: return set_str(&cfg->run_dir, value);
	case OPT_INSTANCE:
		for (const char *p = value; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
				return error_set(
					err, KORCH_EINVALID,
					"--instance: \"%s\" may hold only letters, digits, "
					"'-', '_' and '.'",
					value);
		if (!*value || strlen(value) > 12)
			return error_set(
				err, KORCH_EINVALID,
				"--instance: \"%s\" must be 1 to 12 characters (it names a "
				"network interface)",
				value);
		return set_str(&cfg->instance, value);
	case OPT_LISTEN:
		if (cfg->n_listen == KORCHD_MAX_LISTEN)
			return error_set(err, KORCH_EINVALID, "--listen: at most %d addresses",
					 KORCHD_MAX_LISTEN);
		if (!(cfg->listen[cfg->n_listen] = strdup(value)))
			return KORCH_ENOMEM;
		cfg->n_listen++;
		return 0;
	case OPT_NODE_NAME: return set_str(&cfg->node_name, value);
	case OPT_NODE_IP: return set_str(&cfg->node_ip, value);
	case OPT_CLUSTER_CIDR: return set_str(&cfg->cluster_cidr, value);
	case OPT_SERVICE_CIDR: return set_str(&cfg->service_cidr, value);
	case OPT_POD_CIDR: return set_str(&cfg->pod_cidr, value);
	case OPT_POD_NETWORK:
		if (!streq(value, "true") && !streq(value, "false"))
			return error_set(err, KORCH_EINVALID,
					 "--pod-network: expected true or false, got \"%s\"",
					 value);
		cfg->no_pod_network = streq(value, "false");
		return 0;
	case OPT_TLS_CERT: return set_str(&cfg->tls_cert_file, value);
	case OPT_TLS_KEY: return set_str(&cfg->tls_key_file, value);
	case OPT_TOKEN_FILE: return set_str(&cfg->token_file, value);
	case OPT_CGROUP_PARENT: return set_str(&cfg->cgroup_parent, value);
	case OPT_EVICTION_HARD: {
		struct node_agent_options check = { 0 };
		int r = node_eviction_hard_parse(value, &check, err);
		if (r < 0)
			return korch_error_prefix(err, r, "--eviction-hard");
		return set_str(&cfg->eviction_hard, value);
	}
	case OPT_ROLE:
		if (streq(value, "all"))
			cfg->role = ROLE_ALL;
		else if (streq(value, "control-plane"))
			cfg->role = ROLE_CONTROL_PLANE;
		else if (streq(value, "node"))
			cfg->role = ROLE_NODE;
		else
			return error_set(err, KORCH_EINVALID,
					 "--role: expected all, control-plane or node, got \"%s\"",
					 value);
		return 0;
	case OPT_MAX_READ: return parse_unsigned(name, value, &cfg->max_read_inflight, err);
	case OPT_MAX_MUTATING: return parse_unsigned(name, value, &cfg->max_mutating_inflight, err);
	case OPT_STORE_SYNC:
		if (!streq(value, "full") && !streq(value, "normal"))
			return error_set(err, KORCH_EINVALID,
					 "--store-sync: expected full or normal, got \"%s\"",
					 value);
		cfg->sync_normal = streq(value, "normal");
		return 0;
	case OPT_LOG_LEVEL:
		if (korch_log_level_parse(value, &cfg->log_level) < 0)
			return error_set(err, KORCH_EINVALID,
					 "--log-level: expected error, warn, info or debug, got "
					 "\"%s\"",
					 value);
		return 0;
	}
	return error_set(err, KORCH_EINVALID, "unknown setting %s", name);
}

/* The config file's keys are the long flag names. */
static int
config_value(struct korchd_config *cfg, const struct given *given, const char *key,
	     const json_t *value, korch_error **err)
{
	const struct option *o = NULL;
	for (const struct option *p = options; p->name; p++)
		if (streq(p->name, key) && p->val >= 256 && p->val != OPT_VERSION)
			o = p;
	if (!o)
		return error_set(err, KORCH_EINVALID, "%s: unknown setting \"%s\"",
				 cfg->config_path, key);
	if (given->set[o->val])
		return 0;
	if (o->val == OPT_LISTEN && json_is_array(value)) {
		size_t i;
		json_t *v;
		json_array_foreach (value, i, v) {
			if (!json_is_string(v))
				return error_set(err, KORCH_EINVALID,
						 "%s: listen: expected a list of ADDR:PORT strings",
						 cfg->config_path);
			int r = apply_setting(cfg, o->val, key, json_string_value(v), err);
			if (r < 0)
				return r;
		}
		return 0;
	}
	char buf[64];
	const char *text = json_string_value(value);
	if (json_is_integer(value)) {
		snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(value));
		text = buf;
	} else if (json_is_boolean(value)) {
		text = json_is_true(value) ? "true" : "false";
	}
	if (!text)
		return error_set(err, KORCH_EINVALID, "%s: %s: expected a string", cfg->config_path,
				 key);
	int r = apply_setting(cfg, o->val, key, text, err);
	return r < 0 ? korch_error_prefix(err, r, "%s", cfg->config_path) : 0;
}

static int
load_config(struct korchd_config *cfg, const struct given *given, korch_error **err)
{
	const char *path = cfg->config_path ? cfg->config_path : KORCHD_DEFAULT_CONFIG;
	if (!cfg->config_path && set_str(&cfg->config_path, path) < 0)
		return error_oom(err);
	if (access(path, F_OK) < 0 && !cfg->config_given)
		return 0;
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = read_file(path, 1024 * 1024, &text, &len, err);
	if (r < 0)
		return korch_error_prefix(err, r, "config file");
	struct codec_docs docs = { 0 };
	if ((r = codec_decode_manifests(text, len, path, &docs, err)) < 0)
		return r;
	if (docs.n > 1 || (docs.n == 1 && !json_is_object(docs.docs[0]))) {
		codec_docs_free(&docs);
		return error_set(err, KORCH_EINVALID, "%s: expected one mapping of settings", path);
	}
	const char *key;
	json_t *value;
	if (docs.n == 1)
		json_object_foreach (docs.docs[0], key, value)
			if ((r = config_value(cfg, given, key, value, err)) < 0)
				break;
	codec_docs_free(&docs);
	return r;
}

/* The defaults of what neither a flag nor the config file set. */
static int
fill_defaults(struct korchd_config *cfg)
{
	char host[256] = "localhost";
	gethostname(host, sizeof(host) - 1);
	struct {
		char **field;
		const char *value;
	} defaults[] = {
		{ &cfg->data_dir, KORCHD_DEFAULT_DATA_DIR },
		{ &cfg->run_dir, KORCHD_DEFAULT_RUN_DIR },
		{ &cfg->instance, "korch" },
		{ &cfg->node_name, host },
		{ &cfg->cluster_cidr, "10.244.0.0/16" },
		{ &cfg->service_cidr, "10.96.0.0/12" },
		{ &cfg->pod_cidr, "10.244.0.0/24" },
	};
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		if (!*defaults[i].field && set_str(defaults[i].field, defaults[i].value) < 0)
			return KORCH_ENOMEM;
	if (!cfg->node_ip && !(cfg->node_ip = korchd_default_node_ip()))
		return KORCH_ENOMEM;
	if (cfg->n_listen == 0) {
		if (!(cfg->listen[0] = strdup("127.0.0.1:6443")))
			return KORCH_ENOMEM;
		cfg->n_listen = 1;
	}
	/* Node names are DNS subdomains: lower-case the host name. */
	for (char *p = cfg->node_name; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + 32);
	return 0;
}

int
main(int argc, char **argv)
{
	struct korchd_config cfg = { .log_level = KORCH_LOG_INFO };
	struct given given = { 0 };
	_cleanup_error_ korch_error *err = NULL;
	bool reset = false;
	int first = 1;
	if (argc > 1 && streq(argv[1], "reset")) {
		reset = true;
		first = 2;
	} else if (argc > 1 && streq(argv[1], "run")) {
		first = 2;
	}
	argc -= first - 1;
	argv += first - 1;
	int c;
	while ((c = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
		int r = 0;
		switch (c) {
		case 'c':
			r = set_str(&cfg.config_path, optarg);
			cfg.config_given = true;
			break;
		case 'h': fputs(usage, stdout); return 0;
		case OPT_VERSION:
			printf("korchd %s (Kubernetes API v1.32)\n", KORCH_VERSION);
			return 0;
		case '?': fputs("Run 'korchd --help' for the options.\n", stderr); return 2;
		default:
			r = apply_setting(&cfg, c, options[c - 256 + 1].name, optarg, &err);
			given.set[c] = true;
			break;
		}
		if (r < 0) {
			fprintf(stderr, "korchd: %s\n",
				err ? korch_error_message(err) : "out of memory");
			korchd_config_clear(&cfg);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr,
			"korchd: unexpected argument \"%s\"\nRun 'korchd --help' for the "
			"options.\n",
			argv[optind]);
		korchd_config_clear(&cfg);
		return 2;
	}
	if (load_config(&cfg, &given, &err) < 0 || fill_defaults(&cfg) < 0) {
		fprintf(stderr, "korchd: %s\n", err ? korch_error_message(err) : "out of memory");
		korchd_config_clear(&cfg);
		return 2;
	}
	int status = reset ? korchd_reset(&cfg) : korchd_run(&cfg);
	korchd_config_clear(&cfg);
	return status;
}
