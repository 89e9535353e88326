"""Errors of the tenant services. Each message is fit to show a person.

The edges word them for their audience: the console as a page or a form error, commands as a
`CommandError`; none composes the reason itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import Tenant


class TenantError(Exception):
    """A tenant service refused to write; `str(error)` says why."""


class TenantDeactivated(TenantError):
    """The tenant is deactivated (`is_active` off): nothing may be written for it."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        super().__init__(
            f"Tenant {tenant.slug} is deactivated: nothing can be changed in it until an operator reactivates it."
        )


class TenantHasOwner(TenantError):
    """An existing tenant has other owners, and the person named was not said to join them."""

    def __init__(self, tenant: Tenant, owners: list[str]) -> None:
        self.tenant = tenant
        self.owners = owners
        super().__init__(f"Tenant {tenant.slug} already has an owner: {', '.join(owners)}.")


class SlugTaken(TenantError):
    """Another tenant has this slug (the database's unique constraint said so)."""

    def __init__(self, slug: str) -> None:
        self.slug = slug
        super().__init__("That address is taken: choose another.")


class SignUpError(Exception):
    """A sign-up's confirmation link cannot be used; the message says why, for the person holding it."""
