"""Who reaches which tenant URL: every URL under /t/<slug>/, found in the URLconf, for every visitor.

Signed out: the sign-in page. A stranger to the tenant (another tenant's owner, an operator, a
slug that does not exist): 404, for GET and POST alike. Another tenant's credential, invitation or
membership under your own slug: 404. A role the URL does not allow: 403. Nothing changes in any
of these cases.
"""

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.shortcuts import resolve_url
from django.urls import reverse

from credentials.models import CredentialEvent, TenantModelCredential
from routing.models import AliasPin, PolicyEvent, TenantPolicy
from tenants.models import Invitation, Membership, Role, Tenant
from tenants.services import invitation_create
from tests.fakes.providers import anthropic_key
from tests.web import join, make_person, signed_in, tenant_url_patterns, text

EVERYONE = (Role.OWNER, Role.ADMIN, Role.MEMBER)
MANAGERS = (Role.OWNER, Role.ADMIN)
OWNERS = (Role.OWNER,)


@dataclass(frozen=True)
class Access:
    """The roles that may GET a URL (none: it takes POST only) and POST to it."""

    get: tuple[str, ...]
    post: tuple[str, ...]


# The one table of tenant URLs, by name. `test_the_table_covers_every_tenant_url` holds it to
# the URLconf, so a new URL under /t/<slug>/ fails the suite until its roles are written here.
ACCESS = {
    "console": Access(get=EVERYONE, post=EVERYONE),
    "setup-name": Access(get=MANAGERS, post=MANAGERS),
    "setup-keys": Access(get=MANAGERS, post=MANAGERS),
    "setup-model": Access(get=MANAGERS, post=MANAGERS),
    "members": Access(get=EVERYONE, post=OWNERS),
    "policy": Access(get=EVERYONE, post=MANAGERS),
    "invitation-withdraw": Access(get=(), post=OWNERS),
    "member-remove": Access(get=(), post=OWNERS),
    "credentials": Access(get=EVERYONE, post=EVERYONE),
    "credential-replace": Access(get=MANAGERS, post=MANAGERS),
    "credential-revoke": Access(get=MANAGERS, post=MANAGERS),
    "credential-verify": Access(get=(), post=MANAGERS),
}

TENANT_URLS = tenant_url_patterns()
ROUTES = sorted(TENANT_URLS)
# A parameter other than these names an object of the tenant (a credential, invitation, membership...).
NOT_OBJECTS = {"slug", "provider"}
OBJECT_ROUTES = [route for route in ROUTES if set(TENANT_URLS[route].pattern.converters) - NOT_OBJECTS]
METHODS = ["get", "post"]


def test_the_table_covers_every_tenant_url():
    assert len(ROUTES) >= len(ACCESS)  # the URLconf was walked, not an empty list
    assert all(TENANT_URLS[route].name for route in ROUTES), "every tenant URL has a name"
    assert {TENANT_URLS[route].name for route in ROUTES} == set(ACCESS)


def test_urls_with_object_ids_are_among_them():
    assert {TENANT_URLS[route].name for route in OBJECT_ROUTES} >= {
        "invitation-withdraw",
        "member-remove",
        "credential-revoke",
        "credential-verify",
    }


@dataclass
class World:
    """acme (a person per role) and globex (its owner, the stranger); each with a key, an invitation
    and a removable member, which `objects` gives as URL parameters: tenant slug -> parameter -> value.
    """

    people: dict
    stranger: object
    objects: dict

    def url(self, route: str, *, slug: str = "acme", objects_of: str = "acme") -> str:
        """The URL of `route` under a tenant slug, naming the objects of `objects_of`."""
        pattern = TENANT_URLS[route]
        values = {"slug": slug, **self.objects[objects_of]}
        return reverse(pattern.name, kwargs={name: values[name] for name in pattern.pattern.converters})


def objects_of(tenant: Tenant, store_key) -> dict:
    removable = join(tenant, Role.MEMBER, email=f"removable@{tenant.slug}.example")
    return {
        "provider": "anthropic",
        "credential_id": store_key(tenant, "anthropic").pk,
        "invitation_id": invitation_create(
            tenant=tenant, email=f"invited@{tenant.slug}.example", role=Role.MEMBER
        ).invitation.pk,
        "membership_id": Membership.objects.get(user=removable, tenant=tenant).pk,
    }


@pytest.fixture
def world(tenant, make_tenant, people, store_key) -> World:
    globex = make_tenant("globex")
    stranger = join(globex, Role.OWNER, email="owner@globex.example")
    return World(
        people=people,
        stranger=stranger,
        objects={"acme": objects_of(tenant, store_key), "globex": objects_of(globex, store_key)},
    )


def state() -> tuple:
    """Everything a tenant URL could change."""
    return (
        sorted(TenantModelCredential.objects.values_list("id", "status", "validated_at")),
        sorted(Invitation.objects.values_list("id", "revoked_at", "accepted_at")),
        sorted(Membership.objects.values_list("id", "tenant__slug", "role")),
        sorted(Tenant.objects.values_list("slug", "name", "default_model", "updated_at")),
        CredentialEvent.objects.count(),
        sorted(TenantPolicy.objects.values_list("tenant__slug", "providers", "model_patterns")),
        sorted(AliasPin.objects.values_list("policy__tenant__slug", "alias", "model")),
        PolicyEvent.objects.count(),
    )


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("route", ROUTES)
def test_a_signed_out_visitor_is_sent_to_sign_in_and_back(client, world, route, method):
    url = world.url(route)
    before = state()
    response = getattr(client, method)(url)
    assert response.status_code == 302
    location = urlsplit(response.url)
    assert location.path == resolve_url(settings.LOGIN_URL) == "/accounts/login/"
    assert parse_qs(location.query) == {"next": [url]}
    assert state() == before


@pytest.fixture(params=["owner of another tenant", "operator (superuser)", "owner, slug that does not exist"])
def stranger(request, client, world):
    """A signed-in client that has no business with acme, and the slug it asks for."""
    if request.param == "owner of another tenant":
        return signed_in(client, world.stranger), "acme"
    if request.param == "operator (superuser)":
        return signed_in(client, make_person("ops@example.com", is_staff=True, is_superuser=True)), "acme"
    return signed_in(client, world.people[Role.OWNER]), "no-such-tenant"


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("route", ROUTES)
def test_a_stranger_to_the_tenant_gets_404(world, stranger, route, method):
    client, slug = stranger
    url = world.url(route, slug=slug, objects_of="acme")
    before = state()
    response = getattr(client, method)(url)
    assert response.status_code == 404
    assert "Not found" in response.content.decode()
    assert "Acme" not in response.content.decode()
    assert state() == before


def by_role(*, may: bool) -> list[tuple[str, str, str]]:
    """(route, method, role) for every role that may (or may not) use the route with that method.

    GET on a POST-only URL counts with the POST roles: the method is discussed only with them.
    """
    cases = []
    for route in ROUTES:
        access = ACCESS.get(TENANT_URLS[route].name)
        if access is None:
            continue  # test_the_table_covers_every_tenant_url says which
        for method, roles in (("get", access.get or access.post), ("post", access.post)):
            cases += [(route, method, role) for role in EVERYONE if (role in roles) is may]
    return cases


# What may be used, with a method the URL takes (a GET on a POST-only URL is 405 whatever it names).
OBJECT_CASES = [
    (route, method, role)
    for route, method, role in by_role(may=True)
    if route in OBJECT_ROUTES and (method == "post" or ACCESS[TENANT_URLS[route].name].get)
]


@pytest.mark.parametrize(("route", "method", "role"), OBJECT_CASES)
def test_another_tenants_object_under_your_own_slug_is_404(client, world, route, method, role):
    """For every role that may use the URL; the others get 403 before any object is looked up."""
    signed_in(client, world.people[role])
    url = world.url(route, slug="acme", objects_of="globex")
    before = state()
    response = getattr(client, method)(url)
    assert response.status_code == 404
    assert state() == before


@pytest.mark.parametrize(("route", "method", "role"), by_role(may=False))
def test_a_role_the_url_does_not_allow_gets_403_and_changes_nothing(client, world, route, method, role):
    signed_in(client, world.people[role])
    before = state()
    response = getattr(client, method)(world.url(route))
    assert response.status_code == 403
    assert "Not allowed" in response.content.decode()
    if route in OBJECT_ROUTES:  # the same answer whoever's object the URL names
        assert getattr(client, method)(world.url(route, objects_of="globex")).status_code == 403
    assert state() == before


@pytest.mark.parametrize(("route", "method", "role"), by_role(may=True))
def test_a_role_the_url_allows_gets_through(client, world, key_checks, route, method, role):
    """GET: the page (405 on a POST-only URL); POST with no data: a form's errors or a redirect."""
    signed_in(client, world.people[role])
    response = getattr(client, method)(world.url(route))
    if method == "post":
        assert response.status_code in (200, 302)
    elif ACCESS[TENANT_URLS[route].name].get:
        assert response.status_code == 200
    else:
        assert response.status_code == 405


# --- A deactivated tenant: read, never written

SUPPORT = "support@sinatra.example"


@pytest.fixture
def deactivated(world, settings):
    """acme, deactivated by an operator (its people and objects stay); people are told to write to SUPPORT."""
    settings.SINATRA_SUPPORT_EMAIL = SUPPORT
    Tenant.objects.filter(slug="acme").update(is_active=False)
    return world


def write_data() -> dict:
    """What each tenant form takes, filled in: without the refusal, every one of them would write."""
    key = anthropic_key()
    return {
        "name": "Renamed",
        "anthropic_key": key,
        "key": key,
        "save_unverified": "on",
        "default_model": "opus",
        "save": "1",
        "email": "new@example.com",
        "role": Role.ADMIN,
    }


def assert_deactivated_page(response) -> None:
    assert response.status_code == 403
    page = text(response)
    assert "Acme is deactivated" in page
    assert "Nothing in Acme can be changed" in page
    assert f"To have it reactivated, contact {SUPPORT}" in page


@pytest.mark.parametrize("route", ROUTES)
def test_a_deactivated_tenant_refuses_every_write_with_a_page_saying_who_to_contact(
    client, deactivated, key_checks, route
):
    signed_in(client, deactivated.people[Role.OWNER])  # the owner may do anything anywhere else
    before = state()
    response = client.post(deactivated.url(route), write_data())
    assert_deactivated_page(response)
    assert state() == before
    assert key_checks.checked == []  # not even the provider was asked about a key


def test_without_a_support_address_the_page_names_the_operators(client, deactivated, settings):
    settings.SINATRA_SUPPORT_EMAIL = ""
    signed_in(client, deactivated.people[Role.OWNER])
    response = client.post(reverse("setup-name", args=["acme"]), {"name": "Renamed"})
    assert response.status_code == 403
    assert "contact the operators who run this Sinatra installation" in text(response)


@pytest.mark.parametrize("route", [route for route in ROUTES if ACCESS[TENANT_URLS[route].name].get])
def test_a_deactivated_tenant_may_still_be_read(client, deactivated, key_checks, route):
    signed_in(client, deactivated.people[Role.OWNER])
    assert client.get(deactivated.url(route)).status_code == 200


def test_a_stranger_or_a_role_that_may_not_write_hears_nothing_about_the_deactivation(client, deactivated):
    signed_in(client, deactivated.stranger)
    response = client.post(reverse("setup-name", args=["acme"]), write_data())
    assert response.status_code == 404
    assert "deactivated" not in text(response)
    signed_in(client, deactivated.people[Role.MEMBER])
    response = client.post(reverse("setup-name", args=["acme"]), write_data())
    assert response.status_code == 403
    assert "Not allowed" in text(response)


def test_a_deactivated_tenants_install_links_neither_set_a_password_nor_join(client, world, settings):
    settings.SINATRA_SUPPORT_EMAIL = SUPPORT
    acme = Tenant.objects.get(slug="acme")
    new_link = urlsplit(invitation_create(tenant=acme, email="new@example.com", role=Role.MEMBER).url).path
    person = make_person("sam@example.com")
    join_link = urlsplit(invitation_create(tenant=acme, email="sam@example.com", role=Role.ADMIN).url).path
    Tenant.objects.filter(pk=acme.pk).update(is_active=False)
    before = state()
    password = {"new_password1": "a long enough passphrase 42", "new_password2": "a long enough passphrase 42"}
    for response in (client.get(new_link), client.post(new_link, password)):
        assert_deactivated_page(response)
    signed_in(client, person)
    for response in (client.get(join_link), client.post(join_link)):
        assert_deactivated_page(response)
    assert state() == before
    assert not get_user_model().objects.filter(email="new@example.com").exists()
