/*
 * proto.c - Kubernetes' protobuf request bodies to JSON: the wire format (varints, lengths,
 * fixed widths), the runtime.Unknown envelope, and objects read with proto-tables.c's field
 * numbers and the field schema's types.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nettle/base64.h>

#include "api/codec.h"
#include "api/proto.h"
#include "base/error.h"
#include "base/json.h"
#include "base/macro.h"
#include "base/util.h"

enum wire {
	WIRE_VARINT = 0,
	WIRE_FIXED64 = 1,
	WIRE_BYTES = 2,
	WIRE_FIXED32 = 5,
};

static const uint8_t envelope_magic[4] = { 'k', '8', 's', 0 };

struct reader {
	const uint8_t *p;   /* next byte */
	const uint8_t *end; /* past the last */
};

static int
read_varint(struct reader *r, uint64_t *ret)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (r->p == r->end)
			return KORCH_EINVALID;
		uint8_t b = *r->p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*ret = v;
			return 0;
		}
	}
	return KORCH_EINVALID;
}

static int
read_bytes(struct reader *r, struct reader *ret)
{
	uint64_t n;
	if (read_varint(r, &n) < 0 || n > (uint64_t)(r->end - r->p))
		return KORCH_EINVALID;
	ret->p = r->p;
	ret->end = r->p + n;
	r->p += n;
	return 0;
}

static int
read_tag(struct reader *r, uint32_t *ret_field, int *ret_wire)
{
	uint64_t tag;
	if (read_varint(r, &tag) < 0 || tag >> 3 == 0 || tag >> 3 > UINT32_MAX)
		return KORCH_EINVALID;
	*ret_field = (uint32_t)(tag >> 3);
	*ret_wire = (int)(tag & 7);
	return 0;
}

static int
skip(struct reader *r, int wire)
{
	uint64_t v;
	struct reader sub;
	switch (wire) {
	case WIRE_VARINT: return read_varint(r, &v);
	case WIRE_BYTES: return read_bytes(r, &sub);
	case WIRE_FIXED64:
		if (r->end - r->p < 8)
			return KORCH_EINVALID;
		r->p += 8;
		return 0;
	case WIRE_FIXED32:
		if (r->end - r->p < 4)
			return KORCH_EINVALID;
		r->p += 4;
		return 0;
	default: return KORCH_EINVALID;
	}
}

static int
compare_message(const void *key, const void *elem)
{
	return strcmp(key, ((const struct proto_message *)elem)->type_name);
}

static const struct proto_message *
find_message(const char *name)
{
	if (!name)
		return NULL;
	return bsearch(name, proto_messages, proto_n_messages, sizeof(proto_messages[0]),
		       compare_message);
}

static const struct proto_field *
find_field(const struct proto_message *m, uint32_t number)
{
	size_t lo = 0, hi = m->n_fields;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (m->fields[mid].number == number)
			return &m->fields[mid];
		if (m->fields[mid].number < number)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

struct ctx {
	korch_error **err; /* where the first problem goes */
	char path[512];    /* the JSON path being read, for messages */
};

static int
bad(struct ctx *c, const char *what)
{
	return error_set(c->err, KORCH_EINVALID, "protobuf body: %s%s%s", c->path[0] ? c->path : "",
			 c->path[0] ? ": " : "", what);
}

static int decode_into(struct ctx *c, struct reader *r, const struct proto_message *m,
		       const struct schema_type *type, json_t *obj, int depth);

/* Strings are UTF-8; jansson refuses anything else. */
static json_t *
string_of(struct reader *r)
{
	return json_stringn((const char *)r->p, (size_t)(r->end - r->p));
}

static json_t *
bytes_of(struct reader *r)
{
	size_t n = (size_t)(r->end - r->p);
	char *buf = malloc(BASE64_ENCODE_RAW_LENGTH(n) + 1);
	if (!buf)
		return NULL;
	base64_encode_raw(buf, n, r->p);
	buf[BASE64_ENCODE_RAW_LENGTH(n)] = '\0';
	json_t *s = json_string(buf);
	free(buf);
	return s;
}

/* A small message of scalars: the varint or bytes of each field number below 8. */
struct small {
	uint64_t v[8];      /* varints */
	struct reader b[8]; /* length-delimited */
	bool has[8];        /* which fields were present */
};

static int
read_small(struct reader *r, struct small *ret)
{
	*ret = (struct small){ 0 };
	while (r->p < r->end) {
		uint32_t f;
		int wire;
		if (read_tag(r, &f, &wire) < 0)
			return KORCH_EINVALID;
		if (f >= 8) {
			if (skip(r, wire) < 0)
				return KORCH_EINVALID;
			continue;
		}
		ret->has[f] = true;
		if (wire == WIRE_VARINT) {
			if (read_varint(r, &ret->v[f]) < 0)
				return KORCH_EINVALID;
		} else if (wire == WIRE_BYTES) {
			if (read_bytes(r, &ret->b[f]) < 0)
				return KORCH_EINVALID;
		} else if (skip(r, wire) < 0) {
			return KORCH_EINVALID;
		}
	}
	return 0;
}

/* One value of a type that is not a list or a map. */
static int
decode_single(struct ctx *c, struct reader *r, int wire, const struct schema_type *t, int depth,
	      json_t **ret)
{
	uint64_t v;
	struct reader sub;
	struct small s;
	switch (t->kind) {
	case SCHEMA_STRING:
		if (wire != WIRE_BYTES || read_bytes(r, &sub) < 0)
			return bad(c, "expected a string");
		if (!(*ret = string_of(&sub)))
			return bad(c, "a string is not valid UTF-8");
		return 0;
	case SCHEMA_BYTES:
		if (wire != WIRE_BYTES || read_bytes(r, &sub) < 0)
			return bad(c, "expected bytes");
		return (*ret = bytes_of(&sub)) ? 0 : error_oom(c->err);
	case SCHEMA_INTEGER:
		if (wire != WIRE_VARINT || read_varint(r, &v) < 0)
			return bad(c, "expected an integer");
		/* int32 negatives travel as 64-bit two's complement, like int64 ones. */
		*ret = json_integer((json_int_t)(int64_t)v);
		return 0;
	case SCHEMA_BOOLEAN:
		if (wire != WIRE_VARINT || read_varint(r, &v) < 0)
			return bad(c, "expected a boolean");
		*ret = json_boolean(v != 0);
		return 0;
	case SCHEMA_NUMBER:
		if (wire == WIRE_FIXED64 && r->end - r->p >= 8) {
			double d;
			memcpy(&d, r->p, 8);
			r->p += 8;
			*ret = json_real(d);
			return 0;
		}
		if (wire == WIRE_FIXED32 && r->end - r->p >= 4) {
			float f;
			memcpy(&f, r->p, 4);
			r->p += 4;
			*ret = json_real(f);
			return 0;
		}
		return bad(c, "expected a number");
	case SCHEMA_QUANTITY:
		/* resource.Quantity { string string = 1; } */
		if (wire != WIRE_BYTES || read_bytes(r, &sub) < 0 || read_small(&sub, &s) < 0)
			return bad(c, "expected a quantity");
		*ret = s.has[1] ? string_of(&s.b[1]) : json_string("0");
		return *ret ? 0 : bad(c, "a quantity is not valid UTF-8");
	case SCHEMA_INT_OR_STRING:
		/* intstr.IntOrString { int64 type = 1; int32 intVal = 2; string strVal = 3; } */
		if (wire != WIRE_BYTES || read_bytes(r, &sub) < 0 || read_small(&sub, &s) < 0)
			return bad(c, "expected an int-or-string");
		if (s.v[1] == 1)
			*ret = s.has[3] ? string_of(&s.b[3]) : json_string("");
		else
			*ret = json_integer((json_int_t)(int32_t)s.v[2]);
		return *ret ? 0 : bad(c, "a string is not valid UTF-8");
	case SCHEMA_TIME: {
		/* meta/v1 Time and MicroTime { int64 seconds = 1; int32 nanos = 2; } */
		if (wire != WIRE_BYTES || read_bytes(r, &sub) < 0 || read_small(&sub, &s) < 0)
			return bad(c, "expected a time");
		char buf[32];
		bool micro = t->name && strstr(t->name, "MicroTime");
		int64_t ns = (int64_t)s.v[1] * NSEC_PER_SEC + (int64_t)(int32_t)s.v[2];
		/* The zero time is no time: metav1.Time marshals it as null. */
		*ret = ns ? json_string(format_rfc3339(ns, micro, buf)) : NULL;
		return 0;
	}
	case SCHEMA_ANY: {
		/* runtime.RawExtension and FieldsV1 { bytes raw = 1; }: JSON inside. */
		if (wire != WIRE_BYTES || read_bytes(r, &sub) < 0 || read_small(&sub, &s) < 0)
			return bad(c, "expected embedded JSON");
		if (!s.has[1] || s.b[1].p == s.b[1].end) {
			*ret = json_object();
			return 0;
		}
		korch_error *e = NULL;
		int rc = codec_json_decode((const char *)s.b[1].p, (size_t)(s.b[1].end - s.b[1].p),
					   ret, &e);
		korch_error_free(e);
		return rc < 0 ? bad(c, "embedded JSON does not parse") : 0;
	}
	case SCHEMA_OBJECT: {
		if (wire != WIRE_BYTES || read_bytes(r, &sub) < 0)
			return bad(c, "expected a message");
		const struct schema_type *named = t->name ? schema_type_by_name(t->name) : NULL;
		const struct proto_message *m = find_message(t->name);
		if (!m)
			return bad(c, "no protobuf message for this type");
		json_t *obj = json_object();
		int rc = decode_into(c, &sub, m, named ? named : t, obj, depth + 1);
		if (rc < 0) {
			json_decref(obj);
			return rc;
		}
		*ret = obj;
		return 0;
	}
	case SCHEMA_ARRAY:
	case SCHEMA_MAP: break;
	}
	return bad(c, "a list or map inside a list is not supported");
}

static bool
is_packable(const struct schema_type *t)
{
	return t->kind == SCHEMA_INTEGER || t->kind == SCHEMA_BOOLEAN || t->kind == SCHEMA_NUMBER;
}

/* One occurrence of field `name` of type t: sets, appends to a list, or adds a map entry. */
/* Whether v is what Go's JSON omits for an omitempty non-pointer field. */
static bool
is_zero(const json_t *v)
{
	return (json_is_string(v) && json_string_length(v) == 0) ||
	       (json_is_integer(v) && json_integer_value(v) == 0) || json_is_false(v);
}

static int
decode_field(struct ctx *c, struct reader *r, int wire, const char *name, bool omit_zero,
	     const struct schema_type *t, json_t *obj, int depth)
{
	if (t->kind == SCHEMA_ARRAY) {
		json_t *list = json_object_get(obj, name);
		if (!json_is_array(list)) {
			list = json_array();
			json_object_set_new(obj, name, list);
		}
		if (wire == WIRE_BYTES && is_packable(t->elem)) {
			struct reader sub;
			if (read_bytes(r, &sub) < 0)
				return bad(c, "bad packed list");
			int w = t->elem->kind == SCHEMA_NUMBER ? WIRE_FIXED64 : WIRE_VARINT;
			while (sub.p < sub.end) {
				json_t *v = NULL;
				int rc = decode_single(c, &sub, w, t->elem, depth, &v);
				if (rc < 0)
					return rc;
				json_array_append_new(list, v);
			}
			return 0;
		}
		json_t *v = NULL;
		int rc = decode_single(c, r, wire, t->elem, depth, &v);
		if (rc == 0)
			json_array_append_new(list, v);
		return rc;
	}
	if (t->kind == SCHEMA_MAP) {
		/* A map entry: { key = 1; value = 2; } */
		struct reader entry;
		if (wire != WIRE_BYTES || read_bytes(r, &entry) < 0)
			return bad(c, "expected a map entry");
		json_t *key = NULL, *value = NULL;
		int rc = 0;
		while (rc == 0 && entry.p < entry.end) {
			uint32_t f;
			int w;
			if (read_tag(&entry, &f, &w) < 0) {
				rc = bad(c, "bad map entry");
			} else if (f == 1) {
				json_decref(key);
				key = NULL;
				rc = decode_single(c, &entry, w,
						   &(struct schema_type){ .kind = SCHEMA_STRING },
						   depth, &key);
			} else if (f == 2) {
				json_decref(value);
				value = NULL;
				rc = decode_single(c, &entry, w, t->elem, depth, &value);
			} else if (skip(&entry, w) < 0) {
				rc = bad(c, "bad map entry");
			}
		}
		json_t *map = json_object_get(obj, name);
		if (rc == 0 && !json_is_object(map)) {
			map = json_object();
			json_object_set_new(obj, name, map);
		}
		if (rc == 0) {
			/* A missing value is its type's zero value. */
			if (!value)
				value = t->elem->kind == SCHEMA_STRING ||
							t->elem->kind == SCHEMA_BYTES
						? json_string("")
					: t->elem->kind == SCHEMA_QUANTITY ? json_string("0")
									   : json_object();
			json_object_set_new(map, key ? json_string_value(key) : "", value);
			value = NULL;
		}
		json_decref(key);
		json_decref(value);
		return rc;
	}
	json_t *v = NULL;
	int rc = decode_single(c, r, wire, t, depth, &v);
	if (rc < 0)
		return rc;
	if (!v || (omit_zero && is_zero(v) && t->kind != SCHEMA_INT_OR_STRING &&
		   t->kind != SCHEMA_QUANTITY)) {
		json_decref(v);
		return 0;
	}
	json_object_set_new(obj, name, v);
	return 0;
}

static int
decode_into(struct ctx *c, struct reader *r, const struct proto_message *m,
	    const struct schema_type *type, json_t *obj, int depth)
{
	if (depth > CODEC_MAX_DEPTH)
		return bad(c, "nested too deep");
	size_t path_len = strlen(c->path);
	while (r->p < r->end) {
		uint32_t number;
		int wire;
		if (read_tag(r, &number, &wire) < 0)
			return bad(c, "bad field tag");
		const struct proto_field *pf = find_field(m, number);
		if (!pf) {
			if (skip(r, wire) < 0)
				return bad(c, "bad field");
			continue;
		}
		if (pf->inline_type) {
			struct reader sub;
			const struct proto_message *inner = find_message(pf->inline_type);
			if (wire != WIRE_BYTES || read_bytes(r, &sub) < 0 || !inner)
				return bad(c, "bad embedded message");
			int rc = decode_into(c, &sub, inner, type, obj, depth + 1);
			if (rc < 0)
				return rc;
			continue;
		}
		const struct schema_field *sf = schema_field(type, pf->name);
		if (!sf) {
			if (skip(r, wire) < 0)
				return bad(c, "bad field");
			continue;
		}
		snprintf(c->path + path_len, sizeof(c->path) - path_len, "%s%s",
			 path_len ? "." : "", pf->name);
		int rc = decode_field(c, r, wire, pf->name, pf->omit_zero, sf->type, obj, depth);
		if (rc < 0)
			return rc;
		c->path[path_len] = '\0';
	}
	return 0;
}

int
proto_unwrap(const uint8_t *data, size_t len, char **ret_api_version, char **ret_kind,
	     const uint8_t **ret_raw, size_t *ret_raw_len, korch_error **err)
{
	if (len < sizeof(envelope_magic) || memcmp(data, envelope_magic, sizeof(envelope_magic)))
		return error_set(err, KORCH_EINVALID,
				 "protobuf body: not a Kubernetes protobuf envelope");
	struct reader r = { data + 4, data + len };
	struct small u;
	struct small tm = { 0 };
	if (read_small(&r, &u) < 0 || (u.has[1] && read_small(&u.b[1], &tm) < 0))
		return error_set(err, KORCH_EINVALID, "protobuf body: malformed envelope");
	if (u.has[3] && u.b[3].p != u.b[3].end)
		return error_set(err, KORCH_EINVALID,
				 "protobuf body: content encoding is not supported");
	char *av = tm.has[1] ? strndup((const char *)tm.b[1].p, (size_t)(tm.b[1].end - tm.b[1].p))
			     : strdup("");
	char *kind = tm.has[2] ? strndup((const char *)tm.b[2].p, (size_t)(tm.b[2].end - tm.b[2].p))
			       : strdup("");
	if (!av || !kind) {
		free(av);
		free(kind);
		return error_oom(err);
	}
	*ret_api_version = av;
	*ret_kind = kind;
	*ret_raw = u.has[2] ? u.b[2].p : data + len;
	*ret_raw_len = u.has[2] ? (size_t)(u.b[2].end - u.b[2].p) : 0;
	return 0;
}

int
proto_decode(const uint8_t *data, size_t len, const struct schema_type *root, json_t **ret,
	     korch_error **err)
{
	struct ctx c = { .err = err };
	const struct proto_message *m = find_message(root->name);
	if (!m)
		return error_set(err, KORCH_EINVALID, "protobuf body: %s has no protobuf message",
				 root->name ? root->name : "this type");
	struct reader r = { data, data + len };
	json_t *obj = json_object();
	if (!obj)
		return error_oom(err);
	int rc = decode_into(&c, &r, m, root, obj, 0);
	if (rc < 0) {
		json_decref(obj);
		return rc;
	}
	*ret = obj;
	return 0;
}

/* ---- messages outside the schema ---- */

static json_t *
small_string(const struct small *s, int f)
{
	return s->has[f] ? json_stringn((const char *)s->b[f].p, (size_t)(s->b[f].end - s->b[f].p))
			 : NULL;
}

int
proto_decode_token_request(const uint8_t *data, size_t len, json_t **ret, korch_error **err)
{
	/* TokenRequest { metadata = 1; TokenRequestSpec spec = 2; } TokenRequestSpec {
	 * repeated string audiences = 1; BoundObjectReference boundObjectRef = 3;
	 * int64 expirationSeconds = 4; } BoundObjectReference { kind = 1; apiVersion = 2;
	 * name = 3; uid = 4; } */
	struct reader r = { data, data + len };
	json_t *spec = json_object();
	json_t *audiences = json_array();
	int rc = 0;
	while (rc == 0 && r.p < r.end) {
		uint32_t f;
		int wire;
		struct reader sub;
		if (read_tag(&r, &f, &wire) < 0) {
			rc = KORCH_EINVALID;
		} else if (f == 2 && wire == WIRE_BYTES && read_bytes(&r, &sub) == 0) {
			while (rc == 0 && sub.p < sub.end) {
				uint32_t g;
				int w;
				struct reader b;
				uint64_t v;
				if (read_tag(&sub, &g, &w) < 0) {
					rc = KORCH_EINVALID;
				} else if (g == 1 && w == WIRE_BYTES && read_bytes(&sub, &b) == 0) {
					json_array_append_new(audiences, string_of(&b));
				} else if (g == 4 && w == WIRE_VARINT &&
					   read_varint(&sub, &v) == 0) {
					json_object_set_new(spec, "expirationSeconds",
							    json_integer((json_int_t)v));
				} else if (g == 3 && w == WIRE_BYTES && read_bytes(&sub, &b) == 0) {
					struct small s;
					if (read_small(&b, &s) < 0) {
						rc = KORCH_EINVALID;
						break;
					}
					json_t *ref = json_object();
					const char *names[] = { NULL, "kind", "apiVersion", "name",
								"uid" };
					for (int i = 1; i <= 4; i++) {
						json_t *v2 = small_string(&s, i);
						if (v2 && json_string_length(v2))
							json_object_set_new(ref, names[i], v2);
						else
							json_decref(v2);
					}
					json_object_set_new(spec, "boundObjectRef", ref);
				} else if (skip(&sub, w) < 0) {
					rc = KORCH_EINVALID;
				}
			}
		} else if (skip(&r, wire) < 0) {
			rc = KORCH_EINVALID;
		}
	}
	if (rc < 0) {
		json_decref(spec);
		json_decref(audiences);
		return error_set(err, KORCH_EINVALID, "protobuf body: malformed TokenRequest");
	}
	if (json_array_size(audiences))
		json_object_set_new(spec, "audiences", audiences);
	else
		json_decref(audiences);
	*ret = json_pack("{s:s, s:s, s:o}", "apiVersion", "authentication.k8s.io/v1", "kind",
			 "TokenRequest", "spec", spec);
	return *ret ? 0 : error_oom(err);
}

int
proto_decode_eviction(const uint8_t *data, size_t len, json_t **ret, korch_error **err)
{
	/* Eviction { metadata = 1; DeleteOptions deleteOptions = 2; } DeleteOptions {
	 * int64 gracePeriodSeconds = 1; Preconditions preconditions = 2; bool orphanDependents = 3;
	 * string propagationPolicy = 4; repeated string dryRun = 5; } */
	struct reader r = { data, data + len };
	json_t *opts = json_object();
	int rc = 0;
	while (rc == 0 && r.p < r.end) {
		uint32_t f;
		int wire;
		struct reader sub;
		struct small s;
		if (read_tag(&r, &f, &wire) < 0) {
			rc = KORCH_EINVALID;
		} else if (f == 2 && wire == WIRE_BYTES && read_bytes(&r, &sub) == 0 &&
			   read_small(&sub, &s) == 0) {
			if (s.has[1])
				json_object_set_new(opts, "gracePeriodSeconds",
						    json_integer((json_int_t)s.v[1]));
			json_t *prop = small_string(&s, 4);
			if (prop && json_string_length(prop))
				json_object_set_new(opts, "propagationPolicy", prop);
			else
				json_decref(prop);
		} else if (f == 2) {
			rc = KORCH_EINVALID;
		} else if (skip(&r, wire) < 0) {
			rc = KORCH_EINVALID;
		}
	}
	if (rc < 0) {
		json_decref(opts);
		return error_set(err, KORCH_EINVALID, "protobuf body: malformed Eviction");
	}
	*ret = json_pack("{s:s, s:s, s:o}", "apiVersion", "policy/v1", "kind", "Eviction",
			 "deleteOptions", opts);
	return *ret ? 0 : error_oom(err);
}
