/*
 * What a container gets from its pod on the simulated runtime: the environment (literals with
 * $(VAR) expansion, valueFrom of every kind, envFrom, Service links, the waiting reason of a
 * missing ConfigMap), command and args over the image's, and volumes: configMap (items, modes,
 * updated in place), secret, downwardAPI, emptyDir, hostPath type checks, subPath and
 * persistentVolumeClaim bound or not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/kinds.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/util.h"
#include "client/token.h"
#include "server/pki.h"
#include "node-test.h"

#define POD(name, extra)                                                               \
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"" name       \
	"\",\"namespace\":\"default\",\"labels\":{\"app\":\"web\",\"tier\":\"a.b\"}}," \
	"\"spec\":{" extra "}}"

static int
setup(void **state)
{
	struct nt *t = calloc(1, sizeof(*t));
	nt_init(t);
	nt_start_agent(t);
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct nt *t = *state;
	nt_fini(t);
	free(t);
	return 0;
}

static json_t *
config_of(struct nt *t, const char *pod, const char *container)
{
	const char *id = sim_container_find(t->sim, "default", pod, container);
	assert_non_null(id);
	return sim_container_config(t->sim, id);
}

/* The env of a container as one "K=V;K=V" string. */
static char *
env_of(struct nt *t, const char *pod)
{
	json_t *cfg = config_of(t, pod, "app");
	struct {
		char *s;
	} out = { strdup("") };
	size_t i;
	json_t *e;
	json_array_foreach (json_object_get(cfg, "env"), i, e) {
		char *n = NULL;
		assert_true(asprintf(&n, "%s%s%s", out.s, i ? ";" : "", json_string_value(e)) > 0);
		free(out.s);
		out.s = n;
	}
	json_decref(cfg);
	return out.s;
}

static void
test_env(void **state)
{
	struct nt *t = *state;
	nt_create(t, "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cfg\","
		     "\"namespace\":\"default\"},\"data\":{\"mode\":\"fast\",\"LEVEL\":\"3\","
		     "\"1bad\":\"x\"}}");
	nt_create(t, "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"sec\","
		     "\"namespace\":\"default\"},\"data\":{\"password\":\"aHVudGVyMg==\"}}");
	nt_create(
		t,
		"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"redis-main\","
		"\"namespace\":\"default\"},\"spec\":{\"clusterIP\":\"10.96.0.11\",\"ports\":["
		"{\"name\":\"db\",\"port\":6379}]}}");
	nt_create(
		t,
		"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"kubernetes\","
		"\"namespace\":\"default\"},\"spec\":{\"clusterIP\":\"10.96.0.1\",\"ports\":["
		"{\"name\":\"https\",\"port\":443}]}}");
	nt_create(
		t,
		"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"elsewhere\","
		"\"namespace\":\"other\"},\"spec\":{\"clusterIP\":\"10.96.0.12\",\"ports\":["
		"{\"port\":80}]}}");
	nt_create(
		t,
		POD("env",
		    "\"containers\":[{\"name\":\"app\",\"image\":\"busybox\","
		    "\"command\":[\"echo\",\"$(GREETING)\"],\"args\":[\"$(MISSING)\",\"$$(X)\"],"
		    "\"resources\":{\"limits\":{\"memory\":\"64Mi\"},"
		    "\"requests\":{\"cpu\":\"250m\"}},"
		    "\"envFrom\":[{\"configMapRef\":{\"name\":\"cfg\"},\"prefix\":\"CFG_\"}],"
		    "\"env\":["
		    "{\"name\":\"NAME\",\"value\":\"world\"},"
		    "{\"name\":\"GREETING\",\"value\":\"hello $(NAME) at $(REDIS_MAIN_SERVICE_HOST)\"},"
		    "{\"name\":\"MODE\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"cfg\",\"key\":\"mode\"}}},"
		    "{\"name\":\"PASS\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"sec\",\"key\":\"password\"}}},"
		    "{\"name\":\"OPT\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"cfg\",\"key\":\"nope\",\"optional\":true}}},"
		    "{\"name\":\"POD\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.name\"}}},"
		    "{\"name\":\"NODE\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"spec.nodeName\"}}},"
		    "{\"name\":\"HOSTIP\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"status.hostIP\"}}},"
		    "{\"name\":\"APP\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.labels['app']\"}}},"
		    "{\"name\":\"MEM\",\"valueFrom\":{\"resourceFieldRef\":{\"resource\":\"limits.memory\",\"divisor\":\"1Mi\"}}},"
		    "{\"name\":\"CPU\",\"valueFrom\":{\"resourceFieldRef\":{\"resource\":\"requests.cpu\",\"divisor\":\"1m\"}}},"
		    "{\"name\":\"CPULIM\",\"valueFrom\":{\"resourceFieldRef\":{\"resource\":\"limits.cpu\"}}}"
		    "]}]"));
	assert_string_equal(nt_status_str(t, "env", "phase"), "Running");
	char *env = env_of(t, "env");
	assert_string_equal(env,
			    "CFG_mode=fast;CFG_LEVEL=3;CFG_1bad=x;NAME=world;"
			    "GREETING=hello world at 10.96.0.11;MODE=fast;PASS=hunter2;POD=env;"
			    "NODE=node-1;HOSTIP=192.168.1.10;APP=web;MEM=64;CPU=250;CPULIM=4;"
			    "KUBERNETES_SERVICE_HOST=10.96.0.1;KUBERNETES_SERVICE_PORT=443;"
			    "KUBERNETES_SERVICE_PORT_HTTPS=443;KUBERNETES_PORT=tcp://10.96.0.1:443;"
			    "KUBERNETES_PORT_443_TCP=tcp://10.96.0.1:443;"
			    "KUBERNETES_PORT_443_TCP_PROTO=tcp;KUBERNETES_PORT_443_TCP_PORT=443;"
			    "KUBERNETES_PORT_443_TCP_ADDR=10.96.0.1;"
			    "REDIS_MAIN_SERVICE_HOST=10.96.0.11;REDIS_MAIN_SERVICE_PORT=6379;"
			    "REDIS_MAIN_SERVICE_PORT_DB=6379;REDIS_MAIN_PORT=tcp://10.96.0.11:6379;"
			    "REDIS_MAIN_PORT_6379_TCP=tcp://10.96.0.11:6379;"
			    "REDIS_MAIN_PORT_6379_TCP_PROTO=tcp;REDIS_MAIN_PORT_6379_TCP_PORT=6379;"
			    "REDIS_MAIN_PORT_6379_TCP_ADDR=10.96.0.11");
	free(env);
	json_t *cfg = config_of(t, "env", "app");
	json_t *argv = json_object_get(cfg, "argv");
	assert_int_equal(json_array_size(argv), 4);
	assert_string_equal(json_string_value(json_array_get(argv, 0)), "echo");
	assert_string_equal(json_string_value(json_array_get(argv, 1)),
			    "hello world at 10.96.0.11");
	assert_string_equal(json_string_value(json_array_get(argv, 2)), "$(MISSING)");
	assert_string_equal(json_string_value(json_array_get(argv, 3)), "$(X)");
	/* cpu request 250m: shares 256; no cpu limit: no quota. */
	json_t *res = json_object_get(cfg, "resources");
	assert_int_equal(json_integer_value(json_object_get(res, "cpuShares")), 256);
	assert_int_equal(json_integer_value(json_object_get(res, "cpuQuota")), 0);
	json_decref(cfg);

	/* enableServiceLinks false: only the API's own service. */
	nt_create(t, POD("nolinks", "\"enableServiceLinks\":false,"
				    "\"containers\":[{\"name\":\"app\",\"image\":\"busybox\"}]"));
	env = env_of(t, "nolinks");
	assert_null(strstr(env, "REDIS"));
	assert_non_null(strstr(env, "KUBERNETES_SERVICE_HOST=10.96.0.1"));
	free(env);
}

static void
test_missing_config(void **state)
{
	struct nt *t = *state;
	nt_create(t, POD("waits", "\"containers\":[{\"name\":\"app\",\"image\":\"busybox\","
				  "\"env\":[{\"name\":\"X\",\"valueFrom\":{\"configMapKeyRef\":"
				  "{\"name\":\"later\",\"key\":\"x\"}}}]}]"));
	assert_string_equal(nt_status_str(t, "waits", "containerStatuses.0.state.waiting.reason"),
			    "CreateContainerConfigError");
	assert_string_equal(nt_status_str(t, "waits", "containerStatuses.0.state.waiting.message"),
			    "configmap \"later\" not found");
	nt_create(t,
		  "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"later\","
		  "\"namespace\":\"default\"},\"data\":{\"y\":\"1\"}}");
	assert_string_equal(nt_status_str(t, "waits", "containerStatuses.0.state.waiting.message"),
			    "couldn't find key x in ConfigMap default/later");
	/* The ConfigMap gets the key: the container starts without waiting for a timer. */
	json_t *cm = nt_get(t, "ConfigMap", "default", "later");
	json_object_set_new(json_object_get(cm, "data"), "x", json_string("ok"));
	assert_int_equal(client_update(t->client, cm, NULL, NULL, NULL, NULL), 0);
	json_decref(cm);
	nt_pump(t);
	assert_string_equal(nt_status_str(t, "waits", "phase"), "Running");
}

static char *
volume_file(struct nt *t, const char *pod, const char *plugin, const char *vol, const char *file)
{
	json_t *p = nt_get(t, "Pod", "default", pod);
	const char *uid = json_string_value(json_object_get(json_object_get(p, "metadata"), "uid"));
	char path[512];
	snprintf(path, sizeof(path), "%s/pods/%s/volumes/kubernetes.io~%s/%s/%s", t->root, uid,
		 plugin, vol, file);
	json_decref(p);
	return strdup(path);
}

static char *
slurp(const char *path)
{
	char *data = NULL;
	size_t len;
	if (read_file(path, 1 << 20, &data, &len, NULL) < 0)
		return NULL;
	return data;
}

static void
test_configmap_volume(void **state)
{
	struct nt *t = *state;
	nt_create(t,
		  "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"site\","
		  "\"namespace\":\"default\"},\"data\":{\"index.html\":\"v1\",\"conf\":\"a=1\"}}");
	nt_create(t, "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"tls\","
		     "\"namespace\":\"default\"},\"data\":{\"key\":\"c2VjcmV0\"}}");
	nt_create(t,
		  POD("vol",
		      "\"volumes\":["
		      "{\"name\":\"site\",\"configMap\":{\"name\":\"site\"}},"
		      "{\"name\":\"one\",\"configMap\":{\"name\":\"site\",\"items\":[{\"key\":"
		      "\"conf\",\"path\":\"sub/app.conf\",\"mode\":384}]}},"
		      "{\"name\":\"tls\",\"secret\":{\"secretName\":\"tls\",\"defaultMode\":256}},"
		      "{\"name\":\"info\",\"downwardAPI\":{\"items\":[{\"path\":\"labels\","
		      "\"fieldRef\":{\"fieldPath\":\"metadata.labels\"}}]}},"
		      "{\"name\":\"scratch\",\"emptyDir\":{}}],"
		      "\"containers\":[{\"name\":\"app\",\"image\":\"busybox\",\"volumeMounts\":["
		      "{\"name\":\"site\",\"mountPath\":\"/usr/share/html\",\"readOnly\":true},"
		      "{\"name\":\"one\",\"mountPath\":\"/etc/app\"},"
		      "{\"name\":\"tls\",\"mountPath\":\"/tls\"},"
		      "{\"name\":\"info\",\"mountPath\":\"/info\"},"
		      "{\"name\":\"scratch\",\"mountPath\":\"/work\",\"subPath\":\"a/b\"}]}]"));
	assert_string_equal(nt_status_str(t, "vol", "phase"), "Running");
	char *f = volume_file(t, "vol", "configmap", "site", "index.html");
	char *c = slurp(f);
	assert_string_equal(c, "v1");
	free(c);
	char link[256];
	ssize_t n = readlink(f, link, sizeof(link) - 1);
	assert_true(n > 0);
	link[n] = '\0';
	assert_string_equal(link, "..data/index.html");
	char *conf = volume_file(t, "vol", "configmap", "one", "sub/app.conf");
	c = slurp(conf);
	assert_string_equal(c, "a=1");
	free(c);
	struct stat st;
	assert_int_equal(stat(conf, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	free(conf);
	char *sec = volume_file(t, "vol", "secret", "tls", "key");
	c = slurp(sec);
	assert_string_equal(c, "secret");
	free(c);
	assert_int_equal(stat(sec, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0400);
	free(sec);
	char *labels = volume_file(t, "vol", "downward-api", "info", "labels");
	c = slurp(labels);
	assert_string_equal(c, "app=\"web\"\ntier=\"a.b\"");
	free(c);
	/* The mounts the container got, in order, with the termination-log file last. */
	json_t *cfg = config_of(t, "vol", "app");
	json_t *mounts = json_object_get(cfg, "mounts");
	assert_int_equal(json_array_size(mounts), 6);
	assert_string_equal(json_string_value(json_object_get(json_array_get(mounts, 0), "path")),
			    "/usr/share/html");
	assert_true(json_is_true(json_object_get(json_array_get(mounts, 0), "readOnly")));
	assert_true(endswith(json_string_value(json_object_get(json_array_get(mounts, 4), "host")),
			     "/volumes/kubernetes.io~empty-dir/scratch/a/b"));
	assert_string_equal(json_string_value(json_object_get(json_array_get(mounts, 5), "path")),
			    "/dev/termination-log");
	json_decref(cfg);
	/* An update is written in place: same file name, new content, old data gone. */
	json_t *cm = nt_get(t, "ConfigMap", "default", "site");
	json_object_set_new(json_object_get(cm, "data"), "index.html", json_string("v2"));
	json_object_del(json_object_get(cm, "data"), "conf");
	assert_int_equal(client_update(t->client, cm, NULL, NULL, NULL, NULL), 0);
	json_decref(cm);
	nt_pump(t);
	c = slurp(f);
	assert_string_equal(c, "v2");
	free(c);
	char *gone = volume_file(t, "vol", "configmap", "site", "conf");
	assert_int_equal(lstat(gone, &st), -1);
	free(gone);
	/* Labels change: the downward API file follows. */
	json_t *pod = nt_get(t, "Pod", "default", "vol");
	json_object_set_new(json_object_get(json_object_get(pod, "metadata"), "labels"), "app",
			    json_string("db"));
	assert_int_equal(client_update(t->client, pod, NULL, NULL, NULL, NULL), 0);
	json_decref(pod);
	nt_pump(t);
	c = slurp(labels);
	assert_string_equal(c, "app=\"db\"\ntier=\"a.b\"");
	free(c);
	free(labels);
	free(f);
}

static void
test_projected(void **state)
{
	struct nt *t = *state;
	nt_create(t,
		  "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
		  "\"kube-root-ca.crt\",\"namespace\":\"default\"},\"data\":{\"ca.crt\":\"CA\"}}");
	nt_create(
		t,
		POD("proj",
		    "\"serviceAccountName\":\"default\",\"volumes\":[{\"name\":\"kube-api-access\",\"projected\":{"
		    "\"defaultMode\":420,\"sources\":["
		    "{\"serviceAccountToken\":{\"expirationSeconds\":3607,\"path\":\"token\"}},"
		    "{\"configMap\":{\"name\":\"kube-root-ca.crt\",\"items\":[{\"key\":"
		    "\"ca.crt\",\"path\":\"ca.crt\"}]}},"
		    "{\"downwardAPI\":{\"items\":[{\"path\":\"namespace\",\"fieldRef\":{"
		    "\"apiVersion\":\"v1\",\"fieldPath\":\"metadata.namespace\"}}]}}]}}],"
		    "\"containers\":[{\"name\":\"app\",\"image\":\"busybox\"}]"));
	assert_string_equal(nt_status_str(t, "proj", "phase"), "Running");
	char *f = volume_file(t, "proj", "projected", "kube-api-access", "ca.crt");
	char *c = slurp(f);
	assert_string_equal(c, "CA");
	free(c);
	free(f);
	f = volume_file(t, "proj", "projected", "kube-api-access", "namespace");
	c = slurp(f);
	assert_string_equal(c, "default");
	free(c);
	free(f);
	/* No token until the API server issues them: the file is absent, the pod runs. */
	f = volume_file(t, "proj", "projected", "kube-api-access", "token");
	struct stat st;
	assert_int_equal(lstat(f, &st), -1);
	free(f);
}

/* With a token issuer on the client: the token file holds a token bound to the pod. */
static void
test_projected_token(void **state)
{
	struct nt *t = *state;
	char pki[128], path[160];
	snprintf(pki, sizeof(pki), "%s/pki", t->dir);
	static const char *const ips[] = { "127.0.0.1", NULL };
	static const char *const dns[] = { "kubernetes", NULL };
	assert_int_equal(pki_ensure(pki, ips, dns, NULL, NULL), 0);
	snprintf(path, sizeof(path), "%s/%s", pki, PKI_SA_KEY);
	char *pem = NULL;
	size_t len;
	assert_int_equal(read_file(path, 65536, &pem, &len, NULL), 0);
	struct token_signer *signer = NULL;
	assert_int_equal(token_signer_new(pem, "https://kubernetes.default.svc", &signer, NULL), 0);
	free(pem);
	client_set_token_signer(t->client, signer);
	nt_create(t, "{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\",\"metadata\":{"
		     "\"name\":\"default\",\"namespace\":\"default\"}}");
	nt_create(t,
		  "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
		  "\"kube-root-ca.crt\",\"namespace\":\"default\"},\"data\":{\"ca.crt\":\"CA\"}}");
	/* The ServiceAccount admission adds the kube-api-access volume. */
	nt_create(t, POD("tok", "\"containers\":[{\"name\":\"app\",\"image\":\"busybox\"}]"));
	assert_string_equal(nt_status_str(t, "tok", "phase"), "Running");
	json_t *pod = nt_get(t, "Pod", "default", "tok");
	const char *vol = json_string_value(json_object_get(
		json_array_get(json_object_get(json_object_get(pod, "spec"), "volumes"), 0),
		"name"));
	char *f = volume_file(t, "tok", "projected", vol, "token");
	char *jwt = slurp(f);
	struct token_claims c = { 0 };
	assert_int_equal(
		token_verify(signer, jwt, korch_clock_wall_ns(t->clock) / NSEC_PER_SEC, &c, NULL),
		0);
	assert_string_equal(c.sa_name, "default");
	assert_string_equal(c.pod_name, "tok");
	assert_string_equal(c.pod_uid, json_string_value(json_object_get(
					       json_object_get(pod, "metadata"), "uid")));
	assert_int_equal(c.expires_s - c.issued_s, 3607);
	token_claims_clear(&c);
	free(jwt);
	free(f);
	f = volume_file(t, "tok", "projected", vol, "ca.crt");
	char *ca = slurp(f);
	assert_string_equal(ca, "CA");
	free(ca);
	free(f);
	json_decref(pod);
	client_set_token_signer(t->client, NULL);
	token_signer_free(signer);
}

static void
test_volume_errors(void **state)
{
	struct nt *t = *state;
	nt_create(t, POD("hp", "\"volumes\":[{\"name\":\"data\",\"hostPath\":{\"path\":"
			       "\"/nonexistent/korch\",\"type\":\"Directory\"}}],"
			       "\"containers\":[{\"name\":\"app\",\"image\":\"busybox\"}]"));
	assert_string_equal(nt_status_str(t, "hp", "containerStatuses.0.state.waiting.reason"),
			    "ContainerCreating");
	assert_string_equal(nt_status_str(t, "hp", "containerStatuses.0.state.waiting.message"),
			    "MountVolume.SetUp failed for volume \"data\" : hostPath type check "
			    "failed: /nonexistent/korch is not a directory");
	nt_create(t, POD("cm", "\"volumes\":[{\"name\":\"c\",\"configMap\":{\"name\":\"absent\"}}],"
			       "\"containers\":[{\"name\":\"app\",\"image\":\"busybox\"}]"));
	assert_string_equal(nt_status_str(t, "cm", "containerStatuses.0.state.waiting.message"),
			    "MountVolume.SetUp failed for volume \"c\" : configmap \"absent\" not "
			    "found");
	nt_create(t, "{\"apiVersion\":\"v1\",\"kind\":\"PersistentVolumeClaim\",\"metadata\":{"
		     "\"name\":\"data\",\"namespace\":\"default\"},\"spec\":{\"accessModes\":["
		     "\"ReadWriteOnce\"],\"resources\":{\"requests\":{\"storage\":\"1Gi\"}}}}");
	nt_create(t, POD("pvc", "\"volumes\":[{\"name\":\"d\",\"persistentVolumeClaim\":"
				"{\"claimName\":\"data\"}}],"
				"\"containers\":[{\"name\":\"app\",\"image\":\"busybox\","
				"\"volumeMounts\":[{\"name\":\"d\",\"mountPath\":\"/data\"}]}]"));
	assert_string_equal(nt_status_str(t, "pvc", "phase"), "Pending");
	assert_string_equal(nt_status_str(t, "pvc", "containerStatuses.0.state.waiting.message"),
			    "persistentvolumeclaim \"data\" is not bound (phase Pending): the pod "
			    "waits for a PersistentVolume");
	/* Bind it to a hostPath PV: the pod starts with the PV's directory. */
	char pvdir[160];
	snprintf(pvdir, sizeof(pvdir), "%s/pv1", t->dir);
	assert_int_equal(mkdir(pvdir, 0755), 0);
	char pv[512];
	snprintf(pv, sizeof(pv),
		 "{\"apiVersion\":\"v1\",\"kind\":\"PersistentVolume\",\"metadata\":{\"name\":"
		 "\"pv1\"},\"spec\":{\"capacity\":{\"storage\":\"1Gi\"},\"accessModes\":["
		 "\"ReadWriteOnce\"],\"hostPath\":{\"path\":\"%s\"}}}",
		 pvdir);
	nt_create(t, pv);
	json_t *claim = nt_get(t, "PersistentVolumeClaim", "default", "data");
	json_object_set_new(json_object_get(claim, "spec"), "volumeName", json_string("pv1"));
	assert_int_equal(client_update(t->client, claim, NULL, NULL, NULL, NULL), 0);
	json_decref(claim);
	claim = nt_get(t, "PersistentVolumeClaim", "default", "data");
	json_object_set_new(json_object_get(claim, "status"), "phase", json_string("Bound"));
	assert_int_equal(client_update(t->client, claim, "status", NULL, NULL, NULL), 0);
	json_decref(claim);
	nt_pump(t);
	assert_string_equal(nt_status_str(t, "pvc", "phase"), "Running");
	json_t *cfg = config_of(t, "pvc", "app");
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(cfg, "mounts"), 0), "host")),
			    pvdir);
	json_decref(cfg);
	/* A subPath that leads out of its volume through a symlink is refused. */
	char hp[160], link[200];
	snprintf(hp, sizeof(hp), "%s/hp", t->dir);
	snprintf(link, sizeof(link), "%s/out", hp);
	assert_int_equal(mkdir(hp, 0755), 0);
	assert_int_equal(symlink("/etc", link), 0);
	char esc[1024];
	snprintf(esc, sizeof(esc),
		 POD("escape", "\"volumes\":[{\"name\":\"s\",\"hostPath\":{\"path\":\"%s\"}}],"
			       "\"containers\":[{\"name\":\"app\",\"image\":\"busybox\","
			       "\"volumeMounts\":[{\"name\":\"s\",\"mountPath\":\"/x\","
			       "\"subPath\":\"out\"}]}]"),
		 hp);
	nt_create(t, esc);
	assert_string_equal(nt_status_str(t, "escape", "containerStatuses.0.state.waiting.reason"),
			    "CreateContainerConfigError");
	assert_string_equal(nt_status_str(t, "escape", "containerStatuses.0.state.waiting.message"),
			    "volumeMounts[0]: subPath \"out\" leads outside the volume");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_configmap_volume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_projected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_projected_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_volume_errors, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
