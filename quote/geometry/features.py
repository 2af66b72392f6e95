"""Measure one body for costing: the front of the feature modules.

``extract_features`` derives the shared arrays once (``meshdata``), then asks each concern in
turn: ``extents`` (boxes), ``brep`` / ``cylinders`` (cylindrical surfaces), ``holes``, ``setups``
(access directions), ``walls``, ``corners``, ``pockets``, ``turning``, ``stock`` and ``faces``.
STEP bodies bring their exact B-rep (``body.shape``): holes, fillet radii and face counts come
from it; everything else is measured on the tessellation for every format, so a part gives the
same answers from STEP and from STL.

Cost (measured, see bench/feature_timings.py and bench/latency.py): about 2 ms for meshes of
0.5-1.5k triangles. The loops that numpy would run as dozens of small calls per stage are numba
kernels (compiled once per machine, cached next to the module); what remains is embree (its
scene build, ~0.1 us per triangle, and ~0.1 us per ray). Ray counts are bounded: one surface
sample per triangle (400-2000), an access ray only where a triangle facing the direction could
block it, one wall ray per sample, ~2000 rays per pocket height map, eight per hole.
Sampling is seeded: the same part always gives the same features.
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any, Protocol

import numpy as np
import trimesh
from threadpoolctl import ThreadpoolController

from quote.catalogs import Catalog, load_catalog
from quote.errors import NotASolid
from quote.geometry import cylinders as cyl_mod
from quote.geometry.brep import survey_faces
from quote.geometry.corners import min_internal_radius
from quote.geometry.extents import oriented_frame
from quote.geometry.faces import mesh_face_counts
from quote.geometry.holes import find_holes
from quote.geometry.meshdata import MeshData, sample_surface
from quote.geometry.pockets import deepest_pocket
from quote.geometry.setups import find_access
from quote.geometry.stock import choose_stock
from quote.geometry.turning import detect_turning
from quote.geometry.walls import min_wall
from quote.types import PartFeatures

SEED = 0
_MIN_SAMPLES = 400
_MAX_SAMPLES = 2000


class BodyLike(Protocol):
    """What ``extract_features`` reads of ``quote.geometry.loading.Body``."""

    @property
    def mesh(self) -> trimesh.Trimesh: ...

    @property
    def shape(self) -> Any: ...


def extract_features(
    body: BodyLike,
    *,
    source_format: str,
    file_sha256: str,
    catalog: Catalog | None = None,
    timings: dict[str, float] | None = None,
) -> PartFeatures:
    """Measure one body.

    Parameters
    ----------
    body : Body
        ``mesh``: closed triangle mesh in mm with outward normals; ``shape``: the exact OCP
        ``TopoDS_Shape`` in mm for STEP files, else None; ``pmi`` (optional): the file's
        semantic PMI on the body, copied into ``PartFeatures.pmi``.
    source_format : str
        "step", "stl", "obj", ... (copied into the result).
    file_sha256 : str
        Hash of the source file (with the body index for multi-body files).
    catalog : Catalog, optional
        Stock sizes and standard drills; the repository's default catalog when None.
    timings : dict, optional
        When given, filled with the seconds each stage took (for the latency benchmark).

    Returns
    -------
    PartFeatures
        Every field documented in ``quote.types.PartFeatures`` (mm, mm^2, mm^3).

    Raises
    ------
    NotASolid
        The mesh has no area or no volume.
    """
    catalog = catalog if catalog is not None else load_catalog()
    # Our matrix products are small ((n, 3) @ (3, k)); a multi-threaded BLAS spends more time
    # waking its threads than computing (5 ms instead of 0.2 ms for 11k x 3 @ 3 x 30 here).
    with _blas_controller().limit(limits=1, user_api="blas"):
        return _extract(body, source_format, file_sha256, catalog, timings)


@lru_cache(maxsize=1)
def _blas_controller() -> ThreadpoolController:
    return ThreadpoolController()


def _extract(
    body: BodyLike,
    source_format: str,
    file_sha256: str,
    catalog: Catalog,
    timings: dict[str, float] | None,
) -> PartFeatures:
    clock = _Clock(timings)
    mesh = body.mesh
    if len(mesh.faces) < 4:
        raise NotASolid("The body has fewer than 4 triangles: it does not enclose a volume.")
    md = MeshData.from_trimesh(mesh, adjacency=getattr(body, "face_adjacency", None))
    volume = abs(md.volume)
    if not md.total_area > 0 or not volume > 0:
        raise NotASolid("The body has no volume: it is a surface, not a solid.")
    clock("mesh")
    frame = oriented_frame(md.vertices, md.normals, md.areas)
    bbox = frame.bbox
    clock("extents")

    survey = survey_faces(body.shape) if getattr(body, "shape", None) is not None else None
    cyl_label = None
    # STEP files without analytic cylinders but with free-form faces (Rhino exports every face
    # as a B-spline) have their holes fitted on the tessellation like a mesh's.
    if survey is not None and not _freeform(survey.face_counts):
        cylinders = cyl_mod.from_brep(survey.cylinders)
    else:
        axes = cyl_mod.candidate_axes(md, frame.rotation)
        cylinders, cyl_label = cyl_mod.from_mesh(md, axes)
        cylinders = cyl_mod.merge_coaxial(cylinders, tol=1e-4 * md.scale)
    clock("cylinders")
    holes = find_holes(cylinders, md, frame, catalog.match_drill)
    clock("holes")

    n_samples = int(np.clip(len(md.faces), _MIN_SAMPLES, _MAX_SAMPLES))
    points, normals, weights, _ = sample_surface(md, n_samples, seed=SEED)
    access = find_access(md, frame, points, normals, weights, holes)
    clock("setups")
    wall, wall_loc = min_wall(md, points, normals)
    if not np.isfinite(wall):
        wall, wall_loc = min(frame.extents), None
    clock("walls")
    radius, radius_loc = min_internal_radius(md, cylinders, access.vectors)
    clock("corners")
    pocket = deepest_pocket(md, frame, access.vectors, holes, points, normals)
    clock("pockets")
    turning = detect_turning(md, frame, cylinders, holes)
    clock("turning")

    obb = frame.sorted_extents
    stock = choose_stock(
        obb,
        catalog.stock,
        turned_diameter_mm=turning.diameter_mm if turning.turned else None,
        turned_length_mm=turning.length_mm if turning.turned else None,
    )
    if survey is not None:
        face_counts = dict(survey.face_counts)
    else:
        if cyl_label is None:  # pragma: no cover - meshes always take the fitted branch
            cyl_label = np.full(len(md.faces), -1)
        face_counts = mesh_face_counts(md, cyl_label)
    clock("faces")

    return PartFeatures(
        volume_mm3=volume,
        area_mm2=md.total_area,
        bbox_mm=(float(bbox[0]), float(bbox[1]), float(bbox[2])),
        obb_mm=obb,
        stock=stock,
        removed_volume_mm3=max(stock.volume_mm3 - volume, 0.0),
        holes=holes,
        setups=access.setups,
        access_directions=access.directions,
        unreachable_area_mm2=access.unreachable_area_mm2,
        min_wall_mm=float(wall),
        min_wall_location_mm=wall_loc,
        min_internal_radius_mm=radius,
        min_internal_radius_location_mm=radius_loc,
        max_pocket_depth_mm=pocket.depth_mm,
        max_pocket_width_mm=pocket.width_mm,
        pocket_location_mm=pocket.location_mm,
        process=turning.process,
        axisymmetry=turning.axisymmetry,
        face_counts=face_counts,
        triangle_count=len(md.faces),
        source_format=source_format,
        file_sha256=file_sha256,
        pmi=getattr(body, "pmi", None),
    )


class _Clock:
    """Records the seconds since the previous call under a stage name (no-op without a dict)."""

    def __init__(self, out: dict[str, float] | None) -> None:
        self.out = out
        self.last = time.perf_counter()

    def __call__(self, stage: str) -> None:
        if self.out is None:
            return
        now = time.perf_counter()
        self.out[stage] = self.out.get(stage, 0.0) + now - self.last
        self.last = now


def _freeform(counts: dict[str, int]) -> bool:
    return counts["cylinder"] == 0 and counts["bspline"] + counts["other"] > 0
