"""The API reference page (``/api/v1/docs``): the OpenAPI document rendered as one HTML page
on the server, with no script and nothing fetched from elsewhere."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any

from django.template.loader import render_to_string

from web.wallets.error_codes import BY_MESSAGE, BY_STATUS
from web.wallets.openapi import OPENAPI

METHODS = ("get", "head", "post")


@dataclass(frozen=True, slots=True)
class Example:
    name: str
    text: str


@dataclass(frozen=True, slots=True)
class Answer:
    status: str
    description: str
    headers: list[tuple[str, str]]
    examples: list[Example]


@dataclass(frozen=True, slots=True)
class Endpoint:
    anchor: str
    method: str
    path: str
    summary: str
    description: str
    public: bool
    parameters: list[dict[str, Any]]
    request: list[Example]
    answers: list[Answer] = field(default_factory=list)


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2)


def _examples(body: dict[str, Any]) -> list[Example]:
    media = body.get("content", {}).get("application/json", {})
    if "example" in media:
        return [Example("", _pretty(media["example"]))]
    return [Example(example["summary"], _pretty(example["value"])) for example in media.get("examples", {}).values()]


def _answer(status: str, response: dict[str, Any]) -> Answer:
    headers = [(name, header["description"]) for name, header in response.get("headers", {}).items()]
    return Answer(status, response["description"], headers, _examples(response))


def endpoints(document: dict[str, Any]) -> list[Endpoint]:
    """Every operation of ``document``, in its order, HEADs after their GETs."""
    found = []
    for path, item in document["paths"].items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            parameters = [*item.get("parameters", []), *operation.get("parameters", [])]
            request = operation.get("requestBody")
            found.append(
                Endpoint(
                    anchor=operation["operationId"],
                    method=method.upper(),
                    path=path,
                    summary=operation["summary"],
                    description=operation.get("description", ""),
                    public=operation.get("security") == [],
                    parameters=parameters,
                    request=[] if request is None else _examples(request),
                    answers=[_answer(status, response) for status, response in operation["responses"].items()],
                )
            )
    return found


def error_codes() -> list[tuple[str, str]]:
    """(code, message) for every code, the message-specific ones first."""
    codes = [(code, message) for message, code in BY_MESSAGE.items() if code not in BY_STATUS.values()]
    generic = [(code, f"Any other {status} error") for status, code in BY_STATUS.items()]
    return sorted(codes) + generic


@functools.cache
def reference_html() -> str:
    """The page (the document does not change while the process runs)."""
    return render_to_string(
        "wallets/reference.html",
        {
            "info": OPENAPI["info"],
            "endpoints": endpoints(OPENAPI),
            "codes": error_codes(),
            "auth": OPENAPI["components"]["securitySchemes"]["apiKey"]["description"],
        },
    )
