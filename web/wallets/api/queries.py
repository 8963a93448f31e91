"""Query strings as typed values, or ``InvalidRequest``: history's filters, instants and a
statement's span (request bodies are ``api.parsing``'s).

Each parameter may be given once, and a parameter the endpoint does not take is refused: a
mistyped filter must not silently widen an answer about money.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from django.http import QueryDict

from shared.annotations import InvalidAnnotation, metadata_of, reference_of
from shared.errors import InvalidRequest
from shared.operations import OperationType
from shared.outcomes import OperationStatus
from web.wallets.error_codes import INVALID_FILTER, INVALID_RANGE, INVALID_TIME, UNKNOWN_PARAMETERS
from web.wallets.inputs import HistoryFilters, StatementInput

TYPE, STATUS, AFTER, BEFORE, REFERENCE = "type", "status", "created_after", "created_before", "reference"
FILTERS = (TYPE, STATUS, AFTER, BEFORE, REFERENCE)
"""History's filters by name, with ``metadata[<key>]`` (``METADATA_PARAM``)."""
LIMIT, CURSOR, AT, FROM, TO, FORMAT = "limit", "cursor", "at", "from", "to", "format"
METADATA_PARAM = re.compile(r"metadata\[(?P<key>[^\[\]]*)\]")
"""``metadata[<key>]=<value>``: rows whose metadata holds the pair."""

Choice = TypeVar("Choice", bound=StrEnum)

_LEDGER_STATUSES = (OperationStatus.APPLIED, OperationStatus.REJECTED)
_OFFSET_SPACE = re.compile(r"(T\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d:?\d\d)$")
"""A ``+hh:mm`` offset whose ``+`` a query string turned into a space (it was not encoded)."""


def single_values(query: QueryDict, takes: Collection[str], *, metadata: bool = False) -> dict[str, str]:
    """The query's parameters, each given once and each one the endpoint ``takes`` (or, with
    ``metadata``, a ``metadata[<key>]``)."""
    values: dict[str, str] = {}
    unknown = []
    for name, given in query.lists():
        known = name in takes or (metadata and METADATA_PARAM.fullmatch(name) is not None)
        if not known or len(given) != 1:
            unknown.append(name if known else name[:64])
        else:
            values[name] = given[0]
    if unknown:
        expected = ", ".join([*takes, *(["metadata[<key>]"] if metadata else [])])
        raise InvalidRequest(f"{UNKNOWN_PARAMETERS}: {', '.join(unknown)} (each once; this request takes: {expected})")
    return values


def instant(name: str, value: str) -> datetime:
    """An ISO 8601 date and time with a UTC offset (``Z`` or ``+01:00``), in UTC."""
    value = _OFFSET_SPACE.sub(r"\1+\2", value.strip())
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is not None:
            return moment.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: an offset taking it past year 1 or 9999
        pass
    raise InvalidRequest(
        f"{INVALID_TIME}: {name} must be an ISO 8601 date and time with a UTC offset, such as 2026-03-01T00:00:00Z"
    )


def past_instant(name: str, value: str) -> datetime:
    """``instant``, refused if it is still to come."""
    moment = instant(name, value)
    if moment > datetime.now(UTC):
        raise InvalidRequest(f"{INVALID_TIME}: {name} is in the future")
    return moment


def history_filters(values: Mapping[str, str]) -> HistoryFilters:
    """The filters among ``values`` (``single_values``); none given: ``NO_FILTERS``."""
    operation_type = _choice(values, TYPE, tuple(OperationType))
    status = _choice(values, STATUS, _LEDGER_STATUSES)
    after = None if AFTER not in values else instant(AFTER, values[AFTER])
    before = None if BEFORE not in values else instant(BEFORE, values[BEFORE])
    reference = None
    if REFERENCE in values:
        try:
            reference = reference_of(values[REFERENCE])
        except InvalidAnnotation as exc:
            raise InvalidRequest(f"{INVALID_FILTER}: {exc}") from None
    pairs = {}
    for name, value in values.items():
        found = METADATA_PARAM.fullmatch(name)
        if found is not None:
            pairs[found["key"]] = value
    try:
        metadata = metadata_of(pairs) or {}
    except InvalidAnnotation as exc:
        raise InvalidRequest(f"{INVALID_FILTER}: {exc}") from None
    return HistoryFilters(operation_type, status, after, before, reference, tuple(sorted(metadata.items())))


def filters_query(filters: HistoryFilters) -> dict[str, str]:
    """``filters`` as the query parameters ``history_filters`` reads them from: one spelling
    for equal filters (a cursor carries them so)."""
    values = {
        TYPE: None if filters.operation_type is None else filters.operation_type.value,
        STATUS: None if filters.status is None else filters.status.value,
        AFTER: None if filters.created_after is None else filters.created_after.isoformat(),
        BEFORE: None if filters.created_before is None else filters.created_before.isoformat(),
        REFERENCE: filters.reference,
    }
    shown = {name: value for name, value in values.items() if value is not None}
    shown.update((f"metadata[{key}]", value) for key, value in filters.metadata)
    return shown


def _choice(values: Mapping[str, str], name: str, allowed: tuple[Choice, ...]) -> Choice | None:
    if name not in values:
        return None
    for choice in allowed:
        if str(choice) == values[name]:
            return choice
    raise InvalidRequest(f"{INVALID_FILTER}: {name} must be one of {', '.join(map(str, allowed))}")


def statement_span(values: Mapping[str, str], *, max_days: int, accept: str) -> StatementInput:
    """``from`` (at or after) and ``to`` (before), at most ``max_days`` apart, and the format:
    ``format=csv`` or ``json``, else CSV if ``accept`` (the ``Accept`` header) names ``text/csv``."""
    start = instant(FROM, values.get(FROM, ""))
    end = instant(TO, values.get(TO, ""))
    if end <= start:
        raise InvalidRequest(f"{INVALID_RANGE}: from must be before to")
    if end - start > timedelta(days=max_days):
        raise InvalidRequest(f"{INVALID_RANGE}: from and to may be at most {max_days} days apart")
    shape = values.get(FORMAT)
    if shape not in (None, "csv", "json"):
        raise InvalidRequest(f"{INVALID_FILTER}: format must be csv or json")
    return StatementInput(start, end, shape == "csv" or (shape is None and "text/csv" in accept))
