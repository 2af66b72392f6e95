"""The shop catalogs: materials, machines, finishes, tolerances, roughness, stock, drills, rates.

Read once per directory from the YAML files in ``data/catalogs/`` (every value there carries a
``source``; ``data/README.md`` lists them) into frozen dataclasses, and the functions that turn
what a customer types ("6061-T6", "iso2768m", "0.02", "alumite") into catalog entries, raising the
typed errors of :mod:`quote.errors` with the accepted names when they cannot.

Units: lengths mm, money JPY, densities g/cm^3, rates as the field names say.
"""

from __future__ import annotations

import bisect
import difflib
import math
import re
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from quote.errors import (
    CatalogError,
    IncompatibleFinish,
    InvalidRoughness,
    InvalidTolerance,
    UnknownFinish,
    UnknownMaterial,
)

DEFAULT_CATALOG_DIR = Path(__file__).resolve().parents[1] / "data" / "catalogs"

# Preference when several standard sizes lie within the matching tolerance: a hole at a tap-drill
# size is far more often tapped than a clearance hole of another thread, and a plain drill size
# says the least about intent.
_KIND_PRIORITY = {"tap_drill": 0, "clearance": 1, "drill": 2}
_CLEARANCE_SERIES = ("fine", "medium", "coarse")


# --------------------------------------------------------------------------------------------
# Catalog entries
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StockSizes:
    """Raw stock the features step chooses from.

    plate_thickness_mm: standard plate thicknesses, ascending, mm.
    round_bar_diameter_mm: standard round bar diameters, ascending, mm.
    allowance_mm: added per side to a plate blank's width and length (sawn edge cleaned up), mm.
    bar_allowance_mm: facing allowance added to each end of a bar's length, mm.
    plate_face_allowance_mm: minimum excess of plate thickness over the part's thickness, mm.
    bar_diameter_allowance_mm: minimum excess of bar diameter over the part's diameter, mm.
    """

    plate_thickness_mm: tuple[float, ...]
    round_bar_diameter_mm: tuple[float, ...]
    allowance_mm: float
    bar_allowance_mm: float
    plate_face_allowance_mm: float = 0.5
    bar_diameter_allowance_mm: float = 1.0

    def next_plate_thickness(self, thickness_mm: float) -> float | None:
        """Thinnest standard plate >= ``thickness_mm + plate_face_allowance_mm`` (mm), or None."""
        return _next_size(self.plate_thickness_mm, thickness_mm + self.plate_face_allowance_mm)

    def next_bar_diameter(self, diameter_mm: float) -> float | None:
        """Thinnest standard bar >= ``diameter_mm + bar_diameter_allowance_mm`` (mm), or None."""
        return _next_size(self.round_bar_diameter_mm, diameter_mm + self.bar_diameter_allowance_mm)


def _next_size(sizes: tuple[float, ...], need: float) -> float | None:
    # A hair of slack so a 10.0 mm need is met by the 10 mm plate despite float noise.
    i = bisect.bisect_left(sizes, need - 1e-9)
    return sizes[i] if i < len(sizes) else None


@dataclass(frozen=True)
class DrillSize:
    """A standard hole size.

    diameter_mm: mm. label: what a Hole's ``standard`` shows, e.g.
    "6.6 (M6 clearance, ISO 273 medium)". kind: "drill", "clearance" or "tap_drill".
    thread: the metric thread it belongs to ("M6") or None for a plain drill.
    """

    diameter_mm: float
    label: str
    kind: str
    thread: str | None = None


@dataclass(frozen=True)
class Cutters:
    """Standard end mills. end_mill_diameters_mm: ascending, mm. min_radius_mm: radius of the
    smallest, mm. corner_radius_factor: recommended internal radius / tool radius."""

    end_mill_diameters_mm: tuple[float, ...]
    min_radius_mm: float
    corner_radius_factor: float


@dataclass(frozen=True)
class Material:
    """A stock material.

    name: JIS name (canonical). aliases: other accepted names. family: "aluminium", "steel",
    "stainless", "copper_alloy", "titanium" or "plastic". density_g_cm3: g/cm^3.
    price_jpy_per_kg: cut stock price, JPY/kg. machinability: relative to A6061 = 1.0 (higher is
    easier). roughing_rate_cm3_min: achieved roughing removal, cm^3/min. finishing_rate_cm2_min:
    surface finished per minute, cm^2/min. min_wall_mm / min_wall_feasible_mm: recommended and
    feasible minimum wall, mm.
    """

    name: str
    aliases: tuple[str, ...]
    family: str
    description: str
    density_g_cm3: float
    price_jpy_per_kg: float
    machinability: float
    roughing_rate_cm3_min: float
    finishing_rate_cm2_min: float
    min_wall_mm: float
    min_wall_feasible_mm: float
    source: str


@dataclass(frozen=True)
class Machine:
    """A machine of the shop.

    kind: "mill", "lathe" or "mill-turn". axes: controlled axes. hourly_rate_jpy: JPY/h with
    operator. envelope_mm: X, Y, Z travel for mills; (swing diameter, swing diameter, length) for
    lathes, mm. sides_per_setup: part sides one fixturing reaches. removal_factor,
    setup_factor, programming_factor: relative to a 3-axis VMC. economic_tolerance_mm /
    limit_tolerance_mm: +-mm held routinely / at best. min_quantity: smallest batch it is used for.
    load_unload_factor: share of the manual load/unload time per part (bar feeders: small).
    """

    name: str
    kind: str
    axes: int
    description: str
    hourly_rate_jpy: float
    envelope_mm: tuple[float, float, float]
    sides_per_setup: int
    removal_factor: float
    setup_factor: float
    programming_factor: float
    economic_tolerance_mm: float
    limit_tolerance_mm: float
    source: str
    min_quantity: int = 1
    load_unload_factor: float = 1.0

    def fits(self, extents_mm: tuple[float, ...]) -> bool:
        """Whether a part of these extents (mm, any order) fits the envelope in some orientation.

        Sorting both sides and comparing pairwise is exact for boxes aligned with the axes, which
        is how a part is fixtured.
        """
        part = sorted(extents_mm, reverse=True)
        env = sorted(self.envelope_mm, reverse=True)
        return all(p <= e for p, e in zip(part, env, strict=False))


@dataclass(frozen=True)
class Finish:
    """A surface treatment.

    jpy_per_dm2: JPY per dm^2 of part surface. lot_minimum_jpy: minimum charge per lot, JPY.
    added_days: business days added to the lead time. families: material families it applies to.
    """

    name: str
    aliases: tuple[str, ...]
    description: str
    jpy_per_dm2: float
    lot_minimum_jpy: float
    added_days: int
    families: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class ToleranceClass:
    """An ISO 2768-1 class: name "f", "m", "c" or "v"; tolerances_mm per nominal range (+-mm,
    None where the standard gives no value)."""

    name: str
    description: str
    tolerances_mm: tuple[float | None, ...]


@dataclass(frozen=True)
class ToleranceTable:
    """ISO 2768-1 linear tolerances and the cost of tight tolerances.

    range_upper_mm: upper bound of each nominal size range, mm (the first range starts at 0.5).
    classes: by name. cost_points: (tolerance +-mm, cost factor), loosest first.
    explicit_min_mm / explicit_max_mm: accepted range of explicit tolerances, +-mm.
    """

    range_upper_mm: tuple[float, ...]
    classes: dict[str, ToleranceClass]
    default_label: str
    cost_points: tuple[tuple[float, float], ...]
    explicit_min_mm: float
    explicit_max_mm: float

    def class_tolerance_mm(self, class_name: str, nominal_size_mm: float) -> float:
        """+-mm of ISO 2768-1 class ``class_name`` for a dimension of ``nominal_size_mm``.

        Sizes below 0.5 mm use the first range and above 4000 mm the last. Where the standard
        gives no value (class f above 2000 mm, class v up to 3 mm) the nearest defined value of
        the same class is used, so every size gets an answer.
        """
        tols = self.classes[class_name].tolerances_mm
        i = min(bisect.bisect_left(self.range_upper_mm, nominal_size_mm), len(tols) - 1)
        if tols[i] is not None:
            return float(tols[i])
        defined = [(abs(j - i), t) for j, t in enumerate(tols) if t is not None]
        return float(min(defined)[1])

    def cost_factor(self, tolerance_mm: float) -> float:
        """Factor on finishing passes and inspection for a +-``tolerance_mm`` tolerance.

        1.0 at and above the loosest point; log-log interpolation between points; the last slope
        is continued beyond the tightest point.
        """
        pts = self.cost_points
        if tolerance_mm >= pts[0][0]:
            return pts[0][1]
        lt = math.log(tolerance_mm)
        # First segment whose tighter end is at or below the tolerance; else extend the last.
        k = next((i for i in range(1, len(pts)) if tolerance_mm >= pts[i][0]), len(pts) - 1)
        (t0, f0), (t1, f1) = pts[k - 1], pts[k]
        w = (lt - math.log(t0)) / (math.log(t1) - math.log(t0))
        return math.exp(math.log(f0) + w * (math.log(f1) - math.log(f0)))


@dataclass(frozen=True)
class Tolerance:
    """A resolved tolerance. label: canonical ("ISO2768-m" or "0.02"); mm: +-mm for the nominal
    size asked; kind: "iso2768" or "explicit"; class_name: "f"/"m"/"c"/"v" or None."""

    label: str
    mm: float
    kind: str
    class_name: str | None = None


@dataclass(frozen=True)
class RoughnessClass:
    """A surface roughness class: ra_um (Ra, um) and factor on finishing passes vs Ra 3.2."""

    ra_um: float
    factor: float
    source: str


@dataclass(frozen=True)
class Rates:
    """Labour rates and process-planning constants (see data/catalogs/rates.yaml for each
    value's meaning and source). Money JPY, times as the field names say."""

    programming_rate_jpy_per_h: float
    inspection_rate_jpy_per_h: float
    setup_base_h: float
    setup_complex_h: float
    programming_base_h: float
    programming_per_face_h: float
    programming_per_hole_h: float
    programming_per_setup_h: float
    programming_max_h: float
    complexity_faces_ref: float
    complexity_holes_ref: float
    complexity_setups_ref: float
    load_unload_min: float
    tool_change_min: float
    drill_feed_mm_per_min: float
    hole_overhead_min: float
    peck_factor: float
    peck_ratio: float
    large_hole_mm: float
    tap_overhead_min: float
    tap_feed_mm_per_min: float
    learning_exponent: float
    learning_floor: float
    material_waste_factor: float
    material_min_jpy: float
    inspection_base_min: float
    inspection_per_hole_min: float
    inspection_sample_from: float
    inspection_sample_rate: float
    first_article_h: float
    thin_wall_mm: float
    thin_wall_factor: float
    small_radius_mm: float
    small_radius_factor: float
    deep_pocket_ratio: float
    deep_pocket_slope: float
    unreachable_factor: float
    margin_rate: float
    minimum_order_jpy: float


@dataclass(frozen=True)
class LeadTimeParams:
    """Lead-time constants (data/catalogs/leadtime.yaml). Days are business days."""

    hours_per_day: float
    queue_days: float
    inspection_same_day_h: float
    shipping_days: float
    express_queue_days: float
    express_hours_per_day: float
    express_finishing_days_saved: float
    express_price_factor: float
    economy_extra_days: float
    economy_price_factor: float


@dataclass(frozen=True)
class Catalog:
    """Everything the estimator, DFM checks and spec resolution read. Built by load_catalog()."""

    directory: Path
    stock: StockSizes
    drills: tuple[DrillSize, ...]
    cutters: Cutters
    materials: tuple[Material, ...]
    machines: tuple[Machine, ...]
    finishes: tuple[Finish, ...]
    tolerances: ToleranceTable
    roughness: tuple[RoughnessClass, ...]
    rates: Rates
    leadtime: LeadTimeParams
    sources: dict[str, str] = field(default_factory=dict, repr=False)
    _material_index: dict[str, Material] = field(default_factory=dict, repr=False, compare=False)
    _finish_index: dict[str, Finish] = field(default_factory=dict, repr=False, compare=False)
    _drill_diameters: tuple[float, ...] = field(default=(), repr=False, compare=False)

    @property
    def drill_diameters_mm(self) -> tuple[float, ...]:
        """Every standard hole diameter (drills, tap drills, clearance holes), ascending, mm."""
        return self._drill_diameters

    def material(self, name: str) -> Material:
        """Same as resolve_material(self, name)."""
        return resolve_material(self, name)

    def finish(self, name: str | None) -> Finish:
        """Same as resolve_finish(self, name)."""
        return resolve_finish(self, name)

    def machine(self, name: str) -> Machine:
        """The machine called ``name`` (KeyError if none: machine names are internal)."""
        for m in self.machines:
            if m.name == name:
                return m
        raise KeyError(name)

    def match_drill(
        self, diameter_mm: float, tol_mm: float = 0.05
    ) -> tuple[str | None, str | None]:
        """Same as match_drill(self, diameter_mm, tol_mm)."""
        return match_drill(self, diameter_mm, tol_mm)


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def load_catalog(directory: Path | None = None) -> Catalog:
    """Read the catalogs from ``directory`` (default: the repository's ``data/catalogs``).

    Cached per resolved directory: the files are read once per process.

    Raises
    ------
    CatalogError
        A file is missing or malformed.
    """
    path = Path(directory) if directory is not None else DEFAULT_CATALOG_DIR
    return _load_cached(path.resolve())


@lru_cache(maxsize=8)
def _load_cached(directory: Path) -> Catalog:
    sources: dict[str, str] = {}
    stock_y = _read(directory, "stock.yaml")
    cut_y = _read(directory, "cutters.yaml")
    stock = StockSizes(
        plate_thickness_mm=_sorted_floats(_listed(stock_y, "plate_thickness_mm", sources, "stock")),
        round_bar_diameter_mm=_sorted_floats(
            _listed(stock_y, "round_bar_diameter_mm", sources, "stock")
        ),
        allowance_mm=float(_valued(stock_y, "allowance_mm", sources, "stock")),
        bar_allowance_mm=float(_valued(stock_y, "bar_allowance_mm", sources, "stock")),
        plate_face_allowance_mm=float(
            _valued(stock_y, "plate_face_allowance_mm", sources, "stock")
        ),
        bar_diameter_allowance_mm=float(
            _valued(stock_y, "bar_diameter_allowance_mm", sources, "stock")
        ),
    )
    cutters = Cutters(
        end_mill_diameters_mm=_sorted_floats(
            _listed(cut_y, "end_mill_diameters_mm", sources, "cutters")
        ),
        min_radius_mm=float(_valued(cut_y, "min_radius_mm", sources, "cutters")),
        corner_radius_factor=float(_valued(cut_y, "corner_radius_factor", sources, "cutters")),
    )
    drills = _load_drills(_read(directory, "drills.yaml"), sources)
    materials = tuple(
        Material(
            name=str(m["name"]),
            aliases=tuple(str(a) for a in m.get("aliases", ())),
            family=str(m["family"]),
            description=str(m.get("description", "")),
            density_g_cm3=float(m["density_g_cm3"]),
            price_jpy_per_kg=float(m["price_jpy_per_kg"]),
            machinability=float(m["machinability"]),
            roughing_rate_cm3_min=float(m["roughing_rate_cm3_min"]),
            finishing_rate_cm2_min=float(m["finishing_rate_cm2_min"]),
            min_wall_mm=float(m["min_wall_mm"]),
            min_wall_feasible_mm=float(m["min_wall_feasible_mm"]),
            source=_source(m, f"materials.{m.get('name')}"),
        )
        for m in _entries(directory, "materials.yaml", "materials")
    )
    machines = tuple(
        Machine(
            name=str(m["name"]),
            kind=str(m["kind"]),
            axes=int(m["axes"]),
            description=str(m.get("description", "")),
            hourly_rate_jpy=float(m["hourly_rate_jpy"]),
            envelope_mm=tuple(float(v) for v in m["envelope_mm"]),  # type: ignore[arg-type]
            sides_per_setup=int(m["sides_per_setup"]),
            removal_factor=float(m["removal_factor"]),
            setup_factor=float(m["setup_factor"]),
            programming_factor=float(m["programming_factor"]),
            economic_tolerance_mm=float(m["economic_tolerance_mm"]),
            limit_tolerance_mm=float(m["limit_tolerance_mm"]),
            min_quantity=int(m.get("min_quantity", 1)),
            load_unload_factor=float(m.get("load_unload_factor", 1.0)),
            source=_source(m, f"machines.{m.get('name')}"),
        )
        for m in _entries(directory, "machines.yaml", "machines")
    )
    finishes = tuple(
        Finish(
            name=str(f["name"]),
            aliases=tuple(str(a) for a in f.get("aliases", ())),
            description=str(f.get("description", "")),
            jpy_per_dm2=float(f["jpy_per_dm2"]),
            lot_minimum_jpy=float(f["lot_minimum_jpy"]),
            added_days=int(f["added_days"]),
            families=tuple(str(x) for x in f["families"]),
            source=_source(f, f"finishes.{f.get('name')}"),
        )
        for f in _entries(directory, "finishes.yaml", "finishes")
    )
    tolerances = _load_tolerances(_read(directory, "tolerances.yaml"), sources)
    roughness = tuple(
        sorted(
            (
                RoughnessClass(
                    ra_um=float(r["ra_um"]),
                    factor=float(r["factor"]),
                    source=_source(r, f"roughness.{r.get('ra_um')}"),
                )
                for r in _entries(directory, "roughness.yaml", "classes")
            ),
            key=lambda r: -r.ra_um,
        )
    )
    rates = _load_flat(Rates, _read(directory, "rates.yaml"), "rates", sources)
    leadtime = _load_flat(LeadTimeParams, _read(directory, "leadtime.yaml"), "leadtime", sources)

    for group, items in (("materials", materials), ("machines", machines), ("finishes", finishes)):
        if not items:
            raise CatalogError(f"{directory / (group + '.yaml')} lists no {group}.")
        for it in items:
            sources[f"{group}.{it.name}"] = it.source
    for r in roughness:
        sources[f"roughness.{r.ra_um:g}"] = r.source

    material_index = _build_index(materials, "material")
    finish_index = _build_index(finishes, "finish")
    families = {m.family for m in materials}
    for f in finishes:
        unknown = set(f.families) - families
        if unknown:
            raise CatalogError(
                f"finish {f.name!r} names material families {sorted(unknown)} that no material has."
            )
    return Catalog(
        directory=directory,
        stock=stock,
        drills=drills,
        cutters=cutters,
        materials=materials,
        machines=machines,
        finishes=finishes,
        tolerances=tolerances,
        roughness=roughness,
        rates=rates,
        leadtime=leadtime,
        sources=sources,
        _material_index=material_index,
        _finish_index=finish_index,
        _drill_diameters=tuple(d.diameter_mm for d in drills),
    )


def _read(directory: Path, name: str) -> dict[str, Any]:
    path = directory / name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CatalogError(f"Catalog file {path} is missing.") from exc
    except yaml.YAMLError as exc:
        raise CatalogError(f"Catalog file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise CatalogError(f"Catalog file {path} should hold a mapping at the top level.")
    return data


def _entries(directory: Path, name: str, key: str) -> list[dict[str, Any]]:
    data = _read(directory, name).get(key)
    if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
        raise CatalogError(f"{directory / name}: '{key}' should be a list of mappings.")
    for e in data:
        if not e.get("source"):
            raise CatalogError(f"{directory / name}: entry {e.get('name', e)!r} has no source.")
    return data


def _source(entry: dict[str, Any], where: str) -> str:
    src = entry.get("source")
    if not src:
        raise CatalogError(f"catalog entry {where} has no source.")
    return " ".join(str(src).split())


def _valued(data: dict[str, Any], key: str, sources: dict[str, str], group: str) -> Any:
    entry = data.get(key)
    if not isinstance(entry, dict) or "value" not in entry:
        raise CatalogError(f"catalog {group}: '{key}' needs a 'value' and a 'source'.")
    sources[f"{group}.{key}"] = _source(entry, f"{group}.{key}")
    return entry["value"]


def _listed(data: dict[str, Any], key: str, sources: dict[str, str], group: str) -> list[Any]:
    entry = data.get(key)
    if not isinstance(entry, dict) or not isinstance(entry.get("values"), list):
        raise CatalogError(f"catalog {group}: '{key}' needs 'values' (a list) and a 'source'.")
    sources[f"{group}.{key}"] = _source(entry, f"{group}.{key}")
    return entry["values"]


def _sorted_floats(values: list[Any]) -> tuple[float, ...]:
    return tuple(sorted({float(v) for v in values}))


def _load_flat(cls: type, data: dict[str, Any], group: str, sources: dict[str, str]) -> Any:
    kwargs = {f.name: float(_valued(data, f.name, sources, group)) for f in fields(cls)}
    return cls(**kwargs)


def _load_drills(data: dict[str, Any], sources: dict[str, str]) -> tuple[DrillSize, ...]:
    out: list[DrillSize] = []
    try:
        sources["drills.tap_drills"] = _source(data["tap_drills"], "drills.tap_drills")
        for thread, (_pitch, dia) in data["tap_drills"]["sizes"].items():
            d = float(dia)
            out.append(DrillSize(d, f"{d:g} ({thread} tap drill, ISO 2306)", "tap_drill", thread))
        sources["drills.clearance_holes"] = _source(
            data["clearance_holes"], "drills.clearance_holes"
        )
        for thread, sizes in data["clearance_holes"]["sizes"].items():
            for series, dia in zip(_CLEARANCE_SERIES, sizes, strict=True):
                d = float(dia)
                label = f"{d:g} ({thread} clearance, ISO 273 {series})"
                out.append(DrillSize(d, label, "clearance", thread))
        sources["drills.jobber_drills"] = _source(data["jobber_drills"], "drills.jobber_drills")
        for lo, hi, step in data["jobber_drills"]["ranges"]:
            # Integer steps avoid the drift of repeated float addition (1.0 + 0.1 * k).
            n = int(round((float(hi) - float(lo)) / float(step)))
            for k in range(n + 1):
                d = round(float(lo) + k * float(step), 3)
                out.append(DrillSize(d, f"{d:g} (jobber drill)", "drill", None))
    except (KeyError, TypeError, ValueError) as exc:
        raise CatalogError(f"drills.yaml is malformed: {exc!r}") from exc
    out.sort(key=lambda s: (s.diameter_mm, _KIND_PRIORITY[s.kind]))
    return tuple(out)


def _load_tolerances(data: dict[str, Any], sources: dict[str, str]) -> ToleranceTable:
    try:
        iso = data["iso2768"]
        sources["tolerances.iso2768"] = _source(iso, "tolerances.iso2768")
        uppers = tuple(float(u) for u in iso["range_upper_mm"])
        classes = {}
        for name, c in iso["classes"].items():
            tols = tuple(None if t is None else float(t) for t in c["tolerances_mm"])
            if len(tols) != len(uppers):
                raise CatalogError(f"tolerances.yaml: class {name} has {len(tols)} values.")
            classes[str(name)] = ToleranceClass(str(name), str(c.get("description", "")), tols)
        cost = data["cost_factors"]
        sources["tolerances.cost_factors"] = _source(cost, "tolerances.cost_factors")
        points = tuple(sorted(((float(t), float(f)) for t, f in cost["points"]), reverse=True))
        explicit = data["explicit_range_mm"]
        sources["tolerances.explicit_range_mm"] = _source(explicit, "tolerances.explicit_range")
        default = _valued(data, "default_label", sources, "tolerances")
        return ToleranceTable(
            range_upper_mm=uppers,
            classes=classes,
            default_label=str(default),
            cost_points=points,
            explicit_min_mm=float(explicit["min"]),
            explicit_max_mm=float(explicit["max"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CatalogError(f"tolerances.yaml is malformed: {exc!r}") from exc


@lru_cache(maxsize=1024)
def _norm(text: str) -> str:
    """Lower case without spaces, hyphens, underscores, dots or slashes: "6061-T6" -> "6061t6".

    Cached: a quote resolves the same few names a dozen times.
    """
    return re.sub(r"[\s\-_./]+", "", text.strip().lower())


def _build_index(items: tuple[Any, ...], what: str) -> dict[str, Any]:
    index: dict[str, Any] = {}
    for it in items:
        for key in {_norm(it.name), *(_norm(a) for a in it.aliases)}:
            if key in index and index[key] is not it:
                raise CatalogError(
                    f"{what} name {key!r} is claimed by both {index[key].name} and {it.name}."
                )
            index[key] = it
    return index


# --------------------------------------------------------------------------------------------
# Resolution of what the customer typed
# --------------------------------------------------------------------------------------------


def _accepted(items: tuple[Any, ...], n_aliases: int = 3) -> str:
    parts = []
    for it in items:
        shown = [a for a in it.aliases if a][:n_aliases]
        parts.append(f"{it.name} ({', '.join(shown)})" if shown else it.name)
    return "; ".join(parts)


def resolve_material(catalog: Catalog, name: str) -> Material:
    """The catalog material called ``name`` (JIS name or alias, case, spaces and hyphens ignored).

    Raises
    ------
    UnknownMaterial
        No material has that name; the message lists the accepted names.
    """
    key = _norm(str(name)) if name is not None else ""
    hit = catalog._material_index.get(key)
    if hit is not None:
        return hit
    names = [m.name for m in catalog.materials]
    close = difflib.get_close_matches(key, list(catalog._material_index), n=1, cutoff=0.75)
    hint = f" Did you mean {catalog._material_index[close[0]].name}?" if close else ""
    raise UnknownMaterial(
        f"Unknown material {name!r}.{hint} Accepted materials (JIS name, then aliases): "
        f"{_accepted(catalog.materials)}.",
        detail={"material": name, "accepted": names},
    )


def resolve_finish(catalog: Catalog, name: str | None) -> Finish:
    """The catalog finish called ``name`` (name or alias); None or "" means "none".

    Raises
    ------
    UnknownFinish
        No finish has that name; the message lists the accepted names.
    """
    key = _norm(str(name)) if name is not None else ""
    if key == "":
        key = "none"
    hit = catalog._finish_index.get(key)
    if hit is not None:
        return hit
    names = [f.name for f in catalog.finishes]
    raise UnknownFinish(
        f"Unknown finish {name!r}. Accepted finishes: {', '.join(names)} "
        f"(aliases: {_accepted(catalog.finishes)}).",
        detail={"finish": name, "accepted": names},
    )


def compatible_finishes(catalog: Catalog, material: Material) -> tuple[Finish, ...]:
    """The finishes that apply to ``material``'s family, catalog order ("none" always first)."""
    return tuple(f for f in catalog.finishes if material.family in f.families)


def check_finish_applies(catalog: Catalog, material: Material, finish: Finish) -> None:
    """Raise IncompatibleFinish when ``finish`` does not apply to ``material`` (names the ones
    that do)."""
    if material.family in finish.families:
        return
    ok = [f.name for f in compatible_finishes(catalog, material)]
    raise IncompatibleFinish(
        f"Finish {finish.name!r} does not apply to {material.name} ({material.family}); "
        f"it applies to {', '.join(finish.families)}. Finishes for {material.name}: "
        f"{', '.join(ok)}.",
        detail={"finish": finish.name, "material": material.name, "accepted": ok},
    )


_CLASS_WORDS = {"f": "f", "fine": "f", "m": "m", "medium": "m", "c": "c", "coarse": "c",
                "v": "v", "verycoarse": "v"}  # fmt: skip
_CLASS_PREFIXES = ("iso27681", "iso2768", "jisb0405", "2768", "iso")
_PLUS_MINUS = re.compile(r"^(?:\+/-|\+-|±)")
_TOLERANCE_FORMS = (
    'an ISO 2768-1 class ("ISO2768-f", "ISO2768-m", "ISO2768-c", "ISO2768-v"; also "iso2768m", '
    '"m", "medium", "JIS B 0405 m") or a +- tolerance in mm ("0.02", "±0.02", "0.02mm", 0.02)'
)


def resolve_tolerance(catalog: Catalog, text: str | float, nominal_size_mm: float) -> Tolerance:
    """Turn a tolerance as asked into a label and +-mm.

    Parameters
    ----------
    text
        An ISO 2768-1 class name ("ISO2768-m", "iso2768m", "m", "medium"; a geometric class suffix
        as in "ISO2768-mK" is ignored) or an explicit +-tolerance in mm ("0.02", "±0.02 mm", 0.02).
    nominal_size_mm
        The dimension the class tolerance applies to, mm (the engine passes the part's largest
        extent). Unused for explicit tolerances.

    Returns
    -------
    Tolerance
        label "ISO2768-m" or "0.02"; mm the +-tolerance in mm.

    Raises
    ------
    InvalidTolerance
        Garbage, zero, negative, not finite, or outside the accepted explicit range; the message
        lists the accepted forms.
    """
    table = catalog.tolerances
    if isinstance(text, bool) or text is None:
        raise InvalidTolerance(f"Tolerance {text!r} is not understood. Use {_TOLERANCE_FORMS}.")
    if isinstance(text, int | float):
        return _explicit(table, float(text), text)
    raw = str(text).strip()
    number = _PLUS_MINUS.sub("", raw.lower().replace(" ", "")).removesuffix("mm")
    try:
        value = float(number)
    except ValueError:
        value = None
    if value is not None:
        return _explicit(table, value, text)
    key = _norm(raw)
    for prefix in _CLASS_PREFIXES:
        if key.startswith(prefix) and key != prefix:
            key = key[len(prefix) :]
            break
    # "mK": ISO 2768-2 geometric class letter after the linear class.
    if len(key) == 2 and key[0] in "fmcv" and key[1] in "hkl":
        key = key[0]
    cls = _CLASS_WORDS.get(key)
    if cls is None or cls not in table.classes:
        raise InvalidTolerance(
            f"Tolerance {text!r} is not understood. Use {_TOLERANCE_FORMS}.",
            detail={"tolerance": str(text), "accepted": [f"ISO2768-{c}" for c in table.classes]},
        )
    size = float(nominal_size_mm) if math.isfinite(float(nominal_size_mm)) else 0.5
    return Tolerance(f"ISO2768-{cls}", table.class_tolerance_mm(cls, size), "iso2768", cls)


def _explicit(table: ToleranceTable, mm: float, asked: Any) -> Tolerance:
    if not math.isfinite(mm) or mm <= 0:
        raise InvalidTolerance(
            f"Tolerance {asked!r} must be a positive number of mm (a +- band), e.g. 0.02; "
            f"or use {_TOLERANCE_FORMS}.",
            detail={"tolerance": str(asked)},
        )
    if not table.explicit_min_mm <= mm <= table.explicit_max_mm:
        raise InvalidTolerance(
            f"Tolerance {asked!r} mm is outside the accepted range "
            f"{table.explicit_min_mm:g}-{table.explicit_max_mm:g} mm (+-). Check the units: "
            f"tolerances are in mm.",
            detail={"tolerance": str(asked)},
        )
    return Tolerance(f"{mm:g}", mm, "explicit", None)


def resolve_roughness(catalog: Catalog, ra_um: float) -> RoughnessClass:
    """The roughness class that meets ``ra_um`` (Ra, um): the roughest class not above it.

    A request rougher than every class gets the roughest class.

    Raises
    ------
    InvalidRoughness
        Not a positive finite number, or finer than the finest class.
    """
    try:
        ra = float(ra_um)
    except (TypeError, ValueError):
        ra = math.nan
    classes = catalog.roughness  # roughest first
    if not math.isfinite(ra) or ra <= 0:
        raise InvalidRoughness(
            f"Surface roughness {ra_um!r} must be a positive Ra in um, e.g. 3.2 or 1.6.",
            detail={"roughness_ra_um": str(ra_um)},
        )
    for c in classes:
        if c.ra_um <= ra + 1e-9:
            return c
    raise InvalidRoughness(
        f"Surface roughness Ra {ra:g} um is finer than the finest class the shop prices "
        f"(Ra {classes[-1].ra_um:g} um); that needs lapping or polishing, quoted by hand.",
        detail={"roughness_ra_um": ra, "accepted": [c.ra_um for c in classes]},
    )


def match_drill(
    catalog: Catalog, diameter_mm: float, tol_mm: float = 0.05
) -> tuple[str | None, str | None]:
    """Match a hole diameter to a standard size.

    Parameters
    ----------
    diameter_mm
        Measured hole diameter, mm.
    tol_mm
        Largest difference accepted, mm.

    Returns
    -------
    (standard_label, tap_thread)
        The label of the best standard size within ``tol_mm`` (tap drill first, then clearance,
        then plain drill; the nearest among equals), e.g. "6.8 (M8 tap drill, ISO 2306)", and the
        thread ("M8") when it is a tap drill; (None, None) when no size is that close.
    """
    d = float(diameter_mm)
    if not math.isfinite(d):
        return None, None
    diam = catalog._drill_diameters
    lo = bisect.bisect_left(diam, d - tol_mm - 1e-9)
    hi = bisect.bisect_right(diam, d + tol_mm + 1e-9)
    if lo >= hi:
        return None, None
    best = min(
        catalog.drills[lo:hi],
        key=lambda s: (_KIND_PRIORITY[s.kind], abs(s.diameter_mm - d)),
    )
    return best.label, best.thread if best.kind == "tap_drill" else None


def process_tolerance_limits(catalog: Catalog, process: str) -> tuple[float, float]:
    """(economic, limit) +-mm that the best machine for ``process`` holds.

    ``process`` is "mill", "lathe" or "mill-turn"; an unknown process uses all machines.
    """
    ms = [m for m in catalog.machines if m.kind == process] or list(catalog.machines)
    return (
        min(m.economic_tolerance_mm for m in ms),
        min(m.limit_tolerance_mm for m in ms),
    )
