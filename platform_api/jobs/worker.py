"""The job worker: a thread that claims queued jobs from the database and runs them.

Every API process runs one (``MITSUMORI_JOB_WORKER``); the atomic claim means several processes or
hosts share one queue without running a job twice. A running job refreshes its heartbeat; a job
whose process died (kill -9, power loss) is found by the stale-heartbeat sweep any worker runs
and is requeued (the handlers resume where they were) or, out of attempts, failed with a reason.
A clean shutdown gives the running job back to the queue at its next progress report.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from platform_api.context import AppContext
from platform_api.db.types import utcnow
from platform_api.jobs import repository
from quote.errors import MitsumoriError
from quote.isolation import PoolClosed

log = logging.getLogger("mitsumori.jobs")


class JobInterrupted(BaseException):
    """Raised inside a handler when the worker is stopping; the job goes back to the queue.

    A BaseException, like KeyboardInterrupt: handlers' and the engine's ``except Exception``
    must not swallow it.
    """


class JobLost(BaseException):
    """Raised inside a handler when the job was taken from this worker (declared stale)."""


@dataclass
class JobRun:
    """What a handler gets besides the context: the job's id, owner, params, and reporting."""

    job_id: str
    org_id: str
    params: dict[str, Any]
    attempts: int
    worker: JobWorker
    _last_beat: float = 0.0

    def progress(self, fraction: float | None = None, message: str | None = None) -> None:
        """Report progress (0..1) and refresh the heartbeat; raise if the worker is stopping."""
        if self.worker.stopping.is_set():
            raise JobInterrupted()
        now = time.monotonic()
        if fraction is not None and fraction < 1.0 and now - self._last_beat < 0.25:
            return  # coarse on purpose: a progress write per CSV row would be a write storm
        self._last_beat = now
        with self.worker.ctx.db.session() as session:
            ok = repository.heartbeat(
                session,
                job_id=self.job_id,
                worker_id=self.worker.worker_id,
                progress=fraction,
                message=message,
            )
        if not ok:
            raise JobLost()


Handler = Callable[[AppContext, JobRun], tuple[dict[str, Any], list[dict[str, Any]], str]]


class JobWorker:
    """Claims and runs jobs. ``handlers`` maps a job kind to a function returning
    (result, errors by row, message); a handler raises a ``MitsumoriError`` to fail the job."""

    def __init__(self, ctx: AppContext, handlers: dict[str, Handler], *, name: str = "") -> None:
        self.ctx = ctx
        self.handlers = handlers
        suffix = f"-{name}" if name else ""
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}{suffix}"[:120]
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="mitsumori-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        poll = self.ctx.settings.job_poll_seconds
        while not self.stopping.is_set():
            try:
                ran = self.run_once()
            except Exception:  # the database was away, say: log, wait, try again
                log.exception("job worker iteration failed")
                ran = None
            if ran is None:
                self.stopping.wait(poll)

    # -- one step ----------------------------------------------------------------------------

    def recover_stale(self) -> tuple[int, int]:
        cutoff = utcnow() - timedelta(seconds=self.ctx.settings.job_stale_seconds)
        with self.ctx.db.session() as session:
            requeued, failed = repository.recover_stale(session, cutoff=cutoff)
        if requeued or failed:
            log.warning("stale jobs: %d requeued, %d failed", requeued, failed)
        return requeued, failed

    def run_once(self) -> str | None:
        """Sweep stale jobs, then claim and run one job; its id, or None if the queue was empty."""
        self.recover_stale()
        with self.ctx.db.session() as session:
            job_id = repository.claim(session, worker_id=self.worker_id)
        if job_id is None:
            return None
        self._execute(job_id)
        return job_id

    def run_until_empty(self, max_jobs: int = 100) -> list[str]:
        """Run queued jobs in the calling thread until none is left (CLI and tests)."""
        done: list[str] = []
        while len(done) < max_jobs and (job_id := self.run_once()) is not None:
            done.append(job_id)
        return done

    def _execute(self, job_id: str) -> None:
        with self.ctx.db.session() as session:
            job = repository.get(session, job_id)
            assert job is not None
            kind, org_id, params, attempts = job.kind, job.org_id, dict(job.params), job.attempts
        run = JobRun(job_id=job_id, org_id=org_id, params=params, attempts=attempts, worker=self)
        handler = self.handlers.get(kind)
        status, message = "failed", ""
        result: dict[str, Any] = {}
        errors: list[dict[str, Any]] | None = None
        t0 = time.perf_counter()
        try:
            if handler is None:
                raise MitsumoriError(f"no handler for job kind {kind!r}")
            result, errors, message = handler(self.ctx, run)
            status = "succeeded"
        except (JobInterrupted, PoolClosed):  # the server is stopping
            with self.ctx.db.session() as session:
                repository.release(
                    session,
                    job_id=job_id,
                    worker_id=self.worker_id,
                    message="interrupted by a shutdown; it resumes when a worker is back",
                )
            log.info("job %s (%s) released on shutdown", job_id, kind)
            return
        except JobLost:
            log.warning("job %s (%s) was declared stale and taken from this worker", job_id, kind)
            return
        except MitsumoriError as exc:
            message = exc.message
            detail = dict(exc.detail)
            if isinstance(detail.get("errors"), list):  # errors by row travel with the failure
                errors = detail.pop("errors")
            result = {"error": exc.code, "detail": detail}
        except Exception as exc:  # a bug: fail the job with a reason instead of retrying forever
            log.exception("job %s (%s) crashed", job_id, kind)
            message = f"internal error ({type(exc).__name__}); the job failed and was logged"
            result = {"error": "internal_error"}
        with self.ctx.db.session() as session:
            repository.finish(
                session,
                job_id=job_id,
                worker_id=self.worker_id,
                status=status,
                message=message,
                result=result,
                errors=errors,
            )
        self.ctx.metrics.jobs.labels(kind=kind, status=status).inc()
        log.info("job %s (%s) %s in %.1f s", job_id, kind, status, time.perf_counter() - t0)
