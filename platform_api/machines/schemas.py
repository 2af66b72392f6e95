"""Machine bodies. Envelope in mm, rate in JPY per hour."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MachineType = Literal[
    "3-axis",
    "4-axis",
    "5-axis",
    "lathe",
    "mill-turn",
    "swiss-lathe",
    "wire-edm",
    "sinker-edm",
    "grinder",
    "other",
]

_EXAMPLE = {
    "name": "DMG MORI DMU 50",
    "machine_type": "5-axis",
    "axes": 5,
    "envelope_mm": {"x": 650.0, "y": 520.0, "z": 475.0},
    "controller": "Siemens 840D sl",
    "hourly_rate_jpy": 12000.0,
    "mtconnect_device_uuid": "dmu50-01",
}


class Envelope(BaseModel):
    """Travel of the machine along x, y, z in mm."""

    x: float = Field(gt=0, le=50_000)
    y: float = Field(gt=0, le=50_000)
    z: float = Field(gt=0, le=50_000)


class MachineCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    machine_type: MachineType
    axes: int = Field(ge=1, le=13)
    envelope_mm: Envelope
    controller: str | None = Field(default=None, max_length=120)
    hourly_rate_jpy: float = Field(ge=0, le=1_000_000)
    mtconnect_device_uuid: str | None = Field(default=None, max_length=120)
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})


class MachineUpdate(BaseModel):
    """Fields to change; omitted fields keep their value."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    machine_type: MachineType | None = None
    axes: int | None = Field(default=None, ge=1, le=13)
    envelope_mm: Envelope | None = None
    controller: str | None = Field(default=None, max_length=120)
    hourly_rate_jpy: float | None = Field(default=None, ge=0, le=1_000_000)
    mtconnect_device_uuid: str | None = Field(default=None, max_length=120)
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"hourly_rate_jpy": 13000.0, "controller": "Fanuc 31i"}]}
    )


class MachinePublic(MachineCreate):
    id: str
    org_id: str
    created_at: datetime
    updated_at: datetime
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "mac_0193b1c2d3e4f5a6b7c8d9e0f1a2",
                    "org_id": "org_0193b1c2d3e4f5a6b7c8d9e0f1a2",
                    **_EXAMPLE,
                    "created_at": "2025-01-15T09:30:00Z",
                    "updated_at": "2025-01-15T09:30:00Z",
                }
            ]
        }
    )
