"""The web page ("Diagnostics > Batch Debug") and the health check.

The page is one Jinja template plus plain JS and CSS from ``static/``: no
CDN, no build step, so it works on machines without internet. It holds no
data itself; the script reads everything from the API, sending the bearer
token the operator typed (kept in ``sessionStorage``) when one is required.
It runs under ``headers.PAGE_CSP``: no inline script or style (positions and
widths are set through the CSSOM), nothing from other origins, no framing.
Like every route, it answers only to allowed ``Host`` names (``auth``).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, jsonify, render_template

import batch_debug

from .auth import token_required
from .openapi import operation
from .schemas import ITEM_ID_EXPECTED

logger = logging.getLogger(__name__)

bp = Blueprint("web", __name__)


@bp.get("/")
@operation("The Batch Debug web page", responses={200: {"description": "HTML page",
                                                        "content": {"text/html": {"schema": {"type": "string"}}}}})
def index() -> Any:
    """The Diagnostics > Batch Debug page."""
    return render_template(
        "index.html",
        api_base="/api/v1/batch-debug",
        token_required=token_required(current_app),
        jellyfin_configured=bool(current_app.config.get("JELLYFIN_URL") and current_app.config.get("JELLYFIN_API_KEY")),
        version=batch_debug.__version__,
        item_id_expected=ITEM_ID_EXPECTED,
    )


@bp.get("/healthz")
@operation("Liveness check (no auth)", responses={200: "Health"})
def healthz() -> Any:
    """Always ``{"status": "ok"}`` while the server answers."""
    return jsonify({"status": "ok"})
