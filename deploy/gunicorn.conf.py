"""gunicorn settings for the web node: ``gunicorn -c deploy/gunicorn.conf.py web.wsgi``.

Each request may wait up to REPLY_TIMEOUT seconds on its reply key while
holding a thread, so concurrency is threads, not processes.
"""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "8"))
timeout = 30
graceful_timeout = 10
keepalive = 5
proc_name = "wallet-web"
# No per-request access log on the hot path; set GUNICORN_ACCESSLOG=- to get one.
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
