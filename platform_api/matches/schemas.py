"""Match request and answer bodies. Money JPY, lead times business days, distances km."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import JsonDict

from quote.types import MAX_QUANTITY


class Location(BaseModel):
    lat: float = Field(ge=-90, le=90, description="degrees WGS84")
    lon: float = Field(ge=-180, le=180, description="degrees WGS84")


class PartSpec(BaseModel):
    """A part of yours and what you need made of it."""

    part_id: str = Field(max_length=40)
    material: str = Field(min_length=1, max_length=64, description="JIS name or alias: A5052")
    quantity: int = Field(ge=1, le=MAX_QUANTITY)
    tolerance: str | float | None = Field(
        default=None, description="ISO 2768 class (ISO2768-m) or +-mm as a number (0.02)"
    )
    finish: str | None = Field(default=None, max_length=64, description="e.g. anodize, none")
    needed_by: date = Field(description="Date the parts must ship by")
    certifications: list[str] = Field(
        default_factory=list, max_length=10, description="Required, e.g. ISO 9001, AS9100"
    )
    location: Location | None = Field(
        default=None, description="Where the parts go; default: your organisation's location"
    )

    @model_validator(mode="after")
    def _check(self) -> PartSpec:
        if isinstance(self.tolerance, str) and len(self.tolerance) > 32:
            raise ValueError("tolerance is at most 32 characters")
        if any(not c.strip() or len(c) > 64 for c in self.certifications):
            raise ValueError("each certification is 1 to 64 characters")
        return self


_SPEC_EXAMPLE: JsonDict = {
    "part_id": "part_0193b1c2d3e4f5a6b7c8d9e0f1a2",
    "material": "A5052",
    "quantity": 20,
    "tolerance": "ISO2768-m",
    "finish": "anodize",
    "needed_by": "2025-03-28",
    "certifications": ["ISO 9001"],
    "location": {"lat": 35.18, "lon": 136.91},
}


class MatchRequest(PartSpec):
    k: int = Field(default=5, ge=1, le=20, description="How many shops to return")
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_SPEC_EXAMPLE]})


class PriceModel(BaseModel):
    kind: str = Field(description="shop (its own trained model) or default")
    version: str
    note: str | None = None


class RankedShopPublic(BaseModel):
    """A shop for your part: its score, its own price and lead time, capacity, reasons."""

    rank: int
    shop_id: str
    name: str
    city: str | None
    score: float = Field(description="Ranker score; only the order means something")
    unit_price: float | None = Field(description="JPY per piece from this shop's own model")
    total_price: float | None
    lead_time_days: float | None = Field(description="Business days, from this shop's model")
    ship_date: date | None
    price_model: PriceModel | None
    spare_hours: float = Field(description="Spare machine hours before needed_by, fitting machines")
    capacity_lead_days: float = Field(
        description="Days until its fitting machines have the job's hours free, plus its base lead"
    )
    distance_km: float | None
    reasons: list[str]


class RfqSummary(BaseModel):
    """How the platform read the request (from the default quote of the part)."""

    process: str
    min_axes: int
    extents_mm: list[float]
    tolerance_mm: float
    machine_hours: float = Field(description="Setup + machining hours for the whole batch")
    default_unit_price: float | None = Field(description="The default model's JPY per piece")
    certifications: list[str]


class MatchPublic(BaseModel):
    """Ranked shops for a part. ``filtered`` counts the shops each hard filter removed."""

    id: str
    part_id: str
    created_at: datetime
    needed_by: date
    rfq: RfqSummary
    candidates: int
    filtered: dict[str, int]
    shops: list[RankedShopPublic]
    ranker_version: str
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "mat_0193b1c2d3e4f5a6b7c8d9e0f1a2",
                    "part_id": "part_0193b1c2d3e4f5a6b7c8d9e0f1a2",
                    "created_at": "2025-03-03T01:00:00Z",
                    "needed_by": "2025-03-28",
                    "rfq": {
                        "process": "mill",
                        "min_axes": 3,
                        "extents_mm": [110.0, 75.0, 40.5],
                        "tolerance_mm": 0.3,
                        "machine_hours": 4.9,
                        "default_unit_price": 4100.0,
                        "certifications": ["ISO9001"],
                    },
                    "candidates": 3,
                    "filtered": {"process": 1, "envelope": 0, "capacity": 1},
                    "shops": [
                        {
                            "rank": 1,
                            "shop_id": "org_0193b1c2d3e4f5a6b7c8d9e0f1a2",
                            "name": "Ota Prototype Lab",
                            "city": "Tokyo",
                            "score": 1.42,
                            "unit_price": 4380.0,
                            "total_price": 87600.0,
                            "lead_time_days": 4,
                            "ship_date": "2025-03-07",
                            "price_model": {"kind": "shop", "version": "shop-org_...-1a2b"},
                            "spare_hours": 96.5,
                            "capacity_lead_days": 5.0,
                            "distance_km": 262.0,
                            "reasons": [
                                "has 2 idle 3-axis machines next week",
                                "quoted 40 similar aluminium parts, won 9",
                            ],
                        }
                    ],
                    "ranker_version": "sim-seed0-1a2b3c4d",
                }
            ]
        }
    )


class BatchRequest(BaseModel):
    """Many parts at once, assigned across shops so no shop gets more hours than it has free."""

    requests: list[PartSpec] = Field(min_length=1, max_length=50)
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"requests": [_SPEC_EXAMPLE]}]}
    )


class Assigned(BaseModel):
    index: int = Field(description="Position in the request list")
    part_id: str
    shop_id: str | None = Field(description="null: no shop had the capacity and the fit")
    name: str | None
    score: float | None
    unit_price: float | None
    lead_time_days: float | None
    machine_hours: float
    reasons: list[str]


class BatchPublic(BaseModel):
    assignments: list[Assigned]
    hours_by_shop: dict[str, float] = Field(description="Machine hours given to each shop")
    unassigned: int
    ranker_version: str
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "assignments": [
                        {
                            "index": 0,
                            "part_id": "part_0193b1c2d3e4f5a6b7c8d9e0f1a2",
                            "shop_id": "org_0193b1c2d3e4f5a6b7c8d9e0f1a2",
                            "name": "Higashi-Osaka Seimitsu",
                            "score": 1.53,
                            "unit_price": 2855.0,
                            "lead_time_days": 5.0,
                            "machine_hours": 4.9,
                            "reasons": ["52 spare machine hours before 2025-03-28"],
                        }
                    ],
                    "hours_by_shop": {"org_0193b1c2d3e4f5a6b7c8d9e0f1a2": 4.9},
                    "unassigned": 0,
                    "ranker_version": "sim-seed0-1a2b3c4d",
                }
            ]
        }
    )
