"""A reduced form of `make loadtest`: concurrent clients while jobs run, no error answers."""

from __future__ import annotations

import json
import subprocess
import sys

from support import REPO


def test_dashboard_under_concurrent_load_answers_every_request() -> None:
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "loadtest.py"), "--clients", "10",
                          "--seconds", "1.5"], capture_output=True, text=True, timeout=180)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert out.returncode == 0, figures["first_errors"]
    assert figures["errors"] == 0
    assert figures["requests"] > 50
    assert figures["jobs_written"] >= 1
    # Memory stays bounded: a few hundred small downloads must not pile up in the server.
    assert figures["server_rss_mb_peak"] - figures["server_rss_mb_before"] < 100
