"""Helpers shared by the management commands of every app."""

from django.core.management.base import CommandError

from tenants.models import Tenant


def tenant_for_command(slug: str) -> Tenant:
    """Return the tenant with this slug, or fail with a one-line CommandError saying what to do."""
    from tenants.services import SLUG_PATTERN

    try:
        if not SLUG_PATTERN.fullmatch(slug):
            raise Tenant.DoesNotExist
        return Tenant.objects.get(slug=slug)
    except Tenant.DoesNotExist:
        hint = (
            f"create it with `python manage.py create_tenant {slug}`"
            if SLUG_PATTERN.fullmatch(slug)
            else ("slugs are lowercase letters, digits and hyphens")
        )
        raise CommandError(f"No tenant has the slug {slug!r}: {hint}.") from None
