"""Semantic PMI of STEP AP242 files: dimensions, geometric tolerances and datums on faces.

OpenCASCADE's XCAF reader (``STEPCAFControl_Reader`` in GD&T mode) turns the file's
``DIMENSIONAL_SIZE``, ``*_TOLERANCE`` and ``DATUM`` entities into ``XCAFDimTolObjects``, their
lengths converted to the unit the shapes come in (mm, whatever the units of the file's
measures: FTC-06 has mm geometry and inch PMI; the binding cannot report the document's unit,
so the tests hold the values to the drawings), and links each to the shape labels (faces) it
applies to. ``read_gdt`` takes them out of the
document with the faces as OCP shapes; ``assign`` numbers the faces on each body, in the order
the rest of the geometry code numbers B-rep faces, and gives each object to the body it is on.

The XCAF reader is only used when ``names_gdt`` finds GD&T entity names in the file's text (a
byte scan of a few ms): a file without PMI is read by the plain reader exactly as before.

What OpenCASCADE returns is reported, never completed: an object whose value comes back 0 (a
basic or reference dimension, or one OCCT could not read) is left out, one without faces is
kept with no faces, and both are named in a ``pmi_incomplete`` warning. OCCT 7.8 does not
fill the class of tolerance from ``LIMITS_AND_FITS``, so the fit is read from the file's text
(``PLUS_MINUS_TOLERANCE(#fit, #dimension)``) and given to the dimensions without other
tolerance whose nominal matches, when that match is unambiguous.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from OCP.OCP.collections import IndexedMap_TopoDS_Shape_TopTools_ShapeMapHasher as ShapeMap
from OCP.OCP.collections import Sequence_TDF_Label
from OCP.TDF import TDF_AttributeIterator, TDF_Label
from OCP.TDocStd import TDocStd_Document
from OCP.TopAbs import TopAbs_FACE
from OCP.TopExp import TopExp_Explorer
from OCP.TopLoc import TopLoc_Location
from OCP.TopoDS import TopoDS_Shape
from OCP.XCAFDoc import (
    XCAFDoc_Datum,
    XCAFDoc_Dimension,
    XCAFDoc_DimTolTool,
    XCAFDoc_DocumentTool,
    XCAFDoc_GeomTolerance,
    XCAFDoc_ShapeTool,
)

from quote.types import Datum, DatumRef, DfmWarning, Dimension, GeometricTolerance, Pmi

#: Entity names that only a file with semantic GD&T holds (AP242 / AP203e2 / AP214 GD&T):
#: any ``*_TOLERANCE(`` (flatness, position, plus-minus, ...), sizes, locations, datums.
GDT_ENTITIES = (
    b"_TOLERANCE(",
    b"GEOMETRIC_TOLERANCE",
    b"DIMENSIONAL_SIZE",
    b"DIMENSIONAL_LOCATION",
    b"ANGULAR_LOCATION",
    b"DATUM_FEATURE",
    b"TOLERANCE_VALUE",
)

# Dimension types that carry no value: graphic presentations and text labels.
_NOT_DIMENSIONS = ("DimensionPresentation", "CommonLabel")
_ANGULAR = ("Location_Angular", "Size_Angular")


def names_gdt(data: bytes) -> bool:
    """True when a STEP file's text names semantic GD&T entities (worth the XCAF reader).

    A few ``bytes.find`` (memchr-fast, ~0.3 ms each over 3 MB) instead of one regex, which
    takes ~3 ms over a file without them. A false hit only costs the slower reader: a file
    whose XCAF document holds no GD&T comes out as from the plain reader.
    """
    return any(word in data for word in GDT_ENTITIES)


@dataclass
class RawPmi:
    """PMI read from an XCAF document, faces still OCP shapes (mm)."""

    dimensions: list[tuple[Dimension, list[TopoDS_Shape], list[TopoDS_Shape]]]
    tolerances: list[tuple[GeometricTolerance, list[TopoDS_Shape]]]
    datums: list[tuple[Datum, list[TopoDS_Shape]]]
    notes: list[str] = field(default_factory=list)


def _attribute(label: TDF_Label, kind: type) -> Any:
    # ``TDF_Label.FindAttribute`` cannot hand a handle back through the Python binding.
    it = TDF_AttributeIterator(label)
    while it.More():
        value = it.Value()
        if isinstance(value, kind):
            return value
        it.Next()
    return None


def _items(seq: Any) -> list[Any]:
    """The values of an OCP ``NCollection_Sequence``.

    ``Length()``, ``Size()`` and iteration cost ~0.13 ms a call in this binding (``Upper()``
    and ``Value()`` under 1 us); they made up most of the PMI read's time.
    """
    if seq.IsEmpty():
        return []
    return [seq.Value(i) for i in range(1, seq.Upper() + 1)]


def _labels(fill: Any) -> list[TDF_Label]:
    seq = Sequence_TDF_Label()
    fill(seq)
    return _items(seq)


def _ref_shapes(label: TDF_Label) -> tuple[list[TopoDS_Shape], list[TopoDS_Shape]]:
    first, second = Sequence_TDF_Label(), Sequence_TDF_Label()
    XCAFDoc_DimTolTool.GetRefShapeLabel_s(label, first, second)
    return (
        [XCAFDoc_ShapeTool.GetShape_s(x) for x in _items(first)],
        [XCAFDoc_ShapeTool.GetShape_s(x) for x in _items(second)],
    )


def _enum_name(value: Any, prefix: str) -> str:
    """``XCAFDimTolObjects_GeomToleranceType_ProfileOfSurface`` -> "profile_of_surface"."""
    name = value.name[len(prefix) :].lstrip("_")
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name).replace("__", "_").lower()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = value.ToCString().strip()
    return text or None


def read_gdt(doc: TDocStd_Document, fits: dict[float, set[str]] | None = None) -> RawPmi:
    """The dimensions, geometric tolerances and datums of an XCAF document, in mm.

    Parameters
    ----------
    doc : the document ``STEPCAFControl_Reader`` filled (GD&T mode on).
    fits : nominal (mm, rounded to 1e-6) -> fit classes of ``LIMITS_AND_FITS`` dimensions of
        that nominal, from ``fits_from_text``; None when the file has none.
    """
    tool = XCAFDoc_DocumentTool.DimTolTool_s(doc.Main())
    raw = RawPmi([], [], [])
    valueless: list[str] = []
    for label in _labels(tool.GetDimensionLabels):
        attr = _attribute(label, XCAFDoc_Dimension)
        if attr is None:
            continue
        dim = _dimension(attr.GetObject(), fits)
        if dim is None:
            continue
        first, second = _ref_shapes(label)
        if dim.nominal == 0:
            valueless.append(f"{dim.kind.replace('_', ' ')} {dim.name or ''}".strip())
            continue
        raw.dimensions.append((dim, first, second))
    if valueless:
        raw.notes.append(
            f"{len(valueless)} dimensions of the file have no value as OpenCASCADE reads them "
            f"(value 0: basic or reference dimensions, or not readable): "
            f"{', '.join(valueless)}; they are left out"
        )
    zero_tol: list[str] = []
    for label in _labels(tool.GetGeomToleranceLabels):
        attr = _attribute(label, XCAFDoc_GeomTolerance)
        if attr is None:
            continue
        tol = _tolerance(label, attr.GetObject())
        if tol.value_mm == 0:
            zero_tol.append(f"{tol.kind.replace('_', ' ')} {tol.name or ''}".strip())
            continue
        raw.tolerances.append((tol, _ref_shapes(label)[0]))
    if zero_tol:
        raw.notes.append(
            f"{len(zero_tol)} geometric tolerances have a value of 0 as OpenCASCADE reads "
            f"them: {', '.join(zero_tol)}; they are left out"
        )
    raw.datums = _datums(tool)
    return raw


def _dimension(o: Any, fits: dict[float, set[str]] | None) -> Dimension | None:
    kind_enum = o.GetType()
    if any(kind_enum.name.endswith(k) for k in _NOT_DIMENSIONS):
        return None
    angular = any(kind_enum.name.endswith(k) for k in _ANGULAR)
    kind = _enum_name(kind_enum, "XCAFDimTolObjects_DimensionType")
    for prefix in ("size_", "location_"):
        kind = kind.removeprefix(prefix)
    if kind == "none":  # OCCT could not type it: use the file's own word ("linear distance")
        kind = (_text(o.GetSemanticName()) or "unknown").replace(" ", "_")
    nominal = o.GetValue()
    plus = minus = lower = upper = None
    if o.IsDimWithPlusMinusTolerance():
        # OCCT keeps both deviations as magnitudes (the file's -0.2 comes back as 0.2).
        plus, minus = o.GetUpperTolValue(), o.GetLowerTolValue()
    elif o.IsDimWithRange():
        lower, upper = o.GetLowerBound(), o.GetUpperBound()
    fit = None
    if fits and plus is None and lower is None and not angular:
        classes = fits.get(round(nominal, 6))
        if classes is not None and len(classes) == 1:
            fit = next(iter(classes))
    return Dimension(
        kind=kind,
        nominal=nominal,
        unit="deg" if angular else "mm",
        plus=plus,
        minus=minus,
        lower=lower,
        upper=upper,
        fit=fit,
        faces=(),
        to_faces=(),
        name=_text(o.GetPresentationName()),
    )


_MATERIAL = {"M": "MMC", "L": "LMC"}


def _tolerance(label: TDF_Label, o: Any) -> GeometricTolerance:
    zone_type = _enum_name(o.GetTypeOfValue(), "XCAFDimTolObjects_GeomToleranceTypeValue")
    zone_mod = _enum_name(o.GetZoneModifier(), "XCAFDimTolObjects_GeomToleranceZoneModif")
    material = o.GetMaterialRequirementModifier().name.rsplit("_", 1)[-1]
    datums = []
    for dl in _labels(lambda seq: XCAFDoc_DimTolTool.GetDatumWithObjectOfTolerLabels_s(label, seq)):
        attr = _attribute(dl, XCAFDoc_Datum)
        if attr is None:
            continue
        d = attr.GetObject()
        datums.append(
            DatumRef(
                name=_text(d.GetName()) or "?",
                position=int(d.GetPosition()),
                modifiers=tuple(
                    _enum_name(m, "XCAFDimTolObjects_DatumSingleModif")
                    for m in _items(d.GetModifiers())
                ),
            )
        )
    max_value = o.GetMaxValueModifier()
    zone_value = o.GetValueOfZoneModifier()
    return GeometricTolerance(
        kind=_enum_name(o.GetType(), "XCAFDimTolObjects_GeomToleranceType"),
        value_mm=o.GetValue(),
        zone=None if zone_type == "none" else zone_type,
        zone_modifier=None if zone_mod == "none" else zone_mod,
        zone_modifier_mm=zone_value if zone_mod != "none" and zone_value else None,
        material=_MATERIAL.get(material),
        modifiers=tuple(
            _enum_name(m, "XCAFDimTolObjects_GeomToleranceModif") for m in _items(o.GetModifiers())
        ),
        max_value_mm=max_value or None,
        datums=tuple(sorted(datums, key=lambda d: d.position)),
        faces=(),
        name=_text(o.GetSemanticName()),
    )


def _datums(tool: Any) -> list[tuple[Datum, list[TopoDS_Shape]]]:
    """One datum per letter: XCAF repeats a datum under every tolerance that names it."""
    by_name: dict[str, tuple[bool, list[TopoDS_Shape]]] = {}
    for label in _labels(tool.GetDatumLabels):
        attr = _attribute(label, XCAFDoc_Datum)
        if attr is None:
            continue
        o = attr.GetObject()
        name = _text(o.GetName()) or "?"
        target, shapes = by_name.setdefault(name, (False, []))
        by_name[name] = (target or bool(o.IsDatumTarget()), shapes + _ref_shapes(label)[0])
    return [
        (Datum(name=name, faces=(), target=target), shapes)
        for name, (target, shapes) in by_name.items()
    ]


_FIT = re.compile(rb"\s*\(\s*'([^']*)'\s*,\s*'([^']*)'\s*,\s*'([^']*)'")
_PMT = re.compile(rb"PLUS_MINUS_TOLERANCE\s*\(\s*#(\d+)\s*,\s*#(\d+)\s*\)")
_DCR = re.compile(rb"DIMENSIONAL_CHARACTERISTIC_REPRESENTATION\s*\(\s*#(\d+)\s*,\s*#(\d+)\s*\)")
_SDR_ITEM = re.compile(rb"SHAPE_DIMENSION_REPRESENTATION\s*\(\s*'[^']*'\s*,\s*\(\s*#(\d+)")
_MEASURE = re.compile(rb"LENGTH_MEASURE\s*\(\s*([-+0-9.Ee]+)\s*\)\s*,\s*#(\d+)")
_CONVERTED = re.compile(rb"CONVERSION_BASED_UNIT\s*\(\s*'([^']*)'")
_SI = re.compile(rb"SI_UNIT\s*\(\s*(\$|\.[A-Z]+\.)\s*,\s*\.METRE\.")
_SI_PREFIX_MM = {b"$": 1000.0, b".MILLI.": 1.0, b".CENTI.": 10.0, b".MICRO.": 1e-3}
_NAMED_MM = {"inch": 25.4, "foot": 304.8, "mm": 1.0, "millimetre": 1.0}
_ID = re.compile(rb"#(\d+)\s*=\s*\(?\s*$")


def _entity(data: bytes, ident: bytes) -> bytes | None:
    """The text of entity ``#ident`` (up to its ``;``), found with ``bytes.find``: a regex
    over every entity of a 2 MB file takes ~15 ms, a find ~0.2 ms."""
    for key in (b"#" + ident + b"=", b"#" + ident + b" ="):
        i = data.find(key)
        while i > 0 and data[i - 1 : i].isdigit():
            i = data.find(key, i + 1)
        if i >= 0:
            end = data.find(b";", i)
            return data[i + len(key) : end if end >= 0 else None]
    return None


def _unit_mm(data: bytes, ident: bytes, default: float) -> float:
    text = _entity(data, ident) or b""
    named = _CONVERTED.search(text)
    if named is not None:
        return _NAMED_MM.get(named.group(1).decode("ascii", "replace").strip().lower(), default)
    si = _SI.search(text)
    return _SI_PREFIX_MM.get(si.group(1), default) if si is not None else default


def fits_from_text(data: bytes, mm_per_unit: float) -> dict[float, set[str]] | None:
    """Nominal (mm, rounded to 1e-6) -> fit classes ("H7") of the ``LIMITS_AND_FITS``
    dimensions in the file's text; None when there are none. ``mm_per_unit``: the file's
    length unit, for a measure whose own unit is not recognised."""
    fits: dict[bytes, str] = {}
    i = data.find(b"LIMITS_AND_FITS")
    while i >= 0:
        head = _ID.search(data, max(0, i - 40), i)
        args = _FIT.match(data, i + len(b"LIMITS_AND_FITS"))
        if head is not None and args is not None:
            # (form_variance, zone_variance, grade, source): "H" + "7", or "G6" + ""
            fits[head.group(1)] = (args.group(1) + args.group(3)).decode("ascii", "replace")
        i = data.find(b"LIMITS_AND_FITS", i + 1)
    fits = {k: v.strip() for k, v in fits.items() if v.strip()}
    if not fits:
        return None
    dims = {m.group(2): fits[m.group(1)] for m in _PMT.finditer(data) if m.group(1) in fits}
    out: dict[float, set[str]] = {}
    for m in _DCR.finditer(data):
        if m.group(1) not in dims:
            continue
        item = _SDR_ITEM.search(_entity(data, m.group(2)) or b"")
        measure = _MEASURE.search(_entity(data, item.group(1)) or b"") if item else None
        if measure is None:
            continue
        value = float(measure.group(1)) * _unit_mm(data, measure.group(2), mm_per_unit)
        out.setdefault(round(value, 6), set()).add(dims[m.group(1)])
    return out or None


# --------------------------------------------------------------------------- faces on bodies


class _FaceIndex:
    """Face -> (body, index) over the bodies' faces in ``TopExp_Explorer`` order."""

    def __init__(self, shapes: Sequence[TopoDS_Shape]) -> None:
        self.maps: list[tuple[ShapeMap, ShapeMap, list[int], list[int]]] = []
        for shape in shapes:
            located, bare = ShapeMap(), ShapeMap()
            located_ix: list[int] = []
            bare_ix: list[int] = []
            exp = TopExp_Explorer(shape, TopAbs_FACE)
            i = 0
            while exp.More():
                face = exp.Current()
                if located.Add(face) > len(located_ix):
                    located_ix.append(i)
                if bare.Add(face.Located(TopLoc_Location())) > len(bare_ix):
                    bare_ix.append(i)
                i += 1
                exp.Next()
            self.maps.append((located, bare, located_ix, bare_ix))

    def find(self, face: TopoDS_Shape) -> tuple[int, int] | None:
        for body, (located, _, located_ix, _) in enumerate(self.maps):
            k = located.FindIndex(face)
            if k:
                return body, located_ix[k - 1]
        unlocated = face.Located(TopLoc_Location())
        for body, (_, bare, _, bare_ix) in enumerate(self.maps):
            k = bare.FindIndex(unlocated)
            if k:  # the part placed by an assembly: the file's face is the unplaced one
                return body, bare_ix[k - 1]
        return None

    def faces(self, shapes: list[TopoDS_Shape]) -> tuple[int | None, tuple[int, ...], int]:
        """(body, sorted face indices on it, shapes that are not faces of any body)."""
        found: dict[int, set[int]] = {}
        missed = 0
        for s in shapes:
            hit = self.find(s) if s.ShapeType() == TopAbs_FACE else None
            if hit is None:
                missed += 1
            else:
                found.setdefault(hit[0], set()).add(hit[1])
        if not found:
            return None, (), missed
        body = max(found, key=lambda b: len(found[b]))
        missed += sum(len(v) for b, v in found.items() if b != body)
        return body, tuple(sorted(found[body])), missed


def assign(raw: RawPmi, shapes: Sequence[TopoDS_Shape]) -> tuple[list[Pmi | None], list[str]]:
    """Each body's PMI (None when it has none), faces numbered on the body, and the notes.

    An object goes to the body holding its faces; one without faces to the first body.
    """
    index = _FaceIndex(shapes)
    n = len(shapes)
    dims: list[list[Dimension]] = [[] for _ in range(n)]
    tols: list[list[GeometricTolerance]] = [[] for _ in range(n)]
    datums: list[list[Datum]] = [[] for _ in range(n)]
    faceless: list[str] = []
    off_faces = 0
    for dim, first, second in raw.dimensions:
        body, faces, missed = index.faces(first)
        body2, to_faces, missed2 = index.faces(second)
        body = body if body is not None else (body2 if body2 is not None else 0)
        if body2 is not None and body2 != body:
            to_faces = ()
        off_faces += missed + missed2
        if not faces and not to_faces:
            faceless.append(f"dimension {dim.name or dim.kind}")
        dims[body].append(dataclasses.replace(dim, faces=faces, to_faces=to_faces))
    for tol, refs in raw.tolerances:
        body, faces, missed = index.faces(refs)
        off_faces += missed
        if not faces:
            faceless.append(f"{tol.kind.replace('_', ' ')} {tol.name or ''}".strip())
        tols[body or 0].append(dataclasses.replace(tol, faces=faces))
    for datum, refs in raw.datums:
        body, faces, missed = index.faces(refs)
        off_faces += missed
        if not faces:
            what = "datum target" if datum.target else "datum"
            faceless.append(f"{what} {datum.name}")
        datums[body or 0].append(dataclasses.replace(datum, faces=faces))
    notes = list(raw.notes)
    if faceless:
        notes.append(
            f"{len(faceless)} PMI objects are attached to no face of the solids as OpenCASCADE "
            f"reads them: {', '.join(faceless)}"
        )
    if off_faces:
        notes.append(
            f"{off_faces} shapes PMI objects refer to are edges, points or faces of no solid "
            f"being quoted; they are not counted as faces"
        )
    out: list[Pmi | None] = []
    for b in range(n):
        if dims[b] or tols[b] or datums[b]:
            out.append(Pmi(tuple(dims[b]), tuple(tols[b]), tuple(datums[b])))
        else:
            out.append(None)
    return out, notes


def warnings_from(notes: list[str]) -> list[DfmWarning]:
    """The notes as one ``pmi_incomplete`` warning (none when there are none)."""
    if not notes:
        return []
    text = "; ".join(notes)
    return [DfmWarning(code="pmi_incomplete", severity="info", message=f"PMI: {text}.")]
