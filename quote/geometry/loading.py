"""Reading a part file into bodies: closed triangle meshes in mm (and the exact B-rep for STEP).

``load_part`` is the front door of the geometry package. It runs, in order:

1. ``preflight``: suffix, size and a look at the bytes (refuses empty, oversized, truncated
   and foreign files before parsing);
2. the parse: OpenCASCADE for STEP (``step.py``), trimesh for meshes (``mesh_io.py``), each
   format's path being ``step_loading.py`` or ``mesh_loading.py``;
3. for meshes, the check-and-repair of ``repair.py`` (cheap when the mesh is already sound);
   for STEP, a fast tessellation of each solid;
4. shells and solids into bodies (``bodies.py``): touching or overlapping ones are one part,
   separate ones are separate line items;
5. the size check of ``units.py``: out-of-range parts and unitless meshes whose size says
   "inches" (or metres) are refused with the units to pass.

Every problem comes back either as a typed error from ``quote.errors`` (the part cannot be
quoted) or as a ``DfmWarning`` on the result (it can, and the user should know what was done).
What it returns, and the steps both paths share, are in ``loaded.py``.
"""

from __future__ import annotations

from pathlib import Path

from quote.geometry.loaded import Body, LoadedPart
from quote.geometry.mesh_loading import load_mesh
from quote.geometry.preflight import SUPPORTED_SUFFIXES, preflight
from quote.geometry.step_loading import load_step
from quote.geometry.units import parse_units

# Body and LoadedPart are defined in loaded.py (the mesh and STEP paths build them) and exported
# from here, the package's front door, where callers have always imported them.
__all__ = ["SUPPORTED_SUFFIXES", "Body", "LoadedPart", "load_part"]


def load_part(
    path: str | Path,
    *,
    units: str | None = None,
    max_bytes: int = 100 * 2**20,
    max_triangles: int = 2_000_000,
    pmi: bool = True,
) -> LoadedPart:
    """Read a part file (STEP, STL, OBJ, PLY, 3MF, GLB) into bodies in millimetres.

    Parameters
    ----------
    path : str or Path
        The part file; the format is taken from the suffix (case-insensitive).
    units : str, optional
        Unit of a mesh file's coordinates: "mm" (default for STL, OBJ, PLY), "cm", "m",
        "inch" / "in". 3MF and GLB declare theirs (glTF: metres) and STEP converts its own,
        so for those it overrides the file only for meshes and is ignored for STEP.
    max_bytes : int
        Largest file accepted, bytes (checked before reading).
    max_triangles : int
        Largest mesh accepted, triangles (binary STL and PLY: checked from the header).
    pmi : bool
        Read a STEP file's semantic PMI (AP242 GD&T) onto its bodies when it has any; False
        reads the shapes only, as for a file without PMI.

    Returns
    -------
    LoadedPart

    Raises
    ------
    InvalidUnits, UnsupportedFormat, PartNotFound, EmptyPart, UnreadablePart, PartTooLarge,
    NotASolid, PartSizeOutOfRange, SuspectUnits
        See ``quote.errors``; each message says what is wrong and what to do.
    """
    chosen = parse_units(units) if units is not None else None
    info = preflight(path, max_bytes=max_bytes, max_triangles=max_triangles)
    if info.source_format == "step":
        return load_step(info, chosen, pmi)
    return load_mesh(info, chosen, max_triangles)
