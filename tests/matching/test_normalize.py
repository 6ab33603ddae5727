"""Normalisation into the INS character set and the name helpers."""

from __future__ import annotations

from matching.nir import is_valid_ins, matricule13, nir_key
from matching.normalize import (
    given_name_forms,
    glue,
    name_parts,
    normalize_free_text,
    normalize_trait,
    split_given_names,
    split_particles,
    surname_core,
)


def test_normalize_trait_maps_to_ins_charset() -> None:
    assert normalize_trait("Hélène") == "HELENE"
    assert normalize_trait("  cœur  de   lion ") == "COEUR DE LION"
    assert normalize_trait("Lætitia") == "LAETITIA"
    assert normalize_trait("D’Artagnan") == "D'ARTAGNAN"
    assert normalize_trait("jean - pierre") == "JEAN-PIERRE"
    assert normalize_trait("DUPONT--DURAND") == "DUPONT--DURAND"


def test_normalize_trait_never_rejects() -> None:
    assert normalize_trait("MARTIN2") == "MARTIN"
    assert normalize_trait("A_B/C") == "A B C"
    assert normalize_trait("--'") == ""
    assert normalize_trait("") == ""


def test_glue_makes_particle_forms_agree() -> None:
    assert glue("De la Fontaine") == glue("DELAFONTAINE") == "DELAFONTAINE"
    assert glue("D'ARTAGNAN") == glue("DARTAGNAN")


def test_split_particles() -> None:
    assert split_particles("DE LA FONTAINE") == ("DE LA", "FONTAINE")
    assert split_particles("d'Artagnan") == ("D'", "ARTAGNAN")
    assert split_particles("MARTIN") == ("", "MARTIN")
    # A lone particle-looking name is kept whole.
    assert split_particles("LE") == ("", "LE")
    assert surname_core("LA FONTAINE") == surname_core("DE LA FONTAINE") == "FONTAINE"


def test_name_parts_of_double_names() -> None:
    assert name_parts("DUPONT--DURAND") == ("DUPONT", "DURAND")
    assert name_parts("DUPONT DURAND") == ("DUPONT", "DURAND")
    assert name_parts("DE LA FONTAINE") == ("FONTAINE",)


def test_given_name_forms_cover_compound_variants() -> None:
    wholes, parts = given_name_forms(split_given_names(("JEAN-PIERRE", "MARC")))
    assert {"JEANPIERRE", "MARC", "JEANPIERREMARC"} <= wholes
    assert parts == {"JEAN", "PIERRE"}
    spaced, _ = given_name_forms(split_given_names("JEAN PIERRE"))
    assert "JEANPIERRE" in spaced


def test_split_given_names_accepts_tuple_or_string() -> None:
    assert split_given_names("Jean  Pierre") == ("JEAN", "PIERRE")
    assert split_given_names(("Marie-Claire", "anne")) == ("MARIE-CLAIRE", "ANNE")


def test_free_text_keeps_numbers() -> None:
    assert normalize_free_text("12, rue de l'Église") == "12 RUE DE L EGLISE"


def test_nir_keys_from_the_spec() -> None:
    assert nir_key("297022A020778") == 78
    assert nir_key("160012B020777") == 13
    assert nir_key("2751263220749") == 74
    assert nir_key("1090763220834") == 89


def test_ins_validity_never_raises() -> None:
    assert is_valid_ins("275126322074974")
    assert is_valid_ins("2751263220749")
    assert not is_valid_ins("275126322074975")  # bad key is flagged, not an error
    assert not is_valid_ins("garbage")
    assert not is_valid_ins("")
    assert matricule13("275126322074974") == "2751263220749"
    assert matricule13("12345") == ""
