"""Message type numbers (aitviewer's numbering, plus Periscope's own)."""

import enum


class Message(enum.IntEnum):
    """Wire message types. Custom messages use ``USER_MESSAGE`` (10000) and up."""

    NODE = 1
    MESHES = 2
    SPHERES = 3
    LINES = 4
    ARROWS = 5
    RIGID_BODIES = 6
    SMPL = 10
    SKELETONS = 11

    DELETE = 100
    ADD_FRAMES = 101
    UPDATE_FRAMES = 102
    REMOVE_FRAMES = 103

    SET_FRAME = 200
    NEXT_FRAME = 201
    PREVIOUS_FRAME = 202

    QUERY = 300
    SCENE_STATE = 301
    QUERY_CHAIN = 302
    CHAIN_STATE = 303
    SCREENSHOT = 304
    SCREENSHOT_RESULT = 305
    IMAGES = 306
    REQUIRE_CAMERA = 307
    CAMERA = 308
    READ_REMOTE = 309
    QUERY_IMAGES = 310
    IMAGES_STATE = 311
    SAVE_SCENE = 312
    SCENE_SAVED = 313
    SET_PROPERTIES = 314
    SET_CAMERA = 315
    QUERY_CAMERA = 316
    VIEW_CAMERA = 317
    ERROR = 400
    WARNING = 401
    HELLO = 500
    WELCOME = 501
    REFUSED = 502

    USER_MESSAGE = 10000


PROTOCOL_NAME = "periscope"
PROTOCOL_VERSION = 1
