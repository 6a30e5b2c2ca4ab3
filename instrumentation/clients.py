"""Every HTTP client we trace, instrumented for one provider and undone together.

Usage (``pipeline`` does this when a pipeline is installed, swapped or reset)::

    instrument(provider, is_on=switch_is_on, secrets=current_secrets)
    uninstrument()
    instrumented_clients()        # ("httpx", "aiohttp", "requests") when all are installed

httpx is always traced (``httpx_setup``). aiohttp and requests are traced
when the client and its OpenTelemetry instrumentation are installed (the
``batch-debug[aiohttp]`` and ``batch-debug[requests]`` extras): their
modules (``aiohttp_setup``, ``requests_setup``) follow the same contract as
``httpx_setup``: ``instrument(provider, is_on=...)`` is idempotent per
provider and puts our gate in front of the OpenTelemetry instrumentation,
``uninstrument()`` leaves the client as it was. A client that is not
installed is skipped without a word; one whose set-up fails is logged and
skipped, so the others (and the job) go on.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Callable, Iterable
from types import ModuleType

from opentelemetry.sdk.trace import TracerProvider

from . import httpx_setup

logger = logging.getLogger(__name__)

#: Our module for each optional client, and the modules it needs installed.
_OPTIONAL = {
    "aiohttp": ("aiohttp_setup", ("aiohttp", "opentelemetry.instrumentation.aiohttp_client")),
    "requests": ("requests_setup", ("requests", "opentelemetry.instrumentation.requests")),
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _optional() -> dict[str, ModuleType]:
    """Our set-up module of each optional client whose client and instrumentation are installed."""
    found: dict[str, ModuleType] = {}
    for client, (ours, needs) in _OPTIONAL.items():
        if all(_installed(name) for name in needs):
            try:
                found[client] = importlib.import_module(f".{ours}", __package__)
            except Exception:  # noqa: BLE001 - one client's failure must not stop the others
                logger.exception("batch-debug could not load its %s support; %s requests go untraced",
                                 client, client)
    return found


def instrument(provider: TracerProvider, *, is_on: Callable[[], bool],
               secrets: Callable[[], Iterable[str]]) -> None:
    """Every installed client reports to ``provider`` behind the gate (``is_on``)."""
    httpx_setup.instrument(provider, is_on=is_on, secrets=secrets)
    for client, module in _optional().items():
        try:
            module.instrument(provider, is_on=is_on)
        except Exception:  # noqa: BLE001
            logger.exception("batch-debug could not instrument %s; its requests go untraced", client)


def uninstrument() -> None:
    """Every client as it was before :func:`instrument`."""
    httpx_setup.uninstrument()
    for client, module in _optional().items():
        try:
            module.uninstrument()
        except Exception:  # noqa: BLE001
            logger.exception("batch-debug could not uninstrument %s", client)


def instrumented_clients() -> tuple[str, ...]:
    """The clients :func:`instrument` traces in this environment, httpx first."""
    return ("httpx", *_optional())
