"""Check a key with its provider, spending no tokens: accepted, rejected, or could not say now."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.views.decorators.debug import sensitive_variables

from . import spec
from .base import KeyFacts
from .errors import KeyRejected, ProviderUnavailable
from .secret import Secret


class Verdict(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class Verification:
    verdict: Verdict
    message: str = ""
    facts: KeyFacts | None = None  # what the provider said of a key it accepted

    @property
    def accepted(self) -> bool:
        return self.verdict is Verdict.ACCEPTED


@sensitive_variables("secret")
def verify_key(provider: str, secret: Secret) -> Verification:
    """Ask the provider whether it accepts the key; the message never contains it."""
    try:
        facts = spec(provider).verify_key(secret)
    except KeyRejected as exc:
        return Verification(Verdict.REJECTED, str(exc))
    except ProviderUnavailable as exc:
        return Verification(Verdict.UNREACHABLE, str(exc))
    return Verification(Verdict.ACCEPTED, facts=facts)
