"""SMPL sequences skinned by the viewer, cross-checked against a NumPy reference."""

import os
import pickle
import sys
import types

import numpy as np
import pytest

from periscope import RemoteSMPLSequence, RemoteViewer, ViewerError, smpl_convert
from smpl_reference import SMPL_PARENTS, lbs, synthetic_model


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    (d / "smpl").mkdir()
    model = synthetic_model()
    np.savez_compressed(d / "smpl" / "SMPL_NEUTRAL.npz", **model)  # deflated members
    broken = dict(model)
    del broken["posedirs"]
    np.savez(d / "smpl" / "SMPL_MALE.npz", **broken)
    return d, model


@pytest.fixture
def viewer(start_viewer, model_dir):
    return start_viewer(f'[smpl]\nmodels_dir = "{model_dir[0]}"\n')


def full_pose(root, body):
    return np.concatenate([root, body])


def test_sequence_matches_the_numpy_reference(viewer, model_dir):
    model = model_dir[1]
    rng = np.random.default_rng(1)
    f = 5
    body = rng.normal(0, 0.3, (f, 69)).astype(np.float32)
    root = rng.normal(0, 0.5, (f, 3)).astype(np.float32)
    trans = rng.normal(0, 1, (f, 3)).astype(np.float32)
    betas = rng.normal(0, 1, 10).astype(np.float32)
    with RemoteViewer(viewer.host, viewer.port) as v:
        s = RemoteSMPLSequence(v, body, poses_root=root, trans=trans, betas=betas, name="motion")
        state = v.sync()
        node = state["nodes"][0]
        assert (node["kind"], node["n_frames"], node["name"]) == ("smpl", f, "motion")
        worst = 0.0
        for i in range(f):
            ref_v, ref_j = lbs(model, full_pose(root[i], body[i]), betas, trans[i])
            got_v = v.query_data(s, "vertices", frame=i)
            got_j = v.query_data(s, "joints", frame=i)
            assert got_v.shape == (6890, 3) and got_j.shape == (24, 3)
            worst = max(worst, np.abs(got_v - ref_v).max(), np.abs(got_j - ref_j).max())
        assert worst < 1e-4, f"max vertex error {worst}"


def test_frame_by_frame_streaming_without_betas(viewer, model_dir):
    """A motion model streams one frame at a time; betas=None must not break (it does in aitviewer)."""
    model = model_dir[1]
    rng = np.random.default_rng(2)
    first = rng.normal(0, 0.2, 69).astype(np.float32)
    with RemoteViewer(viewer.host, viewer.port) as v:
        s = RemoteSMPLSequence(v, first[None], betas=np.zeros(10, np.float32))
        frames = [first]
        for _ in range(20):
            pose = rng.normal(0, 0.2, 69).astype(np.float32)
            trans = rng.normal(0, 0.1, 3).astype(np.float32)
            s.add_frames(pose, trans=trans, betas=None)
            frames.append((pose, trans))
        state = v.sync()
        assert state["nodes"][0]["n_frames"] == 21
        pose, trans = frames[-1]
        ref_v, _ = lbs(model, full_pose(np.zeros(3), pose), np.zeros(10), trans)
        assert np.abs(v.query_data(s, "vertices", frame=20) - ref_v).max() < 1e-4
        # update_frames re-skins just those frames; remove_frames drops them.
        new = rng.normal(0, 0.2, (2, 69)).astype(np.float32)
        s.update_frames(new, frames=[3, 4])
        s.remove_frames([0])
        v.sync()
        # Old frame 4 (now 3) has the new pose and keeps its own translation.
        ref_v, _ = lbs(model, full_pose(np.zeros(3), new[1]), np.zeros(10), frames[4][1])
        assert np.abs(v.query_data(s, "vertices", frame=3) - ref_v).max() < 1e-4
        assert v.query()["nodes"][0]["n_frames"] == 20


def test_another_clients_query_sees_every_frame_sent_before_it(viewer):
    """A program streams a body frame by frame and exits; a second program's query
    must see every frame, although skinning runs on worker threads (the reads of
    one client wait for the skinning and the held messages of every other)."""
    rng = np.random.default_rng(3)
    for attempt in range(3):
        with RemoteViewer(viewer.host, viewer.port) as a:
            s = RemoteSMPLSequence(a, rng.normal(0, 0.2, (2, 69)).astype(np.float32), name=f"run{attempt}")
            for _ in range(12):
                s.add_frames(rng.normal(0, 0.2, (1, 69)).astype(np.float32))
        with RemoteViewer(viewer.host, viewer.port) as b:
            nodes = {n["name"]: n for n in b.query()["nodes"]}
            assert nodes[f"run{attempt}"]["n_frames"] == 14, f"attempt {attempt}"


def test_missing_and_malformed_models_are_clear_errors(viewer, model_dir):
    with RemoteViewer(viewer.host, viewer.port, verbose=False) as v:
        RemoteSMPLSequence(v, np.zeros((1, 63), np.float32), model_type="smplx")
        with pytest.raises(ViewerError) as e:
            v.sync()
        msg = str(e.value)
        assert "smplx/SMPLX_NEUTRAL.npz" in msg and "not found" in msg and "v_template (V, 3)" in msg
        RemoteSMPLSequence(v, np.zeros((1, 69), np.float32), gender="male")
        with pytest.raises(ViewerError, match="SMPL_MALE.npz: missing posedirs"):
            v.sync()
        RemoteSMPLSequence(v, np.zeros((1, 70), np.float32))
        with pytest.raises(ViewerError, match="poses_body has 70 numbers"):
            v.sync()
        RemoteSMPLSequence(v, np.zeros((1, 69), np.float32), gender="robot")
        with pytest.raises(ViewerError, match="gender must be"):
            v.sync()
        assert v.sync()["nodes"] == [], "nothing was created"


def test_skeleton_option_and_screenshot_shows_the_body(viewer, model_dir):
    with RemoteViewer(viewer.host, viewer.port, verbose=False) as v:
        RemoteSMPLSequence(v, np.zeros((2, 69), np.float32), show_skeleton=True, color=(0.9, 0.3, 0.2, 1))
        v.sync()
        try:
            img = v.screenshot(width=160, height=120)
        except ViewerError as e:
            if os.environ.get("PERISCOPE_REQUIRE_RENDER"):
                raise
            pytest.skip(f"no renderer: {e}")
        reddish = (img[..., 0].astype(int) > img[..., 2].astype(int) + 40).sum()
        assert reddish > 300, "the body is in the picture"


def test_pkl_converter_reads_chumpy_and_scipy_pickles(tmp_path, model_dir):
    """Official pickles hold chumpy arrays and a scipy sparse regressor: build one with stand-ins."""
    model = synthetic_model(n_vertices=50, n_betas=4, seed=3)
    ch = types.ModuleType("chumpy.ch")
    sp = types.ModuleType("scipy.sparse._csc")

    class Ch:
        def __init__(self, x):
            self.x = x

        def __getstate__(self):
            return {"x": self.x}

    class csc_matrix:  # noqa: N801 - the pickled name
        def __init__(self, dense):
            cols = [np.nonzero(dense[:, j])[0] for j in range(dense.shape[1])]
            self.indptr = np.cumsum([0] + [len(c) for c in cols])
            self.indices = np.concatenate(cols)
            self.data = np.concatenate([dense[c, j] for j, c in enumerate(cols)])
            self._shape = dense.shape

        def __getstate__(self):
            return {"data": self.data, "indices": self.indices, "indptr": self.indptr, "_shape": self._shape}

    Ch.__module__, csc_matrix.__module__ = "chumpy.ch", "scipy.sparse._csc"
    Ch.__qualname__, csc_matrix.__qualname__ = "Ch", "csc_matrix"
    ch.Ch, sp.csc_matrix = Ch, csc_matrix
    saved = {k: sys.modules.get(k) for k in ("chumpy", "chumpy.ch", "scipy", "scipy.sparse", "scipy.sparse._csc")}
    sys.modules.update({"chumpy": types.ModuleType("chumpy"), "chumpy.ch": ch, "scipy": types.ModuleType("scipy"),
                        "scipy.sparse": types.ModuleType("scipy.sparse"), "scipy.sparse._csc": sp})
    try:
        official = dict(model, v_template=Ch(model["v_template"]), shapedirs=Ch(model["shapedirs"]),
                        posedirs=Ch(model["posedirs"]), J_regressor=csc_matrix(model["J_regressor"]),
                        bs_style="lbs", kintree_table=model["kintree_table"].astype(np.int64))
        with open(tmp_path / "model.pkl", "wb") as f:
            pickle.dump(official, f, protocol=2)
    finally:
        for k, m in saved.items():
            if m is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = m
    assert smpl_convert.main([str(tmp_path / "model.pkl"), str(tmp_path / "out" / "SMPL_NEUTRAL.npz")]) == 0
    out = np.load(tmp_path / "out" / "SMPL_NEUTRAL.npz")
    for k in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "f", "kintree_table"):
        np.testing.assert_allclose(out[k], model[k], atol=1e-6, err_msg=k)
    assert smpl_convert.main([str(tmp_path / "nope.pkl"), str(tmp_path / "x.npz")]) == 1
    assert list(out["kintree_table"][0][1:]) == SMPL_PARENTS[1:]
