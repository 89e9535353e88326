"""Reads of tenant model credentials."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from tenants.models import Tenant

from .models import Status, TenantModelCredential


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
