"""rq-dashboard as this service runs it: read only, and honest about expired jobs.

- Read only: every request but GET and HEAD is refused (405), and so is rq-dashboard's one
  GET that changes state (``/requeue/<queue>``, which any web page an operator's browser
  loads could trigger). A failed operation is a poison message recorded in the ledger as
  rejected: requeueing it would apply nothing, so nothing is lost.
- A job whose record expired (``RESULT_TTL`` after it finished) while a registry still
  listed it answers 404 with a line saying so, not 500.
- Basic auth when ``RQ_DASHBOARD_USERNAME`` and ``RQ_DASHBOARD_PASSWORD`` are set.

Run: ``python deploy/dashboard.py --bind 127.0.0.1 --port 9181 --redis-url redis://...``.
"""

from __future__ import annotations

import argparse
import hmac
import os
import re
from collections.abc import Callable

from flask import Flask, Response, request
from rq.exceptions import NoSuchJobError
from rq.serializers import JSONSerializer
from rq_dashboard import web
from rq_dashboard.cli import make_flask_app

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


def dashboard_app(redis_url: str, *, username: str | None = None, password: str | None = None) -> Flask:
    """The rq-dashboard Flask app on ``redis_url``, read only (see the module's docstring)."""
    app: Flask = make_flask_app(config=None, username=None, password=None, url_prefix="")
    app.config["RQ_DASHBOARD_REDIS_URL"] = redis_url
    app.config["RQ_DASHBOARD_DISABLE_DELETE"] = True
    web.config.serializer = JSONSerializer  # the shard queues' jobs are JSON (``--json``)
    web.setup_rq_connection(app)
    if username and password:
        app.before_request(_basic_auth(username, password))
    app.before_request(_refuse_changes)
    app.register_error_handler(NoSuchJobError, _expired)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9181)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    args = parser.parse_args(argv)
    username = os.environ.get("RQ_DASHBOARD_USERNAME") or None
    password = os.environ.get("RQ_DASHBOARD_PASSWORD") or None
    app = dashboard_app(args.redis_url, username=username, password=password)
    app.run(host=args.bind, port=args.port, threaded=True)


if __name__ == "__main__":
    main()
