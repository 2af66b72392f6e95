"""The arrays the feature stages read (mesh data, box frame, surface samples, cylinders, holes),
derived from a mesh the way ``quote.geometry.features.extract_features`` derives them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

from quote.catalogs import load_catalog
from quote.geometry import cylinders as cyl_mod
from quote.geometry.cylinders import Cylinders
from quote.geometry.extents import Frame, oriented_frame
from quote.geometry.features import _MAX_SAMPLES, _MIN_SAMPLES, SEED
from quote.geometry.holes import find_holes
from quote.geometry.meshdata import MeshData, sample_surface
from quote.types import Hole


@dataclass(frozen=True)
class FeatureInputs:
    """md, frame; points, normals, weights: surface samples (mm, unit, mm^2); cylinders; holes."""

    md: MeshData
    frame: Frame
    points: np.ndarray
    normals: np.ndarray
    weights: np.ndarray
    cylinders: Cylinders
    holes: tuple[Hole, ...]


def feature_inputs(mesh: trimesh.Trimesh) -> FeatureInputs:
    """What the stages after ``holes`` receive for ``mesh`` (closed, mm)."""
    md = MeshData.from_trimesh(mesh)
    frame = oriented_frame(md.vertices, md.normals, md.areas)
    cylinders, _ = cyl_mod.from_mesh(md, cyl_mod.candidate_axes(md, frame.rotation))
    cylinders = cyl_mod.merge_coaxial(cylinders, tol=1e-4 * md.scale)
    holes = find_holes(cylinders, md, frame, load_catalog().match_drill)
    n = int(np.clip(len(md.faces), _MIN_SAMPLES, _MAX_SAMPLES))
    points, normals, weights, _ = sample_surface(md, n, seed=SEED)
    return FeatureInputs(md, frame, points, normals, weights, cylinders, holes)
