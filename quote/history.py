"""A shop's history CSV and quote-batch request CSVs, read row by row.

- ``read_history_csv``: a shop's past quotes; bad rows are reported by line number and the good
  ones kept.
- ``read_requests_csv``: a batch of quote requests; each row carries its typed error, if any.

Units: JPY per piece, business days, mm.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from quote.catalogs import (
    Catalog,
    check_finish_applies,
    load_catalog,
    resolve_finish,
    resolve_material,
    resolve_tolerance,
)
from quote.errors import HistoryError, InvalidQuantity, MitsumoriError, UnreadablePart

HISTORY_COLUMNS = (
    "part_file",
    "material",
    "quantity",
    "tolerance",
    "finish",
    "unit_price",
    "lead_time_days",
)
REQUEST_COLUMNS = HISTORY_COLUMNS[:5]
DEFAULT_TOLERANCE = "ISO2768-m"


@dataclass(frozen=True)
class HistoryRow:
    """One good row of a shop's history.

    line: line number in the CSV (header = 1). part_file: absolute path. material / finish:
    catalog names. tolerance: as written (an ISO 2768 class or +-mm; resolved per part).
    unit_price: JPY per piece. lead_time_days: business days, or None when the shop left it
    empty (the row then trains the price model only).
    """

    line: int
    part_file: Path
    material: str
    quantity: int
    tolerance: str
    finish: str
    unit_price: float
    lead_time_days: float | None


@dataclass(frozen=True)
class HistoryRead:
    """rows: the good rows. errors: (line number, error code, message) of each skipped row."""

    rows: tuple[HistoryRow, ...]
    errors: tuple[tuple[int, str, str], ...]


@dataclass(frozen=True)
class RequestRow:
    """One row of a quote-batch request CSV, as typed (the engine resolves the names).

    error: the typed error that makes this row unquotable (missing file, bad quantity), or None.
    """

    line: int
    part_file: Path
    material: str
    quantity: int
    tolerance: str | None
    finish: str | None
    error: MitsumoriError | None = None


_NUMBER_JUNK = re.compile(r"[,\s¥円]|JPY|jpy|yen")


def _number(text: str) -> float | None:
    """A float from a cell like "12,000", "¥12000" or "12000 JPY"; None if not a finite number."""
    try:
        v = float(_NUMBER_JUNK.sub("", text))
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _open_csv(path: str | Path, required: Sequence[str]) -> tuple[Path, list[tuple[int, dict]]]:
    """Read ``path``; return its folder and (line number, {column: cell}) per data row.

    Raises HistoryError when the file cannot be read or required columns are missing.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise HistoryError(f"CSV file {path} not found.", detail={"path": str(path)}) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise HistoryError(
            f"CSV file {path} cannot be read as UTF-8 text: {exc}", detail={"path": str(path)}
        ) from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise HistoryError(
            f"CSV file {path} is empty; expected the header {','.join(required)}.",
            detail={"path": str(path)},
        ) from None
    except csv.Error as exc:
        raise HistoryError(f"CSV file {path} is malformed: {exc}") from exc
    names = [h.strip().lower() for h in header]
    missing = [c for c in required if c not in names]
    if missing:
        raise HistoryError(
            f"CSV file {path} lacks the column(s) {', '.join(missing)}; the header must "
            f"include {','.join(required)} (extra columns are ignored).",
            detail={"path": str(path), "missing": missing, "found": names},
        )
    index = {c: names.index(c) for c in required}
    out: list[tuple[int, dict]] = []
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue  # blank line
            row = {c: (cells[i].strip() if i < len(cells) else "") for c, i in index.items()}
            out.append((reader.line_num, row))
    except csv.Error as exc:
        raise HistoryError(
            f"CSV file {path} is malformed near line {reader.line_num}: {exc}"
        ) from exc
    return path.resolve().parent, out


def _part_path(folder: Path, cell: str) -> Path:
    p = Path(cell).expanduser()
    return (p if p.is_absolute() else folder / p).resolve()


def _quantity(cell: str) -> int | None:
    v = _number(cell)
    if v is None or v != int(v) or v < 1:
        return None
    return int(v)


def read_history_csv(path: str | Path, catalog: Catalog | None = None) -> HistoryRead:
    """Read a shop's history CSV.

    Header (any order, any case, extra columns ignored):
    ``part_file,material,quantity,tolerance,finish,unit_price,lead_time_days``. ``part_file`` is
    absolute or relative to the CSV's folder; ``unit_price`` JPY per piece; ``lead_time_days``
    business days (may be empty); empty tolerance means ISO2768-m, empty finish means none.

    Returns
    -------
    HistoryRead
        The good rows, and (line number, code, message) for each skipped row.

    Raises
    ------
    HistoryError
        The file is missing, unreadable, empty, or lacks required columns (they are listed).
    """
    catalog = catalog or load_catalog()
    folder, raw = _open_csv(path, HISTORY_COLUMNS)
    rows: list[HistoryRow] = []
    errors: list[tuple[int, str, str]] = []
    for line, r in raw:

        def bad(code: str, message: str, _line: int = line) -> None:
            errors.append((_line, code, message))

        if not r["part_file"]:
            bad("missing_part_file", "part_file is empty")
            continue
        part = _part_path(folder, r["part_file"])
        if not part.is_file():
            bad("part_not_found", f"part file {r['part_file']!r} not found ({part})")
            continue
        try:
            material = resolve_material(catalog, r["material"])
            finish = resolve_finish(catalog, r["finish"] or "none")
            check_finish_applies(catalog, material, finish)
            tolerance = r["tolerance"] or DEFAULT_TOLERANCE
            resolve_tolerance(catalog, tolerance, 100.0)  # syntax check; mm resolved per part
        except MitsumoriError as exc:
            bad(exc.code, exc.message)
            continue
        quantity = _quantity(r["quantity"])
        if quantity is None:
            bad("invalid_quantity", f"quantity {r['quantity']!r} is not a whole number >= 1")
            continue
        price = _number(r["unit_price"])
        if price is None or price <= 0:
            bad("invalid_price", f"unit_price {r['unit_price']!r} is not a positive number (JPY)")
            continue
        lead: float | None = None
        if r["lead_time_days"]:
            lead = _number(r["lead_time_days"])
            if lead is None or lead <= 0:
                bad(
                    "invalid_lead_time",
                    f"lead_time_days {r['lead_time_days']!r} is not a positive number of days",
                )
                continue
        rows.append(
            HistoryRow(line, part, material.name, quantity, tolerance, finish.name, price, lead)
        )
    return HistoryRead(tuple(rows), tuple(errors))


def read_requests_csv(path: str | Path) -> list[RequestRow]:
    """Read a quote-batch CSV (``part_file,material,quantity,tolerance,finish``).

    Every data row comes back in order; a row with a missing part file or a bad quantity carries
    its typed error (names are left to the engine, which lists the accepted ones).

    Raises
    ------
    HistoryError
        The file is missing, unreadable, empty, or lacks required columns.
    """
    folder, raw = _open_csv(path, REQUEST_COLUMNS)
    out = []
    for line, r in raw:
        part = _part_path(folder, r["part_file"]) if r["part_file"] else folder
        error: MitsumoriError | None = None
        quantity = _quantity(r["quantity"])
        if not r["part_file"] or not part.is_file():
            error = UnreadablePart(
                f"line {line}: part file {r['part_file']!r} not found",
                detail={"line": line, "part_file": r["part_file"]},
            )
        elif quantity is None:
            error = InvalidQuantity(
                f"line {line}: quantity {r['quantity']!r} is not a whole number >= 1",
                detail={"line": line, "quantity": r["quantity"]},
            )
        out.append(
            RequestRow(
                line=line,
                part_file=part,
                material=r["material"],
                quantity=quantity or 1,
                tolerance=r["tolerance"] or None,
                finish=r["finish"] or None,
                error=error,
            )
        )
    return out
