"""sinatra.middleware.WorkerApiMiddleware: the workers' API answered past the browser's middleware.

The API's behaviour itself is tests/routing/test_api.py (through the same middleware stack);
here, what the shortcut must keep and what it must leave out.
"""

from __future__ import annotations

import json

import pytest

from sinatra.middleware import WorkerApiMiddleware
from tests.web import POLICY, make_person, parse_policy, signed_in

pytestmark = pytest.mark.django_db

RESOLVE = "/api/v1/resolve"
API_POLICY = "default-src 'none'; frame-ancestors 'none'"


def post(client, token: str, body: dict, **extra):
    return client.post(
        RESOLVE,
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
        **extra,
    )


def test_it_comes_right_after_securitymiddleware(settings):
    order = settings.MIDDLEWARE
    worker_api = order.index("sinatra.middleware.WorkerApiMiddleware")
    assert order[worker_api - 1] == "django.middleware.security.SecurityMiddleware"
    assert worker_api < order.index("django.contrib.sessions.middleware.SessionMiddleware")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("post", RESOLVE, 200),
        ("post", RESOLVE, 401),
        ("get", "/api/v1/openapi.json", 200),
        ("get", "/api/v1/no-such-endpoint", 404),
        ("get", "/api/v1", 404),
    ],
)
def test_every_api_answer_is_json_never_stored_with_its_length_and_a_policy_allowing_nothing(
    client, tenant, store_key, provider_api, service_token, method, path, status
):
    store_key(tenant, "anthropic")
    headers = {"Authorization": f"Bearer {service_token}"} if status != 401 else {}
    body = json.dumps({"tenant": tenant.slug}) if method == "post" else None
    response = getattr(client, method)(path, data=body, content_type="application/json", headers=headers)

    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]
    assert response["Content-Length"] == str(len(response.content))
    assert response["Content-Security-Policy"] == API_POLICY
    assert response["X-Content-Type-Options"] == "nosniff"  # SecurityMiddleware, which comes before


def test_a_signed_in_browser_gets_nothing_of_its_session_from_the_api(
    client, tenant, store_key, provider_api, service_token
):
    store_key(tenant, "anthropic")
    browser = signed_in(client, make_person("owner@example.com"))

    response = post(browser, service_token, {"tenant": tenant.slug})

    assert response.status_code == 200
    assert "Vary" not in response  # no session or CSRF middleware looked at the cookie
    assert not response.cookies  # nor set one


def test_a_session_is_no_substitute_for_the_bearer_token(client, tenant, store_key):
    store_key(tenant, "anthropic")
    browser = signed_in(client, make_person("operator@example.com", is_staff=True, is_superuser=True))

    response = browser.post(RESOLVE, data=json.dumps({"tenant": tenant.slug}), content_type="application/json")

    assert response.status_code == 401
    assert json.loads(response.content)["error"] == "unauthorized"


def test_a_host_outside_allowed_hosts_is_refused(client, tenant, service_token, settings):
    settings.ALLOWED_HOSTS = ["sinatra.example"]

    response = post(client, service_token, {"tenant": tenant.slug}, HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert b"api_key" not in response.content


def test_https_is_still_required_before_the_api_is_reached(client, tenant, service_token, settings):
    settings.SECURE_SSL_REDIRECT = True

    response = post(client, service_token, {"tenant": tenant.slug})

    assert response.status_code == 301
    assert response["Location"].startswith("https://")


def test_paths_that_merely_begin_alike_are_pages_with_the_page_policy(client):
    response = client.get("/api/v10")

    assert response.status_code == 404
    assert parse_policy(response["Content-Security-Policy"]) == POLICY


def test_other_requests_pass_through_untouched(rf):
    request = rf.get("/t/acme/")
    sentinel = object()
    assert WorkerApiMiddleware(lambda got: sentinel if got is request else None)(request) is sentinel
