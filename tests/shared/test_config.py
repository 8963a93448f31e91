from __future__ import annotations

import re

import pytest

from deploy.processes import ROOT
from shared.config import DEFAULTS, ENV_NAMES, Settings
from shared.errors import ConfigurationError
from shared.rates import RateLimit


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == DEFAULTS.database_url == "postgresql://postgres@127.0.0.1:5432/wallet"
    assert settings.debug is False
    assert settings.secret_key == ""
    assert settings.shard_count == 16
    assert settings.database.name == "wallet"
    assert settings.sqlalchemy_url == "postgresql+psycopg2://postgres@127.0.0.1:5432/wallet"
    assert settings.gunicorn_worker_class == "web.gunicorn_worker.PyWSGIWorker"
    assert settings.web_uses_greenlets is True
    assert settings.ready_max_lag == 10.0


def test_values_from_env() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://app:s%40cret@db.internal:6543/money",
            "SHARD_COUNT": "32",
            "REPLY_TIMEOUT": "0.5",
            "DEBUG": "yes",
            "ALLOWED_HOSTS": "a.example, b.example",
            "READY_MAX_LAG": "2.5",
        }
    )
    assert settings.database.user == "app"
    assert settings.database.password == "s@cret"
    assert settings.database.hosts == (("db.internal", 6543),)
    assert settings.shard_count == 32
    assert settings.reply_timeout == 0.5
    assert settings.debug is True
    assert settings.allowed_hosts == ("a.example", "b.example")
    assert settings.ready_max_lag == 2.5


@pytest.mark.parametrize(
    "env",
    [
        {"DEBUG": "maybe"},
        {"SHARD_COUNT": "0"},
        {"SHARD_COUNT": "many"},
        {"BATCH_SIZE": "5000"},
        {"REPLY_TIMEOUT": "-1"},
        {"WEB_WORKER_CLASS": "sync"},
        {"READY_MAX_LAG": "0"},
    ],
)
def test_bad_values_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        Settings.from_env(env)


def test_bad_database_url_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        _ = Settings.from_env({"DATABASE_URL": "mysql://x/y"}).database


@pytest.mark.parametrize(
    ("name", "gunicorn_class", "greenlets"),
    [("pywsgi", "web.gunicorn_worker.PyWSGIWorker", True), ("gevent", "gevent", True), ("gthread", "gthread", False)],
)
def test_web_worker_classes(name: str, gunicorn_class: str, greenlets: bool) -> None:
    settings = Settings.from_env({"WEB_WORKER_CLASS": name})
    assert settings.gunicorn_worker_class == gunicorn_class
    assert settings.web_uses_greenlets is greenlets


@pytest.mark.parametrize(
    ("raw", "amount", "seconds", "per"),
    [("100/second", 100, 1, "second"), ("20/10 minute", 20, 600, "10 minutes"), ("5/day", 5, 86400, "day")],
)
def test_rate_limits(raw: str, amount: int, seconds: int, per: str) -> None:
    assert Settings.from_env({"RATE_LIMIT_WRITES": raw}).rate_limit_writes == RateLimit(amount, seconds, per)


@pytest.mark.parametrize("raw", ["100", "0/second", "10/fortnight", "-1/second", "1/0 second"])
def test_bad_rate_limits_are_refused(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="RATE_LIMIT_WALLETS"):
        Settings.from_env({"RATE_LIMIT_WALLETS": raw})


def test_database_url_query_reaches_the_drivers_as_libpq_parameters() -> None:
    url = "postgresql://u:p%40ss@db.example:6432/wallet?sslmode=verify-full&sslrootcert=/etc/ca.pem"
    database = Settings.from_env({"DATABASE_URL": url}).database
    assert (database.user, database.password, database.host, database.port) == ("u", "p@ss", "db.example", "6432")
    assert database.options == {"sslmode": "verify-full", "sslrootcert": "/etc/ca.pem"}
    assert Settings.from_env({}).database.options == {}


@pytest.mark.parametrize("name", ["pod-7", "wallet-worker-0.eu", "slot_2"])
def test_a_worker_name_is_a_label(name: str) -> None:
    assert Settings.from_env({"WORKER_NAME": name}).worker_name == name


@pytest.mark.parametrize("name", ["-x", "a b", "x" * 64, "pod:7", "pod/7"])
def test_a_worker_name_that_would_break_keys_is_refused(name: str) -> None:
    with pytest.raises(ConfigurationError, match="WORKER_NAME"):
        Settings.from_env({"WORKER_NAME": name})


def test_https_is_off_unless_asked_and_hsts_defaults_to_a_year() -> None:
    assert not Settings.from_env({}).https
    on = Settings.from_env({"HTTPS": "1"})
    assert (on.https, on.hsts_seconds) == (True, 365 * 86400)
    assert Settings.from_env({"HTTPS": "1", "HSTS_SECONDS": "3600"}).hsts_seconds == 3600


def test_every_setting_is_in_the_configuration_docs_and_the_env_example() -> None:
    """Each environment variable ``Settings.from_env`` reads is documented where users look."""
    names = set(ENV_NAMES)
    assert {"SECRET_KEY", "DATABASE_URL", "WORKER_NAME", "HTTPS"} <= names
    documented = (ROOT / "docs" / "configuration.md").read_text()
    example = (ROOT / ".env.example").read_text()
    assert [name for name in sorted(names) if f"`{name}`" not in documented] == []
    assert [name for name in sorted(names) if not re.search(rf"^#? ?{name}=", example, re.M)] == []


def test_a_database_url_of_several_hosts_reaches_libpq_and_sqlalchemy_as_their_host_lists() -> None:
    url = "postgresql://app:s%40c@pg-a:5432,pg-b,[fd00::5]:5433/wallet?sslmode=require"
    settings = Settings.from_env({"DATABASE_URL": url})
    database = settings.database
    assert database.hosts == (("pg-a", 5432), ("pg-b", 5432), ("fd00::5", 5433))
    assert (database.host, database.port) == ("pg-a,pg-b,fd00::5", "5432,5432,5433")  # Django's HOST and PORT
    # Only the primary: a standby is never written to, unless the URL asks otherwise.
    assert database.options == {"sslmode": "require", "target_session_attrs": "read-write"}
    assert settings.sqlalchemy_url == (
        "postgresql+psycopg2://app:s%40c@/wallet?host=pg-a:5432&host=pg-b:5432&host=[fd00::5]:5433"
        "&sslmode=require&target_session_attrs=read-write"
    )
    any_host = Settings.from_env({"DATABASE_URL": "postgresql://a,b/w?target_session_attrs=any"}).database
    assert any_host.options == {"target_session_attrs": "any"}
    single = Settings.from_env({"DATABASE_URL": "postgresql://u@db:6432/wallet"})
    assert single.sqlalchemy_url == "postgresql+psycopg2://u@db:6432/wallet"
    assert single.database.options == {}


@pytest.mark.parametrize("raw", ["db:port", "db:0", "db:70000", ":5432"])
def test_a_bad_database_host_is_refused(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="DATABASE_URL"):
        _ = Settings.from_env({"DATABASE_URL": f"postgresql://u@{raw}/wallet"}).database


def test_redis_sentinels_are_read_as_addresses() -> None:
    settings = Settings.from_env(
        {
            "REDIS_SENTINELS": "s1:26379, s2:26380,[::1]:26381",
            "REDIS_SENTINEL_MASTER": "main",
            "REDIS_SENTINEL_PASSWORD": "pw",
        }
    )
    assert settings.redis_sentinels == (("s1", 26379), ("s2", 26380), ("::1", 26381))
    assert (settings.redis_sentinel_master, settings.redis_sentinel_password) == ("main", "pw")
    assert Settings.from_env({}).redis_sentinels == ()


@pytest.mark.parametrize("raw", ["s1", "s1:x", "s1:26379,s2", "[::1", ","])
def test_bad_redis_sentinels_are_refused(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="REDIS_SENTINELS"):
        Settings.from_env({"REDIS_SENTINELS": raw})
