"""The debug sampler: record nothing while debug is off.

:class:`DebugSampler` decides at the root of a trace (a job span, or a
request made outside any job); :func:`debug_sampler` wraps it in the SDK's
``ParentBased`` sampler so every span under a recorded root is recorded too,
and a job that started while debug was on is traced to its end even if debug
turns off half-way.

Like every SDK ``Sampler``, ``should_sample`` is called on the thread that
starts the span, for every span; it must be fast and must not raise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

from .switch import DebugSwitch

if TYPE_CHECKING:
    from .remote_switch import RemoteSwitch

_DROP = SamplingResult(Decision.DROP)


class DebugSampler(Sampler):
    """Samples every root span while the switch is on, none while it is off."""

    def __init__(self, switch: DebugSwitch | RemoteSwitch) -> None:
        self.switch = switch

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        try:
            on = self.switch.is_on()
        except Exception:  # noqa: BLE001 - a sampler must never raise into the job
            return _DROP
        if not on:
            return _DROP
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes, trace_state)

    def get_description(self) -> str:
        where = getattr(self.switch, "path", None) or getattr(self.switch, "url", "")
        return f"DebugSampler{{{where}}}"


def debug_sampler(switch: DebugSwitch | RemoteSwitch) -> Sampler:
    """The sampler to install: parent-based, with :class:`DebugSampler` at the root."""
    return ParentBased(root=DebugSampler(switch))
