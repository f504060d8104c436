"""Controls and events against the real viewer binary: controls defined by one
client and changed by another, buttons, selection and camera events, scripts
reacting to a Python client's button, and every bad input."""

import threading
import time

import numpy as np
import pytest

from periscope import Message, RemoteSpheres, RemoteViewer, ViewerError


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_a_slider_set_by_a_second_client_fires_the_owners_callback(viewer_process):
    with RemoteViewer("127.0.0.1", viewer_process.port, client_name="owner") as a, \
            RemoteViewer("127.0.0.1", viewer_process.port, client_name="other") as b:
        speed = a.gui.add_slider("Speed", min=0.0, max=10.0, step=0.5, value=1.0)
        seen = []
        threads = []

        @speed.on_update
        def _(event):
            threads.append(threading.current_thread().name)
            seen.append((event.value, event.client, event.client_name, event.control))

        assert speed.value == 1.0 and speed.kind == "slider"
        listed = b.gui.list()
        assert [(c["label"], c["client_name"], c["value"]) for c in listed] == [("Speed", "owner", 1.0)]
        state = b.gui.set(listed[0]["id"], 3.5)
        assert state["value"] == 3.5
        assert wait_for(lambda: seen), "the owner's callback did not run"
        assert seen == [(3.5, b.client_id, "other", speed)]
        assert speed.value == 3.5
        # Callbacks run on the client's event thread, never on the socket reader.
        assert threads == ["periscope-events"]


def test_a_button_press_reaches_the_owner_and_values_set_from_code_stay_quiet(viewer_process):
    with RemoteViewer("127.0.0.1", viewer_process.port) as a, RemoteViewer("127.0.0.1", viewer_process.port) as b:
        reset = a.gui.add_button("Reset")
        with a.gui.add_folder("Advanced"):
            lr = a.gui.add_slider("Learning rate", min=1e-5, max=1e-1, value=1e-3, log=True)
            n = a.gui.add_number("Iterations", value=100, min=1, max=10_000, step=1)
        mode = a.gui.add_dropdown("Mode", options=["rgb", "depth"], value="rgb")
        show = a.gui.add_checkbox("Show normals")
        name = a.gui.add_text("Label", value="run 3")
        tint = a.gui.add_color("Tint", value=(1.0, 0.5, 0.0))
        clicks = []
        reset.on_click(clicks.append)
        updates = []
        for c in (lr, n, mode, show, name, tint):
            c.on_update(updates.append)
        b.gui.set(reset.id)
        b.gui.set(reset.id, True)
        assert wait_for(lambda: len(clicks) == 2)
        assert clicks[0].action == "click" and clicks[0].value is True

        # Set from code: the panel shows it, no callback.
        n.value = 250
        lr.value = 0.01
        mode.value = "depth"
        a.sync()  # b's query must come after a's changes (each client's messages are ordered)
        listed = {c["label"]: c for c in b.gui.list()}
        assert listed["Iterations"]["value"] == 250 and isinstance(listed["Iterations"]["value"], int)
        assert listed["Learning rate"]["folder"] == "Advanced" and listed["Learning rate"]["log"] is True
        assert listed["Mode"]["value"] == "depth" and listed["Mode"]["options"] == ["rgb", "depth"]
        assert listed["Tint"]["value"] == pytest.approx([1.0, 0.5, 0.0])
        assert listed["Reset"]["clicks"] == 2
        time.sleep(0.2)
        assert updates == []

        b.gui.set(show.id, True)
        b.gui.set(name.id, "run 4")
        b.gui.set(tint.id, [0.0, 1.0, 0.0])
        assert wait_for(lambda: len(updates) == 3)
        assert (show.value, name.value) == (True, "run 4")
        assert tint.value == pytest.approx([0.0, 1.0, 0.0])

        # Disabled and hidden controls, then removal.
        show.disabled = True
        a.sync()
        with pytest.raises(ViewerError, match="disabled"):
            b.gui.set(show.id, False)
        name.visible = False
        name.label = "Run label"
        a.sync()
        listed = {c["label"]: c for c in b.gui.list()}
        assert listed["Run label"]["visible"] is False
        name.remove()
        a.sync()
        assert "Run label" not in {c["label"] for c in b.gui.list()}


def test_select_and_camera_events(viewer_process):
    with RemoteViewer("127.0.0.1", viewer_process.port) as v, RemoteViewer("127.0.0.1", viewer_process.port) as w:
        dots = RemoteSpheres(v, np.zeros((3, 3)), name="dots")
        other = RemoteSpheres(w, np.ones((3, 3)), name="other")
        w.sync()
        selected = []
        v.on_select(selected.append)
        cameras = []
        v.on_camera(cameras.append)
        v.sync()
        v.select(dots)
        assert wait_for(lambda: len(selected) == 1)
        assert (selected[0].node, selected[0].name, selected[0].client_id) == (dots.uid, "dots", v.client_id)
        # Another client's node: node is None (not ours), node_id names it.
        w.select(other)
        assert wait_for(lambda: len(selected) == 2)
        assert selected[1].node is None and selected[1].client_id == w.client_id
        v.select(None)
        assert wait_for(lambda: len(selected) == 3)
        assert selected[2].node_id is None

        # The camera: the first event is the current one, then each change.
        assert wait_for(lambda: cameras)
        v.set_camera(position=(0, 1, 5), target=(0, 0, 0), fov_y=40)
        assert wait_for(lambda: cameras and np.allclose(cameras[-1].camera["position"], (0, 1, 5), atol=1e-4))
        assert cameras[-1].camera["fov_y"] == pytest.approx(40, abs=1e-3)


def test_process_events_runs_callbacks_on_the_callers_thread(viewer_process):
    with RemoteViewer("127.0.0.1", viewer_process.port, event_thread=False) as a, \
            RemoteViewer("127.0.0.1", viewer_process.port) as b:
        gain = a.gui.add_slider("Gain", 0.0, 1.0)
        seen = []
        gain.on_update(lambda e: seen.append((e.value, threading.current_thread())))
        for x in (0.1, 0.2, 0.3):
            b.gui.set(gain.id, x)
        assert wait_for(lambda: gain.value == 0.3)  # the value is current before callbacks run
        assert seen == []
        # Updates of one control merged while waiting: the newest wins.
        assert a.process_events(timeout=5) == 1
        assert seen == [(0.3, threading.current_thread())]


def test_a_script_reacts_to_a_python_button_and_defines_its_own_slider(start_viewer):
    script = """
let gain = add_slider("Gain", 0.0, 1.0, 0.5);
fn process_message(type, uid, args, kwargs, client) {
    if type == types::SET_CONTROL {
        let c = controls().filter(|c| c.id == kwargs.control_id)[0];
        if c.label == "Go" {
            broadcast(#{ type: 10077, gain: gain.value, by: client.name });
        }
    }
    true
}
"""
    proc = start_viewer('[dispatch]\nchain = ["builtin", "scripts/*.rhai"]\n', scripts={"react.rhai": script})
    with RemoteViewer("127.0.0.1", proc.port, client_name="py") as v:
        go = v.gui.add_button("Go")
        gain = next(c for c in v.gui.list() if c["label"] == "Gain")
        assert (gain["client_id"], gain["folder"], gain["value"]) == (0, "react.rhai", 0.5)
        v.gui.set(gain["id"], 0.25)
        v.gui.set(go.id)
        msg = v.get_message(timeout=10)
        while msg is not None and msg["type"] != 10077:
            msg = v.get_message(timeout=10)
        assert msg is not None and msg["gain"] == 0.25 and msg["by"] == "py"


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"kind": "knob", "label": "x"}, 'field "kind" must be one of slider'),
        ({"kind": "slider", "label": "x", "min": 2.0, "max": 1.0}, 'field "min" must be <= max'),
        ({"kind": "slider", "label": "x", "min": 0.0, "max": 1.0, "value": 5.0}, 'field "value" must be in 0..=1'),
        ({"kind": "checkbox", "label": "x", "value": "yes"}, 'field "value" must be a bool'),
        ({"kind": "dropdown", "label": "x", "options": ["a", "b"], "value": "c"}, 'field "value" must be one of'),
        ({"kind": "slider", "label": "x" * 100_000, "min": 0, "max": 1}, 'field "label" must be a str of 1..=256'),
        ({"kind": "number", "label": "x", "value": "ten"}, 'field "value" must be a finite number'),
        ({"kind": "number", "label": "x", "value": 1, "step": -1}, 'field "step" must be a positive number'),
        ({"kind": "dropdown", "label": "x", "options": []}, 'field "options" must be a list of 1..=1024 strs'),
        ({"kind": "color", "label": "x", "value": [2.0, 0.0, 0.0]}, 'field "value" must be 3 numbers in 0..=1'),
        ({"label": "x"}, 'field "kind" is required'),
    ],
)
def test_bad_controls_are_refused_naming_the_field(viewer_process, kwargs, field):
    with RemoteViewer("127.0.0.1", viewer_process.port, verbose=False) as v:
        with pytest.raises(ViewerError, match=field):
            v._request(1, Message.ADD_CONTROL, **kwargs)
        assert v.gui.list() == []  # nothing else changed
        s = v.gui.add_slider("ok", 0.0, 1.0)
        with pytest.raises(ViewerError, match='field "value" must be in 0..=1'):
            v.gui.set(s.id, 2.0)
        with pytest.raises(ViewerError, match='field "value" must be a finite number'):
            v.gui.set(s.id, "fast")
        with pytest.raises(ViewerError, match="no control with control_id 999"):
            v.gui.set(999, 1.0)
        assert v.gui.list()[0]["value"] == 0.0


def test_a_per_client_limit_stops_a_flood_of_controls(start_viewer):
    proc = start_viewer("[scene]\nmax_controls_per_client = 20\n")
    with RemoteViewer("127.0.0.1", proc.port, verbose=False) as v:
        for i in range(20):
            v.gui.add_checkbox(f"c{i}")
        with pytest.raises(ViewerError, match="max_controls_per_client"):
            v.gui.add_checkbox("one too many")
        assert len(v.gui.list()) == 20


def test_controls_of_a_client_that_left_are_removed_after_the_linger_time(start_viewer):
    proc = start_viewer("[scene]\ncontrols_linger_s = 0.5\n")
    with RemoteViewer("127.0.0.1", proc.port) as watcher:
        v = RemoteViewer("127.0.0.1", proc.port)
        v.gui.add_slider("Speed", 0.0, 1.0)
        v.close()
        assert wait_for(lambda: [c["connected"] for c in watcher.gui.list()] == [False])
        assert wait_for(lambda: watcher.gui.list() == [], timeout=5)


def test_controls_come_back_when_the_viewer_restarts(start_viewer):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    first = start_viewer(port=port)
    v = RemoteViewer("127.0.0.1", port, verbose=False)
    try:
        gain = v.gui.add_slider("Gain", 0.0, 1.0, value=0.2)
        mode = v.gui.add_dropdown("Mode", ["a", "b"], value="b")
        mode.disabled = True
        seen = []
        gain.on_update(lambda e: seen.append(e.value))
        first.stop()
        assert wait_for(lambda: not v.connected)
        start_viewer(port=port)
        assert v.wait_connected(timeout=15)
        with RemoteViewer("127.0.0.1", port) as other:
            listed = wait_for(lambda: len(other.gui.list()) == 2) and other.gui.list()
            by_label = {c["label"]: c for c in listed}
            assert by_label["Gain"]["value"] == 0.2 and by_label["Mode"]["disabled"] is True
            assert by_label["Mode"]["value"] == "b"
            assert gain.id == by_label["Gain"]["id"], "the handle follows the new viewer's id"
            other.gui.set(gain.id, 0.7)
            assert wait_for(lambda: seen == [0.7])
    finally:
        v.close()
