"""RNIV rules: the INS character set, NIR keys, COG codes, statuses and attributes.

Pure functions with no database: the service applies them, the tests pin them one by one.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from functools import lru_cache

from identity.errors import TraitError

STATUSES = ("PROV", "RECUP", "VALI", "QUAL")
ATTRIBUTES = ("HOMA", "DOUT", "FICT")
# The sets of attributes an identity may carry together (RNIV): FICT combines with nothing,
# DOUT+FICT is forbidden, DOUT+HOMA is the only allowed pair.
ALLOWED_ATTRIBUTE_SETS: tuple[frozenset[str], ...] = (
    frozenset(),
    frozenset({"HOMA"}),
    frozenset({"DOUT"}),
    frozenset({"FICT"}),
    frozenset({"DOUT", "HOMA"}),
)
HIGH_TRUST_DOCUMENTS = {
    "PA": "passeport",
    "CN": "carte nationale d'identité",
    "CS": "titre de séjour",
    "eCN": "carte nationale d'identité électronique",
    "IN": "identité numérique La Poste",
    "AV": "application carte Vitale",
    # Codes accepted for minors and some admissions (FR Core validationMode).
    "LECV": "document de haut niveau de confiance (mineurs)",
    "AN": "document de haut niveau de confiance (mineurs)",
    "LEP": "document de haut niveau de confiance (mineurs)",
    "CC": "document de haut niveau de confiance (admissions particulières)",
    "ANCV": "document de haut niveau de confiance (mineurs)",
}
OID_INS_NIR = "1.2.250.1.213.1.4.8"
OID_INS_NIA = "1.2.250.1.213.1.4.9"
OID_INS_NIR_TEST = "1.2.250.1.213.1.4.10"
OID_INS_NIR_DEMO = "1.2.250.1.213.1.4.11"
INS_OIDS = (OID_INS_NIR, OID_INS_NIA, OID_INS_NIR_TEST, OID_INS_NIR_DEMO)
EARLIEST_BIRTH_DATE = date(1890, 1, 1)

# Characters with a defined INS equivalent that NFKD does not produce by itself.
_SPECIAL = {
    "Œ": "OE",
    "œ": "OE",
    "Æ": "AE",
    "æ": "AE",
    "ß": "SS",
    "Ø": "O",
    "ø": "O",
    "Đ": "D",
    "đ": "D",
    "Ł": "L",
    "ł": "L",
    "\u2019": "'",  # typographic apostrophe
    "\u2018": "'",
    "`": "'",
    "´": "'",
    "\u2010": "-",
    "\u2011": "-",
    "\u2013": "-",
}
_ALLOWED = re.compile(r"[A-Z '\-]")


@lru_cache(maxsize=65_536)
def _fold(value: str) -> str:
    # Cached: a file or a region repeats the same names many times over.
    out = []
    for ch in value:
        ch = _SPECIAL.get(ch, ch)
        for sub in unicodedata.normalize("NFKD", ch):
            if not unicodedata.combining(sub):
                out.append(sub)
    return "".join(out).upper()


def normalize_trait(value: str, field: str, *, birth_name: bool = False) -> str:
    """A strict or complementary name trait in the INS character set, or a TraitError.

    Accents and ligatures get their equivalent, case is raised, runs of spaces are folded;
    a character with no equivalent (digit, ``_``, ``/``...) is refused, never dropped.
    """
    folded = " ".join(_fold(value).split())
    for ch in folded:
        if not _ALLOWED.fullmatch(ch):
            raise TraitError(field, f"character {ch!r} is not allowed in {field}", char=ch)
    if not folded:
        raise TraitError(field, f"{field} is empty")
    if folded[0] in " -'":
        raise TraitError(field, f"{field} must not start with {folded[0]!r}", char=folded[0])
    if "''" in folded:
        raise TraitError(field, f"{field} must not contain a doubled apostrophe", char="'")
    if "---" in folded or ("--" in folded and not birth_name):
        raise TraitError(
            field, f"{field}: a double hyphen is only allowed inside a birth name", char="-"
        )
    if folded[-1] in "-'":
        raise TraitError(field, f"{field} must not end with {folded[-1]!r}", char=folded[-1])
    return folded


def normalize_first_names(values: list[str], field: str = "first_names") -> list[str]:
    """The ordered list of birth given names; each token is one given name."""
    names: list[str] = []
    for i, raw in enumerate(values):
        # A list item may carry several names separated by spaces ("JEAN PAUL").
        names.extend(normalize_trait(raw, f"{field}[{i}]").split(" "))
    if not names:
        raise TraitError(field, "at least one birth given name is needed")
    return names


def nir_key(first13: str) -> int:
    """The NIR/NIA key: 97 - (N mod 97), Corsica's 2A/2B read as 19/18."""
    digits = first13.upper().replace("2A", "19").replace("2B", "18")
    if len(first13) != 13 or not digits.isdigit():
        raise ValueError("a NIR has 13 characters before its key")
    return 97 - int(digits) % 97


def nir_key_is_valid(matricule: str) -> bool:
    """True when a 15-character matricule carries the right key; never raises."""
    if len(matricule) != 15 or not matricule[13:].isdigit():
        return False
    try:
        return nir_key(matricule[:13]) == int(matricule[13:])
    except ValueError:
        return False


def check_nir(matricule: str, field: str = "ins") -> str:
    """A 15-character matricule whose key is checked, or a TraitError saying why."""
    value = matricule.strip().upper().replace(" ", "")
    if len(value) != 15:
        raise TraitError(field, f"{field} must have 15 characters (13 + key), got {len(value)}")
    if not nir_key_is_valid(value):
        raise TraitError(field, f"{field}: the key {value[13:]} does not match the number")
    return value


_DEPARTMENTS = {f"{n:02d}" for n in range(1, 96) if n != 20} | {"2A", "2B"}
_OVERSEAS = {"971", "972", "973", "974", "975", "976", "977", "978"}
_PACIFIC = {"984", "986", "987", "988"}


def check_cog(code: str, field: str = "birth_place_code") -> str:
    """A 5-character INSEE COG code of a known department, or ``99`` + country."""
    value = code.strip().upper()
    if len(value) != 5 or not value.isalnum():
        raise TraitError(field, f"{field} must be a 5-character INSEE code, got {code!r}")
    if value.startswith("99"):
        if not value[2:].isdigit():
            raise TraitError(field, f"{field}: a foreign birth place is 99 + a 3-digit country")
        return value
    if value[:3] in _OVERSEAS or value[:3] in _PACIFIC:
        ok = value[3:].isdigit()
    else:
        ok = value[:2] in _DEPARTMENTS and value[2:].isdigit()
    if not ok:
        raise TraitError(field, f"{field}: {value!r} names no known department")
    return value


def check_birth_date(value: date, today: date, field: str = "birth_date") -> date:
    """Birth dates lie between 1890-01-01 and today."""
    if value > today:
        raise TraitError(field, f"{field} is in the future")
    if value < EARLIEST_BIRTH_DATE:
        raise TraitError(field, f"{field} is before {EARLIEST_BIRTH_DATE.isoformat()}")
    return value


def status_for(*, has_ins: bool, validated: bool) -> str:
    """The RNIV status, the cross of 'recovered from INSi' and 'checked on a document'."""
    return {
        (False, False): "PROV",
        (True, False): "RECUP",
        (False, True): "VALI",
        (True, True): "QUAL",
    }[(has_ins, validated)]


def check_attributes(attributes: frozenset[str]) -> None:
    """Refuse unknown attributes and forbidden combinations, naming them."""
    unknown = sorted(attributes - set(ATTRIBUTES))
    if unknown:
        raise TraitError("code", f"unknown attribute(s): {', '.join(unknown)}")
    if attributes not in ALLOWED_ATTRIBUTE_SETS:
        combo = "+".join(sorted(attributes))
        raise TraitError(
            "code",
            f"the combination {combo} is forbidden (FICT combines with nothing; "
            "DOUT+HOMA is the only allowed pair)",
        )


def forbids_insi(attributes: frozenset[str]) -> bool:
    """DOUT and FICT identities are never sent to INSi."""
    return bool(attributes & {"DOUT", "FICT"})


def check_document(document_type: str) -> str:
    """A high-trust document code, or a TraitError explaining why it is not enough."""
    if document_type not in HIGH_TRUST_DOCUMENTS:
        known = ", ".join(HIGH_TRUST_DOCUMENTS)
        raise TraitError(
            "document_type",
            f"{document_type!r} is not a high-trust identity document "
            f"(a driving licence or a Carte Vitale alone is not); accepted: {known}",
        )
    return document_type
