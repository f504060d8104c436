"""Scripts in the dispatch chain, driven from Python."""

import numpy as np

from conftest import REPO
from periscope import Message, RemoteSpheres, RemoteViewer

EXAMPLES = REPO / "scripts" / "examples"
AFTER = '[dispatch]\nchain = ["builtin", "scripts/*.rhai"]\n'


def test_two_way_request_and_custom_viewer(start_viewer):
    scripts = {n: (EXAMPLES / n).read_text() for n in ["scene_summary.rhai", "custom_viewer.rhai"]}
    proc = start_viewer(AFTER, scripts)
    with RemoteViewer("127.0.0.1", proc.port, client_name="py") as v:
        a = RemoteSpheres(v, np.zeros((3, 3)), name="a")
        RemoteSpheres(v, np.ones((2, 3)), name="b")
        state = v.sync()
        ids = [n["id"] for n in state["nodes"]]
        assert state["selected"] == ids[1] and state["focused"] == ids[1]

        v.send_message(Message.USER_MESSAGE, None, index=0)
        assert v.sync()["selected"] == ids[0]

        v.send_message(10001, None, request="summary")
        replies = []
        v.process_messages(lambda viewer, msg: replies.append(msg), block=True, timeout=10)
        assert replies[0]["type"] == 10002
        assert [n["name"] for n in replies[0]["nodes"]] == ["a", "b"]
        assert replies[0]["nodes"][0]["uid"] == a.uid

        stages = v.stages()
        assert [s["name"] for s in stages] == ["builtin", "custom_viewer.rhai", "scene_summary.rhai"]
        assert all(s["load_error"] is None and s["disabled"] is None for s in stages)
        assert stages[2]["generation"] == 1


def test_broken_script_is_reported_and_builtin_keeps_working(start_viewer):
    proc = start_viewer(AFTER, {"broken.rhai": "fn process_message(type, uid, args, kwargs, client) { let = 1; }"})
    with RemoteViewer("127.0.0.1", proc.port) as v:
        RemoteSpheres(v, np.zeros((1, 3)))
        assert len(v.sync()["nodes"]) == 1
        (stage,) = [s for s in v.stages() if s["name"] == "broken.rhai"]
        assert stage["load_error"].startswith("broken.rhai: ")
        assert "line 1, position" in stage["load_error"]
