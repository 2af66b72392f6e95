"""The generated corpus: deterministic, watertight one-body parts the engine can read, and
synthetic histories priced by the physics."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import trimesh

from quote.analysis import analyze_part
from quote.catalogs import compatible_finishes, load_catalog
from quote.corpus import (
    FAMILIES,
    corpus_features,
    generate_corpus,
    generate_part,
    physics_history,
    random_specs,
    write_corpus,
)


@pytest.fixture(scope="module")
def corpus() -> list[tuple[str, trimesh.Trimesh]]:
    return generate_corpus(48, random_state=3)


def test_parts_are_closed_single_bodies(corpus: list[tuple[str, trimesh.Trimesh]]) -> None:
    for name, mesh in corpus:
        assert mesh.is_watertight, name
        assert mesh.body_count == 1, name
        assert mesh.volume > 0, name
        # Sizes a job shop machines: between 2 mm and 1 m.
        assert 2.0 < max(mesh.extents) < 1000.0, name


def test_every_family_appears(corpus: list[tuple[str, trimesh.Trimesh]]) -> None:
    families = Counter(name.split("_")[0] for name, _ in corpus)
    assert set(families) == set(FAMILIES)


def test_deterministic_and_prefix_stable(corpus: list[tuple[str, trimesh.Trimesh]]) -> None:
    again = generate_corpus(10, random_state=3)
    for (n1, m1), (n2, m2) in zip(corpus[:10], again, strict=True):
        assert n1 == n2
        np.testing.assert_array_equal(m1.vertices, m2.vertices)
        np.testing.assert_array_equal(m1.faces, m2.faces)
    other = generate_corpus(10, random_state=4)
    assert any(
        a.vertices.shape != b.vertices.shape or not np.allclose(a.vertices, b.vertices)
        for (_, a), (_, b) in zip(other, again, strict=True)
    )


def test_unknown_family_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown family"):
        generate_part(0, 0, family="gear")


def test_written_files_read_back_as_the_generated_parts(tmp_path: Path) -> None:
    paths = write_corpus(tmp_path, 4, random_state=5)
    names = [n for n, _ in generate_corpus(4, random_state=5)]
    assert [p.stem for p in paths] == names
    for path, (_, mesh) in zip(paths, generate_corpus(4, random_state=5), strict=True):
        analysis = analyze_part(path)
        assert len(analysis.items) == 1
        f = analysis.items[0].features
        assert f.volume_mm3 == pytest.approx(mesh.volume, rel=1e-4)
        assert f.area_mm2 == pytest.approx(mesh.area, rel=1e-4)


def test_turned_families_are_seen_as_turned_and_plates_have_holes() -> None:
    catalog = load_catalog()
    meshes = [
        ("shaft", generate_part(1, 11, family="shaft")),
        ("flange", generate_part(2, 11, family="flange")),
        ("plate", generate_part(3, 11, family="plate")),
    ]
    feats = dict(corpus_features(meshes, catalog))
    assert feats["shaft"].process in ("lathe", "mill-turn")
    assert feats["flange"].process in ("lathe", "mill-turn")
    assert feats["flange"].hole_count >= 4  # bolt circle (+ bore)
    assert feats["plate"].process == "mill"
    assert feats["plate"].hole_count >= 1


def test_random_specs_are_valid_requests(corpus: list[tuple[str, trimesh.Trimesh]]) -> None:
    catalog = load_catalog()
    feats = corpus_features(corpus[:1], catalog)[0][1]
    specs = random_specs(feats, 300, np.random.default_rng(0), catalog)
    qty = np.array([s.quantity for s in specs])
    assert qty.min() >= 1 and qty.max() <= 1000
    assert np.mean(qty <= 10) > 0.2 and np.mean(qty >= 100) > 0.2  # log-uniform, not uniform
    for s in specs:
        material = catalog.material(s.material)
        assert s.finish in {f.name for f in compatible_finishes(catalog, material)}
        assert 0.001 <= s.tolerance_mm <= 10.0
    assert len({s.material for s in specs}) >= 10
    assert any(s.finish != "none" for s in specs)


def test_physics_history_is_deterministic_and_positive(
    corpus: list[tuple[str, trimesh.Trimesh]],
) -> None:
    catalog = load_catalog()
    parts = corpus_features(corpus[:3], catalog)
    a = physics_history(parts, 4, 9, catalog)
    b = physics_history(parts, 4, 9, catalog)
    assert len(a) == 12
    assert [r.physics.unit_price for r in a] == [r.physics.unit_price for r in b]
    assert [r.spec for r in a] == [r.spec for r in b]
    assert all(r.physics.unit_price > 0 and r.physics.lead_time_days >= 1 for r in a)
