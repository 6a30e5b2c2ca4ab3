"""How the reference worker talks to Jellyfin: :class:`WorkerConfig`, checked when made.

Usage::

    config = WorkerConfig(server="http://jellyfin:8096", api_key=key, concurrency=4)
    config.auth_headers(), config.auth_params()      # the key, in the form ``auth`` names

A bad value raises ``ValueError`` with a whole sentence. What each field
does to a run is described in ``worker``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

AUTH_MODES = ("header", "query", "legacy-header", "legacy-query")
SESSION_STRATEGIES = ("shared", "per-request")
MAX_RETRY_AFTER_SECONDS = 30.0


@dataclass(frozen=True)
class WorkerConfig:
    """How the worker talks to Jellyfin. Defaults follow the original tool."""

    server: str
    api_key: str
    user_id: str | None = None
    max_attempts: int = 3
    backoff: tuple[float, ...] = (1.0, 2.0)
    min_interval: float = 0.1
    session_strategy: str = "shared"
    concurrency: int = 1
    auth: str = "header"
    timeout: float = 10.0
    output_dir: Path | None = None
    #: The longest Retry-After the worker waits for (tests: 0, no waiting).
    max_retry_after: float = MAX_RETRY_AFTER_SECONDS
    #: Most bytes read of any one answer's body; None: no cap.
    max_body_bytes: int | None = None
    #: Seconds the whole run may take; None: no deadline.
    deadline_seconds: float | None = None

    def __post_init__(self) -> None:
        if not self.server.startswith(("http://", "https://")):
            raise ValueError(f"server must be an http:// or https:// URL, not {self.server!r}.")
        if self.auth not in AUTH_MODES:
            raise ValueError(f"auth must be one of {', '.join(AUTH_MODES)}, not {self.auth!r}.")
        if self.session_strategy not in SESSION_STRATEGIES:
            raise ValueError(
                f"session_strategy must be one of {', '.join(SESSION_STRATEGIES)}, not {self.session_strategy!r}."
            )
        if self.max_attempts < 1 or self.concurrency < 1:
            raise ValueError("max_attempts and concurrency must be at least 1.")
        if self.min_interval < 0 or self.timeout <= 0 or self.max_retry_after < 0:
            raise ValueError("min_interval and max_retry_after must be >= 0 and timeout > 0.")
        if self.max_body_bytes is not None and (isinstance(self.max_body_bytes, bool) or self.max_body_bytes < 1):
            raise ValueError(f"max_body_bytes must be None or at least 1, not {self.max_body_bytes!r}.")
        if self.deadline_seconds is not None and not self.deadline_seconds > 0:
            raise ValueError(f"deadline_seconds must be None or positive, not {self.deadline_seconds!r}.")

    @property
    def base_url(self) -> str:
        return self.server.rstrip("/")

    def auth_headers(self) -> dict[str, str]:
        if self.auth == "header":
            return {"Authorization": f'MediaBrowser Client="batch-debug", Device="worker", '
                                     f'DeviceId="batch-debug", Version="1", Token="{self.api_key}"'}
        if self.auth == "legacy-header":
            return {"X-Emby-Token": self.api_key}
        return {}

    def auth_params(self) -> dict[str, str]:
        if self.auth == "query":
            return {"ApiKey": self.api_key}
        if self.auth == "legacy-query":
            return {"api_key": self.api_key}
        return {}
