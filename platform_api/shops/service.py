"""A shop's history imports, training jobs, history rows and models."""

from __future__ import annotations

import csv
import io
import shutil
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

from sqlmodel import Session

from platform_api.db.models import Job
from platform_api.errors import InvalidRequest, NotFound
from platform_api.ids import new_id
from platform_api.jobs import repository as jobs_repository
from platform_api.parts import storage
from platform_api.security import Principal
from platform_api.shops import repository
from platform_api.shops.schemas import TrainRequest
from quote.errors import HistoryError, InsufficientHistory
from quote.history import HISTORY_COLUMNS
from quote.training import MIN_SHOP_ROWS


def own_shop(principal: Principal, shop_id: str) -> str:
    """``shop_id`` if it is the caller's own shop; 403 for non-shops, 404 for other shops."""
    principal.require("shop")
    if shop_id != principal.org_id:
        raise NotFound(f"no shop {shop_id} of yours", detail={"shop_id": shop_id})
    return shop_id


def job_dir(data_dir: Path, job_id: str) -> Path:
    """Where a job keeps its uploaded inputs (under the shared data directory)."""
    return data_dir / "jobs" / job_id


def _check_csv_header(path: Path) -> None:
    """Refuse at once a CSV without the history columns (rows are checked by the job)."""
    with path.open("rb") as fh:
        head = fh.read(64 * 1024)
    try:
        first = head.decode("utf-8-sig").splitlines()[0] if head.strip() else ""
    except UnicodeDecodeError:
        raise HistoryError("the history CSV is not UTF-8 text") from None
    names = [h.strip().lower() for h in next(csv.reader(io.StringIO(first)), [])]
    missing = [c for c in HISTORY_COLUMNS if c not in names]
    if missing:
        raise HistoryError(
            f"the history CSV lacks the column(s) {', '.join(missing)}; its header must include "
            f"{','.join(HISTORY_COLUMNS)}",
            detail={"missing": missing, "found": names[:50]},
        )


def _check_zip(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise InvalidRequest(
            "'parts' is not a readable zip archive of the part files",
            detail={"field": "parts"},
        ) from None


def start_history_import(
    *,
    session: Session,
    data_dir: Path,
    max_bytes: int,
    max_attempts: int,
    principal: Principal,
    shop_id: str,
    history: BinaryIO,
    parts: BinaryIO,
) -> Job:
    """Save the CSV and the zip of part files, check them briefly, and queue an import job.

    The files are saved before the job row is written: on SQLite a write transaction held while
    copying a large upload would block every other writer.
    """
    own_shop(principal, shop_id)
    job_id = new_id("job")
    folder = job_dir(data_dir, job_id)
    try:
        tmp_csv, _, _ = storage.receive(history, folder, ext=".csv", max_bytes=max_bytes)
        tmp_csv.rename(folder / "history.csv")
        tmp_zip, _, _ = storage.receive(parts, folder, ext=".zip", max_bytes=max_bytes)
        tmp_zip.rename(folder / "parts.zip")
        _check_csv_header(folder / "history.csv")
        _check_zip(folder / "parts.zip")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return jobs_repository.create(
        session,
        org_id=shop_id,
        kind="history_import",
        params={"csv": "history.csv", "zip": "parts.zip"},
        max_attempts=max_attempts,
        job_id=job_id,
    )


def start_training(
    *, session: Session, max_attempts: int, principal: Principal, shop_id: str, body: TrainRequest
) -> Job:
    """Queue a training job on the shop's imported history (at least 50 rows)."""
    own_shop(principal, shop_id)
    n = repository.count_history(session, org_id=shop_id)
    if n < MIN_SHOP_ROWS:
        raise InsufficientHistory(
            f"{n} history rows imported; a shop model needs at least {MIN_SHOP_ROWS}. "
            f"Import more with POST /v1/shops/{shop_id}/history",
            detail={"rows": n, "minimum": MIN_SHOP_ROWS},
        )
    return jobs_repository.create(
        session,
        org_id=shop_id,
        kind="train",
        params=body.model_dump(),
        max_attempts=max_attempts,
    )


def list_history(
    *, session: Session, principal: Principal, shop_id: str, cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    """The shop's imported history rows, newest first."""
    own_shop(principal, shop_id)
    return repository.list_history(session, org_id=shop_id, cursor=cursor, limit=limit)


def list_models(
    *, session: Session, principal: Principal, shop_id: str, cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    """The shop's trained models, newest first."""
    own_shop(principal, shop_id)
    return repository.list_models(session, org_id=shop_id, cursor=cursor, limit=limit)
