"""Converts official SMPL / SMPL-H / SMPL-X ``.pkl`` model files to the ``.npz``
layout Periscope (and the smplx package) reads.

    python -m periscope.smpl_convert SMPL_NEUTRAL.pkl models/smpl/SMPL_NEUTRAL.npz

The official pickles hold chumpy arrays and a scipy sparse regressor; neither
package is needed here: their pickled state is read directly (numpy only).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import pickle
import sys
from typing import Any, Optional, Union

import numpy as np
import numpy.typing as npt

KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")


class _Stub:
    """Stands in for chumpy and scipy.sparse objects while unpickling."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.state: dict[str, Any] = {}

    def __setstate__(self, state: object) -> None:
        self.state = state if isinstance(state, dict) else {"state": state}

    def __reduce__(self) -> Any:  # never pickled again
        raise TypeError("stub")


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("chumpy") or module.startswith("scipy.sparse"):
            return type(name, (_Stub,), {"module": module})
        return super().find_class(module, name)


def _dense(value: object, key: str) -> npt.NDArray[Any]:
    """A numpy array from an array, a chumpy stub or a scipy sparse stub."""
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, _Stub):
        s = value.state
        if "x" in s:  # chumpy.Ch keeps its value in x
            return np.asarray(s["x"])
        if {"data", "indices", "indptr"} <= s.keys():
            shape = tuple(s.get("_shape", s.get("shape")) or ())
            data, indices, indptr = (np.asarray(s[k]) for k in ("data", "indices", "indptr"))
            out = np.zeros(shape, dtype=np.float64)
            compressed_columns = type(value).__name__.startswith("csc")
            for major in range(len(indptr) - 1):
                rows = slice(indptr[major], indptr[major + 1])
                if compressed_columns:
                    out[indices[rows], major] = data[rows]
                else:
                    out[major, indices[rows]] = data[rows]
            return out
    try:
        return np.asarray(value)
    except Exception as e:  # pragma: no cover - reported to the user
        raise ValueError(f"{key}: cannot read a {type(value).__name__}") from e


def convert(src: Union[str, os.PathLike[str]], dst: Union[str, os.PathLike[str]]) -> dict[str, tuple[int, ...]]:
    """Reads ``src`` (.pkl) and writes ``dst`` (.npz); returns the arrays' shapes."""
    with open(src, "rb") as f:
        data = _Unpickler(f, encoding="latin1").load()
    missing = [k for k in KEYS if k not in data]
    if missing:
        raise ValueError(f"{src}: not a body model pickle (missing {', '.join(missing)})")
    out = {k: _dense(data[k], k) for k in KEYS}
    out["kintree_table"] = out["kintree_table"].astype(np.int64)
    out["f"] = out["f"].astype(np.int64)
    for k in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights"):
        out[k] = out[k].astype(np.float32)
    target = pathlib.Path(dst)
    target.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = dict(out)  # savez's stubs type **kwargs like its own flags
    np.savez(target, **arrays)
    return {k: v.shape for k, v in out.items()}


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", help="official .pkl model file")
    ap.add_argument("dst", help="output .npz, e.g. models/smpl/SMPL_NEUTRAL.npz")
    args = ap.parse_args(argv)
    try:
        shapes = convert(args.src, args.dst)
    except (OSError, ValueError, pickle.UnpicklingError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for k, s in shapes.items():
        print(f"{k:14} {s}")
    print(f"wrote {args.dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
