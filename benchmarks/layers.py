"""Layers of "debug on" taken away one at a time: what each costs a request (the bench's ``layers`` section).

Usage (``client.py`` does this before its job)::

    import layers
    layers.take_away("unencoded")

The sync "on" goal is a bound on everything a recorded request costs. To
know which part of it a change could win, the bench runs the same job with
the top layers taken away, side by side with the whole and with the client
alone:

- ``unencoded``: everything but the spans' OTLP/JSON for the job file
  (``spool.resource_spans_text`` gives an empty ResourceSpans, ``{}``, for
  each batch: the file stays valid, with no spans in it);
- ``unemitted``: each attempt captured (its timings, headers, body wrapped
  and counted) but never made a span: no span, record, file entry or
  encoding for requests (``exchange.Attempt._emit`` does nothing);
- ``unattempted``: the job's and items' spans only; requests pass the gate
  untraced (``transport._begin`` gives no attempt).

So ``on - unencoded`` is the encoder's share, ``unencoded - unemitted`` the
span, record, summary columns and spool, ``unemitted - unattempted`` the
capture on the request's path, ``unattempted - bare`` the gate, job and items.
These are measuring tools only: each replaces a private name of the project,
and fails loudly (``AttributeError``) if that name is gone.
"""

from __future__ import annotations

from typing import Any

#: What each layer taken away leaves out (the bench prints these beside its figures).
LAYERS = {
    "unencoded": "no spans encoded for the job file",
    "unemitted": "attempts captured, never made spans or records",
    "unattempted": "job and item spans only, requests untraced",
}


def take_away(layer: str) -> None:
    """Replace the part of the recording path that ``layer`` names (see the module doc)."""
    if layer == "unencoded":
        from batch_debug.collector import spool

        _replace(spool, "resource_spans_text", lambda spans, entries=None: "{}")
    elif layer == "unemitted":
        from batch_debug.instrumentation import exchange

        _replace(exchange.Attempt, "_emit", lambda self, end: None)
    elif layer == "unattempted":
        from batch_debug.instrumentation import transport

        _replace(transport, "_begin", lambda *args: None)
    else:
        raise ValueError(f"unknown layer {layer!r}; known: {', '.join(LAYERS)}")


def _replace(owner: Any, name: str, stand_in: Any) -> None:
    getattr(owner, name)  # the name must exist: a stand-in for nothing would measure nothing
    setattr(owner, name, stand_in)
