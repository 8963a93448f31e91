"""Rate limits: a rate (``RateLimit``, written ``100/second`` or ``20/10 minutes``) and what one
counts (``Limit``). The settings hold the defaults (``shared.config``); an API key may have its
own (``api_keys.rate_limit_<name>``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

_RATE = re.compile(r"([1-9][0-9]{0,8})/(?:([1-9][0-9]{0,4}) )?(second|minute|hour|day)s?")
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``amount`` requests per ``seconds`` (``100/second``, ``20/10 minute``)."""

    amount: int
    seconds: int
    per: str
    """The window in words: ``second``, ``10 minutes``."""

    @classmethod
    def parse(cls, raw: str) -> RateLimit:
        match = _RATE.fullmatch(raw.strip())
        if match is None:
            raise ValueError(raw)
        amount, multiple, unit = match.groups()
        count = int(multiple or 1)
        return cls(int(amount), count * _UNIT_SECONDS[unit], unit if count == 1 else f"{count} {unit}s")

    def __str__(self) -> str:
        """As written in a setting (``100/second``, ``20/10 minutes``): ``parse`` reads it back."""
        return f"{self.amount}/{self.per}"


class Limit(Enum):
    """What a rate limit counts (its value, in words, for the refusal's message).

    Each is a setting (``Settings.rate_limit_<name>``, env ``RATE_LIMIT_<NAME>``: the
    default) and a column of ``api_keys`` of the same name (a key's own, when set)."""

    WRITES = "operations"
    WALLETS = "wallet creations"
    IDEMPOTENCY_KEYS = "requests with an Idempotency-Key"

    @property
    def field(self) -> str:
        return _LIMIT_FIELDS[self]


_LIMIT_FIELDS = {limit: "rate_limit_" + limit.name.lower() for limit in Limit}
"""``Limit.field`` of each, computed once (it is read on every write's way in)."""
