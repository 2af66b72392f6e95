"""The capability profile body: computed statistics a shop cannot edit."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class DeclaredMachinePublic(BaseModel):
    """A declared machine as buyers see it: its class and reach, never its id (a machine id
    is what a forged machine report would need; the shop finds its ids in /v1/machines)."""

    machine_class: str
    envelope_mm: list[float] = Field(description="Travel x, y, z, mm")
    tolerance_mm: float = Field(description="Tightest +- mm held")
    hourly_rate_jpy: float | None


class ProfilePublic(BaseModel):
    """What the platform has measured about a shop, from its quotes, outcomes, history and RFQ
    answers (``sources``), plus its declared machines and certifications. Rates are null until
    there is something to count. Recomputed whenever a quote, outcome or answer arrives."""

    shop_id: str
    name: str
    computed_at: datetime
    sources: dict[str, int] = Field(description="Records folded in, by where they came from")
    n_requests: int
    n_quoted: int
    n_won: int
    n_lost: int
    n_no_bid: int
    n_delivered: int
    n_on_time: int
    win_rate: float | None = Field(description="won / (won + lost)")
    response_rate: float | None = Field(description="quoted / requests")
    on_time_rate: float | None = Field(description="delivered on time / delivered")
    price_level: float | None = Field(
        description="Median quoted price / the default model's price (0.9 = 10 % under)"
    )
    median_hours_to_quote: float | None
    processes: dict[str, int]
    materials: dict[str, int]
    families: dict[str, int]
    finishes: dict[str, int]
    experience: dict[str, list[int]] = Field(description='"process/family" -> [quoted, won]')
    similar: dict[str, list[int]] = Field(
        description='"process/family/size class" -> [quoted, won]'
    )
    envelope_mm: list[float] | None = Field(description="Largest part quoted, sorted, mm")
    tightest_tolerance_mm: float | None
    tightest_won_tolerance_mm: float | None
    quantity_range: list[int] | None
    certifications: list[str]
    machines: list[DeclaredMachinePublic]
    declared_envelope_mm: list[float] | None
    machine_classes: dict[str, int]
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "shop_id": "org_0193b1c2d3e4f5a6b7c8d9e0f1a2",
                    "name": "Kawasaki Precision Works",
                    "computed_at": "2025-03-03T01:00:00Z",
                    "sources": {"quotes": 12, "history_rows": 80, "rfq_declines": 1},
                    "n_requests": 93,
                    "n_quoted": 92,
                    "n_won": 5,
                    "n_lost": 4,
                    "n_no_bid": 1,
                    "win_rate": 0.56,
                    "price_level": 1.08,
                    "processes": {"mill": 90, "lathe": 2},
                }
            ]
        }
    )
