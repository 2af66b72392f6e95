"""Read the catalog directory: each YAML file parsed by its model in ``schema``, turned into the
entries of ``entries`` and one ``Catalog``; any problem is a ``CatalogError`` naming the file and
the field.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from quote.catalogs import schema
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
    ToleranceClass,
    ToleranceTable,
)
from quote.catalogs.resolution import Catalog, build_index
from quote.errors import CatalogError

DEFAULT_CATALOG_DIR = Path(__file__).resolve().parents[2] / "data" / "catalogs"
_CLEARANCE_SERIES = ("fine", "medium", "coarse")
M = TypeVar("M", bound=BaseModel)


def load_catalog(directory: Path | None = None) -> Catalog:
    """Read the catalogs from ``directory`` (default: the repository's ``data/catalogs``).

    Cached per resolved directory: the files are read once per process.

    Raises
    ------
    CatalogError
        A file is missing or malformed; the message and ``detail`` name the file and the field.
    """
    path = Path(directory) if directory is not None else DEFAULT_CATALOG_DIR
    return _load_cached(path.resolve())


def _read(directory: Path, name: str, model: type[M]) -> M:
    """The file ``name`` parsed by ``model``."""
    path = directory / name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CatalogError(f"Catalog file {path} is missing.", detail={"file": str(path)}) from exc
    except yaml.YAMLError as exc:
        raise CatalogError(
            f"Catalog file {path} is not valid YAML: {exc}", detail={"file": str(path)}
        ) from exc
    if not isinstance(data, dict):
        raise CatalogError(
            f"Catalog file {path} should hold a mapping at the top level.",
            detail={"file": str(path)},
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _catalog_error(path, data, exc) from None


def _catalog_error(path: Path, data: Any, exc: ValidationError) -> CatalogError:
    """The first problem pydantic found, as a ``CatalogError`` naming file, field and entry."""
    err = exc.errors()[0]
    loc = err["loc"]
    field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    entry = None  # the name of the list entry the field is in, when it has one
    node = data
    for p in loc:
        if isinstance(node, list) and isinstance(p, int) and p < len(node):
            node = node[p]
            if isinstance(node, dict) and "name" in node:
                entry = str(node["name"])
        elif isinstance(node, dict) and p in node:
            node = node[p]
        else:
            break
    where = f" (entry {entry!r})" if entry else ""
    if err["type"] == "missing":
        problem = "has no source" if loc[-1] == "source" else "is missing"
    elif err["type"] == "extra_forbidden":
        problem = "is not a known field (misspelt?)"
    else:
        problem = f"is wrong: {err['msg']} (got {err.get('input')!r})"
    more = f"; {exc.error_count() - 1} more problem(s) in the file" if exc.error_count() > 1 else ""
    return CatalogError(
        f"Catalog file {path}: field '{field}'{where} {problem}{more}.",
        detail={"file": str(path), "field": field, "entry": entry, "problem": err["msg"]},
    )


def _sorted_floats(values: list[float]) -> tuple[float, ...]:
    return tuple(sorted(set(values)))


def _valued(v: schema.Valued, key: str, sources: dict[str, str]) -> float:
    sources[key] = v.source
    return v.value


def _listed(v: schema.Listed, key: str, sources: dict[str, str]) -> tuple[float, ...]:
    sources[key] = v.source
    return _sorted_floats(v.values)


def _flat(cls: type, model: BaseModel, group: str, sources: dict[str, str]) -> Any:
    """A dataclass of plain numbers from a ``{field: {value, source}}`` file."""
    values = {
        k: _valued(getattr(model, k), f"{group}.{k}", sources) for k in type(model).model_fields
    }
    return cls(**values)


@lru_cache(maxsize=8)
def _load_cached(directory: Path) -> Catalog:
    sources: dict[str, str] = {}
    st = _read(directory, "stock.yaml", schema.StockFile)
    stock = StockSizes(
        plate_thickness_mm=_listed(st.plate_thickness_mm, "stock.plate_thickness_mm", sources),
        round_bar_diameter_mm=_listed(
            st.round_bar_diameter_mm, "stock.round_bar_diameter_mm", sources
        ),
        allowance_mm=_valued(st.allowance_mm, "stock.allowance_mm", sources),
        bar_allowance_mm=_valued(st.bar_allowance_mm, "stock.bar_allowance_mm", sources),
        plate_face_allowance_mm=_valued(
            st.plate_face_allowance_mm, "stock.plate_face_allowance_mm", sources
        ),
        bar_diameter_allowance_mm=_valued(
            st.bar_diameter_allowance_mm, "stock.bar_diameter_allowance_mm", sources
        ),
    )
    cu = _read(directory, "cutters.yaml", schema.CuttersFile)
    cutters = Cutters(
        end_mill_diameters_mm=_listed(
            cu.end_mill_diameters_mm, "cutters.end_mill_diameters_mm", sources
        ),
        min_radius_mm=_valued(cu.min_radius_mm, "cutters.min_radius_mm", sources),
        corner_radius_factor=_valued(
            cu.corner_radius_factor, "cutters.corner_radius_factor", sources
        ),
    )
    drills = _drills(_read(directory, "drills.yaml", schema.DrillsFile), sources)
    materials = tuple(
        Material(**m.model_dump(exclude={"aliases"}), aliases=tuple(m.aliases))
        for m in _read(directory, "materials.yaml", schema.MaterialsFile).materials
    )
    machines = tuple(
        Machine(**m.model_dump(exclude={"envelope_mm"}), envelope_mm=m.envelope_mm)
        for m in _read(directory, "machines.yaml", schema.MachinesFile).machines
    )
    finishes = tuple(
        Finish(
            **f.model_dump(exclude={"aliases", "families"}),
            aliases=tuple(f.aliases),
            families=tuple(f.families),
        )
        for f in _read(directory, "finishes.yaml", schema.FinishesFile).finishes
    )
    tolerances = _tolerances(
        directory, _read(directory, "tolerances.yaml", schema.TolerancesFile), sources
    )
    roughness = tuple(
        sorted(
            (
                RoughnessClass(ra_um=r.ra_um, factor=r.factor, source=r.source)
                for r in _read(directory, "roughness.yaml", schema.RoughnessFile).classes
            ),
            key=lambda r: -r.ra_um,
        )
    )
    rates = _flat(Rates, _read(directory, "rates.yaml", schema.RatesFile), "rates", sources)
    leadtime = _flat(
        LeadTimeParams, _read(directory, "leadtime.yaml", schema.LeadTimeFile), "leadtime", sources
    )

    for group, items in (("materials", materials), ("machines", machines), ("finishes", finishes)):
        if not items:
            raise CatalogError(
                f"{directory / (group + '.yaml')} lists no {group}.",
                detail={"file": str(directory / (group + ".yaml")), "field": group},
            )
        for it in items:
            sources[f"{group}.{it.name}"] = it.source
    for r in roughness:
        sources[f"roughness.{r.ra_um:g}"] = r.source

    material_index = build_index(materials, "material")
    finish_index = build_index(finishes, "finish")
    families = {m.family for m in materials}
    for f in finishes:
        unknown = set(f.families) - families
        if unknown:
            raise CatalogError(
                f"finish {f.name!r} names material families {sorted(unknown)} that no "
                "material has.",
                detail={"file": str(directory / "finishes.yaml"), "field": "families"},
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


def _drills(data: schema.DrillsFile, sources: dict[str, str]) -> tuple[DrillSize, ...]:
    out: list[DrillSize] = []
    sources["drills.tap_drills"] = data.tap_drills.source
    for thread, (_pitch, d) in data.tap_drills.sizes.items():
        out.append(DrillSize(d, f"{d:g} ({thread} tap drill, ISO 2306)", "tap_drill", thread))
    sources["drills.clearance_holes"] = data.clearance_holes.source
    for thread, sizes in data.clearance_holes.sizes.items():
        for series, d in zip(_CLEARANCE_SERIES, sizes, strict=True):
            label = f"{d:g} ({thread} clearance, ISO 273 {series})"
            out.append(DrillSize(d, label, "clearance", thread))
    sources["drills.jobber_drills"] = data.jobber_drills.source
    for lo, hi, step in data.jobber_drills.ranges:
        # Integer steps avoid the drift of repeated float addition (1.0 + 0.1 * k).
        n = int(round((hi - lo) / step))
        for k in range(n + 1):
            d = round(lo + k * step, 3)
            out.append(DrillSize(d, f"{d:g} (jobber drill)", "drill", None))
    out.sort(key=lambda s: (s.diameter_mm, KIND_PRIORITY[s.kind]))
    return tuple(out)


def _tolerances(
    directory: Path, data: schema.TolerancesFile, sources: dict[str, str]
) -> ToleranceTable:
    iso = data.iso2768
    sources["tolerances.iso2768"] = iso.source
    uppers = tuple(iso.range_upper_mm)
    classes = {}
    for name, c in iso.classes.items():
        tols = tuple(c.tolerances_mm)
        if len(tols) != len(uppers):
            field = f"iso2768.classes.{name}.tolerances_mm"
            raise CatalogError(
                f"Catalog file {directory / 'tolerances.yaml'}: field '{field}' has {len(tols)} "
                f"values, one per range of range_upper_mm ({len(uppers)}) needed.",
                detail={"file": str(directory / "tolerances.yaml"), "field": field},
            )
        classes[name] = ToleranceClass(name, c.description, tols)
    sources["tolerances.cost_factors"] = data.cost_factors.source
    sources["tolerances.explicit_range_mm"] = data.explicit_range_mm.source
    sources["tolerances.default_label"] = data.default_label.source
    return ToleranceTable(
        range_upper_mm=uppers,
        classes=classes,
        default_label=data.default_label.value,
        cost_points=tuple(sorted(data.cost_factors.points, reverse=True)),
        explicit_min_mm=data.explicit_range_mm.min,
        explicit_max_mm=data.explicit_range_mm.max,
    )
