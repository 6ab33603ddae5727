"""The embedded-default ROR sample for the directory's sample FINESS EGs (``make run``).

``python -m tests.ror_sync.sample_fixture`` rewrites fixtures/ror/sample/ror_sample_sites.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.ror_sync import fhir_builders as b

OUT = Path(__file__).resolve().parents[2] / "fixtures" / "ror" / "sample" / "ror_sample_sites.json"


def build() -> dict[str, Any]:
    r: list[dict[str, Any]] = [
        b.ej("s-ej-69", "690999008"),
        b.eg("s-eg-69", "690999016", "355", "s-ej-69"),
        b.location(
            "s-loc-69",
            "s-eg-69",
            street="DE L HOPITAL FICTIF",
            city="Villefranche",
            postal_code="69400",
            cog="69264",
            lat=46.0388,
            lon=4.4925,
            capacity=40,
        ),
        b.oi("s-ue-69-1", "s-eg-69"),
        b.oi("s-ue-69-2", "s-eg-69"),
        b.oi("s-ue-69-3", "s-eg-69"),
        b.offer("s-hs-69-1", "s-ue-69-1", champ="01", activities=("022",), location_id="s-loc-69"),
        b.offer(
            "s-hs-69-2",
            "s-ue-69-2",
            champ="02",
            activities=("227",),
            care_mode="28",
            ages=(18, None, "a"),
            location_id="s-loc-69",
        ),
        b.offer(
            "s-hs-69-3",
            "s-ue-69-3",
            champ="01",
            activities=("101",),
            care_mode="32",
            location_id="s-loc-69",
            with_contact=False,
        ),
        b.ej("s-ej-67", "670999903", "44"),
        b.eg("s-eg-67", "670999911", "101", "s-ej-67", "44"),
        b.location(
            "s-loc-67",
            "s-eg-67",
            street="DES SCIENCES INVENTEES",
            city="Strasbourg",
            postal_code="67000",
            cog="67482",
            region="44",
            lat=48.5734,
            lon=7.7521,
        ),
        b.oi("s-ue-67-1", "s-eg-67", region="44"),
        b.offer(
            "s-hs-67-1",
            "s-ue-67-1",
            champ="01",
            activities=("022",),
            region="44",
            location_id="s-loc-67",
        ),
        b.ej("s-ej-38", "380999102"),
        b.eg("s-eg-38", "380999110", "500", "s-ej-38"),
        b.location(
            "s-loc-38",
            "s-eg-38",
            street="DES VIGNES INVENTEES",
            city="Vienne",
            postal_code="38200",
            cog="38544",
            lat=45.5215,
            lon=4.8987,
            capacity=82,
        ),
        b.oi("s-ue-38-1", "s-eg-38"),
        b.offer(
            "s-hs-38-1",
            "s-ue-38-1",
            champ="04",
            activities=("298",),
            care_mode="46",
            ages=(60, 120, "a"),
            location_id="s-loc-38",
        ),
        b.ej("s-ej-44", "440999308", "52"),
        b.eg("s-eg-44", "440999316", "189", "s-ej-44", "52"),
        b.location(
            "s-loc-44",
            "s-eg-44",
            street="DU MOULIN INVENTE",
            city="Nantes",
            postal_code="44000",
            cog="44109",
            region="52",
            lat=47.2184,
            lon=-1.5536,
        ),
        b.oi("s-ue-44-1", "s-eg-44", region="52"),
        b.offer(
            "s-hs-44-1",
            "s-ue-44-1",
            champ="04",
            activities=("305",),
            care_mode="32",
            ages=None,
            region="52",
            location_id="s-loc-44",
        ),
    ]
    return b.bundle(r)


if __name__ == "__main__":
    OUT.write_text(json.dumps(build(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")
