/*
 * sched-internal.h - what the scheduler's files share: interned strings, the typed pods and
 * nodes decoded once per change (DESIGN.md "Objects"), the node snapshot, the scheduling queue
 * and the per-cycle state of the plugins (kube-scheduler 1.32's default profile).
 *
 * Everything here lives on the loop's thread; nothing is locked.
 */
#ifndef KORCH_SCHEDULER_INTERNAL_H
#define KORCH_SCHEDULER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "base/rng.h"
#include "base/hashmap.h"
#include "client/informer.h"
#include "scheduler/scheduler.h"

/* ---- interned strings ------------------------------------------------------------------ */

/* An interned string's id; 0 is "no string" (an empty string has an id of its own). */
typedef uint32_t sid;
#define SID_NONE 0u

/* Strings that repeat across pods and nodes (label keys and values, namespaces, node names). */
struct intern {
	char **str;         /* id -> string, NULL for a free id */
	uint32_t *hash;     /* id -> hash of the string */
	uint32_t *refs;     /* id -> references held */
	uint32_t n, cap;    /* ids in use (id 0 included) and allocated */
	uint32_t *free_ids; /* ids to reuse */
	uint32_t n_free, cap_free;
	uint32_t *slots; /* open addressing: an id, 0 (empty) or UINT32_MAX (deleted) */
	uint32_t mask;   /* slots - 1 (slots is a power of two) */
	uint32_t used;   /* slots holding an id or a tombstone */
};

/* The id of s (len bytes), taking a reference; SID_NONE when out of memory. */
sid intern_get(struct intern *t, const char *s, size_t len);
/* The id of s without taking a reference, or SID_NONE when s was never interned. */
sid intern_find(const struct intern *t, const char *s);
void intern_ref(struct intern *t, sid id);
void intern_unref(struct intern *t, sid id);
const char *intern_str(const struct intern *t, sid id);
void intern_free(struct intern *t);
size_t intern_bytes(const struct intern *t);

/* ---- labels and selectors ------------------------------------------------------------- */

struct kv {
	sid k; /* label key */
	sid v; /* label value */
};

/* A label set, sorted by key id. */
struct labels {
	struct kv *kv; /* n pairs */
	uint32_t n;
};

/* The value of key, or SID_NONE when the label is missing. */
sid labels_get(const struct labels *l, sid key);
bool labels_equal(const struct labels *a, const struct labels *b);

enum req_op {
	OP_IN,
	OP_NOT_IN,
	OP_EXISTS,
	OP_DOES_NOT_EXIST,
	OP_GT,
	OP_LT,
};

/* One requirement of a selector. */
struct req {
	sid key;     /* label key (for field requirements: the node name is matched) */
	uint8_t op;  /* enum req_op */
	uint32_t n;  /* values */
	sid *vals;   /* sorted ids; for GT/LT unused */
	int64_t num; /* GT/LT: the bound */
	bool bad;    /* did not parse (a GT/LT without one integer): matches nothing */
};

/* A conjunction of requirements; nothing: matches no label set (a nil metav1.LabelSelector). */
struct lsel {
	struct req *reqs; /* n requirements, all must hold */
	uint32_t n;
	bool nothing;
};

bool lsel_match(const struct intern *t, const struct lsel *s, const struct labels *l);
bool lsel_empty(const struct lsel *s);

/* A NodeSelectorTerm: label requirements and metadata.name requirements. */
struct nterm {
	struct lsel labels; /* matchExpressions */
	struct req *fields; /* matchFields on metadata.name: In / NotIn */
	uint32_t n_fields;
	bool skip; /* empty or unparsable: the term matches nothing */
};

/* The required node affinity of a pod: spec.nodeSelector AND nodeAffinity's required terms. */
struct reqaff {
	struct lsel selector; /* spec.nodeSelector as equality requirements */
	bool has_selector;
	struct nterm *terms; /* ORed; has_terms with none: matches no node */
	uint32_t n_terms;
	bool has_terms;
};

/* A preferred node affinity term. */
struct pterm {
	struct nterm term;
	int32_t weight;
};

/* A pod affinity or anti-affinity term. */
struct aterm {
	struct lsel sel; /* labelSelector (nothing when unset) */
	sid *ns;         /* namespaces (the pod's own when neither these nor a selector) */
	uint32_t n_ns;
	struct lsel ns_sel; /* namespaceSelector */
	bool has_ns_sel;
	sid topo;       /* topologyKey */
	int32_t weight; /* preferred terms: weight */
};

/* ---- resources, taints, ports --------------------------------------------------------- */

struct scalar {
	sid name;  /* extended resource or hugepages name */
	int64_t v; /* value */
};

struct res {
	int64_t cpu;       /* millicores */
	int64_t mem;       /* bytes */
	int64_t eph;       /* ephemeral-storage bytes */
	int64_t pods;      /* nodes: pods allowed */
	struct scalar *sc; /* nsc scalar resources */
	uint32_t nsc;
};

enum effect {
	EFFECT_ALL = 0, /* tolerations: an empty effect */
	EFFECT_NO_SCHEDULE,
	EFFECT_PREFER_NO_SCHEDULE,
	EFFECT_NO_EXECUTE,
};

struct taint {
	sid key;
	sid value;
	uint8_t effect; /* enum effect */
};

struct toleration {
	sid key; /* SID_NONE: any key */
	sid value;
	bool exists;    /* operator Exists (else Equal) */
	bool bad_op;    /* an operator Kubernetes does not know: tolerates nothing */
	uint8_t effect; /* enum effect; EFFECT_ALL for any */
	bool has_seconds;
	int64_t seconds; /* tolerationSeconds */
};

struct hostport {
	sid ip;        /* hostIP ("0.0.0.0" when unset) */
	uint8_t proto; /* 0 TCP, 1 UDP, 2 SCTP */
	int32_t port;
	uint32_t count; /* nodes: pods using it */
};

/* ---- pods ----------------------------------------------------------------------------- */

struct tsc {
	int32_t max_skew;
	sid topo;
	bool hard;       /* whenUnsatisfiable: DoNotSchedule */
	struct lsel sel; /* labelSelector with matchLabelKeys merged */
	int32_t min_domains;
	bool honor_affinity; /* nodeAffinityPolicy Honor (the default) */
	bool honor_taints;   /* nodeTaintsPolicy Honor (default Ignore) */
};

enum owner_kind { OWNER_NONE, OWNER_RC, OWNER_RS, OWNER_SS, OWNER_OTHER };

enum pod_state {
	POD_NEW,      /* decoded, not queued yet */
	POD_ACTIVE,   /* in the active queue */
	POD_BACKOFF,  /* in the back-off queue */
	POD_UNSCHED,  /* among the unschedulable pods */
	POD_INFLIGHT, /* being scheduled, or waiting for its status write */
	POD_ASSUMED,  /* placed on a node, its binding not committed or not seen yet */
	POD_BOUND,    /* on a node (assigned in the store) */
	POD_IGNORED,  /* another scheduler's, or being deleted unassigned */
};

struct snode;

struct spod {
	char *key;        /* "namespace/name" */
	const char *name; /* inside key */
	char *uid;
	char *rv; /* metadata.resourceVersion */
	sid ns;
	int32_t priority;
	bool preempt_never; /* preemptionPolicy: Never */
	bool deleting;      /* metadata.deletionTimestamp */
	bool preempted;     /* DisruptionTarget condition with reason PreemptionByScheduler */
	bool ours;          /* schedulerName is this scheduler's */
	int64_t created_ns; /* creationTimestamp */
	int64_t start_ns;   /* status.startTime, or 0 */
	struct res req;     /* requests as the scheduler counts them (init containers, sidecars) */
	int64_t nz_cpu,
		nz_mem; /* the same with non-zero defaults for containers without requests */
	struct labels labels;
	struct reqaff required;
	bool has_required;
	struct pterm *preferred;
	uint32_t n_preferred;
	struct toleration *tols;
	uint32_t n_tols;
	struct aterm *aff, *anti, *aff_pref, *anti_pref; /* pod affinity terms */
	uint32_t n_aff, n_anti, n_aff_pref, n_anti_pref;
	struct tsc *spread;
	uint32_t n_spread;
	struct hostport *ports;
	uint32_t n_ports;
	sid *claims; /* "namespace/claim" of persistentVolumeClaim volumes */
	uint32_t n_claims;
	sid *images; /* normalised image names of init and app containers */
	uint32_t n_images;
	uint32_t n_containers;        /* init + app containers */
	uint8_t owner_kind;           /* enum owner_kind: the controller ownerReference */
	sid owner;                    /* "namespace/name" of the controller */
	sid node;                     /* spec.nodeName */
	sid nominated;                /* status.nominatedNodeName */
	bool has_pod_condition_false; /* PodScheduled is already False with the last message */
	char *last_message;           /* the PodScheduled=False message last written */

	/* cache */
	uint8_t state;         /* enum pod_state */
	struct snode *on;      /* node it is counted on (bound or assumed) */
	uint32_t slot;         /* index in on->pods */
	int32_t aff_slot;      /* index in the cache's pods-with-affinity, or -1 */
	int32_t anti_slot;     /* index in the cache's pods-with-required-anti-affinity, or -1 */
	struct snode *nominee; /* node it is nominated to (its nominatedNodeName), or NULL */
	uint32_t nom_slot;     /* index in nominee->nominated */
	bool bind_pending;     /* in the bind batch */

	/* queue */
	int32_t heap;             /* index in the active or back-off heap, or -1 */
	int32_t uslot;            /* index among the unschedulable pods, or -1 */
	uint64_t seq;             /* order of arrival */
	uint32_t attempts;        /* scheduling attempts */
	int64_t backoff_until;    /* monotonic ns */
	int64_t unsched_since;    /* monotonic ns */
	int64_t enqueued_ns;      /* monotonic ns of the first enqueue (latency) */
	uint32_t unsched_plugins; /* plugins that rejected it last (bits of enum plugin) */
	uint64_t cycle_events;    /* the event counter when its cycle began */
};

/* ---- nodes ---------------------------------------------------------------------------- */

struct img {
	sid name;
	int64_t size;
};

struct claimref {
	sid claim;
	uint32_t count;
};

/* One zone of the node tree: its nodes in the order they were added. */
struct zone {
	sid key;              /* GetZoneKey ("" region and zone: SID_NONE) */
	struct snode **nodes; /* n nodes */
	uint32_t n, cap;
};

struct snode {
	char *name;
	sid name_id;
	bool present;     /* the Node object exists (else it only holds pods that name it) */
	int32_t list_idx; /* position in the snapshot's node list, or -1 */
	struct labels labels;
	struct taint *taints; /* spec.taints and the taints its conditions stand for */
	uint32_t n_taints;
	struct taint *spec_taints; /* spec.taints alone (PreferNoSchedule scoring) */
	uint32_t n_spec_taints;
	bool unschedulable;
	sid zone;         /* region and zone labels: the node tree's key */
	struct res alloc; /* status.allocatable */
	struct res req;   /* requests of its pods */
	int64_t nz_cpu, nz_mem;
	struct spod **pods;
	uint32_t n_pods, cap_pods;
	struct hostport *ports; /* in use, with counts */
	uint32_t n_ports, cap_ports;
	struct img *images;
	uint32_t n_images;
	struct claimref *claims; /* PVCs its pods use */
	uint32_t n_claims, cap_claims;
	struct spod **nominated; /* pods nominated to it */
	uint32_t n_nominated, cap_nominated;
	uint32_t n_aff_pods;  /* pods with any pod affinity */
	uint32_t n_anti_pods; /* pods with required anti-affinity */
	uint64_t generation;
	bool in_tree;  /* listed in the node tree under tree_zone */
	sid tree_zone; /* the zone key it is listed under */
};

/* ---- plugins -------------------------------------------------------------------------- */

enum plugin {
	PL_NODE_UNSCHEDULABLE,
	PL_NODE_NAME,
	PL_TAINT_TOLERATION,
	PL_NODE_AFFINITY,
	PL_NODE_PORTS,
	PL_FIT,
	PL_VOLUME_RESTRICTIONS,
	PL_VOLUME_BINDING,
	PL_VOLUME_ZONE,
	PL_SPREAD,
	PL_INTER_POD_AFFINITY,
	PL_BALANCED,
	PL_IMAGE_LOCALITY,
	PL_DEFAULT_PREEMPTION,
	PL_COUNT,
};

extern const char *const plugin_names[PL_COUNT];

enum code {
	ST_SUCCESS,
	ST_UNSCHED,      /* Unschedulable */
	ST_UNRESOLVABLE, /* UnschedulableAndUnresolvable */
	ST_ERROR,
	ST_SKIP,
};

#define STATUS_MAX_REASONS 6

/* A plugin's verdict; reasons are ids in the scheduler's reason table. */
struct status {
	uint8_t code;   /* enum code */
	uint8_t plugin; /* enum plugin */
	uint8_t n;      /* reasons */
	uint16_t reasons[STATUS_MAX_REASONS];
};

/* Counts per (topology key, value): a small open-addressing map. */
struct pairmap {
	uint64_t *keys; /* key << 32 | value; 0 for empty */
	int64_t *vals;
	uint32_t mask, n;
};

int64_t pairmap_get(const struct pairmap *m, sid key, sid value);
/* Adds delta to the count of (key, value): 1 when the pair is new, 0, or -1 (no memory). */
int pairmap_add(struct pairmap *m, sid key, sid value, int64_t delta);
/* Calls fn for every pair. */
void pairmap_foreach(const struct pairmap *m,
		     void (*fn)(sid key, sid value, int64_t count, void *ud), void *ud);
int pairmap_copy(struct pairmap *dst, const struct pairmap *src);
void pairmap_clear(struct pairmap *m);
bool pairmap_has(const struct pairmap *m, sid key, sid value);
void pairmap_free(struct pairmap *m);

/* The two smallest match counts of a spread constraint (criticalPaths). */
struct critical {
	sid value[2];
	int64_t num[2];
};

/* PodTopologySpread's PreFilter state. */
struct spread_state {
	uint32_t *idx; /* the pod's hard constraints: indexes into its spread[] */
	uint32_t n;
	struct pairmap counts; /* (constraint index, topology value) -> matching pods */
	uint32_t *domains;     /* per constraint: topology values seen */
	struct critical *crit; /* per constraint */
};

/* InterPodAffinity's PreFilter state. */
struct ipa_state {
	struct pairmap existing_anti; /* existing pods' required anti-affinity matching the pod */
	struct pairmap aff;           /* the pod's required affinity terms, matching pods */
	struct pairmap anti;          /* the pod's required anti-affinity terms, matching pods */
};

/* VolumeRestrictions and VolumeBinding PreFilter state. */
struct vol_state {
	int64_t rwop_conflicts; /* pods elsewhere using the pod's ReadWriteOncePod claims */
	sid *rwo_claims;        /* the pod's ReadWriteOnce claims */
	uint32_t n_rwo;
	struct sclaim **bound; /* bound claims */
	uint32_t n_bound;
	struct sclaim **delayed; /* unbound WaitForFirstConsumer claims */
	uint32_t n_delayed;
	struct vzone *zones; /* VolumeZone: the bound PVs' zone and region labels */
	uint32_t n_zones;
};

/* A zone or region label of a bound PV: the node's value must be one of vals. */
struct vzone {
	sid key;    /* the PV's label key */
	sid ga_key; /* its topology.kubernetes.io/ form (beta labels), or SID_NONE */
	sid *vals;  /* the values the PV allows ("a__b" is a and b) */
	uint32_t n;
};

/* The state of one scheduling cycle. */
struct cycle {
	struct scheduler *s;
	struct spod *pod;
	uint32_t skip;  /* plugins whose PreFilter said Skip (bits of enum plugin) */
	sid *pre_nodes; /* PreFilterResult: node names to consider, or NULL for all */
	uint32_t n_pre_nodes;
	uint32_t pre_plugins; /* plugins that narrowed the nodes */
	struct spread_state spread;
	struct ipa_state ipa;
	struct vol_state vol;
};

/* ---- volumes -------------------------------------------------------------------------- */

/* A PersistentVolumeClaim as the scheduler needs it. */
struct sclaim {
	sid key;             /* "namespace/name" */
	char *volume;        /* spec.volumeName ("" when unbound) */
	char *storage_class; /* spec.storageClassName, or NULL */
	bool lost;           /* status.phase Lost */
	bool deleting;
	bool bound;               /* volumeName set and the binding completed (phase Bound) */
	bool rwo, rwop, rox, rwx; /* access modes */
	int64_t request;          /* resources.requests.storage */
	char *uid, *rv;           /* metadata (preconditions of the scheduler's writes) */
	char *selected_node;      /* annotation volume.kubernetes.io/selected-node, or NULL */
	char *assumed_volume;     /* a volume this scheduler chose for it, not yet seen bound */
};

/* A StorageClass. */
struct sclass {
	bool wait_for_consumer; /* volumeBindingMode WaitForFirstConsumer */
	bool provisions;        /* a provisioner other than kubernetes.io/no-provisioner */
};

/* A PersistentVolume. */
struct svolume {
	char *name;
	struct nterm *affinity; /* spec.nodeAffinity.required terms, ORed */
	uint32_t n_affinity;
	bool has_affinity;
	sid *host_names; /* local PVs: kubernetes.io/hostname In values (eligible nodes) */
	uint32_t n_host_names;
	char *storage_class;
	bool claimed;    /* spec.claimRef set */
	char *claim_key; /* "namespace/name" of claimRef */
	bool available;  /* status.phase Available */
	bool rwo, rwop, rox, rwx;
	int64_t capacity;
	struct labels labels; /* zone labels for VolumeZone */
};

/* A Service's selector, or the selector of a pod's controller (DefaultSelector's inputs). */
struct svc_sel {
	sid ns;          /* its namespace */
	struct lsel sel; /* Services and RCs: equality requirements of the map */
	bool is_map;     /* a map selector (Service, RC) rather than a LabelSelector */
};

/* ---- the scheduler -------------------------------------------------------------------- */

struct reason_table {
	char **text; /* reason id -> text */
	uint32_t n, cap;
	struct hashmap ids; /* text -> id + 1 */
};

/* Reasons of a failed cycle, for the message and for preemption. */
struct diagnosis {
	struct status *node_status; /* per node in list order */
	bool *has_status;           /* a status was recorded for that node */
	uint32_t n_status;          /* nodes with a status */
	struct status absent;       /* status of nodes not evaluated (PreFilter narrowing) */
	bool has_absent;
	uint16_t prefilter_reason; /* a PreFilter rejection's message, or 0 */
	bool prefilter_failed;
	uint32_t plugins; /* plugins that rejected (bits) */
	char *post_msg;   /* PostFilter's message, or NULL */
};

/*
 * One binding of a batch. The loop's thread owns pod and enqueued_ns (pod becomes NULL when the
 * pod goes away meanwhile); the committing thread reads only the copies below it and writes
 * result and error.
 */
struct bind_item {
	struct spod *pod;    /* loop thread: the pod, or NULL when gone */
	int64_t enqueued_ns; /* loop thread: for the latency sample */
	char *ns, *name;     /* the pod's key */
	char *node;          /* the target node */
	char *uid;           /* the pod's uid (a precondition) */
	json_t *current;     /* the informer's copy of the pod (a reference; never changed) */
	json_t *applies;     /* volume writes before the binding (server-side applies), or NULL */
	int result;          /* committing thread: 0 or the binding's error code */
	char *error;         /* committing thread: why it failed */
};

/* A pod's status patch (PodScheduled=False, nominatedNodeName) written with a batch. */
struct status_item {
	char *ns, *name;
	json_t *status; /* the patch's status (later ones for the pod merged in), or NULL: dropped */
};

/*
 * A batch of bindings, status patches and Events committed as one transaction, on the pool
 * or inline.
 */
struct bind_job {
	struct scheduler *s;
	struct bind_item *items;
	uint32_t n, cap;
	struct status_item *statuses;
	size_t n_statuses, cap_statuses;
	struct hashmap status_index; /* pod key -> index in statuses + 1 */
	json_t **events;             /* Event objects to create with them (owned) */
	uint32_t n_events;
	int result; /* the transaction's outcome */
	char *error;
};

struct sched_event {
	json_t *obj; /* an Event object to create */
};

struct scheduler {
	struct client *client; /* borrowed */
	korch_loop *loop;      /* borrowed */
	korch_clock *clock;    /* the loop's */
	struct scheduler_options opts;
	char *scheduler_name;
	char *reporting_instance;
	bool started;

	struct intern strs;
	struct reason_table reasons;
	sid k_unschedulable; /* "node.kubernetes.io/unschedulable" */
	sid k_hostname;      /* "kubernetes.io/hostname" */
	sid k_zone;          /* "topology.kubernetes.io/zone" */
	sid s_empty;         /* "" */
	sid s_any_ip;        /* "0.0.0.0" */

	/* informers */
	struct informer *pods_inf, *nodes_inf, *pvcs_inf, *pvs_inf, *classes_inf, *ns_inf,
		*services_inf, *rcs_inf, *rss_inf, *sss_inf;

	/* cache */
	struct hashmap pods;  /* "ns/name" -> struct spod * */
	struct hashmap nodes; /* name -> struct snode * */
	struct snode **list;  /* present nodes, zones interleaved (the node tree's order) */
	uint32_t n_list, cap_list;
	bool list_dirty;
	struct spod **aff_pods; /* pods on nodes with pod affinity or anti-affinity terms */
	uint32_t n_aff_pods, cap_aff_pods;
	struct spod **anti_pods; /* pods on nodes with required anti-affinity */
	uint32_t n_anti_pods, cap_anti_pods;
	struct zone *zones; /* the node tree: zones in the order they appeared */
	uint32_t n_zones, cap_zones;
	struct pairmap image_nodes; /* (image name, 0) -> nodes reporting it */
	struct pairmap claim_users; /* (claim key, 0) -> assigned pods using it */
	struct hashmap claims;      /* "ns/name" -> struct sclaim * */
	struct hashmap volumes;     /* name -> struct svolume * */
	struct hashmap classes;     /* StorageClass name -> struct sclass * */
	struct hashmap ns_labels;   /* namespace -> struct labels * */
	struct hashmap services;    /* "ns/name" -> struct svc_sel * (spec.selector) */
	struct hashmap owners;      /* "Kind/ns/name" -> struct svc_sel * (RC, RS, StatefulSet) */
	uint64_t generation;
	uint32_t next_start; /* nextStartNodeIndex */
	struct rng rng;      /* tie-breaks and preemption offsets (lib/base/rng) */

	/* queue */
	struct spod **active;
	uint32_t n_active, cap_active;
	struct spod **backoff;
	uint32_t n_backoff, cap_backoff;
	struct spod **unsched;
	uint32_t n_unsched, cap_unsched;
	uint64_t seq;
	uint64_t cluster_events;     /* cluster events so far (moves of unschedulable pods) */
	uint32_t inflight_events;    /* plugins interested in events during the cycle under way */
	struct loop_source *run_src; /* deferred: a scheduling round */
	struct loop_source *backoff_timer;
	struct loop_source *flush_timer; /* unschedulable pods left over */
	struct loop_source *bind_timer;  /* bind rate limit */
	double tokens;                   /* bind rate limit bucket */
	int64_t tokens_at;

	/* binding */
	struct bind_job *job;       /* the batch being filled, or NULL */
	struct bind_job *inflight;  /* the batch being committed on the pool, or NULL */
	struct pool *pool;          /* commits off the loop's thread (real clock only) */
	struct client *bind_client; /* the pool thread's client, over its own store handle */
	struct store *bind_store;
	korch_clock *bind_clock;
	json_t **events;       /* queued Event objects */
	int64_t last_event_ns; /* wall time of the last Event named */
	uint32_t n_events, cap_events;
	bool events_due; /* the queued Events go with the next commit, bindings or not */
	uint64_t events_dropped;

	/* scratch for cycles, reused */
	struct diagnosis diag;
	struct snode **feasible;
	uint32_t cap_feasible;
	int64_t *scores, *total;
	uint32_t cap_scores;

	struct scheduler_stats stats;
	int64_t *latencies; /* enqueue -> bind committed, ns */
	size_t n_latencies, cap_latencies;
};

/* ---- reasons every scheduler registers first, in this order (so their ids are fixed) ---- */

enum known_reason {
	R_NONE,
	R_UNSCHEDULABLE, /* NodeUnschedulable */
	R_NODE_NAME,     /* NodeName */
	R_NODE_AFFINITY, /* NodeAffinity */
	R_AFFINITY_CONFLICT,
	R_PORTS,         /* NodePorts */
	R_TOO_MANY_PODS, /* NodeResourcesFit */
	R_INSUFFICIENT_CPU,
	R_INSUFFICIENT_MEMORY,
	R_INSUFFICIENT_EPHEMERAL,
	R_DISK_CONFLICT, /* VolumeRestrictions */
	R_RWOP_CONFLICT,
	R_UNBOUND_IMMEDIATE, /* VolumeBinding */
	R_VOLUME_NODE_CONFLICT,
	R_VOLUME_BIND_CONFLICT,
	R_PV_NOT_EXIST,
	R_VOLUME_ZONE_CONFLICT, /* VolumeZone */
	R_SPREAD,               /* PodTopologySpread */
	R_SPREAD_LABEL,
	R_EXISTING_ANTI, /* InterPodAffinity */
	R_AFFINITY,
	R_ANTI_AFFINITY,
	R_PREEMPTION_NOT_HELPFUL, /* DefaultPreemption */
	R_NO_VICTIMS,
	R_KNOWN_COUNT,
};

extern const char *const known_reasons[R_KNOWN_COUNT];

/* ---- functions across files ----------------------------------------------------------- */

/* reasons */
uint16_t reason_id(struct scheduler *s, const char *text);
const char *reason_text(const struct scheduler *s, uint16_t id);
void reasons_free(struct reason_table *t);

/* types.c */
void labels_free(struct intern *t, struct labels *l);
void lsel_free(struct intern *t, struct lsel *s);
void nterm_free(struct intern *t, struct nterm *term);
bool nterm_match(const struct intern *t, const struct nterm *term, const struct snode *n);
bool reqaff_match(const struct intern *t, const struct reqaff *a, const struct snode *n);
bool aterm_match(const struct scheduler *s, const struct aterm *a, const struct spod *owner,
		 const struct spod *p);
bool tol_match(const struct toleration *tol, const struct taint *t);
bool tols_match(const struct toleration *tols, uint32_t n, const struct taint *t);
const struct taint *snode_untolerated_taint(const struct snode *n, const struct toleration *tols,
					    uint32_t n_tols);
int res_scalar_add(struct res *r, sid name, int64_t v);
int64_t res_scalar(const struct res *r, sid name);
bool is_scalar_resource(const char *name);

/* decode.c: JSON -> typed, once per change */
int decode_pod(struct scheduler *s, const json_t *obj, struct spod *p);
/*
 * Whether obj differs from old_obj only where a binding writes, told from shared pointers
 * (see decode.c); false whenever in doubt.
 */
bool pod_binding_only(const json_t *old_obj, const json_t *obj);
/* Brings p to obj after pod_binding_only(); 0 or -1 (out of memory, p unchanged). */
int decode_pod_binding(struct scheduler *s, const json_t *obj, struct spod *p);
void pod_clear(struct scheduler *s, struct spod *p);
int decode_node(struct scheduler *s, const json_t *obj, struct snode *n);
void node_clear(struct scheduler *s, struct snode *n);
int decode_lsel_json(struct scheduler *s, const json_t *sel, struct lsel *ret);
int decode_map_selector(struct scheduler *s, const json_t *map, struct lsel *ret);
int decode_nterms(struct scheduler *s, const json_t *terms, struct nterm **ret, uint32_t *ret_n);
int decode_labels(struct scheduler *s, const json_t *obj, struct labels *ret);
struct sclaim *decode_claim(struct scheduler *s, const json_t *obj);
void claim_free(struct scheduler *s, struct sclaim *c);
struct svolume *decode_volume(struct scheduler *s, const json_t *obj);
void volume_free(struct scheduler *s, struct svolume *v);

/* cache.c: the node snapshot */
struct snode *cache_node(struct scheduler *s, const char *name, bool create);
void cache_add_pod(struct scheduler *s, struct spod *p, struct snode *n);
void cache_remove_pod(struct scheduler *s, struct spod *p);
void cache_update_pod(struct scheduler *s, struct spod *p, struct spod *q);
int cache_node_update(struct scheduler *s, struct snode *n, const json_t *obj);
void cache_node_gone(struct scheduler *s, struct snode *n);
void cache_rebuild_list(struct scheduler *s);
void cache_nominate(struct scheduler *s, struct spod *p, struct snode *n);
struct spod *cache_pod(struct scheduler *s, const char *key);
void cache_free(struct scheduler *s);
size_t cache_bytes(const struct scheduler *s);
/* Adds or removes a pod's resources, ports and claims on a node (a dry run for preemption). */
void node_account(struct scheduler *s, struct snode *n, struct spod *p, int sign);

/* queue.c */
int queue_init(struct scheduler *s, korch_error **err);
void queue_add(struct scheduler *s, struct spod *p);
void queue_remove(struct scheduler *s, struct spod *p);
struct spod *queue_pop(struct scheduler *s);
void queue_unschedulable(struct scheduler *s, struct spod *p, bool error);
void queue_event(struct scheduler *s, uint32_t plugins);
void queue_pod_updated(struct scheduler *s, struct spod *p);
void queue_arm_timers(struct scheduler *s);
void queue_free(struct scheduler *s);
int64_t queue_backoff_ns(const struct scheduler *s, const struct spod *p);

/* framework.c: one cycle */
int cycle_prefilter(struct cycle *c, struct status *st);
int cycle_filter(struct cycle *c, struct snode *n, struct status *st);
int cycle_filter_nominated(struct cycle *c, struct snode *n, struct status *st);
void cycle_clear(struct cycle *c);
int cycle_clone(struct cycle *dst, const struct cycle *src);
int cycle_narrow(struct cycle *c, uint8_t plugin, const sid *names, uint32_t n);
void cycle_add_pod(struct cycle *c, struct spod *p, struct snode *n, int sign);
void schedule_one(struct scheduler *s, struct spod *p);
char *fit_error_message(struct scheduler *s, uint32_t n_nodes, const struct diagnosis *d);
void diagnosis_reset(struct scheduler *s, struct diagnosis *d, uint32_t n_nodes);
void diagnosis_set(struct diagnosis *d, uint32_t idx, const struct status *st);
int scheduler_test_scores(struct scheduler *s, const json_t *pod, char ***ret_nodes,
			  int64_t (**ret_scores)[PL_COUNT], uint32_t *ret_n);

/* filters.c */
void filter_node_unschedulable(struct cycle *c, struct snode *n, struct status *st);
void filter_node_name(struct cycle *c, struct snode *n, struct status *st);
void filter_taints(struct cycle *c, struct snode *n, struct status *st);
void filter_node_affinity(struct cycle *c, struct snode *n, struct status *st);
void filter_ports(struct cycle *c, struct snode *n, struct status *st);
void filter_fit(struct cycle *c, struct snode *n, struct status *st);
void prefilter_node_affinity(struct cycle *c, struct status *st);
void prefilter_ports(struct cycle *c, struct status *st);

/* volumes.c */
void prefilter_volume_restrictions(struct cycle *c, struct status *st);
void filter_volume_restrictions(struct cycle *c, struct snode *n, struct status *st);
void prefilter_volume_binding(struct cycle *c, struct status *st);
void filter_volume_binding(struct cycle *c, struct snode *n, struct status *st);
void prefilter_volume_zone(struct cycle *c, struct status *st);
void filter_volume_zone(struct cycle *c, struct snode *n, struct status *st);
void vol_state_clear(struct vol_state *v);
int vol_state_copy(struct vol_state *dst, const struct vol_state *src);
void vol_add_pod(struct cycle *c, struct spod *p, int sign);
/*
 * AssumePodVolumes for a pod placed on n: each unbound WaitForFirstConsumer claim gets an
 * available volume with n in its node affinity (reserved in the snapshot), or, with a
 * provisioner, the selected-node annotation. *ret_applies (NULL when none) receives the
 * objects to apply before the binding.
 */
int vol_assume(struct scheduler *s, struct spod *p, struct snode *n, json_t **ret_applies);
void vol_unassume(struct scheduler *s, const json_t *applies);

/* spread.c */
void prefilter_spread(struct cycle *c, struct status *st);
void filter_spread(struct cycle *c, struct snode *n, struct status *st);
void spread_add_pod(struct cycle *c, struct spod *p, struct snode *n, int sign);
void spread_state_clear(struct spread_state *sp);
int spread_state_copy(struct spread_state *dst, const struct spread_state *src);
int score_spread(struct cycle *c, struct snode **nodes, uint32_t n, int64_t *scores);

/* interpod.c */
void prefilter_ipa(struct cycle *c, struct status *st);
void filter_ipa(struct cycle *c, struct snode *n, struct status *st);
void ipa_add_pod(struct cycle *c, struct spod *p, struct snode *n, int sign);
void ipa_state_clear(struct ipa_state *st);
int ipa_state_copy(struct ipa_state *dst, const struct ipa_state *src);
int score_ipa(struct cycle *c, struct snode **nodes, uint32_t n, int64_t *scores);

/* score.c */
int score_nodes(struct cycle *c, struct snode **nodes, uint32_t n, int64_t *total, int64_t *scratch,
		int64_t per_plugin[][PL_COUNT]);
void default_normalize(int64_t *scores, uint32_t n, bool reverse);

/* preempt.c: DefaultPreemption's PostFilter */
int preempt(struct scheduler *s, struct cycle *c, struct diagnosis *d, sid *ret_nominee);

/* bind.c: writes */
void bind_queue(struct scheduler *s, struct spod *p, struct snode *n, json_t *applies);
void bind_flush(struct scheduler *s);
/* Whether the batch being filled is full while another is being committed. */
bool bind_batch_full(const struct scheduler *s);
int bind_init(struct scheduler *s, korch_error **err);
void bind_fini(struct scheduler *s);
void bind_forget_pod(struct scheduler *s, struct spod *p);
void write_unschedulable(struct scheduler *s, struct spod *p, const char *reason,
			 const char *message, sid nominee, bool set_nominee);
void record_event(struct scheduler *s, const json_t *regarding_pod_obj, const struct spod *p,
		  const char *type, const char *reason, const char *action, const char *message);
void events_flush(struct scheduler *s);
int delete_victim(struct scheduler *s, struct spod *victim, struct spod *preemptor,
		  const char *node);
int clear_nomination(struct scheduler *s, struct spod *p);

#endif
