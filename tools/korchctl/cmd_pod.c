/*
 * cmd_pod.c - korchctl's workload commands: logs, exec, scale, rollout status|restart, top
 * and create token, as kubectl words them. logs and exec work on a state file (this machine's
 * node files and korch-monitor) and against korchd; top and create token need korchd's API.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "korchctl.h"

/* "KIND/NAME" or "KIND NAME" from argv at optind: the resource and the name. */
static int
kind_and_name(int argc, char **argv, const korch_resource **ret_r, const char **ret_name)
{
	char *kind = optind < argc ? argv[optind] : NULL;
	const char *name = optind + 1 < argc ? argv[optind + 1] : NULL;
	char *slash = kind ? strchr(kind, '/') : NULL;
	if (slash) {
		*slash = '\0';
		name = slash + 1;
	}
	if (!kind || !name || !*name) {
		fprintf(stderr, "error: must specify KIND/NAME\n");
		return -1;
	}
	const korch_resource *r = korch_resource_lookup(kind);
	if (!r) {
		fprintf(stderr, "error: the server doesn't have a resource type \"%s\"\n", kind);
		return -1;
	}
	*ret_r = r;
	*ret_name = name;
	return 0;
}

/* ---- logs ---- */

static int
print_log(const char *data, size_t len, void *userdata)
{
	fwrite(data, 1, len, stdout);
	fflush(stdout);
	return 0;
}

int
cmd_logs(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "container", required_argument, NULL, 'c' },
		{ "tail", required_argument, NULL, 't' },
		{ "previous", no_argument, NULL, 'p' },
		{ "timestamps", no_argument, NULL, 'T' },
		{ "since", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	korch_logs_options o = KORCH_LOGS_OPTIONS_INIT;
	int c;
	while ((c = getopt_long(argc, argv, "fc:ph", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': o.follow = true; break;
		case 'c': o.container = optarg; break;
		case 't': o.tail_lines = strtoll(optarg, NULL, 10); break;
		case 'p': o.previous = true; break;
		case 'T': o.timestamps = true; break;
		case 's': {
			char *end;
			long long n = strtoll(optarg, &end, 10);
			int mul = *end == 'h'            ? 3600
				  : *end == 'm'          ? 60
				  : *end == 's' || !*end ? 1
							 : 0;
			if (n <= 0 || !mul) {
				fprintf(stderr, "error: --since: invalid duration \"%s\"\n",
					optarg);
				return 1;
			}
			o.since_seconds = n * mul;
			break;
		}
		case 'h':
			puts("Usage: korchctl logs POD [-c CONTAINER] [-f] [--tail N] [--previous] "
			     "[--timestamps] [--since 5m]");
			return 0;
		default: return 1;
		}
	}
	const char *pod = optind < argc ? argv[optind] : NULL;
	if (pod && strncmp(pod, "pod/", 4) == 0)
		pod += 4;
	if (!pod) {
		fprintf(stderr, "error: expected POD\n");
		return 1;
	}
	korch_client *client = ctl_client(ctl);
	if (!client)
		return 1;
	if (ctl->data_dir)
		o.data_dir = ctl->data_dir;
	korch_error *err = NULL;
	int rc = 0;
	if (korch_pod_logs(client, ctl_namespace(ctl), pod, &o, print_log, NULL, &err) < 0) {
		ctl_error(err, NULL);
		rc = 1;
	}
	korch_error_free(err);
	return rc;
}

/* ---- exec ---- */

int
cmd_exec(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "stdin", no_argument, NULL, 'i' },
		{ "tty", no_argument, NULL, 't' },
		{ "container", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	korch_exec_options o = KORCH_EXEC_OPTIONS_INIT;
	int c;
	/* "+": stop at the first non-option (the pod), "--" ends them as well. */
	while ((c = getopt_long(argc, argv, "+itc:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'i': o.stdin_fd = STDIN_FILENO; break;
		case 't': o.tty = true; break;
		case 'c': o.container = optarg; break;
		case 'h':
			puts("Usage: korchctl exec POD [-i] [-t] [-c CONTAINER] -- COMMAND [ARGS...]");
			return 0;
		default: return 1;
		}
	}
	const char *pod = optind < argc ? argv[optind++] : NULL;
	if (pod && strncmp(pod, "pod/", 4) == 0)
		pod += 4;
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	if (!pod || optind >= argc) {
		fprintf(stderr, "error: expected POD -- COMMAND [ARGS...]\n");
		return 1;
	}
	korch_client *client = ctl_client(ctl);
	if (!client)
		return 1;
	korch_error *err = NULL;
	int code = 0;
	if (korch_pod_exec(client, ctl_namespace(ctl), pod, argv + optind, &o, &code, &err) < 0) {
		ctl_error(err, NULL);
		korch_error_free(err);
		return 1;
	}
	if (code != 0)
		fprintf(stderr, "command terminated with exit code %d\n", code);
	return code;
}

/* ---- scale ---- */

int
cmd_scale(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "replicas", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long long replicas = -1;
	int c;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': {
			char *end;
			replicas = strtoll(optarg, &end, 10);
			if (*end || replicas < 0) {
				fprintf(stderr, "error: --replicas: invalid count \"%s\"\n",
					optarg);
				return 1;
			}
			break;
		}
		case 'h': puts("Usage: korchctl scale KIND/NAME --replicas=N"); return 0;
		default: return 1;
		}
	}
	const korch_resource *r;
	const char *name;
	if (kind_and_name(argc, argv, &r, &name) < 0)
		return 1;
	if (replicas < 0) {
		fprintf(stderr, "error: --replicas=COUNT is required\n");
		return 1;
	}
	korch_client *client = ctl_client(ctl);
	if (!client)
		return 1;
	char text[96];
	snprintf(text, sizeof(text), "{\"spec\":{\"replicas\":%lld}}", replicas);
	korch_object *patch = NULL, *out = NULL;
	korch_error *err = NULL;
	korch_write_options wo = KORCH_WRITE_OPTIONS_INIT;
	wo.field_manager = "korchctl-scale";
	const char *ns = korch_resource_namespaced(r) ? ctl_namespace(ctl) : NULL;
	int rc = 0;
	if (korch_object_parse_json(text, strlen(text), &patch, &err) < 0 ||
	    korch_client_patch(client, korch_resource_plural(r), ns, name, KORCH_PATCH_MERGE, patch,
			       &wo, &out, &err) < 0) {
		ctl_error(err, NULL);
		rc = 1;
	} else {
		char type_name[128];
		ctl_type_name(r, type_name, sizeof(type_name));
		printf("%s/%s scaled\n", type_name, name);
	}
	korch_error_free(err);
	korch_object_free(patch);
	korch_object_free(out);
	return rc;
}

/* ---- rollout ---- */

/*
 * A Deployment's rollout is done when the controller saw the latest generation and every
 * replica is updated and available (kubectl's DeploymentStatusViewer). *ret_msg says what waits.
 */
static bool
rollout_done(korch_object *d, char *msg, size_t len)
{
	const char *name = korch_object_name(d);
	int64_t gen = korch_object_get_int(d, "metadata.generation", 0);
	int64_t seen = korch_object_get_int(d, "status.observedGeneration", 0);
	int64_t want = korch_object_get_int(d, "spec.replicas", 1);
	int64_t updated = korch_object_get_int(d, "status.updatedReplicas", 0);
	int64_t total = korch_object_get_int(d, "status.replicas", 0);
	int64_t avail = korch_object_get_int(d, "status.availableReplicas", 0);
	if (seen < gen)
		snprintf(msg, len, "Waiting for deployment spec update to be observed...");
	else if (updated < want)
		snprintf(msg, len,
			 "Waiting for deployment \"%s\" rollout to finish: %lld out of %lld new "
			 "replicas have been updated...",
			 name, (long long)updated, (long long)want);
	else if (total > updated)
		snprintf(msg, len,
			 "Waiting for deployment \"%s\" rollout to finish: %lld old replicas are "
			 "pending termination...",
			 name, (long long)(total - updated));
	else if (avail < updated)
		snprintf(msg, len,
			 "Waiting for deployment \"%s\" rollout to finish: %lld of %lld updated "
			 "replicas are available...",
			 name, (long long)avail, (long long)updated);
	else
		return snprintf(msg, len, "deployment \"%s\" successfully rolled out", name), true;
	return false;
}

/* The ReplicaSets a Deployment owns, with their revisions (deployment.kubernetes.io/revision). */
struct revisions {
	korch_object *list;   /* the namespace's ReplicaSets */
	korch_object *rs[64]; /* the Deployment's, borrowed from list, by rising revision */
	long long rev[64];    /* their revisions */
	size_t n;             /* how many */
};

static int
revisions_of(korch_client *client, const char *ns, korch_object *d, struct revisions *ret,
	     korch_error **err)
{
	*ret = (struct revisions){ 0 };
	int r = korch_client_list(client, "replicasets", ns, NULL, &ret->list, err);
	if (r < 0)
		return r;
	const char *uid = korch_object_get_string(d, "metadata.uid");
	for (size_t i = 0; i < korch_object_count(ret->list) && ret->n < 64; i++) {
		korch_object *rs = korch_object_at(ret->list, i);
		korch_object *owners = korch_object_get(rs, "metadata.ownerReferences");
		bool owned = false;
		for (size_t k = 0; k < korch_object_count(owners); k++)
			owned |= uid &&
				 strcmp(korch_object_get_string(korch_object_at(owners, k), "uid")
						?: "",
					uid) == 0;
		const char *rev = korch_object_annotation(rs, "deployment.kubernetes.io/revision");
		if (!owned || !rev)
			continue;
		long long v = strtoll(rev, NULL, 10);
		size_t at = ret->n++;
		while (at > 0 && ret->rev[at - 1] > v) {
			ret->rs[at] = ret->rs[at - 1];
			ret->rev[at] = ret->rev[at - 1];
			at--;
		}
		ret->rs[at] = rs;
		ret->rev[at] = v;
	}
	return 0;
}

/* rollout history: the revisions; rollout undo: the template of the one before (or --to-revision). */
static int
rollout_history_undo(korch_client *client, const char *ns, const char *name, bool undo,
		     long long to_revision)
{
	korch_object *d = NULL, *patch = NULL;
	korch_error *err = NULL;
	struct revisions rv = { 0 };
	int rc = 0;
	if (korch_client_get(client, "deployments", ns, name, &d, &err) < 0 ||
	    revisions_of(client, ns, d, &rv, &err) < 0) {
		ctl_error(err, NULL);
		rc = 1;
		goto out;
	}
	if (!undo) {
		printf("deployment.apps/%s \nREVISION  CHANGE-CAUSE\n", name);
		for (size_t i = 0; i < rv.n; i++) {
			const char *cause =
				korch_object_annotation(rv.rs[i], "kubernetes.io/change-cause");
			printf("%-9lld %s\n", rv.rev[i], cause ? cause : "<none>");
		}
		printf("\n");
		goto out;
	}
	korch_object *target = NULL;
	for (size_t i = 0; i < rv.n; i++)
		if (to_revision > 0 ? rv.rev[i] == to_revision : i + 2 == rv.n)
			target = rv.rs[i];
	if (!target) {
		if (to_revision > 0)
			fprintf(stderr,
				"error: unable to find specified revision %lld in history\n",
				to_revision);
		else
			fprintf(stderr, "error: no rollout history found for deployment \"%s\"\n",
				name);
		rc = 1;
		goto out;
	}
	/* The ReplicaSet's template without the pod-template-hash label the controller added. */
	char *tmpl = NULL;
	korch_object *t = korch_object_get(target, "spec.template");
	korch_object *copy = NULL;
	if (korch_object_copy(t, &copy, &err) < 0 ||
	    korch_object_to_text(copy, KORCH_TEXT_JSON, &tmpl, &err) < 0) {
		korch_object_free(copy);
		ctl_error(err, NULL);
		rc = 1;
		goto out;
	}
	korch_object_free(copy);
	char *text = NULL;
	if (asprintf(&text,
		     "[{\"op\":\"replace\",\"path\":\"/spec/template\",\"value\":%s},"
		     "{\"op\":\"remove\",\"path\":\"/spec/template/metadata/labels/"
		     "pod-template-hash\"}]",
		     tmpl) < 0)
		text = NULL;
	free(tmpl);
	korch_write_options wo = KORCH_WRITE_OPTIONS_INIT;
	wo.field_manager = "korchctl-rollout";
	if (!text || korch_object_parse_json(text, strlen(text), &patch, &err) < 0 ||
	    korch_client_patch(client, "deployments", ns, name, KORCH_PATCH_JSON, patch, &wo, NULL,
			       &err) < 0) {
		ctl_error(err, NULL);
		rc = 1;
	} else {
		printf("deployment.apps/%s rolled back\n", name);
	}
	free(text);
out:
	korch_error_free(err);
	korch_object_free(patch);
	korch_object_free(rv.list);
	korch_object_free(d);
	return rc;
}

int
cmd_rollout(struct ctl *ctl, int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : NULL;
	if (!verb || (strcmp(verb, "status") != 0 && strcmp(verb, "restart") != 0 &&
		      strcmp(verb, "history") != 0 && strcmp(verb, "undo") != 0)) {
		fprintf(stderr, "error: expected rollout status|history|undo|restart KIND/NAME\n");
		return 1;
	}
	argc--;
	argv++;
	static const struct option longopts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "to-revision", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	long timeout_s = 600;
	long long to_revision = 0;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 't')
			timeout_s = strtol(optarg, NULL, 10);
		else if (c == 'r')
			to_revision = strtoll(optarg, NULL, 10);
		else
			return 1;
	}
	const korch_resource *r;
	const char *name;
	if (kind_and_name(argc, argv, &r, &name) < 0)
		return 1;
	if (strcmp(korch_resource_kind(r), "Deployment") != 0) {
		fprintf(stderr, "error: rollout is supported for deployments only in korchctl\n");
		return 1;
	}
	korch_client *client = ctl_client(ctl);
	if (!client)
		return 1;
	const char *ns = ctl_namespace(ctl);
	if (strcmp(verb, "history") == 0 || strcmp(verb, "undo") == 0)
		return rollout_history_undo(client, ns, name, strcmp(verb, "undo") == 0,
					    to_revision);
	korch_error *err = NULL;
	int rc = 0;
	if (strcmp(verb, "restart") == 0) {
		char now[32], text[256];
		time_t t = time(NULL);
		strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
		snprintf(text, sizeof(text),
			 "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{"
			 "\"kubectl.kubernetes.io/restartedAt\":\"%s\"}}}}}",
			 now);
		korch_object *patch = NULL;
		korch_write_options wo = KORCH_WRITE_OPTIONS_INIT;
		wo.field_manager = "korchctl-rollout";
		if (korch_object_parse_json(text, strlen(text), &patch, &err) < 0 ||
		    korch_client_patch(client, "deployments", ns, name, KORCH_PATCH_STRATEGIC,
				       patch, &wo, NULL, &err) < 0) {
			ctl_error(err, NULL);
			rc = 1;
		} else {
			printf("deployment.apps/%s restarted\n", name);
		}
		korch_object_free(patch);
		korch_error_free(err);
		return rc;
	}
	char msg[256], last[256] = "";
	time_t end = time(NULL) + timeout_s;
	for (;;) {
		korch_object *d = NULL;
		if (korch_client_get(client, "deployments", ns, name, &d, &err) < 0) {
			ctl_error(err, NULL);
			korch_error_free(err);
			return 1;
		}
		bool done = rollout_done(d, msg, sizeof(msg));
		korch_object_free(d);
		if (done || strcmp(msg, last) != 0)
			printf("%s\n", msg);
		fflush(stdout);
		if (done)
			return 0;
		snprintf(last, sizeof(last), "%s", msg);
		if (time(NULL) >= end) {
			fprintf(stderr, "error: timed out waiting for the condition\n");
			return 1;
		}
		usleep(250 * 1000);
	}
}

/* ---- top ---- */

int
cmd_top(struct ctl *ctl, int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : NULL;
	bool pods = what && (strcmp(what, "pods") == 0 || strcmp(what, "pod") == 0 ||
			     strcmp(what, "po") == 0);
	bool nodes = what && (strcmp(what, "nodes") == 0 || strcmp(what, "node") == 0 ||
			      strcmp(what, "no") == 0);
	if (!pods && !nodes) {
		fprintf(stderr, "error: expected top pods|nodes\n");
		return 1;
	}
	korch_client *client = ctl_client(ctl);
	if (!client)
		return 1;
	char path[300];
	if (pods && !ctl->all_namespaces)
		snprintf(path, sizeof(path), "/apis/metrics.k8s.io/v1beta1/namespaces/%s/pods",
			 ctl_namespace(ctl));
	else
		snprintf(path, sizeof(path), "/apis/metrics.k8s.io/v1beta1/%s",
			 pods ? "pods" : "nodes");
	korch_object *list = NULL;
	korch_error *err = NULL;
	if (korch_client_request(client, "GET", path, NULL, &list, &err) < 0) {
		ctl_error(err, NULL);
		korch_error_free(err);
		return 1;
	}
	korch_object *items = korch_object_get(list, "items");
	if (pods && ctl->all_namespaces)
		printf("%-16s %-40s %-11s %s\n", "NAMESPACE", "NAME", "CPU(cores)",
		       "MEMORY(bytes)");
	else
		printf("%-40s %-11s %s\n", "NAME", "CPU(cores)", "MEMORY(bytes)");
	for (size_t i = 0; i < korch_object_count(items); i++) {
		korch_object *it = korch_object_at(items, i);
		/* Nanocores and KiB summed over the containers, printed as kubectl does. */
		long long cpu_n = 0, mem_k = 0;
		korch_object *ctrs = korch_object_get(it, "containers");
		size_t n = pods ? korch_object_count(ctrs) : 1;
		for (size_t k = 0; k < n; k++) {
			korch_object *u = pods ? korch_object_get(korch_object_at(ctrs, k), "usage")
					       : korch_object_get(it, "usage");
			const char *cs = korch_object_get_string(u, "cpu");
			const char *ms = korch_object_get_string(u, "memory");
			cpu_n += cs ? strtoll(cs, NULL, 10) : 0;
			mem_k += ms ? strtoll(ms, NULL, 10) : 0;
		}
		char cpu[32], mem[32];
		snprintf(cpu, sizeof(cpu), "%lldm", cpu_n / 1000000);
		snprintf(mem, sizeof(mem), "%lldMi", mem_k / 1024);
		if (pods && ctl->all_namespaces)
			printf("%-16s %-40s %-11s %s\n",
			       korch_object_get_string(it, "metadata.namespace"),
			       korch_object_get_string(it, "metadata.name"), cpu, mem);
		else
			printf("%-40s %-11s %s\n", korch_object_get_string(it, "metadata.name"),
			       cpu, mem);
	}
	korch_object_free(list);
	return 0;
}

/* ---- create token ---- */

int
cmd_create(struct ctl *ctl, int argc, char **argv)
{
	if (argc < 3 || strcmp(argv[1], "token") != 0) {
		fprintf(stderr,
			"error: expected create token SERVICEACCOUNT [--duration=SECONDS]\n");
		return 1;
	}
	long long duration = 0;
	for (int i = 3; i < argc; i++)
		if (strncmp(argv[i], "--duration=", 11) == 0)
			duration = strtoll(argv[i] + 11, NULL, 10);
	korch_client *client = ctl_client(ctl);
	if (!client)
		return 1;
	char path[400], body[200];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/serviceaccounts/%s/token",
		 ctl_namespace(ctl), argv[2]);
	if (duration > 0)
		snprintf(body, sizeof(body),
			 "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\","
			 "\"spec\":{\"expirationSeconds\":%lld}}",
			 duration);
	else
		snprintf(body, sizeof(body),
			 "{\"apiVersion\":\"authentication.k8s.io/v1\","
			 "\"kind\":\"TokenRequest\",\"spec\":{}}");
	korch_object *req = NULL, *out = NULL;
	korch_error *err = NULL;
	int rc = 0;
	if (korch_object_parse_json(body, strlen(body), &req, &err) < 0 ||
	    korch_client_request(client, "POST", path, req, &out, &err) < 0) {
		ctl_error(err, NULL);
		rc = 1;
	} else {
		printf("%s\n", korch_object_get_string(out, "status.token"));
	}
	korch_error_free(err);
	korch_object_free(req);
	korch_object_free(out);
	return rc;
}
