#!/usr/bin/python3
"""korch.connect() against a live korchd (tests/korchd/korchd_env.py starts it inside a network
namespace of the test's own and removes everything afterwards): over the kubeconfig (HTTPS with
the admin token) and over the unix socket, the same calls and error classes as a state file."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "korchd"))
import korchd_env  # noqa: E402
from korchd_env import Korchd  # noqa: E402

import korch  # noqa: E402

CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "live", "namespace": "default", "labels": {"app": "web"}},
             "data": {"mode": "fast"}}


class Connect(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.k = Korchd(port=6448)
        try:
            cls.k.start()
        except BaseException:
            cls.k.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            rc, _ = cls.k.stop()
            assert rc == 0, cls.k.logs()
        finally:
            cls.k.cleanup()

    def test_kubeconfig(self):
        with korch.connect(self.k.kubeconfig) as c:
            applied = c.apply(CONFIGMAP)
            self.assertEqual(applied["data"], {"mode": "fast"})
            got = c.get("configmaps", "live", namespace="default")
            self.assertEqual(got["metadata"]["uid"], applied["metadata"]["uid"])
            self.assertEqual([o["metadata"]["name"]
                              for o in c.list("cm", namespace="default", selector="app=web")],
                             ["live"])
            self.assertEqual(c.list("cm", namespace="default", selector="app=db"), [])
            patched = c.patch("configmaps", "live", {"data": {"mode": "slow"}},
                              namespace="default")
            self.assertEqual(patched["data"], {"mode": "slow"})
            with self.assertRaises(korch.AlreadyExists):
                c.create(CONFIGMAP)
            with self.assertRaises(korch.Invalid) as cm:
                c.apply({"apiVersion": "apps/v1", "kind": "Deployment",
                         "metadata": {"name": "bad", "namespace": "default"},
                         "spec": {"replicas": -1, "selector": {"matchLabels": {"a": "b"}},
                                  "template": {"metadata": {"labels": {"a": "b"}},
                                               "spec": {"containers": [
                                                   {"name": "c", "image": "busybox"}]}}}})
            self.assertEqual(cm.exception.field, "spec.replicas")
            c.delete("configmaps", "live", namespace="default")
            with self.assertRaises(korch.NotFound) as cm:
                c.get("configmaps", "live", namespace="default")
            self.assertEqual(cm.exception.message, 'configmaps "live" not found')
            # The server's own objects are there too.
            self.assertEqual(c.get("namespaces", "kube-system")["metadata"]["name"],
                             "kube-system")
        self.assertRaises(ValueError, c.get, "namespaces", "default")

    def test_socket(self):
        with korch.connect(os.path.join(self.k.run, "korchd.sock")) as c:
            c.apply(dict(CONFIGMAP, metadata={"name": "sock", "namespace": "default"}))
            self.assertEqual(c.get("cm", "sock", namespace="default")["data"], {"mode": "fast"})
            c.delete("cm", "sock", namespace="default")

    def test_bad_target(self):
        missing = os.path.join(self.k.dir, "nothing-here")
        with self.assertRaises(korch.KorchError) as cm:
            korch.connect(missing)
        self.assertIs(type(cm.exception), korch.KorchError)
        self.assertEqual(cm.exception.message, f"connect to {missing}: No such file or directory")


if __name__ == "__main__":
    if not korchd_env.KORCHD:
        korchd_env.skip("KORCHD is not set")
    korchd_env.enter_netns()
    unittest.main(verbosity=2)
