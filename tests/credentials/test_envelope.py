"""Envelope v1: round trip, tamper evidence, binding to tenant, provider and row."""

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credentials.envelope import (
    ENVELOPE_VERSION,
    EnvelopeError,
    data_aad,
    dek_cache,
    open_sealed,
    seal,
)
from credentials.kms import Keyring, KmsError, UnknownKek
from credentials.kms.local import LocalKmsBackend, generate_key
from credentials.models import TenantModelCredential
from providers.secret import Secret
from tests.fakes.providers import anthropic_key


class Row:
    """A stand-in for a stored row, so the envelope can be tested without a database."""

    def __init__(self, *, tenant_id, provider, credential_id, sealed):
        self.id = credential_id
        self.tenant_id = tenant_id
        self.provider = provider
        self.kek_id = sealed.kek_id
        self.wrapped_dek = sealed.wrapped_dek
        self.ciphertext = sealed.ciphertext
        self.envelope_version = sealed.envelope_version


@pytest.fixture
def keyring():
    return Keyring([LocalKmsBackend(key=generate_key())])


def sealed_row(keyring, key="sk-ant-api03-" + "x" * 40, provider="anthropic"):
    tenant_id, credential_id = uuid.uuid4(), uuid.uuid4()
    sealed = seal(Secret(key), tenant_id=tenant_id, provider=provider, credential_id=credential_id, keyring=keyring)
    return Row(tenant_id=tenant_id, provider=provider, credential_id=credential_id, sealed=sealed)


def test_round_trip_returns_the_same_key(keyring):
    key = anthropic_key()
    row = sealed_row(keyring, key)
    assert open_sealed(row, keyring=keyring).secret.reveal() == key
    assert row.envelope_version == ENVELOPE_VERSION == 1


@settings(max_examples=50, deadline=None)
@given(key=st.text(min_size=1, max_size=512))
def test_round_trip_holds_for_any_text(key):
    keyring = Keyring([LocalKmsBackend(key=generate_key())])
    row = sealed_row(keyring, key)
    assert open_sealed(row, use_cache=False, keyring=keyring).secret.reveal() == key


def test_every_write_uses_a_fresh_data_key_and_nonce(keyring):
    first, second = sealed_row(keyring), sealed_row(keyring)
    assert first.wrapped_dek != second.wrapped_dek
    assert first.ciphertext[:12] != second.ciphertext[:12]


def test_ciphertext_layout_is_nonce_then_ciphertext_and_tag(keyring):
    key = "sk-ant-api03-" + "y" * 40
    row = sealed_row(keyring, key)
    assert len(row.ciphertext) == 12 + len(key.encode()) + 16
    assert len(row.wrapped_dek) == 12 + 32 + 16
    assert key.encode() not in row.ciphertext


def test_data_aad_is_the_documented_bytes():
    tenant_id = uuid.UUID("11111111-2222-3333-4444-555555555555")
    credential_id = uuid.UUID("66666666-7777-8888-9999-000000000000")
    assert data_aad(tenant_id=tenant_id, provider="openrouter", credential_id=credential_id) == (
        b"sinatra-credential:v1|11111111-2222-3333-4444-555555555555|openrouter|66666666-7777-8888-9999-000000000000"
    )


@pytest.mark.parametrize("field", ["wrapped_dek", "ciphertext"])
def test_every_single_byte_change_is_rejected(keyring, field):
    row = sealed_row(keyring)
    original = bytes(getattr(row, field))
    for index in range(len(original)):
        for flip in (0x01, 0x80, 0xFF):
            tampered = bytearray(original)
            tampered[index] ^= flip
            setattr(row, field, bytes(tampered))
            with pytest.raises(KmsError):
                open_sealed(row, use_cache=False, keyring=keyring)
    setattr(row, field, original)
    assert open_sealed(row, use_cache=False, keyring=keyring).secret.reveal().startswith("sk-ant-api03-")


@pytest.mark.parametrize("field", ["wrapped_dek", "ciphertext"])
def test_truncated_or_extended_bytes_are_rejected(keyring, field):
    row = sealed_row(keyring)
    original = bytes(getattr(row, field))
    for changed in (original[:-1], original + b"\x00", b"", original[:11]):
        setattr(row, field, changed)
        with pytest.raises(KmsError):
            open_sealed(row, use_cache=False, keyring=keyring)


def test_ciphertext_moved_to_another_tenant_never_decrypts(keyring):
    row = sealed_row(keyring)
    row.tenant_id = uuid.uuid4()
    with pytest.raises(KmsError):
        open_sealed(row, use_cache=False, keyring=keyring)


def test_ciphertext_moved_to_another_provider_slot_never_decrypts(keyring):
    row = sealed_row(keyring)
    row.provider = "openrouter"
    with pytest.raises(EnvelopeError):
        open_sealed(row, use_cache=False, keyring=keyring)


def test_ciphertext_moved_to_another_row_never_decrypts(keyring):
    row = sealed_row(keyring)
    row.id = uuid.uuid4()
    with pytest.raises(EnvelopeError):
        open_sealed(row, use_cache=False, keyring=keyring)


def test_ciphertext_swapped_between_rows_of_one_tenant_never_decrypts(keyring):
    first, second = sealed_row(keyring), sealed_row(keyring)
    second.tenant_id = first.tenant_id
    second.wrapped_dek, second.ciphertext = first.wrapped_dek, first.ciphertext
    with pytest.raises(EnvelopeError):
        open_sealed(second, use_cache=False, keyring=keyring)


def test_unknown_envelope_version_is_a_clear_error(keyring):
    row = sealed_row(keyring)
    row.envelope_version = 2
    with pytest.raises(EnvelopeError, match="envelope_version 2"):
        open_sealed(row, keyring=keyring)


@pytest.mark.parametrize(
    "kek_id", ["local:0000000000000000", "gcp-kms:projects/p/locations/l/keyRings/r/cryptoKeys/k", "vault:x"]
)
def test_unknown_kek_id_is_a_clear_error(keyring, kek_id):
    row = sealed_row(keyring)
    row.kek_id = kek_id
    with pytest.raises(UnknownKek, match=kek_id.split("/")[0]):
        open_sealed(row, keyring=keyring)


def test_a_row_wrapped_by_another_local_key_needs_that_key(keyring):
    row = sealed_row(keyring)
    other = Keyring([LocalKmsBackend(key=generate_key())])
    with pytest.raises(UnknownKek, match="SINATRA_LOCAL_DEV_KMS_OLD_KEYS"):
        open_sealed(row, keyring=other)


def test_errors_never_contain_the_key(keyring):
    key = anthropic_key("CANARY")
    row = sealed_row(keyring, key)
    row.ciphertext = row.ciphertext[:-1] + bytes([row.ciphertext[-1] ^ 1])
    with pytest.raises(EnvelopeError) as excinfo:
        open_sealed(row, use_cache=False, keyring=keyring)
    assert key not in str(excinfo.value)
    assert "CANARY" not in repr(excinfo.value)


def test_stored_rows_decrypt_and_are_bound_to_their_tenant(db, tenant, make_tenant, store_key):
    key = anthropic_key()
    credential = store_key(tenant, "anthropic", key)
    fresh = TenantModelCredential.objects.get(pk=credential.pk)
    assert open_sealed(fresh, use_cache=False).secret.reveal() == key

    other = make_tenant("globex")
    TenantModelCredential.objects.filter(pk=credential.pk).update(tenant=other, status="revoked")
    moved = TenantModelCredential.objects.get(pk=credential.pk)
    with pytest.raises(KmsError):
        open_sealed(moved, use_cache=False)


# --- The DEK cache: bounded in count (SINATRA_DEK_CACHE_ENTRIES) and age (SINATRA_DEK_CACHE_SECONDS)


class CountingKeyring(Keyring):
    """A keyring that counts the KMS calls made to unwrap data keys."""

    def __init__(self) -> None:
        super().__init__([LocalKmsBackend(key=generate_key())])
        self.unwraps = 0

    def unwrap(self, wrapped: bytes, *, kek_id: str, aad: bytes):
        self.unwraps += 1
        return super().unwrap(wrapped, kek_id=kek_id, aad=aad)


def test_a_worker_serving_ten_thousand_credentials_unwraps_each_data_key_once():
    keyring = CountingKeyring()
    rows = [sealed_row(keyring) for _ in range(10_000)]
    for _ in range(2):  # round-robin, twice: the second pass is served from the cache
        for row in rows:
            open_sealed(row, keyring=keyring)
    assert keyring.unwraps == len(rows)
    assert len(dek_cache) == len(rows)


def test_the_dek_cache_holds_at_most_the_configured_number_of_keys_dropping_the_least_recently_used(settings):
    settings.SINATRA_DEK_CACHE_ENTRIES = 3
    keyring = CountingKeyring()
    first, second, third, fourth = (sealed_row(keyring) for _ in range(4))
    for row in (first, second, third):
        open_sealed(row, keyring=keyring)
    open_sealed(first, keyring=keyring)  # first is now the most recently used
    open_sealed(fourth, keyring=keyring)  # ... so second goes
    assert len(dek_cache) == 3
    assert keyring.unwraps == 4

    for row in (first, third, fourth):
        open_sealed(row, keyring=keyring)
    assert keyring.unwraps == 4
    open_sealed(second, keyring=keyring)
    assert keyring.unwraps == 5
    assert len(dek_cache) == 3


def test_a_cached_data_key_expires_after_the_configured_seconds(settings, monkeypatch):
    settings.SINATRA_DEK_CACHE_SECONDS = 300
    keyring = CountingKeyring()
    row = sealed_row(keyring)
    now = [1000.0]
    monkeypatch.setattr("credentials.envelope.time.monotonic", lambda: now[0])
    open_sealed(row, keyring=keyring)
    now[0] += 299
    open_sealed(row, keyring=keyring)
    assert keyring.unwraps == 1
    now[0] += 2
    open_sealed(row, keyring=keyring)
    assert keyring.unwraps == 2


def test_a_dek_cache_seconds_of_zero_caches_nothing(settings):
    settings.SINATRA_DEK_CACHE_SECONDS = 0
    keyring = CountingKeyring()
    row = sealed_row(keyring)
    for _ in range(3):
        open_sealed(row, keyring=keyring)
    assert keyring.unwraps == 3
    assert len(dek_cache) == 0
