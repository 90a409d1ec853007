"""The C functions of libkorch, each declared once (argtypes and restype), and the one helper that
turns a failing call into a KorchError. The library is found through KORCH_LIBRARY, the build
tree, or the install prefix."""
import ctypes
import ctypes.util
import os

c_char_p = ctypes.c_char_p
c_void_p = ctypes.c_void_p
c_int = ctypes.c_int
c_size_t = ctypes.c_size_t
c_int64 = ctypes.c_int64
c_bool = ctypes.c_bool
POINTER = ctypes.POINTER


def _find_library():
    explicit = os.environ.get("KORCH_LIBRARY")
    if explicit:
        return explicit
    here = os.path.dirname(os.path.abspath(__file__))
    for candidate in (
        os.path.join(here, "..", "..", "..", "build", "lib", "libkorch.so.0"),
        "/usr/local/lib/x86_64-linux-gnu/libkorch.so.0",
        "/usr/lib/x86_64-linux-gnu/libkorch.so.0",
    ):
        if os.path.exists(candidate):
            return candidate
    found = ctypes.util.find_library("korch")
    if found:
        return found
    raise ImportError("libkorch.so not found: build korch or set KORCH_LIBRARY")


lib = ctypes.CDLL(_find_library())


class ClientOptions(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint), ("sync_normal", c_bool)]


class ListOptions(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint), ("label_selector", c_char_p),
                ("field_selector", c_char_p), ("limit", c_size_t), ("continue_token", c_char_p)]


class WriteOptions(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint), ("field_manager", c_char_p),
                ("field_validation", c_int), ("dry_run", c_bool), ("force", c_bool)]


class DeleteOptions(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint), ("grace_period_s", c_int64),
                ("propagation", c_int), ("dry_run", c_bool)]


class KorchOptions(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint), ("roles", ctypes.c_uint), ("run_mode", c_int),
                ("simulated", c_bool), ("seed", ctypes.c_uint64), ("start_wall_ns", c_int64),
                ("node_name", c_char_p), ("data_dir", c_char_p), ("run_dir", c_char_p),
                ("instance", c_char_p), ("event_log_path", c_char_p)]


class WatchNewOptions(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint), ("label_selector", c_char_p),
                ("field_selector", c_char_p), ("resource_version", c_char_p),
                ("queue_max", c_size_t)]


class ConnectOptions(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint), ("token", c_char_p), ("ca_file", c_char_p),
                ("insecure_skip_tls_verify", c_bool), ("timeout_ms", c_int)]


def _declare(name, restype, *argtypes):
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)
    return fn


ERR = POINTER(c_void_p)

korch_error_code = _declare("korch_error_code", c_int, c_void_p)
korch_error_message = _declare("korch_error_message", c_char_p, c_void_p)
korch_error_errno = _declare("korch_error_errno", c_int, c_void_p)
korch_error_cause_count = _declare("korch_error_cause_count", c_size_t, c_void_p)
korch_error_cause_field = _declare("korch_error_cause_field", c_char_p, c_void_p, c_size_t)
korch_error_cause_reason = _declare("korch_error_cause_reason", c_char_p, c_void_p, c_size_t)
korch_error_cause_message = _declare("korch_error_cause_message", c_char_p, c_void_p, c_size_t)
korch_error_free = _declare("korch_error_free", None, c_void_p)
korch_version = _declare("korch_version", c_char_p)

korch_object_parse = _declare("korch_object_parse", c_int, c_char_p, c_size_t, c_char_p,
                              POINTER(c_void_p), ERR)
korch_object_parse_json = _declare("korch_object_parse_json", c_int, c_char_p, c_size_t,
                                   POINTER(c_void_p), ERR)
korch_object_to_text = _declare("korch_object_to_text", c_int, c_void_p, c_int,
                                POINTER(c_void_p), ERR)
korch_object_free = _declare("korch_object_free", None, c_void_p)

korch_client_open_state = _declare("korch_client_open_state", c_int, c_char_p,
                                   POINTER(ClientOptions), POINTER(c_void_p), ERR)
korch_client_free = _declare("korch_client_free", None, c_void_p)
korch_client_get = _declare("korch_client_get", c_int, c_void_p, c_char_p, c_char_p, c_char_p,
                            POINTER(c_void_p), ERR)
korch_client_list = _declare("korch_client_list", c_int, c_void_p, c_char_p, c_char_p,
                             POINTER(ListOptions), POINTER(c_void_p), ERR)
korch_client_apply = _declare("korch_client_apply", c_int, c_void_p, c_void_p,
                              POINTER(WriteOptions), POINTER(c_void_p), POINTER(c_int), ERR)
korch_client_create = _declare("korch_client_create", c_int, c_void_p, c_void_p,
                               POINTER(WriteOptions), POINTER(c_void_p), ERR)
korch_client_patch = _declare("korch_client_patch", c_int, c_void_p, c_char_p, c_char_p,
                              c_char_p, c_int, c_void_p, POINTER(WriteOptions),
                              POINTER(c_void_p), ERR)
korch_client_delete = _declare("korch_client_delete", c_int, c_void_p, c_char_p, c_char_p,
                               c_char_p, POINTER(DeleteOptions), POINTER(c_void_p), ERR)

korch_open = _declare("korch_open", c_int, c_char_p, POINTER(KorchOptions), POINTER(c_void_p),
                      ERR)
korch_close = _declare("korch_close", None, c_void_p)
korch_roles = _declare("korch_roles", ctypes.c_uint, c_void_p)
korch_get_client = _declare("korch_get_client", c_void_p, c_void_p)
korch_fd = _declare("korch_fd", c_int, c_void_p)
korch_timeout_ms = _declare("korch_timeout_ms", c_int, c_void_p)
korch_dispatch = _declare("korch_dispatch", c_int, c_void_p, ERR)
korch_advance = _declare("korch_advance", c_int, c_void_p, c_int64, ERR)
korch_now_wall_ns = _declare("korch_now_wall_ns", c_int64, c_void_p)
korch_sim_set_exit = _declare("korch_sim_set_exit", c_int, c_void_p, c_char_p, c_int64, c_int,
                              ERR)
korch_watch_new = _declare("korch_watch_new", c_int, c_void_p, c_char_p, c_char_p,
                           POINTER(WatchNewOptions), c_void_p, c_void_p, POINTER(c_void_p), ERR)
korch_watch_fd = _declare("korch_watch_fd", c_int, c_void_p)
korch_watch_next = _declare("korch_watch_next", c_int, c_void_p, POINTER(c_int),
                            POINTER(c_void_p), ERR)
korch_watch_free = _declare("korch_watch_free", None, c_void_p)

korch_client_connect = _declare("korch_client_connect", c_int, c_char_p,
                                POINTER(ConnectOptions), POINTER(c_void_p), ERR)

libc = ctypes.CDLL(None)
libc.free.argtypes = [c_void_p]
libc.free.restype = None

# Error codes (enum korch_error_code).
ENOTFOUND, EEXISTS, ECONFLICT, EINVALID, EGONE = -1, -2, -3, -4, -5
EUNSUPPORTED = -8


def check(rc, err):
    """Raises the KorchError subclass for a negative rc, freeing the C error."""
    if rc >= 0:
        return rc
    from korch import _error_from  # the Pythonic layer owns the exception classes
    exc = _error_from(err)
    korch_error_free(err)
    raise exc
