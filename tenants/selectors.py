"""Reads of tenants and their people."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db.models import Q, QuerySet

from .models import Invitation, Tenant


def pending_invitations(*, tenant: Tenant) -> QuerySet[Invitation]:
    """Return a tenant's invitations whose links still work, newest first."""
    return Invitation.objects.filter(tenant=tenant).pending().select_related("invited_by").order_by("-created_at")


def accounts_for_password_reset(*, email: str) -> Iterator[User]:
    """Return the accounts a reset mail for this address may go to (Django's rule, plus unconfirmed sign-ups).

    Django's: active accounts with a usable password whose email is the address. An account whose
    self sign-up awaits confirmation is inactive, yet its person may reset (which confirms it).
    """
    users = (
        get_user_model()
        .objects.filter(email__iexact=email)
        .filter(Q(is_active=True) | Q(signup__isnull=False, signup__confirmed_at=None))
    )
    return (user for user in users if user.has_usable_password() and _same_address(user.email, email))


def _same_address(one: str, other: str) -> bool:
    """Compare addresses as Django's reset form does (NFKC, case-folded): no look-alike gets the mail."""
    return unicodedata.normalize("NFKC", one).casefold() == unicodedata.normalize("NFKC", other).casefold()
