#!/usr/bin/python3
"""Applies a Deployment and waits until it is available, printing its progress.

    wait_available.py STATE_FILE [MANIFEST] [--simulate] [--timeout SECONDS]

With --simulate the whole orchestrator runs simulated in this process (no root, no containers)
and simulated time moves a second per step; without it, korch runs its roles for real."""
import argparse
import time

import korch

DEFAULT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: busybox, command: [sleep, "3600"]}]
"""


def available(d):
    conds = d.get("status", {}).get("conditions", [])
    return any(c["type"] == "Available" and c["status"] == "True" for c in conds) and \
        d["status"].get("availableReplicas", 0) == d["spec"]["replicas"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("state")
    ap.add_argument("manifest", nargs="?")
    ap.add_argument("--simulate", action="store_true")
    ap.add_argument("--timeout", type=float, default=120)
    args = ap.parse_args()
    text = open(args.manifest).read() if args.manifest else DEFAULT
    try:
        k = korch.open(args.state, roles="all", simulate=args.simulate)
    except korch.Unsupported:
        k = korch.open(args.state, roles=["controllers", "node"], simulate=args.simulate)
    with k:
        d = [o for o in k.apply(text) if o["kind"] == "Deployment"][0]
        name, ns = d["metadata"]["name"], d["metadata"]["namespace"]
        with k.watch("deployments", namespace=ns, field_selector=f"metadata.name={name}",
                     timeout=1) as w:
            deadline = time.monotonic() + args.timeout
            elapsed = 0
            while time.monotonic() < deadline and elapsed < args.timeout:
                for ev in w:
                    st = ev.object.get("status", {})
                    print(f"{ev.type} {name}: {st.get('readyReplicas', 0)}/"
                          f"{ev.object['spec']['replicas']} ready, "
                          f"{st.get('availableReplicas', 0)} available", flush=True)
                    if available(ev.object):
                        print(f"deployment {name} is available")
                        return 0
                if args.simulate:
                    k.advance(1)
                    elapsed += 1
    print(f"deployment {name} did not become available within {args.timeout:g} s")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
