"""A NumPy reference of SMPL linear blend skinning (the smplx package's math)
and a random SMPL-sized synthetic model, for cross-checking the viewer."""

import numpy as np

SMPL_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]


def synthetic_model(n_vertices=6890, parents=SMPL_PARENTS, n_betas=10, seed=0):
    """Random but well-formed: smooth-ish template, normalised regressor and weights."""
    rng = np.random.default_rng(seed)
    j = len(parents)
    v_template = rng.normal(0, 0.3, (n_vertices, 3)) + [0, 0.9, 0]
    j_regressor = np.zeros((j, n_vertices))
    for k in range(j):
        idx = rng.choice(n_vertices, 20, replace=False)
        w = rng.random(20)
        j_regressor[k, idx] = w / w.sum()
    weights = np.zeros((n_vertices, j))
    for v in range(n_vertices):
        idx = rng.choice(j, 4, replace=False)
        w = rng.random(4)
        weights[v, idx] = w / w.sum()
    kintree = np.array([[p if p >= 0 else 4294967295 for p in parents], list(range(j))], dtype=np.int64)
    return {
        "v_template": v_template.astype(np.float32),
        "shapedirs": rng.normal(0, 0.02, (n_vertices, 3, n_betas)).astype(np.float32),
        "posedirs": rng.normal(0, 0.01, (n_vertices, 3, 9 * (j - 1))).astype(np.float32),
        "J_regressor": j_regressor.astype(np.float32),
        "weights": weights.astype(np.float32),
        "kintree_table": kintree,
        "f": rng.integers(0, n_vertices, (2 * n_vertices, 3)).astype(np.int64),
    }


def rodrigues(r):
    r = np.asarray(r, np.float64).reshape(-1, 3)
    theta = np.linalg.norm(r, axis=1)[:, None, None]
    k = r / np.maximum(theta[:, :, 0], 1e-12)
    kx = np.zeros((len(r), 3, 3))
    kx[:, 0, 1], kx[:, 0, 2], kx[:, 1, 2] = -k[:, 2], k[:, 1], -k[:, 0]
    kx[:, 1, 0], kx[:, 2, 0], kx[:, 2, 1] = k[:, 2], -k[:, 1], k[:, 0]
    return np.eye(3) + np.sin(theta) * kx + (1 - np.cos(theta)) * kx @ kx


def lbs(model, pose, betas=None, trans=None):
    """Vertices (V, 3) and joints (J, 3) for one frame; `pose` is the full (J*3) axis-angle."""
    m = {k: np.asarray(v, np.float64) for k, v in model.items()}
    parents = [int(p) if p < 2**31 else -1 for p in model["kintree_table"][0]]
    v = m["v_template"].copy()
    if betas is not None:
        nb = min(len(betas), m["shapedirs"].shape[2])
        v += m["shapedirs"][:, :, :nb] @ np.asarray(betas[:nb], np.float64)
    joints = m["J_regressor"] @ v
    rots = rodrigues(pose)
    feat = (rots[1:] - np.eye(3)).reshape(-1)
    v_posed = v + m["posedirs"] @ feat
    g = np.zeros((len(parents), 4, 4))
    for i, p in enumerate(parents):
        local = np.eye(4)
        local[:3, :3] = rots[i]
        local[:3, 3] = joints[i] - (joints[p] if p >= 0 else 0)
        g[i] = local if p < 0 else g[p] @ local
    posed_joints = g[:, :3, 3].copy()
    a = g.copy()
    a[:, :3, 3] -= np.einsum("jab,jb->ja", g[:, :3, :3], joints)
    t = np.einsum("vj,jab->vab", m["weights"], a)
    out = np.einsum("vab,vb->va", t[:, :3, :3], v_posed) + t[:, :3, 3]
    shift = np.zeros(3) if trans is None else np.asarray(trans, np.float64)
    return out + shift, posed_joints + shift
