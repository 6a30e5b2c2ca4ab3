"""What one request record says: succeeded, failed, or neither; and how to name its outcome.

Pure functions over a request record (see ``analysis``), shared by the
figures (``analysis``) and the findings (``diagnosis``). Records of job files
written by format version 1 read the same way (their keys are a subset).

- *successful*: a 2xx answer whose body arrived without an error;
- *failed*: no answer (``status_code`` None), an answer >= 400, or an error
  while the body was read (``error_phase`` "body": the record of a
  ``ReadTimeout`` in the middle of a 200's body, with its status kept), or an
  attempt the job itself ended (``error_phase`` "aborted": it closed the
  client under it, or cancelled it);
- *other*: 1xx and 3xx answers: a redirect hop is part of a logical request
  and is never a failure.
"""

from __future__ import annotations

import operator
from array import array
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from itertools import islice
from typing import Any, cast

from .column_kinds import CodedColumn, narrowest
from .time_columns import MicrosColumn, floats_in_place

Record = Mapping[str, Any]

#: Transport errors meaning the connection broke or closed, as opposed to a timeout.
DROPS = frozenset({"RemoteProtocolError", "ReadError", "WriteError", "ConnectionResetError",
                   "ServerDisconnectedError", "ClientOSError", "ConnectionError", "ChunkedEncodingError",
                   "IncompleteRead", "ProtocolError"})


class Records(list[Any]):
    """A job's request records, never changed once made, that keep each column read from them.

    A head reads the status of every request six times (outcomes, status keys,
    finals, three rules), the start three times: over a million records spread
    through the heap each read was 80 ms. :func:`by_start` returns one.
    """

    __slots__ = ("columns",)

    def __init__(self, records: Iterable[Record] = ()) -> None:
        super().__init__(records)
        self.columns: dict[str, Sequence[Any]] = {}


def column(records: Sequence[Record], key: str) -> Sequence[Any]:
    """Each record's value of ``key`` (None where it has none), in order: ``[r.get(key) for r in records]``.

    Records whose class offers ``column(records, key)`` (the spool's
    ``SlimRecord``, a tuple) answer for all at once: the summary of a job
    reads a few fields of every request several times, and one Python-level
    ``get`` per field and request was a third of building it. :class:`Records`
    answer each key once, and so does a sequence that offers ``column_of(key)``
    (the spool's ``ColumnRecords``, read from its columns); the list returned is
    then shared: never change it.
    """
    own = getattr(records, "column_of", None)
    if own is not None:
        return own(key)
    kept = getattr(records, "columns", None)
    if kept is None:
        return _column(records, key)
    found = kept.get(key)
    if found is None:
        found = kept[key] = _column(records, key)
    return found


def _column(records: Sequence[Record], key: str) -> list[Any]:
    if not records:
        return []
    take = getattr(type(records[0]), "column", None)
    if take is not None:
        try:
            return take(records, key)
        except TypeError:
            pass  # records of mixed kinds: one at a time
    return [r.get(key) for r in records]


def by_start(records: Iterable[Record]) -> Records:
    """The records sorted by ``start_offset_ms`` (a missing one reads 0.0), as :class:`Records` (or, for a
    sequence that offers ``take(indexes)``, what that gives); stable: records that start together keep their
    order. Records in that order already come back as they are."""
    found = records if isinstance(records, Records) or hasattr(records, "take") else Records(records)
    sequence = cast(Sequence[Record], found)
    order = start_order(sequence)
    return cast(Records, sequence) if order is None else select(sequence, order)


def select(records: Sequence[Record], indexes: Iterable[int]) -> Records:
    """The records at ``indexes``, in that order, as :class:`Records`; a sequence that offers
    ``take(indexes)`` (the spool's ``ColumnRecords``) gives them without building each record."""
    take = getattr(records, "take", None)
    if take is not None:
        return take(indexes)
    return Records(records[i] for i in indexes)


def start_order(records: Sequence[Record]) -> list[int] | None:
    """The indexes of ``records`` in :func:`by_start` order; None when they are in that order already.

    A job's records arrive in the order they ended, which for a job of one
    request at a time is already start order: then no sort and no key per record.
    """
    found = column(records, "start_offset_ms")
    # A column of floats (every request has its start: the spool's columns) is read as it is, no list.
    starts = found if floats_in_place(found) or isinstance(found, array) else [start or 0.0 for start in found]
    if all(map(operator.le, starts, islice(starts, 1, None))):
        return None
    keys = array("d", starts) if isinstance(starts, MicrosColumn) else starts  # (a float a row: read at C speed)
    return sorted(range(len(keys)), key=keys.__getitem__)


def pick(records: Sequence[Record], indexes: Iterable[int]) -> list[Record]:
    """The records at ``indexes`` as a list; a sequence that offers ``kept(indexes)`` (the spool's
    ``ColumnRecords``) builds them a chunk at a time and gives the same objects wherever they are read."""
    kept = getattr(records, "kept", None)
    if kept is not None:
        return kept(indexes)
    return [records[i] for i in indexes]


_NUMBER_KINDS = frozenset({int, float, type(None)})
_IS_NOT_NONE = partial(operator.is_not, None)


def numbers(values: Sequence[Any], *, bools: bool = False) -> list[float]:
    """The numbers among ``values`` as floats, in order: None and whatever is not a number left out
    (booleans too, unless ``bools``). A column of plain floats and Nones converts at C speed."""
    kinds = set(map(type, values))
    if kinds <= {float}:
        return list(values)  # a column of times, as a job's usually are
    if kinds <= _NUMBER_KINDS:
        return list(map(float, filter(_IS_NOT_NONE, values)))
    return [float(v) for v in values if isinstance(v, (int, float)) and (bools or not isinstance(v, bool))]


#: What :func:`outcomes` codes (its ``values``).
OUTCOMES = ("failed", "ok", "other")


def outcomes(records: Sequence[Record]) -> CodedColumn:
    """:func:`outcome` of each record, in order (read by columns), a byte each (a list of a million took 8 MB
    of a head's peak)."""
    statuses, phases = column(records, "status_code"), column(records, "error_phase")
    if _no_broken_body(phases) and _int_kinds(statuses):
        # The usual job: no body broke off, every status a number or None. One outcome per distinct status.
        code = {status: 0 if status is None or status >= 400 else 1 if 200 <= status < 300 else 2
                for status in set(statuses)}
        return CodedColumn(array("B", map(code.__getitem__, statuses)), OUTCOMES)
    found = array("B")
    for status, phase_ in zip(statuses, phases):
        if status is None or phase_ in ("body", "aborted") or status >= 400:
            found.append(0)
        else:
            found.append(1 if 200 <= status < 300 else 2)
    return CodedColumn(found, OUTCOMES)


def status_keys(records: Sequence[Record]) -> CodedColumn:
    """:func:`status_key` of each record, in order (read by columns), coded as :func:`outcomes` is."""
    statuses, phases = column(records, "status_code"), column(records, "error_phase")
    if _no_broken_body(phases) and _int_kinds(statuses) and None not in statuses:
        distinct = list(set(statuses))
        code = {status: i for i, status in enumerate(distinct)}
        return CodedColumn(array(narrowest(len(distinct)), map(code.__getitem__, statuses)), list(map(str, distinct)))
    keys = []
    for status, phase_, error in zip(statuses, phases, column(records, "error_type")):
        if status is None or phase_ in ("body", "aborted"):
            keys.append(str(error or "NetworkError"))
        else:
            keys.append(str(status))
    names = list(dict.fromkeys(keys))
    index = {name: i for i, name in enumerate(names)}
    return CodedColumn(array(narrowest(len(names)), map(index.__getitem__, keys)), names)


def _no_broken_body(phases: Sequence[Any]) -> bool:
    return "body" not in phases and "aborted" not in phases


def _int_kinds(statuses: Sequence[Any]) -> bool:
    """Every status an ``int`` or None (not a bool, nor text from a hostile span: those take the slow path)."""
    return set(map(type, statuses)) <= {int, type(None)}


def broke_in_body(record: Record) -> bool:
    """An answer came, then its body did not arrive whole: it broke off (``error_phase``
    "body") or the job stopped reading it (``aborted``)."""
    return record.get("error_phase") in ("body", "aborted") and record.get("status_code") is not None


def failed(record: Record) -> bool:
    status = record.get("status_code")
    return status is None or status >= 400 or broke_in_body(record)


def succeeded(record: Record) -> bool:
    status = record.get("status_code")
    return status is not None and 200 <= status < 300 and not broke_in_body(record)


def outcome(record: Record) -> str:
    """``"ok"``, ``"failed"`` or ``"other"`` (as :func:`succeeded` / :func:`failed` say), in one look."""
    status = record.get("status_code")
    if status is None:
        return "failed"
    if record.get("error_phase") in ("body", "aborted"):
        return "failed"
    if status >= 400:
        return "failed"
    return "ok" if status >= 200 and status < 300 else "other"


def status_key(record: Record) -> str:
    """The breakdown key: the status code as text; the error type when no answer came or its body broke."""
    status = record.get("status_code")
    if status is None or broke_in_body(record):
        return str(record.get("error_type") or "NetworkError")
    return str(status)


def phase(record: Record) -> str | None:
    """Where a failed attempt failed: ``pool``, ``connect``, ``send``, ``headers``, ``body``, or
    ``aborted`` (the job closed its client or cancelled the request); None for an answer."""
    return phase_of(record.get("status_code"), record.get("error_phase"), record.get("error_type"))


def phase_of(status: Any, error_phase: Any, error_type: Any) -> str | None:
    """:func:`phase` from a record's ``status_code``, ``error_phase`` and ``error_type`` (read by column)."""
    if error_phase:
        return str(error_phase)
    if status is not None:
        return None
    error = str(error_type or "")
    if error.startswith("Connect"):
        return "connect"
    return "pool" if error == "PoolTimeout" else "headers"


def is_timeout(record: Record) -> bool:
    return "Timeout" in str(record.get("error_type") or "")


def is_drop(record: Record) -> bool:
    return str(record.get("error_type") or "") in DROPS


def is_refused(record: Record) -> bool:
    return phase(record) == "connect" and not is_timeout(record)
