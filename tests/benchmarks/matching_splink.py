"""Splink (DuckDB backend) on the same CSV, set up like its deduplication tutorial.

Used by matching_bench.py; comparisons: names, date of birth, sex, birth place, postcode, city;
blocking on names, date and place; u by random sampling, m by EM on two blocking rules.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on


def _frame(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df = df.rename(columns={"source_id": "unique_id"})
    df["first_name"] = df["first_names"].str.split(" ").str[0].str.upper()
    df["surname"] = df["birth_name"].str.upper()
    df["dob"] = df["birth_date"]
    for column in ("first_name", "surname", "dob", "sex", "birth_place_code", "postcode", "city"):
        df[column] = df[column].replace("", None)
    return df[
        ["unique_id", "first_name", "surname", "dob", "sex", "birth_place_code", "postcode", "city"]
    ]


def run_splink(path: Path, threshold: float = 0.9) -> tuple[list[tuple[str, str, str]], int]:
    """(pairs with probability >= threshold, labelled "match"), number of candidate pairs."""
    df = _frame(path)
    settings = SettingsCreator(
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=[
            block_on("first_name", "surname"),
            block_on("surname", "dob"),
            block_on("first_name", "dob"),
            block_on("dob", "birth_place_code"),
            block_on("postcode", "first_name"),
        ],
        comparisons=[
            cl.ForenameSurnameComparison("first_name", "surname"),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.ExactMatch("sex"),
            cl.ExactMatch("birth_place_code"),
            cl.PostcodeComparison("postcode"),
            cl.ExactMatch("city").configure(term_frequency_adjustments=True),
        ],
        retain_intermediate_calculation_columns=False,
    )
    db_api = DuckDBAPI()
    # Splink 5 takes a registered SplinkDataFrame; Splink 4 took (df, settings, db_api=...).
    linker = Linker(db_api.register(df), settings)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "surname", "dob"), block_on("surname", "dob")], recall=0.8
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("first_name", "surname")
    )
    predictions = linker.inference.predict(threshold_match_probability=0.01).as_pandas_dataframe()
    chosen = predictions[predictions["match_probability"] >= threshold]
    pairs = [
        (str(a), str(b), "match")
        for a, b in zip(chosen["unique_id_l"], chosen["unique_id_r"], strict=True)
    ]
    return pairs, len(predictions)
