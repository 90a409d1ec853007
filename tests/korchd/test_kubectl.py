#!/usr/bin/python3
"""kubectl 1.32 against korchd, in a network namespace of the test's own: the commands users
type, with their exact output; bad input over HTTPS with the right Status and nothing stored;
korchd's own life (first start, files, SIGTERM, restart, reset, flags, config file).

korchd runs the controllers and a node agent on the real runtime: the quick start's Deployment
runs, with rollout status and undo, logs -f, exec with stdin and exit code, top, and the
mounted ServiceAccount token used against the API, pod IPs from the node's podCIDR and the
web Service's ClusterIP answering from the node and from a pod (the pod network), and a
GitRepository over a local bare repository synced by the GitOps controller. Until lib/scheduler
is in the build the test binds pods through pods/binding itself (korchd logs that it has no
scheduler)."""
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import korchd_env  # noqa: E402
from korchd_env import Korchd  # noqa: E402

KUBECTL = korchd_env.kubectl_path()
NODE = "korchd-test"
EXAMPLE = os.path.join(os.environ.get("KORCH_SOURCE_ROOT", ""), "examples", "web.yaml")

DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: main
        image: busybox:1
        command: [httpd, -f, -p, "8080"]
---
apiVersion: v1
kind: Service
metadata:
  name: web
  labels: {app: web}
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
"""


class Kubectl(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.k = Korchd(extra=["--node-name", NODE])
        cls.k.load_image()
        cls.k.start()
        cls.cache = tempfile.mkdtemp(prefix="korch-test-kubectl-cache-")
        cls.files = tempfile.mkdtemp(prefix="korch-test-kubectl-files-")

    @classmethod
    def tearDownClass(cls):
        # A clean stop after everything above (under ASan: no leak, no memory error).
        rc, _ = cls.k.stop()
        logs = cls.k.logs()
        cls.k.cleanup()
        subprocess.run(["rm", "-rf", cls.cache, cls.files])
        if rc != 0:
            raise AssertionError(f"korchd exited with {rc}: {logs}")

    def kubectl(self, *args, stdin=None, timeout=60, token=None):
        cmd = [KUBECTL, "--kubeconfig", self.k.kubeconfig, "--cache-dir", self.cache]
        if token is not None:
            cmd += ["--token", token]
        p = subprocess.run(cmd + list(args), input=stdin, capture_output=True, text=True,
                           timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def ok(self, *args, stdin=None):
        rc, out, err = self.kubectl(*args, stdin=stdin)
        self.assertEqual(rc, 0, f"kubectl {' '.join(args)}: {err}\n{self.k.logs()}")
        return out

    def fails(self, *args, stdin=None, token=None):
        rc, out, err = self.kubectl(*args, stdin=stdin, token=token)
        self.assertNotEqual(rc, 0, f"kubectl {' '.join(args)} succeeded: {out}")
        return err

    def file(self, name, text):
        path = os.path.join(self.files, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_version_and_api_resources(self):
        v = json.loads(self.ok("version", "-o", "json"))
        self.assertEqual(v["serverVersion"]["major"], "1")
        self.assertEqual(v["serverVersion"]["minor"], "32")
        out = self.ok("api-resources")
        self.assertRegex(out, r"\ndeployments +deploy +apps/v1 +true +Deployment\n")
        self.assertRegex(out, r"\npods +po +v1 +true +Pod\n")

    def test_apply_get_and_unchanged(self):
        path = self.file("web.yaml", DEPLOY)
        self.ok("create", "namespace", "apply")
        out = self.ok("apply", "-n", "apply", "-f", path)
        self.assertEqual(out, "deployment.apps/web created\nservice/web created\n")
        out = self.ok("apply", "-n", "apply", "-f", path)
        self.assertEqual(out, "deployment.apps/web unchanged\nservice/web unchanged\n")
        wide = self.ok("get", "deploy", "-n", "apply", "-o", "wide")
        self.assertRegex(wide.splitlines()[0],
                         r"^NAME +READY +UP-TO-DATE +AVAILABLE +AGE +CONTAINERS +IMAGES +"
                         r"SELECTOR$")
        # busybox:1 is not loaded: nothing becomes available (the ReplicaSet may exist yet).
        self.assertRegex(wide.splitlines()[1], r"^web +0/2 +[02] +0 +\d+s +main +busybox:1 +"
                                              r"app=web$")
        y = self.ok("get", "deploy", "web", "-n", "apply", "-o", "yaml")
        self.assertIn("\nkind: Deployment\n", y)
        self.assertIn("  replicas: 2\n", y)
        self.assertIn("kubectl.kubernetes.io/last-applied-configuration", y)
        self.assertEqual(self.ok("get", "svc", "-n", "apply", "-l", "app=web", "-o", "name"),
                         "service/web\n")
        self.assertEqual(self.ok("get", "svc", "-n", "apply", "-l", "app=db", "-o", "name"), "")
        every = self.ok("get", "deploy", "-A")
        self.assertRegex(every, r"\napply +web +0/2 +[02] +0 +\d+s\n")
        labels = self.ok("get", "svc", "web", "-n", "apply", "--show-labels")
        self.assertRegex(labels.splitlines()[1], r"^web +ClusterIP .* app=web$")
        # Delete returns at once (nothing waits for a finalizer).
        t0 = time.monotonic()
        out = self.ok("delete", "-n", "apply", "-f", path)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(out, "deployment.apps \"web\" deleted\nservice \"web\" deleted\n")
        err = self.fails("get", "deploy", "web", "-n", "apply")
        self.assertEqual(err, "Error from server (NotFound): deployments.apps \"web\" not "
                              "found\n")

    def test_describe_with_events(self):
        self.ok("create", "namespace", "desc")
        self.ok("apply", "-n", "desc", "-f", self.file("web2.yaml", DEPLOY))
        uid = self.ok("get", "deploy", "web", "-n", "desc", "-o", "jsonpath={.metadata.uid}")
        event = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "web.1", "namespace": "desc"},
            "involvedObject": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                               "namespace": "desc", "uid": uid},
            "reason": "ScalingReplicaSet", "message": "Scaled up replica set web-1 to 2",
            "type": "Normal", "source": {"component": "deployment-controller"},
            "count": 1,
        }
        self.ok("create", "-f", "-", stdin=json.dumps(event))
        out = self.ok("describe", "deploy", "web", "-n", "desc")
        self.assertIn("Name:                   web\n", out)
        self.assertIn("Replicas:               2 desired", out)
        self.assertRegex(out, r"Events:\n +Type +Reason +Age +From +Message\n +-+ .*\n"
                              r" +Normal +ScalingReplicaSet +.* +deployment-controller +"
                              r"Scaled up replica set web-1 to 2\n")

    def test_watch_sees_added_modified_deleted(self):
        self.ok("create", "namespace", "watch")
        p = subprocess.Popen([KUBECTL, "--kubeconfig", self.k.kubeconfig, "--cache-dir",
                              self.cache, "get", "configmaps", "-n", "watch", "-w",
                              "--output-watch-events"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # korchctl get -w beside it, over the same API.
        q = subprocess.Popen([korchd_env.KORCHCTL, "--kubeconfig", self.k.kubeconfig, "get",
                              "configmaps", "-n", "watch", "-w", "--output-watch-events"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(1.5)
            self.ok("create", "configmap", "w1", "-n", "watch", "--from-literal=a=1")
            self.ok("patch", "configmap", "w1", "-n", "watch", "-p", '{"data":{"a":"2"}}')
            self.ok("delete", "configmap", "w1", "-n", "watch")
            time.sleep(1.5)
        finally:
            p.terminate()
            q.terminate()
            out, err = p.communicate(timeout=10)
            qout, qerr = q.communicate(timeout=10)
        # The namespace's kube-root-ca.crt (the root CA publisher's) is listed first.
        for text, errs in ((out, err), (qout, qerr)):
            self.assertRegex(text.splitlines()[0], r"^EVENT +NAME +DATA +AGE$")
            rows = [line.split()[:2] for line in text.splitlines()[1:]
                    if line.split()[1] != "kube-root-ca.crt"]
            self.assertEqual(rows, [["ADDED", "w1"], ["MODIFIED", "w1"], ["DELETED", "w1"]],
                             text + errs)

    def test_scale_and_set_image(self):
        self.ok("create", "namespace", "scale")
        self.ok("apply", "-n", "scale", "-f", self.file("web3.yaml", DEPLOY))
        self.assertEqual(self.ok("scale", "deploy", "web", "-n", "scale", "--replicas=3"),
                         "deployment.apps/web scaled\n")
        self.assertEqual(self.ok("get", "deploy", "web", "-n", "scale", "-o",
                                 "jsonpath={.spec.replicas} {.metadata.generation}"), "3 2")
        self.assertEqual(self.ok("set", "image", "deploy/web", "main=busybox:2", "-n", "scale"),
                         "deployment.apps/web image updated\n")
        self.assertEqual(self.ok("get", "deploy", "web", "-n", "scale", "-o",
                                 "jsonpath={.spec.template.spec.containers[0].image}"),
                         "busybox:2")

    def test_server_side_apply_conflict(self):
        self.ok("create", "namespace", "ssa")
        cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: '1'}\n"
        self.assertEqual(self.ok("apply", "--server-side", "-n", "ssa", "-f", "-", stdin=cm),
                         "configmap/cfg serverside-applied\n")
        other = cm.replace("'1'", "'2'")
        err = self.fails("apply", "--server-side", "--field-manager=other", "-n", "ssa", "-f",
                         "-", stdin=other)
        self.assertIn("error: Apply failed with 1 conflict: conflict with \"kubectl\": .data.a\n",
                      err)
        self.ok("apply", "--server-side", "--field-manager=other", "--force-conflicts", "-n",
                "ssa", "-f", "-", stdin=other)
        self.assertEqual(self.ok("get", "cm", "cfg", "-n", "ssa", "-o", "jsonpath={.data.a}"),
                         "2")
        # A server dry run stores nothing.
        out = self.ok("apply", "--dry-run=server", "-n", "ssa", "-f",
                      self.file("dry.yaml", DEPLOY))
        self.assertEqual(out, "deployment.apps/web created (server dry run)\n"
                              "service/web created (server dry run)\n")
        self.fails("get", "deploy", "web", "-n", "ssa")

    def test_explain(self):
        out = self.ok("explain", "deployment.spec.replicas")
        self.assertIn("KIND:       Deployment\nVERSION:    v1\n", out)
        self.assertIn("FIELD: replicas <integer>", out)
        out = self.ok("explain", "pod.spec")
        self.assertIn("  containers\t<[]Container> -required-", out)

    def test_token_wrong_token_and_rbac(self):
        self.ok("create", "namespace", "auth")
        self.assertEqual(self.ok("create", "serviceaccount", "robot", "-n", "auth"),
                         "serviceaccount/robot created\n")
        token = self.ok("create", "token", "robot", "-n", "auth").strip()
        self.assertEqual(token.count("."), 2)
        # The token authenticates (403, not 401): the account has no bindings.
        err = self.fails("get", "pods", "-n", "auth", token=token)
        self.assertEqual(err, "Error from server (Forbidden): pods is forbidden: User "
                              "\"system:serviceaccount:auth:robot\" cannot list resource "
                              "\"pods\" in API group \"\" in the namespace \"auth\"\n")
        err = self.fails("get", "pods", token="bogus")
        self.assertEqual(err, "error: You must be logged in to the server (Unauthorized)\n")
        err = self.fails("get", "pods", "-n", "auth", "--as=carol")
        self.assertEqual(err, "Error from server (Forbidden): pods is forbidden: User \"carol\" "
                              "cannot list resource \"pods\" in API group \"\" in the namespace "
                              "\"auth\"\n")
        self.ok("create", "rolebinding", "robot-view", "--clusterrole=view",
                "--serviceaccount=auth:robot", "-n", "auth")
        deadline = time.monotonic() + 5
        while True:
            rc, out, err = self.kubectl("get", "pods", "-n", "auth", token=token)
            if rc == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(rc, 0, err)
        self.assertEqual(err, "No resources found in auth namespace.\n")
        err = self.fails("get", "secrets", "-n", "auth", token=token)
        self.assertIn("cannot list resource \"secrets\"", err)

    # ---- a workload on this machine's node (controllers, node agent, real containers) ----

    def bind_unscheduled(self, ns, until):
        """Without lib/scheduler in the build (korchd says so in its log), pods are bound here
        through pods/binding, as the scheduler would, until until() is true; with a scheduler
        this only waits."""
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if until():
                return
            if not self.k.has_scheduler():
                _, pods = self.k.json("GET", f"/api/v1/namespaces/{ns}/pods")
                for p in pods["items"]:
                    if p["spec"].get("nodeName") or p["metadata"].get("deletionTimestamp"):
                        continue
                    name = p["metadata"]["name"]
                    self.k.json("POST", f"/api/v1/namespaces/{ns}/pods/{name}/binding",
                                json.dumps({"apiVersion": "v1", "kind": "Binding",
                                            "metadata": {"name": name},
                                            "target": {"kind": "Node", "name": NODE}}))
            time.sleep(0.3)
        self.fail(f"not reached in 90 s: {self.ok('get', 'pods', '-n', ns, '-o', 'wide')}\n"
                  f"{self.ok('get', 'events', '-n', ns)}\n{self.ok('get', 'nodes', '-o', 'yaml')}\n"
                  f"{self.k.logs()[-4000:]}")

    def phases(self, ns, selector):
        return self.ok("get", "pods", "-n", ns, "-l", selector, "-o",
                       "jsonpath={range .items[*]}{.status.phase}{\"\\n\"}{end}")

    def ready_replicas(self, ns, name, n):
        out = self.ok("get", "deploy", name, "-n", ns, "-o",
                      "jsonpath={.status.readyReplicas}/{.status.updatedReplicas}/"
                      "{.status.replicas}")
        return out == f"{n}/{n}/{n}"

    def test_gitops_repository_synced(self):
        # A GitRepository over a local bare repository: korchd's GitOps controller applies it.
        git = shutil.which("git")
        if not git:
            self.skipTest("no git")
        env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@korch.invalid",
                   GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@korch.invalid",
                   GIT_CONFIG_NOSYSTEM="1", HOME=self.files)
        bare = os.path.join(self.files, "apps.git")
        work = os.path.join(self.files, "apps-work")

        def run(*args, cwd=None):
            p = subprocess.run([git] + list(args), cwd=cwd or work, capture_output=True,
                               text=True, env=env, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            return p.stdout.strip()
        run("init", "-q", "--bare", "-b", "main", bare, cwd=self.files)
        run("init", "-q", "-b", "main", work, cwd=self.files)
        os.makedirs(os.path.join(work, "deploy"))
        with open(os.path.join(work, "deploy", "config.yaml"), "w") as f:
            f.write("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n"
                    "data:\n  color: blue\n")
        run("add", "-A")
        run("commit", "-q", "-m", "first")
        run("push", "-q", bare, "main")
        self.ok("create", "namespace", "gitops")
        repo = ("apiVersion: gitops.korch.io/v1\nkind: GitRepository\n"
                "metadata: {name: apps, namespace: gitops}\n"
                f"spec:\n  url: {bare}\n  path: deploy\n  interval: 5m\n")
        self.assertEqual(self.ok("apply", "-f", "-", stdin=repo),
                         "gitrepository.gitops.korch.io/apps created\n")
        deadline = time.monotonic() + 30
        while True:
            rc, out, _ = self.kubectl("get", "configmap", "settings", "-n", "gitops", "-o",
                                      "jsonpath={.data.color} "
                                      "{.metadata.labels.gitops\\.korch\\.io/name}")
            if rc == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        self.assertEqual((rc, out), (0, "blue apps"))

    def test_workload(self):
        # The quick start: examples/web.yaml, three replicas Running on this machine.
        self.ok("create", "namespace", "work")
        out = self.ok("apply", "-n", "work", "-f", EXAMPLE)
        self.assertEqual(out, "deployment.apps/web created\nconfigmap/web-content created\n"
                              "service/web created\n")
        self.bind_unscheduled("work", lambda: self.ready_replicas("work", "web", 3))
        out = self.ok("rollout", "status", "deployment/web", "-n", "work", "--timeout=60s")
        self.assertEqual(out.splitlines()[-1], "deployment \"web\" successfully rolled out")
        self.assertEqual(self.phases("work", "app=web"), "Running\nRunning\nRunning\n")
        nodes = self.ok("get", "pods", "-n", "work", "-l", "app=web", "-o",
                        "jsonpath={.items[*].spec.nodeName}")
        self.assertEqual(nodes, " ".join([NODE] * 3))
        pod = self.ok("get", "pods", "-n", "work", "-l", "app=web", "-o",
                      "jsonpath={.items[0].metadata.name}")

        # The pod network: every pod's IP is in the node's podCIDR, and the Service's ClusterIP
        # answers, from this test's namespace (the node) and from a pod, through the proxy.
        cidr = ipaddress.ip_network(self.ok("get", "node", NODE, "-o",
                                            "jsonpath={.spec.podCIDR}"))
        ips = self.ok("get", "pods", "-n", "work", "-l", "app=web", "-o",
                      "jsonpath={.items[*].status.podIP}").split()
        self.assertEqual(len(set(ips)), 3, ips)
        for ip in ips:
            self.assertIn(ipaddress.ip_address(ip), cidr)
        self.assertEqual(subprocess.run(["ip", "link", "show", self.k.bridge],
                                        capture_output=True).returncode, 0)
        self.assertIn(self.k.table, subprocess.run(["nft", "list", "tables"], capture_output=True,
                                                   text=True).stdout.split())
        vip = self.ok("get", "svc", "web", "-n", "work", "-o", "jsonpath={.spec.clusterIP}")
        self.assertIn(ipaddress.ip_address(vip), ipaddress.ip_network("10.96.0.0/12"))
        body, deadline = None, time.monotonic() + 30
        while body is None:
            try:
                direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
                with direct.open(f"http://{vip}/", timeout=5) as r:
                    body = r.read().decode()
            except OSError as e:
                if time.monotonic() > deadline:
                    self.fail(f"http://{vip}/ from the node: {e}")
                time.sleep(0.5)
        self.assertEqual(body, "<h1>Hello from korch</h1>\n")
        # (busybox nc: the static busybox's wget crashes resolving in an image without NSS.)
        out = self.ok("exec", pod, "-n", "work", "--", "sh", "-c",
                      f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 10 {vip} 80")
        # (text mode: the answer's CRLFs read as newlines)
        self.assertRegex(out, r"^HTTP/1\.[01] 200 OK\n")
        self.assertTrue(out.endswith("\n\n<h1>Hello from korch</h1>\n"), out)

        # exec: stdin in, stdout out, the exit code back.
        rc, out, err = self.kubectl("exec", "-i", pod, "-n", "work", "--", "sh", "-c",
                                    "cat; echo err >&2; exit 3", stdin="hello\n")
        self.assertEqual((rc, out, err), (3, "hello\n", "err\ncommand terminated with exit "
                                                        "code 3\n"))
        self.assertEqual(self.ok("exec", pod, "-n", "work", "--", "cat", "/www/index.html"),
                         "<h1>Hello from korch</h1>\n")

        # The mounted ServiceAccount token, CA and namespace, and the API's address.
        sa = "/var/run/secrets/kubernetes.io/serviceaccount"
        self.assertEqual(self.ok("exec", pod, "-n", "work", "--", "cat", sa + "/namespace"),
                         "work")
        with open(self.k.ca) as f:
            self.assertEqual(self.ok("exec", pod, "-n", "work", "--", "cat", sa + "/ca.crt"),
                             f.read())
        self.assertEqual(self.ok("exec", pod, "-n", "work", "--", "sh", "-c",
                                 "echo $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT"),
                         "10.96.0.1:443\n")
        token = self.ok("exec", pod, "-n", "work", "--", "cat", sa + "/token")
        err = self.fails("get", "pods", "-n", "work", token=token)
        self.assertEqual(err, "Error from server (Forbidden): pods is forbidden: User "
                              "\"system:serviceaccount:work:default\" cannot list resource "
                              "\"pods\" in API group \"\" in the namespace \"work\"\n")
        # An in-cluster client: from the pod's own network namespace (its address), the API at
        # the kubernetes Service's VIP, TLS checked against the mounted CA, the mounted token.
        # (Python from this machine runs there: the busybox image has no TLS client.)
        uid = self.ok("get", "pod", pod, "-n", "work", "-o", "jsonpath={.metadata.uid}")
        netns = os.path.join(self.k.run, "sandboxes", uid, "net")
        ca = os.path.join(self.files, "pod-ca.crt")
        with open(ca, "w") as f:
            f.write(self.ok("exec", pod, "-n", "work", "--", "cat", sa + "/ca.crt"))
        client = (
            "import json, ssl, sys, urllib.error, urllib.request\n"
            "ctx = ssl.create_default_context(cafile=sys.argv[1])\n"
            "req = urllib.request.Request('https://10.96.0.1:443/api/v1/namespaces/work/pods',"
            " headers={'Authorization': 'Bearer ' + sys.argv[2]})\n"
            "opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),"
            " urllib.request.HTTPSHandler(context=ctx))\n"
            "try:\n"
            "    opener.open(req, timeout=10)\n"
            "except urllib.error.HTTPError as e:\n"
            "    print(e.code, json.load(e)['message'])\n")
        p = subprocess.run(["nsenter", f"--net={netns}", sys.executable, "-c", client, ca,
                            token], capture_output=True, text=True, timeout=60)
        self.assertEqual((p.returncode, p.stdout, p.stderr),
                         (0, "403 pods is forbidden: User \"system:serviceaccount:work:default\" "
                             "cannot list resource \"pods\" in API group \"\" in the namespace "
                             "\"work\"\n", ""))

        # logs -f: the whole output, returning when the container ends.
        talk = ("apiVersion: v1\nkind: Pod\nmetadata: {name: talk}\nspec:\n"
                "  restartPolicy: Never\n  containers:\n  - name: c\n"
                "    image: korch.test/busybox:1\n    imagePullPolicy: Never\n"
                "    command: [sh, -c, 'echo one; echo two; sleep 2; echo three']\n")
        self.ok("apply", "-n", "work", "-f", "-", stdin=talk)
        self.bind_unscheduled("work", lambda: self.ok(
            "get", "pod", "talk", "-n", "work", "-o", "jsonpath={.status.phase}") in
            ("Running", "Succeeded"))
        t0 = time.monotonic()
        self.assertEqual(self.ok("logs", "-f", "talk", "-n", "work"), "one\ntwo\nthree\n")
        self.assertLess(time.monotonic() - t0, 10)
        self.assertEqual(self.ok("logs", "talk", "-n", "work", "--tail=1"), "three\n")

        # An image change that cannot run, then rollout undo back to the first template.
        self.assertEqual(self.ok("set", "image", "deploy/web", "httpd=korch.test/busybox:none",
                                 "-n", "work"), "deployment.apps/web image updated\n")
        self.assertEqual(self.ok("rollout", "undo", "deploy/web", "-n", "work"),
                         "deployment.apps/web rolled back\n")
        self.bind_unscheduled("work", lambda: self.ready_replicas("work", "web", 3))
        out = self.ok("rollout", "status", "deployment/web", "-n", "work", "--timeout=60s")
        self.assertEqual(out.splitlines()[-1], "deployment \"web\" successfully rolled out")
        self.assertEqual(self.ok("get", "deploy", "web", "-n", "work", "-o",
                                 "jsonpath={.spec.template.spec.containers[0].image}"),
                         "korch.test/busybox:1")
        hist = self.ok("rollout", "history", "deploy/web", "-n", "work")
        self.assertRegex(hist, r"REVISION +CHANGE-CAUSE\n2 +<none>\n3 +<none>\n")

        # top pods: the node agent's samples (two are needed for a CPU rate: 10 s apart).
        deadline = time.monotonic() + 40
        while True:
            rc, out, err = self.kubectl("top", "pods", "-n", "work", "-l", "app=web")
            if rc == 0 or time.monotonic() > deadline:
                break
            time.sleep(2)
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertRegex(lines[0], r"^NAME +CPU\(cores\) +MEMORY\(bytes\) *$")
        self.assertEqual(len(lines), 4, out)
        for line in lines[1:]:
            self.assertRegex(line, r"^web-[a-z0-9]+-[a-z0-9]+ +\d+m +\d+Mi *$")
        out = self.ok("top", "nodes")
        self.assertRegex(out.splitlines()[1], rf"^{NODE} +\d+m +\d+% +\d+Mi +\d+% *$")

        # korchctl against korchd (its kubeconfig): the same workload.
        def ctl(*args, stdin=None):
            p = subprocess.run([korchd_env.KORCHCTL, "--kubeconfig", self.k.kubeconfig, "-n",
                                "work"] + list(args), input=stdin, capture_output=True,
                               text=True, timeout=60)
            return p.returncode, p.stdout, p.stderr
        rc, out, err = ctl("get", "deploy", "web", "-o", "name")
        self.assertEqual((rc, out), (0, "deployment.apps/web\n"), err)
        self.assertEqual(ctl("logs", "talk"), (0, "one\ntwo\nthree\n", ""))
        self.assertEqual(ctl("logs", "talk", "--tail=1"), (0, "three\n", ""))
        self.assertEqual(ctl("exec", "-i", pod, "--", "sh", "-c", "cat; exit 4", stdin="x\n"),
                         (4, "x\n", "command terminated with exit code 4\n"))
        rc, out, err = ctl("top", "pods")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"^NAME +CPU\(cores\) +MEMORY\(bytes\)\n(web-\S+ +\d+m +\d+Mi\n)"
                              r"{3}")
        # rollout history as kubectl prints it; undo to the broken image and back again.
        self.assertEqual(ctl("rollout", "history", "deploy/web"),
                         (0, self.ok("rollout", "history", "deploy/web", "-n", "work"), ""))
        self.assertEqual(ctl("rollout", "undo", "deploy/web"),
                         (0, "deployment.apps/web rolled back\n", ""))
        image = ["get", "deploy", "web", "-n", "work", "-o",
                 "jsonpath={.spec.template.spec.containers[0].image}"]
        self.assertEqual(self.ok(*image), "korch.test/busybox:none")
        self.assertEqual(ctl("rollout", "undo", "deploy/web", "--to-revision=3"),
                         (0, "deployment.apps/web rolled back\n", ""))
        self.assertEqual(self.ok(*image), "korch.test/busybox:1")
        self.assertEqual(ctl("rollout", "undo", "deploy/web", "--to-revision=9"),
                         (1, "", "error: unable to find specified revision 9 in history\n"))
        self.bind_unscheduled("work", lambda: self.ready_replicas("work", "web", 3))
        self.assertEqual(ctl("scale", "deploy/web", "--replicas=2"),
                         (0, "deployment.apps/web scaled\n", ""))
        rc, out, err = ctl("rollout", "status", "deploy/web", "--timeout=60")
        self.assertEqual((rc, out.splitlines()[-1]),
                         (0, "deployment \"web\" successfully rolled out"), err)
        self.assertEqual(self.ok("get", "deploy", "web", "-n", "work", "-o",
                                 "jsonpath={.status.replicas}"), "2")
        rc, out, err = ctl("create", "token", "default")
        self.assertEqual((rc, out.count(".")), (0, 2), err)
        err = self.fails("get", "pods", "-n", "work", token=out.strip())
        self.assertIn("User \"system:serviceaccount:work:default\" cannot list", err)
        self.assertEqual(ctl("logs", "nope"),
                         (1, "", "error: pods \"nope\" not found\n"))

        # SIGTERM leaves the containers running; the next korchd adopts them (same ids, no
        # restart).
        ids = ["get", "pods", "-n", "work", "-l", "app=web", "-o",
               "jsonpath={range .items[*]}{.status.containerStatuses[0].containerID} "
               "{.status.containerStatuses[0].restartCount}{\"\\n\"}{end}"]
        self.bind_unscheduled("work", lambda: self.phases("work", "app=web") ==
                              "Running\nRunning\n")
        before = self.ok(*ids)
        self.assertRegex(before, r"^(korch://\S+ 0\n){2}$")
        rc, _ = self.k.stop()
        self.assertEqual(rc, 0, self.k.logs())
        self.k.start()
        time.sleep(3)
        self.assertEqual(self.ok(*ids), before)
        self.assertEqual(self.phases("work", "app=web"), "Running\nRunning\n")
        self.ok("delete", "namespace", "work", "--wait=false")

    def test_public_client_over_https(self):
        # korch_client_connect from the admin kubeconfig: CA data, token, the calls korchctl
        # makes.
        tool = os.environ.get("KORCH_REMOTE_CLIENT")
        if not tool:
            self.skipTest("KORCH_REMOTE_CLIENT is not set")
        r = subprocess.run([tool, self.k.kubeconfig], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout, "ok connect\nok version\nok list namespaces\n"
                                   "ok apply creates\nok apply again is unchanged\nok get\n"
                                   "ok create again is AlreadyExists\n"
                                   "ok watch sees the create\nok delete\n"
                                   "ok logs of a missing pod\n")

    # ---- bad input over HTTPS ----

    def expect(self, method, path, body, content_type, status, reason):
        got, st = self.k.json(method, path, body, content_type)
        self.assertEqual(got, status, st)
        self.assertEqual(st["kind"], "Status")
        self.assertEqual(st["reason"], reason)
        self.assertEqual(st["code"], status)
        return st

    def assert_absent(self, path):
        status, _ = self.k.json("GET", path)
        self.assertEqual(status, 404)

    def test_bad_input(self):
        cms = "/api/v1/namespaces/default/configmaps"
        st = self.expect("POST", cms, '{"apiVersion":"v1","kind":', "application/json", 400,
                         "BadRequest")
        self.assertTrue(st["message"].startswith("the request body is not valid JSON: "))
        self.expect("POST", cms, "apiVersion: v1\nkind: [ConfigMap\n", "application/yaml", 400,
                    "BadRequest")
        self.expect("POST", cms, "{}", "text/plain", 415, "UnsupportedMediaType")
        self.expect("PATCH", cms + "/x", "{}", "application/xml", 415, "UnsupportedMediaType")
        big = ('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"a":"' +
               "x" * (4 * 1024 * 1024) + '"}}').encode()
        # With a length: refused before the body is read; chunked: once 3 MiB arrived.
        for chunked in (False, True):
            status, st = self.k.raw_post(cms, big, chunked)
            self.assertEqual(status, 413, st)
            self.assertEqual(st["reason"], "RequestEntityTooLarge")
        self.assert_absent(cms + "/big")
        self.expect("POST", "/apis/example.com/v1/namespaces/default/foos",
                    '{"apiVersion":"example.com/v1","kind":"Foo","metadata":{"name":"f"}}',
                    "application/json", 404, "NotFound")
        st = self.expect("POST", cms + "?fieldValidation=Strict",
                         '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"u"},'
                         '"spec":{}}', "application/json", 400, "BadRequest")
        self.assertEqual(st["message"], "ConfigMap in version \"v1\" cannot be handled as a "
                                        "ConfigMap: strict decoding error: unknown field "
                                        "\"spec\"")
        self.assert_absent(cms + "/u")
        st = self.expect("POST", cms, '{"apiVersion":"v1","kind":"ConfigMap",'
                                      '"metadata":{"name":"Not_Valid"}}',
                         "application/json", 422, "Invalid")
        self.assertEqual(st["details"]["causes"][0]["field"], "metadata.name")
        self.assert_absent(cms + "/Not_Valid")


class Lifecycle(unittest.TestCase):
    def test_first_start_files_stop_restart_reset(self):
        k = Korchd(port=6444)
        try:
            k.start()
            self.assertLess(k.ready_s, 1.0, "ready for kubectl within a second")
            for f in ("pki/ca.crt", "pki/ca.key", "pki/server.crt", "pki/server.key",
                      "pki/sa.key", "tokens.csv", "admin.kubeconfig", "state.db"):
                self.assertTrue(os.path.exists(os.path.join(k.data, f)), f)
            for f in ("pki/ca.key", "pki/server.key", "pki/sa.key", "tokens.csv",
                      "admin.kubeconfig"):
                self.assertEqual(os.stat(os.path.join(k.data, f)).st_mode & 0o777, 0o600, f)
            sock = os.path.join(k.run, "korchd.sock")
            self.assertEqual(os.stat(sock).st_mode & 0o777, 0o600)
            with open(k.ca) as f:
                ca = f.read()
            # The pod network opens with the node's podCIDR: the instance's bridge.
            self.assertTrue(k.wait_bridge(10), k.logs())
            # Anonymous: health and version only.
            self.assertEqual(k.request("GET", "/version", token=None)[0], 200)
            self.assertEqual(k.request("GET", "/api/v1/pods", token=None)[0], 401)
            rc, took = k.stop()
            self.assertEqual(rc, 0, k.logs())
            self.assertLess(took, 3)
            self.assertFalse(os.path.exists(sock))
            self.assertIn("korchd: stopped", k.logs())
            # Restart: the same CA, the objects still there.
            k.start()
            with open(k.ca) as f:
                self.assertEqual(f.read(), ca)
            status, ns = k.json("GET", "/api/v1/namespaces/kube-system")
            self.assertEqual(status, 200)
            status, svc = k.json("GET", "/api/v1/namespaces/default/services/kubernetes")
            self.assertEqual(svc["spec"]["clusterIP"], "10.96.0.1")
            status, ep = k.json("GET", "/api/v1/namespaces/default/endpoints/kubernetes")
            self.assertEqual(ep["subsets"][0]["addresses"][0]["ip"], korchd_env.NODE_IP)
            self.assertEqual(ep["subsets"][0]["ports"][0]["port"], 6444)
            # reset refuses while korchd runs, then removes the run directory.
            r = k.reset()
            self.assertEqual(r.returncode, 1)
            self.assertIn("is running", r.stderr)
            self.assertEqual(k.stop()[0], 0)
            r = k.reset()
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertFalse(os.path.exists(k.run))
            self.assertTrue(os.path.exists(os.path.join(k.data, "state.db")))
        finally:
            k.cleanup()

    def test_flags_and_config_file(self):
        r = subprocess.run([korchd_env.KORCHD, "--help"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        for flag in ("--data-dir", "--run-dir", "--instance", "--listen", "--node-name",
                     "--cluster-cidr", "--service-cidr", "--tls-cert-file", "--token-file"):
            self.assertIn(flag, r.stdout)
        r = subprocess.run([korchd_env.KORCHD, "--role", "boss"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr, "korchd: --role: expected all, control-plane or node, got "
                                   "\"boss\"\n")
        r = subprocess.run([korchd_env.KORCHD, "--pod-network", "no"], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr, "korchd: --pod-network: expected true or false, got "
                                   "\"no\"\n")
        r = subprocess.run([korchd_env.KORCHD, "--instance", "a/b"], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 2)
        r = subprocess.run([korchd_env.KORCHD, "--eviction-hard", "pid.available<1k"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr, "korchd: --eviction-hard: eviction signal \"pid.available\" "
                                   "is not supported by korch (memory.available and "
                                   "nodefs.available are)\n")
        # The config file: its listen address is used; an unknown key is refused.
        k = Korchd(port=6445)
        try:
            cfg = os.path.join(k.dir, "korch.yaml")
            with open(cfg, "w") as f:
                f.write("listen: ['127.0.0.1:6446']\nlog-level: warn\npod-network: false\n"
                        "eviction-hard: memory.available<5%,nodefs.available<0\n")
            k.extra = ["--config", cfg]
            k.args = lambda: ["--data-dir", k.data, "--run-dir", k.run, "--instance",
                              k.instance, "--node-ip", korchd_env.NODE_IP, "--config", cfg]
            k.port = 6446
            k.start()
            self.assertEqual(k.request("GET", "/version", token=None)[0], 200)
            # pod-network: false (a YAML boolean): no bridge is made.
            self.assertFalse(k.wait_bridge(3))
            self.assertEqual(k.stop()[0], 0)
            with open(cfg, "w") as f:
                f.write("listen-address: 1.2.3.4\n")
            r = subprocess.run([korchd_env.KORCHD] + k.args(), capture_output=True, text=True)
            self.assertEqual(r.returncode, 2)
            self.assertEqual(r.stderr, f"korchd: {cfg}: unknown setting \"listen-address\"\n")
        finally:
            # reset with a config it accepts: it must stop this instance's korch-monitor.
            with open(cfg, "w") as f:
                f.write("log-level: warn\n")
            k.cleanup()


if __name__ == "__main__":
    if not korchd_env.KORCHD:
        korchd_env.skip("KORCHD is not set")
    if not KUBECTL:
        korchd_env.skip("no kubectl")
    korchd_env.enter_netns()
    unittest.main(verbosity=2)
