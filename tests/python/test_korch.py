#!/usr/bin/python3
"""The Python bindings over a real state file: round trips, every error class, selectors, patch
types, deletion, and 10,000 calls without memory growth."""
import os
import shutil
import tempfile
import unittest

import korch

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: korch.test/busybox:1}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, labels: {app: web}}
data: {mode: fast}
"""


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Bindings(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="korch-test-python-")
        self.k = korch.open(os.path.join(self.dir, "state.db"))

    def tearDown(self):
        self.k.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_apply_get_list_round_trip(self):
        applied = self.k.apply(DEPLOYMENT)
        self.assertEqual([o["kind"] for o in applied], ["Deployment", "ConfigMap"])
        d = self.k.get("deployments", "web", namespace="default")
        self.assertEqual(d["spec"]["replicas"], 2)
        self.assertEqual(d["metadata"]["generation"], 1)
        self.assertEqual(d["spec"]["strategy"]["type"], "RollingUpdate")
        names = sorted(o["metadata"]["name"] for o in self.k.list("configmaps", selector="app=web"))
        self.assertEqual(names, ["settings"])
        self.assertEqual(self.k.list("cm", namespace="kube-system"), [])
        # A dict applies too, and applying the same thing again changes nothing.
        cm = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "settings", "namespace": "default", "labels": {"app": "web"}},
              "data": {"mode": "fast"}}
        again = self.k.apply(cm, field_manager="korch-python")
        self.assertEqual(again["metadata"]["resourceVersion"],
                         self.k.get("cm", "settings", "default")["metadata"]["resourceVersion"])

    def test_errors(self):
        with self.assertRaises(korch.NotFound) as e:
            self.k.get("pods", "nope", namespace="default")
        self.assertEqual(e.exception.message, 'pods "nope" not found')
        self.assertEqual(e.exception.code, -1)
        self.k.apply(DEPLOYMENT)
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "default"}}
        with self.assertRaises(korch.AlreadyExists) as e:
            self.k.create(cm)
        self.assertEqual(e.exception.message, 'configmaps "settings" already exists')
        with self.assertRaises(korch.Invalid) as e:
            self.k.patch("deployments", "web", {"spec": {"replicas": -1}}, namespace="default")
        self.assertEqual(e.exception.field, "spec.replicas")
        self.assertEqual(e.exception.causes[0]["reason"], "FieldValueInvalid")
        with self.assertRaises(korch.Conflict) as e:
            self.k.patch("deployments", "web", {"spec": {"replicas": 5}}, namespace="default",
                         type="merge", field_manager="scaler")
            self.k.apply(DEPLOYMENT)
        self.assertIn('conflict with "scaler"', e.exception.message)
        with self.assertRaises(korch.Invalid) as e:
            self.k.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\nbogus: 1\n")
        self.assertIn('unknown field "bogus"', e.exception.message)
        # An object read back carries managedFields, which an apply may not set.
        with self.assertRaises(korch.Invalid) as e:
            self.k.apply(self.k.get("cm", "settings", "default"))
        self.assertEqual(e.exception.message, "metadata.managedFields must be nil")
        with self.assertRaises(korch.KorchError):
            self.k.apply("a: [")
        self.assertTrue(issubclass(korch.Gone, korch.KorchError))

    def test_patch_types_and_delete(self):
        self.k.apply(DEPLOYMENT)
        out = self.k.patch("deploy", "web", [{"op": "replace", "path": "/spec/replicas", "value": 4}],
                           namespace="default", type="json")
        self.assertEqual(out["spec"]["replicas"], 4)
        out = self.k.patch("deploy", "web", {"spec": {"template": {"spec": {"containers": [
            {"name": "c", "image": "korch.test/busybox:2"}]}}}}, namespace="default", type="strategic")
        self.assertEqual(out["spec"]["template"]["spec"]["containers"][0]["image"], "korch.test/busybox:2")
        self.assertEqual(out["metadata"]["generation"], 3)
        gone = self.k.delete("configmaps", "settings", namespace="default")
        self.assertEqual(gone["metadata"]["name"], "settings")
        with self.assertRaises(korch.NotFound):
            self.k.get("configmaps", "settings", namespace="default")
        with self.assertRaises(ValueError):
            self.k.patch("deploy", "web", {}, namespace="default", type="nope")

    def test_closed_client(self):
        self.k.close()
        with self.assertRaises(ValueError):
            self.k.get("pods", "x", "default")

    def test_no_memory_growth(self):
        self.k.apply(DEPLOYMENT)
        for _ in range(2000):
            self.k.get("deployments", "web", namespace="default")
            self.k.list("configmaps", namespace="default")
        before = rss_kb()
        for _ in range(10000):
            self.k.get("deployments", "web", namespace="default")
            self.k.list("configmaps", namespace="default")
        grown = rss_kb() - before
        self.assertLess(grown, 2048, f"RSS grew by {grown} KiB over 10,000 get+list calls")

    def test_version(self):
        self.assertRegex(korch.version(), r"^\d+\.\d+\.\d+$")


if __name__ == "__main__":
    unittest.main(verbosity=2)
