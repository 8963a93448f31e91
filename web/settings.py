"""Django settings. Every value that varies by deploy comes from ``shared.config``."""

import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from shared.config import get_settings
from web.wallets.inputs import MAX_BODY_BYTES

config = get_settings()
db = config.database

BASE_DIR = Path(__file__).resolve().parent

DEBUG = config.debug
if not config.secret_key and not DEBUG:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
# With DEBUG on and no key, a random one per process: sessions do not survive a restart.
SECRET_KEY = config.secret_key or secrets.token_urlsafe(50)
ALLOWED_HOSTS = list(config.allowed_hosts)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "web.wallets",
]

AUTHENTICATION_BACKENDS = ["web.wallets.auth.login_guard.GuardedModelBackend"]
# One PBKDF2 hasher (same format as Django's), computed off the event loop: see login_guard.
PASSWORD_HASHERS = ["web.wallets.auth.login_guard.OffLoopPBKDF2PasswordHasher"]

MIDDLEWARE = [
    "web.wallets.api.middleware.RequestIdMiddleware",
    "web.wallets.api.middleware.RequestMetricsMiddleware",
    "web.wallets.api.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "web.wallets.api.middleware.AdminSessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "web.wallets.api.middleware.AdminAuthenticationMiddleware",
    "web.wallets.api.middleware.AdminDeviceCookieMiddleware",
    "web.wallets.api.middleware.AdminMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "web.urls"
WSGI_APPLICATION = "web.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": db.name,
        "USER": db.user,
        "PASSWORD": db.password,
        "HOST": db.host,
        "PORT": db.port,
        # Django keeps a connection per thread; under gevent a thread is a greenlet, one per
        # client connection, so there connections close after each request (the hot reads use
        # the bounded pool of web.database.get_engine instead).
        "CONN_MAX_AGE": 0 if config.web_uses_greenlets else 60,
        # A health check is a query per request; instead web.wallets.api.responses retries a read
        # once on a fresh connection when a kept one turns out dead (after a database restart).
        "CONN_HEALTH_CHECKS": False,
        # DATABASE_URL's query (sslmode=require...) reaches libpq here as it does SQLAlchemy's.
        "OPTIONS": {"connect_timeout": 2, **db.options},
        "TEST": {"NAME": db.name},
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# A write is a few dozen bytes, or some KiB with metadata; anything bigger is refused early.
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_BODY_BYTES

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
FORMAT_MODULE_PATH = ["web.formats"]  # ISO dates and 24-hour times in the admin
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR.parent / ".static"
# The admin's CSS and JS, served by whitenoise from STATIC_ROOT (filled by collectstatic).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

if config.https:
    # Behind a TLS proxy that sets X-Forwarded-Proto (and strips it from clients): cookies only
    # over HTTPS, HSTS, and plain HTTP redirected, except the probes a cluster sends in plain.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = config.hsts_seconds
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # Preloading is a commitment made by submitting the domain to browsers' lists, not a setting.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "shared.logs.JsonFormatter"}},
    "filters": {"without_traceback": {"()": "shared.logs.WithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "web": {"level": "INFO"},
        # Django logs every 4xx as a warning: an "Insufficient funds" is an answer, not an incident.
        "django.request": {"level": "ERROR"},
        # A bad Host header is the client's doing: one line, no traceback.
        "django.security.DisallowedHost": {"level": "WARNING", "filters": ["without_traceback"]},
    },
}
