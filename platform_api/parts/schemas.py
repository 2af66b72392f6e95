"""Part bodies. Feature units are in the field names (mm, mm2, mm3); see quote.types."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import JsonDict

_FEATURES_EXAMPLE: JsonDict = {
    "volume_mm3": 61234.5,
    "area_mm2": 21876.2,
    "bbox_mm": [120.0, 80.0, 12.0],
    "obb_mm": [120.0, 80.0, 12.0],
    "stock": {"form": "plate", "dims_mm": [16.0, 124.0, 84.0], "volume_mm3": 166656.0},
    "removed_volume_mm3": 105421.5,
    "holes": [
        {
            "diameter_mm": 6.6,
            "depth_mm": 12.0,
            "through": True,
            "axis": [0.0, 0.0, 1.0],
            "position_mm": [20.0, 20.0, 12.0],
            "standard": "6.6 (M6 clearance, ISO 273 medium)",
            "tap": None,
        }
    ],
    "hole_count": 1,
    "setups": 1,
    "process": "mill",
    "min_wall_mm": 4.2,
}
_DFM_EXAMPLE: JsonDict = {
    "code": "sharp_internal_corner",
    "severity": "warning",
    "message": "Internal corner radius 0.5 mm is below the smallest standard end mill (1 mm).",
    "location_mm": [30.0, 10.0, 6.0],
    "value": 0.5,
    "limit": 1.0,
}


class PartItem(BaseModel):
    """One separately quoted body of the file."""

    index: int
    name: str
    features: dict[str, Any]
    dfm: list[dict[str, Any]]


class PartPublic(BaseModel):
    """An uploaded part: the file's identity, and features and DFM of each body."""

    id: str
    file_name: str
    sha256: str
    size_bytes: int
    source_format: str
    units: str
    created_at: datetime
    features: dict[str, Any] = Field(
        description="Features of the first body (the only one for single-body files)."
    )
    dfm: list[dict[str, Any]] = Field(description="DFM warnings of every body ('item': index).")
    warnings: list[dict[str, Any]] = Field(description="File-level notes: repairs, units, ...")
    items: list[PartItem]
    analysis_seconds: float
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "part_0193b1c2d3e4f5a6b7c8d9e0f1a2",
                    "file_name": "bracket.step",
                    "sha256": "9f2c...e1",
                    "size_bytes": 48213,
                    "source_format": "step",
                    "units": "mm",
                    "created_at": "2025-01-15T09:30:00Z",
                    "features": _FEATURES_EXAMPLE,
                    "dfm": [{**_DFM_EXAMPLE, "item": 0}],
                    "warnings": [],
                    "items": [
                        {
                            "index": 0,
                            "name": "bracket",
                            "features": _FEATURES_EXAMPLE,
                            "dfm": [_DFM_EXAMPLE],
                        }
                    ],
                    "analysis_seconds": 0.84,
                }
            ]
        }
    )


class PartSummary(BaseModel):
    """A part in a list (features omitted: fetch the part for them)."""

    id: str
    file_name: str
    sha256: str
    size_bytes: int
    source_format: str
    units: str
    created_at: datetime
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "part_0193b1c2d3e4f5a6b7c8d9e0f1a2",
                    "file_name": "bracket.step",
                    "sha256": "9f2c...e1",
                    "size_bytes": 48213,
                    "source_format": "step",
                    "units": "mm",
                    "created_at": "2025-01-15T09:30:00Z",
                }
            ]
        },
    )
