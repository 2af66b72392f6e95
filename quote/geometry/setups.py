"""Setups and access directions: from which of the six box directions a tool reaches the surface.

A surface point is reachable from direction d (the tool comes from the d side, pointing along -d)
when its normal does not face away from d (walls, n.d = 0, are cut by the side of an end mill)
and a ray from the point towards d leaves the part without hitting it. The setups are the
fewest directions that together reach (nearly) all reachable area and every hole's entry; what
no direction reaches is reported as unreachable area (it needs a 4th/5th axis or EDM).

Only the rays that could be blocked are cast (``_rays_to_cast``): a ray can only be stopped by
a triangle it enters head-on, so a ray with no such triangle ahead of it across its path (on a
16 x 16 grid per direction) reaches by construction. That is most rays (a plate's top face
looking up or sideways, a shaft's outside looking out); the rays cast are mostly the ones that
are blocked, and the answer is the one casting every ray gives. The loops around the rays are
numba kernels: on 2000 samples numpy's per-call cost was most of the stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
from numba import njit

from quote.geometry.extents import DIRECTION_LABELS, Frame
from quote.geometry.meshdata import MeshData
from quote.types import Hole

# Preference among equally good setups: machine from the top first, then the bottom, then sides.
_PREFERENCE = (4, 5, 0, 1, 2, 3)  # +Z, -Z, +X, -X, +Y, -Y
# A face tilted away from d by less than this (as n.d, ~6 degrees) still counts as a wall: the
# facets of a tessellated vertical wall lean a few degrees either way.
_FACING_TOL = -0.1
_GRAZE_COS = 0.1
# Share of the reachable area a set of directions may leave uncovered (sampling noise).
_COVER_SLACK = 0.001
_PARALLEL_COS = np.cos(np.radians(2.0))
# Rays passing this share of the part's diagonal beside a triangle miss it for sure (embree's
# float32 rounding is ~1e-7 of the diagonal; samples sit 1e-4 of it off their face).
_ESCAPE_MARGIN = 1e-5
# Grid cells along each side of the map of blocking triangles that decides which rays to cast,
# and how much wider than the cast test (n.d < -0.1) a triangle counts as blocking there.
_CULL_CELLS = 16
_CULL_SLACK = 1e-6
# The 64 sets of directions as bit masks (bit k = direction k of DIRECTION_LABELS): their
# size, whether two sets share a direction, and their rank in preference order (smaller sets,
# then sets of preferred directions).
_MASKS = np.arange(64)
_SIZE = np.array([bin(m).count("1") for m in range(64)])
_MEETS = ((_MASKS[:, None] & _MASKS[None, :]) != 0).astype(np.float64)
_RANK = np.zeros(64, dtype=np.int64)
for _i, _m in enumerate(
    sum(1 << k for k in combo) for size in range(1, 7) for combo in combinations(_PREFERENCE, size)
):
    _RANK[_m] = _i


@dataclass(frozen=True)
class Access:
    """directions: labels of the chosen setup directions, in preference order.
    vectors: (k, 3) their unit vectors in file coordinates.
    unreachable_area_mm2: sampled area no box direction reaches, mm^2.
    reach: (n, 6) bool reachability of each sample from +X, -X, +Y, -Y, +Z, -Z."""

    directions: tuple[str, ...]
    vectors: np.ndarray
    unreachable_area_mm2: float
    reach: np.ndarray

    @property
    def setups(self) -> int:
        return max(1, len(self.directions))


def find_access(
    md: MeshData,
    frame: Frame,
    points: np.ndarray,
    normals: np.ndarray,
    weights: np.ndarray,
    holes: tuple[Hole, ...] = (),
) -> Access:
    """Choose setup directions from surface samples.

    Parameters
    ----------
    md : MeshData
    frame : Frame
        The box frame whose six axis directions are the candidates.
    points, normals, weights : (n, 3), (n, 3), (n,)
        Surface samples (mm), their outward normals and the area each stands for (mm^2).
    holes : tuple of Hole
        Each hole along a frame axis must be drillable from a chosen direction.
    """
    dirs = frame.directions()
    cos = normals @ dirs.T  # (n, 6)
    cand = cos > _FACING_TOL
    eps = 1e-4 * md.scale
    origins = points + normals * eps
    # Only rays that may meet a blocking surface are cast; the others reach by construction.
    center = frame.rotation @ frame.center  # frame coordinates, mm
    sample, direction, ahead, ray_origins, ray_directions = _rays_to_cast(
        origins,
        cand,
        dirs,
        frame.rotation,
        center - frame.extents / 2.0,
        center + frame.extents / 2.0,
        md.vertices,
        md.faces,
        md.normals,
        _ESCAPE_MARGIN * md.scale,
        _CULL_CELLS,
    )
    blocked = _blocked(md, ray_origins, ray_directions, ahead, eps)
    reach, bits = _reach(cand, sample, direction, blocked)
    total = float(weights.sum())
    unreachable = float(weights[bits == 0].sum())
    reachable = total - unreachable
    # Area per reachability pattern (6 bits), then the area every set of directions covers.
    pattern_area = np.bincount(bits, weights=weights, minlength=64)
    covered = _MEETS @ pattern_area
    ok = covered >= reachable * (1.0 - _COVER_SLACK)
    ok[0] = False
    need = _hole_requirements(holes, dirs)
    if len(need):
        ok &= ((_MASKS[:, None] & need[None, :]) != 0).all(axis=1)
    best: tuple[int, ...] = (_PREFERENCE[0],)
    if ok.any():
        pool = np.flatnonzero(ok & (_SIZE == _SIZE[ok].min()))
        # Most area first (to sampling precision); on ties the preferred directions.
        share = np.round(covered[pool] / max(total, 1e-300), 6)
        m = int(pool[np.lexsort((_RANK[pool], -share))[0]])
        best = tuple(k for k in range(6) if (m >> k) & 1)
    best = tuple(k for k in _PREFERENCE if k in best)
    return Access(
        directions=tuple(DIRECTION_LABELS[k] for k in best),
        vectors=dirs[list(best)],
        unreachable_area_mm2=unreachable,
        reach=reach,
    )


@njit(cache=True, nogil=True)
def _rays_to_cast(
    origins: np.ndarray,
    cand: np.ndarray,
    directions: np.ndarray,
    rotation: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    vertices: np.ndarray,
    faces: np.ndarray,
    normals: np.ndarray,
    margin: float,
    cells: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The (sample, direction) rays that may be blocked, so must be cast.

    Only a triangle the ray enters head-on blocks it, and a ray along a frame axis meets a
    triangle only where the triangle's extent across the axis covers the ray and its extent
    along the axis reaches past the ray's start. So for each of the six directions the
    triangles that would block it are binned on a cells x cells grid across its axis (over
    the part's frame box), each cell keeping how far along the direction they reach; a ray
    whose cell has nothing ahead of its start is not cast: a sample on a plate's top face
    looking up or sideways, on a pocket floor looking up (no downward face above it), on the
    outside of a shaft looking out. Triangle extents are widened by ``margin`` (mm, far above
    embree's float32 rounding and the frame box's), so a ray that grazes one is cast.

    Parameters
    ----------
    origins : (n, 3) float
        Ray origins, mm (the samples, lifted off the surface).
    cand : (n, 6) bool
        Rays to consider (the sample does not face away from the direction).
    directions : (6, 3) float
        Unit vectors of the directions: +X, -X, +Y, -Y, +Z, -Z of the frame.
    rotation : (3, 3) float
        Frame axes (rows); the directions are +X, -X, +Y, -Y, +Z, -Z of the frame.
    lo, hi : (3,) float
        The part's box in frame coordinates, mm.
    vertices, faces, normals : (V, 3) float, (F, 3) int, (F, 3) float
        The mesh (mm) and its outward unit normals.
    margin : float
        Tolerance, mm.
    cells : int
        Grid cells along each side.

    Returns
    -------
    sample, direction : (m,) int
        The rays to cast, by sample (row-major, as ``np.nonzero(cand & ...)``).
    ahead : (m,) float
        How far (mm) each ray may travel before nothing can block it any more.
    ray_origins, ray_directions : (m, 3) float
        Their origins (mm) and unit directions.
    """
    g_lo, g_hi = lo - margin, hi + margin
    inv = cells / np.maximum(g_hi - g_lo, 1e-300)
    top = cells - 1
    vloc = np.empty((vertices.shape[0], 3))
    for p in range(vertices.shape[0]):
        x, y, z = vertices[p, 0], vertices[p, 1], vertices[p, 2]
        for a in range(3):
            vloc[p, a] = x * rotation[a, 0] + y * rotation[a, 1] + z * rotation[a, 2]
    # reach[k, c1, c2]: how far along direction k (signed frame coordinate) the triangles
    # that block k reach over grid cell (c1, c2) across its axis (-inf: none there).
    reach = np.full((6, cells, cells), -np.inf)
    tlo, thi = np.empty(3), np.empty(3)
    for f in range(faces.shape[0]):
        p, q, r = faces[f, 0], faces[f, 1], faces[f, 2]
        for a in range(3):
            x0, x1, x2 = vloc[p, a], vloc[q, a], vloc[r, a]
            tlo[a] = min(x0, x1, x2) - margin
            thi[a] = max(x0, x1, x2) + margin
        n0, n1, n2 = normals[f, 0], normals[f, 1], normals[f, 2]
        for j in range(3):
            nj = n0 * rotation[j, 0] + n1 * rotation[j, 1] + n2 * rotation[j, 2]
            # Blocks +axis when it faces down it, -axis when up (a hair wider than the
            # cast test, which rounds differently).
            if nj < -_GRAZE_COS + _CULL_SLACK:
                k, ext = 2 * j, thi[j]
            elif nj > _GRAZE_COS - _CULL_SLACK:
                k, ext = 2 * j + 1, -tlo[j]
            else:
                continue
            a1 = j + 1 if j < 2 else 0
            a2 = j + 2 if j < 1 else j - 1
            # Truncation is floor (and monotonic) for the values >= 0 it keeps.
            i0 = max(int((tlo[a1] - g_lo[a1]) * inv[a1]), 0)
            i1 = min(int((thi[a1] - g_lo[a1]) * inv[a1]), top)
            j0 = max(int((tlo[a2] - g_lo[a2]) * inv[a2]), 0)
            j1 = min(int((thi[a2] - g_lo[a2]) * inv[a2]), top)
            for c1 in range(i0, i1 + 1):
                for c2 in range(j0, j1 + 1):
                    if ext > reach[k, c1, c2]:
                        reach[k, c1, c2] = ext
    ahead_all = np.full((origins.shape[0], 6), -1.0)
    m = 0
    c = np.empty(3, dtype=np.int64)
    along = np.empty(3)
    for i in range(origins.shape[0]):
        x, y, z = origins[i, 0], origins[i, 1], origins[i, 2]
        for a in range(3):
            t = x * rotation[a, 0] + y * rotation[a, 1] + z * rotation[a, 2]
            along[a] = t
            # Beside the part's box (widened): no triangle there (-1).
            c[a] = min(int((t - g_lo[a]) * inv[a]), top) if g_lo[a] <= t <= g_hi[a] else -1
        for k in range(6):
            if not cand[i, k]:
                continue
            j = k >> 1
            c1 = c[j + 1 if j < 2 else 0]
            c2 = c[j + 2 if j < 1 else j - 1]
            if c1 < 0 or c2 < 0:
                continue
            room = reach[k, c1, c2] - (along[j] if k % 2 == 0 else -along[j])
            if room >= 0.0:
                ahead_all[i, k] = room
                m += 1
    sample = np.empty(m, dtype=np.int64)
    direction = np.empty(m, dtype=np.int64)
    ahead = np.empty(m)
    ray_origins = np.empty((m, 3))
    ray_directions = np.empty((m, 3))
    row = 0
    for i in range(origins.shape[0]):
        for k in range(6):
            if ahead_all[i, k] >= 0.0:
                sample[row], direction[row], ahead[row] = i, k, ahead_all[i, k]
                for d in range(3):
                    ray_origins[row, d] = origins[i, d]
                    ray_directions[row, d] = directions[k, d]
                row += 1
    return sample, direction, ahead, ray_origins, ray_directions


def _blocked(
    md: MeshData, origins: np.ndarray, directions: np.ndarray, ahead: np.ndarray, step: float
) -> np.ndarray:
    """(n,) bool: does each ray meet material that stops a tool coming along it?

    Only a surface the ray enters head-on (n.d < -0.1) blocks it. Exporters zig-zag vertical
    B-spline walls by a few degrees, so a ray running up such a wall grazes a facet (|n.d| <
    0.1), slips a hair into the material and leaves it again (n.d > 0) at the wall's top: both
    are passed (up to 4 surfaces per ray). A ray that has gone further than ``ahead`` (mm)
    has passed every surface that could block it and is not cast again.
    """
    blocked = np.zeros(len(origins), dtype=bool)
    live = np.arange(len(origins))
    o, d, room = origins, directions, ahead
    for _ in range(4):
        if len(live) == 0:
            break
        tri, dist = md.first_hit(o, d)
        live, o, d, room = _pass_surfaces(tri, dist, md.normals, live, o, d, room, step, blocked)
    return blocked


@njit(cache=True, nogil=True)
def _pass_surfaces(
    tri: np.ndarray,
    dist: np.ndarray,
    normals: np.ndarray,
    live: np.ndarray,
    origins: np.ndarray,
    directions: np.ndarray,
    room: np.ndarray,
    step: float,
    blocked: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mark the rays that entered their hit head-on in ``blocked`` (by ``live`` index); move
    the others that hit something just past it (``step`` mm) and return them (index, origin,
    direction, room left) unless they have left all blocking surfaces behind."""
    n = len(live)
    go_on = np.zeros(n, dtype=np.bool_)
    m = 0
    for r in range(n):
        t = tri[r]
        if t < 0:
            continue
        facing = (
            normals[t, 0] * directions[r, 0]
            + normals[t, 1] * directions[r, 1]
            + normals[t, 2] * directions[r, 2]
        )
        if facing < -_GRAZE_COS:
            blocked[live[r]] = True
        elif dist[r] + step <= room[r]:
            go_on[r] = True
            m += 1
    nxt = np.empty(m, dtype=np.int64)
    o = np.empty((m, 3))
    d = np.empty((m, 3))
    left = np.empty(m)
    q = 0
    for r in range(n):
        if go_on[r]:
            nxt[q] = live[r]
            move = dist[r] + step
            for c in range(3):
                o[q, c] = origins[r, c] + directions[r, c] * move
                d[q, c] = directions[r, c]
            left[q] = room[r] - move
            q += 1
    return nxt, o, d, left


@njit(cache=True, nogil=True)
def _reach(
    cand: np.ndarray, sample: np.ndarray, direction: np.ndarray, blocked: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(n, 6) reachability (candidates not blocked) and its (n,) 6-bit patterns."""
    reach = cand.copy()
    for r in range(len(sample)):
        if blocked[r]:
            reach[sample[r], direction[r]] = False
    bits = np.zeros(len(cand), dtype=np.int64)
    for i in range(len(cand)):
        for k in range(6):
            if reach[i, k]:
                bits[i] |= 1 << k
    return reach, bits


def _hole_requirements(holes: tuple[Hole, ...], dirs: np.ndarray) -> np.ndarray:
    """Bit masks of the directions each hole along a frame axis can be drilled from (each
    distinct mask once; angled holes need an indexed setup and ask for none)."""
    if not holes:
        return np.zeros(0, dtype=np.int64)
    axes = np.array([h.axis for h in holes], dtype=np.float64)
    entry = dirs @ -axes.T > _PARALLEL_COS  # (6, k): tool comes from the side opposite to drilling
    first = np.argmax(entry, axis=0)
    # +X <-> -X etc.: a through hole can be drilled from either end.
    through = np.array([h.through for h in holes])
    bits = (1 << first) | np.where(through, 1 << (first ^ 1), 0)
    return np.unique(bits[entry.any(axis=0)])
