"""The README's "Step by step" under Several machines, run as written, and the units in deploy/.

Every fenced block after a ``<!-- deploy: KIND -->`` comment is taken from the README in
order: ``setup`` blocks run in one shell after another (what they export carries over),
each line of a ``service`` block is a long-running process started in the checkout, and
``backup`` blocks run once a run has trained. Only what the README's commands read from
the environment is substituted (``PGHOST``, ``PGPORT``, ``PGUSER``, ``REDIS_HOST``,
``REDIS_PORT``, ``LAB_DB_PASSWORD``; ``UVICORN_PORT`` and ``HOME`` per process, since the
"machines" here share one host).
"""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from harness.cluster import ROOT, Postgres, Redis, free_port
from tests.app.sse_client import stream, wait_status
from tests.conftest import Digits

README = (ROOT / "README.md").read_text()
DEPLOY = ROOT / "deploy"
BLOCK = re.compile(r"<!-- deploy: (\w+) -->\n```sh\n(.*?)```", re.S)


@dataclass
class Service:
    """One line of a service block, running."""

    line: str
    proc: subprocess.Popen[bytes]
    log: Path
    url: str | None


def blocks(kind: str) -> list[str]:
    """The README's marked blocks of one kind, in order."""
    return [body for k, body in BLOCK.findall(README) if k == kind]


def run_shell(script: str, env: dict[str, str], cwd: Path) -> dict[str, str]:
    """Run a block with bash (stopping at the first failure); the environment it leaves."""
    dump = cwd / ".env-after"
    full = f"set -euo pipefail\n{script}\nenv -0 > {shlex.quote(str(dump))}\n"
    done = subprocess.run(["bash", "-c", full], env=env, cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, f"README block failed:\n{script}\n{done.stdout}\n{done.stderr}"
    pairs = (item.split("=", 1) for item in dump.read_text().split("\0") if "=" in item)
    after = dict(pairs)
    dump.unlink()
    return after


def commands(block: str) -> list[str]:
    """The command lines of a block (comments and blank lines left out)."""
    return [ln for ln in block.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def test_the_readme_marks_every_step() -> None:
    kinds = [k for k, _ in BLOCK.findall(README)]
    assert kinds.count("setup") >= 3 and kinds.count("backup") >= 1
    service_lines = [c for b in blocks("service") for c in commands(b)]
    workers = [c for c in service_lines if "app.worker" in c]
    servers = [c for c in service_lines if "app.serve" in c]
    assert len(workers) >= 2 and len(servers) >= 2
    names = [shlex.split(c)[shlex.split(c).index("-n") + 1] for c in workers]
    assert len(set(names)) == len(names), f"worker names must differ: {names}"
    assert all(c.startswith(".venv/bin/") for c in service_lines)


@pytest.fixture
def services() -> Iterator[list[Service]]:
    """Processes the README starts; stopped (then killed) afterwards."""
    started: list[Service] = []
    yield started
    for s in started:
        if s.proc.poll() is None:
            os.killpg(s.proc.pid, signal.SIGKILL)
            s.proc.wait(10)


def test_the_readme_deployment_trains_a_run_across_servers(
    postgres: Postgres,
    redis_server: Redis,
    digits: Digits,
    tmp_path: Path,
    services: list[Service],
) -> None:
    env = {
        **os.environ,
        **digits.env,
        "PGHOST": "127.0.0.1",
        "PGPORT": str(postgres.port),
        "PGUSER": "lab",  # the harness's superuser
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(redis_server.port),
        "LAB_DB_PASSWORD": "s3cret42",
        "BACKPROP_LAB_WORKERS": "1",  # one training process per node: this host has 2 cores
    }
    # Only what the README sets, and the lab's dataset on a machine without the full MNIST.
    kept = {"BACKPROP_LAB_WORKERS", *digits.env}
    for key in [k for k in env if k.startswith("BACKPROP_LAB_") and k not in kept]:
        del env[key]
    for block in blocks("setup"):
        env = run_shell(block, env, tmp_path)
    assert env["BACKPROP_LAB_EXECUTOR"] == "celery"

    for i, line in enumerate(c for b in blocks("service") for c in commands(b)):
        home = tmp_path / f"machine-{i}"
        home.mkdir()
        port = free_port()
        log = home / "out.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                ["bash", "-c", f"exec {line}"],
                env={**env, "HOME": str(home), "UVICORN_PORT": str(port)},
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        url = f"http://127.0.0.1:{port}" if "app.serve" in line else None
        services.append(Service(line, proc, log, url))

    def up(s: Service) -> bool:
        assert s.proc.poll() is None, f"{s.line} exited:\n{s.log.read_text()[-3000:]}"
        if s.url is None:
            return b"training process " in s.log.read_bytes()
        try:
            return httpx.get(f"{s.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    deadline = time.monotonic() + 120
    while not all(up(s) for s in services):
        assert time.monotonic() < deadline, "the README's processes did not come up in 120 s"
        time.sleep(0.2)

    workers = [s for s in services if s.url is None]
    a, b = (s.url for s in services if s.url is not None)
    assert a and b
    r = httpx.post(f"{a}/train", json={"seed": 1, "iterations": 300}, timeout=30)
    assert r.status_code == 202, r.text
    run_id = r.json()["id"]
    events = stream(b, run_id)  # through the other server, to the end
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    assert events[-1].event == "done" and events[-1].data["status"] == "completed"
    assert wait_status(a, run_id, {"completed"})["status"] == "completed"
    names = {re.search(rb"(worker\d)@", w.log.read_bytes()) for w in workers}
    assert None not in names, "each worker logs the node name the README gave it"

    backups = tmp_path / "backups"
    backups.mkdir()
    for block in blocks("backup"):
        run_shell(block, env, backups)
    dumps = list(backups.glob("*.dump"))
    assert len(dumps) == 1
    listing = subprocess.run(
        ["pg_restore", "--list", str(dumps[0])], capture_output=True, text=True, check=True
    ).stdout
    assert "TABLE DATA public runs" in listing and "TABLE DATA public weights" in listing

    # compose.yaml's worker healthcheck finds the workers by the names -n gave them ...
    assert healthcheck(env) == 0
    # Draining: SIGTERM is Celery's warm shutdown, and the worker exits by itself.
    for w in workers:
        os.killpg(w.proc.pid, signal.SIGTERM)
    for w in workers:
        assert w.proc.wait(60) == 0, w.log.read_text()[-3000:]
    assert healthcheck(env) == 1  # ... and fails once they are gone


def healthcheck(env: dict[str, str]) -> int:
    """Exit code of compose.yaml's worker healthcheck, run here against the README's broker."""
    import yaml

    test = yaml.safe_load((ROOT / "compose.yaml").read_text())["x-worker-healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    done = subprocess.run(
        [sys.executable, "-c", test[3]], env=env, cwd=ROOT, capture_output=True, timeout=60
    )
    return done.returncode


UNITS = sorted(DEPLOY.glob("*.service"))


def test_compose_workers_have_names_its_healthcheck_follows() -> None:
    compose = (ROOT / "compose.yaml").read_text()
    assert '"-n", "worker1@%h"' in compose and '"-n", "worker2@%h"' in compose
    assert "celery@" not in compose, "the healthcheck must not assume Celery's default name"


@pytest.mark.parametrize("unit", UNITS, ids=[u.name for u in UNITS])
def test_systemd_units_parse_and_name_commands_that_exist(unit: Path, tmp_path: Path) -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(unit.read_text())
    service = parser["Service"]
    assert service["User"] == "backprop-lab"
    assert service["EnvironmentFile"] == "/etc/backprop-lab/backprop-lab.env"
    assert parser["Install"]["WantedBy"] == "multi-user.target"
    program, *args = shlex.split(service["ExecStart"])
    assert program.startswith("/opt/backprop-lab/.venv/bin/")
    here = ROOT / program.removeprefix("/opt/backprop-lab/")
    assert here.exists(), f"{program} is not a command of this install"
    target = "app.worker" if "-m" in args else args[0].split(":")[0]
    assert (ROOT / (target.replace(".", "/") + ".py")).exists()
    keys = {line.split("=")[0] for line in (DEPLOY / "backprop-lab.env").read_text().splitlines()}
    assert {"BACKPROP_LAB_DATABASE_URL", "BACKPROP_LAB_BROKER_URL"} <= keys

    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze (package systemd) checks the units"
    # The units, pointed at this checkout, as systemd itself reads them.
    text = unit.read_text().replace("/opt/backprop-lab", str(ROOT))
    copy = tmp_path / unit.name
    copy.write_text(text)
    name = copy.name.replace("@.service", "@worker1.service")
    done = subprocess.run(
        [analyze, "verify", str(tmp_path / name)], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "Unknown" not in done.stderr and "Invalid" not in done.stderr, done.stderr
