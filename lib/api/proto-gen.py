#!/usr/bin/python3
"""
proto-gen.py - writes lib/api/proto-tables.c: the protobuf field numbers of every named type of
korch's field schema, so that request bodies in Kubernetes' protobuf encoding (what kubectl's
typed clients send, Content-Type application/vnd.kubernetes.protobuf) decode to the JSON
objects the write path takes.

Only facts carry over: message names, field names and field numbers. The value types come from
the field schema (schema-tables.c); this table says only which number is which field. Every
field name read here must be a field of the schema's type of the same name, or the generator
stops (so a JSON name that differs from its protobuf name cannot go unnoticed).

Regenerate (the table in git was made from k8s.io/api and k8s.io/apimachinery v0.32.4):

    mkdir -p /tmp/k8s-api /tmp/k8s-apimachinery
    git -C api archive v0.32.4 | tar -x -C /tmp/k8s-api
    git -C apimachinery archive v0.32.4 | tar -x -C /tmp/k8s-apimachinery
    lib/api/proto-gen.py --proto-root /tmp/k8s-api --proto-root /tmp/k8s-apimachinery \\
        --schema lib/api/schema-tables.c -o lib/api/proto-tables.c
"""

import argparse
import os
import re
import sys

FIELD = re.compile(r"^\s*(optional|repeated)\s+([\w.]+)\s+(\w+)\s*=\s*(\d+)\s*[;\[]")
MAP_FIELD = re.compile(r"^\s*map<\s*[\w.]+\s*,\s*[\w.]+\s*>\s+(\w+)\s*=\s*(\d+)\s*[;\[]")


def parse_proto(path):
    """Returns {openapi type name: [(number, name)]} for the messages of one file."""
    text = open(path, encoding="utf-8").read()
    m = re.search(r"^package\s+([\w.]+)\s*;", text, re.M)
    if not m:
        sys.exit(f"{path}: no package")
    package = m.group(1)
    if not package.startswith("k8s.io."):
        sys.exit(f"{path}: unexpected package {package}")
    prefix = "io.k8s." + package[len("k8s.io."):]
    messages = {}
    current = None
    depth = 0
    for line in text.splitlines():
        stripped = line.split("//", 1)[0]
        if current is None:
            mm = re.match(r"^message\s+(\w+)\s*\{", stripped)
            if mm:
                current = f"{prefix}.{mm.group(1)}"
                messages[current] = []
                depth = 1
            continue
        if "{" in stripped:
            sys.exit(f"{path}: nested definition in {current}")
        fm = FIELD.match(stripped)
        mf = MAP_FIELD.match(stripped)
        if fm:
            ptype = fm.group(2)
            if not ptype.startswith("."):
                ptype = f"{prefix}.{ptype}"
            else:
                ptype = "io.k8s." + ptype[len(".k8s.io."):]
            messages[current].append((int(fm.group(4)), fm.group(3), ptype))
        elif mf:
            messages[current].append((int(mf.group(2)), mf.group(1), None))
        if "}" in stripped:
            depth -= 1
            if depth == 0:
                current = None
    return messages


GO_FIELD = re.compile(r'^\s+(\w+)\s+(\S+)\s+`json:"([^"]*)"')


def go_omit_zero(directory, prefix):
    """{type name: {json name}} of the fields Go's JSON drops when zero: tagged omitempty and
    not pointers (a pointer travels in protobuf only when set, so its zero is meant)."""
    out = {}
    for f in sorted(os.listdir(directory)):
        if not f.endswith(".go") or f.endswith("_test.go"):
            continue
        current = None
        for line in open(os.path.join(directory, f), encoding="utf-8"):
            m = re.match(r"^type (\w+) struct \{", line)
            if m:
                current = out.setdefault(f"{prefix}.{m.group(1)}", set())
                continue
            if current is None:
                continue
            if line.startswith("}"):
                current = None
                continue
            fm = GO_FIELD.match(line)
            if not fm:
                continue
            gotype, tag = fm.group(2), fm.group(3).split(",")
            if "omitempty" in tag[1:] and not gotype.startswith("*") and tag[0]:
                current.add(tag[0])
    return out


def schema_fields(schema_text):
    """The field names of each named object type of schema-tables.c: its fields array holds one
    run per type, headed by a comment with the type's name."""
    fields = {}
    current = None
    for line in schema_text.splitlines():
        head = re.match(r"^\t/\* (io\.k8s\.[\w.]+) \*/$", line)
        if head:
            current = fields.setdefault(head.group(1), set())
            continue
        f = re.match(r"^\t\{ S \+ \d+ /\* ([^*]+?) \*/, ", line)
        if f and current is not None:
            current.add(f.group(1))
        elif not f and not head:
            current = None
    return fields


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--proto-root", action="append", required=True)
    ap.add_argument("--schema", required=True)
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args()

    messages = {}
    omit = {}
    for root in args.proto_root:
        for dirpath, _, files in os.walk(root):
            for f in files:
                if f == "generated.proto":
                    parsed = parse_proto(os.path.join(dirpath, f))
                    messages.update(parsed)
                    prefix = next(iter(parsed)).rsplit(".", 1)[0] if parsed else None
                    if prefix:
                        omit.update(go_omit_zero(dirpath, prefix))

    schema_text = open(args.schema, encoding="utf-8").read()
    wanted = sorted(set(re.findall(r'"(io\.k8s\.[\w.]+)\\0"', schema_text)))
    type_fields = schema_fields(schema_text)

    out = []
    missing = []
    for name in wanted:
        if name not in messages:
            missing.append(name)
            continue
        fields = []
        known = type_fields.get(name)
        for number, fname, ptype in sorted(messages[name], key=lambda f: f[0]):
            inline = None
            if known is not None and fname not in known:
                # An embedded Go struct (json ",inline"): its message's fields are this type's.
                inner = messages.get(ptype or "")
                if inner is None or not all(f[1] in known for f in inner):
                    sys.exit(f"{name}: protobuf field {fname} is not in the schema's type")
                inline = ptype
            fields.append((number, fname, inline, fname in omit.get(name, ())))
        out.append((name, fields))

    # The embedded structs' own messages, read with the outer type's schema.
    have = {n for n, _ in out}
    for name, fields in list(out):
        for _, _, inline, _ in fields:
            if inline and inline not in have:
                out.append((inline, [(n, f, None, f in omit.get(inline, ())) for n, f, _ in
                                     sorted(messages[inline], key=lambda x: x[0])]))
                have.add(inline)
    out.sort(key=lambda x: x[0])

    ident = lambda n: "m_" + re.sub(r"\W", "_", n)
    lines = []
    lines.append("/*")
    lines.append(" * proto-tables.c - the protobuf field numbers of the named types of korch's "
                 "field schema.")
    lines.append(" *")
    lines.append(" * GENERATED by lib/api/proto-gen.py from k8s.io/api and k8s.io/apimachinery "
                 "v0.32.4 (their")
    lines.append(" * generated.proto files); do not edit. Regenerate as the generator's header "
                 "says.")
    lines.append(" */")
    lines.append('#include "api/proto.h"')
    lines.append("")
    lines.append("/* clang-format off */")
    lines.append("")
    lines.append(f"/* {len(out)} messages; named types without one (never sent as protobuf "
                 f"messages): {len(missing)}. */")
    lines.append("")
    for name, fields in out:
        if not fields:
            continue
        body = ", ".join(f'{{ {n}, "{f}", ' + (f'"{i}"' if i else "NULL") +
                         (", 1 }" if z else ", 0 }") for n, f, i, z in fields)
        lines.append(f"static const struct proto_field {ident(name)}[] = {{ {body} }};")
    lines.append("")
    lines.append("const struct proto_message proto_messages[] = {")
    for name, fields in out:
        arr = ident(name) if fields else "NULL"
        lines.append(f'\t{{ "{name}", {arr}, {len(fields)} }},')
    lines.append("};")
    lines.append("")
    lines.append("const size_t proto_n_messages = sizeof(proto_messages) / "
                 "sizeof(proto_messages[0]);")
    open(args.output, "w").write("\n".join(lines) + "\n")
    for m in missing:
        print(f"no protobuf message for {m}", file=sys.stderr)


if __name__ == "__main__":
    main()
