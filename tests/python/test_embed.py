#!/usr/bin/python3
"""The embedded korch from Python: the simulation mode (a Deployment scaled up on the simulated
node, advance(), repeatable event logs), watches as iterators and context managers, the loop on
the real clock, and the error classes of the handle."""
import os
import shutil
import tempfile
import time
import unittest

import korch

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: busybox}]
"""

# 2026-01-01T00:00:00Z, where a simulation's clock starts unless told.
SIM_START = 1767225600


def open_sim(path, **kw):
    """A simulation with every role: controllers, scheduler and the simulated node."""
    return korch.open(path, roles="all", simulate=True, **kw)


class Embedded(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="korch-test-embed-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name="state.db"):
        return os.path.join(self.dir, name)

    def test_simulated_scale_up(self):
        with open_sim(self.path()) as k:
            self.assertEqual(k.now(), SIM_START)
            self.assertIn("controllers", k.roles)
            self.assertEqual(k.roles, ["controllers", "scheduler", "node"])
            k.apply(DEPLOYMENT)
            k.advance(5)
            self.assertEqual(k.now(), SIM_START + 5)
            self.assertEqual(len(k.list("pods", namespace="default", selector="app=web")), 1)
            k.patch("deployments", "web", {"spec": {"replicas": 3}}, namespace="default")
            k.advance(30)
            pods = k.list("pods", namespace="default", selector="app=web")
            self.assertEqual(len(pods), 3)
            # The scheduler bound each pod to the simulated node, which runs it.
            self.assertEqual([p["spec"]["nodeName"] for p in pods], ["sim-node"] * 3)
            self.assertEqual([p["status"]["phase"] for p in pods], ["Running"] * 3)
            d = k.get("deployments", "web", namespace="default")
            self.assertEqual(d["status"]["replicas"], 3)
            self.assertEqual(d["status"]["updatedReplicas"], 3)
            self.assertEqual(d["status"]["readyReplicas"], 3)
            self.assertEqual(d["status"]["availableReplicas"], 3)
            available = [c["status"] for c in d["status"]["conditions"]
                         if c["type"] == "Available"]
            self.assertEqual(available, ["True"])
            rs = k.list("replicasets", namespace="default", selector="app=web")
            self.assertEqual([r["spec"]["replicas"] for r in rs], [3])
            node = k.get("nodes", "sim-node")
            ready = [c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready"]
            self.assertEqual(ready, ["True"])

    def test_watch_iterator_simulated(self):
        with open_sim(self.path()) as k:
            with k.watch("configmaps", namespace="default", selector="app=web") as w:
                self.assertEqual(list(w), [])
                k.apply({"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": "a", "labels": {"app": "web"}},
                         "data": {"x": "1"}})
                k.apply({"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": "other", "labels": {"app": "db"}}})
                events = list(w)
                self.assertEqual([(e.type, e.object["metadata"]["name"]) for e in events],
                                 [("ADDED", "a")])
                self.assertEqual(events[0].object["data"], {"x": "1"})
                k.patch("configmaps", "a", {"data": {"x": "2"}}, namespace="default")
                k.delete("configmaps", "a", namespace="default")
                k.advance(1)
                self.assertEqual([e.type for e in w], ["MODIFIED", "DELETED"])
            # A watch started without a resourceVersion sees what exists as ADDED.
            k.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}})
            with k.watch("cm", namespace="default") as w2:
                self.assertEqual([e.object["metadata"]["name"] for e in w2], ["b", "other"])
            self.assertRaises(ValueError, w2.next_event)

    def test_watch_real_clock_timeout(self):
        with korch.open(self.path()) as k:
            lst = k.list("configmaps", namespace="default")
            self.assertEqual(lst, [])
            rv = k.get("namespaces", "default")["metadata"]["resourceVersion"]
            with k.watch("configmaps", namespace="default", resource_version=rv,
                         timeout=0.3) as w:
                t0 = time.monotonic()
                self.assertEqual(list(w), [])
                self.assertGreaterEqual(time.monotonic() - t0, 0.3)
                k.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
                self.assertEqual([e.type for e in w], ["ADDED"])

    def test_repeatable_event_log(self):
        logs = []
        for run in range(2):
            log = self.path(f"events-{run}.log")
            with open_sim(self.path(f"state-{run}.db"), seed=7, event_log=log) as k:
                k.apply(DEPLOYMENT)
                k.advance(10)
                k.patch("deployments", "web", {"spec": {"replicas": 2}}, namespace="default")
                k.advance(20)
            with open(log, "rb") as f:
                logs.append(f.read())
        self.assertGreater(len(logs[0]), 5000)
        self.assertIn(b" ADDED pods default/web-", logs[0])
        self.assertEqual(logs[0], logs[1])

    def test_errors(self):
        with open_sim(self.path()) as k:
            with self.assertRaises(korch.Invalid) as cm:
                k.apply(DEPLOYMENT.replace("replicas: 1", "replicas: -1"))
            self.assertEqual(cm.exception.field, "spec.replicas")
            with self.assertRaises(korch.NotFound) as cm:
                k.watch("gizmos")
            self.assertEqual(cm.exception.message,
                             'the server doesn\'t have a resource type "gizmos"')
            k.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owned"},
                     "data": {"k": "a"}}, field_manager="one")
            with self.assertRaises(korch.Conflict):
                k.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owned"},
                         "data": {"k": "b"}}, field_manager="two")
        with korch.open(self.path("real.db")) as k:
            with self.assertRaises(korch.Invalid) as cm:
                k.advance(1)
            self.assertEqual(cm.exception.message,
                             "korch_advance: only a simulation's clock can be moved")
        self.assertRaises(ValueError, korch.open, self.path(), roles="everything")
        k.close()
        self.assertRaises(ValueError, k.dispatch)


if __name__ == "__main__":
    unittest.main(verbosity=2)
