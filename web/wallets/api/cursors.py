"""Page cursors of lists a client filters (a wallet's history, a reference's rows): signed, so
they are opaque and cannot be altered, and bound to what they page through.

A cursor carries its ``scope`` (the wallet or tenant, and the filters) and the ledger position
(``seq``) the next page continues below. One sent with another scope (another wallet's,
another tenant's, other filters) or altered in any way is ``400 Invalid cursor``.
"""

from __future__ import annotations

from typing import Any

from django.core import signing

from shared.errors import InvalidRequest
from web.wallets.error_codes import INVALID_CURSOR

_SALT = "wallets.api.cursors"
"""Keeps these signatures apart from any other use of ``SECRET_KEY``."""

CURSOR_MAX = 4096
"""Longest cursor read (the longest filters make one of about 1 KB)."""

Scope = dict[str, Any]
"""What a cursor pages through, as JSON (the filters as their query parameters)."""


def cursor_text(scope: Scope, after: int | None) -> str | None:
    """The cursor of the page below ledger position ``after`` (None: there is no next page)."""
    if after is None:
        return None
    return signing.dumps({"scope": scope, "after": after}, salt=_SALT, compress=True)


def cursor_read(value: str | None) -> tuple[Scope | None, int | None]:
    """A cursor's scope and position (None, None without one), or ``InvalidRequest`` for one
    this service did not sign."""
    if value is None:
        return None, None
    if len(value) > CURSOR_MAX:
        raise InvalidRequest(INVALID_CURSOR)
    try:
        data = signing.loads(value, salt=_SALT)
    except (signing.BadSignature, ValueError, UnicodeError):
        raise InvalidRequest(INVALID_CURSOR) from None
    scope, after = data.get("scope"), data.get("after")
    if not isinstance(scope, dict) or not isinstance(after, int) or isinstance(after, bool):
        raise InvalidRequest(INVALID_CURSOR)
    return scope, after


def bound(given: Scope | None, scope: Scope) -> Scope:
    """``scope``, if the cursor sent (its ``given`` scope; None: no cursor) pages through it;
    else ``InvalidRequest``: a cursor of another wallet, tenant or filters continues nothing here."""
    if given is not None and given != scope:
        raise InvalidRequest(INVALID_CURSOR)
    return scope
