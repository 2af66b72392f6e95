"""Typed errors of the quote engine.

Every error carries a stable ``code`` (used as the JSON ``error`` field and in batch output), a
message a person can act on, an optional ``detail`` dict, and the HTTP status the API maps it to.
The CLI maps any of them to exit code 2 and one line on stderr.
"""

from __future__ import annotations

from typing import Any


class MitsumoriError(Exception):
    """Base of every error the engine raises on purpose (bad input, missing model, ...)."""

    code: str = "error"
    http_status: int = 400

    def __init__(self, message: str, *, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail or {}

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, "detail": self.detail}


class PartError(MitsumoriError):
    """A part file that cannot be quoted as it is."""

    code = "part_error"
    http_status = 422


class UnsupportedFormat(PartError):
    code = "unsupported_format"
    http_status = 415


class EmptyPart(PartError):
    code = "empty_part"


class UnreadablePart(PartError):
    """Truncated, corrupt, or not a part at all (an image renamed .stl, a drawing, ...)."""

    code = "unreadable_part"


class PartNotFound(PartError):
    """No file at the given path (or a directory)."""

    code = "part_not_found"
    http_status = 404


class PartTooLarge(PartError):
    """File over the byte limit or mesh over the triangle limit."""

    code = "part_too_large"
    http_status = 413


class PartTooComplex(PartError):
    """Analysing the part ran over its time or memory limit (a huge or pathological model)."""

    code = "part_too_complex"


class NotASolid(PartError):
    """Zero volume, open surfaces that cannot be repaired, or no solid body."""

    code = "not_a_solid"


class PartSizeOutOfRange(PartError):
    """Smaller than 0.5 mm or larger than 3 m (often a unit mistake)."""

    code = "part_size_out_of_range"


class SuspectUnits(PartError):
    """A unitless mesh implausibly small in mm and plausible in another unit: the units to pass.

    ``detail``: ``measured_mm`` (largest extent read in mm), ``suggested_units`` (most likely
    first) and ``as_suggested_mm`` (the largest extent in the first suggested unit).
    """

    code = "suspect_units"


class SpecError(MitsumoriError):
    """A quote specification that cannot be understood."""

    code = "invalid_spec"
    http_status = 422


class UnknownMaterial(SpecError):
    code = "unknown_material"


class UnknownFinish(SpecError):
    code = "unknown_finish"


class InvalidTolerance(SpecError):
    code = "invalid_tolerance"


class InvalidQuantity(SpecError):
    code = "invalid_quantity"


class InvalidUnits(SpecError):
    code = "invalid_units"


class HistoryError(MitsumoriError):
    """A history or request CSV that cannot be used (missing columns, too few good rows)."""

    code = "invalid_history"
    http_status = 422


class InsufficientHistory(HistoryError):
    code = "insufficient_history"


class ModelNotFound(MitsumoriError):
    code = "model_not_found"
    http_status = 404


class ModelIncompatible(MitsumoriError):
    code = "model_incompatible"
    http_status = 409


class QuoteContractError(MitsumoriError):
    """A quote's JSON (a stored quote) lacks a field of the quote contract or mistypes one."""

    code = "quote_contract_error"
    http_status = 500


class IncompatibleFinish(SpecError):
    """A finish that does not apply to the material (anodizing steel, passivating aluminium)."""

    code = "incompatible_finish"


class InvalidRoughness(SpecError):
    code = "invalid_roughness"


class CatalogError(MitsumoriError):
    """A catalog file in data/catalogs is missing or malformed (an installation problem)."""

    code = "catalog_error"
    http_status = 500
