"""Errors of provider calls. Messages are fit to show a person and never hold a key."""


class ProviderError(Exception):
    """A provider call failed; the message is fit to show a person and holds no key."""


class ProviderUnavailable(ProviderError):
    """The provider could not answer now (timeout, connection, 429, 5xx): try again later."""


class KeyRejected(ProviderError):
    """The provider said the key is not valid (401), or not allowed (403)."""
