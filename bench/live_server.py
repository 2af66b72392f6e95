"""``mitsumori serve`` in a subprocess for the benches that measure the real server over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import httpx

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(database_url: str, data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a bench server: this checkout, a database, no rate limit to speak of;
    ``settings`` are more ``MITSUMORI_*`` variables (``log_level="INFO"``, say)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "MITSUMORI_DATA_DIR": str(data_dir),
        "MITSUMORI_DATABASE_URL": database_url,
        "MITSUMORI_RATE_LIMIT_PER_MINUTE": "1000000",
        "MITSUMORI_RATE_LIMIT_BURST": "1000000",
        "MITSUMORI_LOG_LEVEL": "WARNING",
    }
    env.update({f"MITSUMORI_{k.upper()}": v for k, v in settings.items()})
    return env


def start(
    env: dict[str, str],
    *args: str,
    log_level: str = "warning",
    stdout: int | IO[Any] | None = subprocess.DEVNULL,
    stderr: int | IO[Any] | None = subprocess.PIPE,
    timeout: float = 180.0,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``mitsumori serve`` on a free port and wait until ``/readyz`` answers 200;
    (process, base URL). ``args`` go to ``serve`` (``--workers 2``, say)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "platform_api.cli", "serve", "--port", str(port),
         "--log-level", log_level, *args],
        cwd=REPO, env=env, stdout=stdout, stderr=stderr,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            err = proc.stderr.read().decode()[-3000:] if proc.stderr else ""
            stop(proc)
            raise RuntimeError(f"server did not start: {err}")
        time.sleep(0.3)


def stop(proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """SIGTERM, then SIGKILL if it has not ended within ``timeout`` s."""
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def cli(env: dict[str, str], *args: str) -> str:
    """``mitsumori ARGS`` with ``env``; its stdout (CalledProcessError on failure)."""
    out = subprocess.run(
        [sys.executable, "-m", "platform_api.cli", *args],
        cwd=REPO, env=env, capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    return out.stdout
