"""offboard_tenant: nothing is served for an offboarded tenant, nobody reaches it, and the record stays."""

from __future__ import annotations

import json

import pytest
from django.core.management.base import CommandError
from django.urls import reverse

from credentials.models import CredentialEvent, EventKind, Status, TenantModelCredential
from routing.models import ServiceToken, ServiceTokenEvent, TokenEventKind
from routing.tokens import token_create
from tenants.models import Invitation, Membership, Role, Tenant
from tenants.services import invitation_create
from tests.web import join

URL = reverse("api-resolve")


def resolve_over_http(client, token: str, slug: str):
    return client.post(
        URL,
        data=json.dumps({"tenant": slug}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


@pytest.fixture
def acme_in_use(tenant, make_tenant, store_key):
    """acme with two keys, two people, a pending invitation, and tokens: one for acme alone, one shared."""
    store_key(tenant, "anthropic")
    store_key(tenant, "openrouter")
    join(tenant, Role.OWNER, "owner@acme.example")
    join(tenant, Role.MEMBER, "member@acme.example")
    invitation_create(tenant=tenant, email="new@acme.example", role=Role.MEMBER)
    globex = make_tenant("globex")
    store_key(globex, "anthropic")
    alone = token_create(name="acme-only", tenants=[tenant]).token
    shared = token_create(name="shared", tenants=[tenant, globex]).token
    return {"alone": alone, "shared": shared, "globex": globex}


def test_offboarding_is_refused_while_keys_are_active_and_changes_nothing(tenant, acme_in_use, run_command):
    with pytest.raises(CommandError) as excinfo:
        run_command("offboard_tenant", "acme")

    assert "still has 2 active key(s)" in str(excinfo.value)
    assert "--revoke-keys" in str(excinfo.value)
    tenant.refresh_from_db()
    assert tenant.is_active
    assert TenantModelCredential.objects.filter(tenant=tenant, status=Status.ACTIVE).count() == 2
    assert Membership.objects.filter(tenant=tenant).count() == 2


def test_offboarding_revokes_keys_scopes_and_memberships_and_keeps_the_record(client, tenant, acme_in_use, run_command):
    out, _ = run_command("offboard_tenant", "acme", "--revoke-keys")

    assert "Tenant acme is offboarded; its audit trail is kept." in out
    tenant.refresh_from_db()
    assert not tenant.is_active
    assert not TenantModelCredential.objects.filter(tenant=tenant, status=Status.ACTIVE).exists()
    revoked = CredentialEvent.objects.filter(tenant=tenant, kind=EventKind.REVOKED, actor="command:offboard_tenant")
    assert revoked.count() == 2
    assert not Membership.objects.filter(tenant=tenant).exists()
    assert not Invitation.objects.filter(tenant=tenant).pending().exists()
    assert Tenant.objects.filter(pk=tenant.pk).exists()  # nothing deleted
    # The token for acme alone is revoked; the shared one keeps globex only.
    alone, shared = ServiceToken.objects.get(name="acme-only"), ServiceToken.objects.get(name="shared")
    assert alone.revoked_at is not None
    assert shared.revoked_at is None
    assert list(shared.tenants.values_list("slug", flat=True)) == ["globex"]
    removed = ServiceTokenEvent.objects.filter(kind=TokenEventKind.TENANT_REMOVED, tenant=tenant)
    assert sorted(removed.values_list("token__name", flat=True)) == ["acme-only", "shared"]
    # Over HTTP: acme answers nobody; globex still answers the shared token.
    assert resolve_over_http(client, acme_in_use["alone"], "acme").status_code == 401
    assert resolve_over_http(client, acme_in_use["shared"], "acme").json()["error"] == "forbidden_tenant"


def test_offboarding_again_says_there_is_nothing_to_do(tenant, acme_in_use, run_command):
    run_command("offboard_tenant", "acme", "--revoke-keys")
    events = CredentialEvent.objects.count(), ServiceTokenEvent.objects.count()

    out, _ = run_command("offboard_tenant", "acme")

    assert "Tenant acme is already offboarded; nothing to do." in out
    assert (CredentialEvent.objects.count(), ServiceTokenEvent.objects.count()) == events
