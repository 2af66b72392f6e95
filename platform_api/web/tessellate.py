"""A part's triangles for the browser's 3D view: every body of the file as one binary STL, in mm.

Runs in the analysis worker processes (STEP tessellation takes OpenCASCADE seconds), so this
module imports only the quote engine, never the web stack.
"""

from __future__ import annotations

from typing import cast

import trimesh

from quote.geometry.loading import load_part


def part_stl(path: str, units: str | None, max_bytes: int) -> bytes:
    """Binary STL of all bodies of the part file at ``path``, in millimetres.

    Parameters
    ----------
    path
        The stored part file (STEP, STL, OBJ, PLY, 3MF, GLB).
    units
        The units the part was uploaded with (None: the file's own), so the mesh lines up with
        the DFM locations of the analysis (mm, in the file's coordinates).
    max_bytes
        Largest file accepted, bytes.

    Returns
    -------
    bytes
        Binary STL (80-byte header, uint32 count, 50 bytes per triangle).
    """
    loaded = load_part(path, units=units, max_bytes=max_bytes)
    meshes = [b.mesh for b in loaded.bodies]
    # concatenate() is annotated as returning the abstract Geometry; for meshes it is a Trimesh
    mesh = (
        meshes[0] if len(meshes) == 1 else cast(trimesh.Trimesh, trimesh.util.concatenate(meshes))
    )
    data = mesh.export(file_type="stl")
    assert not isinstance(data, dict)  # export() returns a dict only for multi-file formats
    return data if isinstance(data, bytes) else data.encode()
