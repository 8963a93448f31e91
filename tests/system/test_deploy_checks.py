"""Django's deploy checklist and the database settings, as a deployment sets them: through
the environment, in a fresh process."""

from __future__ import annotations

import os
import subprocess
import sys

from deploy.processes import ROOT

SECRET = "a-deploy-check-secret-key-that-is-long-and-random-enough-0123456789"


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "DEBUG": "0", "SECRET_KEY": SECRET, **env}
    return subprocess.run(
        [sys.executable, "web/manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, check=False
    )


def test_check_deploy_is_clean_behind_a_tls_proxy() -> None:
    done = _manage("check", "--deploy", "--fail-level", "WARNING", HTTPS="1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_without_https_check_deploy_names_what_https_would_set() -> None:
    done = _manage("check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode != 0
    for check in ("security.W004", "security.W008", "security.W010", "security.W016"):
        assert check in done.stderr, check


def test_behind_the_proxy_plain_http_is_redirected_but_probes_are_not() -> None:
    script = (
        "from django.test import Client; c = Client();"
        "r = c.get('/api/v1/openapi.json'); print(r.status_code, r['Location']);"
        "r = c.get('/api/v1/openapi.json', headers={'X-Forwarded-Proto': 'https'});"
        "print(r.status_code, r['Strict-Transport-Security']);"
        "print(c.get('/healthz').status_code)"
    )
    done = _manage("shell", "--no-imports", "-c", script, HTTPS="1", ALLOWED_HOSTS="testserver")
    assert done.returncode == 0, done.stderr
    redirect, secure, probe = done.stdout.split("\n")[:3]
    assert redirect == "301 https://testserver/api/v1/openapi.json"
    assert secure == "200 max-age=31536000; includeSubDomains"
    assert probe in ("200", "503")  # answered in plain (its status is the backends')


def test_database_url_parameters_reach_djangos_connection() -> None:
    url = os.environ["DATABASE_URL"] + "?application_name=from-the-url"
    script = (
        "from django.db import connection; c = connection.cursor();"
        "c.execute(\"SELECT current_setting('application_name')\"); print(c.fetchone()[0])"
    )
    done = _manage("shell", "--no-imports", "-c", script, DATABASE_URL=url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "from-the-url"
