"""Hard filters, in this order (the first that fails is the reason counted): process (a machine
class that does the process with enough axes), envelope (the part's sorted extents fit a
machine's sorted travel; rotating the part is allowed), material family, tolerance (the shop's
tightest machine tolerance), certifications (all required), capacity (spare hours on fitting
machines before ``needed_by`` cover the job's machine hours).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from matching.capacity import MACHINE_CLASSES
from matching.profiles import FAMILIES, material_family
from matching.ranking.index import Rfq, ShopIndex, eligible_classes

FILTERS = ("process", "envelope", "material", "tolerance", "certification", "capacity")


@dataclass(frozen=True)
class Candidates:
    """Shops that passed the hard filters, with what later steps need.

    idx: positions in the index, shape (m,). fits: (m, K) bool, machine classes that can make
    the part. filtered: shops removed per filter (first failing filter counts).
    """

    idx: np.ndarray
    fits: np.ndarray
    spare_hours: np.ndarray
    filtered: dict[str, int]


def _needed_day(index: ShopIndex, rfq: Rfq) -> int:
    return int(np.clip((rfq.needed_by - index.start).days, 0, index.horizon))


def hard_filter(rfq: Rfq, index: ShopIndex, *, exclude: Iterable[str] = ()) -> Candidates:
    """Apply the hard filters (module docstring, step 1) to every shop at once."""
    elig = list(eligible_classes(rfq.process, rfq.min_axes))
    part = np.sort(np.asarray(rfq.extents_mm, dtype=float))[::-1]
    has_class = index.class_count[:, elig] > 0
    fits = has_class & np.all(index.class_env[:, elig, :] >= part, axis=2)
    fam = FAMILIES.index(material_family(rfq.material))
    cert_ok = np.ones(index.n, dtype=bool)
    for c in rfq.certifications:
        if c in index.cert_names:
            cert_ok &= index.certs[:, index.cert_names.index(c)]
        else:
            cert_ok[:] = False  # nobody holds a certification the index has never seen
    nd = _needed_day(index, rfq)
    spare = (index.spare_cum[:, elig, nd] * fits).sum(axis=1)
    checks = (
        ("process", has_class.any(axis=1)),
        ("envelope", fits.any(axis=1)),
        ("material", index.family_ok[:, fam]),
        ("tolerance", index.best_tol <= rfq.tolerance_mm + 1e-12),
        ("certification", cert_ok),
        ("capacity", spare >= rfq.machine_hours),
    )
    alive = np.ones(index.n, dtype=bool)
    for shop in exclude:
        alive[index.position(shop)] = False
    filtered: dict[str, int] = {}
    for name, ok in checks:
        filtered[name] = int((alive & ~ok).sum())
        alive &= ok
    idx = np.flatnonzero(alive)
    full_fits = np.zeros((len(idx), len(MACHINE_CLASSES)), dtype=bool)
    full_fits[:, elig] = fits[idx]
    return Candidates(idx, full_fits, spare[idx], filtered)
