/*
 * GitOps over smart HTTP with credentials: a real `git http-backend` behind a small server that
 * wants HTTP basic or a bearer token, on 127.0.0.1 of a network namespace this test makes
 * (root only; the machine's network is not touched). No Secret, a wrong password, the right
 * one, a token and a bearer token.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/json.h"
#include "env.h"
#include "test-util.h"

struct http_env {
	struct env e;  /* state, client and a bare repository */
	pid_t server;  /* the HTTP server */
	char url[256]; /* http://127.0.0.1:PORT/repo.git */
};

static int
setup(void **state)
{
	struct http_env *h = calloc(1, sizeof(*h));
	env_setup(&h->e, true);
	char script[512];
	snprintf(script, sizeof(script), "%s/tests/gitops/git-http-server.py",
		 getenv("KORCH_SOURCE_ROOT") ? getenv("KORCH_SOURCE_ROOT") : ".");
	int out[2];
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	h->server = fork();
	assert_true(h->server >= 0);
	if (h->server == 0) {
		dup2(out[1], STDOUT_FILENO);
		execl("/usr/bin/python3", "python3", script, h->e.dir, "bot", "hunter2", "tok-123",
		      (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	/* The whole line: a pipe closed before its newline was written would kill the server. */
	char line[32] = { 0 };
	size_t got = 0;
	while (got < sizeof(line) - 1 && !strchr(line, '\n')) {
		ssize_t n = read(out[0], line + got, sizeof(line) - 1 - got);
		assert_true(n > 0);
		got += (size_t)n;
	}
	close(out[0]);
	snprintf(h->url, sizeof(h->url), "http://127.0.0.1:%d/repo.git", atoi(line));
	*state = h;
	return 0;
}

static int
teardown(void **state)
{
	struct http_env *h = *state;
	kill(h->server, SIGTERM);
	waitpid(h->server, NULL, 0);
	env_teardown(&h->e);
	free(h);
	return 0;
}

static void
add_secret(struct env *e, const char *string_data)
{
	char text[512];
	snprintf(text, sizeof(text),
		 "apiVersion: v1\nkind: Secret\nmetadata: {name: creds, namespace: default}\n"
		 "stringData: %s\n",
		 string_data);
	_cleanup_json_ json_t *s = test_yaml(text);
	struct client_write_opts wo = { .field_manager = "test", .force = true };
	/* Replaced whole: delete what an earlier case stored. */
	client_delete(e->client, kind_lookup("v1", "Secret"), "default", "creds", NULL, NULL, NULL);
	assert_int_equal(client_apply(e->client, s, &wo, NULL, NULL), 0);
}

static void
test_credentials(void **state)
{
	struct http_env *h = *state;
	struct env *e = &h->e;
	char sha[41], want[1024];
	trepo_put(&e->repo, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n");
	trepo_commit(&e->repo, "main", "one", sha);

	add_repo(e, h->url, NULL);
	korch_error *err = NULL;
	assert_int_equal(sync_repo(e, &err), KORCH_ESYSTEM);
	snprintf(want, sizeof(want),
		 "fetch %s: %s asks for credentials and spec.secretRef names no Secret", h->url,
		 h->url);
	assert_string_equal(korch_error_message(err), want);
	korch_error_free(err);

	add_repo(e, h->url, "  secretRef: {name: creds}\n");
	add_secret(e, "{username: bot, password: wrong}");
	err = NULL;
	assert_int_equal(sync_repo(e, &err), KORCH_ESYSTEM);
	snprintf(want, sizeof(want),
		 "fetch %s: authentication failed: the server refused the credentials of the "
		 "Secret named by spec.secretRef",
		 h->url);
	assert_string_equal(korch_error_message(err), want);
	korch_error_free(err);
	_cleanup_json_ json_t *repo = get_repo(e);
	char *ready = condition_text(repo, "Ready");
	snprintf(want, sizeof(want), "False|FetchFailed|fetch %s: authentication failed", h->url);
	assert_true(strncmp(ready, want, strlen(want)) == 0);
	free(ready);

	add_secret(e, "{username: bot, password: hunter2}");
	sync_ok(e);
	_cleanup_json_ json_t *cm = get(e, "v1", "ConfigMap", "default", "a");
	assert_non_null(cm);

	/* A bearer token, sent before the server asks. */
	trepo_put(&e->repo, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n");
	trepo_commit(&e->repo, "main", "two", sha);
	add_secret(e, "{bearerToken: tok-123}");
	sync_ok(e);
	_cleanup_json_ json_t *b = get(e, "v1", "ConfigMap", "default", "b");
	assert_non_null(b);

	/* A token as the password, with a user name of the Secret's. */
	trepo_put(&e->repo, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n");
	trepo_commit(&e->repo, "main", "three", sha);
	add_secret(e, "{username: bot, token: hunter2}");
	sync_ok(e);
	_cleanup_json_ json_t *c = get(e, "v1", "ConfigMap", "default", "c");
	assert_non_null(c);
	_cleanup_json_ json_t *gone = get(e, "v1", "ConfigMap", "default", "b");
	assert_null(gone);
	json_decref(repo);
	repo = get_repo(e);
	assert_string_equal(str_at(repo, "status.lastAppliedCommit"), sha);
}

/* Brings lo up in this (new) network namespace. */
static int
loopback_up(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct ifreq ifr = { 0 };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	int r = ioctl(fd, SIOCGIFFLAGS, &ifr);
	if (r == 0) {
		ifr.ifr_flags |= IFF_UP;
		r = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
	return r;
}

int
main(void)
{
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root (for a network namespace of its own)\n");
		return 0;
	}
	if (system("git http-backend --help >/dev/null 2>&1 </dev/null; "
		   "command -v git >/dev/null") != 0) {
		printf("1..0 # SKIP needs the git command (scripts/deps.sh installs it)\n");
		return 0;
	}
	if (unshare(CLONE_NEWNET) < 0 || loopback_up() < 0) {
		printf("Bail out! a network namespace: %m\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_credentials, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
