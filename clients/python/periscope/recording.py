"""Reading Periscope recordings (``.psr``, docs/recording.md) from Python."""

from __future__ import annotations

import os
import struct
import warnings
from collections.abc import Iterator
from typing import Any, Union

import msgpack

from .codec import unpack

MAGIC = b"PSREC\x1a\r\n"
VERSION = 1


def read_recording(path: Union[str, os.PathLike[str]], decode: bool = True) -> Iterator[dict[str, Any]]:
    """Yields every record of a recording (or saved scene) as a dict:
    ``{"t", "kind" ("connect"|"message"|"disconnect"), "client", "name", "seq"?,
    "message"}``, where ``message`` is the decoded envelope (``type``, ``uid``,
    ``args``, ``kwargs``, ``seq``) for messages, or the raw bytes with
    ``decode=False``.

    Raises ValueError for a file that is not a recording or is from a newer
    Periscope; a truncated or damaged file yields the records before the
    damage and then warns.
    """
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 16 or data[:8] != MAGIC:
        raise ValueError(f"{path} is not a Periscope recording (no PSREC header)")
    version, header_len = struct.unpack_from("<II", data, 8)
    if version > VERSION:
        raise ValueError(f"{path} is a version {version} recording; this reader reads up to version {VERSION}")
    pos = 16 + header_len
    view = memoryview(data)
    while pos < len(data):
        try:
            (meta_len,) = struct.unpack_from("<I", data, pos)
            meta_end = pos + 4 + meta_len
            (frame_len,) = struct.unpack_from("<Q", data, meta_end)
            end = meta_end + 8 + frame_len
            if end > len(data):
                raise ValueError("the file ends inside a record")
            meta = msgpack.unpackb(view[pos + 4:meta_end], raw=False)
            frame = view[meta_end + 8:end]
        except (struct.error, ValueError, msgpack.UnpackException) as e:
            warnings.warn(f"{path}: {e} at byte {pos}; the records before it were read", stacklevel=2)
            return
        record = dict(meta)
        if record.get("kind") == "message":
            record["message"] = unpack(bytes(frame)) if decode else bytes(frame)
        yield record
        pos = end
