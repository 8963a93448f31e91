"""rq-dashboard as this service runs it: read only, and honest about expired jobs.

- Read only: every request but GET and HEAD is refused (405), and so is rq-dashboard's one
  GET that changes state (``/requeue/<queue>``, which any web page an operator's browser
  loads could trigger). A failed operation is a poison message recorded in the ledger as
  rejected: requeueing it would apply nothing, so nothing is lost.
- A job whose record expired (``RESULT_TTL`` after it finished) while a registry still
  listed it answers 404 with a line saying so, not 500.
- Basic auth when ``RQ_DASHBOARD_USERNAME`` and ``RQ_DASHBOARD_PASSWORD`` are set.
- Served by gunicorn (one process, ``THREADS`` threads), not Flask's development server: a
  stop takes a moment, and no "do not use it in production" warning is logged.
- Redis as every process of the service finds it (``shared.config``): ``REDIS_URL``, or the
  master the Sentinels of ``REDIS_SENTINELS`` name, given to rq-dashboard as its own
  ``redis+sentinel://`` URL (it asks them on every page, so it follows a failover).

Run: ``python deploy/dashboard.py --bind 127.0.0.1 --port 9181 [--redis-url redis://...]``.
"""

from __future__ import annotations

import argparse
import base64
import hmac
import os
import re
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

from flask import Flask, Response, request
from gunicorn.app.base import BaseApplication
from rq.exceptions import NoSuchJobError
from rq.serializers import JSONSerializer
from rq_dashboard import web
from rq_dashboard.cli import make_flask_app

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo's packages

from shared.config import Settings
from shared.connections import REDIS_CONNECT_TIMEOUT
from shared.env import address_text

READ_ONLY = "This dashboard is read only: operations are changed through the API, never here.\n"
EXPIRED = "This job has expired: finished jobs are kept RESULT_TTL seconds, the ledger keeps them for good.\n"
_STATE_CHANGING_GET = re.compile(r"/requeue/")


def _refuse_changes() -> Response | None:
    if request.method not in ("GET", "HEAD") or _STATE_CHANGING_GET.search(request.path):
        return Response(READ_ONLY, 405, {"Allow": "GET, HEAD", "Content-Type": "text/plain; charset=utf-8"})
    return None


def _basic_auth(username: str, password: str) -> Callable[[], Response | None]:
    """Refuse a request without these credentials (compared in constant time)."""
    expected = f"{username}:{password}".encode()

    def check() -> Response | None:
        auth = request.authorization
        given = f"{auth.username}:{auth.password}".encode() if auth is not None and auth.type == "basic" else b""
        if hmac.compare_digest(given, expected):
            return None
        return Response("Log in\n", 401, {"WWW-Authenticate": 'Basic realm="wallet operations"'})

    return check


def _expired(exc: NoSuchJobError) -> Response:
    return Response(EXPIRED, 404, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"})


def redis_settings(settings: Settings) -> dict[str, object]:
    """rq-dashboard's configuration of Redis for ``settings``: ``REDIS_URL`` itself, or the
    Sentinels as its ``redis+sentinel://sentinel,.../master/db`` URL with the passwords apart."""
    if not settings.redis_sentinels:
        return {"RQ_DASHBOARD_REDIS_URL": settings.redis_url}
    target = settings.redis
    sentinels = ",".join(address_text(host, port) for host, port in settings.redis_sentinels)
    timeout = f"socket_connect_timeout={REDIS_CONNECT_TIMEOUT}&sentinel_socket_connect_timeout={REDIS_CONNECT_TIMEOUT}"
    return {
        "RQ_DASHBOARD_REDIS_URL": f"redis+sentinel://{sentinels}/{settings.redis_sentinel_master}/{target.db}?{timeout}",
        "RQ_DASHBOARD_REDIS_PASSWORD": target.password,
        "RQ_DASHBOARD_REDIS_SENTINEL_PASSWORD": settings.redis_sentinel_password or None,
    }


def dashboard_app(settings: Settings, *, username: str | None = None, password: str | None = None) -> Flask:
    """The rq-dashboard Flask app on Redis as ``settings`` say, read only (see the module's
    docstring)."""
    app: Flask = make_flask_app(config=None, username=None, password=None, url_prefix="")
    app.config.update(redis_settings(settings))
    app.config["RQ_DASHBOARD_DISABLE_DELETE"] = True
    web.config.serializer = JSONSerializer  # the shard queues' jobs are JSON (``--json``)
    web.setup_rq_connection(app)
    if username and password:
        app.before_request(_basic_auth(username, password))
    app.before_request(_refuse_changes)
    app.register_error_handler(NoSuchJobError, _expired)
    return app


def serves(port: int, username: str | None, password: str | None) -> bool:
    """Whether the dashboard on this host's ``port`` answers its front page with a 200."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/")
    if username and password:
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=2) as page:  # noqa: S310 (http to 127.0.0.1)
            return bool(page.status == 200)
    except OSError:
        return False


THREADS = 4
"""Requests the dashboard serves at once (its pages poll every few seconds)."""


class DashboardServer(BaseApplication):  # type: ignore[misc]
    """gunicorn serving ``app`` with these settings (no command line, no config file)."""

    def __init__(self, app: Flask, **settings: object) -> None:
        self.app, self.settings = app, settings
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.settings.items():
            self.cfg.set(name, value)

    def load(self) -> Flask:
        return self.app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9181)
    parser.add_argument("--redis-url", help="instead of REDIS_URL (REDIS_SENTINELS, when set, name the server)")
    parser.add_argument(
        "--check", action="store_true", help="exit 0 if the dashboard on 127.0.0.1:PORT serves its page (a healthcheck)"
    )
    args = parser.parse_args(argv)
    username = os.environ.get("RQ_DASHBOARD_USERNAME") or None
    password = os.environ.get("RQ_DASHBOARD_PASSWORD") or None
    if args.check:
        sys.exit(0 if serves(args.port, username, password) else 1)
    settings = Settings.from_env({**os.environ, **({"REDIS_URL": args.redis_url} if args.redis_url else {})})
    app = dashboard_app(settings, username=username, password=password)
    host = f"[{args.bind}]" if ":" in args.bind else args.bind
    DashboardServer(
        app,
        bind=f"{host}:{args.port}",
        workers=1,
        worker_class="gthread",
        threads=THREADS,
        graceful_timeout=5,
        proc_name="wallet-dashboard",
        control_socket_disable=True,
    ).run()


if __name__ == "__main__":
    main()
