/*
 * PersistentVolume binding: the smallest fitting volume of the claim's class and access modes,
 * pre-bound volumes and claims naming their volume, phases through release and reclaim, the
 * protection finalizers, and the built-in local-path provisioner (default class, retroactive
 * default, WaitForFirstConsumer, a directory per claim, deleted with its claim); with the
 * scheduler, ReadWriteOncePod and a local volume's node affinity.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/util.h"
#include "controller/manager.h"
#include "harness.h"

/* kube-scheduler's message for a pod whose ReadWriteOncePod claim another pod of equal priority
 * uses: VolumeRestrictions rejects every node, and preemption finds nobody to evict. */
#define RWOP_MESSAGE                                                                              \
	"0/3 nodes are available: 3 node has pod using PersistentVolumeClaim with the same name " \
	"and ReadWriteOncePod access mode. preemption: 0/3 nodes are available: 3 No "            \
	"preemption victims found for incoming pod."

static void
pv(struct cluster *c, const char *name, const char *size, const char *modes, const char *extra)
{
	char text[1024];
	snprintf(text, sizeof(text),
		 "apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: %s}\n"
		 "spec:\n  capacity: {storage: %s}\n  accessModes: %s\n"
		 "  hostPath: {path: /tmp/%s}\n%s",
		 name, size, modes, name, extra);
	create_yaml(c, text, NULL);
}

static void
pvc(struct cluster *c, const char *name, const char *size, const char *modes, const char *extra)
{
	char text[1024];
	snprintf(text, sizeof(text),
		 "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: %s, namespace: "
		 "default}\nspec:\n  resources: {requests: {storage: %s}}\n  accessModes: %s\n%s",
		 name, size, modes, extra);
	create_yaml(c, text, NULL);
}

static const char *
annotation(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(jp_get(obj, "metadata.annotations"), key));
}

static json_t *
claim(struct cluster *c, const char *name)
{
	return get_obj(c, "v1", "PersistentVolumeClaim", "default", name);
}

static json_t *
volume(struct cluster *c, const char *name)
{
	return get_obj(c, "v1", "PersistentVolume", NULL, name);
}

/* The volume a claim is bound to ("" when Pending), checking both sides agree. */
static const char *
bound(struct cluster *c, const char *name)
{
	static char buf[128];
	_cleanup_json_ json_t *cl = claim(c, name);
	assert_non_null(cl);
	if (!streq(jp_str(cl, "status.phase"), "Bound")) {
		assert_string_equal(jp_str(cl, "status.phase"), "Pending");
		return "";
	}
	snprintf(buf, sizeof(buf), "%s", jp_str0(cl, "spec.volumeName"));
	_cleanup_json_ json_t *v = volume(c, buf);
	assert_string_equal(jp_str(v, "status.phase"), "Bound");
	assert_string_equal(jp_str(v, "spec.claimRef.uid"), jp_str(cl, "metadata.uid"));
	assert_string_equal(annotation(cl, "pv.kubernetes.io/bind-completed"), "yes");
	assert_true(json_equal(jp_get(cl, "status.capacity"), jp_get(v, "spec.capacity")));
	assert_true(json_equal(jp_get(cl, "status.accessModes"), jp_get(v, "spec.accessModes")));
	return buf;
}

static const char *
phase(struct cluster *c, const char *pv_name)
{
	static char buf[32];
	_cleanup_json_ json_t *v = volume(c, pv_name);
	snprintf(buf, sizeof(buf), "%s", v ? jp_str0(v, "status.phase") : "(gone)");
	return buf;
}

static void
start(struct cluster *c, const char *volume_dir)
{
	struct controller_manager_options o = { .no_leader_election = true,
						.volume_dir = volume_dir };
	cluster_init(c, &o, false);
}

static void
test_smallest_fit(void **state)
{
	struct cluster c;
	start(&c, NULL);
	cluster_start(&c);
	pv(&c, "pv-1g", "1Gi", "[ReadWriteOnce]", "");
	pv(&c, "pv-5g", "5Gi", "[ReadWriteOnce]", "");
	pv(&c, "pv-3g-rwx", "3Gi", "[ReadWriteOnce, ReadWriteMany]", "");
	pv(&c, "pv-10g-rwx", "10Gi", "[ReadWriteOnce, ReadWriteMany]", "");
	pv(&c, "pv-2g-fast", "2Gi", "[ReadWriteOnce]", "  storageClassName: fast\n");
	pv(&c, "pv-4g-block", "4Gi", "[ReadWriteOnce]", "  volumeMode: Block\n");
	settle(&c);
	assert_string_equal(phase(&c, "pv-5g"), "Available");
	/* 2Gi RWO: pv-5g, the smallest RWO-only fit (fewer modes first, then size). */
	pvc(&c, "a", "2Gi", "[ReadWriteOnce]", "");
	/* 1Gi RWX: the smallest of the RWX ones. */
	pvc(&c, "b", "1Gi", "[ReadWriteMany]", "");
	/* 1500Mi of class fast. */
	pvc(&c, "f", "1500Mi", "[ReadWriteOnce]", "  storageClassName: fast\n");
	/* Nothing fits 20Gi. */
	pvc(&c, "big", "20Gi", "[ReadWriteOnce]", "");
	settle(&c);
	assert_string_equal(bound(&c, "a"), "pv-5g");
	assert_string_equal(bound(&c, "b"), "pv-3g-rwx");
	assert_string_equal(bound(&c, "f"), "pv-2g-fast");
	assert_string_equal(bound(&c, "big"), "");
	char *msg = event_message(&c, "default", "big", "FailedBinding");
	assert_string_equal(msg,
			    "no persistent volumes available for this claim and no storage class "
			    "is set");
	free(msg);
	_cleanup_json_ json_t *v = volume(&c, "pv-5g");
	assert_string_equal(annotation(v, "pv.kubernetes.io/bound-by-controller"), "yes");
	assert_string_equal(phase(&c, "pv-1g"), "Available");
	/* A volume that fits arrives: the claim binds to it. */
	pv(&c, "pv-50g", "50Gi", "[ReadWriteOnce]", "");
	settle(&c);
	assert_string_equal(bound(&c, "big"), "pv-50g");
	/* Another 2Gi claim: pv-5g is taken, pv-3g-rwx is taken; pv-10g-rwx is next. */
	pvc(&c, "a2", "2Gi", "[ReadWriteOnce]", "");
	settle(&c);
	assert_string_equal(bound(&c, "a2"), "pv-10g-rwx");
	assert_string_equal(phase(&c, "pv-4g-block"), "Available");
	cluster_free(&c);
}

static void
test_prebound(void **state)
{
	struct cluster c;
	start(&c, NULL);
	cluster_start(&c);
	pv(&c, "small", "1Gi", "[ReadWriteOnce]", "");
	/* A claim naming a volume that does not exist yet waits for it. */
	pvc(&c, "named", "1Gi", "[ReadWriteOnce]", "  volumeName: later\n");
	/* A claim naming a volume too small for it. */
	pvc(&c, "toobig", "5Gi", "[ReadWriteOnce]", "  volumeName: small\n");
	settle(&c);
	assert_string_equal(bound(&c, "named"), "");
	assert_string_equal(bound(&c, "toobig"), "");
	char *msg = event_message(&c, "default", "toobig", "VolumeMismatch");
	assert_string_equal(msg, "Cannot bind to requested volume \"small\": requested PV is too "
				 "small");
	free(msg);
	pv(&c, "later", "2Gi", "[ReadWriteOnce]", "");
	/* A volume pre-bound to claim "mine" wins over a smaller one. */
	pv(&c, "reserved", "8Gi", "[ReadWriteOnce]",
	   "  claimRef: {namespace: default, name: mine}\n");
	settle(&c);
	assert_string_equal(bound(&c, "named"), "later");
	assert_string_equal(phase(&c, "reserved"), "Available");
	pvc(&c, "other", "1Gi", "[ReadWriteOnce]", "");
	settle(&c);
	assert_string_equal(bound(&c, "other"), "small"); /* not the reserved one */
	pvc(&c, "mine", "1Gi", "[ReadWriteOnce]", "");
	settle(&c);
	assert_string_equal(bound(&c, "mine"), "reserved");
	_cleanup_json_ json_t *v = volume(&c, "reserved");
	assert_null(annotation(v, "pv.kubernetes.io/bound-by-controller"));
	cluster_free(&c);
}

static void
delete_claim(struct cluster *c, const char *name)
{
	assert_int_equal(client_delete(c->client, kind_lookup("v1", "PersistentVolumeClaim"),
				       "default", name, NULL, NULL, NULL),
			 0);
}

static void
test_release(void **state)
{
	struct cluster c;
	start(&c, NULL);
	c.schedule = true;
	cluster_start(&c);
	add_node(&c, "n1");
	pv(&c, "keep", "1Gi", "[ReadWriteOnce]", "  persistentVolumeReclaimPolicy: Retain\n");
	pvc(&c, "k", "1Gi", "[ReadWriteOnce]", "");
	settle(&c);
	assert_string_equal(bound(&c, "k"), "keep");
	_cleanup_json_ json_t *cl = claim(&c, "k");
	assert_string_equal(json_string_value(json_array_get(jp_get(cl, "metadata.finalizers"), 0)),
			    "kubernetes.io/pvc-protection");
	/* In use by a running pod, the claim stays while it runs. */
	create_yaml(&c,
		    "apiVersion: v1\nkind: Pod\nmetadata: {name: user, namespace: default}\n"
		    "spec:\n  containers: [{name: c, image: x}]\n"
		    "  volumes: [{name: d, persistentVolumeClaim: {claimName: k}}]\n",
		    NULL);
	settle(&c);
	delete_claim(&c, "k");
	settle(&c);
	json_decref(cl);
	cl = claim(&c, "k");
	assert_non_null(cl);
	assert_non_null(jp_get(cl, "metadata.deletionTimestamp"));
	assert_int_equal(client_delete(c.client, kind_lookup("v1", "Pod"), "default", "user", NULL,
				       NULL, NULL),
			 0);
	settle(&c);
	json_decref(cl);
	cl = claim(&c, "k");
	assert_null(cl);
	assert_string_equal(phase(&c, "keep"), "Released");
	/* Delete without a provisioner: Failed. */
	pv(&c, "gone", "1Gi", "[ReadWriteOnce]", "  persistentVolumeReclaimPolicy: Delete\n");
	pvc(&c, "g", "1Gi", "[ReadWriteOnce]", "");
	settle(&c);
	assert_string_equal(bound(&c, "g"), "gone");
	delete_claim(&c, "g");
	settle(&c);
	assert_string_equal(phase(&c, "gone"), "Failed");
	_cleanup_json_ json_t *v = volume(&c, "gone");
	assert_string_equal(jp_str(v, "status.message"),
			    "error getting deleter volume plugin for volume \"gone\": no deletable "
			    "volume plugin matched");
	/* A Released volume can be deleted (pv-protection lets it go); a Bound one waits. */
	assert_int_equal(client_delete(c.client, kind_lookup("v1", "PersistentVolume"), NULL,
				       "keep", NULL, NULL, NULL),
			 0);
	settle(&c);
	assert_string_equal(phase(&c, "keep"), "(gone)");
	pv(&c, "busy", "1Gi", "[ReadWriteOnce]", "");
	pvc(&c, "b", "1Gi", "[ReadWriteOnce]", "");
	settle(&c);
	assert_int_equal(client_delete(c.client, kind_lookup("v1", "PersistentVolume"), NULL,
				       "busy", NULL, NULL, NULL),
			 0);
	settle(&c);
	assert_string_equal(phase(&c, "busy"), "Bound");
	delete_claim(&c, "b");
	settle(&c);
	assert_string_equal(phase(&c, "busy"), "(gone)");
	cluster_free(&c);
}

static bool
is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void
test_local_path(void **state)
{
	struct cluster c;
	char dir[128];
	/* The cluster's directory is made by cluster_init: the volume dir goes under it. */
	start(&c, "/nonexistent");
	controller_manager_free(c.cm);
	snprintf(dir, sizeof(dir), "%s/volumes", c.dir);
	struct controller_manager_options o = { .no_leader_election = true, .volume_dir = dir };
	assert_int_equal(controller_manager_new(c.client, c.loop, &o, &c.cm, NULL), 0);
	c.schedule = true;
	/* A claim made before there is a default class. */
	pvc(&c, "early", "1Gi", "[ReadWriteOnce]", "");
	cluster_start(&c);
	add_node(&c, "n1");
	add_node(&c, "n2");
	settle(&c);
	_cleanup_json_ json_t *sc =
		get_obj(&c, "storage.k8s.io/v1", "StorageClass", NULL, "local-path");
	assert_non_null(sc);
	assert_string_equal(jp_str(sc, "provisioner"), "korch.io/local-path");
	assert_string_equal(jp_str(sc, "volumeBindingMode"), "WaitForFirstConsumer");
	_cleanup_json_ json_t *early = claim(&c, "early");
	assert_string_equal(jp_str(early, "spec.storageClassName"), "local-path");
	/* A new claim gets the default class on create. */
	pvc(&c, "data", "2Gi", "[ReadWriteOnce]", "");
	settle(&c);
	_cleanup_json_ json_t *cl = claim(&c, "data");
	assert_string_equal(jp_str(cl, "spec.storageClassName"), "local-path");
	assert_string_equal(bound(&c, "data"), "");
	char *msg = event_message(&c, "default", "data", "WaitForFirstConsumer");
	assert_string_equal(msg, "waiting for first consumer to be created before binding");
	free(msg);
	/* Its first consumer lands on n2: the volume is made there. */
	create_yaml(&c,
		    "apiVersion: v1\nkind: Pod\nmetadata: {name: user, namespace: default}\n"
		    "spec:\n  nodeName: n2\n  containers: [{name: c, image: x}]\n"
		    "  volumes: [{name: d, persistentVolumeClaim: {claimName: data}}]\n",
		    NULL);
	settle(&c);
	char pv_name[128];
	snprintf(pv_name, sizeof(pv_name), "pvc-%s", jp_str(cl, "metadata.uid"));
	assert_string_equal(bound(&c, "data"), pv_name);
	_cleanup_json_ json_t *v = volume(&c, pv_name);
	char path[512];
	snprintf(path, sizeof(path), "%s/%s_default_data", dir, pv_name);
	assert_string_equal(jp_str(v, "spec.hostPath.path"), path);
	assert_true(is_dir(path));
	assert_string_equal(jp_str(v, "spec.capacity.storage"), "2Gi");
	assert_string_equal(jp_str(v, "spec.persistentVolumeReclaimPolicy"), "Delete");
	const json_t *expr = json_array_get(
		json_object_get(json_array_get(jp_get(v, "spec.nodeAffinity.required."
							 "nodeSelectorTerms"),
					       0),
				"matchExpressions"),
		0);
	assert_string_equal(jp_str(expr, "key"), "kubernetes.io/hostname");
	assert_string_equal(json_string_value(json_array_get(json_object_get(expr, "values"), 0)),
			    "n2");
	msg = event_message(&c, "default", "data", "ProvisioningSucceeded");
	char want[256];
	snprintf(want, sizeof(want), "Successfully provisioned volume %s", pv_name);
	assert_string_equal(msg, want);
	free(msg);
	/* Pod and claim go: the directory and the volume go too. */
	assert_int_equal(client_delete(c.client, kind_lookup("v1", "Pod"), "default", "user", NULL,
				       NULL, NULL),
			 0);
	delete_claim(&c, "data");
	settle(&c);
	assert_null(claim(&c, "data"));
	assert_string_equal(phase(&c, pv_name), "(gone)");
	assert_false(is_dir(path));
	/* Access modes a local directory cannot give. */
	pvc(&c, "shared", "1Gi", "[ReadWriteMany]", "");
	create_yaml(&c,
		    "apiVersion: v1\nkind: Pod\nmetadata: {name: user2, namespace: default}\n"
		    "spec:\n  nodeName: n1\n  containers: [{name: c, image: x}]\n"
		    "  volumes: [{name: d, persistentVolumeClaim: {claimName: shared}}]\n",
		    NULL);
	settle(&c);
	assert_string_equal(bound(&c, "shared"), "");
	msg = event_message(&c, "default", "shared", "ProvisioningFailed");
	assert_string_equal(msg,
			    "failed to provision volume with StorageClass \"local-path\": "
			    "local-path volumes support only ReadWriteOnce and ReadWriteOncePod "
			    "access modes");
	free(msg);
	cluster_free(&c);
}

/* The node a pod is bound to ("" when none). */
static const char *
pod_node(struct cluster *c, const char *name)
{
	static char buf[64];
	_cleanup_json_ json_t *pod = get_obj(c, "v1", "Pod", "default", name);
	assert_non_null(pod);
	snprintf(buf, sizeof(buf), "%s", jp_str0(pod, "spec.nodeName"));
	return buf;
}

static void
claim_pod(struct cluster *c, const char *name, const char *claim_name)
{
	char text[512];
	snprintf(text, sizeof(text),
		 "apiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: default}\n"
		 "spec:\n  containers: [{name: c, image: x}]\n"
		 "  volumes: [{name: d, persistentVolumeClaim: {claimName: %s}}]\n",
		 name, claim_name);
	create_yaml(c, text, NULL);
}

/*
 * The scheduler and the binder together: a ReadWriteOncePod claim serves one pod (a second
 * stays Pending with kube-scheduler's message until the first goes), and a local volume pinned
 * to a node by its nodeAffinity brings every pod using its claim to that node.
 */
static void
test_scheduling(void **state)
{
	struct cluster c;
	start(&c, NULL);
	c.schedule = true;
	cluster_start(&c);
	add_node(&c, "n1");
	add_node(&c, "n2");
	add_node(&c, "n3");
	settle(&c);
	pv(&c, "solo", "1Gi", "[ReadWriteOncePod]", "");
	pvc(&c, "one", "1Gi", "[ReadWriteOncePod]", "");
	settle(&c);
	assert_string_equal(bound(&c, "one"), "solo");
	claim_pod(&c, "first", "one");
	settle(&c);
	assert_string_not_equal(pod_node(&c, "first"), "");
	claim_pod(&c, "second", "one");
	settle(&c);
	assert_string_equal(pod_node(&c, "second"), "");
	_cleanup_json_ json_t *p2 = get_obj(&c, "v1", "Pod", "default", "second");
	const json_t *cond = json_array_get(jp_get(p2, "status.conditions"), 0);
	assert_string_equal(jp_str(cond, "type"), "PodScheduled");
	assert_string_equal(jp_str(cond, "status"), "False");
	assert_string_equal(jp_str(cond, "reason"), "Unschedulable");
	assert_string_equal(jp_str(cond, "message"), RWOP_MESSAGE);
	char *msg = event_message(&c, "default", "second", "FailedScheduling");
	assert_string_equal(msg, RWOP_MESSAGE);
	free(msg);
	/* The first pod goes: the second gets the claim. */
	assert_int_equal(client_delete(c.client, kind_lookup("v1", "Pod"), "default", "first", NULL,
				       NULL, NULL),
			 0);
	advance(&c, 40 * NSEC_PER_SEC);
	assert_null(get_obj(&c, "v1", "Pod", "default", "first"));
	assert_string_not_equal(pod_node(&c, "second"), "");
	/* A local volume on n2: the pods using its claim all land on n2. */
	pv(&c, "local-n2", "1Gi", "[ReadWriteOnce]",
	   "  nodeAffinity:\n    required:\n      nodeSelectorTerms:\n"
	   "      - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [n2]}]\n");
	pvc(&c, "near", "1Gi", "[ReadWriteOnce]", "");
	settle(&c);
	assert_string_equal(bound(&c, "near"), "local-n2");
	static const char *const users[] = { "u1", "u2", "u3", "u4" };
	for (size_t i = 0; i < ARRAY_SIZE(users); i++)
		claim_pod(&c, users[i], "near");
	settle(&c);
	for (size_t i = 0; i < ARRAY_SIZE(users); i++)
		assert_string_equal(pod_node(&c, users[i]), "n2");
	cluster_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smallest_fit), cmocka_unit_test(test_prebound),
		cmocka_unit_test(test_release),      cmocka_unit_test(test_local_path),
		cmocka_unit_test(test_scheduling),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
