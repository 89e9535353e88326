"""The credential services' bookkeeping of key checks, and rewrapping in batches."""

import dataclasses
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from credentials.kms import get_keyring
from credentials.kms.local import generate_key
from credentials.models import CredentialEvent, EventKind, TenantModelCredential
from credentials.selectors import credentials_to_rewrap_after
from credentials.services import Actor, credential_open, credential_record_check, credential_rewrap_batch
from providers import KeyFacts
from providers.verification import Verdict, Verification

FACTS = KeyFacts(
    label="ci key", limit_remaining=Decimal("12.5"), expires_at=datetime(2027, 1, 1, tzinfo=UTC), is_free_tier=False
)


def kinds(credential) -> list[str]:
    return list(CredentialEvent.objects.filter(credential=credential).order_by("id").values_list("kind", flat=True))


def test_recording_checks_marks_rejection_keeps_facts_and_writes_an_event_each(tenant, store_key):
    credential = store_key(tenant, "openrouter")
    actor = Actor.command("test")

    failed = credential_record_check(
        credential=credential, verification=Verification(Verdict.REJECTED, "OpenRouter rejected the key"), actor=actor
    )
    assert failed.validated_at is None
    assert failed.rejected_at is not None

    unreachable = credential_record_check(
        credential=credential, verification=Verification(Verdict.UNREACHABLE, "timed out"), actor=actor
    )
    assert unreachable.rejected_at == failed.rejected_at  # could not ask: the state stays

    passed = credential_record_check(
        credential=credential, verification=Verification(Verdict.ACCEPTED, facts=FACTS), actor=actor
    )
    assert passed.validated_at is not None
    assert passed.rejected_at is None
    passed.refresh_from_db()
    assert passed.facts == FACTS
    assert kinds(credential) == [
        EventKind.CREATED,
        EventKind.VALIDATION_FAILED,
        EventKind.CHECK_INCOMPLETE,
        EventKind.VALIDATED,
    ]
    assert CredentialEvent.objects.get(kind=EventKind.VALIDATION_FAILED).detail == "OpenRouter rejected the key"


# --- credential_rewrap_batch: local key A -> key B

KEY_A, KEY_B = generate_key(), generate_key()


def local_backends(key: str, old_keys: list[str] | None = None) -> list[dict]:
    return [{"BACKEND": "credentials.kms.local.LocalKmsBackend", "OPTIONS": {"key": key, "old_keys": old_keys or []}}]


@pytest.fixture
def under_a(make_tenant, store_key, settings):
    """Twelve rows written under key A; then B is primary and A is old. Returns (rows, keys by id)."""
    settings.SINATRA_KMS_BACKENDS = local_backends(KEY_A)
    rows = [store_key(make_tenant(f"tenant-{number}"), "anthropic") for number in range(12)]
    keys = {row.pk: credential_open(row, use_cache=False).reveal() for row in rows}
    settings.SINATRA_KMS_BACKENDS = local_backends(KEY_B, [KEY_A])
    return to_rewrap(), keys


def to_rewrap():
    return credentials_to_rewrap_after(primary=get_keyring().primary_kek(), limit=100)


def rewrap(rows):
    return credential_rewrap_batch(credentials=rows, primary=get_keyring().primary_kek(), actor=Actor.command("test"))


def test_a_rewrap_batch_writes_its_rows_and_their_events_in_a_constant_number_of_queries(under_a):
    rows, keys = under_a
    with CaptureQueriesContext(connection) as two:
        assert len(rewrap(rows[:2]).rewrapped) == 2
    with CaptureQueriesContext(connection) as ten:
        assert len(rewrap(rows[2:]).rewrapped) == 10
    assert len(ten.captured_queries) == len(two.captured_queries)

    for row in TenantModelCredential.objects.all():
        assert row.kek_id == get_keyring().primary_kek()[0]
        assert credential_open(row, use_cache=False).reveal() == keys[row.pk]
    assert sorted(CredentialEvent.objects.filter(kind=EventKind.REWRAPPED).values_list("credential_id", flat=True)) == [
        row.pk for row in rows
    ]


def test_a_rewrap_batch_read_before_another_run_rewrapped_its_rows_changes_nothing(under_a):
    rows, _ = under_a
    stale = list(rows)  # read, as a second run would have read them, before the first one wrote
    assert len(rewrap(rows[:5]).rewrapped) == 5
    after_first = {row.pk: bytes(row.wrapped_dek) for row in TenantModelCredential.objects.all()}

    outcome = rewrap(stale)

    assert sorted(outcome.rewrapped) == sorted(row.pk for row in rows[5:])
    assert outcome.failed == []
    for row in TenantModelCredential.objects.filter(pk__in=[row.pk for row in rows[:5]]):
        assert bytes(row.wrapped_dek) == after_first[row.pk]
    rewrapped = Counter(
        CredentialEvent.objects.filter(kind=EventKind.REWRAPPED).values_list("credential_id", flat=True)
    )
    assert rewrapped == Counter({row.pk: 1 for row in rows})


def test_a_rewrap_batch_names_a_row_that_does_not_open_and_writes_the_others(under_a):
    rows, _ = under_a
    broken = rows[3]
    broken.ciphertext = bytes(broken.ciphertext[:-1]) + bytes([broken.ciphertext[-1] ^ 1])

    outcome = rewrap(rows)

    assert [failure.credential.pk for failure in outcome.failed] == [broken.pk]
    assert "failed to decrypt" in outcome.failed[0].reason
    assert len(outcome.rewrapped) == len(rows) - 1
    assert TenantModelCredential.objects.get(pk=broken.pk).kek_id == rows[0].kek_id  # still key A's
    assert not CredentialEvent.objects.filter(kind=EventKind.REWRAPPED, credential_id=broken.pk).exists()


def test_a_rewrap_batch_leaves_rows_already_under_the_primary_key_without_a_query(under_a):
    rows, _ = under_a
    kek_id, kek_version = get_keyring().primary_kek()
    already = [dataclasses.replace(row, kek_id=kek_id, kek_version=kek_version) for row in rows]
    with CaptureQueriesContext(connection) as queries:
        outcome = rewrap(already)
    assert outcome.rewrapped == []
    assert outcome.failed == []
    assert queries.captured_queries == []
    assert not CredentialEvent.objects.filter(kind=EventKind.REWRAPPED).exists()
