"""Bad input gets a clear error; other clients and nodes keep going."""

import msgpack
import numpy as np
import pytest
from periscope import Message, RemoteMeshes, RemoteSpheres, RemoteViewer, ViewerError, pack, unpack
from periscope.viewer import open_websocket

FACES = np.array([[0, 1, 2]])


def raw_client(port):
    ws = open_websocket(f"ws://127.0.0.1:{port}")
    ws.send(pack({"type": 500, "kwargs": {"protocol": "periscope", "version": 1, "client_name": "raw"}}))
    assert unpack(ws.recv(timeout=10))["type"] == Message.WELCOME
    return ws


def test_malformed_frames(viewer_process):
    with RemoteViewer("127.0.0.1", viewer_process.port) as good:
        m = RemoteMeshes(good, np.zeros((3, 3)), FACES)
        ws = raw_client(viewer_process.port)
        ws.send(b"\xc1garbage")
        err = unpack(ws.recv(timeout=10))
        assert err["type"] == Message.ERROR and err["code"] == "bad_message"
        assert "invalid MessagePack marker 0xc1" in err["message"]
        frame = pack({"type": 2, "uid": 1, "args": [np.zeros((3, 3), np.float32)], "kwargs": {}})
        ws.send(frame[:-4])
        assert unpack(ws.recv(timeout=10))["message"].startswith("truncated MessagePack")
        ws.send(msgpack.packb([1, 2, 3]))
        assert unpack(ws.recv(timeout=10))["message"] == "a message must be a MessagePack map, found list of 3"
        bad_array = {"__ndarray__": "float32", "shape": [2, 3], "data": b"\x00" * 7}
        ws.send(msgpack.packb({"type": 3, "uid": 1, "args": [bad_array]}, use_bin_type=True))
        assert "needs 24 bytes but 7 were sent" in unpack(ws.recv(timeout=10))["message"]
        ws.close()

        m.add_frames(np.ones((3, 3)))
        state = good.sync()
        assert state["nodes"][0]["n_frames"] == 2


def test_wrong_shapes_unknown_uid_unknown_type(viewer_process):
    with RemoteViewer("127.0.0.1", viewer_process.port, verbose=False) as v:
        with pytest.raises(ViewerError, match=r"vertices must have shape \(V,3\) or \(F,V,3\), got \(3, 2\)"):
            RemoteMeshes(v, np.zeros((3, 2)), FACES)
            v.sync()
        m = RemoteMeshes(v, np.zeros((3, 3)), FACES)
        m.add_frames(np.zeros((4, 3)))
        with pytest.raises(ViewerError) as e:
            v.sync()
        assert e.value.code == "bad_shape"
        assert "vertices has 4 rows per frame (shape (4, 3)) but this node has V=3" in str(e.value)
        v.send_message(Message.DELETE, 4242)
        with pytest.raises(ViewerError, match="delete: no node with uid 4242 for this client"):
            v.sync()
        v.send_message(99)
        with pytest.raises(ViewerError, match="unknown message type 99"):
            v.sync()
        with pytest.raises(ViewerError, match="faces\\[0, 2\\] = 9 is out of range \\[0, 3\\)"):
            RemoteMeshes(v, np.zeros((3, 3)), np.array([[0, 1, 9]]))
            v.sync()
        with pytest.raises(ViewerError, match="frame 5 is out of range: the node has 1 frames"):
            m.update_frames(np.zeros((3, 3)), frames=5)
            v.sync()
        assert [n["n_frames"] for n in v.sync()["nodes"]] == [1], "refused messages changed nothing"


def test_an_array_over_the_limit_is_refused_and_the_client_goes_on(start_viewer):
    proc = start_viewer("[server]\nmax_message_bytes = 100000\n")
    with RemoteViewer("127.0.0.1", proc.port, verbose=False) as v:
        RemoteSpheres(v, np.zeros((100_000, 3), np.float32))  # 1.2 MB, sent in parts
        with pytest.raises(ViewerError, match=r"exceeds server.max_message_bytes \(100000\)"):
            v.sync()
        RemoteSpheres(v, np.zeros((2, 3)))
        assert len(v.sync()["nodes"]) == 1, "the connection goes on; only the big array was refused"


def test_oversized_message_closes_only_that_client(start_viewer, monkeypatch):
    from periscope import codec

    monkeypatch.setattr(codec, "PART_BYTES", 1 << 62)  # send the array inside its message
    proc = start_viewer("[server]\nmax_message_bytes = 100000\n")
    with RemoteViewer("127.0.0.1", proc.port) as good:
        s = RemoteSpheres(good, np.zeros((2, 3)))
        big = RemoteViewer("127.0.0.1", proc.port, verbose=False)
        try:
            RemoteSpheres(big, np.zeros((100_000, 3), np.float32))
        except Exception:
            pass  # the viewer may close the connection while we are still sending
        msg = big.get_message(timeout=10)
        assert msg["code"] == "too_large"
        assert "exceeds server.max_message_bytes (100000 bytes)" in msg["message"]
        big.close()
        s.add_frames(np.ones((2, 3)))
        assert good.sync()["nodes"][0]["n_frames"] == 2


def test_refused_handshake(start_viewer):
    proc = start_viewer('[server]\ntoken = "abc"\n')
    with pytest.raises(ViewerError, match="bad or missing token"):
        RemoteViewer("127.0.0.1", proc.port)
    with RemoteViewer("127.0.0.1", proc.port, token="abc") as v:
        assert v.sync()["clients"][0]["connected"]


def test_session_resume(viewer_process):
    v = RemoteViewer("127.0.0.1", viewer_process.port, client_name="job")
    s = RemoteSpheres(v, np.zeros((2, 3)))
    v.sync()
    session = v.session
    v.close()
    v2 = RemoteViewer("127.0.0.1", viewer_process.port, client_name="job", session=session)
    assert v2.resumed and v2.client_id == v.client_id
    s.viewer = v2  # the old node handle, now sent through the new connection
    s.add_frames(np.ones((2, 3)))
    assert v2.sync()["nodes"][0]["n_frames"] == 2
    v2.close()


def test_set_properties_and_typed_fields_name_the_field(viewer_process):
    with RemoteViewer("127.0.0.1", viewer_process.port, verbose=False) as v:
        s = RemoteSpheres(v, np.zeros((2, 3)), name="dots")
        s.set_properties(color=(1.0, 0.0, 0.0), name="red dots", enabled=False, radius=0.25)
        node = v.sync()["nodes"][0]
        assert (node["name"], node["enabled"]) == ("red dots", False)
        assert node["color"] == pytest.approx([1.0, 0.0, 0.0, 1.0])
        # A bad value is refused whole: nothing changes.
        s.set_properties(name="blue", color=(0, 0, 1), enabled="yes")
        with pytest.raises(ViewerError, match="enabled must be a bool, got str"):
            v.sync()
        assert v.sync()["nodes"][0]["name"] == "red dots"
        # Typed requests are checked on arrival; the error names the field and nothing is queued.
        v.send_message(Message.SCREENSHOT, width=0)
        with pytest.raises(ViewerError, match=r'screenshot: field "width" must be an int in 1..=8192, found 0'):
            v.sync()
        v.send_message(Message.REQUIRE_CAMERA, enabled="sure")
        with pytest.raises(ViewerError) as e:
            v.sync()
        assert e.value.code == "bad_value" and 'field "enabled" must be a bool, found str' in str(e.value)


def test_query_with_an_empty_frame_list_on_another_clients_node_is_refused(viewer_process):
    """Used to panic the viewer (exit status 101) for every client."""
    with RemoteViewer("127.0.0.1", viewer_process.port) as owner, \
            RemoteViewer("127.0.0.1", viewer_process.port, verbose=False) as other:
        m = RemoteMeshes(owner, np.zeros((3, 3)), FACES)
        owner.sync()
        other.send_message(Message.QUERY, m.uid, client_id=owner.client_id, frame=[])
        with pytest.raises(ViewerError, match='query: field "frame" must name at least one frame, found none') as e:
            other.sync()
        assert e.value.code == "bad_frames"
        assert viewer_process.proc.poll() is None, "the viewer is alive"
        assert len(other.sync()["nodes"]) == 1
        assert owner.query_data(m, "vertices", 0).shape == (3, 3)


def test_non_finite_and_out_of_range_values_are_refused_naming_the_field(viewer_process):
    with RemoteViewer("127.0.0.1", viewer_process.port, verbose=False) as v:
        s = RemoteSpheres(v, np.zeros((2, 3)), name="dots")
        before = v.sync()["nodes"]
        for props, want in [
            ({"scale": float("inf")}, 'set_properties: field "scale" must be a finite number > 0, found inf'),
            ({"position": (np.nan, 0, 0)}, 'set_properties: field "position" must be 3 finite numbers, found [NaN, 0.0, 0.0]'),
            ({"color": (np.nan, 2, -1, 1)}, 'set_properties: field "color" must be 3 or 4 numbers in [0, 1], found [NaN, 2.0, -1.0, 1.0]'),
            ({"radius": -1.0}, 'set_properties: field "radius" must be a finite number >= 0, found -1.0'),
            ({"name": "n" * 100_000}, 'set_properties: field "name" must be a str of at most 1024 bytes, found 100000 bytes'),
        ]:
            s.set_properties(**props)
            with pytest.raises(ViewerError) as e:
                v.sync()
            assert e.value.code == "bad_value"
            assert want in str(e.value)
            assert len(str(e.value)) < 400, "an excerpt of the data, not all of it"
        assert v.sync()["nodes"] == before, "nothing changed"
        pts = np.zeros((3, 3), np.float32)
        pts[1, 2] = np.inf
        RemoteSpheres(v, pts)
        with pytest.raises(ViewerError, match=r'spheres: field "positions" must hold finite numbers, found inf at \[1, 2\]'):
            v.sync()
        s.update_frames(np.ones((2, 3)), frames=[])
        with pytest.raises(ViewerError, match='update_frames: field "frames" must name at least one frame') as e:
            v.sync()
        assert e.value.code == "bad_frames"
        assert [n["name"] for n in v.sync()["nodes"]] == ["dots"]


def test_what_arrived_before_a_failed_send_is_still_read(viewer_process, monkeypatch):
    # A send can fail (the viewer closed, the network broke) while the
    # viewer's last replies, often the error saying why, are still on their
    # way to the reader thread: they must not be lost with the connection.
    with RemoteViewer("127.0.0.1", viewer_process.port, verbose=False) as v:
        ws = v._ws
        v.send_message(Message.NODE, 7, "not an array")  # answered with an error, a moment later

        def broken(_frame):
            raise OSError("broken pipe (simulated)")

        monkeypatch.setattr(ws, "send", broken)
        assert v.send_message(Message.NODE, 8) is None, "the failed send is dropped and the connection marked lost"
        msg = v.get_message(timeout=10)
        assert msg is not None and msg["type"] == Message.ERROR, msg
        assert msg["ref_seq"] is not None
        ws.close()  # the simulated failure left the real socket open (a real failure leaves it broken)
