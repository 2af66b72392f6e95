"""The catalog files as pydantic models: what each YAML file in ``data/catalogs/`` must hold.

Every value carries a ``source`` (``data/README.md`` lists them). Unknown keys are refused (a
misspelt optional field would otherwise fall back to its default without a word). Numbers are
read in pydantic's lax mode, as ``float()`` would ("2.5" and 2 are accepted; "a lot" is not).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.functional_validators import AfterValidator

from quote.catalogs.entries import LeadTimeParams, Rates


def _one_line(text: str) -> str:
    return " ".join(text.split())


#: A citation or "Estimate: ..." note, folded onto one line; never empty.
Source = Annotated[str, Field(min_length=1), AfterValidator(_one_line)]
Number = Annotated[float, Field(allow_inf_nan=False)]


class _FileModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class Valued(_FileModel):
    """One number and where it comes from."""

    value: Number
    source: Source


class Labelled(_FileModel):
    """One text value and where it comes from."""

    value: str
    source: Source


class Listed(_FileModel):
    """A list of numbers (sizes) and where they come from."""

    values: list[Number]
    source: Source


class StockFile(_FileModel):
    plate_thickness_mm: Listed
    round_bar_diameter_mm: Listed
    allowance_mm: Valued
    bar_allowance_mm: Valued
    plate_face_allowance_mm: Valued
    bar_diameter_allowance_mm: Valued


class CuttersFile(_FileModel):
    end_mill_diameters_mm: Listed
    min_radius_mm: Valued
    corner_radius_factor: Valued


class TapDrills(_FileModel):
    source: Source
    sizes: dict[str, tuple[Number, Number]]  # thread: (pitch mm, tap drill mm)


class ClearanceHoles(_FileModel):
    source: Source
    sizes: dict[str, tuple[Number, Number, Number]]  # thread: (fine, medium, coarse) mm


class JobberDrills(_FileModel):
    source: Source
    ranges: list[tuple[Number, Number, Number]]  # (from mm, to mm, step mm)


class DrillsFile(_FileModel):
    tap_drills: TapDrills
    clearance_holes: ClearanceHoles
    jobber_drills: JobberDrills


class MaterialEntry(_FileModel):
    name: str
    aliases: list[str] = []
    family: str
    description: str = ""
    density_g_cm3: Number
    price_jpy_per_kg: Number
    machinability: Number
    roughing_rate_cm3_min: Number
    finishing_rate_cm2_min: Number
    min_wall_mm: Number
    min_wall_feasible_mm: Number
    source: Source


class MaterialsFile(_FileModel):
    materials: list[MaterialEntry]


class MachineEntry(_FileModel):
    name: str
    kind: str
    axes: int
    description: str = ""
    hourly_rate_jpy: Number
    envelope_mm: tuple[Number, Number, Number]
    sides_per_setup: int
    removal_factor: Number
    setup_factor: Number
    programming_factor: Number
    economic_tolerance_mm: Number
    limit_tolerance_mm: Number
    min_quantity: int = 1
    load_unload_factor: Number = 1.0
    source: Source


class MachinesFile(_FileModel):
    machines: list[MachineEntry]


class FinishEntry(_FileModel):
    name: str
    aliases: list[str] = []
    description: str = ""
    jpy_per_dm2: Number
    lot_minimum_jpy: Number
    added_days: int
    families: list[str]
    source: Source


class FinishesFile(_FileModel):
    finishes: list[FinishEntry]


class RoughnessEntry(_FileModel):
    ra_um: Number
    factor: Number
    source: Source


class RoughnessFile(_FileModel):
    classes: list[RoughnessEntry]


class ToleranceClassEntry(_FileModel):
    description: str = ""
    tolerances_mm: list[Number | None]  # None where ISO 2768-1 gives no value


class Iso2768(_FileModel):
    source: Source
    range_upper_mm: list[Number]
    classes: dict[str, ToleranceClassEntry]


class CostFactors(_FileModel):
    source: Source
    points: list[tuple[Number, Number]]  # (tolerance +-mm, cost factor)


class ExplicitRange(_FileModel):
    source: Source
    min: Number
    max: Number


class TolerancesFile(_FileModel):
    iso2768: Iso2768
    default_label: Labelled
    cost_factors: CostFactors
    explicit_range_mm: ExplicitRange


def _flat_file(name: str, cls: type) -> Any:
    """A file of ``{field: {value, source}}`` for every field of the dataclass ``cls``."""
    spec = {f.name: (Valued, ...) for f in fields(cls)}
    # pydantic's overloads cannot type field definitions built at run time.
    return create_model(name, __base__=_FileModel, **spec)  # type: ignore[call-overload]


RatesFile = _flat_file("RatesFile", Rates)
LeadTimeFile = _flat_file("LeadTimeFile", LeadTimeParams)
