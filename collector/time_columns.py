"""A column of a request's times kept as whole microseconds (``request_columns``), read as the floats they were.

Usage::

    column = Micros()                       # as column_kinds.Numbers: extend(values, first), column, at
    column.extend([1.5, 0.25, None], 0)
    column.column(0, 2)                     # a MicrosColumn: 1.5, 0.25, made from 1500, 250 as read

A record's times are milliseconds rounded to three decimals (``records``), so
each is a whole number of microseconds: a 2-byte int while the column's
times stay from 0 to 65.534 ms (the time to first byte and the body of a
server on the same network), a 4-byte one past that, where an 8-byte float
was. A value is kept that way only when it reads back as the very float it
was (``us / 1000.0`` is the float nearest that decimal, as ``round(x, 3)``
is; so not -0.0, NaN, nor an int or a float with more decimals from another
instrumentation): any other is kept aside by row (a :class:`~.column_kinds.Rare`),
as :class:`~.column_kinds.Numbers` keeps a value of another type. A time past
35 minutes (2**31 us: a long job's start offsets) widens the column to 8 bytes
a row. A column widens once for all its rows, as ``Coded`` does.

Read: :class:`MicrosColumn` is the floats of rows ``start`` to ``stop`` when
every row has its time, each made when read (iterating runs at C speed); a
column with missing rows reads as a list, as ``Numbers`` gives one.
:func:`floats_in_place` tells the readers that rank or sweep the times that
they need not copy one.
"""

from __future__ import annotations

import operator
from array import array
from collections.abc import Iterator, Sequence
from itertools import repeat
from math import copysign
from typing import Any, overload

from .column_kinds import Rare

#: Each width a column may take, narrowest first: its missing marker, the lowest and highest value kept.
_WIDTHS = {"H": (65535, 0, 65534), "i": (-(1 << 31), -(1 << 31) + 1, (1 << 31) - 1),
           "q": (-(1 << 63), -(1 << 63) + 1, (1 << 63) - 1)}
_MISSING = {typecode: missing for typecode, (missing, _, _) in _WIDTHS.items()}
_WIDER = {"H": "i", "i": "q"}


class Micros:
    """One column of times in ms, kept as whole microseconds (see the module doc)."""

    __slots__ = ("values", "aside", "absent")

    def __init__(self) -> None:
        self.values: array[int] = array("H")
        self.aside = Rare()  # values not kept as microseconds, by row
        self.absent = 0  # rows without a value in ``values`` (missing, or kept aside)

    def extend(self, values: Sequence[Any], first: int) -> None:
        if set(map(type, values)) <= {float} and (0.0 not in values or _no_negative_zero(values)):
            try:
                micros = list(map(round, map(operator.mul, values, repeat(1000.0))))
            except (ValueError, OverflowError):  # NaN, infinity: one at a time
                pass
            else:
                # (``_fits`` widens the column for the batch, and refuses a value past 8 bytes.)
                if all(map(operator.eq, map(operator.truediv, micros, repeat(1000.0)), values)) and self._fits(micros):
                    self.values.extend(array(self.values.typecode, micros))
                    return
        for row, value in enumerate(values, first):
            self.append(value, row)

    def _fits(self, micros: Sequence[int]) -> bool:
        """Whether ``values`` can take ``micros``, widened to 8 bytes a row if need be."""
        if not micros:
            return True
        low, high = min(micros), max(micros)
        while True:
            missing, lowest, highest = _WIDTHS[self.values.typecode]
            if lowest <= low and high <= highest:
                return True
            wider = _WIDER.get(self.values.typecode)
            if wider is None:
                return False
            self.values = array(wider, [_MISSING[wider] if v == missing else v for v in self.values])

    def append(self, value: Any, row: int) -> None:
        # (NaN != NaN; a time past 1e15 ms, 30,000 years, is no time: aside as it is.)
        if value.__class__ is float and value == value and abs(value) < 1e15 and (value or copysign(1.0, value) > 0):
            micros = round(value * 1000.0)
            if micros / 1000.0 == value and self._fits((micros,)):
                self.values.append(micros)
                return
        self.values.append(_MISSING[self.values.typecode])
        self.absent += 1
        if value is not None:
            self.aside.append(value, row)

    def column(self, start: int, stop: int) -> Sequence[Any]:
        if not self.absent:
            return MicrosColumn(self.values if start == 0 and stop == len(self.values) else self.values[start:stop])
        missing = _MISSING[self.values.typecode]
        return self.aside.overlay([None if value == missing else value / 1000.0 for value in self.values[start:stop]],
                                  start)

    def at(self, row: int) -> Any:
        aside = self.aside.at(row)
        if aside is not None:
            return aside
        value = self.values[row]
        return None if value == _MISSING[self.values.typecode] else value / 1000.0


class MicrosColumn(Sequence[float]):
    """Whole microseconds read as the milliseconds they stand for, each float made when read."""

    __slots__ = ("micros",)

    def __init__(self, micros: array[int]) -> None:
        self.micros = micros

    def __len__(self) -> int:
        return len(self.micros)

    @overload
    def __getitem__(self, index: int) -> float: ...
    @overload
    def __getitem__(self, index: slice) -> array[float]: ...
    def __getitem__(self, index: int | slice) -> float | array[float]:
        if isinstance(index, slice):
            return array("d", map(operator.truediv, self.micros[index], repeat(1000.0)))
        return self.micros[index] / 1000.0

    def __iter__(self) -> Iterator[float]:
        return map(operator.truediv, self.micros, repeat(1000.0))

    def take(self, rows: Sequence[int]) -> MicrosColumn:
        """The rows ``rows``, in that order."""
        return MicrosColumn(array(self.micros.typecode, map(self.micros.__getitem__, rows)))


def _no_negative_zero(values: Sequence[float]) -> bool:
    return all(copysign(1.0, value) > 0 for value in values if value == 0.0)


def floats_in_place(values: Sequence[Any]) -> bool:
    """Whether ``values`` is a column of floats every row has (an ``array`` of doubles, or a
    :class:`MicrosColumn`): ranked, summed and swept as it is, never copied into a list."""
    return isinstance(values, MicrosColumn) or (isinstance(values, array) and values.typecode == "d")
