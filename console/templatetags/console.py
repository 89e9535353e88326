"""Template tags of the console: what every tenant page warns about."""

from __future__ import annotations

from django import template
from django.utils import timezone

from credentials.selectors import keys_needing_attention
from providers import spec
from tenants.models import Tenant

register = template.Library()


@register.inclusion_tag("includes/key_alerts.html")
def key_alerts(tenant: Tenant) -> dict[str, object]:
    """Warn, on every page of a tenant, of an active key its provider rejected or that expires soon."""
    now = timezone.now()
    alerts = []
    for credential in keys_needing_attention(tenant=tenant, now=now):
        entry = spec(credential.provider)
        if credential.rejected_at is not None:
            text = f"rejected by {entry.label} on {credential.rejected_at:%Y-%m-%d}: paste a new key."
        elif credential.key_expires_at is not None and credential.key_expires_at <= now:
            text = f"expired on {credential.key_expires_at:%Y-%m-%d}: paste a new key."
        else:
            text = f"expires on {credential.key_expires_at:%Y-%m-%d}: paste a new key before then."
        alerts.append({"credential": credential, "label": entry.key_label, "text": text})
    return {"tenant": tenant, "alerts": alerts}
