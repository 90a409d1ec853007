"""korch from Python: the state of a korch instance as dicts, through libkorch's C API (ctypes,
standard library only).

    import korch
    with korch.open("/tmp/state.db") as k:
        k.apply(open("web.yaml").read())
        for pod in k.list("pods", namespace="default", selector="app=web"):
            print(pod["metadata"]["name"])
"""
import ctypes
import json

from korch import _ffi

__all__ = ["open", "Client", "KorchError", "NotFound", "AlreadyExists", "Conflict", "Invalid",
           "Gone", "version"]


class KorchError(Exception):
    """A failed korch call: code (negative, korch_error_code), message, causes."""

    def __init__(self, code, message, causes=(), errno=0):
        super().__init__(message)
        self.code = code
        self.message = message
        self.causes = list(causes)
        self.errno = errno


class NotFound(KorchError):
    pass


class AlreadyExists(KorchError):
    pass


class Conflict(KorchError):
    pass


class Gone(KorchError):
    pass


class Invalid(KorchError):
    """causes: [{"field", "reason", "message"}]; field: the first cause's field path."""

    @property
    def field(self):
        return self.causes[0]["field"] if self.causes else None


_CLASSES = {_ffi.ENOTFOUND: NotFound, _ffi.EEXISTS: AlreadyExists, _ffi.ECONFLICT: Conflict,
            _ffi.EINVALID: Invalid, _ffi.EGONE: Gone}


def _text(b):
    return b.decode() if b is not None else None


def _error_from(err):
    code = _ffi.korch_error_code(err)
    causes = []
    for i in range(_ffi.korch_error_cause_count(err)):
        causes.append({"field": _text(_ffi.korch_error_cause_field(err, i)),
                       "reason": _text(_ffi.korch_error_cause_reason(err, i)),
                       "message": _text(_ffi.korch_error_cause_message(err, i))})
    cls = _CLASSES.get(code, KorchError)
    return cls(code, _text(_ffi.korch_error_message(err)), causes, _ffi.korch_error_errno(err))


def _call(fn, *args):
    err = ctypes.c_void_p()
    rc = fn(*args, ctypes.byref(err))
    return _ffi.check(rc, err)


def _to_dict(obj):
    """A korch_object (consumed) as a Python value."""
    text = ctypes.c_void_p()
    try:
        _call(_ffi.korch_object_to_text, obj, 0, ctypes.byref(text))
        value = json.loads(ctypes.string_at(text.value).decode())
        _ffi.libc.free(text)
        return value
    finally:
        _ffi.korch_object_free(obj)


def _from_value(value):
    """A Python dict as a korch_object (the caller frees it)."""
    data = json.dumps(value).encode()
    obj = ctypes.c_void_p()
    _call(_ffi.korch_object_parse_json, data, len(data), ctypes.byref(obj))
    return obj


def _documents(text_or_value):
    """Manifest text (YAML or JSON, several documents) or a dict: a list of dicts."""
    if isinstance(text_or_value, dict):
        return [text_or_value]
    data = text_or_value.encode() if isinstance(text_or_value, str) else bytes(text_or_value)
    docs = ctypes.c_void_p()
    _call(_ffi.korch_object_parse, data, len(data), None, ctypes.byref(docs))
    return _to_dict(docs)["items"]


def _b(s):
    return s.encode() if s is not None else None


def _write_options(field_manager, force=False, dry_run=False):
    return _ffi.WriteOptions(1, _b(field_manager), 0, dry_run, force)


_PATCH_TYPES = {"merge": 0, "json": 1, "strategic": 2, "apply": 3}
_PROPAGATION = {None: 0, "Background": 1, "Foreground": 2, "Orphan": 3}


class Client:
    """A client over a state file; close() it, or use it as a context manager."""

    def __init__(self, path, sync_normal=False):
        self._c = ctypes.c_void_p()
        opts = _ffi.ClientOptions(1, sync_normal)
        _call(_ffi.korch_client_open_state, _b(path), ctypes.byref(opts), ctypes.byref(self._c))

    def close(self):
        if self._c:
            _ffi.korch_client_free(self._c)
            self._c = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def _handle(self):
        if not self._c:
            raise ValueError("the client is closed")
        return self._c

    def get(self, kind, name, namespace=None):
        """One object as a dict; NotFound when missing."""
        out = ctypes.c_void_p()
        _call(_ffi.korch_client_get, self._handle(), _b(kind), _b(namespace), _b(name),
              ctypes.byref(out))
        return _to_dict(out)

    def list(self, kind, namespace=None, selector=None, field_selector=None):
        """The objects of a kind (all namespaces when namespace is None), as dicts."""
        out = ctypes.c_void_p()
        opts = _ffi.ListOptions(1, _b(selector), _b(field_selector), 0, None)
        _call(_ffi.korch_client_list, self._handle(), _b(kind), _b(namespace), ctypes.byref(opts),
              ctypes.byref(out))
        return _to_dict(out)["items"]

    def apply(self, text_or_dict, field_manager="korch-python", force=False, dry_run=False):
        """Server-side apply of every document; returns the stored objects."""
        results = []
        opts = _write_options(field_manager, force, dry_run)
        for doc in _documents(text_or_dict):
            obj = _from_value(doc)
            out = ctypes.c_void_p()
            try:
                _call(_ffi.korch_client_apply, self._handle(), obj, ctypes.byref(opts),
                      ctypes.byref(out), None)
            finally:
                _ffi.korch_object_free(obj)
            results.append(_to_dict(out))
        return results[0] if isinstance(text_or_dict, dict) else results

    def create(self, value, field_manager="korch-python"):
        obj = _from_value(value)
        out = ctypes.c_void_p()
        opts = _write_options(field_manager)
        try:
            _call(_ffi.korch_client_create, self._handle(), obj, ctypes.byref(opts),
                  ctypes.byref(out))
        finally:
            _ffi.korch_object_free(obj)
        return _to_dict(out)

    def patch(self, kind, name, patch, namespace=None, type="merge",
              field_manager="korch-python"):
        """Patches with type "merge", "json", "strategic" or "apply"."""
        if type not in _PATCH_TYPES:
            raise ValueError(f"unknown patch type {type!r}")
        obj = _from_value(patch)
        out = ctypes.c_void_p()
        opts = _write_options(field_manager)
        try:
            _call(_ffi.korch_client_patch, self._handle(), _b(kind), _b(namespace), _b(name),
                  _PATCH_TYPES[type], obj, ctypes.byref(opts), ctypes.byref(out))
        finally:
            _ffi.korch_object_free(obj)
        return _to_dict(out)

    def delete(self, kind, name, namespace=None, grace_period_seconds=-1, propagation=None):
        """Deletes (or marks for deletion) an object; returns it as deleted or marked."""
        opts = _ffi.DeleteOptions(1, grace_period_seconds, _PROPAGATION[propagation], False)
        out = ctypes.c_void_p()
        _call(_ffi.korch_client_delete, self._handle(), _b(kind), _b(namespace), _b(name),
              ctypes.byref(opts), ctypes.byref(out))
        return _to_dict(out)


def open(path, sync_normal=False):  # noqa: A001 (korch.open, as the bindings are documented)
    """Opens (creating it when missing) the state file at path."""
    return Client(path, sync_normal)


def version():
    return _ffi.korch_version().decode()
