"""Request ids: every answer's ``X-Request-Id``, kept from the client when well formed.

The id of the request being served is in ``shared.logs.REQUEST_ID`` (every log line of it
carries the id) and in the body of every error answer (``responses.error_response``; the
server's own 400 and 503, ``web.gunicorn_worker``, too).
"""

from __future__ import annotations

import re
import secrets

REQUEST_ID_HEADER = "X-Request-Id"
_WELL_FORMED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+/=-]{0,127}")
"""A client's request id is kept if it is 1 to 128 of these characters (a UUID, a trace id)."""


def request_id_from(sent: str | None) -> str:
    """The id of a request that sent ``sent`` as its ``X-Request-Id``: that one when well
    formed, else a new one (32 hex digits)."""
    if sent is not None and _WELL_FORMED.fullmatch(sent):
        return sent
    return secrets.token_hex(16)
