"""What the identity-vigilance pages share: the officer, French labels, dates, error wording."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Depends

from referentials.core.auth import Principal
from referentials.core.errors import AppError
from referentials.core.web import User, require_user

PARIS = ZoneInfo("Europe/Paris")
OFFICER_SCOPES = frozenset({"identity:read", "identity:write", "identity:merge"})

officer_only = require_user("officer")
Officer = Depends(officer_only)

PAIR_STATUS = {
    "pending": "En attente",
    "deferred": "Reportée",
    "merged": "Fusionnée",
    "not_duplicate": "Pas un doublon",
    "superseded": "Remplacée par une fusion",
}
BAND = {"match": "Doublon probable", "review": "À examiner"}
IDENTITY_STATUS = {
    "PROV": "Provisoire",
    "RECUP": "Récupérée",
    "VALI": "Validée",
    "QUAL": "Qualifiée",
}
ATTRIBUTE = {"HOMA": "Homonymie", "DOUT": "Douteuse", "FICT": "Fictive"}
FIELD = {
    "birth_name": "Nom de naissance",
    "first_names": "Prénoms de naissance",
    "first_name": "Premier prénom",
    "sex": "Sexe",
    "birth_date": "Date de naissance",
    "birth_place_code": "Lieu de naissance (COG)",
    "birth_place": "Lieu de naissance",
    "used_name": "Nom utilisé",
    "used_first_name": "Prénom utilisé",
    "status": "Statut",
    "attributes": "Attributs",
    "ins": "INS",
    "address": "Adresse",
    "postcode": "Code postal",
    "city": "Commune",
    "phone": "Téléphone",
    "birth_date_estimated": "Date de naissance estimée",
    "ins_matricule": "Matricule INS",
    "ins_oid": "OID de l'INS",
    "ins_history": "Historique INSi",
    "ins_retrieved_at": "INS récupéré le",
    "ins_collection_method": "Mode de récupération de l'INS",
    "ins_old": "Anciens matricules",
    "validation_document": "Justificatif",
    "validation_date": "Date de vérification",
    "active": "Active",
    "merged_into_id": "Fusionnée dans",
}
# Agreement levels of the matcher's explanation.
LEVEL = {
    "missing": "absent",
    "exact": "identique",
    "phonetic": "phonétique",
    "part": "partiel",
    "used_name": "nom utilisé",
    "swapped": "inversé",
    "jw_high": "très proche",
    "typo": "faute de frappe",
    "different": "différent",
    "first_in_list": "premier de la liste",
    "other_in_list": "autre prénom de la liste",
    "swap": "jour et mois inversés",
    "one_digit": "un chiffre diffère",
    "year_1": "année à un an près",
    "default_day": "jour par défaut",
    "department": "même département",
    "close": "proche",
    "similar": "similaire",
}
# Audit actions of the identity trail.
ACTION = {
    "create": "Création",
    "create_from_insi": "Création depuis INSi",
    "update": "Modification",
    "validate": "Vérification sur justificatif",
    "insi_qualification": "Qualification INSi",
    "attribute_add": "Attribut ajouté",
    "attribute_remove": "Attribut retiré",
    "merged_into": "Fusionnée dans une autre",
    "merge_survivor": "A absorbé une identité",
    "unmerged": "Fusion annulée",
    "unmerge_survivor": "Fusion annulée (survivante)",
}
RULE = {
    "ins_conflict": "Deux INS différents : deux personnes",
    "twin_signature": "Signature de jumeaux : mêmes nom et date, prénoms différents",
    "birth_date_conflict": "Dates de naissance éloignées d'une génération",
}
INSI_OUTCOME = {
    "applied": "Appliqué",
    "incoherent": "Traits incohérents",
    "not_found": "Non trouvé",
    "several": "Plusieurs identités",
    "no_change": "Sans changement",
    "existing": "Identité existante",
}
INSI_OPERATION = {"traits": "Recherche par traits", "carte_vitale": "Carte Vitale"}
DONE = {
    "merged": "Fusion enregistrée",
    "not_duplicate": "Paire marquée « pas un doublon »",
    "deferred": "Paire reportée",
    "undone": "Fusion annulée",
}


def principal_for(user: User) -> Principal:
    """The audit identity of a logged-in officer (no API key: the user name is the actor)."""
    return Principal(
        key_id=None, client_name=f"user:{user.username}", finess=None, scopes=OFFICER_SCOPES
    )


def when(value: datetime | date | None) -> str:
    """A date or time as officers read it: French order, Paris time."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.astimezone(PARIS).strftime("%d/%m/%Y %H:%M")
    return value.strftime("%d/%m/%Y")


def error_text(exc: AppError) -> str:
    """A refusal from the rules, worded for the officer, with the rule's own detail."""
    if exc.fields.get("confirm") == "required":
        lead = "Une des identités est douteuse ou fictive : cochez la confirmation pour fusionner."
    elif exc.fields.get("ins") == "conflict":
        lead = "Fusion impossible : les deux identités portent deux INS différents."
    elif exc.status_code == 409:
        lead = "Action refusée par les règles d'identitovigilance."
    elif exc.status_code == 404:
        lead = "Élément introuvable."
    else:
        lead = "Demande invalide."
    return f"{lead} ({exc.message})"


def query(params: dict[str, Any], **changes: Any) -> str:
    """The query string of ``params`` with some keys changed; empty values are dropped."""
    merged = {**params, **changes}
    return urlencode({k: v for k, v in merged.items() if v not in (None, "")})


def helpers() -> dict[str, Any]:
    """Labels and formatters every identity template uses."""
    return {
        "when": when,
        "PAIR_STATUS": PAIR_STATUS,
        "BAND": BAND,
        "IDENTITY_STATUS": IDENTITY_STATUS,
        "ATTRIBUTE": ATTRIBUTE,
        "FIELD": FIELD,
        "RULE": RULE,
        "LEVEL": LEVEL,
        "ACTION": ACTION,
        "INSI_OUTCOME": INSI_OUTCOME,
        "INSI_OPERATION": INSI_OPERATION,
    }
