"""The install link (/install/<token>/) and the install flow after it: name, keys, default model.

A link works once, for SINATRA_INVITATION_DAYS days, for the person it names; a new person sets
a password through it, an existing account signs in first. Then an owner names the tenant, pastes
keys (checked for shape, verified live, never shown again) and picks the default model with a
preview of how .sinatrarc examples resolve.
"""

import importlib
import logging
import re
import time
from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from django.apps import apps as django_apps
from django.contrib.auth import get_user_model
from django.core import signing
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from credentials.models import CredentialEvent, EventKind, TenantModelCredential
from tenants.models import Invitation, Membership, Role, Tenant
from tenants.services import invitation_create, invitation_revoke
from tests.fakes.providers import anthropic_key, openrouter_key
from tests.web import (
    PASSWORD,
    assert_key_never_shown,
    confirm_link,
    inputs_named,
    join,
    labels,
    make_person,
    messages_of,
    signed_in,
    text,
    text_of,
)

KEY_FIELDS = ("anthropic_key", "openrouter_key")


def path_of(url: str) -> str:
    return urlsplit(url).path


def invite(tenant: Tenant, email: str, role: str = Role.MEMBER) -> str:
    """Invite a person; return the link's path."""
    return path_of(invitation_create(tenant=tenant, email=email, role=role).url)


def set_password(client, link: str, password: str = PASSWORD, again: str | None = None, **extra):
    return client.post(
        link, {"new_password1": password, "new_password2": password if again is None else again}, **extra
    )


def signed_in_user(client):
    return client.get(reverse("home")).wsgi_request.user


REAL_TIME, REAL_NOW = time.time, timezone.now


def travel(monkeypatch, delta: timedelta) -> None:
    """Put the clocks the invitation checks read (the signature's age, the row's expiry) `delta` ahead."""
    monkeypatch.setattr(signing, "time", SimpleNamespace(time=lambda: REAL_TIME() + delta.total_seconds()))
    monkeypatch.setattr(timezone, "now", lambda: REAL_NOW() + delta)


# --- create_tenant


def test_create_tenant_prints_a_working_install_link_as_its_last_line(db, client, run_command):
    out, _ = run_command("create_tenant", "acme", "--name", "Acme", "--owner-email", "Pat@Example.com")
    link = out.strip().splitlines()[-1]
    assert link.startswith("http://testserver/install/")
    assert link.endswith("/")
    response = client.get(path_of(link))
    assert response.status_code == 200
    page = text(response)
    assert "You are invited to Acme as owner" in page
    assert "Choose a password for pat@example.com" in page
    assert labels(response)[:2] == ["Password", "Password again"]


def test_the_owner_create_tenant_names_sets_a_password_and_starts_the_install_flow(db, client, run_command):
    out, _ = run_command("create_tenant", "acme", "--owner-email", "pat@example.com")
    link = path_of(out.strip().splitlines()[-1])
    response = set_password(client, link)
    assert response.status_code == 302
    assert response.url == reverse("setup-name", args=["acme"])
    pat = get_user_model().objects.get(email="pat@example.com")
    assert pat.check_password(PASSWORD)
    assert signed_in_user(client) == pat
    assert Membership.objects.get(user=pat).role == Role.OWNER
    assert Invitation.objects.get().accepted_by == pat


def test_a_second_create_tenant_link_replaces_the_first(db, client, run_command):
    first, _ = run_command("create_tenant", "acme", "--owner-email", "pat@example.com")
    second, _ = run_command("create_tenant", "acme", "--owner-email", "pat@example.com")
    assert client.get(path_of(first.strip().splitlines()[-1])).status_code == 410
    assert client.get(path_of(second.strip().splitlines()[-1])).status_code == 200


# --- A new person


@pytest.mark.parametrize(
    ("role", "landing"),
    [(Role.OWNER, "setup-name"), (Role.ADMIN, "console"), (Role.MEMBER, "console")],
    ids=str,
)
def test_a_new_person_sets_a_password_joins_and_lands_by_role(client, tenant, role, landing):
    link = invite(tenant, "new@example.com", role)
    assert client.get(link).status_code == 200
    response = set_password(client, link, follow=True)
    assert response.redirect_chain[0] == (reverse(landing, args=["acme"]), 302)
    assert response.status_code == 200
    person = get_user_model().objects.get(email="new@example.com")
    assert person.username == "new@example.com"
    assert person.check_password(PASSWORD)
    assert Membership.objects.get(user=person, tenant=tenant).role == role
    assert signed_in_user(client) == person
    assert "Welcome to Acme." in messages_of(response)


def test_an_owner_of_a_tenant_with_keys_lands_on_the_console(client, tenant, store_key):
    store_key(tenant, "anthropic")
    response = set_password(client, invite(tenant, "new@example.com", Role.OWNER))
    assert response.url == reverse("console", args=["acme"])


@pytest.mark.parametrize(
    ("first", "second", "problem"),
    [
        ("a long enough passphrase 42", "a long enough passphrase 43", "The two passwords differ."),
        ("qwertyuiop", "qwertyuiop", "This password is too common."),
        ("Zq!9x", "Zq!9x", "This password is too short."),
        ("new@example.com", "new@example.com", "too similar"),
    ],
    ids=["differ", "common", "short", "like the email"],
)
def test_a_bad_password_is_refused_and_never_shown_back(client, tenant, first, second, problem):
    link = invite(tenant, "new@example.com")
    response = set_password(client, link, first, second)
    assert response.status_code == 200
    assert problem in text(response)
    for control in inputs_named(response, "new_password1") + inputs_named(response, "new_password2"):
        assert "value" not in control
    if first != "new@example.com":  # the page names the address, of course
        assert first not in response.content.decode()
        assert second not in response.content.decode()
    assert not get_user_model().objects.filter(email="new@example.com").exists()
    assert Invitation.objects.get().state == "pending"
    assert response.wsgi_request.user.is_anonymous


# --- An existing account


def test_an_existing_account_signs_in_first_then_joins(client, tenant):
    person = make_person("sam@example.com")
    link = invite(tenant, "sam@example.com", Role.ADMIN)
    response = client.get(link)
    assert response.status_code == 302
    assert urlsplit(response.url).path == reverse("login")
    assert parse_qs(urlsplit(response.url).query) == {"next": [link]}
    # Setting a password through the link is not a way in to an account that has one.
    response = set_password(client, link, "another long passphrase 7")
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    person.refresh_from_db()
    assert person.check_password(PASSWORD)

    response = client.post(reverse("login"), {"username": "sam@example.com", "password": PASSWORD, "next": link})
    assert response.url == link
    response = client.get(link)
    assert response.status_code == 200
    assert "Join Acme" in text(response)
    response = client.post(link, follow=True)
    assert response.redirect_chain == [(reverse("console", args=["acme"]), 302)]
    assert "You joined Acme as admin." in messages_of(response)
    assert Membership.objects.get(user=person, tenant=tenant).role == Role.ADMIN


def test_an_existing_member_invited_to_a_higher_role_is_promoted_never_demoted(client, tenant):
    person = join(tenant, Role.MEMBER, email="sam@example.com")
    signed_in(client, person)
    client.post(invite(tenant, "sam@example.com", Role.ADMIN))
    assert Membership.objects.get(user=person).role == Role.ADMIN
    client.post(invite(tenant, "sam@example.com", Role.MEMBER))
    assert Membership.objects.get(user=person).role == Role.ADMIN


def test_the_wrong_account_gets_a_403_page_and_the_link_stays_usable(client, tenant):
    signed_in(client, make_person("other@example.com"))
    link = invite(tenant, "sam@example.com")
    for response in (client.get(link), client.post(link), set_password(client, link)):
        assert response.status_code == 403
        page = text(response)
        assert "This invitation is for someone else" in page
        assert "You are signed in as other@example.com, but this link is for sam@example.com" in page
    assert Invitation.objects.get().state == "pending"
    assert not Membership.objects.exists()


def test_a_link_never_sets_the_password_of_an_account_known_by_its_username(client, tenant):
    """createsuperuser asks for no email: an operator whose username is the address invited."""
    operator = get_user_model().objects.create_superuser(username="ops@example.com", email="", password=PASSWORD)
    link = invite(tenant, "ops@example.com", Role.OWNER)
    assert client.get(link).url.startswith(reverse("login"))
    response = set_password(client, link, "taken over passphrase 99")
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    operator.refresh_from_db()
    assert operator.check_password(PASSWORD)
    assert get_user_model().objects.count() == 1
    assert not Membership.objects.exists()
    assert Invitation.objects.get().state == "pending"


def test_an_account_known_only_by_its_username_signs_in_and_joins(client, tenant):
    operator = get_user_model().objects.create_superuser(username="ops@example.com", email="", password=PASSWORD)
    link = invite(tenant, "ops@example.com", Role.ADMIN)
    signed_in(client, operator)
    assert client.get(link).status_code == 200
    response = client.post(link)
    assert response.status_code == 302
    assert Membership.objects.get(user=operator, tenant=tenant).role == Role.ADMIN
    assert Invitation.objects.get().state == "accepted"


def test_a_link_never_sets_the_password_of_an_account_that_owns_another_tenant(client, tenant, run_command):
    """An owner sees the links they create: inviting another tenant's new owner must not take it over."""
    out, _ = run_command("create_tenant", "globex", "--owner-email", "pat@example.com")
    own_link = path_of(out.strip().splitlines()[-1])
    link = invite(tenant, "pat@example.com", Role.MEMBER)
    response = set_password(client, link, "taken over passphrase 99")
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    pat = get_user_model().objects.get(email="pat@example.com")
    assert not pat.has_usable_password()
    assert client.get(reverse("home")).wsgi_request.user.is_anonymous
    # Pat's own link still works; afterwards Pat signs in to use the other one.
    assert set_password(client, own_link).url == reverse("setup-name", args=["globex"])
    assert client.post(link).url == reverse("console", args=["acme"])
    assert Membership.objects.get(user=pat, tenant=tenant).role == Role.MEMBER


def last_line(out: str) -> str:
    return out.strip().splitlines()[-1]


def test_a_co_owners_link_never_sets_the_password_of_an_owner_who_has_none_yet(client, tenant, run_command):
    """create_tenant made the CEO, who has not used their link: a co-owner's invitation is no way in."""
    out, _ = run_command("create_tenant", "acme", "--owner-email", "ceo@acme.example")
    ceo_link = path_of(last_line(out))
    signed_in(client, join(tenant, Role.OWNER, email="cofounder@acme.example"))
    response = client.post(reverse("members", args=["acme"]), {"email": "ceo@acme.example", "role": Role.ADMIN})
    link = path_of(response.context["issued"].url)
    client.post(reverse("logout"))

    assert client.get(link).url.startswith(reverse("login"))
    response = set_password(client, link, "taken over passphrase 99")
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    ceo = get_user_model().objects.get(email="ceo@acme.example")
    assert not ceo.has_usable_password()
    assert signed_in_user(client).is_anonymous
    client.post(reverse("login"), {"username": "ceo@acme.example", "password": "taken over passphrase 99"})
    assert signed_in_user(client).is_anonymous

    # The CEO's own link still works; it alone chooses their password.
    assert set_password(client, ceo_link).url == reverse("setup-name", args=["acme"])
    ceo.refresh_from_db()
    assert ceo.check_password(PASSWORD)
    assert signed_in_user(client) == ceo


def test_the_password_service_refuses_an_account_it_was_not_issued_to_create(tenant):
    from tenants.services import InvitationError, invitation_accept_with_password

    person = make_person("ceo@example.com", password=None)
    issued = invitation_create(tenant=tenant, email="ceo@example.com", role=Role.OWNER)
    with pytest.raises(InvitationError, match="sign in"):
        invitation_accept_with_password(invitation=issued.invitation, password="taken over passphrase 99")
    person.refresh_from_db()
    assert not person.has_usable_password()
    assert not Membership.objects.exists()
    assert Invitation.objects.get().state == "pending"


def test_create_tenant_run_again_for_an_owner_without_a_password_prints_a_fresh_link_that_works(
    db, client, run_command
):
    run_command("create_tenant", "acme", "--owner-email", "pat@example.com")
    out, _ = run_command("create_tenant", "acme", "--owner-email", "pat@example.com")
    assert "pat@example.com is already owner of acme" in out
    assert set_password(client, path_of(last_line(out))).url == reverse("setup-name", args=["acme"])
    assert get_user_model().objects.get(email="pat@example.com").check_password(PASSWORD)


def test_create_tenant_prints_no_link_for_an_account_without_a_password_it_did_not_create(db, run_command):
    make_person("pat@example.com", password=None)  # e.g. made in the admin
    out, _ = run_command("create_tenant", "acme", "--owner-email", "pat@example.com")
    assert "/install/" not in out
    assert (
        "pat@example.com has an account without a password that this command did not create: "
        "give it one in the admin, then they sign in." in out
    )
    assert not Invitation.objects.exists()


def test_a_link_for_a_new_person_records_the_account_it_created(client, tenant):
    set_password(client, invite(tenant, "new@example.com"))
    person = get_user_model().objects.get(email="new@example.com")
    assert Invitation.objects.get().creates_user == person


def test_an_invitation_from_the_members_page_leaves_the_owners_own_link_working(client, tenant, run_command):
    out, _ = run_command("create_tenant", "acme", "--owner-email", "ceo@acme.example")
    invitation_create(tenant=tenant, email="ceo@acme.example", role=Role.MEMBER, invited_by=join(tenant, Role.OWNER))
    assert client.get(path_of(last_line(out))).status_code == 200


def test_links_create_tenant_issued_before_the_upgrade_keep_choosing_their_owners_password(tenant):
    """The migration that added creates_user marks the owner links create_tenant had issued."""
    migration = importlib.import_module("tenants.migrations.0003_invitation_creates_user")
    owner = make_person("owner@example.com", password=None)
    owners_link = invitation_create(tenant=tenant, email="owner@example.com", role=Role.OWNER).invitation
    person = make_person("sam@example.com", password=None)
    members_link = invitation_create(
        tenant=tenant, email="sam@example.com", role=Role.MEMBER, invited_by=join(tenant, Role.OWNER)
    ).invitation
    operator = make_person("ops@example.com", password=None, is_staff=True)
    operators_link = invitation_create(tenant=tenant, email="ops@example.com", role=Role.OWNER).invitation
    migration.owner_links_create_their_accounts(django_apps, None)
    assert Invitation.objects.get(pk=owners_link.pk).creates_user == owner
    assert Invitation.objects.get(pk=members_link.pk).creates_user is None
    assert Invitation.objects.get(pk=operators_link.pk).creates_user is None
    assert person.memberships.count() == 0
    assert operator.memberships.count() == 0


def test_refusals_of_a_link_that_still_works_are_logged_without_its_token(client, tenant, caplog):
    link = invite(tenant, "sam@example.com")
    token = link.split("/")[2]
    caplog.set_level(logging.DEBUG)
    signed_in(client, make_person("other@example.com"))
    assert client.get(link).status_code == 403  # the wrong account
    Tenant.objects.filter(pk=tenant.pk).update(is_active=False)
    assert client.get(link).status_code == 403  # a deactivated tenant
    assert token not in caplog.text
    # One access-log line per request (django.request logs only 5xx), the token masked.
    assert caplog.text.count("GET /install/<token>/ 403") == 2


# --- Links that no longer work


def test_a_used_link_is_gone(client, tenant):
    link = invite(tenant, "new@example.com")
    set_password(client, link)
    client.post(reverse("logout"))
    for response in (client.get(link), set_password(client, link, "another long passphrase 7")):
        assert response.status_code == 410
        assert "This link has already been used: sign in instead." in text(response)
    assert get_user_model().objects.get(email="new@example.com").check_password(PASSWORD)


def test_a_withdrawn_link_is_gone(client, tenant):
    issued = invitation_create(tenant=tenant, email="new@example.com", role=Role.MEMBER)
    invitation_revoke(invitation=issued.invitation)
    link = path_of(issued.url)
    for response in (client.get(link), set_password(client, link)):
        assert response.status_code == 410
        assert "This link was withdrawn: ask for a new one." in text(response)
    assert not get_user_model().objects.filter(email="new@example.com").exists()


def test_a_link_expires_after_seven_days_by_default(client, tenant, monkeypatch):
    link = invite(tenant, "new@example.com")
    travel(monkeypatch, timedelta(days=6, hours=23))
    assert client.get(link).status_code == 200
    travel(monkeypatch, timedelta(days=7, minutes=1))
    for response in (client.get(link), set_password(client, link)):
        assert response.status_code == 410
        assert "This link has expired: ask for a new one." in text(response)
    assert not get_user_model().objects.filter(email="new@example.com").exists()


@override_settings(SINATRA_INVITATION_DAYS=2)
def test_a_link_lives_as_many_days_as_sinatra_invitation_days(client, tenant, monkeypatch):
    link = invite(tenant, "new@example.com")
    assert Invitation.objects.get().expires_at - timezone.now() > timedelta(days=1, hours=23)
    travel(monkeypatch, timedelta(days=1))
    assert client.get(link).status_code == 200
    travel(monkeypatch, timedelta(days=2, minutes=1))
    assert client.get(link).status_code == 410


def test_an_expired_invitation_row_is_gone_even_with_a_fresh_signature(client, tenant):
    link = invite(tenant, "new@example.com")
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(link).status_code == 410


def tampered(link: str) -> str:
    token = link.split("/")[2]
    last = token[-1]
    return f"/install/{token[:-1]}{'A' if last != 'A' else 'B'}/"


@pytest.mark.parametrize(
    "make_link",
    [
        tampered,
        lambda link: link.replace("/install/", "/install/x"),
        lambda link: f"/install/{signing.dumps(str(Invitation.objects.get().pk))}/",  # not our salt
        lambda link: "/install/not-a-token/",
    ],
    ids=["one character changed", "prefixed", "signed for something else", "garbage"],
)
def test_a_tampered_or_unknown_token_is_404(client, tenant, make_link):
    link = make_link(invite(tenant, "new@example.com"))
    for response in (client.get(link), set_password(client, link)):
        assert response.status_code == 404
    assert not get_user_model().objects.filter(email="new@example.com").exists()
    assert Invitation.objects.get().state == "pending"


def test_a_link_to_a_deleted_tenant_is_404(client, tenant):
    link = invite(tenant, "new@example.com")
    tenant.delete()
    assert client.get(link).status_code == 404


# --- The install flow: name, keys, default model


@pytest.fixture
def owner(client, tenant, run_command):
    """The owner create_tenant names, signed in by their link, on a tenant with no key yet."""
    out, _ = run_command("create_tenant", "acme", "--owner-email", "owner@example.com")
    set_password(client, path_of(out.strip().splitlines()[-1]))
    return client


def steps(response) -> str:
    """The install step the page marks as current."""
    [current] = re.findall(r'<li[^>]*aria-current="step"[^>]*>(.*?)</li>', response.content.decode(), re.DOTALL)
    return text_of(current)


def test_the_install_flow_goes_name_keys_model_then_the_console(owner, tenant, key_checks):
    response = owner.get(reverse("setup-name", args=["acme"]))
    assert steps(response) == "Name"
    assert labels(response) == ["Tenant name"]
    response = owner.post(reverse("setup-name", args=["acme"]), {"name": "Acme Corp"})
    assert response.url == reverse("setup-keys", args=["acme"])
    tenant.refresh_from_db()
    assert tenant.name == "Acme Corp"

    response = owner.get(response.url)
    assert steps(response) == "Keys"
    assert {"Anthropic API key", "OpenRouter API key"} <= set(labels(response))
    key = anthropic_key()
    response = owner.post(reverse("setup-keys", args=["acme"]), {"anthropic_key": key}, follow=True)
    assert response.redirect_chain == [(reverse("setup-model", args=["acme"]), 302)]
    assert steps(response) == "Default model"
    assert_key_never_shown(response, key)

    response = owner.post(reverse("setup-model", args=["acme"]), {"default_model": "opus", "save": "1"}, follow=True)
    assert response.redirect_chain == [(reverse("console", args=["acme"]), 302)]
    assert "Acme Corp is ready: workers can resolve models now." in messages_of(response)
    tenant.refresh_from_db()
    assert tenant.default_model == "opus"
    assert "Anthropic, claude-opus-4-8" in text(response)


def test_a_name_is_required(owner, tenant):
    response = owner.post(reverse("setup-name", args=["acme"]), {"name": "  "})
    assert response.status_code == 200
    assert "This field is required." in text(response)
    tenant.refresh_from_db()
    assert tenant.name == "Acme"


def post_keys(client, follow: bool = True, **fields):
    return client.post(reverse("setup-keys", args=["acme"]), fields, follow=follow)


@pytest.mark.parametrize(
    ("field", "make_key", "provider"),
    [("anthropic_key", anthropic_key, "anthropic"), ("openrouter_key", openrouter_key, "openrouter")],
    ids=["anthropic", "openrouter"],
)
def test_an_accepted_key_is_saved_verified_and_shown_as_its_hint(owner, tenant, key_checks, field, make_key, provider):
    key = make_key()
    response = post_keys(owner, **{field: f"  {key}\n"})
    assert response.redirect_chain == [(reverse("setup-model", args=["acme"]), 302)]
    credential = TenantModelCredential.objects.get(tenant=tenant, provider=provider)
    assert credential.validated_at is not None
    assert credential.created_by == "owner@example.com"
    assert key_checks.checks_of(provider) == [key]
    label = "Anthropic API key" if provider == "anthropic" else "OpenRouter API key"
    assert f"{label} {credential.key_hint} verified." in messages_of(response)
    assert_key_never_shown(response, key)
    kinds = set(CredentialEvent.objects.values_list("kind", flat=True))
    assert kinds == {EventKind.CREATED, EventKind.VALIDATED}


@pytest.mark.parametrize(
    ("field", "make_key", "problem"),
    [
        ("anthropic_key", anthropic_key, "Anthropic rejected the key (authentication_error)"),
        ("openrouter_key", openrouter_key, "OpenRouter rejected the key (401)"),
    ],
    ids=["anthropic", "openrouter"],
)
def test_a_rejected_key_is_a_clear_message_and_nothing_is_saved(owner, key_checks, field, make_key, problem):
    key = make_key()
    key_checks.answer(key, "rejected")
    response = post_keys(owner, **{field: key})
    assert response.status_code == 200
    assert response.redirect_chain == []
    page = text(response)
    assert problem in page
    assert "Nothing was saved." in page
    assert not TenantModelCredential.objects.exists()
    assert_key_never_shown(response, key, fields=KEY_FIELDS)


def test_an_unreachable_provider_lets_the_owner_save_the_key_unverified(owner, tenant, key_checks):
    key = openrouter_key()
    key_checks.answer(key, "unreachable")
    response = post_keys(owner, openrouter_key=key)
    assert response.status_code == 200
    page = text(response)
    assert "OpenRouter answered HTTP 503 to the key check" in page
    assert "tick “save without verifying”" in page
    assert inputs_named(response, "save_openrouter_unverified")[0]["type"] == "checkbox"
    assert inputs_named(response, "save_anthropic_unverified") == []
    assert not TenantModelCredential.objects.exists()
    assert_key_never_shown(response, key, fields=KEY_FIELDS)

    response = post_keys(owner, openrouter_key=key, save_openrouter_unverified="on")
    assert response.redirect_chain == [(reverse("setup-model", args=["acme"]), 302)]
    credential = TenantModelCredential.objects.get(tenant=tenant)
    assert credential.validated_at is None
    assert f"OpenRouter API key {credential.key_hint} saved unverified." in messages_of(response)
    assert_key_never_shown(response, key)
    response = owner.get(reverse("credentials", args=["acme"]))
    assert "unverified" in text(response)


def test_save_unverified_never_saves_a_rejected_key(owner, key_checks):
    key = anthropic_key()
    key_checks.answer(key, "rejected")
    response = post_keys(owner, anthropic_key=key, save_anthropic_unverified="on")
    assert "Nothing was saved." in text(response)
    assert not TenantModelCredential.objects.exists()
    assert_key_never_shown(response, key, fields=KEY_FIELDS)


@pytest.mark.parametrize(
    ("field", "key", "problem"),
    [
        ("anthropic_key", "sk-ant-api03-Cut0ff7Kq2Zx9Wv3RtYh", "looks cut short or mistyped"),
        ("anthropic_key", openrouter_key(), "That is an OpenRouter key (sk-or-v1-...): paste it as the OpenRouter"),
        (
            "openrouter_key",
            anthropic_key(),
            "That is an Anthropic API key (sk-ant-api03-...): paste it as the Anthropic",
        ),
        ("anthropic_key", "sk-ant-admin01-" + "x" * 90, "That is an Anthropic Admin API key"),
        ("openrouter_key", "sk-proj-" + "y" * 120, "That looks like an OpenAI key"),
        ("anthropic_key", anthropic_key()[:40] + " " + anthropic_key()[40:], "contains spaces or line breaks"),
        ("openrouter_key", "sk-or-v1-" + "f" * 600, "over 512 characters"),
    ],
    ids=[
        "cut short",
        "openrouter in the anthropic slot",
        "anthropic in the openrouter slot",
        "admin key",
        "openai",
        "inner space",
        "too long",
    ],
)
def test_a_key_of_the_wrong_shape_says_what_it_is_and_nothing_is_asked_or_saved(owner, key_checks, field, key, problem):
    response = post_keys(owner, **{field: key})
    assert response.status_code == 200
    page = text(response)
    assert problem in page
    assert "Nothing was saved." in page
    assert key_checks.checked == []
    assert not TenantModelCredential.objects.exists()
    assert_key_never_shown(response, key, fields=KEY_FIELDS)


def test_a_paste_too_long_for_the_field_is_refused_without_echo(owner, key_checks):
    key = "sk-ant-api03-" + "z" * 3000
    response = post_keys(owner, anthropic_key=key)
    assert response.status_code == 200
    assert "Ensure this value has at most" in text(response)
    assert key_checks.checked == []
    assert_key_never_shown(response, key, fields=KEY_FIELDS)


def test_two_keys_at_once_one_accepted_one_rejected(owner, tenant, key_checks):
    good, bad = anthropic_key(), openrouter_key()
    key_checks.answer(bad, "rejected")
    response = post_keys(owner, anthropic_key=good, openrouter_key=bad)
    assert response.status_code == 200
    credential = TenantModelCredential.objects.get(tenant=tenant)
    assert credential.provider == "anthropic"
    page = text(response)
    assert f"Anthropic API key {credential.key_hint} verified." in page
    assert "OpenRouter rejected the key" in page
    assert_key_never_shown(response, good, bad, fields=KEY_FIELDS)
    # Once the OpenRouter key is fixed (or left out), the flow goes on.
    assert post_keys(owner, anthropic_key="", openrouter_key="").redirect_chain == [
        (reverse("setup-model", args=["acme"]), 302)
    ]


def test_no_key_pasted_and_none_saved_asks_for_one(owner, key_checks):
    response = post_keys(owner, anthropic_key="   ", openrouter_key="")
    assert response.status_code == 200
    assert "Paste at least one key: Anthropic, OpenRouter, or both." in text(response)


def test_the_keys_step_shows_saved_keys_as_hints(owner, tenant, store_key, key_checks):
    credential = store_key(tenant, "openrouter")
    response = owner.get(reverse("setup-keys", args=["acme"]))
    page = text(response)
    assert credential.key_hint in page
    assert "no key yet" in page  # Anthropic


@pytest.fixture
def openrouter_only(owner, tenant, store_key):
    store_key(tenant, "openrouter")
    return owner


@pytest.fixture
def anthropic_only(owner, tenant, store_key):
    store_key(tenant, "anthropic")
    return owner


def preview_rows(response) -> str:
    return text(response).split("How repos resolve right now", 1)[1]


def test_the_model_step_previews_how_sinatrarc_examples_resolve(anthropic_only, key_checks):
    response = anthropic_only.get(reverse("setup-model", args=["acme"]))
    assert steps(response) == "Default model"
    assert labels(response) == ["Default model"]
    rows = preview_rows(response)
    assert "model: opus opus → Anthropic, claude-opus-4-8" in rows
    assert "model: sonnet sonnet → Anthropic, claude-sonnet-4-6" in rows
    assert "model: openai/gpt-5 no key for OpenRouter yet" in rows
    assert "no .sinatrarc sonnet → Anthropic, claude-sonnet-4-6" in rows


def test_with_only_an_openrouter_key_aliases_go_through_openrouter(openrouter_only, key_checks):
    rows = preview_rows(openrouter_only.get(reverse("setup-model", args=["acme"])))
    assert "openai/gpt-5 → OpenRouter, openai/gpt-5" in rows
    assert "opus → OpenRouter, anthropic/claude-opus-4.8" in rows


def test_preview_shows_an_unsaved_default_and_saves_nothing(anthropic_only, tenant, key_checks):
    response = anthropic_only.post(reverse("setup-model", args=["acme"]), {"default_model": "haiku", "preview": "1"})
    assert response.status_code == 200
    assert "With haiku as the default:" in text(response)
    assert "no .sinatrarc haiku → Anthropic, claude-haiku-4-5-20251001" in preview_rows(response)
    tenant.refresh_from_db()
    assert tenant.default_model == ""


@pytest.mark.parametrize(
    ("model", "problem"), [("gpt-5", "openai/gpt-5"), ("llama", "llama")], ids=["gpt-5", "unknown bare name"]
)
def test_a_default_model_the_rules_cannot_serve_is_refused_with_what_to_write(anthropic_only, tenant, model, problem):
    response = anthropic_only.post(reverse("setup-model", args=["acme"]), {"default_model": model, "save": "1"})
    assert response.status_code == 200
    assert problem in text(response)
    assert "How repos resolve right now" not in text(response)
    tenant.refresh_from_db()
    assert tenant.default_model == ""


def test_an_empty_default_model_means_sonnet(anthropic_only, tenant, key_checks):
    tenant.default_model = "opus"
    tenant.save()
    response = anthropic_only.post(reverse("setup-model", args=["acme"]), {"default_model": "", "save": "1"})
    assert response.url == reverse("console", args=["acme"])
    tenant.refresh_from_db()
    assert tenant.default_model == ""


def test_a_confirmed_sign_up_leads_into_the_keys_step(client, transactional_db, settings, key_checks, mailoutbox):
    settings.SINATRA_ALLOW_SIGNUP = True
    client.post(
        reverse("signup"),
        {
            "email": "founder@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "tenant_name": "Initech",
            "tenant_slug": "initech",
        },
    )
    response = client.post(confirm_link(mailoutbox[0]), {"password": PASSWORD})
    assert response.url == reverse("setup-keys", args=["initech"])
    assert steps(client.get(response.url)) == "Keys"


def test_the_password_service_itself_refuses_an_account_that_has_a_password(tenant):
    from tenants.services import InvitationError, invitation_accept_with_password

    person = make_person("sam@example.com")
    issued = invitation_create(tenant=tenant, email="sam@example.com", role=Role.OWNER)
    with pytest.raises(InvitationError, match="sign in"):
        invitation_accept_with_password(invitation=issued.invitation, password="taken over passphrase 99")
    person.refresh_from_db()
    assert person.check_password(PASSWORD)
    assert not Membership.objects.exists()
    assert Invitation.objects.get().state == "pending"
