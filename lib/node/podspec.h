/*
 * podspec.h - the few fields of a Pod the node agent acts on, decoded once per change of the
 * pod's spec into small typed structs (DESIGN.md, "Objects": hot paths do not walk JSON on every
 * look). Strings are borrowed from the pod's spec, which the struct holds a reference to (not the
 * whole object: statuses come and go without keeping old copies alive); env, envFrom,
 * volumes and volumeMounts stay JSON (they are read once per container start).
 */
#ifndef KORCH_NODE_PODSPEC_H
#define KORCH_NODE_PODSPEC_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <korch/common.h>
#include "base/macro.h"

enum restart_policy {
	RESTART_ALWAYS,
	RESTART_ON_FAILURE,
	RESTART_NEVER,
};

enum handler_type {
	HANDLER_NONE,
	HANDLER_EXEC,  /* exec.command */
	HANDLER_HTTP,  /* httpGet */
	HANDLER_TCP,   /* tcpSocket */
	HANDLER_SLEEP, /* lifecycle sleep.seconds */
};

/* A probe's or a lifecycle hook's action. */
struct handler_spec {
	enum handler_type type;  /* what to do */
	char **command;          /* exec: NULL-terminated (owned) */
	const char *http_path;   /* httpGet.path ("/" by default) */
	const char *http_scheme; /* "HTTP" or "HTTPS" */
	const char *host;        /* httpGet.host / tcpSocket.host, or NULL for the pod */
	int port;                /* resolved port number; 0 when port_name could not be */
	const char *port_name;   /* the named port asked for, for the error message */
	const json_t *headers;   /* httpGet.httpHeaders (name/value objects), or NULL */
	int64_t sleep_s;         /* sleep.seconds */
};

struct probe_spec {
	struct handler_spec handler; /* what the probe runs */
	int32_t initial_delay_s;     /* initialDelaySeconds */
	int32_t timeout_s;           /* timeoutSeconds (>= 1) */
	int32_t period_s;            /* periodSeconds (>= 1) */
	int32_t success_threshold;   /* successThreshold (>= 1) */
	int32_t failure_threshold;   /* failureThreshold (>= 1) */
	int64_t termination_grace_s; /* terminationGracePeriodSeconds, or -1 for the pod's */
};

/* Requests and limits of cpu (millicores) and memory (bytes); -1 when not given. */
struct ctr_resources {
	int64_t cpu_request_milli;
	int64_t cpu_limit_milli;
	int64_t memory_request;
	int64_t memory_limit;
	int64_t ephemeral_request;
	int64_t ephemeral_limit;
};

struct ctr_spec {
	const char *name;                     /* the container's name */
	const char *image;                    /* as written in the spec */
	const char *pull_policy;              /* "Always", "IfNotPresent", "Never" */
	const json_t *json;                   /* the container object */
	bool init;                            /* an init container */
	bool sidecar;                         /* an init container with restartPolicy Always */
	const char *working_dir;              /* or NULL */
	const char *termination_message_path; /* default /dev/termination-log */
	bool termination_fallback_to_logs;    /* terminationMessagePolicy FallbackToLogsOnError */
	struct ctr_resources res;             /* requests and limits */
	struct probe_spec *liveness;          /* or NULL (owned) */
	struct probe_spec *readiness;         /* or NULL */
	struct probe_spec *startup;           /* or NULL */
	struct handler_spec *post_start;      /* or NULL (owned) */
	struct handler_spec *pre_stop;        /* or NULL (owned) */
	/* the security context, container's values over the pod's */
	bool privileged;                /* privileged */
	bool read_only_rootfs;          /* readOnlyRootFilesystem */
	int allow_privilege_escalation; /* -1 unset, 0, 1 */
	int64_t run_as_user;            /* -1 unset */
	int64_t run_as_group;           /* -1 unset */
	bool run_as_non_root;           /* runAsNonRoot */
	const json_t *cap_add;          /* capabilities.add, or NULL */
	const json_t *cap_drop;         /* capabilities.drop, or NULL */
	const char *seccomp_type;       /* seccompProfile.type, or NULL */
	const char *seccomp_localhost;  /* seccompProfile.localhostProfile, or NULL */
};

struct podspec {
	json_t *spec_json;                     /* the pod's spec decoded (a reference of ours) */
	enum restart_policy restart;           /* restartPolicy */
	int64_t grace_s;                       /* terminationGracePeriodSeconds */
	int64_t active_deadline_s;             /* activeDeadlineSeconds, or -1 */
	bool host_network, host_pid, host_ipc; /* host namespaces */
	bool share_pid;                        /* shareProcessNamespace */
	bool enable_service_links;             /* enableServiceLinks */
	const char *hostname;                  /* spec.hostname, or NULL for the pod's name */
	const char *subdomain;                 /* spec.subdomain, or NULL */
	const char *service_account;           /* serviceAccountName, or NULL */
	const char *dns_policy;                /* dnsPolicy */
	int32_t priority;                      /* spec.priority (0 when absent) */
	const char *qos;                       /* "Guaranteed", "Burstable" or "BestEffort" */
	int64_t fs_group;                      /* securityContext.fsGroup, or -1 */
	const json_t *supplemental_groups;     /* securityContext.supplementalGroups, or NULL */
	struct ctr_spec *ctrs;                 /* init containers first, then the app containers */
	size_t n_init;                         /* init containers at the front of ctrs */
	size_t n_ctrs;                         /* all entries of ctrs */
	const json_t *volumes;                 /* spec.volumes, or NULL */
	int64_t cpu_request_milli; /* the pod's effective request: max(sum app, max init) */
	int64_t memory_request;    /* same, for memory */
	int64_t cpu_limit_milli;   /* sum of app limits (max with init), -1 if any is unset */
	int64_t memory_limit;      /* same, for memory */
};

/*
 * Decodes pod (a reference is taken). Spec fields the agent cannot act on are reported as
 * KORCH_EINVALID naming the field ("spec.containers[0].livenessProbe.httpGet.port: named port
 * \"web\" not found" is not an error here: the probe keeps port 0 and reports that when run).
 */
int podspec_decode(json_t *pod, struct podspec **ret, korch_error **err);
void podspec_free(struct podspec *s);
DEFINE_CLEANUP_FUNC(podspec_free, struct podspec, podspec_free)

/*
 * What of a pod's spec may change after creation and matters here (the containers' images,
 * activeDeadlineSeconds, terminationGracePeriodSeconds), as one string: pods have no
 * metadata.generation to tell a spec change by. Caller frees; NULL when out of memory.
 */
char *podspec_mutable_key(const json_t *pod);

/* The container named name, or NULL. */
const struct ctr_spec *podspec_find(const struct podspec *s, const char *name);

/* Reads a quantity member of a JSON object as an integer (milli when milli): -1 when absent. */
int64_t podspec_quantity(const json_t *obj, const char *key, bool milli);

#endif
