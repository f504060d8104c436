"""Python client for the Periscope remote viewer.

Mirrors ``aitviewer.remote``: switch by changing the import::

    from periscope import RemoteViewer, RemoteMeshes
"""

from . import camera, video
from .codec import pack, unpack
from .gui import Control, Event, Gui
from .images import encode_image
from .recording import read_recording
from .message import Message
from .renderables import (
    RemoteArrows,
    RemoteLines,
    RemoteMeshes,
    RemotePointClouds,
    RemoteRigidBodies,
    RemoteSkeletons,
    RemoteSMPLSequence,
    RemoteSpheres,
)
from .video import CameraPath
from .viewer import RemoteNode, RemoteViewer, ViewerError, save_png

__all__ = [
    "camera",
    "video",
    "CameraPath",
    "Control",
    "Event",
    "Gui",
    "encode_image",
    "Message",
    "RemoteArrows",
    "RemoteLines",
    "RemoteMeshes",
    "RemoteNode",
    "RemotePointClouds",
    "RemoteRigidBodies",
    "RemoteSkeletons",
    "RemoteSMPLSequence",
    "RemoteSpheres",
    "RemoteViewer",
    "ViewerError",
    "pack",
    "read_recording",
    "save_png",
    "unpack",
]
__version__ = "0.1.0"
