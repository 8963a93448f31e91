"""The service's one error hierarchy.

    WalletError                      base of every error this service raises itself
    ├── ConfigurationError           bad or missing environment setting (startup)
    ├── RequestError                 a client's request cannot be served (4xx)
    │   ├── InvalidRequest           400: malformed body, bad amount or type
    │   ├── Unauthorized             401: no API key, or not a valid one
    │   ├── Forbidden                403: the key's scope or tenant's quota does not allow it
    │   ├── NotFound                 404: unknown wallet or operation (or another tenant's)
    │   ├── MethodNotAllowed         405
    │   ├── Conflict                 409: the same Idempotency-Key is still in flight
    │   ├── Unprocessable            422: an Idempotency-Key reused for a different request
    │   └── RateLimited              429: the API key's rate limit (with Retry-After)
    ├── MalformedMessage             a queued message the worker cannot parse (poison)
    ├── OutcomeUnknown               an enqueue may have reached Redis: answered 202, never 503
    ├── StatementRefused             PostgreSQL refuses a statement's data (SQLSTATE 22, 23)
    └── ServiceUnavailable           503: Redis or PostgreSQL does not answer (nothing was queued)

Third-party errors (redis, psycopg2, SQLAlchemy) are translated at the boundary
that calls them, so views and jobs only see these.
"""

from __future__ import annotations


class WalletError(Exception):
    """Base class of every error raised by this service."""


class ConfigurationError(WalletError):
    """An environment setting is missing or malformed."""


class RequestError(WalletError):
    """A request the service refuses; ``status`` is its HTTP status."""

    status = 400
    index: int | None = None
    """Which item of a bulk request it refuses (from 0), set by the bulk request's parsing; None
    for the request as a whole."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(RequestError):
    status = 400


class Unauthorized(RequestError):
    status = 401


class Forbidden(RequestError):
    status = 403


class NotFound(RequestError):
    status = 404


class MethodNotAllowed(RequestError):
    status = 405


class Conflict(RequestError):
    status = 409


class UnsupportedMediaType(RequestError):
    status = 415


class Unprocessable(RequestError):
    status = 422


class RateLimited(RequestError):
    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        """Whole seconds until the key may send again (the ``Retry-After`` header)."""


class MalformedMessage(WalletError):
    """A queued operation message that does not follow the wire format."""


class OutcomeUnknown(WalletError):
    """Redis failed after an operation's enqueue was sent: it may or may not be queued."""


class StatementRefused(WalletError):
    """PostgreSQL refused a web statement's own data for good (a constraint or data error)."""


class ServiceUnavailable(WalletError):
    """A backing service (Redis or PostgreSQL) does not answer."""
