"""The one place that reads the environment.

Every tunable is a named default with a docstring, read once into a frozen
``Settings`` value::

    settings = Settings.from_env()
    settings.reply_timeout  # 3.0
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from urllib.parse import parse_qsl, unquote, urlsplit

from shared.errors import ConfigurationError

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/wallet"
"""PostgreSQL the web reads from and the workers write to."""

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
"""Redis holding the shard queues, RQ bookkeeping and reply keys."""

DEFAULT_SHARD_COUNT = 16
"""Number of shard queues. A deploy-time constant: changing it re-routes wallets."""

DEFAULT_REPLY_TIMEOUT = 3.0
"""Seconds a web request waits for the worker's reply before answering 202."""

DEFAULT_BATCH_SIZE = 200
"""Most operations a worker claims from one shard and applies in one transaction."""

DEFAULT_LEASE_NAMESPACE = 0x57414C
DEFAULT_READY_MAX_LAG = 10.0

DEFAULT_HSTS_SECONDS = 365 * 86400
"""A year of HSTS once ``HTTPS`` is on (raise it gradually from an hour if unsure)."""
"""First key of the workers' shard locks (``pg_advisory_lock(namespace, shard)``). Only two
separate deployments sharing one PostgreSQL database need different values."""

MAX_BATCH_SIZE = 1000
"""Upper bound of ``BATCH_SIZE``: a claim passes the ids through Lua's limited stack."""

DEFAULT_RESULT_TTL = 10
"""Seconds RQ keeps a finished job and its result, for the dashboard (the ledger answers
status queries). Redis holds about 6 KB per operation for this long: memory stays flat."""

DEFAULT_REPLY_TTL = 60
"""Seconds a reply key lives when no web request is waiting for it."""

DEFAULT_FAILURE_TTL = 7 * 24 * 3600
"""Seconds a poison job stays in RQ's failed registry for an operator to read."""

DEFAULT_ALLOWED_HOSTS = ("localhost", "127.0.0.1", "[::1]")
"""Host names Django answers for when ``ALLOWED_HOSTS`` is not set."""

WEB_WORKER_CLASSES = {
    "pywsgi": "web.gunicorn_worker.PyWSGIWorker",
    "gevent": "gevent",
    "gthread": "gthread",
}
"""``WEB_WORKER_CLASS`` values and the gunicorn worker class each runs: gevent's pywsgi server
with an idle timeout, gunicorn's own gevent worker, or gunicorn's threads."""

DEFAULT_WEB_APP_SLOTS = 40
"""Requests a web process runs at once (``WEB_CONNECTIONS``); each may hold a database connection."""

DEFAULT_WEB_MAX_CLIENTS = 1000
"""Client connections a pywsgi web process holds (``WEB_MAX_CLIENTS``): idle and slow ones are
cheap greenlets, kept apart from the application slots."""

DEFAULT_WEB_REQUEST_DEADLINE = 10.0
"""pywsgi: seconds from a request's first byte to the end of its body (slow clients are cut off)."""

DEFAULT_WEB_WORKER_CLASS = "pywsgi"
"""Measured fastest here (README, Performance)."""

DEFAULT_HOST = "127.0.0.1"
"""Address gunicorn binds (``HOST``); compose sets 0.0.0.0 inside its network."""

DEFAULT_PORT = 8000
"""Port gunicorn binds (``PORT``)."""

DEFAULT_WEB_PROCESSES = 2
"""gunicorn worker processes (``WEB_CONCURRENCY``, gunicorn's own name for it)."""

DEFAULT_WEB_THREADS = 8
"""Threads per web process when ``WEB_WORKER_CLASS=gthread`` (``WEB_THREADS``)."""

DEFAULT_WEB_KEEPALIVE = 5
"""Seconds an idle keep-alive connection is kept (``WEB_KEEPALIVE``); pywsgi: any stalled read or write."""

DEFAULT_API_KEY_CACHE_SECONDS = 2.0
"""Seconds a web process trusts what it read of an API key (a revoked key stops working
within this on every node; at most ``MAX_API_KEY_CACHE_SECONDS``)."""

MAX_API_KEY_CACHE_SECONDS = 5.0

DEFAULT_RATE_LIMIT_WRITES = "100/second"
"""Operations an API key may send (``RATE_LIMIT_WRITES``): Stripe's live-mode default."""

DEFAULT_RATE_LIMIT_WALLETS = "10/second"
"""Wallets an API key may create (``RATE_LIMIT_WALLETS``)."""

DEFAULT_RATE_LIMIT_IDEMPOTENCY_KEYS = "10000/hour"
"""Requests with an ``Idempotency-Key`` an API key may send (``RATE_LIMIT_IDEMPOTENCY_KEYS``):
each leaves a Redis record for ``IDEMPOTENCY_TTL``, so this bounds what one key can make
Redis hold (10,000/hour for 24 h is at most 240,000 records, about 70 MB)."""

DEFAULT_IDEMPOTENCY_TTL = 24 * 3600
"""Seconds the Redis record of an ``Idempotency-Key`` lives (``IDEMPOTENCY_TTL``). The ledger
keeps every key for good and answers a retry after the record expired (Stripe keeps 24 h)."""

DEFAULT_TENANT_WALLET_LIMIT = 100_000
"""Wallets a new tenant may create (``TENANT_WALLET_LIMIT``); each tenant's own limit is
stored with it and can be changed in the admin."""

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


_DEFAULT_WRITES = RateLimit.parse(DEFAULT_RATE_LIMIT_WRITES)
_DEFAULT_WALLETS = RateLimit.parse(DEFAULT_RATE_LIMIT_WALLETS)
_DEFAULT_IDEMPOTENCY_KEYS = RateLimit.parse(DEFAULT_RATE_LIMIT_IDEMPOTENCY_KEYS)

DEFAULT_LOG_LEVEL = "info"
"""gunicorn's log level (``LOG_LEVEL``)."""


def _env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigurationError(f"{name} must be a boolean, got {raw!r}")


def _env_number(
    env: Mapping[str, str], name: str, default: float, *, minimum: float, maximum: float = float("inf")
) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigurationError(f"{name} must be within {minimum}..{maximum}, got {raw!r}")
    return value


def _env_rate(env: Mapping[str, str], name: str, default: str) -> RateLimit:
    raw = env.get(name) or default
    try:
        return RateLimit.parse(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must look like 100/second or 20/10 minute, got {raw!r}") from None


def _env_choice(env: Mapping[str, str], name: str, default: str, choices: Mapping[str, str]) -> str:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw not in choices:
        raise ConfigurationError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


def _env_name(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name)
    if not raw:
        return None
    if not _NAME.fullmatch(raw):
        raise ConfigurationError(f"{name} must be 1 to 63 letters, digits, '.', '_' or '-', got {raw!r}")
    return raw


def _env_networks(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list of addresses or networks, each checked."""
    networks = tuple(n.strip() for n in env.get(name, "").split(",") if n.strip())
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ConfigurationError(f"{name} must list addresses or networks, got {network!r}") from None
    return networks


@dataclass(frozen=True, slots=True)
class DatabaseParams:
    """The parts of ``DATABASE_URL`` that Django and libpq need."""

    name: str
    user: str
    password: str
    host: str
    port: int
    options: dict[str, str]
    """The URL's query: libpq parameters (``sslmode``, ``sslrootcert``, ``connect_timeout``...)."""


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str = DEFAULT_REDIS_URL
    shard_count: int = DEFAULT_SHARD_COUNT
    reply_timeout: float = DEFAULT_REPLY_TIMEOUT
    batch_size: int = DEFAULT_BATCH_SIZE
    result_ttl: int = DEFAULT_RESULT_TTL
    reply_ttl: int = DEFAULT_REPLY_TTL
    failure_ttl: int = DEFAULT_FAILURE_TTL
    lease_namespace: int = DEFAULT_LEASE_NAMESPACE
    debug: bool = False
    web_worker_class: str = DEFAULT_WEB_WORKER_CLASS
    web_app_slots: int = DEFAULT_WEB_APP_SLOTS
    web_max_clients: int = DEFAULT_WEB_MAX_CLIENTS
    web_request_deadline: float = DEFAULT_WEB_REQUEST_DEADLINE
    log_requests: bool = False
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    web_processes: int = DEFAULT_WEB_PROCESSES
    web_threads: int = DEFAULT_WEB_THREADS
    web_keepalive: int = DEFAULT_WEB_KEEPALIVE
    log_level: str = DEFAULT_LOG_LEVEL
    access_log: str | None = None
    """Where gunicorn writes one line per request (``GUNICORN_ACCESSLOG``, ``-`` for stdout); none by default."""
    metrics_dir: str | None = None
    """``PROMETHEUS_MULTIPROC_DIR``: where the web processes' metrics files are added up (set by
    ``deploy/gunicorn.conf.py`` when not given)."""
    secret_key: str = ""
    metrics_token: str = ""
    """``METRICS_TOKEN``: when set, ``/metrics`` answers only ``Authorization: Bearer <token>``."""
    allowed_hosts: tuple[str, ...] = DEFAULT_ALLOWED_HOSTS
    trusted_proxies: tuple[str, ...] = ()
    """``TRUSTED_PROXIES``: addresses or networks (``10.0.0.0/8``) of the proxies in front of the
    web, whose ``X-Forwarded-For`` names the client (the admin login's guard counts by client);
    none by default: ``REMOTE_ADDR`` is the client."""
    api_auth: bool = True
    """``API_AUTH``: every ``/api/v1/`` call needs a bearer API key. Off only with ``DEBUG`` on,
    or with ``API_AUTH_FORCE_OFF`` set as well (README, Security)."""
    api_key_cache_seconds: float = DEFAULT_API_KEY_CACHE_SECONDS
    rate_limit_writes: RateLimit = _DEFAULT_WRITES
    rate_limit_wallets: RateLimit = _DEFAULT_WALLETS
    rate_limit_idempotency_keys: RateLimit = _DEFAULT_IDEMPOTENCY_KEYS
    idempotency_ttl: int = DEFAULT_IDEMPOTENCY_TTL
    tenant_wallet_limit: int = DEFAULT_TENANT_WALLET_LIMIT
    https: bool = False
    """``HTTPS``: clients reach the service over HTTPS through a proxy that sets
    ``X-Forwarded-Proto`` (secure cookies, HSTS, plain HTTP redirected; see ``web.settings``)."""
    hsts_seconds: int = DEFAULT_HSTS_SECONDS
    """``HSTS_SECONDS``: how long browsers keep to HTTPS once told (with ``HTTPS`` on)."""
    worker_name: str | None = None
    """``WORKER_NAME``: what a shard worker's name starts with (a pod or slot name; the host by
    default). The pid and a token per start follow, so a name is never reused."""
    ready_max_lag: float = DEFAULT_READY_MAX_LAG
    """``READY_MAX_LAG``: ``/readyz`` fails while an operation has waited longer than this in
    a shard queue."""
    fault_point: str | None = None
    """``FAULT_POINT``, for fault tests only: a worker kills itself (SIGKILL) when it reaches
    this point (``worker.faults``). Unset in any real deployment."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        hosts = env.get("ALLOWED_HOSTS")
        debug = _env_bool(env, "DEBUG", False)
        api_auth = _env_bool(env, "API_AUTH", True)
        if not api_auth and not debug and not _env_bool(env, "API_AUTH_FORCE_OFF", False):
            raise ConfigurationError(
                "API_AUTH=off opens every wallet to anyone who can reach the API: it needs DEBUG=1,"
                " or API_AUTH_FORCE_OFF=1 as well"
            )
        return cls(
            database_url=env.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            redis_url=env.get("REDIS_URL") or DEFAULT_REDIS_URL,
            shard_count=int(_env_number(env, "SHARD_COUNT", DEFAULT_SHARD_COUNT, minimum=1)),
            reply_timeout=_env_number(env, "REPLY_TIMEOUT", DEFAULT_REPLY_TIMEOUT, minimum=0),
            batch_size=int(_env_number(env, "BATCH_SIZE", DEFAULT_BATCH_SIZE, minimum=1, maximum=MAX_BATCH_SIZE)),
            result_ttl=int(_env_number(env, "RESULT_TTL", DEFAULT_RESULT_TTL, minimum=1)),
            reply_ttl=int(_env_number(env, "REPLY_TTL", DEFAULT_REPLY_TTL, minimum=1)),
            failure_ttl=int(_env_number(env, "FAILURE_TTL", DEFAULT_FAILURE_TTL, minimum=1)),
            ready_max_lag=_env_number(env, "READY_MAX_LAG", DEFAULT_READY_MAX_LAG, minimum=0.1, maximum=3600),
            https=_env_bool(env, "HTTPS", False),
            hsts_seconds=int(
                _env_number(env, "HSTS_SECONDS", DEFAULT_HSTS_SECONDS, minimum=0, maximum=2 * 365 * 86400)
            ),
            worker_name=_env_name(env, "WORKER_NAME"),
            lease_namespace=int(
                _env_number(env, "LEASE_NAMESPACE", DEFAULT_LEASE_NAMESPACE, minimum=0, maximum=2**31 - 1)
            ),
            debug=debug,
            log_requests=_env_bool(env, "LOG_REQUESTS", False),
            web_worker_class=_env_choice(env, "WEB_WORKER_CLASS", DEFAULT_WEB_WORKER_CLASS, WEB_WORKER_CLASSES),
            web_app_slots=int(_env_number(env, "WEB_CONNECTIONS", DEFAULT_WEB_APP_SLOTS, minimum=1)),
            web_max_clients=int(_env_number(env, "WEB_MAX_CLIENTS", DEFAULT_WEB_MAX_CLIENTS, minimum=1)),
            web_request_deadline=_env_number(
                env, "WEB_REQUEST_DEADLINE", DEFAULT_WEB_REQUEST_DEADLINE, minimum=0.1, maximum=3600
            ),
            host=env.get("HOST") or DEFAULT_HOST,
            port=int(_env_number(env, "PORT", DEFAULT_PORT, minimum=0, maximum=65535)),
            web_processes=int(_env_number(env, "WEB_CONCURRENCY", DEFAULT_WEB_PROCESSES, minimum=1)),
            web_threads=int(_env_number(env, "WEB_THREADS", DEFAULT_WEB_THREADS, minimum=1)),
            web_keepalive=int(_env_number(env, "WEB_KEEPALIVE", DEFAULT_WEB_KEEPALIVE, minimum=1)),
            log_level=(env.get("LOG_LEVEL") or DEFAULT_LOG_LEVEL).lower(),
            access_log=env.get("GUNICORN_ACCESSLOG") or None,
            metrics_dir=env.get("PROMETHEUS_MULTIPROC_DIR") or None,
            secret_key=env.get("SECRET_KEY", ""),
            metrics_token=env.get("METRICS_TOKEN", ""),
            allowed_hosts=tuple(h.strip() for h in hosts.split(",") if h.strip()) if hosts else DEFAULT_ALLOWED_HOSTS,
            trusted_proxies=_env_networks(env, "TRUSTED_PROXIES"),
            api_auth=api_auth,
            api_key_cache_seconds=_env_number(
                env,
                "API_KEY_CACHE_SECONDS",
                DEFAULT_API_KEY_CACHE_SECONDS,
                minimum=0,
                maximum=MAX_API_KEY_CACHE_SECONDS,
            ),
            rate_limit_writes=_env_rate(env, "RATE_LIMIT_WRITES", DEFAULT_RATE_LIMIT_WRITES),
            rate_limit_wallets=_env_rate(env, "RATE_LIMIT_WALLETS", DEFAULT_RATE_LIMIT_WALLETS),
            rate_limit_idempotency_keys=_env_rate(
                env, "RATE_LIMIT_IDEMPOTENCY_KEYS", DEFAULT_RATE_LIMIT_IDEMPOTENCY_KEYS
            ),
            idempotency_ttl=int(_env_number(env, "IDEMPOTENCY_TTL", DEFAULT_IDEMPOTENCY_TTL, minimum=60)),
            fault_point=env.get("FAULT_POINT") or None,
            tenant_wallet_limit=int(
                _env_number(env, "TENANT_WALLET_LIMIT", DEFAULT_TENANT_WALLET_LIMIT, minimum=0, maximum=2**31 - 1)
            ),
        )

    def rate_limit(self, limit: Limit, own: Mapping[Limit, RateLimit] | None = None) -> RateLimit:
        """The rate of ``limit`` for a key whose own limits are ``own``: its own, else the setting."""
        if own and limit in own:
            return own[limit]
        rate: RateLimit = getattr(self, limit.field)
        return rate

    @property
    def gunicorn_worker_class(self) -> str:
        return WEB_WORKER_CLASSES[self.web_worker_class]

    @property
    def web_uses_greenlets(self) -> bool:
        """Whether web requests run in greenlets (one per client connection) rather than threads."""
        return self.web_worker_class != "gthread"

    @property
    def database(self) -> DatabaseParams:
        parts = urlsplit(self.database_url)
        if parts.scheme not in {"postgres", "postgresql"} or not parts.path.strip("/"):
            raise ConfigurationError(f"DATABASE_URL must be postgresql://user@host:port/name, got {parts.scheme}://…")
        return DatabaseParams(
            name=unquote(parts.path.lstrip("/")),
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            options=dict(parse_qsl(parts.query, keep_blank_values=True)),
        )

    @property
    def sqlalchemy_url(self) -> str:
        """``DATABASE_URL`` with the driver SQLAlchemy should use."""
        return "postgresql+psycopg2://" + self.database_url.split("://", 1)[1]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings.from_env()
