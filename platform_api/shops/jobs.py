"""Job handlers of a shop: import a history (CSV + zip of part files) and train a model.

Both resume after a restart: the import skips CSV lines it already stored and reuses parts it
already analysed (content hash); training starts over (it is one computation) and only its
result is written.
"""

from __future__ import annotations

import multiprocessing
import queue
import shutil
import stat
import zipfile
from collections import defaultdict
from pathlib import Path, PurePosixPath
from typing import Any

from platform_api.analyzer import rebuild_error
from platform_api.context import AppContext
from platform_api.db.models import HistoryRow, ShopModel
from platform_api.ids import new_id
from platform_api.jobs.worker import Handler, JobRun
from platform_api.parts import service as parts_service
from platform_api.profiles import history, reference
from platform_api.shops import repository
from platform_api.shops.service import job_dir
from platform_api.shops.train_task import train_in_worker
from quote.errors import HistoryError, MitsumoriError

MAX_ZIP_FILES = 10_000
ZIP_EXPANSION_LIMIT = 4  # the zip may expand to 4x the upload limit (part files compress well)
ROWS_PER_TRANSACTION = 1_000  # history rows stored per transaction (each holds the write lock)


def _extract(zip_path: Path, dest: Path, *, max_total: int) -> list[str]:
    """Extract ``zip_path`` under ``dest`` safely; returns notes on entries skipped.

    Refuses traversal (``..``, absolute names), symlinks, more than ``MAX_ZIP_FILES`` files and
    more than ``max_total`` bytes expanded (zip bombs).
    """
    if dest.exists():
        shutil.rmtree(dest)  # a resumed job extracts again from scratch
    dest.mkdir(parents=True)
    notes: list[str] = []
    total = 0
    try:
        with zipfile.ZipFile(zip_path) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            if len(infos) > MAX_ZIP_FILES:
                raise HistoryError(
                    f"the zip holds {len(infos):,} files; at most {MAX_ZIP_FILES:,} are accepted"
                )
            for info in infos:
                name = info.filename.replace("\\", "/")
                parts = PurePosixPath(name).parts
                is_link = stat.S_ISLNK(info.external_attr >> 16)
                if name.startswith("/") or ".." in parts or not parts or is_link:
                    notes.append(f"skipped zip entry {name!r} (absolute, '..' or a link)")
                    continue
                target = dest.joinpath(*parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, target.open("wb") as out:
                    while chunk := src.read(1 << 20):
                        total += len(chunk)
                        if total > max_total:
                            raise HistoryError(
                                f"the zip expands to more than {max_total:,} bytes",
                                detail={"max_bytes": max_total},
                            )
                        out.write(chunk)
    except HistoryError:
        raise
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError) as exc:
        raise HistoryError(
            f"the zip of part files cannot be extracted ({type(exc).__name__})",
            detail={"reason": str(exc)[:200]},
        ) from None
    return notes


def run_history_import(
    ctx: AppContext, run: JobRun
) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    """Read the CSV, analyse and store each part file once, store the good rows."""
    from quote.history import read_history_csv

    settings = ctx.settings
    folder = job_dir(settings.data_dir, run.job_id)
    files = folder / "files"
    run.progress(0.0, "extracting the zip of part files")
    notes = _extract(
        folder / run.params.get("zip", "parts.zip"),
        files,
        max_total=ZIP_EXPANSION_LIMIT * settings.max_upload_bytes,
    )
    # The CSV sits at the zip's root so relative part_file paths name files in the zip.
    csv_path = files / "__history__.csv"
    shutil.copyfile(folder / run.params.get("csv", "history.csv"), csv_path)
    root = files.resolve()
    # part_root: a part_file names a file inside the zip or gets one error, whatever the server
    # holds at that path (no probing of the server's file system).
    read = read_history_csv(csv_path, part_root=root)
    hide = f"{root}/"  # server paths never reach the client

    errors: list[dict[str, Any]] = [
        {
            "line": e.line,
            "column": e.column,
            "error": e.code,
            "message": e.message.replace(hide, ""),
        }
        for e in read.errors
    ]
    by_file: dict[Path, list[Any]] = defaultdict(list)
    for row in read.rows:
        by_file[row.part_file].append(row)

    with ctx.db.session() as session:
        done_lines = repository.imported_lines(session, job_id=run.job_id)
    # each row is read as its shop's profile counts it, once, here (profiles.history)
    version = reference.default_version(ctx.models)
    ref = reference.Reference(ctx.models if version else None, {})
    n_files = len(by_file)
    imported = len(done_lines)
    for i, (path, rows) in enumerate(sorted(by_file.items())):
        run.progress(i / max(n_files, 1), f"part file {i + 1} of {n_files}")
        todo = [r for r in rows if r.line not in done_lines]
        if not todo:
            continue
        rel_name = str(path.resolve().relative_to(root))
        try:
            with ctx.db.session() as session:  # the part alone: its transaction is short
                part, _ = parts_service.ingest_path(
                    session=session,
                    analyzer=ctx.analyzer,
                    metrics=ctx.metrics,
                    data_dir=settings.data_dir,
                    org_id=run.org_id,
                    path=path,
                    file_name=path.name,
                    units=None,
                    tick=lambda: run.progress(None),  # heartbeat during a long analysis
                )
                bodies = len(part.analysis.get("items", []))
                if bodies != 1:  # raised inside: the part is not kept either
                    raise HistoryError(
                        f"{rel_name} has {bodies} separate bodies; a history price is for one part"
                    )
                part_id, analysis = part.id, dict(part.analysis)
            # read (quoted) outside any transaction, then stored in short ones: the database
            # stays writable for everyone else (an API key's rate bucket, say) meanwhile
            for start in range(0, len(todo), ROWS_PER_TRANSACTION):
                chunk = [
                    HistoryRow(
                        id=new_id("his"),
                        org_id=run.org_id,
                        job_id=run.job_id,
                        line=r.line,
                        part_id=part_id,
                        material=r.material,
                        quantity=r.quantity,
                        tolerance=r.tolerance,
                        finish=r.finish,
                        unit_price=r.unit_price,
                        lead_time_days=r.lead_time_days,
                    )
                    for r in todo[start : start + ROWS_PER_TRANSACTION]
                ]
                found = history.read_rows(chunk, part_id, analysis, ref=ref, version=version)
                with ctx.db.session() as session:
                    history.insert_rows(session, chunk)
                    history.add_buckets(session, org_id=run.org_id, version=version, buckets=found)
                    history.add_ratios(
                        session,
                        org_id=run.org_id,
                        version=version,
                        ratios=history.read_ratios(chunk, version),
                    )
                ctx.db.checkpoint()  # keep SQLite's log short for everyone else's commits
                imported += len(chunk)
                ctx.metrics.history_rows.labels(outcome="imported").inc(len(chunk))
                run.progress(None)
        except MitsumoriError as exc:
            for r in todo:
                errors.append(
                    {
                        "line": r.line,
                        "column": "part_file",
                        "error": exc.code,
                        "message": f"{rel_name}: {exc.message}".replace(hide, ""),
                    }
                )
    errors.sort(key=lambda e: e["line"])
    rejected = len({e["line"] for e in errors})
    ctx.metrics.history_rows.labels(outcome="rejected").inc(rejected)
    shutil.rmtree(folder, ignore_errors=True)
    # Every non-blank line read is either stored or rejected with its reasons; bad rows are
    # the shop's to fix and never fail the job (a job with no good row imports 0 rows).
    result = {
        "rows_read": read.lines_read,
        "rows_imported": imported,
        "rows_rejected": rejected,
        "part_files": n_files,
        "notes": notes[:100],
    }
    return result, errors, f"{imported} rows imported, {rejected} rejected"


def run_train(ctx: AppContext, run: JobRun) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    """Train the shop's model on its imported history, in a worker process; store the artifact."""
    from quote.history import HistoryRow as EngineRow

    data_dir = ctx.settings.data_dir
    with ctx.db.session() as session:
        stored = repository.history_with_files(session, org_id=run.org_id)
    rows = [
        EngineRow(
            line=r.line,
            part_file=data_dir / path,
            material=r.material,
            quantity=r.quantity,
            tolerance=r.tolerance or "ISO2768-m",
            finish=r.finish or "none",
            unit_price=r.unit_price,
            lead_time_days=r.lead_time_days,
        )
        for r, path, _ in stored
    ]
    # The parts were analysed at import: hand those analyses over instead of re-parsing files.
    analyses = {data_dir / path: analysis for _, path, analysis in stored if analysis}
    run.progress(0.0, f"training on {len(rows)} history rows")
    random_state = int(run.params.get("random_state", 0))
    if ctx.analyzer.workers <= 0:
        out = train_in_worker(rows, run.org_id, random_state, _Relay(run), analyses)
    else:
        with multiprocessing.get_context("spawn").Manager() as manager:
            q = manager.Queue()

            def relay() -> None:
                latest = None
                try:
                    while True:
                        latest = q.get_nowait()
                except queue.Empty:
                    pass
                if latest is None:
                    run.progress(None)  # heartbeat only
                else:
                    done, total, message = latest
                    run.progress(done / max(total, 1), message)

            out = ctx.analyzer.call(
                train_in_worker,
                rows,
                run.org_id,
                random_state,
                q,
                analyses,
                tick=relay,
                tick_seconds=min(1.0, ctx.settings.job_heartbeat_seconds),
            )
    if "__error__" in out:
        raise rebuild_error(out["__error__"])
    with ctx.db.session() as session:
        if run.params.get("activate", True):
            repository.deactivate_models(session, org_id=run.org_id)
        model = ShopModel(
            id=new_id("mdl"),
            org_id=run.org_id,
            name=out["name"],
            version=out["version"],
            artifact=out["artifact"],
            metrics=out["metrics"],
            training_rows=int(out["trained_rows"]),
            active=bool(run.params.get("activate", True)),
            job_id=run.job_id,
        )
        session.add(model)
        session.flush()
        model_id = model.id
    result = {
        "model_id": model_id,
        "version": out["version"],
        "metrics": out["metrics"],
        "trained_rows": out["trained_rows"],
        "active": bool(run.params.get("activate", True)),
        "notes": out["notes"],
    }
    return result, [], f"model {out['version']} trained on {out['trained_rows']} rows"


class _Relay:
    """Progress straight to the job when training runs in this thread."""

    def __init__(self, run: JobRun) -> None:
        self.run = run

    def put_nowait(self, item: tuple[int, int, str]) -> None:
        done, total, message = item
        self.run.progress(done / max(total, 1), message)


HANDLERS: dict[str, Handler] = {"history_import": run_history_import, "train": run_train}
