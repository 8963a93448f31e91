"""Webhook endpoints and their deliveries, with the real shard worker and a real webhook worker
process sending to a real local receiver; every signature verified with the Standard Webhooks
reference library (``standardwebhooks``), as a receiver would."""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text
from standardwebhooks.webhooks import Webhook

from deploy.processes import start_webhook_worker, stop, wait_until
from shared.config import Settings
from tests.support.api import Api, error_body, events_feed, wallet_pair, without_strays
from tests.support.factories import api_key
from tests.support.patching import patch_views
from tests.support.receiver import Receiver, Reply
from web.wallets.auth.api_keys import Scope

SCHEDULE = "1s,2s,4s"
TIMEOUT = 2.0


@pytest.fixture(scope="module")
def webhook_worker() -> Iterator[None]:
    proc = start_webhook_worker(
        WEBHOOK_ALLOW_PRIVATE_URLS="1", WEBHOOK_RETRY_SCHEDULE=SCHEDULE, WEBHOOK_TIMEOUT=str(TIMEOUT)
    )
    yield
    stop(proc)


@pytest.fixture
def private_urls(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """The web node lets endpoints name loopback addresses (the receivers of these tests)."""
    allowed = dataclasses.replace(settings, webhook_allow_private_urls=True)
    patch_views(monkeypatch, "get_settings", lambda: allowed)


@pytest.fixture
def tenant() -> Iterator[Api]:
    """A client of a tenant of its own, whose endpoints are deleted after the test."""
    api = Api(api_key(f"hooks-{uuid.uuid4().hex[:10]}").secret)
    yield api
    for endpoint in api.client.get("/api/v1/webhook-endpoints").json()["results"]:
        api.client.delete(f"/api/v1/webhook-endpoints/{endpoint['id']}")


def register(api: Api, url: str, **fields: Any) -> dict[str, Any]:
    response = api.client.post(
        "/api/v1/webhook-endpoints", data=json.dumps({"url": url, **fields}), content_type="application/json"
    )
    assert response.status_code == 201, response.content
    body: dict[str, Any] = response.json()
    return body


def attempts(api: Api, endpoint: str, event: str, count: int) -> list[dict[str, Any]]:
    """The endpoint's attempts of one event, oldest first, once ``count`` are logged (a receiver
    has a request before the webhook worker has recorded what came of it)."""

    def logged() -> list[dict[str, Any]]:
        response = api.client.get(f"/api/v1/webhook-endpoints/{endpoint}/deliveries", {"event_id": event})
        assert response.status_code == 200, response.content
        return list(reversed(response.json()["results"]))

    wait_until(lambda: len(logged()) >= count, timeout=10, what=f"{count} attempts logged")
    return logged()


def verified(secret: str, received: Any) -> dict[str, Any]:
    body: dict[str, Any] = Webhook(secret).verify(received.body, received.headers)
    return body


def test_an_endpoint_is_registered_read_rotated_and_deleted(tenant: Api, private_urls: None) -> None:
    made = register(tenant, "http://127.0.0.1:9/hook", event_types=["hold.created", "hold.expired"])
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", made["secret"])  # 32 random bytes
    endpoint = {k: v for k, v in made.items() if k != "secret"}
    assert (endpoint["url"], endpoint["event_types"], endpoint["status"], endpoint["disabled_reason"]) == (
        "http://127.0.0.1:9/hook",
        ["hold.created", "hold.expired"],
        "enabled",
        None,
    )
    path = f"/api/v1/webhook-endpoints/{made['id']}"
    assert tenant.client.get(path).json() == endpoint  # never the secret again
    assert tenant.client.get("/api/v1/webhook-endpoints").json() == {"results": [endpoint]}
    rotated = tenant.client.post(f"{path}/rotate-secret").json()
    assert rotated["secret"] != made["secret"]
    assert {k: v for k, v in rotated.items() if k != "secret"} == endpoint
    assert tenant.client.delete(path).status_code == 204
    assert error_body(tenant.client.get(path)) == {
        "error": "Webhook endpoint not found",
        "code": "webhook_endpoint_not_found",
    }
    assert tenant.client.get("/api/v1/webhook-endpoints").json() == {"results": []}


def test_another_tenant_and_a_read_only_key_cannot_touch_endpoints(tenant: Api, private_urls: None) -> None:
    made = register(tenant, "http://127.0.0.1:9/hook")
    stranger = Api(api_key(f"stranger-{uuid.uuid4().hex[:8]}").secret)
    path = f"/api/v1/webhook-endpoints/{made['id']}"
    for response in (
        stranger.client.get(path),
        stranger.client.delete(path),
        stranger.client.post(f"{path}/rotate-secret"),
        stranger.client.get(f"{path}/deliveries"),
        stranger.client.post(f"{path}/deliveries/{uuid.uuid4()}/retry"),
    ):
        assert response.status_code == 404, response.content
    assert stranger.client.get("/api/v1/webhook-endpoints").json() == {"results": []}
    assert [e["id"] for e in tenant.client.get("/api/v1/webhook-endpoints").json()["results"]] == [made["id"]]
    reader = Api(api_key(f"reader-{uuid.uuid4().hex[:8]}", Scope.READ).secret)
    response = reader.client.post(
        "/api/v1/webhook-endpoints", data=json.dumps({"url": "http://127.0.0.1:9/"}), content_type="application/json"
    )
    assert (response.status_code, error_body(response)["code"]) == (403, "api_key_read_only")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"url": "ftp://example.com/hook"}, "invalid_webhook_url"),
        ({"url": "https://"}, "invalid_webhook_url"),
        ({"url": 42}, "invalid_webhook_url"),
        ({"url": "https://user:pw@example.com/"}, "webhook_url_credentials"),
        ({"url": "https://no-such-host.invalid/"}, "webhook_url_unresolved"),
        ({"url": "http://127.0.0.1:8000/"}, "webhook_url_private"),
        ({"url": "http://localhost/hook"}, "webhook_url_private"),  # a name that resolves to 127.0.0.1
        ({"url": "http://10.1.2.3/"}, "webhook_url_private"),
        ({"url": "http://169.254.169.254/latest/meta-data"}, "webhook_url_private"),
        ({"url": "http://[::1]/"}, "webhook_url_private"),
        ({"url": "http://[::ffff:127.0.0.1]/"}, "webhook_url_private"),
        ({"url": "http://224.0.0.1/"}, "webhook_url_private"),
        ({"url": "http://0.0.0.0/"}, "webhook_url_private"),
        ({"url": "https://example.com/", "event_types": []}, "invalid_event_types"),
        ({"url": "https://example.com/", "event_types": ["money.vanished"]}, "invalid_event_type"),
        ({"url": "https://example.com/", "secret": "mine"}, "unknown_field"),
    ],
)
def test_a_bad_endpoint_is_a_clear_400(tenant: Api, body: dict[str, Any], code: str) -> None:
    response = tenant.client.post("/api/v1/webhook-endpoints", data=json.dumps(body), content_type="application/json")
    assert (response.status_code, error_body(response)["code"]) == (400, code), response.content


def test_private_addresses_are_accepted_with_the_switch(tenant: Api, private_urls: None) -> None:
    assert register(tenant, "http://localhost:9/hook")["status"] == "enabled"


def test_every_event_reaches_the_endpoint_signed_once_per_id(
    tenant: Api, private_urls: None, webhook_worker: None, receiver: Receiver, settings: Settings
) -> None:
    endpoint = register(tenant, receiver.url)
    source, destination = wallet_pair(tenant, settings.shard_count, 100)
    tenant.post_operation(source, {"operationType": "WITHDRAW", "amount": "500.00"})
    tenant.post_transfer(source, destination, "10.00")
    hold = tenant.post_hold(source, {"amount": "20.00", "to": destination}).json()["hold_id"]
    tenant.hold_change(hold, "capture", {"amount": "5.00"})
    everything = events_feed(tenant)
    events = without_strays(everything, (source, destination))
    assert len(events) == 8  # 2 wallets, deposit, refused withdrawal, transfer, hold, capture, its transfer
    receiver.wait_for({e["id"] for e in events})
    for event in events:
        [received] = receiver.of(event["id"])  # one request per event: each answered 200 at once
        assert received.headers["content-type"] == "application/json"
        assert verified(endpoint["secret"], received) == {
            "type": event["type"],
            "timestamp": event["created"],
            "data": event["data"],
        }
        assert [
            (a["attempt"], a["status_code"], a["error"]) for a in attempts(tenant, endpoint["id"], event["id"], 1)
        ] == [(1, 200, None)]
    receiver.wait_for({e["id"] for e in everything})
    assert receiver.ids() == {e["id"] for e in everything}  # nothing else: no event of another tenant


def test_an_endpoint_gets_only_its_types_and_only_events_after_it_was_made(
    tenant: Api, private_urls: None, webhook_worker: None, receiver: Receiver
) -> None:
    before = tenant.create_wallet(5)
    endpoint = register(tenant, receiver.url, event_types=["operation.applied"])
    tenant.post_operation(before, {"operationType": "DEPOSIT", "amount": "1.00"})
    after = tenant.create_wallet(2)  # wallet.created: not its type; its deposit is
    applied = [e for e in events_feed(tenant, type="operation.applied")]
    wanted = {e["id"] for e in applied[1:]}  # the first deposit came before the endpoint
    receiver.wait_for(wanted)
    assert receiver.ids() == wanted
    assert {json.loads(r.body)["data"]["wallet_id"] for r in receiver.requests} == {before, after}
    assert endpoint["event_types"] == ["operation.applied"]


def test_a_receiver_failing_three_times_gets_the_event_on_the_fourth_attempt(
    tenant: Api, private_urls: None, webhook_worker: None, receiver: Receiver
) -> None:
    endpoint = register(tenant, receiver.url)
    receiver.script(Reply(500), Reply(502), Reply(500))
    wallet = tenant.create_wallet()
    [event] = events_feed(tenant)
    receiver.wait_for({event["id"]}, timeout=20)
    wait_until(lambda: len(receiver.of(event["id"])) == 4, timeout=20, what="four attempts")
    got = receiver.of(event["id"])
    assert all(verified(endpoint["secret"], r)["data"]["id"] == wallet for r in got)  # the same id each time
    log = attempts(tenant, endpoint["id"], event["id"], 4)
    assert [(a["attempt"], a["status_code"], a["error"]) for a in log] == [
        (1, 500, None),
        (2, 502, None),
        (3, 500, None),
        (4, 200, None),
    ]
    assert [a["next_attempt_at"] is not None for a in log] == [True, True, True, False]
    waits = [later.at - earlier.at for earlier, later in itertools.pairwise(got)]
    # The schedule (WEBHOOK_RETRY_SCHEDULE): never sooner (a sweep passes every 0.5 s, so a little later).
    assert [wait > scheduled - 0.1 for wait, scheduled in zip(waits, (1, 2, 4), strict=True)] == [True] * 3
    assert max(waits) < 4 + 5


def test_retry_after_is_honoured_and_410_disables_the_endpoint(
    tenant: Api, private_urls: None, webhook_worker: None, receiver: Receiver
) -> None:
    endpoint = register(tenant, receiver.url)
    receiver.script(Reply(429, {"Retry-After": "3"}))
    tenant.create_wallet()
    [event] = events_feed(tenant)
    wait_until(lambda: len(receiver.of(event["id"])) == 2, timeout=20, what="the retry")
    first, second = receiver.of(event["id"])
    assert second.at - first.at > 3 - 0.1  # not the schedule's 1 s
    receiver.script(Reply(410))
    tenant.create_wallet()
    gone = events_feed(tenant)[-1]
    receiver.wait_for({gone["id"]})
    path = f"/api/v1/webhook-endpoints/{endpoint['id']}"
    wait_until(lambda: tenant.client.get(path).json()["status"] == "disabled", timeout=10, what="disabled")
    assert "410 Gone" in tenant.client.get(path).json()["disabled_reason"]
    tenant.create_wallet()
    late = events_feed(tenant)[-1]
    with_endpoint = register(tenant, receiver.url)  # an enabled one, to know when dispatch has passed
    tenant.create_wallet()
    receiver.wait_for({events_feed(tenant)[-1]["id"]})
    assert receiver.of(late["id"]) == []  # a disabled endpoint gets nothing more
    assert with_endpoint["status"] == "enabled"
    assert [(a["attempt"], a["status_code"]) for a in attempts(tenant, endpoint["id"], gone["id"], 1)] == [(1, 410)]


def test_a_receiver_that_never_answers_is_timed_out_and_retried(
    tenant: Api, private_urls: None, webhook_worker: None, receiver: Receiver
) -> None:
    endpoint = register(tenant, receiver.url)
    receiver.script(Reply(200, delay=TIMEOUT + 1))
    tenant.create_wallet()
    [event] = events_feed(tenant)
    wait_until(lambda: len(receiver.of(event["id"])) == 2, timeout=20, what="the retry after a timeout")
    first, second = attempts(tenant, endpoint["id"], event["id"], 2)
    assert (first["status_code"], first["error"]) == (None, f"timeout: no answer within {TIMEOUT:g} s")
    assert first["latency_ms"] >= TIMEOUT * 1000
    assert (second["status_code"], second["error"]) == (200, None)


def test_a_delivery_is_sent_again_on_request(
    tenant: Api, private_urls: None, webhook_worker: None, receiver: Receiver
) -> None:
    endpoint = register(tenant, receiver.url)
    tenant.create_wallet()
    [event] = events_feed(tenant)
    receiver.wait_for({event["id"]})
    path = f"/api/v1/webhook-endpoints/{endpoint['id']}/deliveries/{event['id']}/retry"
    response = tenant.client.post(path)
    assert (response.status_code, response.json()["state"]) == (202, "pending")
    wait_until(lambda: len(receiver.of(event["id"])) == 2, timeout=10, what="the retry")
    assert [a["attempt"] for a in attempts(tenant, endpoint["id"], event["id"], 2)] == [1, 2]
    unknown = tenant.client.post(f"/api/v1/webhook-endpoints/{endpoint['id']}/deliveries/{uuid.uuid4()}/retry")
    assert (unknown.status_code, error_body(unknown)["code"]) == (404, "event_not_found")


def test_a_rotated_secret_signs_beside_the_new_one(
    tenant: Api, private_urls: None, webhook_worker: None, receiver: Receiver, db: Engine
) -> None:
    old = register(tenant, receiver.url)
    new = tenant.client.post(f"/api/v1/webhook-endpoints/{old['id']}/rotate-secret").json()
    tenant.create_wallet()
    [event] = events_feed(tenant)
    receiver.wait_for({event["id"]})
    [received] = receiver.of(event["id"])
    assert len(received.headers["webhook-signature"].split(" ")) == 2
    assert verified(old["secret"], received) == verified(new["secret"], received)
    with db.begin() as conn:  # a day later
        conn.execute(
            text("UPDATE webhook_endpoints SET previous_secret_until = now() - interval '1 second' WHERE id = :id"),
            {"id": old["id"]},
        )
    tenant.create_wallet()
    later = events_feed(tenant)[-1]
    receiver.wait_for({later["id"]})
    [received] = receiver.of(later["id"])
    assert len(received.headers["webhook-signature"].split(" ")) == 1
    verified(new["secret"], received)
