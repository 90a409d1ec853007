#!/usr/bin/python3
"""@kubernetes/client-node 1.4.0 (installed by the test with npm into a temporary folder; 2.x
needs a newer Node than Debian's) against korchd in a network namespace of the test's own:
list, create, the three patch types, a watch and an informer."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import korchd_env  # noqa: E402
from korchd_env import Korchd  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def install():
    """npm install outside the network namespace (the registry is not reachable inside)."""
    folder = os.environ.get("KORCH_TEST_NODE_DIR")
    if folder:
        return folder
    if not shutil.which("node") or not shutil.which("npm"):
        korchd_env.skip("needs node and npm")
    folder = tempfile.mkdtemp(prefix="korch-test-client-node-")
    r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", folder,
                        "@kubernetes/client-node@1.4.0"], capture_output=True, text=True,
                       timeout=300)
    if r.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        korchd_env.skip(f"npm could not install @kubernetes/client-node@1.4.0: "
                        f"{r.stderr.strip()[-300:]}")
    shutil.copy(os.path.join(HERE, "client-node.mjs"), folder)
    return folder


class ClientNode(unittest.TestCase):
    def test_client_node(self):
        k = Korchd(port=6447)
        try:
            k.start()
            folder = os.environ["KORCH_TEST_NODE_DIR"]
            r = subprocess.run(["node", os.path.join(folder, "client-node.mjs"), k.kubeconfig],
                               capture_output=True, text=True, timeout=120, cwd=folder)
            self.assertEqual(r.returncode, 0, r.stderr + k.logs())
            out = json.loads(r.stdout.strip().splitlines()[-1])
            self.assertEqual(out["exists"], [409, "AlreadyExists"])
            self.assertEqual(out["notFound"], [404, "configmaps \"nope\" not found"])
            self.assertEqual(out["list"], ["c1"])
            self.assertEqual(out["data"], {"a": "1", "j": "1", "m": "1", "s": "1"})
            self.assertEqual(out["watch"], ["ADDED c2", "MODIFIED c2", "DELETED c2"])
            # The namespace also holds kube-root-ca.crt (the root CA publisher's), made
            # while the test ran: its one add comes at a time of its own.
            self.assertEqual(out["informer"].count("add kube-root-ca.crt"), 1, out["informer"])
            self.assertEqual([e for e in out["informer"] if e != "add kube-root-ca.crt"],
                             ["add c1", "add c2", "update c2 2", "delete c2"])
            rc, _ = k.stop()
            self.assertEqual(rc, 0, k.logs())
        finally:
            k.cleanup()


if __name__ == "__main__":
    if not korchd_env.KORCHD:
        korchd_env.skip("KORCHD is not set")
    if os.environ.get("KORCH_TEST_NETNS") != "1":
        folder = install()
        os.environ["KORCH_TEST_NODE_DIR"] = folder
        try:
            korchd_env.enter_netns()
        finally:
            if not os.environ.get("KORCH_TEST_NODE_DIR_KEEP"):
                shutil.rmtree(folder, ignore_errors=True)
    korchd_env.enter_netns()
    unittest.main(verbosity=2)
