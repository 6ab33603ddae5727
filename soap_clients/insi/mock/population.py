"""The people the mock teleservice knows, and its search rules."""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from soap_clients.insi.contract import OID_INS_NIR

# Ligatures have no Unicode decomposition, so NFKD alone would drop them.
_LIGATURES = str.maketrans({"Œ": "OE", "œ": "OE", "Æ": "AE", "æ": "AE", "ß": "SS"})


def normalise(value: str) -> str:
    """INS comparison form: upper case, accents and ligatures resolved, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", value.translate(_LIGATURES))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.upper().split())


def nir_key(matricule13: str) -> str:
    """NIR key (spec §1): 97 - (N mod 97), Corsica 2A/2B read as 19/18."""
    number = int(matricule13.upper().replace("2A", "19").replace("2B", "18"))
    return f"{97 - number % 97:02d}"


@dataclass(frozen=True)
class InsRecord:
    """A matricule INS as the mock returns it (INSACTIF or INSHISTO)."""

    matricule13: str
    key: str
    oid: str = OID_INS_NIR
    type_matricule: str | None = None
    date_deb: str | None = None
    date_fin: str | None = None


@dataclass(frozen=True)
class Person:
    """One person of the mock's population, traits stored as INSi would return them."""

    birth_name: str
    given_names: tuple[str, ...]
    sex: str
    birth_date: str
    birth_place: str
    active: InsRecord
    history: tuple[InsRecord, ...] = ()

    @property
    def given_names_list(self) -> str:
        """ListePrenom: the given names space-separated, in civil order."""
        return " ".join(self.given_names)

    def answers_to_given_names(self, sent: Sequence[str]) -> bool:
        """True when a sent Prenom is one of the given names or the whole list."""
        if not sent:
            return True
        own = {normalise(name) for name in self.given_names}
        own.add(normalise(self.given_names_list))
        return any(normalise(name) in own for name in sent)


class Population:
    """Persons indexed by (birth name, sex, birth date), the keys every search carries."""

    def __init__(self, persons: Iterable[Person]) -> None:
        self._persons = tuple(persons)
        self._by_traits: dict[tuple[str, str, str], list[Person]] = defaultdict(list)
        self._by_name_date: dict[tuple[str, str], list[Person]] = defaultdict(list)
        self._by_matricule: dict[tuple[str, str], list[Person]] = defaultdict(list)
        for person in self._persons:
            name = normalise(person.birth_name)
            self._by_traits[(name, person.sex, person.birth_date)].append(person)
            self._by_name_date[(name, person.birth_date)].append(person)
            for record in (person.active, *person.history):
                self._by_matricule[(record.matricule13.upper(), record.key)].append(person)

    def __len__(self) -> int:
        return len(self._persons)

    def search_traits(
        self,
        birth_name: str,
        given_names: Sequence[str],
        sex: str,
        birth_date: str,
        birth_place: str | None = None,
    ) -> list[Person]:
        """Persons matching a RECSANSVITALE (spec §3 search rule)."""
        candidates = self._by_traits.get((normalise(birth_name), sex, birth_date), [])
        return [
            person
            for person in candidates
            if person.answers_to_given_names(given_names)
            and (birth_place is None or person.birth_place == birth_place.upper())
        ]

    def search_vitale(
        self,
        matricule13: str,
        key: str,
        birth_name: str | None,
        birth_date: str | None,
    ) -> list[Person]:
        """Persons matching a RECVITALE: by matricule + key, else birth name + birth date.

        The card matricule may be the insured parent's, so a matricule that matches but
        whose holder has another birth date falls back to the name + date search.
        """
        holders = [
            person
            for person in self._by_matricule.get((matricule13.upper(), key), [])
            if birth_date is None or person.birth_date == birth_date
        ]
        if holders or birth_name is None or birth_date is None:
            return holders
        return list(self._by_name_date.get((normalise(birth_name), birth_date), []))
