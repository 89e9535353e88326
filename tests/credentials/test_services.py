"""The credential services' bookkeeping."""

from credentials.models import CredentialEvent, EventKind
from credentials.services import Actor, credential_record_validation


def test_recording_a_validation_sets_validated_at_and_writes_an_event(tenant, store_key):
    credential = store_key(tenant)
    actor = Actor.command("test")
    failed = credential_record_validation(credential=credential, accepted=False, actor=actor, detail="rejected")
    assert failed.validated_at is None
    passed = credential_record_validation(credential=credential, accepted=True, actor=actor)
    assert passed.validated_at is not None
    kinds = list(CredentialEvent.objects.filter(credential=credential).order_by("id").values_list("kind", flat=True))
    assert kinds == [EventKind.CREATED, EventKind.VALIDATION_FAILED, EventKind.VALIDATED]
