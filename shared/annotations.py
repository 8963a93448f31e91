"""What a client may attach to every write: its own ``reference`` (an order id, an invoice
number) and ``metadata`` (a flat object of strings), as Stripe's. The rules live here, for the
web that refuses a request breaking them (400 naming the rule) and for the worker that reads
them off the wire; each ledger row keeps them as they were sent (``reference`` and
``metadata`` columns), and both are part of a request's identity under an Idempotency-Key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

REFERENCE_MAX = 128
METADATA_MAX_KEYS = 50
METADATA_KEY_MAX = 40
METADATA_VALUE_MAX = 500

ANNOTATION_FIELDS = ("reference", "metadata")
"""The body fields (and ledger columns) that carry them."""

Metadata = dict[str, str]


class InvalidAnnotation(ValueError):
    """A reference or metadata breaking a rule; the message names the rule."""


def reference_of(value: object) -> str | None:
    """A reference: 1 to ``REFERENCE_MAX`` printable characters (None: none given)."""
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= REFERENCE_MAX or not value.isprintable():
        raise InvalidAnnotation(f"reference must be a string of 1 to {REFERENCE_MAX} printable characters")
    return value


def metadata_of(value: object) -> Metadata | None:
    """Metadata: an object of at most ``METADATA_MAX_KEYS`` keys of 1 to ``METADATA_KEY_MAX``
    characters (no square brackets: a history filter names a key as ``metadata[key]``), each
    with a string of at most ``METADATA_VALUE_MAX`` characters. None or ``{}``: none."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidAnnotation("metadata must be a JSON object")
    if len(value) > METADATA_MAX_KEYS:
        raise InvalidAnnotation(f"metadata may have at most {METADATA_MAX_KEYS} keys")
    for key, item in value.items():
        if not 1 <= len(key) <= METADATA_KEY_MAX or "[" in key or "]" in key:
            raise InvalidAnnotation(
                f"metadata keys must be 1 to {METADATA_KEY_MAX} characters, without square brackets"
            )
        if not isinstance(item, str) or len(item) > METADATA_VALUE_MAX:
            raise InvalidAnnotation(f"metadata values must be strings of at most {METADATA_VALUE_MAX} characters")
        if "\x00" in key or "\x00" in item:  # PostgreSQL's jsonb cannot hold it
            raise InvalidAnnotation("metadata keys and values may not contain the NUL character (\\u0000)")
    return dict(value) or None


def stored_metadata(value: object) -> Metadata | None:
    """Metadata as a row stores it: a mapping, or JSON text as a plain driver may read it."""
    if isinstance(value, str):
        value = json.loads(value)
    return metadata_of(value)


@dataclass(frozen=True, slots=True)
class Annotations:
    """A write's reference and metadata, checked."""

    reference: str | None = None
    metadata: Metadata | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Annotations:
        """The ``reference`` and ``metadata`` fields of a request body (``InvalidAnnotation``)."""
        return cls(reference_of(data.get("reference")), metadata_of(data.get("metadata")))

    def as_fields(self) -> dict[str, Any]:
        """As the fields of the same names of an ``OperationRequest`` (and columns of a row)."""
        return {"reference": self.reference, "metadata": self.metadata}


NONE = Annotations()


def identity_of(reference: str | None, metadata: Metadata | None) -> str:
    """Their part of a request's identity (``shared.messages.request_identity``): empty when
    there are none, so the fingerprints of requests without them stay as they were."""
    identity = ""
    if reference is not None:
        identity += f"|ref={json.dumps(reference)}"
    if metadata:
        identity += f"|meta={json.dumps(metadata, sort_keys=True, separators=(',', ':'))}"
    return identity
