"""The header names of the RPPS+ extractions, with the variants published extracts use.

Extractions made at different times, or by the Annuaire Santé's own extraction tools, name
some columns differently ("Code département (coord. structure)" for "Code Département
(structure)", "Code fonction" for "Code rôle", a capital here and there). Every variant maps
to the same field; a column found in none of the lists is reported once per import, never
dropped silently. Headers are compared case- and space-insensitively, then through the table.
"""

from __future__ import annotations

import re

# Our name of a column -> the other names published extracts give it.
HEADER_VARIANTS: dict[str, tuple[str, ...]] = {
    "Code Département (structure)": (
        "Code département (coord. structure)",
        "Code Departement (structure)",
    ),
    "Libellé Département (structure)": (
        "Libellé département (coord. structure)",
        "Libelle Departement (structure)",
    ),
    "Code rôle": ("Code fonction",),
    "Libellé rôle": ("Libellé fonction",),
    "Code genre activité": ("Code genre d'activité",),
    "Libellé genre activité": ("Libellé genre d'activité",),
    "Libellé commune (coord. structure)": ("Libellé Commune (coord. structure)",),
    "Indice répétition voie (coord. structure)": ("Indice répétition voie (coord. Structure)",),
    "Code postal (coord. structure)": ("Code postal (structure)",),
    "Type d'identifiant PP": ("Type identifiant PP",),
    "Nom d'exercice": ("Nom exercice",),
    "Prénom d'exercice": ("Prénom exercice",),
}

# Columns of the published extracts that Socle knows and deliberately does not store
# (labels of stored codes, the country, the former structure identifier ...).
KNOWN_UNREAD = frozenset(
    {
        "Libellé civilité d'exercice",
        "Libellé civilité",
        "Libellé catégorie professionnelle",
        "Libellé type savoir-faire",
        "Libellé type de voie (coord. structure)",
        "Code pays (coord. structure)",
        "Libellé pays (coord. structure)",
        "Ancien identifiant de la structure",
        "Code section tableau pharmaciens",
        "Libellé section tableau pharmaciens",
        "Libellé genre activité",
        "Libellé Département (structure)",
        "Libellé type diplôme obtenu",
        "Libellé type autorisation",
        "Autres identifiants",
        "Autres Ids",
    }
)

_SPACES = re.compile(r"\s+")


def _key(name: str) -> str:
    return _SPACES.sub(" ", name.strip()).casefold()


def canonical_header(header: list[str], wanted: set[str]) -> list[str]:
    """``header`` with each variant replaced by our name of the column (others unchanged)."""
    names = {_key(ours): ours for ours in (*wanted, *HEADER_VARIANTS, *KNOWN_UNREAD)}
    for ours, variants in HEADER_VARIANTS.items():
        names.update({_key(v): ours for v in variants})
    return [names.get(_key(h), h) for h in header]


def unknown_columns(header: list[str], wanted: set[str]) -> list[str]:
    """Columns of a canonical header that are neither read nor known as not read."""
    return [h for h in header if h and h not in wanted and h not in KNOWN_UNREAD]


def unknown_column_warning(name: str, unknown: list[str]) -> str:
    return f"{name}: column(s) not known to Socle, their values are not read: " + ", ".join(
        repr(u) for u in unknown
    )
