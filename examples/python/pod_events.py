#!/usr/bin/python3
"""Prints pod events as they come, from an embedded korch (its loop runs while we wait).

    pod_events.py STATE_FILE [--namespace NS] [--selector SEL]

Open the same state file with korchctl or another program and change pods: each change is
printed here. Stop with ^C."""
import argparse

import korch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("state")
    ap.add_argument("--namespace")
    ap.add_argument("--selector")
    args = ap.parse_args()
    with korch.open(args.state) as k, \
            k.watch("pods", namespace=args.namespace, selector=args.selector) as w:
        try:
            for ev in w:
                pod = ev.object
                meta, status = pod["metadata"], pod.get("status", {})
                print(f"{ev.type:8} {meta['namespace']}/{meta['name']} "
                      f"phase={status.get('phase', '-')} node={pod['spec'].get('nodeName', '-')}",
                      flush=True)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
