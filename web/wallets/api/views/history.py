"""The ledger searched: a wallet's history with filters (``/api/v1/wallets/<id>/operations``),
a reference's rows across the tenant's wallets (``/api/v1/operations?reference=``) and a
wallet's statement (``/api/v1/wallets/<id>/statement``)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from shared.config import get_settings
from shared.errors import InvalidRequest
from shared.resources import operation_json
from web.wallets.api import cursors, parsing, queries
from web.wallets.api.responses import api_view, json_response
from web.wallets.api.statements import statement_csv, statement_json
from web.wallets.api.views.common import WALLET_NOT_FOUND
from web.wallets.auth.api_keys import Caller
from web.wallets.error_codes import INVALID_FILTER
from web.wallets.inputs import NO_FILTERS
from web.wallets.money.history import Page, operations_by_reference_list, wallet_history_list, wallet_statement_get

_HISTORY_TAKES = (queries.LIMIT, queries.CURSOR, *queries.FILTERS)
_SEARCH_TAKES = (queries.REFERENCE, queries.LIMIT, queries.CURSOR)
_STATEMENT_TAKES = (queries.FROM, queries.TO, queries.FORMAT)


def _page_json(page: Page, scope: cursors.Scope) -> HttpResponse:
    return json_response(
        {"results": [operation_json(row) for row in page.rows], "next": cursors.cursor_text(scope, page.after)}
    )


@api_view("GET")
def wallet_history_view(request: HttpRequest, caller: Caller, wallet_id: str) -> HttpResponse:
    """A page of the wallet's ledger, newest first. A cursor carries the filters of the page
    it follows: sent alone it keeps them, sent with filters they must be the same."""
    wallet_uuid = parsing.parse_uuid(wallet_id, not_found=WALLET_NOT_FOUND)
    values = queries.single_values(request.GET, _HISTORY_TAKES, metadata=True)
    filters = queries.history_filters(values)
    given, after = cursors.cursor_read(values.get(queries.CURSOR))
    if given is not None and filters == NO_FILTERS:
        filters = queries.history_filters(given.get("filters") or {})
    scope = cursors.bound(given, {"wallet": str(wallet_uuid), "filters": queries.filters_query(filters)})
    page = wallet_history_list(
        wallet_id=wallet_uuid,
        caller=caller,
        filters=filters,
        limit=parsing.parse_limit(values.get(queries.LIMIT)),
        after=after,
    )
    return _page_json(page, scope)


@api_view("GET")
def operations_search_view(request: HttpRequest, caller: Caller) -> HttpResponse:
    """The ledger rows carrying a ``reference``, on every wallet of the caller's tenant, newest
    first; a cursor carries the reference (and the tenant) of the page it follows."""
    values = queries.single_values(request.GET, _SEARCH_TAKES)
    given, after = cursors.cursor_read(values.get(queries.CURSOR))
    if queries.REFERENCE not in values and given is not None:
        values[queries.REFERENCE] = str(given.get("reference"))
    reference = queries.history_filters(values).reference
    if reference is None:
        raise InvalidRequest(f"{INVALID_FILTER}: reference is required")
    scope = cursors.bound(given, {"tenant": caller.tenant_id, "reference": reference})
    page = operations_by_reference_list(
        caller=caller, reference=reference, limit=parsing.parse_limit(values.get(queries.LIMIT)), after=after
    )
    return _page_json(page, scope)


@api_view("GET")
def wallet_statement_view(request: HttpRequest, caller: Caller, wallet_id: str) -> StreamingHttpResponse:
    """The wallet's applied rows of a span with its balance before and after, as JSON or CSV,
    written as they are read."""
    wallet_uuid = parsing.parse_uuid(wallet_id, not_found=WALLET_NOT_FOUND)
    span = queries.statement_span(
        queries.single_values(request.GET, _STATEMENT_TAKES),
        max_days=get_settings().statement_max_days,
        accept=request.META.get("HTTP_ACCEPT", ""),
    )
    statement = wallet_statement_get(wallet_id=wallet_uuid, caller=caller, span=span)
    if span.csv:
        response = StreamingHttpResponse(statement_csv(span, statement), content_type="text/csv; charset=utf-8")
        name = f"statement-{wallet_uuid}-{span.start:%Y%m%dT%H%M%SZ}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    return StreamingHttpResponse(statement_json(wallet_uuid, span, statement), content_type="application/json")
