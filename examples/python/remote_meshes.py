"""Stream a mesh frame by frame, then edit its frames: aitviewer's remote
example, ported. Run the viewer first (`make run`), then:

    .venv/bin/python examples/python/remote_meshes.py
"""

import numpy as np

from periscope import RemoteMeshes, RemoteViewer


def cube():
    v = np.array([[-1, -1, -1], [1, -1, -1], [1, 1, -1], [-1, 1, -1],
                  [-1, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1]], dtype=np.float32) * 0.5
    f = np.array([[0, 2, 1], [0, 3, 2], [4, 5, 6], [4, 6, 7], [0, 1, 5], [0, 5, 4],
                  [2, 3, 7], [2, 7, 6], [1, 2, 6], [1, 6, 5], [0, 7, 3], [0, 4, 7]])
    return v, f


def main():
    vertices, faces = cube()
    with RemoteViewer("127.0.0.1", client_name="remote_meshes") as v:
        m = RemoteMeshes(v, vertices, faces, name="Cube", flat_shading=True, position=(1, 0, 0), scale=0.1)
        # Append 100 frames one by one: (V, 3) each.
        for s in np.linspace(1, 5, 100):
            m.add_frames(vertices * s)
        # Append 50 frames at once: (50, V, 3).
        m.add_frames(np.repeat(vertices[np.newaxis], 50, axis=0))
        # Overwrite frame 3, then frames 80 and 83.
        m.update_frames(vertices * 0.5, frames=3)
        m.update_frames(np.stack([vertices * 0.2, vertices * 3]), frames=[80, 83])
        # Remove one frame, then a range; later frames move up.
        m.remove_frames(frames=85)
        m.remove_frames(frames=range(90, 100))
        v.set_frame(42)
        state = v.sync()
        print(f"Cube has {state['nodes'][0]['n_frames']} frames; showing frame {state['current_frame']}")


if __name__ == "__main__":
    main()
