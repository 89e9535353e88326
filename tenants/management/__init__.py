"""Helpers shared by the management commands of every app."""

from django.core.management.base import CommandError

from tenants.models import Tenant
from tenants.services import SLUG_PATTERN


def tenant_for_command(slug: str) -> Tenant:
    """Return the tenant with this slug, or fail with a one-line CommandError saying what to do."""
    if not SLUG_PATTERN.fullmatch(slug):
        raise CommandError(f"No tenant has the slug {slug!r}: slugs are lowercase letters, digits and hyphens.")
    try:
        return Tenant.objects.get(slug=slug)
    except Tenant.DoesNotExist:
        raise CommandError(
            f"No tenant has the slug {slug!r}: create it with `python manage.py create_tenant {slug}`."
        ) from None
