/*
 * Kubernetes protobuf bodies to JSON: messages built here byte by byte as Kubernetes' generated
 * marshallers write them (every non-pointer field, zero or not), decoded with the generated
 * field numbers and the schema's types; and every malformed form refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "api/kinds.h"
#include "api/proto.h"
#include "base/json.h"
#include "base/strbuf.h"

/* ---- a small encoder ---- */

static void
varint(struct strbuf *b, uint64_t v)
{
	do {
		uint8_t byte = v & 0x7f;
		v >>= 7;
		if (v)
			byte |= 0x80;
		strbuf_putc(b, (char)byte);
	} while (v);
}

static void
tag(struct strbuf *b, unsigned field, unsigned wire)
{
	varint(b, (uint64_t)field << 3 | wire);
}

static void
bytes(struct strbuf *b, unsigned field, const void *data, size_t len)
{
	tag(b, field, 2);
	varint(b, len);
	strbuf_append(b, data, len);
}

static void
str(struct strbuf *b, unsigned field, const char *s)
{
	bytes(b, field, s, strlen(s));
}

static void
msg(struct strbuf *b, unsigned field, struct strbuf *sub)
{
	bytes(b, field, sub->buf ? sub->buf : "", sub->len);
	strbuf_free(sub);
}

static void
num(struct strbuf *b, unsigned field, int64_t v)
{
	tag(b, field, 0);
	varint(b, (uint64_t)v);
}

static void
map_entry(struct strbuf *b, unsigned field, const char *k, const char *v)
{
	struct strbuf e = STRBUF_INIT;
	str(&e, 1, k);
	str(&e, 2, v);
	msg(b, field, &e);
}

static json_t *
decode(const struct kind_info *k, struct strbuf *b)
{
	json_t *out = NULL;
	korch_error *err = NULL;
	if (proto_decode((const uint8_t *)b->buf, b->len, k->schema, &out, &err) < 0)
		fail_msg("decode: %s", korch_error_message(err));
	strbuf_free(b);
	return out;
}

static void
assert_json(const json_t *v, const char *want)
{
	char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(text, want);
	free(text);
}

/* ObjectMeta as gogo writes it: every non-pointer field, empty ones included. */
static void
object_meta(struct strbuf *b, const char *name, const char *ns)
{
	struct strbuf m = STRBUF_INIT;
	str(&m, 1, name);
	str(&m, 2, "");
	str(&m, 3, ns);
	str(&m, 4, "");
	str(&m, 5, "");
	str(&m, 6, "");
	num(&m, 7, 0);
	struct strbuf t = STRBUF_INIT; /* creationTimestamp: the zero Time */
	num(&t, 1, 0);
	num(&t, 2, 0);
	msg(&m, 8, &t);
	map_entry(&m, 11, "app", "web");
	map_entry(&m, 11, "empty", "");
	msg(b, 1, &m);
}

static void
test_configmap(void **state)
{
	struct strbuf b = STRBUF_INIT;
	object_meta(&b, "cfg", "default");
	map_entry(&b, 2, "a", "1");
	map_entry(&b, 3, "bin", "\x01\x02");
	_cleanup_json_ json_t *cm = decode(kind_lookup("v1", "ConfigMap"), &b);
	/* Zeros Go's JSON drops are gone, map values keep their empty strings. */
	assert_json(cm, "{\"binaryData\":{\"bin\":\"AQI=\"},\"data\":{\"a\":\"1\"},\"metadata\":"
			"{\"labels\":{\"app\":\"web\",\"empty\":\"\"},\"name\":\"cfg\","
			"\"namespace\":\"default\"}}");
}

static void
test_deployment(void **state)
{
	struct strbuf b = STRBUF_INIT;
	object_meta(&b, "web", "default");
	/* spec: replicas = 0 (a pointer: kept), template with one container. */
	struct strbuf spec = STRBUF_INIT, tmpl = STRBUF_INIT, pod = STRBUF_INIT, ctr = STRBUF_INIT;
	num(&spec, 1, 0);
	str(&ctr, 1, "main");
	str(&ctr, 2, "busybox");
	str(&ctr, 3, "sleep");
	str(&ctr, 3, "100");
	struct strbuf port = STRBUF_INIT;
	str(&port, 1, "");
	num(&port, 2, 0);
	num(&port, 3, 8080);
	str(&port, 4, "TCP");
	msg(&ctr, 6, &port);
	struct strbuf res = STRBUF_INIT, q = STRBUF_INIT, entry = STRBUF_INIT;
	str(&q, 1, "100m");
	str(&entry, 1, "cpu");
	msg(&entry, 2, &q);
	msg(&res, 1, &entry); /* limits: {cpu: 100m} */
	msg(&ctr, 8, &res);
	tag(&ctr, 16, 0); /* stdin: false */
	varint(&ctr, 0);
	msg(&pod, 2, &ctr);
	num(&pod, 4, -1); /* terminationGracePeriodSeconds: a pointer, negative */
	struct strbuf pod_meta = STRBUF_INIT;
	map_entry(&pod_meta, 11, "app", "web");
	msg(&tmpl, 1, &pod_meta);
	msg(&tmpl, 2, &pod);
	msg(&spec, 3, &tmpl);
	struct strbuf strat = STRBUF_INIT, ru = STRBUF_INIT, surge = STRBUF_INIT;
	num(&surge, 1, 1); /* IntOrString: type string */
	num(&surge, 2, 0);
	str(&surge, 3, "25%");
	msg(&ru, 2, &surge);
	msg(&strat, 2, &ru);
	msg(&spec, 4, &strat);
	msg(&b, 2, &spec);
	_cleanup_json_ json_t *d = decode(kind_lookup("apps/v1", "Deployment"), &b);
	assert_json(json_object_get(d, "spec"),
		    "{\"replicas\":0,\"strategy\":{\"rollingUpdate\":{\"maxSurge\":\"25%\"}},"
		    "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{"
		    "\"containers\":[{\"command\":[\"sleep\",\"100\"],\"image\":\"busybox\","
		    "\"name\":\"main\",\"ports\":[{\"containerPort\":8080,\"protocol\":\"TCP\"}],"
		    "\"resources\":{\"limits\":{\"cpu\":\"100m\"}}}],"
		    "\"terminationGracePeriodSeconds\":-1}}}");
}

static void
test_inline_and_time(void **state)
{
	/* envFrom[].configMapRef embeds LocalObjectReference: its name is inlined in JSON. */
	struct strbuf b = STRBUF_INIT, spec = STRBUF_INIT, ctr = STRBUF_INIT, env = STRBUF_INIT,
		      ref = STRBUF_INIT, lor = STRBUF_INIT;
	str(&lor, 1, "settings");
	msg(&ref, 1, &lor);
	msg(&env, 2, &ref);
	str(&ctr, 1, "main");
	msg(&ctr, 19, &env);
	msg(&spec, 2, &ctr);
	msg(&b, 2, &spec);
	struct strbuf status = STRBUF_INIT, t = STRBUF_INIT;
	num(&t, 1, 1795707660);
	msg(&status, 7, &t); /* startTime */
	msg(&b, 3, &status);
	_cleanup_json_ json_t *pod = decode(kind_lookup("v1", "Pod"), &b);
	assert_json(pod, "{\"spec\":{\"containers\":[{\"envFrom\":[{\"configMapRef\":{\"name\":"
			 "\"settings\"}}],\"name\":\"main\"}]},\"status\":{\"startTime\":"
			 "\"2026-11-26T15:41:00Z\"}}");
}

static void
test_envelope(void **state)
{
	struct strbuf obj = STRBUF_INIT, unk = STRBUF_INIT, tm = STRBUF_INIT, b = STRBUF_INIT;
	object_meta(&obj, "ns1", "");
	str(&tm, 1, "v1");
	str(&tm, 2, "Namespace");
	msg(&unk, 1, &tm);
	bytes(&unk, 2, obj.buf, obj.len);
	strbuf_free(&obj);
	str(&unk, 3, "");
	str(&unk, 4, "");
	strbuf_append(&b, "k8s\0", 4);
	strbuf_append(&b, unk.buf, unk.len);
	strbuf_free(&unk);
	char *av = NULL, *kind = NULL;
	const uint8_t *raw;
	size_t raw_len;
	assert_int_equal(
		proto_unwrap((const uint8_t *)b.buf, b.len, &av, &kind, &raw, &raw_len, NULL), 0);
	assert_string_equal(av, "v1");
	assert_string_equal(kind, "Namespace");
	json_t *ns = NULL;
	assert_int_equal(
		proto_decode(raw, raw_len, kind_lookup("v1", "Namespace")->schema, &ns, NULL), 0);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(ns, "metadata"), "name")), "ns1");
	json_decref(ns);
	free(av);
	free(kind);
	/* Not an envelope. */
	korch_error *err = NULL;
	assert_int_equal(
		proto_unwrap((const uint8_t *)"{\"a\":1}", 7, &av, &kind, &raw, &raw_len, &err),
		KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "protobuf body: not a Kubernetes protobuf envelope");
	korch_error_free(err);
	strbuf_free(&b);
}

static void
test_malformed(void **state)
{
	const struct schema_type *cm = kind_lookup("v1", "ConfigMap")->schema;
	json_t *out = NULL;
	korch_error *err = NULL;
	/* A varint that never ends. */
	static const uint8_t endless[] = { 0x0a, 0xff, 0xff, 0xff };
	assert_int_equal(proto_decode(endless, sizeof(endless), cm, &out, &err), KORCH_EINVALID);
	korch_error_free(steal_pointer(&err));
	/* A length past the end. */
	static const uint8_t past[] = { 0x0a, 0x10, 'x' };
	assert_int_equal(proto_decode(past, sizeof(past), cm, &out, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "protobuf body: metadata: expected a message");
	korch_error_free(steal_pointer(&err));
	/* A varint where a string must be: metadata.name as wire type 0. */
	static const uint8_t wrong[] = { 0x0a, 0x02, 0x08, 0x01 };
	assert_int_equal(proto_decode(wrong, sizeof(wrong), cm, &out, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "protobuf body: metadata.name: expected a string");
	korch_error_free(steal_pointer(&err));
	/* Invalid UTF-8 in a string. */
	static const uint8_t utf8[] = { 0x0a, 0x03, 0x0a, 0x01, 0xff };
	assert_int_equal(proto_decode(utf8, sizeof(utf8), cm, &out, &err), KORCH_EINVALID);
	assert_string_equal(korch_error_message(err),
			    "protobuf body: metadata.name: a string is not valid UTF-8");
	korch_error_free(steal_pointer(&err));
	/* Field number 0. */
	static const uint8_t zero[] = { 0x02, 0x00 };
	assert_int_equal(proto_decode(zero, sizeof(zero), cm, &out, &err), KORCH_EINVALID);
	korch_error_free(steal_pointer(&err));
	/* Unknown fields are skipped. */
	static const uint8_t unknown[] = { 0xf8, 0x07, 0x05, 0x0a, 0x02, 0x0a, 0x00 };
	assert_int_equal(proto_decode(unknown, sizeof(unknown), cm, &out, NULL), 0);
	assert_json(out, "{\"metadata\":{}}");
	json_decref(out);
}

static void
test_token_request_and_eviction(void **state)
{
	struct strbuf b = STRBUF_INIT, spec = STRBUF_INIT, ref = STRBUF_INIT;
	str(&spec, 1, "api");
	str(&ref, 1, "Pod");
	str(&ref, 2, "v1");
	str(&ref, 3, "web");
	str(&ref, 4, "");
	msg(&spec, 3, &ref);
	num(&spec, 4, 600);
	msg(&b, 2, &spec);
	json_t *out = NULL;
	assert_int_equal(proto_decode_token_request((const uint8_t *)b.buf, b.len, &out, NULL), 0);
	assert_json(out, "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\","
			 "\"spec\":{\"audiences\":[\"api\"],\"boundObjectRef\":{\"apiVersion\":"
			 "\"v1\",\"kind\":\"Pod\",\"name\":\"web\"},\"expirationSeconds\":600}}");
	json_decref(out);
	strbuf_free(&b);
	struct strbuf opts = STRBUF_INIT;
	num(&opts, 1, 0);
	str(&opts, 4, "Foreground");
	msg(&b, 2, &opts);
	assert_int_equal(proto_decode_eviction((const uint8_t *)b.buf, b.len, &out, NULL), 0);
	assert_json(out, "{\"apiVersion\":\"policy/v1\",\"deleteOptions\":{\"gracePeriodSeconds\":"
			 "0,\"propagationPolicy\":\"Foreground\"},\"kind\":\"Eviction\"}");
	json_decref(out);
	strbuf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_configmap),
		cmocka_unit_test(test_deployment),
		cmocka_unit_test(test_inline_and_time),
		cmocka_unit_test(test_envelope),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_token_request_and_eviction),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
