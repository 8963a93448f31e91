"""The one place that turns results and errors into HTTP responses.

``api_view`` wraps every API view: it enforces the allowed methods and maps the
service's error hierarchy (and database/Redis outages) to JSON error bodies, so
no view formats an error itself and no client input yields a 5xx.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse, UnreadablePostError
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from shared.config import get_settings
from shared.errors import MethodNotAllowed, RateLimited, RequestError, ServiceUnavailable, Unauthorized
from shared.logs import REQUEST_ID
from web.wallets.auth.api_keys import authenticate
from web.wallets.error_codes import BODY_TOO_LARGE, BODY_UNREADABLE, UNAVAILABLE, error_fields, request_error_fields

log = logging.getLogger("web.wallets")

AUTHENTICATE = 'Bearer realm="wallets"'
"""The ``WWW-Authenticate`` challenge of a 401: send an API key as a bearer token."""

View = Callable[..., HttpResponseBase]
"""A view: its answer may be streamed (``StreamingHttpResponse``)."""


def json_response(body: dict[str, Any], status: int = 200, **headers: str) -> JsonResponse:
    response = JsonResponse(body, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


REPLAYED = "Idempotent-Replayed"
"""The header of an answer given for an Idempotency-Key already used (Stripe's name)."""


def replay_marked(response: HttpResponse, replayed: bool) -> HttpResponse:
    """``response``, with ``Idempotent-Replayed: true`` if it answers a key already used."""
    if replayed:
        response[REPLAYED] = "true"
    return response


def error_response(message: str, status: int, **headers: str) -> JsonResponse:
    """``{"error": message, "code": code, "request_id": id}``: the seed's message, a code to
    branch on, and the id of the request refused (also its ``X-Request-Id``).

    Not for an answer that reports what the ledger decided (an operation refused for
    insufficient funds): that one is the same for every replay of its Idempotency-Key, byte for
    byte, and carries the request's id in the header alone (``outcome_error_response``)."""
    return json_response(served_error_fields(message, status), status=status, **headers)


def served_error_fields(message: str, status: int) -> dict[str, str | None]:
    """The fields of an error answer to the request being served (``error_response``)."""
    return request_error_fields(message, status, REQUEST_ID.get())


def outcome_error_response(message: str, status: int) -> JsonResponse:
    """``{"error": message, "code": code}`` for what the ledger decided (see ``error_response``)."""
    return json_response(error_fields(message, status), status=status)


def api_view(*methods: str, public: bool = False) -> Callable[[View], View]:
    """Mark a function as a JSON API view accepting only ``methods``. Unless ``public``, the
    request must carry an API key, and the view gets its ``Caller`` after the request."""

    if "GET" in methods and "HEAD" not in methods:
        methods = (*methods, "HEAD")  # HEAD wherever GET is (the server sends no body)

    def decorate(view: View) -> View:
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            try:
                if request.method not in methods:
                    raise MethodNotAllowed(f"Method {request.method} not allowed")
                if public:
                    return view(request, *args, **kwargs)
                # META, not request.headers: building that mapping costs more than the check.
                caller = authenticate(request.META.get("HTTP_AUTHORIZATION"), get_settings())
                return view(request, caller, *args, **kwargs)
            except MethodNotAllowed as exc:
                return error_response(exc.message, exc.status, Allow=", ".join(methods))
            except Unauthorized as exc:
                return error_response(exc.message, exc.status, WWW_Authenticate=AUTHENTICATE)
            except RateLimited as exc:
                return error_response(exc.message, exc.status, Retry_After=str(exc.retry_after))
            except RequestError as exc:
                if exc.index is not None:
                    return json_response(
                        {**served_error_fields(exc.message, exc.status), "index": exc.index}, exc.status
                    )
                return error_response(exc.message, exc.status)
            except RequestDataTooBig:
                return error_response(BODY_TOO_LARGE, 400)
            except UnreadablePostError:  # the client stalled or hung up before its body was in
                return error_response(BODY_UNREADABLE, 400)
            except ServiceUnavailable as exc:
                log.warning("backing service unavailable: %s", exc)
                return error_response(UNAVAILABLE, 503, Retry_After="1")

        return wrapper

    return decorate
