/*
 * remote-client: the public korch_client over HTTPS from a kubeconfig (its CA data, its token),
 * against a running korchd: the calls korchctl makes, each checked, and one line per check.
 * Exits 1 at the first that fails. Public API only.
 *
 * usage: remote-client KUBECONFIG
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <korch.h>

static int failed;

static void
check(int ok, const char *what, const korch_error *err)
{
	if (ok) {
		printf("ok %s\n", what);
		return;
	}
	printf("FAIL %s: %s\n", what, err ? korch_error_message(err) : "wrong result");
	failed = 1;
}

static korch_object *
parse(const char *text)
{
	korch_object *list = NULL;
	if (korch_object_parse(text, strlen(text), NULL, &list, NULL) < 0)
		return NULL;
	korch_object *obj = korch_object_ref(korch_object_at(list, 0));
	korch_object_free(list);
	return obj;
}

static int
print_text(const char *data, size_t len, void *userdata)
{
	return fwrite(data, 1, len, userdata) == len ? 0 : 1;
}

static int
count_events(int event, korch_object *obj, void *userdata)
{
	int *n = userdata;
	if (event != KORCH_WATCH_BOOKMARK)
		(*n)++;
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: remote-client KUBECONFIG\n");
		return 2;
	}
	korch_client *c = NULL;
	korch_error *err = NULL;
	int r = korch_client_connect(argv[1], NULL, &c, &err);
	check(r == 0, "connect", err);
	if (r < 0)
		return 1;
	korch_object *v = NULL;
	r = korch_client_request(c, "GET", "/version", NULL, &v, &err);
	check(r == 0 && strcmp(korch_object_get_string(v, "minor"), "32") == 0, "version", err);
	korch_object_free(v);
	korch_object *list = NULL;
	r = korch_client_list(c, "namespaces", NULL, NULL, &list, &err);
	check(r == 0 && korch_object_count(list) >= 4, "list namespaces", err);
	char rv[32] = "";
	if (r == 0)
		snprintf(rv, sizeof(rv), "%s",
			 korch_object_get_string(list, "metadata.resourceVersion"));
	korch_object_free(list);
	korch_object *cm = parse("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: remote, "
				 "labels: {via: curl}}\ndata: {a: '1'}\n");
	int result = -1;
	korch_write_options wo = KORCH_WRITE_OPTIONS_INIT;
	wo.field_manager = "remote-client";
	r = korch_client_apply(c, cm, &wo, NULL, &result, &err);
	check(r == 0 && result == KORCH_WRITE_CREATED, "apply creates", err);
	r = korch_client_apply(c, cm, &wo, NULL, &result, &err);
	check(r == 0 && result == KORCH_WRITE_UNCHANGED, "apply again is unchanged", err);
	korch_object *got = NULL;
	r = korch_client_get(c, "cm", "default", "remote", &got, &err);
	check(r == 0 && strcmp(korch_object_get_string(got, "data.a"), "1") == 0, "get", err);
	korch_object_free(got);
	korch_error_free(err);
	err = NULL;
	r = korch_client_create(c, cm, &wo, NULL, &err);
	check(r == KORCH_EEXISTS &&
		      strcmp(korch_error_message(err), "configmaps \"remote\" already exists") == 0,
	      "create again is AlreadyExists", NULL);
	korch_error_free(err);
	err = NULL;
	int n = 0;
	korch_watch_options w = KORCH_WATCH_OPTIONS_INIT;
	w.resource_version = rv;
	w.label_selector = "via=curl";
	w.timeout_s = 1;
	r = korch_client_watch(c, "configmaps", "default", &w, count_events, &n, &err);
	check(r == 0 && n == 1, "watch sees the create", err);
	korch_error_free(err);
	err = NULL;
	r = korch_client_delete(c, "cm", "default", "remote", NULL, NULL, &err);
	check(r == 0, "delete", err);
	korch_error_free(err);
	err = NULL;
	r = korch_pod_logs(c, "default", "nope", NULL, print_text, stdout, &err);
	check(r == KORCH_ENOTFOUND &&
		      strcmp(korch_error_message(err), "pods \"nope\" not found") == 0,
	      "logs of a missing pod", NULL);
	korch_error_free(err);
	korch_object_free(cm);
	korch_client_free(c);
	return failed;
}
