"""The RQ job of webhook delivery (``shared.webhooks.DELIVERY_JOB``), served by the webhook
workers (``python -m worker.webhooks``): one endpoint's claimed deliveries."""

from __future__ import annotations

from functools import lru_cache
from uuid import UUID

from sqlalchemy import Engine

from shared.config import get_settings
from shared.connections import engine_from_settings, get_redis
from worker.webhooks.deliveries import deliveries_send


@lru_cache(maxsize=1)
def engine() -> Engine:
    return engine_from_settings(get_settings(), pool_size=2, application_name="wallet-webhooks")


def deliveries_send_job(endpoint_id: str, claim: str) -> int:
    """Send what ``claim`` names of ``endpoint_id``'s deliveries; how many requests it made."""
    return deliveries_send(
        engine=engine(),
        connection=get_redis(),
        settings=get_settings(),
        endpoint_id=UUID(endpoint_id),
        claim=UUID(claim),
    )
