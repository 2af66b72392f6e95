"""A shop's history CSV and quote-batch request CSVs, read row by row.

- ``read_history_csv``: a shop's past quotes; bad rows are reported by line number and the good
  ones kept.
- ``read_requests_csv``: a batch of quote requests; each row carries its typed error, if any.

Units: JPY per piece, business days, mm.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from quote.catalogs import (
    Catalog,
    check_finish_applies,
    load_catalog,
    resolve_finish,
    resolve_material,
    resolve_tolerance,
)
from quote.errors import HistoryError, InvalidQuantity, MitsumoriError, UnreadablePart
from quote.types import DEFAULT_TOLERANCE, MAX_QUANTITY

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
class RowError:
    """Why one line of a CSV was not used.

    line: line number in the file (header = 1). column: the header name of the bad cell, or
    None when the line as a whole is bad (its quoting or its number of cells). code: a stable
    error code. message: what is wrong and how to fix it, in words a person can act on.
    """

    line: int
    column: str | None
    code: str
    message: str


@dataclass(frozen=True)
class HistoryRead:
    """rows: the good rows. errors: each bad cell or line (a line may have several).

    lines_read: the non-blank data lines; each is either a good row or has at least one error,
    so ``lines_read == len(rows) + len({e.line for e in errors})``.
    """

    rows: tuple[HistoryRow, ...]
    errors: tuple[RowError, ...]
    lines_read: int = 0

    @property
    def rejected_lines(self) -> int:
        return len({e.line for e in self.errors})


@dataclass(frozen=True)
class RequestRow:
    """One row of a quote-batch request CSV, as typed (the engine resolves the names).

    error: the typed error that makes this row unquotable (missing file, bad quantity, a line
    that is not valid CSV), or None.
    """

    line: int
    part_file: Path
    material: str
    quantity: int
    tolerance: str | None
    finish: str | None
    error: MitsumoriError | None = None


# Bounds of the values a history row may hold besides the engine's MAX_QUANTITY: a unit price
# above a billion yen or a lead time above two years is a typo.
MAX_UNIT_PRICE_JPY = 1e9
MAX_LEAD_TIME_DAYS = 500.0
MAX_PART_FILE_CHARS = 1024
MAX_TOLERANCE_CHARS = 32  # the platform stores it in a column of that width
MAX_NAME_CHARS = 64  # material and finish names, likewise
_SHOWN_CHARS = 60  # of a cell quoted back in a message

_NUMBER_JUNK = re.compile(r"[,\s¥円]|JPY|jpy|yen")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_DRIVE = re.compile(r"^[A-Za-z]:")


def _shown(cell: str) -> str:
    """``cell`` quoted for a message, cut to a readable length."""
    return repr(cell if len(cell) <= _SHOWN_CHARS else cell[:_SHOWN_CHARS] + "...")


def _number(text: str) -> float | None:
    """A float from a cell like "12,000", "¥12000" or "12000 JPY"; None if not a finite number."""
    try:
        v = float(_NUMBER_JUNK.sub("", text))
    except ValueError:
        return None
    return v if math.isfinite(v) else None


@dataclass(frozen=True)
class _Line:
    """One data line: its cells by required column, or why it could not be split into cells."""

    number: int
    cells: dict[str, str]
    error: RowError | None = None


def _split_line(number: int, text: str, width: int, index: dict[str, int]) -> _Line:
    """Cells of one physical line, parsed on its own.

    Every line is parsed alone, so an unbalanced quote costs only its own line: the lines after
    it are read as they are, never swallowed into one cell (no history cell holds a line break).
    """
    try:
        cells = next(csv.reader([text], strict=True))
    except csv.Error as exc:
        hint = (
            'a double quote (") opens a cell that is not closed on this line; close it, or '
            'write a quote inside a quoted cell as two ("")'
            if "end of data" in str(exc) or "expected after" in str(exc)
            else f"the line is not valid CSV ({exc})"
        )
        return _Line(number, {}, RowError(number, None, "malformed_csv_line", hint))
    if len(cells) != width:
        return _Line(
            number,
            {},
            RowError(
                number,
                None,
                "wrong_cell_count",
                f"the line has {len(cells)} cells, the header {width}: quote a cell that holds "
                'a comma (e.g. "12,000") and keep one cell per column, empty ones included',
            ),
        )
    return _Line(number, {c: cells[i].strip() for c, i in index.items()})


def _open_csv(path: str | Path, required: Sequence[str]) -> tuple[Path, list[_Line]]:
    """Read ``path``; return its folder and each non-blank data line, split or with its error.

    Raises HistoryError when the file cannot be read, its header is not valid CSV or required
    columns are missing.
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
    lines = _LINE_BREAK.split(text)
    if not text.strip():
        raise HistoryError(
            f"CSV file {path} is empty; expected the header {','.join(required)}.",
            detail={"path": str(path)},
        )
    try:
        header = next(csv.reader([lines[0]], strict=True))
    except csv.Error as exc:
        raise HistoryError(f"CSV file {path} has a malformed header line: {exc}") from exc
    names = [h.strip().lower() for h in header]
    missing = [c for c in required if c not in names]
    if missing:
        raise HistoryError(
            f"CSV file {path} lacks the column(s) {', '.join(missing)}; the header must "
            f"include {','.join(required)} (extra columns are ignored).",
            detail={"path": str(path), "missing": missing, "found": names[:50]},
        )
    index = {c: names.index(c) for c in required}
    out = [
        _split_line(number, line, len(names), index)
        for number, line in enumerate(lines[1:], start=2)
        if line.replace(",", "").strip()  # blank lines (and lines of empty cells) are skipped
    ]
    return path.resolve().parent, out


def _part_path(folder: Path, cell: str) -> Path | None:
    """The part file a CLI history names (absolute, or relative to the CSV's folder)."""
    try:
        p = Path(cell).expanduser()
        return (p if p.is_absolute() else folder / p).resolve()
    except (OSError, RuntimeError, ValueError):  # a NUL byte, a symlink loop
        return None


def _zip_member(root: Path, cell: str) -> Path | None:
    """The file ``cell`` names inside ``root`` (the uploaded zip's folder), or None when the
    name points outside it: absolute, a drive letter, any ``..``, or a link leading out.

    Decided from the name alone before touching the disk, so the answer for a name outside the
    zip never depends on what exists on the server.
    """
    name = cell.replace("\\", "/")
    parts = PurePosixPath(name).parts
    if not parts or name.startswith("/") or _DRIVE.match(name) or ".." in parts or "\0" in name:
        return None
    try:
        path = root.joinpath(*parts).resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    return path if path.is_relative_to(root) else None


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name too long for the file system
        return False


def _quantity(cell: str) -> int | None:
    """A whole number from 1 to MAX_QUANTITY, or None."""
    v = _number(cell)
    if v is None or not 1 <= v <= MAX_QUANTITY or v != int(v):
        return None
    return int(v)


def _positive(cell: str, high: float) -> float | None:
    """A number above 0 and at most ``high`` from ``cell``, or None."""
    v = _number(cell)
    return v if v is not None and 0 < v <= high else None


OUTSIDE_ZIP_MESSAGE = (
    "part_file must be a relative path to a file inside the uploaded zip (no leading '/', "
    "drive letter or '..')"
)


def _check_row(
    line: int,
    r: dict[str, str],
    *,
    folder: Path,
    part_root: Path | None,
    catalog: Catalog,
    report: Callable[[str, str, str], None],
) -> HistoryRow | None:
    """One history row from its cells, or None after reporting each bad cell with ``report``."""
    failed: list[str] = []

    def bad(column: str, code: str, message: str) -> None:
        failed.append(column)
        report(column, code, message)

    cell = r["part_file"]
    part: Path | None = None
    if not cell:
        bad("part_file", "missing_part_file", "part_file is empty; name the row's part file")
    elif len(cell) > MAX_PART_FILE_CHARS:
        bad("part_file", "invalid_part_file", f"part_file is over {MAX_PART_FILE_CHARS} chars")
    elif part_root is not None:
        part = _zip_member(part_root, cell)
        if part is None:
            bad("part_file", "part_file_outside_zip", OUTSIDE_ZIP_MESSAGE)
        elif not _is_file(part):
            bad("part_file", "part_not_found", f"part file {_shown(cell)} is not in the zip")
            part = None
    else:
        part = _part_path(folder, cell)
        if part is None or not _is_file(part):
            bad("part_file", "part_not_found", f"part file {_shown(cell)} not found ({part})")
            part = None

    material = finish = None
    for column in ("material", "finish"):
        if len(r[column]) > MAX_NAME_CHARS:  # no catalog name is that long: not echoed back
            bad(
                column,
                f"unknown_{column}",
                f"{column} is over {MAX_NAME_CHARS} chars; use a "
                "catalog name (`mitsumori` lists them in the error for a short unknown name)",
            )
    if not failed:
        try:
            material = resolve_material(catalog, r["material"])
        except MitsumoriError as exc:
            bad("material", exc.code, exc.message)
        try:
            finish = resolve_finish(catalog, r["finish"] or "none")
            if material is not None:
                check_finish_applies(catalog, material, finish)
        except MitsumoriError as exc:
            bad("finish", exc.code, exc.message)
            finish = None
    tolerance = r["tolerance"] or DEFAULT_TOLERANCE
    if len(tolerance) > MAX_TOLERANCE_CHARS:
        bad("tolerance", "invalid_tolerance", f"tolerance is over {MAX_TOLERANCE_CHARS} chars")
    else:
        try:
            resolve_tolerance(catalog, tolerance, 100.0)  # syntax check; mm resolved per part
        except MitsumoriError as exc:
            bad("tolerance", exc.code, exc.message)
    quantity = _quantity(r["quantity"])
    if quantity is None:
        bad(
            "quantity",
            "invalid_quantity",
            f"quantity {_shown(r['quantity'])} is not a whole number from 1 to {MAX_QUANTITY:,}",
        )
    price = _positive(r["unit_price"], MAX_UNIT_PRICE_JPY)
    if price is None:
        bad("unit_price", "invalid_price", f"unit_price {_shown(r['unit_price'])} is not a "
            f"number of JPY per piece above 0 and at most {MAX_UNIT_PRICE_JPY:,.0f}")  # fmt: skip
    lead = _positive(r["lead_time_days"], MAX_LEAD_TIME_DAYS) if r["lead_time_days"] else None
    if r["lead_time_days"] and lead is None:
        bad("lead_time_days", "invalid_lead_time", f"lead_time_days {_shown(r['lead_time_days'])} "
            f"is not a number of business days above 0 and at most {MAX_LEAD_TIME_DAYS:g} "
            "(leave it empty if unknown)")  # fmt: skip
    if failed:
        return None
    assert part and material and finish and quantity and price  # each checked above
    return HistoryRow(line, part, material.name, quantity, tolerance, finish.name, price, lead)


def read_history_csv(
    path: str | Path, catalog: Catalog | None = None, *, part_root: Path | None = None
) -> HistoryRead:
    """Read a shop's history CSV.

    Header (any order, any case, extra columns ignored):
    ``part_file,material,quantity,tolerance,finish,unit_price,lead_time_days``. ``part_file`` is
    absolute or relative to the CSV's folder, or, with ``part_root`` (the folder of an uploaded
    zip), a relative path inside ``part_root`` and nothing else; ``unit_price`` JPY per piece;
    ``lead_time_days`` business days (may be empty); empty tolerance means ISO2768-m, empty
    finish means none. Quantities are whole numbers up to MAX_QUANTITY, prices and lead times
    finite, positive and bounded (MAX_UNIT_PRICE_JPY, MAX_LEAD_TIME_DAYS).

    Each line is parsed on its own: a line that is not valid CSV (an unbalanced quote) or has
    another number of cells than the header is reported and the next line read as usual.

    Returns
    -------
    HistoryRead
        The good rows, one RowError per bad cell or line, and the number of lines read.

    Raises
    ------
    HistoryError
        The file is missing, unreadable, empty, or lacks required columns (they are listed).
    """
    catalog = catalog or load_catalog()
    folder, lines = _open_csv(path, HISTORY_COLUMNS)
    root = part_root.resolve() if part_root is not None else None
    rows: list[HistoryRow] = []
    errors: list[RowError] = []
    for ln in lines:
        if ln.error is not None:
            errors.append(ln.error)
            continue

        def bad(column: str, code: str, message: str, _line: int = ln.number) -> None:
            errors.append(RowError(_line, column, code, message))

        row = _check_row(
            ln.number, ln.cells, folder=folder, part_root=root, catalog=catalog, report=bad
        )
        if row is not None:
            rows.append(row)
    return HistoryRead(tuple(rows), tuple(errors), len(lines))


def read_requests_csv(path: str | Path) -> list[RequestRow]:
    """Read a quote-batch CSV (``part_file,material,quantity,tolerance,finish``).

    Every data row comes back in order; a row with a missing part file, a bad quantity or a
    line that is not valid CSV carries its typed error (names are left to the engine, which
    lists the accepted ones).

    Raises
    ------
    HistoryError
        The file is missing, unreadable, empty, or lacks required columns.
    """
    folder, lines = _open_csv(path, REQUEST_COLUMNS)
    out = []
    for ln in lines:
        line, r = ln.number, ln.cells
        error: MitsumoriError | None = None
        if ln.error is not None:
            error = HistoryError(
                f"line {line}: {ln.error.message}", detail={"line": line, "code": ln.error.code}
            )
            r = dict.fromkeys(REQUEST_COLUMNS, "")
        part = (_part_path(folder, r["part_file"]) if r["part_file"] else None) or folder
        quantity = _quantity(r["quantity"])
        if error is not None:
            pass
        elif not r["part_file"] or not _is_file(part):
            error = UnreadablePart(
                f"line {line}: part file {_shown(r['part_file'])} not found",
                detail={"line": line, "part_file": r["part_file"][:_SHOWN_CHARS]},
            )
        elif quantity is None:
            error = InvalidQuantity(
                f"line {line}: quantity {_shown(r['quantity'])} is not a whole number from 1 to "
                f"{MAX_QUANTITY:,}",
                detail={"line": line, "quantity": r["quantity"][:_SHOWN_CHARS]},
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
