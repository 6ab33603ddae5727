"""Identity tables: identities, their source records (local ids) and the event feed."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from referentials.core.db import Base, UTCDateTime, utcnow


class Identity(Base):
    """A patient identity with its strict and complementary traits and its RNIV status."""

    __tablename__ = "identities"
    __table_args__ = (Index("ix_identities_traits", "birth_name", "birth_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    birth_name: Mapped[str] = mapped_column(String(100))
    # Birth given names in civil order, space-separated as in INSi's ListePrenom.
    first_names: Mapped[str] = mapped_column(String(200))
    first_name: Mapped[str] = mapped_column(String(100), index=True)
    sex: Mapped[str] = mapped_column(String(1))
    birth_date: Mapped[date] = mapped_column(Date)
    birth_date_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    birth_place_code: Mapped[str | None] = mapped_column(String(5))
    used_name: Mapped[str | None] = mapped_column(String(100))
    used_first_name: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(5), default="PROV", index=True)
    # Comma-separated, sorted: "", "HOMA", "DOUT,HOMA"...
    attributes: Mapped[str] = mapped_column(String(20), default="")
    ins_matricule: Mapped[str | None] = mapped_column(String(15), index=True)
    ins_oid: Mapped[str | None] = mapped_column(String(40))
    ins_history: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    ins_retrieved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ins_collection_method: Mapped[str | None] = mapped_column(String(4))
    # Matricules this identity carried before (deactivated, or taken over in a merge).
    ins_old: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    validation_document: Mapped[str | None] = mapped_column(String(5))
    validation_date: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("identities.id"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    sources: Mapped[list[SourceRecord]] = relationship(
        back_populates="identity", order_by="SourceRecord.id"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  (SQLAlchemy reads it)

    @property
    def attribute_set(self) -> frozenset[str]:
        return attribute_set_of(self.attributes)

    @property
    def first_name_list(self) -> list[str]:
        return first_name_list_of(self.first_names)


def attribute_set_of(stored: str) -> frozenset[str]:
    """The attributes of the stored ``attributes`` column (comma-separated codes)."""
    return frozenset(a for a in stored.split(",") if a)


def first_name_list_of(stored: str) -> list[str]:
    """The given names of the stored ``first_names`` column (space-separated)."""
    return stored.split(" ") if stored else []


class SourceRecord(Base):
    """An establishment's local patient id (IPP) attached to one identity."""

    __tablename__ = "source_records"
    __table_args__ = (UniqueConstraint("finess", "local_id", name="uq_source_records_local"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id"), index=True)
    finess: Mapped[str] = mapped_column(String(9))
    local_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The establishment's own provenance of this identity (PAM France ZFD-5..8), as last sent:
    # what it states, never a status Socle grants.
    collection_mode: Mapped[str | None] = mapped_column(String(4))
    insi_queried_on: Mapped[date | None] = mapped_column(Date)
    proof: Mapped[str | None] = mapped_column(String(2))
    proof_expiry: Mapped[date | None] = mapped_column(Date)
    provenance_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    identity: Mapped[Identity] = relationship(back_populates="sources")


class SourceLink(Base):
    """Two local ids of one establishment that it linked (PAM A24): one patient, not merged.

    Held by the source records, so a link follows a renumbered local id (A47) and the identity
    a merge moves it to; stored once per pair, the lower record id first. A37 removes it.
    """

    __tablename__ = "source_links"
    __table_args__ = (UniqueConstraint("source_id", "linked_source_id", name="uq_source_links"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("source_records.id"))
    linked_source_id: Mapped[int] = mapped_column(ForeignKey("source_records.id"), index=True)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # MSH-10 of the A24 that made it.
    control_id: Mapped[str | None] = mapped_column(String(199))


class IdentityEvent(Base):
    """The feed consumers follow, an outbox: ``feed_cursor`` is set by the relay after commit."""

    __tablename__ = "identity_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # NULL until the relay orders the committed event; unique, so a cursor is never reused.
    feed_cursor: Mapped[int | None] = mapped_column(BigInteger, index=True, unique=True)
    type: Mapped[str] = mapped_column(String(40))
    identity_id: Mapped[int] = mapped_column(Integer, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The client whose request made the change (a key's client name, ``user:<name>`` for an
    # officer, ``system`` for the service's own jobs): a subscription may skip its own changes.
    origin: Mapped[str | None] = mapped_column(String(200))


class MatchKey(Base):
    """One blocking key of one active identity: the index of the real-time duplicate check."""

    __tablename__ = "identity_match_keys"
    __table_args__ = (Index("ix_identity_match_keys_key", "key", "identity_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id"), index=True)
    # "<pass>:<key>", e.g. "bn_year:MARTIN|1980".
    key: Mapped[str] = mapped_column(String(120))


class DuplicatePair(Base):
    """Two identities that may be one patient, waiting for (or carrying) an officer's decision."""

    __tablename__ = "duplicate_pairs"
    __table_args__ = (UniqueConstraint("left_id", "right_id", name="uq_duplicate_pairs_ids"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    left_id: Mapped[int] = mapped_column(ForeignKey("identities.id"), index=True)
    right_id: Mapped[int] = mapped_column(ForeignKey("identities.id"), index=True)
    score: Mapped[float] = mapped_column(Float)
    band: Mapped[str] = mapped_column(String(10), index=True)
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON)
    # pending | deferred | merged | not_duplicate | superseded
    status: Mapped[str] = mapped_column(String(15), default="pending", index=True)
    origin: Mapped[str] = mapped_column(String(10))
    # Establishments that know either side, space-separated, for the queue's filter.
    establishments: Mapped[str] = mapped_column(String(400), default="")
    # Strict traits of both sides when last decided: a "not a duplicate" stands until they change.
    signature: Mapped[str] = mapped_column(String(64))
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_reason: Mapped[str | None] = mapped_column(Text)
    merge_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PairComment(Base):
    __tablename__ = "duplicate_pair_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("duplicate_pairs.id"), index=True)
    author: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Merge(Base):
    """A merge of a loser into a survivor, with what is needed to undo it exactly."""

    __tablename__ = "identity_merges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    survivor_id: Mapped[int] = mapped_column(ForeignKey("identities.id"), index=True)
    loser_id: Mapped[int] = mapped_column(ForeignKey("identities.id"), index=True)
    pair_id: Mapped[int | None] = mapped_column(Integer)
    merged_by: Mapped[str] = mapped_column(String(200))
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    loser_snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Ids of the source records moved from the loser to the survivor.
    moved_sources: Mapped[list[int]] = mapped_column(JSON)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    undone_by: Mapped[str | None] = mapped_column(String(200))
    undo_reason: Mapped[str | None] = mapped_column(Text)


class InsiCall(Base):
    """One call to INSi, kept for traceability with its raw SOAP messages."""

    __tablename__ = "insi_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("identities.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    operation: Mapped[str] = mapped_column(String(20))  # traits | carte_vitale
    given_name_sent: Mapped[str | None] = mapped_column(String(200))
    cr_code: Mapped[str] = mapped_column(String(2))
    cr_label: Mapped[str] = mapped_column(String(100))
    # applied | incoherent | not_found | several | no_change
    outcome: Mapped[str] = mapped_column(String(20))
    request_xml: Mapped[str] = mapped_column(Text)
    response_xml: Mapped[str] = mapped_column(Text)
    # Deviations from the contract the client tolerated (element names, never values).
    protocol_warnings: Mapped[list[str] | None] = mapped_column(JSON)
