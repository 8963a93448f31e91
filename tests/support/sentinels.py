"""A Redis master, its replica and three Sentinels of the test's own, on spare loopback ports:
what ``REDIS_SENTINELS`` points a stack at, to fail its master over for real."""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from deploy.processes import free_port, wait_until
from tests.support.stack import RedisServer

MASTER_NAME = "wallet"
DOWN_AFTER_MS = 1000
"""How long a master must not answer before a Sentinel thinks it down."""
FAILOVER_TIMEOUT_MS = 4000
"""Sentinel's ``failover-timeout``: a failover's steps, and half the pause before the same
master name may fail over again (the fail-back waits for it)."""


class Sentinel:
    """One ``redis-sentinel`` process watching ``MASTER_NAME`` (quorum 2 of 3)."""

    def __init__(self, master_port: int) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="wallet-sentinel-"))
        self.config = self.dir / "sentinel.conf"
        self.config.write_text(
            "\n".join(
                [
                    f"port {self.port}",
                    "bind 127.0.0.1",
                    f"dir {self.dir}",
                    f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 2",
                    f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}",
                    f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}",
                    f"sentinel parallel-syncs {MASTER_NAME} 1",
                    "",
                ]
            )
        )
        self.proc = subprocess.Popen(["redis-sentinel", str(self.config)], stdout=subprocess.DEVNULL)

    def master(self) -> tuple[str, int] | None:
        """The master this Sentinel names now (None while it cannot say)."""
        try:
            found = redis.Redis(port=self.port, socket_timeout=1).sentinel_get_master_addr_by_name(MASTER_NAME)
        except redis.RedisError:
            return None
        return None if found is None else (str(found[0]), int(found[1]))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


class SentinelGroup:
    """The servers and the Sentinels; ``servers`` by port, whichever is master now."""

    def __init__(self) -> None:
        self.servers: dict[int, RedisServer] = {}
        self.sentinels: list[Sentinel] = []

    def start(self) -> None:
        first = RedisServer(persistent=False)
        self.servers[first.port] = first
        first.start()
        second = RedisServer(persistent=False, options=("--replicaof", "127.0.0.1", str(first.port)))
        self.servers[second.port] = second
        second.start()
        replicating(second)
        for _ in range(3):
            self.sentinels.append(Sentinel(first.port))
        wait_until(lambda: self.agreed() == first.port, timeout=10, what="the Sentinels naming the master")
        # Each Sentinel must know the replica (from the master's INFO) and the others (hello
        # messages) before it can fail over to it.
        wait_until(self._all_know_each_other, timeout=20, what="the Sentinels knowing the replica and each other")

    @property
    def env(self) -> dict[str, str]:
        """What a stack's processes need to find the master through the Sentinels."""
        return {
            "REDIS_SENTINELS": ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels),
            "REDIS_SENTINEL_MASTER": MASTER_NAME,
            "REDIS_URL": "redis://ignored:1/0",  # its database only: the Sentinels name the server
        }

    def agreed(self) -> int | None:
        """The master's port, if every Sentinel names the same one."""
        named = {s.master() for s in self.sentinels}
        if len(named) != 1 or None in named:
            return None
        (master,) = named
        assert master is not None
        return master[1]

    def _all_know_each_other(self) -> bool:
        for sentinel in self.sentinels:
            client = redis.Redis(port=sentinel.port, socket_timeout=1)
            state = client.sentinel_master(MASTER_NAME)
            if int(state["num-slaves"]) < 1 or int(state["num-other-sentinels"]) < 2:
                return False
        return True

    @property
    def master(self) -> RedisServer:
        port = self.agreed()
        assert port is not None, "the Sentinels disagree"
        return self.servers[port]

    def kill_master(self) -> tuple[RedisServer, float]:
        """``kill -9`` the master; the killed server and when (``time.monotonic``)."""
        master = self.master
        master.kill()
        return master, time.monotonic()

    def failed_over(self, old: RedisServer, *, timeout: float = 30) -> RedisServer:
        """Wait until every Sentinel names another master than ``old``; the new master."""
        wait_until(lambda: self.agreed() not in (None, old.port), timeout=timeout, what="the Sentinels' failover")
        return self.master

    def rejoin(self, old: RedisServer) -> None:
        """Start ``old`` again: the Sentinels make it a replica of the new master; wait until it
        has caught up and every Sentinel counts it, so it can be failed over to."""
        old.start()
        wait_until(lambda: _role(old) == "slave", timeout=20, what="the old master turned replica")
        replicating(old)
        wait_until(self._all_know_each_other, timeout=20, what="the Sentinels counting the replica")

    def stop(self) -> None:
        for sentinel in self.sentinels:
            sentinel.stop()
        for server in self.servers.values():
            if server.proc is not None:
                server.stop()


def _role(server: RedisServer) -> str | None:
    try:
        return str(redis.Redis(port=server.port, socket_timeout=1).info("replication")["role"])
    except redis.RedisError:
        return None


def replicating(replica: RedisServer) -> None:
    """Wait until ``replica``'s link to its master is up and its first sync is done."""

    def synced() -> bool:
        try:
            info = redis.Redis(port=replica.port, socket_timeout=1).info("replication")
        except redis.RedisError:
            return False
        return bool(info.get("master_link_status") == "up" and not info.get("master_sync_in_progress"))

    wait_until(synced, timeout=20, what=f"the replica on {replica.port} in sync")


@contextmanager
def sentinel_group() -> Iterator[SentinelGroup]:
    group = SentinelGroup()
    try:
        group.start()
        yield group
    finally:
        group.stop()
