"""Structured logs: one JSON object per line, for web and worker alike.

    {"time": "2026-11-24T05:40:07.123Z", "level": "WARNING", "logger": "worker.shard_worker",
     "message": "...", "method": "POST", "path": "...", "status": 200, "ms": 12.5}

Extra fields passed with ``log.info(..., extra={...})`` become keys of the object; a line
written while a web request is served carries its ``request_id`` (``REQUEST_ID``).
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
"""The id of the web request being served (``X-Request-Id``), in this thread or greenlet."""


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            entry["request_id"] = request_id
        entry.update({key: value for key, value in record.__dict__.items() if key not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(level: str) -> None:
    """Send every log record to stderr as JSON (for processes Django does not configure)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)


class WithoutTraceback(logging.Filter):
    """Keep a record's message, drop its traceback: for refusals a client can cause at will
    (a bad ``Host`` header), which must not flood the logs with stack traces."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        return True
