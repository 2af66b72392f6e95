"""Job bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

JobStatus = Literal["queued", "running", "succeeded", "failed"]


class JobPublic(BaseModel):
    """A job: status, progress (0..1), errors by CSV line, and its result (e.g. metrics)."""

    id: str
    kind: str
    status: JobStatus
    progress: float = Field(ge=0, le=1)
    message: str
    errors: list[dict[str, Any]]
    result: dict[str, Any]
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "job_0193b1c2d3e4f5a6b7c8d9e0f1a2",
                    "kind": "train",
                    "status": "succeeded",
                    "progress": 1.0,
                    "message": "model shop-org_0193...-20250115-1a2b3c4d trained on 180 rows",
                    "errors": [],
                    "result": {
                        "model_id": "mdl_0193b1c2d3e4f5a6b7c8d9e0f1a2",
                        "version": "shop-org_0193...-20250115-1a2b3c4d",
                        "metrics": {
                            "price_mape": 0.071,
                            "price_coverage_90": 0.9,
                            "lead_mae_days": 1.2,
                            "rows": 180,
                        },
                    },
                    "attempts": 1,
                    "created_at": "2025-01-15T09:30:00Z",
                    "started_at": "2025-01-15T09:30:01Z",
                    "finished_at": "2025-01-15T09:30:41Z",
                }
            ]
        },
    )
