"""Identifier systems and code systems Socle uses in FHIR, and the local-id system mapping."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from identity.referential import rules
from referentials.core.finess import is_finess
from referentials.core.settings import Settings

FR_CORE = "https://hl7.fr/ig/fhir/core"
PROFILE_PATIENT = f"{FR_CORE}/StructureDefinition/fr-core-patient"
PROFILE_PATIENT_INS = f"{FR_CORE}/StructureDefinition/fr-core-patient-ins"
EXT_RELIABILITY = f"{FR_CORE}/StructureDefinition/fr-core-identity-reliability"
EXT_BIRTH_LIST = f"{FR_CORE}/StructureDefinition/fr-core-patient-birth-list-given-name"
EXT_INSEE_CODE = f"{FR_CORE}/StructureDefinition/fr-core-address-insee-code"
EXT_BIRTH_PLACE = "http://hl7.org/fhir/StructureDefinition/patient-birthPlace"
EXT_MATCH_GRADE = "http://hl7.org/fhir/StructureDefinition/match-grade"
# RNIV statuses (PROV, RECUP, VALI, QUAL) with their RNIV meaning: VALI is "validated".
CS_IDENTITY_STATUS = f"{FR_CORE}/CodeSystem/fr-core-cs-identity-status"
# FR Core 2.x comments on the status (RNIV attributes HOMA, FICT, DOUT; management codes such
# as DESA): HL7 table 0445 without the statuses, as FR Core publishes it.
CS_IDENTITY_STATUS_COMMENT = f"{FR_CORE}/CodeSystem/fr-core-cs-identity-status-comment"
CS_VALIDATION_MODE = f"{FR_CORE}/CodeSystem/fr-core-cs-mode-validation-identity"
CS_METHOD_COLLECTION = f"{FR_CORE}/CodeSystem/fr-core-cs-method-collection"
CS_IDENTIFIER_TYPE = f"{FR_CORE}/CodeSystem/fr-core-cs-v2-0203"
CS_V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
CS_COMMUNE = "https://mos.esante.gouv.fr/NOS/TRE_R13-CommuneOM/FHIR/TRE-R13-CommuneOM"
# INSEE country codes (99xxx): the birth place of a patient born abroad (RNIV, INSi).
CS_COUNTRY = "https://mos.esante.gouv.fr/NOS/TRE_R20-Pays/FHIR/TRE-R20-Pays"

INS_TYPES = {
    rules.OID_INS_NIR: "INS-NIR",
    rules.OID_INS_NIA: "INS-NIA",
    rules.OID_INS_NIR_TEST: "INS-NIR-TEST",
    rules.OID_INS_NIR_DEMO: "INS-NIR-DEMO",
}
INS_SYSTEMS = {f"urn:oid:{oid}": oid for oid in rules.INS_OIDS}

_OID = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")


@dataclass(frozen=True)
class LocalIdSystems:
    """Which FHIR system names an establishment's local ids (IPP), both ways.

    An establishment whose IPP assigning-authority OID is configured (an OID key of
    ``SOCLE_HL7__AUTHORITIES`` mapped to its FINESS) keeps ``urn:oid:<that OID>``, the system
    its own software already uses; any other establishment gets
    ``<base_url>/fhir/sid/ipp/<FINESS>``, a namespace this Socle deployment owns.
    """

    base_url: str
    oid_to_finess: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalIdSystems:
        oids = {k: v for k, v in settings.hl7.authorities.items() if _OID.fullmatch(k)}
        return cls(base_url=settings.base_url.rstrip("/"), oid_to_finess=oids)

    @property
    def prefix(self) -> str:
        return f"{self.base_url}/fhir/sid/ipp/"

    def system_for(self, finess: str) -> str:
        for oid, mapped in sorted(self.oid_to_finess.items()):
            if mapped == finess:
                return f"urn:oid:{oid}"
        return f"{self.prefix}{finess}"

    def finess_for(self, system: str) -> str | None:
        """The FINESS whose local ids this system names; None when it names none."""
        if system.startswith(self.prefix):
            finess = system[len(self.prefix) :]
            return finess if is_finess(finess) else None
        if system.startswith("urn:oid:"):
            return self.oid_to_finess.get(system[len("urn:oid:") :])
        return None
