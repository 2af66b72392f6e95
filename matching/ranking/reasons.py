"""Reasons in plain words for the shops a match shows (what a buyer can check)."""

from __future__ import annotations

from datetime import date

from matching.capacity import MACHINE_CLASSES
from matching.profiles import (
    FAMILIES,
    FAMILY_WORDS,
    PROCESSES,
    SIZE_BINS,
    material_family,
    size_bin,
)
from matching.ranking.features import FeatureBlock
from matching.ranking.filters import Candidates
from matching.ranking.index import ON_TIME_PRIOR, Rfq, ShopIndex


def reasons_for(
    rfq: Rfq, index: ShopIndex, cand: Candidates, fb: FeatureBlock, row: int, *, today: date
) -> tuple[str, ...]:
    """Plain-word reasons for one candidate row (what a buyer can check)."""
    i = int(cand.idx[row])
    out: list[str] = []
    fits = cand.fits[row]
    idle = index.idle[i] * fits
    if idle.max() > 0:
        k = int(idle.argmax())
        n = int(idle[k])
        out.append(f"has {n} idle {MACHINE_CLASSES[k]} machine{'s' if n > 1 else ''} next week")
    out.append(f"{fb.spare_hours[row]:.0f} spare machine hours before {rfq.needed_by.isoformat()}")
    fam = material_family(rfq.material)
    words = FAMILY_WORDS[fam]
    p, f = PROCESSES.index(rfq.process), FAMILIES.index(fam)
    b = size_bin(rfq.extents_mm)
    lo, hi = max(0, b - 1), min(SIZE_BINS, b + 2)
    sq = int(index.sim_quoted[i, p, f, lo:hi].sum())
    sw = int(index.sim_won[i, p, f, lo:hi].sum())
    eq, ew = int(index.exp_quoted[i, p, f]), int(index.exp_won[i, p, f])
    if sq > 0:
        out.append(f"quoted {sq} similar {words} parts, won {sw}")
    elif eq > 0:
        out.append(f"quoted {eq} {words} {rfq.process} parts, won {ew}")
    elif index.n_quoted[i] == 0:
        out.append("new on Mitsumori: matched on its declared machines")
    nd = int(index.n_delivered[i])
    if nd >= 3:
        rate = (index.on_time_rate[i] * (nd + ON_TIME_PRIOR[1]) - ON_TIME_PRIOR[0]) / nd
        out.append(f"delivered {rate:.0%} on time ({nd} jobs)")
    if index.has_price_level[i] and abs(index.price_level[i] - 1.0) >= 0.05:
        pct = abs(index.price_level[i] - 1.0) * 100
        side = "below" if index.price_level[i] < 1.0 else "above"
        out.append(f"prices {pct:.0f}% {side} the default model")
    slack = (rfq.needed_by - today).days - fb.lead_time_days[row]
    if slack >= 0:
        out.append(f"can ship in about {fb.lead_time_days[row]:.0f} days ({slack:.0f} to spare)")
    else:
        out.append(f"needs about {fb.lead_time_days[row]:.0f} days, {-slack:.0f} past needed_by")
    if rfq.location is not None:
        out.append(f"{fb.distance_km[row]:.0f} km away")
    return tuple(out)
