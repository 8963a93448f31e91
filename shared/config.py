"""The one place that reads the environment.

Each setting is declared once, as a field of ``Settings``: its environment variable, its
default, the reader that checks it (``shared.env``), and a docstring under it. Read once into a
frozen value::

    settings = Settings.from_env()
    settings.reply_timeout  # 3.0

An unset or empty variable leaves the default. ``ENV_NAMES`` lists every variable read (the
docs' settings table and ``.env.example`` are held to it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from shared import env
from shared.errors import ConfigurationError
from shared.rates import Limit, RateLimit

T = TypeVar("T")

MAX_BATCH_SIZE = 1000
"""Upper bound of ``BATCH_SIZE``: a claim passes the ids through Lua's limited stack."""

MAX_API_KEY_CACHE_SECONDS = 5.0
"""Upper bound of ``API_KEY_CACHE_SECONDS``."""

WEB_WORKER_CLASSES = {
    "pywsgi": "web.gunicorn_worker.PyWSGIWorker",
    "gevent": "gevent",
    "gthread": "gthread",
}
"""``WEB_WORKER_CLASS`` values and the gunicorn worker class each runs: gevent's pywsgi server
with an idle timeout, gunicorn's own gevent worker, or gunicorn's threads."""


def setting(name: str, default: T, read: env.Reader[T]) -> T:
    """A field of ``Settings`` read from the environment variable ``name`` by ``read``."""
    return field(default=default, metadata={"env": name, "read": read})


PRIMARY_ONLY = ("target_session_attrs", "read-write")
"""What a ``DATABASE_URL`` of several hosts asks libpq for unless it says otherwise: the one that
takes writes (the primary), never a standby."""


@dataclass(frozen=True, slots=True)
class DatabaseParams:
    """The parts of ``DATABASE_URL`` that Django and libpq need."""

    name: str
    user: str
    password: str
    hosts: tuple[env.Address, ...]
    """Every host the URL lists (``h1:5432,h2:5433``), in order: libpq connects to the first that
    answers as ``target_session_attrs`` asks (``read-write``: the primary)."""
    options: dict[str, str]
    """The URL's query: libpq parameters (``sslmode``, ``target_session_attrs``...)."""

    @property
    def host(self) -> str:
        """The hosts as libpq takes them (``h1,h2``), for Django's ``HOST`` and ``psycopg2.connect``."""
        return ",".join(host for host, _ in self.hosts)

    @property
    def port(self) -> str:
        """Their ports, in the same order (``5432,5433``)."""
        return ",".join(str(port) for _, port in self.hosts)


@dataclass(frozen=True, slots=True)
class RedisParams:
    """The parts of ``REDIS_URL`` that hold with Sentinels too (they name the server)."""

    db: int
    username: str | None
    password: str | None


@dataclass(frozen=True, slots=True)
class Settings:
    # Where the data lives
    database_url: str = setting("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/wallet", env.text)
    """PostgreSQL the web reads from and the workers write to."""
    redis_url: str = setting("REDIS_URL", "redis://127.0.0.1:6379/0", env.text)
    """Redis holding the shard queues, RQ bookkeeping, answers and webhook jobs. With
    ``REDIS_SENTINELS`` set, only its database number and password count: the Sentinels name
    the server."""
    redis_sentinels: tuple[env.Address, ...] = setting("REDIS_SENTINELS", (), env.addresses)
    """Redis Sentinels (``host:port,host:port,...``): when set, every process asks them which
    server is the master of ``REDIS_SENTINEL_MASTER`` and follows it through a failover."""
    redis_sentinel_master: str = setting("REDIS_SENTINEL_MASTER", "wallet", env.short_name)
    """The name under which the Sentinels monitor the master."""
    redis_sentinel_password: str = setting("REDIS_SENTINEL_PASSWORD", "", env.text)
    """The Sentinels' own password (their ``requirepass``), if they have one."""

    # Queues and workers
    shard_count: int = setting("SHARD_COUNT", 16, env.whole(minimum=1))
    """Number of shard queues. A deploy-time constant: changing it re-routes wallets."""
    reply_timeout: float = setting("REPLY_TIMEOUT", 3.0, env.number(minimum=0))
    """Seconds a web request waits for the worker's reply before answering 202."""
    batch_size: int = setting("BATCH_SIZE", 200, env.whole(minimum=1, maximum=MAX_BATCH_SIZE))
    """Most operations a worker claims from one shard and applies in one transaction."""
    result_ttl: int = setting("RESULT_TTL", 10, env.whole(minimum=1))
    """Seconds RQ keeps a finished job and its result, for the dashboard (the ledger answers
    status queries). Redis holds about 6 KB per operation for this long: memory stays flat."""
    reply_ttl: int = setting("REPLY_TTL", 60, env.whole(minimum=1))
    """Seconds a reply key lives when no web request is waiting for it."""
    failure_ttl: int = setting("FAILURE_TTL", 7 * 24 * 3600, env.whole(minimum=1))
    """Seconds a poison job stays in RQ's failed registry for an operator to read."""
    lease_namespace: int = setting("LEASE_NAMESPACE", 0x57414C, env.whole(minimum=0, maximum=2**31 - 1))
    """First key of the workers' shard locks (``pg_advisory_lock(namespace, shard)``). Only two
    separate deployments sharing one PostgreSQL database need different values."""
    worker_name: str | None = setting("WORKER_NAME", None, env.short_name)
    """What a shard worker's name starts with (a pod or slot name; the host by default). The pid
    and a token per start follow, so a name is never reused."""
    ready_max_lag: float = setting("READY_MAX_LAG", 10.0, env.number(minimum=0.1, maximum=3600))
    """``/readyz`` fails while an operation has waited longer than this in a shard queue."""
    fault_point: str | None = setting("FAULT_POINT", None, env.text)
    """For fault tests only: a worker kills itself (SIGKILL) when it reaches this point
    (``worker.faults``). Unset in any real deployment."""

    # The web server
    host: str = setting("HOST", "127.0.0.1", env.text)
    """Address gunicorn binds; compose sets 0.0.0.0 inside its network."""
    port: int = setting("PORT", 8000, env.whole(minimum=0, maximum=65535))
    """Port gunicorn binds."""
    web_processes: int = setting("WEB_CONCURRENCY", 2, env.whole(minimum=1))
    """gunicorn worker processes (``WEB_CONCURRENCY`` is gunicorn's own name for it)."""
    web_worker_class: str = setting("WEB_WORKER_CLASS", "pywsgi", env.choice(WEB_WORKER_CLASSES))
    """Which of ``WEB_WORKER_CLASSES`` serves requests (pywsgi: measured fastest here)."""
    web_app_slots: int = setting("WEB_CONNECTIONS", 40, env.whole(minimum=1))
    """Requests a web process runs at once; each may hold a database connection."""
    web_max_clients: int = setting("WEB_MAX_CLIENTS", 1000, env.whole(minimum=1))
    """Client connections a pywsgi web process holds: idle and slow ones are cheap greenlets,
    kept apart from the application slots."""
    web_request_deadline: float = setting("WEB_REQUEST_DEADLINE", 10.0, env.number(minimum=0.1, maximum=3600))
    """pywsgi: seconds from a request's first byte to the end of its body (slow clients are cut off)."""
    web_threads: int = setting("WEB_THREADS", 8, env.whole(minimum=1))
    """Threads per web process when ``WEB_WORKER_CLASS=gthread``."""
    web_keepalive: int = setting("WEB_KEEPALIVE", 5, env.whole(minimum=1))
    """Seconds an idle keep-alive connection is kept; pywsgi: any stalled read or write."""
    log_level: str = setting("LOG_LEVEL", "info", env.lowercase)
    """gunicorn's log level."""
    log_requests: bool = setting("LOG_REQUESTS", False, env.flag)
    """One JSON log line per API request."""
    access_log: str | None = setting("GUNICORN_ACCESSLOG", None, env.text)
    """Where gunicorn writes one line per request (``-`` for stdout); none by default."""
    metrics_dir: str | None = setting("PROMETHEUS_MULTIPROC_DIR", None, env.text)
    """Where the web processes' metrics files are added up (set by ``deploy/gunicorn.conf.py``
    when not given)."""

    # Security
    debug: bool = setting("DEBUG", False, env.flag)
    """Django's debug mode: never in production."""
    secret_key: str = setting("SECRET_KEY", "", env.text)
    """Django's secret (sessions, signed cookies); required unless ``DEBUG``."""
    allowed_hosts: tuple[str, ...] = setting("ALLOWED_HOSTS", ("localhost", "127.0.0.1", "[::1]"), env.names)
    """Host names Django answers for."""
    trusted_proxies: tuple[str, ...] = setting("TRUSTED_PROXIES", (), env.networks)
    """Addresses or networks (``10.0.0.0/8``) of the proxies in front of the web, whose
    ``X-Forwarded-For`` names the client (the admin login's guard counts by client); none by
    default: ``REMOTE_ADDR`` is the client."""
    https: bool = setting("HTTPS", False, env.flag)
    """Clients reach the service over HTTPS through a proxy that sets ``X-Forwarded-Proto``
    (secure cookies, HSTS, plain HTTP redirected; see ``web.settings``)."""
    hsts_seconds: int = setting("HSTS_SECONDS", 365 * 86400, env.whole(minimum=0, maximum=2 * 365 * 86400))
    """How long browsers keep to HTTPS once told, with ``HTTPS`` on (a year; raise it gradually
    from an hour if unsure)."""
    metrics_token: str = setting("METRICS_TOKEN", "", env.text)
    """When set, ``/metrics`` answers only ``Authorization: Bearer <token>``."""
    api_auth: bool = setting("API_AUTH", True, env.flag)
    """Every ``/api/v1/`` call needs a bearer API key. Off only with ``DEBUG`` on, or with
    ``API_AUTH_FORCE_OFF`` set as well (docs/security.md)."""
    api_auth_force_off: bool = setting("API_AUTH_FORCE_OFF", False, env.flag)
    """Allows ``API_AUTH=off`` without ``DEBUG``."""
    api_key_cache_seconds: float = setting(
        "API_KEY_CACHE_SECONDS", 2.0, env.number(minimum=0, maximum=MAX_API_KEY_CACHE_SECONDS)
    )
    """Seconds a web process trusts what it read of an API key (a revoked key stops working
    within this on every node)."""

    # Limits
    rate_limit_writes: RateLimit = setting("RATE_LIMIT_WRITES", RateLimit.parse("100/second"), env.rate)
    """Operations an API key may send, unless it has its own: Stripe's live-mode default."""
    rate_limit_wallets: RateLimit = setting("RATE_LIMIT_WALLETS", RateLimit.parse("10/second"), env.rate)
    """Wallets an API key may create, unless it has its own."""
    rate_limit_idempotency_keys: RateLimit = setting(
        "RATE_LIMIT_IDEMPOTENCY_KEYS", RateLimit.parse("10000/hour"), env.rate
    )
    """Requests with an ``Idempotency-Key`` an API key may send, unless it has its own: each
    leaves a Redis record for ``IDEMPOTENCY_TTL``, so this bounds what one key can make Redis
    hold (10,000/hour for 24 h is at most 240,000 records, about 70 MB)."""
    idempotency_ttl: int = setting("IDEMPOTENCY_TTL", 24 * 3600, env.whole(minimum=60))
    """Seconds the Redis record of an ``Idempotency-Key`` lives. The ledger keeps every key for
    good and answers a retry after the record expired (Stripe keeps 24 h)."""
    # Events and webhooks
    event_retention_days: int = setting("EVENT_RETENTION_DAYS", 30, env.whole(minimum=1, maximum=3650))
    """Days events (and their webhook deliveries) are kept, then pruned by a chore: the feed and
    a retry reach back this far."""
    webhook_retry_schedule: tuple[float, ...] = setting(
        "WEBHOOK_RETRY_SCHEDULE",
        (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 50400.0, 72000.0, 86400.0),
        env.durations,
    )
    """Waits before each retry of a failed delivery (``5s,5m,30m,...``; the first attempt is
    immediate): the Standard Webhooks schedule by default (5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
    14 h, 20 h, 24 h), then the delivery has failed."""
    webhook_disable_after: float = setting("WEBHOOK_DISABLE_AFTER", 5 * 86400.0, env.duration)
    """An endpoint whose every attempt failed for this long (``5d``) is disabled."""
    webhook_timeout: float = setting("WEBHOOK_TIMEOUT", 15.0, env.number(minimum=0.1, maximum=60))
    """Seconds a receiver has to answer a delivery (connecting included) before it counts as failed."""
    webhook_allow_private_urls: bool = setting("WEBHOOK_ALLOW_PRIVATE_URLS", False, env.flag)
    """Let endpoints name loopback, private, link-local and reserved addresses: for local
    development and tests only (else the service could be made to call its own network)."""
    default_currency: str = setting("DEFAULT_CURRENCY", "EUR", env.currency)
    """The currency of a wallet created without one (an ISO 4217 code), and of every wallet
    that existed before currencies (given by the migration that added them)."""
    statement_max_days: int = setting("STATEMENT_MAX_DAYS", 366, env.whole(minimum=1, maximum=3660))
    """The longest span one statement request may cover (``from`` to ``to``), in days."""
    tenant_wallet_limit: int = setting("TENANT_WALLET_LIMIT", 100_000, env.whole(minimum=0, maximum=2**31 - 1))
    """Wallets a new tenant may create; each tenant's own limit is stored with it and can be
    changed in the admin."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for each in fields(cls):
            name = each.metadata["env"]
            raw = environ.get(name)
            if raw:
                values[each.name] = each.metadata["read"](name, raw)
        settings = cls(**values)
        if not settings.api_auth and not settings.debug and not settings.api_auth_force_off:
            raise ConfigurationError(
                "API_AUTH=off opens every wallet to anyone who can reach the API: it needs DEBUG=1,"
                " or API_AUTH_FORCE_OFF=1 as well"
            )
        return settings

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
        userinfo, _, hostlist = parts.netloc.rpartition("@")
        user, _, password = userinfo.partition(":")
        hosts = tuple(env.host_port("DATABASE_URL", h, default_port=5432) for h in hostlist.split(",") if h)
        options = dict(parse_qsl(parts.query, keep_blank_values=True))
        if len(hosts) > 1:
            options.setdefault(*PRIMARY_ONLY)
        return DatabaseParams(
            name=unquote(parts.path.lstrip("/")),
            user=unquote(user or "postgres"),
            password=unquote(password),
            hosts=hosts or (("127.0.0.1", 5432),),
            options=options,
        )

    @property
    def sqlalchemy_url(self) -> str:
        """``DATABASE_URL`` with the driver SQLAlchemy should use; several hosts go in its query
        (``?host=h1:5432&host=h2:5433``: SQLAlchemy's form of libpq's host list)."""
        database = self.database
        if len(database.hosts) == 1:
            return "postgresql+psycopg2://" + self.database_url.split("://", 1)[1]
        parts = urlsplit(self.database_url)
        userinfo = parts.netloc.rpartition("@")[0]
        listed = [("host", env.address_text(host, port)) for host, port in database.hosts]
        query = urlencode([*listed, *database.options.items()], safe=":[]")
        return f"postgresql+psycopg2://{userinfo}{'@' if userinfo else ''}{parts.path}?{query}"

    @property
    def redis(self) -> RedisParams:
        """What of ``REDIS_URL`` a client through the Sentinels still takes from it."""
        parts = urlsplit(self.redis_url)
        return RedisParams(
            db=int(parts.path.strip("/") or 0),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


DEFAULTS = Settings()
"""Every setting at its default."""

ENV_NAMES = tuple(each.metadata["env"] for each in fields(Settings))
"""Every environment variable the settings read."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings.from_env()
