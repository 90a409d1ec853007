/*
 * cmd_misc.c - korchctl delete, patch, api-resources, version and state backup/restore.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "korchctl.h"

/* ---- delete ---- */

static const char delete_usage[] =
	"Usage: korchctl delete KIND NAME... | KIND/NAME... | -f FILE|DIR|- [-R] [-l SELECTOR]\n"
	"                       [--all] [--grace-period=SECONDS] [--now] [--cascade=background|foreground|orphan]\n";

static int
delete_one(korch_client *client, const korch_resource *r, const char *ns, const char *name,
	   const korch_delete_options *o)
{
	korch_error *err = NULL;
	char type[128];
	ctl_type_name(r, type, sizeof(type));
	if (korch_client_delete(client, korch_resource_plural(r), ns, name, o, NULL, &err) < 0) {
		fprintf(stderr, "Error from server (%s): %s\n",
			korch_error_code(err) == KORCH_ENOTFOUND ? "NotFound" : "Error",
			korch_error_message(err));
		korch_error_free(err);
		return 1;
	}
	printf("%s \"%s\" deleted\n", type, name);
	return 0;
}

int
cmd_delete(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "filename", required_argument, NULL, 'f' },
		{ "recursive", no_argument, NULL, 'R' },
		{ "selector", required_argument, NULL, 'l' },
		{ "all", no_argument, NULL, 'a' },
		{ "grace-period", required_argument, NULL, 'g' },
		{ "now", no_argument, NULL, 'N' },
		{ "cascade", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *files[64];
	size_t n_files = 0;
	bool recursive = false, all = false;
	const char *selector = NULL;
	korch_delete_options o = KORCH_DELETE_OPTIONS_INIT;
	int c;
	while ((c = getopt_long(argc, argv, "f:Rl:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (n_files < 64)
				files[n_files++] = optarg;
			break;
		case 'R': recursive = true; break;
		case 'l': selector = optarg; break;
		case 'a': all = true; break;
		case 'g': o.grace_period_s = strtoll(optarg, NULL, 10); break;
		case 'N': o.grace_period_s = 1; break;
		case 'c':
			if (strcmp(optarg, "background") == 0 || strcmp(optarg, "true") == 0)
				o.propagation = KORCH_PROPAGATION_BACKGROUND;
			else if (strcmp(optarg, "foreground") == 0)
				o.propagation = KORCH_PROPAGATION_FOREGROUND;
			else if (strcmp(optarg, "orphan") == 0 || strcmp(optarg, "false") == 0)
				o.propagation = KORCH_PROPAGATION_ORPHAN;
			else {
				fprintf(stderr, "error: invalid --cascade value \"%s\"\n", optarg);
				return 1;
			}
			break;
		case 'h': fputs(delete_usage, stdout); return 0;
		default: fputs(delete_usage, stderr); return 1;
		}
	}
	korch_client *client = NULL;
	int rc = 0;
	if (n_files) {
		struct manifests m;
		if (ctl_read_manifests(files, n_files, recursive, &m) < 0 ||
		    !(client = ctl_client(ctl)))
			return 1;
		for (size_t i = 0; i < m.n; i++) {
			const korch_resource *r = korch_resource_for_kind(
				korch_object_api_version(m.docs[i]), korch_object_kind(m.docs[i]));
			if (!r) {
				fprintf(stderr,
					"error: no matches for kind \"%s\" in version \"%s\"\n",
					korch_object_kind(m.docs[i]) ?: "",
					korch_object_api_version(m.docs[i]) ?: "");
				rc = 1;
				continue;
			}
			const char *ns = korch_object_namespace(m.docs[i]);
			rc |= delete_one(client, r, ns ? ns : ctl_namespace(ctl),
					 korch_object_name(m.docs[i]), &o);
		}
		manifests_free(&m);
		return rc;
	}
	if (optind >= argc) {
		fprintf(stderr,
			"error: You must provide one or more resources by argument or filename.\n");
		return 1;
	}
	if (!(client = ctl_client(ctl)))
		return 1;
	if (strchr(argv[optind], '/')) {
		for (int i = optind; i < argc; i++) {
			char *slash = strchr(argv[i], '/');
			const korch_resource *r = NULL;
			if (slash) {
				*slash = '\0';
				r = korch_resource_lookup(argv[i]);
			}
			if (!r) {
				fprintf(stderr,
					"error: the server doesn't have a resource type \"%s\"\n",
					argv[i]);
				rc = 1;
				continue;
			}
			rc |= delete_one(client, r, ctl_namespace(ctl), slash + 1, &o);
		}
		return rc;
	}
	const korch_resource *r = korch_resource_lookup(argv[optind]);
	if (!r) {
		fprintf(stderr, "error: the server doesn't have a resource type \"%s\"\n",
			argv[optind]);
		return 1;
	}
	const char *ns = korch_resource_namespaced(r) ? ctl_namespace(ctl) : NULL;
	if (optind + 1 < argc) {
		for (int i = optind + 1; i < argc; i++)
			rc |= delete_one(client, r, ns, argv[i], &o);
		return rc;
	}
	if (!all && !selector) {
		fprintf(stderr, "error: resource(s) were provided, but no name was specified\n");
		return 1;
	}
	korch_list_options lo = KORCH_LIST_OPTIONS_INIT;
	lo.label_selector = selector;
	korch_object *list = NULL;
	korch_error *err = NULL;
	if (korch_client_list(client, korch_resource_plural(r), ns, &lo, &list, &err) < 0) {
		ctl_error(err, NULL);
		korch_error_free(err);
		return 1;
	}
	if (korch_object_count(list) == 0)
		printf("No resources found\n");
	for (size_t i = 0; i < korch_object_count(list); i++)
		rc |= delete_one(client, r, korch_object_namespace(korch_object_at(list, i)),
				 korch_object_name(korch_object_at(list, i)), &o);
	korch_object_free(list);
	return rc;
}

/* ---- patch ---- */

int
cmd_patch(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "patch", required_argument, NULL, 'p' },
		{ "type", required_argument, NULL, 't' },
		{ "subresource", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *patch_text = NULL;
	int type = KORCH_PATCH_STRATEGIC;
	int c;
	while ((c = getopt_long(argc, argv, "p:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p': patch_text = optarg; break;
		case 't':
			if (strcmp(optarg, "strategic") == 0)
				type = KORCH_PATCH_STRATEGIC;
			else if (strcmp(optarg, "merge") == 0)
				type = KORCH_PATCH_MERGE;
			else if (strcmp(optarg, "json") == 0)
				type = KORCH_PATCH_JSON;
			else {
				fprintf(stderr,
					"error: --type must be one of [json merge strategic], not \"%s\"\n",
					optarg);
				return 1;
			}
			break;
		case 'h':
			puts("Usage: korchctl patch KIND NAME -p PATCH [--type strategic|merge|json]");
			return 0;
		default: return 1;
		}
	}
	const char *kind = optind < argc ? argv[optind] : NULL;
	const char *name = optind + 1 < argc ? argv[optind + 1] : NULL;
	char *slash = kind ? strchr(kind, '/') : NULL;
	if (slash && !name) {
		*slash = '\0';
		name = slash + 1;
	}
	if (!kind || !name || !patch_text) {
		fprintf(stderr, "error: must specify KIND NAME and -p PATCH\n");
		return 1;
	}
	const korch_resource *r = korch_resource_lookup(kind);
	if (!r) {
		fprintf(stderr, "error: the server doesn't have a resource type \"%s\"\n", kind);
		return 1;
	}
	korch_client *client = ctl_client(ctl);
	if (!client)
		return 1;
	korch_object *patch = NULL, *before = NULL, *after = NULL;
	korch_error *err = NULL;
	const char *ns = korch_resource_namespaced(r) ? ctl_namespace(ctl) : NULL;
	korch_write_options wo = KORCH_WRITE_OPTIONS_INIT;
	wo.field_manager = "korchctl-patch";
	int rc = 0;
	if (korch_object_parse_json(patch_text, strlen(patch_text), &patch, &err) < 0 ||
	    korch_client_get(client, korch_resource_plural(r), ns, name, &before, &err) < 0 ||
	    korch_client_patch(client, korch_resource_plural(r), ns, name, type, patch, &wo, &after,
			       &err) < 0) {
		ctl_error(err, NULL);
		rc = 1;
	} else {
		char type_name[128];
		ctl_type_name(r, type_name, sizeof(type_name));
		const char *rv0 = korch_object_get_string(before, "metadata.resourceVersion");
		const char *rv1 = korch_object_get_string(after, "metadata.resourceVersion");
		printf("%s/%s %s\n", type_name, name,
		       rv0 && rv1 && strcmp(rv0, rv1) == 0 ? "patched (no change)" : "patched");
	}
	korch_error_free(err);
	korch_object_free(patch);
	korch_object_free(before);
	korch_object_free(after);
	return rc;
}

/* ---- api-resources ---- */

int
cmd_api_resources(struct ctl *ctl, int argc, char **argv)
{
	(void)ctl;
	bool no_headers = argc > 1 && strcmp(argv[1], "--no-headers") == 0;
	/* kubectl api-resources' columns, padded as its tabwriter pads them. */
	size_t w[4] = { strlen("NAME"), strlen("SHORTNAMES"), strlen("APIVERSION"),
			strlen("NAMESPACED") };
	size_t n = korch_resource_count();
	char shorts[64][128], versions[64][96];
	for (size_t i = 0; i < n && i < 64; i++) {
		const korch_resource *r = korch_resource_at(i);
		shorts[i][0] = '\0';
		for (size_t k = 0; korch_resource_short_name(r, k); k++)
			snprintf(shorts[i] + strlen(shorts[i]),
				 sizeof(shorts[i]) - strlen(shorts[i]), "%s%s", k ? "," : "",
				 korch_resource_short_name(r, k));
		const char *group = korch_resource_group(r);
		snprintf(versions[i], sizeof(versions[i]), "%s%s%s", group, *group ? "/" : "",
			 korch_resource_version(r));
		w[0] = strlen(korch_resource_plural(r)) > w[0] ? strlen(korch_resource_plural(r))
							       : w[0];
		w[1] = strlen(shorts[i]) > w[1] ? strlen(shorts[i]) : w[1];
		w[2] = strlen(versions[i]) > w[2] ? strlen(versions[i]) : w[2];
	}
	if (!no_headers)
		printf("%-*s   %-*s   %-*s   %-*s   %s\n", (int)w[0], "NAME", (int)w[1],
		       "SHORTNAMES", (int)w[2], "APIVERSION", (int)w[3], "NAMESPACED", "KIND");
	for (size_t i = 0; i < n && i < 64; i++) {
		const korch_resource *r = korch_resource_at(i);
		printf("%-*s   %-*s   %-*s   %-*s   %s\n", (int)w[0], korch_resource_plural(r),
		       (int)w[1], shorts[i], (int)w[2], versions[i], (int)w[3],
		       korch_resource_namespaced(r) ? "true" : "false", korch_resource_kind(r));
	}
	return 0;
}

/* ---- version ---- */

int
cmd_version(struct ctl *ctl, int argc, char **argv)
{
	(void)ctl;
	(void)argc;
	(void)argv;
	printf("korchctl version %s\n", korch_version());
	printf("libkorch version %s\n", korch_version());
	printf("Kubernetes API version v1.32\n");
	return 0;
}

/* ---- state ---- */

int
cmd_state(struct ctl *ctl, int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[1], "backup") != 0 && strcmp(argv[1], "restore") != 0)) {
		fputs("Usage: korchctl state backup FILE | korchctl state restore FILE\n", stderr);
		return 1;
	}
	korch_error *err = NULL;
	if (strcmp(argv[1], "backup") == 0) {
		korch_client *client = ctl_client(ctl);
		if (!client)
			return 1;
		if (korch_client_backup(client, argv[2], &err) < 0) {
			ctl_error(err, "backup to %s", argv[2]);
			korch_error_free(err);
			return 1;
		}
		printf("state backed up to %s\n", argv[2]);
		return 0;
	}
	if (!ctl->state || !*ctl->state) {
		ctl_error(NULL, "no state to restore into: pass --state FILE or set KORCH_STATE");
		return 1;
	}
	if (korch_state_restore(ctl->state, argv[2], &err) < 0) {
		ctl_error(err, "restore from %s", argv[2]);
		korch_error_free(err);
		return 1;
	}
	printf("state restored from %s\n", argv[2]);
	return 0;
}
