"""Sharp internal edges: the kernel finds the edges, in the order, of the numpy version."""

from __future__ import annotations

import numpy as np

from quote.corpus import generate_corpus
from quote.geometry import corners
from quote.geometry.meshdata import MeshData
from tests.quote.feature_inputs import feature_inputs


def _numpy_sharp_edges(md: MeshData, setup_vectors: np.ndarray) -> np.ndarray:
    """The numpy computation the kernel replaced."""
    cand = ~md.adjacency_convex & (md.adjacency_angles > corners._SHARP)
    idx = np.flatnonzero(cand)
    e = md.vertices[md.adjacency_edges[idx]]
    vec = e[:, 1] - e[:, 0]
    length = np.linalg.norm(vec, axis=1)
    vec = vec / np.maximum(length, 1e-12)[:, None]
    along = (np.abs(vec @ setup_vectors.T) > corners._PARALLEL_COS).any(axis=1)
    along &= length > 1e-3 * md.scale
    idx, e, vec = idx[along], e[along], vec[along]
    na = md.normals[md.adjacency[idx, 0]]
    nb = md.normals[md.adjacency[idx, 1]]
    across = np.abs(vec @ setup_vectors.T) < 0.05
    floor = ((na @ setup_vectors.T) > corners._PARALLEL_COS) | (
        (nb @ setup_vectors.T) > corners._PARALLEL_COS
    )
    keep = ~(across & floor).any(axis=1)
    return e[keep].mean(axis=1)


def test_sharp_edges_match_numpy() -> None:
    found = 0
    for name, mesh in generate_corpus(12, random_state=4):
        x = feature_inputs(mesh)
        dirs = x.frame.directions()
        for setup in (dirs[[4]], dirs[[4, 5]], dirs[[0, 2, 4]], dirs):
            got = corners.sharp_internal_edges(x.md, setup)
            expected = _numpy_sharp_edges(x.md, setup)
            assert np.array_equal(got, expected), name
            found += len(got)
    assert found > 0


def test_no_setup_no_edges() -> None:
    x = feature_inputs(generate_corpus(1, random_state=4)[0][1])
    assert corners.sharp_internal_edges(x.md, np.zeros((0, 3))).shape == (0, 3)
