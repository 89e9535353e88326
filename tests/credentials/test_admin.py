"""Operators' admin for credentials and events: hints and provenance, never bytes or keys."""

import base64

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from credentials.models import CredentialEvent, Status, TenantModelCredential
from tests.fakes.providers import anthropic_key, openrouter_key

CREDENTIALS = reverse("admin:credentials_tenantmodelcredential_changelist")
EVENTS = reverse("admin:credentials_credentialevent_changelist")


def credential_url(credential: TenantModelCredential) -> str:
    return reverse("admin:credentials_tenantmodelcredential_change", args=[credential.pk])


def event_url(event: CredentialEvent) -> str:
    return reverse("admin:credentials_credentialevent_change", args=[event.pk])


def forms_of(data: bytes) -> list[str]:
    """Every way a page could spell stored bytes: hex, base64 and their variants."""
    return [
        data.hex(),
        data.hex().upper(),
        data.hex(" "),
        base64.b64encode(data).decode(),
        base64.urlsafe_b64encode(data).decode(),
        base64.b64encode(data).decode().rstrip("="),
        repr(data),
    ]


def assert_shows_no_secret(html: str, key: str, credential: TenantModelCredential) -> None:
    assert key not in html
    assert key[len("sk-ant-api03-") :][:20] not in html
    for data in (bytes(credential.ciphertext), bytes(credential.wrapped_dek)):
        for spelled in forms_of(data):
            assert spelled not in html
        # A 16-byte run from anywhere in the bytes, hex or base64, would do as well.
        assert data[12:28].hex() not in html
    assert "memory at 0x" not in html
    assert "wrapped_dek" not in html
    assert "ciphertext" not in html.lower()


@pytest.fixture
def stored(tenant, store_key):
    key = anthropic_key()
    return store_key(tenant, "anthropic", key), key


def test_credential_changelist_shows_hint_status_and_kek_never_the_secret(admin_client, stored):
    credential, key = stored
    response = admin_client.get(CREDENTIALS)
    assert response.status_code == 200
    html = response.content.decode()
    assert credential.key_hint in html
    assert "Active" in html
    assert credential.kek_id in html
    assert "acme" in html
    assert_shows_no_secret(html, key, credential)


def test_credential_change_page_shows_hint_status_and_kek_never_the_secret(admin_client, stored):
    credential, key = stored
    response = admin_client.get(credential_url(credential))
    assert response.status_code == 200
    html = response.content.decode()
    assert credential.key_hint in html
    assert credential.kek_id in html
    assert "command:test" in html
    assert "Created" in html  # the events inline
    assert_shows_no_secret(html, key, credential)


def test_event_pages_show_what_happened_never_the_secret(admin_client, tenant, store_key):
    first_key = anthropic_key()
    first = store_key(tenant, "anthropic", first_key)
    second_key = anthropic_key()
    second = store_key(tenant, "anthropic", second_key)
    response = admin_client.get(EVENTS)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Replaced" in html
    assert "Created" in html
    assert f"replaces {first.key_hint}" in html
    first.refresh_from_db()
    for key, credential in [(first_key, first), (second_key, second)]:
        assert_shows_no_secret(html, key, credential)
    for event in CredentialEvent.objects.all():
        response = admin_client.get(event_url(event))
        assert response.status_code == 200
        html = response.content.decode()
        assert event.actor in html
        for key, credential in [(first_key, first), (second_key, second)]:
            assert_shows_no_secret(html, key, credential)


def test_credentials_and_events_cannot_be_added_changed_or_deleted(admin_client, stored):
    credential, _ = stored
    event = CredentialEvent.objects.get()
    assert admin_client.get(reverse("admin:credentials_tenantmodelcredential_add")).status_code == 403
    assert admin_client.get(reverse("admin:credentials_credentialevent_add")).status_code == 403
    delete = reverse("admin:credentials_tenantmodelcredential_delete", args=[credential.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    delete = reverse("admin:credentials_credentialevent_delete", args=[event.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    response = admin_client.post(credential_url(credential), {"status": "revoked", "key_hint": "edited"})
    assert response.status_code == 403
    credential.refresh_from_db()
    assert (credential.status, credential.key_hint) != ("revoked", "edited")
    assert TenantModelCredential.objects.count() == 1
    assert CredentialEvent.objects.count() == 1


def test_the_only_bulk_action_is_revoke(admin_client, stored):
    html = admin_client.get(CREDENTIALS).content.decode()
    assert 'value="revoke"' in html
    assert 'value="delete_selected"' not in html
    assert 'value="delete_selected"' not in admin_client.get(EVENTS).content.decode()


def test_revoke_action_revokes_through_the_service_and_writes_an_event(admin_client, admin_user, stored, store_key):
    credential, _ = stored
    other = store_key(credential.tenant, "openrouter")
    response = admin_client.post(
        CREDENTIALS, {"action": "revoke", "_selected_action": [str(credential.pk)]}, follow=True
    )
    assert response.status_code == 200
    assert "Revoked 1 credential(s)." in response.content.decode()
    credential.refresh_from_db()
    assert credential.status == Status.REVOKED
    assert credential.revoked_at is not None
    event = CredentialEvent.objects.get(kind="revoked")
    assert event.credential == credential
    assert event.actor_user == admin_user
    assert event.actor == admin_user.email
    other.refresh_from_db()
    assert other.status == Status.ACTIVE


def test_revoke_action_on_a_revoked_row_changes_nothing(admin_client, stored):
    credential, _ = stored
    admin_client.post(CREDENTIALS, {"action": "revoke", "_selected_action": [str(credential.pk)]})
    response = admin_client.post(
        CREDENTIALS, {"action": "revoke", "_selected_action": [str(credential.pk)]}, follow=True
    )
    assert "Revoked 0 credential(s)." in response.content.decode()
    assert CredentialEvent.objects.filter(kind="revoked").count() == 1


@pytest.fixture
def viewer(db, client):
    """A staff user who may view credentials but not change them."""
    user = get_user_model().objects.create_user(username="viewer", email="viewer@example.com", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(codename="view_tenantmodelcredential"),
        Permission.objects.get(codename="view_credentialevent"),
    )
    client.force_login(user)
    return client


def test_staff_without_permission_cannot_revoke(viewer, stored):
    credential, key = stored
    response = viewer.get(CREDENTIALS)
    assert response.status_code == 200
    html = response.content.decode()
    assert credential.key_hint in html
    assert 'value="revoke"' not in html
    assert_shows_no_secret(html, key, credential)

    viewer.post(CREDENTIALS, {"action": "revoke", "_selected_action": [str(credential.pk)]})
    credential.refresh_from_db()
    assert credential.status == Status.ACTIVE
    assert not CredentialEvent.objects.filter(kind="revoked").exists()


def test_staff_without_any_permission_sees_nothing(db, client, stored):
    user = get_user_model().objects.create_user(username="staff", is_staff=True)
    client.force_login(user)
    assert client.get(CREDENTIALS).status_code == 403
    assert client.get(EVENTS).status_code == 403
    credential, _ = stored
    client.post(CREDENTIALS, {"action": "revoke", "_selected_action": [str(credential.pk)]})
    credential.refresh_from_db()
    assert credential.status == Status.ACTIVE


@pytest.fixture
def two_tenants(tenant, make_tenant, store_key):
    """acme: an active Anthropic key and a revoked one; globex: an active OpenRouter key."""
    revoked = store_key(tenant, "anthropic")
    active = store_key(tenant, "anthropic")
    elsewhere = store_key(make_tenant("globex"), "openrouter", openrouter_key())
    revoked.refresh_from_db()
    return revoked, active, elsewhere


def listed(client, url: str, **query) -> str:
    response = client.get(url, query)
    assert response.status_code == 200
    return response.content.decode()


def test_credentials_search_by_tenant_slug(admin_client, two_tenants):
    revoked, active, elsewhere = two_tenants
    html = listed(admin_client, CREDENTIALS, q="globex")
    assert elsewhere.key_hint in html
    assert active.key_hint not in html
    html = listed(admin_client, CREDENTIALS, q="acme")
    assert active.key_hint in html
    assert revoked.key_hint in html
    assert elsewhere.key_hint not in html


def test_credentials_search_by_id_and_hint(admin_client, two_tenants):
    _, active, elsewhere = two_tenants
    html = listed(admin_client, CREDENTIALS, q=str(elsewhere.pk))
    assert elsewhere.key_hint in html
    assert active.key_hint not in html
    html = listed(admin_client, CREDENTIALS, q=active.key_hint[-4:])
    assert active.key_hint in html


def test_credentials_filter_by_provider_and_status(admin_client, two_tenants):
    revoked, active, elsewhere = two_tenants
    html = listed(admin_client, CREDENTIALS, provider__exact="openrouter")
    assert elsewhere.key_hint in html
    assert active.key_hint not in html
    html = listed(admin_client, CREDENTIALS, status__exact="revoked")
    assert revoked.key_hint in html
    assert active.key_hint not in html
    assert elsewhere.key_hint not in html
    html = listed(admin_client, CREDENTIALS, status__exact="active", provider__exact="anthropic")
    assert active.key_hint in html
    assert revoked.key_hint not in html
    assert elsewhere.key_hint not in html


def test_events_search_by_tenant_and_filter_by_kind(admin_client, two_tenants):
    _, active, elsewhere = two_tenants
    html = listed(admin_client, EVENTS, q="globex")
    assert str(elsewhere) in html
    assert str(active) not in html
    html = listed(admin_client, EVENTS, kind__exact="replaced")
    assert f"replaced by {active.key_hint}" in html
    assert str(elsewhere) not in html


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return len(context.captured_queries)


@pytest.mark.parametrize("url", [CREDENTIALS, EVENTS], ids=["credentials", "events"])
def test_changelists_run_a_constant_number_of_queries(admin_client, make_tenant, store_key, url):
    store_key(make_tenant("tenant-0"), "anthropic")
    admin_client.get(url)  # warm the session and content types
    one_row = queries_for(admin_client, url)
    for index in range(1, 10):
        owner = make_tenant(f"tenant-{index}")
        store_key(owner, "anthropic")
        store_key(owner, "openrouter")
    assert queries_for(admin_client, url) == one_row


def test_credential_change_page_runs_a_constant_number_of_queries_as_events_grow(admin_client, tenant, store_key):
    credential = store_key(tenant, "anthropic")
    url = credential_url(credential)
    admin_client.get(url)
    few_events = queries_for(admin_client, url)
    for _ in range(10):
        CredentialEvent.objects.create(credential=credential, tenant=tenant, kind="validated", actor="command:test")
    assert queries_for(admin_client, url) == few_events


# --- Changelists of tables that only grow


def add_tenants_with_keys(make_tenant, store_key, numbers: range) -> None:
    """A tenant per number, each with a revoked and an active key (rows and events in both lists)."""
    for number in numbers:
        tenant = make_tenant(f"tenant-{number}")
        store_key(tenant, "anthropic")
        store_key(tenant, "anthropic")


@pytest.mark.parametrize("url", [CREDENTIALS, EVENTS], ids=["credentials", "events"])
def test_a_filtered_list_counts_its_matches_not_the_whole_table(admin_client, make_tenant, store_key, url):
    add_tenants_with_keys(make_tenant, store_key, range(3))
    with CaptureQueriesContext(connection) as context:
        response = admin_client.get(url, {"q": "tenant-1"})
    assert response.status_code == 200
    counts = [query["sql"] for query in context.captured_queries if "COUNT(" in query["sql"].upper()]
    assert len(counts) == 1
    assert " WHERE " in counts[0].upper()  # the matches, never the whole table as well
