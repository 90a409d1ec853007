#!/usr/bin/python3
"""korchctl on a state file: apply, get, describe, patch, delete, api-resources, state backup
and restore, and its errors, run as a user runs it (the real binary, a real state file)."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

KORCHCTL = os.environ["KORCHCTL"]
SOURCE = os.environ["KORCH_SOURCE_ROOT"]

DEPLOYMENT = """\
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
      - name: httpd
        image: korch.test/busybox:1
"""


class Korchctl(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="korch-test-korchctl-")
        self.state = os.path.join(self.dir, "state.db")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def run_ctl(self, *args, stdin=None, state=True):
        env = dict(os.environ)
        env.pop("KORCH_STATE", None)
        cmd = [KORCHCTL] + (["--state", self.state] if state else []) + list(args)
        p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env, timeout=60)
        return p.returncode, p.stdout, p.stderr

    def ok(self, *args, stdin=None):
        rc, out, err = self.run_ctl(*args, stdin=stdin)
        self.assertEqual(rc, 0, f"korchctl {' '.join(args)} failed: {err}")
        return out

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_apply_created_unchanged_configured(self):
        path = self.write("web.yaml", DEPLOYMENT)
        self.assertEqual(self.ok("apply", "-f", path), "deployment.apps/web created\n")
        self.assertEqual(self.ok("apply", "-f", path), "deployment.apps/web unchanged\n")
        self.write("web.yaml", DEPLOYMENT.replace("replicas: 2", "replicas: 3"))
        self.assertEqual(self.ok("apply", "-f", path), "deployment.apps/web configured\n")
        obj = json.loads(self.ok("get", "deployment", "web", "-o", "json"))
        self.assertEqual(obj["spec"]["replicas"], 3)
        self.assertEqual(obj["metadata"]["generation"], 2)
        self.assertEqual(obj["metadata"]["namespace"], "default")
        # kubectl's last-applied annotation holds the configuration, so kubectl apply works later.
        last = json.loads(obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
        self.assertEqual(last["spec"]["replicas"], 3)
        managers = [m["manager"] for m in obj["metadata"]["managedFields"]]
        self.assertEqual(managers, ["korchctl"])

    def test_example_directory_and_outputs(self):
        out = self.ok("apply", "-f", os.path.join(SOURCE, "examples"))
        self.assertEqual(out, "deployment.apps/web created\nconfigmap/web-content created\n"
                              "service/web created\n")
        self.assertEqual(self.ok("get", "deploy,svc", "-o", "name"),
                         "deployment.apps/web\nservice/web\n")
        self.assertEqual(self.ok("get", "deploy", "web", "-o",
                                 "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].name}"),
                         "3 httpd")
        table = self.ok("get", "deployments").splitlines()
        self.assertEqual(table[0].split(), ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"])
        self.assertEqual(table[1].split()[:4], ["web", "0/3", "0", "0"])
        wide = self.ok("get", "svc", "-o", "wide", "--show-labels").splitlines()
        self.assertEqual(wide[0].split(), ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)",
                                           "AGE", "SELECTOR", "LABELS"])
        self.assertIn("app=web", wide[1])
        listed = self.ok("get", "cm", "-A", "-o", "yaml")
        self.assertTrue(listed.startswith("apiVersion: v1\nitems:\n"))
        self.assertIn("kind: List\n", listed)
        self.assertEqual(self.ok("get", "cm", "-l", "app=nothing", "-o", "name"), "")
        rc, out, err = self.run_ctl("get", "pods")
        self.assertEqual((rc, out, err), (0, "", "No resources found in default namespace.\n"))

    def test_strict_validation_and_bad_input(self):
        bad = self.write("bad.yaml", DEPLOYMENT.replace("replicas: 2", "replica: 2"))
        rc, out, err = self.run_ctl("apply", "-f", bad)
        self.assertEqual(rc, 1)
        self.assertEqual(err, 'error: strict decoding error: unknown field "spec.replica"\n')
        neg = self.write("neg.yaml", DEPLOYMENT.replace("replicas: 2", "replicas: -1"))
        rc, out, err = self.run_ctl("apply", "-f", neg)
        self.assertEqual(rc, 1)
        self.assertIn('Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: '
                      'must be greater than or equal to 0', err)
        broken = self.write("broken.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\n")
        rc, out, err = self.run_ctl("apply", "-f", broken)
        self.assertEqual(rc, 1)
        self.assertEqual(err, "error: " + broken + ":4:1: did not find expected ',' or '}' "
                              "(while parsing a flow mapping at line 3)\n")
        rc, out, err = self.run_ctl("apply", "-f", "-",
                                    stdin="apiVersion: example.com/v1\nkind: Foo\nmetadata: {name: f}\n")
        self.assertEqual((rc, err), (1, 'error: no matches for kind "Foo" in version "example.com/v1"\n'))
        # Nothing of the refused applies was stored.
        rc, out, err = self.run_ctl("get", "deploy", "web")
        self.assertEqual(rc, 1)
        self.assertEqual(err, 'Error from server (NotFound): deployments.apps "web" not found\n')
        rc, out, err = self.run_ctl("apply", "-f", "/nonexistent.yaml")
        self.assertEqual((rc, err), (1, 'error: the path "/nonexistent.yaml" does not exist\n'))
        rc, out, err = self.run_ctl("get", "nosuchkind")
        self.assertEqual((rc, err), (1, 'error: the server doesn\'t have a resource type "nosuchkind"\n'))

    def test_namespace_flag(self):
        self.ok("apply", "-f", "-", stdin="apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n")
        path = self.write("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n")
        self.assertEqual(self.ok("-n", "team", "apply", "-f", path), "configmap/cfg created\n")
        self.assertEqual(self.ok("get", "cm", "-n", "team", "-o", "name"), "configmap/cfg\n")
        other = self.write("other.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: a}\n")
        rc, out, err = self.run_ctl("apply", "-f", other, "-n", "team")
        self.assertEqual(rc, 1)
        self.assertIn('the namespace from the provided object "a" does not match the namespace "team"', err)
        rc, out, err = self.run_ctl("apply", "-f", "-",
                                    stdin="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: ghost}\n")
        self.assertEqual((rc, err), (1, 'error: namespaces "ghost" not found\n'))

    def test_patch_delete_describe(self):
        self.ok("apply", "-f", self.write("web.yaml", DEPLOYMENT))
        self.assertEqual(self.ok("patch", "deploy", "web", "-p", '{"spec":{"replicas":4}}'),
                         "deployment.apps/web patched\n")
        self.assertEqual(self.ok("patch", "deploy", "web", "-p", '{"spec":{"replicas":4}}'),
                         "deployment.apps/web patched (no change)\n")
        self.assertEqual(self.ok("patch", "deploy/web", "--type", "json", "-p",
                                 '[{"op":"replace","path":"/spec/replicas","value":1}]'),
                         "deployment.apps/web patched\n")
        rc, out, err = self.run_ctl("patch", "deploy", "web", "--type", "merge", "-p",
                                    '{"spec":{"replicas":-2}}')
        self.assertEqual(rc, 1)
        self.assertIn("must be greater than or equal to 0", err)
        self.assertEqual(self.ok("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"), "1")
        described = self.ok("describe", "deployment", "web")
        self.assertIn("Name:                web\nNamespace:           default\n", described)
        self.assertIn("Events:              <none>\n", described)
        self.assertEqual(self.ok("delete", "deployment", "web"), 'deployment.apps "web" deleted\n')
        rc, out, err = self.run_ctl("delete", "deployment", "web")
        self.assertEqual((rc, err), (1, 'Error from server (NotFound): deployments.apps "web" not found\n'))

    def test_api_resources_and_version(self):
        lines = self.ok("api-resources").splitlines()
        self.assertEqual(lines[0].split(), ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"])
        rows = {l.split()[0]: l.split() for l in lines[1:]}
        self.assertEqual(rows["deployments"], ["deployments", "deploy", "apps/v1", "true", "Deployment"])
        self.assertEqual(rows["namespaces"], ["namespaces", "ns", "v1", "false", "Namespace"])
        self.assertEqual(len(rows), 29)
        self.assertIn("korchctl version ", self.ok("version"))

    def test_backup_and_restore(self):
        self.ok("apply", "-f", self.write("web.yaml", DEPLOYMENT))
        backup = os.path.join(self.dir, "backup.db")
        self.assertEqual(self.ok("state", "backup", backup), f"state backed up to {backup}\n")
        self.ok("delete", "deployment", "web")
        self.assertEqual(self.ok("state", "restore", backup), f"state restored from {backup}\n")
        self.assertEqual(self.ok("get", "deploy", "-o", "name"), "deployment.apps/web\n")
        junk = self.write("junk.db", "not a database")
        rc, out, err = self.run_ctl("state", "restore", junk)
        self.assertEqual(rc, 1)
        self.assertTrue(err.startswith(f"error: restore from {junk}: "), err)
        self.assertEqual(self.ok("get", "deploy", "-o", "name"), "deployment.apps/web\n")

    def test_images(self):
        image = os.environ["KORCH_TEST_IMAGE"]
        rc, out, err = self.run_ctl("image", "load", image)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "Loaded image: korch.test/busybox:1\n")
        self.assertIn("loading layer 1/1 sha256:", err)
        lines = self.ok("image", "ls").splitlines()
        self.assertEqual(lines[0].split(), ["IMAGE", "ID", "SIZE"])
        self.assertEqual(lines[1].split()[0], "korch.test/busybox:1")
        self.assertTrue(os.path.isdir(os.path.join(self.dir, "images", "layers")))
        rc, out, err = self.run_ctl("image", "rm", "nginx:1.27")
        self.assertEqual(rc, 1)
        self.assertEqual(err, 'error: remove image: image "docker.io/library/nginx:1.27" not found '
                              'in the local store\n')
        self.assertEqual(self.ok("image", "rm", "korch.test/busybox:1"),
                         "Deleted: korch.test/busybox:1\n")
        self.assertEqual(len(self.ok("image", "ls").splitlines()), 1)
        rc, out, err = self.run_ctl("image", "load", "/nonexistent")
        self.assertEqual(rc, 1)
        self.assertTrue(err.startswith("error: load /nonexistent: "), err)

    def test_no_state(self):
        rc, out, err = self.run_ctl("get", "pods", state=False)
        self.assertEqual(rc, 1)
        self.assertIn("no state to work on: pass --state FILE or set KORCH_STATE", err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
