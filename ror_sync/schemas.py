"""Pydantic models of the ROR routes."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CountsRead(BaseModel):
    perimeter: int
    finalised: int
    in_progress: int
    to_do: int
    rate: float = Field(description="finalised / perimeter (0 when the perimeter is empty)")
    target: float | None = Field(None, description="the sector's target, when one sector")
    gap_to_target: int | None = Field(
        None, description="EG × champ still to finalise to reach the target"
    )


class SectorRead(CountsRead):
    sector: str


class CompletenessRowRead(CountsRead):
    region: str | None = None
    department: str | None = None
    sector: str | None = None
    champ: str | None = None
    category: str | None = None


class CompletenessRead(BaseModel):
    reference_date: str
    region: str | None
    department: str | None
    group_by: list[str]
    rows: list[CompletenessRowRead]
    sectors: list[SectorRead]


class UnitStatusRead(BaseModel):
    offer_id: str
    name: str | None
    status: str
    missing: list[str]


class StructureStatusRead(BaseModel):
    finess: str
    name: str
    region: str | None
    department: str
    sector: str
    champ: str
    category: str
    status: str
    units: list[UnitStatusRead]


class TrendPointRead(BaseModel):
    snapshot_id: int
    taken_at: str
    reference_date: str
    sectors: list[SectorRead]


class CapacityRead(BaseModel):
    type_code: str | None
    status_code: str | None
    temporality_code: str | None
    count: int


class OfferRead(BaseModel):
    offer_id: str
    identifier: str | None
    name: str | None
    champ: str | None
    champ_label: str | None
    activities: list[str]
    care_mode: str | None
    age_min: float | None
    age_max: float | None
    eg_finess: str | None
    place: str | None
    address: str | None
    commune_cog: str | None
    latitude: float
    longitude: float
    distance_km: float
    capacity: int | None = Field(None, description="sum of the place's capacity records")
    capacities: list[CapacityRead]
    why: list[str] = Field(
        description="why the offer matches: distance and where it is placed, then each filter"
    )


class IndicatorRead(BaseModel):
    key: str
    label: str
    numerator: int
    denominator: int
    rate: float
    target: float | None
    reached: bool | None


class EParcoursRead(BaseModel):
    quarter: str
    start: str
    end: str
    region: str | None
    categories: dict[str, list[str]]
    completeness: list[SectorRead]
    indicators: list[IndicatorRead]
