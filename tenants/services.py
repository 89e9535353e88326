"""Writes to tenants and memberships."""

from __future__ import annotations

import re
from typing import NamedTuple

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from .models import Membership, Tenant

SLUG_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


class TenantResult(NamedTuple):
    tenant: Tenant
    created: bool


class MembershipResult(NamedTuple):
    membership: Membership
    created: bool


def validate_tenant_slug(slug: str) -> None:
    """Refuse slugs that would not read well in a URL: lowercase letters, digits, hyphens."""
    if not SLUG_PATTERN.fullmatch(slug):
        raise ValidationError(
            f"{slug!r} is not a valid tenant slug: use 1 to 63 lowercase letters, digits and "
            "hyphens, starting and ending with a letter or digit."
        )


@transaction.atomic
def tenant_create(*, slug: str, name: str = "") -> TenantResult:
    """Create a tenant, or return the one that already has this slug."""
    validate_tenant_slug(slug)
    tenant, created = Tenant.objects.get_or_create(slug=slug, defaults={"name": name or slug})
    return TenantResult(tenant, created)


def user_for_email(email: str) -> AbstractBaseUser:
    """Return the user with this email, creating one (without a usable password) if needed."""
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError(f"{email!r} is not a valid email address.") from None
    User = get_user_model()
    user = User.objects.filter(email__iexact=email).order_by("pk").first()
    if user is None:
        # An account may already have this address as its username (createsuperuser asks for
        # no email): that is the same person, and a new user would clash on the username.
        user = User.objects.filter(username__iexact=email).order_by("pk").first()
        if user is not None and not user.email:
            user.email = email
            user.save(update_fields=["email"])
    if user is None:
        user = User(username=email, email=email)
        user.set_unusable_password()
        user.save()
    return user


@transaction.atomic
def membership_add(*, tenant: Tenant, user: AbstractBaseUser, role: str) -> MembershipResult:
    """Give a user a role in a tenant; an existing membership keeps its role."""
    membership, created = Membership.objects.get_or_create(tenant=tenant, user=user, defaults={"role": role})
    return MembershipResult(membership, created)
