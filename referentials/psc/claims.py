"""The Pro Santé Connect claims, read under the names PSC publishes them with.

PSC's userinfo carries the national id (``SubjectNameID``, also ``preferred_username``), the
names (``family_name``, ``given_name``) and the professional situation in ``SubjectRefPro``:
``exercices`` (``codeProfession``, ``nomDexercice``, ``prenomDexercice``...) each with its
``activities`` (``numeroFinessSite``, ``numeroFinessetablissementJuridique``,
``raisonSocialeSite``...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from referentials.psc.oidc import refused


@dataclass(frozen=True)
class Exercise:
    """One profession the provider says the professional exercises, and where."""

    profession_code: str
    finess: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProfessionalClaims:
    """Who signed in, as the provider describes them."""

    national_id: str
    family_name: str
    given_name: str
    acr: str | None = None
    exercises: tuple[Exercise, ...] = field(default_factory=tuple)


def _text(claims: dict[str, Any], *names: str) -> str:
    for name in names:
        value = claims.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _exercises(claims: dict[str, Any]) -> tuple[Exercise, ...]:
    ref = claims.get("SubjectRefPro")
    listed = ref.get("exercices") if isinstance(ref, dict) else None
    found: list[Exercise] = []
    for exercise in listed if isinstance(listed, list) else []:
        if not isinstance(exercise, dict):
            continue
        finess = [
            str(activity.get(key))
            for activity in exercise.get("activities") or []
            if isinstance(activity, dict)
            for key in ("numeroFinessSite", "numeroFinessetablissementJuridique")
            if activity.get(key)
        ]
        found.append(Exercise(str(exercise.get("codeProfession") or ""), tuple(finess)))
    return tuple(found)


def read_claims(claims: dict[str, Any]) -> ProfessionalClaims:
    """The professional from the merged ID token and userinfo claims; refused without an id."""
    national_id = _text(claims, "SubjectNameID", "preferred_username")
    if not national_id:
        raise refused("the provider sent no national id (SubjectNameID)")
    return ProfessionalClaims(
        national_id=national_id,
        family_name=_text(claims, "family_name"),
        given_name=_text(claims, "given_name"),
        acr=_text(claims, "acr") or None,
        exercises=_exercises(claims),
    )
