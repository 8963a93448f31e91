"""The admin login's guard (``web.wallets.auth.login_guard``): counted before hashing, per user name,
address and device cookie, with the client address taken from trusted proxies only."""

from __future__ import annotations

import dataclasses
import logging
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth.models import User
from django.test import Client, RequestFactory

from deploy.processes import ROOT
from shared.config import get_settings
from web.wallets.auth import login_guard
from web.wallets.auth.login_guard import (
    DEVICE_COOKIE,
    MAX_FAILURES_PER_ADDRESS,
    MAX_FAILURES_PER_USER,
    client_address,
)


def _login(client: Client, username: str, password: str) -> bool:
    response = client.post("/admin/login/", {"username": username, "password": password, "next": "/admin/"})
    return response.status_code == 302 and response["Location"] == "/admin/"


def _fresh_address() -> str:
    return f"198.51.100.{uuid.uuid4().int % 250 + 1}-{uuid.uuid4().hex[:6]}"


def test_a_user_name_is_locked_after_five_failed_logins(caplog: pytest.LogCaptureFixture) -> None:
    username = f"admin-{uuid.uuid4().hex[:8]}"
    User.objects.create_superuser(username=username, password="the-right-password", email="")
    for _ in range(MAX_FAILURES_PER_USER):
        assert _login(Client(REMOTE_ADDR=_fresh_address()), username, "a-guess") is False
    # From anywhere, even with the right password, until the window passes.
    with caplog.at_level(logging.WARNING, logger="web.wallets.login"):
        assert _login(Client(REMOTE_ADDR=_fresh_address()), username, "the-right-password") is False
    assert [r.getMessage() for r in caplog.records][-1] == "admin login refused: too many failed logins"
    assert caplog.records[-1].user == username  # type: ignore[attr-defined]
    other = f"admin-{uuid.uuid4().hex[:8]}"
    User.objects.create_superuser(username=other, password="the-right-password", email="")
    assert _login(Client(REMOTE_ADDR=_fresh_address()), other, "the-right-password") is True


def test_an_address_is_locked_after_twenty_failed_logins() -> None:
    address = _fresh_address()
    for n in range(MAX_FAILURES_PER_ADDRESS):
        assert _login(Client(REMOTE_ADDR=address), f"nobody-{n}-{uuid.uuid4().hex[:6]}", "a-guess") is False
    username = f"admin-{uuid.uuid4().hex[:8]}"
    User.objects.create_superuser(username=username, password="the-right-password", email="")
    assert _login(Client(REMOTE_ADDR=address), username, "the-right-password") is False
    assert _login(Client(REMOTE_ADDR=_fresh_address()), username, "the-right-password") is True


def test_password_hashing_leaves_the_event_loop_running() -> None:
    """Under gevent (as gunicorn runs the web), a password check runs on the thread pool: other
    greenlets keep running meanwhile (blocking, they would not run at all during it)."""
    script = """
from gevent import monkey; monkey.patch_all()
import os, time, gevent
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "web.settings")
os.environ.setdefault("SECRET_KEY", "test-only")
import django; django.setup()
from django.contrib.auth.hashers import make_password
ticks = []
def ticker():
    while True:
        ticks.append(time.monotonic()); gevent.sleep(0.001)
g = gevent.spawn(ticker); gevent.sleep(0.01)
before = len(ticks)
make_password("a-password"); make_password("another-password")
during = len(ticks) - before
g.kill()
print(during)
"""
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert int(out.strip()) >= 5, out


def _admin() -> str:
    username = f"admin-{uuid.uuid4().hex[:8]}"
    User.objects.create_superuser(username=username, password="the-right-password", email="")
    return username


def test_a_burst_of_concurrent_guesses_gets_no_more_checks_than_the_limit(caplog: pytest.LogCaptureFixture) -> None:
    username = _admin()
    burst = 29
    with caplog.at_level(logging.WARNING, logger="web.wallets.login"), ThreadPoolExecutor(burst) as pool:
        answers = list(
            pool.map(lambda _: _login(Client(REMOTE_ADDR=_fresh_address()), username, "a-guess"), range(burst))
        )
    assert answers == [False] * burst
    messages = [r.getMessage() for r in caplog.records]
    # Each check is counted before its hash: only the first five are checked at all.
    assert messages.count("admin login failed") == MAX_FAILURES_PER_USER
    assert messages.count("admin login refused: too many failed logins") == burst - MAX_FAILURES_PER_USER
    assert _login(Client(REMOTE_ADDR=_fresh_address()), username, "the-right-password") is False


def test_guesses_from_elsewhere_never_lock_out_a_browser_the_admin_logged_in_from() -> None:
    username = _admin()
    browser = Client(REMOTE_ADDR=_fresh_address())
    assert _login(browser, username, "the-right-password") is True
    device = browser.cookies[DEVICE_COOKIE]
    assert (device["path"], device["httponly"], device["samesite"]) == ("/admin/", True, "Strict")
    browser.logout()  # the test client forgets every cookie; a browser keeps this one
    browser.cookies[DEVICE_COOKIE] = device.value
    for _ in range(3 * MAX_FAILURES_PER_USER):
        assert _login(Client(REMOTE_ADDR=_fresh_address()), username, "a-guess") is False
    assert _login(Client(REMOTE_ADDR=_fresh_address()), username, "the-right-password") is False  # a new browser
    assert _login(browser, username, "the-right-password") is True
    # The cookie names its user: shown for another name, it is no cookie at all.
    other = _admin()
    stranger = Client(REMOTE_ADDR=_fresh_address())
    stranger.cookies[DEVICE_COOKIE] = device.value
    for _ in range(MAX_FAILURES_PER_USER):
        assert _login(stranger, other, "a-guess") is False
    assert _login(Client(REMOTE_ADDR=_fresh_address()), other, "the-right-password") is False


def test_a_forged_device_cookie_counts_as_none() -> None:
    username = _admin()
    for _ in range(MAX_FAILURES_PER_USER):
        assert _login(Client(REMOTE_ADDR=_fresh_address()), username, "a-guess") is False
    forger = Client(REMOTE_ADDR=_fresh_address())
    forger.cookies[DEVICE_COOKIE] = f'["{username}","nonce"]:forged:signature'
    assert _login(forger, username, "the-right-password") is False


PROXY = "10.0.0.7"


@pytest.fixture
def behind_a_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    trusted = dataclasses.replace(get_settings(), trusted_proxies=("10.0.0.0/24",))
    monkeypatch.setattr(login_guard, "get_settings", lambda: trusted)


@pytest.mark.usefixtures("behind_a_proxy")
def test_behind_a_trusted_proxy_each_client_is_counted_by_its_own_address() -> None:
    guesser = f"203.0.113.{uuid.uuid4().int % 250 + 1}"
    for n in range(MAX_FAILURES_PER_ADDRESS):
        client = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=guesser)
        assert _login(client, f"nobody-{n}-{uuid.uuid4().hex[:6]}", "a-guess") is False
    username = _admin()
    locked = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=guesser)
    assert _login(locked, username, "the-right-password") is False
    # Another client of the same proxy is not the guesser; nor is a guesser who writes the header.
    assert _login(Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.9"), username, "the-right-password")
    spoofing = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"198.51.100.10, {guesser}")
    assert _login(spoofing, _admin(), "the-right-password") is False


@pytest.mark.parametrize(
    ("remote", "forwarded", "client"),
    [
        ("198.51.100.1", "203.0.113.5", "198.51.100.1"),  # not a proxy: its header means nothing
        (PROXY, "203.0.113.5", "203.0.113.5"),
        (PROXY, "1.2.3.4, 203.0.113.5", "203.0.113.5"),  # the left part a client could have written
        (PROXY, "203.0.113.5, 10.0.0.8", "203.0.113.5"),  # two trusted hops
        (PROXY, "10.0.0.9, 10.0.0.8", "10.0.0.9"),
        (PROXY, "not-an-address, 10.0.0.8", "10.0.0.8"),
        (PROXY, "", PROXY),
    ],
)
def test_client_address(remote: str, forwarded: str, client: str) -> None:
    request = RequestFactory().get("/admin/login/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request, ("10.0.0.0/24",)) == client
    assert client_address(request, ()) == remote
