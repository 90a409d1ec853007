#!/usr/bin/env python3
"""make-test-image.py - builds korch's busybox test image, an OCI image layout, reproducibly.

    make-test-image.py --busybox /bin/busybox --output DIR [--stamp FILE]
    make-test-image.py --busybox /bin/busybox --check DIR   (rebuild elsewhere, compare bytes)

--stamp writes the manifest digest to FILE once DIR is complete (the build system tracks that
file: a directory is a poor build output).

One uncompressed layer: /bin/busybox (Debian's busybox-static) with every applet it lists as a
hard link beside it in /bin, /usr/bin/env for shebangs, /etc/passwd and /etc/group (root and
korch, uid 1000), /tmp and /var/tmp 1777, /home/korch owned by korch, mount points /proc, /sys,
/dev. Config: Cmd ["sh"], Env PATH. The index names it korch.test/busybox:1. Every entry has a
fixed mtime and owner and the entries are sorted, so the digests are the same on every build
from the same busybox binary.
"""
import argparse
import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile

NAME = "korch.test/busybox:1"
TAG = "1"
MTIME = 1704067200  # 2024-01-01T00:00:00Z
CREATED = "2024-01-01T00:00:00Z"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# What korch's tests use; the build fails if this busybox lacks one.
REQUIRED_APPLETS = """sh ls cat echo sleep true false id wget nc httpd ps mount umount grep env
hostname touch rm mkdir mknod kill top head tail wc printf test [ sed awk dd seq stat chmod chown
ln readlink find xargs nslookup ip ifconfig route netstat unshare nsenter su""".split()

PASSWD = """root:x:0:0:root:/root:/bin/sh
korch:x:1000:1000:korch:/home/korch:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
"""
GROUP = """root:x:0:
korch:x:1000:
nogroup:x:65534:
"""

# (path, mode, uid) for directories.
DIRS = [
    ("bin", 0o755, 0), ("dev", 0o755, 0), ("etc", 0o755, 0), ("home", 0o755, 0),
    ("home/korch", 0o755, 1000), ("proc", 0o555, 0), ("root", 0o700, 0), ("sbin", 0o755, 0),
    ("sys", 0o555, 0), ("tmp", 0o1777, 0), ("usr", 0o755, 0), ("usr/bin", 0o755, 0),
    ("usr/sbin", 0o755, 0), ("var", 0o755, 0), ("var/tmp", 0o1777, 0),
]

ELF_MACHINES = {62: "amd64", 183: "arm64", 40: "arm", 3: "386"}


def fail(msg):
    print("make-test-image: " + msg, file=sys.stderr)
    sys.exit(1)


def elf_arch_if_static(path):
    """The GOARCH of an ELF executable with no program interpreter, or a failure."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        fail(f"{path} is not a 64-bit little-endian ELF file")
    machine = struct.unpack_from("<H", data, 18)[0]
    phoff = struct.unpack_from("<Q", data, 32)[0]
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    for i in range(phnum):
        if struct.unpack_from("<I", data, phoff + i * phentsize)[0] == 3:  # PT_INTERP
            fail(f"{path} is dynamically linked; install busybox-static")
    if machine not in ELF_MACHINES:
        fail(f"{path}: unknown ELF machine {machine}")
    return ELF_MACHINES[machine]


def tarinfo(name, kind, mode, uid=0, size=0, link=""):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = mode
    ti.uid = ti.gid = uid
    ti.uname = ti.gname = ""
    ti.mtime = MTIME
    ti.size = size
    ti.linkname = link
    return ti


def layer_tar(busybox_path):
    with open(busybox_path, "rb") as f:
        busybox = f.read()
    listed = subprocess.run([busybox_path, "--list"], check=True, capture_output=True,
                            text=True).stdout.split()
    missing = [a for a in REQUIRED_APPLETS if a not in listed]
    if missing:
        fail(f"{busybox_path} lacks the applets: {' '.join(missing)}")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for path, mode, uid in sorted(DIRS):
            tar.addfile(tarinfo(path, tarfile.DIRTYPE, mode, uid))
        files = [("bin/busybox", 0o755, busybox), ("etc/group", 0o644, GROUP.encode()),
                 ("etc/passwd", 0o644, PASSWD.encode())]
        for path, mode, data in files:
            tar.addfile(tarinfo(path, tarfile.REGTYPE, mode, size=len(data)), io.BytesIO(data))
        links = sorted({"bin/" + a for a in listed if a != "busybox"} | {"usr/bin/env"})
        for path in links:
            tar.addfile(tarinfo(path, tarfile.LNKTYPE, 0o755, link="bin/busybox"))
    return buf.getvalue()


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def build(busybox_path, out):
    arch = elf_arch_if_static(busybox_path)
    layer = layer_tar(busybox_path)
    layer_digest = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = canonical({
        "architecture": arch,
        "os": "linux",
        "created": CREATED,
        "config": {"Cmd": ["sh"], "Env": [PATH_ENV]},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "history": [{"created": CREATED, "created_by": "korch tests/lib/make-test-image.py"}],
    })
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    manifest = canonical({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer_digest, "size": len(layer)}],
    })
    manifest_digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    index = canonical({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest, "size": len(manifest),
            "annotations": {"io.containerd.image.name": NAME,
                            "org.opencontainers.image.ref.name": TAG},
        }],
    })
    os.makedirs(os.path.join(out, "blobs", "sha256"))
    for data in (layer, config, manifest):
        with open(os.path.join(out, "blobs", "sha256", hashlib.sha256(data).hexdigest()),
                  "wb") as f:
            f.write(data)
    with open(os.path.join(out, "index.json"), "wb") as f:
        f.write(index)
    with open(os.path.join(out, "oci-layout"), "wb") as f:
        f.write(canonical({"imageLayoutVersion": "1.0.0"}))
    return manifest_digest


def tree(root):
    found = {}
    for dirpath, _, names in os.walk(root):
        for n in names:
            p = os.path.join(dirpath, n)
            with open(p, "rb") as f:
                found[os.path.relpath(p, root)] = f.read()
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--busybox", required=True)
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--output")
    group.add_argument("--check")
    ap.add_argument("--stamp")
    args = ap.parse_args()
    target = args.output or args.check
    parent = os.path.dirname(os.path.abspath(target))
    tmp = tempfile.mkdtemp(prefix=".make-test-image-", dir=parent)
    try:
        work = os.path.join(tmp, "image")
        digest = build(args.busybox, work)
        if args.check:
            if tree(work) != tree(args.check):
                fail(f"a rebuild differs from {args.check}: the build is not reproducible")
            print(f"{args.check}: rebuilt identically")
            return
        if os.path.isdir(target):
            shutil.rmtree(target)
        os.rename(work, target)
        if args.stamp:
            with open(args.stamp, "w") as f:
                f.write(digest + "\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
