"""Stored models keep loading: a shop model saved by the code before quote/training.py was split.

``data/shop_model_format2.joblib`` (11 KB) is a shop model trained on 55 rows with a tiny default
model as its base, saved by ``quote.training.save_model`` at commit f9cbdd9, when the artifact
class lived in ``quote.training``. Its pickle names ``quote.training.QuoteModel``;
``..._expected.json`` holds a feature matrix and what that model predicted for it then.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pytest

from quote.artifact import QuoteModel
from quote.persistence import load_model, model_from_bytes, model_to_bytes

DATA = Path(__file__).parent / "data"
OLD_MODEL = DATA / "shop_model_format2.joblib"
# The same estimators on the same inputs: only float summation order may differ.
REL_TOL = 1e-9


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads((DATA / "shop_model_format2_expected.json").read_text())


def _pickle(data: bytes) -> bytes:
    """The pickle inside joblib's compress=3 output (one zlib stream)."""
    return zlib.decompress(data)


def test_the_old_pickle_names_the_old_module_path() -> None:
    raw = _pickle(OLD_MODEL.read_bytes())
    assert b"quote.training" in raw and b"quote.artifact" not in raw


@pytest.mark.parametrize("how", ["file", "bytes"])
def test_a_model_saved_before_the_split_loads_and_predicts_as_it_did(
    how: str, expected: dict
) -> None:
    model = load_model(OLD_MODEL) if how == "file" else model_from_bytes(OLD_MODEL.read_bytes())
    assert isinstance(model, QuoteModel) and isinstance(model.base, QuoteModel)
    assert model.version == expected["version"] and model.base.version == expected["base_version"]
    a = model.predict_arrays(np.array(expected["X"]))
    for key in ("price", "lead", "price_lo90"):
        np.testing.assert_allclose(a[key], expected[key], rtol=REL_TOL)


def test_a_resaved_old_model_names_the_new_module_and_predicts_the_same(expected: dict) -> None:
    data = model_to_bytes(load_model(OLD_MODEL))
    raw = _pickle(data)
    assert b"quote.artifact" in raw and b"quote.training" not in raw
    a = model_from_bytes(data).predict_arrays(np.array(expected["X"]))
    np.testing.assert_allclose(a["price"], expected["price"], rtol=REL_TOL)
