"""The issue's full flow with the Python client against the real viewer."""

import numpy as np

from periscope import RemoteMeshes, RemoteViewer


def cube(scale=1.0):
    v = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0],
                  [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]], dtype=np.float64) * scale
    f = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7], [0, 1, 5], [0, 5, 4],
                  [2, 3, 7], [2, 7, 6], [1, 2, 6], [1, 6, 5], [0, 3, 7], [0, 7, 4]], dtype=np.int64)
    return v, f


def test_three_meshes_create_add_update_remove_delete(viewer_process):
    verts, faces = cube()
    with RemoteViewer("127.0.0.1", viewer_process.port) as v:
        m0 = RemoteMeshes(v, verts, faces, name="Mesh 0", flat_shading=True, position=(-1, 0, 0), scale=0.12)
        for i in range(1, 200):
            m0.add_frames(verts * (1 + i))                           # (V,3), one by one
        m1 = RemoteMeshes(v, np.stack([verts * i for i in range(100)]), faces, name="Mesh 1")
        m1.add_frames(np.stack([verts * i for i in range(100, 200)]))  # (F,V,3) at once
        m2 = RemoteMeshes(v, np.stack([verts + i for i in range(100)]), faces, name="Mesh 2")
        state = v.sync()
        assert [n["n_frames"] for n in state["nodes"]] == [200, 200, 100]
        assert [n["name"] for n in state["nodes"]] == ["Mesh 0", "Mesh 1", "Mesh 2"]
        assert state["n_frames"] == 200

        m0.update_frames(verts * 99, frames=100)                    # int
        m1.update_frames(np.stack([verts * -1, verts * -2]), frames=[5, 7])  # list
        m2.update_frames(verts * 0, frames=range(10, 20))           # range, broadcast
        np.testing.assert_allclose(v.query_data(m0, "vertices", 100), verts * 99)
        np.testing.assert_allclose(v.query_data(m1, "vertices", 7), verts * -2)
        np.testing.assert_allclose(v.query_data(m2, "vertices", 15), verts * 0)
        np.testing.assert_allclose(v.query_data(m2, "vertices", 20), verts + 20)

        m0.remove_frames(frames=range(100, 199))
        m1.remove_frames(frames=0)
        state = v.sync()
        assert [n["n_frames"] for n in state["nodes"]] == [101, 199, 100]
        np.testing.assert_allclose(v.query_data(m0, "vertices", 100), verts * 200)
        np.testing.assert_allclose(v.query_data(m1, "vertices", 0), verts * 1)

        v.set_frame(1)
        v.next_frame()
        assert v.sync()["current_frame"] == 2
        v.previous_frame()
        v.previous_frame()
        v.previous_frame()
        state = v.sync()
        assert state["current_frame"] == 198, "previous_frame wraps from 0 to the last frame"
        assert [n["current_frame"] for n in state["nodes"]] == [100, 198, 99]

        m1.delete()
        state = v.sync()
        assert [n["name"] for n in state["nodes"]] == ["Mesh 0", "Mesh 2"]
        assert state["n_frames"] == 101
    assert not v.connected


def test_float64_is_sent_as_float32_and_values_survive(viewer_process):
    verts, faces = cube(0.1)
    with RemoteViewer("127.0.0.1", viewer_process.port) as v:
        m = RemoteMeshes(v, verts, faces)
        got = v.query_data(m, "vertices", 0)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, verts.astype(np.float32))
