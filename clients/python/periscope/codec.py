"""MessagePack encoding with numpy arrays sent as raw little-endian bytes.

An array travels as ``{"__ndarray__": dtype_name, "shape": [...], "data": bin}``.
Encoding does no per-element work: a C-contiguous little-endian array is
handed to msgpack as a memoryview of its own memory.
"""

from __future__ import annotations

from typing import Any

import msgpack
import numpy as np
import numpy.typing as npt

NDARRAY_KEY = "__ndarray__"

_ACCEPTED = {
    "bool", "uint8", "int8", "uint16", "int16", "uint32", "int32",
    "uint64", "int64", "float32", "float64",
}


def _wire_array(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """``a`` as a C-contiguous little-endian array of an accepted dtype."""
    if a.dtype.name not in _ACCEPTED:
        if a.dtype.kind == "f":
            a = a.astype(np.float32)  # float16 / longdouble
        else:
            raise TypeError(
                f"cannot send a {a.dtype} array; use bool, (u)int8..64, float32 or float64"
            )
    if a.dtype.byteorder == ">" or (a.dtype.byteorder == "=" and np.little_endian is False):
        a = a.astype(a.dtype.newbyteorder("<"))
    return np.ascontiguousarray(a)


def _default(obj: object) -> Any:
    if isinstance(obj, np.ndarray):
        a = _wire_array(obj)
        data = a.data.cast("B") if a.size else b""
        return {NDARRAY_KEY: a.dtype.name, "shape": list(a.shape), "data": data}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, range):
        return list(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"cannot send a value of type {type(obj).__name__}")


def _object_hook(d: dict[str, Any]) -> Any:
    if NDARRAY_KEY in d:
        a = np.frombuffer(d["data"], dtype=np.dtype(d[NDARRAY_KEY]).newbyteorder("<"))
        return a.reshape(d["shape"])
    return d


def pack(obj: Any) -> bytes:
    """Encodes ``obj`` (dicts, lists, numbers, strings, bytes, numpy arrays)."""
    data: bytes = msgpack.packb(obj, default=_default, use_bin_type=True)
    return data


def unpack(data: bytes) -> Any:
    """Decodes one message; arrays come back as read-only numpy views."""
    return msgpack.unpackb(data, raw=False, object_hook=_object_hook, strict_map_key=False)
