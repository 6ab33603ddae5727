"""Turning what zeep hands back (RESULTAT objects, Faults) into our dataclasses and errors."""

from __future__ import annotations

from typing import Any

from zeep.exceptions import Fault

from soap_clients.insi.contract import CR_LABELS, CR_OK, NS_SIRAM
from soap_clients.insi.errors import InsiError, InsiFault, InsiProtocolError, InsiUnavailable
from soap_clients.insi.models import InsIdentifier, InsiResult, InsTraits

# siram_40 covers both "unavailable" (desir_1020, worth retrying) and "technical error"
# (insi_102, not): the detail code tells them apart.
UNAVAILABLE_ERROR_CODE = "desir_1020"


def _local(name: str | None) -> str | None:
    """`soap:Sender` -> `Sender`; `{ns}siram_40` -> `siram_40`."""
    if name is None:
        return None
    return name.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def fault_to_error(fault: Fault, response_xml: str) -> InsiError:
    """InsiUnavailable for siram_40/desir_1020, InsiFault for every other SOAP Fault."""
    subcodes = fault.subcodes or []
    subcode = _local(subcodes[0].localname if subcodes else None)
    erreur = None if fault.detail is None else fault.detail.find(f"{{{NS_SIRAM}}}Erreur")
    error_code = None if erreur is None else erreur.get("code")
    severity = None if erreur is None else erreur.get("severite")
    reason = (fault.message or "").strip() or "SOAP Fault"
    if error_code == UNAVAILABLE_ERROR_CODE:
        return InsiUnavailable(reason, subcode=subcode, error_code=error_code)
    return InsiFault(
        reason,
        code=_local(fault.code),
        subcode=subcode,
        error_code=error_code,
        severity=severity,
        response_xml=response_xml,
    )


def _identifier(block: Any) -> InsIdentifier:
    id_individu = block.IdIndividu
    return InsIdentifier(
        matricule13=id_individu.NumIdentifiant,
        key=id_individu.Cle,
        oid=block.OID,
        type_matricule=id_individu.TypeMatricule,
        date_deb=block.DateDeb,
        date_fin=block.DateFin,
    )


def _traits(tiq: Any) -> InsTraits:
    first_names = tiq.ListePrenom or ""
    # Prenom is optional in TIQ; the contract says the first given name is ListePrenom's
    # first token, so that is what stands in when INSi leaves Prenom out.
    first_name = tiq.Prenom or (first_names.split(" ")[0] if first_names else "")
    return InsTraits(
        birth_name=tiq.NomNaissance,
        first_name=first_name,
        first_names_list=first_names,
        sex=tiq.Sexe,
        birth_date=tiq.DateNaissance,
        birth_place_code=tiq.LieuNaissance,
    )


def to_result(
    resultat: Any, request_xml: str, response_xml: str, *, warnings: tuple[str, ...] = ()
) -> InsiResult:
    """InsiResult from zeep's RESULTAT; InsiProtocolError when it breaks the contract."""
    report: Any = getattr(resultat, "CR", None)
    code = getattr(report, "CodeCR", None)
    if code not in CR_LABELS:
        raise InsiProtocolError(f"unexpected CR code {code!r}", response_xml=response_xml)
    individu = resultat.INDIVIDU
    if (code == CR_OK) != (individu is not None):
        raise InsiProtocolError(
            f"CR {code} with{'out' if individu is None else ''} INDIVIDU",
            response_xml=response_xml,
        )
    return InsiResult(
        cr_code=code,
        cr_label=report.LibelleCR,
        active=_identifier(individu.INSACTIF) if individu is not None else None,
        history=tuple(_identifier(h) for h in individu.INSHISTO) if individu is not None else (),
        traits=_traits(individu.TIQ) if individu is not None else None,
        request_xml=request_xml,
        response_xml=response_xml,
        warnings=warnings,
    )
