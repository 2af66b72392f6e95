"""Quotes per second through the HTTP API as a ratio to in-process quote calls, and p95 latency.

The same parts (generated corpus parts plus a real NIST STEP file) and the same specs are quoted
(a) in-process, one ``quote.engine.quote_analysis`` call after another on already analysed parts,
and (b) over HTTP: ``mitsumori serve --workers 2`` in a subprocess, 8 client threads (httpx)
posting ``/v1/quotes`` for parts uploaded beforehand. Over HTTP each quote also authenticates,
spends a rate-limit token, reads the part's stored features, writes the quote and returns it.
Run against SQLite (embedded) and PostgreSQL (127.0.0.1:5432, a scratch database, dropped after).

Target (issue 3): HTTP throughput at least 0.67 of in-process at 8 clients.
Run: .venv/bin/python bench/http_throughput.py [--requests 400] [--backends sqlite,postgresql]
Writes bench/results/http_throughput.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from bench import live_server  # noqa: E402
from quote.analysis import analyze_part  # noqa: E402
from quote.catalogs import load_catalog  # noqa: E402
from quote.corpus import generate_corpus  # noqa: E402
from quote.engine import QuoteRequest, quote_analysis  # noqa: E402
from quote.persistence import load_default_model  # noqa: E402

STEP_FILE = REPO.parent / "shared/data/parts/nist_ctc_ftc/geometry_only/nist_ctc_01_asme1_rd.stp"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
CLIENTS = 8
WORKERS = 2
SPECS = [
    {"material": m, "quantity": q, "finish": f}
    for m, f in (("A5052", "anodize"), ("SUS304", "none"), ("S45C", "none"), ("POM", "none"))
    for q in (1, 10, 100)
]


def make_parts(folder: Path, n_generated: int) -> list[Path]:
    """Generated corpus parts as STL, plus one real STEP file."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, mesh in generate_corpus(n_generated, random_state=11):
        p = folder / f"{name}.stl"
        mesh.export(p, file_type="stl")
        paths.append(p)
    if STEP_FILE.exists():
        paths.append(STEP_FILE)
    return paths


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def in_process(paths: list[Path], n: int) -> dict[str, float]:
    """Sequential quote_analysis calls on analysed parts: quotes/s, p50 and p95 (ms)."""
    catalog, model = load_catalog(), load_default_model()
    analyses = [analyze_part(p, catalog=catalog) for p in paths]
    for a in analyses:  # warm caches, as the server's warm-up does
        quote_analysis(a, QuoteRequest(**SPECS[0]), model=model, catalog=catalog)
    lat = []
    t0 = time.perf_counter()
    for i in range(n):
        spec = SPECS[i % len(SPECS)]
        t = time.perf_counter()
        quote_analysis(analyses[i % len(analyses)], QuoteRequest(**spec), model=model,
                       catalog=catalog)  # fmt: skip
        lat.append(time.perf_counter() - t)
    wall = time.perf_counter() - t0
    return {"qps": n / wall, "p50_ms": 1000 * pct(lat, 0.5), "p95_ms": 1000 * pct(lat, 0.95)}


def over_http(database_url: str, paths: list[Path], n: int, data_dir: Path) -> dict[str, Any]:
    """Serve with 2 workers, upload the parts, then 8 clients post ``n`` quotes in total."""
    env = live_server.server_env(database_url, data_dir, analysis_workers="1")
    key = live_server.cli(env, "keys", "create", "--org", "Bench Shop", "--kind", "shop")
    key = key.strip().split()[-1]
    server, base = live_server.start(env, "--workers", str(WORKERS))
    headers = {"Authorization": f"Bearer {key}"}
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=300) as c:
            part_ids = []
            for p in paths:
                r = c.post("/v1/parts", files={"file": (p.name, p.read_bytes())})
                r.raise_for_status()
                part_ids.append(r.json()["id"])
        lat: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()
        counter = iter(range(n + 4 * CLIENTS))

        def client_loop(warm: int) -> None:
            with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
                while True:
                    with lock:
                        i = next(counter, None)
                    if i is None:
                        return
                    body = {"part_id": part_ids[i % len(part_ids)], **SPECS[i % len(SPECS)]}
                    t = time.perf_counter()
                    r = c.post("/v1/quotes", json=body)
                    dt = time.perf_counter() - t
                    with lock:
                        if r.status_code != 201:
                            errors.append(f"{r.status_code} {r.text[:200]}")
                        elif i >= 4 * CLIENTS:  # the first rounds warm both workers up
                            lat.append(dt)
                        if i == 4 * CLIENTS - 1:
                            start[0] = time.perf_counter()

        start = [time.perf_counter()]
        threads = [threading.Thread(target=client_loop, args=(0,)) for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start[0]
        return {
            "qps": len(lat) / wall,
            "p50_ms": 1000 * pct(lat, 0.5),
            "p95_ms": 1000 * pct(lat, 0.95),
            "errors": len(errors),
            "error_sample": errors[:3],
            "n": len(lat),
        }
    finally:
        live_server.stop(server, 30)


def pg_database() -> tuple[str, str]:
    import psycopg

    name = f"mitsumori_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def drop_pg(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=400, help="quotes over HTTP per backend")
    ap.add_argument("--parts", type=int, default=8, help="generated parts (plus one STEP)")
    ap.add_argument("--backends", default="sqlite,postgresql")
    args = ap.parse_args()

    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = make_parts(folder / "parts", args.parts)
        # Measured before and after the HTTP runs; the faster is the baseline, so a busy
        # moment on this shared machine cannot flatter the HTTP figures.
        first = in_process(paths, max(200, args.requests // 2))
        print(f"in-process: {first['qps']:.1f} quotes/s, p50 {first['p50_ms']:.1f} ms, "
              f"p95 {first['p95_ms']:.1f} ms")  # fmt: skip
        for backend in args.backends.split(","):
            pg_name = None
            if backend == "sqlite":
                url = f"sqlite:///{folder / backend / 'bench.db'}"
            else:
                pg_name, url = pg_database()
            try:
                res = over_http(url, paths, args.requests, folder / backend)
            finally:
                if pg_name:
                    drop_pg(pg_name)
            print(
                f"{backend}: {res['qps']:.1f} quotes/s over HTTP, p50 {res['p50_ms']:.1f} ms, "
                f"p95 {res['p95_ms']:.1f} ms, errors {res['errors']} {res['error_sample']}"
            )
            rows.append((backend, res))
        again = in_process(paths, max(200, args.requests // 2))
        print(f"in-process again: {again['qps']:.1f} quotes/s")
        base = max(first, again, key=lambda b: b["qps"])
        rows = [(backend, res, res["qps"] / base["qps"]) for backend, res in rows]
        for backend, _res, ratio in rows:
            print(f"{backend}: {ratio:.2f} of in-process")
    write_report(base, rows, args, load_before, len(paths))


def write_report(
    base: dict[str, float], rows: list[Any], args: Any, load: Any, n_parts: int
) -> None:
    lines = [
        "# HTTP throughput: quotes per second through the API vs in-process",
        "",
        f"Run: `.venv/bin/python bench/http_throughput.py --requests {args.requests}` on "
        f"{platform.node() or 'this machine'} ({os.cpu_count()} CPUs shared with other work; "
        f"load average before the run {load[0]:.1f}).",
        "",
        f"Parts: {n_parts} ({args.parts} generated corpus parts as STL + one NIST STEP), "
        f"{len(SPECS)} specs (4 materials x 3 quantities), cycled. In-process: sequential "
        "`quote_analysis` calls on analysed parts (the engine alone, one core; measured before "
        "and after the HTTP runs, the faster kept). HTTP: "
        f"`mitsumori serve --workers {WORKERS}`, {CLIENTS} httpx client threads in another "
        "process on the same machine, POST /v1/quotes with API-key auth, DB rate limit, stored "
        "features read, quote written and returned; after a warm-up of 32 requests.",
        "",
        "| backend | quotes/s | ratio to in-process | ratio per worker | p50 ms | p95 ms "
        "| errors |",
        "|---|---|---|---|---|---|---|",
        f"| in-process (1 caller) | {base['qps']:.1f} | 1.00 | 1.00 | {base['p50_ms']:.1f} | "
        f"{base['p95_ms']:.1f} | - |",
    ]
    for backend, res, ratio in rows:
        lines.append(
            f"| HTTP, {backend} | {res['qps']:.1f} | {ratio:.2f} | {ratio / WORKERS:.2f} | "
            f"{res['p50_ms']:.1f} | {res['p95_ms']:.1f} | {res['errors']} |"
        )
    lines += [
        "",
        "Target (issue 3): ratio >= 0.67 at 8 clients. The ratio compares the two-worker server "
        "with one in-process caller, as the issue defines it; 'ratio per worker' divides by the "
        "worker count (1.0 = no HTTP overhead at all, when the cores are free). Latency over HTTP "
        f"includes queueing: {CLIENTS} clients share {WORKERS} workers, so p50 is several quote "
        "times. The machine is shared, so figures move with its load.",
        "",
    ]
    out = REPO / "bench" / "results" / "http_throughput.md"
    out.write_text("\n".join(lines))
    print(f"wrote {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
