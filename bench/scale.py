"""One shop with a million history rows: profile latency and /healthz while the import runs.

Setup per backend (a fresh SQLite file, or a fresh PostgreSQL database, dropped afterwards):
``mitsumori serve`` in a subprocess as ``make run`` serves it (the API, with the job worker
and the cache refresher, every 5 s, in its ``mitsumori worker`` child), a shop key from
``mitsumori keys create``, and a history CSV of ``--rows`` rows over ``--parts`` STL boxes
(material, quantity, tolerance, finish, price and lead time drawn with a fixed seed) with the
zip of the boxes.

Measured, all over real HTTP:
- during the import: ``/healthz`` every 20 ms and ``GET /v1/shops/{id}/profile`` every 0.5 s
  (latency of each; the profile grows as part files are stored);
- after it: the job's wall time and rows per second, then 30 profile reads once the refresher
  stored the profile, and 30 reads of ``/v1/shops/{id}/capacity``.
Targets (issue 16): profile under 200 ms, /healthz p95 under 50 ms during the import.
Writes bench/results/scale.md. Run: .venv/bin/python bench/scale.py [--rows 1000000]
[--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import live_server  # noqa: E402
from bench.http_throughput import drop_pg, pct, pg_database  # noqa: E402

PROFILE_TARGET_MS = 200.0
HEALTHZ_P95_TARGET_MS = 50.0
MATERIALS = ("A5052", "A6061", "S45C", "SUS304")  # the first two aluminium
TOLERANCES = ("", "0.05", "0.02", "0.1")
FINISHES = ("", "anodize")


def box_stl(x: float, y: float, z: float) -> bytes:
    import trimesh

    return bytes(trimesh.creation.box(extents=(x, y, z)).export(file_type="stl"))


def make_history(n_rows: int, n_parts: int, seed: int) -> tuple[bytes, bytes]:
    """(CSV bytes, zip bytes) of a shop's history over ``n_parts`` boxes."""
    rng = np.random.default_rng(seed)
    sizes = [(float(rng.uniform(20, 300)), float(rng.uniform(20, 200)), float(rng.uniform(5, 80)))
             for _ in range(n_parts)]  # fmt: skip
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, s in enumerate(sizes):
            zf.writestr(f"parts/p{i:03d}.stl", box_stl(*s))
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["part_file", "material", "quantity", "tolerance", "finish", "unit_price",
                "lead_time_days"])  # fmt: skip
    part = rng.integers(0, n_parts, n_rows)
    mat = rng.integers(0, len(MATERIALS), n_rows)
    qty = rng.choice([1, 2, 5, 10, 20, 50, 100, 200], n_rows)
    tol = rng.integers(0, len(TOLERANCES), n_rows)
    fin = rng.integers(0, len(FINISHES), n_rows) * (mat < 2)  # anodize: aluminium only
    price = np.round(rng.lognormal(8.0, 0.6, n_rows), 0) + 100
    lead = rng.integers(3, 30, n_rows)
    for i in range(n_rows):
        row = [f"parts/p{part[i]:03d}.stl", MATERIALS[mat[i]], int(qty[i]), TOLERANCES[tol[i]],
               FINISHES[fin[i]], float(price[i]), int(lead[i])]  # fmt: skip
        w.writerow(row)
    return out.getvalue().encode(), zbuf.getvalue()


class Poller(threading.Thread):
    """GETs ``path`` every ``every`` s until stopped; latencies in ms and non-200 answers."""

    def __init__(self, base: str, path: str, headers: dict[str, str], every: float) -> None:
        super().__init__(daemon=True)
        self.base, self.path, self.headers, self.every = base, path, headers, every
        self.ms: list[float] = []
        self.bad: list[str] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=120) as c:
            while not self.stopping.is_set():
                t = time.perf_counter()
                try:
                    r = c.get(self.path)
                    if r.status_code != 200:
                        self.bad.append(f"{r.status_code} {r.text[:120]}")
                except httpx.HTTPError as exc:
                    self.bad.append(repr(exc)[:120])
                self.ms.append(1000 * (time.perf_counter() - t))
                self.stopping.wait(self.every)


def summary(ms: list[float]) -> dict[str, float]:
    if not ms:
        return {"n": 0, "p50": float("nan"), "p95": float("nan"), "max": float("nan")}
    return {"n": len(ms), "p50": pct(ms, 0.5), "p95": pct(ms, 0.95), "max": max(ms)}


def run_backend(
    backend: str, url: str, data_dir: Path, csv_data: bytes, zip_data: bytes
) -> dict[str, Any]:
    env = live_server.server_env(
        url, data_dir, max_upload_bytes=str(200 * 2**20), cache_refresh_seconds="5"
    )
    key = live_server.cli(env, "keys", "create", "--org", "Scale Shop", "--kind", "shop")
    key = key.strip().split()[-1]
    server, base = live_server.start(env)
    headers = {"Authorization": f"Bearer {key}"}
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=600) as c:
            shop = c.get("/v1/me").json()["organization"]["id"]
            profile_path = f"/v1/shops/{shop}/profile"
            health = Poller(base, "/healthz", {}, 0.02)
            during = Poller(base, profile_path, headers, 0.5)
            me = Poller(base, "/v1/me", headers, 0.5)  # an authenticated read that derives nothing
            health.start()
            during.start()
            me.start()
            t0 = time.perf_counter()
            r = c.post(
                f"/v1/shops/{shop}/history",
                files={"history": ("history.csv", csv_data), "parts": ("parts.zip", zip_data)},
            )
            r.raise_for_status()
            job_id = r.json()["id"]
            while True:
                job = c.get(f"/v1/jobs/{job_id}").json()
                if job["status"] in ("succeeded", "failed"):
                    break
                time.sleep(1.0)
            import_s = time.perf_counter() - t0
            for poller in (health, during, me):
                poller.stopping.set()
                poller.join()
            if job["status"] != "succeeded":
                raise RuntimeError(f"import failed: {job.get('message')}")
            imported = int(job["result"]["rows_imported"])
            # wait on the state: the refresher stored a profile that counts every row
            deadline = time.monotonic() + 1800
            while True:
                p = c.get(profile_path).json()
                if p["sources"]["history_rows"] == imported:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"profile never counted the rows: {p['sources']}")
                time.sleep(1.0)
            stored_at = p["computed_at"]
            time.sleep(6)  # one more refresher pass, so the reads below hit the stored profile
            after, capacity = [], []
            for _ in range(30):
                t = time.perf_counter()
                p2 = c.get(profile_path)
                after.append(1000 * (time.perf_counter() - t))
                assert p2.status_code == 200
                t = time.perf_counter()
                assert c.get(f"/v1/shops/{shop}/capacity").status_code == 200
                capacity.append(1000 * (time.perf_counter() - t))
            stored = p2.json()["computed_at"] == stored_at or p2.json()["sources"] == p["sources"]
        return {
            "backend": backend,
            "rows_imported": imported,
            "rows_rejected": int(job["result"]["rows_rejected"]),
            "import_s": import_s,
            "rows_per_s": imported / import_s,
            "healthz": summary(health.ms),
            "healthz_bad": health.bad[:3],
            "profile_during": summary(during.ms),
            "me_during": summary(me.ms),
            "profile_during_bad": during.bad[:3],
            "profile_after": summary(after),
            "capacity_after": summary(capacity),
            "price_level": p2.json()["price_level"],
            "profile_counts_every_row": stored,
        }
    finally:
        live_server.stop(server, 30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--parts", type=int, default=40)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    load = os.getloadavg()
    t = time.perf_counter()
    csv_data, zip_data = make_history(args.rows, args.parts, args.seed)
    print(f"history: {args.rows} rows, {len(csv_data) / 2**20:.1f} MiB CSV, "
          f"{args.parts} parts ({time.perf_counter() - t:.1f} s to write)")  # fmt: skip
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            pg = None
            if backend == "sqlite":
                url = f"sqlite:///{Path(tmp) / backend / 'scale.db'}"
                (Path(tmp) / backend).mkdir()
            else:
                pg, url = pg_database()
            try:
                res = run_backend(backend, url, Path(tmp) / f"{backend}-data", csv_data, zip_data)
            finally:
                if pg:
                    drop_pg(pg)
            results.append(res)
            h, pd, pa = res["healthz"], res["profile_during"], res["profile_after"]
            me = res["me_during"]
            print(f"{backend}: {res['rows_imported']} rows in {res['import_s']:.0f} s "
                  f"({res['rows_per_s']:.0f}/s); /healthz during import p95 {h['p95']:.1f} ms "
                  f"max {h['max']:.1f} ms (n={h['n']}); /v1/me p95 {me['p95']:.0f} ms; "
                  f"profile during p95 {pd['p95']:.0f} ms "
                  f"max {pd['max']:.0f} ms; after p50 {pa['p50']:.1f} ms p95 {pa['p95']:.1f} ms "
                  f"max {pa['max']:.1f} ms")  # fmt: skip
    write_report(results, args, load)


def _ok(value: float, target: float) -> str:
    return "yes" if value < target else "**no**"


def write_report(results: list[dict[str, Any]], args: Any, load: Any) -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    lines = [
        "# One shop, a million history rows: profile and /healthz latency during the import",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit}",
        f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, load before "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (shared machine)",
        f"- `bench/scale.py --rows {args.rows} --parts {args.parts} --backends {args.backends}"
        f" --seed {args.seed}`: `mitsumori serve` (the API; jobs and the cache refresher, every "
        "5 s, in its `mitsumori worker` child), history import over HTTP; all latencies are "
        "client-side over HTTP, ms. Targets: /healthz p95 < 50 ms during the import, every "
        "profile read (during and after) < 200 ms",
        "",
        "| backend | rows imported | import s | rows/s | /healthz p50 | p95 | max | n "
        "| /v1/me during p95 | profile during p95 | max | profile after p50 | p95 | max "
        "| capacity p95 "
        "| /healthz p95 < 50 | profile < 200 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        h, pd, pa, ca = r["healthz"], r["profile_during"], r["profile_after"], r["capacity_after"]
        worst_profile = max(pd["max"], pa["max"])
        lines.append(
            f"| {r['backend']} | {r['rows_imported']:,} | {r['import_s']:.0f} "
            f"| {r['rows_per_s']:.0f} | {h['p50']:.1f} | {h['p95']:.1f} | {h['max']:.1f} "
            f"| {h['n']} | {r['me_during']['p95']:.0f} | {pd['p95']:.0f} | {pd['max']:.0f} "
            f"| {pa['p50']:.1f} | {pa['p95']:.1f} "
            f"| {pa['max']:.1f} | {ca['p95']:.1f} | {_ok(h['p95'], HEALTHZ_P95_TARGET_MS)} "
            f"| {_ok(worst_profile, PROFILE_TARGET_MS)} |"
        )
    lines += ["", "Errors seen by the pollers (first 3 each):", ""]
    for r in results:
        lines.append(f"- {r['backend']}: /healthz {r['healthz_bad'] or 'none'}, profile "
                     f"{r['profile_during_bad'] or 'none'}")  # fmt: skip
    out = REPO / "bench" / "results" / "scale.md"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
