"""Video export by the real headless viewer: MP4 (decoded by ffprobe/ffmpeg,
required in CI), GIF, PNG sequences, camera paths, bad input, and `--video`."""

import os
import shutil
import subprocess

import numpy as np
import pytest

from conftest import BIN
from periscope import CameraPath, RemoteSpheres, RemoteViewer, ViewerError, video
from test_screenshot import read_png, render_available


def ffmpeg_tools():
    found = shutil.which("ffprobe") and shutil.which("ffmpeg")
    if not found and os.environ.get("PERISCOPE_REQUIRE_FFMPEG"):
        pytest.fail("ffprobe/ffmpeg are required (PERISCOPE_REQUIRE_FFMPEG) but not installed")
    return bool(found)


def probe(path):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
         "stream=codec_name,width,height,nb_read_frames", "-of", "default=nw=1", str(path)],
        capture_output=True, text=True, check=True).stdout
    return dict(line.split("=", 1) for line in out.split())


def moving_sphere(v, n=12):
    """A red sphere moving along x over `n` frames, and a still blue one."""
    centers = np.zeros((n, 1, 3), np.float32)
    centers[:, 0, 0] = np.linspace(-1, 1, n)
    RemoteSpheres(v, centers, radius=0.3, color=(1, 0, 0, 1), name="red")
    RemoteSpheres(v, np.array([[0, 0, -1]], np.float32), radius=0.3, color=(0, 0, 1, 1), name="blue")
    v.sync()


def test_an_mp4_export_decodes_with_its_frames_and_size_and_can_come_back_as_bytes(viewer_process):
    with RemoteViewer(viewer_process.host, viewer_process.port) as v:
        render_available(v)
        moving_sphere(v)
        path = v.export_video("clip.mp4", frames=range(0, 12), width=160, height=120, fps=12)
        assert path == str(viewer_process.dir / "exports" / "clip.mp4")
        assert os.path.getsize(path) > 1000
        same, data = v.export_video("clip.mp4", frames=[0, 3, 3, 11], width=161, height=121, return_bytes=True)
        assert same == path and isinstance(data, bytes) and data == open(path, "rb").read()
        # Nothing but the finished file in the export folder.
        assert sorted(os.listdir(viewer_process.dir / "exports")) == ["clip.mp4"]
        if not ffmpeg_tools():
            pytest.skip("ffprobe not installed")
        info = probe(path)
        # 161x121 was rounded down to even sides for H.264; 4 frames as listed.
        assert info == {"codec_name": "h264", "width": "160", "height": "120", "nb_read_frames": "4"}


def test_gif_and_png_sequence_exports(viewer_process):
    with RemoteViewer(viewer_process.host, viewer_process.port) as v:
        render_available(v)
        moving_sphere(v)
        path, data = v.export_video("loop.gif", frames=range(0, 12, 3), width=96, height=64, return_bytes=True)
        assert data[:6] == b"GIF89a" and path.endswith("loop.gif")
        if ffmpeg_tools():
            assert probe(path)["nb_read_frames"] == "4"
        folder, images = v.export_video("seq.png", frames=range(0, 12, 4), width=80, height=60, return_bytes=True)
        assert folder == str(viewer_process.dir / "exports" / "seq")
        files = sorted(os.listdir(folder))
        assert files == ["seq_00000.png", "seq_00001.png", "seq_00002.png"]
        assert [open(os.path.join(folder, f), "rb").read() for f in files] == images
        frames = [read_png(os.path.join(folder, f)) for f in files]
        assert frames[0].shape == (60, 80, 4)
        # The red sphere moves right between scene frames 0 and 8.
        def red_x(img):
            red = (img[..., 0] > 150) & (img[..., 1] < 80) & (img[..., 2] < 80)
            return np.nonzero(red)[1].mean()
        assert red_x(frames[2]) > red_x(frames[0]) + 10


def test_camera_paths_move_the_camera_through_their_keyframes(viewer_process):
    with RemoteViewer(viewer_process.host, viewer_process.port) as v:
        render_available(v)
        moving_sphere(v, n=1)
        a = dict(position=[0, 1, 6], target=[0, 0, 0], fov=40)
        b = dict(position=[6, 1, 0], target=[0, 0, 0], fov=40)
        path = CameraPath().add(time=0, **a).add(time=1, **b)
        folder = v.export_video("path.png", frames=[0] * 11, fps=10, width=96, height=72, camera_path=path)
        frames = [read_png(os.path.join(folder, f)) for f in sorted(os.listdir(folder))]
        assert len(frames) == 11
        # The first and last frames are what the camera sees at the keyframes.
        for pose, img in ((a, frames[0]), (b, frames[-1])):
            v.set_camera(position=pose["position"], target=pose["target"], fov_y=pose["fov"])
            shot = v.screenshot(width=96, height=72)
            assert np.abs(shot.astype(int) - img.astype(int)).mean() < 2.0
        assert np.abs(frames[0].astype(int) - frames[5].astype(int)).mean() > 2.0
        # A TOML file (written by the client) and the orbit preset.
        toml = viewer_process.dir / "fly.toml"
        path.save(toml)
        assert CameraPath.load(toml).keyframes == path.keyframes
        assert len(os.listdir(v.export_video("file.png", frames=[0, 0], width=32, height=32, camera_path=str(toml)))) == 2
        turn = v.export_video("turn.png", frames=[0] * 4, width=64, height=48, camera_path=video.orbit(turns=0.5))
        imgs = [read_png(os.path.join(turn, f)) for f in sorted(os.listdir(turn))]
        assert np.abs(imgs[0].astype(int) - imgs[2].astype(int)).mean() > 2.0
        # Following a node by name.
        assert v.export_video("f.gif", frames=[0], width=32, height=32, camera_path=video.follow("red", offset=[0, 0, 3]))


def test_bad_exports_name_the_problem_and_leave_nothing(viewer_process, start_viewer):
    with RemoteViewer(viewer_process.host, viewer_process.port) as v:
        render_available(v)
        with pytest.raises(ViewerError, match="scene is empty"):
            v.export_video("empty.mp4")
        moving_sphere(v, n=2)
        cases = [
            (dict(name="clip.avi"), 'unknown video extension "avi"'),
            (dict(name="../up.mp4"), 'field "name" must be a plain file name'),
            (dict(name="clip.mp4", fps=0), '"fps"'),
            (dict(name="clip.mp4", width=0), '"width"'),
            (dict(name="clip.mp4", frames=[]), '"frames"'),
            (dict(name="clip.mp4", camera_path={"orbit": {"spin": 1}}), "spin"),
            (dict(name="clip.mp4", camera_path={"orbit": {"fov": 400}}), "orbit.fov"),
            (dict(name="clip.mp4", camera_path=video.follow("nobody")), "no node"),
            (dict(name="clip.mp4", camera_path={}), "exactly one"),
        ]
        for kwargs, expected in cases:
            with pytest.raises(ViewerError, match=expected.replace("(", r"\(").replace(".", r"\.")):
                v.export_video(**kwargs)
        assert not (viewer_process.dir / "exports").exists() or os.listdir(viewer_process.dir / "exports") == []
        # The connection is fine afterwards.
        assert v.export_video("ok.gif", frames=[0], width=16, height=16).endswith("ok.gif")
    # An export folder that cannot be written: a clear error, the client goes on.
    blocked = start_viewer(config='[viewer]\nexport_dir = "blocked/sub"\n')
    (blocked.dir / "blocked").write_text("a file, not a folder")
    with RemoteViewer(blocked.host, blocked.port) as v:
        render_available(v)
        moving_sphere(v, n=1)
        with pytest.raises(ViewerError, match="cannot write"):
            v.export_video("x.mp4", frames=[0])
        assert v.query()["nodes"]


def test_cli_video_of_a_saved_scene(viewer_process, tmp_path):
    with RemoteViewer(viewer_process.host, viewer_process.port) as v:
        render_available(v)
        moving_sphere(v)
        scene = v.save_scene("moving.psr")
    out = tmp_path / "turntable.mp4"
    run = subprocess.run([str(BIN), "--headless", "--port", "0", scene, "--video", str(out), "--orbit",
                          "--video-size", "96x64", "--fps", "24", "--frames", "0:12:2"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert f"periscope wrote {out} (6 frames)" in run.stdout
    if ffmpeg_tools():
        assert probe(out) == {"codec_name": "h264", "width": "96", "height": "64", "nb_read_frames": "6"}
    # No camera path: the data is framed (a headless viewer has no camera of its own yet).
    run = subprocess.run([str(BIN), "--headless", "--port", "0", scene, "--video", str(tmp_path / "still.png"),
                          "--video-size", "80x60", "--frames", "0:1"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    img = read_png(tmp_path / "still" / "still_00000.png")
    red = (img[..., 0] > 150) & (img[..., 1] < 80) & (img[..., 2] < 80)
    assert red.sum() > 20, "the red sphere is in view"
    shutil.rmtree(tmp_path / "still")
    bad = tmp_path / "bad.toml"
    bad.write_text("[orbit]\nspeed = 2\n")
    run = subprocess.run([str(BIN), "--headless", "--port", "0", scene, "--video", str(tmp_path / "b.mp4"),
                          "--camera-path", str(bad)], capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "speed" in run.stderr
    run = subprocess.run([str(BIN), "--headless", "--port", "0", scene, "--video", str(tmp_path / "b.webm")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "unknown video extension" in run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml", "turntable.mp4"]
