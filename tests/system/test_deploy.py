"""The Docker artifacts, checked by parsing (this machine has no Docker engine)."""

from __future__ import annotations

import fnmatch
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml

from deploy.processes import ROOT, free_port, wait_until
from shared.config import Settings

COMPOSE = yaml.safe_load((ROOT / "compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_services() -> None:
    ha = {name for name, service in SERVICES.items() if "ha" in service.get("profiles", [])}
    assert ha == {"redis-replica", "sentinel-1", "sentinel-2", "sentinel-3", "db-standby"}
    assert set(SERVICES) - ha == {"db", "redis", "migrate", "web", "worker", "webhooks", "dashboard", "locust"}
    assert SERVICES["db"]["image"] == "postgres:17"
    assert SERVICES["redis"]["image"].startswith("redis:")
    assert "--appendonly" in SERVICES["redis"]["command"]


@pytest.mark.parametrize("name", ["db", "redis", "web", "worker", "webhooks", "dashboard"])
def test_healthchecks(name: str) -> None:
    assert SERVICES[name]["healthcheck"]["test"]


def test_the_worker_and_dashboard_healthchecks_are_the_tested_commands() -> None:
    """tests/worker/test_main.py and test_webhook_worker.py run ``--alive``; tests/system/test_dashboard.py
    runs ``--check``."""
    assert SERVICES["worker"]["healthcheck"]["test"] == ["CMD", "python", "-m", "worker", "--alive"]
    assert SERVICES["webhooks"]["healthcheck"]["test"] == ["CMD", "python", "-m", "worker.webhooks", "--alive"]
    check = ["CMD", "python", "deploy/dashboard.py", "--check", "--port", "9181"]
    assert SERVICES["dashboard"]["healthcheck"]["test"] == check


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule, closely enough for these patterns: the last matching pattern decides."""
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob = pattern.removeprefix("!").removeprefix("**/")
        parts = Path(path).parts
        if any(
            fnmatch.fnmatch("/".join(parts[: i + 1]), glob) or fnmatch.fnmatch(part, glob)
            for i, part in enumerate(parts)
        ):
            ignored = not negated
    return ignored


def test_the_build_context_leaves_out_virtualenvs_secrets_and_caches_but_not_the_code() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for path in (".venv/bin/python", ".venv-py313/lib", ".env", ".git/HEAD", "web/__pycache__/x.pyc", ".run/8000"):
        assert _ignored(path, patterns), path
    assert not _ignored(".env.example", patterns)
    for dockerfile in (ROOT / "deploy").glob("Dockerfile*"):
        for line in dockerfile.read_text().splitlines():
            if line.startswith("COPY") and "--from" not in line:
                for source in line.split()[1:-1]:
                    assert not _ignored(source, patterns), f"{dockerfile.name} copies {source}, which is ignored"


def test_start_order() -> None:
    assert SERVICES["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    for name in ("web", "worker", "webhooks"):
        assert SERVICES[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize("name", [n for n, s in SERVICES.items() if "build" in s])
def test_build_files_exist(name: str) -> None:
    build = SERVICES[name]["build"]
    dockerfile = ROOT / build["context"] / build["dockerfile"]
    assert dockerfile.is_file()
    for line in dockerfile.read_text().splitlines():
        if line.startswith("COPY") and "--from" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"{dockerfile.name}: {source} missing"


def test_images_are_slim_and_run_as_non_root() -> None:
    for dockerfile in (ROOT / "deploy").glob("Dockerfile*"):
        text = dockerfile.read_text()
        assert re.search(r"^FROM python:3\.13-slim", text, re.M), dockerfile.name
        assert re.search(r"^USER (?!root)\w+", text, re.M), dockerfile.name
        assert re.search(r"pip install -r /tmp/requirements\.txt", text), dockerfile.name


def test_no_secret_is_committed() -> None:
    text = (ROOT / "compose.yml").read_text()
    assert "${SECRET_KEY:?" in text
    assert "${POSTGRES_PASSWORD:?" in text
    example = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    assert example["SECRET_KEY"] == ""
    assert example["POSTGRES_PASSWORD"] == ""
    assert example["DEBUG"] == "0"
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert ".env" not in tracked


def test_settings_refuse_to_start_without_a_secret_key() -> None:
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "web.settings", "PYTHONPATH": str(ROOT)}
    probe = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert probe.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in probe.stderr


def test_debug_is_off_by_default() -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "web.settings",
        "PYTHONPATH": str(ROOT),
        "SECRET_KEY": "x",
    }
    probe = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.DEBUG)"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "False"


def test_entrypoint_knows_every_role_compose_uses() -> None:
    entrypoint = (ROOT / "deploy" / "entrypoint.sh").read_text()
    for name, service in SERVICES.items():
        if service.get("build", {}).get("dockerfile") == "deploy/Dockerfile":
            role = service["command"][0]
            assert re.search(rf"^\s+{role}\)", entrypoint, re.M), f"{name}: role {role} unknown"


@pytest.mark.parametrize(("extra", "scopes"), [([], "read,write"), (["SCOPES=read"], "read")])
def test_make_apikey_passes_the_scopes(extra: list[str], scopes: str) -> None:
    # `make -n` prints the commands without running them (nor their prerequisites).
    dry = subprocess.run(["make", "-n", "apikey", "TENANT=acme", *extra], cwd=ROOT, capture_output=True, text=True)
    assert f'--tenant "acme" \\\n\t--scopes "{scopes}"' in dry.stdout


@pytest.mark.parametrize("name", ["wallet", "wallet_test_data", "benchmarks"])
def test_createdb_fresh_drops_only_a_test_or_bench_database(name: str) -> None:
    env = {**os.environ, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{name}"}
    manage = [sys.executable, str(ROOT / "web" / "manage.py"), "createdb", "--fresh"]
    refused = subprocess.run(manage, env=env, capture_output=True, text=True, check=False)
    assert refused.returncode != 0
    assert f"refused for {name!r} (not a *_test or *_bench database)" in refused.stderr


def test_the_web_is_healthy_only_when_ready() -> None:
    """Compose's healthcheck of the web asks /readyz: alive is not enough while no worker holds
    a shard (every write would end as a 202 that does not settle)."""
    assert "/readyz" in " ".join(SERVICES["web"]["healthcheck"]["test"])


def test_locust_reaches_the_web_by_a_host_it_answers_for() -> None:
    [host] = [arg for arg in SERVICES["locust"]["command"] if arg.startswith("http")]
    name = host.split("//", 1)[1].split(":", 1)[0]
    value = SERVICES["web"]["environment"]["ALLOWED_HOSTS"]
    for default in re.findall(r"\$\{ALLOWED_HOSTS:-([^}]*)\}", value):  # as compose fills it in
        value = value.replace(f"${{ALLOWED_HOSTS:-{default}}}", default)
    assert name in Settings.from_env({"ALLOWED_HOSTS": value}).allowed_hosts


def test_make_load_ui_serves_locusts_web_ui_and_load_args_reach_locust() -> None:
    dry = subprocess.run(
        ["make", "-n", "load", "KEY=wk_x", "LOAD_ARGS=--csv .run/load --html .run/load.html"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--csv .run/load --html .run/load.html" in dry
    port = free_port()
    proc = subprocess.Popen(
        ["make", "load-ui", "KEY=wk_x", f"LOAD_UI_PORT={port}"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:

        def serves() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    return bool(response.status == 200 and b"locust" in response.read().lower())
            except OSError:
                return False

        wait_until(serves, timeout=60, what="Locust's web UI")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)


def test_operator_tools_are_published_on_this_host_only_and_metrics_ask_for_a_token() -> None:
    """Only the API listens beyond the host; the dashboard and Locust's UI bind to loopback
    (an SSH tunnel reaches them), and every app container needs METRICS_TOKEN."""
    published = {name: service.get("ports", []) for name, service in SERVICES.items()}
    assert published["web"] == ["8000:8000"]
    assert published["dashboard"] == ["127.0.0.1:9181:9181"]
    assert published["locust"] == ["127.0.0.1:8089:8089"]
    assert [name for name in ("db", "redis", "worker", "migrate") if published[name]] == []
    assert SERVICES["web"]["environment"]["METRICS_TOKEN"].startswith("${METRICS_TOKEN:?")


def test_the_containers_dashboard_is_the_read_only_one() -> None:
    entrypoint = (ROOT / "deploy" / "entrypoint.sh").read_text()
    assert "exec python deploy/dashboard.py" in entrypoint
    assert "rq-dashboard --bind" not in entrypoint
    assert "deploy/dashboard.py" in (ROOT / "deploy" / "Dockerfile").read_text()  # in the image


def test_the_env_example_does_not_override_what_the_image_listens_on() -> None:
    """Compose reads .env (a copy of .env.example) into every app container, over the image's
    ENV: a HOST of 127.0.0.1 there would leave the API unreachable from outside its container."""
    example = (ROOT / ".env.example").read_text()
    image_env = re.search(r"^ENV (.+)$", (ROOT / "deploy" / "Dockerfile").read_text(), re.M)
    assert image_env is not None
    for name in re.findall(r"\b([A-Z_]+)=", image_env.group(1)):
        assert not re.search(rf"^{name}=", example, re.M), name


def test_the_ha_profile_replicates_both_stores_and_the_service_can_be_pointed_at_them() -> None:
    """``docker compose --profile ha up``: Redis's replica and three Sentinels watching the master
    under the name the service asks for by default, a PostgreSQL standby streaming from ``db``;
    and every process of the service takes REDIS_SENTINELS and DATABASE_HOSTS from .env."""
    replica = SERVICES["redis-replica"]["command"]
    assert replica[replica.index("--replicaof") + 1 :][:2] == ["redis", "6379"]
    for name in ("sentinel-1", "sentinel-2", "sentinel-3"):
        script = SERVICES[name]["command"][-1]
        assert f"sentinel monitor {Settings().redis_sentinel_master} redis 6379 2" in script
        assert SERVICES[name]["hostname"] == name
    standby = SERVICES["db-standby"]
    assert standby["environment"]["PRIMARY_HOST"] == "db"
    script = (ROOT / "deploy" / "ha" / "standby.sh").read_text()
    assert "pg_basebackup" in script
    assert " -R " in script
    assert 'cluster_name="${STANDBY_NAME}"' in script
    assert "synchronous_standby_names=''" in script
    assert "synchronous_standby_names=${POSTGRES_SYNC_STANDBY:-}" in SERVICES["db"]["command"]
    assert "./deploy/ha/replication.sh:/docker-entrypoint-initdb.d/replication.sh:ro" in SERVICES["db"]["volumes"]
    for name in ("migrate", "web", "worker", "webhooks", "dashboard"):
        environment = SERVICES[name]["environment"]
        assert environment["REDIS_SENTINELS"] == "${REDIS_SENTINELS:-}", name
    assert "@${DATABASE_HOSTS:-db:5432}/wallet" in SERVICES["web"]["environment"]["DATABASE_URL"]
    example = (ROOT / ".env.example").read_text()
    for line in (
        "# COMPOSE_PROFILES=ha",
        "# REDIS_SENTINELS=sentinel-1:26379,sentinel-2:26379,sentinel-3:26379",
        "# DATABASE_HOSTS=db:5432,db-standby:5432",
        "# POSTGRES_SYNC_STANDBY=standby",
    ):
        assert line in example
