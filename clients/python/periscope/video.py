"""Camera paths for :meth:`RemoteViewer.export_video` (docs/video.md).

A path is keyframes joined by a smooth curve, a turntable (:func:`orbit`) or a
camera following a node (:func:`follow`). Positions are world coordinates,
``fov`` is the vertical field of view in degrees::

    path = CameraPath()
    path.add(position=[3, 2, 3], target=[0, 1, 0], time=0)
    path.add_current(v, time=2.0)          # where the viewer's camera is now
    v.export_video("fly.mp4", camera_path=path)
    path.save("fly.toml")                  # periscope --video out.mp4 --camera-path fly.toml
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Optional, Sequence, Union

if TYPE_CHECKING:
    from .viewer import RemoteViewer

NodeRef = Union[int, str]


def _vec(v: Any) -> list[float]:
    out = [float(x) for x in (v.tolist() if hasattr(v, "tolist") else v)]
    if len(out) != 3:
        raise ValueError(f"expected 3 numbers, got {len(out)}")
    return out


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def orbit(node: Optional[NodeRef] = None, center: Optional[Sequence[float]] = None, radius: Optional[float] = None,
          elevation: Optional[float] = None, turns: Optional[float] = None, start: Optional[float] = None,
          fov: Optional[float] = None) -> dict[str, Any]:
    """A turntable: ``turns`` (default 1) full turns over the video around
    everything shown, a node (its id or name) or ``center``; ``radius``
    defaults to a distance where the bounds fill the view, ``elevation`` (20)
    and ``start`` (0) are degrees."""
    return {"orbit": _clean({
        "node": node, "center": None if center is None else _vec(center), "radius": radius,
        "elevation": elevation, "turns": turns, "start": start, "fov": fov,
    })}


def follow(node: NodeRef, offset: Optional[Sequence[float]] = None, fov: Optional[float] = None) -> dict[str, Any]:
    """The camera keeps ``offset`` (world axes) to a moving node's center."""
    return {"follow": _clean({"node": node, "offset": None if offset is None else _vec(offset), "fov": fov})}


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


class CameraPath:
    """Keyframes a camera passes through. ``interpolation`` is ``"spline"``
    (smooth through every keyframe) or ``"linear"`` (eased at each one)."""

    def __init__(self, interpolation: str = "spline") -> None:
        self.interpolation = interpolation
        self.keyframes: list[dict[str, Any]] = []

    def add(self, position: Sequence[float], target: Sequence[float], fov: Optional[float] = None,
            time: Optional[float] = None, frame: Optional[int] = None) -> "CameraPath":
        """A keyframe at ``time`` seconds into the video, or when scene ``frame``
        shows; keyframes with neither are spread evenly."""
        self.keyframes.append(_clean({
            "time": None if time is None else float(time), "frame": None if frame is None else int(frame),
            "position": _vec(position), "target": _vec(target), "fov": None if fov is None else float(fov),
        }))
        return self

    def add_current(self, viewer: "RemoteViewer", time: Optional[float] = None,
                    frame: Optional[int] = None) -> "CameraPath":
        """A keyframe where the viewer's main camera is now."""
        cam = viewer.camera
        return self.add(cam["position"], cam["target"], fov=float(cam["fov_y"]), time=time, frame=frame)

    def to_dict(self) -> dict[str, Any]:
        return {"interpolation": self.interpolation, "keyframes": list(self.keyframes)}

    def to_toml(self) -> str:
        lines = [f"interpolation = {_toml_value(self.interpolation)}"]
        for k in self.keyframes:
            lines += ["", "[[keyframes]]"] + [f"{key} = {_toml_value(v)}" for key, v in k.items()]
        return "\n".join(lines) + "\n"

    def save(self, path: Union[str, os.PathLike[str]]) -> None:
        """Writes the TOML file ``periscope --camera-path`` reads."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.to_toml())

    @classmethod
    def load(cls, path: Union[str, os.PathLike[str]]) -> "CameraPath":
        """Reads keyframes from a TOML file (Python 3.11+, or the ``tomli`` package)."""
        try:
            import tomllib  # type: ignore[import-not-found,unused-ignore]
        except ModuleNotFoundError:  # pragma: no cover - Python < 3.11
            import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]
        with open(path, "rb") as f:
            data = tomllib.load(f)
        p = cls(str(data.get("interpolation", "spline")))
        p.keyframes = [dict(k) for k in data.get("keyframes", [])]
        return p


def path_kwarg(camera_path: Any) -> Any:
    """The wire form of a ``camera_path`` argument: a map, or TOML text for a file."""
    if isinstance(camera_path, CameraPath):
        return camera_path.to_dict()
    if isinstance(camera_path, dict):
        return camera_path
    if isinstance(camera_path, (str, os.PathLike)):
        with open(camera_path, encoding="utf-8") as f:
            return f.read()
    raise TypeError("camera_path must be a CameraPath, a dict (orbit(), follow()) or a TOML file's path")
