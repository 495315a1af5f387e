"""The pure ES modules (tensor.js, exercise.js, graph-model.js) under Node's own test runner.

Their tests read real answers of this API from ``tests/js/fixtures/graphs.json``; the first test
here checks that file is what the API answers now (rewrite it with
``.venv/bin/python -m tests.test_js``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "js" / "fixtures" / "graphs.json"
#: The presets the JS tests use: numbers (the book's apples), labels, and tensors.
PRESETS = ("apples", "softmax_with_loss", "two_layer_net")


def api_answers() -> dict[str, Any]:
    """GET /graphs/ops and, for each preset used, its graph and POST /graphs/evaluate's answer."""
    from fastapi.testclient import TestClient

    from app.main import create_app
    from app.settings import Settings

    # NOTE: not entered as a context manager: these routes need no lifespan (no executor).
    client = TestClient(create_app(Settings()))
    ops = client.get("/graphs/ops").json()["ops"]
    presets = {p["id"]: p["graph"] for p in client.get("/graphs/presets").json()["presets"]}
    graphs = {}
    for name in PRESETS:
        answer = client.post("/graphs/evaluate", json=presets[name])
        assert answer.status_code == 200, answer.text
        graphs[name] = {"graph": presets[name], "evaluation": answer.json()}
    return {"ops": ops, "graphs": graphs}


def test_the_fixtures_are_what_the_api_answers() -> None:
    stored = json.loads(FIXTURES.read_text())
    assert stored == api_answers(), (
        "tests/js/fixtures/graphs.json is stale: rewrite it with .venv/bin/python -m tests.test_js"
    )


def test_the_pure_js_modules_pass_their_node_tests() -> None:
    node = shutil.which("node")
    assert node, "the JS unit tests need Node (it comes with npm)"
    done = subprocess.run(
        [node, "--test", "tests/js/"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # Every test of every file ran and passed (none skipped or left as todo).
    summary = dict(
        line.removeprefix("# ").split(" ", 1)
        for line in done.stdout.splitlines()
        if line.startswith("# ") and line.count(" ") == 2
    )
    written = sum(f.read_text().count("\ntest(") for f in (ROOT / "tests" / "js").glob("*.test.js"))
    assert written >= 30
    assert int(summary["tests"]) == int(summary["pass"]) == written, done.stdout
    assert summary["skipped"] == summary["todo"] == summary["fail"] == "0", done.stdout


if __name__ == "__main__":
    FIXTURES.parent.mkdir(parents=True, exist_ok=True)
    FIXTURES.write_text(json.dumps(api_answers(), indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {FIXTURES.relative_to(ROOT)}")
