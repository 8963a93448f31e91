"""What each image installs is enough for what it runs (this machine has no Docker engine).

Each image's install is reproduced outside Docker: a fresh virtualenv holding only the
requirements file its Dockerfile copies, then the image's own commands run from it (the
entry point's ``web`` and ``worker`` roles; Locust with the copied locustfile alone). A
package that only ``requirements/dev.txt`` brings in fails here as it would in the image.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from deploy.processes import ROOT, answers, free_port, stop, wait_until
from tests.support.factories import TEST_TENANT, api_key
from tests.support.http_client import call_json
from tests.support.stack import RedisServer

DEPLOY = ROOT / "deploy"


def _requirements_of(dockerfile: Path) -> Path:
    """The requirements file a Dockerfile copies in to install."""
    found = re.search(r"^COPY (requirements/\S+\.txt) /tmp/requirements\.txt$", dockerfile.read_text(), re.M)
    assert found, dockerfile.name
    return ROOT / found.group(1)


def _venv_with(requirements: Path, where: Path) -> Path:
    """A new virtualenv at ``where`` with ``requirements`` installed, nothing else; its bin."""
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    pip = [str(where / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", "-r", str(requirements)]
    installed = subprocess.run(pip, capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr[-3000:]
    return where / "bin"


def _image_env(bin_dir: Path, **env: str) -> dict[str, str]:
    """The environment of a process of the image: its venv first on PATH, no other venv."""
    clean = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    return {**clean, "PATH": f"{bin_dir}{os.pathsep}{clean['PATH']}", **env}


@pytest.fixture(scope="module")
def app_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _venv_with(_requirements_of(DEPLOY / "Dockerfile"), tmp_path_factory.mktemp("image") / "venv")


@pytest.fixture(scope="module")
def locust_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _venv_with(_requirements_of(DEPLOY / "Dockerfile.locust"), tmp_path_factory.mktemp("locust") / "venv")


@pytest.fixture
def image_stack(app_bin: Path, db: Engine) -> Iterator[str]:
    """The image's web and worker roles (``deploy/entrypoint.sh``) on their own Redis; the web's URL."""
    server = RedisServer(persistent=False)
    server.start()
    port = free_port()
    env = _image_env(app_bin, REDIS_URL=server.url, PORT=str(port), LEASE_NAMESPACE="7340033", LOG_LEVEL="warning")
    entrypoint = str(DEPLOY / "entrypoint.sh")
    procs = [subprocess.Popen([entrypoint, role], cwd=ROOT, env=env) for role in ("worker", "web")]
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: answers(f"{base}/healthz") or any(p.poll() is not None for p in procs),
            timeout=60,
            what="the image's web",
        )
        assert [p.poll() for p in procs] == [None, None], "a role of the image exited"
        yield base
    finally:
        for proc in procs:
            if proc.poll() is None:
                stop(proc)
        server.stop()


def test_the_app_image_serves_and_applies_with_its_own_install(image_stack: str) -> None:
    token = api_key(TEST_TENANT).secret
    status, wallet = call_json(image_stack, "POST", "/api/v1/wallets", {}, token=token)
    assert status == 201
    path = f"/api/v1/wallets/{wallet['id']}/operation"
    status, answer = call_json(image_stack, "POST", path, {"operationType": "DEPOSIT", "amount": "5.00"}, token=token)
    assert (status, answer) == (
        200,
        {"status": "Success", "new_balance": "5.00", "currency": "EUR", "operation_id": answer.get("operation_id")},
    )


def test_the_locust_image_runs_its_locustfile_with_its_own_install(
    locust_bin: Path, image_stack: str, tmp_path: Path
) -> None:
    # The image holds the locustfile alone (no checkout beside it).
    shutil.copy(ROOT / "locust" / "locustfile.py", tmp_path / "locustfile.py")
    token = api_key("load-image").secret
    run = subprocess.run(
        [
            *("locust", "-f", "locustfile.py", "--host", image_stack, "--headless"),
            *("--users", "2", "--spawn-rate", "2", "--run-time", "3s", "--only-summary"),
        ],
        cwd=tmp_path,
        env=_image_env(locust_bin, WALLET_API_KEY=token),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert re.search(r"Aggregated\s+[1-9]\d*\s+0\(0\.00%\)", run.stdout + run.stderr), run.stderr[-2000:]
