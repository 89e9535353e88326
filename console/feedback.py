"""The console's words for what the credential services did or refused: one place, every page.

Services raise typed errors and return plain results; this module is the console's edge that
turns them into form errors and messages (commands and the admin have their own).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest

from credentials.errors import CredentialError, VerificationUnavailable
from credentials.models import TenantModelCredential
from credentials.services import StoredCredential
from providers import spec
from providers.verification import Verdict, Verification


def key_label(credential: TenantModelCredential) -> str:
    """E.g. "Anthropic API key sk-ant-api03-...Wxyz"."""
    return f"{spec(credential.provider).key_label} {credential.key_hint}"


def refusal(exc: CredentialError) -> str:
    """The form error for a pasted key the services did not store."""
    if isinstance(exc, VerificationUnavailable):
        return f"{exc} Paste it again and tick “save without verifying” to keep it unverified, or try again later."
    return f"{exc} Nothing was saved."


def stored(request: HttpRequest, result: StoredCredential) -> None:
    """Say that a key was saved, whether it was verified, and which key it replaced."""
    state = "verified" if result.verified else "saved unverified"
    note = f"; {result.replaced.key_hint} is revoked" if result.replaced is not None else ""
    messages.success(request, f"{key_label(result.credential)} {state}{note}.")


def checked(request: HttpRequest, credential: TenantModelCredential, verification: Verification) -> None:
    """Say what the provider answered when a stored key was checked again."""
    label = key_label(credential)
    if verification.verdict is Verdict.ACCEPTED:
        messages.success(request, f"{label} is verified.")
    elif verification.verdict is Verdict.REJECTED:
        messages.error(request, f"{label}: {verification.message} Replace it.")
    else:
        messages.warning(request, f"{label} could not be verified now: {verification.message}")
