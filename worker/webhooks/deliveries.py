"""Sending one endpoint's claimed deliveries (``deliveries_send``), the body of a delivery job.

A delivery is claimed by the token its job carries (``webhook_deliveries.claim``, set by the
dispatcher, the sweep or a retry): a second job with an older token finds nothing to send, so
duplicates of a job send nothing twice. Each delivery is sent signed (Standard Webhooks:
``webhook-id`` is the event's id, the same on every attempt), its attempt recorded, and the
next one scheduled on ``WEBHOOK_RETRY_SCHEDULE`` (or ``Retry-After``), until a 2xx or the end
of the schedule. A receiver that does not answer ends the job's sending: the rest wait for its
next attempt, untried (the log shows only requests made). ``410 Gone`` disables the endpoint,
as does failing every attempt for ``WEBHOOK_DISABLE_AFTER``.

At least once: a delivery sent and not yet recorded when the process dies is sent again once
its claim expires, with the same ``webhook-id``.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import redis
from sqlalchemy import Connection, Engine, text

from shared import keys
from shared.batch_metrics import WEBHOOK_LAGS
from shared.config import Settings
from shared.errors import InvalidRequest
from shared.events import EVENT_READ, StoredEvent, webhook_payload
from shared.webhook_urls import url_check
from shared.webhooks import AttemptResult, DeliveryState, EndpointStatus, signature_header
from worker.webhooks.http import Answer, Sender

log = logging.getLogger("worker.webhooks")

SEND_SECONDS = 60.0
"""Longest a job keeps sending to one endpoint; what is left waits for the next job."""

CLAIM_MARGIN = 10.0
"""Seconds a started job's claim outlasts its longest request. The job renews its claim while
it sends, so a job whose process died leaves its deliveries to the sweep within a request's
timeout plus this."""

GONE = 410

_ENDPOINT = text(
    "SELECT url, status, deleted_at, secret, previous_secret, previous_secret_until > now() AS previous_signs,"
    " failing_since FROM webhook_endpoints WHERE id = :endpoint"
)
_CLAIM = text(
    "UPDATE webhook_deliveries SET claimed_until = now() + make_interval(secs => :seconds)"
    " WHERE claim = :claim AND endpoint_id = :endpoint AND state = 'pending'"
    " RETURNING id, event_id, attempts, event_created"
)
_EVENTS = text(f"{EVENT_READ} WHERE e.id = ANY(CAST(:ids AS uuid[]))")
_ATTEMPTS = text(
    "INSERT INTO webhook_attempts"
    " (delivery_id, endpoint_id, event_id, attempt, at, status_code, error, latency_ms, next_attempt_at)"
    " SELECT delivery, :endpoint, event, attempt, at, status_code, error, latency_ms, next_attempt_at"
    " FROM unnest(CAST(:delivery AS bigint[]), CAST(:event AS uuid[]), CAST(:attempt AS int[]),"
    " CAST(:at AS timestamptz[]), CAST(:status_code AS int[]), CAST(:error AS text[]), CAST(:latency_ms AS int[]),"
    " CAST(:next_attempt_at AS timestamptz[]))"
    " AS a(delivery, event, attempt, at, status_code, error, latency_ms, next_attempt_at)"
)
"""Each attempt of a job, in one statement (one array per column)."""
_OUTCOMES = text(
    "UPDATE webhook_deliveries d SET state = u.state, attempts = u.attempt, next_attempt_at = u.next_attempt_at,"
    " delivered_at = u.delivered_at, claim = NULL, claimed_until = NULL"
    " FROM unnest(CAST(:delivery AS bigint[]), CAST(:state AS text[]), CAST(:attempt AS int[]),"
    " CAST(:next_attempt_at AS timestamptz[]), CAST(:delivered_at AS timestamptz[]))"
    " AS u(id, state, attempt, next_attempt_at, delivered_at)"
    " WHERE d.id = u.id AND d.claim = :claim"
)
"""What each attempt of a job leaves its delivery (if still the job's), in one statement."""
_ATTEMPT_COLUMNS = ("delivery", "event", "attempt", "at", "status_code", "error", "latency_ms", "next_attempt_at")
_OUTCOME_COLUMNS = ("delivery", "state", "attempt", "next_attempt_at", "delivered_at")
_RELEASE = text(
    "UPDATE webhook_deliveries SET claim = NULL, claimed_until = NULL,"
    " next_attempt_at = greatest(next_attempt_at, :not_before)"
    " WHERE id = ANY(CAST(:ids AS bigint[])) AND claim = :claim"
)
_FAILED = f"state = '{DeliveryState.FAILED.value}', next_attempt_at = NULL, claim = NULL, claimed_until = NULL"
"""What a delivery given up becomes (no more attempts, no job's)."""
_GIVE_UP = text(f"UPDATE webhook_deliveries SET {_FAILED} WHERE id = ANY(CAST(:ids AS bigint[]))")  # noqa: S608
_FAILING = text(
    "UPDATE webhook_endpoints SET failing_since = CASE WHEN :reset THEN CAST(:failed_at AS timestamptz)"
    " ELSE coalesce(failing_since, :failed_at) END WHERE id = :endpoint RETURNING failing_since"
)
_DISABLE = text(
    "UPDATE webhook_endpoints SET status = :disabled, disabled_reason = :reason WHERE id = :endpoint;"  # noqa: S608 (constants)
    f" UPDATE webhook_deliveries SET {_FAILED} WHERE endpoint_id = :endpoint"
    f" AND state = '{DeliveryState.PENDING.value}'"
)


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    event_id: UUID
    attempts: int
    event_created: datetime


@dataclass(frozen=True, slots=True)
class _Sent:
    delivery: _Claimed
    at: datetime
    answer: Answer


def next_attempt(attempt: int, answer: Answer, schedule: Sequence[float], at: datetime) -> datetime | None:
    """When to try again after failed attempt number ``attempt`` (1 is the first): the receiver's
    ``Retry-After`` if it sent one, else the schedule's next wait; None past the schedule's end."""
    if attempt > len(schedule):
        return None
    wait = answer.retry_after if answer.retry_after is not None else schedule[attempt - 1]
    return at + timedelta(seconds=wait)


def deliveries_send(
    *, engine: Engine, connection: redis.Redis, settings: Settings, endpoint_id: UUID, claim: UUID
) -> int:
    """Send the deliveries of ``endpoint_id`` that ``claim`` names; how many requests it made."""
    lease = _Lease(engine, endpoint_id, claim, settings.webhook_timeout)
    with engine.begin() as conn:
        endpoint = conn.execute(_ENDPOINT, {"endpoint": endpoint_id}).first()
        claimed = [_Claimed(*row) for row in lease.take(conn)]
    if not claimed:
        return 0
    claimed.sort(key=lambda d: d.id)  # in the order the dispatcher made them: the feed's
    if endpoint is None or endpoint.deleted_at is not None or endpoint.status != EndpointStatus.ENABLED:
        with engine.begin() as conn:
            conn.execute(_GIVE_UP, {"ids": [d.id for d in claimed]})
        return 0
    with engine.connect() as conn:
        found = conn.execute(_EVENTS, {"ids": [d.event_id for d in claimed]})
        events = {event.id: event for event in map(StoredEvent.from_values, found)}
    pruned = [d.id for d in claimed if d.event_id not in events]
    claimed = [d for d in claimed if d.event_id in events]
    secrets = [endpoint.secret] + ([endpoint.previous_secret] if endpoint.previous_signs else [])
    sent = _send(endpoint.url, claimed, events, secrets, settings, lease.renewed)
    left = [d.id for d in claimed[len(sent) :]]
    with engine.begin() as conn:
        if pruned:
            conn.execute(_GIVE_UP, {"ids": pruned})
        _record(conn, endpoint, endpoint_id, claim, sent, left, settings)
    _count(connection, sent)
    return len(sent)


class _Lease:
    """A job's claim on its deliveries: it lasts a request's timeout plus ``CLAIM_MARGIN`` and is
    renewed before a request once half the margin has passed, so it never lapses mid-request
    while the job lives, and lapses soon after the job's process dies."""

    def __init__(self, engine: Engine, endpoint_id: UUID, claim: UUID, timeout: float) -> None:
        self.engine = engine
        self.values = {"claim": claim, "endpoint": endpoint_id, "seconds": timeout + CLAIM_MARGIN}
        self.renew_at = 0.0

    def take(self, conn: Connection) -> Sequence[Any]:
        """Claim (or claim again) the pending deliveries the token names; their rows."""
        self.renew_at = time.monotonic() + CLAIM_MARGIN / 2
        return conn.execute(_CLAIM, self.values).all()

    def renewed(self) -> bool:
        """Whether the deliveries are still this job's (renewing the claim when it is due)."""
        if time.monotonic() < self.renew_at:
            return True
        with self.engine.begin() as conn:
            return bool(self.take(conn))


def _send(
    url: str,
    claimed: list[_Claimed],
    events: dict[UUID, StoredEvent],
    secrets: list[str],
    settings: Settings,
    still_claimed: Callable[[], bool],
) -> list[_Sent]:
    """Send in order until done, a receiver that does not answer, a ``410``, ``SEND_SECONDS``,
    or the claim lost (``still_claimed``: the sweep gave the rest to another job)."""
    sent: list[_Sent] = []
    try:
        target = url_check(url, allow_private=settings.webhook_allow_private_urls)
    except InvalidRequest as exc:  # checked again at every delivery: the name may point elsewhere now
        if claimed:
            sent.append(_Sent(claimed[0], datetime.now(UTC), Answer(None, exc.message, 0)))
        return sent
    sender = Sender(target, timeout=settings.webhook_timeout)
    deadline = time.monotonic() + SEND_SECONDS
    try:
        for delivery in claimed:
            if not still_claimed():
                break
            event = events[delivery.event_id]
            body = webhook_payload(event.type, event.created, event.data)
            timestamp = int(time.time())
            headers = {
                "webhook-id": str(event.id),
                "webhook-timestamp": str(timestamp),
                "webhook-signature": signature_header(secrets, event.id, timestamp, body),
            }
            at = datetime.now(UTC)
            answer = sender.post(body, headers)
            sent.append(_Sent(delivery, at, answer))
            if answer.status is None or answer.status == GONE or time.monotonic() > deadline:
                break
    finally:
        sender.close()
    return sent


def _record(
    conn: Connection,
    endpoint: Any,
    endpoint_id: UUID,
    claim: UUID,
    sent: list[_Sent],
    left: list[int],
    settings: Settings,
) -> None:
    """Each attempt and what follows it, the deliveries left for later, and the endpoint's health."""
    not_before: datetime | None = None
    attempts: list[tuple[Any, ...]] = []
    outcomes: list[tuple[Any, ...]] = []
    for each in sent:
        attempt = each.delivery.attempts + 1
        answer = each.answer
        follow = None if answer.delivered else next_attempt(attempt, answer, settings.webhook_retry_schedule, each.at)
        state = (
            DeliveryState.DELIVERED
            if answer.delivered
            else DeliveryState.PENDING
            if follow is not None and answer.status != GONE
            else DeliveryState.FAILED
        )
        then = follow if state is DeliveryState.PENDING else None
        delivery = each.delivery
        attempts.append((delivery.id, delivery.event_id, attempt, each.at, *answer.logged, then))
        outcomes.append((delivery.id, state.value, attempt, then, datetime.now(UTC) if answer.delivered else None))
        if answer.status is None and follow is not None:
            not_before = follow  # the receiver did not answer: the rest wait as long
    if sent:
        conn.execute(_ATTEMPTS, {"endpoint": endpoint_id, **_arrays(_ATTEMPT_COLUMNS, attempts)})
        conn.execute(_OUTCOMES, {"claim": claim, **_arrays(_OUTCOME_COLUMNS, outcomes)})
    if left:
        conn.execute(_RELEASE, {"ids": left, "claim": claim, "not_before": not_before or datetime.now(UTC)})
    if not sent:
        return
    reason = None
    if any(s.answer.status == GONE for s in sent):
        reason = f"the receiver answered 410 Gone at {sent[-1].at.isoformat()}"
    else:
        # Failing since the first failure after the last success (an earlier one, if none here).
        last_success = max((i for i, s in enumerate(sent) if s.answer.delivered), default=-1)
        succeeded = last_success == len(sent) - 1
        failed_at = None if succeeded else sent[last_success + 1].at
        failing_since = conn.execute(
            _FAILING, {"reset": last_success >= 0, "failed_at": failed_at, "endpoint": endpoint_id}
        ).scalar_one()
        if failing_since is not None and sent[-1].at - failing_since >= timedelta(
            seconds=settings.webhook_disable_after
        ):
            reason = f"every attempt failed since {failing_since.isoformat()}"
    if reason is not None:
        log.warning("webhook endpoint %s disabled: %s", endpoint_id, reason)
        conn.execute(_DISABLE, {"disabled": EndpointStatus.DISABLED.value, "reason": reason, "endpoint": endpoint_id})


def _arrays(columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> dict[str, list[Any]]:
    """Rows as one list per column: the arrays a statement ``unnest``s."""
    return {column: list(values) for column, values in zip(columns, zip(*rows, strict=True), strict=True)}


def _count(connection: redis.Redis, sent: list[_Sent]) -> None:
    """The attempts' results and the delivered events' lags, for ``/metrics``."""
    if not sent:
        return
    results = Counter(
        AttemptResult.DELIVERED
        if each.answer.delivered
        else AttemptResult.UNREACHABLE
        if each.answer.status is None
        else AttemptResult.REFUSED
        for each in sent
    )
    lags = [
        max((each.at - each.delivery.event_created).total_seconds() + each.answer.latency_ms / 1000, 0.0)
        for each in sent
        if each.answer.delivered
    ]
    try:
        with connection.pipeline(transaction=False) as pipe:
            for result, count in results.items():
                pipe.hincrby(keys.WEBHOOK_RESULTS_KEY, result.value, count)
            WEBHOOK_LAGS.record(pipe, *lags)
            pipe.execute()
    except redis.RedisError:
        log.warning("could not count webhook attempts", exc_info=True)
