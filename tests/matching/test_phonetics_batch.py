"""FONEM and Phonex of many words at once give each word the one-word encoder's code."""

from __future__ import annotations

import random

from matching.phonetics import fonem, phonex
from matching.phonetics_batch import fonem_many, phonex_many
from tests.matching.test_phonetics import FONEM_CASES

# Words whose rules look at a word's first or last letter, or across it: joined one a line,
# a neighbour's letters must not count (JEAN then ALAIN: the N is final, not before a vowel).
_EDGE_TEXT = (
    "JEAN|ALAIN||LL|LLOYD|SS|SSA|MCNEIL|MACKAY|SAINTE-CROIX|ST-HILAIRE|CINQMARS|ESS|ANAN|EM|IN|"
    "TT|X|T|AY|GAY|ILE|SCIPION|C|CE|Lefèbvre|Œuvrard|d'Artagnan|de la Fontaine|Müller|jean|"
    "BEAULAC|HUGO|OZOUADE|POUYEZ|SCHMITT"
)
EDGES = _EDGE_TEXT.split("|")
LETTERS = "AEIOUYBCDFGHJKLMNPQRSTVWXZ" * 3 + "-' ÉÈÇ"


def _random_words(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices(LETTERS, k=rng.randint(0, 9))) for _ in range(count)]


def test_batch_codes_equal_the_one_word_codes() -> None:
    words = [word for word, _ in FONEM_CASES] + EDGES + _random_words(20_000, 3)
    assert fonem_many(words) == [fonem(w) for w in words]
    assert phonex_many(words) == [phonex(w) for w in words]


def test_ascii_words_take_the_fast_path_with_the_same_codes() -> None:
    words = [w for w in _random_words(20_000, 5) if w.isascii()]
    assert all(w.isascii() for w in words) and len(words) > 10_000
    assert fonem_many(words) == [fonem(w) for w in words]
    assert phonex_many(words) == [phonex(w) for w in words]


def test_a_newline_inside_a_word_stays_in_that_word() -> None:
    words = ["JEAN\nNE", "ALAIN", "MARIE\n", "\nLOU"]
    assert fonem_many(words) == [fonem(w) for w in words]
    assert phonex_many(words) == [phonex(w) for w in words]
    assert fonem_many([]) == [] and phonex_many([]) == []
