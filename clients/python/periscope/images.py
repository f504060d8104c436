"""The remote-renderer side: send images, receive the viewer's camera.

Mixed into :class:`periscope.RemoteViewer`::

    rv = RemoteViewer("127.0.0.1", 8417)   # never raises; connects when a viewer appears
    while True:
        rv.require_camera_from_remote(True)
        info = rv.read()                    # {"status": 1, "camera": {...}, "new": bool} or {"status": 0}
        cam = info["camera"] if info["status"] == 1 else default_cam
        rv.send_images([render(cam), depth(cam)])   # one viewer window per image
"""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Optional, Union

import numpy as np
import numpy.typing as npt

from .message import Message

_JPEG = b"\xff\xd8\xff"
_PNG = b"\x89PNG\r\n\x1a\n"


def _to_uint8(img: npt.ArrayLike) -> npt.NDArray[np.uint8]:
    """An (H, W), (H, W, 1|3|4) array as uint8; floats are taken as [0, 1]."""
    a = np.asarray(img)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)):
        raise ValueError(f"an image must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got shape {a.shape}")
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a, dtype=np.uint8)
    if np.issubdtype(a.dtype, np.floating):
        return np.asarray((np.clip(a, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8), dtype=np.uint8)
    if a.dtype == np.bool_:
        return np.asarray(a.astype(np.uint8) * 255, dtype=np.uint8)
    raise ValueError(f"image arrays must be uint8 or float in [0, 1], got {a.dtype}")


def encode_image(img: npt.ArrayLike, format: str = "png", quality: int = 90) -> bytes:
    """Encodes an image array as JPEG or PNG bytes.

    PNG works with the standard library alone; JPEG needs Pillow (``pip install pillow``).
    """
    a = _to_uint8(img)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if format == "png":
        try:
            from PIL import Image
        except ImportError:
            from .viewer import _png_bytes

            rgb = np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a
            return _png_bytes(rgb, level=1)
        buf = io.BytesIO()
        Image.fromarray(a).save(buf, format="PNG", compress_level=1)
        return buf.getvalue()
    if format == "jpeg":
        try:
            from PIL import Image
        except ImportError as e:
            raise ImportError("format='jpeg' needs Pillow: pip install pillow") from e
        if a.ndim == 3 and a.shape[2] == 4:
            a = a[..., :3]  # JPEG has no alpha
        buf = io.BytesIO()
        Image.fromarray(a).save(buf, format="JPEG", quality=int(quality))
        return buf.getvalue()
    raise ValueError(f"format must be 'raw', 'jpeg' or 'png', got {format!r}")


#: An image to send: an array, or the bytes of a JPEG or PNG file.
Image = Union[npt.ArrayLike, bytes, bytearray, memoryview]


class RemoteRenderer:
    """Sending images and reading the viewer's camera (mixed into RemoteViewer)."""

    # Provided by RemoteViewer.
    _cond: threading.Condition
    _camera: Optional[dict[str, Any]]
    _camera_new: bool
    _camera_used: Optional[int]
    _camera_sent: bool
    _want_camera: Optional[bool]
    _stopped: bool

    @property
    def connected(self) -> bool:
        raise NotImplementedError

    def _send(self, type: int, uid: Optional[int], args: Sequence[Any], kwargs: Mapping[str, Any]) -> Optional[int]:
        raise NotImplementedError

    def _request(self, uid: Optional[int] = None, kind: int = Message.QUERY, **kwargs: Any) -> dict[str, Any]:
        raise NotImplementedError

    _camera_target: str = "windows"

    def require_camera_from_remote(self, enabled: bool = True, target: Optional[str] = None) -> None:
        """Asks the viewer to send its camera now and whenever the user moves it
        (``enabled=False`` stops it). ``target="windows"`` (the default): the
        camera of this client's image windows (:meth:`send_images`);
        ``target="viewport"``: the main 3D view's camera, for images sent with
        :meth:`send_viewport`. Cheap to call every frame: it is sent once per
        connection (or change), and again after a reconnect.

        While the person drags, the camera asks for a smaller image (its
        ``width``/``height`` and intrinsics scaled, ``moving: True``) so that
        the renderer keeps up; when the camera stops, a full-size one follows.
        A renderer that ignores the hint still works (images are scaled to fit)."""
        enabled = bool(enabled)
        if target is not None and target not in ("windows", "viewport"):
            raise ValueError(f"target must be 'windows' or 'viewport', got {target!r}")
        with self._cond:
            new_target = target if target is not None else self._camera_target
            changed = self._want_camera != enabled or not self._camera_sent or new_target != self._camera_target
            self._want_camera = enabled
            self._camera_target = new_target
        if changed and self.connected:
            kwargs = {"enabled": enabled, "target": new_target}
            if self._send(Message.REQUIRE_CAMERA, None, [], kwargs) is not None:
                with self._cond:
                    self._camera_sent = True

    def read(self, timeout: Optional[float] = 1.0, new: bool = False) -> dict[str, Any]:
        """The viewer's latest camera.

        Returns ``{"status": 1, "camera": {...}, "new": bool}`` when a camera is
        known (``new``: it arrived since the last read), else ``{"status": 0}``
        (nothing yet, or no viewer). Waits up to ``timeout`` seconds only while
        no camera is known (with ``new=True``: until one arrives that was not
        read yet); never blocks forever unless ``timeout=None``.
        The camera's fields are documented in docs/protocol.md ("Camera").
        """
        with self._cond:
            if timeout != 0 and (self._camera is None or (new and not self._camera_new)):
                self._cond.wait_for(lambda: (self._camera is not None and (self._camera_new or not new))
                                    or self._stopped, timeout)
            if self._camera is None:
                return {"status": 0}
            cam = {k: v for k, v in self._camera.items() if k != "type"}
            new, self._camera_new = self._camera_new, False
            self._camera_used = cam.get("seq")
        return {"status": 1, "camera": cam, "new": new}

    def send_images(self, images: Union[Image, Sequence[Image]], single: bool = False, format: str = "raw",
                    quality: int = 90, camera: Optional[Mapping[str, Any]] = None) -> bool:
        """Sends one image or a list (one viewer window per list index).

        Each image is an (H, W, 3|4) or (H, W) array, uint8 or float in [0, 1],
        or already-encoded JPEG/PNG ``bytes``. ``format="jpeg"|"png"`` encodes
        arrays here first (``quality`` for JPEG). ``single=True`` shows this
        image and makes the viewer ignore further ones until its "Read remote"
        button (or :meth:`read_remote`). ``camera`` is the camera dict the
        images were rendered from (default: the last one :meth:`read` returned),
        so the viewer can measure the round trip.

        Returns True when sent, False when dropped because no viewer is connected.
        """
        if isinstance(images, (list, tuple)):
            items = list(images)
        else:
            items = [images]
        if not items:
            raise ValueError("send_images needs at least one image")
        wire: list[Any] = []
        for i, img in enumerate(items):
            if isinstance(img, (bytes, bytearray, memoryview)):
                data = bytes(img)
                if not (data.startswith(_JPEG) or data.startswith(_PNG)):
                    raise ValueError(f"image {i}: bytes must be a JPEG or PNG file")
                wire.append(data)
            elif format == "raw":
                wire.append(_to_uint8(img))
            else:
                wire.append(encode_image(img, format, quality))
        kwargs: dict[str, Any] = {"images": wire}
        if single:
            kwargs["single"] = True
        seq = (camera or {}).get("seq", self._camera_used)
        if seq is not None:
            kwargs["camera_seq"] = int(seq)
        return self._send(Message.IMAGES, None, [], kwargs) is not None

    def send_viewport(self, image: Image, depth: Optional[npt.ArrayLike] = None,
                      camera: Optional[Mapping[str, Any]] = None, format: str = "raw", quality: int = 90) -> bool:
        """Draws ``image`` into the viewer's main 3D view, composited with the
        local scene by ``depth``.

        ``image`` is as for :meth:`send_images` (an (H, W, 3|4) or (H, W) array,
        uint8 or float in [0, 1], or JPEG/PNG ``bytes``). ``depth`` is an (H, W)
        float array: z along the camera's viewing axis in world units (OpenCV
        convention, what a pinhole renderer's depth buffer holds after
        linearising); 0, inf, NaN or negative mean nothing there. Without depth
        the image is a background under the local scene. ``camera`` is the camera
        dict the image was rendered from (default: the last one :meth:`read`
        returned; ask for the main view's with
        ``require_camera_from_remote(True, target="viewport")``). When the view
        has moved since, the viewer reprojects the image until the next one.

        Returns True when sent, False when dropped because no viewer is connected.
        """
        if isinstance(image, (bytes, bytearray, memoryview)):
            data: Any = bytes(image)
            if not (data.startswith(_JPEG) or data.startswith(_PNG)):
                raise ValueError("image: bytes must be a JPEG or PNG file")
        elif format == "raw":
            data = _to_uint8(image)
        else:
            data = encode_image(image, format, quality)
        kwargs: dict[str, Any] = {"image": data}
        if depth is not None:
            d = np.asarray(depth)
            if d.dtype != np.float32:
                d = d.astype(np.float32)
            kwargs["depth"] = np.ascontiguousarray(d)
        if camera is None:
            with self._cond:
                camera = self._camera
        if camera is not None:
            keys = ("width", "height", "fx", "fy", "cx", "cy", "world_to_camera")
            kwargs["camera"] = {k: camera[k] for k in keys if k in camera}
            if camera.get("seq") is not None:
                kwargs["camera_seq"] = int(camera["seq"])
        return self._send(Message.VIEWPORT_IMAGE, None, [], kwargs) is not None

    def clear_viewport(self) -> bool:
        """Removes this client's image from the main view."""
        return self._send(Message.CLEAR_VIEWPORT, None, [], {}) is not None

    def read_remote(self, client_id: Optional[int] = None) -> bool:
        """Makes the viewer read images again after a ``single`` one (its "Read
        remote" button), for one renderer client or all."""
        kwargs: dict[str, Any] = {} if client_id is None else {"client_id": int(client_id)}
        return self._send(Message.READ_REMOTE, None, [], kwargs) is not None

    def images_state(self) -> dict[str, Any]:
        """The viewer's image windows and renderer clients:
        ``{"windows": [{client_id, index, width, height, format, received, decoded,
        dropped, errors, last_seq, fps, latency_ms, camera_rtt_ms}], "clients": [{client_id, name,
        require_camera, reading, paused, width, height, camera_seq, target, scale}],
        "viewport": [{client_id, width, height, depth, decoded, errors, fps}]}``."""
        msg = self._request(None, Message.QUERY_IMAGES)
        return {"windows": msg["windows"], "clients": msg["clients"], "viewport": msg.get("viewport", [])}
