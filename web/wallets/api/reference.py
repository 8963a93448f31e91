"""The API reference page (``/api/v1/docs``): the OpenAPI document rendered as one HTML page
on the server, with no script and nothing fetched from elsewhere.

Endpoints are grouped by resource (the document's tags) and named by their summary; a
``HEAD`` is folded into its ``GET``; every request body has a table of its fields, from its
schema, and every endpoint a ``curl`` example; the error catalogue comes after them.
"""

from __future__ import annotations

import functools
import json
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from django.template.loader import render_to_string

from web.wallets.api.openapi import OPENAPI
from web.wallets.api.openapi.components import UUID_PATTERN
from web.wallets.api.openapi.responses import REQUEST_ID_DOC
from web.wallets.api.request_ids import REQUEST_ID_HEADER
from web.wallets.error_codes import BY_MESSAGE, BY_STATUS

METHODS = ("get", "post", "patch", "delete")
"""The methods shown as endpoints; a ``HEAD`` is said on its ``GET``."""

BASE_URL = "localhost:8000"
"""Where ``make run`` serves, as the curl examples say it."""


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
class Field:
    """One field of a request body."""

    name: str
    type: str
    required: bool
    description: str


@dataclass(frozen=True, slots=True)
class Endpoint:
    anchor: str
    method: str
    path: str
    summary: str
    description: str
    public: bool
    with_head: bool
    parameters: list[dict[str, Any]]
    fields: list[Field]
    request: list[Example]
    curl: str
    answers: list[Answer] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Resource:
    name: str
    description: str
    endpoints: list[Endpoint]


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2)


def _examples(body: dict[str, Any]) -> list[Example]:
    media = body.get("content", {}).get("application/json", {})
    if "example" in media:
        return [Example("", _pretty(media["example"]))]
    return [Example(example["summary"], _pretty(example["value"])) for example in media.get("examples", {}).values()]


def _answer(status: str, response: dict[str, Any]) -> Answer:
    headers = [
        (n, header["description"]) for n, header in response.get("headers", {}).items() if n != REQUEST_ID_HEADER
    ]
    return Answer(status, response["description"], headers, _examples(response))


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its ``$ref`` followed (its own keys, a description, win)."""
    if "$ref" not in schema:
        return schema
    target = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return {**_resolve(document, target), **{k: v for k, v in schema.items() if k != "$ref"}}


def _type(document: dict[str, Any], schema: dict[str, Any]) -> str:
    """A field's type in words: ``string``, ``integer 1..2592000``, ``DEPOSIT | WITHDRAW``."""
    schema = _resolve(document, schema)
    if "enum" in schema:
        return " | ".join(str(value) for value in schema["enum"])
    if "oneOf" in schema:
        return " or ".join(_type(document, option) for option in schema["oneOf"])
    kind = str(schema.get("type", "any"))
    if schema.get("pattern") == UUID_PATTERN:
        kind = "UUID"
    bounds = [str(schema[key]) for key in ("minimum", "maximum") if key in schema]
    if kind == "integer" and len(bounds) == 2:
        kind += f" {bounds[0]}..{bounds[1]}"
    if "default" in schema:
        kind += f", default {schema['default']}"
    return kind


def _fields(document: dict[str, Any], body: dict[str, Any] | None) -> list[Field]:
    if body is None:
        return []
    schema = _resolve(document, body["content"]["application/json"]["schema"])
    required = set(schema.get("required", []))
    return [
        Field(name, _type(document, prop), name in required, _resolve(document, prop).get("description", ""))
        for name, prop in schema.get("properties", {}).items()
    ]


def _curl(method: str, path: str, public: bool, body: dict[str, Any] | None) -> str:
    """A shell command that calls the endpoint as ``make run`` serves it."""
    url = BASE_URL + re.sub(r"\{(\w+)\}", lambda m: "$" + m.group(1).upper(), path)
    parts = ["curl -s"]
    if method != "GET":
        parts.append(f"-X {method}")
    if not public:
        parts.append('-H "Authorization: Bearer $KEY"')
    if body is not None:
        example = body["content"]["application/json"].get("example", {})
        parts.append("-H 'Content-Type: application/json'")
        parts.append(f'"{url}" \\\n     -d {shlex.quote(json.dumps(example))}')
    else:
        parts.append(f'"{url}"')
    return " ".join(parts)


def _endpoint(document: dict[str, Any], path: str, item: dict[str, Any], method: str) -> Endpoint:
    operation = item[method]
    parameters = [*item.get("parameters", []), *operation.get("parameters", [])]
    request = operation.get("requestBody")
    public = operation.get("security") == []
    return Endpoint(
        anchor=operation["operationId"],
        method=method.upper(),
        path=path,
        summary=operation["summary"],
        description=operation.get("description", ""),
        public=public,
        with_head="head" in item and method == "get",
        parameters=parameters,
        fields=_fields(document, request),
        request=[] if request is None else _examples(request),
        curl=_curl(method.upper(), path, public, request),
        answers=[_answer(status, response) for status, response in operation["responses"].items()],
    )


def resources(document: dict[str, Any]) -> list[Resource]:
    """The document's endpoints by resource (its tags, in their order), each in path order."""
    found: dict[str, list[Endpoint]] = {tag["name"]: [] for tag in document["tags"]}
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                found[item[method]["tags"][0]].append(_endpoint(document, path, item, method))
    return [Resource(tag["name"], tag["description"], found[tag["name"]]) for tag in document["tags"]]


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
            "resources": resources(OPENAPI),
            "codes": error_codes(),
            "auth": OPENAPI["components"]["securitySchemes"]["apiKey"]["description"],
            # Every answer has it: the page says it once, not on each answer.
            "request_id": (REQUEST_ID_HEADER, REQUEST_ID_DOC["description"]),
        },
    )
