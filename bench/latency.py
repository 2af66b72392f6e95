"""Quote latency as a ratio to the bare parse of the same file.

For every real part in ../shared/data/parts (STEP and meshes) and a sample of the generated corpus,
time (a) the bare parse: ``trimesh.load`` for meshes, OpenCASCADE's STEP reader (ReadFile +
TransferRoots + OneShape) for STEP; and (b) the end-to-end quote: load, repair, features, DFM,
physics, model and explanation (``quote_file``), cold (no cache). Each is timed ``REPEATS`` times,
interleaved, and the median kept, so machine noise hits both sides alike. Prints p50/p95 of the
per-part ratio by format and writes bench/results/latency.md.

Targets (issue 2): p50 ratio <= 5 for STL, <= 2 for STEP.
Run: .venv/bin/python bench/latency.py [--repeats 5] [--corpus 30]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import trimesh

from quote.catalogs import load_catalog
from quote.engine import QuoteRequest, quote_file
from quote.errors import MitsumoriError
from quote.persistence import load_default_model

REPO = Path(__file__).resolve().parents[1]
PARTS = REPO.parent / "shared" / "data" / "parts"
MESH = {".stl", ".obj", ".ply", ".3mf", ".glb"}
# Unitless meshes of the reference set that are in inches: refused (suspect_units) without.
INCH_MESHES = {"featuretype.STL", "angle_block.STL", "idler_riser.STL", "fandisk.obj"}
STEP = {".stp", ".step"}
REQUEST = QuoteRequest(material="A5052", quantity=10)


def bare_parse(path: Path) -> None:
    if path.suffix.lower() in STEP:
        from OCP.IFSelect import IFSelect_RetDone
        from OCP.STEPControl import STEPControl_Reader

        reader = STEPControl_Reader()
        assert reader.ReadFile(str(path)) == IFSelect_RetDone
        reader.TransferRoots()
        reader.OneShape()
    else:
        trimesh.load(str(path))


def timed(fn, *args) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--corpus", type=int, default=30)
    ap.add_argument(
        "--only", choices=("mesh", "step"), help="time one format (a quicker check while working)"
    )
    args = ap.parse_args()

    model, catalog = load_default_model(), load_catalog()
    formats = {"mesh": MESH, "step": STEP}.get(args.only or "", MESH | STEP)
    files = sorted(p for p in PARTS.rglob("*") if p.suffix.lower() in formats)
    tmp = Path(tempfile.mkdtemp(prefix="mitsumori-bench-"))
    if args.corpus and args.only != "step":
        from quote.corpus import generate_corpus

        for name, mesh in generate_corpus(args.corpus, random_state=7):
            path = tmp / f"{name}.stl"
            mesh.export(path)
            files.append(path)

    def quote(path: Path) -> None:
        units = "inch" if path.name in INCH_MESHES else None
        quote_file(path, REQUEST, units=units, model=model, catalog=catalog)

    rows = []
    for path in files:
        try:
            quote(path)  # warm imports once per process, not per file cache (there is none)
        except MitsumoriError as exc:
            print(f"skip {path.name}: {exc.code}")
            continue
        parse_t, quote_t = [], []
        for _ in range(args.repeats):
            parse_t.append(timed(bare_parse, path))
            quote_t.append(timed(quote, path))
        p, q = statistics.median(parse_t), statistics.median(quote_t)
        kind = "step" if path.suffix.lower() in STEP else "mesh"
        src = "corpus" if path.is_relative_to(tmp) else "real"
        rows.append((kind, src, path.name, p, q, q / p))
        print(
            f"{kind:4} {src:6} {path.name:45} parse {p * 1e3:8.1f} ms  "
            f"quote {q * 1e3:8.1f} ms  x{q / p:6.2f}"
        )

    lines = [
        "# Quote latency vs bare parse",
        "",
        f"Median of {args.repeats} interleaved runs per part; "
        "ratio = end-to-end quote / bare parse.",
        "Targets: p50 <= 5x for meshes (STL), <= 2x for STEP.",
        "",
        "| format | parts | parse p50 ms | quote p50 ms | ratio p50 | ratio p95 | target | met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    summary = {}
    for kind, target in (("mesh", 5.0), ("step", 2.0)):
        sel = [r for r in rows if r[0] == kind]
        if not sel:
            continue
        ratios = np.array([r[5] for r in sel])
        p50, p95 = float(np.percentile(ratios, 50)), float(np.percentile(ratios, 95))
        summary[kind] = p50
        lines.append(
            f"| {kind} | {len(sel)} | {np.median([r[3] for r in sel]) * 1e3:.1f} | "
            f"{np.median([r[4] for r in sel]) * 1e3:.1f} | {p50:.2f} | {p95:.2f} | {target:g} | "
            f"{'yes' if p50 <= target else 'NO'} |"
        )
    lines += [
        "",
        "| format | source | part | parse ms | quote ms | ratio |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {k} | {s} | {n} | {p * 1e3:.1f} | {q * 1e3:.1f} | {r:.2f} |"
        for k, s, n, p, q, r in rows
    ]
    if args.only:
        print("\n".join(lines[:12]))
        print("(one format only: bench/results/latency.md left as it was)")
        return
    out = REPO / "bench" / "results" / "latency.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:12]))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
