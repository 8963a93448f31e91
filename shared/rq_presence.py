"""The shard worker's record in RQ (part of the RQ contract, ``shared.rq_contract``): what
rq-dashboard and ``rq info`` list of a worker."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import redis
from redis.client import Pipeline
from rq import Queue, SimpleWorker, worker_registration
from rq.serializers import JSONSerializer
from rq.worker import WorkerStatus

from shared.rq_contract import queues_suspended


class WorkerPresence:
    """The shard worker as rq-dashboard and ``rq info`` see it: an RQ worker record listing the
    queues of the shards it leases, its state and heartbeat, and its job counters."""

    def __init__(self, connection: redis.Redis, name: str, *, result_ttl: int) -> None:
        # rq sets its worker logger to INFO at import: its registry cleanup would log one line
        # per queue every minute (16 per worker). Its warnings and errors still pass.
        logging.getLogger("rq.worker").setLevel(logging.WARNING)
        self._rq = SimpleWorker(
            [], name=name, connection=connection, serializer=JSONSerializer, default_result_ttl=result_ttl
        )
        self.born = False

    @property
    def name(self) -> str:
        return str(self._rq.name)

    @property
    def key(self) -> str:
        return str(self._rq.key)

    def queue_names(self) -> list[str]:
        return list(self._rq.queue_names())

    def birth(self, queues: Sequence[str]) -> None:
        self._set_queues(queues)
        self._rq.register_birth()
        self.born = True

    def publish(self, queues: Sequence[str]) -> None:
        """Show ``queues`` as this worker's (RQ indexes workers by queue)."""
        if not self.born:
            self._set_queues(queues)
            return
        with self._rq.connection.pipeline() as pipe:
            worker_registration.unregister(self._rq, pipeline=pipe)
            self._set_queues(queues)
            pipe.hset(self.key, "queues", ",".join(self.queue_names()))
            worker_registration.register(self._rq, pipeline=pipe)
            pipe.execute()

    def state(self, pipeline: Pipeline, *, busy: bool, suspended: bool = False) -> None:
        """Queue on ``pipeline`` the worker's state: busy, idle, or suspended (``rq suspend``
        holds it: rq-dashboard shows "suspended", not an idle worker ignoring its queue)."""
        status = WorkerStatus.BUSY if busy else WorkerStatus.SUSPENDED if suspended else WorkerStatus.IDLE
        self._rq.set_state(status, pipeline=pipeline)

    def heartbeat(self, pipeline: Pipeline) -> None:
        self._rq.heartbeat(pipeline=pipeline)

    def count(self, pipeline: Pipeline, *, finished: int, failed: int, seconds: float) -> None:
        """Queue on ``pipeline`` the worker's job counters for a batch (the dashboard shows them)."""
        if finished:
            pipeline.hincrby(self.key, "successful_job_count", finished)
        if failed:
            pipeline.hincrby(self.key, "failed_job_count", failed)
        pipeline.hincrbyfloat(self.key, "total_working_time", seconds)

    def death(self) -> None:
        """Leave the dashboards at once."""
        if self.born:
            self._rq.register_death()
            self.born = False

    def clean_registries(self) -> None:
        """RQ's periodic cleanup of its job registries for this worker's queues."""
        self._rq.clean_registries()

    def suspended(self) -> bool:
        """Whether ``rq suspend`` was run."""
        return queues_suspended(self._rq.connection)

    def _set_queues(self, queues: Sequence[str]) -> None:
        self._rq.queues = [Queue(name, connection=self._rq.connection, serializer=JSONSerializer) for name in queues]
        self._rq._ordered_queues = list(self._rq.queues)
