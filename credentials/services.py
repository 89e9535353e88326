"""Writes to tenant model credentials. Each writes its audit event in the same transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple
from uuid import UUID

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from providers import KeyFacts
from providers.keys import InvalidKey, parse_api_key
from providers.secret import Secret
from providers.verification import Verdict, Verification, verify_key
from tenants.errors import TenantDeactivated
from tenants.models import Tenant

from . import bulk
from .envelope import Sealed, open_sealed, rewrap_dek, seal
from .errors import KeyRefused, VerificationUnavailable
from .kms import KmsError, KmsUnavailable
from .models import CredentialEvent, EventKind, Status, TenantModelCredential
from .selectors import ActiveKey, CredentialState, ProviderCredentials, SealedCredential, tenant_credential_rows


@dataclass(frozen=True)
class Actor:
    """Who did something: a signed-in user, or a management command."""

    label: str
    user: User | None = None

    @classmethod
    def command(cls, name: str) -> Actor:
        return cls(label=f"command:{name}")

    @classmethod
    def of_user(cls, user: User) -> Actor:
        return cls(label=getattr(user, "email", "") or user.get_username(), user=user)


class StoredCredential(NamedTuple):
    credential: TenantModelCredential
    replaced: TenantModelCredential | None

    @property
    def verified(self) -> bool:
        return self.credential.validated_at is not None


@sensitive_variables("raw", "secret")
def credential_submit(
    *, tenant: Tenant, provider: str, raw: str, actor: Actor, verify: bool = True, allow_unverified: bool = False
) -> StoredCredential:
    """Check a pasted key's shape, verify it live (no tokens spent), and store it.

    Raises KeyRefused (shape, or the provider rejected it), VerificationUnavailable (the
    provider could not be asked, and `allow_unverified` is off), KmsError or TenantDeactivated;
    in each case nothing is stored, and the message is one line without the key.
    """
    if not tenant.is_active:  # before asking the provider; _store checks the locked row again
        raise TenantDeactivated(tenant)
    try:
        secret = parse_api_key(raw, provider=provider)
    except InvalidKey as exc:
        raise KeyRefused(str(exc)) from None
    verification = None
    if verify:
        verification = verify_key(provider, secret)
        if verification.verdict is Verdict.REJECTED:
            raise KeyRefused(verification.message)
        if verification.verdict is Verdict.UNREACHABLE and not allow_unverified:
            raise VerificationUnavailable(verification.message)
    accepted = verification is not None and verification.accepted
    return credential_create(
        tenant=tenant,
        provider=provider,
        secret=secret,
        actor=actor,
        validated_at=timezone.now() if accepted else None,
        facts=verification.facts if verification is not None else None,
    )


def _event(credential: TenantModelCredential, kind: str, actor: Actor, detail: str = "") -> CredentialEvent:
    return CredentialEvent.objects.create(
        credential=credential,
        tenant_id=credential.tenant_id,
        kind=kind,
        actor=actor.label,
        actor_user=actor.user,
        detail=detail,
    )


@sensitive_variables("secret")
def credential_create(
    *,
    tenant: Tenant,
    provider: str,
    secret: Secret,
    actor: Actor,
    validated_at: datetime | None = None,
    facts: KeyFacts | None = None,
) -> StoredCredential:
    """Encrypt and store a tenant's key for a provider, revoking the active one it replaces.

    The KMS is called before any lock is taken: if it fails, nothing is written. A deactivated
    tenant gets no key: TenantDeactivated, and nothing is written.
    """
    credential_id = uuid.uuid4()
    sealed = seal(secret, tenant_id=tenant.pk, provider=provider, credential_id=credential_id)
    return _store(
        tenant=tenant,
        provider=provider,
        credential_id=credential_id,
        sealed=sealed,
        key_hint=secret.hint,
        actor=actor,
        validated_at=validated_at,
        facts=facts or KeyFacts(),
    )


@transaction.atomic
def _store(
    *,
    tenant: Tenant,
    provider: str,
    credential_id: uuid.UUID,
    sealed: Sealed,
    key_hint: str,
    actor: Actor,
    validated_at: datetime | None,
    facts: KeyFacts,
) -> StoredCredential:
    # Lock the tenant row: concurrent writers of one tenant's credentials queue here, so the
    # partial unique constraint is never the thing that stops the second one.
    # FOR NO KEY UPDATE: writers still queue, but the foreign-key checks of concurrent event
    # inserts (revoke, rewrap) pass, so they cannot deadlock with this transaction.
    # A deactivation commits before this lock is granted or waits for this write: never both.
    locked = Tenant.objects.select_for_update(no_key=True).get(pk=tenant.pk)
    if not locked.is_active:
        raise TenantDeactivated(locked)
    previous = (
        TenantModelCredential.objects.select_for_update()
        .filter(tenant=tenant, provider=provider, status=Status.ACTIVE)
        .first()
    )
    now = timezone.now()
    if previous is not None:
        previous.status = Status.REVOKED
        previous.revoked_at = now
        previous.save(update_fields=["status", "revoked_at"])
    credential = TenantModelCredential(
        id=credential_id,
        tenant=tenant,
        provider=provider,
        status=Status.ACTIVE,
        key_hint=key_hint,
        kek_id=sealed.kek_id,
        kek_version=sealed.kek_version,
        wrapped_dek=sealed.wrapped_dek,
        ciphertext=sealed.ciphertext,
        envelope_version=sealed.envelope_version,
        validated_at=validated_at,
        created_by=actor.label,
    )
    credential.remember(facts)
    credential.save(force_insert=True)
    if previous is not None:
        _event(previous, EventKind.REPLACED, actor, f"replaced by {credential.key_hint} ({credential.id})")
        _event(credential, EventKind.CREATED, actor, f"replaces {previous.key_hint} ({previous.id})")
    else:
        _event(credential, EventKind.CREATED, actor)
    if validated_at is not None:
        _event(credential, EventKind.VALIDATED, actor, "accepted by the provider before it was stored")
    return StoredCredential(credential=credential, replaced=previous)


@transaction.atomic
def credential_revoke(*, credential: TenantModelCredential, actor: Actor) -> TenantModelCredential:
    """Revoke a credential; revoking a revoked one changes nothing."""
    credential = TenantModelCredential.objects.select_for_update().get(pk=credential.pk)
    if credential.status == Status.REVOKED:
        return credential
    credential.status = Status.REVOKED
    credential.revoked_at = timezone.now()
    credential.save(update_fields=["status", "revoked_at"])
    _event(credential, EventKind.REVOKED, actor)
    return credential


@transaction.atomic
def credential_record_check(
    *, credential: TenantModelCredential, verification: Verification, actor: Actor
) -> TenantModelCredential:
    """Record a live check of a stored key with its provider, whatever it answered.

    Accepted: `validated_at`, what the provider said of the key, and the rejection mark cleared.
    Rejected: the key is marked (`rejected_at`) so the console says so on every page.
    Unreachable: only the event; the key's state stays as it was.
    """
    credential = TenantModelCredential.objects.select_for_update().get(pk=credential.pk)
    now = timezone.now()
    if verification.verdict is Verdict.ACCEPTED:
        credential.validated_at, credential.rejected_at = now, None
        changed = credential.remember(verification.facts or KeyFacts())
        credential.save(update_fields=["validated_at", "rejected_at", *changed])
        _event(credential, EventKind.VALIDATED, actor, verification.message[:500])
    elif verification.verdict is Verdict.REJECTED:
        credential.rejected_at = now
        credential.save(update_fields=["rejected_at"])
        _event(credential, EventKind.VALIDATION_FAILED, actor, verification.message[:500])
    else:
        _event(credential, EventKind.CHECK_INCOMPLETE, actor, verification.message[:500])
    return credential


def credential_reverify(*, credential: TenantModelCredential, actor: Actor) -> Verification:
    """Check an active key with its provider again and record the answer as an event.

    A key that no longer decrypts is recorded too, then raises KmsError.
    """
    try:
        secret = credential_open(credential)
    except KmsError as exc:
        _record_incomplete(credential=credential, actor=actor, detail=f"does not decrypt: {exc}")
        raise
    verification = verify_key(credential.provider, secret)
    credential_record_check(credential=credential, verification=verification, actor=actor)
    return verification


@transaction.atomic
def _record_incomplete(*, credential: TenantModelCredential, actor: Actor, detail: str) -> None:
    _event(credential, EventKind.CHECK_INCOMPLETE, actor, detail[:500])


def credential_open(credential: TenantModelCredential | ActiveKey, *, use_cache: bool = True) -> Secret:
    """Decrypt a credential's key; flag the row when its DEK should move to the primary KEK."""
    opened = open_sealed(credential, use_cache=use_cache)
    if opened.needs_rewrap and not credential.needs_rewrap:
        credential_flag_rewrap(credential_id=credential.pk)
        if isinstance(credential, TenantModelCredential):  # an ActiveKey is immutable: the next read shows the flag
            credential.needs_rewrap = True
    return opened.secret


def credential_flag_rewrap(*, credential_id: UUID) -> None:
    """Mark a row whose DEK a non-primary key version unwrapped, for `rewrap_credentials`."""
    TenantModelCredential.objects.filter(pk=credential_id).update(needs_rewrap=True)


def credential_states(*, tenant: Tenant) -> list[ProviderCredentials]:
    """Return, per provider, the active key's state and the revoked keys: what the console shows.

    Each active key is opened (through the DEK cache) to tell a row that no longer decrypts,
    shown as "needs re-entry", never hidden.
    """
    result = []
    for entry in tenant_credential_rows(tenant=tenant):
        if entry.active is not None:
            try:
                credential_open(entry.active)
            except KmsUnavailable as exc:
                entry = entry.with_state(CredentialState.UNCHECKABLE, str(exc))
            except KmsError:
                entry = entry.with_state(CredentialState.NEEDS_REENTRY, "This key no longer decrypts: paste it again.")
        result.append(entry)
    return result


@dataclass(frozen=True)
class RewrapFailure:
    """A row of a batch that could not be rewrapped, and why (never a secret); it stays as it was."""

    credential: SealedCredential
    reason: str


@dataclass(frozen=True)
class RewrapOutcome:
    """What one batch of `credential_rewrap_batch` did."""

    rewrapped: list[UUID]
    failed: list[RewrapFailure]


def credential_rewrap_batch(
    *, credentials: Sequence[SealedCredential], primary: tuple[str, str], actor: Actor
) -> RewrapOutcome:
    """Rewrap a batch of credentials' DEKs under the primary KEK, as one transaction.

    Each row's key is opened and its DEK wrapped again before any lock is taken, so the KMS
    is never called with rows locked. Then, in one transaction: the batch's rows are locked
    (FOR NO KEY UPDATE, in id order), those still as they were read are written by one
    batched UPDATE, and their `rewrapped` events by one INSERT. A row that another process
    changed meanwhile (rewrapped it, say) is left alone, so no row is rewrapped twice.

    A row that does not open is returned in `failed` and left as it is. KmsUnavailable is
    raised as it comes, and then nothing of the batch is written.
    """
    sealed: dict[UUID, tuple[SealedCredential, Sealed]] = {}
    failed = []
    for credential in credentials:
        if (credential.kek_id, credential.kek_version) == primary and not credential.needs_rewrap:
            continue
        try:
            sealed[credential.pk] = (credential, rewrap_dek(credential))
        except KmsUnavailable:
            raise
        except KmsError as exc:
            failed.append(RewrapFailure(credential=credential, reason=str(exc)))
    if not sealed:
        return RewrapOutcome(rewrapped=[], failed=failed)
    with transaction.atomic():
        # Locked in id order: two runs at once queue on the same first row instead of deadlocking.
        locked = bulk.lock_rows(TenantModelCredential, list(sealed), ["kek_id", "wrapped_dek"])
        unchanged = [(credential, new) for credential, new in sealed.values() if _as_read(credential, locked)]
        _write_rewrapped(unchanged, actor)
    return RewrapOutcome(rewrapped=[credential.pk for credential, _ in unchanged], failed=failed)


def _as_read(credential: SealedCredential, locked: dict) -> bool:
    """Whether the locked row still holds the wrapped DEK this batch read (and rewrapped)."""
    current = locked.get(credential.pk)
    return current is not None and (current[0], bytes(current[1])) == (credential.kek_id, bytes(credential.wrapped_dek))


def _write_rewrapped(rows: list[tuple[SealedCredential, Sealed]], actor: Actor) -> None:
    """Write the batch's new wrapped DEKs and one `rewrapped` event per row: a statement each.

    Not bulk_update and bulk_create: they cost more per row than rewrapping it (docs/performance.md).
    """
    bulk.update_rows(
        TenantModelCredential,
        ["kek_id", "kek_version", "wrapped_dek", "needs_rewrap"],
        [(new.kek_id, new.kek_version, new.wrapped_dek, False, credential.pk) for credential, new in rows],
    )
    now, kind, user_id = timezone.now(), EventKind.REWRAPPED.value, actor.user.pk if actor.user is not None else None
    bulk.insert_rows(
        CredentialEvent,
        ["credential", "tenant", "kind", "actor", "actor_user", "detail", "created_at"],
        [
            (
                credential.pk,
                credential.tenant_id,
                kind,
                actor.label,
                user_id,
                f"from {credential.kek_version or credential.kek_id} to {new.kek_version or new.kek_id}",
                now,
            )
            for credential, new in rows
        ],
    )
