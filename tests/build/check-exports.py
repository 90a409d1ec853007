#!/usr/bin/python3
"""The symbols libkorch.so exports are exactly the functions its public headers declare
with KORCH_EXPORT: nothing internal leaks, nothing documented is missing."""
import pathlib
import re
import subprocess
import sys

lib, include_dir = sys.argv[1], pathlib.Path(sys.argv[2])

declared = set()
for header in sorted(include_dir.rglob("*.h")):
    text = re.sub(r"/\*.*?\*/", "", header.read_text(), flags=re.S)
    for m in re.finditer(r"\bKORCH_EXPORT\b[^;{]*?\b(korch_\w+)\s*\(", text, flags=re.S):
        declared.add(m.group(1))

out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True,
                     capture_output=True, text=True).stdout
exported = set()
for line in out.splitlines():
    parts = line.split()
    if len(parts) < 3 or parts[1] in ("A",):
        continue
    exported.add(parts[2].split("@")[0])

ok = True
for name in sorted(exported - declared):
    print(f"exported but not declared in include/: {name}")
    ok = False
for name in sorted(declared - exported):
    print(f"declared in include/ but not exported: {name}")
    ok = False
if not all(n.startswith("korch_") for n in exported):
    ok = False
print(f"{len(exported)} symbols exported, {len(declared)} declared")
sys.exit(0 if ok else 1)
