"""korchd_env.py - a korchd for one test: inside a network namespace made for the test (the test
re-executes itself under `unshare -n`), with a veth pair for a node address, its own data
dir, run dir and instance name; stopped, reset and removed afterwards, even on failure. The
machine's own network is never touched."""
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import http.client

KORCHD = os.environ.get("KORCHD", "")
KORCHCTL = os.environ.get("KORCHCTL", "")
TEST_IMAGE = os.environ.get("KORCH_TEST_IMAGE", "")  # an OCI layout: korch.test/busybox:1
NODE_IP = "10.199.0.1"
SKIP = 77  # meson's exit code for a skipped test


def skip(why):
    print(f"SKIP: {why}", file=sys.stderr)
    sys.exit(SKIP)


def enter_netns():
    """Runs the rest of this process in a network namespace of its own, with lo up and a veth
    pair (both ends inside) whose first end holds NODE_IP and the default route. Re-executes the script under
    unshare the first time."""
    if os.environ.get("KORCH_TEST_NETNS") != "1":
        if os.geteuid() != 0:
            skip("needs root (a network namespace per test)")
        if not shutil.which("unshare") or not shutil.which("ip"):
            skip("needs unshare and ip")
        env = dict(os.environ, KORCH_TEST_NETNS="1")
        r = subprocess.run(["unshare", "-n", "--", sys.executable] + sys.argv, env=env)
        sys.exit(r.returncode)
    for cmd in (["ip", "link", "set", "lo", "up"],
                ["ip", "link", "add", "korchtest0", "type", "veth", "peer", "name",
                 "korchtest1"],
                ["ip", "addr", "add", NODE_IP + "/24", "dev", "korchtest0"],
                ["ip", "link", "set", "korchtest0", "up"],
                ["ip", "link", "set", "korchtest1", "up"],
                # A default route, as a machine has: a local process's packets to a ClusterIP
                # need a route before the proxy's DNAT sends them to a pod on the bridge.
                ["ip", "route", "add", "default", "dev", "korchtest0"]):
        subprocess.run(cmd, check=True)


def kubectl_path():
    for p in ("/usr/lib/google-cloud-sdk/bin/kubectl.1.32", shutil.which("kubectl")):
        if p and os.access(p, os.X_OK):
            return p
    return None


class Korchd:
    """One korchd: start(), then its kubeconfig, admin token and CA; stop() and cleanup()."""

    def __init__(self, port=6443, extra=()):
        self.dir = tempfile.mkdtemp(prefix="korch-test-korchd-")
        self.data = os.path.join(self.dir, "data")
        self.run = os.path.join(self.dir, "run")
        self.instance = f"kt{os.getpid() % 100000}"
        self.port = port
        self.extra = list(extra)
        self.proc = None
        self.log_path = os.path.join(self.dir, "korchd.log")

    def args(self):
        # No disk pressure from the machine's own disk (it may be nearly full where tests run,
        # and image garbage collection would take the test image): the node tests cover it.
        return ["--data-dir", self.data, "--run-dir", self.run, "--instance", self.instance,
                "--listen", f"127.0.0.1:{self.port}", "--node-ip", NODE_IP,
                "--eviction-hard", "nodefs.available<0"] + self.extra

    def load_image(self):
        """Loads the busybox test image into the data dir (korch.test/busybox:1), as the quick
        start does with korchctl image load."""
        r = subprocess.run([KORCHCTL, "image", "load", "--data-dir", self.data, TEST_IMAGE],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"korchctl image load: {r.stdout}{r.stderr}")

    def has_scheduler(self):
        return "this build has no scheduler" not in self.logs()

    def start(self, timeout=10):
        if getattr(self, "log", None):
            self.log.close()
        self.log = open(self.log_path, "ab")
        t0 = time.monotonic()
        self.proc = subprocess.Popen([KORCHD] + self.args(), stdout=self.log, stderr=self.log)
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"korchd exited with {self.proc.returncode}: {self.logs()}")
            if os.path.exists(self.kubeconfig) and self.healthy():
                self.ready_s = time.monotonic() - t0
                return
            time.sleep(0.02)
        raise RuntimeError(f"korchd not ready after {timeout} s: {self.logs()}")

    @property
    def kubeconfig(self):
        return os.path.join(self.data, "admin.kubeconfig")

    @property
    def ca(self):
        return os.path.join(self.data, "pki", "ca.crt")

    def admin_token(self):
        with open(os.path.join(self.data, "tokens.csv")) as f:
            for line in f:
                parts = line.strip().split(",")
                if len(parts) >= 2 and parts[1] == "admin":
                    return parts[0]
        return None

    def healthy(self):
        try:
            status, _, body = self.request("GET", "/healthz", token=None)
            return status == 200 and body == b"ok"
        except OSError:
            return False

    def request(self, method, path, body=None, content_type=None, token="admin", headers=None):
        """One HTTPS request; returns (status, headers, body bytes)."""
        ctx = ssl.create_default_context(cafile=self.ca) if os.path.exists(self.ca) else \
            ssl._create_unverified_context()
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=30)
        h = dict(headers or {})
        if token == "admin":
            token = self.admin_token()
        if token:
            h["Authorization"] = "Bearer " + token
        if content_type:
            h["Content-Type"] = content_type
        if isinstance(body, str):
            body = body.encode()
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            conn.close()

    def raw_post(self, path, body, chunked):
        """A POST whose body the server may refuse before taking it all: the body is sent only
        while no answer has come. Returns (status, the answer's JSON)."""
        import select
        import socket
        ctx = ssl.create_default_context(cafile=self.ca)
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.port), timeout=30),
                            server_hostname="127.0.0.1")
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                f"{self.admin_token()}\r\nContent-Type: application/json\r\n")
        head += "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {len(body)}\r\n"
        s.sendall((head + "\r\n").encode())
        step = 64 * 1024
        try:
            for off in range(0, len(body), step):
                if select.select([s], [], [], 0)[0]:
                    break
                piece = body[off:off + step]
                s.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            else:
                if chunked:
                    s.sendall(b"0\r\n\r\n")
        except OSError:
            pass
        data = b""
        try:
            while True:
                got = s.recv(65536)
                if not got:
                    break
                data += got
                h, _, rest = data.partition(b"\r\n\r\n")
                if rest and b"Content-Length:" in h:
                    n = int(h.split(b"Content-Length:")[1].split(b"\r\n")[0])
                    if len(rest) >= n:
                        break
        except OSError:
            pass
        s.close()
        h, _, rest = data.partition(b"\r\n\r\n")
        status = int(h.split()[1]) if h else 0
        return status, json.loads(rest) if rest else None

    def json(self, method, path, body=None, content_type="application/json", token="admin"):
        status, headers, data = self.request(method, path, body, content_type, token)
        return status, json.loads(data) if data else None

    def logs(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def stop(self, timeout=10):
        """SIGTERM; returns korchd's exit status and the seconds it took."""
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None, 0.0
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        return rc, time.monotonic() - t0

    def reset(self):
        return subprocess.run([KORCHD, "reset"] + self.args(), capture_output=True, text=True,
                              timeout=60)

    def cleanup(self):
        """Stops korchd and resets the instance (korch-monitor, containers, cgroups, run dir);
        a reset that fails is an error of the test."""
        self.stop()
        r = None
        try:
            r = self.reset()
        finally:
            if getattr(self, "log", None):
                self.log.close()
                self.log = None
            shutil.rmtree(self.dir, ignore_errors=True)
        if r is not None and r.returncode != 0:
            raise RuntimeError(f"korchd reset failed: {r.stdout}{r.stderr}")
        with open("/proc/self/mountinfo") as f:
            left = [line.split()[4] for line in f if line.split()[4].startswith(self.dir)]
        if left or os.path.exists(self.dir):
            raise RuntimeError(f"left behind after reset: {left or self.dir}")
        # The pod network: the instance's bridge and nftables table are gone too.
        if subprocess.run(["ip", "link", "show", self.bridge], capture_output=True).returncode == 0:
            raise RuntimeError(f"bridge {self.bridge} left behind after reset")
        tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
        if self.table in tables.split():
            raise RuntimeError(f"nftables table {self.table} left behind after reset")

    @property
    def bridge(self):
        """The instance's bridge (lib/net's naming: kbINSTANCE0 for short names)."""
        return f"kb{self.instance}0"

    def wait_bridge(self, timeout):
        """Whether the instance's bridge exists within timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            if subprocess.run(["ip", "link", "show", self.bridge],
                              capture_output=True).returncode == 0:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)

    @property
    def table(self):
        return f"korch-{self.instance}"
