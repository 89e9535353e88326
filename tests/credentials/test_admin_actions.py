"""The admin's re-verify action: it goes through the service, asks the provider, records the answer.

Accepted and rejected keys get an event (and accepted ones a new validated_at); an unreachable
provider or a row that does not decrypt gets a message and no event. Only staff who may change
credentials can run it. No page shows a key.
"""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from credentials.models import CredentialEvent, EventKind, Status, TenantModelCredential
from credentials.services import Actor, credential_revoke
from tests.fakes.providers import anthropic_key, openrouter_key
from tests.helpers import find_leaks
from tests.web import messages_of

CREDENTIALS = reverse("admin:credentials_tenantmodelcredential_changelist")


def reverify(client, *credentials: TenantModelCredential):
    return client.post(
        CREDENTIALS,
        {"action": "reverify", "_selected_action": [str(credential.pk) for credential in credentials]},
        follow=True,
    )


def checks_recorded() -> list[tuple[str, str]]:
    rows = CredentialEvent.objects.filter(
        kind__in=[EventKind.VALIDATED, EventKind.VALIDATION_FAILED, EventKind.CHECK_INCOMPLETE]
    )
    return list(rows.order_by("created_at", "id").values_list("credential__provider", "kind"))


@pytest.fixture
def keys(tenant, store_key) -> dict[str, tuple[TenantModelCredential, str]]:
    """acme's active keys, one per provider, never verified: provider -> (row, key)."""
    stored = {}
    for provider, key in (("anthropic", anthropic_key()), ("openrouter", openrouter_key())):
        stored[provider] = (store_key(tenant, provider, key), key)
    return stored


def test_the_action_is_offered_to_operators(admin_client, keys):
    assert 'value="reverify"' in admin_client.get(CREDENTIALS).content.decode()


def test_accepted_keys_get_validated_at_and_a_validated_event(admin_client, admin_user, keys, key_checks):
    (anthropic, a_key), (openrouter, o_key) = keys["anthropic"], keys["openrouter"]
    response = reverify(admin_client, anthropic, openrouter)
    assert response.status_code == 200
    assert sorted(messages_of(response)) == [
        f"acme/anthropic {anthropic.key_hint}: accepted by the provider.",
        f"acme/openrouter {openrouter.key_hint}: accepted by the provider.",
    ]
    assert key_checks.checks_of("anthropic") == [a_key]
    assert key_checks.checks_of("openrouter") == [o_key]
    for credential in (anthropic, openrouter):
        credential.refresh_from_db()
        assert credential.validated_at is not None
        event = CredentialEvent.objects.get(credential=credential, kind=EventKind.VALIDATED)
        assert (event.actor, event.actor_user) == (admin_user.email, admin_user)
    assert find_leaks(response.content, [a_key, o_key]) == []


def test_a_rejected_key_gets_a_validation_failed_event_with_the_reason(admin_client, keys, key_checks):
    anthropic, key = keys["anthropic"]
    key_checks.answer(key, "rejected")
    response = reverify(admin_client, anthropic)
    [message] = messages_of(response)
    assert message.startswith(f"acme/anthropic {anthropic.key_hint}: Anthropic rejected the key")
    assert 'class="error"' in response.content.decode()
    event = CredentialEvent.objects.get(kind=EventKind.VALIDATION_FAILED)
    assert event.credential == anthropic
    assert "Anthropic rejected the key (authentication_error)" in event.detail
    anthropic.refresh_from_db()
    assert anthropic.validated_at is None
    assert anthropic.status == Status.ACTIVE  # rejected is reported, not acted upon
    assert find_leaks(response.content, [key]) == []


def test_an_unreachable_provider_records_the_attempt_and_leaves_the_key_unverified(admin_client, keys, key_checks):
    openrouter, key = keys["openrouter"]
    key_checks.answer(key, "unreachable")
    response = reverify(admin_client, openrouter)
    assert messages_of(response) == [
        f"acme/openrouter {openrouter.key_hint}: could not verify now: "
        "OpenRouter answered HTTP 503 to the key check; try again later."
    ]
    assert 'class="warning"' in response.content.decode()
    assert checks_recorded() == [("openrouter", EventKind.CHECK_INCOMPLETE)]
    openrouter.refresh_from_db()
    assert openrouter.validated_at is None
    assert openrouter.rejected_at is None


def test_a_mixed_selection_records_each_answer(admin_client, keys, key_checks):
    (anthropic, a_key), (openrouter, o_key) = keys["anthropic"], keys["openrouter"]
    key_checks.answer(a_key, "rejected")
    key_checks.answer(o_key, "unreachable")
    reverify(admin_client, anthropic, openrouter)
    assert sorted(checks_recorded()) == [
        ("anthropic", EventKind.VALIDATION_FAILED),
        ("openrouter", EventKind.CHECK_INCOMPLETE),
    ]


def test_a_row_that_does_not_decrypt_is_reported_and_nobody_is_asked(admin_client, keys, key_checks):
    anthropic, _ = keys["anthropic"]
    TenantModelCredential.objects.filter(pk=anthropic.pk).update(ciphertext=b"\0" * 40)
    response = reverify(admin_client, anthropic)
    [message] = messages_of(response)
    assert message.startswith(f"acme/anthropic {anthropic.key_hint} does not decrypt:")
    assert key_checks.checked == []
    assert checks_recorded() == [("anthropic", EventKind.CHECK_INCOMPLETE)]  # the attempt is on record


def test_revoked_rows_are_skipped(admin_client, admin_user, keys, key_checks):
    anthropic, _ = keys["anthropic"]
    credential_revoke(credential=anthropic, actor=Actor.of_user(admin_user))
    response = reverify(admin_client, anthropic)
    assert messages_of(response) == []
    assert key_checks.checked == []
    assert checks_recorded() == []


def staff(client, *codenames: str):
    """Sign in a staff user who holds only these permissions."""
    user = get_user_model().objects.create_user(username="staff", email="staff@example.com", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return client


@pytest.fixture
def viewer(db, client):
    """A staff user who may view credentials but not change them."""
    return staff(client, "view_tenantmodelcredential")


def test_staff_without_change_permission_cannot_run_it(viewer, keys, key_checks):
    anthropic, _ = keys["anthropic"]
    html = viewer.get(CREDENTIALS).content.decode()
    assert anthropic.key_hint in html
    assert 'value="reverify"' not in html
    response = reverify(viewer, anthropic)
    assert response.status_code == 200
    assert key_checks.checked == []
    assert checks_recorded() == []
    anthropic.refresh_from_db()
    assert anthropic.validated_at is None


def test_staff_with_change_permission_can_run_it(db, client, keys, key_checks):
    operator = staff(client, "view_tenantmodelcredential", "change_tenantmodelcredential")
    anthropic, _ = keys["anthropic"]
    assert 'value="reverify"' in operator.get(CREDENTIALS).content.decode()
    reverify(operator, anthropic)
    assert checks_recorded() == [("anthropic", EventKind.VALIDATED)]
    assert CredentialEvent.objects.get(kind=EventKind.VALIDATED).actor == "staff@example.com"
