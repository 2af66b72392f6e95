"""Quote and outcome bodies. Money in JPY, lead times in business days.

The engine's part of a quote is not written here by hand: ``contract_model`` generates a
pydantic model from each dataclass of ``quote.contract`` (same fields, same types, same
descriptions), so the OpenAPI schema cannot drift from what ``quote_analysis`` returns.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import date, datetime
from typing import Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    create_model,
    model_validator,
)

from quote import contract
from quote.types import MAX_QUANTITY, json_layout

QuoteStatus = Literal["quoted", "sent", "won", "lost", "no_bid"]
OutcomeStatus = Literal["sent", "won", "lost", "no_bid"]


class ContractModel(BaseModel):
    """Base of the generated models (no field beyond the dataclass's)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())


_MODELS: dict[type, type[ContractModel]] = {}


def contract_model(kind: type) -> type[ContractModel]:
    """The pydantic model of a ``quote.contract`` dataclass (generated once, cached)."""
    if kind not in _MODELS:
        layout = json_layout(kind)
        assert layout is not None and layout.inline is None, kind
        hints = typing.get_type_hints(kind)
        fields: dict[str, Any] = {}
        for f in dataclasses.fields(kind):
            tp = _pydantic_type(hints[f.name])
            # a field the engine leaves out when None stays out (and is not required)
            omit = f.name in layout.omit_if_none
            fields[f.name] = (tp, Field(default=None, exclude_if=_is_none) if omit else ...)
        for name in layout.properties:
            fields[name] = (
                _pydantic_type(typing.get_type_hints(getattr(kind, name).fget)["return"]),
                ...,
            )
        model = create_model(
            kind.__name__,
            __base__=ContractModel,
            __doc__=kind.__doc__,
            __module__=__name__,
            **fields,
        )
        _MODELS[kind] = model
    return _MODELS[kind]


def _is_none(value: Any) -> bool:
    return value is None


def _pydantic_type(tp: Any) -> Any:
    """A contract type hint with each dataclass replaced by its generated model."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return Union[tuple(_pydantic_type(a) for a in typing.get_args(tp))]  # noqa: UP007
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            # GenericAlias is list[...] spelled so that mypy accepts arguments known at run time
            return types.GenericAlias(list, (_pydantic_type(args[0]),))
        return types.GenericAlias(tuple, tuple(_pydantic_type(a) for a in args))
    if origin is dict:
        key, value = typing.get_args(tp)
        return types.GenericAlias(dict, (key, _pydantic_type(value)))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        layout = json_layout(tp)
        if layout is not None and layout.inline is not None:
            return _pydantic_type(typing.get_type_hints(tp)[layout.inline])
        return contract_model(tp)
    return tp


QuoteContract = contract_model(contract.Quote)


class QuoteCreate(BaseModel):
    """What to quote: a stored part and the spec. Give ``quantity``, ``quantities`` or both."""

    part_id: str = Field(max_length=40)
    material: str = Field(min_length=1, max_length=64, description="JIS name or alias: A5052")
    quantity: int | None = Field(default=None, ge=1, le=MAX_QUANTITY)
    quantities: list[int] | None = Field(
        default=None,
        min_length=1,
        max_length=20,
        description="Quantities for price breaks; the first is quoted when quantity is absent",
    )
    tolerance: str | float | None = Field(
        default=None, description="ISO 2768 class (ISO2768-m) or +-mm as a number (0.02)"
    )
    finish: str | None = Field(default=None, max_length=64, description="e.g. anodize, none")
    roughness_ra_um: float | None = Field(default=None, gt=0, le=100, description="Ra, um")
    due_date: date | None = None
    shop: str | None = Field(
        default=None,
        max_length=40,
        description="Shop id whose model prices the quote. A shop key: its own (default). "
        "A buyer key: any shop in /v1/shops, or none for the platform's default model.",
    )
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "part_id": "part_0193b1c2d3e4f5a6b7c8d9e0f1a2",
                    "material": "A5052",
                    "quantity": 10,
                    "quantities": [1, 10, 50, 100],
                    "tolerance": "ISO2768-m",
                    "finish": "anodize",
                    "due_date": "2025-02-28",
                }
            ]
        },
    )

    @model_validator(mode="after")
    def _quantity_given(self) -> QuoteCreate:
        if self.quantity is None and not self.quantities:
            raise ValueError("give quantity or quantities")
        for q in self.quantities or []:
            if not 1 <= q <= MAX_QUANTITY:
                raise ValueError(f"each of quantities must be from 1 to {MAX_QUANTITY:,}")
        if isinstance(self.tolerance, str) and len(self.tolerance) > 32:
            raise ValueError("tolerance is at most 32 characters")
        return self


class OutcomeCreate(BaseModel):
    """What became of a quote."""

    status: OutcomeStatus
    final_unit_price: float | None = Field(default=None, ge=0, le=1e10, description="JPY")
    actual_hours: float | None = Field(default=None, ge=0, le=1e6, description="hours")
    delivered_on_time: bool | None = None
    note: str | None = Field(default=None, max_length=2000)
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "status": "won",
                    "final_unit_price": 11800,
                    "actual_hours": 6.5,
                    "delivered_on_time": True,
                }
            ]
        },
    )


class OutcomePublic(OutcomeCreate):
    id: str
    quote_id: str
    created_at: datetime
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "out_0193b1c2d3e4f5a6b7c8d9e0f1a2",
                    "quote_id": "quo_0193b1c2d3e4f5a6b7c8d9e0f1a2",
                    "status": "won",
                    "final_unit_price": 11800,
                    "actual_hours": 6.5,
                    "delivered_on_time": True,
                    "note": None,
                    "created_at": "2025-02-01T10:00:00Z",
                }
            ]
        },
    )


_QUOTE_EXAMPLE: dict[str, Any] = {
    "id": "quo_0193b1c2d3e4f5a6b7c8d9e0f1a2",
    "part_id": "part_0193b1c2d3e4f5a6b7c8d9e0f1a2",
    "status": "quoted",
    "requester_id": "org_0193b1c2d3e4f5a6b7c8d9e0f1a3",
    "shop_id": "org_0193b1c2d3e4f5a6b7c8d9e0f1a2",
    "created_at": "2025-01-15T09:30:00Z",
    "inputs": {"material": "A5052", "quantity": 10, "tolerance": "ISO2768-m", "finish": "anodize"},
    "outcome": None,
    "currency": "JPY",
    "material": "A5052",
    "quantity": 10,
    "unit_price": 12400.0,
    "unit_price_interval": [10900.0, 14300.0],
    "total_price": 124000.0,
    "lead_time_days": 7,
    "lead_time_interval": [5, 9],
    "lead_time_tiers": [
        {
            "name": "standard",
            "days": 7,
            "ship_date": "2025-01-24",
            "unit_price": 12400.0,
            "total_price": 124000.0,
        }
    ],
    "price_breaks": [
        {"quantity": 1, "unit_price": 41000.0, "total_price": 41000.0},
        {"quantity": 10, "unit_price": 12400.0, "total_price": 124000.0},
    ],
    "breakdown": {
        "material": 900.0,
        "setup": 2400.0,
        "programming": 1500.0,
        "machining": 4800.0,
        "finishing": 1100.0,
        "inspection": 600.0,
        "margin": 1100.0,
    },
    "dfm": [],
    "explanation": [
        "Machining (4,800 JPY per piece) is the largest cost: 38 min on a 3-axis mill."
    ],
    "features": {"volume_mm3": 61234.5, "bbox_mm": [120.0, 80.0, 12.0]},
    "warnings": [],
    "model": {"name": "default", "version": "default-20250101-1a2b3c4d", "shop": None},
    "items": [],
}


class QuotePublic(QuoteContract):  # type: ignore[misc,valid-type]  # base is generated at run time
    """A stored quote: the platform's fields, then the quote engine's (``quote.contract.Quote``)
    exactly as the engine wrote them."""

    id: str
    part_id: str
    status: QuoteStatus
    requester_id: str
    shop_id: str | None
    created_at: datetime
    inputs: dict[str, Any]
    outcome: OutcomePublic | None = None
    model_config = ConfigDict(json_schema_extra={"examples": [_QUOTE_EXAMPLE]})


class QuoteSummary(BaseModel):
    """A quote in a list: the figures, not the full breakdown (GET the quote for it)."""

    id: str
    part_id: str
    status: QuoteStatus
    requester_id: str
    shop_id: str | None
    material: str
    quantity: int
    unit_price: float
    total_price: float
    currency: str
    model_version: str
    created_at: datetime
    model_config = ConfigDict(
        protected_namespaces=(),
        json_schema_extra={
            "examples": [
                {
                    k: _QUOTE_EXAMPLE[k]
                    for k in (
                        "id",
                        "part_id",
                        "status",
                        "requester_id",
                        "shop_id",
                        "material",
                        "quantity",
                        "unit_price",
                        "total_price",
                        "currency",
                        "created_at",
                    )
                }
                | {"model_version": "default-20250101-1a2b3c4d"}
            ]
        },
    )
