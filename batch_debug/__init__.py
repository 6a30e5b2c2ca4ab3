"""batch-debug: per-job OpenTelemetry debug traces for httpx batch jobs.

The code lives in the repository's top-level folders (``collector/``,
``instrumentation/``, ``dashboard/``, ``jellyfin/``); packaging maps them
under this import root.
"""

__version__ = "0.2.0"
