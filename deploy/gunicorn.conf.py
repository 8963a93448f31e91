"""gunicorn settings for the web node: ``gunicorn -c deploy/gunicorn.conf.py web.wsgi``.

Each request waits up to REPLY_TIMEOUT seconds on its reply key, so a web process
must hold many requests at once. The default worker runs gevent's pywsgi server
(``web.gunicorn_worker``, measured fastest here, see the README's Performance
section); psycopg2 is made cooperative with psycogreen. ``WEB_WORKER_CLASS=gevent``
runs gunicorn's own gevent worker, ``WEB_WORKER_CLASS=gthread`` threads.
"""

import os
import shutil
import tempfile

from shared.config import get_settings

settings = get_settings()

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = settings.gunicorn_worker_class
# pywsgi: client connections per process (requests running the application are limited apart, to
# WEB_CONNECTIONS, by web.gunicorn_worker); gevent: requests in flight per process.
worker_connections = settings.web_max_clients if settings.web_worker_class == "pywsgi" else settings.web_app_slots
# gthread: threads per process.
threads = int(os.environ.get("WEB_THREADS", "8"))
timeout = 30
graceful_timeout = 10
# Seconds an idle keep-alive connection is kept (pywsgi: any stalled read or write on it).
keepalive = int(os.environ.get("WEB_KEEPALIVE", "5"))
proc_name = "wallet-web"
# No per-request access log on the hot path; set GUNICORN_ACCESSLOG=- to get one.
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()


# Metrics of all web processes are added up from files in this directory (prometheus_client's
# multiprocess mode); it must be set before any process imports prometheus_client.
metrics_dir = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), f"wallet-web-metrics-{os.getpid()}")
)


def on_starting(server: object) -> None:
    shutil.rmtree(metrics_dir, ignore_errors=True)
    os.makedirs(metrics_dir)


def child_exit(server: object, worker: object) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined,no-untyped-call]


def post_fork(server: object, worker: object) -> None:
    if settings.web_uses_greenlets:
        from psycogreen.gevent import patch_psycopg

        patch_psycopg()
