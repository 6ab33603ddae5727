"""What every directory parser shares: check digits, name folding, digests, line reading."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import IO

from referentials.directory.errors import ImportFileError

Row = tuple[str | None, ...]
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


# Each digit replaced by the digit sum of its double, for the Luhn check.
_DOUBLE = str.maketrans("0123456789", "0246813579")


def luhn_ok(number: str) -> bool:
    """The Luhn check over a string of digits (False when it holds anything else)."""
    if not (number.isascii() and number.isdigit()):
        return False
    # translate and the sum of the ASCII codes run in C (once per professional of a national
    # file): each digit's code is its value plus 48.
    digits = (number[-1::-2] + number[-2::-2].translate(_DOUBLE)).encode()
    return (sum(digits) - 48 * len(digits)) % 10 == 0


@lru_cache(maxsize=200_000)
def fold(text: str | None) -> str:
    """Lower-case ASCII words: 'Éloïse  D'AUBIGNÉ' -> 'eloise d aubigne' (names repeat a lot)."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_text = decomposed.encode("ascii", "ignore").decode("ascii").lower()
    return _NON_ALNUM.sub(" ", ascii_text).strip()


def digest(fields: Row, children: list[Row]) -> bytes:
    """A stable digest of an entity's canonical content (children in sorted order).

    Parsers give "" rather than None for empty cells, so the joins need no conversion.
    """
    head = "\x1f".join(fields)  # type: ignore[arg-type]
    body = "\x1e".join(sorted("\x1f".join(c) for c in children))  # type: ignore[arg-type]
    return hashlib.blake2b(f"{head}\x1e{body}".encode(), digest_size=16).digest()


@dataclass
class Entity:
    """One professional or structure as read from a file, ready to compare and store."""

    key: str
    fields: Row
    # Child rows (an RPPS+ professional's activities), each starting with ``key``.
    children: list[Row] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def digest(self) -> bytes:
        return digest(self.fields, self.children)

    def materialise(self) -> Entity:
        return self

    def merge(self, other: Entity) -> Entity:
        return Entity(self.key, self.fields, self.children + other.children, self.warnings)


class RawEntity(Entity):
    """An entity kept as its source lines; split into fields only if it must be stored.

    On a daily extract nearly every professional is unchanged: comparing the digest of its
    lines costs a fraction of splitting them into fifty fields.
    """

    def __init__(self, key: str, lines: list[str], expand: Callable[[list[str]], Entity]):
        self.key, self.lines, self.expand = key, lines, expand
        self.warnings = []

    @property
    def digest(self) -> bytes:
        lines = self.lines
        text = lines[0] if len(lines) == 1 else "\n".join(sorted(lines))
        return hashlib.blake2b(text.encode(), digest_size=16).digest()

    def materialise(self) -> Entity:
        return self.expand(self.lines)

    def merge(self, other: Entity) -> Entity:
        assert isinstance(other, RawEntity)
        return RawEntity(self.key, self.lines + other.lines, self.expand)


@dataclass
class ParseReport:
    """What a parser saw: rows read, malformed lines (with their line numbers), warnings."""

    rows: int = 0
    bad_lines: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def bad(self, line: int, message: str) -> None:
        self.bad_lines += 1
        if len(self.problems) < 1000:
            self.problems.append(f"line {line}: {message}")


class Lines:
    """Lines of a UTF-8 file read in large blocks (decoding line by line is too slow).

    Iterating yields (number of the block's first line, the block's lines). Bad bytes fail
    naming their line; ``unterminated`` tells, at the end, whether the last line lacked its
    end-of-line (a cut file). A part of a file is read with ``limit`` (bytes from the
    stream's position) and ``first_line`` (the number of its first line).
    """

    BLOCK = 8 << 20

    def __init__(
        self, stream: IO[bytes], *, name: str, first_line: int = 1, limit: int | None = None
    ) -> None:
        self.stream, self.name = stream, name
        self.first_line, self.limit = first_line, limit
        self.unterminated = False

    def _decode(self, data: bytes, first_line: int, first_block: bool) -> str:
        try:
            return data.decode("utf-8-sig" if first_block else "utf-8")
        except UnicodeDecodeError as exc:
            line = first_line + data.count(b"\n", 0, exc.start)
            column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
            raise ImportFileError(
                f"{self.name}: line {line}: not valid UTF-8 (byte {column} of the line)",
                fields={"file": self.name, "line": line},
            ) from exc

    def _read(self) -> bytes:
        if self.limit is None:
            return self.stream.read(self.BLOCK)
        block = self.stream.read(min(self.BLOCK, self.limit))
        self.limit -= len(block)
        return block

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        number, tail = self.first_line, b""
        # Only the file's first line may start with a byte-order mark.
        first = number == 1
        while True:
            block = self._read()
            data = tail + block
            if not block:
                if data:
                    self.unterminated = True
                    yield number, [self._decode(data, number, first).rstrip("\r")]
                return
            cut = data.rfind(b"\n") + 1
            data, tail = data[:cut], data[cut:]
            if not data:
                continue
            text = self._decode(data, number, first)
            first = False
            if "\r" in text:
                text = text.replace("\r\n", "\n")
            lines = text.split("\n")
            lines.pop()  # after the final end-of-line
            yield number, lines
            number += len(lines)


def lines_before(stream: IO[bytes], offset: int) -> int:
    """How many lines end before byte ``offset`` (where a part of a file starts)."""
    stream.seek(0)
    count, left = 0, offset
    while left > 0:
        block = stream.read(min(Lines.BLOCK, left))
        if not block:
            break
        count += block.count(b"\n")
        left -= len(block)
    return count


def split_header(line: str, sep: str) -> list[str]:
    """Header names, with a trailing separator's empty last name dropped."""
    names = [n.strip() for n in line.split(sep)]
    if names and names[-1] == "":
        names.pop()
    return names


def column_index(
    header: list[str], wanted: dict[str, str], required: set[str], *, name: str
) -> dict[str, int | None]:
    """Map our field names to header positions; a missing required column is an error."""
    position = {h: i for i, h in enumerate(header)}
    missing = sorted(col for col in required if col not in position)
    if missing:
        raise ImportFileError(
            f"{name}: missing required column(s): {', '.join(missing)}",
            fields={"file": name, "missing_columns": missing},
        )
    return {ours: position.get(theirs) for ours, theirs in wanted.items()}
