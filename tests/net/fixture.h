/*
 * fixture.h - a test host for lib/net tests: a network namespace per test, pods as network
 * namespaces bound to files, processes in them, HTTP and DNS clients, and cleanup of all of it on
 * success and failure. The machine's own namespace is never changed: the process runs in a
 * private mount namespace and each test's thread in a new network namespace.
 */
#ifndef KORCH_TESTS_NET_FIXTURE_H
#define KORCH_TESTS_NET_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <korch/loop.h>

#define TH_MAX_PODS 8
#define TH_MAX_PROCS 32
#define TH_NODE_IP "198.51.100.10"

struct th_pod {
	char name[32]; /* its name */
	char *path;    /* the bind mount of its namespace */
	int fd;        /* an fd for it */
};

struct testhost {
	char *dir;                       /* temporary directory */
	int fd;                          /* the test host's namespace */
	struct th_pod pods[TH_MAX_PODS]; /* pods made */
	size_t n_pods;                   /* how many */
	pid_t procs[TH_MAX_PROCS];       /* processes started */
	size_t n_procs;                  /* how many */
};

/*
 * From main(): prints a TAP skip and returns 1 when not root or without busybox; otherwise moves
 * the process into a private mount namespace and returns 0.
 */
int th_init(void);

/*
 * cmocka setup/teardown: a new network namespace for the test's thread with lo up and a link
 * "node0" holding TH_NODE_IP/24 (the node's address) and the default route; teardown kills the processes, unmounts
 * and closes the pods and returns to the original namespace.
 */
int th_setup(void **state);
int th_teardown(void **state);

/* A new pod namespace. */
struct th_pod *th_pod(struct testhost *th, const char *name);

/* Starts argv (argv[0] a program path) in netns_fd (-1: the test host). */
pid_t th_spawn(struct testhost *th, int netns_fd, const char *const argv[]);

/* busybox httpd on port 80 in the pod, answering GET / with body; waits until it listens. */
void th_httpd(struct testhost *th, struct th_pod *pod, uint32_t ip, const char *body);

/*
 * count HTTP GETs (a new connection each) from netns_fd (-1: test host) to ip:port; each
 * response body (or "ERR") on its own line in the returned text (caller frees).
 */
char *th_http_get(int netns_fd, uint32_t ip, uint16_t port, int count);

/* How many lines of text equal word. */
int th_count(const char *text, const char *word);

/* Runs a shell command in the test host namespace and returns its exit status. */
int th_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Its output (caller frees). */
char *th_capture(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * A DNS query from netns_fd (-1: test host) to server:port over UDP or TCP, run in a child
 * while loop (where the responder runs) is dispatched. Returns text: "rcode=NOERROR" then one
 * line per answer "TYPE RDATA" (caller frees).
 */
char *th_dns_query(korch_loop *loop, int netns_fd, uint32_t server, uint16_t port, const char *name,
		   const char *type, bool tcp);

/*
 * Runs argv in netns_fd (-1: test host) while dispatching loop (which may serve it), and returns
 * its standard output (caller frees).
 */
char *th_run(korch_loop *loop, int netns_fd, const char *const argv[]);

/* Dispatches loop until pid exits (reaping it); returns its wait status. */
int th_loop_wait(korch_loop *loop, pid_t pid);

/* Parses an address (aborts on bad text). */
uint32_t th_ip(const char *text);

#endif
