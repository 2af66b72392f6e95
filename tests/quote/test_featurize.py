"""The model's feature matrix: one row per (part, spec, physics), whatever the rows around it."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from quote.catalogs import Catalog, load_catalog
from quote.costing import estimate
from quote.featurize import FEATURE_NAMES, build_matrix
from quote.types import QuoteSpec
from tests.quote.test_costing import plate_features, shaft_features


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def test_each_row_is_its_own_whatever_the_others(catalog: Catalog) -> None:
    # Geometry and spec columns are shared between rows of the same part and spec; a matrix of
    # interleaved parts, specs and quantities must equal its rows built one at a time.
    parts = [
        plate_features(catalog),
        plate_features(catalog, 300, 200, 40, n_holes=12, tap="M8", hole_d=6.8),
        shaft_features(catalog),
    ]
    specs = [
        QuoteSpec("A5052", 1),
        QuoteSpec("A5052", 1, tolerance_mm=0.02),
        QuoteSpec("SUS304", 1, finish="passivation"),
        QuoteSpec("A5052", 1, roughness_ra_um=0.8),
    ]
    rows = []
    for q, s, f in itertools.product((1, 10, 250), specs, parts):
        spec = replace(s, quantity=q)
        rows.append((f, spec, estimate(f, spec, catalog)))
    X = build_matrix(rows, catalog)
    assert X.shape == (len(rows), len(FEATURE_NAMES)) and np.isfinite(X).all()
    np.testing.assert_array_equal(X, np.vstack([build_matrix([r], catalog) for r in rows]))
    assert build_matrix([], catalog).shape == (0, len(FEATURE_NAMES))
