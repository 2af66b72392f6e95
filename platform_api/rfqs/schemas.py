"""RFQ bodies. Money JPY, lead times business days."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import JsonDict

from platform_api.matches.schemas import PartSpec, RankedShopPublic, RfqSummary

DeclineReason = Literal["capacity", "deadline", "not_manufacturable", "price", "other"]


class RfqCreate(BaseModel):
    """Send a part to the shops you chose: from a match (``match_id``) or a part and spec."""

    match_id: str | None = Field(default=None, max_length=40)
    spec: PartSpec | None = None
    shop_ids: list[str] = Field(min_length=1, max_length=20)
    message: str | None = Field(default=None, max_length=2000)
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "match_id": "mat_0193b1c2d3e4f5a6b7c8d9e0f1a2",
                    "shop_ids": ["org_0193b1c2d3e4f5a6b7c8d9e0f1a2"],
                    "message": "Drawing rev B attached to the part; anodize black.",
                }
            ]
        },
    )

    @model_validator(mode="after")
    def _one_source(self) -> RfqCreate:
        if (self.match_id is None) == (self.spec is None):
            raise ValueError("give match_id or spec (a part and what you need), not both")
        if any(len(s) > 40 or not s for s in self.shop_ids):
            raise ValueError("shop ids are 1 to 40 characters")
        return self


class RecipientPublic(BaseModel):
    """A shop the RFQ went to and its answer."""

    shop_id: str
    name: str
    status: str = Field(description="sent, accepted (quoted) or declined")
    quote_id: str | None
    unit_price: float | None
    total_price: float | None
    lead_time_days: float | None
    decline_reason: str | None
    note: str | None
    responded_at: datetime | None


class RfqPartPublic(BaseModel):
    """The part as a chosen shop sees it (download the file from /v1/rfqs/{id}/file)."""

    id: str
    file_name: str
    source_format: str
    features: dict[str, object]


_RFQ_EXAMPLE: JsonDict = {
    "id": "rfq_0193b1c2d3e4f5a6b7c8d9e0f1a2",
    "buyer_id": "org_0193b1c2d3e4f5a6b7c8d9e0f1a3",
    "match_id": "mat_0193b1c2d3e4f5a6b7c8d9e0f1a2",
    "created_at": "2025-03-04T01:00:00Z",
    "status": "open",
    "spec": {
        "part_id": "part_0193b1c2d3e4f5a6b7c8d9e0f1a2",
        "material": "A5052",
        "quantity": 20,
        "tolerance": None,
        "finish": "anodize",
        "needed_by": "2025-03-28",
        "certifications": [],
        "location": None,
    },
    "message": "anodize black",
    "needed_by": "2025-03-28",
    "rfq": {
        "process": "mill",
        "min_axes": 3,
        "extents_mm": [110.0, 75.0, 40.5],
        "tolerance_mm": 0.3,
        "machine_hours": 4.9,
        "default_unit_price": 4100.0,
        "certifications": [],
    },
    "part": {
        "id": "part_0193b1c2d3e4f5a6b7c8d9e0f1a2",
        "file_name": "bracket.stl",
        "source_format": "stl",
        "features": {"bbox_mm": [40.5, 110.0, 75.0], "process": "mill"},
    },
    "recipients": [
        {
            "shop_id": "org_0193b1c2d3e4f5a6b7c8d9e0f1a2",
            "name": "Higashi-Osaka Seimitsu",
            "status": "accepted",
            "quote_id": "quo_0193b1c2d3e4f5a6b7c8d9e0f1a2",
            "unit_price": 2855.0,
            "total_price": 57100.0,
            "lead_time_days": 5,
            "decline_reason": None,
            "note": "can start Monday",
            "responded_at": "2025-03-04T03:00:00Z",
        }
    ],
}


class RfqPublic(BaseModel):
    """An RFQ. A buyer sees every recipient; a shop sees only its own entry."""

    id: str
    buyer_id: str
    match_id: str | None
    created_at: datetime
    status: str
    spec: PartSpec
    message: str | None
    needed_by: date
    rfq: RfqSummary
    part: RfqPartPublic
    recipients: list[RecipientPublic]
    model_config = ConfigDict(json_schema_extra={"examples": [_RFQ_EXAMPLE]})


class RespondBody(BaseModel):
    """Accept with a quote (priced by your model; you may set your own price and lead time) or
    decline with a reason."""

    action: Literal["accept", "decline"]
    reason: DeclineReason | None = None
    note: str | None = Field(default=None, max_length=2000)
    unit_price: float | None = Field(default=None, gt=0, le=1e10, description="JPY per piece")
    lead_time_days: float | None = Field(default=None, gt=0, le=365)
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"action": "accept", "note": "can start Monday"},
                {"action": "decline", "reason": "capacity", "note": "5-axis booked until June"},
            ]
        },
    )

    @model_validator(mode="after")
    def _reason(self) -> RespondBody:
        if self.action == "decline" and self.reason is None:
            raise ValueError("a decline needs a reason: capacity, deadline, not_manufacturable, "
                             "price or other")  # fmt: skip
        if self.action == "decline" and (self.unit_price or self.lead_time_days):
            raise ValueError("a decline carries no price or lead time")
        return self


class PartnersRequest(BaseModel):
    k: int = Field(default=5, ge=1, le=20, description="How many partners to return")
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"k": 5}]})


class PartnersPublic(BaseModel):
    """Shops you could pass the RFQ to, ranked as for a buyer (you excluded)."""

    rfq_id: str
    candidates: int
    filtered: dict[str, int]
    shops: list[RankedShopPublic]
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "rfq_id": "rfq_0193b1c2d3e4f5a6b7c8d9e0f1a2",
                    "candidates": 3,
                    "filtered": {"process": 1, "capacity": 1},
                    "shops": [
                        {
                            "rank": 1,
                            "shop_id": "org_0193b1c2d3e4f5a6b7c8d9e0f1a4",
                            "name": "Hamamatsu Heavy Machining",
                            "city": "Hamamatsu",
                            "score": 0.81,
                            "unit_price": 3073.0,
                            "total_price": 61460.0,
                            "lead_time_days": 6,
                            "ship_date": "2025-03-12",
                            "price_model": {"kind": "shop", "version": "shop-...", "note": None},
                            "spare_hours": 41.0,
                            "capacity_lead_days": 8.0,
                            "distance_km": 91.0,
                            "reasons": ["41 spare machine hours before 2025-03-28"],
                        }
                    ],
                }
            ]
        }
    )
