"""batch_debug.instrumentation: set up tracing and mark jobs and items.

Usage::

    from batch_debug.instrumentation import setup, job_span, item_span

    setup()
    with job_span("job-42"):
        with item_span(item_id) as item:
            ...
"""

from .pipeline import Pipeline, current_pipeline, setup
from .spans import item_span, job_span

__all__ = ["Pipeline", "current_pipeline", "item_span", "job_span", "setup"]
