"""Access directions: the rays left uncast change nothing, and the ray culling is exact."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from quote.corpus import generate_corpus
from quote.geometry import setups
from tests.quote.feature_inputs import FeatureInputs, feature_inputs


def _every_candidate_ray(
    origins: np.ndarray, cand: np.ndarray, directions: np.ndarray, *args: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``_rays_to_cast`` without culling: every candidate ray, with unlimited room."""
    sample, direction = np.nonzero(cand)
    unlimited = np.full(len(sample), np.inf)
    return sample, direction, unlimited, origins[sample], directions[direction]


def _parts() -> list[tuple[str, trimesh.Trimesh]]:
    parts = generate_corpus(18, random_state=11)
    # A frame that is not the file's axes (the box rotated about two axes).
    name, mesh = parts[0]
    rotated = mesh.copy()
    rotated.apply_transform(trimesh.transformations.euler_matrix(0.3, 0.0, 0.7))
    return [*parts, (name + "-rotated", rotated)]


@pytest.fixture(scope="module")
def inputs() -> dict[str, FeatureInputs]:
    return {name: feature_inputs(mesh) for name, mesh in _parts()}


def test_culled_rays_give_the_reach_of_casting_every_ray(
    inputs: dict[str, FeatureInputs], monkeypatch: pytest.MonkeyPatch
) -> None:
    culled = {
        name: setups.find_access(x.md, x.frame, x.points, x.normals, x.weights, x.holes)
        for name, x in inputs.items()
    }
    monkeypatch.setattr(setups, "_rays_to_cast", _every_candidate_ray)
    for name, x in inputs.items():
        full = setups.find_access(x.md, x.frame, x.points, x.normals, x.weights, x.holes)
        assert np.array_equal(culled[name].reach, full.reach), name
        assert culled[name].directions == full.directions, name
        assert culled[name].unreachable_area_mm2 == full.unreachable_area_mm2, name
    # Not vacuous: some rays are blocked on these parts, and some directions are chosen.
    assert any((~a.reach).any() for a in culled.values())


def test_culling_skips_most_rays_and_keeps_every_blocked_one(
    inputs: dict[str, FeatureInputs],
) -> None:
    kept, candidates = 0, 0
    for name, x in inputs.items():
        dirs = x.frame.directions()
        cand = x.normals @ dirs.T > setups._FACING_TOL
        eps = 1e-4 * x.md.scale
        origins = x.points + x.normals * eps
        center = x.frame.rotation @ x.frame.center
        sample, direction, ahead, ray_o, ray_d = setups._rays_to_cast(
            origins,
            cand,
            dirs,
            x.frame.rotation,
            center - x.frame.extents / 2.0,
            center + x.frame.extents / 2.0,
            x.md.vertices,
            x.md.faces,
            x.md.normals,
            setups._ESCAPE_MARGIN * x.md.scale,
            setups._CULL_CELLS,
        )
        assert (ahead >= 0).all()
        assert np.array_equal(ray_o, origins[sample]) and np.array_equal(ray_d, dirs[direction])
        # Row-major, like np.nonzero, and only candidates.
        assert np.all(np.diff(sample * 6 + direction) > 0)
        assert cand[sample, direction].all()
        # Every ray that is blocked when all are cast is among those cast.
        all_s, all_d = np.nonzero(cand)
        n_all = len(all_s)
        blocked = setups._blocked(x.md, origins[all_s], dirs[all_d], np.full(n_all, np.inf), eps)
        cast = set(zip(sample.tolist(), direction.tolist(), strict=True))
        missing = [
            (s, d)
            for s, d in zip(all_s[blocked], all_d[blocked], strict=True)
            if (s, d) not in cast
        ]
        assert not missing, name
        kept += len(sample)
        candidates += n_all
    assert kept < 0.5 * candidates


def test_hole_requirements_one_mask_per_drilling_constraint() -> None:
    from quote.types import Hole

    dirs = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1.0]])
    down = Hole(6.6, 10.0, True, (0.0, 0.0, -1.0), (0.0, 0.0, 10.0))
    blind_x = Hole(5.0, 8.0, False, (-1.0, 0.0, 0.0), (10.0, 0.0, 5.0))
    angled = Hole(5.0, 8.0, False, (0.0, 0.6, -0.8), (0.0, 0.0, 10.0))
    need = setups._hole_requirements((down, blind_x, down, angled), dirs)
    # Through along Z: from +Z or -Z (bits 4 and 5); blind drilled along -X: from +X (bit 0).
    assert sorted(need.tolist()) == [1 << 0, (1 << 4) | (1 << 5)]
    assert len(setups._hole_requirements((), dirs)) == 0
