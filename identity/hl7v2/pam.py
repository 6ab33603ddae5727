"""The IHE PAM France events Socle receives, and what each one may do to an identity.

ITI-30 (patient identity feed) changes identities under the RNIV rules; ITI-31 (patient
encounter management) only names the patient of a movement: demographics change through A31
alone, so a movement finds (or, for an unknown local id, creates) its identity and never updates
it. A08 is excluded in France (PAM France §2.2).
"""

from __future__ import annotations

# ITI-30: creation/update, merge, identifier change, and link/unlink (optional in France).
ITI30 = ("A28", "A31", "A40", "A47", "A24", "A37")
# ITI-31 movements and their cancellations (PAM France §5.3.2), Z99 corrects a movement.
ITI31 = (
    "A01", "A02", "A03", "A04", "A05", "A06", "A07", "A09", "A10", "A11", "A12", "A13",
    "A14", "A15", "A16", "A21", "A22", "A25", "A26", "A27", "A32", "A33", "A38", "A44",
    "A49", "A52", "A53", "A54", "A55", "Z99",
)  # fmt: skip
SUPPORTED_EVENTS = ITI30 + ITI31
# Link and unlink two local ids of the establishment (HL7 v2.5: ADT_A24, ADT_A37, two PIDs).
LINK_EVENTS = ("A24", "A37")
EXCLUDED = {
    "A08": "A08 is excluded in PAM France: demographics change only through A31",
}
# MSH-11 processing ids (HL7 table 0103): production, debugging, training.
PROCESSING_IDS = ("P", "D", "T")
# The French extension of MSH-12 (2.5^FRA^<profile>) Socle reads: PAM France 2.9 to 2.11.
PAM_VERSIONS = ("2.9", "2.10", "2.11")
# What Socle states in its ACK when the message gave nothing to echo (PAM France 2.11.2 §6.5).
DEFAULT_VERSION = "2.5^FRA^2.11"
DEFAULT_PROFILE = "2.11^IHE_FRANCE-2.11-PAM"


def transaction(event: str) -> str:
    """'ITI-30' or 'ITI-31' for a supported event."""
    return "ITI-30" if event in ITI30 else "ITI-31"
