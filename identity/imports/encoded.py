"""What a load's chunks keep for the next ones: the stored candidates' blocks and matcher columns.

Consecutive chunks share most of their blocking keys and stored candidates (a common key's block
is the same in every chunk): reading and encoding hundreds of thousands of them again for each
chunk was most of a load's time. A chunk reads the blocks of the keys no earlier chunk read (the
blocks kept take in the identities the load creates, as the index does), and reads and encodes
only the candidates no earlier chunk did, gathering the others' codes from here. One interner
serves the whole load, so codes kept from different chunks compare as the strings they stand
for. The INS, INS history and phone codes live in namespaces of their own per encoding: they
are coded again for each chunk from the raw values kept here (a few, cheap columns).

An identity someone else creates or changes during the load (any event but an attach, which
changes no trait, and the load's own creations) is dropped from here and read again when next a
candidate, and every block is read again, by the next chunk.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from identity.imports import repository as reads
from identity.referential.local_ids import EVENT as ATTACHED
from matching.features import factorise
from matching.prepared import Prepared, grow
from matching.traits import IntArray, Interner, ObjArray, RecordColumns, own_codes, own_columns

Int32Array = npt.NDArray[np.int32]
# Coded per encoding in their own namespaces (traits.own_codes): coded again for each chunk.
OWN = ("ins", "ins_valid", "phone", "hist0", "hist1")
# Ranks among one encoding's values, read by the batch matcher's blocking only: not kept.
PER_ENCODING = ("bn_fonem_rank",)
CREATED = "identity.created"
# Stored rows and blocks kept at most: past either the store starts again, empty (a million-row
# referential's load keeps about 700,000 rows and 620,000 blocks, 300 MB with the interner).
MAX_ROWS = 1_500_000
MAX_BLOCKS = 1_500_000


@dataclass
class EncodedStore:
    """Blocks read and codes and strings of the stored identities encoded so far, one row each."""

    interner: Interner = field(default_factory=Interner)
    rows: dict[int, int] = field(default_factory=dict)  # identity id -> row
    codes: dict[str, Int32Array] = field(default_factory=dict)  # int32: half the memory
    strings: dict[str, ObjArray] = field(default_factory=dict)
    ins: list[str] = field(default_factory=list)
    history: list[tuple[str, ...]] = field(default_factory=list)
    blocks: dict[str, list[int]] = field(default_factory=dict)  # key -> its block's ids
    limit: int = 0  # ids read per block
    ours: int = 0  # the identities the load created since the last look at the feed
    since: int | None = None  # the feed's cursor at the last look: later events may drop rows

    def __len__(self) -> int:
        return len(self.ins)

    def forget_changed(self, session: Session) -> None:
        """Drop what someone else changed since the last look (read again when needed)."""
        if self.since is None or len(self) > MAX_ROWS or len(self.blocks) > MAX_BLOCKS:
            self.__init__()  # type: ignore[misc]
            self.since = reads.last_cursor(session)
            return
        # Read first: an event numbered meanwhile is seen now and again next time (harmless),
        # one committed later has a later cursor or none yet, both seen next time.
        cursor = reads.last_cursor(session)
        changed = reads.changed_since(session, self.since, (CREATED, ATTACHED))
        for identity_id in changed:
            self.rows.pop(identity_id, None)
        # Each identity the load created has its one creation event: any other is someone
        # else's identity, which may belong to a block kept.
        if changed or reads.count_events(session, self.since, CREATED) > self.ours:
            self.blocks.clear()
        self.since, self.ours = cursor, 0

    def key_blocks(
        self, session: Session, keys: list[str], limit: int, beside: Connection | None = None
    ) -> dict[str, list[int]]:
        """reads.key_blocks() of every key of ``keys`` (and of others: ignore them)."""
        if limit != self.limit:
            self.blocks.clear()
            self.limit = limit
        missing = [k for k in keys if k not in self.blocks]
        found = reads.key_blocks(session, missing, limit, beside)
        self.blocks.update((k, found.get(k, [])) for k in missing)
        return self.blocks

    def created(self, ids: list[int], keys: list[list[str]]) -> None:
        """The load wrote these identities (ascending ids, newer than any) with these keys."""
        self.ours += len(ids)
        for identity_id, row_keys in zip(ids, keys, strict=True):
            for key in row_keys:
                block = self.blocks.get(key)
                if block is not None and len(block) < self.limit:
                    block.append(identity_id)

    def missing(self, ids: list[int]) -> list[int]:
        return [i for i in ids if i not in self.rows]

    def add(self, stored: reads.MatchColumns, prep: Prepared, first: int) -> None:
        """Keep ``stored``, encoded in ``prep`` at positions ``first`` onwards."""
        if not len(stored):
            return
        base = len(self)
        kept = (name for name in prep.codes if name not in OWN and name not in PER_ENCODING)
        grow(self.codes, {name: prep.codes[name][first:].astype(np.int32) for name in kept})
        grow(self.strings, {name: strings[first:] for name, strings in prep.strings.items()})
        self.ins.extend(stored.ins)
        self.history.extend(stored.ins_history)
        self.rows.update(zip(stored.ids, range(base, base + len(stored)), strict=True))

    def prepared(
        self, created: Prepared, cols: RecordColumns, count: int, ids: list[int]
    ) -> Prepared:
        """The chunk's columns: its ``count`` created rows (``created``: encoded with this
        store's interner, ``cols`` their columns) then the stored identities ``ids``."""
        at = np.array([self.rows[i] for i in ids], dtype=np.int64)
        n = count + len(ids)
        codes: dict[str, IntArray] = {}
        for name, column in created.codes.items():
            if name in OWN or name in PER_ENCODING:
                continue
            kept = self.codes.get(name)
            stored = kept[at].astype(np.int64) if kept is not None else column[:0]
            codes[name] = np.concatenate([column[:count], stored])
        strings: dict[str, ObjArray] = {}
        for name, values in created.strings.items():
            kept_strings = self.strings.get(name)
            stored_strings = kept_strings[at] if kept_strings is not None else values[:0]
            strings[name] = np.concatenate([values[:count], stored_strings])
        positions = at.tolist()
        none: tuple[str, ...] = ()
        history = cols.ins_history[:count] if cols.ins_history else [none] * count
        history = history + [self.history[r] for r in positions]
        ins = cols.ins.values
        own_cols = replace(
            cols,
            ids=[str(i) for i in range(n)],
            ins=factorise(
                [ins[c] for c in cols.ins.codes[:count]] + [self.ins[r] for r in positions]
            ),
            phone=factorise(
                [cols.phone.values[c] for c in cols.phone.codes[:count]] + [""] * len(ids)
            ),
            ins_history=history if any(history) else [],
        )
        index = {"": 0}
        own = own_codes(own_cols.ins.values, own_cols.phone.values, index)
        codes.update(own_columns(own_cols, own, index))
        return Prepared(ids=own_cols.ids, strings=strings, codes=codes, interner=self.interner)
