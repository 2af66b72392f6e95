"""Per-part timing of feature extraction against the bare parse and the full load.

For every part file under ../shared/data/parts (or the paths given): the bare parse
(``LoadedPart.parse_seconds``: trimesh.load / the STEP reader), ``load_part`` and
``extract_features`` summed over the bodies, each the minimum of ``--repeats`` runs, with the
stages of the slowest body. Prints one line per part; not a test.

Run: .venv/bin/python bench/feature_timings.py [--repeats 3] [PATH ...]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from quote.catalogs import load_catalog
from quote.errors import MitsumoriError
from quote.geometry.features import extract_features
from quote.geometry.loading import load_part

REPO = Path(__file__).resolve().parents[1]
PARTS = REPO.parent / "shared" / "data" / "parts"
SUFFIXES = {".stl", ".obj", ".ply", ".3mf", ".glb", ".stp", ".step"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("paths", nargs="*", type=Path)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    paths = args.paths or sorted(
        p for p in PARTS.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES
    )
    catalog = load_catalog()
    print(f"{'part':58s} {'tris':>7s} {'parse':>7s} {'load':>7s} {'feat':>7s} {'f/p':>5s}  stages")
    for path in paths:
        name = str(path.relative_to(PARTS)) if path.is_relative_to(PARTS) else str(path)
        try:
            best_parse = best_load = best_feat = float("inf")
            stages: dict[str, float] = {}
            tris = 0
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                loaded = load_part(path)
                best_load = min(best_load, time.perf_counter() - t0)
                best_parse = min(best_parse, loaded.parse_seconds)
                t0 = time.perf_counter()
                run_stages: dict[str, float] = {}
                for body in loaded.bodies:
                    extract_features(
                        body,
                        source_format=loaded.source_format,
                        file_sha256=loaded.file_sha256,
                        catalog=catalog,
                        timings=run_stages,
                    )
                feat = time.perf_counter() - t0
                if feat < best_feat:
                    best_feat, stages = feat, run_stages
                tris = sum(len(b.mesh.faces) for b in loaded.bodies)
        except MitsumoriError as exc:
            print(f"{name:58s} {exc.code}")
            continue
        detail = " ".join(f"{k}={v * 1e3:.1f}" for k, v in stages.items())
        print(
            f"{name:58s} {tris:7d} {best_parse * 1e3:7.1f} {best_load * 1e3:7.1f} "
            f"{best_feat * 1e3:7.1f} {best_feat / max(best_parse, 1e-9):5.2f}  {detail}"
        )


if __name__ == "__main__":
    main()
