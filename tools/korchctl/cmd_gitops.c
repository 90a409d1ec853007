/*
 * cmd_gitops.c - korchctl gitops add|sync|status|suspend|resume|diff: GitRepository objects
 * (gitops.korch.io/v1) and their syncs, over libkorch's public API. A sync and a diff run in
 * this process against the state file (korch_gitops_sync(), korch_gitops_diff()); the git
 * caches go to DATA_DIR/gitops (--data-dir, else the state file's folder).
 */
#include <ctype.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "korchctl.h"

static const char gitops_usage[] =
	"Usage: korchctl gitops add NAME --url URL [--ref REF | --branch B | --tag T | --commit SHA]\n"
	"                          [--path DIR] [--interval DURATION] [--secret NAME]\n"
	"                          [--target-namespace NS] [--no-prune] [--suspend]\n"
	"       korchctl gitops sync NAME       sync now and wait for the result\n"
	"       korchctl gitops status [NAME]   commit, age, objects and health\n"
	"       korchctl gitops suspend NAME    stop syncing\n"
	"       korchctl gitops resume NAME     sync again\n"
	"       korchctl gitops diff NAME       what a sync would change (exit 1 when anything)\n";

static const char *const resource = "gitrepositories.gitops.korch.io";
static const char *const type_name = "gitrepository.gitops.korch.io";

/* Appends s as a JSON string literal. */
static void
put_json_string(char *buf, size_t len, const char *s)
{
	size_t n = strlen(buf);
	if (n + 1 < len)
		buf[n++] = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p && n + 7 < len; p++) {
		if (*p == '"' || *p == '\\') {
			buf[n++] = '\\';
			buf[n++] = (char)*p;
		} else if (*p < 0x20) {
			n += (size_t)snprintf(buf + n, len - n, "\\u%04x", *p);
		} else {
			buf[n++] = (char)*p;
		}
	}
	if (n + 1 < len)
		buf[n++] = '"';
	buf[n] = '\0';
}

static void
put_field(char *buf, size_t len, const char *key, const char *value)
{
	size_t n = strlen(buf);
	snprintf(buf + n, len - n, "%s\"%s\":", buf[n - 1] == '{' ? "" : ",", key);
	put_json_string(buf, len, value);
}

static bool
is_sha(const char *s)
{
	if (strlen(s) != 40)
		return false;
	for (; *s; s++)
		if (!isxdigit((unsigned char)*s))
			return false;
	return true;
}

/* --ref REF: a full SHA is a commit, refs/tags/X a tag, refs/heads/X or anything else a branch. */
static void
ref_kind(const char *ref, const char **ret_field, const char **ret_value)
{
	if (is_sha(ref)) {
		*ret_field = "commit";
		*ret_value = ref;
	} else if (strncmp(ref, "refs/tags/", 10) == 0) {
		*ret_field = "tag";
		*ret_value = ref + 10;
	} else {
		*ret_field = "branch";
		*ret_value = strncmp(ref, "refs/heads/", 11) == 0 ? ref + 11 : ref;
	}
}

static int
cmd_add(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "ref", required_argument, NULL, 'r' },
		{ "branch", required_argument, NULL, 'b' },
		{ "tag", required_argument, NULL, 't' },
		{ "commit", required_argument, NULL, 'c' },
		{ "path", required_argument, NULL, 'p' },
		{ "interval", required_argument, NULL, 'i' },
		{ "secret", required_argument, NULL, 's' },
		{ "target-namespace", required_argument, NULL, 'T' },
		{ "no-prune", no_argument, NULL, 'P' },
		{ "suspend", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *url = NULL, *path = NULL, *interval = NULL, *secret = NULL, *target = NULL;
	const char *ref_field = "branch", *ref_value = "main";
	bool no_prune = false, suspend = false;
	int refs = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'u': url = optarg; break;
		case 'r':
			ref_kind(optarg, &ref_field, &ref_value);
			refs++;
			break;
		case 'b':
			ref_field = "branch";
			ref_value = optarg;
			refs++;
			break;
		case 't':
			ref_field = "tag";
			ref_value = optarg;
			refs++;
			break;
		case 'c':
			ref_field = "commit";
			ref_value = optarg;
			refs++;
			break;
		case 'p': path = optarg; break;
		case 'i': interval = optarg; break;
		case 's': secret = optarg; break;
		case 'T': target = optarg; break;
		case 'P': no_prune = true; break;
		case 'S': suspend = true; break;
		case 'h': fputs(gitops_usage, stdout); return 0;
		default: fputs(gitops_usage, stderr); return 1;
		}
	}
	if (optind + 1 != argc || !url) {
		fprintf(stderr, "error: gitops add needs a NAME and --url URL\n");
		return 1;
	}
	if (refs > 1) {
		fprintf(stderr, "error: give one of --ref, --branch, --tag and --commit\n");
		return 1;
	}
	const char *name = argv[optind];
	char text[8192] = "{";
	put_field(text, sizeof(text), "apiVersion", "gitops.korch.io/v1");
	put_field(text, sizeof(text), "kind", "GitRepository");
	strcat(text, ",\"metadata\":{");
	put_field(text, sizeof(text), "name", name);
	put_field(text, sizeof(text), "namespace", ctl_namespace(ctl));
	strcat(text, "},\"spec\":{");
	put_field(text, sizeof(text), "url", url);
	strcat(text, ",\"ref\":{");
	put_field(text, sizeof(text), ref_field, ref_value);
	strcat(text, "}");
	if (path)
		put_field(text, sizeof(text), "path", path);
	if (interval)
		put_field(text, sizeof(text), "interval", interval);
	if (target)
		put_field(text, sizeof(text), "targetNamespace", target);
	if (secret) {
		strcat(text, ",\"secretRef\":{");
		put_field(text, sizeof(text), "name", secret);
		strcat(text, "}");
	}
	size_t n = strlen(text);
	snprintf(text + n, sizeof(text) - n, ",\"prune\":%s,\"suspend\":%s}}",
		 no_prune ? "false" : "true", suspend ? "true" : "false");
	korch_client *client = ctl_client(ctl);
	if (!client)
		return 1;
	korch_object *obj = NULL;
	korch_error *err = NULL;
	korch_write_options wo = KORCH_WRITE_OPTIONS_INIT;
	wo.field_manager = "korchctl";
	int result = 0;
	if (korch_object_parse_json(text, strlen(text), &obj, &err) < 0 ||
	    korch_client_apply(client, obj, &wo, NULL, &result, &err) < 0) {
		ctl_error(err, NULL);
		korch_error_free(err);
		korch_object_free(obj);
		return 1;
	}
	korch_object_free(obj);
	static const char *const words[] = { "created", "configured", "unchanged" };
	printf("%s/%s %s\n", type_name, name, words[result]);
	return 0;
}

static korch_gitops_options
gitops_options(const struct ctl *ctl)
{
	korch_gitops_options o = KORCH_GITOPS_OPTIONS_INIT;
	o.data_dir = ctl->data_dir;
	return o;
}

/* The condition of type in obj's status, or NULL (borrowed). */
static korch_object *
condition(korch_object *obj, const char *type)
{
	korch_object *list = korch_object_get(obj, "status.conditions");
	for (size_t i = 0; i < korch_object_count(list); i++) {
		korch_object *c = korch_object_at(list, i);
		const char *t = korch_object_get_string(c, "type");
		if (t && strcmp(t, type) == 0)
			return c;
	}
	return NULL;
}

static const char *
str_or(const char *s, const char *fallback)
{
	return s && *s ? s : fallback;
}

static int
cmd_sync(struct ctl *ctl, int argc, char **argv)
{
	if (argc != 2) {
		fputs(gitops_usage, stderr);
		return 1;
	}
	korch_client *client = ctl_client(ctl);
	if (!client)
		return 1;
	korch_gitops_options o = gitops_options(ctl);
	korch_object *repo = NULL;
	korch_error *err = NULL;
	if (korch_gitops_sync(client, ctl_namespace(ctl), argv[1], &o, &repo, &err) < 0) {
		ctl_error(err, NULL);
		korch_error_free(err);
		return 1;
	}
	korch_object *ready = condition(repo, "Ready");
	printf("%s/%s synced: %s\n", type_name, argv[1],
	       str_or(korch_object_get_string(ready, "message"), "no status"));
	korch_object_free(repo);
	return 0;
}

/* Kubernetes' human durations ("45s", "3m20s", "5h", "3d4h"), for ages. */
static void
human_age(const char *stamp, char *buf, size_t len)
{
	struct tm tm = { 0 };
	const char *end = stamp ? strptime(stamp, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	if (!end) {
		snprintf(buf, len, "-");
		return;
	}
	long long s = (long long)(time(NULL) - timegm(&tm));
	if (s < 0)
		s = 0;
	long long m = s / 60, h = s / 3600, d = h / 24;
	if (s < 120)
		snprintf(buf, len, "%llds", s);
	else if (m < 10 && s % 60)
		snprintf(buf, len, "%lldm%llds", m, s % 60);
	else if (m < 180)
		snprintf(buf, len, "%lldm", m);
	else if (h < 8 && m % 60)
		snprintf(buf, len, "%lldh%lldm", h, m % 60);
	else if (h < 48)
		snprintf(buf, len, "%lldh", h);
	else if (h < 24 * 8 && h % 24)
		snprintf(buf, len, "%lldd%lldh", d, h % 24);
	else
		snprintf(buf, len, "%lldd", d);
}

/* The workloads' health as the Healthy condition says it ("-" before anything was applied). */
static const char *
health_word(korch_object *repo)
{
	korch_object *healthy = condition(repo, "Healthy");
	return str_or(korch_object_get_string(healthy, "reason"), "-");
}

static void
print_detail(korch_object *repo)
{
	char age[32];
	const char *commit = korch_object_get_string(repo, "status.lastAppliedCommit");
	human_age(korch_object_get_string(repo, "status.lastAppliedTime"), age, sizeof(age));
	const char *ref_field = "branch", *ref = korch_object_get_string(repo, "spec.ref.branch");
	if (!ref && (ref = korch_object_get_string(repo, "spec.ref.tag")))
		ref_field = "tag";
	if (!ref && (ref = korch_object_get_string(repo, "spec.ref.commit")))
		ref_field = "commit";
	korch_object *suspend = korch_object_get(repo, "spec.suspend");
	char *suspended = NULL;
	if (suspend)
		korch_object_to_text(suspend, KORCH_TEXT_JSON, &suspended, NULL);
	printf("Name:         %s\n", korch_object_name(repo));
	printf("Namespace:    %s\n", korch_object_namespace(repo));
	printf("URL:          %s\n", str_or(korch_object_get_string(repo, "spec.url"), ""));
	printf("Ref:          %s %s\n", ref_field, str_or(ref, "main"));
	printf("Path:         %s\n", str_or(korch_object_get_string(repo, "spec.path"), "/"));
	printf("Interval:     %s\n", str_or(korch_object_get_string(repo, "spec.interval"), "1m"));
	printf("Suspended:    %s\n", suspended ? suspended : "false");
	free(suspended);
	printf("Commit:       %s", str_or(commit, "<none>"));
	if (commit)
		printf(" (applied %s ago)", age);
	printf("\nAttempted:    %s\n",
	       str_or(korch_object_get_string(repo, "status.lastAttemptedCommit"), "<none>"));
	static const char *const types[] = { "Ready", "Healthy", "Reconciling" };
	static const char *const labels[] = { "Ready:", "Health:", "Reconciling:" };
	for (size_t i = 0; i < 3; i++) {
		korch_object *c = condition(repo, types[i]);
		if (c)
			printf("%-13s %s %s: %s\n", labels[i],
			       str_or(korch_object_get_string(c, "status"), "?"),
			       str_or(korch_object_get_string(c, "reason"), "?"),
			       str_or(korch_object_get_string(c, "message"), ""));
	}
	korch_object *inv = korch_object_get(repo, "status.inventory");
	printf("Objects:      %zu\n", korch_object_count(inv));
	for (size_t i = 0; i < korch_object_count(inv); i++) {
		korch_object *e = korch_object_at(inv, i);
		const char *ns = korch_object_get_string(e, "namespace");
		printf("  %s %s %s%s%s\n", korch_object_get_string(e, "apiVersion"),
		       korch_object_get_string(e, "kind"), ns ? ns : "", ns ? "/" : "",
		       korch_object_get_string(e, "name"));
	}
}

static int
cmd_status(struct ctl *ctl, int argc, char **argv)
{
	if (argc > 2) {
		fputs(gitops_usage, stderr);
		return 1;
	}
	korch_client *client = ctl_client(ctl);
	if (!client)
		return 1;
	korch_error *err = NULL;
	if (argc == 2) {
		korch_object *repo = NULL;
		if (korch_client_get(client, resource, ctl_namespace(ctl), argv[1], &repo, &err) <
		    0) {
			ctl_error(err, NULL);
			korch_error_free(err);
			return 1;
		}
		print_detail(repo);
		korch_object_free(repo);
		return 0;
	}
	korch_object *list = NULL;
	if (korch_client_list(client, resource, ctl->all_namespaces ? NULL : ctl_namespace(ctl),
			      NULL, &list, &err) < 0) {
		ctl_error(err, NULL);
		korch_error_free(err);
		return 1;
	}
	size_t n = korch_object_count(list);
	if (n == 0) {
		if (ctl->all_namespaces)
			fprintf(stderr, "No resources found\n");
		else
			fprintf(stderr, "No resources found in %s namespace.\n",
				ctl_namespace(ctl));
		korch_object_free(list);
		return 0;
	}
	int w_ns = 9, w_name = 4;
	for (size_t i = 0; i < n; i++) {
		korch_object *r = korch_object_at(list, i);
		int a = (int)strlen(korch_object_namespace(r)),
		    b = (int)strlen(korch_object_name(r));
		w_ns = a > w_ns ? a : w_ns;
		w_name = b > w_name ? b : w_name;
	}
	if (ctl->all_namespaces)
		printf("%-*s   ", w_ns, "NAMESPACE");
	printf("%-*s   %-12s   %-7s   %-7s   %-11s   %s\n", w_name, "NAME", "COMMIT", "AGE",
	       "OBJECTS", "HEALTH", "READY");
	for (size_t i = 0; i < n; i++) {
		korch_object *r = korch_object_at(list, i);
		const char *commit = korch_object_get_string(r, "status.lastAppliedCommit");
		char age[32];
		human_age(korch_object_get_string(r, "status.lastAppliedTime"), age, sizeof(age));
		korch_object *ready = condition(r, "Ready");
		if (ctl->all_namespaces)
			printf("%-*s   ", w_ns, korch_object_namespace(r));
		printf("%-*s   %-12.12s   %-7s   %-7zu   %-11s   %s\n", w_name,
		       korch_object_name(r), commit ? commit : "<none>", commit ? age : "-",
		       korch_object_count(korch_object_get(r, "status.inventory")), health_word(r),
		       str_or(korch_object_get_string(ready, "status"), "-"));
	}
	korch_object_free(list);
	return 0;
}

static int
cmd_suspend(struct ctl *ctl, int argc, char **argv, bool suspend)
{
	if (argc != 2) {
		fputs(gitops_usage, stderr);
		return 1;
	}
	korch_client *client = ctl_client(ctl);
	if (!client)
		return 1;
	const char *text =
		suspend ? "{\"spec\":{\"suspend\":true}}" : "{\"spec\":{\"suspend\":false}}";
	korch_object *patch = NULL;
	korch_error *err = NULL;
	korch_write_options wo = KORCH_WRITE_OPTIONS_INIT;
	wo.field_manager = "korchctl";
	if (korch_object_parse_json(text, strlen(text), &patch, &err) < 0 ||
	    korch_client_patch(client, resource, ctl_namespace(ctl), argv[1], KORCH_PATCH_MERGE,
			       patch, &wo, NULL, &err) < 0) {
		ctl_error(err, NULL);
		korch_error_free(err);
		korch_object_free(patch);
		return 1;
	}
	korch_object_free(patch);
	printf("%s/%s %s\n", type_name, argv[1], suspend ? "suspended" : "resumed");
	return 0;
}

static void
print_value(korch_object *v)
{
	char *text = NULL;
	if (!v || korch_object_to_text(v, KORCH_TEXT_JSON, &text, NULL) < 0) {
		fputs("<none>", stdout);
		return;
	}
	fputs(text, stdout);
	free(text);
}

static int
cmd_diff(struct ctl *ctl, int argc, char **argv)
{
	if (argc != 2) {
		fputs(gitops_usage, stderr);
		return 2;
	}
	korch_client *client = ctl_client(ctl);
	if (!client)
		return 2;
	korch_gitops_options o = gitops_options(ctl);
	korch_object *diff = NULL;
	korch_error *err = NULL;
	if (korch_gitops_diff(client, ctl_namespace(ctl), argv[1], &o, &diff, &err) < 0) {
		ctl_error(err, NULL);
		korch_error_free(err);
		return 2;
	}
	printf("revision %s\n", korch_object_get_string(diff, "revision"));
	korch_object *items = korch_object_get(diff, "items");
	for (size_t i = 0; i < korch_object_count(items); i++) {
		korch_object *it = korch_object_at(items, i);
		const char *action = korch_object_get_string(it, "action");
		const char *ns = korch_object_get_string(it, "namespace");
		const korch_resource *r =
			korch_resource_for_kind(korch_object_get_string(it, "apiVersion"),
						korch_object_get_string(it, "kind"));
		char type[128];
		if (r)
			ctl_type_name(r, type, sizeof(type));
		else
			snprintf(type, sizeof(type), "%s", korch_object_get_string(it, "kind"));
		char sign = strcmp(action, "create") == 0  ? '+'
			    : strcmp(action, "prune") == 0 ? '-'
							   : '~';
		printf("%c %s %s %s%s%s", sign, action, type, ns ? ns : "", ns ? "/" : "",
		       korch_object_get_string(it, "name"));
		const char *file = korch_object_get_string(it, "file");
		if (file)
			printf(" (%s:%lld)", file, (long long)korch_object_get_int(it, "line", 0));
		putchar('\n');
		korch_object *changes = korch_object_get(it, "changes");
		for (size_t j = 0; j < korch_object_count(changes); j++) {
			korch_object *ch = korch_object_at(changes, j);
			printf("    %s: ", korch_object_get_string(ch, "path"));
			print_value(korch_object_get(ch, "old"));
			fputs(" -> ", stdout);
			print_value(korch_object_get(ch, "new"));
			putchar('\n');
		}
	}
	printf("%lld unchanged\n", (long long)korch_object_get_int(diff, "unchanged", 0));
	int rc = korch_object_count(items) > 0 ? 1 : 0;
	korch_object_free(diff);
	return rc;
}

int
cmd_gitops(struct ctl *ctl, int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(gitops_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 1 : 0;
	}
	const char *sub = argv[1];
	if (strcmp(sub, "add") == 0)
		return cmd_add(ctl, argc - 1, argv + 1);
	if (strcmp(sub, "sync") == 0)
		return cmd_sync(ctl, argc - 1, argv + 1);
	if (strcmp(sub, "status") == 0)
		return cmd_status(ctl, argc - 1, argv + 1);
	if (strcmp(sub, "suspend") == 0 || strcmp(sub, "resume") == 0)
		return cmd_suspend(ctl, argc - 1, argv + 1, strcmp(sub, "suspend") == 0);
	if (strcmp(sub, "diff") == 0)
		return cmd_diff(ctl, argc - 1, argv + 1);
	fprintf(stderr, "error: unknown command \"%s\" for \"korchctl gitops\"\n", sub);
	return 1;
}
