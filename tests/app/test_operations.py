"""One server, as an operator sees it: liveness, readiness, metrics that move, parseable logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx

from tests.app.sse_client import stream
from tests.conftest import ROOT, Digits, Server, free_port
from tests.observability import LINE, samples


def test_liveness_and_readiness_of_one_server(live_server: Server) -> None:
    assert httpx.get(f"{live_server.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{live_server.url}/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "parts": {"database": "ok"}}


def test_metrics_count_requests_by_route_and_the_events_of_a_run(
    tmp_path: Path, digits: Digits
) -> None:
    server = Server(tmp_path / "data", {**digits.env, "BACKPROP_LAB_WORKERS": "1"}).start()
    try:
        before = samples(httpx.get(f"{server.url}/metrics").text)
        for _ in range(2):
            assert httpx.get(f"{server.url}/train/nope").status_code == 404
        r = httpx.post(f"{server.url}/train", json={"iterations": 60, "seed": 1})
        log = stream(server.url, r.json()["id"])
        assert log[-1].data["status"] == "completed"
        text = httpx.get(f"{server.url}/metrics").text
    finally:
        server.stop()
    assert text.startswith("# HELP")
    after = samples(text)
    key = "backprop_lab_http_requests_total{method=GET,route=/train/{run_id},status=404}"
    assert after[key] - before.get(key, 0) == 2
    assert not any("nope" in k for k in after), "labels hold route templates, not raw paths"
    hist = key.replace("http_requests_total", "http_request_duration_seconds_count")
    assert after[hist] - before.get(hist, 0) == 2
    events = sum(v for k, v in after.items() if k.startswith("backprop_lab_events_written_total"))
    assert events - sum(
        v for k, v in before.items() if k.startswith("backprop_lab_events_written_total")
    ) == len(log)
    assert after["backprop_lab_runs{status=completed}"] == 1
    assert after["backprop_lab_queue_depth{}"] == 0
    assert after["backprop_lab_database_up{}"] == 1
    assert after["backprop_lab_sse_streams_open{}"] == 0  # the stream above has ended


def _serve(tmp_path: Path, env: dict[str, str]) -> str:
    """Run a real uvicorn with its access log on, make a few requests, stop it; its output."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    out = tmp_path / f"server-{port}.log"
    full = {**os.environ, "BACKPROP_LAB_DATA_DIR": str(tmp_path / "data"), **env}
    with open(out, "wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port)],
            cwd=ROOT,
            env=full,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            assert httpx.get(f"{url}/train/missing").status_code == 404
        finally:
            proc.terminate()
            proc.wait(20)
    return out.read_text()


def test_server_logs_are_timestamped_levelled_lines_or_json(tmp_path: Path) -> None:
    text = _serve(tmp_path, {})
    parsed = []
    for line in text.splitlines():
        if line.startswith(" ") or not line:
            continue
        m = LINE.match(line)
        assert m, f"a line without time, level and logger: {line!r}"
        datetime.fromisoformat(m.group(1).replace("Z", "+00:00"))
        parsed.append(m)
    access = [m for m in parsed if m.group(3) == "uvicorn.access"]
    assert any("GET /train/missing" in m.group(5) and "404" in m.group(5) for m in access)
    assert any(m.group(3) == "uvicorn.error" and m.group(2) == "INFO" for m in parsed)
    # the database's migrations are said; alembic's loading of its plugins is not
    migrations = [m for m in parsed if m.group(3) == "alembic.runtime.migration"]
    assert any("Running upgrade" in m.group(5) for m in migrations), text
    assert not [m.group(0) for m in parsed if m.group(3) == "alembic.runtime.plugins"]

    lines = [
        json.loads(ln) for ln in _serve(tmp_path, {"BACKPROP_LAB_LOG_FORMAT": "json"}).splitlines()
    ]
    for line in lines:
        datetime.fromisoformat(line["time"].replace("Z", "+00:00"))
        assert line["level"] in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
        assert line["logger"] and isinstance(line["message"], str)
    assert any(
        ln["logger"] == "uvicorn.access" and "GET /train/missing" in ln["message"] for ln in lines
    )
