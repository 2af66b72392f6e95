"""The standing attack suite (issue 16 item 7): hostile requests against the real server over
real HTTP, on SQLite and on PostgreSQL; every answer checked, and every accepted item counted
in the database.

Per database: a fresh database (dropped at the end) and data folder, ``mitsumori keys create``
for the admin key, ``mitsumori serve`` (uvicorn) on a free port with its log captured; orgs and
keys made through the admin API. Case groups:

- access: every route of ``create_app().openapi()`` (a new route is covered without editing
  this file) x callers: anonymous, a garbage key, a well-formed unknown key, Basic auth, a
  revoked key, the owner, the owner's read-only key, another shop, a buyer, another buyer,
  the admin. Path ids and body ids (from the schema's examples) point at the owner's resources.
  A break: an unauthenticated call not 401; a caller who is not the owner let through (2xx),
  or answered anything but 403/404; the owner refused (401/403/404); a read-only key allowed to
  write; another organisation's private ids in any answer; any 5xx or non-JSON error body.
- events: REST machine-event batches with impossible timestamps, offsets, part counts,
  non-object items, huge strings, duplicates, reused ids, out of order, NaN, hostile bodies:
  the good events stored exactly once, each bad one rejected by index, never a 5xx.
- uploads: empty, random, truncated, oversized, zip-bomb 3MF, NaN-vertex and degenerate STL,
  wrong extensions, a 100,000-deep STEP, while another shop's valid uploads run at the same
  time: a typed 4xx each, and every one of the other shop's uploads stored.
- history: imports with hostile cells, paths outside the zip and an unbalanced quote: each bad
  row reported on its line, every good row stored.
- mqtt: ``bench/attack_ingest.py``'s burst, poison and forged-publish cases (in-process app,
  Mosquitto with the platform's ACL), ``--mqtt-messages`` messages.

Any group: a 5xx, an error without the JSON body ``{"error", "message", "detail"}`` or an answer
that shows the server's data folder (a path on the server) is a break.

Tracebacks: server log lines with ``Traceback`` or an ERROR record (the mqtt group: log records
of the in-process app). Events lost: items the API answered as stored and the database lacks.
Run: .venv/bin/python bench/attack.py [--db sqlite|pg|both] [--mqtt-messages 5000]
Writes bench/results/attack.md; exits 1 on any break, traceback or lost event.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform as platform_info
import re
import secrets
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from bench import live_server  # noqa: E402
from bench.attack_ingest import run_cases as mqtt_cases  # noqa: E402
from tests.attack.test_history import HEADER, HOSTILE, OUTSIDE  # noqa: E402
from tests.attack.test_isolation import deep_nesting_step  # noqa: E402
from tests.platform_api.conftest import create_pg_database, drop_pg_database  # noqa: E402
from tests.platform_api.factories import (  # noqa: E402
    csv_bytes,
    history_dataset,
    history_zip,
    stl_box,
)

STEP_FILE = REPO.parent / "shared/data/parts/nist_ctc_ftc/geometry_only/nist_ctc_01_asme1_rd.stp"
MAX_UPLOAD = 4 * 2**20  # the server's part-file limit here, so the oversized case stays cheap
GROUPS = ("access", "events", "uploads", "history", "mqtt")
LOG_BAD = re.compile(r"Traceback|\bERROR\b")


# ---------------------------------------------------------------------- bookkeeping


@dataclass
class Group:
    """One case group's counts, and each break with its request and answer."""

    tried: int = 0
    breaks: list[tuple[str, str, str]] = field(default_factory=list)  # case, request, answer
    tracebacks: list[str] = field(default_factory=list)
    lost: int = 0
    answers: list[str] = field(default_factory=list)  # every case, for --cases-out
    notes: list[str] = field(default_factory=list)  # what happened, shown in the report

    def case(self, name: str, problem: str | None, request: str = "", answer: str = "") -> None:
        self.tried += 1
        self.answers.append(f"{'BREAK' if problem else 'ok'}\t{name}\t{short(answer, 160)}")
        if problem:
            self.breaks.append((f"{name}: {problem}", request, answer))


def short(value: Any, limit: int = 300) -> str:
    s = value if isinstance(value, str) else repr(value)
    s = s.replace("\n", " ").replace("|", "\\|")
    return s if len(s) <= limit else s[: limit - 3] + "..."


def shown(r: httpx.Response) -> str:
    return f"{r.status_code} {short(r.text)}"


# The running server's data folder: no answer may show it (it tells an attacker the layout).
SERVER_PATHS: list[str] = []


def path_problem(answer: str) -> str | None:
    shown_paths = [p for p in SERVER_PATHS if p in answer]
    return f"the answer shows a server path ({shown_paths[0]}/...)" if shown_paths else None


def error_problem(r: httpx.Response) -> str | None:
    """Why an answer is broken whatever was asked: a 5xx, an error without the JSON body, or a
    server path in it."""
    if r.status_code >= 500:
        return f"server error {r.status_code}"
    if path_problem(r.text):
        return path_problem(r.text)
    if r.status_code >= 400:
        try:
            body = r.json()
        except ValueError:
            return "error body is not JSON"
        if not isinstance(body, dict) or not {"error", "message"} <= set(body):
            return "error body lacks error/message"
    return None


# ---------------------------------------------------------------------- the server


class Server:
    """``mitsumori serve`` in a subprocess; its stdout and stderr go to a log file."""

    def __init__(self, url: str, data_dir: Path) -> None:
        self.env = live_server.server_env(
            url, data_dir, analysis_workers="2", max_upload_bytes=str(MAX_UPLOAD),
            job_poll_seconds="0.2", log_level="INFO",
        )  # fmt: skip
        self.log_path = data_dir / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.base = ""

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "platform_api.cli", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        )

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            try:
                self.proc, self.base = live_server.start(
                    self.env, log_level="info", stdout=log, stderr=subprocess.STDOUT
                )
            except RuntimeError:
                raise RuntimeError(f"server did not start: {self.log()[-3000:]}") from None

    def stop(self) -> None:
        if self.proc is not None:
            live_server.stop(self.proc)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def offset(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def bad_lines(self, since: int) -> list[str]:
        with self.log_path.open("rb") as f:
            f.seek(since)
            lines = f.read().decode(errors="replace").splitlines()
        return [short(line, 400) for line in lines if LOG_BAD.search(line)]


# ---------------------------------------------------------------------- the world


@dataclass
class Caller:
    name: str
    headers: dict[str, str]
    org_id: str | None = None
    key_id: str | None = None


@dataclass
class World:
    """Who calls, and the resources of the shop (A) and the buyer (C) the attacks aim at."""

    callers: dict[str, Caller]
    ids: dict[str, str]  # part_a, quote_a, machine_a, booking_a, job_a, part_c, ...
    extra_key_id: str = ""


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def unique_box() -> bytes:
    """A block of random size: never the same bytes twice, so never deduplicated."""
    rng = secrets.SystemRandom()
    return stl_box(rng.uniform(10, 90), rng.uniform(10, 90), rng.uniform(3, 30))


def small_history() -> tuple[bytes, bytes]:
    rows, files = history_dataset(1, 4, seed=3)
    return csv_bytes(rows), history_zip(files)


def expect(r: httpx.Response, *codes: int) -> dict[str, Any]:
    if r.status_code not in codes:
        raise RuntimeError(f"setup: {r.request.method} {r.request.url.path} -> {shown(r)}")
    return r.json() if r.content else {}


def wait_job(http: httpx.Client, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    while True:
        job = http.get(f"/v1/jobs/{job_id}", headers=headers).json()
        if job.get("status") in ("succeeded", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.2)


def build_world(http: httpx.Client, admin_key: str) -> World:
    """Organisations, keys and resources through the API, with the admin's key."""
    admin = Caller("admin", bearer(admin_key))
    callers: dict[str, Caller] = {"admin": admin}

    def org(name: str, kind: str) -> str:
        body = {"name": name, "kind": kind, "city": "Kawasaki", "country": "JP"}
        return str(
            expect(http.post("/v1/organizations", json=body, headers=admin.headers), 201)["id"]
        )

    def key(org_id: str, scopes: list[str]) -> tuple[str, str]:
        r = http.post(
            f"/v1/organizations/{org_id}/api-keys",
            json={"name": "attack", "scopes": scopes},
            headers=admin.headers,
        )
        body = expect(r, 201)
        return str(body["key"]), str(body["id"])

    for name, kind in (
        ("shop_a", "shop"),
        ("shop_b", "shop"),
        ("buyer_c", "buyer"),
        ("buyer_d", "buyer"),
    ):
        oid = org(f"Attack {name}", kind)
        k, kid = key(oid, ["read", "write"])
        callers[name] = Caller(name, bearer(k), oid, kid)
    a, c = callers["shop_a"], callers["buyer_c"]
    ro, ro_id = key(a.org_id or "", ["read"])
    callers["shop_a_ro"] = Caller("shop_a_ro", bearer(ro), a.org_id, ro_id)
    revoked, revoked_id = key(a.org_id or "", ["read", "write"])
    expect(http.delete(f"/v1/api-keys/{revoked_id}", headers=admin.headers), 200, 204)
    _, extra_id = key(a.org_id or "", ["read"])  # the target of DELETE /v1/api-keys/{key_id}
    unauth = {
        "anonymous": {},
        "garbage key": {"Authorization": "Bearer not-a-key"},
        "unknown key": bearer("mk_" + "a" * 10 + "_" + "B" * 43),
        "basic auth": {"Authorization": "Basic dXNlcjpwYXNz"},
        "revoked key": bearer(revoked),
    }
    for name, headers in unauth.items():
        callers[name] = Caller(name, headers)

    ids: dict[str, str] = {}
    expect(
        http.put(
            f"/v1/shops/{a.org_id}/capabilities",
            json={"base_lead_days": 4, "materials": ["aluminium", "SUS304"]},
            headers=a.headers,
        ),
        200,
    )
    for who, caller in (("a", a), ("c", c)):
        part = expect(
            http.post(
                "/v1/parts", files={"file": ("box.stl", unique_box())}, headers=caller.headers
            ),
            201,
        )
        ids[f"part_{who}"] = part["id"]
        q = expect(
            http.post(
                "/v1/quotes",
                json={"part_id": part["id"], "material": "A5052", "quantity": 10},
                headers=caller.headers,
            ),
            201,
        )
        ids[f"quote_{who}"] = q["id"]
    machine = expect(
        http.post(
            "/v1/machines",
            json={
                "name": "VF-2",
                "machine_type": "3-axis",
                "axes": 3,
                "envelope_mm": {"x": 762, "y": 406, "z": 508},
                "hourly_rate_jpy": 6000,
            },
            headers=a.headers,
        ),
        201,
    )
    ids["machine_a"] = machine["id"]
    booking = expect(
        http.post(
            f"/v1/machines/{machine['id']}/bookings",
            json={"hours": 4, "job_ref": "ATK-1", "start": "2031-03-03T00:00:00Z"},
            headers=a.headers,
        ),
        201,
    )
    ids["booking_a"] = booking["id"]
    csv, zipped = small_history()
    job = expect(
        http.post(
            f"/v1/shops/{a.org_id}/history",
            files={"history": ("h.csv", csv), "parts": ("p.zip", zipped)},
            headers=a.headers,
        ),
        202,
    )
    ids["job_a"] = job["id"]
    wait_job(http, a.headers, job["id"])
    needed = f"{datetime.now(UTC).year + 1}-03-28"
    match = expect(
        http.post(
            "/v1/match",
            json={
                "part_id": ids["part_c"],
                "material": "A5052",
                "quantity": 20,
                "needed_by": needed,
            },
            headers=c.headers,
        ),
        200,
        201,
    )
    ids["match_c"] = match["id"]
    rfq = expect(
        http.post(
            "/v1/rfqs", json={"match_id": match["id"], "shop_ids": [a.org_id]}, headers=c.headers
        ),
        201,
    )
    ids["rfq_c"] = rfq["id"]
    return World(callers, ids, extra_id)


# ---------------------------------------------------------------------- (a) access


UNAUTH = ("anonymous", "garbage key", "unknown key", "basic auth", "revoked key")
AUTHED = ("shop_a", "shop_a_ro", "shop_b", "buyer_c", "buyer_d", "admin")
PUBLIC_READS = {("GET", "/v1/shops/{shop_id}/profile")}  # any key may read a shop's profile
# Which private ids each caller may see: the others must appear in none of its answers.
PRIVATE = {
    "part_a",
    "quote_a",
    "machine_a",
    "booking_a",
    "job_a",
    "part_c",
    "quote_c",
    "match_c",
    "rfq_c",
}
# Shop A was sent buyer C's RFQ: it sees the RFQ, its part and the match it came from.
_SHOP_A = {"part_a", "quote_a", "machine_a", "booking_a", "job_a", "rfq_c", "part_c", "match_c"}
VISIBLE = {
    "shop_a": _SHOP_A,
    "shop_a_ro": _SHOP_A,
    "buyer_c": {"part_c", "quote_c", "match_c", "rfq_c"},
}
# POST routes that only read (a read-only key may call them).
READ_POSTS = {("POST", "/v1/rfqs/{rfq_id}/partners")}


def route_world(path: str) -> str:
    """Whose resources a route's ids point at: the shop A, the buyer C or the admin."""
    if "{rfq_id}" in path or "{match_id}" in path or path.startswith(("/v1/match", "/v1/rfqs")):
        return "buyer_c"
    if "{org_id}" in path or "{key_id}" in path or path.startswith("/v1/organizations"):
        return "admin"
    return "shop_a"


def legit(world: World, method: str, path: str, owner: str) -> set[str]:
    """The callers who may do this to the owner's resources."""
    if (method, path) in PUBLIC_READS:
        return set(AUTHED)
    allowed = {owner} | ({"shop_a_ro"} if owner == "shop_a" else set())
    if "{rfq_id}" in path:
        allowed |= {"shop_a", "shop_a_ro"}  # the RFQ was sent to shop A
    return allowed


def request_text(request: httpx.Request) -> str:
    try:
        return request.content.decode(errors="replace")
    except httpx.RequestNotRead:  # a multipart upload: its ids are none of the private ones
        return ""


def refused_owner(r: httpx.Response, name: str) -> bool:
    """The owner refused: 401, 404, or a 403 other than 'your role may not do this at all'."""
    if r.status_code in (401, 404):
        return True
    if r.status_code != 403:
        return False
    detail = r.json().get("detail") or {}
    role = {"shop_a": "shop", "buyer_c": "buyer", "admin": "admin"}.get(name)
    return role in (detail.get("allowed_roles") or [role])


def fill_path(path: str, world: World, owner: str) -> str:
    a = world.callers["shop_a"]
    values = {
        "part_id": world.ids["part_c" if owner == "buyer_c" else "part_a"],
        "quote_id": world.ids["quote_c" if owner == "buyer_c" else "quote_a"],
        "machine_id": world.ids["machine_a"],
        "booking_id": world.ids["booking_a"],
        "job_id": world.ids["job_a"],
        "shop_id": a.org_id or "",
        "org_id": a.org_id or "",
        "key_id": world.extra_key_id,
        "match_id": world.ids["match_c"],
        "rfq_id": world.ids["rfq_c"],
    }
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "zz_unknown_1"), path)


def example_body(op: dict[str, Any], spec: dict[str, Any], world: World, owner: str) -> Any:
    """The request schema's first example with its ids pointed at the owner's resources."""
    content = op.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    ref = schema.get("$ref", "").rsplit("/", 1)[-1]
    examples = spec["components"]["schemas"].get(ref, {}).get("examples") or [{}]
    part = world.ids["part_c" if owner == "buyer_c" else "part_a"]
    prefixes = {
        "part_": part,
        "mat_": world.ids["match_c"],
        "rfq_": world.ids["rfq_c"],
        "org_": world.callers["shop_a"].org_id or "",
        "quote_": world.ids["quote_a"],
    }
    needed = f"{datetime.now(UTC).year + 1}-03-28"

    def swap(v: Any) -> Any:
        if isinstance(v, dict):
            return {
                k: (needed if k in ("needed_by", "due_date") else swap(x)) for k, x in v.items()
            }
        if isinstance(v, list):
            return [swap(x) for x in v]
        if isinstance(v, str):
            for prefix, value in prefixes.items():
                if v.startswith(prefix):
                    return value
            if re.fullmatch(r"20\d\d-\d\d-\d\dT.*", v):  # bookings: in the future, no clash
                return f"{datetime.now(UTC).year + 3}{v[4:]}"
        return v

    return swap(examples[0])


def send(
    http: httpx.Client,
    method: str,
    url: str,
    op: dict[str, Any],
    spec: dict[str, Any],
    world: World,
    owner: str,
    headers: dict[str, str],
) -> httpx.Response:
    content = op.get("requestBody", {}).get("content", {})
    if "multipart/form-data" in content:
        if url.endswith("/history"):
            csv, zipped = small_history()
            files = {"history": ("h.csv", csv), "parts": ("p.zip", zipped)}
        else:
            files = {"file": ("box.stl", unique_box())}
        return http.request(method, url, files=files, headers=headers)
    if "application/json" in content:
        body = example_body(op, spec, world, owner)
        return http.request(method, url, json=body, headers=headers)
    return http.request(method, url, headers=headers)


def access_cases(http: httpx.Client, world: World, spec: dict[str, Any], g: Group) -> None:
    routes = [(m.upper(), p, op) for p, ops in spec["paths"].items() for m, op in ops.items()]
    # DELETEs last (they remove what the other routes aim at), bookings before machines.
    routes.sort(key=lambda r: (r[0] == "DELETE", -len(r[1]) if r[0] == "DELETE" else 0))
    for method, path, op in routes:
        secured = bool(op.get("security"))
        owner = route_world(path)
        refs = "{" in path or any(
            k in json.dumps(example_body(op, spec, world, owner)) for k in ("part_", "mat_", "rfq_")
        )
        url = fill_path(path, world, owner)
        allowed = legit(world, method, path, owner) if refs else set(AUTHED)
        names = list(UNAUTH) + [n for n in AUTHED if n != owner]
        names = names + [owner] if method == "DELETE" else [owner, *names]
        owner_status: int | None = None
        for name in names if secured else ["anonymous"]:
            caller = world.callers[name]
            r = send(http, method, url, op, spec, world, owner, caller.headers)
            req = f"{method} {url} as {name}"
            problem = error_problem(r)
            ok = r.status_code < 300
            if problem is None and secured and name in UNAUTH and r.status_code != 401:
                problem = f"unauthenticated answered {r.status_code}, not 401"
            elif (
                problem is None
                and name == "shop_a_ro"
                and method != "GET"
                and ok
                and (method, path) not in READ_POSTS
            ):
                problem = "a read-only key was allowed to write"
            elif problem is None and name == owner and refs and refused_owner(r, name):
                problem = "the owner was refused"
            elif problem is None and name not in allowed and name not in UNAUTH:
                if ok:
                    problem = "another organisation's request was let through"
                elif r.status_code not in (403, 404) and not (
                    r.status_code == 422 and owner_status == 422
                ):
                    problem = f"refused with {r.status_code}, not 403/404"
            if problem is None and name not in UNAUTH and ok:
                asked = str(r.request.url) + request_text(r.request)
                seen = PRIVATE - VISIBLE.get(name, set())
                leaked = [k for k in seen if world.ids[k] in r.text and world.ids[k] not in asked]
                if leaked:
                    problem = f"answer holds another organisation's ids {leaked}"
            if name == owner:
                owner_status = r.status_code
            g.case(f"{method} {path} as {name}", problem, req, shown(r))


# ---------------------------------------------------------------------- (b) events


def ev(i: int, **values: Any) -> dict[str, Any]:
    ts = f"2025-03-03T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z"
    return {
        "event_id": f"e{i}",
        "timestamp": ts,
        "execution": "ACTIVE" if i % 2 else "READY",
        "part_count": i,
        **values,
    }


def count(engine: Engine, sql: str, **params: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


def event_cases(http: httpx.Client, world: World, engine: Engine, g: Group) -> None:
    a, b = world.callers["shop_a"], world.callers["shop_b"]
    mid = expect(
        http.post(
            "/v1/machines",
            json={
                "name": "Attacked",
                "machine_type": "3-axis",
                "axes": 3,
                "envelope_mm": {"x": 500, "y": 400, "z": 300},
                "hourly_rate_jpy": 5000,
            },
            headers=a.headers,
        ),
        201,
    )["id"]
    url = f"/v1/machines/{mid}/events"
    stored: set[str] = set()  # event ids answered as stored

    def rows() -> int:
        return count(engine, "SELECT count(*) FROM machine_events WHERE machine_id = :m", m=mid)

    def batch(
        name: str, events: list[Any], bad: set[int], good_ids: list[str], raw: bytes | None = None
    ) -> None:
        """Post one batch: the indices in ``bad`` rejected, the new ``good_ids`` stored."""
        before = rows()
        body = raw if raw is not None else json.dumps({"events": events}).encode()
        r = http.post(url, content=body, headers={**a.headers, "Content-Type": "application/json"})
        req = f"POST {url} ({name}, {len(events)} items)"
        problem = error_problem(r)
        new = [e for e in dict.fromkeys(good_ids) if e not in stored]
        if problem is None and r.status_code != 200:
            problem = f"answered {r.status_code}, not 200"
        if problem is None:
            out = r.json()
            got_bad = {x["index"] for x in out["rejected"]}
            if got_bad != bad:
                problem = f"rejected indices {sorted(got_bad)}, expected {sorted(bad)}"
            elif not all(x.get("reason") for x in out["rejected"]):
                problem = "a rejection without a reason"
            elif out["accepted"] != len(new):
                problem = f"accepted {out['accepted']}, expected {len(new)}"
            stored.update(new[: out["accepted"]] if problem else new)
            added = rows() - before
            if added < out["accepted"]:
                g.lost += out["accepted"] - added
                problem = problem or f"{out['accepted'] - added} accepted events not stored"
            elif added > out["accepted"]:
                problem = problem or f"{added - out['accepted']} events stored but not accepted"
        g.case(f"events: {name}", problem, req, shown(r))

    batch(
        "good events mixed with impossible values",
        [
            ev(0),
            {"event_id": "y1", "timestamp": "0001-01-01T00:00:00+14:00", "execution": "ACTIVE"},
            {"event_id": "o25", "timestamp": "2025-03-03T00:00:00+25:00", "execution": "ACTIVE"},
            {"event_id": "o15", "timestamp": "2025-03-03T00:00:00+14:30", "execution": "ACTIVE"},
            {"event_id": "y9", "timestamp": "9999-12-31T23:59:59-14:00", "execution": "ACTIVE"},
            {"event_id": "y69", "timestamp": "1969-12-31T23:59:59Z", "execution": "ACTIVE"},
            {"event_id": "pc", "timestamp": "2025-03-03T00:00:01Z", "part_count": 1e308},
            {"event_id": "pc2", "timestamp": "2025-03-03T00:00:01Z", "part_count": 2**63},
            {"event_id": "pc3", "timestamp": "2025-03-03T00:00:01Z", "part_count": -1},
            1,
            "text",
            None,
            [ev(99)],
            True,
            ev(1, timestamp="2025-03-03T09:00:01+09:00"),  # a real offset: stored as 00:00:01Z
            ev(2, event_id="x" * 200_000),
            ev(3, program="O" * 100_000),
            ev(4, execution="RUNNING"),  # not MTConnect vocabulary
            ev(5, timestamp="2025-03-03T00:00:05"),  # no offset
            ev(6, timestamp="2099-01-01T00:00:00Z"),  # beyond the allowed clock skew
            ev(7, event_id="a\x00b"),
            {},
            ev(8),
        ],
        {*range(1, 14), *range(15, 22)},
        ["e0", "e1", "e8"],
    )
    nan = b'{"events": [' + json.dumps(ev(20)).encode() + b', {"event_id": "nan", '
    nan += b'"timestamp": "2025-03-03T00:00:30Z", "part_count": NaN}, '
    nan += b'{"event_id": "inf", "timestamp": "2025-03-03T00:00:31Z", "part_count": Infinity}]}'
    r = http.post(url, content=nan, headers={**a.headers, "Content-Type": "application/json"})
    problem = error_problem(r)
    if problem is None and r.status_code == 200:
        out = r.json()
        if {x["index"] for x in out["rejected"]} != {1, 2}:
            problem = f"NaN/Infinity part counts not rejected by index: {out['rejected']}"
        stored.update(["e20"][: out["accepted"]])
    g.case("events: NaN and Infinity part counts", problem, f"POST {url} (NaN)", shown(r))
    batch(
        "200 events newest first",
        [ev(i) for i in range(300, 500)][::-1],
        set(),
        [f"e{i}" for i in range(300, 500)],
    )
    batch(
        "all again plus 200 older ones, shuffled",
        [ev(i) for i in range(100, 500)][::-3] + [ev(i) for i in range(100, 500)],
        set(),
        [f"e{i}" for i in range(100, 500)],
    )
    batch("the same event 50 times in one batch", [ev(600)] * 50, set(), ["e600"])
    batch("an id reused for another report", [ev(600, execution="STOPPED"), ev(601)], {0}, ["e601"])
    for name, raw in (
        ("100k-deep list", b'{"events": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
        ("50k open braces", b"{" * 50_000),
        ("deep objects", b'{"events": [' + b'{"a":' * 30_000 + b"1" + b"}" * 30_000 + b"]}"),
        ("not UTF-8", b"\xff\xfe\x00"),
        ("events not a list", b'{"events": 5}'),
        ("empty batch", b'{"events": []}'),
        ("over the JSON size limit", b'{"events": ["' + b"x" * (2**20 + 10) + b'"]}'),
        ("a top-level list", json.dumps([ev(800)]).encode()),
        (
            "one over the batch limit",
            json.dumps({"events": [ev(700 + i) for i in range(5001)]}).encode(),
        ),
    ):
        before = rows()
        r = http.post(url, content=raw, headers={**a.headers, "Content-Type": "application/json"})
        problem = error_problem(r) or (
            None if 400 <= r.status_code < 500 else f"answered {r.status_code}, not a 4xx"
        )
        if rows() != before:
            problem = problem or "events stored from a refused body"
        g.case(f"events: {name}", problem, f"POST {url} ({name})", shown(r))
    before = rows()
    r = http.post(url, json={"events": [ev(900)]}, headers=b.headers)
    problem = error_problem(r) or (
        None if r.status_code in (403, 404) else f"another shop answered {r.status_code}"
    )
    g.case(
        "events: another shop posts to this machine",
        problem or ("stored" if rows() != before else None),
        f"POST {url} as shop_b",
        shown(r),
    )
    final = rows()
    if final != len(stored):
        g.lost += max(0, len(stored) - final)
        g.case(
            "events: rows in the database = events answered as stored",
            f"{final} rows, {len(stored)} answered stored",
            f"SELECT count(*) ... {mid}",
            "",
        )
    else:
        g.case("events: rows in the database = events answered as stored", None)


# ---------------------------------------------------------------------- (c) uploads


def stl_triangles(tris: list[list[tuple[float, float, float]]]) -> bytes:
    out = bytearray(b"attack".ljust(80, b" ") + struct.pack("<I", len(tris)))
    for t in tris:
        out += struct.pack("<3f", 0, 0, 0)
        for v in t:
            out += struct.pack("<3f", *v)
        out += b"\0\0"
    return bytes(out)


def zip_bomb_3mf(path: Path, size: int = 512 * 2**20) -> None:
    """A 3MF (a zip) whose model entry inflates to ``size`` bytes of spaces."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        with zf.open("3D/3dmodel.model", "w", force_zip64=True) as f:
            f.write(b'<?xml version="1.0"?><model unit="millimeter"><resources><object id="1">')
            chunk = b" " * 2**20
            for _ in range(size // len(chunk)):
                f.write(chunk)
            f.write(b"</object></resources></model>")


def hostile_files(folder: Path) -> list[tuple[str, str, bytes]]:
    """(case, file name, bytes): each must be refused with a typed 4xx."""
    nan = float("nan")
    step = STEP_FILE.read_bytes() if STEP_FILE.exists() else deep_nesting_step(10).encode()
    box = stl_box(20, 20, 20)
    bomb = folder / "bomb.3mf"
    zip_bomb_3mf(bomb)
    ascii_bad = b"solid x\n facet normal 0 0 0\n outer loop\n vertex 1 2\n endloop\nendsolid\n"
    return [
        ("empty STL", "empty.stl", b""),
        ("empty STEP", "empty.step", b""),
        ("random bytes as STL", "random.stl", os.urandom(5000)),
        ("random bytes as STEP", "random.step", os.urandom(5000)),
        ("random bytes as 3MF", "random.3mf", os.urandom(5000)),
        ("truncated STEP", "half.stp", step[: len(step) // 2]),
        ("STEP header only", "header.stp", step[:400]),
        ("oversized STL", "big.stl", box[:84] + b"\0" * (MAX_UPLOAD + 1)),
        ("zip bomb 3MF (512 MiB inflated)", "bomb.3mf", bomb.read_bytes()),
        (
            "STL with NaN vertices",
            "nan.stl",
            stl_triangles([[(nan, 0, 0), (1, nan, 0), (0, 1, nan)]] * 12),
        ),
        (
            "STL with infinite vertices",
            "inf.stl",
            stl_triangles([[(math.inf, 0, 0), (1, 0, 0), (0, 1, 0)]] * 12),
        ),
        ("degenerate STL (zero area)", "flat.stl", stl_triangles([[(1, 1, 1)] * 3] * 12)),
        (
            "STL count larger than the file",
            "lie.stl",
            box[:80] + struct.pack("<I", 10**8) + box[84:],
        ),
        ("malformed ASCII STL", "ascii.stl", ascii_bad),
        ("wrong extension .exe", "part.exe", box),
        ("wrong extension .txt", "part.txt", box),
        ("no extension", "part", box),
        ("STL bytes named .step", "box.step", box),
        ("100,000-deep nested STEP", "deep.stp", deep_nesting_step().encode()),
    ]


def upload_cases(http: httpx.Client, world: World, engine: Engine, g: Group) -> None:
    attacker, other = world.callers["shop_a"], world.callers["shop_b"]
    parts = lambda o: count(engine, "SELECT count(*) FROM parts WHERE owner_org_id = :o", o=o)  # noqa: E731
    before = parts(attacker.org_id)
    with tempfile.TemporaryDirectory() as tmp:
        files = hostile_files(Path(tmp))
    answers: dict[str, httpx.Response | Exception] = {}
    good: list[httpx.Response | Exception] = []
    lock = threading.Lock()

    def post(headers: dict[str, str], name: str, data: bytes) -> httpx.Response | Exception:
        try:
            with httpx.Client(base_url=str(http.base_url), timeout=600) as c:
                return c.post("/v1/parts", files={"file": (name, data)}, headers=headers)
        except httpx.HTTPError as exc:
            return exc

    def bad_one(case: str, name: str, data: bytes) -> None:
        r = post(attacker.headers, name, data)
        with lock:
            answers[case] = r

    def good_one() -> None:
        r = post(other.headers, "box.stl", unique_box())
        with lock:
            good.append(r)

    threads = [threading.Thread(target=bad_one, args=f) for f in files]
    threads += [threading.Thread(target=good_one) for _ in range(8)]
    order = [
        t
        for pair in zip(
            threads[: len(files)], threads[len(files) :] + [None] * len(files), strict=False
        )
        for t in pair
        if t is not None
    ]
    for t in order:
        t.start()
        time.sleep(0.05)
    for t in order:
        t.join()
    for case, name, data in files:
        r = answers[case]
        req = f"POST /v1/parts as shop_a, {name} ({len(data):,} bytes)"
        if isinstance(r, Exception):
            g.case(f"uploads: {case}", f"no answer: {r!r}", req, "")
            continue
        problem = error_problem(r) or (
            None if 400 <= r.status_code < 500 else f"answered {r.status_code}, not a typed 4xx"
        )
        g.case(f"uploads: {case}", problem, req, shown(r))
    stored = parts(attacker.org_id) - before
    g.case(
        "uploads: no part stored from a refused file",
        f"{stored} parts stored" if stored else None,
        "SELECT count(*) FROM parts",
        "",
    )
    ok = [r for r in good if isinstance(r, httpx.Response) and r.status_code == 201]
    failed = [shown(r) if isinstance(r, httpx.Response) else repr(r) for r in good if r not in ok]
    g.case(
        "uploads: another shop's 8 concurrent valid uploads all stored",
        f"{len(failed)} failed" if failed else None,
        "POST /v1/parts as shop_b x 8",
        "; ".join(failed[:3]),
    )
    ids = [r.json()["id"] for r in ok]
    in_db = count(engine, "SELECT count(*) FROM parts WHERE owner_org_id = :o", o=other.org_id)
    if in_db < len(set(ids)):
        g.lost += len(set(ids)) - in_db
        g.case("uploads: answered 201 = rows", f"{in_db} rows for {len(ids)} parts")


# ---------------------------------------------------------------------- (d) history


def history_cases(http: httpx.Client, world: World, engine: Engine, g: Group) -> None:
    shop = world.callers["shop_b"]
    rows, files = history_dataset(2, 8, seed=7)
    good = rows[1:]
    lines = [HEADER]
    bad: dict[int, str] = {}
    for i, (column, cell) in enumerate(HOSTILE):
        lines.append(good[i % len(good)])
        row = list(good[i % len(good)])
        row[HEADER.index(column)] = cell
        lines.append(row)
        bad[len(lines)] = f"{column} = {short(cell, 40)}"
    lines.append([*good[0][:6], ""])  # an empty lead time is a good row (price only)
    for p in OUTSIDE:
        lines.append([p, *good[0][1:]])
        bad[len(lines)] = f"part_file outside the zip: {p}"
    lines.append(["parts/not-in-the-zip.stl", *good[0][1:]])
    bad[len(lines)] = "part_file not in the zip"
    text_csv = csv_bytes(lines).decode()
    text_csv += f'{good[1][0]},"A5052,1,,,1000,5\n'  # the quote is never closed
    bad[len(lines) + 1] = "unbalanced quote"
    text_csv += csv_bytes(good[2:6]).decode()
    text_csv += f"{good[1][0]},A5052,1,,,12,000,5\n"  # an unquoted comma shifts the columns
    bad[len(lines) + 6] = "a cell too many"
    n_lines = len(lines) + 6
    r = http.post(
        f"/v1/shops/{shop.org_id}/history",
        headers=shop.headers,
        files={"history": ("h.csv", text_csv.encode()), "parts": ("p.zip", history_zip(files))},
    )
    req = f"POST /v1/shops/{shop.org_id}/history ({n_lines - 1} data lines, {len(bad)} bad)"
    if r.status_code != 202:
        g.case("history: import accepted as a job", error_problem(r) or "not 202", req, shown(r))
        return
    job = wait_job(http, shop.headers, r.json()["id"])
    res = job.get("result") or {}
    ans = short(job, 600)
    g.case(
        "history: the job succeeds despite bad rows",
        (None if job.get("status") == "succeeded" else f"job {job.get('status')}")
        or path_problem(json.dumps(job)),
        req,
        ans,
    )
    with engine.connect() as conn:
        stored = {
            int(x)
            for x in conn.execute(
                text("SELECT line FROM history_rows WHERE job_id = :j"), {"j": job["id"]}
            ).scalars()
        }
    reported: dict[int, list[str]] = {}
    for e in job.get("errors") or []:
        reported.setdefault(int(e["line"]), []).append(f"{e.get('error')}({e.get('column')})")
    for line, what in bad.items():
        problem = None
        if line not in reported:
            problem = "not reported"
        elif line in stored:
            problem = "reported and stored"
        g.case(
            f"history: line {line}, {what}",
            problem,
            req,
            f"errors at line {line}: {reported.get(line)}",
        )
    good_lines = set(range(2, n_lines + 1)) - set(bad)
    missing = sorted(good_lines - stored)
    g.case(
        "history: every good row stored",
        f"good lines not stored: {missing}" if missing else None,
        req,
        f"stored {len(stored)} of {len(good_lines)} good lines",
    )
    imported = int(res.get("rows_imported", 0))
    if imported > len(stored):
        g.lost += imported - len(stored)
        g.case("history: rows_imported = rows", f"{imported} imported, {len(stored)} rows", req)
    if res and res.get("rows_read") != res.get("rows_imported", 0) + res.get("rows_rejected", 0):
        g.case("history: rows_read = imported + rejected", "counts disagree", req, ans)


# ---------------------------------------------------------------------- one database


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    url = f"sqlite:///{folder / 'attack.db'}" if kind == "sqlite" else create_pg_database()
    try:
        yield url
    finally:
        if kind == "pg":
            drop_pg_database(url)


def openapi() -> dict[str, Any]:
    from platform_api.main import create_app
    from platform_api.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        return create_app(Settings(data_dir=Path(tmp))).openapi()


def run_http(kind: str, spec: dict[str, Any], groups: dict[str, Group]) -> None:
    folder = Path(tempfile.mkdtemp(prefix=f"attack-{kind}-"))
    try:
        with database(kind, folder) as url:
            server = Server(url, folder)
            SERVER_PATHS[:] = [str(folder)]
            server.start()
            engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
            try:
                with httpx.Client(base_url=server.base, timeout=600) as http:
                    start = server.offset()
                    admin = server.cli("keys", "create", "--org", "Attack admin", "--kind", "admin")
                    world = build_world(http, admin.stdout.strip())
                    setup_bad = server.bad_lines(start)
                    steps: list[tuple[str, Callable[..., None]]] = [
                        ("access", lambda g: access_cases(http, world, spec, g)),
                        ("events", lambda g: event_cases(http, world, engine, g)),
                        ("uploads", lambda g: upload_cases(http, world, engine, g)),
                        ("history", lambda g: history_cases(http, world, engine, g)),
                    ]
                    for name, step in steps:
                        t0, since = time.monotonic(), server.offset()
                        step(groups[name])
                        time.sleep(0.5)  # the log of the last request is written
                        groups[name].tracebacks += server.bad_lines(since)
                        print(
                            f"  {kind} {name}: {groups[name].tried} cases, "
                            f"{time.monotonic() - t0:.0f} s",
                            flush=True,
                        )
                    groups["access"].tracebacks += setup_bad
            finally:
                engine.dispose()
                server.stop()
                groups["access"].tracebacks += [
                    x
                    for x in server.bad_lines(0)
                    if x not in sum((g.tracebacks for g in groups.values()), [])
                ]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_mqtt(kind: str, messages: int, g: Group) -> None:
    cases, lost, records = mqtt_cases(kind, messages)
    for name, broke, what in cases:
        g.case(f"mqtt: {name}", "broke" if broke else None, name, what)
        g.notes.append(f"{name}: {what}")
    g.lost += lost
    g.tracebacks += [short(r, 400) for r in records]


# ---------------------------------------------------------------------- report


def table(groups: dict[str, Group]) -> list[str]:
    lines = [
        "| case group | cases tried | breaks | tracebacks | events lost |",
        "|---|---|---|---|---|",
    ]
    for name, g in groups.items():
        lines.append(f"| {name} | {g.tried} | {len(g.breaks)} | {len(g.tracebacks)} | {g.lost} |")
    t = list(groups.values())
    lines.append(
        f"| **all** | {sum(g.tried for g in t)} | {sum(len(g.breaks) for g in t)} | "
        f"{sum(len(g.tracebacks) for g in t)} | {sum(g.lost for g in t)} |"
    )
    return lines


def commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        dirty = subprocess.run(
            [
                "git",
                "-C",
                str(REPO),
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                ".",
                ":!bench/results",
            ],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return out.stdout.strip() + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def write_report(
    path: Path, argv: list[str], results: dict[str, dict[str, Group]], seconds: float
) -> None:
    lines = [
        "# The attack suite (bench/attack.py)",
        "",
        f"`bench/attack.py {' '.join(argv)}` on {platform_info.node() or 'this machine'} "
        f"({platform_info.machine()}, {os.cpu_count()} cores shared with other work, Python "
        f"{platform_info.python_version()}), {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit "
        f"{commit()}, {seconds:.0f} s.",
        "",
        "The real server (`mitsumori serve`, uvicorn) on a free port over HTTP, a fresh database "
        "each (dropped after), the admin key by `mitsumori keys create`, the rest through the "
        "API; the mqtt group is `bench/attack_ingest.py` (in-process app, Mosquitto with the "
        "platform's ACL). A break: a wrong status, a 5xx, a non-JSON error body, a forbidden "
        "request not refused, another organisation's ids in an answer, a server path in an "
        "answer, an accepted item not stored. Tracebacks: server log lines with `Traceback` "
        "or at ERROR. Events lost: items "
        "answered as stored that the database lacks (counted by SQL).",
        "",
    ]
    for kind, groups in results.items():
        lines += [f"## {'SQLite' if kind == 'sqlite' else 'PostgreSQL'}", "", *table(groups), ""]
        lines += [f"- {n}: {short(note, 400)}" for n, g in groups.items() for note in g.notes]
        lines += [""] if any(g.notes for g in groups.values()) else []
    for kind, groups in results.items():
        broken = [(n, b) for n, g in groups.items() for b in g.breaks]
        tbs = [(n, t) for n, g in groups.items() for t in g.tracebacks]
        if broken:
            lines += [
                f"### Breaks on {kind}",
                "",
                "| group | case | request | answer |",
                "|---|---|---|---|",
            ]
            lines += [
                f"| {n} | {short(c, 200)} | {short(r, 200)} | {short(a, 400)} |"
                for n, (c, r, a) in broken
            ]
            lines.append("")
        if tbs:
            lines += [f"### Tracebacks and ERROR log lines on {kind}", ""]
            lines += [f"- {n}: `{short(t, 400)}`" for n, t in tbs[:50]]
            lines.append("")
    if not any(g.breaks or g.tracebacks or g.lost for gs in results.values() for g in gs.values()):
        lines += ["No break, no traceback, no event lost.", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", choices=("sqlite", "pg", "both"), default="both")
    ap.add_argument("--mqtt-messages", type=int, default=5000, help="burst size (30000: full)")
    ap.add_argument("--groups", default=",".join(GROUPS), help="comma-separated case groups")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "attack.md")
    ap.add_argument("--cases-out", type=Path, default=None, help="write every case and answer")
    args = ap.parse_args()
    chosen = [g for g in args.groups.split(",") if g]
    unknown = set(chosen) - set(GROUPS)
    if unknown:
        ap.error(f"unknown groups {sorted(unknown)}; choose from {GROUPS}")
    t0 = time.monotonic()
    spec = openapi()
    results: dict[str, dict[str, Group]] = {}
    for kind in ("sqlite", "pg") if args.db == "both" else (args.db,):
        groups = {name: Group() for name in GROUPS if name in chosen}
        print(f"{kind}:", flush=True)
        if set(chosen) & {"access", "events", "uploads", "history"}:
            http_groups = {n: groups.get(n, Group()) for n in GROUPS[:4]}
            run_http(kind, spec, http_groups)
        if "mqtt" in groups:
            run_mqtt(kind, args.mqtt_messages, groups["mqtt"])
            print(f"  {kind} mqtt: {groups['mqtt'].tried} cases", flush=True)
        results[kind] = groups
        print("\n".join(table(groups)))
        for name, g in groups.items():
            for case, req, ans in g.breaks:
                print(f"  BREAK {case}\n    request: {req}\n    answer: {short(ans, 500)}")
            for tb in g.tracebacks[:10]:
                print(f"  TRACEBACK {name}: {tb}")
    seconds = time.monotonic() - t0
    if args.cases_out:
        args.cases_out.write_text(
            "\n".join(
                f"{kind}\t{a}"
                for kind, gs in results.items()
                for g in gs.values()
                for a in g.answers
            )
            + "\n"
        )
    write_report(args.out, sys.argv[1:], results, seconds)
    print(f"wrote {args.out} ({seconds:.0f} s)")
    bad = any(g.breaks or g.tracebacks or g.lost for gs in results.values() for g in gs.values())
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
