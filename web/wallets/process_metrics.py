"""Process metrics of a web node in multiprocess mode: prometheus_client's own collector
sees only the process answering the scrape, so these sum over gunicorn's master and all its
workers (read from ``/proc`` at scrape time, with the standard ``process_`` names)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True, slots=True)
class Usage:
    cpu_seconds: float
    resident_bytes: int
    open_fds: int


def _usage(pid: int) -> Usage | None:
    """One process's CPU time, resident memory and open files (None: it is gone)."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
        fds = len(os.listdir(PROC / str(pid) / "fd"))
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    utime, stime, rss = int(fields[11]), int(fields[12]), int(fields[21])
    return Usage((utime + stime) / TICKS, rss * PAGE, fds)


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


class WebProcessesCollector(Collector):
    """``process_*`` summed over a gunicorn master (``master``) and its workers."""

    def __init__(self, master: int) -> None:
        self.master = master

    def collect(self) -> Iterator[Metric]:
        pids = [self.master, *children(self.master)]
        usages = [usage for usage in map(_usage, pids) if usage is not None]
        yield GaugeMetricFamily("wallet_web_processes", "Processes of this web node (master and workers)", len(usages))
        cpu = CounterMetricFamily(
            "process_cpu_seconds",
            "User and system CPU seconds of this web node's processes (a worker's end takes its share off)",
        )
        cpu.add_metric([], sum(usage.cpu_seconds for usage in usages))
        yield cpu
        yield GaugeMetricFamily(
            "process_resident_memory_bytes",
            "Resident memory of this web node's processes",
            sum(usage.resident_bytes for usage in usages),
        )
        yield GaugeMetricFamily(
            "process_open_fds", "Open file descriptors of this web node's processes", sum(u.open_fds for u in usages)
        )
