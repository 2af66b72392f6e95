"""Training: history CSVs, the default and shop models, their predictions, saving and loading.

A small default model (24 generated parts) is trained once per module; the shop is a test shop
whose prices re-weight the physics breakdown (dear material and machining, cheap setup), on
generated parts written as STL files and read back through the CSV path.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import joblib
import numpy as np
import pytest

from quote import featurize
from quote.analysis import analyze_part
from quote.artifact import FORMAT_VERSION, QuoteModel, Row
from quote.catalogs import load_catalog, resolve_tolerance
from quote.corpus import write_corpus
from quote.costing import estimate
from quote.errors import (
    HistoryError,
    InsufficientHistory,
    InvalidQuantity,
    ModelIncompatible,
    ModelNotFound,
    UnreadablePart,
)
from quote.history import HISTORY_COLUMNS, HistoryRow, read_history_csv, read_requests_csv
from quote.persistence import (
    load_default_model,
    load_model,
    model_from_bytes,
    model_to_bytes,
    save_model,
)
from quote.training import train_default_model, train_shop_model
from quote.types import PartFeatures, QuoteSpec

MATERIALS = ("A5052", "A6061", "S45C", "SUS304", "C3604", "POM")
TOLERANCES = ("ISO2768-m", "ISO2768-f", "0.05", "0.02")


@pytest.fixture(scope="module")
def default() -> QuoteModel:
    return train_default_model(n_parts=24, specs_per_part=5, random_state=0)


def _test_shop_price(features: PartFeatures, spec: QuoteSpec) -> tuple[float, float]:
    """The test shop: material x1.8, machining x1.5, setup x0.6, the rest as the physics;
    lead time 2 days longer than the physics; 3% lognormal noise (seeded by the row)."""
    p = estimate(features, spec, load_catalog())
    b = p.breakdown
    cost = (
        1.8 * b.material + 0.6 * b.setup + b.programming + 1.5 * b.machining
        + b.finishing + b.inspection + b.margin
    )  # fmt: skip
    rng = np.random.default_rng(int(cost) % 10_007)
    return round(cost * math.exp(rng.normal(0, 0.03))), p.lead_time_days + 2


@pytest.fixture(scope="module")
def shop_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """90 rows on 90 generated parts: the first 60 are the history, the rest held out."""
    folder = tmp_path_factory.mktemp("shop")
    paths = write_corpus(folder / "parts", 90, random_state=21)
    catalog = load_catalog()
    rng = np.random.default_rng(4)
    lines = []
    for path in paths:
        feats = analyze_part(path, catalog=catalog).items[0].features
        material = str(rng.choice(MATERIALS))
        quantity = int(rng.choice([1, 2, 5, 10, 20, 50, 100]))
        tol_text = str(rng.choice(TOLERANCES))
        tol = resolve_tolerance(catalog, tol_text, feats.max_extent_mm)
        spec = QuoteSpec(material, quantity, tol.label, tol.mm, "none")
        price, lead = _test_shop_price(feats, spec)
        lines.append([f"parts/{path.name}", material, quantity, tol_text, "", price, lead])
    csv_path = folder / "history.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HISTORY_COLUMNS)
        w.writerows(lines)
    return csv_path


@pytest.fixture(scope="module")
def shop_model(shop_csv: Path, default: QuoteModel) -> QuoteModel:
    rows = read_history_csv(shop_csv).rows
    return train_shop_model(rows[:60], shop="acme", base=default, random_state=0)


def _triples(rows: Sequence[HistoryRow]) -> list[Row]:
    catalog = load_catalog()
    out = []
    for r in rows:
        feats = analyze_part(r.part_file, catalog=catalog).items[0].features
        tol = resolve_tolerance(catalog, r.tolerance, feats.max_extent_mm)
        spec = QuoteSpec(r.material, r.quantity, tol.label, tol.mm, r.finish)
        out.append((feats, spec, estimate(feats, spec, catalog)))
    return out


# -- shop models ------------------------------------------------------------------------------


def test_shop_model_prices_like_the_shop(
    shop_csv: Path, shop_model: QuoteModel, default: QuoteModel
) -> None:
    held = read_history_csv(shop_csv).rows[60:]
    triples = _triples(held)
    price = np.array([r.unit_price for r in held])
    lead = np.array([r.lead_time_days for r in held])
    shop_pred = shop_model.predict(triples)
    default_pred = default.predict(triples)
    mape_shop = np.mean([abs(p.unit_price - y) / y for p, y in zip(shop_pred, price, strict=True)])
    mape_default = np.mean(
        [abs(p.unit_price - y) / y for p, y in zip(default_pred, price, strict=True)]
    )
    assert mape_shop < 0.6 * mape_default, (mape_shop, mape_default)
    lead_shop = np.mean([abs(p.lead_time_days - y) for p, y in zip(shop_pred, lead, strict=True)])
    lead_default = np.mean(
        [abs(p.lead_time_days - y) for p, y in zip(default_pred, lead, strict=True)]
    )
    assert lead_shop < lead_default


def test_shop_model_provenance(shop_model: QuoteModel, default: QuoteModel) -> None:
    assert shop_model.shop == "acme" and shop_model.name == "acme"
    assert shop_model.version.startswith("shop-acme-")
    assert shop_model.trained_rows == 60
    assert shop_model.base is default
    m = shop_model.metrics
    for key in ("price_mape", "price_coverage_80", "price_coverage_90", "lead_mae_days"):
        assert key in m and math.isfinite(m[key])
    # The backtest shows what training bought over the default model on the same rows.
    assert m["price_mape"] < m["base_price_mape"]
    assert len(shop_model.data_sha256) == 64


def test_fewer_than_50_rows_is_insufficient(shop_csv: Path, default: QuoteModel) -> None:
    rows = read_history_csv(shop_csv).rows
    with pytest.raises(InsufficientHistory, match="at least 50"):
        train_shop_model(rows[:49], shop="tiny", base=default)


def test_unreadable_parts_do_not_count_toward_50(
    shop_csv: Path, default: QuoteModel, tmp_path: Path
) -> None:
    junk = tmp_path / "junk.stl"
    junk.write_bytes(b"this is not a mesh at all" * 10)
    rows = list(read_history_csv(shop_csv).rows[:52])
    rows[:5] = [replace(r, part_file=junk) for r in rows[:5]]
    with pytest.raises(InsufficientHistory) as info:
        train_shop_model(rows, shop="junky", base=default)
    assert info.value.detail["rows"] == 47
    assert any("junk.stl" in note for note in info.value.detail["skipped"])


# -- predictions ----------------------------------------------------------------------------


def test_prediction_parts_add_up_and_intervals_nest(
    shop_csv: Path, shop_model: QuoteModel, default: QuoteModel
) -> None:
    triples = _triples(read_history_csv(shop_csv).rows[60:70])
    for model in (default, shop_model):
        for p in model.predict(triples):
            assert sum(p.contributions.values()) + p.base_value == pytest.approx(
                p.unit_price, rel=1e-6
            )
            lo90, hi90 = p.unit_price_interval
            lo80, hi80 = p.unit_price_interval_80
            assert lo90 <= lo80 <= p.unit_price <= hi80 <= hi90
            assert p.lead_time_interval[0] <= p.lead_time_days <= p.lead_time_interval[1]
            assert p.prior_unit_price > 0


def test_unit_price_never_rises_with_quantity(
    shop_csv: Path, shop_model: QuoteModel, default: QuoteModel
) -> None:
    catalog = load_catalog()
    for feats, spec, _ in _triples(read_history_csv(shop_csv).rows[60:66]):
        ladder = [replace(spec, quantity=q) for q in (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000)]
        rows = [(feats, s, estimate(feats, s, catalog)) for s in ladder]
        for model in (default, shop_model):
            prices = [p.unit_price for p in model.predict(rows)]
            assert all(b <= a + 1e-9 for a, b in zip(prices, prices[1:], strict=False)), prices


def test_splitting_some_rows_by_driver_leaves_every_figure_as_it_was(
    shop_csv: Path, shop_model: QuoteModel, default: QuoteModel
) -> None:
    # The engine splits only the asked quantity's price: the other rows skip the SHAP pass
    # and must come out as they would with it.
    catalog = load_catalog()
    feats, spec, _ = _triples(read_history_csv(shop_csv).rows[60:61])[0]
    ladder = [replace(spec, quantity=q) for q in (1, 5, 10, 50, 100, 500)]
    rows = [(feats, s, estimate(feats, s, catalog)) for s in ladder]
    for model in (default, shop_model):
        full = model.predict(rows)
        some = model.predict(rows, contributions_for=(2, 4))
        for i, (a, b) in enumerate(zip(full, some, strict=True)):
            if i in (2, 4):
                assert b.contributions == pytest.approx(a.contributions, rel=1e-12)
                assert b.base_value == pytest.approx(a.base_value, rel=1e-12)
            else:
                assert b.contributions == {} and b.base_value == 0.0
            assert replace(b, contributions=a.contributions, base_value=a.base_value) == a
        arrays = model.predict_arrays(featurize.build_matrix(rows, catalog), (2, 4))
        assert np.isnan(arrays["contributions"][[0, 1, 3, 5]]).all()
        assert np.isfinite(arrays["contributions"][[2, 4]]).all()


def test_default_model_is_deterministic(default: QuoteModel) -> None:
    again = train_default_model(n_parts=24, specs_per_part=5, random_state=0)
    assert again.data_sha256 == default.data_sha256
    assert again.version == default.version
    other = train_default_model(n_parts=24, specs_per_part=5, random_state=1)
    assert other.data_sha256 != default.data_sha256
    X = np.random.default_rng(0).normal(size=(5, default.price_model.n_features_in_))
    np.testing.assert_array_equal(again.price_model.predict(X), default.price_model.predict(X))


# -- saving and loading -----------------------------------------------------------------------


def test_bytes_round_trip_gives_identical_predictions(
    shop_csv: Path, shop_model: QuoteModel, tmp_path: Path
) -> None:
    triples = _triples(read_history_csv(shop_csv).rows[60:65])
    before = shop_model.predict(triples)
    restored = model_from_bytes(model_to_bytes(shop_model))
    assert restored.version == shop_model.version and restored.metrics == shop_model.metrics
    assert restored.predict(triples) == before
    path = save_model(shop_model, tmp_path / "models" / "acme.joblib")
    assert load_model(path).predict(triples) == before


def test_corrupt_or_foreign_model_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.joblib"
    bad.write_bytes(b"\x80\x04 definitely not a pickle")
    with pytest.raises(ModelIncompatible, match="retrain|rebuild"):
        load_model(bad)
    foreign = tmp_path / "foreign.joblib"
    joblib.dump({"weights": [1, 2, 3]}, foreign)
    with pytest.raises(ModelIncompatible):
        load_model(foreign)
    with pytest.raises(ModelIncompatible):
        model_from_bytes(b"garbage")
    with pytest.raises(ModelNotFound):
        load_model(tmp_path / "nope.joblib")


def test_missing_default_model_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="make run"):
        load_default_model(tmp_path / "default.joblib")


@pytest.mark.parametrize("version", [0, FORMAT_VERSION - 1])
def test_old_format_is_refused(default: QuoteModel, tmp_path: Path, version: int) -> None:
    # Format 1 models lack the per-part scalings of format 2's estimators: refused, typed.
    path = tmp_path / "old.joblib"
    joblib.dump({"format_version": version, "model": default}, path)
    with pytest.raises(ModelIncompatible, match=f"format {version}"):
        load_model(path)
    with pytest.raises(ModelIncompatible, match="retrain"):
        model_from_bytes(path.read_bytes())


# -- CSV reading ------------------------------------------------------------------------------


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_history_csv_reports_bad_rows_and_keeps_good_ones(tmp_path: Path) -> None:
    parts = write_corpus(tmp_path / "parts", 1, random_state=2)
    part = f"parts/{parts[0].name}"
    text = (
        "\ufeffpart_file,material,quantity,tolerance,finish,unit_price,lead_time_days,note\n"
        f"{part},A5052,10,ISO2768-m,anodize,4500,7,ok\n"  # 2 good
        "parts/missing.stl,A5052,10,ISO2768-m,,4500,7,\n"  # 3 missing file
        f"{part},unobtainium,10,ISO2768-m,,4500,7,\n"  # 4 unknown material
        f"{part},A5052,10,ISO2768-m,,cheap,7,\n"  # 5 non-numeric price
        f"{part},A5052,0,ISO2768-m,,4500,7,\n"  # 6 quantity < 1
        f"{part},A5052,2.5,ISO2768-m,,4500,7,\n"  # 7 fractional quantity
        f"{part},A5052,10,ISO2768-m,,-5,7,\n"  # 8 negative price
        f"{part},A5052,10,tight,,4500,7,\n"  # 9 bad tolerance
        f"{part},SUS304,10,0.05,anodize,4500,7,\n"  # 10 anodizing stainless
        f"{part},A5052,10,0.05,,4500,soon,\n"  # 11 bad lead time
        "\n"  # 12 blank line, skipped silently
        f'{part},6061-T6,5,,,"12,000",,\n'  # 13 good: alias, defaults, no lead time
        f"{part},S45C,3,0.02,black oxide,0,5,\n"  # 14 zero price
    )
    read = read_history_csv(_write(tmp_path / "history.csv", text))
    assert [e.line for e in read.errors] == [3, 4, 5, 6, 7, 8, 9, 10, 11, 14]
    assert read.lines_read == 12 and read.rejected_lines == 10
    codes = {e.line: e.code for e in read.errors}
    assert {e.line: e.column for e in read.errors}[9] == "tolerance"
    assert codes[3] == "part_not_found"
    assert codes[4] == "unknown_material"
    assert codes[5] == codes[8] == codes[14] == "invalid_price"
    assert codes[6] == codes[7] == "invalid_quantity"
    assert codes[9] == "invalid_tolerance"
    assert codes[10] == "incompatible_finish"
    assert codes[11] == "invalid_lead_time"
    assert [r.line for r in read.rows] == [2, 13]
    first, second = read.rows
    assert first.part_file == parts[0].resolve() and first.part_file.is_absolute()
    assert (first.material, first.finish, first.unit_price, first.lead_time_days) == (
        "A5052",
        "anodize",
        4500.0,
        7.0,
    )
    assert (second.material, second.tolerance, second.finish) == ("A6061", "ISO2768-m", "none")
    assert second.unit_price == 12000.0 and second.lead_time_days is None


def test_history_csv_missing_columns_are_listed(tmp_path: Path) -> None:
    path = _write(tmp_path / "h.csv", "part_file,material,qty,unit_price\nx.stl,A5052,1,100\n")
    with pytest.raises(HistoryError) as info:
        read_history_csv(path)
    missing = info.value.detail["missing"]
    assert missing == ["quantity", "tolerance", "finish", "lead_time_days"]
    for name in missing:
        assert name in info.value.message


def test_history_csv_unusable_files(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="not found"):
        read_history_csv(tmp_path / "absent.csv")
    with pytest.raises(HistoryError, match="empty"):
        read_history_csv(_write(tmp_path / "empty.csv", ""))
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81\x82 not text")
    with pytest.raises(HistoryError):
        read_history_csv(binary)


def test_requests_csv_keeps_order_and_flags_bad_rows(tmp_path: Path) -> None:
    parts = write_corpus(tmp_path, 1, random_state=2)
    text = (
        "Part_File,Material,Quantity,Tolerance,Finish\n"
        f"{parts[0].name},A5052,10,0.05,anodize\n"
        "gone.stl,A5052,10,,\n"
        f"{parts[0].name},A5052,ten,,\n"
        f"{parts[0].name},whatever,3,,\n"
    )
    rows = read_requests_csv(_write(tmp_path / "req.csv", text))
    assert [r.line for r in rows] == [2, 3, 4, 5]
    assert rows[0].error is None and rows[0].quantity == 10 and rows[0].tolerance == "0.05"
    assert isinstance(rows[1].error, UnreadablePart)
    assert isinstance(rows[2].error, InvalidQuantity)
    # Names are the engine's to resolve (it lists the accepted ones).
    assert rows[3].error is None and rows[3].material == "whatever"
    assert rows[3].tolerance is None and rows[3].finish is None
