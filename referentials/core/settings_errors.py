"""Settings that cannot be read, said as the operator wrote them: one line per variable.

pydantic reports a field's path in the model (``hl7.mllp_port``); the operator wrote
``SOCLE_HL7__MLLP_PORT`` (in the environment or ``.env``). pydantic's copy of the value given
is never printed, since a setting may be a secret; a check of Socle's own may quote the part it
refuses (a FINESS number).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, ValidationError
from pydantic_settings import SettingsError

from referentials.core.settings import Settings

PREFIX = "SOCLE_"


def env_name(loc: Sequence[int | str]) -> tuple[str, list[str]]:
    """The variable a field's path was read from, and the rest of the path inside its value
    (a key of a JSON mapping, an item of a list)."""
    model: type[BaseModel] | None = Settings
    names: list[str] = []
    for depth, part in enumerate(loc):
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return PREFIX + "__".join(names), [str(p) for p in loc[depth:]]
        names.append(part.upper())
        kind = model.model_fields[part].annotation
        model = kind if isinstance(kind, type) and issubclass(kind, BaseModel) else None
    return PREFIX + "__".join(names), []


def problems(exc: ValidationError | SettingsError) -> list[str]:
    """What is wrong with the settings, one line per problem."""
    if isinstance(exc, SettingsError):
        # pydantic-settings could not decode a value; it names the top-level field only.
        found = re.search(r'field "([^"]+)"', str(exc))
        name = PREFIX + (found.group(1).upper() if found else "*")
        return [f"{name} (or a {name}__* variable): cannot be decoded; a mapping or a list is JSON"]
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        name, inside = env_name(error["loc"])
        where = f" [{'.'.join(inside)}]" if inside else ""
        lines.append(f"{name}{where}: {error['msg']}")
    return lines
