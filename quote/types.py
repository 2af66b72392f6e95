"""Value types of the quote engine: plain frozen dataclasses, units in every field name or doc.

These are the contracts between modules (geometry -> features -> costing -> models -> quote) and
the JSON the CLI and API return. Lengths are millimetres, areas mm^2, volumes mm^3, money JPY,
times hours unless the name says days.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar

Vec3 = tuple[float, float, float]

DEFAULT_TOLERANCE = "ISO2768-m"  # ISO 2768-1 medium: what a drawing without a tolerance means
MAX_QUANTITY = 1_000_000  # pieces; the largest quantity the engine (and so the platform) quotes

# Field metadata for ``as_jsonable``: the key is left out of the JSON when the value is None
# (e.g. a DFM finding's ``item`` is only set on a multi-body quote's summary).
OMIT_IF_NONE: dict[str, Any] = {"json": "omit_if_none"}


def as_jsonable(obj: Any) -> Any:
    """Dataclasses, tuples and numpy scalars to plain JSON types (floats rounded to 6 digits).

    The one JSON mapper of the engine's value types (the CLI and the platform both use it).
    A dataclass becomes an object of its fields, in field order, except that a field with
    ``OMIT_IF_NONE`` metadata is left out when None, a class listing ``__json_properties__``
    also gets those properties, and a class naming a ``__json_inline__`` field is written as
    that field's value alone.
    """
    # A quote holds ~600 values: dispatch on the exact type first (plain floats, strings,
    # dicts and lists are nearly all of them), the general checks below catch the rest.
    kind = type(obj)
    if kind is float:
        return round(obj, 6)
    if kind is str or kind is int or kind is bool or obj is None:
        return obj
    if kind is dict:
        return {str(k): as_jsonable(v) for k, v in obj.items()}
    if kind is list or kind is tuple:
        return [as_jsonable(v) for v in obj]
    layout = json_layout(kind)
    if layout is not None:
        if layout.inline is not None:
            return as_jsonable(getattr(obj, layout.inline))
        out = {}
        for name in layout.names:
            value = getattr(obj, name)
            if value is None and name in layout.omit_if_none:
                continue
            out[name] = as_jsonable(value)
        for name in layout.properties:
            out[name] = as_jsonable(getattr(obj, name))
        return out
    return _as_jsonable_other(obj)


@dataclass(frozen=True)
class JsonLayout:
    """How ``as_jsonable`` writes a dataclass type: its keys, in order, and the exceptions."""

    names: tuple[str, ...]
    omit_if_none: frozenset[str]
    properties: tuple[str, ...]
    inline: str | None


_LAYOUTS: dict[type, JsonLayout | None] = {}


def json_layout(kind: type) -> JsonLayout | None:
    """The JSON layout of a dataclass type (cached), None for other types."""
    try:
        return _LAYOUTS[kind]
    except KeyError:
        layout = None
        if dataclasses.is_dataclass(kind):
            fields = dataclasses.fields(kind)
            layout = JsonLayout(
                names=tuple(f.name for f in fields),
                omit_if_none=frozenset(f.name for f in fields if f.metadata == OMIT_IF_NONE),
                properties=tuple(getattr(kind, "__json_properties__", ())),
                inline=getattr(kind, "__json_inline__", None),
            )
        _LAYOUTS[kind] = layout
        return layout


def _as_jsonable_other(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): as_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [as_jsonable(v) for v in obj]
    if isinstance(obj, date):
        return obj.isoformat()
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalar
        obj = obj.item()
    if isinstance(obj, float):
        return round(obj, 6)
    return obj


@dataclass(frozen=True)
class Hole:
    """A cylindrical hole.

    diameter_mm: diameter in mm. depth_mm: depth along the axis in mm (full length if through).
    through: True when it exits the part. axis: unit vector along the hole (drilling direction).
    position_mm: centre of the entry circle, mm. standard: nearest standard drill, e.g.
    "6.6 (M6 clearance, ISO 273 medium)" or None when none is within 0.05 mm. tap: thread the
    diameter is the tap drill of (e.g. "M8"), or None.
    """

    diameter_mm: float
    depth_mm: float
    through: bool
    axis: Vec3
    position_mm: Vec3
    standard: str | None = None
    tap: str | None = None


@dataclass(frozen=True)
class Stock:
    """Raw stock chosen from the stock catalog.

    form: "plate" (rectangular, sawn from plate of a catalog thickness) or "round_bar".
    dims_mm: plate (thickness, width, length); round bar (diameter, length); mm.
    volume_mm3: stock volume in mm^3.
    """

    form: str
    dims_mm: tuple[float, ...]
    volume_mm3: float


@dataclass(frozen=True)
class Dimension:
    """A dimension of the file's semantic PMI (STEP AP242), in mm (angles in degrees).

    kind: what it measures, e.g. "diameter", "radius", "linear_distance", "angular" (OCCT's
    dimension type in snake case). nominal: the nominal value, in ``unit``. unit: "mm" or "deg".
    plus / minus: the upper and lower deviation as magnitudes (Ø20 +0.05/-0.1 has plus 0.05,
    minus 0.1), None when the file gives none. lower / upper: the limits when the file gives
    a range (34.8 / 35.2) instead, else None. fit: ISO/ANSI limits-and-fits class (e.g. "H7"),
    or None. faces: indices of the B-rep faces it applies to, in ``TopExp_Explorer(body.shape,
    TopAbs_FACE)`` order (the numbering of ``mesh.metadata["brep_face"]``); to_faces: the
    faces a location dimension measures to (empty for sizes). name: the file's name for it.
    """

    kind: str
    nominal: float
    unit: str
    plus: float | None
    minus: float | None
    lower: float | None
    upper: float | None
    fit: str | None
    faces: tuple[int, ...]
    to_faces: tuple[int, ...]
    name: str | None


@dataclass(frozen=True)
class DatumRef:
    """A datum named in a tolerance's feature control frame: its letter, place in the frame
    (1 = primary) and modifiers (e.g. "maximum_material_requirement")."""

    name: str
    position: int
    modifiers: tuple[str, ...]


@dataclass(frozen=True)
class GeometricTolerance:
    """A geometric tolerance of the file's semantic PMI (STEP AP242), in mm.

    kind: e.g. "position", "profile_of_surface", "flatness", "perpendicularity".
    value_mm: the tolerance zone size, mm. zone: "diameter" or "spherical_diameter" when the
    zone is a cylinder or sphere (Ø / SØ), else None. zone_modifier: "projected", "runout" or
    "non_uniform", or None; zone_modifier_mm: its value (a projected length), mm, or None.
    material: "MMC" (M) or "LMC" (L), or None (RFS). modifiers: other modifiers, e.g.
    "all_around". max_value_mm: an upper bound on the zone ("0.1 MAX"), or None.
    datums: the feature control frame's datum references, primary first. faces: B-rep face
    indices (see ``Dimension``). name: the file's name for it.
    """

    kind: str
    value_mm: float
    zone: str | None
    zone_modifier: str | None
    zone_modifier_mm: float | None
    material: str | None
    modifiers: tuple[str, ...]
    max_value_mm: float | None
    datums: tuple[DatumRef, ...]
    faces: tuple[int, ...]
    name: str | None


@dataclass(frozen=True)
class Datum:
    """A datum feature: its letter, the B-rep faces that carry it (see ``Dimension``), and
    whether the file defines it by datum targets (points, lines or areas) instead."""

    name: str
    faces: tuple[int, ...]
    target: bool


@dataclass(frozen=True)
class Pmi:
    """The semantic PMI of one body (STEP AP242 GD&T as OpenCASCADE's XCAF reads it).

    dimensions, tolerances (geometric tolerances) and datums, in file order; lengths mm.
    """

    dimensions: tuple[Dimension, ...]
    tolerances: tuple[GeometricTolerance, ...]
    datums: tuple[Datum, ...]


@dataclass(frozen=True)
class PartFeatures:
    """What the cost model needs to know about one body. Computed once per file (content hash).

    Fields (units):
      volume_mm3, area_mm2: solid volume (mm^3) and surface area (mm^2).
      bbox_mm: axis-aligned extents (x, y, z), mm, from the tessellation.
      obb_mm: minimum oriented bounding box extents, sorted largest first, mm.
      stock: chosen raw stock; removed_volume_mm3 = stock volume - part volume, mm^3.
      holes: cylindrical holes (see Hole).
      setups: number of machine setups (fixturing orientations) needed, >= 1.
      access_directions: directions a tool must come from, in the part's OBB frame, e.g. "+Z".
      unreachable_area_mm2: surface area no axis-aligned setup direction reaches, mm^2.
      min_wall_mm / min_wall_location_mm: thinnest wall found by ray casting (mm) and where.
      min_internal_radius_mm / ..._location_mm: smallest concave (internal) corner radius, mm;
        None when the part has no internal vertical corners.
      max_pocket_depth_mm / max_pocket_width_mm / pocket_location_mm: the deepest pocket, mm.
      process: "mill", "lathe" or "mill-turn"; axisymmetry: share of surface area (0..1) that is
        rotationally symmetric about the part's main axis.
      face_counts: faces by surface type: plane, cylinder, cone, torus, sphere, bspline, other.
        Exact B-rep faces for STEP; for meshes, counts of fitted regions.
      triangle_count: triangles of the tessellation. source_format: "step", "stl", "obj", ...
      file_sha256: hash of the source file (with body index for multi-body files).
      pmi: the file's semantic PMI on this body (STEP AP242: dimensions, geometric tolerances,
        datums; see Pmi), None when the file has none or it was not read (left out of the JSON).
    """

    volume_mm3: float
    area_mm2: float
    bbox_mm: Vec3
    obb_mm: Vec3
    stock: Stock
    removed_volume_mm3: float
    holes: tuple[Hole, ...]
    setups: int
    access_directions: tuple[str, ...]
    unreachable_area_mm2: float
    min_wall_mm: float
    min_wall_location_mm: Vec3 | None
    min_internal_radius_mm: float | None
    min_internal_radius_location_mm: Vec3 | None
    max_pocket_depth_mm: float
    max_pocket_width_mm: float
    pocket_location_mm: Vec3 | None
    process: str
    axisymmetry: float
    face_counts: dict[str, int]
    triangle_count: int
    source_format: str
    file_sha256: str
    pmi: Pmi | None = field(default=None, metadata=OMIT_IF_NONE)

    __json_properties__: ClassVar[tuple[str, ...]] = ("hole_count",)

    @property
    def hole_count(self) -> int:
        return len(self.holes)

    @property
    def max_extent_mm(self) -> float:
        return max(self.obb_mm)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = as_jsonable(self)
        return d


@dataclass(frozen=True)
class DfmFinding:
    """A manufacturability finding (also a file-level note: repair, suspect units, ...).

    code: stable id (e.g. "thin_wall"); severity: "info", "warning" or "error" (error = cannot be
    made as drawn); message: plain words with the numbers; location_mm: where on the part (mm,
    in the file's coordinates) or None; value / limit: the measured figure and the threshold.
    item: the line item (body index) it is about, set only in a multi-body quote's summary.
    """

    code: str
    severity: str
    message: str
    location_mm: Vec3 | None = None
    value: float | None = None
    limit: float | None = None
    item: int | None = field(default=None, metadata=OMIT_IF_NONE)


DfmWarning = DfmFinding  # the name the geometry modules use


@dataclass(frozen=True)
class QuoteSpec:
    """What the customer asks for, resolved against the catalogs.

    material: canonical JIS name (e.g. "A5052"). quantity: pieces, >= 1.
    tolerance_label: as asked ("ISO2768-m" or "0.02"); tolerance_mm: the tightest linear tolerance
    it implies for this part (+-mm). finish: canonical finish name. roughness_ra_um: Ra in um.
    due_date: when the buyer needs it, or None.
    """

    material: str
    quantity: int
    tolerance_label: str = DEFAULT_TOLERANCE
    tolerance_mm: float = 0.2
    finish: str = "none"
    roughness_ra_um: float = 3.2
    due_date: date | None = None


@dataclass(frozen=True)
class CostBreakdown:
    """Per-unit cost, JPY, by driver. The fields add up to the unit price."""

    material: float
    setup: float
    programming: float
    machining: float
    finishing: float
    inspection: float
    margin: float

    @property
    def total(self) -> float:
        return (
            self.material
            + self.setup
            + self.programming
            + self.machining
            + self.finishing
            + self.inspection
            + self.margin
        )


BREAKDOWN_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(CostBreakdown))


@dataclass(frozen=True)
class TierEstimate:
    """One delivery option as planned: name ("express", "standard", "economy"), business days,
    JPY/unit (the quote's ``contract.LeadTimeTier`` scales it to the model's price and adds
    the ship date)."""

    name: str
    days: int
    unit_price: float


@dataclass(frozen=True)
class PhysicsEstimate:
    """The process-planning estimate for one body and spec.

    machine: catalog machine chosen; process: "mill" / "lathe" / "mill-turn".
    breakdown: per-unit JPY by driver (adds up to unit_price). unit_price: JPY per piece.
    hours: named machine/labour hours per batch (setup_h, programming_h, roughing_h, finishing_h,
    holes_h, inspection_h, ...), for explanations. lead_time_days: standard tier, business days.
    lead_time_parts: named business days (queue, machining, finishing, inspection, shipping).
    """

    machine: str
    process: str
    breakdown: CostBreakdown
    unit_price: float
    hours: dict[str, float]
    lead_time_days: float
    lead_time_parts: dict[str, float]
    tiers: tuple[TierEstimate, ...] = field(default_factory=tuple)
