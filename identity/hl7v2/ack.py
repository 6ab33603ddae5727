"""Building the HL7 v2.5 ACK: MSH + MSA (code, the original control id, a short text) +
one ERR per problem (location, table 0357 code, severity E or W).

PAM France defines no ACK of its own: Socle answers in HL7 original mode, echoing the
sender's MSH-11 (a D or T message gets a D or T answer), MSH-12 with its French extension
(``2.5^FRA^2.11``) and MSH-21 (``2.11^IHE_FRANCE-2.11-PAM``), so that the ACK belongs to the
same exchange as the message it answers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from identity.hl7v2 import pam
from identity.hl7v2.message import Header

ERROR_TEXT = {
    "0": "Message accepted",
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "204": "Unknown key identifier",
    "205": "Duplicate key identifier",
    "206": "Application record locked",
    "207": "Application internal error",
}


@dataclass(frozen=True)
class Issue:
    code: str
    text: str
    severity: str = "E"
    location: str = ""


def escape(text: str) -> str:
    """ER7 escaping with the default delimiters (|^~\\&), and no line breaks."""
    out = text.replace("\\", "\\E\\").replace("|", "\\F\\").replace("^", "\\S\\")
    out = out.replace("~", "\\R\\").replace("&", "\\T\\")
    return " ".join(out.split())


def _echoed(header: Header) -> tuple[str, str, str]:
    """MSH-11, MSH-12 and MSH-21 of the ACK: the sender's, or PAM France 2.11's."""
    processing = header.processing_id
    if processing.split("^", 1)[0] not in pam.PROCESSING_IDS:
        processing = "P"
    if not header.version or header.version_id != "2.5":
        return processing, pam.DEFAULT_VERSION, pam.DEFAULT_PROFILE
    return processing, header.version, header.profile


def build(
    header: Header,
    code: str,
    text: str,
    issues: list[Issue],
    *,
    application: str,
    facility: str,
) -> str:
    """The ACK of a message, segments separated by CR."""
    now = datetime.now().strftime("%Y%m%d%H%M%S")
    control = uuid.uuid4().hex[:20]
    event = header.event or ""
    processing, version, profile = _echoed(header)
    msh = "|".join(
        [
            "MSH",
            "^~\\&",
            escape(application),
            escape(facility),
            header.sending_application,
            header.sending_facility,
            now,
            "",
            f"ACK^{event}^ACK" if event else "ACK",
            control,
            processing,
            version,
            *([""] * 4),
            "FRA",
            "UNICODE UTF-8",
            "FR",
            "",
            profile,
        ]
    ).rstrip("|")
    msa = f"MSA|{code}|{header.control_id}|{escape(text)}"
    segments = [msh, msa]
    for issue in issues:
        label = ERROR_TEXT.get(issue.code, "Error")
        segments.append(
            f"ERR||{issue.location}|{issue.code}^{label}^HL70357|{issue.severity}"
            f"||||{escape(issue.text)}"
        )
    return "\r".join(segments) + "\r"
