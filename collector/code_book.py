"""The distinct values of coded columns, each kept once, and their codes (``column_kinds.Coded``).

Usage::

    book = CodeBook()                 # every value looked up in a dict
    ids = CodeBook(window=1 << 12)    # item ids: the dict holds the most recent 4,096
    book.code("a"), book.code("a")    # 0, 0: the same value, the same code
    book.values[0]                    # "a"

Few-valued fields (status, route, server) need nothing more than a dict from
value to code. A job's item ids are different: a million-request job has a
third of a million, and each took a dict entry and an int object for its
code (about 75 bytes) for as long as the job ran, though an item's requests
come close together and its id is rarely seen again once it has ended. With a
``window``, the dict keeps only the most recently seen ids; the older ones
are let go from it into sorted runs of (hash, code) arrays, 8 bytes each,
where a value seen again is still found (and taken back into the dict), so a
value keeps its one code whatever the window. A filter of the let-go hashes
(a bit array, made at the first eviction) spares a new id the binary searches.
Such a book keeps its text values as UTF-8 in one buffer (:class:`TextValues`:
the text, or a Jellyfin item id's 16 bytes, and 4 bytes an id, where a
``str`` object took about 50 bytes more), each made again when read.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Any, overload

NUMBER_KINDS = frozenset({int, bool, float})
#: Bits of the filter of let-go hashes (1 MB: about 2% false hits at a third of a million ids).
_FILTER_BITS = 1 << 23
#: The bits of a hash a run keeps; a 4-byte unsigned array type.
_LOW = (1 << 32) - 1
_U32 = "I" if array("I").itemsize >= 4 else "L"
#: How Jellyfin writes an item id (a GUID as 32 lower-case hex digits): kept as its 16 bytes.
_ITEM_ID = re.compile(r"[0-9a-f]{32}")


class CodeBook:
    """Distinct values and their codes (see the module doc); a value of another type than an equal one
    (1 and True) gets a code of its own."""

    __slots__ = ("values", "index", "typed", "kinds", "mixed", "window", "_runs", "_filter")

    def __init__(self, window: int | None = None) -> None:
        self.values: list[Any] | TextValues = [] if window is None else TextValues()
        #: Value to code, for every value (no ``window``) or the most recently seen ``window`` of them.
        self.index: dict[Any, int] = {}
        self.typed: dict[tuple[type, Any], int] = {}  # values equal to another of another type (1 and True)
        self.kinds: set[type] = set()  # the types of the values
        self.mixed = False  # two number types among them: 1 may meet True
        self.window = window
        self._runs: list[tuple[array[int], array[int]]] = []  # (sorted hashes, their codes) let go from index
        self._filter: bytearray | None = None

    def __len__(self) -> int:
        return len(self.values)

    def code(self, value: Any) -> int:
        """The code of ``value`` (of its type), given one if it is new."""
        code = self.index.get(value)
        if code is not None and (self.kinds == {value.__class__} or self.values[code].__class__ is value.__class__):
            return code  # (values of one type only: no need to read the value back)
        key = (value.__class__, value)
        if self.typed:  # a value equal to another of another type (1 and True) has its code here
            found = self.typed.get(key)
            if found is not None:
                return found
        found = self._let_go(value) if self._runs else None
        if found is None:
            found = self._new(value)
        if code is None:  # no equal value in the index: this one goes there
            self.index[value] = found
            if self.window is not None and len(self.index) > self.window:
                self._evict()
        else:
            self.typed[key] = found
        return found

    def _new(self, value: Any) -> int:
        self.values.append(value)
        self.kinds.add(value.__class__)
        self.mixed = len(self.kinds & NUMBER_KINDS) > 1
        return len(self.values) - 1

    # -- the values let go from the index ---------------------------------------------------------
    def _evict(self) -> None:
        """Let the oldest half of the index go into a sorted run."""
        old = list(islice(self.index, len(self.index) // 2))
        hashes = [hash(value) for value in old]
        # A run keeps each hash's low 32 bits (a few more candidates to compare, 4 bytes an id less).
        pairs = sorted((h & _LOW, self.index.pop(value)) for h, value in zip(hashes, old))
        self._runs.append((array(_U32, [h for h, _ in pairs]), array(_U32, [c for _, c in pairs])))
        if self._filter is None:
            self._filter = bytearray(_FILTER_BITS // 8)
        for h in hashes:
            for bit in _bits(h):
                self._filter[bit >> 3] |= 1 << (bit & 7)

    def _let_go(self, value: Any) -> int | None:
        """The code of ``value`` among the values let go from the index (None: never let go)."""
        h = hash(value)
        bits = self._filter
        if bits is not None and not all(bits[bit >> 3] & (1 << (bit & 7)) for bit in _bits(h)):
            return None
        low = h & _LOW
        for hashes, codes in self._runs:
            at = bisect_left(hashes, low)
            while at < len(hashes) and hashes[at] == low:
                known = self.values[codes[at]]
                if known.__class__ is value.__class__ and known == value:
                    return codes[at]
                at += 1
        return None


def _bits(h: int) -> Iterator[int]:
    """Two bit positions of a hash in the filter."""
    yield h % _FILTER_BITS
    yield (h >> 23) % _FILTER_BITS


class TextValues(Sequence[Any]):
    """A book's values: text as UTF-8 in one buffer (each ``str`` made again when read, equal, not the
    same object), a Jellyfin item id (32 lower-case hex digits) as its 16 bytes, any other value as it
    is. Appended to only."""

    __slots__ = ("_text", "_ends", "_other", "_packed")

    def __init__(self) -> None:
        self._text = bytearray()
        self._ends = array(_U32)  # where each value's text ends in the buffer (8 bytes each past 4 GB of text)
        self._other: dict[int, Any] = {}  # values that are not exactly str, by index
        self._packed = bytearray()  # a bit a value: its text is 32 hex digits kept as 16 bytes

    def append(self, value: Any) -> None:
        index = len(self._ends)
        if index % 8 == 0:
            self._packed.append(0)
        if value.__class__ is str:
            if len(value) == 32 and _ITEM_ID.fullmatch(value):
                # A million-request job's third of a million item ids: 16 bytes each where their text took 32.
                self._text += bytes.fromhex(value)
                self._packed[index >> 3] |= 1 << (index & 7)
            else:
                self._text += value.encode("utf-8", "surrogatepass")  # any str, lone surrogates too
        else:
            self._other[index] = value
        try:
            self._ends.append(len(self._text))
        except OverflowError:
            self._ends = array("Q", self._ends)
            self._ends.append(len(self._text))

    def __len__(self) -> int:
        return len(self._ends)

    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...
    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self._ends)))]
        if index < 0:
            index += len(self._ends)
        end = self._ends[index]  # IndexError past the end, as a list's
        if self._other and index in self._other:
            return self._other[index]
        text = self._text[self._ends[index - 1] if index else 0:end]
        if self._packed[index >> 3] & (1 << (index & 7)):
            return text.hex()
        return text.decode("utf-8", "surrogatepass")
