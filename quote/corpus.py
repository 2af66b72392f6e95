"""A deterministic corpus of generated parts, and synthetic quote histories priced on it.

Parts are built as watertight meshes with manifold3d booleans (fast: a few ms each), in
millimetres, in six families a precision-parts shop sees every week:

- ``block``: a milled block with rectangular pockets, a corner step, drilled and tapped holes;
- ``plate``: a plate with a hole pattern and sometimes a pocket or slot;
- ``shaft``: a stepped turned shaft, sometimes with a cross hole;
- ``flange``: a turned flange with a hub, a centre bore and a bolt circle;
- ``bracket``: an L bracket (base and upright) with holes in both legs;
- ``housing``: a box shell open on one side, with holes in its floor and walls.

Part ``i`` of ``generate_corpus(n, random_state)`` depends only on ``(random_state, i)``, so a
larger corpus starts with the parts of a smaller one. Hole diameters are standard drill sizes
(clearance and tap drills), so the feature extractor can match them.

The synthetic history (``random_specs``, ``physics_history``) prices random specs with the
process-planning estimator; it is what the default model is trained on.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh
from manifold3d import CrossSection, Manifold

from quote.analysis import analyze_part
from quote.catalogs import Catalog, compatible_finishes, resolve_tolerance
from quote.costing import estimate
from quote.errors import PartError
from quote.types import PartFeatures, PhysicsEstimate, QuoteSpec

FAMILIES: tuple[str, ...] = ("block", "plate", "shaft", "flange", "bracket", "housing")
# Relative frequency of each family in the corpus (prismatic work dominates job shops).
_FAMILY_WEIGHTS = np.array([0.26, 0.2, 0.16, 0.12, 0.14, 0.12])

# Clearance drills (ISO 273 medium) and tap drills (ISO metric coarse), mm.
CLEARANCE_DRILLS_MM = (3.4, 4.5, 5.5, 6.6, 9.0, 11.0, 13.5)
TAP_DRILLS_MM = (2.5, 3.3, 4.2, 5.0, 6.8, 8.5, 10.2)

_HOLE_SEGMENTS = 36
_TURNED_SEGMENTS = 96


# -- primitives ------------------------------------------------------------------------------


def _box(x0: float, y0: float, z0: float, dx: float, dy: float, dz: float) -> Manifold:
    """Axis-aligned box from its min corner (mm) and its sizes (mm)."""
    return Manifold.cube((dx, dy, dz)).translate((x0, y0, z0))


def _cyl_z(x: float, y: float, z0: float, height: float, d: float, seg: int) -> Manifold:
    """Cylinder along +Z from z0, diameter d, centred at (x, y), mm."""
    return Manifold.cylinder(height, d / 2.0, circular_segments=seg).translate((x, y, z0))


def _cyl_x(x0: float, y: float, z: float, length: float, d: float, seg: int) -> Manifold:
    """Cylinder along +X from x0, diameter d, axis through (y, z), mm."""
    return (
        Manifold.cylinder(length, d / 2.0, circular_segments=seg)
        .rotate((0.0, 90.0, 0.0))
        .translate((x0, y, z))
    )


def _cyl_y(x: float, y0: float, z: float, length: float, d: float, seg: int) -> Manifold:
    """Cylinder along +Y from y0, diameter d, axis through (x, z), mm."""
    return (
        Manifold.cylinder(length, d / 2.0, circular_segments=seg)
        .rotate((-90.0, 0.0, 0.0))
        .translate((x, y0, z))
    )


def _drill(rng: np.random.Generator, max_d: float) -> float:
    """A clearance or tap drill diameter no larger than ``max_d`` (mm)."""
    pool = [d for d in (*CLEARANCE_DRILLS_MM, *TAP_DRILLS_MM) if d <= max_d]
    return float(rng.choice(pool)) if pool else min(CLEARANCE_DRILLS_MM)


def _round(v: float, step: float = 0.5) -> float:
    """Round a dimension to a drawing-like step (mm)."""
    return max(step, round(v / step) * step)


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


# -- families --------------------------------------------------------------------------------


def _block(rng: np.random.Generator) -> Manifold:
    L = _round(_loguniform(rng, 25, 220))
    W = _round(L * rng.uniform(0.4, 1.0))
    H = _round(min(_loguniform(rng, 8, 90), 1.2 * W))
    part = _box(0, 0, 0, L, W, H)
    if rng.random() < 0.45 and H > 10:  # a step along one long edge
        sh = _round(H * rng.uniform(0.25, 0.6))
        sw = _round(W * rng.uniform(0.15, 0.35))
        part = part - _box(-1, W - sw, H - sh, L + 2, sw + 1, sh + 1)
        W_free = W - sw
    else:
        W_free = W
    for _ in range(int(rng.integers(0, 3))):  # pockets from the top
        pl = _round(L * rng.uniform(0.2, 0.5))
        pw = _round(W_free * rng.uniform(0.2, 0.5))
        pd = _round(min(H * rng.uniform(0.2, 0.7), H - 3.0))
        if pd < 1.0:
            continue
        x0 = rng.uniform(3, max(3.5, L - pl - 3))
        y0 = rng.uniform(3, max(3.5, W_free - pw - 3))
        part = part - _box(x0, y0, H - pd, pl, pw, pd + 1)
    n_holes = int(rng.integers(0, 9))
    for _ in range(n_holes):
        d = _drill(rng, min(13.5, 0.25 * min(L, W_free)))
        x = rng.uniform(d + 2, L - d - 2)
        y = rng.uniform(d + 2, max(d + 2.5, W_free - d - 2))
        if rng.random() < 0.6:  # through
            part = part - _cyl_z(x, y, -1, H + 2, d, _HOLE_SEGMENTS)
        else:
            depth = _round(min(rng.uniform(1.5, 4.0) * d, 0.8 * H))
            part = part - _cyl_z(x, y, H - depth, depth + 1, d, _HOLE_SEGMENTS)
    if rng.random() < 0.3 and H > 12:  # a side hole
        d = _drill(rng, min(11.0, 0.4 * H))
        part = part - _cyl_x(-1, W_free / 2, H / 2, min(L / 2, 6 * d), d, _HOLE_SEGMENTS)
    return part


def _plate(rng: np.random.Generator) -> Manifold:
    L = _round(_loguniform(rng, 40, 320))
    W = _round(L * rng.uniform(0.3, 1.0))
    T = float(rng.choice([3, 4, 5, 6, 8, 10, 12, 15, 20]))
    part = _box(0, 0, 0, L, W, T)
    nx, ny = int(rng.integers(1, 5)), int(rng.integers(1, 4))
    d = _drill(rng, 11.0)
    mx, my = min(max(2.5 * d, 0.1 * L), 0.3 * L), min(max(2.5 * d, 0.1 * W), 0.3 * W)
    xs = np.linspace(mx, L - mx, nx) if nx > 1 else [L / 2]
    ys = np.linspace(my, W - my, ny) if ny > 1 else [W / 2]
    for x in xs:
        for y in ys:
            part = part - _cyl_z(float(x), float(y), -1, T + 2, d, _HOLE_SEGMENTS)
    if rng.random() < 0.35 and T >= 6:  # a shallow pocket between the holes
        pl, pw = _round(0.4 * L), _round(0.3 * W)
        pd = _round(T * rng.uniform(0.3, 0.6))
        part = part - _box((L - pl) / 2, (W - pw) / 2, T - pd, pl, pw, pd + 1)
    elif rng.random() < 0.3:  # a through slot
        sl, sw = _round(0.3 * L), _round(max(4.0, 0.08 * W))
        part = part - _box((L - sl) / 2, (W - sw) / 2, -1, sl, sw, T + 2)
    return part


def _shaft(rng: np.random.Generator) -> Manifold:
    n_steps = int(rng.integers(2, 6))
    d_max = _round(_loguniform(rng, 8, 80))
    diameters = sorted(
        (_round(d_max * rng.uniform(0.45, 1.0)) for _ in range(n_steps - 1)), reverse=True
    )
    diameters = [d_max, *diameters]
    order = rng.permutation(n_steps)  # the largest step is not always at one end
    z = 0.0
    part: Manifold | None = None
    for k in order:
        length = _round(diameters[k] * rng.uniform(0.4, 2.0) + 3)
        seg = _cyl_z(0, 0, z, length, diameters[k], _TURNED_SEGMENTS)
        part = seg if part is None else part + seg
        z += length
    assert part is not None
    if rng.random() < 0.3:  # a cross hole through the smallest step's neighbour
        d = _drill(rng, 0.35 * min(diameters))
        zc = z * rng.uniform(0.2, 0.8)
        part = part - _cyl_x(-d_max, 0, zc, 2 * d_max, d, _HOLE_SEGMENTS)
    if rng.random() < 0.4:  # an axial centre hole (tapped end)
        d = _drill(rng, 0.4 * min(diameters[order[-1]], diameters[order[0]]))
        part = part - _cyl_z(0, 0, z - 2.5 * d, 2.5 * d + 1, d, _HOLE_SEGMENTS)
    return part


def _flange(rng: np.random.Generator) -> Manifold:
    D = _round(_loguniform(rng, 40, 260))
    T = _round(max(6.0, D * rng.uniform(0.06, 0.15)))
    part = _cyl_z(0, 0, 0, T, D, _TURNED_SEGMENTS)
    hub_d = _round(D * rng.uniform(0.35, 0.6))
    if rng.random() < 0.7:
        hub_h = _round(T * rng.uniform(0.6, 2.0))
        part = part + _cyl_z(0, 0, T - 0.01, hub_h + 0.01, hub_d, _TURNED_SEGMENTS)
        top = T + hub_h
    else:
        top = T
    bore = _round(hub_d * rng.uniform(0.4, 0.75))
    part = part - _cyl_z(0, 0, -1, top + 2, bore, _TURNED_SEGMENTS)
    n_bolts = int(rng.choice([4, 6, 8, 12]))
    d = _drill(rng, min(22.0, 0.12 * D))
    pcd = (D + hub_d) / 2
    for k in range(n_bolts):
        a = 2 * math.pi * k / n_bolts
        part = part - _cyl_z(pcd / 2 * math.cos(a), pcd / 2 * math.sin(a), -1, T + 2, d, 36)
    return part


def _bracket(rng: np.random.Generator) -> Manifold:
    W = _round(_loguniform(rng, 20, 150))
    L = _round(_loguniform(rng, 30, 200))
    Hh = _round(_loguniform(rng, 25, 180))
    t = float(rng.choice([3, 4, 5, 6, 8, 10, 12, 16]))
    part = _box(0, 0, 0, L, W, t) + _box(0, 0, 0, t, W, Hh)
    if rng.random() < 0.4 and W > 30:  # a gusset in the middle
        g = min(L, Hh) * 0.5
        gusset = Manifold.extrude(
            _triangle_cross_section(g), t, 1, 0.0, (1.0, 1.0)
        )  # extruded along Z, in the XY plane
        gusset = gusset.rotate((90.0, 0.0, 0.0)).translate((t - 0.01, W / 2 + t / 2, t - 0.01))
        part = part + gusset
    d = _drill(rng, min(11.0, 0.3 * W))
    for _ in range(int(rng.integers(1, 4))):  # holes in the base
        x = rng.uniform(t + d + 2, max(t + d + 2.5, L - d - 2))
        y = rng.uniform(d + 2, max(d + 2.5, W - d - 2))
        part = part - _cyl_z(x, y, -1, t + 2, d, _HOLE_SEGMENTS)
    for _ in range(int(rng.integers(1, 4))):  # holes in the upright
        y = rng.uniform(d + 2, max(d + 2.5, W - d - 2))
        z = rng.uniform(t + d + 2, max(t + d + 2.5, Hh - d - 2))
        part = part - _cyl_x(-1, y, z, t + 2, d, _HOLE_SEGMENTS)
    return part


def _triangle_cross_section(size: float) -> CrossSection:
    """A right triangle with legs ``size`` (mm) in the XY plane, for gussets."""
    return CrossSection([[(0.0, 0.0), (size, 0.0), (0.0, size)]])


def _housing(rng: np.random.Generator) -> Manifold:
    L = _round(_loguniform(rng, 40, 250))
    W = _round(L * rng.uniform(0.4, 1.0))
    H = _round(_loguniform(rng, 20, 120))
    wall = float(rng.choice([2, 2.5, 3, 4, 5, 6, 8]))
    floor = wall + float(rng.choice([0, 1, 2, 4]))
    part = _box(0, 0, 0, L, W, H) - _box(wall, wall, floor, L - 2 * wall, W - 2 * wall, H)
    d = _drill(rng, min(9.0, 0.6 * H))
    for _ in range(int(rng.integers(0, 5))):  # floor holes
        x = rng.uniform(wall + d + 2, L - wall - d - 2)
        y = rng.uniform(wall + d + 2, W - wall - d - 2)
        part = part - _cyl_z(x, y, -1, floor + 2, d, _HOLE_SEGMENTS)
    for _ in range(int(rng.integers(0, 3))):  # wall holes (connectors, cables)
        x = rng.uniform(wall + d + 2, L - wall - d - 2)
        z = rng.uniform(floor + d + 1, max(floor + d + 1.5, H - d - 2))
        part = part - _cyl_y(x, -1, z, wall + 2, d, _HOLE_SEGMENTS)
    return part


_BUILDERS: dict[str, Callable[[np.random.Generator], Manifold]] = {
    "block": _block,
    "plate": _plate,
    "shaft": _shaft,
    "flange": _flange,
    "bracket": _bracket,
    "housing": _housing,
}


def _to_trimesh(man: Manifold) -> trimesh.Trimesh:
    mesh = man.to_mesh()
    verts = np.asarray(mesh.vert_properties, dtype=np.float64)[:, :3]
    faces = np.asarray(mesh.tri_verts, dtype=np.int64)
    return trimesh.Trimesh(vertices=verts, faces=faces, process=True)


def generate_part(index: int, random_state: int, family: str | None = None) -> trimesh.Trimesh:
    """Part ``index`` of the corpus seeded ``random_state``: a watertight mesh in mm.

    ``family`` forces one of ``FAMILIES`` (otherwise drawn with the corpus frequencies).
    """
    rng = np.random.default_rng([random_state, index])
    fam = family or str(rng.choice(FAMILIES, p=_FAMILY_WEIGHTS / _FAMILY_WEIGHTS.sum()))
    if fam not in _BUILDERS:
        raise ValueError(f"unknown family {fam!r}; choose from {', '.join(FAMILIES)}")
    # Random cuts occasionally split a part in two (a slot meeting a hole row); draw again from
    # the same stream, which keeps the corpus deterministic.
    for _ in range(20):
        man = _BUILDERS[fam](rng)
        if len(man.decompose()) == 1 and man.volume() > 0:
            return _to_trimesh(man)
    raise RuntimeError(f"could not build a one-body {fam} for part {index}")  # pragma: no cover


def _family_of(index: int, random_state: int) -> str:
    rng = np.random.default_rng([random_state, index])
    return str(rng.choice(FAMILIES, p=_FAMILY_WEIGHTS / _FAMILY_WEIGHTS.sum()))


def generate_corpus(n_parts: int, random_state: int = 0) -> list[tuple[str, trimesh.Trimesh]]:
    """``n_parts`` generated parts as ``(name, mesh)``; names are ``<family>_<index:04d>``.

    Deterministic in ``random_state``; part i is the same for any ``n_parts > i``.
    """
    out = []
    for i in range(n_parts):
        fam = _family_of(i, random_state)
        out.append((f"{fam}_{i:04d}", generate_part(i, random_state, fam)))
    return out


def write_corpus(
    folder: str | Path,
    n_parts: int,
    random_state: int = 0,
    *,
    file_format: str = "stl",
) -> list[Path]:
    """Write ``generate_corpus(n_parts, random_state)`` to ``folder`` as ``<name>.stl`` (binary
    STL, mm) and return the paths in corpus order. Existing files of the same name are replaced.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, mesh in generate_corpus(n_parts, random_state):
        path = folder / f"{name}.{file_format}"
        mesh.export(path, file_type=file_format)
        paths.append(path)
    return paths


# -- synthetic histories ---------------------------------------------------------------------


@dataclass(frozen=True)
class PricedRow:
    """One synthetic history row: a part's name and features, the spec, and its physics estimate
    (the process-planning price, JPY per piece, and lead time, business days)."""

    part: str
    features: PartFeatures
    spec: QuoteSpec
    physics: PhysicsEstimate


# Explicit +-mm tolerances drawn besides the ISO 2768 classes (common drawing call-outs).
_EXPLICIT_TOLERANCES_MM = (0.1, 0.05, 0.03, 0.02, 0.01)
_ROUGHNESS_CHOICES = ((3.2, 0.65), (6.3, 0.1), (1.6, 0.17), (0.8, 0.08))


def random_specs(
    features: PartFeatures, n: int, rng: np.random.Generator, catalog: Catalog
) -> list[QuoteSpec]:
    """``n`` plausible requests for one part: any catalog material, a finish that applies to it
    (none 60% of the time), an ISO 2768 class or an explicit +-mm tolerance, a roughness, and a
    quantity log-uniform in 1..1000 pieces."""
    specs = []
    for _ in range(n):
        material = catalog.materials[int(rng.integers(len(catalog.materials)))]
        finishes = [f for f in compatible_finishes(catalog, material) if f.name != "none"]
        finish = "none"
        if finishes and rng.random() < 0.4:
            finish = finishes[int(rng.integers(len(finishes)))].name
        u = rng.random()
        if u < 0.45:
            tol_text = "ISO2768-m"
        elif u < 0.6:
            tol_text = "ISO2768-f"
        elif u < 0.7:
            tol_text = "ISO2768-c"
        else:
            tol_text = f"{float(rng.choice(_EXPLICIT_TOLERANCES_MM)):g}"
        tol = resolve_tolerance(catalog, tol_text, features.max_extent_mm)
        ra_values, ra_p = zip(*_ROUGHNESS_CHOICES, strict=True)
        ra = float(rng.choice(ra_values, p=np.array(ra_p) / sum(ra_p)))
        quantity = int(np.clip(round(np.exp(rng.uniform(0.0, np.log(1000.5)))), 1, 1000))
        specs.append(
            QuoteSpec(
                material=material.name,
                quantity=quantity,
                tolerance_label=tol.label,
                tolerance_mm=tol.mm,
                finish=finish,
                roughness_ra_um=ra,
            )
        )
    return specs


def physics_history(
    parts: Sequence[tuple[str, PartFeatures]],
    specs_per_part: int,
    random_state: int,
    catalog: Catalog,
) -> list[PricedRow]:
    """Random specs for each part, priced by the process-planning estimator (``costing``).

    Deterministic in ``random_state``; about ``len(parts) * specs_per_part`` rows (50 us each).
    """
    rng = np.random.default_rng([random_state, 7919])
    rows = []
    for name, feats in parts:
        for spec in random_specs(feats, specs_per_part, rng, catalog):
            rows.append(PricedRow(name, feats, spec, estimate(feats, spec, catalog)))
    return rows


# -- features --------------------------------------------------------------------------------


def corpus_features(
    meshes: Sequence[tuple[str, trimesh.Trimesh]],
    catalog: Catalog,
    *,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[tuple[str, PartFeatures]]:
    """Features of each generated mesh exactly as a quote would see its STL file.

    Each mesh goes through a temporary binary STL and ``quote.analysis.analyze_part`` (loading,
    repair, units, extraction), so the default model is trained on the features the engine
    computes at quote time. Parts the engine refuses (none are expected) are left out rather
    than stopping a training run.
    """
    out = []
    with tempfile.TemporaryDirectory(prefix="mitsumori-corpus-") as tmp:
        for i, (name, mesh) in enumerate(meshes):
            if progress is not None:
                progress(i, len(meshes), f"Measuring generated part {name}")
            path = Path(tmp) / f"{name}.stl"
            mesh.export(path, file_type="stl")
            try:
                analysis = analyze_part(path, catalog=catalog)
            except PartError:
                continue
            if len(analysis.items) == 1:
                out.append((name, analysis.items[0].features))
    return out
