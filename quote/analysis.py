"""Read a part file and measure each body once: the spec-independent half of a quote.

The result (`PartAnalysis`) is what the platform stores for an uploaded part, so a quote for a new
material or quantity never parses the file again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quote.catalogs import Catalog, load_catalog
from quote.geometry.dfm import check_dfm
from quote.geometry.features import extract_features
from quote.geometry.loading import load_part
from quote.types import (
    Datum,
    DatumRef,
    DfmWarning,
    Dimension,
    GeometricTolerance,
    Hole,
    PartFeatures,
    Pmi,
    Stock,
    as_jsonable,
)


@dataclass(frozen=True)
class ItemAnalysis:
    """One separately quoted body: its index and name in the file, features, geometry-only DFM."""

    index: int
    name: str
    features: PartFeatures
    dfm: tuple[DfmWarning, ...]


@dataclass(frozen=True)
class PartAnalysis:
    """Everything measured from one file.

    items: one per separate body (touching bodies already merged). warnings: file-level notes
    (repairs, units ignored, multi-body). parse_seconds: bare reader time; analysis_seconds: total.
    """

    file_name: str
    file_sha256: str
    source_format: str
    units: str
    items: tuple[ItemAnalysis, ...]
    warnings: tuple[DfmWarning, ...]
    parse_seconds: float
    analysis_seconds: float

    def to_dict(self) -> dict[str, Any]:
        d = as_jsonable(self)
        for item, feats in zip(d["items"], self.items, strict=True):
            item["features"] = feats.features.to_dict()
        return d


def analyze_part(
    path: str | Path,
    *,
    units: str | None = None,
    catalog: Catalog | None = None,
    max_bytes: int = 100 * 2**20,
    max_triangles: int = 2_000_000,
    pmi: bool = True,
) -> PartAnalysis:
    """Load ``path`` and extract features and geometry DFM for each body.

    ``pmi``: read a STEP file's semantic PMI into ``features.pmi`` (False: shapes only).
    Raises the typed ``quote.errors.PartError`` family for files that cannot be quoted.
    """
    t0 = time.perf_counter()
    catalog = catalog or load_catalog()
    loaded = load_part(path, units=units, max_bytes=max_bytes, max_triangles=max_triangles, pmi=pmi)
    items = []
    for body in loaded.bodies:
        sha = (
            loaded.file_sha256 if len(loaded.bodies) == 1 else f"{loaded.file_sha256}:{body.index}"
        )
        feats = extract_features(
            body, source_format=loaded.source_format, file_sha256=sha, catalog=catalog
        )
        items.append(
            ItemAnalysis(
                index=body.index,
                name=body.name,
                features=feats,
                dfm=check_dfm(feats, None, catalog),
            )
        )
    return PartAnalysis(
        file_name=Path(path).name,
        file_sha256=loaded.file_sha256,
        source_format=loaded.source_format,
        units=loaded.units,
        items=tuple(items),
        warnings=tuple(loaded.warnings),
        parse_seconds=loaded.parse_seconds,
        analysis_seconds=time.perf_counter() - t0,
    )


def _vec(v: Any) -> tuple[float, float, float] | None:
    return None if v is None else (float(v[0]), float(v[1]), float(v[2]))


def features_from_dict(d: dict[str, Any]) -> PartFeatures:
    """Rebuild ``PartFeatures`` from its ``to_dict()`` form (as stored by the platform)."""
    holes = tuple(
        Hole(
            diameter_mm=h["diameter_mm"],
            depth_mm=h["depth_mm"],
            through=h["through"],
            axis=_vec(h["axis"]),  # type: ignore[arg-type]  # stored holes always have one
            position_mm=_vec(h["position_mm"]),  # type: ignore[arg-type]  # likewise
            standard=h.get("standard"),
            tap=h.get("tap"),
        )
        for h in d["holes"]
    )
    s = d["stock"]
    fields = {k: v for k, v in d.items() if k not in ("holes", "stock", "hole_count", "pmi")}
    for key in ("bbox_mm", "obb_mm"):
        fields[key] = _vec(fields[key])
    for key in ("min_wall_location_mm", "min_internal_radius_location_mm", "pocket_location_mm"):
        fields[key] = _vec(fields.get(key))
    fields["access_directions"] = tuple(fields["access_directions"])
    stock = Stock(form=s["form"], dims_mm=tuple(s["dims_mm"]), volume_mm3=s["volume_mm3"])
    pmi = _pmi_from_dict(d["pmi"]) if d.get("pmi") is not None else None
    return PartFeatures(holes=holes, stock=stock, pmi=pmi, **fields)


def _pmi_from_dict(d: dict[str, Any]) -> Pmi:
    return Pmi(
        dimensions=tuple(
            Dimension(**{**x, "faces": tuple(x["faces"]), "to_faces": tuple(x["to_faces"])})
            for x in d["dimensions"]
        ),
        tolerances=tuple(
            GeometricTolerance(
                **{
                    **x,
                    "modifiers": tuple(x["modifiers"]),
                    "faces": tuple(x["faces"]),
                    "datums": tuple(
                        DatumRef(r["name"], r["position"], tuple(r["modifiers"]))
                        for r in x["datums"]
                    ),
                }
            )
            for x in d["tolerances"]
        ),
        datums=tuple(Datum(x["name"], tuple(x["faces"]), x["target"]) for x in d["datums"]),
    )


def _warning_from_dict(d: dict[str, Any]) -> DfmWarning:
    return DfmWarning(
        code=d["code"],
        severity=d["severity"],
        message=d["message"],
        location_mm=_vec(d.get("location_mm")),
        value=d.get("value"),
        limit=d.get("limit"),
    )


def analysis_from_dict(d: dict[str, Any]) -> PartAnalysis:
    """Rebuild a ``PartAnalysis`` from ``to_dict()`` output."""
    return PartAnalysis(
        file_name=d["file_name"],
        file_sha256=d["file_sha256"],
        source_format=d["source_format"],
        units=d["units"],
        items=tuple(
            ItemAnalysis(
                index=i["index"],
                name=i["name"],
                features=features_from_dict(i["features"]),
                dfm=tuple(_warning_from_dict(w) for w in i["dfm"]),
            )
            for i in d["items"]
        ),
        warnings=tuple(_warning_from_dict(w) for w in d["warnings"]),
        parse_seconds=d["parse_seconds"],
        analysis_seconds=d["analysis_seconds"],
    )
