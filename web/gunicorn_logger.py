"""gunicorn's own log lines (start, stop, worker boots and deaths, its access log when asked
for) as JSON objects, like every other line of the service (``shared.logs``)."""

from __future__ import annotations

from typing import Any

from gunicorn import glogging

from shared.logs import JsonFormatter


class JsonLogger(glogging.Logger):  # type: ignore[misc]
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(JsonFormatter())
