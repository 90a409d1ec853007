/*
 * What needs root: whiteouts as 0:0 character devices and opaque directories as
 * trusted.overlay.opaque xattrs, checked through a real read-only overlay mount in a private
 * mount namespace; ownership, modes, xattrs and mtimes kept; device nodes left out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/fs.h"
#include "image_fixture.h"
#include "runtime/image.h"

struct env {
	char *dir;                 /* the temporary directory */
	char *store_dir;           /* DIR/store */
	struct image_store *store; /* open on store_dir */
};

static int
setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	e->dir = fx_tmpdir();
	e->store_dir = fx_join(e->dir, "store");
	if (image_store_open(e->store_dir, &e->store, NULL) < 0)
		return -1;
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	struct env *e = *state;
	image_store_free(e->store);
	rm_rf(e->dir, NULL);
	free(e->store_dir);
	free(e->dir);
	free(e);
	return 0;
}

/* Loads imgs as an OCI layout named NAME and looks it up. */
static struct image *
load_layout(struct env *e, struct fx_image *img, const char *name)
{
	char *dir = fx_join(e->dir, "layout");
	struct fx_image *imgs[] = { img };
	json_t *ann[] = { json_pack("{s:s}", "io.containerd.image.name", name) };
	fx_oci_dir(dir, imgs, ann, 1);
	korch_error *err = NULL;
	if (image_store_load(e->store, dir, NULL, NULL, NULL, NULL, &err) < 0)
		fail_msg("%s", korch_error_message(err));
	struct image *found = NULL;
	assert_int_equal(image_store_lookup(e->store, name, &found, NULL), 0);
	rm_rf(dir, NULL);
	free(dir);
	return found;
}

static int
compare_lines(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines of text, sorted, each followed by '\n'. */
static char *
sort_lines(char *text)
{
	char *lines[256];
	size_t n = 0, total = strlen(text);
	char *save = NULL;
	for (char *l = strtok_r(text, "\n", &save); l && n < 256; l = strtok_r(NULL, "\n", &save))
		lines[n++] = l;
	qsort(lines, n, sizeof(char *), compare_lines);
	char *out = calloc(1, total + n + 2);
	for (size_t i = 0; i < n; i++) {
		strcat(out, lines[i]);
		strcat(out, "\n");
	}
	return out;
}

/*
 * Mounts overlayfs read-only over the layers (top first in lowerdir) in a private mount
 * namespace of a child, which then becomes find(1) listing the merged tree into a pipe; the
 * mount goes with the child's namespace. Returns the sorted listing.
 */
static char *
merged_listing(struct env *e, struct image *img)
{
	char *mnt = fx_join(e->dir, "merged");
	assert_int_equal(mkdir(mnt, 0755), 0);
	char opts[4096] = "lowerdir=";
	for (size_t i = img->n_layers; i-- > 0;) {
		strcat(opts, img->layer_dirs[i]);
		if (i)
			strcat(opts, ":");
	}
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			_exit(2);
		if (mount("overlay", mnt, "overlay", MS_RDONLY, opts) < 0) {
			dprintf(p[1], "mount: %s\n", strerror(errno));
			_exit(3);
		}
		if (chdir(mnt) < 0 || dup2(p[1], 1) < 0)
			_exit(4);
		execl("/usr/bin/find", "find", ".", "-mindepth", "1", "-printf", "%P\n",
		      (char *)NULL);
		_exit(5);
	}
	close(p[1]);
	char *listing = NULL;
	size_t len = 0;
	assert_int_equal(read_all_fd(p[0], 1 << 20, &listing, &len, NULL), 0);
	close(p[0]);
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("overlay child failed (%d): %s", status, listing);
	/* The child's namespace died with it: nothing is mounted here. */
	assert_int_equal(rmdir(mnt), 0);
	free(mnt);
	char *sorted = sort_lines(listing);
	free(listing);
	return sorted;
}

static void
test_whiteouts_through_overlay(void **state)
{
	struct env *e = *state;
	struct fx_image img = { 0 };
	struct fx_layer *l1 = fx_layer_new();
	fx_layer_dir(l1, "a");
	fx_layer_file(l1, "a/keep", "k");
	fx_layer_file(l1, "a/gone", "g");
	fx_layer_dir(l1, "d");
	fx_layer_file(l1, "d/old1", "1");
	fx_layer_dir(l1, "d/sub");
	fx_layer_file(l1, "d/sub/old2", "2");
	fx_layer_file(l1, "top", "t");
	fx_image_add_layer(&img, l1, false);
	struct fx_layer *l2 = fx_layer_new();
	fx_layer_add(l2, &(struct fx_entry){ .path = "a/.wh.gone", .type = 'f' });
	fx_layer_dir(l2, "d");
	fx_layer_add(l2, &(struct fx_entry){ .path = "d/.wh..wh..opq", .type = 'f' });
	fx_layer_file(l2, "d/new", "n");
	fx_layer_add(l2, &(struct fx_entry){ .path = ".wh.top", .type = 'f' });
	fx_layer_file(l2, "top2", "t2");
	/* aufs bookkeeping is dropped */
	fx_layer_add(l2, &(struct fx_entry){ .path = ".wh..wh.plnk", .type = 'd' });
	fx_image_add_layer(&img, l2, true);
	fx_image_finish(&img, "amd64", NULL);
	struct image *found = load_layout(e, &img, "example.com/wh:1");
	assert_int_equal(found->n_layers, 2);

	/* In the upper layer: a/gone and top are 0:0 character devices, d is opaque. */
	const char *whiteouts[] = { "a/gone", "top" };
	for (size_t i = 0; i < 2; i++) {
		char *p = fx_join(found->layer_dirs[1], whiteouts[i]);
		struct stat st;
		assert_int_equal(lstat(p, &st), 0);
		assert_true(S_ISCHR(st.st_mode));
		assert_int_equal(st.st_rdev, makedev(0, 0));
		free(p);
	}
	char *d = fx_join(found->layer_dirs[1], "d");
	char value[8] = { 0 };
	assert_int_equal(getxattr(d, "trusted.overlay.opaque", value, sizeof(value)), 1);
	assert_string_equal(value, "y");
	free(d);
	char *a = fx_join(found->layer_dirs[1], "a");
	assert_int_equal(getxattr(a, "trusted.overlay.opaque", value, sizeof(value)), -1);
	assert_int_equal(errno, ENODATA);
	free(a);
	const char *absent[] = { "a/.wh.gone", ".wh.top", "d/.wh..wh..opq", ".wh..wh.plnk" };
	for (size_t i = 0; i < 4; i++) {
		char *p = fx_join(found->layer_dirs[1], absent[i]);
		assert_int_equal(access(p, F_OK), -1);
		free(p);
	}

	char *listing = merged_listing(e, found);
	assert_string_equal(listing, "a\n"
				     "a/keep\n"
				     "d\n"
				     "d/new\n"
				     "top2\n");
	free(listing);
	image_free(found);
	fx_image_clear(&img);
}

static void
test_opaque_marker_before_its_directory(void **state)
{
	struct env *e = *state;
	struct fx_image img = { 0 };
	struct fx_layer *l1 = fx_layer_new();
	fx_layer_dir(l1, "x");
	fx_layer_file(l1, "x/old", "o");
	fx_image_add_layer(&img, l1, false);
	struct fx_layer *l2 = fx_layer_new();
	fx_layer_add(l2, &(struct fx_entry){ .path = "x/.wh..wh..opq", .type = 'f' });
	fx_layer_add(l2, &(struct fx_entry){ .path = "x",
					     .type = 'd',
					     .mode = 0711,
					     .uid = 7,
					     .gid = 8,
					     .mtime = 1111111111 });
	fx_layer_file(l2, "x/fresh", "f");
	fx_image_add_layer(&img, l2, false);
	fx_image_finish(&img, "amd64", NULL);
	struct image *found = load_layout(e, &img, "example.com/opq:1");
	char *x = fx_join(found->layer_dirs[1], "x");
	struct stat st;
	assert_int_equal(stat(x, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0711);
	assert_int_equal(st.st_uid, 7);
	assert_int_equal(st.st_gid, 8);
	assert_int_equal(st.st_mtime, 1111111111);
	char value[8] = { 0 };
	assert_int_equal(getxattr(x, "trusted.overlay.opaque", value, sizeof(value)), 1);
	free(x);
	char *listing = merged_listing(e, found);
	assert_string_equal(listing, "x\nx/fresh\n");
	free(listing);
	image_free(found);
	fx_image_clear(&img);
}

static void
test_metadata_kept(void **state)
{
	struct env *e = *state;
	struct fx_image img = { 0 };
	struct fx_layer *l = fx_layer_new();
	fx_layer_add(l, &(struct fx_entry){ .path = "srv",
					    .type = 'd',
					    .mode = 0750,
					    .uid = 1000,
					    .gid = 1001,
					    .mtime = 1234567000 });
	fx_layer_add(l, &(struct fx_entry){ .path = "srv/tool",
					    .type = 'f',
					    .mode = 04755,
					    .uid = 1000,
					    .gid = 1001,
					    .mtime = 1234567890,
					    .content = "#!/bin/sh\n",
					    .xattr_name = "user.note",
					    .xattr_value = "kept" });
	fx_layer_add(l, &(struct fx_entry){ .path = "srv/cap",
					    .type = 'f',
					    .content = "c",
					    .xattr_name = "trusted.korch",
					    .xattr_value = "t" });
	fx_layer_add(l, &(struct fx_entry){ .path = "srv/link", .type = 'h', .link = "srv/tool" });
	fx_layer_add(l, &(struct fx_entry){ .path = "srv/sym",
					    .type = 'l',
					    .link = "/etc/passwd",
					    .uid = 5,
					    .gid = 6,
					    .mtime = 1200000000 });
	fx_layer_add(l, &(struct fx_entry){ .path = "srv/fifo", .type = 'p', .mode = 0600 });
	fx_layer_add(l, &(struct fx_entry){ .path = "dev/sda", .type = 'b', .rdev_major = 8 });
	fx_layer_add(l,
		     &(struct fx_entry){
			     .path = "dev/null", .type = 'c', .rdev_major = 1, .rdev_minor = 3 });
	/* An overlay xattr in the tar is not trusted. */
	fx_layer_add(l, &(struct fx_entry){ .path = "sneaky",
					    .type = 'd',
					    .xattr_name = "trusted.overlay.opaque",
					    .xattr_value = "y" });
	fx_image_add_layer(&img, l, true);
	fx_image_finish(&img, "amd64", NULL);
	struct image *found = load_layout(e, &img, "example.com/meta:1");
	const char *root = found->layer_dirs[0];
	struct stat st, st2;

	char *srv = fx_join(root, "srv");
	assert_int_equal(lstat(srv, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 1001);
	assert_int_equal(st.st_mtime, 1234567000);

	char *tool = fx_join(root, "srv/tool");
	assert_int_equal(lstat(tool, &st), 0);
	assert_int_equal(st.st_mode & 07777, 04755);
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 1001);
	assert_int_equal(st.st_mtime, 1234567890);
	char value[16] = { 0 };
	assert_int_equal(getxattr(tool, "user.note", value, sizeof(value)), 4);
	assert_string_equal(value, "kept");
	char *cap = fx_join(root, "srv/cap");
	memset(value, 0, sizeof(value));
	assert_int_equal(getxattr(cap, "trusted.korch", value, sizeof(value)), 1);
	assert_string_equal(value, "t");

	char *link = fx_join(root, "srv/link");
	assert_int_equal(lstat(link, &st2), 0);
	assert_int_equal(st2.st_ino, st.st_ino);
	assert_int_equal(st2.st_nlink, 2);

	char *sym = fx_join(root, "srv/sym");
	assert_int_equal(lstat(sym, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(st.st_uid, 5);
	assert_int_equal(st.st_gid, 6);
	assert_int_equal(st.st_mtime, 1200000000);
	char target[64] = { 0 };
	assert_int_equal(readlink(sym, target, sizeof(target) - 1), 11);
	assert_string_equal(target, "/etc/passwd");

	char *fifo = fx_join(root, "srv/fifo");
	assert_int_equal(lstat(fifo, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);

	/* Device nodes are left out. */
	char *sda = fx_join(root, "dev/sda"), *null = fx_join(root, "dev/null");
	assert_int_equal(lstat(sda, &st), -1);
	assert_int_equal(lstat(null, &st), -1);

	char *sneaky = fx_join(root, "sneaky");
	assert_int_equal(lstat(sneaky, &st), 0);
	assert_int_equal(getxattr(sneaky, "trusted.overlay.opaque", value, sizeof(value)), -1);
	assert_int_equal(errno, ENODATA);

	/* The layer's root itself is 0755, whatever the staging directory was. */
	assert_int_equal(stat(root, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	free(srv);
	free(tool);
	free(cap);
	free(link);
	free(sym);
	free(fifo);
	free(sda);
	free(null);
	free(sneaky);
	image_free(found);
	fx_image_clear(&img);
}

int
main(void)
{
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root\n");
		return 0;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_whiteouts_through_overlay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_opaque_marker_before_its_directory, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_metadata_kept, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
