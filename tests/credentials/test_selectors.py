"""Selectors: the prepared hot-path query returns exactly what the ORM would."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from credentials.models import TenantModelCredential
from credentials.selectors import ActiveKey, active_keys
from credentials.services import Actor, credential_revoke


def test_active_keys_match_the_orm_field_by_field(tenant, store_key):
    anthropic = store_key(tenant, "anthropic")
    store_key(tenant, "openrouter")
    TenantModelCredential.objects.filter(pk=anthropic.pk).update(needs_rewrap=True)

    keys = active_keys(tenant_id=tenant.pk)

    assert set(keys) == {"anthropic", "openrouter"}
    for provider, key in keys.items():
        row = TenantModelCredential.objects.get(tenant=tenant, provider=provider, status="active")
        assert isinstance(key, ActiveKey)
        assert key.pk == key.id == row.id
        assert key.tenant_id == row.tenant_id
        for name in ("provider", "key_hint", "kek_id", "envelope_version", "needs_rewrap"):
            assert getattr(key, name) == getattr(row, name), name
        assert bytes(key.wrapped_dek) == bytes(row.wrapped_dek)
        assert bytes(key.ciphertext) == bytes(row.ciphertext)
    assert keys["anthropic"].needs_rewrap is True
    assert keys["openrouter"].needs_rewrap is False


def test_active_keys_leave_out_revoked_rows_and_other_tenants(tenant, make_tenant, store_key):
    credential_revoke(credential=store_key(tenant, "anthropic"), actor=Actor.command("test"))
    store_key(make_tenant("globex"), "anthropic")
    assert active_keys(tenant_id=tenant.pk) == {}


def test_active_keys_is_one_query(tenant, store_key):
    store_key(tenant, "anthropic")
    active_keys(tenant_id=tenant.pk)
    with CaptureQueriesContext(connection) as queries:
        active_keys(tenant_id=tenant.pk)
    assert len(queries) == 1
    assert "tenant_model_credential" in queries[0]["sql"]
