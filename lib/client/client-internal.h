/*
 * client-internal.h - what the client's files share.
 */
#ifndef KORCH_CLIENT_INTERNAL_H
#define KORCH_CLIENT_INTERNAL_H

#include "api/selector.h"
#include "base/hashmap.h"
#include "base/rng.h"
#include "base/vec.h"
#include "client/client.h"

/* The ranges Service cluster IPs and node ports come from. */
struct client_service_ranges {
	uint32_t base; /* the service CIDR's network address, host order */
	int prefix;    /* its prefix length */
	int port_min;  /* node ports: first */
	int port_max;  /* and last */
};

struct client {
	struct store *store;                 /* borrowed */
	korch_clock *clock;                  /* stamps times; borrowed or own_clock */
	korch_clock *own_clock;              /* the real clock, when none was given */
	int64_t event_lease;                 /* the lease Events of event_lease_minute attach to */
	int64_t event_lease_minute;          /* wall minute that lease was granted for */
	struct client_service_ranges ranges; /* where Service IPs and node ports come from */
	struct token_signer *signer;         /* ServiceAccount tokens (borrowed), or NULL */
	struct rng rng;                      /* seeded randomness, when seeded */
	bool seeded;                         /* uids, names, allocations from rng */
};

/*
 * Random bytes for uids, generated names and allocations: from the seeded generator after
 * client_set_seed(), from the system otherwise.
 */
void client_random(struct client *c, void *buf, size_t len);

/* Label and field selectors, with the label equalities the store's index can answer. */
struct client_selectors {
	struct label_selector *labels; /* or NULL */
	struct field_selector *fields; /* or NULL */
	struct store_label *index;     /* equality requirements for the label index */
	size_t n_index;                /* entries in index */
	bool labels_indexed;           /* index answers every label requirement on its own */
};

int client_selectors_parse(const struct kind_info *k, const char *label_text,
			   const char *field_text, struct client_selectors *ret, korch_error **err);
bool client_selectors_match(const struct client_selectors *s, const json_t *obj);
void client_selectors_free(struct client_selectors *s);

/* The store key of an object (strings borrowed from the arguments). */
void client_key(const struct kind_info *k, const char *ns, const char *name, struct store_key *key);
void client_set_type(json_t *obj, const struct kind_info *k);

/* An allocation record written with the object that holds it (service-alloc.c). */
struct client_alloc_op {
	enum store_op_type op;     /* CREATE (taken) or DELETE (freed) */
	const char *resource;      /* under client_alloc_group; static */
	char *name;                /* the IP or port */
	json_t *obj;               /* CREATE: the record */
	int64_t expected_revision; /* DELETE: the record's revision */
};

/*
 * One write worked out against the current state, ready to go to the store: the result of
 * the write path for create, update, patch, apply and delete.
 */
struct client_plan {
	enum store_op_type op;        /* CREATE, UPDATE or DELETE; CHECK when nothing changes */
	const struct kind_info *kind; /* the object's kind */
	json_t *obj;               /* the object to store (or, for DELETE/CHECK, the current one) */
	char *ns, *name;           /* its key */
	int64_t expected_revision; /* the revision the plan was made against (0: a create) */
	int64_t lease;             /* Events: the lease to attach */
	struct client_alloc_op *allocs; /* records committed in the same transaction */
	size_t n_allocs, cap_allocs;    /* entries used and allocated */
};

/* The group of the internal allocation resources ("korch.io"). */
extern const char *const client_alloc_group;

void client_service_ranges_default(struct client_service_ranges *r);

/*
 * A Service's allocations for a create (old NULL) or an update: takes the cluster IP and node
 * ports svc needs and does not hold yet (filling them into svc), frees what old held and svc no
 * longer needs, as records added to p. KORCH_EINVALID as kube-apiserver words a taken, full or
 * out-of-range request.
 */
int client_service_allocate(struct client *c, json_t *svc, const json_t *old, struct client_plan *p,
			    korch_error **err);
/* Frees everything a Service being removed holds, as records added to p. */
int client_service_release(struct client *c, const json_t *svc, struct client_plan *p,
			   korch_error **err);
/* On update, before validation: what the client left out of allocated values (by port name),
 * and the values a type change no longer needs (patchAllocatedValues, dropTypeDependentFields). */
void client_service_patch_update(json_t *svc, const json_t *old);

/*
 * DefaultTolerationSeconds admission of a new pod (tolerations.c): tolerations for the
 * not-ready and unreachable NoExecute taints, 300 s each, unless the pod tolerates them already.
 */
void client_admit_default_tolerations(json_t *pod);

/*
 * DefaultStorageClass and StorageObjectInUseProtection admission of a new PersistentVolumeClaim
 * or PersistentVolume (storage-admission.c): the protection finalizer, and for a claim without
 * storageClassName the default class's name.
 */
int client_admit_storage(struct client *c, const struct kind_info *k, json_t *obj,
			 korch_error **err);
/* The name of the default StorageClass (*ret NULL when none); caller frees. */
int client_default_storage_class(struct client *c, char **ret, korch_error **err);

/* The store ops of a plan (the object's own, then its records); caller frees *ret. */
int client_plan_ops(const struct client_plan *p, struct store_op **ret, size_t *ret_n,
		    korch_error **err);

void client_plan_clear(struct client_plan *p);

/* Works out a create of obj (not changed), as client_create() writes it. */
int client_plan_create(struct client *c, const json_t *obj, const struct client_write_opts *o,
		       struct client_plan *ret, korch_error **err);
/* Works out an update of obj (not changed) against the current state, as client_update(). */
int client_plan_update(struct client *c, const json_t *obj, const char *subresource,
		       const struct client_write_opts *o, struct client_plan *ret,
		       korch_error **err);

/*
 * The Priority admission plugin (admission.c): on create, a pod's spec.priority and
 * preemptionPolicy come from its PriorityClass (or the globalDefault one); on update they are
 * kept; a second globalDefault PriorityClass is refused. Changes obj in place. KORCH_EFORBIDDEN
 * with Kubernetes' messages.
 */
int client_admit_priority(struct client *c, const struct kind_info *k, json_t *obj,
			  const json_t *old, const char *subresource, korch_error **err);

/* Works out a binding (bind-pod.c) against b->current or the stored pod. */
int client_plan_bind(struct client *c, const struct client_binding *b, struct client_plan *ret,
		     korch_error **err);

/* Works out an apply (create when missing) of obj against the current state. */
int client_plan_apply(struct client *c, const json_t *obj, const struct client_write_opts *o,
		      struct client_plan *ret, korch_error **err);
/* Works out a patch (not an apply) of the object's current state, or of its subresource. */
int client_plan_patch(struct client *c, const struct kind_info *k, const char *ns, const char *name,
		      enum client_patch_type type, const json_t *patch, const char *subresource,
		      const struct client_write_opts *o, struct client_plan *ret,
		      korch_error **err);
/* Works out a delete (immediate, or marking the object) against the current state. */
int client_plan_delete(struct client *c, const struct kind_info *k, const char *ns,
		       const char *name, const struct client_delete_opts *o,
		       struct client_plan *ret, korch_error **err);

#endif
