/*
 * proto.h - Kubernetes' protobuf encoding of request bodies (Content-Type
 * application/vnd.kubernetes.protobuf, what kubectl's typed clients send for `create`),
 * decoded to the JSON objects the write path takes: the "k8s\0" envelope (runtime.Unknown with
 * its TypeMeta), then the object's message, read field by field with the field numbers of
 * proto-tables.c and the value types of the field schema.
 *
 * Zero values: Kubernetes' generated marshallers write non-pointer fields even when zero;
 * those Go's JSON would drop (omitempty and not a pointer: "", 0, false) are dropped here too,
 * and a zero Time is no time (null), as metav1.Time marshals it.
 */
#ifndef KORCH_API_PROTO_H
#define KORCH_API_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <korch/common.h>
#include "api/schema.h"

struct proto_field {
	uint16_t number;         /* the protobuf field number */
	const char *name;        /* the JSON field name (or, inline, the protobuf one) */
	const char *inline_type; /* an embedded struct whose fields are inlined in JSON: the
				    message type to read them with; NULL otherwise */
	bool omit_zero;          /* Go's JSON drops it when zero (omitempty, not a pointer) */
};

struct proto_message {
	const char *type_name;            /* the schema's name, "io.k8s.api.core.v1.Pod" */
	const struct proto_field *fields; /* sorted by number */
	uint16_t n_fields;                /* entries in fields */
};

/* The generated table (proto-tables.c), sorted by type_name. */
extern const struct proto_message proto_messages[];
extern const size_t proto_n_messages;

/*
 * Decodes an enveloped protobuf body. *ret_api_version and *ret_kind (owned strings) are the
 * envelope's TypeMeta; *ret_raw and *ret_raw_len point into data at the object's message.
 * KORCH_EINVALID for a body that is not such an envelope.
 */
int proto_unwrap(const uint8_t *data, size_t len, char **ret_api_version, char **ret_kind,
		 const uint8_t **ret_raw, size_t *ret_raw_len, korch_error **err);

/*
 * Decodes the message at data as an object of schema type root into a JSON object. Unknown
 * field numbers are skipped; a malformed message (bad varint, length past the end, wrong wire
 * type for the field's type, nesting past CODEC_MAX_DEPTH) is KORCH_EINVALID naming the field.
 */
int proto_decode(const uint8_t *data, size_t len, const struct schema_type *root, json_t **ret,
		 korch_error **err);

/*
 * The few messages outside the registry that clients send as protobuf: a TokenRequest
 * (authentication.k8s.io/v1) and an Eviction (policy/v1), as their JSON forms.
 */
int proto_decode_token_request(const uint8_t *data, size_t len, json_t **ret, korch_error **err);
int proto_decode_eviction(const uint8_t *data, size_t len, json_t **ret, korch_error **err);

#endif
