#!/usr/bin/python3
"""
schema-gen.py - writes lib/api/schema-tables.c, korch's field schema, from Kubernetes' published
OpenAPI definitions.

Only facts carry over: type names, field names, JSON types and formats, required lists, enum
values, x-kubernetes-patch-merge-key, x-kubernetes-patch-strategy, x-kubernetes-list-type,
x-kubernetes-list-map-keys and x-kubernetes-map-type. Descriptions and defaults are dropped.
Every type reachable from the kinds in KINDS is emitted; nothing else.

Regenerate (the tables in git were made from Kubernetes release-1.32):

    # the v2 spec of release-1.32: kubernetes/kubernetes api/openapi-spec/swagger.json; the
    # kubernetes-client/python tag v32.0.1 carries the same file, which is what was used:
    git -C python show v32.0.1:kubernetes/swagger.json.unprocessed > /tmp/swagger.json
    # enums: the v2 spec has none, so they come from the Go types of the same release
    mkdir -p /tmp/k8s-api /tmp/k8s-apimachinery
    git -C api archive v0.32.4 | tar -x -C /tmp/k8s-api                  # k8s.io/api
    git -C apimachinery archive v0.32.4 | tar -x -C /tmp/k8s-apimachinery
    lib/api/schema-gen.py --go-source /tmp/k8s-api --go-source /tmp/k8s-apimachinery \\
        --source-note "..." -o lib/api/schema-tables.c /tmp/swagger.json

(--source-note lines name the sources in the generated file's header; see its header for the
ones used.) The spec arguments may instead be the per-group OpenAPI v3 documents
(api/openapi-spec/v3/*.json), which carry the enum values themselves; --go-source is then not
needed (given anyway, both sources must agree). Why Go sources for enums: kube-openapi writes a
field's enum values (the string constants of a type marked "+enum", sorted) into the v3
documents only; the v2 document keeps the same types but drops "enum".

The generator checks what it reads: every field of every emitted Go-backed definition must be
found in the Go structs (so the enum lookup cannot silently miss), and unexpected shapes
(inline object schemas, unknown patch strategies, non-ASCII names) stop it with an error.

The output: one string pool (each string once, a string that ends another shares its tail),
NULL-terminated lists (enum values, list-map keys), one array of fields (each object type's run
sorted by name for bsearch), anonymous types (primitives, enum strings, arrays, maps, and the
few field-specific variants of a named type) deduplicated, and one object per named type; the
root type of each kind is a global named schema_<group>_<version>_<Kind> declared in schema.h.
"""

import argparse
import json
import os
import re
import sys

# Types that hand-written schemas (kinds of korch's own groups, schema-gitops.c) build on:
# exported under these names and declared in schema.h, like the kinds' roots.
SHARED = {
    "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": "schema_meta_v1_ObjectMeta",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Condition": "schema_meta_v1_Condition",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Time": "schema_meta_v1_Time",
}

# The kinds whose schemas korch carries: (group, version, kind).
KINDS = [
    ("", "v1", "Namespace"),
    ("", "v1", "Pod"),
    ("", "v1", "ReplicationController"),
    ("apps", "v1", "ReplicaSet"),
    ("apps", "v1", "Deployment"),
    ("apps", "v1", "StatefulSet"),
    ("apps", "v1", "ControllerRevision"),
    ("apps", "v1", "DaemonSet"),
    ("", "v1", "Service"),
    ("", "v1", "Endpoints"),
    ("discovery.k8s.io", "v1", "EndpointSlice"),
    ("batch", "v1", "Job"),
    ("batch", "v1", "CronJob"),
    ("autoscaling", "v2", "HorizontalPodAutoscaler"),
    ("", "v1", "PersistentVolume"),
    ("", "v1", "PersistentVolumeClaim"),
    ("storage.k8s.io", "v1", "StorageClass"),
    ("", "v1", "ConfigMap"),
    ("", "v1", "Secret"),
    ("", "v1", "ServiceAccount"),
    ("rbac.authorization.k8s.io", "v1", "Role"),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole"),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding"),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding"),
    ("scheduling.k8s.io", "v1", "PriorityClass"),
    ("", "v1", "Node"),
    ("coordination.k8s.io", "v1", "Lease"),
    ("", "v1", "Event"),
]

# Definitions with a JSON form of their own (custom marshalling in Go).
SPECIAL = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": ("SCHEMA_INT_OR_STRING", "int-or-string"),
    "io.k8s.apimachinery.pkg.api.resource.Quantity": ("SCHEMA_QUANTITY", None),
    "io.k8s.apimachinery.pkg.apis.meta.v1.Time": ("SCHEMA_TIME", "date-time"),
    "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": ("SCHEMA_TIME", "date-time"),
    "io.k8s.apimachinery.pkg.runtime.RawExtension": ("SCHEMA_ANY", None),
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON": ("SCHEMA_ANY", None),
}

PATCH_BITS = {"merge": 1, "retainKeys": 2, "merge,retainKeys": 3}
LIST_TYPES = {"atomic": 0, "set": 1, "map": 2}


def die(msg):
    sys.stderr.write("schema-gen.py: %s\n" % msg)
    sys.exit(1)


# ---------------------------------------------------------------------------------------------
# Reading the OpenAPI documents (v2 "definitions" or v3 "components.schemas")
# ---------------------------------------------------------------------------------------------

def normalize(node):
    """Drops prose and defaults from a schema, turns v3 allOf-wrapped references and both
    reference prefixes into {"$ref": bare name}."""
    if not isinstance(node, dict):
        return node
    out = {}
    for k, v in node.items():
        if k in ("description", "default", "example", "externalDocs", "title"):
            continue
        if k == "properties":
            out[k] = {name: normalize(s) for name, s in v.items()}
        elif k in ("items", "additionalProperties", "not"):
            out[k] = normalize(v)
        elif k in ("allOf", "anyOf", "oneOf"):
            out[k] = [normalize(s) for s in v]
        else:
            out[k] = v
    if "allOf" in out:
        parts = out.pop("allOf")
        if len(parts) != 1 or "$ref" not in parts[0]:
            die("unsupported allOf: %r" % parts)
        out["$ref"] = parts[0]["$ref"]
    if "$ref" in out:
        ref = out["$ref"]
        for prefix in ("#/definitions/", "#/components/schemas/"):
            if ref.startswith(prefix):
                ref = ref[len(prefix):]
        out["$ref"] = ref
    return out


def load_specs(paths):
    defs = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        if "definitions" in doc:
            table = doc["definitions"]
        elif "components" in doc:
            table = doc["components"].get("schemas", {})
        else:
            die("%s: neither an OpenAPI v2 nor a v3 document" % path)
        for name, schema in table.items():
            schema = normalize(schema)
            if name in defs and defs[name] != schema:
                die("%s: definition %s differs from an earlier document's" % (path, name))
            defs[name] = schema
    return defs


def refs_of(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                yield v
            else:
                yield from refs_of(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs_of(v)


# ---------------------------------------------------------------------------------------------
# Enum values from Go sources (k8s.io/api, k8s.io/apimachinery)
# ---------------------------------------------------------------------------------------------

GO_BUILTINS = {
    "string", "bool", "byte", "rune", "int", "int8", "int16", "int32", "int64", "uint", "uint8",
    "uint16", "uint32", "uint64", "float32", "float64", "any", "error",
}


class GoFile:
    def __init__(self, pkg):
        self.pkg = pkg        # import path of the file's package
        self.imports = {}     # local name -> import path


class GoSource:
    """The declarations of a Go module tree that the enum lookup needs: string types marked
    +enum, string constants, structs (with their json names) and other named types."""

    def __init__(self):
        self.enum_types = set()   # (pkg, name)
        self.consts = []          # (GoFile, name, type expr, value expr)
        self.structs = {}         # (pkg, name) -> [(json name or None when inline, type, GoFile)]
        self.named = {}           # (pkg, name) -> (underlying type expr, GoFile)
        self.enum_values = {}     # (pkg, name) -> [values], filled by resolve()

    def add_tree(self, root):
        gomod = os.path.join(root, "go.mod")
        try:
            with open(gomod, encoding="utf-8") as f:
                m = re.search(r"^module\s+(\S+)", f.read(), re.M)
        except OSError as e:
            die("--go-source %s: %s" % (root, e))
        if not m:
            die("%s: no module line" % gomod)
        module = m.group(1)
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in ("testdata", "vendor", ".git"))
            rel = os.path.relpath(dirpath, root)
            pkg = module if rel == "." else module + "/" + rel.replace(os.sep, "/")
            for fn in sorted(filenames):
                if fn.endswith(".go") and not fn.endswith("_test.go"):
                    with open(os.path.join(dirpath, fn), encoding="utf-8") as f:
                        self.parse_file(pkg, f.read(), os.path.join(dirpath, fn))

    @staticmethod
    def strip_block_comments(text):
        return re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)

    def parse_file(self, pkg, text, where):
        gf = GoFile(pkg)
        lines = self.strip_block_comments(text).split("\n")
        doc = []
        i = 0
        n = len(lines)
        while i < n:
            line = lines[i]
            i += 1
            if line.startswith("//"):
                doc.append(line)
                continue
            if not line.strip():
                doc = []
                continue
            m = re.match(r'^import\s+(?:(\w+|\.|_)\s+)?"([^"]+)"', line)
            if m:
                self.add_import(gf, m.group(1), m.group(2))
                doc = []
                continue
            if re.match(r"^import\s*\($", line):
                while i < n and not lines[i].startswith(")"):
                    m = re.match(r'^\s*(?:(\w+|\.|_)\s+)?"([^"]+)"', lines[i])
                    if m:
                        self.add_import(gf, m.group(1), m.group(2))
                    i += 1
                i += 1
                doc = []
                continue
            if re.match(r"^type\s*\($", line):
                inner_doc = []
                while i < n and not lines[i].startswith(")"):
                    inner = lines[i]
                    i += 1
                    s = inner.strip()
                    if s.startswith("//"):
                        inner_doc.append(s)
                        continue
                    if not s:
                        inner_doc = []
                        continue
                    i = self.type_decl(gf, "type " + s, inner_doc, lines, i, where)
                    inner_doc = []
                i += 1
                doc = []
                continue
            if line.startswith("type "):
                i = self.type_decl(gf, line, doc, lines, i, where)
                doc = []
                continue
            if re.match(r"^const\s*\($", line):
                prev_type = None
                while i < n and not lines[i].startswith(")"):
                    s = re.sub(r"\s*//.*$", "", lines[i]).strip()
                    i += 1
                    if not s:
                        continue
                    prev_type = self.const_spec(gf, s, prev_type, where)
                i += 1
                doc = []
                continue
            m = re.match(r"^const\s+(.*)$", line)
            if m:
                self.const_spec(gf, re.sub(r"\s*//.*$", "", m.group(1)).strip(), None, where)
                doc = []
                continue
            doc = []

    @staticmethod
    def add_import(gf, alias, path):
        if alias in ("_", "."):
            return
        gf.imports[alias or path.rsplit("/", 1)[-1]] = path

    def type_decl(self, gf, line, doc, lines, i, where):
        m = re.match(r"^type\s+(\w+)(?:\[[^\]]*\])?\s+struct\s*\{\s*(\}?)\s*$", line)
        if m:
            fields = []
            if not m.group(2):
                while i < len(lines) and not re.match(r"^\s*\}\s*$", lines[i]):
                    self.struct_field(gf, lines[i], fields, where)
                    i += 1
                i += 1
            self.structs[(gf.pkg, m.group(1))] = fields
            return i
        m = re.match(r"^type\s+(\w+)\s*=?\s*(\S.*?)\s*(//.*)?$", line)
        if not m:
            die("%s: cannot read type declaration %r" % (where, line))
        name, underlying = m.group(1), m.group(2)
        if underlying.endswith("{"):
            # interfaces and the like: skip their bodies; they never carry JSON fields
            depth = underlying.count("{") - underlying.count("}")
            while depth > 0 and i < len(lines):
                depth += lines[i].count("{") - lines[i].count("}")
                i += 1
            return i
        self.named[(gf.pkg, name)] = (underlying, gf)
        if underlying == "string" and any(re.match(r"^//\s*\+enum\s*$", d.strip()) for d in doc):
            self.enum_types.add((gf.pkg, name))
        return i

    @staticmethod
    def struct_field(gf, line, fields, where):
        s = line.strip()
        if not s or s.startswith("//"):
            return
        tag = None
        m = re.search(r"`([^`]*)`", s)
        if m:
            tag = m.group(1)
            s = (s[:m.start()] + s[m.end():]).strip()
        s = re.sub(r"\s*//.*$", "", s).strip()
        if "struct" in s.split() or s.endswith("{"):
            die("%s: anonymous struct field %r is not supported" % (where, line))
        parts = s.split(None, 1)
        json_name = None
        json_inline = False
        if tag is not None:
            jm = re.search(r'(?:^|\s)json:"([^"]*)"', tag)
            if jm:
                opts = jm.group(1).split(",")
                if opts[0] == "-" and len(opts) == 1:
                    return
                json_name = opts[0] or None
                json_inline = "inline" in opts[1:]
        if len(parts) == 1:
            # embedded: promoted (inline) unless the tag names it
            typ = parts[0]
            if json_name and not json_inline:
                fields.append((json_name, typ, gf))
            else:
                fields.append((None, typ, gf))
            return
        names, typ = parts
        typ = typ.strip()
        for go_name in [x.strip() for x in names.split(",")]:
            if not go_name[:1].isupper():
                continue  # unexported: not in JSON
            if json_inline and not json_name:
                fields.append((None, typ, gf))
            else:
                fields.append((json_name or go_name, typ, gf))

    def const_spec(self, gf, s, prev_type, where):
        m = re.match(r"^(\w+)\s+(\*?[\w.]+)\s*=\s*(.+)$", s)
        if m:
            self.consts.append((gf, m.group(1), m.group(2), m.group(3).strip()))
            return m.group(2)
        m = re.match(r"^(\w+)\s*=\s*(.+)$", s)
        if m:
            return None  # untyped constant: never a value of a typed enum
        if re.match(r"^\w+$", s) and prev_type:
            self.consts.append((gf, s, prev_type, None))  # implicit repetition
            return prev_type
        return None

    @staticmethod
    def resolve_name(expr, gf):
        """(package, name) of a named type expression, or None for builtins and composites."""
        expr = expr.lstrip("*")
        if expr.startswith("[") or expr.startswith("map[") or expr.startswith("func"):
            return None
        if "." in expr:
            local, name = expr.split(".", 1)
            if local not in gf.imports:
                return ("?" + local, name)
            return (gf.imports[local], name)
        if expr in GO_BUILTINS:
            return None
        return (gf.pkg, expr)

    def resolve(self):
        """Matches constants to the enum types (by their declared type), as kube-openapi does."""
        literal = {}
        for gf, name, typ, value in self.consts:
            if value is not None:
                literal[(gf.pkg, name)] = (value, gf)
        for gf, name, typ, value in self.consts:
            key = self.resolve_name(typ, gf)
            if key not in self.enum_types:
                continue
            if value is None:
                die("%s.%s: an enum constant by implicit repetition is not supported" %
                    (gf.pkg, name))
            seen = set()
            while re.match(r"^[\w.]+$", value) and not value.isdigit():
                ref = self.resolve_name(value, gf)
                if ref in seen or ref not in literal:
                    die("%s.%s: cannot evaluate %s" % (gf.pkg, name, value))
                seen.add(ref)
                value, gf = literal[ref]
            if value.startswith('"') and value.endswith('"'):
                text = json.loads(value)
            elif value.startswith("`") and value.endswith("`"):
                text = value[1:-1]
            else:
                die("%s.%s: cannot evaluate %s" % (gf.pkg, name, value))
            values = self.enum_values.setdefault(key, [])
            if text not in values:
                values.append(text)

    def flatten(self, key, where):
        """The JSON fields of a struct, embedded structs promoted: [(json name, type, GoFile)]."""
        seen = set()
        while key not in self.structs and key in self.named and key not in seen:
            seen.add(key)  # type X = pkg.Y, or type X Y: the fields of Y
            typ, gf = self.named[key]
            key = self.resolve_name(typ, gf)
        if key not in self.structs:
            die("%s: no Go struct %s.%s in the --go-source trees" % (where, key[0], key[1]))
        out = []
        for name, typ, gf in self.structs[key]:
            if name is None:
                inner = self.resolve_name(typ, gf)
                if inner is None:
                    die("%s: cannot inline %s" % (where, typ))
                out.extend(self.flatten(inner, where))
            else:
                out.append((name, typ, gf))
        return out

    @staticmethod
    def go_quote(v):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'

    def values(self, key):
        return tuple(sorted(self.enum_values.get(key, []), key=self.go_quote))

    def field_enum(self, typ, gf):
        """('field', values) when the field's own type is an enum, ('elem', values) when its
        list or map elements are, else None (kube-openapi's rules: pointers and named slice or
        map types are looked through)."""
        key = self.resolve_name(typ, gf)
        if key in self.enum_types:
            return ("field", self.values(key))
        seen = set()
        while key is not None and key in self.named and key not in seen:
            seen.add(key)
            typ, gf = self.named[key]
            key = self.resolve_name(typ, gf)
            if key in self.enum_types:
                return ("field", self.values(key))
        typ = typ.lstrip("*")
        elem = None
        if typ.startswith("[]"):
            elem = typ[2:]
        elif typ.startswith("map["):
            depth = 0
            for j, c in enumerate(typ):
                if c == "[":
                    depth += 1
                elif c == "]":
                    depth -= 1
                    if depth == 0:
                        elem = typ[j + 1:]
                        break
        if elem is not None:
            ekey = self.resolve_name(elem, gf)
            if ekey in self.enum_types:
                return ("elem", self.values(ekey))
        return None


def go_package_of(defname):
    """io.k8s.api.core.v1.Container -> (k8s.io/api/core/v1, Container)."""
    parts = defname.split(".")
    if len(parts) < 4:
        return None
    domain = parts[1] + "." + parts[0]  # io.k8s -> k8s.io
    return (domain + "/" + "/".join(parts[2:-1]), parts[-1])


# ---------------------------------------------------------------------------------------------
# The model: named types, anonymous types, fields
# ---------------------------------------------------------------------------------------------

class Anon:
    """An anonymous type; equal attributes make equal keys (deduplicated)."""

    def __init__(self, kind, fmt=None, elem=None, patch=0, list_type=0, map_atomic=False,
                 merge_key=None, list_map_keys=None, enum=None, variant_of=None):
        self.kind = kind
        self.fmt = fmt
        self.elem = elem            # Anon or Named
        self.patch = patch
        self.list_type = list_type
        self.map_atomic = map_atomic
        self.merge_key = merge_key
        self.list_map_keys = list_map_keys
        self.enum = enum
        self.variant_of = variant_of  # Named: same name and fields, other attributes

    def key(self):
        return (self.kind, self.fmt, id(self.elem), self.patch, self.list_type, self.map_atomic,
                self.merge_key, self.list_map_keys, self.enum, id(self.variant_of))


class Named:
    def __init__(self, name):
        self.name = name
        self.kind = None
        self.fmt = None
        self.fields = []          # [(name, type, required)] sorted
        self.map_atomic = False
        self.cname = None


class Model:
    def __init__(self, defs, go):
        self.defs = defs
        self.go = go
        self.named = {}
        self.anons = {}
        self.anon_list = []
        for kind, fmt in (("SCHEMA_STRING", None), ("SCHEMA_INTEGER", "int32"),
                          ("SCHEMA_INTEGER", "int64"), ("SCHEMA_NUMBER", "double"),
                          ("SCHEMA_BOOLEAN", None), ("SCHEMA_BYTES", "byte"),
                          ("SCHEMA_ANY", None)):
            self.anon(Anon(kind, fmt))

    def anon(self, a):
        k = a.key()
        if k not in self.anons:
            self.anons[k] = a
            self.anon_list.append(a)
        return self.anons[k]

    def reachable(self, roots):
        seen = set()
        stack = list(roots)
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            if n not in self.defs:
                die("definition %s is referenced but missing" % n)
            seen.add(n)
            stack.extend(refs_of(self.defs[n]))
        return seen

    def build(self, names):
        for n in sorted(names):
            self.named[n] = Named(n)
        for n in sorted(names):
            self.classify(self.named[n], self.defs[n])
        for n in sorted(names):
            if self.named[n].kind == "SCHEMA_OBJECT":
                self.build_fields(self.named[n], self.defs[n])

    @staticmethod
    def classify(t, d):
        if t.name in SPECIAL:
            t.kind, t.fmt = SPECIAL[t.name]
            return
        if d.get("x-kubernetes-preserve-unknown-fields"):
            t.kind = "SCHEMA_ANY"
            return
        if d.get("type") == "object" and "properties" not in d and "additionalProperties" not in d:
            t.kind = "SCHEMA_ANY"  # free-form (FieldsV1)
            return
        if d.get("type", "object") != "object" or "additionalProperties" in d:
            die("%s: named type of an unsupported shape" % t.name)
        t.kind = "SCHEMA_OBJECT"
        mt = d.get("x-kubernetes-map-type")
        if mt not in (None, "atomic", "granular"):
            die("%s: unknown x-kubernetes-map-type %r" % (t.name, mt))
        t.map_atomic = mt == "atomic"

    def build_fields(self, t, d):
        props = d.get("properties", {})
        required = set(d.get("required", []))
        for r in required:
            if r not in props:
                die("%s: required field %s is not a property" % (t.name, r))
        go_fields = None
        if self.go is not None:
            key = go_package_of(t.name)
            flat = self.go.flatten(key, t.name)
            go_fields = {}
            for name, typ, gf in flat:
                go_fields[name] = (typ, gf)
            if set(go_fields) != set(props):
                die("%s: the Go fields and the OpenAPI properties differ in %s" %
                    (t.name, sorted(set(go_fields) ^ set(props))))
        for fname in sorted(props):
            if not fname.isascii():
                die("%s: non-ASCII field name %r" % (t.name, fname))
            p = props[fname]
            field_enum = elem_enum = None
            spec_enum = self.spec_enums(p)
            if go_fields is not None:
                e = self.go.field_enum(*go_fields[fname])
                if e is not None:
                    if e[0] == "field":
                        field_enum = e[1]
                    else:
                        elem_enum = e[1]
                if spec_enum is not None and spec_enum != (field_enum, elem_enum):
                    die("%s.%s: enum values in the spec %r and in Go %r differ" %
                        (t.name, fname, spec_enum, (field_enum, elem_enum)))
            elif spec_enum is not None:
                field_enum, elem_enum = spec_enum
            ft = self.prop_type(p, "%s.%s" % (t.name, fname), field_enum, elem_enum)
            t.fields.append((fname, ft, fname in required))

    @staticmethod
    def spec_enums(p):
        def vals(node):
            if isinstance(node, dict) and "enum" in node:
                return tuple(node["enum"])
            return None
        f = vals(p)
        e = vals(p.get("items")) or vals(p.get("additionalProperties"))
        if f is None and e is None:
            return None
        return (f, e)

    def prop_type(self, p, where, enum=None, elem_enum=None):
        if "$ref" in p:
            base = self.named[p["$ref"]]
            strategy = p.get("x-kubernetes-patch-strategy")
            mt = p.get("x-kubernetes-map-type")
            extra = set(p) - {"$ref", "x-kubernetes-patch-strategy", "x-kubernetes-map-type"}
            if extra or enum or elem_enum:
                die("%s: unsupported attributes beside $ref: %s" % (where, sorted(extra)))
            if strategy is None and mt is None:
                return base
            if base.kind != "SCHEMA_OBJECT":
                die("%s: field attributes on a non-object reference" % where)
            if strategy is not None and strategy not in PATCH_BITS:
                die("%s: patch strategy %r on an object field" % (where, strategy))
            if mt not in (None, "atomic", "granular"):
                die("%s: unknown x-kubernetes-map-type %r" % (where, mt))
            return self.anon(Anon("SCHEMA_OBJECT", patch=PATCH_BITS.get(strategy, 0),
                                  map_atomic=base.map_atomic if mt is None else mt == "atomic",
                                  variant_of=base))
        if p.get("x-kubernetes-preserve-unknown-fields"):
            return self.anon(Anon("SCHEMA_ANY"))
        if p.get("x-kubernetes-int-or-string"):
            return self.anon(Anon("SCHEMA_INT_OR_STRING", "int-or-string"))
        typ = p.get("type")
        fmt = p.get("format")
        if typ == "array":
            strategy = p.get("x-kubernetes-patch-strategy")
            if strategy == "replace":
                patch = 0
            elif strategy is None or strategy in PATCH_BITS:
                patch = PATCH_BITS.get(strategy, 0)
            else:
                die("%s: unknown patch strategy %r" % (where, strategy))
            lt = p.get("x-kubernetes-list-type", "atomic")
            if lt not in LIST_TYPES:
                die("%s: unknown list type %r" % (where, lt))
            keys = p.get("x-kubernetes-list-map-keys")
            if (keys is not None) != (lt == "map"):
                die("%s: list-map-keys without list type map, or the reverse" % where)
            elem = self.prop_type(p["items"], where + "[]", elem_enum)
            return self.anon(Anon("SCHEMA_ARRAY", elem=elem, patch=patch,
                                  list_type=LIST_TYPES[lt],
                                  merge_key=p.get("x-kubernetes-patch-merge-key"),
                                  list_map_keys=tuple(keys) if keys else None))
        if typ == "object":
            if "properties" in p:
                die("%s: inline object schemas are not supported" % where)
            if "x-kubernetes-patch-strategy" in p or "x-kubernetes-patch-merge-key" in p:
                die("%s: patch strategy on a map is not supported" % where)
            ap = p.get("additionalProperties")
            if not isinstance(ap, dict):
                return self.anon(Anon("SCHEMA_ANY"))
            mt = p.get("x-kubernetes-map-type")
            if mt not in (None, "atomic", "granular"):
                die("%s: unknown x-kubernetes-map-type %r" % (where, mt))
            elem = self.prop_type(ap, where + "{}", elem_enum)
            return self.anon(Anon("SCHEMA_MAP", elem=elem, map_atomic=mt == "atomic"))
        if elem_enum:
            die("%s: element enum on a scalar" % where)
        for k in p:
            if k.startswith("x-"):
                die("%s: unsupported extension %s on a scalar" % (where, k))
        if typ == "string":
            if fmt == "byte":
                return self.anon(Anon("SCHEMA_BYTES", "byte"))
            if fmt == "date-time":
                return self.anon(Anon("SCHEMA_TIME", "date-time"))
            if fmt == "int-or-string":
                return self.anon(Anon("SCHEMA_INT_OR_STRING", "int-or-string"))
            return self.anon(Anon("SCHEMA_STRING", fmt, enum=enum or None))
        if enum:
            die("%s: enum on a %s" % (where, typ))
        if typ == "integer":
            if fmt not in ("int32", "int64"):
                die("%s: integer format %r" % (where, fmt))
            return self.anon(Anon("SCHEMA_INTEGER", fmt))
        if typ == "number":
            return self.anon(Anon("SCHEMA_NUMBER", fmt or "double"))
        if typ == "boolean":
            return self.anon(Anon("SCHEMA_BOOLEAN"))
        die("%s: unsupported schema %r" % (where, p))


# ---------------------------------------------------------------------------------------------
# Writing C
# ---------------------------------------------------------------------------------------------

def c_escape(s):
    out = []
    for ch in s:
        o = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= o < 0x7F:
            out.append(ch)
        else:
            for b in ch.encode("utf-8"):
                out.append("\\%03o" % b)
    return "".join(out)


class StringPool:
    """Each string once; a string that is the tail of a longer one points into it."""

    def __init__(self, strings):
        self.offset = {}
        order = sorted(set(strings), key=lambda s: s[::-1], reverse=True)
        self.pieces = []
        size = 0
        last = None
        for s in order:
            if last is not None and last.endswith(s):
                self.offset[s] = self.offset[last] + len(last.encode()) - len(s.encode())
                continue
            self.offset[s] = size
            self.pieces.append(s)
            size += len(s.encode()) + 1
            last = s
        self.size = size

    def ref(self, s):
        return "S + %d" % self.offset[s]


def cname_of(defname):
    for prefix in ("io.k8s.api.", "io.k8s.apimachinery.pkg.", "io.k8s."):
        if defname.startswith(prefix):
            return re.sub(r"[^A-Za-z0-9]", "_", defname[len(prefix):])
    return re.sub(r"[^A-Za-z0-9]", "_", defname)


def emit(model, roots, out, sources):
    named = [model.named[n] for n in sorted(model.named)]
    used = set()
    for t in named:
        t.cname = cname_of(t.name)
        if t.cname in used:
            die("C name clash: %s" % t.cname)
        used.add(t.cname)
    root_names = {}
    for (group, version, kind), defname in roots:
        t = model.named[defname]
        gname = group.split(".")[0] if group else "core"
        t.cname = "schema_%s_%s_%s" % (gname, version, kind)
        root_names[defname] = t.cname
    for defname, cname in SHARED.items():
        if defname not in model.named:
            die("the shared type %s is not reachable from the kinds" % defname)
        model.named[defname].cname = cname
        root_names[defname] = cname

    strings = []
    lists = []
    for t in named:
        strings.append(t.name)
        for fname, _, _ in t.fields:
            strings.append(fname)
    for a in model.anon_list:
        if a.merge_key:
            strings.append(a.merge_key)
        for lst in (a.list_map_keys, a.enum):
            if lst:
                strings.extend(lst)
                if lst not in lists:
                    lists.append(lst)
        if a.fmt:
            strings.append(a.fmt)
    for t in named:
        if t.fmt:
            strings.append(t.fmt)
    pool = StringPool(strings)

    list_off = {}
    list_entries = []
    for lst in lists:
        list_off[lst] = len(list_entries)
        list_entries.extend(lst)
        list_entries.append(None)

    field_off = {}
    field_entries = []
    for t in named:
        if t.kind == "SCHEMA_OBJECT":
            field_off[t.name] = len(field_entries)
            field_entries.extend((t, f) for f in t.fields)

    anon_index = {id(a): i for i, a in enumerate(model.anon_list)}

    def tref(x):
        if isinstance(x, Named):
            return "&" + x.cname
        return "&A[%d]" % anon_index[id(x)]

    w = out.write
    w("/*\n * schema-tables.c - korch's field schema: every type reachable from the registry's kinds,\n"
      " * with field names, types, formats, required fields, enum values and the strategic-merge\n"
      " * and server-side-apply list attributes.\n *\n"
      " * GENERATED by lib/api/schema-gen.py from Kubernetes' published OpenAPI definitions; do not\n"
      " * edit. Regenerate as the generator's header says. Sources:\n")
    for s in sources:
        w(" *   %s\n" % s)
    w(" */\n#include <stddef.h>\n\n#include \"api/schema.h\"\n\n/* clang-format off */\n\n")
    w("/* %d named types, %d anonymous types, %d fields, %d list entries, %d bytes of strings. */\n\n"
      % (len(named), len(model.anon_list), len(field_entries), len(list_entries), pool.size))

    w("/* The string pool: every name, key and value once; offsets below point into it. */\n")
    w("static const char S[%d] =\n" % pool.size)
    for i, piece in enumerate(pool.pieces):
        w('\t"%s\\0"%s\n' % (c_escape(piece), ";" if i == len(pool.pieces) - 1 else ""))
    w("\n/* NULL-terminated lists: enum values and list-map keys. */\n")
    w("static const char *const L[%d] = {\n" % len(list_entries))
    for lst in lists:
        w("\t/* %d: %s */\n" % (list_off[lst], ", ".join('"%s"' % c_escape(v) for v in lst)))
        w("\t%s, NULL,\n" % ", ".join(pool.ref(v) for v in lst))
    w("};\n\n")

    w("static const struct schema_type A[%d];\n" % len(model.anon_list))
    for t in named:
        if t.name in root_names:
            continue
        w("static const struct schema_type %s;\n" % t.cname)
    w("\n/* Fields of every object type, each type's run sorted by name. */\n")
    w("static const struct schema_field F[%d] = {\n" % len(field_entries))
    prev = None
    for t, (fname, ft, req) in field_entries:
        if t is not prev:
            w("\t/* %s */\n" % t.name)
            prev = t
        w("\t{ %s /* %s */, %s, %s },\n" % (pool.ref(fname), fname, tref(ft),
                                           "true" if req else "false"))
    w("};\n\n")

    def type_body(kind, name=None, fmt=None, fields=None, n_fields=0, elem=None, patch=0,
                  list_type=0, map_atomic=False, merge_key=None, list_map_keys=None, enum=None):
        parts = []
        if name:
            parts.append(".name = %s" % pool.ref(name))
        parts.append(".kind = %s" % kind)
        if fmt:
            parts.append(".format = %s" % pool.ref(fmt))
        if fields is not None:
            parts.append(".fields = &F[%d]" % fields)
            parts.append(".n_fields = %d" % n_fields)
        if elem is not None:
            parts.append(".elem = %s" % tref(elem))
        if patch:
            parts.append(".patch_strategy = %d" % patch)
        if list_type:
            parts.append(".list_type = %d" % list_type)
        if map_atomic:
            parts.append(".map_atomic = true")
        if merge_key:
            parts.append(".merge_key = %s /* %s */" % (pool.ref(merge_key), merge_key))
        if list_map_keys:
            parts.append(".list_map_keys = &L[%d]" % list_off[list_map_keys])
        if enum:
            parts.append(".enum_values = &L[%d]" % list_off[enum])
        return "{ " + ", ".join(parts) + " }"

    w("/* Anonymous types: primitives, enum strings, arrays, maps, field-specific variants. */\n")
    w("static const struct schema_type A[%d] = {\n" % len(model.anon_list))
    for i, a in enumerate(model.anon_list):
        if a.variant_of is not None:
            v = a.variant_of
            body = type_body(a.kind, name=v.name, fields=field_off[v.name],
                             n_fields=len(v.fields), patch=a.patch, map_atomic=a.map_atomic)
            w("\t/* %d: %s, as one field sees it */\n" % (i, v.name))
        else:
            body = type_body(a.kind, fmt=a.fmt, elem=a.elem, patch=a.patch,
                             list_type=a.list_type, map_atomic=a.map_atomic,
                             merge_key=a.merge_key, list_map_keys=a.list_map_keys, enum=a.enum)
        w("\t[%d] = %s,\n" % (i, body))
    w("};\n\n")

    w("/* Named types. */\n")
    for t in named:
        storage = "" if t.name in root_names else "static "
        if t.kind == "SCHEMA_OBJECT":
            body = type_body(t.kind, name=t.name, fields=field_off[t.name],
                             n_fields=len(t.fields), map_atomic=t.map_atomic)
        else:
            body = type_body(t.kind, name=t.name, fmt=t.fmt)
        w("%sconst struct schema_type %s = %s;\n" % (storage, t.cname, body))
    w("\nconst struct schema_type *const schema_named_types[] = {\n")
    for t in named:
        w("\t&%s,\n" % t.cname)
    w("};\nconst size_t schema_n_named_types = %d;\n" % len(named))
    return {
        "named": len(named), "anon": len(model.anon_list), "fields": len(field_entries),
        "lists": len(list_entries), "strings": pool.size,
        "roots": sorted(root_names.values()),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("spec", nargs="+", help="OpenAPI v2 swagger.json or v3 documents")
    ap.add_argument("--go-source", action="append", default=[],
                    help="a Go module tree (k8s.io/api, k8s.io/apimachinery) for enum values")
    ap.add_argument("-o", "--output", required=True, help="the C file to write")
    ap.add_argument("--source-note", action="append", default=[],
                    help="a line naming the sources, for the generated file's header")
    args = ap.parse_args()

    defs = load_specs(args.spec)
    gvk = {}
    for name, d in defs.items():
        for g in d.get("x-kubernetes-group-version-kind", []):
            gvk.setdefault((g["group"], g["version"], g["kind"]), name)
    roots = []
    for k in KINDS:
        if k not in gvk:
            die("the spec has no definition for %s/%s %s" % (k[0] or "core", k[1], k[2]))
        roots.append((k, gvk[k]))

    go = None
    if args.go_source:
        go = GoSource()
        for root in args.go_source:
            go.add_tree(root)
        go.resolve()

    model = Model(defs, go)
    model.build(model.reachable([r[1] for r in roots]))
    if go is None and not any("enum" in json.dumps(d) for d in defs.values()):
        sys.stderr.write("schema-gen.py: warning: no enum values (v2 spec without --go-source)\n")

    tmp = args.output + ".tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        stats = emit(model, roots, out, args.source_note or [os.path.basename(p) for p in args.spec])
    os.replace(tmp, args.output)
    sys.stderr.write("schema-gen.py: %(named)d named types, %(anon)d anonymous types, "
                     "%(fields)d fields, %(lists)d list entries, %(strings)d bytes of strings\n"
                     % stats)


if __name__ == "__main__":
    main()
