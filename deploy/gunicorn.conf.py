"""gunicorn settings for the web node: ``gunicorn -c deploy/gunicorn.conf.py web.wsgi``.

Every value comes from ``shared.config`` (the one place that reads the environment).
Each request waits up to REPLY_TIMEOUT seconds on its reply key, so a web process must hold
many requests at once. The default worker runs gevent's pywsgi server
(``web.gunicorn_worker``, measured fastest here, see the README's Performance section);
psycopg2 is made cooperative with psycogreen. ``WEB_WORKER_CLASS=gevent`` runs gunicorn's own
gevent worker, ``WEB_WORKER_CLASS=gthread`` threads.
"""

import os
import shutil
import tempfile

from shared.config import get_settings

settings = get_settings()

# Metrics of all web processes are added up from files in this directory (prometheus_client's
# multiprocess mode, which reads the variable itself); it must be set before any process imports
# prometheus_client, and the settings read again so that they carry it.
metrics_dir = settings.metrics_dir or os.path.join(tempfile.gettempdir(), f"wallet-web-metrics-{os.getpid()}")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
get_settings.cache_clear()
settings = get_settings()

bind = f"{settings.host}:{settings.port}"
workers = settings.web_processes
worker_class = settings.gunicorn_worker_class
# pywsgi: client connections per process (requests running the application are limited apart, to
# WEB_CONNECTIONS, by web.gunicorn_worker); gevent: requests in flight per process.
worker_connections = settings.web_max_clients if settings.web_worker_class == "pywsgi" else settings.web_app_slots
threads = settings.web_threads  # gthread only
timeout = 30
graceful_timeout = 10
keepalive = settings.web_keepalive
proc_name = "wallet-web"
# gunicornc's control socket, one per instance (the default path is one per user: one
# instance's start or stop would unlink another's), private to its user.
control_socket = os.path.join(tempfile.gettempdir(), f"wallet-web-{settings.port}-{os.getpid()}.ctl")
control_socket_mode = 0o600
accesslog = settings.access_log  # none on the hot path unless asked for
# gunicorn's default, with the request's id (the answer's X-Request-Id) that its other lines carry.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s'
errorlog = "-"
logger_class = "web.gunicorn_logger.JsonLogger"  # gunicorn's own lines as JSON too
loglevel = settings.log_level


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
