"""Pydantic schemas of the directory API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from referentials.directory.models import Activity


class ActivityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    @model_validator(mode="before")
    @classmethod
    def _unpack(cls, value: Any) -> Any:
        """A stored activity keeps most fields in one ``details`` text: read them all."""
        return value.fields() if isinstance(value, Activity) else value

    profession_code: str | None
    profession_label: str | None
    category_code: str | None
    skill_type_code: str | None
    skill_code: str | None
    skill_label: str | None
    mode_code: str | None
    mode_label: str | None
    role_code: str | None
    role_label: str | None
    genre_code: str | None
    sector_code: str | None
    sector_label: str | None
    siret: str | None
    siren: str | None
    finess_site: str | None
    finess_ej: str | None
    structure_id: str | None
    structure_name: str | None
    brand_name: str | None
    street_number: str | None
    street_repetition: str | None
    street_type: str | None
    street_name: str | None
    address_complement: str | None
    address_place: str | None
    distribution: str | None
    postal_code: str | None
    commune_code: str | None
    commune_label: str | None
    department_code: str | None
    phone: str | None
    phone2: str | None
    fax: str | None
    email: str | None


class SkillRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    skill_type_code: str | None
    skill_code: str | None
    skill_label: str | None


class ChangeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    run_id: int
    at: datetime
    change: str
    fields: list[str] = Field(default_factory=list)

    @field_validator("fields", mode="before")
    @classmethod
    def _split(cls, value: Any) -> list[str]:
        if isinstance(value, str):
            return [f for f in value.split(",") if f]
        return list(value or [])


class Snapshot(BaseModel):
    """Bookkeeping of an entry: when first and last seen, whether still in the extract."""

    active: bool
    first_seen: datetime
    last_seen: datetime
    removed_at: datetime | None
    warnings: list[str] | None


class ProfessionalRead(Snapshot):
    model_config = ConfigDict(from_attributes=True)

    idnps: str
    id_type: str
    identifier: str
    civility_code: str | None
    practice_civility_code: str | None
    last_name: str
    first_name: str | None
    activities: list[ActivityRead]


class ProfessionalDetail(ProfessionalRead):
    skills: list[SkillRead]
    history: list[ChangeRead]


class StructureRead(Snapshot):
    model_config = ConfigDict(from_attributes=True)

    finess: str
    finess_ej: str | None
    name: str
    long_name: str | None
    ej_name: str | None
    legal_status: str | None
    category: str
    category_label: str | None
    sector: str | None
    siret: str | None
    street_number: str | None
    street_type: str | None
    street_name: str | None
    address_complement: str | None
    place: str | None
    postal_line: str | None
    department: str
    region: str | None = None
    commune_cog: str | None
    phone: str | None
    fax: str | None = None
    email: str | None = None
    opened_on: date | None
    closed_on: date | None
    latitude: float | None
    longitude: float | None
    sanitary_authorisations: list[str]

    @field_validator("sanitary_authorisations", mode="before")
    @classmethod
    def _codes(cls, value: Any) -> list[str]:
        if isinstance(value, str) or value is None:
            return [c for c in (value or "").split(",") if c]
        return list(value)


class StructureActivityRead(BaseModel):
    """One activity of the site from the FINESS+ activities file (authorised or exercised)."""

    model_config = ConfigDict(from_attributes=True)

    level: str
    nature: str
    activity_code: str | None
    modality_code: str | None
    form_code: str | None
    authorisation_id: str | None
    arhgos_number: str | None
    starts_on: str | None
    ends_on: str | None
    state: str | None


class LegalEntityRead(BaseModel):
    """A FINESS legal entity (EJ), known through the sites (EG) it runs."""

    finess: str
    name: str | None
    legal_status: str | None
    active: bool
    sites: list[str]


class StructureDetail(StructureRead):
    professionals_count: int
    activities: list[StructureActivityRead] = []
    history: list[ChangeRead]


class ImportRunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    source: str
    trigger: str
    location: str
    file_name: str | None
    checksum: str | None
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    counts: dict[str, Any] | None
    warnings_count: int
    warnings: list[str] | None
    error: str | None
