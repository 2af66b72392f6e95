"""Attack: files that crash or exhaust the part reader fail only their own request; the CLI turns a
reader segfault into a typed error; a stopped server leaves no process behind.

The crashing files are real STEP files generated here that segfault OpenCASCADE (checked first,
in a throw-away process): a parameter nested 100,000 lists deep, and a 200,000-entity chain of
references. Runaway calls (an endless loop, a huge allocation) are test functions sent to the
real worker processes; nothing of them is reachable from production code.
"""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from platform_api.db.engine import make_engine
from platform_api.db.migrate import upgrade
from platform_api.main import create_app
from platform_api.settings import Settings
from quote.errors import PartTooComplex, UnreadablePart
from quote.isolation import IsolatedPool, Limits, WorkerCrashed, WorkerOutOfMemory, WorkerTimedOut
from tests.platform_api.factories import make_org, stl_box
from tests.platform_api.live import serve

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
SHUTDOWN_BOUND_S = 30.0  # graceful wait (10 s) + job worker + MQTT + workers, with slack

_HEAD = (
    "ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION(('attack'),'2;1');\n"
    "FILE_NAME('a.stp','2024-01-01T00:00:00',(''),(''),'','','');\n"
    "FILE_SCHEMA(('AUTOMOTIVE_DESIGN { 1 0 10303 214 1 1 1 1 }'));\nENDSEC;\nDATA;\n"
)
_TAIL = "ENDSEC;\nEND-ISO-10303-21;\n"


def deep_nesting_step(depth: int = 100_000) -> str:
    """One point whose coordinate list is nested ``depth`` parentheses deep."""
    return _HEAD + "#1=CARTESIAN_POINT(''," + "(" * depth + "0.0" + ")" * depth + ");\n" + _TAIL


def reference_chain_step(n: int = 200_000) -> str:
    """``n`` entities, each a curve set holding the next one."""
    lines = [f"#{i}=GEOMETRIC_CURVE_SET('',(#{i + 1}));" for i in range(1, n)]
    lines.append(f"#{n}=CARTESIAN_POINT('',(0.,0.,0.));")
    return _HEAD + "\n".join(lines) + "\n" + _TAIL


STACK_LIMIT_BYTES = 8 * 1024 * 1024  # Linux's default; the nesting file overflows it


def _fixed_stack() -> None:
    """Give the child an 8 MiB stack whatever the shell's ``ulimit -s`` (CI may be unlimited)."""
    resource.setrlimit(resource.RLIMIT_STACK, (STACK_LIMIT_BYTES, STACK_LIMIT_BYTES))


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), MITSUMORI_LOG_LEVEL="WARNING")
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def crash_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("crash")
    files = {
        "nesting": folder / "nesting.stp",
        "chain": folder / "chain.stp",
    }
    files["nesting"].write_text(deep_nesting_step())
    files["chain"].write_text(reference_chain_step())
    return files


# ---------------------------------------------------------------------- the CLI


@pytest.mark.parametrize("kind", ["nesting", "chain"])
def test_cli_turns_a_reader_segfault_into_unreadable_part(
    kind: str, crash_files: dict[str, Path]
) -> None:
    path = crash_files[kind]
    # Read in-process (as the CLI did before) the nesting file overflows an 8 MiB stack and
    # segfaults OpenCASCADE. Whether the chain crashes the reader depends on the machine (on some
    # it only ends in OpenCASCADE's own "no shape" error), so for it only a failure is required.
    inproc = subprocess.run(
        [
            PYTHON,
            "-c",
            f"from pathlib import Path; from quote.geometry.step import read_step; "
            f"read_step(Path({str(path)!r}))",
        ],
        env=_env(),
        capture_output=True,
        timeout=300,
        preexec_fn=_fixed_stack,
    )
    if kind == "nesting":
        assert inproc.returncode == -signal.SIGSEGV, inproc.stderr[-500:]
    else:
        assert inproc.returncode != 0, inproc.stderr[-500:]
    cli = subprocess.run(
        [PYTHON, "-m", "platform_api.cli", "quote", str(path), "--material", "A5052", "--json"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_fixed_stack,
    )
    assert cli.returncode == 2, cli.stderr
    lines = cli.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: unreadable_part: "), cli.stderr
    assert "Traceback" not in cli.stderr and cli.stdout == ""
    if kind == "nesting":
        assert "crashed" in lines[0]


def test_cli_mesh_path_stays_in_process(tmp_path: Path) -> None:
    from quote.isolation import analyze_isolated

    path = tmp_path / "box.stl"
    path.write_bytes(stl_box(10, 20, 30))
    before = set(psutil.Process().children(recursive=True))
    analysis = analyze_isolated(path)
    assert sorted(analysis.items[0].features.bbox_mm) == pytest.approx([10, 20, 30])
    assert set(psutil.Process().children(recursive=True)) == before  # no child started


# ---------------------------------------------------------------------- the pool


def _spin_forever() -> None:
    while True:
        pass


def _allocate(n_bytes: int) -> int:
    return len(bytearray(n_bytes))


def _segfault() -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def _echo(value: int) -> int:
    return value


def test_pool_limits_fail_the_call_and_replace_the_worker() -> None:
    with IsolatedPool(1) as pool:
        first = pool.pids()
        assert pool.run(_echo, 3) == 3
        t0 = time.monotonic()
        with pytest.raises(WorkerTimedOut):
            pool.run(_spin_forever, limits=Limits(seconds=1.0))
        assert time.monotonic() - t0 < 10.0
        with pytest.raises(WorkerOutOfMemory):
            pool.run(_allocate, 8 * 2**30, limits=Limits(memory_bytes=256 * 2**20))
        # The limit is per call: the next call may allocate what it needs.
        assert pool.run(_allocate, 300 * 2**20) == 300 * 2**20
        with pytest.raises(WorkerCrashed) as info:
            pool.run(_segfault)
        assert info.value.cause == "SIGSEGV"
        assert pool.run(_echo, 4) == 4
        assert pool.pids() and pool.pids() != first


def test_part_errors_say_what_to_do() -> None:
    from quote.isolation import part_error

    slow = part_error(WorkerTimedOut(180.0))
    assert isinstance(slow, PartTooComplex) and "180 s" in slow.message
    assert slow.detail == {"reason": "time_limit", "limit_seconds": 180.0}
    big = part_error(WorkerOutOfMemory(4096 * 2**20))
    assert isinstance(big, PartTooComplex) and "4096 MiB" in big.message
    crash = part_error(WorkerCrashed(-signal.SIGSEGV))
    assert isinstance(crash, UnreadablePart) and "SIGSEGV" in crash.message
    assert "Export it again" in crash.message


# ---------------------------------------------------------------------- the API


def _sqlite_settings(tmp_path: Path, **extra: Any) -> tuple[Any, Settings]:
    url = f"sqlite:///{tmp_path / 'iso.db'}"
    engine = make_engine(url)
    upgrade(engine)
    settings = Settings(
        data_dir=tmp_path, database_url=url, analysis_workers=2, job_worker=False, **extra
    )
    return engine, settings


def test_crashing_uploads_of_one_user_fail_no_upload_of_another(
    tmp_path: Path, crash_files: dict[str, Path]
) -> None:
    engine, settings = _sqlite_settings(tmp_path)
    app = create_app(settings, engine=engine)
    bad = [crash_files["nesting"].read_bytes()] * 2 + [crash_files["chain"].read_bytes()]
    # Distinct boxes: the same bytes twice would be answered from the first upload.
    good = [stl_box(10 + i, 20, 5 + i) for i in range(10)]
    results: dict[str, list[tuple[int, dict[str, Any]]]] = {"a": [], "b": []}
    lock = threading.Lock()
    with serve(app) as url:
        user_a = make_org(app.state.ctx, "buyer", name="attacker")
        user_b = make_org(app.state.ctx, "buyer", name="innocent")

        def upload(who: str, headers: dict[str, str], name: str, data: bytes) -> None:
            r = httpx.post(
                f"{url}/v1/parts", files={"file": (name, data)}, headers=headers, timeout=600
            )
            with lock:
                results[who].append((r.status_code, r.json()))

        threads = [
            threading.Thread(target=upload, args=("a", user_a.headers, f"evil{i}.stp", d))
            for i, d in enumerate(bad)
        ] + [
            threading.Thread(target=upload, args=("b", user_b.headers, f"box{i}.stl", d))
            for i, d in enumerate(good)
        ]
        order = [threads[0], threads[3], threads[1], threads[4], threads[2], *threads[5:]]
        for t in order:  # interleaved: B's uploads are in flight while A's crash workers
            t.start()
        for t in order:
            t.join()
        live = app.state.ctx.analyzer.pids()
    assert sorted(s for s, _ in results["b"]) == [201] * len(good), results["b"]
    assert len(results["a"]) == len(bad)
    for status, body in results["a"]:
        assert status == 422 and body["error"] == "unreadable_part", body
    crashed = [b for _, b in results["a"] if b["detail"].get("reason") == "reader_crashed"]
    assert len(crashed) >= 2, results["a"]  # the nested ones at least killed their worker
    assert len(live) == 2  # the dead workers were replaced
    assert not any(psutil.pid_exists(p) for p in live)  # and the lifespan stopped them all


def test_a_part_over_its_time_limit_is_a_typed_422(tmp_path: Path, shared_parts: Path) -> None:
    engine, settings = _sqlite_settings(tmp_path, analysis_timeout_seconds=0.3)
    app = create_app(settings, engine=engine)
    big = (shared_parts / "nist_rhino" / "NIST_MBE_PMI_2.stp").read_bytes()  # seconds of work
    with serve(app) as url:
        user = make_org(app.state.ctx, "buyer")
        r = httpx.post(
            f"{url}/v1/parts", files={"file": ("big.stp", big)}, headers=user.headers, timeout=300
        )
        assert r.status_code == 422, r.text
        body = r.json()
        assert body["error"] == "part_too_complex" and body["detail"]["reason"] == "time_limit"
        assert "0.3 s" in body["message"]


# ---------------------------------------------------------------------- shutdown


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _is_pool(p: psutil.Process) -> bool:
    return "spawn_main" in " ".join(p.cmdline())


def _is_job_worker(p: psutil.Process) -> bool:
    return " ".join(p.cmdline()[-2:]) == "platform_api.cli worker"


def test_a_killed_server_takes_its_job_worker_with_it(tmp_path: Path) -> None:
    """kill -9 of `mitsumori serve` leaves no job worker claiming jobs (SIGTERM on parent death)."""
    env = _env(MITSUMORI_DATA_DIR=str(tmp_path), MITSUMORI_MQTT_URL="")
    port = _free_port()
    server = subprocess.Popen(
        [PYTHON, "-m", "platform_api.cli", "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    jobs: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 120
        while not jobs:
            assert server.poll() is None and time.monotonic() < deadline, "no job worker started"
            jobs = [c for c in psutil.Process(server.pid).children() if _is_job_worker(c)]
            time.sleep(0.2)
        server.kill()
        server.wait(10)
        _, alive = psutil.wait_procs(jobs, timeout=SHUTDOWN_BOUND_S)
        assert not alive, [(p.pid, p.cmdline()) for p in alive]
    finally:
        for c in jobs:
            if c.is_running():
                c.kill()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_server_leaves_no_process_behind(sig: signal.Signals, tmp_path: Path) -> None:
    env = _env(
        MITSUMORI_DATA_DIR=str(tmp_path),
        MITSUMORI_ANALYSIS_WORKERS="2",
        MITSUMORI_MQTT_URL="mqtt://127.0.0.1:1883",  # the real subscriber, stopped too
        MITSUMORI_MQTT_PREFIX=f"iso-{os.getpid()}-{sig.value}",
    )
    key = subprocess.run(
        [PYTHON, "-m", "platform_api.cli", "keys", "create", "--org", "iso", "--kind", "buyer"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.strip()
    port = _free_port()
    server = subprocess.Popen(
        [PYTHON, "-m", "platform_api.cli", "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    children: list[psutil.Process] = []
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not answer /healthz"
            time.sleep(0.2)
        r = httpx.post(
            f"{base}/v1/parts",
            files={"file": ("box.stl", stl_box(12, 34, 5))},
            headers={"Authorization": f"Bearer {key}"},
            timeout=300,
        )
        assert r.status_code == 201, r.text
        children = psutil.Process(server.pid).children(recursive=True)
        pool = [c for c in psutil.Process(server.pid).children() if _is_pool(c)]
        assert len(pool) == 2, [c.cmdline() for c in children]  # the API's analysis workers
        jobs = [c for c in children if _is_job_worker(c)]
        assert len(jobs) == 1, [c.cmdline() for c in children]  # `mitsumori worker`
        t0 = time.monotonic()
        server.send_signal(sig)
        server.wait(SHUTDOWN_BOUND_S)
        _, alive = psutil.wait_procs(
            children, timeout=max(0.0, SHUTDOWN_BOUND_S - (time.monotonic() - t0))
        )
        assert not alive, [(p.pid, p.cmdline()) for p in alive]
        # uvicorn re-raises the signal once it has shut down cleanly (the exit status says why)
        assert server.returncode in (0, -sig.value), server.stderr.read() if server.stderr else ""
        stderr = server.stderr.read().decode() if server.stderr else ""
        assert "Traceback" not in stderr, stderr
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
        for c in children:
            if c.is_running():
                c.kill()
        if server.stderr is not None:
            server.stderr.close()
