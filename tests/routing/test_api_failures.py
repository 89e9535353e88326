"""Every answer of /api/v1/* is JSON: a database that refuses connections is 503, anything else 500.

The PostgreSQL test points the app's connection at a closed port on 127.0.0.1: a real
PostgreSQL client, really refused.
"""

from __future__ import annotations

import json
import logging

import pytest
from django.db import InterfaceError, OperationalError, connection

from routing import api
from tests.shared_cache import closed_port

URL = "/api/v1/resolve"
LEAKY = "could not connect to server at 10.1.2.3 as sinatra_admin: sk-ant-api03-internal"


def post(client, body: dict, token: str):
    return client.post(
        URL, data=json.dumps(body), content_type="application/json", headers={"Authorization": f"Bearer {token}"}
    )


def assert_json_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error", "detail"}
    assert body["error"] == code
    assert body["detail"]
    return body


def failure_lines(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "routing.api"]


@pytest.mark.django_db
def test_an_unexpected_failure_is_500_internal_error_json_and_logged_in_one_line(
    client, tenant, service_token, monkeypatch, caplog
):
    def explode(*args, **kwargs):
        raise RuntimeError(LEAKY)

    monkeypatch.setattr(api, "resolve_agent", explode)

    response = post(client, {"tenant": "acme", "model": "opus"}, service_token)

    body = assert_json_error(response, 500, "internal_error")
    assert "10.1.2.3" not in response.content.decode()
    assert "RuntimeError" not in body["detail"]
    [line] = failure_lines(caplog)
    assert line.levelno == logging.ERROR
    assert "RuntimeError" in line.getMessage()
    assert LEAKY not in line.getMessage()
    assert all(record.exc_info is None for record in caplog.records)  # no traceback anywhere


@pytest.mark.django_db
@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
def test_a_database_error_is_503_unavailable_json_without_detail(
    client, tenant, service_token, monkeypatch, caplog, error
):
    def refuse(*args, **kwargs):
        raise error(LEAKY)

    monkeypatch.setattr(api, "token_grant", refuse)

    response = post(client, {"tenant": "acme", "model": "opus"}, service_token)

    assert_json_error(response, 503, "unavailable")
    assert "10.1.2.3" not in response.content.decode()
    [line] = failure_lines(caplog)
    assert error.__name__ in line.getMessage()
    assert LEAKY not in line.getMessage()


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: set DATABASE_URL=postgres://...")
@pytest.mark.django_db(transaction=True)
def test_with_postgresql_refusing_connections_the_api_answers_503_json(client, tenant, service_token, caplog):
    original = dict(connection.settings_dict)
    with closed_port() as port:
        connection.close()
        connection.settings_dict["HOST"], connection.settings_dict["PORT"] = "127.0.0.1", str(port)
        try:
            response = post(client, {"tenant": "acme", "model": "opus"}, service_token)
        finally:
            connection.close()
            connection.settings_dict.update(original)

    assert_json_error(response, 503, "unavailable")
    assert str(port) not in response.content.decode()
    [line] = failure_lines(caplog)
    assert "OperationalError" in line.getMessage()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/"),
        ("get", "/api/v1"),
        ("post", "/api/v1/resolve/"),
        ("delete", "/api/v1/tenants/acme"),
        ("get", "/api/v1/" + "x" * 10_000),
    ],
)
def test_a_path_under_api_v1_that_names_no_endpoint_is_404_json(client, method, path):
    response = getattr(client, method)(path)

    body = assert_json_error(response, 404, "not_found")
    assert len(response.content) < 300  # the path is not echoed
    assert "resolve" in body["detail"]
