"""Per API key rate limits, counted in Redis so every web node shares them.

A sliding window counter (the algorithm of the ``limits`` library, and of Cloudflare's): per
key and limit, one counter per fixed window of the limit's length; a request is allowed
while ``previous window's count * the part of it still inside the sliding window + this
window's count`` stays within the limit. Two small counters per key and limit, no burst at a
window's edge, the time taken from Redis (``TIME``), so web nodes' clocks do not matter.

The check is Lua (``LIMIT_LUA``), run inside the same script as the enqueue of an
operation (``web.wallets.money.queueing``): a write costs no extra round trip, and an operation
over the limit is refused before anything is queued. The ``limits`` library itself costs a
round trip of its own per write: measured side by side, 9 to 11 % of the write throughput
against ``API_AUTH=off`` (README, Performance), over this project's 10 % budget for auth.
Wallet creations, which are not on a hot path, run the same check on its own (``spend``).
A key may carry its own rate of each limit (``make apikey RATE=...``, the admin); the
settings are the defaults.
With ``API_AUTH=off`` there is no key to count and nothing is limited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

from shared import keys
from shared.config import Settings
from shared.errors import InvalidRequest, RateLimited, ServiceUnavailable
from shared.rates import Limit, RateLimit
from web.wallets.auth.api_keys import Caller
from web.wallets.error_codes import OVER_RATE


@dataclass(frozen=True, slots=True)
class Counted:
    """One limit a request is counted against: its counters' key prefix and its rate."""

    limit: Limit
    key: str
    rate: RateLimit
    cost: int = 1
    """How many of what the limit counts the request is (a bulk request's items)."""


def counted(caller: Caller, settings: Settings, *limits: Limit) -> list[Counted]:
    """What a request of ``caller`` is counted against (nothing without a key): the key's own
    rate of each limit where it has one, the setting's otherwise."""
    if caller.key_id is None:
        return []
    return [
        Counted(
            limit,
            keys.rate_limit_key(limit.name.lower(), caller.key_id),
            settings.rate_limit(limit, caller.rates),
        )
        for limit in limits
    ]


# Checks NLIMITS limits, KEYS[KOFF + i] (counter prefix) with ARGV[AOFF + 3i - 2 .. AOFF + 3i]
# (amount, window seconds, cost), and counts the request's cost in each if all allow it; else
# sets `refused` to {i, seconds to wait}. The including script defines NLIMITS, KOFF and AOFF.
# A cost is at most the limit's amount (``costs_within_rates``: a bigger one could never pass).
LIMIT_LUA = """
local refused = nil
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local counters = {}
for i = 1, NLIMITS do
  local amount, window = tonumber(ARGV[AOFF + 3 * i - 2]), tonumber(ARGV[AOFF + 3 * i - 1])
  local cost = tonumber(ARGV[AOFF + 3 * i])
  local index = math.floor(now / window)
  local elapsed = now - index * window
  local current_key = KEYS[KOFF + i] .. ':' .. index
  local previous = tonumber(redis.call('GET', KEYS[KOFF + i] .. ':' .. (index - 1)) or '0')
  local current = tonumber(redis.call('GET', current_key) or '0')
  if previous * (1 - elapsed / window) + current + cost > amount then
    local wait
    if current + cost <= amount then
      -- the previous window's weight must fall: (1 - f) * previous + current + cost <= amount
      wait = (1 - (amount - current - cost) / previous) * window - elapsed
    else
      -- this window becomes the previous one: (1 - f) * current + cost <= amount
      wait = window - elapsed + (1 - (amount - cost) / current) * window
    end
    refused = {i, math.max(1, math.ceil(wait))}
    break
  end
  counters[i] = {current_key, 2 * window, cost}
end
if not refused then
  for i = 1, NLIMITS do
    redis.call('INCRBY', counters[i][1], counters[i][3])
    redis.call('EXPIRE', counters[i][1], counters[i][2])
  end
end
"""

_SPEND = "local NLIMITS, KOFF, AOFF = #KEYS, 0, 0\n" + LIMIT_LUA + "if refused then return refused end\nreturn false\n"


def limit_args(limits: Sequence[Counted]) -> list[Any]:
    """The ARGV of ``LIMIT_LUA`` for ``limits`` (their counter prefixes are the KEYS)."""
    return [part for c in limits for part in (c.rate.amount, c.rate.seconds, c.cost)]


def costs_within_rates(limits: Sequence[Counted]) -> None:
    """``InvalidRequest`` if a request costs more than one of its limits allows in a whole
    window: it could never pass, so waiting (a 429) would not help; it must be split."""
    for c in limits:
        if c.cost > c.rate.amount:
            raise InvalidRequest(
                f"{OVER_RATE}: {c.cost} {c.limit.value} in one request, this key's rate is"
                f" {c.rate.amount} per {c.rate.per}"
            )


def refusal(limits: Sequence[Counted], index: int, retry_after: int) -> RateLimited:
    """The error for a request ``LIMIT_LUA`` refused on its ``index``-th limit (from 1)."""
    refused = limits[index - 1]
    return RateLimited(
        f"Rate limit of {refused.rate.amount} {refused.limit.value} per {refused.rate.per} exceeded", retry_after
    )


def spend(connection: redis.Redis, limits: Sequence[Counted]) -> None:
    """Count one request against ``limits`` on its own (not with an enqueue), or raise ``RateLimited``."""
    if not limits:
        return
    try:
        answer = connection.eval(_SPEND, len(limits), *(c.key for c in limits), *limit_args(limits))
    except redis.RedisError as exc:
        raise ServiceUnavailable("Redis is unavailable") from exc
    if answer:
        raise refusal(limits, int(answer[0]), int(answer[1]))
