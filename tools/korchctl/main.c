/*
 * korchctl - the korch command line: apply, get, describe, delete and patch objects, list the
 * resources korch serves, back up and restore the state. Uses only libkorch's public API.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "korchctl.h"

static const char usage[] =
	"Usage: korchctl [--state FILE] [--data-dir DIR] [-n NAMESPACE | -A] COMMAND [ARGS]\n"
	"\n"
	"Commands:\n"
	"  apply -f FILE|DIR|-        create or update objects (server-side apply)\n"
	"  get KIND [NAME...]         show objects (-o wide|yaml|json|name|jsonpath=...)\n"
	"  describe KIND NAME         show an object in detail\n"
	"  delete KIND NAME | -f FILE delete objects\n"
	"  patch KIND NAME -p PATCH   patch an object (--type strategic|merge|json)\n"
	"  api-resources              list the resources korch serves\n"
	"  image load|ls|rm           load OCI layouts and docker-archives, list, remove images\n"
	"  state backup FILE          copy the state to FILE while it is in use\n"
	"  state restore FILE         replace the state with a backup\n"
	"  version                    show versions\n"
	"\n"
	"Target: --state FILE, else the KORCH_STATE environment variable.\n"
	"Run 'korchctl COMMAND --help' for a command's options; see korchctl(1).\n";

void
ctl_error(const korch_error *err, const char *fmt, ...)
{
	fputs("error: ", stderr);
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		if (err)
			fputs(": ", stderr);
	}
	if (err)
		fputs(korch_error_message(err), stderr);
	fputc('\n', stderr);
}

korch_client *
ctl_client(struct ctl *ctl)
{
	if (ctl->client)
		return ctl->client;
	if (!ctl->state || !*ctl->state) {
		ctl_error(NULL, "no state to work on: pass --state FILE or set KORCH_STATE "
				"(talking to a running korchd is not available yet)");
		return NULL;
	}
	korch_error *err = NULL;
	if (korch_client_open_state(ctl->state, NULL, &ctl->client, &err) < 0) {
		ctl_error(err, NULL);
		korch_error_free(err);
		return NULL;
	}
	return ctl->client;
}

const char *
ctl_namespace(const struct ctl *ctl)
{
	return ctl->ns && *ctl->ns ? ctl->ns : "default";
}

void
ctl_type_name(const korch_resource *r, char *buf, size_t len)
{
	const char *group = korch_resource_group(r);
	snprintf(buf, len, "%s%s%s", korch_resource_singular(r), *group ? "." : "", group);
}

/* ---- reading manifests ---- */

static bool
is_manifest_name(const char *name)
{
	size_t n = strlen(name);
	return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
	       (n > 4 && strcmp(name + n - 4, ".yml") == 0) ||
	       (n > 5 && strcmp(name + n - 5, ".json") == 0);
}

static int
read_stream(FILE *f, char **ret, size_t *ret_len)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len == cap) {
			char *p = realloc(buf, cap *= 2);
			if (!p) {
				free(buf);
				return -ENOMEM;
			}
			buf = p;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		return -EIO;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

static int
collect(const char *path, bool recursive, bool top, char ***files, size_t *n_files)
{
	struct stat st;
	if (strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (!top && !recursive)
			return 0;
		struct dirent **entries = NULL;
		int n = scandir(path, &entries, NULL, alphasort);
		if (n < 0) {
			fprintf(stderr, "error: read directory %s: %s\n", path, strerror(errno));
			return -1;
		}
		int r = 0;
		for (int i = 0; i < n; i++) {
			const char *name = entries[i]->d_name;
			char *child = NULL;
			if (r == 0 && name[0] != '.' &&
			    asprintf(&child, "%s/%s", path, name) >= 0) {
				struct stat cst;
				if (stat(child, &cst) == 0 && S_ISDIR(cst.st_mode))
					r = collect(child, recursive, false, files, n_files);
				else if (is_manifest_name(name))
					r = collect(child, recursive, false, files, n_files);
			}
			free(child);
			free(entries[i]);
		}
		free(entries);
		return r;
	}
	char **p = realloc(*files, (*n_files + 1) * sizeof(char *));
	if (!p)
		return -1;
	*files = p;
	(*files)[(*n_files)++] = strdup(path);
	return 0;
}

/* Parses one file (or stdin for "-"), appending a reference to each document to docs. */
static int
read_one(const char *path, struct manifests *m)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	if (!f) {
		fprintf(stderr, "error: the path \"%s\" does not exist\n", path);
		return -1;
	}
	char *text = NULL;
	size_t len = 0;
	int r = read_stream(f, &text, &len);
	if (f != stdin)
		fclose(f);
	if (r < 0) {
		fprintf(stderr, "error: read %s: %s\n", path, strerror(-r));
		return -1;
	}
	korch_object *list = NULL;
	korch_error *err = NULL;
	/* Each file is parsed on its own so that errors name the file and the line. */
	r = korch_object_parse(text, len, strcmp(path, "-") == 0 ? "stdin" : path, &list, &err);
	free(text);
	if (r < 0) {
		ctl_error(err, NULL);
		korch_error_free(err);
		return -1;
	}
	size_t n = korch_object_count(list);
	korch_object **docs = realloc(m->docs, (m->n + n + 1) * sizeof(*docs));
	if (!docs) {
		korch_object_free(list);
		return -1;
	}
	m->docs = docs;
	for (size_t i = 0; i < n; i++)
		m->docs[m->n++] = korch_object_ref(korch_object_at(list, i));
	korch_object_free(list);
	return 0;
}

int
ctl_read_manifests(char **paths, size_t n_paths, bool recursive, struct manifests *ret)
{
	char **files = NULL;
	size_t n_files = 0;
	struct manifests m = { 0 };
	int r = 0;
	for (size_t i = 0; i < n_paths && r == 0; i++)
		r = collect(paths[i], recursive, true, &files, &n_files);
	for (size_t i = 0; i < n_files && r == 0; i++)
		r = read_one(files[i], &m);
	for (size_t i = 0; i < n_files; i++)
		free(files[i]);
	free(files);
	if (r < 0) {
		manifests_free(&m);
		return -1;
	}
	*ret = m;
	return 0;
}

void
manifests_free(struct manifests *m)
{
	for (size_t i = 0; i < m->n; i++)
		korch_object_free(m->docs[i]);
	free(m->docs);
	*m = (struct manifests){ 0 };
}

/* ---- dispatch ---- */

static const struct {
	const char *name;
	int (*fn)(struct ctl *ctl, int argc, char **argv);
} commands[] = {
	{ "apply", cmd_apply },     { "get", cmd_get },     { "describe", cmd_describe },
	{ "delete", cmd_delete },   { "patch", cmd_patch }, { "api-resources", cmd_api_resources },
	{ "version", cmd_version }, { "state", cmd_state }, { "image", cmd_image },
	{ "gitops", cmd_gitops },
};

/* Takes the global options out of argv wherever they stand, as kubectl allows. */
static int
take_globals(struct ctl *ctl, int *argc, char **argv)
{
	int out = 1;
	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];
		const char *value = NULL;
		if (strcmp(a, "--") == 0) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		if (strcmp(a, "--state") == 0 || strcmp(a, "-n") == 0 ||
		    strcmp(a, "--namespace") == 0 || strcmp(a, "--data-dir") == 0) {
			if (i + 1 >= *argc) {
				fprintf(stderr, "error: flag needs an argument: %s\n", a);
				return -1;
			}
			value = argv[++i];
		} else if (strncmp(a, "--state=", 8) == 0) {
			value = a + 8;
			a = "--state";
		} else if (strncmp(a, "--data-dir=", 11) == 0) {
			value = a + 11;
			a = "--data-dir";
		} else if (strncmp(a, "--namespace=", 12) == 0) {
			value = a + 12;
			a = "--namespace";
		} else if (strcmp(a, "-A") == 0 || strcmp(a, "--all-namespaces") == 0) {
			ctl->all_namespaces = true;
			continue;
		} else {
			argv[out++] = argv[i];
			continue;
		}
		if (strcmp(a, "--state") == 0)
			ctl->state = value;
		else if (strcmp(a, "--data-dir") == 0)
			ctl->data_dir = value;
		else
			ctl->ns = value;
	}
	*argc = out;
	argv[out] = NULL;
	return 0;
}

int
main(int argc, char **argv)
{
	struct ctl ctl = { .state = getenv("KORCH_STATE") };
	if (take_globals(&ctl, &argc, argv) < 0)
		return 1;
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 1 : 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0) {
			int r = commands[i].fn(&ctl, argc - 1, argv + 1);
			korch_client_free(ctl.client);
			return r;
		}
	fprintf(stderr, "error: unknown command \"%s\" for \"korchctl\"\n", argv[1]);
	return 1;
}
