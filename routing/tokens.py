"""Create, revoke and check service tokens. Tokens are stored hashed and compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from .models import ServiceToken
from .usage import record_use

TOKEN_PREFIX = "sin_"


class TokenError(Exception):
    """A token could not be created or revoked; the message says why."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@sensitive_variables("token")
def token_create(*, name: str) -> tuple[ServiceToken, str]:
    """Create a token; return its row and the token itself, which is never stored or shown again."""
    name = name.strip()
    if not name or len(name) > 100 or any(char.isspace() for char in name):
        raise TokenError("A token name is 1 to 100 characters without spaces, e.g. worker-eu-1.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            row = ServiceToken.objects.create(name=name, token_hash=token_hash(token), prefix=token[:10])
    except IntegrityError:
        raise TokenError(f"A live token named {name!r} exists: revoke it first or pick another name.") from None
    return row, token


@transaction.atomic
def token_revoke(*, name: str) -> ServiceToken:
    """Revoke the live token with this name."""
    row = ServiceToken.objects.select_for_update().filter(name=name, revoked_at__isnull=True).first()
    if row is None:
        raise TokenError(f"No live token is named {name!r}.")
    row.revoked_at = timezone.now()
    row.save(update_fields=["revoked_at"])
    return row


@sensitive_variables("presented")
def token_authenticate(presented: str) -> ServiceToken | None:
    """Return the live token matching `presented`, or None. Records use at most once a minute."""
    if not presented.startswith(TOKEN_PREFIX) or len(presented) > 200:
        return None
    digest = token_hash(presented)
    row = ServiceToken.objects.filter(token_hash=digest, revoked_at__isnull=True).first()
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    record_use(ServiceToken, row.pk, row.last_used_at)
    return row
