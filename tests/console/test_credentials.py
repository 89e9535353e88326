"""The credentials page of the tenant console: states, events; replace, revoke and re-verify.

Every key posted, accepted or not, is checked for in the page that answers: no form of it may
appear, and the key field is an empty password input.
"""

import pytest
from django.urls import reverse
from django.utils import timezone

from credentials.kms import KmsUnavailable
from credentials.kms.local import LocalKmsBackend
from credentials.models import CredentialEvent, EventKind, Status, TenantModelCredential
from credentials.services import Actor, credential_create, credential_revoke
from providers.secret import Secret
from routing import release
from routing.models import KeyRelease
from tenants.models import Role
from tests.fakes.providers import anthropic_key, openrouter_key
from tests.web import (
    assert_key_input,
    assert_key_never_shown,
    inputs_named,
    labels,
    messages_of,
    provider_section,
    signed_in,
    text,
)

CREDENTIALS = reverse("credentials", args=["acme"])


def replace_url(provider: str) -> str:
    return reverse("credential-replace", args=["acme", provider])


def revoke_url(credential: TenantModelCredential) -> str:
    return reverse("credential-revoke", args=["acme", credential.pk])


def verify_url(credential: TenantModelCredential) -> str:
    return reverse("credential-verify", args=["acme", credential.pk])


def section(response, provider: str) -> str:
    """What one provider's section of the credentials page says."""
    return provider_section(response.content.decode(), provider)


@pytest.fixture
def owner(client, people):
    return signed_in(client, people[Role.OWNER])


@pytest.fixture
def member(client, people):
    return signed_in(client, people[Role.MEMBER])


def stored(tenant, provider: str = "anthropic", *, verified: bool = False, key: str | None = None):
    key = key or (anthropic_key() if provider == "anthropic" else openrouter_key())
    return credential_create(
        tenant=tenant,
        provider=provider,
        secret=Secret(key),
        actor=Actor.command("seed_credential"),
        validated_at=timezone.now() if verified else None,
    ).credential


# --- The page: a state for every active key, never hidden


def test_a_verified_key_shows_its_hint_state_dates_and_kek(member, tenant):
    credential = stored(tenant, verified=True)
    TenantModelCredential.objects.filter(pk=credential.pk).update(last_used_at=timezone.now())
    credential.refresh_from_db()
    response = member.get(CREDENTIALS)
    assert response.status_code == 200
    anthropic = section(response, "anthropic")
    assert f"Key {credential.key_hint} verified" in anthropic
    assert f"Verified {credential.validated_at:%Y-%m-%d %H:%M} UTC" in anthropic
    assert f"Last used {credential.last_used_at:%Y-%m-%d %H:%M} UTC" in anthropic
    assert f"Encrypted under {credential.kek_id}" in anthropic
    assert "by command:seed_credential" in anthropic
    assert "No OpenRouter API key." in text(response)


def test_an_unverified_key_says_so(member, tenant):
    credential = stored(tenant, "openrouter")
    response = member.get(CREDENTIALS)
    openrouter = section(response, "openrouter")
    assert f"Key {credential.key_hint} unverified Not verified with the provider yet." in openrouter
    assert "Verified not verified" in openrouter
    assert "Last used never" in openrouter


def test_a_row_that_no_longer_decrypts_is_shown_as_needs_re_entry(owner, tenant):
    credential = stored(tenant, verified=True)
    damaged = bytearray(credential.ciphertext)
    damaged[-1] ^= 1
    TenantModelCredential.objects.filter(pk=credential.pk).update(ciphertext=bytes(damaged))
    response = owner.get(CREDENTIALS)
    anthropic = section(response, "anthropic")
    assert f"Key {credential.key_hint} needs re-entry This key no longer decrypts: paste it again." in anthropic
    assert f'href="{replace_url("anthropic")}"' in response.content.decode()


def test_a_key_the_kms_cannot_open_now_is_shown_as_cannot_be_checked_now(owner, tenant, monkeypatch):
    credential = stored(tenant, verified=True)

    def unreachable(self, wrapped, *, kek_id, aad):
        raise KmsUnavailable("The KMS did not answer in time; nothing was changed.")

    monkeypatch.setattr(LocalKmsBackend, "unwrap", unreachable)
    response = owner.get(CREDENTIALS)
    anthropic = section(response, "anthropic")
    assert f"Key {credential.key_hint} cannot be checked now The KMS did not answer in time" in anthropic


def test_the_page_lists_events_and_earlier_keys(owner, tenant):
    first = stored(tenant)
    second = stored(tenant, verified=True)
    credential_revoke(credential=second, actor=Actor.command("test"))
    first.refresh_from_db()
    response = owner.get(CREDENTIALS)
    page = text(response)
    assert "No Anthropic API key." in page
    assert "2 earlier keys" in page
    assert f"{first.key_hint} revoked" in page
    events = page.split("Events", 1)[1]
    for kind in ("Created", "Replaced", "Validated", "Revoked"):
        assert kind in events
    assert f"replaced by {second.key_hint}" in events
    assert "command:seed_credential" in events


# --- Who received each key (key-release accounting)


def test_the_page_shows_who_received_each_key_by_caller_even_to_members(member, tenant, make_tenant):
    stored(tenant, "anthropic")
    globex = make_tenant("globex")
    for caller, owner_of_key, provider, times in [
        ("worker-eu", tenant, "anthropic", 3),
        ("worker-us", tenant, "anthropic", 1),
        ("worker-eu", tenant, "openrouter", 2),
        ("worker-eu", globex, "anthropic", 50),
    ]:
        for _ in range(times):
            release.count(caller=caller, tenant_id=owner_of_key.pk, provider=provider)
    release.flush()
    latest = KeyRelease.objects.filter(tenant=tenant, caller="worker-eu", provider="anthropic").get()

    response = member.get(CREDENTIALS)

    anthropic, openrouter = section(response, "anthropic"), section(response, "openrouter")
    assert "Who received the Anthropic key Caller Last 24 hours Last 30 days Last time (UTC)" in anthropic
    assert f"worker-eu 3 3 {latest.last_released_at:%Y-%m-%d %H:%M}" in anthropic
    assert "worker-us 1 1" in anthropic
    assert "worker-eu 50" not in anthropic  # globex's releases are globex's (not counted in, not shown)
    assert "worker-eu 53" not in anthropic
    assert "No OpenRouter API key." in openrouter  # the key was revoked, or never stored here: releases stay
    assert "worker-eu 2 2" in openrouter


def test_a_key_nobody_received_says_so(member, tenant):
    stored(tenant, "anthropic")

    assert "Who received the Anthropic key Nobody in the last 30 days." in section(member.get(CREDENTIALS), "anthropic")


@pytest.mark.parametrize(("role", "manages"), [(Role.OWNER, True), (Role.ADMIN, True), (Role.MEMBER, False)], ids=str)
def test_only_managers_are_offered_replace_revoke_and_re_verify(client, tenant, people, role, manages):
    credential = stored(tenant)
    html = signed_in(client, people[role]).get(CREDENTIALS).content.decode()
    assert (f'href="{replace_url("anthropic")}"' in html) is manages
    assert (f'href="{replace_url("openrouter")}"' in html) is manages  # "Add an OpenRouter API key"
    assert (f'href="{revoke_url(credential)}"' in html) is manages
    assert (f'action="{verify_url(credential)}"' in html) is manages


# --- Replace (or add)


def post_key(client, provider: str, key: str, **extra):
    return client.post(replace_url(provider), {"key": key, **extra}, follow=True)


def test_the_replace_page_asks_for_the_providers_key_and_names_the_one_it_replaces(owner, tenant):
    credential = stored(tenant)
    response = owner.get(replace_url("anthropic"))
    assert labels(response) == ["Anthropic API key"]
    assert f"The key in use, {credential.key_hint}, is revoked once the new one is saved." in text(response)
    response = owner.get(replace_url("openrouter"))
    assert labels(response) == ["OpenRouter API key"]
    assert "Add the OpenRouter API key" in text(response)
    assert_key_input(inputs_named(response, "key")[0])


def test_an_unknown_provider_is_404(owner):
    assert owner.get(replace_url("openai")).status_code == 404
    assert owner.post(replace_url("openai"), {"key": "sk-proj-" + "x" * 60}).status_code == 404


@pytest.mark.parametrize("provider", ["anthropic", "openrouter"])
def test_an_accepted_replacement_is_saved_verified_and_the_old_key_revoked(owner, tenant, key_checks, provider):
    old = stored(tenant, provider)
    key = anthropic_key() if provider == "anthropic" else openrouter_key()
    response = post_key(owner, provider, key)
    assert response.redirect_chain == [(CREDENTIALS, 302)]
    new = TenantModelCredential.objects.get(tenant=tenant, provider=provider, status=Status.ACTIVE)
    old.refresh_from_db()
    assert old.status == Status.REVOKED
    assert new.validated_at is not None
    assert new.created_by == "owner@acme.example"
    label = "Anthropic API key" if provider == "anthropic" else "OpenRouter API key"
    assert f"{label} {new.key_hint} verified; {old.key_hint} is revoked." in messages_of(response)
    assert key_checks.checks_of(provider) == [key]
    assert set(CredentialEvent.objects.filter(credential=new).values_list("kind", flat=True)) == {
        EventKind.CREATED,
        EventKind.VALIDATED,
    }
    assert CredentialEvent.objects.filter(credential=old, kind=EventKind.REPLACED).exists()
    assert_key_never_shown(response, key)


def test_a_first_key_is_added_the_same_way(owner, tenant, key_checks):
    key = openrouter_key()
    response = post_key(owner, "openrouter", key)
    credential = TenantModelCredential.objects.get(tenant=tenant)
    assert f"OpenRouter API key {credential.key_hint} verified." in messages_of(response)
    assert_key_never_shown(response, key)


def test_a_rejected_replacement_saves_nothing_and_keeps_the_old_key(owner, tenant, key_checks):
    old = stored(tenant)
    key = anthropic_key()
    key_checks.answer(key, "rejected")
    response = post_key(owner, "anthropic", key)
    assert response.status_code == 200
    assert response.redirect_chain == []
    page = text(response)
    assert "Anthropic rejected the key (authentication_error)" in page
    assert "Nothing was saved." in page
    assert list(TenantModelCredential.objects.values_list("pk", "status")) == [(old.pk, Status.ACTIVE)]
    assert_key_never_shown(response, key, fields=("key",))


def test_an_unreachable_provider_offers_to_save_unverified(owner, tenant, key_checks):
    old = stored(tenant)
    key = anthropic_key()
    key_checks.answer(key, "unreachable")
    response = post_key(owner, "anthropic", key)
    assert response.status_code == 200
    page = text(response)
    assert "Anthropic answered HTTP 503 to the key check; try again later." in page
    assert "tick “save without verifying” to keep it unverified" in page
    assert inputs_named(response, "save_unverified")[0]["type"] == "checkbox"
    assert TenantModelCredential.objects.get().pk == old.pk
    assert_key_never_shown(response, key, fields=("key",))

    response = post_key(owner, "anthropic", key, save_unverified="on")
    assert response.redirect_chain == [(CREDENTIALS, 302)]
    new = TenantModelCredential.objects.get(status=Status.ACTIVE)
    assert new.pk != old.pk
    assert new.validated_at is None
    assert f"Anthropic API key {new.key_hint} saved unverified; {old.key_hint} is revoked." in messages_of(response)
    assert f"Key {new.key_hint} unverified" in section(response, "anthropic")
    assert_key_never_shown(response, key)


def test_the_save_unverified_box_is_not_offered_before_the_provider_fails(owner):
    assert inputs_named(owner.get(replace_url("anthropic")), "save_unverified") == []


@pytest.mark.parametrize(
    ("provider", "key", "problem"),
    [
        ("anthropic", "sk-ant-api03-Cut0ff7Kq2Zx9Wv3RtYh", "looks cut short or mistyped"),
        ("openrouter", "sk-or-v1-" + "0123456789abcdef" * 3, "64 hexadecimal characters"),
        ("anthropic", openrouter_key(), "That is an OpenRouter key (sk-or-v1-...): paste it as the OpenRouter API key"),
        ("openrouter", anthropic_key(), "That is an Anthropic API key (sk-ant-api03-...): paste it as the Anthropic"),
        ("anthropic", "sk-proj-" + "Q" * 100, "That looks like an OpenAI key"),
        ("anthropic", "", "This field is required."),
    ],
    ids=["cut short", "openrouter too short", "wrong provider", "wrong provider too", "openai", "empty"],
)
def test_a_key_of_the_wrong_shape_is_refused_before_any_provider_is_asked(
    owner, tenant, key_checks, provider, key, problem
):
    old = stored(tenant, provider)
    response = post_key(owner, provider, key, save_unverified="on")
    assert response.status_code == 200
    assert problem in text(response)
    assert key_checks.checked == []
    assert list(TenantModelCredential.objects.values_list("pk", "status")) == [(old.pk, Status.ACTIVE)]
    if key:
        assert_key_never_shown(response, key, fields=("key",))


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN], ids=str)
def test_owners_and_admins_replace(client, tenant, people, key_checks, role):
    stored(tenant)
    key = anthropic_key()
    response = post_key(signed_in(client, people[role]), "anthropic", key)
    assert response.redirect_chain == [(CREDENTIALS, 302)]
    assert_key_never_shown(response, key)
    assert TenantModelCredential.objects.filter(status=Status.ACTIVE).get().created_by == people[role].email


# --- Revoke


def test_revoke_asks_for_confirmation_first(owner, tenant):
    credential = stored(tenant)
    response = owner.get(revoke_url(credential))
    assert response.status_code == 200
    page = text(response)
    assert "Revoke the Anthropic API key?" in page
    assert f"Workers stop using {credential.key_hint} at once" in page
    credential.refresh_from_db()
    assert credential.status == Status.ACTIVE


def test_revoke_on_post_revokes_writes_an_event_and_says_so(owner, tenant, people):
    credential = stored(tenant)
    response = owner.post(revoke_url(credential), follow=True)
    assert response.redirect_chain == [(CREDENTIALS, 302)]
    assert f"Anthropic API key {credential.key_hint} is revoked." in messages_of(response)
    credential.refresh_from_db()
    assert credential.status == Status.REVOKED
    event = CredentialEvent.objects.get(kind=EventKind.REVOKED)
    assert (event.credential, event.actor_user) == (credential, people[Role.OWNER])
    assert "No Anthropic API key." in text(response)
    # A revoked key is not revoked twice: its URLs are gone.
    assert owner.get(revoke_url(credential)).status_code == 404
    assert owner.post(revoke_url(credential)).status_code == 404
    assert CredentialEvent.objects.filter(kind=EventKind.REVOKED).count() == 1


# --- Re-verify


def test_re_verify_of_an_accepted_key_records_it(owner, tenant, key_checks):
    credential = stored(tenant)
    response = owner.post(verify_url(credential), follow=True)
    assert response.redirect_chain == [(CREDENTIALS, 302)]
    assert f"Anthropic API key {credential.key_hint} is verified." in messages_of(response)
    credential.refresh_from_db()
    assert credential.validated_at is not None
    assert CredentialEvent.objects.filter(credential=credential, kind=EventKind.VALIDATED).count() == 1
    assert f"Key {credential.key_hint} verified" in section(response, "anthropic")


def test_re_verify_of_a_rejected_key_records_it_and_the_page_shows_rejected(owner, tenant, key_checks):
    key = anthropic_key()
    credential = stored(tenant, verified=True, key=key)
    key_checks.answer(key, "rejected")
    response = owner.post(verify_url(credential), follow=True)
    message = messages_of(response)[0]
    assert message.startswith(f"Anthropic API key {credential.key_hint}: Anthropic rejected the key")
    assert message.endswith("Replace it.")
    event = CredentialEvent.objects.get(kind=EventKind.VALIDATION_FAILED)
    assert event.credential == credential
    assert "Anthropic rejected the key" in event.detail
    assert f"Key {credential.key_hint} rejected Anthropic rejected the key" in section(response, "anthropic")
    assert_key_never_shown(response, key)
    # Accepted again later: verified again.
    key_checks.answer(key, "accepted")
    response = owner.post(verify_url(credential), follow=True)
    assert f"Key {credential.key_hint} verified" in section(response, "anthropic")


def test_re_verify_when_the_provider_is_unreachable_records_the_attempt_and_keeps_the_state(owner, tenant, key_checks):
    key = openrouter_key()
    credential = stored(tenant, "openrouter", verified=True, key=key)
    validated_at = credential.validated_at
    events = CredentialEvent.objects.count()
    key_checks.answer(key, "unreachable")
    response = owner.post(verify_url(credential), follow=True)
    assert messages_of(response) == [
        f"OpenRouter API key {credential.key_hint} could not be verified now: "
        "OpenRouter answered HTTP 503 to the key check; try again later."
    ]
    assert len(key_checks.checks_of("openrouter")) == 2  # retried once
    [attempt] = CredentialEvent.objects.order_by("-id")[: CredentialEvent.objects.count() - events]
    assert attempt.kind == EventKind.CHECK_INCOMPLETE
    assert attempt.detail == "OpenRouter answered HTTP 503 to the key check; try again later."
    assert attempt.actor == "owner@acme.example"
    credential.refresh_from_db()
    assert credential.validated_at == validated_at
    assert credential.rejected_at is None
    assert f"Key {credential.key_hint} verified" in section(response, "openrouter")


def test_re_verify_of_a_key_that_no_longer_decrypts_asks_nobody(owner, tenant, key_checks):
    credential = stored(tenant)
    TenantModelCredential.objects.filter(pk=credential.pk).update(ciphertext=b"\0" * 40)
    response = owner.post(verify_url(credential), follow=True)
    assert messages_of(response)[0].startswith(f"Anthropic API key {credential.key_hint} could not be read:")
    assert key_checks.checked == []
    assert "needs re-entry" in section(response, "anthropic")


def test_re_verify_is_post_only(owner, tenant):
    assert owner.get(verify_url(stored(tenant))).status_code == 405


def test_re_verify_of_a_revoked_key_is_404(owner, tenant, key_checks):
    old = stored(tenant)
    stored(tenant)
    assert owner.post(verify_url(old)).status_code == 404
    assert key_checks.checked == []


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN], ids=str)
def test_owners_and_admins_revoke_and_re_verify(client, tenant, people, key_checks, role):
    credential = stored(tenant)
    signed_in(client, people[role])
    assert client.post(verify_url(credential)).url == CREDENTIALS
    assert client.post(revoke_url(credential)).url == CREDENTIALS
    actors = set(CredentialEvent.objects.filter(actor_user=people[role]).values_list("kind", flat=True))
    assert actors == {EventKind.VALIDATED, EventKind.REVOKED}


# --- Members see, never change


def test_a_member_sees_the_page_but_cannot_replace_revoke_or_re_verify(member, tenant, key_checks):
    credential = stored(tenant, verified=True)
    key = anthropic_key()
    assert member.get(CREDENTIALS).status_code == 200
    for response in (
        member.get(replace_url("anthropic")),
        member.post(replace_url("anthropic"), {"key": key}),
        member.get(revoke_url(credential)),
        member.post(revoke_url(credential)),
        member.post(verify_url(credential)),
    ):
        assert response.status_code == 403
        assert_key_never_shown(response, key)
    assert list(TenantModelCredential.objects.values_list("pk", "status")) == [(credential.pk, Status.ACTIVE)]
    assert key_checks.checked == []
    assert CredentialEvent.objects.count() == 2  # created, validated: nothing since
