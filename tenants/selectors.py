"""Reads of tenants and their people."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Invitation, Tenant


def pending_invitations(*, tenant: Tenant) -> QuerySet[Invitation]:
    """Return a tenant's invitations whose links still work, newest first."""
    return Invitation.objects.filter(tenant=tenant).pending().select_related("invited_by").order_by("-created_at")
