"""The built-in node kinds, mirroring ``aitviewer.remote.renderables``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

from .message import Message
from .viewer import RemoteNode

if TYPE_CHECKING:
    from .viewer import Frames, RemoteViewer

# The kinds' update_frames take `frames` positionally like aitviewer's (RemoteNode's
# is keyword-only): hence the `type: ignore[override]`s.


class RemoteMeshes(RemoteNode):
    """Triangle meshes: ``vertices`` (V,3) or (F,V,3), ``faces`` (T,3).

    Options: name, position, rotation, scale, color, enabled, vertex_colors,
    face_colors, flat_shading, draw_edges.
    """

    MESSAGE_TYPE: int = Message.MESHES

    def __init__(self, viewer: RemoteViewer, vertices: npt.ArrayLike, faces: npt.ArrayLike, **kwargs: Any) -> None:
        super().__init__(viewer, vertices=vertices, faces=faces, **kwargs)

    def add_frames(self, vertices: npt.ArrayLike, **kwargs: Any) -> Optional[int]:
        return super().add_frames(vertices=vertices, **kwargs)

    def update_frames(self, vertices: npt.ArrayLike, frames: Frames, **kwargs: Any) -> Optional[int]:  # type: ignore[override]
        return super().update_frames(vertices=vertices, frames=frames, **kwargs)


class RemoteSpheres(RemoteNode):
    """Spheres at ``positions`` (N,3) or (F,N,3). Options: radius, color (one
    RGBA, or one per sphere (N,4)), name, position, rotation, scale, enabled."""

    MESSAGE_TYPE: int = Message.SPHERES

    def __init__(self, viewer: RemoteViewer, positions: npt.ArrayLike, **kwargs: Any) -> None:
        super().__init__(viewer, positions=positions, **kwargs)

    def add_frames(self, positions: npt.ArrayLike, **kwargs: Any) -> Optional[int]:
        return super().add_frames(positions=positions, **kwargs)

    def update_frames(self, positions: npt.ArrayLike, frames: Frames, **kwargs: Any) -> Optional[int]:  # type: ignore[override]
        return super().update_frames(positions=positions, frames=frames, **kwargs)


class RemoteLines(RemoteNode):
    """Lines through ``lines`` (N,3) or (F,N,3). Options: mode ("line_strip"
    or "lines"), r_base, r_tip, color, name, position, rotation, scale."""

    MESSAGE_TYPE: int = Message.LINES

    def __init__(self, viewer: RemoteViewer, lines: npt.ArrayLike, **kwargs: Any) -> None:
        super().__init__(viewer, lines=lines, **kwargs)

    def add_frames(self, lines: npt.ArrayLike, **kwargs: Any) -> Optional[int]:
        return super().add_frames(lines=lines, **kwargs)

    def update_frames(self, lines: npt.ArrayLike, frames: Frames, **kwargs: Any) -> Optional[int]:  # type: ignore[override]
        return super().update_frames(lines=lines, frames=frames, **kwargs)


class RemoteArrows(RemoteNode):
    """Arrows from ``origins`` to ``tips``, each (N,3) or (F,N,3). Options:
    r_base, r_head, p (head fraction), color, name, position, rotation, scale."""

    MESSAGE_TYPE: int = Message.ARROWS

    def __init__(self, viewer: RemoteViewer, origins: npt.ArrayLike, tips: npt.ArrayLike, **kwargs: Any) -> None:
        super().__init__(viewer, origins=origins, tips=tips, **kwargs)

    def add_frames(self, origins: npt.ArrayLike, tips: npt.ArrayLike, **kwargs: Any) -> Optional[int]:
        return super().add_frames(origins=origins, tips=tips, **kwargs)

    def update_frames(self, origins: npt.ArrayLike, tips: npt.ArrayLike, frames: Frames, **kwargs: Any) -> Optional[int]:  # type: ignore[override]
        return super().update_frames(origins=origins, tips=tips, frames=frames, **kwargs)


class RemoteRigidBodies(RemoteNode):
    """Rigid bodies: ``rb_pos`` (N,3)/(F,N,3), ``rb_ori`` rotation matrices
    (N,3,3)/(F,N,3,3). Options: radius, length, color, name, position, ..."""

    MESSAGE_TYPE: int = Message.RIGID_BODIES

    def __init__(self, viewer: RemoteViewer, rb_pos: npt.ArrayLike, rb_ori: npt.ArrayLike, **kwargs: Any) -> None:
        super().__init__(viewer, rb_pos=rb_pos, rb_ori=rb_ori, **kwargs)

    def add_frames(self, rb_pos: npt.ArrayLike, rb_ori: npt.ArrayLike, **kwargs: Any) -> Optional[int]:
        return super().add_frames(rb_pos=rb_pos, rb_ori=rb_ori, **kwargs)

    def update_frames(self, rb_pos: npt.ArrayLike, rb_ori: npt.ArrayLike, frames: Frames, **kwargs: Any) -> Optional[int]:  # type: ignore[override]
        return super().update_frames(rb_pos=rb_pos, rb_ori=rb_ori, frames=frames, **kwargs)


class RemoteSkeletons(RemoteNode):
    """Skeletons: ``joint_positions`` (J,3)/(F,J,3) and ``joint_connections``
    (N,2) index pairs, -1 marking a root. Options: radius, color, name, ..."""

    MESSAGE_TYPE: int = Message.SKELETONS

    def __init__(self, viewer: RemoteViewer, joint_positions: npt.ArrayLike, joint_connections: npt.ArrayLike, **kwargs: Any) -> None:
        super().__init__(viewer, joint_positions=joint_positions, joint_connections=joint_connections, **kwargs)

    def add_frames(self, joint_positions: npt.ArrayLike, **kwargs: Any) -> Optional[int]:
        return super().add_frames(joint_positions=joint_positions, **kwargs)

    def update_frames(self, joint_positions: npt.ArrayLike, frames: Frames, **kwargs: Any) -> Optional[int]:  # type: ignore[override]
        return super().update_frames(joint_positions=joint_positions, frames=frames, **kwargs)


Points = Union[npt.ArrayLike, Sequence[npt.ArrayLike]]


class RemotePointClouds(RemoteNode):
    """Points drawn as round sprites: ``points`` (N,3) for one frame, (F,N,3)
    for F frames, or a list of (N_i,3) arrays whose sizes differ per frame.

    ``colors``: one RGB(A) color for every point, (N,3|4), (F,N,3|4) or a list
    matching a list of points; float in [0, 1] or uint8 (float colors are sent
    as uint8). ``point_size`` is the sprite diameter in pixels;
    ``point_size_world=`` gives it in world units instead. Points are sent as
    float32. Options: name, color (the color without ``colors``), position,
    rotation, scale, enabled. Points with NaN/inf are skipped by the viewer
    (one warning per message).
    """

    MESSAGE_TYPE: int = Message.POINT_CLOUDS

    def __init__(self, viewer: RemoteViewer, points: Points, colors: Optional[Points] = None,
                 point_size: Optional[float] = 2.0, **kwargs: Any) -> None:
        chunks = _cloud_chunks(points, colors)
        first_points, first_colors = chunks[0]
        super().__init__(viewer, points=first_points,
                         **_given(dict(kwargs, colors=first_colors, point_size=point_size)))
        for p, c in chunks[1:]:
            super().add_frames(points=p, **_given({"colors": c}))

    def add_frames(self, points: Points, colors: Optional[Points] = None, **kwargs: Any) -> Optional[int]:
        """Appends frames; a list of arrays of different sizes goes as one message per frame."""
        seq = None
        for p, c in _cloud_chunks(points, colors):
            seq = super().add_frames(points=p, **_given(dict(kwargs, colors=c)))
        return seq

    def update_frames(self, points: Optional[npt.ArrayLike] = None, frames: Frames = -1,  # type: ignore[override]
                      colors: Optional[npt.ArrayLike] = None, **kwargs: Any) -> Optional[int]:
        """Replaces ``frames``; a frame may change its number of points (send
        its colors with it when the cloud has colors)."""
        given = _given(dict(kwargs, points=None if points is None else _points(points),
                            colors=None if colors is None else _colors(colors)))
        return super().update_frames(frames=frames, **given)


def _points(p: Any) -> npt.NDArray[np.float32]:
    return np.ascontiguousarray(p, dtype=np.float32)


def _colors(c: Any) -> npt.NDArray[np.uint8]:
    """Colors as uint8 (4x smaller than float32 on the wire; the viewer keeps RGBA8)."""
    a = np.asarray(c)
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a)
    if a.dtype.kind != "f":
        raise TypeError(f"colors must be float in [0, 1] or uint8, got {a.dtype}")
    out: npt.NDArray[np.uint8] = (np.clip(np.nan_to_num(a, nan=0.0), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return out


def _ragged(x: Any) -> bool:
    """A list (or tuple) of per-frame arrays rather than one array."""
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(np.ndim(e) == 2 for e in x) \
        and len({np.shape(e)[0] for e in x}) > 1


def _cloud_chunks(points: Any, colors: Any) -> list[tuple[Any, Any]]:
    """What to send: one (points, colors) per message."""
    if not _ragged(points):
        return [(_points(points), None if colors is None else _colors(colors))]
    frames = list(points)
    per_frame = isinstance(colors, (list, tuple)) and len(colors) > 0 and all(np.ndim(c) == 2 for c in colors)
    if per_frame:
        if len(colors) != len(frames):
            raise ValueError(f"colors has {len(colors)} frames but points has {len(frames)}")
        per = list(colors)
    elif colors is None or np.ndim(colors) == 1:
        per = [colors] * len(frames)
    else:
        raise ValueError("with a list of point arrays, colors must be one color or a list of (N_i, 3|4) arrays")
    return [(_points(p), None if c is None else _colors(c)) for p, c in zip(frames, per)]


class RemoteSMPLSequence(RemoteNode):
    """A body-model sequence the viewer skins with its SMPL / SMPL-H / SMPL-X
    model files (``[smpl] models_dir``), shown as a mesh.

    ``poses_body`` is (F, 69) for SMPL or (F, 63) for SMPL-H/SMPL-X (one frame
    may be (69,)/(63,)); optional per-frame or static ``poses_root`` (3),
    ``trans`` (3), ``betas`` (B), ``poses_left_hand``/``poses_right_hand`` (45,
    axis-angle, SMPL-H/X). Options: ``model_type`` ("smpl", "smplh", "smplx"),
    ``gender`` ("neutral", "male", "female"), ``num_betas``, ``show_skeleton``,
    name, color, position, rotation, scale, flat_shading, draw_edges.
    Query ``"vertices"`` or ``"joints"`` with ``viewer.query_data``.
    """

    MESSAGE_TYPE: int = Message.SMPL

    def __init__(self, viewer: RemoteViewer, poses_body: npt.ArrayLike, **kwargs: Any) -> None:
        super().__init__(viewer, poses_body=poses_body, **_given(kwargs))

    def add_frames(self, poses_body: npt.ArrayLike, poses_root: Optional[npt.ArrayLike] = None, trans: Optional[npt.ArrayLike] = None, betas: Optional[npt.ArrayLike] = None, **kwargs: Any) -> Optional[int]:
        """Appends frames; ``betas`` may be left out (the last ones hold)."""
        return super().add_frames(poses_body=poses_body,
                                  **_given(dict(kwargs, poses_root=poses_root, trans=trans, betas=betas)))

    def update_frames(self, poses_body: npt.ArrayLike, frames: Frames, poses_root: Optional[npt.ArrayLike] = None, trans: Optional[npt.ArrayLike] = None, betas: Optional[npt.ArrayLike] = None, **kwargs: Any) -> Optional[int]:  # type: ignore[override]
        return super().update_frames(poses_body=poses_body, frames=frames,
                                     **_given(dict(kwargs, poses_root=poses_root, trans=trans, betas=betas)))


def _given(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Leaves out parameters that were not given (None)."""
    return {k: v for k, v in kwargs.items() if v is not None}
