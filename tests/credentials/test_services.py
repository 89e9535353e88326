"""The credential services' bookkeeping of key checks."""

from datetime import UTC, datetime
from decimal import Decimal

from credentials.models import CredentialEvent, EventKind
from credentials.services import Actor, credential_record_check
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
