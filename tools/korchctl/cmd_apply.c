/*
 * cmd_apply.c - korchctl apply: server-side apply of manifests with field manager korchctl,
 * keeping kubectl's last-applied-configuration annotation so users can switch to kubectl apply.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "korchctl.h"

static const char apply_usage[] =
	"Usage: korchctl apply -f FILE|DIR|- [-f ...] [-R] [--force-conflicts] [--dry-run=server]\n"
	"                      [--validate=strict|warn|ignore] [-n NAMESPACE]\n"
	"Creates or updates the objects of the manifests with server-side apply (field manager\n"
	"\"korchctl\") and prints what happened to each: created, configured or unchanged.\n";

#define LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"

/*
 * The configuration as applied, with the namespace filled in and the last-applied annotation
 * holding the configuration itself (without the annotation), as kubectl keeps it.
 */
static int
prepare(struct ctl *ctl, korch_object *doc, korch_object **ret)
{
	korch_error *err = NULL;
	korch_object *cfg = NULL;
	if (korch_object_copy(doc, &cfg, &err) < 0)
		goto fail;
	const korch_resource *res =
		korch_resource_for_kind(korch_object_api_version(cfg), korch_object_kind(cfg));
	if (res && korch_resource_namespaced(res)) {
		const char *ns = korch_object_namespace(cfg);
		if (ns && ctl->ns && strcmp(ns, ctl->ns) != 0) {
			fprintf(stderr,
				"error: the namespace from the provided object \"%s\" does not match "
				"the namespace \"%s\". You must pass '--namespace=%s' to perform this "
				"operation.\n",
				ns, ctl->ns, ns);
			korch_object_free(cfg);
			return -1;
		}
		if (!ns && korch_object_set_string(cfg, "metadata.namespace", ctl_namespace(ctl),
						   &err) < 0)
			goto fail;
	}
	char *json = NULL;
	if (korch_object_to_text(cfg, KORCH_TEXT_JSON, &json, &err) < 0)
		goto fail;
	size_t len = strlen(json);
	char *with_newline = malloc(len + 2);
	if (with_newline) {
		memcpy(with_newline, json, len);
		memcpy(with_newline + len, "\n", 2);
	}
	free(json);
	int r = with_newline ? korch_object_set_annotation(cfg, LAST_APPLIED, with_newline, &err)
			     : -1;
	free(with_newline);
	if (r < 0)
		goto fail;
	*ret = cfg;
	return 0;
fail:
	ctl_error(err, NULL);
	korch_error_free(err);
	korch_object_free(cfg);
	return -1;
}

int
cmd_apply(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "filename", required_argument, NULL, 'f' },
		{ "recursive", no_argument, NULL, 'R' },
		{ "force-conflicts", no_argument, NULL, 'F' },
		{ "dry-run", required_argument, NULL, 'D' },
		{ "validate", required_argument, NULL, 'V' },
		{ "server-side", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *files[64];
	size_t n_files = 0;
	bool recursive = false;
	korch_write_options wo = KORCH_WRITE_OPTIONS_INIT;
	wo.field_manager = "korchctl";
	int c;
	while ((c = getopt_long(argc, argv, "f:Rh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (n_files == 64) {
				fprintf(stderr, "error: too many -f arguments\n");
				return 1;
			}
			files[n_files++] = optarg;
			break;
		case 'R': recursive = true; break;
		case 'F': wo.force = true; break;
		case 'S': break; /* apply is always server-side */
		case 'D':
			if (strcmp(optarg, "server") != 0) {
				fprintf(stderr, "error: --dry-run must be \"server\"\n");
				return 1;
			}
			wo.dry_run = true;
			break;
		case 'V':
			if (strcmp(optarg, "strict") == 0 || strcmp(optarg, "true") == 0)
				wo.field_validation = KORCH_FIELD_VALIDATION_STRICT;
			else if (strcmp(optarg, "warn") == 0)
				wo.field_validation = KORCH_FIELD_VALIDATION_WARN;
			else if (strcmp(optarg, "ignore") == 0 || strcmp(optarg, "false") == 0)
				wo.field_validation = KORCH_FIELD_VALIDATION_IGNORE;
			else {
				fprintf(stderr, "error: invalid --validate value \"%s\"\n", optarg);
				return 1;
			}
			break;
		case 'h': fputs(apply_usage, stdout); return 0;
		default: fputs(apply_usage, stderr); return 1;
		}
	}
	if (n_files == 0 || optind != argc) {
		fprintf(stderr, "error: must specify one of -f and -k\n");
		return 1;
	}
	struct manifests m;
	if (ctl_read_manifests(files, n_files, recursive, &m) < 0)
		return 1;
	korch_client *client = ctl_client(ctl);
	if (!client) {
		manifests_free(&m);
		return 1;
	}
	int failed = 0;
	for (size_t i = 0; i < m.n; i++) {
		korch_object *cfg = NULL;
		if (prepare(ctl, m.docs[i], &cfg) < 0) {
			failed++;
			continue;
		}
		int result = 0;
		korch_error *err = NULL;
		if (korch_client_apply(client, cfg, &wo, NULL, &result, &err) < 0) {
			ctl_error(err, NULL);
			korch_error_free(err);
			failed++;
		} else {
			char type[128];
			const korch_resource *r = korch_resource_for_kind(
				korch_object_api_version(cfg), korch_object_kind(cfg));
			ctl_type_name(r, type, sizeof(type));
			static const char *const words[] = { "created", "configured", "unchanged" };
			printf("%s/%s %s%s\n", type, korch_object_name(cfg), words[result],
			       wo.dry_run ? " (server dry run)" : "");
		}
		korch_object_free(cfg);
	}
	manifests_free(&m);
	return failed ? 1 : 0;
}
