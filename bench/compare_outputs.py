"""Before/after check of a refactor: every real part's features and quotes, within a tolerance.

``dump`` analyses every file under ../shared/data/parts (and the generated corpus sample the
latency bench uses), quotes it with the default model for three requests, and writes one JSON
file; ``compare`` reads two such files and lists every value that moved by more than ``--rtol``
(relative; ``--atol`` for values near zero), every key that appeared or vanished and every file
whose outcome changed (quote vs typed error). Exit 1 when anything differs, so a refactor that is
meant to change no output can be shown to change none:

    .venv/bin/python bench/compare_outputs.py dump /tmp/before.json     # on the old code
    .venv/bin/python bench/compare_outputs.py dump /tmp/after.json      # on the new code
    .venv/bin/python bench/compare_outputs.py compare /tmp/before.json /tmp/after.json

``quoted_at``-style fields that depend on the clock are fixed by quoting as of one date. A
quote is written with ``as_jsonable``, the mapper the CLI's ``--json`` and the API use, so the
comparison is of the JSON a user sees (on code where ``quote_analysis`` returned that JSON as a
dict, ``as_jsonable`` of it is the same dict).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from quote.analysis import analyze_part
from quote.engine import QuoteRequest, quote_analysis
from quote.errors import MitsumoriError
from quote.persistence import load_default_model
from quote.types import as_jsonable

REPO = Path(__file__).resolve().parents[1]
PARTS = REPO.parent / "shared" / "data" / "parts"
TODAY = date(2026, 12, 7)
REQUESTS = {
    "a5052_q10": QuoteRequest(material="A5052", quantity=10),
    "sus304_q1_tight": QuoteRequest(material="SUS304", quantity=1, tolerance="0.02"),
    "s45c_q250_black_oxide": QuoteRequest(material="S45C", quantity=250, finish="black_oxide"),
}


def _generated_parts(out: Path, count: int) -> list[Path]:
    from quote.corpus import generate_corpus

    paths = []
    for name, mesh in generate_corpus(count, random_state=7):
        paths.append(out / f"{name}.stl")
        mesh.export(paths[-1])
    return paths


def dump(out: Path, corpus: int) -> None:
    model = load_default_model()
    files = sorted(p for p in PARTS.rglob("*") if p.is_file())
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        files += _generated_parts(Path(tmp), corpus) if corpus else []
        for path in files:
            key = str(path.relative_to(PARTS)) if path.is_relative_to(PARTS) else path.name
            try:
                analysis = analyze_part(path)
            except MitsumoriError as exc:
                result[key] = {"error": exc.code}
                continue
            entry: dict[str, Any] = {"features": analysis.items[0].features.to_dict()}
            for name, request in REQUESTS.items():
                try:
                    quote = quote_analysis(analysis, request, model=model, today=TODAY)
                    entry[name] = as_jsonable(quote)
                except MitsumoriError as exc:
                    entry[name] = {"error": exc.code}
            result[key] = entry
            print(f"{key}: ok", file=sys.stderr)
    out.write_text(json.dumps(result, sort_keys=True, default=str))
    print(f"{len(result)} files -> {out}")


def _diff(a: Any, b: Any, where: str, rtol: float, atol: float, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{where}.{k}: only in {'after' if k in b else 'before'}")
            else:
                _diff(a[k], b[k], f"{where}.{k}", rtol, atol, out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{where}: length {len(a)} -> {len(b)}")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            _diff(x, y, f"{where}[{i}]", rtol, atol, out)
    elif (
        isinstance(a, bool)
        or isinstance(b, bool)
        or not (isinstance(a, int | float) and isinstance(b, int | float))
    ):
        if a != b:
            out.append(f"{where}: {a!r} -> {b!r}")
    elif not math.isclose(a, b, rel_tol=rtol, abs_tol=atol):
        out.append(f"{where}: {a!r} -> {b!r}")


def compare(before: Path, after: Path, rtol: float, atol: float) -> int:
    a, b = json.loads(before.read_text()), json.loads(after.read_text())
    diffs: list[str] = []
    _diff(a, b, "", rtol, atol, diffs)
    for line in diffs:
        print(line)
    print(f"{len(a)} files compared at rtol {rtol:g}, atol {atol:g}: {len(diffs)} differences")
    return 1 if diffs else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump")
    d.add_argument("out", type=Path)
    d.add_argument("--corpus", type=int, default=30, help="generated parts besides the real ones")
    c = sub.add_parser("compare")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    c.add_argument("--rtol", type=float, default=1e-6)
    c.add_argument("--atol", type=float, default=1e-9)
    args = ap.parse_args()
    if args.cmd == "dump":
        dump(args.out, args.corpus)
    else:
        sys.exit(compare(args.before, args.after, args.rtol, args.atol))


if __name__ == "__main__":
    main()
