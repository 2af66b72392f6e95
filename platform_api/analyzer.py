"""Part analysis off the event loop and off the API process's GIL, in isolated worker processes.

STEP parsing and ray casting take seconds of CPU. Run in the API process, even on a thread, they
would hold the GIL and slow every other request (``/healthz`` included); in a child process they
cost the API nothing. The workers come from ``quote.isolation.IsolatedPool``: each runs one
analysis at a time, so a file that crashes the reader, runs past the time limit or past the
memory limit fails its own request only, and the worker is replaced while the others go on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quote.errors import MitsumoriError, UnreadablePart
from quote.isolation import (
    IsolatedPool,
    Limits,
    PoolClosed,
    WorkerCrashed,
    WorkerOutOfMemory,
    WorkerTimedOut,
    analyze_to_dict,
    part_error,
    rebuild_error,
)

if TYPE_CHECKING:
    from platform_api.settings import Settings

__all__ = ["Analyzer", "PoolClosed", "rebuild_error"]

log = logging.getLogger("mitsumori.analyzer")


def _warm() -> bool:
    """Load the engine, OpenCASCADE and the compiled kernels in a fresh worker, so the first
    upload does not pay for them (and its memory limit counts the analysis, not the imports)."""
    import quote.geometry.step  # noqa: F401
    from quote.warmup import warm_up

    warm_up()
    return True


class Analyzer:
    """Analyse part files with ``quote.analysis.analyze_part`` in ``workers`` processes.

    Parameters
    ----------
    workers
        Worker processes; 0 runs the analysis in the calling thread (tests, tiny installs:
        no isolation and no limits then).
    max_bytes
        Largest file the engine accepts, bytes.
    limits
        Time and memory allowed to one part's analysis (and to making its mesh).
    """

    def __init__(self, workers: int, *, max_bytes: int, limits: Limits | None = None) -> None:
        self.workers = workers
        self.max_bytes = max_bytes
        self.limits = limits or Limits()
        self._lock = threading.Lock()
        self._pool: IsolatedPool | None = None
        self._closed = False

    @classmethod
    def from_settings(cls, settings: Settings) -> Analyzer:
        """The analyzer ``settings`` describe (workers, upload limit, per-part limits)."""
        memory = settings.analysis_memory_mb
        return cls(
            settings.analysis_workers,
            max_bytes=settings.max_upload_bytes,
            limits=Limits(
                seconds=settings.analysis_timeout_seconds,
                memory_bytes=None if memory is None else memory * 2**20,
            ),
        )

    def _get_pool(self) -> IsolatedPool | None:
        if self.workers <= 0:
            return None
        with self._lock:
            if self._closed:
                raise PoolClosed("the analysis pool is closed")
            if self._pool is None:
                self._pool = IsolatedPool(self.workers, initializer=_warm)
            return self._pool

    def warm_up(self) -> None:
        """Start the workers and import the engine in them (in the background)."""
        pool = self._get_pool()
        if pool is not None:
            pool.start()

    def pids(self) -> list[int]:
        """Process ids of the live workers (tests, diagnostics)."""
        return [] if self._pool is None else self._pool.pids()

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
        its heartbeat there, so a long STEP file does not make it look dead). A crash of the
        reader is ``UnreadablePart``, a time or memory overrun ``PartTooComplex``, an untyped
        exception in the engine ``UnreadablePart``: input must never produce a 500.
        """
        try:
            result = self.call_part(
                analyze_to_dict,
                str(path),
                units,
                self.max_bytes,
                tick=tick,
                tick_seconds=tick_seconds,
            )
        except MitsumoriError:
            raise
        except PoolClosed:
            raise
        except Exception as exc:  # an engine bug on odd input: log it, answer as unreadable
            log.exception("analysis failed unexpectedly on a %s file", path.suffix)
            raise UnreadablePart(
                "the part could not be analysed", detail={"reason": type(exc).__name__}
            ) from exc
        if "__error__" in result:
            raise rebuild_error(result["__error__"])
        return dict(result)

    def call_part(
        self,
        fn: Callable[..., Any],
        *args: Any,
        tick: Callable[[], None] | None = None,
        tick_seconds: float = 0.5,
    ) -> Any:
        """``call`` under the per-part limits, a worker's failure turned into a typed error."""
        try:
            return self.call(fn, *args, limits=self.limits, tick=tick, tick_seconds=tick_seconds)
        except (WorkerCrashed, WorkerTimedOut, WorkerOutOfMemory) as exc:
            log.warning("analysis worker failed on a part (%s); it was replaced", exc)
            error = part_error(exc)
            assert error is not None  # part_error maps each of these three to a typed error
            raise error from None

    def call(
        self,
        fn: Callable[..., Any],
        *args: Any,
        limits: Limits | None = None,
        tick: Callable[[], None] | None = None,
        tick_seconds: float = 0.5,
    ) -> Any:
        """``fn(*args)`` in a worker process (inline when ``workers`` is 0).

        ``tick`` runs every ``tick_seconds`` while waiting (the job worker relays progress and
        refreshes its heartbeat there); what it raises propagates, abandoning the call.
        Failures of the process raise ``quote.isolation``'s ``Worker*`` errors.
        """
        pool = self._get_pool()
        if pool is None:
            return fn(*args)
        return pool.run(fn, *args, limits=limits, tick=tick, tick_seconds=tick_seconds)

    def close(self) -> None:
        """Stop the workers (busy ones are killed; their callers get ``PoolClosed``)."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
