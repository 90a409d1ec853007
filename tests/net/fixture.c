/* The lib/net test host: namespaces, processes, HTTP and DNS clients (see fixture.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ldns/ldns.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/loop.h"
#include "net/addr.h"
#include "fixture.h"

static int original_netns = -1;

uint32_t
th_ip(const char *text)
{
	uint32_t ip;
	if (ip4_parse(text, &ip, NULL) < 0)
		abort();
	return ip;
}

int
th_init(void)
{
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root\n");
		return 1;
	}
	if (access("/bin/busybox", X_OK) < 0) {
		printf("1..0 # SKIP needs busybox-static\n");
		return 1;
	}
	if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0) {
		printf("1..0 # SKIP cannot make a private mount namespace: %s\n", strerror(errno));
		return 1;
	}
	original_netns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	signal(SIGPIPE, SIG_IGN);
	return original_netns < 0 ? -1 : 0;
}

int
th_setup(void **state)
{
	struct testhost *th = calloc(1, sizeof(*th));
	th->fd = -1;
	th->dir = strdup("/tmp/korch-test-net-XXXXXX");
	*state = th;
	if (!mkdtemp(th->dir)) {
		free(th->dir);
		free(th);
		*state = NULL;
		return -1;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		th_teardown(state);
		return -1;
	}
	th->fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	/* The node's "NIC": a veth pair (this kernel has no dummy links) with the node address. */
	if (th_sh("ip link set lo up && ip link add name node0 type veth peer name node0p && "
		  "ip addr add %s/24 dev node0 && ip link set node0p up && ip link set node0 up && "
		  "ip route add default via 198.51.100.1 dev node0",
		  TH_NODE_IP) != 0) {
		th_teardown(state);
		return -1;
	}
	return 0;
}

int
th_teardown(void **state)
{
	struct testhost *th = *state;
	if (!th)
		return 0;
	for (size_t i = 0; i < th->n_procs; i++) {
		kill(th->procs[i], SIGKILL);
		waitpid(th->procs[i], NULL, 0);
	}
	for (size_t i = 0; i < th->n_pods; i++) {
		close(th->pods[i].fd);
		umount2(th->pods[i].path, MNT_DETACH);
		free(th->pods[i].path);
	}
	if (th->fd >= 0)
		close(th->fd);
	if (setns(original_netns, CLONE_NEWNET) < 0)
		abort();
	rm_rf(th->dir, NULL);
	free(th->dir);
	free(th);
	*state = NULL;
	return 0;
}

struct th_pod *
th_pod(struct testhost *th, const char *name)
{
	if (th->n_pods == TH_MAX_PODS)
		abort();
	struct th_pod *p = &th->pods[th->n_pods];
	snprintf(p->name, sizeof(p->name), "%s", name);
	if (asprintf(&p->path, "%s/netns-%s", th->dir, name) < 0)
		abort();
	int fd = open(p->path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		abort();
	close(fd);
	/* A new namespace for this thread, bound to the file, then back to the test host. */
	if (unshare(CLONE_NEWNET) < 0 ||
	    mount("/proc/thread-self/ns/net", p->path, "none", MS_BIND, NULL) < 0 ||
	    setns(th->fd, CLONE_NEWNET) < 0)
		abort();
	p->fd = open(p->path, O_RDONLY | O_CLOEXEC);
	if (p->fd < 0)
		abort();
	th->n_pods++;
	return p;
}

pid_t
th_spawn(struct testhost *th, int netns_fd, const char *const argv[])
{
	pid_t pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) < 0)
			_exit(126);
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (th->n_procs < TH_MAX_PROCS)
		th->procs[th->n_procs++] = pid;
	return pid;
}

/* One HTTP/1.0 GET; the body without trailing whitespace into body. */
static bool
http_once(uint32_t ip, uint16_t port, char *body, size_t size)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(ip) };
	struct timeval tv = { 2, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	char buf[4096];
	size_t n = 0;
	bool ok = false;
	const char req[] = "GET / HTTP/1.0\r\nConnection: close\r\n\r\n";
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    write(fd, req, sizeof(req) - 1) == (ssize_t)sizeof(req) - 1) {
		ssize_t k;
		while (n < sizeof(buf) - 1 && (k = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
			n += (size_t)k;
		buf[n] = '\0';
		char *start = strstr(buf, "\r\n\r\n");
		if (start && strstr(buf, " 200 ")) {
			start += 4;
			size_t len = strcspn(start, "\r\n \t");
			snprintf(body, size, "%.*s", (int)len, start);
			ok = true;
		}
	}
	close(fd);
	return ok;
}

char *
th_http_get(int netns_fd, uint32_t ip, uint16_t port, int count)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		abort();
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) < 0)
			_exit(126);
		FILE *out = fdopen(p[1], "w");
		for (int i = 0; i < count; i++) {
			char body[256];
			fprintf(out, "%s\n",
				http_once(ip, port, body, sizeof(body)) ? body : "ERR");
		}
		fclose(out);
		_exit(0);
	}
	close(p[1]);
	char *text = NULL;
	read_all_fd(p[0], 1 << 20, &text, NULL, NULL);
	close(p[0]);
	waitpid(pid, NULL, 0);
	return text ? text : strdup("");
}

int
th_count(const char *text, const char *word)
{
	int n = 0;
	size_t w = strlen(word);
	for (const char *l = text; l && *l;) {
		const char *end = strchr(l, '\n');
		size_t len = end ? (size_t)(end - l) : strlen(l);
		n += len == w && strncmp(l, word, w) == 0;
		l = end ? end + 1 : NULL;
	}
	return n;
}

void
th_httpd(struct testhost *th, struct th_pod *pod, uint32_t ip, const char *body)
{
	char *root = NULL, *index = NULL;
	if (asprintf(&root, "%s/www-%s", th->dir, pod->name) < 0 ||
	    asprintf(&index, "%s/index.html", root) < 0 || mkdir_p(root, 0755, NULL) < 0 ||
	    write_file_atomic(index, body, strlen(body), 0644, NULL) < 0)
		abort();
	const char *argv[] = { "/bin/busybox", "httpd", "-f", "-p", "80", "-h", root, NULL };
	th_spawn(th, pod->fd, argv);
	/* Wait until it answers from inside its own namespace. */
	for (int i = 0; i < 200; i++) {
		char *text = th_http_get(pod->fd, 0x7f000001, 80, 1);
		bool ok = th_count(text, body) == 1;
		free(text);
		if (ok)
			break;
		usleep(10000);
	}
	free(index);
	free(root);
}

int
th_sh(const char *fmt, ...)
{
	char *cmd = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		abort();
	va_end(ap);
	int st = system(cmd);
	free(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

char *
th_capture(const char *fmt, ...)
{
	char *cmd = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		abort();
	va_end(ap);
	FILE *f = popen(cmd, "r");
	free(cmd);
	char *text = NULL;
	if (f)
		read_all_fd(fileno(f), 1 << 22, &text, NULL, NULL);
	if (f)
		pclose(f);
	return text ? text : strdup("");
}

struct child_done {
	bool done;  /* it exited */
	int status; /* its wait status */
};

static void
child_exited(struct loop_source *src, pid_t pid, const siginfo_t *si, void *userdata)
{
	struct child_done *d = userdata;
	d->done = true;
	d->status = si->si_code == CLD_EXITED ? si->si_status << 8 : si->si_status;
}

int
th_loop_wait(korch_loop *loop, pid_t pid)
{
	struct child_done d = { 0 };
	struct loop_source *src = NULL;
	if (loop_add_child(loop, pid, child_exited, &d, &src, NULL) < 0)
		abort();
	while (!d.done)
		korch_loop_dispatch(loop, 1000, NULL);
	loop_source_free(src);
	return d.status;
}

/* In the child: one query, the summary on out. */
static void
dns_child(FILE *out, uint32_t server, uint16_t port, const char *name, const char *type, bool tcp)
{
	ldns_rdf *qname = ldns_dname_new_frm_str(name);
	ldns_pkt *q = ldns_pkt_query_new(qname, ldns_get_rr_type_by_name(type), LDNS_RR_CLASS_IN,
					 LDNS_RD);
	ldns_pkt_set_id(q, (uint16_t)(getpid() * 7919));
	uint8_t *wire = NULL;
	size_t len = 0;
	ldns_pkt2wire(&wire, q, &len);
	int fd = socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(server) };
	struct timeval tv = { 5, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	uint8_t buf[65536 + 2];
	ssize_t n = -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
		if (tcp) {
			uint8_t hdr[2] = { (uint8_t)(len >> 8), (uint8_t)len };
			(void)!write(fd, hdr, 2);
			(void)!write(fd, wire, len);
			size_t got = 0;
			ssize_t k;
			while ((k = read(fd, buf + got, sizeof(buf) - got)) > 0) {
				got += (size_t)k;
				if (got >= 2 && got >= 2 + ((size_t)buf[0] << 8 | buf[1]))
					break;
			}
			n = got >= 2 ? (ssize_t)got - 2 : -1;
			memmove(buf, buf + 2, got >= 2 ? got - 2 : 0);
		} else {
			(void)!write(fd, wire, len);
			n = read(fd, buf, sizeof(buf));
		}
	}
	close(fd);
	free(wire);
	ldns_pkt *r = NULL;
	if (n <= 0 || ldns_wire2pkt(&r, buf, (size_t)n) != LDNS_STATUS_OK) {
		fprintf(out, "error=%s\n", n <= 0 ? "no answer" : "bad answer");
		ldns_pkt_free(q);
		return;
	}
	char *rcode = ldns_pkt_rcode2str(ldns_pkt_get_rcode(r));
	fprintf(out, "rcode=%s%s%s id=%s\n", rcode, ldns_pkt_aa(r) ? " aa" : "",
		ldns_pkt_tc(r) ? " tc" : "", ldns_pkt_id(r) == ldns_pkt_id(q) ? "ok" : "bad");
	free(rcode);
	ldns_rr_list *an = ldns_pkt_answer(r);
	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		ldns_rr *rr = ldns_rr_list_rr(an, i);
		char *t = ldns_rr_type2str(ldns_rr_get_type(rr));
		fprintf(out, "%s", t);
		free(t);
		for (size_t k = 0; k < ldns_rr_rd_count(rr); k++) {
			char *d = ldns_rdf2str(ldns_rr_rdf(rr, k));
			fprintf(out, " %s", d);
			free(d);
		}
		fprintf(out, "\n");
	}
	ldns_pkt_free(r);
	ldns_pkt_free(q);
}

char *
th_dns_query(korch_loop *loop, int netns_fd, uint32_t server, uint16_t port, const char *name,
	     const char *type, bool tcp)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		abort();
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) < 0)
			_exit(126);
		FILE *out = fdopen(p[1], "w");
		dns_child(out, server, port, name, type, tcp);
		fclose(out);
		_exit(0);
	}
	close(p[1]);
	th_loop_wait(loop, pid);
	char *text = NULL;
	read_all_fd(p[0], 1 << 20, &text, NULL, NULL);
	close(p[0]);
	return text ? text : strdup("");
}

char *
th_run(korch_loop *loop, int netns_fd, const char *const argv[])
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		abort();
	pid_t pid = fork();
	if (pid == 0) {
		if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) < 0)
			_exit(126);
		dup2(p[1], 1);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	th_loop_wait(loop, pid);
	char *text = NULL;
	read_all_fd(p[0], 1 << 20, &text, NULL, NULL);
	close(p[0]);
	return text ? text : strdup("");
}
