"""Process metrics of a web node in multiprocess mode: prometheus_client's own collector
sees only the process answering the scrape, so these sum over gunicorn's master and all its
workers (read with psutil at scrape time, with the standard ``process_`` names)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import psutil
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


@dataclass(frozen=True, slots=True)
class Usage:
    cpu_seconds: float
    resident_bytes: int
    open_fds: int


def _usage(process: psutil.Process) -> Usage | None:
    """One process's CPU time, resident memory and open files (None: it is gone)."""
    try:
        with process.oneshot():
            times = process.cpu_times()
            return Usage(times.user + times.system, process.memory_info().rss, process.num_fds())
    except psutil.Error:
        return None


def web_processes(master: int) -> list[psutil.Process]:
    """A gunicorn master and its workers (its children); none if the master is gone."""
    try:
        process = psutil.Process(master)
        return [process, *process.children()]
    except psutil.Error:
        return []


class WebProcessesCollector(Collector):
    """``process_*`` summed over a gunicorn master (``master``) and its workers."""

    def __init__(self, master: int) -> None:
        self.master = master

    def collect(self) -> Iterator[Metric]:
        usages = [usage for usage in map(_usage, web_processes(self.master)) if usage is not None]
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
