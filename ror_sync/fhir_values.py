"""Small readers of FHIR datatypes that raise errors naming the entry and the field."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from ror_sync import codes
from ror_sync.errors import RorFormatError
from ror_sync.fhir_types import ParsedAddress

JsonObj = dict[str, Any]

# Ages are kept in years; UCUM time units the IG allows (JDV_J37) are converted.
_YEARS_PER_UNIT = {"a": 1.0, "mo": 1 / 12, "wk": 7 / 365.25, "d": 1 / 365.25, "h": 1 / 8766}


class Reader:
    """Reads one resource; every error names ``where`` and the field path."""

    def __init__(self, resource: JsonObj, where: str) -> None:
        self.resource = resource
        self.where = f"{where} ({resource.get('resourceType')}/{resource.get('id')})"

    def fail(self, field: str, problem: str) -> RorFormatError:
        return RorFormatError(self.where, field, problem)

    def objects(self, parent: JsonObj, key: str, path: str) -> list[JsonObj]:
        value = parent.get(key)
        if value is None:
            return []
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail(path, "a list of objects is expected")
        return value

    def text(self, parent: JsonObj, key: str, path: str) -> str | None:
        value = parent.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str | int):
            raise self.fail(path, "a string is expected")
        return str(value)

    def resource_id(self) -> str:
        value = self.resource.get("id")
        if not isinstance(value, str) or not value:
            raise self.fail("id", "missing: the ROR import keys every resource on its id")
        return value

    def codes(self, concepts: list[JsonObj], fragments: tuple[str, ...], path: str) -> list[str]:
        """The codes of the codings of ``concepts`` that belong to the named terminology."""
        found: list[str] = []
        for concept in concepts:
            for coding in self.objects(concept, "coding", f"{path}.coding"):
                code = coding.get("code")
                if code not in (None, "") and (
                    not fragments or codes.matches(coding.get("system"), fragments)
                ):
                    found.append(str(code))
        return found

    def first_code(
        self, concepts: list[JsonObj], fragments: tuple[str, ...], path: str
    ) -> str | None:
        found = self.codes(concepts, fragments, path)
        return found[0] if found else None

    def date_value(self, value: Any, path: str) -> date | None:
        if value in (None, ""):
            return None
        if not isinstance(value, str):
            raise self.fail(path, "a date is expected")
        try:
            return date.fromisoformat(value[:10])
        except ValueError as exc:
            raise self.fail(path, f"not a date: {value!r}") from exc

    def last_updated(self) -> datetime | None:
        meta = self.resource.get("meta") or {}
        value = meta.get("lastUpdated") if isinstance(meta, dict) else None
        if not value:
            return None
        try:
            return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError as exc:
            raise self.fail("meta.lastUpdated", f"not an instant: {value!r}") from exc

    def region(self) -> str | None:
        meta = self.resource.get("meta") or {}
        for tag in self.objects(meta, "tag", "meta.tag") if isinstance(meta, dict) else []:
            if codes.matches(tag.get("system"), codes.SYS_REGION) and tag.get("code"):
                return str(tag["code"])
        return None

    def extensions(self, parent: JsonObj, url: str, path: str) -> list[JsonObj]:
        return [e for e in self.objects(parent, "extension", path) if e.get("url") == url]

    def ext_code(
        self, parent: JsonObj, url: str, fragments: tuple[str, ...] | None, path: str
    ) -> str | None:
        """The code of a CodeableConcept/Coding/code extension (any system when not given)."""
        for ext in self.extensions(parent, url, path):
            if "valueCode" in ext:
                return self.text(ext, "valueCode", f"{path}[{url}].valueCode")
            concept = ext.get("valueCodeableConcept") or (
                {"coding": [ext["valueCoding"]]} if "valueCoding" in ext else None
            )
            if concept is None:
                continue
            if not isinstance(concept, dict):
                raise self.fail(f"{path}[{url}]", "a CodeableConcept is expected")
            for coding in self.objects(concept, "coding", f"{path}[{url}].coding"):
                if coding.get("code") and (
                    fragments is None or codes.matches(coding.get("system"), fragments)
                ):
                    return str(coding["code"])
        return None

    def reference(self, parent: JsonObj, key: str, path: str) -> str | None:
        value = parent.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.fail(path, "a Reference is expected")
        ref = value.get("reference")
        if not ref:
            return None
        if not isinstance(ref, str):
            raise self.fail(f"{path}.reference", "a string is expected")
        return ref_id(ref)

    def age_years(self, quantity: Any, path: str) -> float | None:
        if quantity is None:
            return None
        if not isinstance(quantity, dict):
            raise self.fail(path, "a Quantity is expected")
        value = quantity.get("value")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{path}.value", f"a number is expected, got {value!r}")
        unit = str(quantity.get("code") or "a")
        if unit not in _YEARS_PER_UNIT:
            raise self.fail(f"{path}.code", f"unknown age unit {unit!r}")
        return round(float(value) * _YEARS_PER_UNIT[unit], 4)

    def address(self, value: JsonObj, path: str) -> ParsedAddress:
        street = lieu_dit = None
        for index, line_ext in enumerate(self.objects(value, "_line", f"{path}._line")):
            for ext in self.objects(line_ext, "extension", f"{path}._line[{index}].extension"):
                url = str(ext.get("url") or "")
                if url == codes.EXT_STREET_NAME:
                    street = street or self.text(ext, "valueString", f"{path}.streetNameBase")
                elif url.endswith("lieu-dit"):
                    lieu_dit = lieu_dit or self.text(ext, "valueString", f"{path}.lieu-dit")
        lines = value.get("line") or []
        cog = self.ext_code(value, codes.EXT_INSEE_CODE, None, f"{path}.extension")
        return ParsedAddress(
            line=" ".join(str(v) for v in lines if v) or None if isinstance(lines, list) else None,
            street=street,
            lieu_dit=lieu_dit,
            city=self.text(value, "city", f"{path}.city"),
            postal_code=self.text(value, "postalCode", f"{path}.postalCode"),
            commune_cog=cog,
        )


def ref_id(reference: str) -> str:
    """The logical id of a reference: ``Organization/x``, a full URL, or a versioned one."""
    parts = [p for p in reference.split("/") if p]
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    return parts[-1] if parts else reference
