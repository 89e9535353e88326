"""Log formatting: plain or JSON lines, one-line records, and paths safe to log.

Used by the settings' LOGGING (Django's processes) and by deploy/gunicorn.conf.py (gunicorn's
access and error logs), so it imports nothing from Django or the apps.
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
from datetime import UTC, datetime

# Fields a record may carry (as `extra`) that a JSON line keeps as fields of its own.
REQUEST_FIELDS = ("method", "path", "status", "duration_ms")

# Paths that carry a one-time token: the install link, a sign-up's confirmation link and Django's
# password-reset link.
_TOKEN_PATHS = (
    (re.compile(r"\A/install/[^/]+"), "/install/<token>"),
    (re.compile(r"\A/accounts/confirm/[^/]+"), "/accounts/confirm/<token>"),
    (re.compile(r"\A(/accounts/reset/[^/]+/)(?!set-password/)[^/]+"), r"\1<token>"),
)


def loggable_path(path: str) -> str:
    """Return a request path fit for a log line: no query string, one-time tokens masked."""
    path = path.split("?", 1)[0]
    for pattern, replacement in _TOKEN_PATHS:
        path = pattern.sub(replacement, path, count=1)
    return path


def _without_traceback(record: logging.LogRecord) -> logging.LogRecord:
    """Return a copy of `record` without its exception or stack (the original is shared by handlers)."""
    return logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None, "stack_info": None})


class PlainFormatter(logging.Formatter):
    """Django's usual text lines; `tracebacks=False` keeps each record to its one line."""

    def __init__(self, *args, tracebacks: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record if self.tracebacks else _without_traceback(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request fields, exception.

    A traceback stays inside its line (as the `exception` string), so every line parses.
    """

    def __init__(self, *args, tracebacks: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in REQUEST_FIELDS:
            if field in record.__dict__:
                line[field] = record.__dict__[field]
        if self.tracebacks:
            # exc_text first: a filter (RedactKeysFilter) may have rewritten it already.
            if record.exc_info and not record.exc_text:
                record.exc_text = self.formatException(record.exc_info)
            if record.exc_text:
                line["exception"] = record.exc_text
            if record.stack_info:
                line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str)


def configure_logging(config: dict) -> None:
    """Apply LOGGING (Django's LOGGING_CONFIG hook), and send Python's warnings through it too.

    Without this, a warning is printed to stderr as bare text, the one line a JSON log would not parse.
    """
    logging.config.dictConfig(config)
    logging.captureWarnings(True)
