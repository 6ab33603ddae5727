"""Terminology facts of the ROR exposure: systems, extension URLs, champs, category lists."""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

R = "https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/"

# Terminologies are matched on a fragment of the coding system, because the national API and
# older documentation examples write the TRE and the JDV canonical alternately.
SYS_OI_TYPE = ("TRE_R207", "TRE-R207", "JDV_J203", "JDV-J203")
SYS_STRUCTURE_TYPE = ("TRE_R67", "TRE-R67")
SYS_EG_CATEGORY = (
    "TRE_R66",
    "TRE-R66",
    "JDV_J55",
    "JDV-J55",
    "TRE_R316",
    "TRE-R316",
    "TRE_R02",
    "TRE-R02",
    "tre-r397",
)
SYS_REGION = ("TRE_R30", "TRE-R30")
SYS_CHAMP = ("TRE_R227", "TRE-R227", "JDV_J20", "JDV-J20")
SYS_ACTIVITY = ("TRE_R211", "TRE-R211", "JDV_J17", "JDV-J17")
SYS_CARE_MODE = ("TRE_R213", "TRE-R213", "JDV_J19", "JDV-J19")
SYS_ORG_CATEGORY = ("TRE_R244", "TRE-R244", "JDV_J238", "JDV-J238")
SYS_PUBLIC = ("TRE_R239", "TRE-R239", "JDV_J29", "JDV-J29")
SYS_CLOSING_TYPE = ("TRE_R286", "TRE-R286", "JDV_J185", "JDV-J185", "JDV_J201", "JDV-J201")
SYS_COMMUNE = ("TRE_R13", "TRE-R13", "JDV_J124", "JDV-J124")
SYS_PROFESSION = ("TRE_G15", "TRE-G15")

OI_IDENTIFIER_SYSTEM = "https://oi.esante.gouv.fr"
FINESS_TYPE_CODES = frozenset({"1", "FINEG", "FINEJ"})

EXT_ORG_PERIOD = "http://hl7.org/fhir/StructureDefinition/organization-period"
EXT_ORG_CLOSING_TYPE = R + "ror-organization-closing-type"
EXT_ROR_ORG_PERIOD = R + "ror-organization-period"
EXT_PATIENT_TYPE = R + "ror-healthcareservice-patient-type"
EXT_HS_CONTACT = R + "ror-healthcareservice-contact"
EXT_HS_CONTACT_TELECOM = R + "ror-healthcareservice-contact-telecom"
EXT_FUNCTION_CONTACT = R + "ror-contact-function-contact"
EXT_CONFIDENTIALITY = R + "ror-confidentiality-level"
EXT_CONTACT_CONFIDENTIALITY = R + "ror-contact-confidentiality-level"
EXT_TELECOM_CHANNEL = R + "ror-telecom-communication-channel"
EXT_TELECOM_CONFIDENTIALITY = R + "ror-telecom-confidentiality-level"
EXT_TELECOM_USAGE = R + "ror-telecom-usage"
EXT_COMMUNE_COG = R + "ror-commune-cog"
EXT_INSEE_CODE = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code"
EXT_STREET_NAME = "http://hl7.org/fhir/StructureDefinition/iso21090-ADXP-streetNameBase"
EXT_HOUSE_NUMBER = "http://hl7.org/fhir/StructureDefinition/iso21090-ADXP-houseNumber"
EXT_STREET_TYPE = "http://hl7.org/fhir/StructureDefinition/iso21090-ADXP-streetNameType"
EXT_CAPACITY = R + "ror-location-supported-capacity"

# TRE_R227 champ d'activité: code -> short designation (the label the ANS views match on).
CHAMPS: dict[str, str] = {
    "01": "MCO",
    "02": "SMR",
    "03": "PSY",
    "04": "MS",
    "05": "Ville",
    "06": "Social",
}
CHAMP_CODES = {label: code for code, label in CHAMPS.items()}
SANITARY_CHAMPS = ("MCO", "PSY", "SMR")

# TRE_R286 "définitive": the only closing type that takes a unit out of the count.
DEFINITIVE_CLOSING = "DEF"

# directories.md §3: sanitary authorisations (activiteSanitaireRegulee) in the perimeter.
SANITARY_AUTHORISATIONS = frozenset(
    [f"{n:02d}" for n in (1, 2, 3, 4, 7, *range(9, 20), *range(50, 60), *range(80, 89))]
)
PSY_CATEGORIES = frozenset({"156", "161", "292", "366", "412", "415", "425", "430", "444"})
ORG_CATEGORY_REQUIRED = frozenset({"209", "354", "460"})
SECTORS = ("sanitaire", "medico_social", "social", "coordination", "ville")
SECTOR_LABELS = {
    "sanitaire": "Sanitaire",
    "medico_social": "Médico-social",
    "social": "Social",
    "coordination": "Coordination",
    "ville": "Offre de ville",
}

DATA = Path(__file__).parent / "data"


def champ_of_authorisation(code: str) -> str | None:
    """The champ an active sanitary authorisation opens (None when out of the perimeter)."""
    if code not in SANITARY_AUTHORISATIONS:
        return None
    if "50" <= code <= "59":
        return "SMR"
    if code == "04":
        return "PSY"
    return "MCO"


@lru_cache(maxsize=1)
def _j55() -> dict[str, dict[str, str]]:
    with (DATA / "ror_categories_j55.csv").open(encoding="utf-8", newline="") as handle:
        return {row["code"]: row for row in csv.DictReader(handle, delimiter=";")}


def non_sanitary_champ(category: str, sector: str) -> str:
    """The activity type ANS gives a non-sanitary EG row (PA, PH, ESMS Domicile, ...)."""
    row = _j55().get(category)
    if row and row["type_activite"]:
        return row["type_activite"]
    return "Social" if sector == "social" else "Non défini"


def category_label(category: str) -> str:
    """The JDV_J55 label of a category, or the code when unknown."""
    row = _j55().get(category)
    return row["label"] if row else category


def matches(system: str | None, fragments: tuple[str, ...]) -> bool:
    """True when a coding system belongs to one of the terminologies named by ``fragments``."""
    return bool(system) and any(f in system for f in fragments)  # type: ignore[operator]
