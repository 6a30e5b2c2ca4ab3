"""What hostile clients and servers cost the dashboard, at the real limits.

Usage: python benchmarks/hostile.py [--sockets 800] [--poster-mb 200]

Two measurements, each against ``batch-debug serve``'s app in its own process:

1. *Half-sent requests* (slowloris): ``--sockets`` connections each send a
   request line and one header, then nothing. The server's threads and
   resident memory are read from /proc before and while they hang, and one
   ordinary ``/healthz`` must still be answered. Run against the server
   ``serve`` uses (waitress) and, side by side, Flask's development server
   (Werkzeug, ``threaded=True``), which it replaced.
2. *A huge poster through the Custom ID Test*: a Jellyfin simulator in this
   process serves a ``--poster-mb`` poster; ``POST /test-item`` must stop at
   its body cap (32 MiB by default). Reports the bytes the test read and
   the dashboard's resident memory before and after.

Prints a table, then as its last line one JSON object with the figures.
Figures only: nothing here passes or fails on a number (the test suite
checks the behaviour with tiny limits).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

PY = sys.executable
#: The dashboard as an operator starts it (`batch-debug serve`).
SERVE = [PY, "-m", "batch_debug.dashboard.cli", "serve"]
API = "/api/v1/batch-debug"
WERKZEUG = """
import sys
from batch_debug.dashboard.app import create_app
create_app({"DEBUG_DIR": sys.argv[2]}).run(host="127.0.0.1", port=int(sys.argv[1]), threaded=True)
"""
KEY = "hostile-bench-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def proc_status(pid: int) -> dict[str, float]:
    """Threads and resident memory (MB) of a process, from /proc."""
    figures = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            figures["rss_mb"] = int(line.split()[1]) / 1024
        elif line.startswith("Threads:"):
            figures["threads"] = float(line.split()[1])
    return figures


def start(command: list[str], port: int, env: dict[str, str]) -> subprocess.Popen:
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).raise_for_status()
            return server
        except httpx.HTTPError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise SystemExit(f"{command[:3]} did not start") from None
            time.sleep(0.1)


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def half_sent(command: list[str], port: int, env: dict[str, str], sockets: int) -> dict[str, object]:
    """Open ``sockets`` half-sent requests; the server's threads and memory before and while they hang."""
    server = start(command, port, env)
    held: list[socket.socket] = []
    try:
        before = proc_status(server.pid)
        for _ in range(sockets):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the blank line
            held.append(sock)
        time.sleep(2.0)  # let the server take them all in
        during = proc_status(server.pid)
        try:
            answered = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
        except httpx.HTTPError:
            answered = False
        return {"threads_before": before["threads"], "threads_during": during["threads"],
                "rss_mb_before": round(before["rss_mb"], 1), "rss_mb_during": round(during["rss_mb"], 1),
                "ordinary_request_answered": answered}
    finally:
        for sock in held:
            sock.close()
        stop(server)


def huge_poster(env: dict[str, str], folder: str, poster_mb: int) -> dict[str, object]:
    from batch_debug.jellyfin.shapes import Shapes
    from batch_debug.jellyfin.simulator import JellyfinSimulator

    with JellyfinSimulator(profile="healthy", api_key=KEY, shapes=Shapes(image_bytes=poster_mb << 20)) as sim:
        port = free_port()
        server = start([*SERVE, "--port", str(port), "--dir", folder], port,
                       {**env, "JELLYFIN_URL": sim.url, "JELLYFIN_API_KEY": KEY})
        try:
            before = proc_status(server.pid)["rss_mb"]
            answer = httpx.post(f"http://127.0.0.1:{port}{API}/test-item", json={"item_id": sim.item_ids[0]},
                                timeout=120).json()
            after = proc_status(server.pid)["rss_mb"]
        finally:
            stop(server)
    download = answer["attempts"][-1]
    return {"poster_mb": poster_mb, "cap_bytes": answer["limits"]["max_body_bytes"],
            "body_bytes_read": download["body_bytes"], "error": answer.get("error"),
            "rss_mb_before": round(before, 1), "rss_mb_after": round(after, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=800, help="half-sent requests held open (default 800)")
    parser.add_argument("--poster-mb", type=int, default=200, help="poster size for the Custom ID Test (< 256)")
    args = parser.parse_args()
    if not 0 < args.poster_mb < 256:
        parser.error("--poster-mb must be from 1 to 255 (the simulator holds a poster in memory)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("APHRODITE_BATCH_DEBUG")}
    folder = tempfile.mkdtemp(prefix="batch-debug-hostile-")
    figures: dict[str, object] = {}
    for name, script in (("waitress", None), ("werkzeug", WERKZEUG)):
        port = free_port()
        command = ([*SERVE, "--port", str(port), "--dir", folder] if script is None
                   else [PY, "-c", script, str(port), folder])
        print(f"{args.sockets} half-sent requests against {name} ...", file=sys.stderr, flush=True)
        figures[f"half_sent_{name}"] = half_sent(command, port, env, args.sockets)
    print(f"a {args.poster_mb} MB poster through the Custom ID Test ...", file=sys.stderr, flush=True)
    figures["huge_poster"] = huge_poster(env, folder, args.poster_mb)

    print(f"{'half-sent requests':<28}{'threads':>18}{'RSS MB':>20}{'other request':>16}")
    for name in ("waitress", "werkzeug"):
        row = figures[f"half_sent_{name}"]
        assert isinstance(row, dict)
        print(f"  {name:<26}{row['threads_before']:>8.0f} -> {row['threads_during']:<6.0f}"
              f"{row['rss_mb_before']:>10} -> {row['rss_mb_during']:<8}"
              f"{'answered' if row['ordinary_request_answered'] else 'NOT answered':>14}")
    poster = figures["huge_poster"]
    assert isinstance(poster, dict)
    print(f"Custom ID Test, {poster['poster_mb']} MB poster: read {poster['body_bytes_read'] / (1 << 20):.2f} MiB "
          f"(cap {poster['cap_bytes'] / (1 << 20):.0f} MiB); dashboard RSS {poster['rss_mb_before']} -> "
          f"{poster['rss_mb_after']} MB; error: {poster['error']}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
