"""Selectors: the prepared hot-path query returns exactly what the ORM would."""

import dataclasses
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from credentials import selectors
from credentials.kms.local import generate_key
from credentials.memo import BoundedMemo
from credentials.models import TenantModelCredential
from credentials.selectors import ActiveKey, active_key, active_keys
from credentials.services import Actor, credential_open, credential_revoke
from tests.fakes.providers import anthropic_key


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


# --- The memo of ActiveKeys: the same row read again is the same record; a changed row never is.


def test_the_same_row_read_again_is_the_same_immutable_active_key(tenant, store_key):
    store_key(tenant, "anthropic")
    first = active_keys(tenant_id=tenant.pk)["anthropic"]
    again = active_keys(tenant_id=tenant.pk)["anthropic"]
    assert again is first
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.needs_rewrap = True  # type: ignore[misc]


def test_a_row_changed_in_any_column_is_read_as_it_now_is(tenant, store_key):
    stored = store_key(tenant, "anthropic")
    before = active_keys(tenant_id=tenant.pk)["anthropic"]

    TenantModelCredential.objects.filter(pk=stored.pk).update(needs_rewrap=True)
    flagged = active_keys(tenant_id=tenant.pk)["anthropic"]
    assert (before.needs_rewrap, flagged.needs_rewrap) == (False, True)

    TenantModelCredential.objects.filter(pk=stored.pk).update(wrapped_dek=b"other wrapped key")
    assert bytes(active_keys(tenant_id=tenant.pk)["anthropic"].wrapped_dek) == b"other wrapped key"

    new_key = anthropic_key()
    replacement = store_key(tenant, "anthropic", new_key)  # revokes `stored`
    replaced = active_keys(tenant_id=tenant.pk)["anthropic"]
    assert replaced.id == replacement.pk != stored.pk
    assert credential_open(replaced).reveal() == new_key


def test_the_same_values_under_another_tenant_are_another_active_key(tenant, store_key):
    store_key(tenant, "anthropic")
    selected = selectors.active_key_columns(connection, alias="c")
    sql = f"SELECT {selected.sql} FROM tenant_model_credential c WHERE c.tenant_id = %s"  # noqa: S608 - a test's own
    with connection.cursor() as cursor:
        cursor.execute(sql, [TenantModelCredential._meta.get_field("tenant").get_db_prep_value(tenant.pk, connection)])
        (row,) = cursor.fetchall()

    other = uuid.uuid4()
    mine = active_key(connection, selected, tuple(row), tenant_id=tenant.pk)
    theirs = active_key(connection, selected, tuple(row), tenant_id=other)
    assert (mine.tenant_id, theirs.tenant_id) == (tenant.pk, other)
    assert active_key(connection, selected, tuple(row), tenant_id=tenant.pk) is mine


def test_the_memo_is_bounded_and_keeps_answering_right(tenant, make_tenant, store_key, monkeypatch):
    monkeypatch.setattr(selectors, "_active_key_memo", BoundedMemo(2))
    tenants = [tenant, make_tenant("globex"), make_tenant("initech")]
    stored = {owner.pk: store_key(owner, "anthropic") for owner in tenants}

    for _ in range(2):
        for owner in tenants:
            key = active_keys(tenant_id=owner.pk)["anthropic"]
            assert (key.id, key.tenant_id) == (stored[owner.pk].pk, owner.pk)
            assert len(selectors._active_key_memo) <= 2


def test_opening_an_active_key_under_an_old_kek_flags_its_row_for_the_next_read(tenant, store_key, settings):
    old, new = generate_key(), generate_key()
    local = "credentials.kms.local.LocalKmsBackend"
    settings.SINATRA_KMS_BACKENDS = [{"BACKEND": local, "OPTIONS": {"key": old, "old_keys": []}}]
    plaintext = anthropic_key()
    stored = store_key(tenant, "anthropic", plaintext)
    settings.SINATRA_KMS_BACKENDS = [{"BACKEND": local, "OPTIONS": {"key": new, "old_keys": [old]}}]

    key = active_keys(tenant_id=tenant.pk)["anthropic"]
    assert credential_open(key).reveal() == plaintext

    assert key.needs_rewrap is False  # the record read before the flag stays as it was read
    assert TenantModelCredential.objects.get(pk=stored.pk).needs_rewrap is True
    assert active_keys(tenant_id=tenant.pk)["anthropic"].needs_rewrap is True
