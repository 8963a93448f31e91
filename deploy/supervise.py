"""Write the supervisord configuration ``make run`` starts: ``python deploy/supervise.py > conf``.

supervisord keeps every process of the local stack up: the web (gunicorn), ``--workers``
shard workers, ``--webhook-workers`` webhook workers and rq-dashboard. A process that dies is
logged and started again at once; one that keeps dying within a second of its start is retried
with a growing pause (supervisord's backoff: 1 s, 2 s, 3 s, ...). The others keep serving
meanwhile. Ctrl-C (or SIGTERM) stops them all. Every process logs to supervisord's own stdout and stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

RESTART_ATTEMPTS = 1000
"""Back-off retries before supervisord gives up on a process that cannot start at all."""

STOP_WAIT = 15
"""Seconds a process has to stop on SIGTERM (a worker finishes its batch) before SIGKILL."""


DASHBOARD = Path(__file__).resolve().parent / "dashboard.py"
"""rq-dashboard, read only."""


def program(name: str, command: str, *, numprocs: int = 1) -> str:
    lines = [
        f"[program:{name}]",
        f"command={command}",
        "autorestart=true",
        "startsecs=1",
        f"startretries={RESTART_ATTEMPTS}",
        f"stopwaitsecs={STOP_WAIT}",
        "stopasgroup=true",
        "killasgroup=true",
        "stdout_logfile=/dev/stdout",
        "stdout_logfile_maxbytes=0",
        "stderr_logfile=/dev/stderr",
        "stderr_logfile_maxbytes=0",
    ]
    if numprocs > 1:
        lines += [f"numprocs={numprocs}", "process_name=%(program_name)s-%(process_num)d"]
    return "\n".join(lines) + "\n"


def configuration(
    *, bin_dir: Path, run_dir: Path, workers: int, webhook_workers: int = 1, dashboard_port: int, redis_url: str
) -> str:
    """The configuration; ``workers=0`` runs no shard worker (a web-only node), ``webhook_workers=0``
    no webhook worker (events are still written, and delivered once one runs)."""
    if workers < 0 or webhook_workers < 0:
        raise ValueError(f"workers must be 0 or more, got {min(workers, webhook_workers)}")
    python = bin_dir / "python"
    return "\n".join(
        [
            "[supervisord]",
            "nodaemon=true",
            "logfile=/dev/null",
            "logfile_maxbytes=0",
            f"pidfile={run_dir / 'supervisord.pid'}",
            "",
            "[unix_http_server]",
            f"file={run_dir / 'supervisor.sock'}",
            "chmod=0700",
            "",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
            "",
            "[supervisorctl]",
            f"serverurl=unix://{run_dir / 'supervisor.sock'}",
            "",
            program("web", f"{bin_dir / 'gunicorn'} -c deploy/gunicorn.conf.py web.wsgi"),
            *([program("worker", f"{python} -m worker", numprocs=workers)] if workers else []),
            *(
                [program("webhooks", f"{python} -m worker.webhooks", numprocs=webhook_workers)]
                if webhook_workers
                else []
            ),
            program(
                "dashboard",
                f"{python} {DASHBOARD} --bind 127.0.0.1 --port {dashboard_port} --redis-url {redis_url}",
            ),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bin", type=Path, required=True, help="the virtualenv's bin directory")
    parser.add_argument("--run-dir", type=Path, required=True, help="where the pid file and control socket go")
    parser.add_argument("--workers", type=int, default=2, help="shard workers (0: a web-only node)")
    parser.add_argument("--webhook-workers", type=int, default=1, help="webhook workers (0: none)")
    parser.add_argument("--dashboard-port", type=int, default=9181)
    parser.add_argument("--redis-url", required=True)
    args = parser.parse_args(argv)
    sys.stdout.write(
        configuration(
            bin_dir=args.bin.resolve(),
            run_dir=args.run_dir.resolve(),
            workers=args.workers,
            webhook_workers=args.webhook_workers,
            dashboard_port=args.dashboard_port,
            redis_url=args.redis_url,
        )
    )


if __name__ == "__main__":
    main()
