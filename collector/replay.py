"""A recorded job's spans as finished SDK spans again, to send them anywhere.

Usage::

    spans = job_spans(jobfile.load(path))            # list[ReadableSpan], in file order
    for batch in batches(spans, 512):
        exporter.export(batch)                       # any SpanExporter: OTLP/HTTP, console, ...

A job file's ``resourceSpans`` is OTLP/JSON (hex ids, enums as integers,
64-bit integers as strings). It is read by the same decoder the sidecar's
``POST /v1/traces`` uses (``otlp_decode.json_spans``, straight from the loaded
document: the canonical form a job file holds takes its fast path, about
0.3 s for a 10k-request job instead of 8 s), so there is one OTLP/JSON parser
in the project, and what comes out is what the receiver would have built:
one ``Resource`` per resource group and one ``InstrumentationScope`` per
scope group, shared by their spans; trace, span and parent ids, names, kinds,
attributes (types kept), events, links, status and both timestamps exactly as
recorded. The parent's "is remote" flag rides on the span's ``flags`` and is
written back the same way by the OTLP encoders. Each request span gets its
record back from the document's ``requests`` (``span_records.with_records``:
a job file keeps it there only), so the spans rebuild the same job file
wherever they are sent.

Pure: no I/O; a malformed ``resourceSpans`` raises :class:`ReplayError` with
the decoder's sentence.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

from opentelemetry.sdk.trace import ReadableSpan

from .otlp_decode import OtlpDecodeError, json_spans
from .span_records import with_records

T = TypeVar("T")


class ReplayError(ValueError):
    """The job document holds no usable ``resourceSpans``; the message says why."""


def job_spans(document: Mapping[str, Any]) -> list[ReadableSpan]:
    """Every span of a job document (a loaded job file, or a ``{"resourceSpans": [...]}`` trace download)."""
    resource_spans = document.get("resourceSpans")
    if not isinstance(resource_spans, list):
        raise ReplayError("the file has no resourceSpans list (is it a batch-debug job file?)")
    # Through the receiver's own parser: it checks the OTLP/JSON form and maps hex ids to bytes, which
    # protobuf's JSON reader alone would misread as base64.
    try:
        return json_spans({"resourceSpans": with_records(resource_spans, document.get("requests"))})
    except OtlpDecodeError as exc:
        raise ReplayError(f"the file's resourceSpans are not valid OTLP/JSON: {exc}") from None


def batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size`` (the last one shorter)."""
    if size < 1:
        raise ValueError("the batch size must be at least 1")
    for start in range(0, len(items), size):
        yield items[start:start + size]
