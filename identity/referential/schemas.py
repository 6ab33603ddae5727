"""Request and response bodies of the identity API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from referentials.core.finess import FINESS_PATTERN


class SourceRef(BaseModel):
    """An establishment's local id for the patient (IPP)."""

    model_config = ConfigDict(extra="forbid")

    finess: str = Field(min_length=9, max_length=9, pattern=FINESS_PATTERN)
    local_id: str = Field(min_length=1, max_length=64)


class LocalIdRequest(SourceRef):
    """A local id to attach to an identity, with why."""

    reason: str | None = Field(default=None, max_length=500)


class IdentityCreate(BaseModel):
    """Traits of a new identity, as typed at the front desk (case and accents are fine)."""

    model_config = ConfigDict(extra="forbid")

    birth_name: str = Field(min_length=1, max_length=100)
    first_names: list[str] = Field(min_length=1, max_length=10)
    sex: Literal["M", "F"]
    birth_date: date
    birth_date_estimated: bool = False
    birth_place_code: str | None = Field(default=None, max_length=5)
    used_name: str | None = Field(default=None, max_length=100)
    used_first_name: str | None = Field(default=None, max_length=100)
    source: SourceRef | None = None


class IdentityUpdate(BaseModel):
    """Fields to change; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    birth_name: str | None = Field(default=None, min_length=1, max_length=100)
    first_names: list[str] | None = Field(default=None, min_length=1, max_length=10)
    sex: Literal["M", "F"] | None = None
    birth_date: date | None = None
    birth_date_estimated: bool | None = None
    birth_place_code: str | None = Field(default=None, max_length=5)
    used_name: str | None = Field(default=None, max_length=100)
    used_first_name: str | None = Field(default=None, max_length=100)
    reason: str | None = Field(default=None, max_length=500)
    # The high-trust document the new strict traits were checked on, in the same request:
    # without it, a strict-trait change clears the document validation.
    document_type: str | None = Field(default=None, min_length=1, max_length=5)
    validated_at: date | None = None


class ValidationRequest(BaseModel):
    """A check of the traits against an identity document."""

    model_config = ConfigDict(extra="forbid")

    document_type: str = Field(min_length=1, max_length=5)
    validated_at: date | None = None


class AttributeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Literal["HOMA", "DOUT", "FICT"]
    reason: str | None = Field(default=None, max_length=500)


class InsRead(BaseModel):
    """The INS of an identity: matricule + key with its OID."""

    matricule: str
    oid: str
    retrieved_at: datetime | None
    collection_method: str | None
    history: list[dict[str, Any]] = []
    exposed_because: Literal["qualified", "identity_vigilance"]


class SourceRead(BaseModel):
    finess: str
    local_id: str


class LocalIdLink(BaseModel):
    """A link an establishment made between one of the identity's local ids and another (A24)."""

    finess: str
    local_id: str
    linked_local_id: str
    # The identity holding the linked local id: this one, or another (Socle merged nothing).
    linked_identity_id: int
    linked_at: datetime


class IdentityRead(BaseModel):
    """An identity as stored; the INS appears only where the caller may see it."""

    id: int
    birth_name: str
    first_names: list[str]
    first_name: str
    sex: str
    birth_date: date
    birth_date_estimated: bool
    birth_place_code: str | None
    used_name: str | None
    used_first_name: str | None
    status: str
    attributes: list[str]
    ins: InsRead | None
    validation_document: str | None
    validation_date: date | None
    sources: list[SourceRead]
    active: bool
    merged_into: int | None
    version: int
    created_at: datetime
    updated_at: datetime


class StatusChange(BaseModel):
    before: str
    after: str
    reason: str


class PossibleDuplicate(BaseModel):
    id: int
    score: float
    band: Literal["match", "review"]


class IdentityWriteResult(IdentityRead):
    """An identity after a change: what happened to its status, and its likely duplicates."""

    status_change: StatusChange | None = None
    created: bool | None = None
    # After strict traits checked on a document on an identity that held an INS: what the new
    # INSi check gave (applied, incoherent, not_found, several, unavailable...).
    insi_check: str | None = None
    possible_duplicates: list[PossibleDuplicate] = []


class HistoryEntry(BaseModel):
    at: datetime
    actor: str
    action: str
    changes: dict[str, Any] | None
    reason: str | None


class EventRead(BaseModel):
    cursor: int
    type: str
    identity_id: int
    at: datetime
    payload: dict[str, Any]
    # Whether the caller's client made this change (a tool may skip what it did itself).
    own: bool


class MatchRequest(BaseModel):
    """Traits typed at the front desk, to search before creating."""

    model_config = ConfigDict(extra="forbid")

    birth_name: str = Field(min_length=1, max_length=100)
    first_names: list[str] | None = Field(default=None, max_length=10)
    sex: Literal["M", "F"] | None = None
    birth_date: date | None = None
    birth_place_code: str | None = Field(default=None, max_length=5)
    used_name: str | None = Field(default=None, max_length=100)
    used_first_name: str | None = Field(default=None, max_length=100)
    limit: int = Field(default=10, ge=1, le=50)


class Contribution(BaseModel):
    field: str
    level: str
    weight: float


class Explanation(BaseModel):
    contributions: list[Contribution]
    rules: list[str]


class CandidateRead(BaseModel):
    """A likely duplicate: who, how likely, and why."""

    id: int
    score: float
    band: Literal["match", "review"]
    explanation: Explanation
    identity: IdentityRead


class PairSummary(BaseModel):
    id: int
    left_id: int
    right_id: int
    score: float
    band: str
    status: str
    origin: str
    establishments: list[str]
    claimed_by: str | None
    decided_by: str | None
    decided_at: datetime | None
    merge_id: int | None
    created_at: datetime
    age_days: int


class TraitDifference(BaseModel):
    field: str
    left: Any
    right: Any


class CommentRead(BaseModel):
    id: int
    author: str
    text: str
    at: datetime


class PairDetail(PairSummary):
    """Both identities side by side, what differs, and the explanation."""

    left: IdentityRead
    right: IdentityRead
    differences: list[TraitDifference]
    explanation: Explanation
    proposed_survivor_id: int
    decision_reason: str | None
    comments: list[CommentRead]


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["merge", "not_duplicate", "defer"]
    survivor_id: int | None = None
    reason: str | None = Field(default=None, max_length=1000)
    confirm_flagged: bool = False


class DecisionResult(BaseModel):
    pair: PairSummary
    merge_id: int | None = None


class CommentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=2000)


class MergeRead(BaseModel):
    id: int
    survivor_id: int
    loser_id: int
    pair_id: int | None
    merged_by: str
    merged_at: datetime
    reason: str | None
    automatic: bool
    moved_local_ids: int
    undone_at: datetime | None
    undone_by: str | None
    undo_reason: str | None


class UndoRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=1000)


class InsiCallRead(BaseModel):
    """One recorded INSi call; the raw SOAP messages only for identity-vigilance staff."""

    id: int
    at: datetime
    actor: str
    operation: str
    given_name_sent: str | None
    cr_code: str
    cr_label: str
    outcome: str
    # Where INSi's answer departed from the contract and was tolerated (element names only).
    protocol_warnings: list[str] = Field(default_factory=list)
    request_xml: str | None = None
    response_xml: str | None = None


class QualificationRead(BaseModel):
    """What an INSi search did: the CR, the outcome and the identity as it now stands."""

    cr_code: str
    cr_label: str
    outcome: Literal["applied", "incoherent", "not_found", "several", "no_change", "existing"]
    identity: IdentityRead | None
    status_change: StatusChange | None
    differences: list[str]
    matched_given_name: str | None
    ins_key_valid: bool | None
    calls: list[InsiCallRead]


class CarteVitaleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    matricule: str = Field(pattern=r"^[12][0-9]{4}(2A|2B|[0-9]{2})[0-9]{6}[0-9]{2}$")
    birth_rank: str | None = Field(default=None, pattern=r"^[0-9]{1,2}$")
