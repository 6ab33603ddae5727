"""French phonetic encoders: FONEM, Phonex (string key) and Soundex2.

Written from the published rule descriptions (Bouchard, Brard & Lavoie 1981 for FONEM; F. Brouard
for Phonex; the French Soundex2 variant). Each encoder is deterministic and returns a short
upper-case key, so it can be stored in an indexed blocking table.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

_VOW = "AEIOUY"
_CON = "BCDFGHJKLMNPQRSTVWXZ"
V = f"[{_VOW}]"
C = f"[{_CON}]"

Replacement = str | Callable[[re.Match[str]], str]


def _strip_accents(value: str) -> str:
    if value.isascii():
        # Normalised traits are plain A-Z already: NFKD would return them unchanged.
        return value.upper()
    value = value.upper().replace("Æ", "AE").replace("Œ", "OE")
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _keep_final_cluster(match: re.Match[str]) -> str:
    return match.group(1) or match.group(2) or ""


Rule = tuple[re.Pattern[str], Replacement, str]


def _rule(pattern: str, replacement: Replacement, needle: str = "") -> Rule:
    """A rewrite rule; `needle` is a substring every match contains, so a word without it skips
    the regex call (most rules concern letters absent from a given name: 3-4x faster)."""
    return re.compile(pattern), replacement, needle


# FONEM rules in the order of the reference implementation. "#" guards a prefix (GA, MAC) that
# later rules must not rewrite; the guards are restored at the very end.
_FONEM_DOUBLES = [
    _rule(rf"({V})\1", r"\1"),  # doubled vowel
    _rule(r"([BDFGHJKMNPQRTVWXZ])\1", r"\1"),  # doubled consonant, except C, L, S
    _rule(rf"CC(?={C}|$)", "C", "CC"),
    _rule(rf"(?:(?<={C})|^)SS", "S", "SS"),
    _rule(rf"SS(?={C}|$)", "S", "SS"),
    _rule(r"(?:(?<=[^I])|^)LL", "L", "LL"),
    _rule(r"ILE$", "ILLE", "ILE"),
]
_FONEM_MAIN = [
    _rule(r"GE(?:O|AU)", "JO", "GE"),
    _rule(r"CC(?=[AOU])", "K", "CC"),
    _rule(r"CC(?=[EIY])", "X", "CC"),
    _rule(r"G(?=[EIY])", "J", "G"),
    _rule(rf"^MAC(?={C})", "MA#", "MAC"),
    _rule(r"^MC", "MA#", "MC"),
    _rule(rf"(?<={V})C(?=[EIY])", "SS", "C"),
    _rule(r"(?<=[BDFGHJKLMNPQRSTVWZ])C(?=[EIY])", "S", "C"),
    _rule(r"C(?=[BDFGJKLMNPQRSTVWXZ])", "K", "C"),
    _rule(r"(?:E?AU|O)L[TX]$", "O", "L"),
    _rule(r"E?AU[TX]$", "O", "AU"),
    _rule(r"E?AUL?D$", "O", "AU"),
    _rule(r"E?AU", "O", "AU"),
    _rule(r"(?<![PCS])H", "", "H"),
    _rule(r"^(?:SAINTE|STE)-?", "STE-", "S"),
    _rule(r"^(?:SA?INT?|SEI[NM]|CINQ?|ST)(?!E)-?", "ST-"),
    _rule(r"GA(?=I?[MN])", "G#", "GA"),
    _rule(r"[AE]M(?=[BCDFGHJKLMPQRSTVWXZ])(?!$)", "EN", "M"),
    _rule(r"AN(?=[BCDFGHJKLMNPQRSTVWXZ])", "EN", "AN"),
    _rule(rf"(?:AI[MN]|EIN)(?={C}|$)", "IN", "I"),
    _rule(r"(?<!G)AY$", "E", "AY"),
    _rule(r"EUX$", "EU", "EUX"),
    _rule(rf"EY(?={C}|$)", "E", "EY"),
    _rule(r"Y", "I", "Y"),
    _rule(rf"(?<={V})I(?={V})", "Y", "I"),
    _rule(rf"(?<={V})ILL", "Y", "ILL"),
    _rule(r"OU(?=[AEOU]|I(?!LL))", "W", "OU"),
    _rule(r"OM(?=[BCDFGHJKLMPQRSTVWXZ])", "ON", "OM"),
    _rule(r"B(?:O|U|OU)RNE?$", "BURN", "RN"),
    _rule(r"(?:^IM|(?<=[BCDFGHJKLMNPQRSTVWXZ])IM(?=[BCDFGHJKLMPQRSTVWXZ]))", "IN", "IM"),
    _rule(r"BV", "V", "BV"),
    _rule(r"^C(?=[EIY])", "S", "C"),
    _rule(r"^C(?=[OUA])", "K", "C"),
    _rule(rf"(?<={V})C$", "K", "C"),
    _rule(rf"GNI(?={V})", "GN", "GNI"),
    _rule(r"JEA", "JA", "JEA"),
    _rule(r"PH", "F", "PH"),
    _rule(r"QU", "K", "QU"),
    _rule(r"^SC(?=[EIY])", "S", "SC"),
    _rule(r"(?<=.)SC(?=[EIY])", "SS", "SC"),
    _rule(r"(?<=.)SC(?=[AOU])", "SK", "SC"),
    _rule(r"SH", "CH", "SH"),
    _rule(r"TIA$", "SSIA", "TIA"),
    _rule(r"(?<=[AIOUY])W", "", "W"),
    _rule(r"X[CSZ]", "X", "X"),
    # Z before a vowel (not after one): the published test words keep POUYEZ and OZOUADE.
    _rule(rf"Z(?={V})|(?<={C})Z(?={C})", "S", "Z"),
    _rule(rf"(ILS|[CS]H|[MN]P|R[CFKLNSX])$|({C}){C}$", _keep_final_cluster),
]
_FONEM_ALL = (*_FONEM_DOUBLES, *_FONEM_MAIN, *_FONEM_DOUBLES)
_FONEM_KEEP = re.compile(r"[^A-Z\-]")


@lru_cache(maxsize=262_144)
def fonem(name: str) -> str:
    """FONEM code of a surname (Bouchard et al. 1981): Marchand → MARCHEN."""
    word = _FONEM_KEEP.sub("", _strip_accents(name))
    for pattern, replacement, needle in _FONEM_ALL:
        if needle in word:
            word = pattern.sub(replacement, word)
    return word.replace("G#", "GA").replace("MA#", "MAC")


# Phonex, string form. Ambiguous order fixed here: accents are stripped first (so É behaves as
# E, matching INS-normalised traits), then every rule is applied globally, in the listed order.
_PHONEX_RULES = [
    _rule(r"Y", "I", "Y"),
    _rule(r"(?<![CSP])H", "", "H"),
    _rule(r"PH", "F", "PH"),
    _rule(r"G(?=AI?[NM])", "K", "GA"),
    _rule(r"[AE]I[NM](?=[AEIOU])", "YN", "I"),
    _rule(r"EAU", "O", "EAU"),
    _rule(r"OUA", "2", "OUA"),
    _rule(r"[EA]I[NM]", "4", "I"),
    _rule(r"[EA]I", "Y", "I"),
    _rule(r"E(?=[RTZ])", "Y", "E"),
    _rule(r"ESS", "YS", "ESS"),
    _rule(r"[AOE]N(?=[^AEIOU1234])", "1", "N"),
    _rule(r"[AE]M(?=[^AEIOU1234])", "1", "M"),
    _rule(r"IN(?=[^AEIOU1234])", "4", "IN"),
    _rule(r"(?<=[AEIOUY1234])S(?=[AEIOUY1234])", "Z", "S"),
    _rule(r"OE|EU", "E", "E"),
    _rule(r"AU", "O", "AU"),
    _rule(r"O[IY]", "2", "O"),
    _rule(r"OU", "3", "OU"),
    _rule(r"SCH|CH|SH", "5", "H"),
    _rule(r"SS", "S", "SS"),
    _rule(r"SC(?=[EIY])", "S", "SC"),
    _rule(r"C(?=[EI])", "S", "C"),
    _rule(r"GU|QU|Q|C", "K"),
    _rule(r"G(?=[AOY])", "K", "G"),
]
_PHONEX_LETTERS = str.maketrans("ADPJBVM", "OTTGFFN")
_NOT_LETTER = re.compile(r"[^A-Z]")
_REPEATS = re.compile(r"(.)\1+")


@lru_cache(maxsize=262_144)
def phonex(word: str) -> str:
    """Phonex key (F. Brouard) before its numeric step: Dupont and Dupond → DUT1."""
    code = _NOT_LETTER.sub("", _strip_accents(word))
    for pattern, replacement, needle in _PHONEX_RULES:
        if needle in code:
            code = pattern.sub(replacement, code)
    code = _REPEATS.sub(r"\1", code.translate(_PHONEX_LETTERS))
    return code[:-1] if code.endswith(("T", "X")) else code


_SOUNDEX2_GROUPS = [
    _rule(r"GU(?=[IE])", "K"),
    _rule(r"G(?=[AO])", "K"),
    _rule(r"GU", "K"),
    _rule(r"C(?=[AOU])", "K"),
    _rule(r"Q|CC|CK", "K"),
]
_SOUNDEX2_PREFIXES = (
    ("MAC", "MCC"),
    ("SCH", "SSS"),
    ("ASA", "AZA"),
    ("KN", "NN"),
    ("PH", "FF"),
    ("PF", "FF"),
)


@lru_cache(maxsize=262_144)
def soundex2(name: str, pad: bool = False) -> str:
    """French Soundex2 code, at most 4 characters (space padded to 4 when pad is set)."""
    code = _NOT_LETTER.sub("", _strip_accents(name))
    if not code:
        return ""
    for pattern, replacement, _ in _SOUNDEX2_GROUPS:
        code = pattern.sub(replacement, code)
    code = code[0] + re.sub(r"[AEIOU]", "A", code[1:])
    for prefix, replacement in _SOUNDEX2_PREFIXES:
        if code.startswith(prefix):
            code = replacement + code[len(prefix) :]
    # H and Y are silent except in CH/SH and AY; the first letter is always kept.
    code = re.sub(r"(?<=[^CS])H", "", code)
    code = re.sub(r"(?<=[^A])Y", "", code)
    code = re.sub(r"(?<=.)[ADTS]$", "", code)
    code = code[0] + code[1:].replace("A", "")
    code = _REPEATS.sub(r"\1", code)[:4]
    return code.ljust(4) if pad else code
