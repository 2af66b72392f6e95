"""Development shops: simulated shops on which the shop model's method is chosen.

``bench/accuracy.py`` measures the shop model on "Shop K". Choosing the method's settings on
Shop K itself would tune the method to one pricing function, so they are chosen here, on
other simulated shops whose pricing has other forms, and Shop K is measured once per candidate
at the end. None of these shops reads the engine's catalogs or costing module for prices; each
measures the part itself (mesh volume, area, extents, through-holes from the genus, convex-hull
volume) and has its own customers (material mix, quantities, tolerances, finishes):

- **Shop A** (``hours``): bills machine time in half-hour bands of the batch, at an hourly rate
  set by the machine class the part needs (small / medium / large mill, or the lathe); material
  by the finished part's weight with a handling fee per weight class; finishing per kg;
  a tolerance multiplier table on machine time; no quantity discount besides the bands and setup.
- **Shop B** (``adders``): a price per piece built from adders (per hole, per cm2 of surface, per
  cm3 of pocket, per mm of outline), a material-family multiplier on all of it, a steep learning
  curve on quantity (q^-0.28, floored at 30%), additive tolerance surcharges per piece.
- **Shop C** (``minimum``): buys standard stock sizes and marks material up 70%, machines at one
  rate, charges setup and inspection per lot, and never takes an order below 35,000 JPY (so
  small lots of small parts are priced by the minimum); mostly small quantities.
- **Shop D** (``repeats``): Shop A's pricing with other customers, 35% of whose requests are
  repeat orders of an earlier part in a new quantity (history and held-out rows share parts).

All add 5% lognormal noise, like Shop K. Each shop is drawn on five seeds (parts,
requests, noise); 200 history rows, 100 held out, as in bench/accuracy.py.

Run: ``.venv/bin/python bench/dev_shops.py`` (full ``train_shop_model`` per draw, about 3 min);
writes bench/results/dev_shops.md.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from accuracy import (  # noqa: E402
    BASELINE_ROW,
    N_HELDOUT,
    N_HISTORY,
    SHOP_ROW,
    _triples,
    baseline_predictions,
    figures,
    shop_geometry,
)

from quote import featurize  # noqa: E402
from quote.artifact import QuoteModel  # noqa: E402
from quote.catalogs import Catalog, compatible_finishes, load_catalog  # noqa: E402
from quote.corpus import generate_corpus  # noqa: E402
from quote.history import read_history_csv  # noqa: E402
from quote.persistence import default_model_path, load_model  # noqa: E402
from quote.training import train_default_model, train_shop_model  # noqa: E402

RESULTS = REPO / "bench" / "results" / "dev_shops.md"
NOISE_SIGMA = 0.05

# Density (g/cm3) and material family of each material the dev shops take; physical facts, the
# same for every shop. Prices and cutting rates are each shop's own (below).
DENSITY: dict[str, float] = {
    "A5052": 2.68, "A6061": 2.70, "A7075": 2.81, "S45C": 7.85, "SS400": 7.85, "SCM440": 7.85,
    "SUS303": 7.93, "SUS304": 7.93, "SUS316": 7.98, "C3604": 8.5, "Ti-6Al-4V": 4.43,
    "POM": 1.41, "MC901": 1.16,
}  # fmt: skip
FAMILY: dict[str, str] = {
    "A5052": "aluminium", "A6061": "aluminium", "A7075": "aluminium", "S45C": "steel",
    "SS400": "steel", "SCM440": "steel", "SUS303": "stainless", "SUS304": "stainless",
    "SUS316": "stainless", "C3604": "copper_alloy", "Ti-6Al-4V": "titanium", "POM": "plastic",
    "MC901": "plastic",
}  # fmt: skip
# How the dev shops read a tolerance: the +-mm they plan for.
CLASS_MM = {"ISO2768-f": 0.1, "ISO2768-m": 0.2, "ISO2768-c": 0.5}


def tolerance_mm(tolerance: str) -> float:
    return CLASS_MM.get(tolerance) or float(tolerance)


@dataclass(frozen=True)
class Geometry:
    """What a dev shop measures on the part: extents sorted largest first (mm), volume (cm3),
    area (cm2), through-holes (the mesh's genus), convex-hull volume (cm3), and for a round part
    its diameter and length (mm; 0 when not round)."""

    extents: tuple[float, float, float]
    volume_cm3: float
    area_cm2: float
    through_holes: int
    hull_cm3: float
    round_diameter: float
    round_length: float

    @property
    def round_part(self) -> bool:
        return self.round_diameter > 0

    @property
    def weight_kg_per_density(self) -> float:
        """Volume in litres (kg per unit density)."""
        return self.volume_cm3 / 1e3


def measure(mesh: trimesh.Trimesh) -> Geometry:
    """Shop K's measurements (``accuracy.shop_geometry``) plus the convex hull's volume."""
    g = shop_geometry(mesh)
    return Geometry(
        g.extents,
        g.volume_cm3,
        g.area_cm2,
        g.through_holes,
        float(mesh.convex_hull.volume) / 1e3,
        g.round_diameter,
        g.round_length,
    )


@dataclass(frozen=True)
class Request:
    material: str
    quantity: int
    tolerance: str
    finish: str


Pricing = Callable[[Geometry, Request, np.random.Generator], tuple[float, int]]


def _requests(
    n: int,
    rng: np.random.Generator,
    catalog: Catalog,
    mix: dict[str, float],
    q_max: float,
    tol_p: tuple[float, ...],
    finish_p: float,
) -> list[Request]:
    """Requests: material by ``mix``, quantity log-uniform in [1, q_max], tolerance classes
    (c, m, f, 0.05, 0.02, 0.01) with probabilities ``tol_p``, a finish the catalog allows with
    probability ``finish_p``."""
    mats = list(mix)
    p = np.array([mix[m] for m in mats])
    tols = ("ISO2768-c", "ISO2768-m", "ISO2768-f", "0.05", "0.02", "0.01")
    tp = np.array(tol_p) / sum(tol_p)
    out = []
    for _ in range(n):
        material = str(rng.choice(mats, p=p / p.sum()))
        quantity = int(np.clip(round(math.exp(rng.uniform(0, math.log(q_max + 0.5)))), 1, q_max))
        tolerance = str(rng.choice(tols, p=tp))
        options = [
            f.name for f in compatible_finishes(catalog, catalog.material(material))
            if f.name != "none"
        ]  # fmt: skip
        finish = str(rng.choice(options)) if options and rng.random() < finish_p else "none"
        out.append(Request(material, quantity, tolerance, finish))
    return out


# ---------------------------------------------------------------------------------------------
# Shop A: machine-hour bands and weight
# ---------------------------------------------------------------------------------------------

# JPY/kg charged on the finished weight (covers scrap), roughing rate cm3/min.
A_MATERIALS: dict[str, tuple[float, float]] = {
    "A5052": (2100, 70), "A6061": (2000, 80), "A7075": (3600, 70), "S45C": (900, 25),
    "SS400": (750, 28), "SCM440": (1300, 18), "SUS303": (2400, 15), "SUS304": (2100, 10),
    "SUS316": (3000, 9), "C3604": (4200, 75), "Ti-6Al-4V": (15000, 6), "POM": (4800, 60),
    "MC901": (5200, 55),
}  # fmt: skip
A_MIX = {"A5052": 0.25, "A6061": 0.2, "A7075": 0.05, "S45C": 0.15, "SS400": 0.1,
         "SUS304": 0.12, "SUS303": 0.05, "C3604": 0.04, "POM": 0.04}  # fmt: skip
A_TOL_FACTOR = {"ISO2768-c": 0.9, "ISO2768-m": 1.0, "ISO2768-f": 1.1, "0.05": 1.3, "0.02": 1.6,
                "0.01": 2.0}  # fmt: skip
# Finishing per kg of finished part (JPY/kg), lot minimum (JPY), days.
A_FINISHES = {
    "anodize": (1400, 6000, 4), "hard_anodize": (3500, 12000, 6),
    "electroless_nickel": (900, 9000, 5), "passivation": (300, 5000, 3),
    "bead_blast": (500, 4000, 2), "black_oxide": (200, 5000, 3), "zinc_plating": (250, 5000, 4),
    "chromate": (900, 5000, 3),
}  # fmt: skip


def shop_a(g: Geometry, r: Request, rng: np.random.Generator) -> tuple[float, int]:
    """Shop A's unit price (JPY) and lead time (business days)."""
    jpy_kg, rough = A_MATERIALS[r.material]
    L, W, H = g.extents
    if g.round_part:
        blank = math.pi / 4 * (g.round_diameter + 3) ** 2 * (g.round_length + 3) / 1e3
        rate, setup_h = 5000.0, 0.8
    else:
        blank = (L + 5) * (W + 5) * (H + 5) / 1e3
        rate = 5500.0 if L <= 120 else 8000.0 if L <= 260 else 11500.0
        setup_h = 1.5
    removed = max(blank - g.volume_cm3, 0.0)
    cycle_h = 0.1 + removed / (rough * 60) + g.area_cm2 / (40 * 60) + 0.02 * g.through_holes
    cycle_h *= A_TOL_FACTOR[r.tolerance]
    batch_h = max(1.0, math.ceil(cycle_h * r.quantity / 0.5) * 0.5)  # half-hour bands
    machine = batch_h * rate / r.quantity
    lot = setup_h * 6000 + (12000 if g.area_cm2 > 300 else 6000)
    kg = g.volume_cm3 * DENSITY[r.material] / 1e3
    handling = 200 if kg < 0.3 else 500 if kg < 1 else 1500 if kg < 5 else 4000
    material = kg * jpy_kg + handling
    finish = days = 0
    if r.finish != "none":
        per_kg, lot_min, days = A_FINISHES[r.finish]
        finish = max(per_kg * kg * r.quantity, lot_min) / r.quantity
    price = (material + machine + lot / r.quantity + finish) * 1.15
    price *= math.exp(rng.normal(0.0, NOISE_SIGMA))
    lead = 5 + math.ceil((batch_h + setup_h) / 8) + days + int(rng.random() < 0.3)
    return round(price), lead


# ---------------------------------------------------------------------------------------------
# Shop B: per-feature adders and a strong quantity curve
# ---------------------------------------------------------------------------------------------

B_FAMILY_FACTOR = {"aluminium": 1.0, "copper_alloy": 1.1, "plastic": 0.85, "steel": 1.35,
                   "stainless": 1.8, "titanium": 3.0}  # fmt: skip
B_STOCK_JPY_KG = {
    "A5052": 800, "A6061": 780, "A7075": 1500, "S45C": 300, "SS400": 230, "SCM440": 420,
    "SUS303": 900, "SUS304": 800, "SUS316": 1200, "C3604": 1700, "Ti-6Al-4V": 6500,
    "POM": 1900, "MC901": 2300,
}  # fmt: skip
B_MIX = {"A5052": 0.3, "A6061": 0.15, "S45C": 0.15, "SS400": 0.05, "SUS304": 0.15,
         "SUS316": 0.05, "C3604": 0.05, "Ti-6Al-4V": 0.03, "POM": 0.04, "MC901": 0.03}  # fmt: skip
B_TOL_ADDER = {"ISO2768-c": 0, "ISO2768-m": 0, "ISO2768-f": 350, "0.05": 1100, "0.02": 2600,
               "0.01": 5200}  # fmt: skip
B_FINISH = {  # per piece (JPY), per cm2 (JPY), lot minimum (JPY)
    "anodize": (150, 1.2, 5000), "hard_anodize": (300, 3.0, 9000),
    "electroless_nickel": (250, 2.5, 8000), "passivation": (100, 0.6, 4000),
    "bead_blast": (120, 0.8, 3000), "black_oxide": (80, 0.5, 4000),
    "zinc_plating": (90, 0.6, 4000), "chromate": (80, 0.5, 4000),
}  # fmt: skip


def shop_b(g: Geometry, r: Request, rng: np.random.Generator) -> tuple[float, int]:
    """Shop B's unit price (JPY) and lead time (business days)."""
    L, W, H = g.extents
    pocket = max(g.hull_cm3 - g.volume_cm3, 0.0)
    work = 1800 + 35 * g.area_cm2**0.85 + 300 * g.through_holes + 40 * pocket**0.8
    work += 6 * (L + W + H)
    work *= B_FAMILY_FACTOR[FAMILY[r.material]]
    work *= max(r.quantity**-0.28, 0.3)
    stock_kg = (L + 6) * (W + 6) * (H + 6) / 1e6 * DENSITY[r.material]
    stock = stock_kg * B_STOCK_JPY_KG[r.material] * 1.1
    setup = (9000 if g.round_part else 15000) / r.quantity
    finish = 0.0
    if r.finish != "none":
        piece, per_cm2, lot_min = B_FINISH[r.finish]
        finish = max(piece + per_cm2 * g.area_cm2, lot_min / r.quantity)
    price = work + stock + setup + B_TOL_ADDER[r.tolerance] + finish
    price *= math.exp(rng.normal(0.0, NOISE_SIGMA))
    lead = 7 + (math.ceil(r.quantity / 100) if r.quantity > 20 else 0)
    lead += (3 if r.finish != "none" else 0) + int(rng.random() < 0.3)
    return round(price), lead


# ---------------------------------------------------------------------------------------------
# Shop C: a high minimum order and a material markup on standard stock
# ---------------------------------------------------------------------------------------------

C_STOCK_JPY_KG = {
    "A5052": 650, "A6061": 700, "A7075": 1400, "S45C": 260, "SS400": 210, "SCM440": 380,
    "SUS303": 750, "SUS304": 680, "SUS316": 1000, "C3604": 1500, "Ti-6Al-4V": 6000,
    "POM": 1500, "MC901": 1900,
}  # fmt: skip
C_MRR = {"aluminium": 50, "copper_alloy": 45, "plastic": 45, "steel": 18, "stainless": 9,
         "titanium": 5}  # fmt: skip
C_MIX = {"A5052": 0.15, "A6061": 0.1, "S45C": 0.2, "SS400": 0.1, "SCM440": 0.1,
         "SUS304": 0.15, "SUS303": 0.05, "SUS316": 0.05, "C3604": 0.05, "MC901": 0.05}  # fmt: skip
C_PLATES = (3, 5, 6, 8, 10, 12, 15, 16, 20, 25, 30, 40, 50, 60, 70, 80, 100, 120, 150, 200)
C_BARS = (10, 12, 16, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 80, 90, 100, 110, 120, 130,
          150, 180, 200, 250, 300)  # fmt: skip
C_FINISH = {  # vendor JPY/dm2, vendor lot minimum JPY, days
    "anodize": (70, 8000, 5), "hard_anodize": (200, 15000, 7),
    "electroless_nickel": (160, 12000, 6), "passivation": (45, 8000, 4),
    "bead_blast": (40, 6000, 3), "black_oxide": (35, 8000, 4), "zinc_plating": (40, 8000, 5),
    "chromate": (35, 8000, 4),
}  # fmt: skip
C_MINIMUM_ORDER = 35000


def _next_size(v: float, sizes: tuple[int, ...]) -> float:
    return float(next((s for s in sizes if s >= v), math.ceil(v / 50) * 50))


def shop_c(g: Geometry, r: Request, rng: np.random.Generator) -> tuple[float, int]:
    """Shop C's unit price (JPY) and lead time (business days)."""
    L, W, H = g.extents
    if g.round_part:
        d = _next_size(g.round_diameter + 2, C_BARS)
        blank = math.pi / 4 * d * d * (g.round_length + 8) / 1e3
    else:
        blank = (math.ceil((L + 4) / 10) * 10) * (math.ceil((W + 4) / 10) * 10)
        blank *= _next_size(H + 1.5, C_PLATES) / 1e3
    material = blank * DENSITY[r.material] / 1e3 * C_STOCK_JPY_KG[r.material] * 1.7 + 600
    removed = max(blank - g.volume_cm3, 0.0)
    tol = tolerance_mm(r.tolerance)
    minutes = 5 + removed**0.85 / C_MRR[FAMILY[r.material]] + g.area_cm2 / 50
    minutes += 0.8 * g.through_holes
    minutes *= (1.25 if tol <= 0.1 else 1.0) * (1.4 if tol <= 0.02 else 1.0)
    machining = minutes / 60 * 8500
    lot = 2 * 7000 + 2000
    inspect = 400 if tol <= 0.05 else 0
    finish = days = 0
    if r.finish != "none":
        per_dm2, lot_min, days = C_FINISH[r.finish]
        finish = 1.25 * max(per_dm2 * g.area_cm2 / 100 * r.quantity, lot_min) / r.quantity
    price = (material + machining + lot / r.quantity + inspect + finish) * 1.25
    price = max(price, C_MINIMUM_ORDER / r.quantity)
    price *= math.exp(rng.normal(0.0, NOISE_SIGMA))
    machine_h = 2 + minutes * r.quantity / 60
    lead = 6 + math.ceil(machine_h / 7) + days + (2 if r.quantity > 50 else 0)
    lead += int(rng.random() < 0.3)
    return round(price), lead


@dataclass(frozen=True)
class DevShop:
    name: str
    pricing: Pricing
    requests: Callable[[int, np.random.Generator, Catalog], list[Request]]
    seeds: tuple[int, ...]
    # Share of requests that are repeat orders: an earlier row's part, material, tolerance and
    # finish in a new quantity (the held-out rows may repeat history parts, as in a real shop).
    repeat_share: float = 0.0


DEV_SHOPS: dict[str, DevShop] = {
    "A-hours": DevShop(
        "A-hours",
        shop_a,
        lambda n, rng, cat: _requests(n, rng, cat, A_MIX, 500, (5, 50, 20, 15, 8, 2), 0.3),
        (101, 102, 103, 104, 105),
    ),
    "B-adders": DevShop(
        "B-adders",
        shop_b,
        lambda n, rng, cat: _requests(n, rng, cat, B_MIX, 1000, (5, 40, 25, 15, 10, 5), 0.4),
        (201, 202, 203, 204, 205),
    ),
    "C-minimum": DevShop(
        "C-minimum",
        shop_c,
        lambda n, rng, cat: _requests(n, rng, cat, C_MIX, 60, (10, 50, 15, 15, 8, 2), 0.3),
        (301, 302, 303, 304, 305),
    ),
    "D-repeats": DevShop(
        "D-repeats",
        shop_a,
        lambda n, rng, cat: _requests(n, rng, cat, B_MIX, 200, (5, 45, 20, 15, 10, 5), 0.3),
        (401, 402, 403, 404, 405),
        repeat_share=0.35,
    ),
}


def write_dev_data(folder: Path, shop: DevShop, seed: int, catalog: Catalog) -> tuple[Path, Path]:
    """Write 300 STL parts, the 200-row history CSV and the 100-row held-out CSV of ``shop``."""
    rng = np.random.default_rng([seed, 7])
    corpus = generate_corpus(N_HISTORY + N_HELDOUT, random_state=seed)
    requests = shop.requests(len(corpus), rng, catalog)
    parts = folder / "parts"
    parts.mkdir()
    header = ["part_file", "material", "quantity", "tolerance", "finish", "unit_price",
              "lead_time_days"]  # fmt: skip
    rows = []
    ordered: list[tuple[str, Geometry, Request]] = []
    for (name, mesh), req in zip(corpus, requests, strict=True):
        if shop.repeat_share and ordered and rng.random() < shop.repeat_share:
            name, geometry, first = ordered[int(rng.integers(len(ordered)))]
            req = Request(first.material, req.quantity, first.tolerance, first.finish)
        else:
            mesh.export(parts / f"{name}.stl")
            geometry = measure(mesh)
        ordered.append((name, geometry, req))
        price, lead = shop.pricing(geometry, req, rng)
        rows.append([f"parts/{name}.stl", req.material, req.quantity, req.tolerance, req.finish,
                     price, lead])  # fmt: skip
    paths = []
    for fname, chunk in (("history.csv", rows[:N_HISTORY]), ("heldout.csv", rows[N_HISTORY:])):
        path = folder / fname
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows(chunk)
        paths.append(path)
    return paths[0], paths[1]


def run_once(
    shop: DevShop, seed: int, default: QuoteModel, catalog: Catalog
) -> tuple[dict[str, dict[str, float]], float]:
    """One draw of a dev shop: (figures of the shop model and the baseline, training seconds)."""
    with tempfile.TemporaryDirectory(prefix="mitsumori-devshop-") as tmp:
        hist_csv, held_csv = write_dev_data(Path(tmp), shop, seed, catalog)
        hist = read_history_csv(hist_csv, catalog)
        held = read_history_csv(held_csv, catalog)
        assert not hist.errors and not held.errors, (hist.errors, held.errors)
        t0 = time.perf_counter()
        model = train_shop_model(hist.rows, shop=shop.name, base=default, catalog=catalog)
        train_s = time.perf_counter() - t0
        train_triples = _triples(list(hist.rows), catalog)
        test_triples = _triples(list(held.rows), catalog)
    price = np.array([r.unit_price for r in held.rows])
    lead = np.array([float(r.lead_time_days or 0) for r in held.rows])
    X = featurize.build_matrix(test_triples, catalog)
    base = baseline_predictions(
        train_triples,
        np.array([r.unit_price for r in hist.rows]),
        np.array([float(r.lead_time_days or 0) for r in hist.rows]),
        test_triples,
    )
    return {
        SHOP_ROW: figures(model.predict_arrays(X), price, lead),
        BASELINE_ROW: figures(base, price, lead),
    }, train_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shops", nargs="*", default=list(DEV_SHOPS), choices=list(DEV_SHOPS))
    args = parser.parse_args(argv)
    catalog = load_catalog()
    path = default_model_path()
    default = load_model(path) if path.exists() else train_default_model(0, catalog=catalog)
    lines = [
        "# Development shops (bench/dev_shops.py): where the shop model's settings are chosen",
        "",
        f"Default model {default.version}. 200 history rows, 100 held out, 5% lognormal noise.",
        "",
        "| shop | seed | shop MAPE | coverage 80% | coverage 90% | lead MAE | train s | "
        "baseline MAPE |",
        "|---|---|---|---|---|---|---|---|",
    ]
    summary = []
    for name in args.shops:
        shop = DEV_SHOPS[name]
        for seed in shop.seeds:
            res, train_s = run_once(shop, seed, default, catalog)
            s, b = res[SHOP_ROW], res[BASELINE_ROW]
            summary.append(s)
            line = (
                f"| {name} | {seed} | {s['MAPE'] * 100:.1f}% | {s['coverage 80%'] * 100:.0f}% | "
                f"{s['coverage 90%'] * 100:.0f}% | {s['lead MAE (days)']:.2f} | {train_s:.1f} | "
                f"{b['MAPE'] * 100:.1f}% |"
            )
            print(line, flush=True)
            lines.append(line)
    mean = {k: float(np.mean([s[k] for s in summary])) for k in summary[0]}
    lines += [
        "",
        f"Mean over {len(summary)} draws: MAPE {mean['MAPE'] * 100:.1f}%, coverage 80% "
        f"{mean['coverage 80%'] * 100:.1f}%, coverage 90% {mean['coverage 90%'] * 100:.1f}%, "
        f"lead MAE {mean['lead MAE (days)']:.2f} days.",
        "",
    ]
    report = "\n".join(lines)
    print(report)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
