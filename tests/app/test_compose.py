"""compose.yaml: two API servers and two workers on one PostgreSQL and one Redis, all wired right.

Compose itself accepts most mistakes silently (a misspelt setting, a URL to a service that is
not there, a volume nobody keeps); these tests read the file as Compose would, after its
`${VAR:-default}` interpolation, and check it against the app's own settings and modules.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from app.settings import Settings
from engine.data.locations import CACHE_ENV, OFFLINE_ENV

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
TEXT = COMPOSE.read_text()
SPEC: dict[str, Any] = yaml.safe_load(TEXT)
SERVICES: dict[str, dict[str, Any]] = SPEC["services"]

#: BACKPROP_LAB_* variables that the engine reads rather than the service's settings.
ENGINE_VARIABLES = {OFFLINE_ENV, CACHE_ENV}


def interpolate(value: str) -> str:
    """Compose's `${NAME:-default}` / `${NAME-default}` / `${NAME}`, as if nothing were set."""

    def one(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(3)
        if default is None:
            pytest.fail(f"${{{name}}} has no default: `docker compose up` alone would not work")
        return default

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-([^}]*))?\}", one, value)


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: interpolate(str(v)) for k, v in env.items()}


def command(service: dict[str, Any]) -> list[str]:
    cmd = service.get("command")
    assert cmd is not None, "every app service names its command (the image's runs one server)"
    return cmd.split() if isinstance(cmd, str) else [str(c) for c in cmd]


def runs(service: dict[str, Any], *words: str) -> bool:
    cmd = command(service)
    return any(cmd[i : i + len(words)] == list(words) for i in range(len(cmd)))


APP = {name: s for name, s in SERVICES.items() if "build" in s}
APIS = {name: s for name, s in APP.items() if runs(s, "python", "-m", "app.serve")}
WORKERS = {name: s for name, s in APP.items() if runs(s, "python", "-m", "app.worker")}


def settings_of(service: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The app's settings as this service's container would read them from its environment."""
    for key in list(os.environ):
        if key.startswith("BACKPROP_LAB_"):
            monkeypatch.delenv(key)
    for key, value in environment(service).items():
        monkeypatch.setenv(key, value)
    return Settings()


def test_it_is_a_compose_specification_file() -> None:
    assert "version" not in SPEC, "the Compose Specification has no `version:`"
    assert set(SERVICES) >= {"postgres", "redis"}
    assert len(APIS) == 2, f"two API servers, found {sorted(APIS)}"
    assert len(WORKERS) == 2, f"two workers, found {sorted(WORKERS)}"
    assert set(APP) == set(APIS) | set(WORKERS), "every service built here is a server or worker"


def test_every_setting_named_is_a_real_one() -> None:
    named = set(re.findall(r"\bBACKPROP_LAB_[A-Z0-9_]+\b", TEXT))
    real = {f"BACKPROP_LAB_{f.upper()}" for f in Settings.model_fields} | ENGINE_VARIABLES
    assert named, "the app services are configured through BACKPROP_LAB_* variables"
    assert not named - real, f"not settings of the app: {sorted(named - real)}"


@pytest.mark.parametrize("name", sorted(APP))
def test_each_app_service_has_valid_distributed_settings(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = settings_of(APP[name], monkeypatch)  # raises if a value does not validate
    assert s.executor == "celery"
    assert s.database_url and s.database_url.startswith("postgresql://")
    db = urlsplit(s.database_url)
    assert db.hostname in SERVICES, f"{name}: the database host {db.hostname!r} is not a service"
    assert SERVICES[db.hostname]["image"].startswith("postgres:")
    pg = environment(SERVICES[db.hostname])
    assert (db.username, db.password, db.path.lstrip("/")) == (
        pg["POSTGRES_USER"],
        pg["POSTGRES_PASSWORD"],
        pg["POSTGRES_DB"],
    ), f"{name}: the database URL does not match the postgres service's user, password, db"
    broker = urlsplit(s.broker_url)
    assert broker.scheme == "redis"
    assert broker.hostname in SERVICES, f"{name}: the broker host {broker.hostname!r}"
    assert SERVICES[broker.hostname]["image"].startswith("redis:")


def test_servers_and_workers_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    """One database, one broker, one queue, one liveness rule for every server and worker."""
    shared = ("database_url", "broker_url", "queue", "heartbeat_interval", "heartbeat_timeout")
    seen = {
        name: {f: getattr(settings_of(s, monkeypatch), f) for f in (*shared, "run_attempts")}
        for name, s in APP.items()
    }
    first = next(iter(seen.values()))
    assert all(each == first for each in seen.values()), seen
    # A worker waits 3 beats before it restarts a silent run; the servers must wait longer.
    assert first["heartbeat_timeout"] > 3 * first["heartbeat_interval"]


def test_the_lab_settings_agree_and_each_queue_has_a_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Servers and workers that disagree refuse to start (app/labsettings.py): none here does."""
    from app.labsettings import SERVER, WORKER

    seen = {
        name: {
            f: getattr(settings_of(s, monkeypatch), f)
            for f in (WORKER if s in WORKERS.values() else SERVER)
        }
        for name, s in APP.items()
    }
    for each in seen.values():
        for other in seen.values():
            assert all(each[k] == other[k] for k in each.keys() & other.keys()), seen
    taken = {
        q for s in WORKERS.values() for q in settings_of(s, monkeypatch).worker_queues.split(",")
    }
    assert taken == {"short", "long"}, "a queue no worker takes would keep its runs forever"
    short_only = [
        n for n, s in WORKERS.items() if settings_of(s, monkeypatch).worker_queues == "short"
    ]
    assert short_only, "a worker kept for short runs, so long runs never hold every process"


@pytest.mark.parametrize("name", sorted(APIS))
def test_api_servers_run_the_app(name: str) -> None:
    service = APIS[name]
    cmd = command(service)
    target = cmd[cmd.index("app.serve") + 1]
    module, _, attr = target.partition(":")
    assert (module, attr) == ("app.main", "app")
    assert hasattr(importlib.import_module(module), attr)
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0", "reachable from outside its container"
    port = cmd[cmd.index("--port") + 1]
    assert [str(p).rsplit(":", 1)[-1] for p in service["ports"]] == [port]
    check = " ".join(service["healthcheck"]["test"])
    assert f"127.0.0.1:{port}/healthz" in check and "urllib" in check, (
        "the image has python, not curl"
    )


@pytest.mark.parametrize("name", sorted(WORKERS))
def test_workers_run_the_worker_module(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    service = WORKERS[name]
    assert command(service) == ["python", "-m", "app.worker", "-n", f"{name}@%h"]
    spec = importlib.util.find_spec("app.worker")
    assert spec is not None and callable(importlib.import_module("app.worker").main)
    assert "BACKPROP_LAB_WORKERS" in environment(service)
    assert settings_of(service, monkeypatch).workers >= 1
    # The image's HEALTHCHECK asks :8000/healthz, which a worker does not serve.
    check = " ".join(service["healthcheck"]["test"])
    assert "/healthz" not in check and "ping" in check
    assert not service.get("ports"), "a worker serves nothing"


def test_the_image_carries_what_a_worker_needs() -> None:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.startswith("celery[redis]") for d in dependencies)
    assert any(d.startswith("psycopg") for d in dependencies)
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"pip install [^\n]*\.$", dockerfile, re.M), "the package and its deps"
    assert "COPY app ./app" in dockerfile
    assert "MNIST_DIR=/data/mnist" in dockerfile, "the workers train on the MNIST baked in"
    for service in APP.values():
        assert service["build"] in (".", {"context": "."}) and (ROOT / "Dockerfile").exists()


def test_worker_node_names_are_distinct() -> None:
    names = [s.get("hostname") for s in WORKERS.values()]
    assert None not in names and len(set(names)) == len(names), "Celery nodes are named by host"


def test_dependencies_are_defined_and_healthy_first() -> None:
    for name, service in SERVICES.items():
        depends = service.get("depends_on") or {}
        for other in depends:
            assert other in SERVICES, f"{name} depends on {other}, which is not a service"
            if isinstance(depends, dict):
                assert depends[other].get("condition") == "service_healthy"
                assert "healthcheck" in SERVICES[other], f"{other} has no healthcheck to wait for"
    for name in APP:
        assert set(APP[name]["depends_on"]) == {"postgres", "redis"}, name


def test_every_named_volume_is_declared() -> None:
    declared = set(SPEC.get("volumes") or {})
    used = set()
    for service in SERVICES.values():
        for volume in service.get("volumes") or []:
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if not source.startswith((".", "/", "~")):
                used.add(source)
    assert used <= declared, f"undeclared volumes: {sorted(used - declared)}"
    assert declared <= used, f"declared but unused: {sorted(declared - used)}"


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Target -> source of a service's volumes (short `source:target` or long form)."""
    out = {}
    for v in service.get("volumes") or []:
        if isinstance(v, dict):
            out[v["target"]] = v.get("source", "")
        else:
            source, target = v.split(":")[:2]
            out[target] = source
    return out


def test_postgres_keeps_its_data() -> None:
    pg = SERVICES["postgres"]
    assert pg["image"].startswith("postgres:15")
    assert "/var/lib/postgresql/data" in mounts(pg)
    assert "pg_isready" in pg["healthcheck"]["test"]


def test_redis_keeps_its_queue() -> None:
    redis = SERVICES["redis"]
    assert redis["image"].startswith("redis:7")
    cmd = command(redis)
    assert cmd[0] == "redis-server"
    assert cmd[cmd.index("--appendonly") + 1] == "yes", "queued runs must survive a restart"
    assert "/data" in mounts(redis), "the append-only file lives in /data: keep it in a volume"
    assert "ping" in redis["healthcheck"]["test"]


def test_published_ports_are_distinct() -> None:
    published = [
        str(p).rsplit(":", 1)[0].rsplit(":", 1)[-1]
        for service in SERVICES.values()
        for p in service.get("ports") or []
    ]
    assert len(published) == 2 and len(set(published)) == len(published), published


def test_the_sample_prometheus_config_scrapes_every_server_and_worker_of_compose() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    targets = {
        t for job in config["scrape_configs"] for c in job["static_configs"] for t in c["targets"]
    }
    expected = {f"{name}:{command(s)[command(s).index('--port') + 1]}" for name, s in APIS.items()}
    expected |= {
        f"{name}:{environment(s)['BACKPROP_LAB_METRICS_PORT']}" for name, s in WORKERS.items()
    }
    assert targets == expected
    for job in config["scrape_configs"]:
        assert job["metrics_path"] == "/metrics"
