"""What the INSi client returns: frozen dataclasses, values exactly as INSi sent them."""

from __future__ import annotations

from dataclasses import dataclass, field

from soap_clients.insi.contract import CR_OK


@dataclass(frozen=True)
class InsIdentifier:
    """One matricule INS with its assigning authority (an INSACTIF or INSHISTO block)."""

    matricule13: str
    key: str
    oid: str
    type_matricule: str | None = None
    date_deb: str | None = None
    date_fin: str | None = None

    @property
    def full(self) -> str:
        """The 15-character matricule INS (13 characters + the 2-digit key)."""
        return f"{self.matricule13}{self.key}"


@dataclass(frozen=True)
class InsTraits:
    """The INS traits (TIQ) as returned; first_name is Prenom, else ListePrenom's first token."""

    birth_name: str
    first_name: str
    first_names_list: str
    sex: str
    birth_date: str
    birth_place_code: str


@dataclass(frozen=True)
class InsiResult:
    """One INSi answer (RESULTAT) with the raw SOAP messages kept for traceability."""

    cr_code: str
    cr_label: str
    active: InsIdentifier | None
    history: tuple[InsIdentifier, ...]
    traits: InsTraits | None
    request_xml: str = field(repr=False)
    response_xml: str = field(repr=False)
    # Deviations from the contract that were tolerated (element names only, no values).
    warnings: tuple[str, ...] = ()

    @property
    def found(self) -> bool:
        """True when exactly one identity came back (CR 00)."""
        return self.cr_code == CR_OK


@dataclass(frozen=True)
class InsiAttempt:
    """One call of a traits search: the Prenom sent (None when none was sent) and the answer."""

    given_name_sent: str | None
    result: InsiResult


@dataclass(frozen=True)
class InsiSearchOutcome:
    """Every attempt of a traits search with the given-name retry, in the order sent."""

    attempts: tuple[InsiAttempt, ...]
    matched_given_name: str | None

    @property
    def final(self) -> InsiResult:
        """The last answer: the CR 00 when one was found, else the last CR 01 or the CR 02."""
        return self.attempts[-1].result

    @property
    def cr_code(self) -> str:
        """CR code of the final answer."""
        return self.final.cr_code
