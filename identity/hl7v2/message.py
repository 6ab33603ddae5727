"""Reading an IHE PAM France ADT message (python-hl7) into the facts Socle acts upon.

Nothing here touches the database; a message that cannot be read raises ``Hl7Problem``
with the acknowledgment code (AR: the message is refused as a whole; AE: its content is wrong).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

import hl7

from identity.hl7v2 import pam
from identity.hl7v2.provenance import Zfd, read_zfd
from identity.referential import rules

INS_TYPE_CODES = ("INS", "INS-NIR", "INS-NIA", "NH")
_SEGMENT_SPLIT = re.compile(r"\r\n|\n|\r")


class Hl7Problem(Exception):
    """Why a message gets AR or AE; ``error`` is an HL7 table 0357 code."""

    def __init__(self, ack: str, error: str, text: str, location: str = "") -> None:
        super().__init__(text)
        self.ack, self.error, self.text, self.location = ack, error, text, location


@dataclass(frozen=True)
class Header:
    """MSH facts, kept raw (already ER7-escaped) to be echoed in the ACK."""

    sending_application: str = ""
    sending_facility: str = ""
    facility_ids: tuple[str, ...] = ()
    control_id: str = ""
    event: str = ""
    # MSH-11, MSH-12 and MSH-21 as sent (raw ER7), echoed in the ACK.
    processing_id: str = ""
    version: str = ""
    profile: str = ""

    @property
    def version_id(self) -> str:
        """MSH-12.1, the HL7 version (2.5 for PAM France)."""
        return self.version.split("^", 1)[0]


@dataclass(frozen=True)
class Cx:
    """One PID-3/MRG-1 repetition: the id and who assigned it."""

    value: str
    authority_ids: tuple[str, ...]
    type_code: str


@dataclass
class Adt:
    header: Header
    local_ids: list[Cx] = field(default_factory=list)
    ins: Cx | None = None
    merged_ids: list[Cx] = field(default_factory=list)
    # A24/A37: the local ids of the second PID, the patient linked to (or unlinked from) the first.
    linked_ids: list[Cx] = field(default_factory=list)
    birth_name: str | None = None
    first_names: list[str] = field(default_factory=list)
    used_name: str | None = None
    used_first_name: str | None = None
    birth_date: date | None = None
    sex: str | None = None
    birth_place_code: str | None = None
    # PID-32: the first repetition is the identity status, the others RNIV attributes.
    status_code: str | None = None
    attribute_codes: tuple[str, ...] = ()
    zfd: Zfd | None = None
    ins_removed: bool = False
    merged_ins: bool = False
    # Content Socle read past or dropped (PAM France tolerances): ACK warnings.
    warnings: list[str] = field(default_factory=list)


def decode(raw: bytes) -> str:
    """UTF-8 when it decodes, else ISO 8859-1 (the PAM France default, MSH-18 8859/1)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    segments = [s for s in _SEGMENT_SPLIT.split(text.strip("\x0b\x1c\r\n ")) if s.strip()]
    return "\r".join(segments)


def header_of(text: str) -> Header:
    """MSH of a message, read field by field so that even a broken body gets an ACK."""
    if not text.startswith("MSH") or len(text) < 8:
        return Header()
    sep, comp = text[3], text[4]
    fields = text.split("\r", 1)[0].split(sep)
    padded = fields + [""] * (22 - len(fields)) if len(fields) < 22 else fields

    def part(index: int, component: int = 0) -> str:
        values = padded[index].split(comp)
        return values[component] if component < len(values) else ""

    facility = padded[3]
    return Header(
        sending_application=padded[2],
        sending_facility=facility,
        facility_ids=tuple(v for v in facility.split(comp)[:2] if v),
        control_id=padded[9],
        event=part(8, 1),
        processing_id=padded[10],
        version=padded[11],
        profile=padded[20],
    )


Grid = list[list[list[str]]]


def grid(msg: hl7.Message, segment: hl7.Segment, index: int) -> Grid:
    """A field as repetitions -> components -> subcomponents, unescaped.

    python-hl7 keeps a simple value as a plain string and a composite one as nested lists;
    this evens both out so that readers index one shape.
    """

    def items(value: object) -> list[object]:
        return [value] if isinstance(value, str) else list(value)  # type: ignore[call-overload]

    try:
        value = segment[index]
    except IndexError:
        return []
    return [
        [[msg.unescape(str(sub)) for sub in items(c)] for c in items(rep)] for rep in items(value)
    ]


def part(rep: list[list[str]], component: int, sub: int = 0) -> str:
    """One (sub)component of a repetition, '' when absent."""
    if component >= len(rep) or sub >= len(rep[component]):
        return ""
    return rep[component][sub].strip()


def cx_list(msg: hl7.Message, segment: hl7.Segment, index: int) -> list[Cx]:
    """PID-3 / MRG-1: each id with its assigning authority (CX-4) and facility (CX-6) ids."""
    out = []
    for rep in grid(msg, segment, index):
        authority = [part(rep, 3, 0), part(rep, 3, 1), part(rep, 5, 0), part(rep, 5, 1)]
        value = part(rep, 0)
        if value:
            out.append(Cx(value, tuple(a for a in authority if a), part(rep, 4).upper()))
    return out


def _first(msg: hl7.Message, segment: hl7.Segment, index: int) -> str:
    """The first component of the first repetition of a field."""
    reps = grid(msg, segment, index)
    return part(reps[0], 0) if reps else ""


def is_ins(cx: Cx, ins_oids: tuple[str, ...]) -> bool:
    return any(a in ins_oids for a in cx.authority_ids)


def _segment(msg: hl7.Message, name: str) -> hl7.Segment | None:
    try:
        return msg.segment(name)
    except KeyError:
        return None


def _names(msg: hl7.Message, pid: hl7.Segment, adt: Adt) -> None:
    """PID-5: type L is the birth name (given = first birth given name, XPN.3 the whole
    list), type D the used name with the used first name (IHE PAM France)."""
    reps = grid(msg, pid, 5)
    birth = next((r for r in reps if part(r, 6) == "L"), reps[0] if reps else None)
    used = next((r for r in reps if part(r, 6) == "D"), None)
    if birth is not None:
        adt.birth_name = part(birth, 0) or None
        first, listed = part(birth, 1), part(birth, 2).split()
        if first and (not listed or listed[0] != first):
            listed = [first, *listed]
        adt.first_names = listed
    if used is not None and used is not birth:
        adt.used_name = part(used, 0) or None
        adt.used_first_name = part(used, 1) or None


def _birth_date(value: str) -> date | None:
    digits = value[:8]
    if not digits:
        return None
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError as exc:
        raise Hl7Problem("AE", "102", "PID-7: the birth date is not a date", "PID^1^7") from exc


def _birth_place(msg: hl7.Message, pid: hl7.Segment) -> str | None:
    """PID-11 repetition of address type BDL: the COG code is in XAD-9 (county/parish)."""
    for rep in grid(msg, pid, 11):
        if part(rep, 6) == "BDL" and part(rep, 8):
            return part(rep, 8)
    return None


def check_header(header: Header) -> None:
    """AR for what HL7 refuses at the header: MSH-11, MSH-12, an event Socle does not take."""
    if header.processing_id.split("^", 1)[0] not in pam.PROCESSING_IDS:
        raise Hl7Problem("AR", "103", "MSH-11: the processing id must be P, D or T", "MSH^1^11")
    if header.version_id and header.version_id != "2.5":
        raise Hl7Problem("AR", "203", "MSH-12: PAM France is HL7 version 2.5", "MSH^1^12")
    if header.event in pam.EXCLUDED:
        raise Hl7Problem("AR", "201", pam.EXCLUDED[header.event], "MSH^1^9")
    if header.event not in pam.SUPPORTED_EVENTS:
        raise Hl7Problem(
            "AR", "201", "event not supported (PAM France ITI-30 and ITI-31 only)", "MSH^1^9"
        )


def _reliability(msg: hl7.Message, pid: hl7.Segment, adt: Adt) -> None:
    """PID-32 (PAM France §6.6.15): status first, then the RNIV attributes HOMA, FICT, DOUT."""
    codes = [part(r, 0).upper() for r in grid(msg, pid, 32)]
    codes = [c for c in codes if c]
    adt.status_code = codes[0] if codes else None
    # The repetitions after the status: the RNIV identity attributes (PAM France §6.6.15).
    adt.attribute_codes = tuple(c for c in codes[1:] if c in rules.ATTRIBUTES)
    unread = sorted({c for c in codes[1:] if c not in rules.ATTRIBUTES})
    if unread:
        adt.warnings.append(
            f"PID-32: {', '.join(unread)} after the status: not an RNIV attribute "
            "(HOMA, FICT, DOUT), not read"
        )


def _zfd(msg: hl7.Message, adt: Adt) -> None:
    segment = _segment(msg, "ZFD")
    if segment is None:
        return
    adt.zfd, warnings = read_zfd([_first(msg, segment, i) for i in range(1, 9)])
    adt.warnings.extend(warnings)


def _identifiers(msg: hl7.Message, pid: hl7.Segment, adt: Adt, ins_oids: tuple[str, ...]) -> None:
    """PID-3: the local ids and the INS. CX-7/CX-8 (dates), which the national examples fill
    against the text, are not read; a '""' INS is PAM France's "remove the INS" (A47)."""
    ids = cx_list(msg, pid, 3)
    ins = [c for c in ids if is_ins(c, ins_oids)]
    adt.ins = next((c for c in ins if c.value != '""'), None)
    adt.ins_removed = any(c.value == '""' for c in ins)
    adt.local_ids = [c for c in ids if not is_ins(c, ins_oids) and c.value != '""']


def _linked(msg: hl7.Message, adt: Adt, ins_oids: tuple[str, ...]) -> None:
    """A24/A37 (ADT_A24, ADT_A37): the second PID names the other patient; its local ids only
    (its traits are the sender's copy of an identity it sends with A28/A31)."""
    pids = msg.segments("PID")
    if len(pids) < 2:
        raise Hl7Problem(
            "AE", "100", f"{adt.header.event}: the second PID segment is missing", "PID^2"
        )
    adt.linked_ids = [c for c in cx_list(msg, pids[1], 3) if not is_ins(c, ins_oids)]


def read(text: str, ins_oids: tuple[str, ...]) -> Adt:
    """The ADT facts of a message; Hl7Problem when it cannot be acted upon."""
    header = header_of(text)
    if not text.startswith("MSH"):
        raise Hl7Problem("AR", "100", "not an HL7 v2 message: it must start with MSH")
    try:
        msg = hl7.parse(text)
    except Exception as exc:  # the library raises several types on broken input
        raise Hl7Problem("AR", "102", "the message cannot be parsed") from exc
    if _first(msg, msg.segment("MSH"), 9) != "ADT":
        raise Hl7Problem("AR", "200", "only ADT messages are accepted", "MSH^1^9")
    check_header(header)
    pid = _segment(msg, "PID")
    if pid is None:
        raise Hl7Problem("AE", "100", "the PID segment is missing", "PID")
    adt = Adt(header=header)
    _identifiers(msg, pid, adt, ins_oids)
    _names(msg, pid, adt)
    adt.birth_date = _birth_date(_first(msg, pid, 7))
    adt.sex = _first(msg, pid, 8) or None
    adt.birth_place_code = _birth_place(msg, pid)
    _reliability(msg, pid, adt)
    _zfd(msg, adt)
    if header.event in pam.LINK_EVENTS:
        _linked(msg, adt, ins_oids)
    mrg = _segment(msg, "MRG")
    if mrg is not None:
        merged = cx_list(msg, mrg, 1)
        adt.merged_ids = [c for c in merged if not is_ins(c, ins_oids)]
        adt.merged_ins = any(is_ins(c, ins_oids) for c in merged)
    return adt
