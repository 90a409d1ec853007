/*
 * client-internal.h - what the client's files share.
 */
#ifndef KORCH_CLIENT_INTERNAL_H
#define KORCH_CLIENT_INTERNAL_H

#include "api/selector.h"
#include "client/client.h"

struct client {
	struct store *store;         /* borrowed */
	korch_clock *clock;          /* stamps times; borrowed or own_clock */
	korch_clock *own_clock;      /* the real clock, when none was given */
	int64_t event_lease;         /* the lease Events of event_lease_minute attach to */
	int64_t event_lease_minute;  /* wall minute that lease was granted for */
	struct token_signer *signer; /* ServiceAccount tokens (borrowed), or NULL */
};

/* Label and field selectors, with the label equalities the store's index can answer. */
struct client_selectors {
	struct label_selector *labels; /* or NULL */
	struct field_selector *fields; /* or NULL */
	struct store_label *index;     /* equality requirements for the label index */
	size_t n_index;                /* entries in index */
};

int client_selectors_parse(const struct kind_info *k, const char *label_text,
			   const char *field_text, struct client_selectors *ret, korch_error **err);
bool client_selectors_match(const struct client_selectors *s, const json_t *obj);
void client_selectors_free(struct client_selectors *s);

/* The store key of an object (strings borrowed from the arguments). */
void client_key(const struct kind_info *k, const char *ns, const char *name, struct store_key *key);
void client_set_type(json_t *obj, const struct kind_info *k);

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
};

void client_plan_clear(struct client_plan *p);

/* Works out an apply (create when missing) of obj against the current state. */
int client_plan_apply(struct client *c, const json_t *obj, const struct client_write_opts *o,
		      struct client_plan *ret, korch_error **err);
/* Works out a delete (immediate, or marking the object) against the current state. */
int client_plan_delete(struct client *c, const struct kind_info *k, const char *ns,
		       const char *name, const struct client_delete_opts *o,
		       struct client_plan *ret, korch_error **err);

#endif
