"""FONEM and Phonex of many words at once: each rule is one regex pass over all the words.

A million identities hold about 170k distinct surnames; encoding them one by one costs ~60
regex calls per word from Python (most of the normalisation's time). Here the words are
joined by newlines and every rule of phonetics.py runs once over the whole text, in C: the
rules never match across a newline (in MULTILINE mode ^ and $ match at each word's ends, "."
does not match a newline, and the negated classes that could are told to exclude it), so each
word gets exactly the code the one-word encoder gives it (tests/matching/test_phonetics.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from matching.phonetics import (
    _FONEM_ALL,
    _FONEM_KEEP,
    _NOT_LETTER,
    _PHONEX_LETTERS,
    _PHONEX_RULES,
    Rule,
    _strip_accents,
)

# Negated classes of a lookahead: at a word's end the one-word rule finds no character, so
# here the newline that follows must not count as one.
_NO_NEWLINE = (("[^AEIOU1234]", "[^AEIOU1234\n]"),)


def _per_line(rules: Sequence[Rule], fixes: tuple[tuple[str, str], ...] = ()) -> list[Rule]:
    out: list[Rule] = []
    for pattern, replacement, needle in rules:
        text = pattern.pattern
        for old, new in fixes:
            text = text.replace(old, new)
        out.append((re.compile(text, re.MULTILINE), replacement, needle))
    return out


_FONEM_LINES = _per_line(_FONEM_ALL)
_PHONEX_LINES = _per_line(_PHONEX_RULES, _NO_NEWLINE)
_FONEM_KEEP_LINES = re.compile(r"[^A-Z\-\n]")
_NOT_LETTER_LINES = re.compile(r"[^A-Z\n]")
_REPEATS_LINES = re.compile(r"(.)\1+")  # "." stops at a newline: no repeat spans two words
_FINAL_LINES = re.compile(r"[TX]$", re.MULTILINE)


def _joined(words: Sequence[str], keep: re.Pattern[str], one_keep: re.Pattern[str]) -> str:
    """The words, accents stripped and letters filtered as one-word encoders do, one a line."""
    text = "\n".join(words)
    if text.isascii() and text.count("\n") == len(words) - 1:
        # Plain ASCII without newlines inside a word: upper-casing the whole text is the same.
        return keep.sub("", text.upper())
    return "\n".join(one_keep.sub("", _strip_accents(word)) for word in words)


def _apply(text: str, rules: Sequence[Rule]) -> str:
    for pattern, replacement, needle in rules:
        if needle in text:
            text = pattern.sub(replacement, text)
    return text


def fonem_many(words: Sequence[str]) -> list[str]:
    """[phonetics.fonem(w) for w in words], the rules applied once to all the words."""
    if not words:
        return []
    text = _apply(_joined(words, _FONEM_KEEP_LINES, _FONEM_KEEP), _FONEM_LINES)
    return text.replace("G#", "GA").replace("MA#", "MAC").split("\n")


def phonex_many(words: Sequence[str]) -> list[str]:
    """[phonetics.phonex(w) for w in words], the rules applied once to all the words."""
    if not words:
        return []
    text = _apply(_joined(words, _NOT_LETTER_LINES, _NOT_LETTER), _PHONEX_LINES)
    text = _REPEATS_LINES.sub(r"\1", text.translate(_PHONEX_LETTERS))
    return _FINAL_LINES.sub("", text).split("\n")
