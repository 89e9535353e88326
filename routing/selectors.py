"""Reads of routing's own records: service tokens (key-release accounting joins them later)."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import ServiceToken


def service_tokens(*, include_revoked: bool = False) -> QuerySet[ServiceToken]:
    """Return service tokens by name, newest first within a name; revoked ones only when asked."""
    rows = ServiceToken.objects.prefetch_related("tenants").order_by("name", "-created_at")
    if not include_revoked:
        rows = rows.filter(revoked_at__isnull=True)
    return rows
