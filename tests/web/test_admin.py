"""The admin is behind a login, and nothing in it can change a balance or the ledger."""

from __future__ import annotations

import dataclasses
import json
import uuid
from decimal import Decimal

import pytest
from django.test import Client

from shared.config import Settings
from shared.transfers import credit_id
from tests.support.api import Api
from tests.support.patching import patch_views
from web.wallets.models import Wallet


def test_admin_requires_login(api: Api) -> None:
    wallet = api.create_wallet()
    for path in ("/admin/", f"/admin/wallets/wallet/{wallet}/change/", "/admin/wallets/walletoperation/"):
        response = api.client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_balance_is_read_only_in_admin(api: Api, admin_client: Client) -> None:
    wallet = api.create_wallet(10)
    page = admin_client.get(f"/admin/wallets/wallet/{wallet}/change/")
    assert page.status_code == 200
    assert b'name="balance"' not in page.content
    assert b"10.00" in page.content
    posted = admin_client.post(f"/admin/wallets/wallet/{wallet}/change/", {"balance": "999999"})
    assert posted.status_code == 403
    deleted = admin_client.post(f"/admin/wallets/wallet/{wallet}/delete/", {"post": "yes"})
    assert deleted.status_code == 403
    assert api.balance(wallet) == 10


def test_operations_are_read_only_and_filterable(api: Api, admin_client: Client) -> None:
    wallet = api.create_wallet(10)
    listing = admin_client.get(f"/admin/wallets/walletoperation/?wallet__id__exact={wallet}&status__exact=applied")
    assert listing.status_code == 200
    assert b"10.00" in listing.content
    assert admin_client.get("/admin/wallets/walletoperation/add/").status_code == 403
    operation_id = api.client.get(f"/api/v1/wallets/{wallet}/operations").json()["results"][0]["operation_id"]
    change = admin_client.post(f"/admin/wallets/walletoperation/{operation_id}/change/", {"amount": "1"})
    assert change.status_code == 403


def test_transfers_are_listed_read_only_with_their_legs(api: Api, admin_client: Client) -> None:
    source, destination = api.create_wallet(10), api.create_wallet()
    transfer_id = api.post_transfer(source, destination, "2.50").json()["transfer_id"]
    listing = admin_client.get("/admin/wallets/transfer/", {"q": source})
    assert listing.status_code == 200
    assert transfer_id.encode() in listing.content
    assert b"completed" in listing.content
    page = admin_client.get(f"/admin/wallets/transfer/{transfer_id}/change/")
    assert page.status_code == 200
    assert b'name="amount"' not in page.content
    legs = admin_client.get("/admin/wallets/walletoperation/", {"transfer__id__exact": transfer_id})
    assert legs.status_code == 200
    for leg in (transfer_id, str(credit_id(uuid.UUID(transfer_id)))):
        assert leg.encode() in legs.content
    assert admin_client.get("/admin/wallets/transfer/add/").status_code == 403
    assert admin_client.post(f"/admin/wallets/transfer/{transfer_id}/change/", {"state": "failed"}).status_code == 403
    assert admin_client.post(f"/admin/wallets/transfer/{transfer_id}/delete/", {"post": "yes"}).status_code == 403
    assert (api.balance(source), api.balance(destination)) == (Decimal("7.50"), Decimal("2.50"))


def test_holds_are_listed_read_only_with_their_ledger_rows(api: Api, admin_client: Client) -> None:
    wallet = api.create_wallet(10)
    hold_id = api.post_hold(wallet, {"amount": "4.00"}).json()["hold_id"]
    capture = api.hold_change(hold_id, "capture", {"amount": "1.00"}).json()["operation_id"]
    listing = admin_client.get("/admin/wallets/hold/", {"q": wallet})
    assert listing.status_code == 200
    assert hold_id.encode() in listing.content
    assert b"captured" in listing.content
    page = admin_client.get(f"/admin/wallets/hold/{hold_id}/change/")
    assert page.status_code == 200
    assert b'name="amount"' not in page.content
    rows = admin_client.get("/admin/wallets/walletoperation/", {"hold__id__exact": hold_id})
    assert rows.status_code == 200
    for row in (hold_id, capture):
        assert row.encode() in rows.content
    assert admin_client.get("/admin/wallets/hold/add/").status_code == 403
    assert admin_client.post(f"/admin/wallets/hold/{hold_id}/change/", {"state": "voided"}).status_code == 403
    assert admin_client.post(f"/admin/wallets/hold/{hold_id}/delete/", {"post": "yes"}).status_code == 403
    assert api.money(wallet) == (Decimal("9.00"), Decimal("9.00"), Decimal("0.00"))
    wallet_page = admin_client.get(f"/admin/wallets/wallet/{wallet}/change/")
    assert b"Held" in wallet_page.content


def test_wallets_cannot_be_added_in_admin_and_are_listed_newest_first(api: Api, admin_client: Client) -> None:
    before = Wallet.objects.count()
    assert admin_client.get("/admin/wallets/wallet/add/").status_code == 403
    assert admin_client.post("/admin/wallets/wallet/add/", {"balance": "500"}).status_code == 403
    assert Wallet.objects.count() == before
    older, newer = api.create_wallet(), api.create_wallet()
    listing = admin_client.get("/admin/wallets/wallet/")
    assert listing.status_code == 200
    assert b"/admin/wallets/wallet/add/" not in listing.content
    assert listing.content.index(newer.encode()) < listing.content.index(older.encode())


def test_operation_search_by_wallet(api: Api, admin_client: Client) -> None:
    wallet, other = api.create_wallet(3), api.create_wallet(4)
    [mine] = api.client.get(f"/api/v1/wallets/{wallet}/operations").json()["results"]
    [theirs] = api.client.get(f"/api/v1/wallets/{other}/operations").json()["results"]
    response = admin_client.get("/admin/wallets/walletoperation/", {"q": wallet})
    assert response.status_code == 200
    assert mine["operation_id"].encode() in response.content
    assert theirs["operation_id"].encode() not in response.content


@pytest.mark.parametrize("query", ["not-a-uuid", "%", "' OR 1=1 --"])
def test_admin_search_with_a_bad_id_is_not_an_error(admin_client: Client, query: str) -> None:
    assert admin_client.get("/admin/wallets/walletoperation/", {"q": query}).status_code == 200
    assert admin_client.get("/admin/wallets/wallet/", {"q": query}).status_code == 200


def test_the_operations_list_links_each_wallet_and_filters_by_date(api: Api, admin_client: Client) -> None:
    wallet = api.create_wallet(3)
    listing = admin_client.get("/admin/wallets/walletoperation/", {"q": wallet})
    assert listing.status_code == 200
    assert f'href="/admin/wallets/wallet/{wallet}/change/"'.encode() in listing.content
    assert b"wallets/admin.css" in listing.content  # ids on one line
    assert b"applied_at__gte" in listing.content  # the date filter's links
    since = admin_client.get(
        "/admin/wallets/walletoperation/", {"q": wallet, "applied_at__gte": "2000-01-01 00:00:00+00:00"}
    )
    assert since.status_code == 200
    assert wallet.encode() in since.content


def test_webhook_endpoints_and_deliveries_are_listed_read_only_without_secrets(
    api: Api, admin_client: Client, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    patch_views(monkeypatch, "get_settings", lambda: dataclasses.replace(settings, webhook_allow_private_urls=True))
    made = api.client.post(
        "/api/v1/webhook-endpoints",
        data=json.dumps({"url": "http://127.0.0.1:9/admin-test"}),
        content_type="application/json",
    ).json()
    rotated = api.client.post(f"/api/v1/webhook-endpoints/{made['id']}/rotate-secret").json()
    try:
        listing = admin_client.get("/admin/wallets/webhookendpoint/")
        assert listing.status_code == 200
        assert b"http://127.0.0.1:9/admin-test" in listing.content
        page = admin_client.get(f"/admin/wallets/webhookendpoint/{made['id']}/change/")
        assert page.status_code == 200
        for secret in (made["secret"], rotated["secret"]):
            assert secret.encode() not in page.content
            assert secret.removeprefix("whsec_").encode() not in page.content
        assert b"Deliveries to this endpoint" in page.content
        assert admin_client.get("/admin/wallets/webhookendpoint/add/").status_code == 403
        assert (
            admin_client.post(f"/admin/wallets/webhookendpoint/{made['id']}/delete/", {"post": "yes"}).status_code
            == 403
        )
        assert admin_client.get("/admin/wallets/webhookdelivery/").status_code == 200
        assert admin_client.get("/admin/wallets/webhookdelivery/add/").status_code == 403
    finally:
        api.client.delete(f"/api/v1/webhook-endpoints/{made['id']}")
