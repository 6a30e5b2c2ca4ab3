"""A code book gives each distinct value (of its type) one code, whatever its window lets go."""

from __future__ import annotations

from array import array

from hypothesis import given, settings, strategies as st

from batch_debug.collector.code_book import CodeBook, TextValues
from batch_debug.collector.column_kinds import Coded

values = st.one_of(st.integers(-3, 40), st.booleans(), st.sampled_from([0.0, 1.0, 2.5]),
                   st.text(alphabet="ab1", max_size=3), st.none())


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(values, max_size=120), st.sampled_from([None, 2, 3, 8]))
def test_one_code_per_value_and_type_however_small_the_window(seen, window) -> None:
    book = CodeBook(window=window)
    model: dict[tuple[type, object], int] = {}
    for value in seen:
        code = book.code(value)
        expected = model.setdefault((value.__class__, value), code)
        assert code == expected, (value, code, expected)
        assert book.values[code] == value and book.values[code].__class__ is value.__class__
    assert len(book) == len(model)  # no value coded twice
    if window is not None:
        assert len(book.index) <= window


def test_a_million_request_jobs_ids_leave_the_dict_and_keep_their_codes() -> None:
    book = CodeBook(window=1 << 10)
    column = Coded(book)
    ids = [f"item-{n // 3}" for n in range(30_000)]
    column.extend(ids[:15_000], 0)
    column.extend(ids[15_000:], 15_000)
    assert len(book) == 10_000 and len(book.index) <= 1 << 10
    assert list(column.column(0, 30_000)) == ids
    again = Coded(book)  # an id seen long ago, from another column: the same code
    again.extend(["item-7", "item-9999", "item-new"], 0)
    assert list(again.codes) == [7, 9999, 10_000]


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.lists(st.one_of(st.text(), st.just("\ud800 lone"), st.integers(), st.none(), st.booleans(),
                          # Jellyfin item ids (kept as 16 bytes) and text that is nearly one (kept as text)
                          st.text("0123456789abcdef", min_size=31, max_size=33), st.text("0123456789abcdefABCDEF",
                                                                                         min_size=32, max_size=32),
                          st.just("0123456789abcdef0123456789abcdef\n")), max_size=40))
def test_text_values_read_back_equal_and_of_their_type(seen) -> None:
    kept = TextValues()
    for value in seen:
        kept.append(value)
    assert len(kept) == len(seen)
    assert [(v, v.__class__) for v in kept] == [(v, v.__class__) for v in seen]
    assert kept[-1:] == seen[-1:] and kept[::2] == seen[::2]
    if seen:
        assert kept[-1] == seen[-1]


def test_text_values_keep_4_bytes_an_end_and_widen_past_what_those_hold() -> None:
    kept = TextValues()
    kept.append("item-1")
    assert kept._ends.itemsize == 4  # 8 only past 4 GB of text
    # Past what the ends' type holds (4 GB; here a byte's 255, to try it): widened, every value kept.
    kept._ends = array("B", kept._ends)
    seen = ["item-1", "x" * 300, "item-2"]
    for value in seen[1:]:
        kept.append(value)
    assert kept._ends.itemsize == 8 and list(kept) == seen


def test_a_jellyfin_item_id_takes_16_bytes_and_reads_back_as_written() -> None:
    kept = TextValues()
    ids = ["8bbbb7eeffc05547b3dec57052aa49a7", "8BBBB7EEFFC05547B3DEC57052AA49A7", "8bbbb7eeffc05547b3dec57052aa49a",
           "item-7", "0" * 32]
    for value in ids:
        kept.append(value)
    assert list(kept) == ids and all(type(v) is str for v in kept)
    assert len(kept._text) == 16 + 32 + 31 + 6 + 16  # lower-case hex ids packed; upper case and the rest as text
