"""Directory tables: RPPS+ professionals with their activities, FINESS structures, history.

Column names of ``Professional``/``Activity``/``Structure`` match the field names of the
parsers (``parsers.rpps.PERSON_FIELDS`` ...): the bulk importer moves rows by those names.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeEngine

from referentials.core.db import Base, UTCDateTime


def _code(length: int) -> TypeEngine[str]:
    """A code or a folded name, compared byte by byte (codes and folded names are ASCII).

    PostgreSQL builds an index on such a column a third faster under the C collation than
    under the database's; SQLite's BINARY comparison is that already.
    """
    return String(length).with_variant(String(length, collation="C"), "postgresql")


class Tracked:
    """Snapshot bookkeeping shared by professionals and structures."""

    # blake2b-128 of the canonical content: a re-import compares digests, not fields.
    digest: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_run_id: Mapped[int | None] = mapped_column(Integer)
    warnings: Mapped[list[str] | None] = mapped_column(JSON)


class Professional(Tracked, Base):
    """A health or social professional, keyed by the national identifier (IDNPS)."""

    __tablename__ = "dir_professionals"

    idnps: Mapped[str] = mapped_column(String(12), primary_key=True)
    id_type: Mapped[str] = mapped_column(String(2))
    identifier: Mapped[str] = mapped_column(_code(11), index=True)
    civility_code: Mapped[str | None] = mapped_column(String(5))
    practice_civility_code: Mapped[str | None] = mapped_column(String(5))
    last_name: Mapped[str] = mapped_column(String(100))
    first_name: Mapped[str | None] = mapped_column(String(100))
    # Lower-case ASCII, accents removed: prefix search that ignores case and accents.
    last_name_norm: Mapped[str] = mapped_column(_code(100), index=True)
    first_name_norm: Mapped[str | None] = mapped_column(_code(100))

    activities: Mapped[list[Activity]] = relationship(
        back_populates="professional", order_by="Activity.id", lazy="selectin"
    )


# The fields of an activity that searches filter on: real, indexed columns.
ACTIVITY_SEARCHED = (
    "profession_code",
    "skill_code",
    "finess_site",
    "department_code",
    "commune_code",
)
# Its other fields, only ever read with the whole activity: stored together in ``details``.
ACTIVITY_DETAILS = (
    "profession_label",
    "category_code",
    "skill_type_code",
    "skill_label",
    "mode_code",
    "mode_label",
    "siret",
    "siren",
    "finess_ej",
    "structure_id",
    "structure_name",
    "brand_name",
    "address_complement",
    "address_place",
    "street_number",
    "street_repetition",
    "street_type",
    "street_name",
    "distribution",
    "cedex_office",
    "postal_code",
    "commune_label",
    "phone",
    "phone2",
    "fax",
    "email",
    "registration_authority",
    "sector_code",
    "sector_label",
    "role_code",
    "role_label",
    "genre_code",
)
# The RPPS+ extract's own separator: no value of it can hold one.
DETAILS_SEP = "|"


class Activity(Base):
    """One row of Personne_activite: an exercise of a profession at a structure.

    Two million rows are written at a first load, and each bound value costs: the fields no
    search uses travel as one ``details`` text (``ACTIVITY_DETAILS`` order, ``DETAILS_SEP``
    between values, "" for empty) rather than as thirty-two columns.
    """

    __tablename__ = "dir_activities"
    __table_args__ = (Index("ix_dir_activities_department", "department_code", "commune_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idnps: Mapped[str] = mapped_column(
        ForeignKey("dir_professionals.idnps", ondelete="CASCADE"), index=True
    )
    profession_code: Mapped[str | None] = mapped_column(_code(10), index=True)
    skill_code: Mapped[str | None] = mapped_column(_code(10), index=True)
    finess_site: Mapped[str | None] = mapped_column(_code(9), index=True)
    department_code: Mapped[str | None] = mapped_column(_code(3))
    commune_code: Mapped[str | None] = mapped_column(_code(5))
    details: Mapped[str | None] = mapped_column(Text)

    professional: Mapped[Professional] = relationship(back_populates="activities")

    def fields(self) -> dict[str, str | None]:
        """Every field of the activity by name, empty ones as None."""
        values = self.details.split(DETAILS_SEP) if self.details else [""] * len(ACTIVITY_DETAILS)
        # strict: a details text with another number of values is a bug, not data to guess.
        out = {k: v or None for k, v in zip(ACTIVITY_DETAILS, values, strict=True)}
        out.update((name, getattr(self, name)) for name in ACTIVITY_SEARCHED)
        return out


class ProfessionalSkill(Base):
    """A savoir-faire of a professional (PS_LibreAcces_SavoirFaire)."""

    __tablename__ = "dir_professional_skills"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idnps: Mapped[str] = mapped_column(String(12), index=True)
    profession_code: Mapped[str | None] = mapped_column(String(10))
    skill_type_code: Mapped[str | None] = mapped_column(String(5))
    skill_code: Mapped[str | None] = mapped_column(String(10), index=True)
    skill_label: Mapped[str | None] = mapped_column(String(200))


class ProfessionalDiploma(Base):
    """A diploma or exercise authorisation of a professional (PS_LibreAcces_Dipl_AutExerc)."""

    __tablename__ = "dir_professional_diplomas"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idnps: Mapped[str] = mapped_column(String(12), index=True)
    diploma_type_code: Mapped[str | None] = mapped_column(String(10))
    diploma_code: Mapped[str | None] = mapped_column(String(20))
    diploma_label: Mapped[str | None] = mapped_column(String(300))
    authorisation_type_code: Mapped[str | None] = mapped_column(String(10))
    authorisation_code: Mapped[str | None] = mapped_column(String(20))
    authorisation_label: Mapped[str | None] = mapped_column(String(300))


class Structure(Tracked, Base):
    """A FINESS geographical entity (EG, the site) with its legal entity (EJ)."""

    __tablename__ = "dir_structures"
    __table_args__ = (Index("ix_dir_structures_department", "department", "commune_cog"),)

    finess: Mapped[str] = mapped_column(String(9), primary_key=True)
    finess_ej: Mapped[str | None] = mapped_column(String(9), index=True)
    name: Mapped[str] = mapped_column(String(300))
    long_name: Mapped[str | None] = mapped_column(String(300))
    name_norm: Mapped[str] = mapped_column(String(300), index=True)
    ej_name: Mapped[str | None] = mapped_column(String(300))
    legal_status: Mapped[str | None] = mapped_column(String(10))
    category: Mapped[str] = mapped_column(String(3), index=True)
    category_label: Mapped[str | None] = mapped_column(String(200))
    sector: Mapped[str | None] = mapped_column(String(20), index=True)
    siret: Mapped[str | None] = mapped_column(String(14))
    ape_code: Mapped[str | None] = mapped_column(String(10))
    street_number: Mapped[str | None] = mapped_column(String(20))
    street_type: Mapped[str | None] = mapped_column(String(20))
    street_name: Mapped[str | None] = mapped_column(String(200))
    address_complement: Mapped[str | None] = mapped_column(String(200))
    place: Mapped[str | None] = mapped_column(String(200))
    postal_line: Mapped[str | None] = mapped_column(String(200))
    department: Mapped[str] = mapped_column(String(3))
    commune_cog: Mapped[str | None] = mapped_column(String(5))
    phone: Mapped[str | None] = mapped_column(String(30))
    fax: Mapped[str | None] = mapped_column(String(30))
    email: Mapped[str | None] = mapped_column(String(200))
    opened_on: Mapped[date | None] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    source_updated_on: Mapped[date | None] = mapped_column(Date)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    # Active activiteSanitaireRegulee codes, sorted, comma-separated ("01,04,50").
    sanitary_authorisations: Mapped[str | None] = mapped_column(String(300))

    activities: Mapped[list[StructureActivity]] = relationship(
        back_populates="structure", order_by="StructureActivity.id", lazy="selectin"
    )


class StructureActivity(Base):
    """One activity of a site as the FINESS+ activities file gives it (authorisation or
    exercise), with its modality and form; dates as ISO text, as in the file."""

    __tablename__ = "dir_structure_activities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    finess: Mapped[str] = mapped_column(
        ForeignKey("dir_structures.finess", ondelete="CASCADE"), index=True
    )
    level: Mapped[str] = mapped_column(String(10))  # authorised | exercised
    nature: Mapped[str] = mapped_column(String(10))  # AMF, AASA, ASR, AMM, EML, ASDR ...
    activity_code: Mapped[str | None] = mapped_column(String(10), index=True)
    # Modality (modaliteActivite; modeFonctionnement for social natures; modaliteAMM).
    modality_code: Mapped[str | None] = mapped_column(String(10))
    # Form (formeActivite; the public for social natures; the mention for AMM).
    form_code: Mapped[str | None] = mapped_column(String(10))
    authorisation_id: Mapped[str | None] = mapped_column(String(20))
    arhgos_number: Mapped[str | None] = mapped_column(String(40))
    starts_on: Mapped[str | None] = mapped_column(String(10))
    ends_on: Mapped[str | None] = mapped_column(String(10))
    state: Mapped[str | None] = mapped_column(String(2))

    structure: Mapped[Structure] = relationship(back_populates="activities")


# ``entity_key`` of a run-level change: the first load into an empty directory records one
# "added" row for the whole set rather than one per entity (millions of rows that say nothing a
# single row does not). An entity whose ``first_seen`` is that row's ``at`` was added by it.
WHOLE_SET = "*"


class DirectoryChange(Base):
    """One change of one professional or structure, in one run: what changed, when.

    Later runs always record one row per added, updated, removed or re-added entity.
    """

    __tablename__ = "dir_changes"
    __table_args__ = (Index("ix_dir_changes_entity", "entity_type", "entity_key", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(20))
    entity_key: Mapped[str] = mapped_column(String(12))
    run_id: Mapped[int] = mapped_column(Integer, index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    change: Mapped[str] = mapped_column(String(10))
    # The names of the fields that changed ("activities" when the activity set did).
    fields: Mapped[str | None] = mapped_column(Text)

    def field_list(self) -> list[str]:
        return [f for f in (self.fields or "").split(",") if f]
