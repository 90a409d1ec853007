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

__all__ = ["open", "connect", "Client", "Korch", "Watch", "WatchEvent", "KorchError", "NotFound",
           "AlreadyExists", "Conflict", "Invalid", "Gone", "Unsupported", "version"]


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


class Unsupported(KorchError):
    """Known to Kubernetes (or asked of this build), not implemented by korch."""


class Invalid(KorchError):
    """causes: [{"field", "reason", "message"}]; field: the first cause's field path."""

    @property
    def field(self):
        return self.causes[0]["field"] if self.causes else None


_CLASSES = {_ffi.ENOTFOUND: NotFound, _ffi.EEXISTS: AlreadyExists, _ffi.ECONFLICT: Conflict,
            _ffi.EINVALID: Invalid, _ffi.EGONE: Gone, _ffi.EUNSUPPORTED: Unsupported}


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


class _Closing:
    """close() on leaving a `with` block and when garbage-collected."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


class Client(_Closing):
    """A client over a state file, or over a korchd (connect()); close() it, or use it as a
    context manager."""

    def __init__(self, path, sync_normal=False):
        self._c = ctypes.c_void_p()
        opts = _ffi.ClientOptions(1, sync_normal)
        _call(_ffi.korch_client_open_state, _b(path), ctypes.byref(opts), ctypes.byref(self._c))

    @classmethod
    def _connect(cls, target, token, ca_file, insecure, timeout_ms):
        self = cls.__new__(cls)
        self._c = ctypes.c_void_p()
        opts = _ffi.ConnectOptions(1, _b(token), _b(ca_file), insecure, timeout_ms)
        _call(_ffi.korch_client_connect, _b(target), ctypes.byref(opts), ctypes.byref(self._c))
        return self

    def close(self):
        if getattr(self, "_c", None):
            _ffi.korch_client_free(self._c)
            self._c = None


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


_ROLES = {"store": 0, "controllers": 1, "scheduler": 2, "node": 4, "control-plane": 3, "all": 7}
_EVENT_TYPES = {0: "ADDED", 1: "MODIFIED", 2: "DELETED", 4: "ERROR"}
_NS = 1000000000


class WatchEvent(tuple):
    """One watch event: .type ("ADDED", "MODIFIED", "DELETED", "ERROR") and .object (a dict)."""

    def __new__(cls, type, object):
        return super().__new__(cls, (type, object))

    type = property(lambda self: self[0])
    object = property(lambda self: self[1])

    def __repr__(self):
        meta = self.object.get("metadata", {}) if isinstance(self.object, dict) else {}
        return f"WatchEvent({self.type}, {meta.get('name')!r})"


class Watch(_Closing):
    """Events of one resource, as an iterator of WatchEvent; close() it or use `with`.

    Simulated, iteration yields the events waiting now and ends: advance() brings more. On the
    real clock it waits for events, running korch's loop meanwhile, and ends after `timeout`
    seconds without one (None: never) or after an ERROR event."""

    def __init__(self, k, resource, namespace, selector, field_selector, resource_version,
                 timeout):
        self._k = k
        self._timeout = timeout
        self._w = ctypes.c_void_p()
        opts = _ffi.WatchNewOptions(1, _b(selector), _b(field_selector), _b(resource_version), 0)
        _call(_ffi.korch_watch_new, k._handle_k(), _b(resource), _b(namespace), ctypes.byref(opts),
              None, None, ctypes.byref(self._w))
        self.ended = False

    def close(self):
        if getattr(self, "_w", None):
            _ffi.korch_watch_free(self._w)
            self._w = None


    def fileno(self):
        """Readable while events wait (for select/poll/selectors)."""
        return _ffi.korch_watch_fd(self._w)

    def next_event(self):
        """The oldest waiting event, or None."""
        if not self._w:
            raise ValueError("the watch is closed")
        t = ctypes.c_int()
        obj = ctypes.c_void_p()
        if not _call(_ffi.korch_watch_next, self._w, ctypes.byref(t), ctypes.byref(obj)):
            return None
        ev = WatchEvent(_EVENT_TYPES.get(t.value, "ERROR"), _to_dict(obj))
        if ev.type == "ERROR":
            self.ended = True
        return ev

    def __iter__(self):
        return self

    def __next__(self):
        if self.ended:
            raise StopIteration
        self._k.dispatch()
        ev = self.next_event()
        if ev is not None:
            return ev
        if self._k.simulated:
            raise StopIteration
        import select
        import time
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        while True:
            wait = self._k.timeout_ms()
            if deadline is not None:
                left = max(0, int((deadline - time.monotonic()) * 1000))
                wait = left if wait < 0 else min(wait, left)
            select.select([self._k.fileno(), self.fileno()], [], [],
                          None if wait < 0 else wait / 1000.0)
            self._k.dispatch()
            ev = self.next_event()
            if ev is not None:
                return ev
            if deadline is not None and time.monotonic() >= deadline:
                raise StopIteration


class Korch(Client):
    """An embedded korch (korch.h): the state plus the roles asked for, run in this process.

    Every Client call works on it. Its loop runs whenever dispatch(), advance() or a watch's
    iteration runs it; fileno() and timeout_ms() fit it into a selectors/asyncio loop."""

    def __init__(self, path, roles="store", simulate=False, seed=0, node_name=None,
                 event_log=None, start_time=None, data_dir=None):
        self._k = ctypes.c_void_p()
        self._c = None
        if isinstance(roles, str):
            roles = [roles]
        bits = 0
        for r in roles:
            if r not in _ROLES:
                raise ValueError(f"unknown role {r!r}: one of {sorted(_ROLES)}")
            bits |= _ROLES[r]
        start = int(start_time * _NS) if start_time is not None else 0
        opts = _ffi.KorchOptions(1, bits, 0, simulate, seed, start, _b(node_name), _b(data_dir),
                                 None, None, _b(event_log))
        _call(_ffi.korch_open, _b(path), ctypes.byref(opts), ctypes.byref(self._k))
        self._c = ctypes.c_void_p(_ffi.korch_get_client(self._k))
        self.simulated = simulate
        self.roles = [name for name in ("controllers", "scheduler", "node")
                      if _ffi.korch_roles(self._k) & _ROLES[name]]

    def close(self):
        self._c = None
        if getattr(self, "_k", None):
            _ffi.korch_close(self._k)
            self._k = None

    def _handle_k(self):
        if not self._k:
            raise ValueError("korch is closed")
        return self._k

    def fileno(self):
        return _ffi.korch_fd(self._handle_k())

    def timeout_ms(self):
        """Milliseconds until korch needs dispatch() without its fd readable; -1: none."""
        return _ffi.korch_timeout_ms(self._handle_k())

    def dispatch(self):
        """Runs what is ready, without blocking; returns the number of callbacks run."""
        return _call(_ffi.korch_dispatch, self._handle_k())

    def advance(self, seconds):
        """Simulation: moves the clock forward, running everything due on the way."""
        _call(_ffi.korch_advance, self._handle_k(), int(seconds * _NS))

    def now(self):
        """The wall time korch's clock shows, in seconds since the epoch."""
        return _ffi.korch_now_wall_ns(self._handle_k()) / _NS

    def sim_set_exit(self, pattern, after_seconds, exit_code=0):
        """Simulation: containers matching NAMESPACE/POD/CONTAINER pattern exit by themselves."""
        _call(_ffi.korch_sim_set_exit, self._handle_k(), _b(pattern), int(after_seconds),
              exit_code)

    def watch(self, resource, namespace=None, selector=None, field_selector=None,
              resource_version=None, timeout=None):
        """A Watch of resource: the current objects as ADDED first unless resource_version is
        given, then every change."""
        return Watch(self, resource, namespace, selector, field_selector, resource_version,
                     timeout)


def open(path, roles="store", simulate=False, seed=0, node_name=None,  # noqa: A001
         event_log=None, start_time=None, data_dir=None, sync_normal=False):
    """Opens (creating it when missing) the state file at path as an embedded korch running
    roles ("store", "controllers", "scheduler", "node", "control-plane", "all", or a list);
    simulate: the test clock and the simulated runtime, moved by advance(seconds).
    sync_normal=True gives a plain Client (synchronous=NORMAL) without a loop or watches."""
    if sync_normal:
        return Client(path, sync_normal)
    return Korch(path, roles, simulate, seed, node_name, event_log, start_time, data_dir)


def connect(target=None, token=None, ca_file=None, insecure_skip_tls_verify=False, timeout_ms=0):
    """A Client over a running korchd: target is the API socket's path, a kubeconfig file or an
    http(s):// URL; None: $KUBECONFIG, else /run/korch/korchd.sock. Objects as dicts, errors as
    with open(); nothing is sent before the first call."""
    return Client._connect(target, token, ca_file, insecure_skip_tls_verify, timeout_ms)


def version():
    return _ffi.korch_version().decode()
