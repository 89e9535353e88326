"""Errors of the credential services. Each message is fit to show a person and never holds a key.

The edges word them for their audience: the console as a form error, commands as a
`CommandError`, the admin as a message; none composes the reason itself.
"""


class CredentialError(Exception):
    """A key could not be stored, opened or checked; `str(error)` says why."""


class KeyRefused(CredentialError):
    """A pasted key was refused: its shape is wrong, or its provider rejected it. Nothing was stored."""


class VerificationUnavailable(CredentialError):
    """The provider could not be asked about the key now; nothing was stored.

    The caller may offer to store it unverified (`allow_unverified=True`).
    """
