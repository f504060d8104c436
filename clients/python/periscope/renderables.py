"""The built-in node kinds, mirroring ``aitviewer.remote.renderables``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

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
