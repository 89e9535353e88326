"""Reads of tenant model credentials."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from tenants.models import Tenant

from .models import CredentialEvent, EventKind, Provider, Status, TenantModelCredential


def active_credentials(*, tenant: Tenant | None = None) -> QuerySet[TenantModelCredential]:
    """Return active credentials, of one tenant or of all, in a stable order."""
    rows = TenantModelCredential.objects.filter(status=Status.ACTIVE).select_related("tenant")
    if tenant is not None:
        rows = rows.filter(tenant=tenant)
    return rows.order_by("tenant__slug", "provider")


def credentials_to_rewrap(*, primary: tuple[str, str], tenant: Tenant | None = None) -> QuerySet[TenantModelCredential]:
    """Return every credential (active or revoked) whose DEK is not under the primary KEK."""
    kek_id, kek_version = primary
    rows = TenantModelCredential.objects.filter(~Q(kek_id=kek_id) | ~Q(kek_version=kek_version) | Q(needs_rewrap=True))
    if tenant is not None:
        rows = rows.filter(tenant=tenant)
    return rows.select_related("tenant").order_by("id")


@dataclass(frozen=True)
class ProviderCredentials:
    """What the tenant console shows for one provider."""

    provider: str
    label: str
    active: TenantModelCredential | None
    state: str  # verified, unverified, rejected, needs re-entry, cannot be checked now, none
    detail: str
    revoked: list[TenantModelCredential]


def tenant_credentials(*, tenant: Tenant) -> list[ProviderCredentials]:
    """Return, per provider, the active key's state and the revoked ones, in two queries.

    An active key is decrypted (through the DEK cache) to tell a row that no longer opens:
    it is shown as "needs re-entry", never hidden.
    """
    from .kms import KmsError, KmsUnavailable
    from .services import credential_open

    rows = list(TenantModelCredential.objects.filter(tenant=tenant).order_by("-created_at"))
    last_check = {}
    checks = CredentialEvent.objects.filter(
        tenant=tenant, kind__in=[EventKind.VALIDATED, EventKind.VALIDATION_FAILED]
    ).order_by("created_at", "id")
    for event in checks:
        last_check[event.credential_id] = event
    result = []
    for provider, label in Provider.choices:
        mine = [row for row in rows if row.provider == provider]
        active = next((row for row in mine if row.status == Status.ACTIVE), None)
        revoked = [row for row in mine if row.status == Status.REVOKED]
        state, detail = "none", ""
        if active is not None:
            check = last_check.get(active.id)
            try:
                credential_open(active)
            except KmsUnavailable as exc:
                state, detail = "cannot be checked now", str(exc)
            except KmsError:
                state, detail = "needs re-entry", "This key no longer decrypts: paste it again."
            else:
                if check is not None and check.kind == EventKind.VALIDATION_FAILED:
                    state, detail = "rejected", check.detail or "The provider rejected this key."
                elif active.validated_at:
                    state = "verified"
                else:
                    state, detail = "unverified", "Not verified with the provider yet."
        result.append(ProviderCredentials(provider, label, active, state, detail, revoked))
    return result


def tenant_events(*, tenant: Tenant, limit: int = 50) -> QuerySet[CredentialEvent]:
    """Return a tenant's latest credential events, newest first."""
    return (
        CredentialEvent.objects.filter(tenant=tenant)
        .select_related("credential")
        .order_by("-created_at", "-id")[:limit]
    )
