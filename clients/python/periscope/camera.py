"""Helpers for the camera the viewer sends a remote renderer (docs/protocol.md, "Camera")."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

#: The camera dict the viewer sends (docs/protocol.md, "Camera").
Camera = Mapping[str, Any]


def intrinsics(camera: Camera) -> npt.NDArray[np.float32]:
    """The 3x3 pinhole matrix K (OpenCV) of a camera dict."""
    return np.array([[camera["fx"], 0.0, camera["cx"]], [0.0, camera["fy"], camera["cy"]], [0.0, 0.0, 1.0]],
                    dtype=np.float32)


def project(camera: Camera, points: npt.ArrayLike) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Pixel coordinates (u right, v down) and depths of world points (N, 3)."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    w2c = np.asarray(camera["world_to_camera"], dtype=np.float64)
    c = p @ w2c[:3, :3].T + w2c[:3, 3]
    uv = np.stack([camera["fx"] * c[:, 0] / c[:, 2] + camera["cx"], camera["fy"] * c[:, 1] / c[:, 2] + camera["cy"]],
                  axis=-1)
    return uv, c[:, 2]


def rays(camera: Camera) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Per-pixel ray origins and unit directions in world space, each (H, W, 3) float32,
    through pixel centres: what a ray marcher or NeRF renders from."""
    w, h = int(camera["width"]), int(camera["height"])
    u, v = np.meshgrid(np.arange(w, dtype=np.float32) + 0.5, np.arange(h, dtype=np.float32) + 0.5)
    d = np.stack([(u - camera["cx"]) / camera["fx"], (v - camera["cy"]) / camera["fy"], np.ones_like(u)], axis=-1)
    c2w = np.asarray(camera["camera_to_world"], dtype=np.float32)
    d = d @ c2w[:3, :3].T
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    o = np.broadcast_to(c2w[:3, 3], d.shape)
    return o, d


def gaussian_splatting(camera: Camera) -> dict[str, Any]:
    """The matrices 3D Gaussian Splatting's rasterizer takes, in its layout.

    Returns a dict with ``world_view_transform`` (the transposed world-to-camera
    matrix, as ``getWorld2View2(...).transpose(0, 1)``), ``projection_matrix``
    (``getProjectionMatrix(...).transpose(0, 1)``), ``full_proj_transform``
    (their product), ``camera_center``, ``FoVx``/``FoVy`` (radians),
    ``image_width``/``image_height``, ``znear``/``zfar``. All float32 numpy;
    wrap with ``torch.from_numpy(...).cuda()``.
    """
    znear, zfar = float(camera["znear"]), float(camera["zfar"])
    fov_x, fov_y = math.radians(camera["fov_x"]), math.radians(camera["fov_y"])
    top = math.tan(fov_y / 2) * znear
    right = math.tan(fov_x / 2) * znear
    p = np.zeros((4, 4), dtype=np.float32)
    p[0, 0] = 2.0 * znear / (2 * right)
    p[1, 1] = 2.0 * znear / (2 * top)
    p[3, 2] = 1.0
    p[2, 2] = zfar / (zfar - znear)
    p[2, 3] = -(zfar * znear) / (zfar - znear)
    world_view = np.asarray(camera["world_to_camera"], dtype=np.float32).T
    projection = p.T
    return {
        "world_view_transform": world_view,
        "projection_matrix": projection,
        "full_proj_transform": world_view @ projection,
        "camera_center": np.asarray(camera["position"], dtype=np.float32),
        "FoVx": fov_x,
        "FoVy": fov_y,
        "image_width": int(camera["width"]),
        "image_height": int(camera["height"]),
        "znear": znear,
        "zfar": zfar,
    }
