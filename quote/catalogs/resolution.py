"""The loaded ``Catalog`` and the functions that turn what a customer types ("6061-T6",
"iso2768m", "0.02", "alumite") into catalog entries, raising the typed errors of
:mod:`quote.errors` with the accepted names when they cannot.
"""

from __future__ import annotations

import bisect
import difflib
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from quote.catalogs.entries import (
    KIND_PRIORITY,
    Cutters,
    DrillSize,
    Finish,
    LeadTimeParams,
    Machine,
    Material,
    Rates,
    RoughnessClass,
    StockSizes,
    Tolerance,
    ToleranceTable,
)
from quote.errors import (
    CatalogError,
    IncompatibleFinish,
    InvalidRoughness,
    InvalidTolerance,
    UnknownFinish,
    UnknownMaterial,
)


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


@lru_cache(maxsize=1024)
def norm_name(text: str) -> str:
    """Lower case without spaces, hyphens, underscores, dots or slashes: "6061-T6" -> "6061t6".

    Cached: a quote resolves the same few names a dozen times.
    """
    return re.sub(r"[\s\-_./]+", "", text.strip().lower())


def build_index(items: tuple[Any, ...], what: str) -> dict[str, Any]:
    index: dict[str, Any] = {}
    for it in items:
        for key in {norm_name(it.name), *(norm_name(a) for a in it.aliases)}:
            if key in index and index[key] is not it:
                raise CatalogError(
                    f"{what} name {key!r} is claimed by both {index[key].name} and {it.name}."
                )
            index[key] = it
    return index


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
    key = norm_name(str(name)) if name is not None else ""
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
    key = norm_name(str(name)) if name is not None else ""
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
    key = norm_name(raw)
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
        key=lambda s: (KIND_PRIORITY[s.kind], abs(s.diameter_mm - d)),
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
