"""Reads of routing's own records: service tokens, and who received each tenant's keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Max, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from tenants.models import Tenant

from .models import KeyRelease, PolicyEvent, ServiceToken

DAY = timedelta(hours=24)
MONTH = timedelta(days=30)


def service_tokens(*, include_revoked: bool = False) -> QuerySet[ServiceToken]:
    """Return service tokens by name, newest first within a name; revoked ones only when asked."""
    rows = ServiceToken.objects.prefetch_related("tenants").order_by("name", "-created_at")
    if not include_revoked:
        rows = rows.filter(revoked_at__isnull=True)
    return rows


@dataclass(frozen=True)
class CallerReleases:
    """How often one caller received a tenant's key for one provider."""

    caller: str
    last_day: int
    last_month: int
    last_released_at: datetime


def key_releases(*, tenant: Tenant, now: datetime | None = None) -> dict[str, list[CallerReleases]]:
    """Return, per provider, who received the tenant's key: releases in the last 24 hours and
    30 days and the latest one, by caller, most recent first.

    Counts are kept by the hour, so "the last 24 hours" is the current hour and the 23 before it.
    """
    this_hour = (now or timezone.now()).replace(minute=0, second=0, microsecond=0)
    since_day = this_hour - DAY + timedelta(hours=1)
    since_month = this_hour - MONTH + timedelta(hours=1)
    rows = (
        KeyRelease.objects.filter(tenant=tenant, hour__gte=since_month)
        .values("provider", "caller")
        .annotate(
            last_month=Sum("count"),
            last_day=Coalesce(Sum("count", filter=Q(hour__gte=since_day)), 0),
            latest=Max("last_released_at"),
        )
        .order_by("provider", "-latest", "caller")
    )
    releases: dict[str, list[CallerReleases]] = {}
    for row in rows:
        releases.setdefault(row["provider"], []).append(
            CallerReleases(row["caller"], row["last_day"], row["last_month"], row["latest"])
        )
    return releases


def policy_events(*, tenant: Tenant, limit: int = 20) -> QuerySet[PolicyEvent]:
    """Return a tenant's latest policy changes, newest first."""
    return PolicyEvent.objects.filter(tenant=tenant).order_by("-created_at", "-id")[:limit]
