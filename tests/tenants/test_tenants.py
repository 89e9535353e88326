"""Tenants and memberships: the models, the services that write them, and their admin pages."""

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from routing.policy import tenant_set_default_model
from tenants.errors import SlugTaken, TenantDeactivated
from tenants.models import Invitation, Membership, Role, SignUp, Tenant
from tenants.services import (
    account_sign_up,
    invitation_accept,
    invitation_create,
    invitation_revoke,
    membership_add,
    membership_remove,
    tenant_create,
    tenant_update,
    user_for_email,
    validate_tenant_slug,
)

TENANTS = reverse("admin:tenants_tenant_changelist")
MEMBERSHIPS = reverse("admin:tenants_membership_changelist")


def make_user(username: str, email: str = ""):
    return get_user_model().objects.create_user(username=username, email=email or f"{username}@example.com")


# --- models


def test_a_tenant_gets_a_uuid_that_survives_a_slug_change(db):
    tenant = Tenant.objects.create(slug="acme", name="Acme")
    assert isinstance(tenant.pk, uuid.UUID)
    original = tenant.pk
    tenant.slug = "acme-corp"
    tenant.save()
    assert Tenant.objects.get(slug="acme-corp").pk == original
    assert not Tenant.objects.filter(slug="acme").exists()


def test_a_tenant_is_active_by_default_and_shows_as_its_slug(db):
    tenant = Tenant.objects.create(slug="acme", name="Acme")
    assert tenant.is_active
    assert tenant.default_model == ""
    assert str(tenant) == "acme"
    assert tenant.created_at is not None


def test_tenant_slugs_are_unique(db):
    Tenant.objects.create(slug="acme", name="Acme")
    with pytest.raises(IntegrityError), transaction.atomic():
        Tenant.objects.create(slug="acme", name="Another")


def test_tenants_are_listed_by_slug(db):
    for slug in ["globex", "acme", "initech"]:
        Tenant.objects.create(slug=slug, name=slug)
    assert list(Tenant.objects.values_list("slug", flat=True)) == ["acme", "globex", "initech"]


def test_the_table_names_are_djangos_defaults():
    assert Tenant._meta.db_table == "tenants_tenant"
    assert Membership._meta.db_table == "tenants_membership"


@pytest.mark.parametrize(("role", "manages"), [(Role.OWNER, True), (Role.ADMIN, True), (Role.MEMBER, False)], ids=str)
def test_owners_and_admins_manage_credentials_members_do_not(tenant, role, manages):
    membership = Membership.objects.create(user=make_user("pat"), tenant=tenant, role=role)
    assert membership.can_manage_credentials is manages


def test_a_membership_is_a_member_by_default_and_reads_well(tenant):
    membership = Membership.objects.create(user=make_user("pat"), tenant=tenant)
    assert membership.role == Role.MEMBER
    assert str(membership) == "pat in acme (member)"


def test_a_user_has_one_membership_per_tenant_and_may_belong_to_several(tenant, make_tenant):
    user = make_user("pat")
    Membership.objects.create(user=user, tenant=tenant, role=Role.OWNER)
    Membership.objects.create(user=user, tenant=make_tenant("globex"), role=Role.MEMBER)
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=user, tenant=tenant, role=Role.ADMIN)
    assert sorted(user.memberships.values_list("tenant__slug", flat=True)) == ["acme", "globex"]


# --- services


@pytest.mark.parametrize("slug", ["acme", "a", "acme-corp", "a1", "0", "team-42-eu", "a" * 63])
def test_valid_tenant_slugs(slug):
    validate_tenant_slug(slug)


@pytest.mark.parametrize(
    "slug",
    ["", "Acme", "acme-", "-acme", "ac_me", "ac me", "acme.io", "a" * 64, "ac\nme", "acme\n", "é", "a--"],
)
def test_invalid_tenant_slugs_get_one_line_saying_what_is_allowed(slug):
    with pytest.raises(ValidationError) as excinfo:
        validate_tenant_slug(slug)
    (message,) = excinfo.value.messages
    assert "\n" not in message
    assert "lowercase letters, digits and hyphens" in message


def test_tenant_create_creates_then_returns_the_existing_tenant(db):
    tenant, created = tenant_create(slug="acme", name="Acme")
    assert created
    assert (tenant.slug, tenant.name) == ("acme", "Acme")
    again, created = tenant_create(slug="acme", name="Renamed")
    assert not created
    assert again.pk == tenant.pk
    assert again.name == "Acme"
    assert Tenant.objects.count() == 1


def test_tenant_create_names_the_tenant_after_its_slug_by_default(db):
    assert tenant_create(slug="globex").tenant.name == "globex"


def test_tenant_create_refuses_an_invalid_slug(db):
    with pytest.raises(ValidationError):
        tenant_create(slug="Not Valid")
    assert not Tenant.objects.exists()


def test_user_for_email_creates_a_user_without_a_usable_password(db):
    user = user_for_email("  New.Person@Example.COM ")
    assert user.email == "new.person@example.com"
    assert user.username == "new.person@example.com"
    assert not user.has_usable_password()


def test_user_for_email_finds_an_existing_user_by_email_whatever_its_case(db):
    existing = make_user("pat", "Pat@Example.com")
    assert user_for_email("pat@EXAMPLE.com") == existing
    assert get_user_model().objects.count() == 1


def test_user_for_email_finds_a_user_whose_username_is_the_email(db):
    existing = get_user_model().objects.create_user(username="boss@example.com")
    user = user_for_email("Boss@Example.com")
    assert user == existing
    user.refresh_from_db()
    assert user.email == "boss@example.com"
    assert get_user_model().objects.count() == 1


@pytest.mark.parametrize("email", ["", "pat", "pat@", "@example.com", "pat@@example.com", "pat@example"])
def test_user_for_email_refuses_an_invalid_address(db, email):
    with pytest.raises(ValidationError) as excinfo:
        user_for_email(email)
    (message,) = excinfo.value.messages
    assert message.endswith("is not a valid email address.")
    assert not get_user_model().objects.exists()


def test_membership_add_creates_then_keeps_the_existing_role(tenant):
    user = make_user("pat")
    membership, created = membership_add(tenant=tenant, user=user, role=Role.ADMIN)
    assert created
    assert membership.role == Role.ADMIN
    again, created = membership_add(tenant=tenant, user=user, role=Role.OWNER)
    assert not created
    assert again.pk == membership.pk
    assert again.role == Role.ADMIN


# --- admin


@pytest.fixture
def people(tenant, make_tenant):
    """acme: Pat (owner) and Sam (member); globex, inactive: Kim (admin)."""
    globex = make_tenant("globex")
    globex.is_active = False
    globex.save()
    Membership.objects.create(user=make_user("pat"), tenant=tenant, role=Role.OWNER)
    Membership.objects.create(user=make_user("sam"), tenant=tenant, role=Role.MEMBER)
    Membership.objects.create(user=make_user("kim"), tenant=globex, role=Role.ADMIN)
    return tenant, globex


def result_rows(client, url: str, **query) -> list[str]:
    """The changelist's result rows, as text."""
    response = client.get(url, query)
    assert response.status_code == 200
    return [str(row) for row in response.context["cl"].result_list]


def test_tenant_changelist_lists_tenants(admin_client, people):
    response = admin_client.get(TENANTS)
    assert response.status_code == 200
    html = response.content.decode()
    assert "acme" in html
    assert "Globex" in html


def test_tenant_search_by_slug_name_and_id(admin_client, people):
    _, globex = people
    assert result_rows(admin_client, TENANTS, q="glob") == ["globex"]
    assert result_rows(admin_client, TENANTS, q="Acme") == ["acme"]
    assert result_rows(admin_client, TENANTS, q=str(globex.pk)) == ["globex"]
    assert result_rows(admin_client, TENANTS, q="nobody") == []


def test_tenant_filter_by_active(admin_client, people):
    assert result_rows(admin_client, TENANTS, is_active__exact="0") == ["globex"]
    assert result_rows(admin_client, TENANTS, is_active__exact="1") == ["acme"]


def test_tenant_change_page_shows_its_members(admin_client, people):
    tenant, _ = people
    response = admin_client.get(reverse("admin:tenants_tenant_change", args=[tenant.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert str(tenant.pk) in html
    assert "pat" in html
    assert "sam" in html
    assert "kim" not in html


def tenant_form(slug: str, name: str = "New tenant") -> dict:
    return {
        "slug": slug,
        "name": name,
        "is_active": "on",
        "default_model": "",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }


def test_tenant_add_page_creates_a_tenant(admin_client, db):
    response = admin_client.post(reverse("admin:tenants_tenant_add"), tenant_form("initech", "Initech"))
    assert response.status_code == 302
    assert Tenant.objects.get(slug="initech").name == "Initech"


@pytest.mark.parametrize("slug", ["Initech", "init_tech", "initech-"])
def test_tenant_add_page_holds_slugs_to_the_rule_create_tenant_uses(admin_client, db, slug):
    response = admin_client.post(reverse("admin:tenants_tenant_add"), tenant_form(slug))
    assert response.status_code == 200
    assert "lowercase letters, digits and hyphens" in response.content.decode()
    assert not Tenant.objects.exists()


def test_membership_changelist_lists_memberships(admin_client, people):
    rows = result_rows(admin_client, MEMBERSHIPS)
    assert sorted(rows) == ["kim in globex (admin)", "pat in acme (owner)", "sam in acme (member)"]


def test_membership_search_by_user_and_tenant(admin_client, people):
    assert result_rows(admin_client, MEMBERSHIPS, q="kim@example.com") == ["kim in globex (admin)"]
    assert result_rows(admin_client, MEMBERSHIPS, q="sam") == ["sam in acme (member)"]
    assert sorted(result_rows(admin_client, MEMBERSHIPS, q="acme")) == ["pat in acme (owner)", "sam in acme (member)"]
    assert result_rows(admin_client, MEMBERSHIPS, q="Globex") == ["kim in globex (admin)"]


def test_membership_filter_by_role(admin_client, people):
    assert result_rows(admin_client, MEMBERSHIPS, role__exact="owner") == ["pat in acme (owner)"]
    assert result_rows(admin_client, MEMBERSHIPS, role__exact="member") == ["sam in acme (member)"]


def test_membership_change_page_loads(admin_client, people):
    membership = Membership.objects.get(user__username="pat")
    response = admin_client.get(reverse("admin:tenants_membership_change", args=[membership.pk]))
    assert response.status_code == 200
    assert "Owner" in response.content.decode()


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return len(context.captured_queries)


@pytest.mark.parametrize("url", [TENANTS, MEMBERSHIPS], ids=["tenants", "memberships"])
def test_changelists_run_a_constant_number_of_queries(admin_client, make_tenant, url):
    Membership.objects.create(user=make_user("user-0"), tenant=make_tenant("tenant-0"))
    admin_client.get(url)  # warm the session and content types
    one_row = queries_for(admin_client, url)
    for index in range(1, 10):
        Membership.objects.create(user=make_user(f"user-{index}"), tenant=make_tenant(f"tenant-{index}"))
    assert queries_for(admin_client, url) == one_row


# --- A deactivated tenant: the services refuse to write for it


@pytest.fixture
def deactivated(tenant) -> Tenant:
    """acme, with an owner, deactivated in the database (the object in hand still says active)."""
    Membership.objects.create(user=make_user("pat"), tenant=tenant, role=Role.OWNER)
    Tenant.objects.filter(pk=tenant.pk).update(is_active=False)
    return tenant


def refuses(write) -> str:
    with pytest.raises(TenantDeactivated) as excinfo:
        write()
    return str(excinfo.value)


def test_the_tenant_services_refuse_to_write_for_a_deactivated_tenant(deactivated):
    invitation = Invitation.objects.create(
        tenant=deactivated, email="sam@example.com", role=Role.MEMBER, expires_at=timezone.now() + timedelta(days=1)
    )
    sam = make_user("sam", "sam@example.com")
    writes = {
        "membership_add": lambda: membership_add(tenant=deactivated, user=sam, role=Role.ADMIN),
        "invitation_create": lambda: invitation_create(tenant=deactivated, email="kim@example.com", role=Role.MEMBER),
        "invitation_accept": lambda: invitation_accept(invitation=invitation, user=sam),
        "tenant_update": lambda: tenant_update(tenant=deactivated, name="Renamed"),
        "tenant_set_default_model": lambda: tenant_set_default_model(tenant=deactivated, model="opus"),
    }
    for name, write in writes.items():
        message = refuses(write)
        assert message == (
            "Tenant acme is deactivated: nothing can be changed in it until an operator reactivates it."
        ), name
    assert list(Membership.objects.values_list("user__username", flat=True)) == ["pat"]
    assert list(Invitation.objects.values_list("email", "accepted_at")) == [("sam@example.com", None)]
    assert list(Tenant.objects.values_list("name", "default_model")) == [("Acme", "")]


def test_removing_people_and_withdrawing_links_still_work_for_a_deactivated_tenant(deactivated):
    """Offboarding takes access away: that is never refused."""
    sam = make_user("sam")
    membership = Membership.objects.create(user=sam, tenant=deactivated, role=Role.MEMBER)
    invitation = Invitation.objects.create(
        tenant=deactivated, email="kim@example.com", role=Role.MEMBER, expires_at=timezone.now() + timedelta(days=1)
    )
    membership_remove(membership=membership)
    invitation_revoke(invitation=invitation)
    assert not Membership.objects.filter(user=sam).exists()
    assert Invitation.objects.get().state == "revoked"


def test_operators_see_sign_ups_and_whether_they_are_confirmed(admin_client, tenant):
    user = make_user("founder", "founder@example.com")
    SignUp.objects.create(user=user, tenant=tenant)
    assert result_rows(admin_client, reverse("admin:tenants_signup_changelist")) == [
        "founder signed up for acme (not confirmed)"
    ]
    assert admin_client.get(reverse("admin:tenants_signup_add")).status_code == 403


def test_sign_up_for_a_taken_address_is_refused_by_the_database_and_creates_nothing(tenant):
    """The form looks first; when a tenant took the slug since, the INSERT's unique constraint decides."""
    with pytest.raises(SlugTaken, match=r"That address is taken: choose another\."):
        account_sign_up(email="late@example.com", password="a long passphrase 42", tenant_slug="acme", tenant_name="X")
    assert not get_user_model().objects.exists()
    assert not Membership.objects.exists()
    assert not SignUp.objects.exists()
