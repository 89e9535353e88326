"""Cloud KMS backend, end to end: the real google-cloud-kms client (REST) against a fake server.

Every test here drives `credentials.kms.cloud.CloudKmsBackend` through the services and the
management commands, with `SINATRA_KMS_BACKENDS` pointed at `tests.fakes.cloud_kms`, which
serves the Cloud KMS REST API on 127.0.0.1. Nothing reaches the internet.
"""

from __future__ import annotations

import json
import logging
import socket
from collections import Counter

import pytest
from django.conf import settings as django_settings
from django.core.management.base import CommandError
from google.api_core import exceptions as google_exceptions
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import kms

from credentials.kms import KmsError, KmsIntegrityError, KmsUnavailable, UnknownKek
from credentials.kms.cloud import crc32c
from credentials.models import CredentialEvent, EventKind, TenantModelCredential
from credentials.services import Actor, credential_create, credential_open
from providers.secret import Secret
from tests.fakes.cloud_kms import FakeCloudKms, b64decode
from tests.fakes.providers import anthropic_key

KEY_NAME = "projects/sinatra-test/locations/europe-west1/keyRings/sinatra/cryptoKeys/credentials"
VERSION_1 = f"{KEY_NAME}/cryptoKeyVersions/1"
VERSION_2 = f"{KEY_NAME}/cryptoKeyVersions/2"
KEK_ID = f"gcp-kms:{KEY_NAME}"
# Small, so that a KMS that keeps answering 503 costs a test about half a second.
TIMEOUT = 0.5
INTEGRITY_ATTEMPTS = 3
FOREVER = 10_000  # more failures than any retry budget uses up


def cloud_backend(endpoint: str, **options) -> dict:
    """Return a SINATRA_KMS_BACKENDS entry for Cloud KMS at `endpoint`."""
    return {
        "BACKEND": "credentials.kms.cloud.CloudKmsBackend",
        "OPTIONS": {
            "key_name": KEY_NAME,
            "endpoint": endpoint,
            "timeout": TIMEOUT,
            "integrity_attempts": INTEGRITY_ATTEMPTS,
            **options,
        },
    }


@pytest.fixture
def fake_kms():
    with FakeCloudKms() as fake:
        fake.create_key(KEY_NAME)
        yield fake


@pytest.fixture
def cloud_kms(fake_kms, settings):
    """Cloud KMS (the fake) is the only KMS backend."""
    settings.SINATRA_KMS_BACKENDS = [cloud_backend(fake_kms.url)]
    return fake_kms


@pytest.fixture
def closed_endpoint():
    """An http:// endpoint on which nothing listens: the port is bound but refuses connections."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def store(tenant, key: str | None = None) -> TenantModelCredential:
    """Store an Anthropic key for `tenant` through the service; it replaces the active one."""
    secret = Secret(key or anthropic_key())
    return credential_create(tenant=tenant, provider="anthropic", secret=secret, actor=Actor.command("test")).credential


def reload(credential: TenantModelCredential) -> TenantModelCredential:
    return TenantModelCredential.objects.get(pk=credential.pk)


def snapshot() -> dict:
    """Return what rewrapping may change, for every row."""
    return {
        row.pk: (row.kek_id, row.kek_version, bytes(row.wrapped_dek), bytes(row.ciphertext), row.needs_rewrap)
        for row in TenantModelCredential.objects.all()
    }


def rewrapped_events() -> Counter:
    """Return how many `rewrapped` events each credential has."""
    return Counter(CredentialEvent.objects.filter(kind=EventKind.REWRAPPED).values_list("credential_id", flat=True))


def seed_args(slug: str = "acme") -> tuple[str, ...]:
    return ("seed_credential", "--tenant", slug, "--provider", "anthropic")


# --- Round trip


def test_credential_round_trips_through_cloud_kms_with_the_tenant_id_as_aad(tenant, cloud_kms):
    key = anthropic_key()
    credential = store(tenant, key)

    [encrypt] = cloud_kms.calls("encrypt")
    assert encrypt.status == 200
    assert encrypt.aad == str(tenant.id).encode("ascii")
    # The KMS wraps the 32-byte data key, never the API key itself.
    assert len(encrypt.field_bytes("plaintext")) == 32
    assert int(encrypt.body["plaintextCrc32c"]) == crc32c(encrypt.field_bytes("plaintext"))
    assert int(encrypt.body["additionalAuthenticatedDataCrc32c"]) == crc32c(encrypt.aad)
    assert encrypt.response["verifiedPlaintextCrc32c"] is True
    assert encrypt.response["verifiedAdditionalAuthenticatedDataCrc32c"] is True

    stored = reload(credential)
    assert stored.kek_id == KEK_ID
    assert stored.kek_version == encrypt.response["name"] == VERSION_1
    assert bytes(stored.wrapped_dek) == b64decode(encrypt.response["ciphertext"])
    assert key.encode() not in bytes(stored.ciphertext)

    assert credential_open(stored, use_cache=False).reveal() == key
    [decrypt] = cloud_kms.calls("decrypt")
    assert decrypt.status == 200
    assert decrypt.name == KEY_NAME
    assert decrypt.aad == str(tenant.id).encode("ascii")
    assert decrypt.field_bytes("ciphertext") == bytes(stored.wrapped_dek)
    assert int(decrypt.body["ciphertextCrc32c"]) == crc32c(bytes(stored.wrapped_dek))
    assert decrypt.response["usedPrimary"] is True
    assert reload(credential).needs_rewrap is False


def test_seed_credential_stores_the_key_under_cloud_kms(tenant, cloud_kms, run_command):
    key = anthropic_key()
    out, _ = run_command(*seed_args(), stdin=key + "\n")
    credential = TenantModelCredential.objects.get(tenant=tenant)
    assert f", {KEK_ID})." in out
    assert (credential.kek_id, credential.kek_version) == (KEK_ID, VERSION_1)
    assert credential_open(credential, use_cache=False).reveal() == key
    assert CredentialEvent.objects.get(credential=credential).kind == EventKind.CREATED
    # Writing needs only Encrypt (roles/cloudkms.cryptoKeyEncrypterDecrypter), never GetCryptoKey.
    assert cloud_kms.calls("get_crypto_key") == []


def test_every_credential_gets_its_own_data_key_from_cloud_kms(tenant, make_tenant, cloud_kms):
    first, second = store(tenant), store(make_tenant("globex"))
    plaintexts = [call.field_bytes("plaintext") for call in cloud_kms.calls("encrypt")]
    assert len(plaintexts) == 2
    assert plaintexts[0] != plaintexts[1]
    assert bytes(first.wrapped_dek) != bytes(second.wrapped_dek)


def test_opening_a_credential_again_uses_the_dek_cache_not_cloud_kms(tenant, cloud_kms):
    key = anthropic_key()
    credential = store(tenant, key)
    for _ in range(3):
        assert credential_open(reload(credential)).reveal() == key
    assert len(cloud_kms.calls("decrypt")) == 1


def test_the_fake_rejects_a_request_whose_crc32c_does_not_match_like_cloud_kms(fake_kms):
    """The fake checks request checksums, so the backend's verified flags above mean something."""
    client = kms.KeyManagementServiceClient(
        transport="rest",
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=fake_kms.url),
    )
    request = {"name": KEY_NAME, "plaintext": b"data key", "plaintext_crc32c": crc32c(b"data key") ^ 1}
    with pytest.raises(google_exceptions.BadRequest, match="plaintext_crc32c did not match"):
        client.encrypt(request=request, timeout=TIMEOUT)
    response = client.encrypt(request={"name": KEY_NAME, "plaintext": b"data key"}, timeout=TIMEOUT)
    # Without a checksum in the request, Cloud KMS says it verified nothing.
    assert response.verified_plaintext_crc32c is False


# --- Binding to the tenant


def test_wrapped_dek_moved_to_another_tenant_is_refused_by_cloud_kms(tenant, make_tenant, cloud_kms):
    credential = store(tenant)
    other = make_tenant("globex")
    TenantModelCredential.objects.filter(pk=credential.pk).update(tenant=other)

    with pytest.raises(KmsIntegrityError) as excinfo:
        credential_open(reload(credential), use_cache=False)

    message = str(excinfo.value)
    assert message.startswith(f"Cloud KMS refused to decrypt with {KEY_NAME}: Decryption failed")
    assert "another tenant" in message
    assert "http://" not in message  # the server's message, not api_core's "POST <url>: ..." wrapper
    [decrypt] = cloud_kms.calls("decrypt")
    assert decrypt.status == 400
    assert decrypt.response["error"]["status"] == "INVALID_ARGUMENT"
    assert decrypt.aad == str(other.id).encode("ascii")


def test_wrapped_dek_copied_onto_another_tenants_row_is_refused_by_cloud_kms(tenant, make_tenant, cloud_kms):
    victim = store(tenant)
    attacker = store(make_tenant("globex"))
    TenantModelCredential.objects.filter(pk=attacker.pk).update(wrapped_dek=bytes(victim.wrapped_dek))
    with pytest.raises(KmsIntegrityError, match="Decryption failed"):
        credential_open(reload(attacker), use_cache=False)


# --- CRC32C integrity


@pytest.mark.parametrize("how", ["data", "checksum", "verified_plaintext", "verified_aad"])
def test_encrypt_response_failing_integrity_is_retried_until_a_good_one(tenant, cloud_kms, how):
    key = anthropic_key()
    cloud_kms.corrupt_next("encrypt", INTEGRITY_ATTEMPTS - 1, how=how)

    credential = store(tenant, key)

    encrypts = cloud_kms.calls("encrypt")
    assert len(encrypts) == INTEGRITY_ATTEMPTS
    assert bytes(credential.wrapped_dek) == b64decode(encrypts[-1].response["ciphertext"])
    assert credential_open(reload(credential), use_cache=False).reveal() == key


@pytest.mark.parametrize("how", ["data", "checksum", "verified_plaintext", "verified_aad"])
def test_encrypt_response_failing_integrity_every_time_stores_nothing(tenant, cloud_kms, how, caplog):
    cloud_kms.corrupt_next("encrypt", INTEGRITY_ATTEMPTS, how=how)

    with (
        caplog.at_level(logging.WARNING, logger="credentials.kms.cloud"),
        pytest.raises(KmsIntegrityError, match=f"Encrypt failed its CRC32C check {INTEGRITY_ATTEMPTS} times"),
    ):
        store(tenant)

    assert len(cloud_kms.calls("encrypt")) == INTEGRITY_ATTEMPTS
    assert not TenantModelCredential.objects.exists()
    assert not CredentialEvent.objects.exists()
    assert len([r for r in caplog.records if "CRC32C" in r.getMessage()]) == INTEGRITY_ATTEMPTS


def test_seeding_when_encrypt_keeps_failing_integrity_is_a_one_line_error(tenant, cloud_kms, run_command):
    cloud_kms.corrupt_next("encrypt", INTEGRITY_ATTEMPTS, how="checksum")
    with pytest.raises(CommandError) as excinfo:
        run_command(*seed_args(), stdin=anthropic_key())
    assert "Cloud KMS Encrypt failed its CRC32C check" in str(excinfo.value)
    assert "\n" not in str(excinfo.value)
    assert not TenantModelCredential.objects.exists()
    assert not CredentialEvent.objects.exists()


@pytest.mark.parametrize("how", ["data", "checksum"])
def test_decrypt_response_failing_integrity_is_retried_until_a_good_one(tenant, cloud_kms, how):
    key = anthropic_key()
    credential = store(tenant, key)
    cloud_kms.corrupt_next("decrypt", INTEGRITY_ATTEMPTS - 1, how=how)

    assert credential_open(reload(credential), use_cache=False).reveal() == key
    assert len(cloud_kms.calls("decrypt")) == INTEGRITY_ATTEMPTS


@pytest.mark.parametrize("how", ["data", "checksum"])
def test_decrypt_response_failing_integrity_every_time_is_an_error_and_caches_nothing(tenant, cloud_kms, how):
    key = anthropic_key()
    credential = store(tenant, key)
    before = snapshot()
    cloud_kms.corrupt_next("decrypt", INTEGRITY_ATTEMPTS, how=how)

    with pytest.raises(KmsIntegrityError, match=f"Decrypt failed its CRC32C check {INTEGRITY_ATTEMPTS} times"):
        credential_open(reload(credential))

    assert len(cloud_kms.calls("decrypt")) == INTEGRITY_ATTEMPTS
    assert snapshot() == before
    # No damaged data key was cached: the next open asks Cloud KMS again, and gets the key.
    assert credential_open(reload(credential)).reveal() == key
    assert len(cloud_kms.calls("decrypt")) == INTEGRITY_ATTEMPTS + 1


def test_rewrap_when_decrypt_keeps_failing_integrity_leaves_the_row_as_it_was(tenant, cloud_kms, run_command):
    store(tenant)
    cloud_kms.rotate(KEY_NAME)
    before = snapshot()
    cloud_kms.corrupt_next("decrypt", INTEGRITY_ATTEMPTS)

    with pytest.raises(CommandError, match="1 of 1 credentials could not be rewrapped"):
        run_command("rewrap_credentials")

    assert snapshot() == before
    assert not rewrapped_events()
    assert len(cloud_kms.calls("encrypt")) == 1  # the original write; nothing was wrapped again


# --- Transient failures and error mapping


@pytest.mark.parametrize("status", [503, 504])
def test_transient_cloud_kms_errors_are_retried_within_the_timeout(tenant, cloud_kms, status):
    key = anthropic_key()
    cloud_kms.fail_next(2, status=status, rpc="encrypt")

    credential = store(tenant, key)

    assert [call.status for call in cloud_kms.calls("encrypt")] == [status, status, 200]
    assert credential_open(reload(credential), use_cache=False).reveal() == key


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (403, KmsError, "(PERMISSION_DENIED): check the key name and that the service account may use it"),
        (429, KmsUnavailable, "quota exhausted"),
        (500, KmsError, "(INTERNAL)"),
        (418, KmsError, "(UNKNOWN)"),
    ],
)
def test_other_cloud_kms_errors_are_kms_errors_that_say_what_happened(tenant, cloud_kms, status, error, words):
    cloud_kms.fail_next(1, status=status, rpc="encrypt")
    with pytest.raises(error) as excinfo:
        store(tenant)
    assert type(excinfo.value) is error
    assert words in str(excinfo.value)
    assert len(cloud_kms.calls("encrypt")) == 1  # not retried
    assert not TenantModelCredential.objects.exists()


def test_unknown_crypto_key_is_a_clear_error(tenant, fake_kms, settings):
    missing = KEY_NAME.replace("credentials", "missing")
    settings.SINATRA_KMS_BACKENDS = [cloud_backend(fake_kms.url, key_name=missing)]
    with pytest.raises(KmsError, match=f"Cloud KMS refused to encrypt with {missing} \\(NOT_FOUND\\)"):
        store(tenant)
    assert not TenantModelCredential.objects.exists()


def test_decrypting_under_a_disabled_key_version_is_a_clear_error(tenant, cloud_kms):
    credential = store(tenant)
    cloud_kms.rotate(KEY_NAME)
    cloud_kms.disable_version(VERSION_1)
    with pytest.raises(KmsError, match=r"\(FAILED_PRECONDITION\): .*cryptoKeyVersions/1 is not enabled") as excinfo:
        credential_open(reload(credential), use_cache=False)
    assert not isinstance(excinfo.value, KmsIntegrityError)


# --- Key rotation


def test_rotation_marks_old_rows_for_rewrap_and_rewrap_moves_every_row_to_the_primary(
    tenant, make_tenant, cloud_kms, run_command
):
    keys = [anthropic_key() for _ in range(3)]
    first = store(tenant, keys[0])
    second = store(tenant, keys[1])  # revokes `first`: revoked rows are rewrapped too
    third = store(make_tenant("globex"), keys[2])
    rows = [first, second, third]
    assert {reload(row).kek_version for row in rows} == {VERSION_1}

    assert cloud_kms.rotate(KEY_NAME) == VERSION_2
    assert credential_open(reload(second)).reveal() == keys[1]
    assert cloud_kms.calls("decrypt")[-1].response["usedPrimary"] is False
    assert reload(second).needs_rewrap is True

    out, _ = run_command("verify_credentials")
    assert "not under the primary key: run rewrap_credentials" in out

    cloud_kms.clear_log()
    out, _ = run_command("rewrap_credentials")
    assert f"Rewrapped 3 credentials to {VERSION_2}." in out

    for row in rows:
        fresh = reload(row)
        assert (fresh.kek_id, fresh.kek_version, fresh.needs_rewrap) == (KEK_ID, VERSION_2, False)
        assert bytes(fresh.wrapped_dek) != bytes(row.wrapped_dek)
        assert bytes(fresh.ciphertext) == bytes(row.ciphertext)  # only the data key was rewrapped
    assert rewrapped_events() == Counter({row.pk: 1 for row in rows})
    event = CredentialEvent.objects.get(kind=EventKind.REWRAPPED, credential=first)
    assert (event.actor, event.detail) == ("command:rewrap_credentials", f"from {VERSION_1} to {VERSION_2}")
    assert sorted(call.aad for call in cloud_kms.calls("encrypt")) == sorted(
        str(row.tenant_id).encode() for row in rows
    )

    # Every row now needs only the primary version: disabling version 1 breaks nothing.
    cloud_kms.disable_version(VERSION_1)
    for row, key in zip(rows, keys, strict=True):
        assert credential_open(reload(row), use_cache=False).reveal() == key
        assert cloud_kms.calls("decrypt")[-1].response["usedPrimary"] is True
        assert reload(row).needs_rewrap is False

    cloud_kms.clear_log()
    out, _ = run_command("rewrap_credentials")
    assert f"Every credential is already wrapped by {VERSION_2}; nothing to do." in out
    assert not cloud_kms.calls("encrypt")
    assert sum(rewrapped_events().values()) == 3


def test_rewrap_dry_run_says_what_it_would_do_and_changes_nothing(tenant, make_tenant, cloud_kms, run_command):
    store(tenant)
    store(make_tenant("globex"))
    cloud_kms.rotate(KEY_NAME)
    before = snapshot()
    cloud_kms.clear_log()

    out, _ = run_command("rewrap_credentials", "--dry-run")

    assert f"would rewrap 2 from {VERSION_1}" in out
    assert f"Dry run: 2 credentials would be rewrapped to {VERSION_2}; each opens with the configured keys." in out
    assert snapshot() == before
    assert not rewrapped_events()
    assert not cloud_kms.calls("encrypt")
    assert len(cloud_kms.calls("decrypt")) == 2  # each row really opened, through Cloud KMS


def test_rewrap_of_one_tenant_leaves_the_others_alone(tenant, make_tenant, cloud_kms, run_command):
    mine, theirs = store(tenant), store(make_tenant("globex"))
    cloud_kms.rotate(KEY_NAME)
    run_command("rewrap_credentials", "--tenant", "acme")
    assert reload(mine).kek_version == VERSION_2
    assert reload(theirs).kek_version == VERSION_1


# --- Migration from the local KMS to Cloud KMS


def test_migration_from_local_kms_to_cloud_kms(tenant, make_tenant, fake_kms, settings, run_command):
    local_backends = list(django_settings.SINATRA_KMS_BACKENDS)
    keys = [anthropic_key() for _ in range(3)]
    rows = [store(tenant, keys[0]), store(tenant, keys[1]), store(make_tenant("globex"), keys[2])]
    local_kek_ids = {reload(row).kek_id for row in rows}
    assert len(local_kek_ids) == 1
    assert local_kek_ids.pop().startswith("local:")
    assert not fake_kms.requests

    # Both configured, as sinatra/settings.py lists them: Cloud KMS wraps, the local key reads.
    settings.SINATRA_KMS_BACKENDS = [cloud_backend(fake_kms.url), *local_backends]
    for row, key in zip(rows, keys, strict=True):
        assert credential_open(reload(row), use_cache=False).reveal() == key
    assert not fake_kms.calls("decrypt")
    new = store(make_tenant("initech"))
    assert reload(new).kek_id == KEK_ID

    out, _ = run_command("rewrap_credentials")
    assert f"Rewrapped 3 credentials to {VERSION_1}." in out
    for row in rows:
        fresh = reload(row)
        assert (fresh.kek_id, fresh.kek_version) == (KEK_ID, VERSION_1)
    assert rewrapped_events() == Counter({row.pk: 1 for row in rows})
    assert sorted(call.aad for call in fake_kms.calls("encrypt")) == sorted(
        str(row.tenant_id).encode() for row in [*rows, new]
    )

    # The local key is no longer needed.
    settings.SINATRA_KMS_BACKENDS = [cloud_backend(fake_kms.url)]
    for row, key in zip(rows, keys, strict=True):
        assert credential_open(reload(row), use_cache=False).reveal() == key
    out, _ = run_command("rewrap_credentials")
    assert "nothing to do" in out


def test_local_rows_need_the_local_key_until_they_are_rewrapped(tenant, fake_kms, settings):
    credential = store(tenant)
    settings.SINATRA_KMS_BACKENDS = [cloud_backend(fake_kms.url)]
    with pytest.raises(UnknownKek, match="SINATRA_LOCAL_DEV_KMS"):
        credential_open(reload(credential), use_cache=False)


def test_a_local_row_opened_while_cloud_kms_is_primary_is_marked_for_rewrap(tenant, fake_kms, settings):
    local_backends = list(django_settings.SINATRA_KMS_BACKENDS)
    credential = store(tenant)
    settings.SINATRA_KMS_BACKENDS = [cloud_backend(fake_kms.url), *local_backends]
    credential_open(reload(credential), use_cache=False)
    assert reload(credential).needs_rewrap is True


# --- Cloud KMS unreachable


@pytest.fixture(params=["closed port", "503 every time"])
def unreachable_kms(request, fake_kms, settings):
    """Point the Cloud KMS backend at an endpoint that cannot serve; return a callable that does it."""

    def break_it() -> None:
        if request.param == "closed port":
            endpoint = request.getfixturevalue("closed_endpoint")
            settings.SINATRA_KMS_BACKENDS = [cloud_backend(endpoint)]
        else:
            settings.SINATRA_KMS_BACKENDS = [cloud_backend(fake_kms.url)]
            fake_kms.fail_next(FOREVER, status=503)

    return break_it


def test_seeding_while_cloud_kms_is_unreachable_fails_in_one_line_and_stores_nothing(
    tenant, unreachable_kms, run_command
):
    unreachable_kms()
    key = anthropic_key("CANARY")
    with pytest.raises(CommandError) as excinfo:
        run_command(*seed_args(), stdin=key + "\n")

    message = str(excinfo.value)
    assert "\n" not in message
    assert message.startswith("Cloud KMS at http://127.0.0.1:")
    assert "could not be reached" in message
    assert "Nothing was stored." in message
    assert key not in message
    assert "CANARY" not in message
    assert not TenantModelCredential.objects.exists()
    assert not CredentialEvent.objects.exists()


def test_rewrap_while_cloud_kms_is_unreachable_fails_clearly_and_changes_nothing(
    tenant, make_tenant, cloud_kms, unreachable_kms, run_command
):
    store(tenant)
    store(make_tenant("globex"))
    cloud_kms.rotate(KEY_NAME)
    before = snapshot()
    unreachable_kms()

    with pytest.raises(CommandError) as excinfo:
        run_command("rewrap_credentials")

    assert "\n" not in str(excinfo.value)
    assert "Cloud KMS at http://127.0.0.1:" in str(excinfo.value)
    assert "could not be reached" in str(excinfo.value)
    assert snapshot() == before
    assert not rewrapped_events()


def test_rewrap_from_local_while_cloud_kms_is_unreachable_changes_nothing(
    tenant, closed_endpoint, settings, run_command
):
    local_backends = list(django_settings.SINATRA_KMS_BACKENDS)
    store(tenant)
    before = snapshot()
    settings.SINATRA_KMS_BACKENDS = [cloud_backend(closed_endpoint), *local_backends]
    with pytest.raises(CommandError, match="could not be reached"):
        run_command("rewrap_credentials")
    assert snapshot() == before
    assert not rewrapped_events()


# --- Resumable rewrap


def test_rewrap_interrupted_by_cloud_kms_outage_resumes_and_rewraps_each_row_once(
    tenant, make_tenant, cloud_kms, run_command
):
    globex, initech = make_tenant("globex"), make_tenant("initech")
    # Five rows, two of them revoked by the key that replaced them.
    rows = [store(tenant), store(tenant), store(globex), store(globex), store(initech)]
    cloud_kms.rotate(KEY_NAME)
    cloud_kms.fail_after(2, status=503, rpc="encrypt")

    with pytest.raises(CommandError) as excinfo:
        run_command("rewrap_credentials", "--batch-size", "2")

    message = str(excinfo.value)
    assert "could not be reached" in message
    assert "2 of 5 were rewrapped; run the command again to continue." in message
    assert Counter(reload(row).kek_version for row in rows) == Counter({VERSION_2: 2, VERSION_1: 3})
    assert sum(rewrapped_events().values()) == 2

    cloud_kms.heal()
    out, _ = run_command("rewrap_credentials", "--batch-size", "2")

    assert "Rewrapping 3 credentials" in out
    assert f"Rewrapped 3 credentials to {VERSION_2}." in out
    assert {reload(row).kek_version for row in rows} == {VERSION_2}
    assert rewrapped_events() == Counter({row.pk: 1 for row in rows})
    for row in rows:
        credential_open(reload(row), use_cache=False)
        assert cloud_kms.calls("decrypt")[-1].response["usedPrimary"] is True


# --- No plaintext key anywhere


def test_errors_and_command_output_never_contain_the_key(tenant, make_tenant, cloud_kms, run_command, caplog):
    key = anthropic_key("CANARY")
    seen: list[str] = []

    with caplog.at_level(logging.DEBUG):
        seen.extend(run_command(*seed_args(), stdin=key + "\n"))
        credential = TenantModelCredential.objects.get(tenant=tenant)
        assert credential_open(credential, use_cache=False).reveal() == key

        cloud_kms.corrupt_next("encrypt", INTEGRITY_ATTEMPTS)
        with pytest.raises(CommandError) as excinfo:
            run_command(*seed_args(), stdin=anthropic_key("CANARY") + "\n")
        seen.append(str(excinfo.value))

        cloud_kms.corrupt_next("decrypt", INTEGRITY_ATTEMPTS)
        with pytest.raises(KmsIntegrityError) as excinfo:
            credential_open(reload(credential), use_cache=False)
        seen.extend([str(excinfo.value), repr(excinfo.value)])

        cloud_kms.rotate(KEY_NAME)
        seen.extend(run_command("verify_credentials"))
        seen.extend(run_command("rewrap_credentials", "--dry-run"))
        seen.extend(run_command("rewrap_credentials"))

        TenantModelCredential.objects.filter(pk=credential.pk).update(tenant=make_tenant("globex"))
        with pytest.raises(CommandError) as excinfo:
            run_command("verify_credentials")
        seen.append(str(excinfo.value))

        cloud_kms.fail_next(FOREVER)
        with pytest.raises(CommandError) as excinfo:
            run_command(*seed_args(), stdin=anthropic_key("CANARY") + "\n")
        seen.append(str(excinfo.value))

    seen.append(caplog.text)
    seen.append(json.dumps([(call.body, call.response) for call in cloud_kms.requests]))
    assert seen
    for text in seen:
        assert "CANARY" not in text
        assert key not in text
