"""Machine data under attack over MQTT: a burst of 30,000 QoS-1 messages in 3 s, poison
messages before good ones, forged publishes; every acknowledged event must be in the database.

Setup: the app (``create_app``) on a fresh SQLite file (``--db pg``: a fresh PostgreSQL
database), Mosquitto started here on a free port with the platform's generated password file
and ACL (``platform_api.ingest.broker``: queue sized for bursts, 1,000 messages in flight),
the subscriber logged in as the platform's user, publishers logged in as the shop.

Cases:
- burst: ``--messages`` QoS-1 messages (one event each, 10 machines, a tenth re-sends of
  earlier events) from 4 publisher threads paced over ``--seconds``; lost = events PUBACKed by
  the broker and not in the database.
- poison: 25 messages of 100k-deep JSON and 13 malformed ones, then a 1.5 MiB array of 9,000
  events and 50 good events; lost = good events not stored.
- forged: an anonymous client, a wrong password, another shop's credentials on this shop's
  topic, this shop under another prefix; a break = any of them accepted by the broker or stored.

Prints and writes ``bench/results/attack_ingest_{sqlite,pg}.md``: cases tried, breaks,
tracebacks (log records with a traceback or at ERROR from the platform), events lost.
Run: .venv/bin/python bench/attack_ingest.py [--messages 30000] [--seconds 3] [--db sqlite|pg]
"""

from __future__ import annotations

import argparse
import json
import logging
import platform as platform_info
import secrets
import shutil
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

import paho.mqtt.client as mqtt  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import func  # noqa: E402
from sqlmodel import select  # noqa: E402

from bench.live_server import free_port  # noqa: E402
from platform_api.db.models import MachineEventRow  # noqa: E402
from platform_api.ingest.broker import ManagedBroker, shop_ids  # noqa: E402
from platform_api.ingest.mqtt import MqttIngest  # noqa: E402
from platform_api.main import create_app  # noqa: E402
from platform_api.settings import Settings  # noqa: E402
from tests.platform_api.conftest import create_pg_database, drop_pg_database  # noqa: E402
from tests.platform_api.factories import make_org  # noqa: E402

SECRET = "bench-attack-ingest-" + "s" * 24
VF2 = {
    "name": "Haas VF-2",
    "machine_type": "3-axis",
    "axes": 3,
    "envelope_mm": {"x": 762, "y": 406, "z": 508},
    "hourly_rate_jpy": 6000,
}


class Tracebacks(logging.Handler):
    """Counts log records that carry a traceback or are errors."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info is not None or record.levelno >= logging.ERROR:
            self.records.append(record.getMessage())


def wait_for(check: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def event(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": f"e{i}",
        "timestamp": f"2025-03-03T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
        "execution": "ACTIVE" if i % 2 else "READY",
        "part_count": i,
        **extra,
    }


def client(port: int, user: str | None, password: str | None) -> tuple[mqtt.Client, str]:
    c = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=f"bench-{secrets.token_hex(4)}",
        protocol=mqtt.MQTTv5,
    )
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    connack: list[str] = []
    c.on_connect = lambda _c, _u, _f, rc, _p: connack.append(str(rc))
    if user is not None:
        c.username_pw_set(user, password)
    c.connect("127.0.0.1", port)
    c.loop_start()
    wait_for(lambda: bool(connack), 10)
    return c, connack[0] if connack else "no CONNACK"


def rows(ctx: Any, machines: list[str]) -> int:
    with ctx.db.session() as session:
        stmt = select(func.count()).select_from(MachineEventRow)
        stmt = stmt.where(MachineEventRow.machine_id.in_(machines))  # type: ignore[attr-defined]
        return int(session.exec(stmt).one())


def publish_share(ready: Any, results: Any, port: int, shop_id: str, password: str,
                  prefix: str, machines: list[str], k: int, every: int, n: int,
                  seconds: float) -> None:  # fmt: skip
    """Messages k, k+every, ... of the burst from one client, paced evenly over ``seconds``
    (in a child process, so the publishers do not share the subscriber's interpreter); puts
    (acknowledged with success, first publish, last PUBACK) wall times on ``results``."""
    c, _ = client(port, shop_id, password)
    ready.wait()
    mine = range(k, n, every)
    done, count = threading.Event(), [0]

    def on_pub(_c: Any, _u: Any, _mid: Any, rc: Any, _p: Any) -> None:
        count[0] += not rc.is_failure
        if count[0] == len(mine):
            done.set()

    c.on_publish = on_pub
    wall = time.time()
    start = time.monotonic()
    for j, i in enumerate(mine):
        e = i if i % 10 else i // 2  # a tenth re-send an earlier event
        topic = f"{prefix}/{shop_id}/{machines[e % len(machines)]}/state"
        c.publish(topic, json.dumps(event(e)), qos=1)
        ahead = start + seconds * (j + 1) / len(mine) - time.monotonic()
        if ahead > 0.005:
            time.sleep(ahead)
    done.wait(120)
    results.put((count[0], wall, time.time()))
    c.disconnect()
    c.loop_stop()


def burst(port: int, ctx: Any, shop: Any, password: str, prefix: str, machines: list[str],
          sub: MqttIngest, n: int, seconds: float, publishers: int) -> dict[str, Any]:  # fmt: skip
    """n messages from ``publishers`` processes, paced over ``seconds``; with mosquitto_pub
    installed, one ``mosquitto_pub -l`` (C, QoS 1) per machine sends them as fast as it can
    instead (Python publishers on this loaded 2-core machine cannot send 10,000 a second)."""
    import multiprocessing
    import shutil

    before = sub.stats["stored"]
    if shutil.which("mosquitto_pub"):
        return burst_c(port, ctx, shop, password, prefix, machines, sub, n, before)
    mp = multiprocessing.get_context("spawn")
    ready, results = mp.Barrier(publishers + 1), mp.Queue()
    procs = [
        mp.Process(target=publish_share, args=(ready, results, port, shop.id, password, prefix,
                                               machines, k, publishers, n, seconds))
        for k in range(publishers)
    ]  # fmt: skip
    for p in procs:
        p.start()
    ready.wait(120)  # every publisher connected: the burst starts now
    t0 = time.time()
    got = [results.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(30)
    acked = sum(g[0] for g in got)
    published_s = max(g[2] for g in got) - min(g[1] for g in got)
    wait_for(lambda: sub.stats["stored"] - before >= acked, 600)
    sub.wait_idle(60)
    stored_s = time.time() - t0
    distinct = len({i if i % 10 else i // 2 for i in range(n)})
    in_db = rows(ctx, machines)
    return {
        "sent": n, "acked": acked, "published_s": published_s, "stored_s": stored_s,
        "distinct": distinct, "rows": in_db, "lost": distinct - in_db,
        "batches": sub.stats["batches"], "publisher": f"{publishers} paho processes",
    }  # fmt: skip


def burst_c(port: int, ctx: Any, shop: Any, password: str, prefix: str, machines: list[str],
            sub: MqttIngest, n: int, before: int) -> dict[str, Any]:  # fmt: skip
    import subprocess

    lines: dict[str, list[str]] = {m: [] for m in machines}
    for i in range(n):
        e = i if i % 10 else i // 2  # a tenth re-send an earlier event
        lines[machines[e % len(machines)]].append(json.dumps(event(e)))
    t0 = time.time()
    procs = []
    for m, msgs in lines.items():
        cmd = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-V", "mqttv5", "-q", "1",
               "-M", "1000", "-u", shop.id, "-P", password, "-t", f"{prefix}/{shop.id}/{m}/state",
               "-l"]  # fmt: skip
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        procs.append((proc, len(msgs), "\n".join(msgs) + "\n"))
    acked = 0
    for proc, count, text in procs:
        _, err = proc.communicate(text.encode(), timeout=300)
        acked += count if proc.returncode == 0 and not err else 0  # exit 0: all sent, acked
    published_s = time.time() - t0
    wait_for(lambda: sub.stats["stored"] - before >= acked, 600)
    sub.wait_idle(60)
    stored_s = time.time() - t0
    distinct = len({i if i % 10 else i // 2 for i in range(n)})
    in_db = rows(ctx, machines)
    return {
        "sent": n, "acked": acked, "published_s": published_s, "stored_s": stored_s,
        "distinct": distinct, "rows": in_db, "lost": distinct - in_db,
        "batches": sub.stats["batches"], "publisher": "mosquitto_pub",
    }  # fmt: skip


def run_cases(
    db: str, messages: int, seconds: float = 3.0, publishers: int = 2
) -> tuple[list[tuple[str, bool, str]], int, list[str]]:
    """The burst, poison and forged cases on a fresh ``db`` (sqlite or pg), dropped after:
    (name, broke, what happened) per case, events lost, and the traceback or ERROR records.
    Also called by ``bench/attack.py``."""
    catcher = Tracebacks()
    logger = logging.getLogger("mitsumori")
    logger.addHandler(catcher)
    level = logger.level
    logger.setLevel(logging.INFO)
    tmp = Path(tempfile.mkdtemp(prefix="attack-ingest-"))
    url = f"sqlite:///{tmp / 'bench.db'}" if db == "sqlite" else create_pg_database()
    prefix = f"bench{secrets.token_hex(3)}"
    settings = Settings(
        data_dir=tmp, database_url=url, analysis_workers=0, job_worker=False,
        rate_limit_per_minute=1e6, rate_limit_burst=1_000_000, secret_key=SECRET,
        mqtt_prefix=prefix,
    )  # fmt: skip
    cases: list[tuple[str, bool, str]] = []  # name, broke, what happened
    lost_total = 0
    try:
        with TestClient(create_app(settings)) as http:
            ctx = http.app.state.ctx  # type: ignore[attr-defined]
            shop, other = make_org(ctx, "shop"), make_org(ctx, "shop")
            machines = [
                http.post("/v1/machines", json=VF2, headers=shop.headers).json()["id"]
                for _ in range(10)
            ]
            broker = ManagedBroker(
                tmp / "mosquitto", secret=SECRET.encode(), prefix=prefix, port=free_port(),
                shops=lambda: shop_ids(ctx.db), refresh_seconds=3600,
            )  # fmt: skip
            broker.start()
            sub = MqttIngest(ctx.db, ctx.metrics, url=broker.ingest_url, prefix=prefix)
            sub.start()
            try:
                assert sub.wait_ready(10)
                password = broker.password_of(shop.id)
                # 1. the burst
                b = burst(broker.port, ctx, shop, password, prefix, machines, sub,
                          messages, seconds, publishers)  # fmt: skip
                lost = b["lost"]
                lost_total += max(0, lost)
                cases.append((
                    f"burst of {b['sent']:,} QoS-1 messages in {b['published_s']:.1f} s "
                    f"({b['publisher']})",
                    lost != 0 or b["acked"] != b["sent"],
                    f"{b['acked']:,} PUBACKed, {b['rows']:,} rows for {b['distinct']:,} distinct "
                    f"events, all stored {b['stored_s']:.1f} s after the start, "
                    f"{b['batches']:,} transactions",
                ))  # fmt: skip
                # 2. poison before good
                mid = machines[0]
                topic = f"{prefix}/{shop.id}/{mid}/state"
                before_rows, before = rows(ctx, [mid]), dict(sub.stats)
                deep = [b"[" * 100_000 + b"]" * 100_000] * 25
                bad = [b"{not json", b"", b"\xff\xfe", b"[1, 2", b"nul\x00l", b"}{", b"{" * 20,
                       b'{"event_id": 1,}', b'"str', b"[[[[[[[[[[]", b"\x00" * 9, b"[" * 9,
                       b'{"a": "\\ud800"'] + [b"[" * 9 + b"]" * 9]  # fmt: skip
                bad = bad[:13]
                big = json.dumps(
                    [event(100_000 + i, program="O" + "x" * 68) for i in range(9000)],
                    separators=(",", ":"),
                ).encode()
                good = [json.dumps(event(200_000 + i)).encode() for i in range(50)]
                pub, _ = client(broker.port, shop.id, password)
                for p in deep + bad + [big] + good:
                    pub.publish(topic, p, qos=1)
                n_msgs = len(deep) + len(bad) + 1 + len(good)
                wait_for(
                    lambda: sub.stats["stored"] + sub.stats["rejected"]
                    - before["stored"] - before["rejected"] >= n_msgs,
                    120,
                )  # fmt: skip
                sub.wait_idle(30)
                pub.disconnect()
                pub.loop_stop()
                stored = rows(ctx, [mid]) - before_rows
                lost = 9050 - stored
                lost_total += max(0, lost)
                cases.append((
                    f"25 x 100k-deep + 13 malformed, then a {len(big) / 2**20:.2f} MiB array of "
                    "9,000 events and 50 good ones",
                    lost != 0 or sub.stats["rejected"] - before["rejected"] != 38,
                    f"{stored:,} of 9,050 good events stored, "
                    f"{sub.stats['rejected'] - before['rejected']} messages rejected",
                ))  # fmt: skip
                # 3. forged publishes
                before_rows = rows(ctx, machines)
                broker.refresh()
                forged = []
                for name, user, pw, t in (
                    ("anonymous", None, None, topic),
                    ("wrong password", shop.id, "guess", topic),
                    ("another shop's credentials", other.id, broker.password_of(other.id), topic),
                    ("own credentials, another prefix", shop.id, password, "x" + topic),
                ):
                    c, rc = client(broker.port, user, pw)
                    acks: list[str] = []
                    c.on_publish = lambda _c, _u, _m, r, _p, acks=acks: acks.append(str(r))
                    if rc == "Success":
                        c.publish(t, json.dumps(event(300_000, execution="STOPPED")), qos=1)
                        wait_for(lambda acks=acks: bool(acks), 10)
                    c.disconnect()
                    c.loop_stop()
                    refused = rc != "Success" or acks == ["Not authorized"]
                    forged.append((name, refused, rc if rc != "Success" else acks))
                time.sleep(0.5)  # anything let through would be stored by now
                leaked = rows(ctx, machines) - before_rows
                cases.append((
                    "4 forged publishes (anonymous, wrong password, other shop, other prefix)",
                    leaked != 0 or not all(r for _, r, _ in forged),
                    "; ".join(f"{n}: refused ({w})" if r else f"{n}: ACCEPTED" for n, r, w in
                              forged) + f"; rows added {leaked}",
                ))  # fmt: skip
            finally:
                sub.stop()
                broker.stop()
    finally:
        logger.removeHandler(catcher)
        logger.setLevel(level)
        if db == "pg":
            drop_pg_database(url)
        shutil.rmtree(tmp, ignore_errors=True)
    return cases, lost_total, catcher.records


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=30_000)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--publishers", type=int, default=2, help="publisher processes")
    ap.add_argument("--db", choices=("sqlite", "pg"), default="sqlite")
    ap.add_argument("--out", type=Path, default=None, help="default results/attack_ingest_DB.md")
    args = ap.parse_args()
    args.out = args.out or REPO / "bench" / "results" / f"attack_ingest_{args.db}.md"
    cases, lost_total, records = run_cases(args.db, args.messages, args.seconds, args.publishers)
    breaks = sum(b for _, b, _ in cases)
    summary = (
        f"cases tried {len(cases)}, breaks {breaks}, tracebacks {len(records)}, "
        f"events lost {lost_total}"
    )
    print(summary)
    for name, broke, what in cases:
        print(f"- {'BREAK' if broke else 'ok'}: {name}: {what}")
    lines = [
        "# Machine data under attack over MQTT",
        "",
        f"`bench/attack_ingest.py --messages {args.messages} --seconds {args.seconds} --db "
        f"{args.db}` ({datetime.now(UTC):%Y-%m-%d}, {platform_info.machine()}, 2 cores shared "
        f"with other work, Python {platform_info.python_version()}, Mosquitto started with the "
        "platform's generated password file and ACL).",
        "",
        f"**{summary}**",
        "",
        "| case | result | what happened |",
        "|---|---|---|",
        *[f"| {n} | {'BREAK' if b else 'ok'} | {w} |" for n, b, w in cases],
        "",
        "Lost = events acknowledged to the publisher (PUBACK) or valid in a message, and not in "
        "the database afterwards (counted by a query, not by the subscriber's counters).",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    if records:
        print("tracebacks:", *records[:5], sep="\n  ")
    sys.exit(1 if breaks or records or lost_total else 0)


if __name__ == "__main__":
    main()
