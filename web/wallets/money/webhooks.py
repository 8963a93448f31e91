"""Webhook endpoints as the web node keeps them: registered, listed, rotated and deleted per
tenant, with their attempts' log and a delivery retried on request. Deliveries themselves are
the webhook workers' (``worker.webhooks``); every URL is checked here when registered and
there again at every delivery (``shared.webhook_urls``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import redis

from shared.config import Settings
from shared.errors import Forbidden, NotFound
from shared.events import EventType
from shared.webhook_urls import url_check
from shared.webhooks import (
    DELIVERIES_AGAIN,
    PREVIOUS_SECRET_HOURS,
    EndpointStatus,
    deliveries_claimed_params,
    deliveries_enqueue,
    secret_new,
)
from web.database import read_all, read_one
from web.wallets.auth.api_keys import Caller
from web.wallets.error_codes import ENDPOINT_NOT_FOUND, ENDPOINT_QUOTA, EVENT_NOT_FOUND
from web.wallets.inputs import MAX_WEBHOOK_ENDPOINTS

_COLUMNS = "id, url, event_types, status, disabled_reason, created_at"
_TENANT = "tenant_id IS NOT DISTINCT FROM %s::uuid"

# One statement: the count and the insert see the same rows, so the quota holds (a tenant's
# rare concurrent registrations may both pass it: the quota is a guard, not money).
_CREATE = (
    "INSERT INTO webhook_endpoints"  # noqa: S608 (constants only)
    " (id, tenant_id, url, event_types, status, secret, api_key_id, cursor_txid, cursor_seq)"
    " SELECT %s, %s, %s, %s, %s, %s, %s, pg_snapshot_xmin(pg_current_snapshot())::text::bigint, 0"
    f" WHERE (SELECT count(*) FROM webhook_endpoints WHERE {_TENANT} AND deleted_at IS NULL) < %s"
    f" ON CONFLICT (id) DO NOTHING RETURNING {_COLUMNS}"
)
_GET = f"SELECT {_COLUMNS} FROM webhook_endpoints WHERE id = %s AND {_TENANT} AND deleted_at IS NULL"  # noqa: S608
_LIST = (
    f"SELECT {_COLUMNS} FROM webhook_endpoints WHERE {_TENANT} AND deleted_at IS NULL"  # noqa: S608
    " ORDER BY created_at, id"
)
_DELETE = (
    f"UPDATE webhook_endpoints SET deleted_at = coalesce(deleted_at, now()) WHERE id = %s AND {_TENANT}"  # noqa: S608
    " RETURNING id"
)
# Idempotent (a statement may run twice): run again with the same new secret, it changes nothing.
_ROTATE = (
    "UPDATE webhook_endpoints SET"  # noqa: S608 (constants only)
    " previous_secret = CASE WHEN secret = %(new)s THEN previous_secret ELSE secret END,"
    " previous_secret_until = CASE WHEN secret = %(new)s THEN previous_secret_until"
    f" ELSE now() + interval '{PREVIOUS_SECRET_HOURS} hours' END,"
    " secret = %(new)s"
    f" WHERE id = %(id)s AND tenant_id IS NOT DISTINCT FROM %(tenant)s::uuid AND deleted_at IS NULL"
    f" RETURNING {_COLUMNS}"
)
_ATTEMPTS = (
    "SELECT id, event_id, attempt, at, status_code, error, latency_ms, next_attempt_at"
    " FROM webhook_attempts WHERE endpoint_id = %s AND id < %s"
)
_EVENT_OF_TENANT = f"SELECT created FROM events WHERE id = %s AND {_TENANT}"  # noqa: S608


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: UUID
    url: str
    event_types: tuple[str, ...]
    """Empty: every type."""
    status: str
    disabled_reason: str | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Endpoint:
        id_, url, types, status, reason, created_at = row
        return cls(UUID(str(id_)), url, tuple(types.split()), status, reason, created_at)


@dataclass(frozen=True, slots=True)
class NewSecret:
    endpoint: Endpoint
    secret: str
    """Shown once: the service never shows it again."""


def endpoint_create(*, caller: Caller, url: str, event_types: tuple[EventType, ...], settings: Settings) -> NewSecret:
    """Register ``url`` for the caller's tenant's events (``event_types``; none: all), from
    the events after this moment on. The URL must pass ``shared.webhook_urls.url_check``."""
    caller.require_write()
    url_check(url, allow_private=settings.webhook_allow_private_urls)
    endpoint_id, secret = uuid.uuid4(), secret_new()
    types = " ".join(t.value for t in event_types)
    row = read_one(
        _CREATE,
        (
            str(endpoint_id),
            caller.tenant_id,
            url,
            types,
            EndpointStatus.ENABLED.value,
            secret,
            None if caller.key_id is None else str(caller.key_id),
            caller.tenant_id,
            MAX_WEBHOOK_ENDPOINTS,
        ),
    )
    if row is None:
        row = read_one(_GET, (str(endpoint_id), caller.tenant_id))  # a retry found it made
        if row is None:
            raise Forbidden(ENDPOINT_QUOTA)
    return NewSecret(Endpoint.from_row(row), secret)


def endpoint_get(*, caller: Caller, endpoint_id: UUID) -> Endpoint:
    row = read_one(_GET, (str(endpoint_id), caller.tenant_id))
    if row is None:
        raise NotFound(ENDPOINT_NOT_FOUND)
    return Endpoint.from_row(row)


def endpoints_list(*, caller: Caller) -> list[Endpoint]:
    return [Endpoint.from_row(row) for row in read_all(_LIST, (caller.tenant_id,), MAX_WEBHOOK_ENDPOINTS)]


def endpoint_delete(*, caller: Caller, endpoint_id: UUID) -> None:
    """No more deliveries to it (those in flight finish); its log stays until pruned."""
    caller.require_write()
    endpoint_get(caller=caller, endpoint_id=endpoint_id)
    read_one(_DELETE, (str(endpoint_id), caller.tenant_id))


def endpoint_rotate(*, caller: Caller, endpoint_id: UUID) -> NewSecret:
    """A new secret; the one it replaces keeps signing beside it for ``PREVIOUS_SECRET_HOURS``."""
    caller.require_write()
    secret = secret_new()
    row = read_one(_ROTATE, {"new": secret, "id": str(endpoint_id), "tenant": caller.tenant_id})
    if row is None:
        raise NotFound(ENDPOINT_NOT_FOUND)
    return NewSecret(Endpoint.from_row(row), secret)


@dataclass(frozen=True, slots=True)
class Attempt:
    id: int
    event_id: UUID
    attempt: int
    at: datetime
    status_code: int | None
    error: str | None
    latency_ms: int
    next_attempt_at: datetime | None


def attempts_list(
    *, caller: Caller, endpoint_id: UUID, before: int | None, event_id: UUID | None, limit: int
) -> tuple[list[Attempt], int | None]:
    """A page of the endpoint's attempts, newest first, below attempt ``before``; and where the
    next page starts below (None: the end)."""
    endpoint_get(caller=caller, endpoint_id=endpoint_id)
    sql, params = _ATTEMPTS, [str(endpoint_id), before if before is not None else 2**63 - 1]
    if event_id is not None:
        sql += " AND event_id = %s"
        params.append(str(event_id))
    rows = read_all(sql + " ORDER BY id DESC LIMIT %s", (*params, limit + 1), limit + 1)
    page = [Attempt(int(r[0]), UUID(str(r[1])), *r[2:]) for r in rows[:limit]]
    return page, (page[-1].id if len(rows) > limit else None)


def delivery_retry(
    *, caller: Caller, endpoint_id: UUID, event_id: UUID, connection: redis.Redis, settings: Settings
) -> None:
    """Send the event to the endpoint again, now (whatever became of it before)."""
    caller.require_write()
    endpoint_get(caller=caller, endpoint_id=endpoint_id)
    event = read_one(_EVENT_OF_TENANT, (str(event_id), caller.tenant_id))
    if event is None:
        raise NotFound(EVENT_NOT_FOUND)
    claim = uuid.uuid4()
    read_one(DELIVERIES_AGAIN, deliveries_claimed_params(endpoint_id, claim, [(event_id, event[0])]))
    deliveries_enqueue(connection, [(endpoint_id, claim)], result_ttl=settings.result_ttl)


_OLDEST_UNDELIVERED = (
    "SELECT endpoint_id, extract(epoch FROM now() - min(event_created)) FROM webhook_deliveries"
    " WHERE state = 'pending' GROUP BY endpoint_id"
)
_DISABLED = "SELECT count(*) FROM webhook_endpoints WHERE status = 'disabled' AND deleted_at IS NULL"
MAX_ENDPOINTS_MEASURED = 10_000
"""Most endpoints ``/metrics`` shows the oldest undelivered event of."""


def deliveries_oldest_get() -> list[tuple[str, float]]:
    """For each endpoint with a delivery pending, the age in seconds of its oldest event (for
    ``/metrics``): an endpoint whose deliveries do not keep up shows a growing age."""
    return [(str(row[0]), float(row[1])) for row in read_all(_OLDEST_UNDELIVERED, (), MAX_ENDPOINTS_MEASURED)]


def endpoints_disabled_get() -> int:
    row = read_one(_DISABLED, ())
    return 0 if row is None else int(row[0])
