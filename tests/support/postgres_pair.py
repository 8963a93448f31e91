"""A PostgreSQL primary and its streaming standby of the test's own: ``initdb`` in temporary
directories as the ``postgres`` user, ``pg_basebackup -R``, spare loopback ports, synchronous
replication on (a commit is acknowledged once the standby has flushed it). Never the machine's
own cluster. What a multi-host ``DATABASE_URL`` points a stack at, to lose the primary for real."""

from __future__ import annotations

import glob
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psycopg2

from deploy.processes import free_port, wait_until

STANDBY_NAME = "standby"
"""The standby's ``cluster_name``: the name its WAL receiver gives the primary, which
``synchronous_standby_names`` waits for."""


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    assert found, f"{name} of PostgreSQL's server package is not installed"
    return found[-1]


def _as_postgres(*command: str) -> None:
    """Run ``command`` as the ``postgres`` user (PostgreSQL refuses to run as root)."""
    subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True, cwd="/tmp")


class Cluster:
    """One data directory and the server on it."""

    def __init__(self, root: Path, name: str) -> None:
        self.data = root / name
        self.port = free_port()
        self.log = root / f"{name}.log"

    def start(self, *settings: str) -> None:
        options = " ".join(
            [
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.data.parent}",
                *(f"-c {setting}" for setting in settings),
            ]
        )
        _as_postgres(
            _bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "30", "start"
        )

    def stop_immediately(self) -> None:
        """``pg_ctl stop -m immediate``: every backend killed, nothing flushed or checkpointed."""
        _as_postgres(_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def promote(self) -> None:
        _as_postgres(_bin("pg_ctl"), "-D", str(self.data), "-w", "-t", "30", "promote")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def query(self, sql: str) -> list[tuple[object, ...]]:
        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", connect_timeout=2)
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchall() if cursor.description else []
        finally:
            conn.close()


class PostgresPair:
    """The primary and the standby; ``url(name)`` names a database on both, primary first."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="wallet-pg-"))
        shutil.chown(self.root, "postgres", "postgres")
        self.primary = Cluster(self.root, "primary")
        self.standby = Cluster(self.root, "standby")

    def start(self) -> None:
        _as_postgres(_bin("initdb"), "-D", str(self.primary.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.primary.start(
            "wal_level=replica",
            f"synchronous_standby_names={STANDBY_NAME}",
            "synchronous_commit=on",
            "max_connections=100",
        )
        _as_postgres(
            _bin("pg_basebackup"),
            *("-h", "127.0.0.1", "-p", str(self.primary.port), "-U", "postgres"),
            *("-D", str(self.standby.data), "-R", "-X", "stream", "-c", "fast"),
        )
        # The standby waits for no standby of its own once promoted: else every commit on it
        # would wait for one that does not exist.
        self.standby.start(f"cluster_name={STANDBY_NAME}", "synchronous_standby_names=''", "max_connections=100")
        wait_until(self.synchronous, timeout=30, what="the standby streaming synchronously")

    def synchronous(self) -> bool:
        rows = self.primary.query("SELECT application_name, sync_state FROM pg_stat_replication")
        return (STANDBY_NAME, "sync") in rows

    def url(self, database: str) -> str:
        hosts = f"127.0.0.1:{self.primary.port},127.0.0.1:{self.standby.port}"
        return f"postgresql://postgres@{hosts}/{database}?target_session_attrs=read-write"

    def fail_over(self) -> float:
        """Stop the primary (immediate mode) and promote the standby; when the primary stopped
        (``time.monotonic``)."""
        self.primary.stop_immediately()
        stopped = time.monotonic()
        self.standby.promote()
        return stopped

    def stop(self) -> None:
        for cluster in (self.primary, self.standby):
            if cluster.running():
                with suppress(subprocess.CalledProcessError):
                    cluster.stop_immediately()
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def postgres_pair() -> Iterator[PostgresPair]:
    pair = PostgresPair()
    try:
        pair.start()
        yield pair
    finally:
        pair.stop()
