#!/usr/bin/python3
"""check-readme.py - runs the README's C and Python snippets against the build tree, so they
cannot rot: the ```c block under "Embedding from C" is compiled with the public headers and
linked with the built libkorch.so, the ```python block under "From Python" runs with the
bindings; each must succeed and print what the README promises.

usage: check-readme.py SOURCE_ROOT BUILD_ROOT"""
import os
import re
import subprocess
import sys
import tempfile


def block(text, section, lang):
    """The first ```lang block after the heading `## section`."""
    start = text.index("## " + section + "\n")
    m = re.compile(r"^```" + lang + r"\n(.*?)^```$", re.S | re.M).search(text, start)
    if not m:
        sys.exit(f"README: no ```{lang} block under '## {section}'")
    return m.group(1)


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stdout}{r.stderr}")
    return r.stdout


def main():
    src, build = sys.argv[1], sys.argv[2]
    text = open(os.path.join(src, "README.md"), encoding="utf-8").read()
    libdir = os.path.join(build, "lib")
    print("1..2")
    with tempfile.TemporaryDirectory(prefix="korch-readme-") as tmp:
        for f in ("/tmp/korch-demo.db", "/tmp/korch-demo-py.db"):
            for suffix in ("", "-wal", "-shm", "-notify"):
                if os.path.exists(f + suffix):
                    os.unlink(f + suffix)
        c = os.path.join(tmp, "demo.c")
        with open(c, "w") as f:
            f.write(block(text, "Embedding from C", "c"))
        exe = os.path.join(tmp, "demo")
        run(["cc", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-I", os.path.join(src, "include"),
             c, "-o", exe, "-L", libdir, "-Wl,-rpath," + libdir, "-lkorch"])
        out = run([exe], cwd=tmp)
        if out != "default/demo\n":
            sys.exit(f"the C snippet printed {out!r}, not 'default/demo'")
        print("ok 1 - the C snippet builds, runs and prints default/demo")

        py = os.path.join(tmp, "demo.py")
        with open(py, "w") as f:
            f.write(block(text, "From Python", "python"))
        env = dict(os.environ, PYTHONPATH=os.path.join(src, "bindings", "python"),
                   KORCH_LIBRARY=os.path.join(libdir, "libkorch.so"))
        out = run(["/usr/bin/python3", py], cwd=src, env=env)
        lines = out.splitlines()
        if len(lines) != 2 or lines[0] != "3 of 3 available" or \
                'deployments.apps "nope" not found' not in lines[1]:
            sys.exit(f"the Python snippet printed {out!r}")
        print("ok 2 - the Python snippet runs the web example to 3 of 3 available")
    for f in ("/tmp/korch-demo.db", "/tmp/korch-demo-py.db"):
        for suffix in ("", "-wal", "-shm", "-notify"):
            if os.path.exists(f + suffix):
                os.unlink(f + suffix)


if __name__ == "__main__":
    main()
