/*
 * korchctl.h - what korchctl's command files share. korchctl uses only libkorch's public API.
 */
#ifndef KORCHCTL_H
#define KORCHCTL_H

#include <stdbool.h>
#include <stdio.h>
#include <korch.h>

/* Global options, parsed before the command. */
struct ctl {
	const char *state;    /* --state FILE or KORCH_STATE */
	const char *data_dir; /* --data-dir DIR (images), or NULL */
	const char *ns;       /* -n / --namespace, or NULL */
	bool all_namespaces;  /* -A */
	korch_client *client; /* opened on demand by ctl_client() */
};

/* The client for the chosen target, opened on first use; NULL after printing an error. */
korch_client *ctl_client(struct ctl *ctl);

/* Prints "error: MESSAGE" (the error's message, with a prefix when given) to stderr. */
void ctl_error(const korch_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The namespace to use for a namespaced object: -n, else "default". */
const char *ctl_namespace(const struct ctl *ctl);

/* "deployment.apps" / "pod": how kubectl names a resource's objects in its messages. */
void ctl_type_name(const korch_resource *r, char *buf, size_t len);

/* The documents read from -f arguments, in order (each a reference of ours). */
struct manifests {
	korch_object **docs; /* n documents */
	size_t n;            /* how many */
};

/*
 * Reads manifests from -f arguments: files, directories (their *.yaml, *.yml and *.json, sorted;
 * subdirectories with recursive), or "-" for stdin. Prints the error and returns -1 on failure.
 */
int ctl_read_manifests(char **paths, size_t n_paths, bool recursive, struct manifests *ret);
void manifests_free(struct manifests *m);

int cmd_apply(struct ctl *ctl, int argc, char **argv);
int cmd_get(struct ctl *ctl, int argc, char **argv);
int cmd_describe(struct ctl *ctl, int argc, char **argv);
int cmd_delete(struct ctl *ctl, int argc, char **argv);
int cmd_patch(struct ctl *ctl, int argc, char **argv);
int cmd_api_resources(struct ctl *ctl, int argc, char **argv);
int cmd_version(struct ctl *ctl, int argc, char **argv);
int cmd_state(struct ctl *ctl, int argc, char **argv);
int cmd_image(struct ctl *ctl, int argc, char **argv);
int cmd_gitops(struct ctl *ctl, int argc, char **argv);

#endif
