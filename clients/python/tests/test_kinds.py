import numpy as np
import pytest

from periscope import (
    Message,
    RemoteArrows,
    RemoteLines,
    RemoteNode,
    RemoteRigidBodies,
    RemoteSkeletons,
    RemoteSpheres,
    RemoteViewer,
)


def test_every_renderable_kind(viewer_process):
    rng = np.random.default_rng(0)
    with RemoteViewer("127.0.0.1", viewer_process.port, client_name="kinds") as v:
        RemoteNode(v, name="root", position=(0, 1, 0))
        s = RemoteSpheres(v, rng.random((30, 10, 3)), radius=0.05, color=(0.2, 0.4, 0.8, 1.0))
        RemoteSpheres(v, rng.random((5, 3)), color=rng.random((5, 3)))  # one color per sphere
        lines = RemoteLines(v, rng.random((8, 3)), mode="lines", r_base=0.01, r_tip=0.0)
        RemoteArrows(v, rng.random((4, 3)), rng.random((4, 3)), r_base=0.01, r_head=0.03, p=0.2)
        rot = np.tile(np.eye(3), (20, 3, 1, 1))
        RemoteRigidBodies(v, rng.random((20, 3, 3)), rot, radius=0.02, length=0.2)
        sk = RemoteSkeletons(v, rng.random((12, 4, 3)), np.array([[-1, 0], [0, 1], [1, 2], [1, 3]]), radius=0.02)
        sk.add_frames(rng.random((3, 4, 3)))
        s.add_frames(rng.random((10, 3)))
        lines.update_frames(np.zeros((8, 3)), frames=0)
        state = v.sync()
    kinds = [n["kind"] for n in state["nodes"]]
    assert kinds == ["node", "spheres", "spheres", "lines", "arrows", "rigid_bodies", "skeletons"]
    frames = {n["kind"]: n["n_frames"] for n in state["nodes"]}
    assert frames["skeletons"] == 15 and frames["rigid_bodies"] == 20
    assert [n["n_frames"] for n in state["nodes"] if n["kind"] == "spheres"] == [31, 1]
    assert all(n["client_name"] == "kinds" for n in state["nodes"])


def test_custom_messages_and_replies(viewer_process):
    with RemoteViewer("127.0.0.1", viewer_process.port) as v:
        v.send_message(Message.USER_MESSAGE + 1, None, "payload", key=np.arange(3))
        v.sync()  # custom messages are accepted (builtin ignores them)
        seq = v.send_message(999)
        got = []
        assert v.process_messages(lambda viewer, msg: got.append(msg), block=True, timeout=10) >= 1
        assert got[0]["type"] == Message.ERROR
        assert got[0]["ref_seq"] == seq
        assert got[0]["message"] == "unknown message type 999"
        assert v.get_message(block=False) is None


def test_unknown_kwargs_warn_but_create(viewer_process):
    with RemoteViewer("127.0.0.1", viewer_process.port) as v:
        RemoteSpheres(v, np.zeros((2, 3)), gui_affine=False)
        state = v.sync()
        assert len(state["nodes"]) == 1
        msg = v.get_message(timeout=5)
        assert msg["type"] == Message.WARNING and "gui_affine" in msg["message"]


def test_connection_errors_are_clear():
    with pytest.raises(ConnectionError, match="cannot connect to a Periscope viewer at ws://127.0.0.1:1"):
        RemoteViewer("127.0.0.1", 1, timeout=2, required=True)


def test_no_viewer_is_not_an_error_until_asked_for_an_answer():
    """Like aitviewer: without a viewer, sends are dropped (counted), nothing raises."""
    with RemoteViewer("127.0.0.1", 1, timeout=2, verbose=False) as v:
        assert not v.connected
        RemoteSpheres(v, np.zeros((3, 3)))
        v.set_frame(3)
        assert v.dropped == 2
        with pytest.raises(ConnectionError, match="not connected"):
            v.query()
