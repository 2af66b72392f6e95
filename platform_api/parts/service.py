"""Receive, analyse and store part files; read them back for their owner only."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from sqlmodel import Session

from platform_api.analyzer import Analyzer
from platform_api.db.models import Part
from platform_api.errors import NotFound
from platform_api.ids import new_id
from platform_api.metrics import Metrics
from platform_api.parts import repository, storage
from platform_api.parts.schemas import PartItem, PartPublic
from quote.errors import MitsumoriError


def to_public(part: Part) -> PartPublic:
    """Row to response: features of the first body on top, every body in ``items``."""
    a = part.analysis
    items = [
        PartItem(**{k: i[k] for k in ("index", "name", "features", "dfm")}) for i in a["items"]
    ]
    return PartPublic(
        id=part.id,
        file_name=part.file_name,
        sha256=part.sha256,
        size_bytes=part.size_bytes,
        source_format=part.source_format,
        units=part.units,
        created_at=part.created_at,
        features=items[0].features if items else {},
        dfm=[{**w, "item": it.index} for it in items for w in it.dfm],
        warnings=list(a.get("warnings", [])),
        items=items,
        analysis_seconds=float(a.get("analysis_seconds", 0.0)),
    )


def ingest_path(
    *,
    session: Session,
    analyzer: Analyzer,
    metrics: Metrics,
    data_dir: Path,
    org_id: str,
    path: Path,
    file_name: str,
    units: str | None,
    sha256: str | None = None,
    size: int | None = None,
    tick: Callable[[], None] | None = None,
) -> tuple[Part, bool]:
    """Analyse a local file and store it as a part of ``org_id``; (part, created).

    The same bytes with the same units already uploaded by ``org_id`` return that part without
    parsing again. The file at ``path`` is moved into the content-addressed store.
    """
    ext = storage.extension(file_name)
    units_req = (units or "").strip().lower()
    if sha256 is None or size is None:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
        sha256, size = digest.hexdigest(), path.stat().st_size
    existing = repository.find_same_file(session, org_id=org_id, sha256=sha256, units=units_req)
    if existing is not None:
        metrics.parts.labels(format=existing.source_format, outcome="duplicate").inc()
        return existing, False
    t0 = time.perf_counter()
    try:
        analysis: dict[str, Any] = analyzer.analyze(path, units=units_req or None, tick=tick)
    except MitsumoriError:
        metrics.parts.labels(format=ext.lstrip(".") or "none", outcome="rejected").inc()
        raise
    metrics.analysis_seconds.observe(time.perf_counter() - t0)
    rel = storage.store(path, data_dir, sha256, ext)
    analysis["file_name"] = file_name
    part = Part(
        id=new_id("part"),
        owner_org_id=org_id,
        file_name=file_name,
        sha256=sha256,
        size_bytes=size,
        storage_path=rel,
        source_format=str(analysis.get("source_format", ext.lstrip("."))),
        units=str(analysis.get("units", "mm")),
        units_requested=units_req,
        analysis=analysis,
    )
    session.add(part)
    session.flush()
    metrics.parts.labels(format=part.source_format, outcome="ok").inc()
    return part, True


def upload(
    *,
    session: Session,
    analyzer: Analyzer,
    metrics: Metrics,
    data_dir: Path,
    max_bytes: int,
    org_id: str,
    src: BinaryIO,
    file_name: str | None,
    units: str | None,
) -> tuple[Part, bool]:
    """Stream an uploaded file to disk (size-limited), then ``ingest_path`` it."""
    name = storage.safe_file_name(file_name)
    tmp, sha, size = storage.receive(
        src, data_dir / "tmp", ext=storage.extension(name), max_bytes=max_bytes
    )
    try:
        return ingest_path(
            session=session,
            analyzer=analyzer,
            metrics=metrics,
            data_dir=data_dir,
            org_id=org_id,
            path=tmp,
            file_name=name,
            units=units,
            sha256=sha,
            size=size,
        )
    except MitsumoriError as exc:
        raise _as_uploaded(exc, tmp, name, data_dir) from None
    finally:
        tmp.unlink(missing_ok=True)  # already moved into the store unless it failed


def _as_uploaded(exc: MitsumoriError, tmp: Path, name: str, data_dir: Path) -> MitsumoriError:
    """The error as the uploader sees it: about the file it sent (``name``), never the server's
    temporary path or data directory (the readers name the file they were given)."""

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            for server, user in ((str(tmp), name), (tmp.name, name), (str(data_dir), "")):
                value = value.replace(server, user)
            return value
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    exc.message = clean(exc.message)
    exc.detail = clean(exc.detail)
    if "path" in exc.detail:
        exc.detail["path"] = name
    return exc


def get(*, session: Session, org_id: str, part_id: str) -> Part:
    """A part of ``org_id``; ``NotFound`` for missing parts and for other companies' parts."""
    part = repository.get_owned(session, org_id=org_id, part_id=part_id)
    if part is None:
        raise NotFound(f"no part {part_id} (or it is not yours)", detail={"part_id": part_id})
    return part


def list_(
    *, session: Session, org_id: str, cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    """Parts of ``org_id``, newest first."""
    return repository.list_owned(session, org_id=org_id, cursor=cursor, limit=limit)
