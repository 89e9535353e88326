"""Response headers every page carries: a strict Content-Security-Policy, and no-store where a page is private.

Whether the pages work under the policy is for the browser to say: tests/e2e/test_content_security_policy.py.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from sinatra.nostore import PRIVATE_PREFIXES
from tenants.models import Membership, Role
from tenants.services import invitation_create
from tests.web import POLICY, join, make_person, parse_policy, signed_in, tenant_url_patterns

TENANT_URLS = tenant_url_patterns()


def policy_of(response) -> dict[str, str]:
    """Return a response's Content-Security-Policy as directive -> sources."""
    header = response.headers.get("Content-Security-Policy")
    assert header, f"{response.request['PATH_INFO']} has no Content-Security-Policy"
    return parse_policy(header)


def never_stored(response) -> bool:
    return "no-store" in response.headers.get("Cache-Control", "")


@pytest.fixture
def tenant_urls(tenant, people, store_key, providers) -> list[str]:
    """Every URL under /t/acme/ in the URLconf, naming real objects of acme (the providers faked)."""
    removable = join(tenant, Role.MEMBER, email="removable@acme.example")
    values = {
        "slug": tenant.slug,
        "provider": "anthropic",
        "credential_id": store_key(tenant, "anthropic").pk,
        "invitation_id": invitation_create(tenant=tenant, email="invited@acme.example", role=Role.MEMBER).invitation.pk,
        "membership_id": Membership.objects.get(user=removable, tenant=tenant).pk,
    }
    return [
        reverse(pattern.name, kwargs={name: values[name] for name in pattern.pattern.converters})
        for pattern in TENANT_URLS.values()
    ]


@pytest.fixture
def operator(client, db):
    return signed_in(client, make_person("operator@example.com", is_staff=True, is_superuser=True))


# --- Content-Security-Policy


def test_tenant_pages_carry_the_content_security_policy(client, people, tenant_urls):
    owner = signed_in(client, people["owner"])
    assert len(tenant_urls) == len(TENANT_URLS) >= 10
    for url in tenant_urls:
        assert policy_of(owner.get(url)) == POLICY, url


@pytest.mark.parametrize(
    "url",
    ["/accounts/login/", "/accounts/password_reset/", "/accounts/signup/", "/install/not-a-token/", "/no-such-page/"],
)
def test_pages_for_anyone_carry_the_content_security_policy(client, settings, db, url):
    settings.SINATRA_ALLOW_SIGNUP = True
    assert policy_of(client.get(url)) == POLICY


def test_admin_pages_carry_the_content_security_policy(operator, tenant):
    for url in ["/admin/", "/admin/tenants/tenant/", f"/admin/tenants/tenant/{tenant.pk}/change/"]:
        response = operator.get(url)
        assert response.status_code == 200, url
        assert policy_of(response) == POLICY, url


# --- Cache-Control: no-store


def test_every_tenant_page_is_never_stored(client, people, tenant_urls):
    owner = signed_in(client, people["owner"])
    for url in tenant_urls:
        for response in (owner.get(url), client.__class__().get(url)):  # signed in, and signed out (a redirect)
            assert never_stored(response), url


@pytest.mark.parametrize(
    "url",
    [
        "/accounts/login/",
        "/accounts/password_reset/",
        "/accounts/password_reset/done/",
        "/accounts/signup/",
        "/accounts/reset/MQ/not-a-token/",
        "/install/not-a-token/",
        "/admin/login/",
        "/api/v1/openapi.json",
    ],
)
def test_account_install_admin_and_api_pages_are_never_stored_whoever_asks(client, settings, db, url):
    settings.SINATRA_ALLOW_SIGNUP = True
    response = client.get(url)
    assert never_stored(response), (url, response.status_code, response.headers.get("Cache-Control"))
    assert url.startswith(PRIVATE_PREFIXES)


def test_a_real_install_link_page_is_never_stored(client, tenant):
    issued = invitation_create(tenant=tenant, email="new@acme.example", role=Role.OWNER)
    response = client.get(f"/install/{issued.token}/")
    assert response.status_code == 200
    assert never_stored(response)


def test_every_page_of_a_signed_in_person_is_never_stored(client, people):
    owner = signed_in(client, people["owner"])
    home = owner.get("/")
    assert home.status_code == 302  # one tenant: straight to its console
    assert never_stored(home)


def test_admin_pages_are_never_stored(operator, tenant):
    for url in ["/admin/", "/admin/tenants/tenant/", f"/admin/tenants/tenant/{tenant.pk}/change/"]:
        assert never_stored(operator.get(url)), url


def test_static_files_keep_their_cache_lifetime(client, people):
    owner = signed_in(client, people["owner"])
    for asker in (client.__class__(), owner):
        response = asker.get("/static/sinatra.css")
        assert response.status_code == 200
        assert not never_stored(response)


def test_the_quick_never_cache_writes_what_djangos_writes():
    from django.http import HttpResponse
    from django.utils.cache import add_never_cache_headers

    from sinatra.nostore import never_cache

    ours, djangos = HttpResponse(), HttpResponse()
    never_cache(ours)
    add_never_cache_headers(djangos)

    assert ours["Cache-Control"] == djangos["Cache-Control"]
    assert "Expires" in ours


def test_a_cache_control_already_set_is_merged_as_django_merges_it():
    from django.http import HttpResponse

    from sinatra.nostore import never_cache

    response = HttpResponse()
    response["Cache-Control"] = "public, max-age=600"
    never_cache(response)

    directives = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"no-store", "no-cache", "private", "must-revalidate", "max-age=0"} <= directives
    assert "max-age=600" not in directives
