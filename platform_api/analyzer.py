"""Part analysis off the event loop and off the API process's GIL: a pool of worker processes.

STEP parsing and ray casting take seconds of CPU. Run in the API process, even on a thread, they
would hold the GIL and slow every other request (``/healthz`` included); in a child process they
cost the API nothing. The pool uses ``spawn`` because forking a process with threads (uvicorn,
the job worker, OpenCASCADE's) is unsafe.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import quote.errors as core_errors
from quote.errors import MitsumoriError, UnreadablePart

log = logging.getLogger("mitsumori.analyzer")


def _analyze(path: str, units: str | None, max_bytes: int) -> dict[str, Any]:
    """Runs in the worker: the analysis as a dict, or ``{"__error__": ...}`` for a typed error.

    Typed errors travel as plain data: ``MitsumoriError`` takes ``detail`` by keyword, which
    pickling an exception drops.
    """
    from quote.analysis import analyze_part

    try:
        return analyze_part(path, units=units, max_bytes=max_bytes).to_dict()
    except MitsumoriError as exc:
        return {"__error__": {"class": type(exc).__name__, **exc.to_dict()}}


def _warm() -> bool:
    """Load the engine and its compiled kernels in a fresh worker, so the first upload does not
    pay for them."""
    from quote.warmup import warm_up

    warm_up()
    return True


def rebuild_error(payload: dict[str, Any]) -> MitsumoriError:
    cls = getattr(core_errors, payload.get("class", ""), None)
    if not (isinstance(cls, type) and issubclass(cls, MitsumoriError)):
        cls = UnreadablePart
    err = cls(payload.get("message", "part could not be read"), detail=payload.get("detail"))
    return err


class Analyzer:
    """Analyse part files with ``quote.analysis.analyze_part`` in ``workers`` processes.

    Parameters
    ----------
    workers
        Worker processes; 0 runs the analysis in the calling thread (tests, tiny installs).
    max_bytes
        Largest file the engine accepts, bytes.
    """

    def __init__(self, workers: int, *, max_bytes: int) -> None:
        self.workers = workers
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._pool: Executor | None = None

    def _get_pool(self) -> Executor | None:
        if self.workers <= 0:
            return None
        with self._lock:
            if self._pool is None:
                ctx = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx)
            return self._pool

    def warm_up(self) -> None:
        """Start the workers and import the engine in them (in the background)."""
        pool = self._get_pool()
        if pool is not None:
            for _ in range(self.workers):
                pool.submit(_warm)

    def analyze(
        self,
        path: Path,
        *,
        units: str | None,
        tick: Callable[[], None] | None = None,
        tick_seconds: float = 5.0,
    ) -> dict[str, Any]:
        """``PartAnalysis.to_dict()`` of ``path``; raises the engine's typed errors.

        ``tick`` runs every ``tick_seconds`` while a worker process analyses (a job refreshes
        its heartbeat there, so a long STEP file does not make it look dead).
        A crash of the reader (a corrupt file can abort OpenCASCADE) or an untyped exception in
        the engine is reported as ``UnreadablePart``: input must never produce a 500.
        """
        try:
            result = self.call(
                _analyze, str(path), units, self.max_bytes, tick=tick, tick_seconds=tick_seconds
            )
        except BrokenProcessPool:
            log.warning("analysis worker died on a %s file; restarting the pool", path.suffix)
            with self._lock:
                self._pool = None
            raise UnreadablePart(
                "the part reader crashed on this file; it is probably corrupt",
                detail={"reason": "reader_crashed"},
            ) from None
        except MitsumoriError:
            raise
        except Exception as exc:  # an engine bug on odd input: log it, answer as unreadable
            log.exception("analysis failed unexpectedly on a %s file", path.suffix)
            raise UnreadablePart(
                "the part could not be analysed", detail={"reason": type(exc).__name__}
            ) from exc
        if "__error__" in result:
            raise rebuild_error(result["__error__"])
        return result

    def call(
        self,
        fn: Callable[..., Any],
        *args: Any,
        tick: Callable[[], None] | None = None,
        tick_seconds: float = 0.5,
    ) -> Any:
        """``fn(*args)`` in a worker process (inline when ``workers`` is 0).

        ``tick`` runs every ``tick_seconds`` while waiting (the job worker relays progress and
        refreshes its heartbeat there); what it raises propagates, abandoning the wait.
        """
        pool = self._get_pool()
        if pool is None:
            return fn(*args)
        future = pool.submit(fn, *args)
        while True:
            try:
                return future.result(timeout=tick_seconds)
            except FuturesTimeout:
                if tick is not None:
                    tick()
            except BrokenProcessPool:
                with self._lock:
                    self._pool = None
                raise

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
