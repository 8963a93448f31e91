"""Sessions, users and messages exist on the admin's pages only; the API is stateless."""

from __future__ import annotations

from django.core.management import call_command
from django.test import Client

from tests.web.conftest import Api


def test_api_requests_carry_no_session_user_or_messages(api: Api, admin_client: Client, api_secret: str) -> None:
    wallet = api.create_wallet(3)
    # An admin's session cookie is no API credential (a page the admin visits cannot use it).
    assert admin_client.get(f"/api/v1/wallets/{wallet}").status_code == 401
    response = admin_client.get(f"/api/v1/wallets/{wallet}", headers={"Authorization": f"Bearer {api_secret}"})
    assert response.status_code == 200
    request = response.wsgi_request
    assert not hasattr(request, "session")
    assert not hasattr(request, "user")
    assert not hasattr(request, "_messages")
    assert dict(response.cookies) == {}


def test_admin_pages_have_the_logged_in_user(admin_client: Client) -> None:
    response = admin_client.get("/admin/")
    assert response.status_code == 200
    assert response.wsgi_request.user.is_superuser
    assert hasattr(response.wsgi_request, "_messages")


def test_django_checks_accept_the_admin_only_middleware() -> None:
    # The admin requires session, auth and messages middleware (admin.E408-E410); subclasses count.
    call_command("check", "--fail-level", "WARNING")
