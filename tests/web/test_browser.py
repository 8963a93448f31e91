"""What people look at, seen in a real browser (headless Chromium, served by gunicorn): the
API reference page and the admin lists load with no script error, no failed or refused
load, no HTTP error of any asset, nothing wider than the window, and ids on one line; and
the read-only rq-dashboard lists every shard queue and the worker.
Each page's picture is kept under ``.run/screenshots``."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.test import Client
from sqlalchemy import Engine, insert, text, update

from deploy.processes import answers, free_port, start, start_gunicorn, stop, wait_until
from shared.config import Settings
from shared.money import MAX_BALANCE
from shared.outcomes import Rejection
from shared.tables import webhook_attempts, webhook_deliveries, webhook_endpoints
from shared.webhooks import deliveries_enqueue
from tests.support.api import Api
from tests.support.browser import Browser, PageReport, save_screenshot
from tests.support.factories import event_row, seed_applied_deposit, seed_refusal, tenant_id, webhook_endpoint
from web.wallets.api.openapi import OPENAPI
from web.wallets.api.reference import METHODS
from web.wallets.error_codes import CODES

LAYOUT = """({
  overflow: document.documentElement.scrollWidth - window.innerWidth,
  cut: Math.max(0, ...[...document.querySelectorAll('#changelist .results')].map(e => e.scrollWidth - e.clientWidth)),
  rows: [...document.querySelectorAll('#result_list tbody tr')].map(r => r.getBoundingClientRect().height),
  sections: [...document.querySelectorAll('main section h3.endpoint')].map(h => h.id),
  resources: [...document.querySelectorAll('main h2.resource')].map(h => h.textContent),
  curls: [...document.querySelectorAll('main section pre')].filter(p => p.textContent.startsWith('curl ')).length,
  fields: [...document.querySelectorAll('main section table')]
    .filter(t => t.querySelector('th')?.textContent === 'field')
    .map(t => t.closest('section').querySelector('h3.endpoint').id),
  codes: [...document.querySelectorAll('#errors ~ table tbody tr td:first-child')].map(td => td.textContent),
  title: document.title,
})"""
"""What the tests read off a page once it has loaded."""


@pytest.fixture(scope="module")
def site(shard_worker: None) -> Iterator[str]:
    port = free_port()
    proc = start_gunicorn(port)
    yield f"http://127.0.0.1:{port}"
    stop(proc)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with Browser() as chromium:
        yield chromium


def _clean(report: PageReport, name: str) -> dict[str, Any]:
    save_screenshot(report, name)
    assert not report.problems, (report.url, report.problems)
    assert report.screenshot.startswith(b"\x89PNG")
    layout: dict[str, Any] = report.value
    assert layout["overflow"] <= 0, (report.url, "wider than the window")
    return layout


def test_the_api_reference_page_renders_every_operation_and_code(site: str, browser: Browser) -> None:
    report = browser.load(f"{site}/api/v1/docs", evaluate=LAYOUT)
    layout = _clean(report, "api-reference")
    operations = [op["operationId"] for item in OPENAPI["paths"].values() for m, op in item.items() if m in METHODS]
    assert sorted(layout["sections"]) == sorted(operations)  # each HEAD is said on its GET
    assert layout["resources"] == [*(tag["name"] for tag in OPENAPI["tags"]), "Errors and codes"]  # errors last
    assert layout["curls"] == len(operations)
    with_fields = [
        op["operationId"]
        for item in OPENAPI["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "requestBody" in op
    ]
    assert sorted(layout["fields"]) == sorted(with_fields)
    assert sorted(layout["codes"]) == CODES  # each once
    assert layout["title"] == "Wallet service: API reference"


def test_a_page_that_breaks_is_reported(site: str, browser: Browser) -> None:
    """The check itself: a missing asset and a refused inline script are problems."""
    report = browser.load(f"{site}/static/admin/css/no-such-file.css")
    assert any("HTTP 404" in problem for problem in report.problems), report.problems
    report = browser.load(
        f"{site}/api/v1/docs", evaluate="document.body.insertAdjacentHTML('beforeend', '<img src=/nowhere.png>')"
    )
    assert any("nowhere.png" in problem for problem in report.problems), report.problems


@pytest.mark.parametrize(
    "page",
    ["wallets/wallet/", "wallets/walletoperation/", "wallets/transfer/", "wallets/hold/", "wallets/apikey/"],
)
def test_the_admin_lists_render_cleanly_with_ids_on_one_line(
    page: str, api: Api, admin_client: Client, site: str, browser: Browser, db: Engine
) -> None:
    wallet, other = api.create_wallet(100), api.create_wallet()
    api.post_transfer(wallet, other, "1.00")
    api.post_hold(wallet, {"amount": "2.00", "to": other})
    # The widest cells there are: the longest error, and the largest amount and balance.
    seed_refusal(db, uuid.UUID(wallet), max(Rejection, key=lambda r: len(r.value)))
    seed_applied_deposit(db, uuid.UUID(api.create_wallet()), MAX_BALANCE)
    session = admin_client.cookies["sessionid"].value
    report = browser.load(f"{site}/admin/{page}", cookies={"sessionid": session}, evaluate=LAYOUT)
    layout = _clean(report, "admin-" + page.strip("/").replace("/", "-"))
    rows: list[float] = layout["rows"]
    assert rows, "the list is empty"
    assert layout["cut"] == 0, "columns cut off: the list scrolls sideways"
    assert max(rows) < 48, f"a row is {max(rows)} px high: something wraps"


@pytest.fixture(scope="module")
def dashboard(settings: Settings, shard_worker: None) -> Iterator[str]:
    """The read-only rq-dashboard on the Redis the suite's shard worker serves."""
    port = free_port()
    proc = start([sys.executable, "deploy/dashboard.py", "--port", str(port), "--redis-url", settings.redis_url])
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: answers(f"{url}/0/data/queues.json"), timeout=30, what="rq-dashboard")
    yield url
    stop(proc)


DASHBOARD_ROWS = """({
  overflow: document.documentElement.scrollWidth - window.innerWidth,
  rows: [...document.querySelectorAll('table tbody tr')].map(r => r.innerText.split('\\t')[0].trim()),
})"""


@pytest.mark.parametrize(("page", "expected"), [("queues", "wallets.shard.15"), ("workers", "wallets-")])
def test_the_dashboard_shows_every_queue_and_the_worker_without_errors(
    page: str, expected: str, api: Api, dashboard: str, browser: Browser
) -> None:
    api.create_wallet(5)  # a finished job on some shard
    report = browser.load(f"{dashboard}/0/view/{page}", evaluate=DASHBOARD_ROWS, settle=2.0)
    save_screenshot(report, f"dashboard-{page}")
    assert not report.problems, report.problems
    assert report.value["overflow"] <= 0
    rows: list[str] = report.value["rows"]
    assert any(row.startswith(expected) for row in rows), rows
    if page == "queues":
        assert len([row for row in rows if row.startswith("wallets.shard.")]) == 16


@pytest.mark.parametrize("page", ["wallets/webhookendpoint/", "wallets/webhookdelivery/"])
def test_the_webhook_admin_lists_render_cleanly(
    page: str, db: Engine, admin_client: Client, site: str, browser: Browser
) -> None:
    endpoint, secret = webhook_endpoint(db, "https://hooks.example.com/wallets/a-rather-long-path/for-the-layout")
    try:
        with db.begin() as conn:
            event = event_row(conn, tenant_id(db))
            delivery = conn.execute(
                insert(webhook_deliveries)
                .values(endpoint_id=endpoint, event_id=event, event_created=text("now()"), state="pending")
                .returning(webhook_deliveries.c.id)
            ).scalar_one()
            conn.execute(
                insert(webhook_attempts).values(
                    delivery_id=delivery,
                    endpoint_id=endpoint,
                    event_id=event,
                    attempt=1,
                    at=text("now()"),
                    status_code=503,
                    latency_ms=12,
                )
            )
        session = admin_client.cookies["sessionid"].value
        report = browser.load(f"{site}/admin/{page}", cookies={"sessionid": session}, evaluate=LAYOUT)
        layout = _clean(report, "admin-" + page.strip("/").replace("/", "-"))
        assert layout["rows"], "the list is empty"
        assert layout["cut"] == 0, "columns cut off: the list scrolls sideways"
        assert max(layout["rows"]) < 48, f"a row is {max(layout['rows'])} px high: something wraps"
        detail = f"{site}/admin/wallets/webhookendpoint/{endpoint}/change/"
        assert (
            secret not in browser.load(detail, cookies={"sessionid": session}, evaluate="document.body.innerHTML").value
        )
    finally:
        with db.begin() as conn:
            conn.execute(
                update(webhook_endpoints).where(webhook_endpoints.c.id == endpoint).values(deleted_at=text("now()"))
            )


def test_the_dashboard_shows_the_webhooks_queue(web_redis: redis.Redis, dashboard: str, browser: Browser) -> None:
    deliveries_enqueue(web_redis, [(uuid.uuid4(), uuid.uuid4())], result_ttl=10)  # a job (that sends nothing)
    report = browser.load(f"{dashboard}/0/view/queues", evaluate=DASHBOARD_ROWS, settle=2.0)
    assert not report.problems, report.problems
    assert "webhooks" in [row.split()[0] for row in report.value["rows"] if row]
