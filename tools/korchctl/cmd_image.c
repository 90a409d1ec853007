/*
 * cmd_image.c - korchctl image load|ls|rm: the image store under the data dir.
 */
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "korchctl.h"

static const char image_usage[] =
	"Usage: korchctl image load FILE|DIR [--name NAME]   load an OCI layout or docker-archive\n"
	"       korchctl image ls                           list images\n"
	"       korchctl image rm IMAGE...                  remove images (by name or id)\n"
	"The store is DATA_DIR/images: --data-dir, else the state file's directory.\n";

/* DATA_DIR: --data-dir, else the directory of the state file, else /var/lib/korch. */
static char *
data_dir(const struct ctl *ctl)
{
	if (ctl->data_dir)
		return strdup(ctl->data_dir);
	if (ctl->state && *ctl->state) {
		char *copy = strdup(ctl->state);
		char *dir = copy ? strdup(dirname(copy)) : NULL;
		free(copy);
		return dir;
	}
	return strdup("/var/lib/korch");
}

static void
progress(const char *line, void *userdata)
{
	(void)userdata;
	fprintf(stderr, "%s\n", line);
}

static int
print_list(korch_image_store *store)
{
	korch_object *list = NULL;
	korch_error *err = NULL;
	if (korch_image_list(store, &list, &err) < 0) {
		ctl_error(err, NULL);
		korch_error_free(err);
		return 1;
	}
	printf("%-50s   %-19s   %s\n", "IMAGE", "ID", "SIZE");
	for (size_t i = 0; i < korch_object_count(list); i++) {
		korch_object *row = korch_object_at(list, i);
		const char *name = korch_object_get_string(row, "name");
		const char *id = korch_object_get_string(row, "id");
		int64_t size = korch_object_get_int(row, "size", 0);
		const char *hex = id && strncmp(id, "sha256:", 7) == 0 ? id + 7 : id ? id : "";
		printf("%-50s   %.12s          %.1fMB\n", name ? name : "<none>", hex,
		       (double)size / 1e6);
	}
	korch_object_free(list);
	return 0;
}

int
cmd_image(struct ctl *ctl, int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		fputs(image_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 1 : 0;
	}
	char *dir = data_dir(ctl);
	korch_image_store *store = NULL;
	korch_error *err = NULL;
	if (!dir || korch_image_store_open(dir, &store, &err) < 0) {
		ctl_error(err, "open the image store in %s", dir ? dir : "?");
		korch_error_free(err);
		free(dir);
		return 1;
	}
	free(dir);
	int rc = 0;
	if (strcmp(argv[1], "load") == 0) {
		const char *path = NULL, *name = NULL;
		for (int i = 2; i < argc; i++) {
			if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
				name = argv[++i];
			else if (strncmp(argv[i], "--name=", 7) == 0)
				name = argv[i] + 7;
			else if (!path)
				path = argv[i];
			else {
				fputs(image_usage, stderr);
				rc = 1;
			}
		}
		korch_object *names = NULL;
		if (rc == 0 && !path) {
			fprintf(stderr, "error: image load needs a FILE or DIR\n");
			rc = 1;
		} else if (rc == 0 &&
			   korch_image_load(store, path, name, progress, NULL, &names, &err) < 0) {
			ctl_error(err, "load %s", path);
			rc = 1;
		} else if (rc == 0) {
			for (size_t i = 0; i < korch_object_count(names); i++)
				printf("Loaded image: %s\n",
				       korch_object_get_string(korch_object_at(names, i), ""));
		}
		korch_object_free(names);
	} else if (strcmp(argv[1], "ls") == 0 || strcmp(argv[1], "list") == 0) {
		rc = print_list(store);
	} else if (strcmp(argv[1], "rm") == 0) {
		if (argc < 3) {
			fprintf(stderr, "error: image rm needs at least one IMAGE\n");
			rc = 1;
		}
		for (int i = 2; i < argc; i++) {
			if (korch_image_remove(store, argv[i], &err) < 0) {
				ctl_error(err, NULL);
				korch_error_free(err);
				err = NULL;
				rc = 1;
			} else {
				printf("Deleted: %s\n", argv[i]);
			}
		}
		if (rc == 0 && korch_image_gc(store, 0, NULL, NULL, NULL, &err) < 0) {
			ctl_error(err, "gc");
			rc = 1;
		}
	} else {
		fprintf(stderr, "error: unknown image command \"%s\"\n", argv[1]);
		rc = 1;
	}
	korch_error_free(err);
	korch_image_store_free(store);
	return rc;
}
