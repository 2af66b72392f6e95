"""Bodies of a shop's history, training and models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class HistoryRowPublic(BaseModel):
    """One imported history row."""

    id: str
    job_id: str
    line: int
    part_id: str
    material: str
    quantity: int
    tolerance: str | None
    finish: str | None
    unit_price: float = Field(description="JPY per piece")
    lead_time_days: float | None = Field(description="business days")
    created_at: datetime
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "his_0193b1c2d3e4f5a6b7c8d9e0f1a2",
                    "job_id": "job_0193b1c2d3e4f5a6b7c8d9e0f1a2",
                    "line": 2,
                    "part_id": "part_0193b1c2d3e4f5a6b7c8d9e0f1a2",
                    "material": "A5052",
                    "quantity": 10,
                    "tolerance": "ISO2768-m",
                    "finish": "anodize",
                    "unit_price": 12400.0,
                    "lead_time_days": 7.0,
                    "created_at": "2025-01-15T09:30:00Z",
                }
            ]
        },
    )


class TrainRequest(BaseModel):
    """Options of a training job."""

    activate: bool = Field(
        default=True, description="Price this shop's quotes with the new model when done"
    )
    random_state: int = Field(default=0, ge=0, le=2**31 - 1)
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"activate": True, "random_state": 0}]}
    )


class ShopModelPublic(BaseModel):
    """A trained model (without its artifact bytes)."""

    id: str
    name: str
    version: str
    metrics: dict[str, Any]
    training_rows: int
    active: bool
    job_id: str | None
    created_at: datetime
    model_config = ConfigDict(
        from_attributes=True,
        protected_namespaces=(),
        json_schema_extra={
            "examples": [
                {
                    "id": "mdl_0193b1c2d3e4f5a6b7c8d9e0f1a2",
                    "name": "org_0193b1c2d3e4f5a6b7c8d9e0f1a2",
                    "version": "shop-org_0193...-20250115-1a2b3c4d",
                    "metrics": {"price_mape": 0.071, "price_coverage_90": 0.9, "rows": 180},
                    "training_rows": 180,
                    "active": True,
                    "job_id": "job_0193b1c2d3e4f5a6b7c8d9e0f1a2",
                    "created_at": "2025-01-15T09:30:41Z",
                }
            ]
        },
    )
