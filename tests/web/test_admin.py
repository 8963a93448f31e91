"""The admin is behind a login, and nothing in it can change a balance or the ledger."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.web.conftest import Api
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


def test_adding_a_wallet_in_admin_starts_at_zero(admin_client: Client) -> None:
    before = set(Wallet.objects.values_list("id", flat=True))
    response = admin_client.post("/admin/wallets/wallet/add/", {"balance": "500"})
    assert response.status_code == 302
    [added] = Wallet.objects.exclude(id__in=before)
    added.refresh_from_db()
    assert added.balance == 0


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
