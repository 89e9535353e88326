"""The HTTP API: POST /api/v1/resolve (service tokens, JSON errors, limits) and its OpenAPI description."""

from __future__ import annotations

import ast
import io
import json
import re
from datetime import timedelta
from pathlib import Path

import jsonschema_rs
import pytest
from django.core.handlers.asgi import ASGIRequest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from credentials.models import TenantModelCredential
from routing import api, release
from routing.errors import RoutingError
from routing.models import ServiceToken, ServiceTokenEvent, TokenEventKind
from routing.openapi import MAX_SLUG_LENGTH
from routing.service import resolve
from routing.tokens import token_revoke
from tenants.models import Tenant
from tests.fakes.providers import anthropic_key, openrouter_key
from tests.helpers import find_leaks

URL = "/api/v1/resolve"
RESOLUTION_FIELDS = {
    "provider",
    "model",
    "requested",
    "base_url",
    "api_key",
    "credential_source",
    "key_hint",
    "reason",
    "warnings",
}

pytestmark = pytest.mark.django_db


def post(client, body, token: str | None, **extra):
    """POST a body (a dict is sent as JSON) with the token as a bearer, if any."""
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.post(URL, data=data, content_type="application/json", headers=headers, **extra)


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert set(body) == {"error", "detail"}
    assert body["error"] == code
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body


# --- Authentication.


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer sin_not-a-real-token",
        "Basic c2luX3g6eQ==",
        "Token {token}",
        "Bearer {token}x",
        "{token}",
    ],
)
def test_no_or_invalid_token_is_401_json_with_www_authenticate(client, tenant, service_token, authorization):
    headers = {}
    if authorization is not None:
        headers["Authorization"] = authorization.format(token=service_token)

    response = client.post(URL, data=json.dumps({"tenant": "acme"}), content_type="application/json", headers=headers)

    body = assert_error(response, 401, "unauthorized")
    assert response["WWW-Authenticate"] == 'Bearer realm="sinatra"'
    assert "create_service_token" in body["detail"]


def test_a_revoked_token_is_401(client, tenant, service_token):
    token_revoke(name="worker-test")

    response = post(client, {"tenant": "acme"}, service_token)

    assert_error(response, 401, "unauthorized")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_the_bearer_scheme_is_case_insensitive(client, tenant, store_key, provider_api, service_token):
    store_key(tenant, "anthropic")

    response = client.post(
        URL,
        data=json.dumps({"tenant": "acme"}),
        content_type="application/json",
        headers={"Authorization": f"bearer {service_token}"},
    )

    assert response.status_code == 200


def test_an_expired_token_is_401_saying_it_expired(client, tenant, store_key, issue_token):
    token = issue_token("worker-eu", tenant, expires_days=1)
    ServiceToken.objects.filter(name="worker-eu").update(expires_at=timezone.now() - timedelta(minutes=1))

    body = assert_error(post(client, {"tenant": "acme"}, token), 401, "token_expired")

    assert "worker-eu expired on" in body["detail"]
    assert response_has_no_token(body, token)


def test_a_warm_request_is_one_statement_and_sees_a_revocation_on_the_next_request(
    client, tenant, store_key, provider_api, service_token
):
    store_key(tenant, "anthropic")
    assert post(client, {"tenant": "acme"}, service_token).status_code == 200  # the model list fetched

    with CaptureQueriesContext(connection) as queries:
        assert post(client, {"tenant": "acme"}, service_token).status_code == 200
    token_revoke(name="worker-test")
    with CaptureQueriesContext(connection) as after:
        assert_error(post(client, {"tenant": "acme"}, service_token), 401, "unauthorized")

    assert len(queries) == 1  # the token, the tenant and its keys together; no health check, no write
    assert len(after) == 1


def test_a_replaced_key_is_served_on_the_next_request(client, tenant, store_key, provider_api, service_token):
    first, second = anthropic_key("first"), anthropic_key("second")
    store_key(tenant, "anthropic", first)
    assert post(client, {"tenant": "acme"}, service_token).json()["api_key"] == first

    store_key(tenant, "anthropic", second)

    assert post(client, {"tenant": "acme"}, service_token).json()["api_key"] == second


def test_a_policy_saved_between_two_requests_applies_to_the_next(
    client, tenant, store_key, provider_api, service_token
):
    from credentials.services import Actor
    from routing.policy import tenant_policy_save
    from routing.policy_rules import DEFAULT

    store_key(tenant, "anthropic")
    store_key(tenant, "openrouter", openrouter_key())
    assert post(client, {"tenant": "acme", "model": "openai/gpt-5"}, service_token).status_code == 200

    tenant_policy_save(tenant=tenant, policy=DEFAULT.changed(providers={"anthropic"}), actor=Actor.command("test"))

    assert_error(post(client, {"tenant": "acme", "model": "openai/gpt-5"}, service_token), 403, "policy_denied")


def test_a_bad_token_with_a_bad_body_is_401_not_400(client, tenant, service_token):
    token_revoke(name="worker-test")

    assert_error(post(client, b"{not json", service_token), 401, "unauthorized")
    assert_error(post(client, {"model": "opus"}, service_token), 401, "unauthorized")
    assert_error(post(client, {"tenant": "acme"}, "sin_" + "x" * 43), 401, "unauthorized")


def test_a_revoked_token_is_401_saying_it_was_revoked(client, tenant, issue_token):
    token = issue_token("worker-eu", tenant)
    token_revoke(name="worker-eu")

    body = assert_error(post(client, {"tenant": "acme"}, token), 401, "unauthorized")

    assert "worker-eu was revoked" in body["detail"]
    assert response_has_no_token(body, token)


def response_has_no_token(body: dict, token: str) -> bool:
    return token not in json.dumps(body) and token[len("sin_") :][:12] not in json.dumps(body)


# --- Scope: a token resolves only the tenants it names.


def test_a_scoped_token_resolves_its_tenants(client, tenant, make_tenant, store_key, provider_api, issue_token):
    globex = make_tenant("globex")
    store_key(tenant, "anthropic")
    store_key(globex, "anthropic")
    token = issue_token("worker-eu", tenant, globex)

    assert post(client, {"tenant": "acme"}, token).status_code == 200
    assert post(client, {"tenant": "globex"}, token).status_code == 200


def test_a_scoped_token_is_refused_another_tenant_with_403_and_an_event(
    client, tenant, make_tenant, store_key, provider_api, issue_token
):
    globex = make_tenant("globex")
    globex_key = anthropic_key("GLOBEXKEY")
    store_key(globex, "anthropic", globex_key)
    token = issue_token("worker-acme", tenant)

    response = post(client, {"tenant": "globex"}, token)

    body = assert_error(response, 403, "forbidden_tenant")
    assert "worker-acme may not resolve tenant 'globex'" in body["detail"]
    assert find_leaks(response.content, [globex_key]) == []
    event = ServiceTokenEvent.objects.get(kind=TokenEventKind.REFUSED_TENANT)
    assert (event.token.name, event.tenant, event.actor) == ("worker-acme", globex, "token:worker-acme")
    assert TenantModelCredential.objects.get(tenant=globex).last_used_at is None


def test_a_scoped_token_gets_the_same_403_for_a_slug_no_tenant_has(client, tenant, issue_token):
    token = issue_token("worker-acme", tenant)

    body = assert_error(post(client, {"tenant": "nobody"}, token), 403, "forbidden_tenant")

    assert "nobody" in body["detail"]
    assert ServiceTokenEvent.objects.filter(kind=TokenEventKind.REFUSED_TENANT, tenant=None).count() == 1


def test_an_all_tenant_token_gets_404_for_a_slug_no_tenant_has(client, tenant, issue_token):
    token = issue_token("worker-all")

    assert_error(post(client, {"tenant": "nobody"}, token), 404, "unknown_tenant")
    assert not ServiceTokenEvent.objects.filter(kind=TokenEventKind.REFUSED_TENANT).exists()


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_methods_other_than_post_are_405_with_allow(client, service_token, method):
    response = getattr(client, method)(URL, headers={"Authorization": f"Bearer {service_token}"})

    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "POST"


# --- Bad requests.


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("not json", "invalid_json"),
        ("{'tenant': 'acme'}", "invalid_json"),
        (b"\xff\xfe\x00garbage", "invalid_json"),
        ("", "invalid_json"),
        ("[" * 100_000, "invalid_json"),  # deeper than Python's JSON decoder can recurse
        ('["acme"]', "invalid_json"),
        ('"acme"', "invalid_json"),
        ("42", "invalid_json"),
        ("null", "invalid_json"),
        ({}, "invalid_request"),
        ({"sinatrarc": "agent:\n  model: opus\n"}, "invalid_request"),
        ({"tenant": ""}, "invalid_request"),
        ({"tenant": None}, "invalid_request"),
        ({"tenant": 7}, "invalid_request"),
        ({"tenant": ["acme"]}, "invalid_request"),
        ({"tenant": "acme", "sinatrarc": {"agent": {"model": "opus"}}}, "invalid_request"),
        ({"tenant": "acme", "model": 4.7}, "invalid_request"),
        ({"tenant": "acme", "model": "opus", "model_provider": True}, "invalid_request"),
        ({"tenant": "acme", "sinatrarc": "agent:\n  model: opus\n", "model": "haiku"}, "invalid_request"),
        ({"tenant": "acme", "sinatrarc": "", "model_provider": "openrouter"}, "invalid_request"),
        ({"tenant": "acme\u0000"}, "invalid_request"),
        ({"tenant": "\ud800"}, "invalid_request"),
        ({"tenant": "acme corp"}, "invalid_request"),
        ({"tenant": "acme\n"}, "invalid_request"),
    ],
    ids=lambda value: repr(value)[:40],
)
def test_malformed_requests_are_400(client, tenant, service_token, body, code):
    response = post(client, body, service_token)

    assert_error(response, 400, code)


def test_a_non_numeric_content_length_is_400(client, service_token):
    response = post(client, {"tenant": "acme"}, service_token, CONTENT_LENGTH="twelve")

    assert_error(response, 400, "invalid_request")


# --- Tenants.


def test_an_unknown_tenant_is_404(client, tenant, service_token):
    body = assert_error(post(client, {"tenant": "nobody"}, service_token), 404, "unknown_tenant")

    assert "nobody" in body["detail"]


def test_a_deactivated_tenant_is_403(client, tenant, store_key, service_token):
    store_key(tenant, "anthropic")
    tenant.is_active = False
    tenant.save()

    body = assert_error(post(client, {"tenant": "acme"}, service_token), 403, "tenant_inactive")

    assert "acme" in body["detail"]


def test_a_tenant_changed_between_two_requests_is_read_as_it_now_is(
    client, tenant, store_key, provider_api, service_token
):
    store_key(tenant, "anthropic")
    assert json.loads(post(client, {"tenant": "acme"}, service_token).content)["requested"] == "sonnet"

    Tenant.objects.filter(pk=tenant.pk).update(default_model="haiku")
    assert json.loads(post(client, {"tenant": "acme"}, service_token).content)["requested"] == "haiku"

    Tenant.objects.filter(pk=tenant.pk).update(is_active=False)
    assert_error(post(client, {"tenant": "acme"}, service_token), 403, "tenant_inactive")


# --- Size limits.


def test_a_body_declared_over_1_mb_is_413_before_it_is_read(client, tenant, service_token):
    response = post(client, {"tenant": "acme"}, service_token, CONTENT_LENGTH=str(api.MAX_BODY_BYTES + 1))

    assert_error(response, 413, "body_too_large")


def test_a_body_over_1_mb_is_413(client, tenant, service_token):
    padding = "#" * api.MAX_BODY_BYTES
    response = post(client, {"tenant": "acme", "sinatrarc": padding}, service_token)

    assert_error(response, 413, "body_too_large")


def test_a_body_of_exactly_1_mb_is_read(client, tenant, store_key, provider_api, service_token):
    store_key(tenant, "anthropic")
    body = {"tenant": "acme", "x": ""}
    body["x"] = "y" * (api.MAX_BODY_BYTES - len(json.dumps(body)))
    data = json.dumps(body)
    assert len(data) == api.MAX_BODY_BYTES

    assert post(client, data, service_token).status_code == 200


def test_an_undeclared_body_over_1_mb_is_413_by_what_arrives(tenant, service_token):
    # Chunked uploads under ASGI carry no Content-Length: the limit holds on what is read.
    scope = {
        "type": "http",
        "method": "POST",
        "path": URL,
        "query_string": b"",
        "server": ("testserver", 80),
        "headers": [
            (b"authorization", f"Bearer {service_token}".encode()),
            (b"content-type", b"application/json"),
        ],
    }
    body = json.dumps({"tenant": "acme", "sinatrarc": "#" * (2 * api.MAX_BODY_BYTES)}).encode()
    request = ASGIRequest(scope, io.BytesIO(body))
    assert "CONTENT_LENGTH" not in request.META

    response = api.resolve_view(request)

    assert_error(response, 413, "body_too_large")


# --- Routing errors: 422 with their codes, 503 when the key cannot be read.


def test_an_unroutable_config_is_422_invalid_config(client, tenant, store_key, provider_api, service_token):
    store_key(tenant, "anthropic")

    body = assert_error(post(client, {"tenant": "acme", "model": "gpt-5"}, service_token), 422, "invalid_config")

    assert "openai/gpt-5" in body["detail"]


def test_a_malformed_sinatrarc_is_422_invalid_config(client, tenant, store_key, provider_api, service_token):
    store_key(tenant, "anthropic")

    body = assert_error(
        post(client, {"tenant": "acme", "sinatrarc": "agent: [opus"}, service_token), 422, "invalid_config"
    )

    assert "not valid YAML" in body["detail"]


def test_direct_openai_is_422_unsupported_provider(client, tenant, store_key, provider_api, service_token):
    store_key(tenant, "anthropic")
    sinatrarc = "agent:\n  model: gpt-5\n  model_provider: openai\n"

    body = assert_error(
        post(client, {"tenant": "acme", "sinatrarc": sinatrarc}, service_token), 422, "unsupported_provider"
    )

    assert "OpenRouter" in body["detail"]


def test_a_missing_credential_is_422_missing_credential(client, tenant, store_key, provider_api, service_token):
    store_key(tenant, "anthropic")

    response = post(client, {"tenant": "acme", "model": "openai/gpt-5"}, service_token)

    body = assert_error(response, 422, "missing_credential")
    assert "OpenRouter" in body["detail"]
    assert "seed_credential" in body["detail"]


@pytest.mark.parametrize("column", ["ciphertext", "wrapped_dek"])
def test_a_credential_that_no_longer_decrypts_is_503(client, tenant, store_key, provider_api, service_token, column):
    key = anthropic_key()
    credential = store_key(tenant, "anthropic", key)
    damaged = bytearray(getattr(credential, column))
    damaged[-1] ^= 0x01
    TenantModelCredential.objects.filter(pk=credential.pk).update(**{column: bytes(damaged)})

    response = post(client, {"tenant": "acme"}, service_token)

    body = assert_error(response, 503, "credential_unavailable")
    assert credential.key_hint in body["detail"]
    assert find_leaks(response.content, [key]) == []


# --- Success.


def test_success_returns_every_resolution_field_with_the_key(client, tenant, store_key, provider_api, service_token):
    key = anthropic_key()
    store_key(tenant, "anthropic", key)

    response = post(client, {"tenant": "acme", "sinatrarc": "agent:\n  model: opus\n"}, service_token)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    assert set(body) == RESOLUTION_FIELDS
    assert body == {
        "provider": "anthropic",
        "model": "claude-opus-4-8",
        "requested": "opus",
        "base_url": "https://api.anthropic.test",
        "api_key": key,
        "credential_source": "tenant",
        "key_hint": body["key_hint"],
        "reason": body["reason"],
        "warnings": [],
    }
    assert body["key_hint"].startswith("sk-ant-api03-...")
    assert body["key_hint"].endswith(key[-4:])
    assert "opus" in body["reason"]


def test_model_and_model_provider_resolve_like_the_same_sinatrarc(
    client, tenant, store_key, provider_api, service_token
):
    key = openrouter_key()
    store_key(tenant, "openrouter", key)

    by_fields = post(client, {"tenant": "acme", "model": "opus", "model_provider": "openrouter"}, service_token).json()
    by_text = post(
        client, {"tenant": "acme", "sinatrarc": "agent:\n  model: opus\n  model_provider: openrouter\n"}, service_token
    ).json()

    assert by_fields == by_text
    assert by_fields["provider"] == "openrouter"
    assert by_fields["model"] == "anthropic/claude-opus-4.8"
    assert by_fields["base_url"] == "https://openrouter.test/api/v1"
    assert by_fields["api_key"] == key


def test_no_sinatrarc_and_no_model_uses_the_tenants_default(client, tenant, store_key, provider_api, service_token):
    store_key(tenant, "anthropic")
    tenant.default_model = "haiku"
    tenant.save()

    body = post(client, {"tenant": "acme"}, service_token).json()

    assert (body["requested"], body["model"]) == ("haiku", "claude-haiku-4-5-20251001")


def test_warnings_are_a_list_of_sentences(client, tenant, store_key, provider_api, service_token):
    store_key(tenant, "openrouter")

    body = post(client, {"tenant": "acme", "model": "anthropic/claude-opus-4-7"}, service_token).json()

    assert body["model"] == "anthropic/claude-opus-4.7"
    assert body["warnings"] == [
        "OpenRouter names anthropic/claude-opus-4-7 as anthropic/claude-opus-4.7; sent as anthropic/claude-opus-4.7."
    ]


def test_unknown_body_fields_are_ignored(client, tenant, store_key, provider_api, service_token):
    store_key(tenant, "anthropic")

    response = post(client, {"tenant": "acme", "repo": "github.com/acme/app", "extra": [1, 2]}, service_token)

    assert response.status_code == 200


# --- Single-tenant mode.


def test_single_tenant_environment_key_is_served(client, tenant, provider_api, service_token, settings):
    key = anthropic_key()
    settings.SINATRA_SINGLE_TENANT = True
    settings.ANTHROPIC_API_KEY = key

    body = post(client, {"tenant": "acme"}, service_token).json()

    assert body["credential_source"] == "environment"
    assert body["api_key"] == key


def test_single_tenant_host_credentials_answer_a_null_key(client, tenant, provider_api, service_token, settings):
    settings.SINATRA_SINGLE_TENANT = True
    settings.SANDBOX_PROVIDER = "docker"

    response = post(client, {"tenant": "acme"}, service_token)

    assert response.status_code == 200
    body = response.json()
    assert body["credential_source"] == "host"
    assert body["api_key"] is None
    assert body["key_hint"] == ""


def test_multi_tenant_mode_never_serves_an_environment_key(client, tenant, provider_api, service_token, settings):
    settings.ANTHROPIC_API_KEY = anthropic_key()
    settings.SANDBOX_PROVIDER = "docker"

    assert_error(post(client, {"tenant": "acme"}, service_token), 422, "missing_credential")


# --- last_used_at: noted in memory by each request, written off the request path.


def test_requests_write_nothing_and_the_release_writer_sets_last_used_at(
    client, tenant, store_key, provider_api, service_token
):
    credential = store_key(tenant, "anthropic")
    resolve(tenant, record_use=False)  # the model list fetched, its alias history written

    with CaptureQueriesContext(connection) as queries:
        for _ in range(5):
            assert post(client, {"tenant": "acme"}, service_token).status_code == 200
    assert [query["sql"] for query in queries.captured_queries if not query["sql"].startswith("SELECT")] == []
    assert ServiceToken.objects.get().last_used_at is None

    before = timezone.now() - timedelta(seconds=5)
    release.flush()

    assert ServiceToken.objects.get().last_used_at >= before
    assert TenantModelCredential.objects.get(pk=credential.pk).last_used_at >= before


def test_a_rejected_request_does_not_touch_the_credential(client, tenant, store_key, provider_api, service_token):
    credential = store_key(tenant, "anthropic")

    post(client, {"tenant": "acme", "model": "openai/gpt-5"}, service_token)
    release.flush()

    assert TenantModelCredential.objects.get(pk=credential.pk).last_used_at is None


# --- No key where it does not belong.


def test_no_key_in_error_responses_or_logs(client, tenant, store_key, provider_api, service_token, all_logs):
    from tests.fakes.providers import log_text

    anthropic = anthropic_key("APICANARY")
    openrouter = openrouter_key()
    store_key(tenant, "anthropic", anthropic)
    store_key(tenant, "openrouter", openrouter)
    responses = [
        post(client, {"tenant": "acme", "model": "gpt-5"}, service_token),
        post(client, {"tenant": "acme", "model": "opus", "model_provider": "openai"}, service_token),
        post(client, {"tenant": "acme", "sinatrarc": "agent: [x"}, service_token),
        post(client, {"tenant": "nobody"}, service_token),
        post(client, {"tenant": "acme"}, "sin_wrong"),
    ]
    TenantModelCredential.objects.update(ciphertext=b"\x00" * 64)
    responses.append(post(client, {"tenant": "acme"}, service_token))

    assert [response.status_code for response in responses] == [422, 422, 422, 404, 401, 503]
    for response in responses:
        assert find_leaks(response.content, [anthropic, openrouter]) == []
    assert find_leaks(log_text(all_logs), [anthropic, openrouter]) == []


# --- OpenAPI.


def _openapi(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return response.json()


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _resolve_ref(document: dict, ref: str):
    assert ref.startswith("#/"), f"only local references: {ref}"
    node = document
    for part in ref[2:].split("/"):
        assert part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def test_openapi_json_is_an_openapi_3_1_document(client):
    document = _openapi(client)

    assert document["openapi"].startswith("3.1.")
    assert document["info"]["title"]
    assert document["info"]["version"]
    assert set(document) <= {
        "openapi",
        "info",
        "jsonSchemaDialect",
        "servers",
        "paths",
        "webhooks",
        "components",
        "security",
        "tags",
        "externalDocs",
    }
    operation_ids = []
    for path, item in document["paths"].items():
        assert path.startswith("/")
        for method, operation in item.items():
            assert method in {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
            operation_ids.append(operation["operationId"])
            assert operation["responses"]
            for status, response in operation["responses"].items():
                assert status == "default" or (status.isdigit() and 100 <= int(status) <= 599)
                assert response["description"]
    assert len(operation_ids) == len(set(operation_ids))
    for ref in _refs(document):
        _resolve_ref(document, ref)
    schemes = document["components"]["securitySchemes"]
    for requirement in document["security"]:
        assert set(requirement) <= set(schemes)
    assert schemes["serviceToken"] == {"type": "http", "scheme": "bearer"}


def test_openapi_needs_no_token(client):
    document = _openapi(client)

    assert document["paths"]["/api/v1/openapi.json"]["get"]["security"] == []


def _codes_the_view_returns() -> set[tuple[int, str]]:
    """Every (status, error code) the resolve view can answer, read from its source and the errors."""
    tree = ast.parse(Path(api.__file__).read_text())
    codes = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("error", "ApiError"):
            status, code = node.args[0], node.args[1]
            if isinstance(status, ast.Constant) and isinstance(code, ast.Constant):
                codes.add((status.value, code.value))
    pending = list(RoutingError.__subclasses__())
    while pending:
        error_class = pending.pop()
        codes.add((error_class.status, error_class.code))
        pending.extend(error_class.__subclasses__())
    return codes


def test_openapi_documents_every_status_and_error_code_the_view_returns(client):
    responses = _openapi(client)["paths"]["/api/v1/resolve"]["post"]["responses"]
    codes = _codes_the_view_returns()
    assert {status for status, _ in codes} >= {400, 401, 403, 404, 405, 413, 422, 503}

    assert "200" in responses
    for status, code in codes:
        assert str(status) in responses, f"HTTP {status} is not documented"
        schema = responses[str(status)]["content"]["application/json"]["schema"]
        assert code in schema["properties"]["error"]["enum"], f"{code} ({status}) is not documented"


def test_openapi_resolution_schema_matches_a_real_answer(client, tenant, store_key, provider_api, service_token):
    store_key(tenant, "anthropic")
    schema = _openapi(client)["components"]["schemas"]["Resolution"]

    body = post(client, {"tenant": "acme"}, service_token).json()

    assert set(schema["required"]) == set(body) == set(schema["properties"])
    assert body["provider"] in schema["properties"]["provider"]["enum"]
    assert body["credential_source"] in schema["properties"]["credential_source"]["enum"]


def test_openapi_request_schema_names_every_field_the_view_reads(client):
    properties = _openapi(client)["components"]["schemas"]["ResolveRequest"]["properties"]
    read = set(api.REQUEST_FIELDS)

    assert read == set(properties) == {"tenant", "sinatrarc", "model", "model_provider"}


@pytest.mark.parametrize(("slug", "valid"), [("acme", True), ("Acme_2-eu", True), ("acme corp", False)])
def test_openapi_tenant_pattern_is_the_one_the_view_applies(client, tenant, service_token, slug, valid):
    pattern = _openapi(client)["components"]["schemas"]["ResolveRequest"]["properties"]["tenant"]["pattern"]

    assert bool(re.search(pattern, slug)) is valid
    status = post(client, {"tenant": slug}, service_token).status_code
    assert (status != 400) is valid


# --- The description is exact: one of two request shapes, bounded echoes, GET only for the description.


def _request_validator(client) -> jsonschema_rs.Draft202012Validator:
    document = _openapi(client)
    return jsonschema_rs.Draft202012Validator(
        {**document["components"]["schemas"]["ResolveRequest"], "components": document["components"]}
    )


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"tenant": "acme"}, True),
        ({"tenant": "acme", "sinatrarc": "agent:\n  model: opus\n"}, True),
        ({"tenant": "acme", "sinatrarc": "", "model": None, "model_provider": None}, True),
        ({"tenant": "acme", "model": "opus", "model_provider": "openrouter"}, True),
        ({"tenant": "acme", "model_provider": "anthropic", "sinatrarc": None}, True),
        ({"tenant": "acme", "repo": "github.com/acme/app"}, True),  # other members are ignored
        ({"tenant": "acme", "sinatrarc": "agent:\n  model: opus\n", "model": "haiku"}, False),
        ({"tenant": "acme", "sinatrarc": "", "model_provider": "openrouter"}, False),
        ({"tenant": "a" * 64}, False),
        ({"tenant": ""}, False),
        ({"model": "opus"}, False),
    ],
    ids=lambda value: repr(value)[:50],
)
def test_the_request_schema_accepts_exactly_what_the_view_accepts(
    client, tenant, store_key, provider_api, service_token, body, valid
):
    store_key(tenant, "anthropic")
    store_key(tenant, "openrouter")

    assert _request_validator(client).is_valid(body) is valid
    status = post(client, body, service_token).status_code
    assert (status == 200) is valid, status


def test_the_slug_limit_is_the_tenant_models(client):
    tenant_schema = _openapi(client)["components"]["schemas"]["ResolveRequest"]["properties"]["tenant"]

    assert tenant_schema["maxLength"] == MAX_SLUG_LENGTH == Tenant._meta.get_field("slug").max_length


@pytest.mark.parametrize("length", [64, 1024 * 1024 - 100])
def test_a_slug_over_63_characters_is_400_before_any_lookup_and_is_not_echoed(client, tenant, service_token, length):
    with CaptureQueriesContext(connection) as queries:
        response = post(client, {"tenant": "a" * length}, service_token)

    body = assert_error(response, 400, "invalid_request")
    assert "63" in body["detail"]
    assert "a" * 20 not in body["detail"]
    assert not [query for query in queries.captured_queries if Tenant._meta.db_table in query["sql"]]


def test_an_unknown_slug_is_echoed_whole_as_it_is_at_most_63_characters(client, tenant, service_token):
    slug = "z" * 63

    body = assert_error(post(client, {"tenant": slug}, service_token), 404, "unknown_tenant")

    assert slug in body["detail"]


@pytest.mark.parametrize(
    "model",
    [
        "x" * 200,  # the longest name the router reads: not a Claude model
        "gpt-" + "5" * 196,
        "vendor/" + "m" * 191 + "/x",  # not a vendor/model slug
    ],
)
def test_an_error_never_echoes_more_than_100_characters_of_a_name(client, tenant, store_key, service_token, model):
    store_key(tenant, "anthropic")

    body = assert_error(post(client, {"tenant": "acme", "model": model}, service_token), 422, "invalid_config")

    assert model[:101] not in body["detail"]
    assert model[:50] in body["detail"]


def test_an_unknown_model_provider_is_not_echoed_past_100_characters(client, tenant, store_key, service_token):
    store_key(tenant, "anthropic")
    provider = "p" * 200

    body = assert_error(
        post(client, {"tenant": "acme", "model": "opus", "model_provider": provider}, service_token),
        422,
        "invalid_config",
    )

    assert provider[:101] not in body["detail"]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options", "trace"])
def test_openapi_json_answers_only_get_and_head(client, method):
    response = getattr(client, method)("/api/v1/openapi.json")

    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "GET, HEAD"


def test_openapi_json_answers_head(client):
    response = client.head("/api/v1/openapi.json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


def test_a_large_body_is_not_read_before_its_token_is_checked(client, tenant, service_token, monkeypatch):
    token_revoke(name="worker-test")
    parsed = []
    real = json.loads
    monkeypatch.setattr(api.json, "loads", lambda raw, **kw: parsed.append(raw) or real(raw, **kw))
    large = json.dumps({"tenant": "acme", "sinatrarc": "#" * (api.CHECK_FIRST_BYTES + 1)})
    small = json.dumps({"tenant": "acme"})

    assert_error(post(client, large, service_token), 401, "unauthorized")
    assert_error(post(client, small, service_token), 401, "unauthorized")

    bodies = [raw if isinstance(raw, str) else raw.decode() for raw in parsed]
    assert large not in bodies
    assert small in bodies  # a small body is read first: the token is checked with the tenant
