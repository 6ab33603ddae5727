"""What the client tolerates in an INSi answer, and how it reports it.

The real teleservice and CNAM's qualification harness do not always follow the contract's
element order (INSHISTO with DateDeb/DateFin before IdIndividu) and may add elements the
contract does not declare. Inside the RESULTAT body, before zeep reads it, known children
are put back in contract order and unknown elements are taken out; each deviation becomes a
protocol warning naming elements only (never a value: they are identity traits). Everything
else stays strict: a missing CR, an unknown CR, a missing required element still fail.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

from lxml import etree
from zeep.plugins import Plugin

from soap_clients.insi import contract

RESULT_FILE = "INSiResultat.xsd"
_XS = f"{{{contract.NS_XSD}}}"


@lru_cache(maxsize=1)
def _contract_layout() -> tuple[str, dict[str, tuple[tuple[str, str | None], ...]]]:
    """(root type, complex type -> its children (name, complex type or None) in order).

    Read from the packaged XSD, so the tolerated order is always the contract's.
    """
    schema = etree.parse(str(contract.contract_path(RESULT_FILE))).getroot()
    complex_names = {t.get("name") for t in schema.iter(f"{_XS}complexType")}

    def local(type_name: str | None) -> str | None:
        name = (type_name or "").split(":")[-1]
        return name if name in complex_names else None

    layout = {
        str(t.get("name")): tuple(
            (str(e.get("name")), local(e.get("type"))) for e in t.iter(f"{_XS}element")
        )
        for t in schema.iter(f"{_XS}complexType")
    }
    root = schema.find(f"{_XS}element[@name='RESULTAT']")
    assert root is not None, "INSiResultat.xsd declares RESULTAT"
    return str(local(root.get("type"))), layout


def _local_name(element: Any) -> str:
    return str(etree.QName(element).localname)


def _normalise(element: Any, type_name: str, path: str, warnings: list[str]) -> None:
    children_spec = _contract_layout()[1][type_name]
    order = {name: index for index, (name, _type) in enumerate(children_spec)}
    kinds = dict(children_spec)
    known: list[Any] = []
    for child in list(element):
        if not isinstance(child.tag, str):
            continue  # comments and processing instructions carry nothing
        qname = etree.QName(child)
        if qname.namespace != contract.NS_RESULTAT or qname.localname not in order:
            warnings.append(f"{path}: unknown element {qname.localname} ignored")
            element.remove(child)
        else:
            known.append(child)
    names = [_local_name(c) for c in known]
    wanted = sorted(known, key=lambda c: order[_local_name(c)])
    if wanted != known:
        expected = ", ".join(name for name, _type in children_spec)
        warnings.append(
            f"{path}: elements out of contract order ({', '.join(names)}; contract: {expected})"
        )
        for child in known:
            element.remove(child)
        element.extend(wanted)
    seen: dict[str, int] = {}
    for child in wanted:
        name = _local_name(child)
        seen[name] = seen.get(name, 0) + 1
        child_type = kinds[name]
        if child_type is not None:
            _normalise(child, child_type, f"{path}/{name}[{seen[name]}]", warnings)


def normalise_envelope(envelope: Any) -> list[str]:
    """Put the RESULTAT of ``envelope`` in contract shape, in place; the warnings."""
    body = envelope.find(f"{{{contract.NS_SOAP12}}}Body")
    resultat = None if body is None else body.find(f"{{{contract.NS_RESULTAT}}}RESULTAT")
    if resultat is None:
        return []  # a Fault, or no answer at all: zeep and the client report those
    warnings: list[str] = []
    _normalise(resultat, _contract_layout()[0], "RESULTAT", warnings)
    return warnings


class TolerancePlugin(Plugin):
    """Applies ``normalise_envelope`` to each answer; keeps the warnings per thread.

    Registered after the capture plugin, so the stored raw answer is the one received.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def reset(self) -> None:
        self._local.warnings = []

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(getattr(self._local, "warnings", ()))

    def ingress(self, envelope: Any, http_headers: Any, operation: Any) -> Any:
        self._local.warnings = normalise_envelope(envelope)
        return envelope, http_headers
