"""The events feed: ``GET /api/v1/events``."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from web.wallets.api import parsing
from web.wallets.api.resources import cursor_json
from web.wallets.api.responses import api_view, json_response
from web.wallets.auth.api_keys import Caller
from web.wallets.money.events import FeedPosition, events_list


@api_view("GET")
def events_view(request: HttpRequest, caller: Caller) -> HttpResponse:
    after = parsing.parse_cursor(request.GET.get("after"))
    page = events_list(
        caller=caller,
        after=None if after is None else FeedPosition.from_uuid(after),
        event_type=parsing.parse_event_type(request.GET.get("type")),
        wallet_id=parsing.parse_wallet_filter(request.GET.get("wallet")),
        limit=parsing.parse_limit(request.GET.get("limit")),
    )
    next_cursor = cursor_json(None if page.after is None else page.after.as_uuid())
    return json_response({"results": page.events, "next": next_cursor, "has_more": page.has_more})
