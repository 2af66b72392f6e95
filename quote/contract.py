"""The quote contract: what ``quote_analysis`` returns, as frozen dataclasses.

``as_jsonable`` (``quote.types``) writes a ``Quote`` as the JSON the CLI prints and the API
returns; ``quote_from_json`` reads that JSON back (a stored quote) and raises ``QuoteContractError``
naming the first missing or mistyped field, so no consumer guesses at a default. Money JPY,
lead times business days, lengths mm, floats written to 6 digits.

A single-body quote's top level repeats its one line item's figures; a multi-body quote's top
level sums its items (one set = one of each body), has no ``physics`` and its ``features`` is
``SetFeatures``; its DFM findings carry the ``item`` they are about.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar, Union

from quote.errors import QuoteContractError
from quote.types import (
    OMIT_IF_NONE,
    CostBreakdown,
    DfmFinding,
    Hole,
    PartFeatures,
    Stock,
    json_layout,
)

__all__ = [
    "CostBreakdown",
    "DfmFinding",
    "Explanation",
    "FileInfo",
    "LeadTimeTier",
    "LineItem",
    "ModelInfo",
    "Notice",
    "Physics",
    "PriceBreak",
    "Quote",
    "SetFeatures",
    "Tolerance",
    "quote_from_json",
]


@dataclass(frozen=True)
class Tolerance:
    """label: as asked, canonical ("ISO2768-m" or "0.02"); mm: the +-mm it means for this part."""

    label: str
    mm: float


@dataclass(frozen=True)
class LeadTimeTier:
    """One delivery option: name ("express", "standard", "economy"), business days, the date it
    ships (counted from the quote's day), JPY per piece and for the quantity."""

    name: str
    days: int
    ship_date: date
    unit_price: float
    total_price: float


@dataclass(frozen=True)
class PriceBreak:
    """The price at another quantity: pieces, JPY per piece, JPY for all."""

    quantity: int
    unit_price: float
    total_price: float


@dataclass(frozen=True)
class Physics:
    """The process plan behind a line item's price.

    unit_price: the plan's own JPY per piece (whole yen). machine: catalog machine; process:
    "mill", "lathe" or "mill-turn". hours: named hours per batch (setup_h, machining_h, ...).
    lead_time_days: the plan's standard lead time; lead_time_parts: its named business days.
    """

    unit_price: int
    machine: str
    process: str
    hours: dict[str, float]
    lead_time_days: float
    lead_time_parts: dict[str, float]


@dataclass(frozen=True)
class Explanation:
    """The main cost drivers in plain words, biggest first (written as a list of strings)."""

    lines: tuple[str, ...]

    __json_inline__: ClassVar[str] = "lines"


@dataclass(frozen=True)
class Notice:
    """A note on the quote that is not about the geometry (e.g. ``due_date_not_met``)."""

    code: str
    severity: str
    message: str


@dataclass(frozen=True)
class SetFeatures:
    """The features of a multi-body quote's summary: how many bodies one set holds."""

    body_count: int


@dataclass(frozen=True)
class FileInfo:
    """The quoted file: name, sha256, format ("step", "stl", ...), units read, bodies."""

    name: str
    sha256: str
    format: str
    units: str
    bodies: int


@dataclass(frozen=True)
class ModelInfo:
    """The pricing model: name, version and the shop it learned from (None: the default)."""

    name: str
    version: str
    shop: str | None


@dataclass(frozen=True, kw_only=True)
class _Figures:
    """The figures a line item and a quote share (in the order the JSON lists them)."""

    currency: str
    material: str
    quantity: int
    tolerance: Tolerance
    finish: str
    roughness_ra_um: float
    unit_price: float
    unit_price_interval: tuple[float, float]
    interval_coverage: float
    total_price: float
    lead_time_days: int
    lead_time_interval: tuple[int, int]
    lead_time_tiers: tuple[LeadTimeTier, ...]
    price_breaks: tuple[PriceBreak, ...]
    breakdown: CostBreakdown
    physics: Physics | None = field(default=None, metadata=OMIT_IF_NONE)
    dfm: tuple[DfmFinding, ...]
    explanation: Explanation
    features: PartFeatures | SetFeatures
    warnings: tuple[DfmFinding | Notice, ...]


@dataclass(frozen=True, kw_only=True)
class _Named:
    name: str
    index: int


@dataclass(frozen=True, kw_only=True)
class LineItem(_Figures, _Named):
    """One separate body's quote: its name ("body 1") and index, then the figures."""

    physics: Physics
    features: PartFeatures


@dataclass(frozen=True, kw_only=True)
class Quote(_Figures):
    """A quote of one file: the figures (of its one body, or of a set of its bodies), the file,
    one line item per body and the model that priced it."""

    file: FileInfo
    items: tuple[LineItem, ...]
    model: ModelInfo


# --- reading the JSON back ---------------------------------------------------------------------


def quote_from_json(data: Any) -> Quote:
    """A ``Quote`` from its JSON (as ``as_jsonable`` wrote it, e.g. a stored quote).

    Raises
    ------
    QuoteContractError
        A field is missing or of the wrong type; ``detail["field"]`` is its path
        (e.g. ``items[0].physics.process``).
    """
    result: Quote = _read(Quote, data, "")
    return result


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(kind: type) -> dict[str, Any]:
    if kind not in _HINTS:
        _HINTS[kind] = typing.get_type_hints(kind)
    return _HINTS[kind]


def _fail(where: str, message: str) -> QuoteContractError:
    path = where.lstrip(".") or "(quote)"
    return QuoteContractError(
        f"the stored quote does not fit the quote contract: {path} {message}",
        detail={"field": path},
    )


def _read(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in (o for o in options if o is not type(None)):
            try:
                return _read(option, value, where)
            except QuoteContractError as exc:
                errors.append(exc)
        raise errors[0]
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, list | tuple):
            raise _fail(where, f"must be a list, got {type(value).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_read(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise _fail(where, f"must have {len(args)} values, got {len(value)}")
        return tuple(
            _read(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True))
        )
    if origin is dict:
        _, val_tp = typing.get_args(tp)
        if not isinstance(value, dict):
            raise _fail(where, f"must be an object, got {type(value).__name__}")
        return {str(k): _read(val_tp, v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _read_dataclass(tp, value, where)
    return _read_scalar(tp, value, where)


def _read_dataclass(kind: type, value: Any, where: str) -> Any:
    layout = json_layout(kind)
    assert layout is not None
    hints = _hints(kind)
    if layout.inline is not None:
        return kind(**{layout.inline: _read(hints[layout.inline], value, where)})
    if not isinstance(value, dict):
        raise _fail(where, f"must be an object, got {type(value).__name__}")
    args = {}
    for name in layout.names:
        if name not in value:
            if name in layout.omit_if_none:
                continue
            raise _fail(f"{where}.{name}", "is missing")
        args[name] = _read(hints[name], value[name], f"{where}.{name}")
    return kind(**args)


def _read_scalar(tp: Any, value: Any, where: str) -> Any:
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value  # an int stays an int: the JSON is written back as it was read
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is date:
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                raise _fail(where, f"must be a date (YYYY-MM-DD), got {value!r}") from None
    elif tp is str or tp is bool:
        if type(value) is tp:
            return value
    elif tp is type(None):
        if value is None:
            return None
    else:  # pragma: no cover - a type the contract does not use
        raise TypeError(f"the quote contract has no reader for {tp!r}")
    raise _fail(where, f"must be {getattr(tp, '__name__', tp)}, got {value!r}")


# The geometry types are part of the contract (``LineItem.features``); named here so a reader
# of this module sees every type the JSON holds.
CONTRACT_TYPES: tuple[type, ...] = (
    Quote,
    LineItem,
    Tolerance,
    LeadTimeTier,
    PriceBreak,
    CostBreakdown,
    Physics,
    DfmFinding,
    Notice,
    Explanation,
    PartFeatures,
    SetFeatures,
    Hole,
    Stock,
    FileInfo,
    ModelInfo,
)
