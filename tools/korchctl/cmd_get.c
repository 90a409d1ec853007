/*
 * cmd_get.c - korchctl get and describe: kubectl's tables, -o yaml|json|name|wide|jsonpath, and
 * a describe that shows an object's fields and its events.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "korchctl.h"

static const char get_usage[] =
	"Usage: korchctl get KIND[,KIND...] [NAME...] | KIND/NAME... [-n NS | -A] [-l SELECTOR]\n"
	"                    [--field-selector SELECTOR] [-o wide|yaml|json|name|jsonpath=TEMPLATE]\n"
	"                    [--show-labels] [--no-headers] [-w [--output-watch-events]]\n"
	"Shows objects as kubectl does. KIND may be a plural, singular, short name or kind, with\n"
	"its group (deployments.apps), or \"all\".\n";

enum output {
	OUT_TABLE,
	OUT_WIDE,
	OUT_YAML,
	OUT_JSON,
	OUT_NAME,
	OUT_JSONPATH,
};

struct get_opts {
	enum output out;
	const char *jsonpath; /* OUT_JSONPATH template */
	const char *labels;   /* -l */
	const char *fields;   /* --field-selector */
	bool show_labels;
	bool no_headers;
	bool watch;        /* -w: the objects, then each change as a row */
	bool watch_events; /* --output-watch-events: an EVENT column first */
};

/* What `get all` means: the resources of kubectl's "all" category. */
static const char *const all_category[] = {
	"pods",
	"services",
	"daemonsets.apps",
	"deployments.apps",
	"replicasets.apps",
	"statefulsets.apps",
	"horizontalpodautoscalers.autoscaling",
	"cronjobs.batch",
	"jobs.batch",
	"replicationcontrollers",
};

static int
parse_output(const char *o, struct get_opts *g)
{
	if (strcmp(o, "wide") == 0)
		g->out = OUT_WIDE;
	else if (strcmp(o, "yaml") == 0)
		g->out = OUT_YAML;
	else if (strcmp(o, "json") == 0)
		g->out = OUT_JSON;
	else if (strcmp(o, "name") == 0)
		g->out = OUT_NAME;
	else if (strncmp(o, "jsonpath=", 9) == 0) {
		g->out = OUT_JSONPATH;
		g->jsonpath = o + 9;
	} else {
		fprintf(stderr,
			"error: unable to match a printer suitable for the output format \"%s\", "
			"allowed formats are: json,jsonpath,name,wide,yaml\n",
			o);
		return -1;
	}
	return 0;
}

/* Objects gathered for printing, with the resource each came from. */
struct found {
	korch_object **objs;
	const korch_resource **res;
	size_t n;
};

static void
found_add(struct found *f, korch_object *obj, const korch_resource *r)
{
	korch_object **o = realloc(f->objs, (f->n + 1) * sizeof(*o));
	const korch_resource **rs = realloc(f->res, (f->n + 1) * sizeof(*rs));
	if (o)
		f->objs = o;
	if (rs)
		f->res = rs;
	if (!o || !rs) {
		korch_object_free(obj);
		return;
	}
	f->objs[f->n] = obj;
	f->res[f->n] = r;
	f->n++;
}

static void
found_free(struct found *f)
{
	for (size_t i = 0; i < f->n; i++)
		korch_object_free(f->objs[i]);
	free(f->objs);
	free(f->res);
}

/* A printable text of an object or list; prints the error and returns NULL on failure. */
static char *
text_of(korch_object *obj, int format)
{
	char *text = NULL;
	korch_error *err = NULL;
	if (korch_object_to_text(obj, format, &text, &err) < 0) {
		ctl_error(err, NULL);
		korch_error_free(err);
	}
	return text;
}

/* -o yaml/json/jsonpath: one object as itself, several as a List. */
static int
print_documents(struct found *f, const struct get_opts *g, bool single)
{
	korch_object *doc = NULL;
	korch_error *err = NULL;
	if (single) {
		doc = korch_object_ref(f->objs[0]);
	} else {
		/* Build the list's items by parsing each object's JSON into one array text. */
		char *items = NULL;
		size_t len = 0;
		FILE *mem = open_memstream(&items, &len);
		fputs("{\"apiVersion\":\"v1\",\"items\":[", mem);
		for (size_t i = 0; i < f->n; i++) {
			char *json = text_of(f->objs[i], KORCH_TEXT_JSON);
			fprintf(mem, "%s%s", i ? "," : "", json ? json : "null");
			free(json);
		}
		fputs("],\"kind\":\"List\",\"metadata\":{\"resourceVersion\":\"\"}}", mem);
		fclose(mem);
		int r = korch_object_parse_json(items, len, &doc, &err);
		free(items);
		if (r < 0) {
			ctl_error(err, NULL);
			korch_error_free(err);
			return 1;
		}
	}
	int rc = 0;
	char *text = NULL;
	if (g->out == OUT_JSONPATH) {
		if (korch_jsonpath(g->jsonpath, doc, true, &text, &err) < 0) {
			ctl_error(err, NULL);
			korch_error_free(err);
			rc = 1;
		} else {
			fputs(text, stdout);
		}
	} else {
		text = text_of(doc, g->out == OUT_YAML ? KORCH_TEXT_YAML : KORCH_TEXT_JSON_PRETTY);
		if (text)
			printf("%s%s", text, g->out == OUT_JSON ? "\n" : "");
		else
			rc = 1;
	}
	free(text);
	korch_object_free(doc);
	return rc;
}

/* Tables, one per kind in the order met, names prefixed when several kinds are shown. */
static int
print_tables(struct ctl *ctl, struct found *f, const struct get_opts *g, bool several_kinds)
{
	int rc = 0;
	bool first = true;
	for (size_t i = 0; i < f->n; i++) {
		if (!f->objs[i])
			continue;
		const korch_resource *r = f->res[i];
		/* Gather this kind's objects into one list text. */
		char *buf = NULL;
		size_t len = 0;
		FILE *mem = open_memstream(&buf, &len);
		fputs("{\"items\":[", mem);
		size_t count = 0;
		for (size_t k = i; k < f->n; k++) {
			if (!f->objs[k] || f->res[k] != r)
				continue;
			char *json = text_of(f->objs[k], KORCH_TEXT_JSON);
			fprintf(mem, "%s%s", count++ ? "," : "", json ? json : "null");
			free(json);
			if (k != i) {
				korch_object_free(f->objs[k]);
				f->objs[k] = NULL;
			}
		}
		fputs("]}", mem);
		fclose(mem);
		korch_object *list = NULL;
		korch_error *err = NULL;
		int r2 = korch_object_parse_json(buf, len, &list, &err);
		free(buf);
		char type[128];
		ctl_type_name(r, type, sizeof(type));
		korch_print_options po = KORCH_PRINT_OPTIONS_INIT;
		po.wide = g->out == OUT_WIDE;
		po.no_headers = g->no_headers;
		po.with_namespace = ctl->all_namespaces && korch_resource_namespaced(r);
		po.show_labels = g->show_labels;
		po.name_prefix = several_kinds ? type : NULL;
		char *text = NULL;
		if (r2 < 0 || korch_print_table(list, &po, &text, &err) < 0) {
			ctl_error(err, NULL);
			korch_error_free(err);
			rc = 1;
		} else {
			printf("%s%s", first ? "" : "\n", text);
			first = false;
		}
		free(text);
		korch_object_free(list);
	}
	return rc;
}

static void
print_names(struct found *f)
{
	for (size_t i = 0; i < f->n; i++) {
		char type[128];
		ctl_type_name(f->res[i], type, sizeof(type));
		printf("%s/%s\n", type, korch_object_name(f->objs[i]));
	}
}

/* Resolves one KIND argument; "all" expands. Prints the error and returns -1 if unknown. */
static int
add_kinds(const char *arg, const korch_resource **kinds, size_t *n, size_t max)
{
	char *copy = strdup(arg);
	int r = 0;
	for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok && r == 0;
	     tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "all") == 0) {
			for (size_t i = 0; i < sizeof(all_category) / sizeof(*all_category); i++)
				if (*n < max)
					kinds[(*n)++] = korch_resource_lookup(all_category[i]);
			continue;
		}
		const korch_resource *res = korch_resource_lookup(tok);
		if (!res) {
			fprintf(stderr, "error: the server doesn't have a resource type \"%s\"\n",
				tok);
			r = -1;
		} else if (*n < max) {
			kinds[(*n)++] = res;
		}
	}
	free(copy);
	return r;
}

static int
get_named(struct ctl *ctl, korch_client *client, const korch_resource *r, const char *name,
	  struct found *f)
{
	korch_object *obj = NULL;
	korch_error *err = NULL;
	const char *ns = korch_resource_namespaced(r) ? ctl_namespace(ctl) : NULL;
	if (korch_client_get(client, korch_resource_plural(r), ns, name, &obj, &err) < 0) {
		fprintf(stderr, "Error from server (%s): %s\n",
			korch_error_code(err) == KORCH_ENOTFOUND ? "NotFound" : "Error",
			korch_error_message(err));
		korch_error_free(err);
		return -1;
	}
	found_add(f, obj, r);
	return 0;
}

static int
get_list(struct ctl *ctl, korch_client *client, const korch_resource *r, const struct get_opts *g,
	 struct found *f)
{
	korch_list_options lo = KORCH_LIST_OPTIONS_INIT;
	lo.label_selector = g->labels;
	lo.field_selector = g->fields;
	const char *ns =
		ctl->all_namespaces || !korch_resource_namespaced(r) ? NULL : ctl_namespace(ctl);
	korch_object *list = NULL;
	korch_error *err = NULL;
	if (korch_client_list(client, korch_resource_plural(r), ns, &lo, &list, &err) < 0) {
		ctl_error(err, NULL);
		korch_error_free(err);
		return -1;
	}
	for (size_t i = 0; i < korch_object_count(list); i++)
		found_add(f, korch_object_ref(korch_object_at(list, i)), r);
	korch_object_free(list);
	return 0;
}

struct watch_print {
	struct ctl *ctl;          /* for -A */
	const struct get_opts *g; /* columns */
	bool header_done;         /* the header line was printed */
};

/* One row per event, the header before the first, as kubectl get -w prints them. */
static int
print_event(int event, korch_object *obj, void *userdata)
{
	struct watch_print *w = userdata;
	static const char *const names[] = { "ADDED", "MODIFIED", "DELETED" };
	if (event == KORCH_WATCH_BOOKMARK)
		return 0;
	korch_print_options po = KORCH_PRINT_OPTIONS_INIT;
	po.wide = w->g->out == OUT_WIDE;
	po.no_headers = w->header_done || w->g->no_headers;
	po.with_namespace = w->ctl->all_namespaces;
	po.show_labels = w->g->show_labels;
	char *text = NULL;
	if (korch_print_table(obj, &po, &text, NULL) < 0)
		return 0;
	/* The header (when printed) and the row: the EVENT column goes before each. */
	char *line = text;
	for (char *nl; (nl = strchr(line, '\n')); line = nl + 1) {
		*nl = '\0';
		if (w->g->watch_events)
			printf("%-9s ", line == text && !po.no_headers
						? "EVENT"
						: names[event < 3 ? event : 0]);
		printf("%s\n", line);
	}
	w->header_done = true;
	free(text);
	fflush(stdout);
	return 0;
}

/* get -w: one kind; its objects as ADDED rows, then every change, until interrupted. */
static int
get_watch(struct ctl *ctl, korch_client *client, const char *kind, const struct get_opts *g)
{
	const korch_resource *r = korch_resource_lookup(kind);
	if (!r || strchr(kind, ',')) {
		fprintf(stderr, "error: -w takes one resource type, not \"%s\"\n", kind);
		return 1;
	}
	korch_watch_options wo = KORCH_WATCH_OPTIONS_INIT;
	wo.label_selector = g->labels;
	wo.field_selector = g->fields;
	struct watch_print w = { ctl, g, false };
	korch_error *err = NULL;
	const char *ns =
		ctl->all_namespaces || !korch_resource_namespaced(r) ? NULL : ctl_namespace(ctl);
	if (korch_client_watch(client, korch_resource_plural(r), ns, &wo, print_event, &w, &err) <
	    0) {
		ctl_error(err, NULL);
		korch_error_free(err);
		return 1;
	}
	return 0;
}

int
cmd_get(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "selector", required_argument, NULL, 'l' },
		{ "field-selector", required_argument, NULL, 'F' },
		{ "show-labels", no_argument, NULL, 'L' },
		{ "no-headers", no_argument, NULL, 'H' },
		{ "watch", no_argument, NULL, 'w' },
		{ "output-watch-events", no_argument, NULL, 'E' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct get_opts g = { 0 };
	int c;
	while ((c = getopt_long(argc, argv, "o:l:wh", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (parse_output(optarg, &g) < 0)
				return 1;
			break;
		case 'l': g.labels = optarg; break;
		case 'F': g.fields = optarg; break;
		case 'L': g.show_labels = true; break;
		case 'H': g.no_headers = true; break;
		case 'w': g.watch = true; break;
		case 'E': g.watch_events = true; break;
		case 'h': fputs(get_usage, stdout); return 0;
		default: fputs(get_usage, stderr); return 1;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "error: you must specify the type of resource to get\n");
		return 1;
	}
	korch_client *client = ctl_client(ctl);
	if (!client)
		return 1;
	if (g.watch)
		return get_watch(ctl, client, argv[optind], &g);
	struct found f = { 0 };
	int rc = 0;
	bool single = false, several_kinds = false;
	if (strchr(argv[optind], '/')) {
		/* KIND/NAME ... */
		for (int i = optind; i < argc; i++) {
			char *slash = strchr(argv[i], '/');
			if (!slash) {
				fprintf(stderr,
					"error: there is no need to specify a resource type as a "
					"separate argument when passing arguments in resource/name "
					"form\n");
				found_free(&f);
				return 1;
			}
			*slash = '\0';
			const korch_resource *r = NULL;
			size_t n = 0;
			if (add_kinds(argv[i], &r, &n, 1) < 0 ||
			    get_named(ctl, client, r, slash + 1, &f) < 0)
				rc = 1;
		}
		several_kinds = true;
		single = argc - optind == 1 && f.n == 1;
	} else {
		const korch_resource *kinds[32];
		size_t n_kinds = 0;
		if (add_kinds(argv[optind], kinds, &n_kinds, 32) < 0) {
			found_free(&f);
			return 1;
		}
		several_kinds = n_kinds > 1;
		if (optind + 1 < argc) {
			for (int i = optind + 1; i < argc; i++)
				for (size_t k = 0; k < n_kinds; k++)
					if (get_named(ctl, client, kinds[k], argv[i], &f) < 0)
						rc = 1;
			single = n_kinds == 1 && argc - optind == 2 && f.n == 1;
		} else {
			for (size_t k = 0; k < n_kinds; k++)
				if (get_list(ctl, client, kinds[k], &g, &f) < 0)
					rc = 1;
		}
	}
	if (f.n == 0 && rc == 0 && (g.out == OUT_TABLE || g.out == OUT_WIDE || g.out == OUT_NAME)) {
		if (ctl->all_namespaces)
			fprintf(stderr, "No resources found\n");
		else
			fprintf(stderr, "No resources found in %s namespace.\n",
				ctl_namespace(ctl));
	} else if (f.n > 0 || g.out == OUT_YAML || g.out == OUT_JSON || g.out == OUT_JSONPATH) {
		if (g.out == OUT_NAME)
			print_names(&f);
		else if (g.out == OUT_TABLE || g.out == OUT_WIDE)
			rc |= print_tables(ctl, &f, &g, several_kinds);
		else if (f.n > 0 || !single)
			rc |= print_documents(&f, &g, single);
	}
	found_free(&f);
	return rc;
}

/* ---- describe ---- */

/* "creationTimestamp" -> "Creation Timestamp", as kubectl's describers title fields. */
static void
title_of(const char *key, char *buf, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; key[i] && o + 2 < len; i++) {
		char ch = key[i];
		if (i == 0)
			ch = (char)toupper((unsigned char)ch);
		else if (isupper((unsigned char)ch) && !isupper((unsigned char)key[i - 1]))
			buf[o++] = ' ';
		buf[o++] = ch;
	}
	buf[o] = '\0';
}

/* Prints a YAML rendering of a value indented under a titled key. */
static void
describe_value(const char *title, korch_object *v, int indent)
{
	char *yaml = NULL;
	char *plain = NULL;
	/* Strings print as they are (YAML would quote a timestamp). */
	if (korch_object_to_text(v, KORCH_TEXT_JSON, &plain, NULL) == 0 && plain[0] == '"') {
		const char *s = korch_object_get_string(v, "");
		if (s) {
			printf("%*s%s:%*s%s\n", indent, "", title,
			       (int)(strlen(title) < 19 ? 20 - strlen(title) : 1), "", s);
			free(plain);
			return;
		}
	}
	free(plain);
	if (korch_object_to_text(v, KORCH_TEXT_YAML, &yaml, NULL) < 0)
		return;
	size_t len = strlen(yaml);
	bool scalar =
		!strchr(yaml, '\n') || (strchr(yaml, '\n') == yaml + len - 1 && yaml[0] != '-');
	if (scalar) {
		yaml[strcspn(yaml, "\n")] = '\0';
		printf("%*s%s:%*s%s\n", indent, "", title,
		       (int)(20 - (int)strlen(title) > 1 ? 20 - strlen(title) : 1), "", yaml);
	} else {
		printf("%*s%s:\n", indent, "", title);
		for (char *save = NULL, *line = strtok_r(yaml, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save))
			printf("%*s  %s\n", indent, "", line);
	}
	free(yaml);
}

int
cmd_describe(struct ctl *ctl, int argc, char **argv)
{
	if (argc < 3 || strcmp(argv[1], "--help") == 0) {
		fputs("Usage: korchctl describe KIND NAME [-n NAMESPACE]\n",
		      argc < 3 ? stderr : stdout);
		return argc < 3 ? 1 : 0;
	}
	const korch_resource *r = korch_resource_lookup(argv[1]);
	if (!r) {
		fprintf(stderr, "error: the server doesn't have a resource type \"%s\"\n", argv[1]);
		return 1;
	}
	korch_client *client = ctl_client(ctl);
	if (!client)
		return 1;
	int rc = 0;
	for (int i = 2; i < argc; i++) {
		struct found f = { 0 };
		if (get_named(ctl, client, r, argv[i], &f) < 0) {
			rc = 1;
			continue;
		}
		korch_object *obj = f.objs[0];
		if (i > 2)
			printf("\n\n");
		printf("%-20s %s\n", "Name:", korch_object_name(obj));
		if (korch_object_namespace(obj))
			printf("%-20s %s\n", "Namespace:", korch_object_namespace(obj));
		static const char *const meta[] = { "labels", "annotations", "creationTimestamp",
						    "ownerReferences", "finalizers" };
		for (size_t k = 0; k < sizeof(meta) / sizeof(*meta); k++) {
			char path[64], title[64];
			snprintf(path, sizeof(path), "metadata.%s", meta[k]);
			korch_object *v = korch_object_get(obj, path);
			if (v) {
				title_of(meta[k], title, sizeof(title));
				describe_value(title, v, 0);
			}
		}
		static const char *const parts[] = { "spec",  "status",   "data",
						     "rules", "subjects", "roleRef" };
		for (size_t k = 0; k < sizeof(parts) / sizeof(*parts); k++) {
			korch_object *v = korch_object_get(obj, parts[k]);
			char title[64];
			title_of(parts[k], title, sizeof(title));
			if (v)
				describe_value(title, v, 0);
		}
		/* Events about the object, as kubectl describe shows them. */
		char selector[512];
		snprintf(selector, sizeof(selector),
			 "involvedObject.name=%s,involvedObject.kind=%s", korch_object_name(obj),
			 korch_resource_kind(r));
		korch_list_options lo = KORCH_LIST_OPTIONS_INIT;
		lo.field_selector = selector;
		korch_object *events = NULL;
		korch_error *err = NULL;
		const char *ns = korch_object_namespace(obj);
		if (korch_client_list(client, "events", ns ? ns : "default", &lo, &events, &err) ==
			    0 &&
		    korch_object_count(events) > 0) {
			korch_print_options po = KORCH_PRINT_OPTIONS_INIT;
			char *text = NULL;
			if (korch_print_table(events, &po, &text, NULL) == 0) {
				printf("Events:\n");
				for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
				     line = strtok_r(NULL, "\n", &save))
					printf("  %s\n", line);
			}
			free(text);
		} else {
			printf("%-20s %s\n", "Events:", "<none>");
		}
		korch_error_free(err);
		korch_object_free(events);
		found_free(&f);
	}
	return rc;
}
