"""MessagePack encoding with numpy arrays sent as raw little-endian bytes.

An array travels as ``{"__ndarray__": dtype_name, "shape": [...], "data": bin}``.
Encoding does no per-element work: a C-contiguous little-endian array is
handed to msgpack as a memoryview of its own memory.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any, Optional

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


#: Messages whose arrays hold more than this many bytes are sent in fragments.
FRAGMENT_THRESHOLD = 1 << 20
#: Size of each WebSocket fragment of a large message.
FRAGMENT_SIZE = 1 << 20


def array_bytes(obj: Any) -> int:
    """Bytes of the numpy arrays in ``obj`` (nested in dicts and lists)."""
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if isinstance(obj, dict):
        return sum(array_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(array_bytes(v) for v in obj)
    return 0


def _segments(obj: Any, out: list[Any], packer: msgpack.Packer) -> None:
    """The MessagePack encoding of ``obj`` as a list of pieces; arrays' data
    stay memoryviews of their own memory (the same bytes ``pack`` makes)."""
    if isinstance(obj, np.ndarray):
        a = _wire_array(obj)
        out.append(packer.pack_map_header(3) + packer.pack(NDARRAY_KEY) + packer.pack(a.dtype.name)
                   + packer.pack("shape") + packer.pack(list(a.shape)) + packer.pack("data")
                   + b"\xc6" + struct.pack(">I", a.nbytes))  # bin 32 header
        if a.size:
            out.append(a.data.cast("B"))
    elif isinstance(obj, dict):
        out.append(packer.pack_map_header(len(obj)))
        for k, v in obj.items():
            out.append(packer.pack(k))
            _segments(v, out, packer)
    elif isinstance(obj, (list, tuple)):
        out.append(packer.pack_array_header(len(obj)))
        for v in obj:
            _segments(v, out, packer)
    else:
        out.append(packer.pack(obj))


def pack_fragments(obj: Any, size: int = FRAGMENT_SIZE) -> Iterator[bytes]:
    """``pack(obj)`` cut into pieces of ``size`` bytes, made one at a time: the
    whole message never exists in fresh memory (the arrays are read in place),
    which is what makes large messages slow. Send them as the fragments of one
    WebSocket message."""
    packer = msgpack.Packer(use_bin_type=True, default=_default)
    pieces: list[Any] = []
    _segments(obj, pieces, packer)
    buf = bytearray()
    for piece in pieces:
        view = memoryview(piece)
        while len(view):
            take = min(size - len(buf), len(view))
            buf += view[:take]
            view = view[take:]
            if len(buf) >= size:
                yield bytes(buf)
                buf.clear()
    if buf:
        yield bytes(buf)


#: Arrays above this many bytes are sent as ``ARRAY_PART`` messages
#: (docs/protocol.md, "Large arrays in parts") when the viewer takes them ...
PART_BYTES = 128 << 10
#: ... in parts of this many bytes: small enough that every buffer a part
#: passes through (msgpack, websockets) is reused heap memory; bigger blocks
#: get fresh pages from the allocator, which are slow to touch
#: (docs/benchmarks.md, rows 3b).
PART_SIZE = 64 << 10


def split_parts(obj: Any, next_id: Iterator[int]) -> tuple[Any, list[tuple[int, npt.NDArray[Any]]]]:
    """``obj`` with every array over :data:`PART_BYTES` replaced by a
    reference ``{"__ndarray__", "shape", "transfer"}``, and those arrays (wire
    form: contiguous, little-endian) with their transfer ids."""
    found: list[tuple[int, npt.NDArray[Any]]] = []

    def walk(x: Any) -> Any:
        if isinstance(x, np.ndarray) and x.nbytes > PART_BYTES:
            a = _wire_array(x)
            tid = next(next_id)
            found.append((tid, a))
            return {NDARRAY_KEY: a.dtype.name, "shape": list(a.shape), "transfer": tid}
        if isinstance(x, dict):
            return {k: walk(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [walk(v) for v in x]
        return x

    return walk(obj), found


def part_messages(tid: int, a: npt.NDArray[Any], seq: int, size: Optional[int] = None) -> Iterator[bytes]:
    """The ``ARRAY_PART`` messages of array ``a`` (wire form), each made
    from a view of its memory, ``size`` (default :data:`PART_SIZE`) bytes each."""
    size = size or PART_SIZE
    view = a.data.cast("B")
    for offset in range(0, max(a.nbytes, 1), size):
        kwargs: dict[str, Any] = {"transfer": tid, "data": view[offset:offset + size]}
        if offset == 0:
            kwargs.update(dtype=a.dtype.name, nbytes=int(a.nbytes))
        yield pack({"type": 330, "uid": None, "args": [], "kwargs": kwargs, "seq": seq})


def unpack(data: bytes) -> Any:
    """Decodes one message; arrays come back as read-only numpy views."""
    return msgpack.unpackb(data, raw=False, object_hook=_object_hook, strict_map_key=False)
