"""Run part analysis where a crash or a runaway fails only the call that caused it.

OpenCASCADE is native code: a hostile or broken STEP file can segfault it (deep entity nesting,
a 200,000-entity reference chain), and any file can make it run for minutes or allocate
gigabytes. ``IsolatedPool`` keeps worker processes that each run **one call at a time** over
their own pipe, so when a worker dies the call it was running is the only one affected (the
guilty file: no other request was queued in that process); the dead worker is replaced at once.
Each call can carry ``Limits``: a wall-clock time after which the parent kills the worker, and
an address-space budget (``RLIMIT_AS`` above the worker's size when the call starts) past which
allocations fail with ``MemoryError`` in the worker, which then retires.

The platform's analysis pool and the CLI's STEP reader both use it; ``part_error`` turns the
pool's failures into the engine's typed errors with a message a person can act on.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_for
from pathlib import Path
from typing import Any

import quote.errors as core_errors
from quote.errors import MitsumoriError, PartTooComplex, UnreadablePart

try:  # POSIX only; elsewhere memory limits are not applied
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None  # type: ignore[assignment]  # the module or None: checked before each use

log = logging.getLogger("mitsumori.isolation")

STEP_SUFFIXES = (".step", ".stp")


class WorkerCrashed(Exception):
    """The worker process died during the call (a signal or ``os._exit`` in native code)."""

    def __init__(self, exitcode: int | None) -> None:
        self.exitcode = exitcode
        if exitcode is not None and exitcode < 0:
            try:
                self.cause = signal.Signals(-exitcode).name
            except ValueError:
                self.cause = f"signal {-exitcode}"
        else:
            self.cause = f"exit code {exitcode}"
        super().__init__(f"worker process died ({self.cause})")


class WorkerTimedOut(Exception):
    """The call ran past ``Limits.seconds``; the worker was killed."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"worker call ran over {seconds:g} s")


class WorkerOutOfMemory(Exception):
    """The call ran out of its ``Limits.memory_bytes`` budget (``MemoryError`` in the worker)."""

    def __init__(self, memory_bytes: int | None) -> None:
        self.memory_bytes = memory_bytes
        super().__init__("worker call ran out of memory")


class PoolClosed(Exception):
    """The pool was closed (the server is stopping) before or during the call."""


@dataclass(frozen=True)
class Limits:
    """Per-call limits. seconds: wall clock, s; memory_bytes: address space the call may add to
    the worker's, bytes. None: unlimited."""

    seconds: float | None = None
    memory_bytes: int | None = None


def _address_space() -> int:
    """This process's virtual size, bytes (Linux ``/proc``; 0 where unknown)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def _watch_parent(parent_pid: int) -> None:
    """Exit when the parent is gone (killed with -9, say), even in the middle of a call."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent_pid:
            os._exit(0)


def _serve(conn: Connection, parent_pid: int, initializer: Callable[[], Any] | None) -> None:
    """A worker's main loop: one ``(fn, args, memory_bytes)`` at a time, until ``None`` or EOF."""
    # Ctrl-C in a terminal reaches the whole process group; the parent decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    if initializer is not None:
        try:
            initializer()
        except Exception:  # a failed warm-up costs the first call time, nothing more
            log.exception("worker initializer failed")
    limit = resource.getrlimit(resource.RLIMIT_AS) if resource is not None else None
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        fn, args, memory_bytes = message
        if memory_bytes is not None and limit is not None:
            soft = _address_space() + memory_bytes
            if limit[1] != resource.RLIM_INFINITY:
                soft = min(soft, limit[1])
            resource.setrlimit(resource.RLIMIT_AS, (soft, limit[1]))
        try:
            reply: tuple[str, Any] = ("ok", fn(*args))
        except MemoryError:
            reply = ("memory", None)
        except BaseException as exc:  # noqa: BLE001 - everything goes back to the caller
            reply = ("error", exc)
        finally:
            if memory_bytes is not None and limit is not None:
                resource.setrlimit(resource.RLIMIT_AS, limit)
        try:
            conn.send(reply)
        except Exception as exc:  # an unpicklable result or exception
            conn.send(("error", RuntimeError(f"the worker's answer could not be sent: {exc!r}")))
        if reply[0] == "memory":
            return  # native libraries may be left half-way by a failed allocation: start afresh


@dataclass
class _Worker:
    process: Any
    conn: Connection


class IsolatedPool:
    """``size`` worker processes (``spawn``), each running one call at a time.

    Parameters
    ----------
    size
        Worker processes, started on first use (or by ``start()``) and replaced when one dies.
    initializer
        Module-level function each worker runs once before its first call (warm-up).
    """

    def __init__(self, size: int, *, initializer: Callable[[], Any] | None = None) -> None:
        if size < 1:
            raise ValueError("an IsolatedPool needs at least one worker")
        self.size = size
        self.initializer = initializer
        self._ctx = get_context("spawn")
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._all: list[_Worker] = []
        self._closed = False
        atexit.register(self.close)

    # ------------------------------------------------------------------ workers

    def _spawn(self) -> _Worker:
        parent_end, child_end = self._ctx.Pipe()
        process = self._ctx.Process(
            target=_serve,
            args=(child_end, os.getpid(), self.initializer),
            name="mitsumori-analysis",
        )
        process.start()
        child_end.close()  # else the parent never sees EOF when the worker dies
        worker = _Worker(process, parent_end)
        self._all.append(worker)
        return worker

    def start(self) -> None:
        """Start every worker now (their initializer runs in the background)."""
        with self._cond:
            while not self._closed and len(self._all) < self.size:
                self._idle.append(self._spawn())

    def pids(self) -> list[int]:
        """Process ids of the live workers."""
        with self._cond:
            return [w.process.pid for w in self._all if w.process.pid is not None]

    def _acquire(self) -> _Worker:
        with self._cond:
            while True:
                if self._closed:
                    raise PoolClosed("the analysis pool is closed")
                if self._idle:
                    return self._idle.pop()
                if len(self._all) < self.size:
                    return self._spawn()
                self._cond.wait()

    def _release(self, worker: _Worker, *, healthy: bool) -> None:
        if not healthy:
            self._discard(worker)
        with self._cond:
            if healthy and not self._closed:
                self._idle.append(worker)
            elif not self._closed and len(self._all) < self.size:
                self._idle.append(self._spawn())  # the replacement warms up before it is needed
            self._cond.notify()

    def _discard(self, worker: _Worker) -> int | None:
        """Kill ``worker`` (if alive), reap it and forget it; its exit code."""
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(5.0)
        worker.conn.close()
        with self._cond:
            if worker in self._all:
                self._all.remove(worker)
        return worker.process.exitcode

    # ------------------------------------------------------------------ calls

    def run(
        self,
        fn: Callable[..., Any],
        *args: Any,
        limits: Limits | None = None,
        tick: Callable[[], None] | None = None,
        tick_seconds: float = 0.5,
    ) -> Any:
        """``fn(*args)`` in a worker; its result, or its exception re-raised here.

        Raises ``WorkerCrashed``, ``WorkerTimedOut``, ``WorkerOutOfMemory`` or ``PoolClosed``
        for failures of the process itself. ``tick`` runs every ``tick_seconds`` while waiting;
        what it raises propagates, and the abandoned call's worker is killed and replaced.
        """
        limits = limits or Limits()
        worker = self._acquire()
        healthy = False
        try:
            try:
                worker.conn.send((fn, args, limits.memory_bytes))
            except (BrokenPipeError, OSError):
                pass  # died before the call: the wait below sees it
            deadline = None if limits.seconds is None else time.monotonic() + limits.seconds
            while True:
                step = tick_seconds
                if deadline is not None:
                    step = max(0.0, min(step, deadline - time.monotonic()))
                ready = wait_for([worker.conn, worker.process.sentinel], timeout=step)
                if ready:
                    kind, value = self._reply(worker)
                    break
                if self._closed:
                    raise PoolClosed("the analysis pool was closed during the call")
                if deadline is not None and time.monotonic() >= deadline:
                    raise WorkerTimedOut(limits.seconds or 0.0)
                if tick is not None:
                    tick()
            if kind == "ok":
                healthy = True
                return value
            if kind == "memory":
                raise WorkerOutOfMemory(limits.memory_bytes)
            healthy = True
            raise value
        finally:
            self._release(worker, healthy=healthy and worker.process.is_alive())

    def _reply(self, worker: _Worker) -> tuple[str, Any]:
        """The worker's answer, or the reason it has none."""
        try:
            if worker.conn.poll():
                reply: tuple[str, Any] = worker.conn.recv()
                return reply
        except (EOFError, OSError):
            pass
        exitcode = self._discard(worker)
        if self._closed:
            raise PoolClosed("the analysis pool was closed during the call")
        raise WorkerCrashed(exitcode)

    def close(self, timeout: float = 5.0) -> None:
        """Stop every worker within ``timeout`` seconds (idle ones asked, busy ones killed)."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            workers, idle = list(self._all), list(self._idle)
            self._idle.clear()
            self._cond.notify_all()
        for w in workers:
            if w in idle:
                try:
                    w.conn.send(None)
                except OSError:
                    pass
            else:
                w.process.kill()
        end = time.monotonic() + timeout
        for w in workers:
            w.process.join(max(0.0, end - time.monotonic()))
            if w.process.is_alive():
                w.process.kill()
                w.process.join(1.0)
        atexit.unregister(self.close)

    def __enter__(self) -> IsolatedPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------- part analysis


def analyze_to_dict(
    path: str, units: str | None, max_bytes: int, pmi: bool = True
) -> dict[str, Any]:
    """Runs in a worker: ``PartAnalysis.to_dict()``, or ``{"__error__": ...}`` for a typed error.

    Typed errors travel as plain data: ``MitsumoriError`` takes ``detail`` by keyword, which
    pickling an exception drops.
    """
    from quote.analysis import analyze_part

    try:
        return analyze_part(path, units=units, max_bytes=max_bytes, pmi=pmi).to_dict()
    except MitsumoriError as exc:
        return {"__error__": {"class": type(exc).__name__, **exc.to_dict()}}


def rebuild_error(payload: dict[str, Any]) -> MitsumoriError:
    """The typed error ``analyze_to_dict`` sent as data."""
    cls = getattr(core_errors, payload.get("class", ""), None)
    if not (isinstance(cls, type) and issubclass(cls, MitsumoriError)):
        cls = UnreadablePart
    return cls(payload.get("message", "part could not be read"), detail=payload.get("detail"))


def part_error(exc: Exception) -> MitsumoriError | None:
    """The typed error a user sees for a pool failure while reading their part (None: not one)."""
    if isinstance(exc, WorkerCrashed):
        return UnreadablePart(
            f"the part reader crashed on this file ({exc.cause}): it is corrupt or built in a way "
            "the reader cannot handle. Export it again from your CAD system (STEP AP214 or "
            "AP242), or send an STL export of it.",
            detail={"reason": "reader_crashed", "cause": exc.cause},
        )
    advice = (
        "Simplify the model (drop text, cosmetic threads and detail that does not matter for "
        "the price), send one part per file, or ask the shop for a manual quote."
    )
    if isinstance(exc, WorkerTimedOut):
        return PartTooComplex(
            f"analysing this part took longer than the {exc.seconds:g} s allowed per part. "
            + advice,
            detail={"reason": "time_limit", "limit_seconds": exc.seconds},
        )
    if isinstance(exc, WorkerOutOfMemory):
        mib = None if exc.memory_bytes is None else exc.memory_bytes // 2**20
        return PartTooComplex(
            "analysing this part needed more memory than "
            + (f"the {mib} MiB allowed per part. " if mib is not None else "is available. ")
            + advice,
            detail={"reason": "memory_limit", "limit_mib": mib},
        )
    return None


def analyze_isolated(
    path: str | Path,
    *,
    units: str | None = None,
    max_bytes: int = 100 * 2**20,
    pool: IsolatedPool | None = None,
    limits: Limits | None = None,
    pmi: bool = True,
) -> Any:
    """``analyze_part``, with STEP files read in a child process (meshes stay in this one).

    A crash of the STEP reader becomes ``UnreadablePart`` instead of killing the caller; limits
    overruns become ``PartTooComplex``. ``pool`` is reused when given (a batch), else a
    one-worker pool lives for this call.
    """
    from quote.analysis import analysis_from_dict, analyze_part

    if Path(path).suffix.lower() not in STEP_SUFFIXES:
        return analyze_part(path, units=units, max_bytes=max_bytes, pmi=pmi)
    own = pool is None
    pool = pool or IsolatedPool(1)
    try:
        result = pool.run(analyze_to_dict, str(path), units, max_bytes, pmi, limits=limits)
    except (WorkerCrashed, WorkerTimedOut, WorkerOutOfMemory) as exc:
        error = part_error(exc)
        assert error is not None  # part_error maps each of these three to a typed error
        raise error from None
    finally:
        if own:
            pool.close()
    if "__error__" in result:
        raise rebuild_error(result["__error__"])
    return analysis_from_dict(result)
