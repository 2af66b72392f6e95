"""STEP files through OpenCASCADE: the solids in millimetres, their names, and a fast mesh.

The reader is ``STEPControl_Reader`` (no XCAF document: names come from the transfer map,
colours and layers are not needed), which converts the file's length unit to millimetres.
A file whose text names GD&T entities is read by ``STEPCAFControl_Reader`` in GD&T mode
instead (only that: no colours, layers or names), whose own ``STEPControl_Reader`` gives the
same shapes and names, and the PMI comes out of its XCAF document (``pmi.py``): one read.
Only solids are parts: loose surfaces, curves and points (construction geometry, PMI planes)
are counted and ignored. A file of closed shells without solid entities (a "shell based surface
model") is accepted by making solids of them.

Tessellation is the cost that counts against the issue's latency benchmark (a quote within 2x
the bare read), so it is one ``BRepMesh_IncrementalMesh`` call over all solids, in parallel,
with a chord deflection of 0.1% of the part's diagonal (at most 0.5 mm) and 0.5 rad angular
deflection: mesh volumes stay within 1% of the exact B-rep volumes on the NIST and other real
parts. Triangles are pulled out by OpenCASCADE's own STL writer into memory (one C++ loop that
honours face orientation and locations) instead of a Python loop over nodes, which is ~10x
slower.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from OCP.Bnd import Bnd_Box
from OCP.BRep import BRep_Builder, BRep_Tool
from OCP.BRepBndLib import BRepBndLib
from OCP.BRepBuilderAPI import BRepBuilderAPI_MakeSolid
from OCP.BRepMesh import BRepMesh_IncrementalMesh
from OCP.IFSelect import IFSelect_ReturnStatus
from OCP.IMeshTools import IMeshTools_Parameters
from OCP.Message import Message
from OCP.OCP.collections import Sequence_TCollection_AsciiString
from OCP.STEPControl import STEPControl_Reader
from OCP.StlAPI import StlAPI_Writer
from OCP.TopAbs import TopAbs_EDGE, TopAbs_FACE, TopAbs_SHELL, TopAbs_SOLID, TopAbs_VERTEX
from OCP.TopExp import TopExp_Explorer
from OCP.TopLoc import TopLoc_Location
from OCP.TopoDS import TopoDS, TopoDS_Compound, TopoDS_Shape

from quote.errors import EmptyPart, NotASolid, UnreadablePart
from quote.geometry.units import UNIT_SCALE_MM

FloatArray = np.ndarray
IntArray = np.ndarray

#: Chord deflection as a share of the part's box diagonal, and its bounds, mm.
LINEAR_DEFLECTION_SHARE = 1e-3
MAX_LINEAR_DEFLECTION_MM = 0.5
MIN_LINEAR_DEFLECTION_MM = 1e-3
#: Angular deflection, radians.
ANGULAR_DEFLECTION_RAD = 0.5

_STL_RECORD = np.dtype([("normal", "<f4", (3,)), ("vertices", "<f4", (3, 3)), ("attr", "<u2")])

# Length unit names as OpenCASCADE reports them from the file (upper or lower case). An SI
# metre without prefix comes back as an empty name.
_FILE_UNITS = {
    "": "m",
    "metre": "m",
    "meter": "m",
    "millimetre": "mm",
    "millimeter": "mm",
    "centimetre": "cm",
    "centimeter": "cm",
    "inch": "inch",
    "in": "inch",
}


@dataclass(frozen=True)
class StepSolid:
    """One solid of the file: the OCP shape (mm) and its name in the file, if any."""

    shape: Any
    name: str | None


@dataclass
class StepFile:
    """What the reader found.

    solids : the solids, in file order. units : the file's length unit ("mm", "inch", ...).
    parse_seconds : time of ``ReadFile`` + ``TransferRoots``, s.
    ignored : counts of geometry outside any solid ("shells", "faces", "edges").
    from_shells : number of solids made from closed shells (surface models).
    pmi : the file's semantic PMI (faces as OCP shapes), None when not asked for or absent.
    """

    solids: list[StepSolid]
    units: str
    parse_seconds: float
    ignored: dict[str, int] = field(default_factory=dict)
    from_shells: int = 0
    pmi: Any | None = None


def _count(shape: TopoDS_Shape, find: Any, avoid: Any | None = None) -> int:
    exp = TopExp_Explorer(shape, find) if avoid is None else TopExp_Explorer(shape, find, avoid)
    n = 0
    while exp.More():
        n += 1
        exp.Next()
    return n


def _shapes(shape: TopoDS_Shape, find: Any, avoid: Any | None = None) -> list[TopoDS_Shape]:
    exp = TopExp_Explorer(shape, find) if avoid is None else TopExp_Explorer(shape, find, avoid)
    out = []
    while exp.More():
        out.append(exp.Current())
        exp.Next()
    return out


def _file_units(reader: STEPControl_Reader) -> str:
    lengths = Sequence_TCollection_AsciiString()
    angles = Sequence_TCollection_AsciiString()
    solid_angles = Sequence_TCollection_AsciiString()
    try:
        reader.FileUnits(lengths, angles, solid_angles)
    except Exception:  # noqa: BLE001 - units are informative; the reader already converted
        return "mm"
    if lengths.Length() == 0:
        return "mm"
    raw = lengths.Value(1).ToCString().strip()
    return _FILE_UNITS.get(raw.lower(), raw.lower() or "mm")


def _entity_name(reader: STEPControl_Reader, shape: TopoDS_Shape) -> str | None:
    """The name the file gives a solid: its product's name, or the B-rep's own label."""
    try:
        entity = reader.WS().TransferReader().EntityFromShapeResult(shape, 1)
    except Exception:  # noqa: BLE001 - names are a nicety; never fail a read over them
        return None
    if entity is None:
        return None
    name = ""
    try:
        if hasattr(entity, "RelatedProductDefinition"):
            product = entity.RelatedProductDefinition().Formation().OfProduct()
            name = product.Name().ToCString()
        if not name and hasattr(entity, "Name"):
            name = entity.Name().ToCString()
    except Exception:  # noqa: BLE001
        return None
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name or None


_console_silenced = False


def _silence_occt_console() -> None:
    """Stop OpenCASCADE printing reader diagnostics to stdout (once per process).

    They would corrupt ``--json`` output and batch files; what matters is reported through the
    engine's typed errors and warnings instead.
    """
    global _console_silenced
    if _console_silenced:
        return
    messenger = Message.DefaultMessenger_s()
    for printer in list(messenger.Printers()):
        messenger.RemovePrinter(printer)
    _console_silenced = True


def _caf_reader(path: Path) -> tuple[Any, Any, IFSelect_ReturnStatus]:
    """An XCAF reader in GD&T mode (nothing else) and its document, after ``ReadFile``."""
    from OCP.STEPCAFControl import STEPCAFControl_Reader
    from OCP.TCollection import TCollection_ExtendedString
    from OCP.TDocStd import TDocStd_Document

    caf = STEPCAFControl_Reader()
    caf.SetGDTMode(True)
    for off in (
        caf.SetColorMode,
        caf.SetNameMode,
        caf.SetLayerMode,
        caf.SetPropsMode,
        caf.SetSHUOMode,
        caf.SetMatMode,
        caf.SetViewMode,
    ):
        off(False)
    doc = TDocStd_Document(TCollection_ExtendedString("MDTV-XCAF"))
    return caf, doc, caf.ReadFile(str(path))


def read_step(path: Path, *, pmi: bool = True) -> StepFile:
    """Read the solids of a STEP file, in mm (and its semantic PMI when ``pmi`` and present).

    Raises
    ------
    UnreadablePart
        The reader fails, or the file holds only curves and points (a drawing or wireframe).
    EmptyPart
        The file holds no shapes at all.
    NotASolid
        The file holds surfaces but no closed solid.
    """
    _silence_occt_console()
    from quote.geometry import pmi as pmi_mod

    start = time.perf_counter()
    caf = doc = None
    text = path.read_bytes() if pmi else b""
    if pmi and pmi_mod.names_gdt(text):
        caf, doc, status = _caf_reader(path)
        reader = caf.Reader()
    else:
        reader = STEPControl_Reader()
        status = reader.ReadFile(str(path))
    if status != IFSelect_ReturnStatus.IFSelect_RetDone:
        raise UnreadablePart(
            f"{path.name} could not be read as STEP (reader status {status.name}): the file is "
            f"corrupt or not ISO 10303-21. Export it again from CAD.",
            detail={"path": str(path), "status": status.name},
        )
    n_roots = reader.NbRootsForTransfer()
    if n_roots == 0:
        n_entities = reader.StepModel().NbEntities()
        if n_entities:
            raise UnreadablePart(
                f"{path.name} holds {n_entities} STEP entities but no shape OpenCASCADE can "
                f"read: the file is corrupt or describes no 3D model. Export the solid again.",
                detail={"path": str(path), "roots": 0, "entities": n_entities},
            )
        raise EmptyPart(
            f"{path.name} is a STEP file with no shapes in it: nothing to quote.",
            detail={"path": str(path), "roots": 0, "entities": 0},
        )
    if caf is not None:
        from OCP.XCAFDoc import XCAFDoc_ShapeTool

        # Label names are not read from the document; not making them saves ~5% of the read.
        naming = XCAFDoc_ShapeTool.AutoNaming_s()
        XCAFDoc_ShapeTool.SetAutoNaming_s(False)
        try:
            caf.Transfer(doc)
        finally:
            XCAFDoc_ShapeTool.SetAutoNaming_s(naming)
        reader = caf.Reader()  # the binding returns a copy: take it after the transfer
    else:
        reader.TransferRoots()
    parse_seconds = time.perf_counter() - start
    shape = reader.OneShape()
    units = _file_units(reader)
    raw_pmi = None
    if caf is not None:
        fits = pmi_mod.fits_from_text(text, UNIT_SCALE_MM.get(units, 1.0))
        raw_pmi = pmi_mod.read_gdt(doc, fits)
    if shape is None or shape.IsNull():
        raise UnreadablePart(
            f"{path.name}: the STEP file's {n_roots} entities could not be turned into shapes.",
            detail={"path": str(path), "roots": n_roots},
        )
    solids = [StepSolid(s, _entity_name(reader, s)) for s in _shapes(shape, TopAbs_SOLID)]
    ignored = {
        "shells": _count(shape, TopAbs_SHELL, TopAbs_SOLID),
        "faces": _count(shape, TopAbs_FACE, TopAbs_SHELL),
        "edges": _count(shape, TopAbs_EDGE, TopAbs_FACE),
    }
    from_shells = 0
    if not solids:
        closed = [s for s in _shapes(shape, TopAbs_SHELL, TopAbs_SOLID) if BRep_Tool.IsClosed_s(s)]
        for shell in closed:
            maker = BRepBuilderAPI_MakeSolid(TopoDS.Shell(shell))
            if maker.IsDone():
                solids.append(StepSolid(maker.Solid(), _entity_name(reader, shell)))
        from_shells = len(solids)
        ignored["shells"] -= from_shells
    if not solids:
        n_faces = _count(shape, TopAbs_FACE)
        n_edges = _count(shape, TopAbs_EDGE)
        detail = {"path": str(path), "solids": 0, "faces": n_faces, "edges": n_edges}
        if n_faces:
            raise NotASolid(
                f"{path.name} holds {n_faces} surfaces but no closed solid: the surfaces do not "
                f"enclose a volume (or some are missing from a damaged file). Export the part "
                f"as a solid body (or close it in CAD).",
                detail=detail,
            )
        if n_edges or _count(shape, TopAbs_VERTEX):
            raise UnreadablePart(
                f"{path.name} holds only curves and points ({n_edges} edges), no solid: it looks "
                f"like a drawing or wireframe, not a part. Export the 3D solid model.",
                detail=detail,
            )
        raise EmptyPart(
            f"{path.name} is a STEP file with no geometry in it: nothing to quote.",
            detail=detail,
        )
    return StepFile(
        solids=solids,
        units=units,
        parse_seconds=parse_seconds,
        ignored=ignored,
        from_shells=from_shells,
        pmi=raw_pmi,
    )


def compound(shapes: list[TopoDS_Shape]) -> TopoDS_Shape:
    """One TopoDS_Compound holding the shapes (or the shape itself when there is one)."""
    if len(shapes) == 1:
        return shapes[0]
    comp = TopoDS_Compound()
    builder = BRep_Builder()
    builder.MakeCompound(comp)
    for s in shapes:
        builder.Add(comp, s)
    return comp


def tessellate(shape: TopoDS_Shape) -> float:
    """Mesh every face of ``shape`` in place; returns the chord deflection used, mm."""
    box = Bnd_Box()
    BRepBndLib.Add_s(shape, box, False)
    diag = float(np.sqrt(box.SquareExtent())) if not box.IsVoid() else 1.0
    deflection = min(
        max(LINEAR_DEFLECTION_SHARE * diag, MIN_LINEAR_DEFLECTION_MM), MAX_LINEAR_DEFLECTION_MM
    )
    params = IMeshTools_Parameters()
    params.Deflection = deflection
    params.Angle = ANGULAR_DEFLECTION_RAD
    params.InParallel = True
    BRepMesh_IncrementalMesh(shape, params)
    return deflection


def _unique_points(points: np.ndarray) -> tuple[IntArray, IntArray]:
    """Indices of the first of each distinct (bit-identical) float32 point, and the inverse.

    Sorting one 64-bit hash of the coordinate bits is ~20x faster than ``np.unique`` over
    12-byte rows; a collision (two points, one hash) is checked for and falls back to rows.
    """
    bits = points.view(np.uint32).astype(np.uint64)
    h = (
        bits[:, 0] * np.uint64(0x9E3779B97F4A7C15)
        ^ bits[:, 1] * np.uint64(0xC2B2AE3D27D4EB4F)
        ^ bits[:, 2] * np.uint64(0x165667B19E3779F9)
    )
    _, first, inverse = np.unique(h, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    if not np.array_equal(points[first][inverse], points):
        rows = points.view(np.dtype((np.void, 12))).reshape(-1)
        _, first, inverse = np.unique(rows, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
    return first, inverse


def solid_triangles(solid: TopoDS_Shape) -> tuple[FloatArray, IntArray, IntArray | None, int]:
    """Triangles of a meshed solid, outward-wound, with shared vertices merged.

    Returns
    -------
    vertices : (V, 3) float, mm.
    faces : (F, 3) int.
    brep_face : (F,) int or None
        Index of the B-rep face each triangle belongs to, in ``TopExp_Explorer(solid,
        TopAbs_FACE)`` order (None if the counts could not be matched).
    faces_without_mesh : int
        B-rep faces the mesher left empty (their area is missing from the mesh).
    """
    counts = []
    for face in _shapes(solid, TopAbs_FACE):
        tri = BRep_Tool.Triangulation_s(TopoDS.Face(face), TopLoc_Location())
        counts.append(0 if tri is None else tri.NbTriangles())
    missing = sum(1 for c in counts if c == 0)
    writer = StlAPI_Writer()
    writer.ASCIIMode = False
    buf = io.BytesIO()
    if not writer.Write(solid, buf):
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64), None, missing
    data = buf.getvalue()
    n = int(np.frombuffer(data, dtype="<u4", count=1, offset=80)[0])
    records = np.frombuffer(data, dtype=_STL_RECORD, count=n, offset=84)
    # "+ 0" turns -0.0 into 0.0 so that bit-wise equal points are equal points.
    flat = np.ascontiguousarray(records["vertices"].reshape(-1, 3) + np.float32(0))
    first, inverse = _unique_points(flat)
    vertices = flat[first].astype(np.float64)
    faces = inverse.reshape(-1, 3).astype(np.int64)
    brep_face = None
    if sum(counts) == n:
        brep_face = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
    return vertices, faces, brep_face, missing
