/*
 * gen-manifests.c - writes korch-manifests(5) in scdoc from the kinds registry and the table of
 * refused fields, so that the page lists exactly what this build accepts and refuses.
 */
#include <stdio.h>
#include <string.h>

#include "api/kinds.h"
#include "api/validate.h"

static void
subresources(unsigned s)
{
	static const char *const names[] = { "status",
					     "scale",
					     "binding",
					     "log",
					     "exec",
					     "eviction",
					     "token",
					     "proxy",
					     "attach",
					     "portforward",
					     "ephemeralcontainers",
					     "finalize" };
	const char *sep = "";
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (s & (1u << i)) {
			printf("%s%s", sep, names[i]);
			sep = ", ";
		}
	if (!*sep)
		printf("none");
}

/* scdoc treats _ and * as markup: paths with [] and names stay plain text. */
static void
escaped(const char *s)
{
	for (; *s; s++) {
		if (*s == '*' || *s == '_' || *s == '\\')
			putchar('\\');
		putchar(*s);
	}
}

int
main(void)
{
	printf("korch-manifests(5)\n\n# NAME\n\nkorch-manifests - the Kubernetes kinds and fields "
	       "korch accepts, and what it refuses\n\n");
	printf("# DESCRIPTION\n\n"
	       "korch reads manifests as Kubernetes 1.32 writes them: YAML (one or more documents "
	       "separated by *---*) or JSON, each an object with *apiVersion*, *kind*, *metadata* "
	       "and usually *spec*. A *List* stands for its items. Every field path of a kind is "
	       "checked against Kubernetes' field schema; what happens to a field falls in one of "
	       "three classes:\n\n"
	       "- A field Kubernetes does not define is refused under strict validation (the "
	       "default of *korchctl*(1) and *kubectl*(1)) with an error naming its path, and "
	       "dropped with a warning or silently under *--validate=warn* or *ignore*.\n"
	       "- A field Kubernetes defines, that changes behaviour, and that korch does not "
	       "implement is refused with a message naming it and saying why (see *REFUSED "
	       "FIELDS*), whatever the validation mode.\n"
	       "- Every other field is defaulted, validated as Kubernetes validates it, stored and "
	       "returned exactly, in the order it was written.\n\n"
	       "A kind that is not listed below is refused: _no matches for kind \"Foo\" in "
	       "version \"example.com/v1\"_. Kinds and versions Kubernetes 1.32 no longer serves "
	       "(extensions/v1beta1 Deployments, for instance) are refused the same way.\n\n");
	printf("# KINDS\n\nEach kind with its apiVersion, the resource names *korchctl get* and "
	       "*kubectl get* take, its scope and its subresources.\n\n");
	for (size_t i = 0; i < kind_registry_count; i++) {
		const struct kind_info *k = kind_registry[i];
		char av[64];
		printf("*%s* (%s)\n\t", k->kind, kind_api_version(k, av));
		printf("resource *%s%s%s*", k->plural, k->group[0] ? "." : "", k->group);
		for (const char *const *s = k->short_names; s && *s; s++)
			printf(", short name *%s*", *s);
		printf("; %s; subresources: ", k->namespaced ? "namespaced" : "cluster-scoped");
		subresources(k->subresources);
		printf(".\n\n");
	}
	printf("# REFUSED FIELDS\n\n"
	       "These fields are refused with KORCH_EUNSUPPORTED, one "
	       "cause per field: _spec.runtimeClassName: not supported by korch (RuntimeClasses are "
	       "not implemented: every pod runs in korch's one runtime)_. Paths under \"pod spec\" "
	       "apply to a Pod's *spec* and to every pod template (Deployments, ReplicaSets, "
	       "StatefulSets, DaemonSets, Jobs, CronJobs, ReplicationControllers); *[]* stands "
	       "for every item of a list.\n\n");
	struct unsupported_field f;
	for (size_t i = 0; unsupported_field_at(i, &f); i++) {
		printf("- %s: ", f.where);
		escaped(f.path);
		printf(" (%s): ", f.when);
		escaped(f.why);
		printf("\n");
	}
	printf("\n# SEE ALSO\n\n*korchctl*(1), *libkorch*(3), *korch.yaml*(5)\n");
	return 0;
}
