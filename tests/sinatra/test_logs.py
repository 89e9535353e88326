"""Log lines: one per request, no query string or one-time token, JSON on demand, refusals on one line."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from sinatra.logs import JsonFormatter, PlainFormatter, loggable_path


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/t/acme/credentials/?page=2&token=abc", "/t/acme/credentials/"),
        ("/install/Zx81-secret_token/", "/install/<token>/"),
        ("/install/Zx81-secret_token/?again=1", "/install/<token>/"),
        ("/accounts/confirm/eyJzaWduZWQiOiJ0b2tlbiJ9:1a2b3c:sig/", "/accounts/confirm/<token>/"),
        ("/accounts/reset/MQ/cv1t-0123456789abcdef/", "/accounts/reset/MQ/<token>/"),
        ("/accounts/reset/MQ/set-password/", "/accounts/reset/MQ/set-password/"),
        ("/api/v1/resolve", "/api/v1/resolve"),
    ],
)
def test_loggable_path_drops_query_strings_and_masks_tokens(path, logged):
    assert loggable_path(path) == logged


def record_with_exception(message: str = "failed") -> logging.LogRecord:
    try:
        raise ValueError("boom")
    except ValueError:
        return logging.LogRecord("x", logging.ERROR, __file__, 1, message, (), sys.exc_info())


def test_json_lines_keep_the_traceback_inside_the_line():
    line = JsonFormatter().format(record_with_exception())
    assert "\n" not in line
    data = json.loads(line)
    assert data["level"] == "ERROR"
    assert data["message"] == "failed"
    assert "ValueError: boom" in data["exception"]


def test_one_line_formatters_drop_the_traceback_but_leave_the_record_alone():
    record = record_with_exception()
    assert "exception" not in json.loads(JsonFormatter(tracebacks=False).format(record))
    assert PlainFormatter("{message}", style="{", tracebacks=False).format(record) == "failed"
    # Another handler still gets the traceback.
    assert "ValueError: boom" in PlainFormatter("{message}", style="{").format(record)


def test_json_lines_carry_the_request_fields():
    record = logging.LogRecord("sinatra.request", logging.INFO, __file__, 1, "GET / 200 1.5ms", (), None)
    record.__dict__.update(method="GET", path="/", status=200, duration_ms=1.5, request=object())
    data = json.loads(JsonFormatter().format(record))
    assert {key: data[key] for key in ("method", "path", "status", "duration_ms")} == {
        "method": "GET",
        "path": "/",
        "status": 200,
        "duration_ms": 1.5,
    }
    assert "request" not in data


REQUESTS = """
import logging
from django.test import Client
client = Client()
client.get("/accounts/login/?next=/t/acme/&token=QueryCanary")
client.get("/accounts/login/", HTTP_HOST="10.1.2.3")
client.get("/no-such-page/")
key = "sk-ant-api03-" + "LeakCanary" * 8 + "Wxyz"
try:
    raise RuntimeError("provider refused " + key)
except RuntimeError:
    logging.getLogger("routing").exception("resolution failed")
"""


@pytest.mark.parametrize("log_format", ["plain", "json"])
def test_configured_logging_one_line_per_request_and_per_refusal(production_shell, log_format):
    result = production_shell(REQUESTS, LOG_FORMAT=log_format, ALLOWED_HOSTS="testserver", SECURE_SSL_REDIRECT="false")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    if log_format == "json":
        records = [json.loads(line) for line in lines]  # every line parses, tracebacks included
        messages = [record["message"] for record in records]
        assert "RuntimeError: provider refused sk-ant-api03-...Wxyz" in records[-1]["exception"]
    else:
        messages = lines
    requests = [line for line in messages if "GET /" in line]
    assert len(requests) == 2  # the login page and the 404; the refusal has its own line below
    assert "GET /accounts/login/ 200 " in requests[0]
    assert "GET /no-such-page/ 404 " in requests[1]
    refusals = [line for line in lines if "Invalid HTTP_HOST header: '10.1.2.3'" in line]
    assert len(refusals) == 1
    assert "Traceback" not in "\n".join(lines[: lines.index(refusals[0]) + 2])
    assert "Not Found" not in result.stderr  # Django's own 4xx warning would repeat the request line
    assert "QueryCanary" not in result.stderr
    assert "LeakCanary" not in result.stderr


def test_an_unknown_log_format_is_a_start_up_error(production_shell):
    result = production_shell("pass", LOG_FORMAT="xml")
    assert result.returncode != 0
    assert "LOG_FORMAT must be `plain` or `json`." in result.stderr
