"""64-bit integers as OTLP/JSON text: accepted over exactly their range, by the schema and both decoding paths.

A nanosecond timestamp kept as an int attribute has 19 digits; the schema
once stopped at 18, so a whole batch from another SDK was refused.
"""

from __future__ import annotations

import json
import re

from hypothesis import given, settings, strategies as st

from batch_debug.collector import otlp_decode
from batch_debug.collector.otlp_schema import INT64_PATTERN, UINT64_PATTERN

INT64, UINT64 = re.compile(INT64_PATTERN), re.compile(UINT64_PATTERN)
EDGES = [0, 1, 10**18 - 1, 10**18, 2**63 - 1, 2**63, 10**19 - 1, 10**19, 2**64 - 1, 2**64, 10**20]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.integers(-(2**65), 2**65), st.sampled_from(EDGES + [-v for v in EDGES] + [-(2**63) - 1])))
def test_the_patterns_take_exactly_the_range(value: int) -> None:
    assert bool(INT64.fullmatch(str(value))) == (-(2**63) <= value < 2**63)
    assert bool(UINT64.fullmatch(str(value))) == (0 <= value < 2**64)


def _request(int_value: str, start: str) -> dict:
    span = {"traceId": "0" * 31 + "1", "spanId": "0" * 15 + "1", "name": "s", "startTimeUnixNano": start,
            "endTimeUnixNano": start, "attributes": [{"key": "ns", "value": {"intValue": int_value}}]}
    return {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}


def test_a_19_digit_int_attribute_is_received_by_both_paths() -> None:
    value, start = str(1_764_445_000_123_456_789), str(2**64 - 1)
    canonical = otlp_decode.json_spans(_request(value, start))  # the fast path
    body = json.dumps(_request(value, start)).encode()
    thorough = otlp_decode.request_spans(otlp_decode.parse_request(body, otlp_decode.JSON))  # schema + protobuf
    for spans in (canonical, thorough):
        assert spans[0].attributes["ns"] == int(value) and spans[0].start_time == 2**64 - 1


def test_one_past_the_range_is_refused_by_the_schema() -> None:
    body = json.dumps(_request(str(2**63), "1")).encode()
    try:
        otlp_decode.parse_request(body, otlp_decode.JSON)
    except otlp_decode.OtlpDecodeError as exc:
        assert "intValue" in str(exc)
    else:
        raise AssertionError("9223372036854775808 is not an int64")
