"""Roles of professionals, and the sign-in check against the RPPS+ directory."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from referentials.core import audit
from referentials.core.errors import Forbidden, NotFound, ValidationFailed
from referentials.core.finess import check_finess
from referentials.core.principal import Principal
from referentials.core.web import ROLES, User
from referentials.directory import service as directory_service
from referentials.directory.schemas import ProfessionalDetail
from referentials.psc.claims import ProfessionalClaims
from referentials.psc.models import RoleGrant, RoleRule

log = logging.getLogger("socle.psc")
# A password hash no password matches: professionals signed in by PSC have no local password.
NO_PASSWORD = "!no-password"


@dataclass(frozen=True)
class SignedIn:
    """What the session keeps of a professional who signed in."""

    user_id: int
    username: str
    display_name: str
    profession: str
    roles: tuple[str, ...]


def username_of(national_id: str) -> str:
    return f"psc:{national_id}"


def _roles(raw: list[str]) -> list[str]:
    roles = sorted({r.strip() for r in raw if r.strip()})
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise ValidationFailed(f"roles must be among {', '.join(ROLES)}", fields={"roles": raw})
    return roles


def grant(session: Session, *, national_id: str, roles: list[str]) -> RoleGrant:
    """Give one professional these roles (replacing the ones granted before)."""
    checked = ",".join(_roles(roles))
    row = session.get(RoleGrant, national_id)
    if row is None:
        row = RoleGrant(national_id=national_id, roles=checked)
        session.add(row)
    row.roles = checked
    session.flush()
    return row


def revoke(session: Session, *, national_id: str) -> None:
    """Take back the roles granted to one professional (rules may still give some)."""
    row = session.get(RoleGrant, national_id)
    if row is None:
        raise NotFound(f"no roles granted to {national_id}", fields={"national_id": national_id})
    session.delete(row)
    session.flush()


def add_rule(
    session: Session, *, roles: list[str], profession_code: str | None, finess: str | None
) -> RoleRule:
    """Roles for every professional of a profession and/or working at an establishment."""
    if not profession_code and not finess:
        raise ValidationFailed("a rule needs a profession, a FINESS or both", fields={})
    if finess:
        check_finess(finess)  # matched against each RPPS+ activity's: a typo matches no one
    rule = RoleRule(
        profession_code=profession_code or None,
        finess=finess or None,
        roles=",".join(_roles(roles)),
    )
    session.add(rule)
    session.flush()
    return rule


def delete_rule(session: Session, rule_id: int) -> None:
    """Remove a rule."""
    rule = session.get(RoleRule, rule_id)
    if rule is None:
        raise NotFound(f"no role rule {rule_id}", fields={"id": rule_id})
    session.delete(rule)
    session.flush()


def list_grants(session: Session) -> list[RoleGrant]:
    return list(session.scalars(select(RoleGrant).order_by(RoleGrant.national_id)))


def list_rules(session: Session) -> list[RoleRule]:
    return list(session.scalars(select(RoleRule).order_by(RoleRule.id)))


def roles_of(session: Session, professional: ProfessionalDetail) -> list[str]:
    """Granted roles plus those of every rule one of the directory's activities matches."""
    found: set[str] = set()
    granted = session.get(RoleGrant, professional.idnps)
    if granted is not None:
        found.update(granted.roles.split(","))
    for rule in list_rules(session):
        for activity in professional.activities:
            places = {activity.finess_site, activity.finess_ej}
            if (rule.profession_code in (None, activity.profession_code)) and (
                rule.finess is None or rule.finess in places
            ):
                found.update(rule.roles.split(","))
    return sorted(r for r in found if r)


def _directory_entry(session: Session, national_id: str) -> ProfessionalDetail:
    try:
        return directory_service.get_professional(session, national_id)
    except NotFound as exc:
        raise Forbidden(
            f"the national id {national_id} is not in the RPPS+ directory",
            code="unknown_professional",
            fields={"national_id": national_id},
        ) from exc


def _deactivate(session: Session, national_id: str) -> None:
    user = session.scalar(select(User).where(User.username == username_of(national_id)))
    if user is not None:
        user.active = False


def _profession(professional: ProfessionalDetail) -> str:
    labels = [a.profession_label for a in professional.activities if a.profession_label]
    return labels[0] if labels else ""


def check_professional(session: Session, claims: ProfessionalClaims) -> ProfessionalDetail:
    """The directory entry of who signed in: registered and not removed, else 403."""
    professional = _directory_entry(session, claims.national_id)
    if not professional.active:
        raise Forbidden(
            f"the national id {claims.national_id} was removed from the RPPS+ directory",
            code="removed_professional",
            fields={"national_id": claims.national_id},
        )
    return professional


def sign_in(session: Session, claims: ProfessionalClaims) -> SignedIn:
    """Check the professional against the directory and their roles; their page user."""
    professional = check_professional(session, claims)
    roles = roles_of(session, professional)
    if not roles:
        raise Forbidden(
            f"the professional {claims.national_id} has no role in Socle; ask an administrator",
            code="no_role",
            fields={"national_id": claims.national_id},
        )
    username = username_of(professional.idnps)
    display = " ".join(p for p in (professional.first_name, professional.last_name) if p)
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        user = User(username=username, password_hash=NO_PASSWORD, roles="")
        session.add(user)
    user.full_name, user.roles, user.active = display, ",".join(roles), True
    session.flush()
    actor = Principal(key_id=None, client_name=f"user:{username}", finess=None, scopes=frozenset())
    audit.record(
        session,
        actor,
        entity_type="user",
        entity_id=user.id,
        action="sign_in",
        after={"national_id": professional.idnps, "roles": roles, "acr": claims.acr},
    )
    log.info("professional %s signed in with roles %s", professional.idnps, ",".join(roles))
    return SignedIn(user.id, username, display, _profession(professional), tuple(roles))


def record_refusal(session: Session, claims: ProfessionalClaims, *, code: str) -> None:
    """Audit a refused sign-in; a professional removed from RPPS+ loses their page user."""
    if code == "removed_professional":
        _deactivate(session, claims.national_id)
    actor = Principal(
        key_id=None,
        client_name=f"user:{username_of(claims.national_id)}",
        finess=None,
        scopes=frozenset(),
    )
    audit.record(
        session,
        actor,
        entity_type="user",
        entity_id=username_of(claims.national_id),
        action="sign_in_refused",
        after={"national_id": claims.national_id, "reason": code},
    )
    log.warning("sign-in of professional %s refused: %s", claims.national_id, code)
