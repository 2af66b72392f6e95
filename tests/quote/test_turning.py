"""Turning kernels against the numpy computations they replaced."""

from __future__ import annotations

import numpy as np
import pytest

from quote.corpus import generate_corpus
from quote.geometry import turning
from quote.geometry.meshdata import canonical_axes
from tests.quote.feature_inputs import FeatureInputs, feature_inputs


def _clouds() -> list[np.ndarray]:
    """2D point sets: random, outlines with many points along their edges (as the outer
    points of machined parts seen along an axis), circles, repeated and single points."""
    rng = np.random.default_rng(5)
    t = np.linspace(0.0, 1.0, 40)
    rect = np.concatenate(
        [np.column_stack(c) for c in ((t * 80, 0 * t), (80 + 0 * t, t * 30), (t * 80, 30 + 0 * t))]
    )
    angles = rng.uniform(0, 2 * np.pi, 300)
    circles = np.concatenate(
        [np.column_stack((r * np.cos(angles), r * np.sin(angles))) for r in (10.0, 25.0)]
    )
    clouds = [
        rng.normal(0, 20, (500, 2)),
        np.concatenate((rect, rng.uniform(5, 25, (200, 2)))),
        circles,
        np.repeat(rng.normal(0, 5, (3, 2)), 10, axis=0),
        np.array([[1.5, -2.0]]),
        np.column_stack((t, 2 * t)),  # collinear
    ]
    return [np.ascontiguousarray(c) for c in clouds]


@pytest.mark.parametrize("step", [1, 3])
def test_support_is_the_maximum_over_all_points(step: int) -> None:
    for flat in _clouds():
        h = np.empty(turning._E.shape[1])
        turning._support(flat, step, turning._E, h)
        pts = flat[::step]
        # Elementwise (no BLAS), the products and sum the kernel forms.
        expected = (pts[:, :1] * turning._E[0] + pts[:, 1:] * turning._E[1]).max(axis=0)
        assert np.array_equal(h, expected)


def _numpy_outline(pts: np.ndarray, axis: np.ndarray, center: np.ndarray | None) -> tuple:
    """The per-axis numpy outline the kernel replaced (lstsq fit, BLAS products)."""
    u = np.cross(axis, (1.0, 0.0, 0.0) if abs(axis[0]) < 0.9 else (0.0, 1.0, 0.0))
    u /= np.linalg.norm(u)
    v = np.cross(axis, u)
    flat = np.column_stack((pts @ u, pts @ v))
    h = (flat @ turning._E).max(axis=0)
    if center is None:
        fit = np.column_stack((turning._E.T, np.ones(turning._E.shape[1])))
        c2 = np.linalg.lstsq(fit, h, rcond=None)[0][:2]
    else:
        c2 = np.array([center @ u, center @ v])
    r_out = float(np.sqrt(((flat - c2) ** 2).sum(axis=1)).max())
    width = h + np.roll(h, -len(h) // 2)
    along = pts @ axis
    c3 = c2[0] * u + c2[1] * v + along.mean() * axis
    r_in = max(float((h - c2 @ turning._E).min()), 0.0)
    return c3, r_out, r_in, float(width.min() / width.max()), float(np.ptp(along))


@pytest.fixture(scope="module")
def parts() -> dict[str, FeatureInputs]:
    return {name: feature_inputs(mesh) for name, mesh in generate_corpus(14, random_state=5)}


def test_outlines_match_the_numpy_outline(parts: dict[str, FeatureInputs]) -> None:
    for name, x in parts.items():
        pts = np.ascontiguousarray(x.frame.outer_points)
        axes = np.concatenate((x.frame.rotation, x.cylinders.axis[:3]))
        centers = np.concatenate((np.zeros((3, 3)), x.cylinders.origin[:3]))
        frames, center3, numbers = turning._outlines(
            pts, axes, centers, 1, turning._E, turning._CIRCLE_FIT
        )
        for k, axis in enumerate(canonical_axes(axes)):
            assert np.array_equal(frames[k, 2], axis)
            c3, *expected = _numpy_outline(pts, axis, centers[k] if k >= 3 else None)
            # Rounding only: the kernel sums in another order than BLAS and lstsq.
            assert numbers[k] == pytest.approx(expected, rel=1e-12, abs=1e-12 * x.md.scale), name
            assert center3[k] == pytest.approx(c3, rel=1e-12, abs=1e-12 * x.md.scale), name


def test_symmetric_faces_match_the_numpy_score(parts: dict[str, FeatureInputs]) -> None:
    checked = 0
    for name, x in parts.items():
        md = x.md
        t = turning.detect_turning(md, x.frame, x.cylinders, x.holes)
        reach = 0.5 * t.diameter_mm
        sym = turning._symmetric_faces(
            md.centroids,
            md.normals,
            t.axis[None],
            t.center[None],
            np.array([reach]),
            1e-6 * md.scale,
        )[0]
        rel = md.centroids - t.center
        radial = rel - (rel @ t.axis)[:, None] * t.axis
        rho = np.sqrt(np.einsum("ij,ij->i", radial, radial))
        on_axis = rho < 1e-6 * md.scale
        tang = np.abs(np.einsum("ij,ij->i", radial, np.cross(md.normals, t.axis)))
        tang /= np.where(on_axis, 1.0, rho)
        expected = np.where(on_axis, np.abs(md.normals @ t.axis) > 0.99, tang < 0.1)
        expected &= rho <= reach
        assert np.array_equal(sym, expected), name
        checked += sym.any()
    assert checked > 5


def test_turned_families_are_turned(parts: dict[str, FeatureInputs]) -> None:
    seen = {"turned": 0, "milled": 0}
    for name, x in parts.items():
        t = turning.detect_turning(x.md, x.frame, x.cylinders, x.holes)
        if name.startswith(("shaft", "flange")):
            assert t.turned and t.roundness >= turning.ROUNDNESS, name
            seen["turned"] += 1
        elif name.startswith(("block", "plate", "housing")):
            assert t.process == "mill", name
            seen["milled"] += 1
    assert min(seen.values()) >= 2
