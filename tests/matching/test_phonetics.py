"""French phonetic encoders pinned on the spec's and the talisman library's published test words."""

from __future__ import annotations

import pytest

from matching.phonetics import fonem, phonex, soundex2

# Published FONEM test words (spec, and talisman's test/phonetics/french/fonem.js).
FONEM_WORDS = """
BEAULAC BOLAK|BAULAC BOLAK|IMBEAULT INBO|DUFAUT DUFO|THIBOUTOT TIBOUTOT|DEVAUX DEVO|RONDEAUX RONDO
BOURGAULX BOURGO|PINCHAUD PINCHO|PEDNAULD PEDNO|MAZENOD MASENOD|ARNOLD ARNOL|BERTOLD BERTOL
BELLAY BELE|SANDAY SENDE|GAY GAI|FAYARD FAYAR|LEMIEUX LEMIEU|LHEUREUX LEUREU|BELLEY BELE
WELLEY WELE|MEYER MEYER|BOILY BOILI|LOYSEAU LOISO|MAYRAND MAIREN|GUYON GUYON|FAILLARD FAYAR
FAIARD FAYAR|MEIER MEYER|MEILLER MEYER|GUILLON GUYON|LAVILLE LAVILLE|COUET CWET|EDOUARD EDWAR
GIROUARD JIRWAR|OZOUADE OZWADE|BOUILLE BOUYE|POUYEZ POUYEZ|LEMEE LEME|ABRAAM ABRAM
ARCHEMBAULT ARCHENBO|AMTHIME ENTIME|ROMPRE RONPRE|BOMSECOURS BONSECOURS|BOULANGER BOULENJER
TANCREDE TENKREDE|BLAIN BLIN|BLAINVILLE BLINVILLE|MAINARD MAINAR|RAIMOND RAIMON
BLACKBORN BLAKBURN|SEABOURNE SEABURN|IMBO INBO|RIMFRET RINFRET|LEFEBVRE LEFEVRE|MACE MASSE
MACON MACON|MARCELIN MARSELIN|MARCEAU MARSO|VINCELETTE VINSELETE|FORCADE FORCADE|CELINE SELINE
CERAPHIN SERAFIN|CAMILLE KAMILLE|CAYETTE KAYETE|CARINE KARINE|LUC LUK|LEBLANC LEBLEN
VICTOR VIKTOR|LACCOULINE LAKOULINE|MACCIMILIEN MAXIMILIEN|MAGELLA MAJELA|GINETTE JINETE
GANDET GANDET|GEORGES JORJES|GEOFFROID JOFROID|PAGEAU PAJO|GAGNION GAGNON|MIGNIER MIGNER
HALLEY ALE|GAUTHIER GOTIER|CHARTIER CHARTIER|JEANNE JANE|MACGREGOR MACGREGOR|MACKAY MACKE
MCNICOL MACNICOL|MCNEIL MACNEIL|PHANEUF FANEUF|PHILIPPE FILIPE|QUENNEVILLE KENEVILLE
LAROCQUE LAROKE|SCIPION SIPION|ASCELIN ASSELIN|VASCO VASKO|PASCALINE PASKALINE
ESHEMBACK ECHENBAK|ASHED ACHED|GRATIA GRASSIA|PATRITIA PATRISSIA|BERTIO BERTIO|MATIEU MATIEU
BERTIAUME BERTIOME|MUNROW MUNRO|BRANISLAW BRANISLA|LOWMEN LOMEN|ANDREW ENDREW|EXCEL EXEL
EXCERINE EXERINE|EXSILDA EXILDA|EXZELDA EXELDA|CAZEAU KASO|BRAZEAU BRASO
FITZPATRICK FITSPATRIK|SINGELAIS ST-JELAIS|CINQMARS ST-MARS|SAINT-AMAND ST-AMEN
SAINTECROIX STE-KROIX|ST-HILAIRE ST-ILAIRE|STE-CROIX STE-KROIX|LAVALLEE LAVALE|CORINNE KORINE
MACCENCE MAXENSE|MASSON MASSON|DUTILE DUTILLE|TYOU TIOU|YOU IOU
Marchand MARCHEN|Beaulieu BOLIEU|Beaumont BOMON|Legrand LEGREN|Pelletier PELETIER
"""
FONEM_CASES = [
    tuple(pair.split(" ")) for pair in FONEM_WORDS.replace("\n", "|").split("|") if pair.strip()
]


@pytest.mark.parametrize(("word", "code"), FONEM_CASES)
def test_fonem_published_words(word: str, code: str) -> None:
    assert fonem(word) == code


def test_fonem_ignores_accents_and_ligatures() -> None:
    assert fonem("Lefèbvre") == fonem("LEFEBVRE")
    assert fonem("Œuvrard") == fonem("OEUVRARD")


@pytest.mark.parametrize(
    ("word", "code"),
    [
        ("PHYLAURHEIMSMET", "FILOR4SNY"),
        ("Martin", "NORTIN"),
        ("Bernard", "FYRNOR"),
        ("Faure", "FORE"),
        ("Perez", "TYRYZ"),
        ("Gros", "GROS"),
        ("Chapuis", "5OTUIS"),
        ("Boyer", "F2YR"),
        ("Gauthier", "KOTIYR"),
        ("Rey", "RY"),
        ("Moulin", "N3LIN"),
        ("Rousseau", "R3SO"),
        # Our fixed order differs from talisman on two words, on purpose: accents are stripped
        # first (talisman: FORTILINI) and an initial H is deleted as the rule says (talisman: H1RI).
        ("Barthélémy", "FORTELENI"),
        ("Henry", "1RI"),
    ],
)
def test_phonex_published_words(word: str, code: str) -> None:
    assert phonex(word) == code


@pytest.mark.parametrize(
    ("a", "b"),
    [("Dupont", "Dupond"), ("Henri", "Henry"), ("Lefebvre", "Lefèvre"), ("Gauthier", "Gautier")],
)
def test_phonex_equivalences_from_the_spec(a: str, b: str) -> None:
    assert phonex(a) == phonex(b)


def test_phonex_separates_different_names() -> None:
    assert phonex("MARTIN") != phonex("MARTINEZ")
    assert phonex("THOMAS") == phonex("TOMAS")


@pytest.mark.parametrize(
    ("word", "code"),
    [
        ("Asamian", "AZMN"),
        ("Knight", "NG"),
        ("MacKenzie", "MKNZ"),
        ("Pfeifer", "FR"),
        ("Philippe", "FLP"),
        ("Schindler", "SNDL"),
        ("Chateau", "CHT"),
        ("Habitat", "HBT"),
        ("Téhéran", "TRN"),
        ("Essayer", "ESYR"),
        ("Crayon", "CRYN"),
        ("Plyne", "PLN"),
        ("Barad", "BR"),
        ("Martin", "MRTN"),
        ("Bernard", "BRNR"),
        ("Faure", "FR"),
        ("Perez", "PRZ"),
        ("Gros", "GR"),
        ("Chapuis", "CHP"),
        ("Boyer", "BYR"),
        ("Gauthier", "KTR"),
        ("Rey", "RY"),
        ("Barthélémy", "BRTL"),
        ("Henry", "HNR"),
        ("Moulin", "MLN"),
        ("Rousseau", "RS"),
    ],
)
def test_soundex2_published_words(word: str, code: str) -> None:
    assert soundex2(word) == code


def test_soundex2_pads_on_request_and_handles_empty() -> None:
    assert soundex2("Gros", pad=True) == "GR  "
    assert soundex2("") == ""
    assert soundex2("'-") == ""
