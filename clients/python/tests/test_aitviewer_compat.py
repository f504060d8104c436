"""The unmodified aitviewer remote client (pip aitviewer==1.14.2) against Periscope.

The client runs in its own venv (numpy 1.x, as aitviewer pins), made by
`make test` as .venv-aitviewer; results are checked through Periscope's query.
"""

import os
import pathlib
import pickle
import subprocess
import textwrap

import numpy as np
import pytest

from conftest import REPO
from periscope import RemoteViewer
from periscope.viewer import open_websocket

AIT_PYTHON = pathlib.Path(os.environ.get("PERISCOPE_AITVIEWER_PYTHON", REPO / ".venv-aitviewer" / "bin" / "python"))
if not AIT_PYTHON.exists():
    if os.environ.get("PERISCOPE_REQUIRE_AITVIEWER") == "1":
        raise RuntimeError(f"{AIT_PYTHON} not found: `make test` creates it (aitviewer==1.14.2, numpy<2)")
    pytest.skip(f"aitviewer client venv not found at {AIT_PYTHON}; `make test` creates it", allow_module_level=True)

FIXTURES = REPO / "core" / "compat" / "tests" / "fixtures"
REPLY_SCRIPT = """
fn process_message(type, uid, args, kwargs, client) {
    if type >= 10000 && kwargs.request == "summary" {
        let names = [];
        for n in nodes_of(client) { names.push(n.name); }
        send(client, #{ type: 10002, names: names, frames: n_frames() });
        return false;
    }
}
"""

CLIENT = textwrap.dedent("""
    import json, sys, threading, time
    import numpy as np
    from aitviewer.remote.message import Message
    from aitviewer.remote.viewer import RemoteViewer
    from aitviewer.remote.renderables.arrows import RemoteArrows
    from aitviewer.remote.renderables.lines import RemoteLines
    from aitviewer.remote.renderables.meshes import RemoteMeshes
    from aitviewer.remote.renderables.rigid_bodies import RemoteRigidBodies
    from aitviewer.remote.renderables.skeletons import RemoteSkeletons
    from aitviewer.remote.renderables.spheres import RemoteSpheres

    assert np.__version__.startswith("1."), np.__version__
    v = RemoteViewer("127.0.0.1", int(sys.argv[1]), timeout=10)
    assert v.connected
    cube = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0],
                     [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]], dtype=np.float64)
    faces = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7], [0, 1, 5], [0, 5, 4]])
    m = RemoteMeshes(v, cube, faces, name="Cube", flat_shading=True, position=(1, 0, 0), scale=0.1)
    for s in np.linspace(1, 5, 100):
        m.add_frames(cube * s)
    m.add_frames(np.repeat(cube[np.newaxis], 50, axis=0))
    m.update_frames(cube * 0.5, frames=3)
    m.update_frames(np.stack([cube * 0.2, cube * 3]), frames=[80, 83])
    m.remove_frames(frames=85)
    m.remove_frames(frames=range(90, 100))
    RemoteSpheres(v, np.random.rand(10, 3), radius=0.05, color=(1.0, 0.0, 0.0, 1.0), name="Spheres")
    RemoteLines(v, np.random.rand(30, 6, 3), mode="lines", name="Lines")
    RemoteArrows(v, np.zeros((3, 3)), np.ones((3, 3)), name="Arrows")
    RemoteRigidBodies(v, np.zeros((2, 3)), np.tile(np.eye(3), (2, 1, 1)), name="Bodies")
    RemoteSkeletons(v, np.random.rand(5, 4, 3), np.array([[-1, 0], [0, 1], [1, 2], [2, 3]]), name="Skeleton")
    v.set_frame(42)
    v.send_message(Message.USER_MESSAGE, None, request="summary")
    replies = []
    deadline = time.time() + 20
    while not replies and time.time() < deadline:
        v.process_messages(lambda viewer, msg: replies.append(msg), block=False)
        time.sleep(0.05)
    # aitviewer 1.14's close_connection() can deadlock (a race in its client:
    # its loop thread may exit before the close coroutine runs; it happens
    # against a plain Python websockets server too), so close from a daemon thread.
    closer = threading.Thread(target=v.close_connection, daemon=True)
    closer.start()
    closer.join(5)
    print(json.dumps(replies))
""")


def test_unmodified_aitviewer_client(start_viewer):
    proc = start_viewer('[dispatch]\nchain = ["scripts/*.rhai", "builtin"]\n', {"reply.rhai": REPLY_SCRIPT})
    out = subprocess.run([str(AIT_PYTHON), "-c", CLIENT, str(proc.port)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    import json

    replies = json.loads(out.stdout.strip().splitlines()[-1])
    assert replies == [{"type": 10002, "names": ["Cube", "Spheres", "Lines", "Arrows", "Bodies", "Skeleton"],
                        "frames": 140}], "a script's reply, read by process_messages"

    with RemoteViewer("127.0.0.1", proc.port) as v:
        state = v.query()
        nodes = {n["name"]: n for n in state["nodes"]}
        assert [nodes[k]["kind"] for k in ["Cube", "Spheres", "Lines", "Arrows", "Bodies", "Skeleton"]] == [
            "meshes", "spheres", "lines", "arrows", "rigid_bodies", "skeletons"]
        assert nodes["Cube"]["client_name"] == "aitviewer"
        assert nodes["Cube"]["n_frames"] == 140 and nodes["Lines"]["n_frames"] == 30
        assert state["current_frame"] == 42
        cube = nodes["Cube"]
        got = v.query_data(cube["uid"], "vertices", 3, client_id=cube["client_id"])
        np.testing.assert_allclose(got[1], [0.5, 0, 0])
        # Frame k (1..100) was cube * linspace(1, 5, 100)[k - 1]; removing frame 85
        # moves old frame 86 to index 85.
        got = v.query_data(cube["uid"], "vertices", 84, client_id=cube["client_id"])
        assert got[1][0] == pytest.approx(1 + 4 * 83 / 99, rel=1e-5)
        got = v.query_data(cube["uid"], "vertices", 85, client_id=cube["client_id"])
        assert got[1][0] == pytest.approx(1 + 4 * 85 / 99, rel=1e-5), "frame 85 was removed, later frames moved up"


def raw_pickle_client(port):
    ws = open_websocket(f"ws://127.0.0.1:{port}")
    return ws


@pytest.mark.parametrize("fixture, global_name", [
    ("evil_os_system.pickle", "posix.system"),
    ("evil_eval.pickle", "builtins.eval"),
    ("evil_popen.pickle", "subprocess.Popen"),
])
def test_code_execution_pickles_are_refused_and_nothing_runs(viewer_process, fixture, global_name):
    marker = pathlib.Path("/tmp/periscope-pwned")
    marker.unlink(missing_ok=True)
    ws = raw_pickle_client(viewer_process.port)
    ws.send((FIXTURES / fixture).read_bytes())
    reply = pickle.loads(ws.recv(timeout=10))  # our own server's plain-value pickle
    assert reply["type"] == 400 and reply["code"] == "bad_message"
    assert f"global {global_name} is not allowed" in reply["message"]
    # The connection stays usable: a good aitviewer message still works.
    ws.send((FIXTURES / "meshes_np2_p4.pickle").read_bytes())
    ws.close()
    assert not marker.exists(), "nothing may run"
    with RemoteViewer("127.0.0.1", viewer_process.port) as v:
        assert [n["name"] for n in v.query()["nodes"]] == ["cube"]


def test_truncated_and_corrupted_pickles_get_errors(viewer_process):
    good = (FIXTURES / "meshes_np1_p2.pickle").read_bytes()
    ws = raw_pickle_client(viewer_process.port)
    ws.send(good[: len(good) // 2])
    assert pickle.loads(ws.recv(timeout=10))["message"].startswith("truncated pickle")
    corrupted = bytearray(good)
    corrupted[10] = 0xFF
    ws.send(bytes(corrupted))
    assert pickle.loads(ws.recv(timeout=10))["type"] == 400
    ws.close()


def test_compat_can_be_switched_off(start_viewer):
    proc = start_viewer('[server]\naitviewer_compat = "off"\n')
    ws = raw_pickle_client(proc.port)
    ws.send((FIXTURES / "meshes_np2_p4.pickle").read_bytes())
    from websockets.exceptions import ConnectionClosed

    with pytest.raises(ConnectionClosed) as e:
        ws.recv(timeout=10)
    assert "aitviewer compatibility is off" in str(e.value)


SMPL_CLIENT = textwrap.dedent("""
    import sys, threading
    import numpy as np
    from aitviewer.remote.viewer import RemoteViewer
    from aitviewer.remote.renderables.smpl import RemoteSMPLSequence

    v = RemoteViewer("127.0.0.1", int(sys.argv[1]), timeout=10)
    s = RemoteSMPLSequence(v, np.zeros((2, 69)), poses_root=np.zeros((2, 3)), betas=np.zeros(10),
                           model_type="smpl", gender="neutral", name="Body")
    for k in range(3):
        s.add_frames(np.full(69, 0.1 * k))          # poses_root, trans and betas go as None
    s.update_frames(np.zeros((1, 69)), frames=[1])
    closer = threading.Thread(target=v.close_connection, daemon=True)
    closer.start()
    closer.join(5)
""")


def test_unmodified_aitviewer_smpl_sequence(start_viewer, tmp_path):
    """aitviewer's RemoteSMPLSequence with add_frames(betas=None), which aitviewer itself cannot show."""
    import sys

    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    from smpl_reference import synthetic_model

    (tmp_path / "smpl").mkdir()
    np.savez(tmp_path / "smpl" / "SMPL_NEUTRAL.npz", **synthetic_model(n_vertices=300))
    proc = start_viewer(f'[smpl]\nmodels_dir = "{tmp_path}"\n')
    out = subprocess.run([str(AIT_PYTHON), "-c", SMPL_CLIENT, str(proc.port)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    with RemoteViewer("127.0.0.1", proc.port) as v:
        (node,) = v.query()["nodes"]
        assert (node["name"], node["kind"], node["n_frames"]) == ("Body", "smpl", 5)
        verts = v.query_data(node["uid"], "vertices", 4, client_id=node["client_id"])
        assert verts.shape == (300, 3) and np.isfinite(verts).all()
