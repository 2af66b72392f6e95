"""Catalogs: every value sourced, names and aliases resolve, tolerances parse, drills match."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from quote.catalogs import (
    DEFAULT_CATALOG_DIR,
    check_finish_applies,
    compatible_finishes,
    load_catalog,
    match_drill,
    process_tolerance_limits,
    resolve_finish,
    resolve_material,
    resolve_roughness,
    resolve_tolerance,
)
from quote.errors import (
    CatalogError,
    IncompatibleFinish,
    InvalidRoughness,
    InvalidTolerance,
    UnknownFinish,
    UnknownMaterial,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def catalog():  # type: ignore[no-untyped-def]
    return load_catalog()


def test_load_is_cached_per_directory(catalog) -> None:  # type: ignore[no-untyped-def]
    assert load_catalog() is catalog
    assert load_catalog(DEFAULT_CATALOG_DIR) is catalog
    assert catalog.directory == (REPO_ROOT / "data" / "catalogs").resolve()


def _unsourced_numbers(node: Any, path: str, sourced: bool) -> list[str]:
    """Paths of numbers in a YAML tree with no 'source' beside them or above them."""
    if isinstance(node, dict):
        here = sourced or bool(node.get("source"))
        out = []
        for k, v in node.items():
            out += _unsourced_numbers(v, f"{path}.{k}", here)
        return out
    if isinstance(node, list):
        out = []
        for i, v in enumerate(node):
            out += _unsourced_numbers(v, f"{path}[{i}]", sourced)
        return out
    if isinstance(node, int | float) and not isinstance(node, bool) and not sourced:
        return [path]
    return []


def test_every_catalog_value_has_a_source_and_is_listed_in_readme() -> None:
    readme = (REPO_ROOT / "data" / "README.md").read_text(encoding="utf-8")
    files = sorted(DEFAULT_CATALOG_DIR.glob("*.yaml"))
    assert len(files) >= 9
    for path in files:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert _unsourced_numbers(data, path.name, False) == [], path.name
        assert path.name in readme, f"data/README.md does not list {path.name}"


def test_loaded_entries_carry_their_sources(catalog) -> None:  # type: ignore[no-untyped-def]
    for group in (catalog.materials, catalog.machines, catalog.finishes, catalog.roughness):
        for item in group:
            assert len(item.source) > 10
    assert "rates.margin_rate" in catalog.sources
    assert "stock.allowance_mm" in catalog.sources


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        ("A5052", "A5052"),
        ("a5052", "A5052"),
        ("A6061", "A6061"),
        ("6061-T6", "A6061"),
        ("6061", "A6061"),
        ("7075", "A7075"),
        ("S45C", "S45C"),
        ("1045", "S45C"),
        ("SS400", "SS400"),
        ("SUS304", "SUS304"),
        ("304", "SUS304"),
        ("sus 304", "SUS304"),
        ("316", "SUS316"),
        ("C3604", "C3604"),
        ("brass", "C3604"),
        ("POM", "POM"),
        ("acetal", "POM"),
        ("Delrin", "POM"),
        ("Ti-6Al-4V", "Ti-6Al-4V"),
        ("Ti64", "Ti-6Al-4V"),
        ("grade 5", "Ti-6Al-4V"),
    ],
)
def test_materials_resolve_by_jis_name_and_alias(catalog, asked: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    assert resolve_material(catalog, asked).name == expected


def test_unknown_material_lists_every_accepted_name(catalog) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnknownMaterial) as exc:
        resolve_material(catalog, "unobtainium")
    err = exc.value
    assert err.code == "unknown_material"
    for m in catalog.materials:
        assert m.name in err.message
    assert err.detail["accepted"] == [m.name for m in catalog.materials]
    with pytest.raises(UnknownMaterial, match="Did you mean A5052"):
        resolve_material(catalog, "A5025")


def test_material_physics_is_plausible(catalog) -> None:  # type: ignore[no-untyped-def]
    by = {m.name: m for m in catalog.materials}
    # Densities and the order of machinability everyone agrees on.
    assert 2.6 < by["A6061"].density_g_cm3 < 2.8
    assert 7.8 < by["SUS304"].density_g_cm3 < 8.1
    assert (
        by["A6061"].roughing_rate_cm3_min
        > by["S45C"].roughing_rate_cm3_min
        > by["SUS304"].roughing_rate_cm3_min
        > by["Ti-6Al-4V"].roughing_rate_cm3_min
    )
    assert by["Ti-6Al-4V"].price_jpy_per_kg > by["SUS304"].price_jpy_per_kg
    assert by["POM"].min_wall_mm == 1.5 and by["A5052"].min_wall_mm == 0.8


def test_finishes_resolve_and_check_the_material(catalog) -> None:  # type: ignore[no-untyped-def]
    for name in ("none", "anodize", "hard_anodize", "electroless_nickel", "passivation",
                 "bead_blast"):  # fmt: skip
        assert resolve_finish(catalog, name).name == name
    assert resolve_finish(catalog, None).name == "none"
    assert resolve_finish(catalog, "").name == "none"
    assert resolve_finish(catalog, "Hard Anodize").name == "hard_anodize"
    assert resolve_finish(catalog, "alumite").name == "anodize"
    with pytest.raises(UnknownFinish) as exc:
        resolve_finish(catalog, "gold leaf")
    assert "passivation" in exc.value.message and "anodize" in exc.value.message

    sus = resolve_material(catalog, "SUS304")
    with pytest.raises(IncompatibleFinish) as exc2:
        check_finish_applies(catalog, sus, resolve_finish(catalog, "anodize"))
    assert "passivation" in exc2.value.message
    check_finish_applies(catalog, sus, resolve_finish(catalog, "passivation"))
    al_finishes = {f.name for f in compatible_finishes(catalog, resolve_material(catalog, "A5052"))}
    assert {"none", "anodize", "hard_anodize"} <= al_finishes
    assert "passivation" not in al_finishes


@pytest.mark.parametrize(
    ("asked", "size", "label", "mm"),
    [
        ("ISO2768-m", 100.0, "ISO2768-m", 0.3),
        ("iso2768m", 100.0, "ISO2768-m", 0.3),
        ("m", 100.0, "ISO2768-m", 0.3),
        ("ISO 2768-1 m", 150.0, "ISO2768-m", 0.5),
        ("ISO2768-mK", 20.0, "ISO2768-m", 0.2),
        ("medium", 2.0, "ISO2768-m", 0.1),
        ("ISO2768-f", 5.0, "ISO2768-f", 0.05),
        ("JIS B 0405 c", 500.0, "ISO2768-c", 2.0),
        ("v", 1500.0, "ISO2768-v", 6.0),
        ("0.02", 100.0, "0.02", 0.02),
        ("±0.05 mm", 100.0, "0.05", 0.05),
        ("+-0.1", 100.0, "0.1", 0.1),
        (0.02, 100.0, "0.02", 0.02),
        (1, 100.0, "1", 1.0),
    ],
)
def test_tolerances_resolve(catalog, asked, size: float, label: str, mm: float) -> None:  # type: ignore[no-untyped-def]
    tol = resolve_tolerance(catalog, asked, size)
    assert tol.label == label
    assert tol.mm == pytest.approx(mm)


def test_iso2768_class_value_grows_with_size_and_class(catalog) -> None:  # type: ignore[no-untyped-def]
    sizes = [1, 5, 20, 100, 300, 800, 1500, 3000]
    for cls in "fmcv":
        vals = [resolve_tolerance(catalog, cls, s).mm for s in sizes]
        assert vals == sorted(vals), cls
    for s in sizes:
        f, m, c, v = (resolve_tolerance(catalog, k, s).mm for k in "fmcv")
        assert f <= m <= c <= v


@pytest.mark.parametrize("bad", ["tight", "", "ISO2768-x", "iso2768", "0", "-0.02", 0, -1.0,
                                 float("nan"), float("inf"), "nan", 50.0, True, None])  # fmt: skip
def test_bad_tolerances_are_refused_with_the_accepted_forms(catalog, bad) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidTolerance) as exc:
        resolve_tolerance(catalog, bad, 100.0)
    assert exc.value.code == "invalid_tolerance"
    assert "ISO2768-m" in exc.value.message or "mm" in exc.value.message


def test_tolerance_cost_factor_rises_as_tolerance_tightens(catalog) -> None:  # type: ignore[no-untyped-def]
    tols = [1.0, 0.3, 0.1, 0.07, 0.05, 0.03, 0.02, 0.01, 0.005, 0.002]
    factors = [catalog.tolerances.cost_factor(t) for t in tols]
    assert factors[0] == factors[1] == factors[2] == 1.0
    assert all(b > a for a, b in zip(factors[2:], factors[3:], strict=False))
    # DOMAIN.md: +-0.025 mm costs clearly more than +-0.127 mm; halving costs x1.3-4 on finishing.
    assert 1.3 < catalog.tolerances.cost_factor(0.025) < 4.0


def test_roughness_classes(catalog) -> None:  # type: ignore[no-untyped-def]
    assert resolve_roughness(catalog, 3.2).ra_um == 3.2
    assert resolve_roughness(catalog, 1.0).ra_um == 0.8  # must meet Ra 1.0: the 0.8 class
    assert resolve_roughness(catalog, 50).ra_um == max(r.ra_um for r in catalog.roughness)
    factors = [resolve_roughness(catalog, ra).factor for ra in (6.3, 3.2, 1.6, 0.8, 0.4)]
    assert factors == sorted(factors) and factors[1] == 1.0
    for bad in (0, -1, float("nan"), "rough", 0.01):
        with pytest.raises(InvalidRoughness):
            resolve_roughness(catalog, bad)


@pytest.mark.parametrize(
    ("diameter", "label_part", "tap"),
    [
        (6.6, "M6 clearance, ISO 273 medium", None),
        (6.62, "M6 clearance, ISO 273 medium", None),
        (9.0, "M8 clearance, ISO 273 medium", None),
        (6.8, "M8 tap drill", "M8"),
        (5.0, "M6 tap drill", "M6"),
        (8.5, "M10 tap drill", "M10"),
        (4.2, "M5 tap drill", "M5"),
        (10.2, "M12 tap drill", "M12"),
        (21.0, "M24 tap drill", "M24"),
        (5.5, "M5 clearance, ISO 273 medium", None),
        (7.3, "jobber drill", None),
        (22.5, "jobber drill", None),
    ],
)
def test_match_drill(catalog, diameter: float, label_part: str, tap: str | None) -> None:  # type: ignore[no-untyped-def]
    label, thread = match_drill(catalog, diameter)
    assert label is not None and label_part in label
    assert thread == tap
    assert catalog.match_drill(diameter) == (label, thread)


@pytest.mark.parametrize("diameter", [13.2, 13.75, 40.0, 0.5, float("nan")])
def test_no_standard_drill(catalog, diameter: float) -> None:  # type: ignore[no-untyped-def]
    assert match_drill(catalog, diameter) == (None, None)


def test_tap_drills_follow_diameter_minus_pitch(catalog) -> None:  # type: ignore[no-untyped-def]
    taps = {d.thread: d.diameter_mm for d in catalog.drills if d.kind == "tap_drill"}
    assert {f"M{n}" for n in (2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24)} <= set(taps)
    for thread, drill in taps.items():
        nominal = float(thread[1:])
        assert 0.75 * nominal < drill < nominal
    clear = [d for d in catalog.drills if d.kind == "clearance" and d.thread == "M6"]
    assert sorted(d.diameter_mm for d in clear) == [6.4, 6.6, 7.0]


def test_stock_sizes(catalog) -> None:  # type: ignore[no-untyped-def]
    st = catalog.stock
    assert st.plate_thickness_mm[0] <= 1 and st.plate_thickness_mm[-1] >= 200
    assert st.round_bar_diameter_mm[0] <= 3 and st.round_bar_diameter_mm[-1] >= 300
    assert list(st.plate_thickness_mm) == sorted(st.plate_thickness_mm)
    assert st.allowance_mm > 0 and st.bar_allowance_mm > 0
    # A 10 mm thick part needs skimming on both faces: the next plate up, not the 10 mm one.
    assert st.next_plate_thickness(10.0) == 12.0
    assert st.next_plate_thickness(9.0) == 10.0
    assert st.next_plate_thickness(500.0) is None
    assert st.next_bar_diameter(24.0) == 25.0
    assert st.next_bar_diameter(400.0) is None


def test_cutters_and_machines(catalog) -> None:  # type: ignore[no-untyped-def]
    assert catalog.cutters.min_radius_mm == min(catalog.cutters.end_mill_diameters_mm) / 2
    kinds = {m.kind for m in catalog.machines}
    assert {"mill", "lathe", "mill-turn"} <= kinds
    assert any(m.axes >= 5 and m.kind == "mill" for m in catalog.machines)
    eco_mill, lim_mill = process_tolerance_limits(catalog, "mill")
    assert 0 < lim_mill < eco_mill < 0.1
    vmc = catalog.machine("vmc_3axis")
    assert vmc.fits((100.0, 60.0, 10.0))
    assert vmc.fits((10.0, 700.0, 100.0))  # any orientation
    assert not vmc.fits((4000.0, 100.0, 50.0))


def _copy_catalog(tmp_path: Path) -> Path:
    target = tmp_path / "catalogs"
    shutil.copytree(DEFAULT_CATALOG_DIR, target)
    return target


def test_missing_or_unsourced_catalog_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="missing"):
        load_catalog(tmp_path / "nowhere")
    d = _copy_catalog(tmp_path)
    data = yaml.safe_load((d / "materials.yaml").read_text(encoding="utf-8"))
    del data["materials"][0]["source"]
    (d / "materials.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(CatalogError, match="no source"):
        load_catalog(d)


def test_a_shop_can_edit_its_catalog(tmp_path: Path) -> None:
    d = _copy_catalog(tmp_path)
    data = yaml.safe_load((d / "materials.yaml").read_text(encoding="utf-8"))
    data["materials"][0]["price_jpy_per_kg"] = 999.0
    (d / "materials.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    edited = load_catalog(d)
    assert edited.materials[0].price_jpy_per_kg == 999.0
    assert load_catalog().materials[0].price_jpy_per_kg != 999.0
    assert not math.isnan(edited.rates.margin_rate)


def _edit(d: Path, name: str, change: Any) -> None:
    path = d / name
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")


def _set(path: tuple[Any, ...], value: Any) -> Any:
    def change(data: Any) -> None:
        for key in path[:-1]:
            data = data[key]
        if value is _REMOVE:
            del data[path[-1]]
        else:
            data[path[-1]] = value

    return change


_REMOVE = object()


@pytest.mark.parametrize(
    ("file", "path", "value", "field", "words"),
    [
        ("materials.yaml", ("materials", 0, "density_g_cm3"), _REMOVE,
         "materials[0].density_g_cm3", "is missing"),
        ("materials.yaml", ("materials", 1, "price_jpy_per_kg"), "cheap",
         "materials[1].price_jpy_per_kg", "valid number"),
        ("machines.yaml", ("machines", 0, "axes"), "five", "machines[0].axes", "valid integer"),
        ("machines.yaml", ("machines", 0, "envelope_mm"), [800, 500],
         "machines[0].envelope_mm[2]", "is missing"),
        ("machines.yaml", ("machines", 0, "min_quantiy"), 5, "machines[0].min_quantiy",
         "not a known field"),
        ("finishes.yaml", ("finishes", 1, "families"), "aluminium", "finishes[1].families",
         "valid list"),
        ("rates.yaml", ("margin_rate",), _REMOVE, "margin_rate", "is missing"),
        ("leadtime.yaml", ("queue_days", "value"), None, "queue_days.value", "is wrong"),
        ("stock.yaml", ("allowance_mm", "value"), "thick", "allowance_mm.value", "valid number"),
        ("stock.yaml", ("plate_thickness_mm", "values"), 12, "plate_thickness_mm.values",
         "valid list"),
        ("drills.yaml", ("tap_drills", "sizes", "M6"), [5.0], "tap_drills.sizes.M6[1]",
         "is missing"),
        ("tolerances.yaml", ("explicit_range_mm", "max"), _REMOVE, "explicit_range_mm.max",
         "is missing"),
        ("roughness.yaml", ("classes", 2, "factor"), "x", "classes[2].factor", "valid number"),
        ("cutters.yaml", ("min_radius_mm", "source"), _REMOVE, "min_radius_mm.source",
         "has no source"),
    ],
)  # fmt: skip
def test_a_missing_or_mistyped_field_names_the_file_and_field(  # type: ignore[no-untyped-def]
    tmp_path: Path, file, path, value, field, words
) -> None:
    d = _copy_catalog(tmp_path)
    _edit(d, file, _set(path, value))
    with pytest.raises(CatalogError) as caught:
        load_catalog(d)
    err = caught.value
    assert str(d / file) in err.message and f"'{field}'" in err.message, err.message
    assert words in err.message, err.message
    assert err.detail["file"] == str(d / file) and err.detail["field"] == field
    assert not isinstance(err, KeyError | TypeError | ValueError)


def test_a_mistyped_entry_is_named_by_its_entry(tmp_path: Path) -> None:
    d = _copy_catalog(tmp_path)
    _edit(d, "materials.yaml", _set(("materials", 0, "machinability"), "easy"))
    first = yaml.safe_load((DEFAULT_CATALOG_DIR / "materials.yaml").read_text())["materials"][0]
    with pytest.raises(CatalogError, match=f"entry '{first['name']}'") as caught:
        load_catalog(d)
    assert caught.value.detail["entry"] == first["name"]
    assert caught.value.to_dict()["error"] == "catalog_error"
