"""Connected components by union-find: scipy's components, numbered by their smallest node."""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from quote.geometry.union_find import component_labels


def test_components_are_scipys() -> None:
    rng = np.random.default_rng(0)
    for n, e in [(1, 0), (5, 0), (10, 30), (400, 300), (3000, 2500), (3000, 9000)]:
        a = rng.integers(0, n, e)
        b = rng.integers(0, n, e)
        use = rng.random(e) < 0.8
        count, labels = component_labels(n, a, b, use)
        graph = coo_matrix((np.ones(int(use.sum())), (a[use], b[use])), shape=(n, n))
        expected_count, expected = connected_components(graph, directed=False)
        assert count == expected_count
        np.testing.assert_array_equal(labels, expected)
