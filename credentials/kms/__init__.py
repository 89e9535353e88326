"""Key-encryption backends (KMS) that wrap each credential's data key.

Pluggable the way Django's password hashers and storages are: `SINATRA_KMS_BACKENDS` lists
dotted paths with options; the first backend is the primary and wraps every new data key,
the others only unwrap the rows they wrapped (a row's ``kek_id`` says which backend).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string
from django.views.decorators.debug import sensitive_variables
from prometheus_client import Counter

from credentials.errors import CredentialError

KMS_CALLS = Counter(
    "sinatra_kms_calls",
    "Calls to a key-management backend, by backend (local, cloud), operation (wrap, unwrap) and outcome.",
    ["backend", "operation", "outcome"],
)


class KmsError(CredentialError):
    """A key-management failure, with a message fit for an operator and no secret in it."""


class KmsUnavailable(KmsError):
    """The KMS could not be reached or did not answer in time; nothing was changed."""


class KmsIntegrityError(KmsError):
    """The KMS or the stored bytes failed an integrity check (CRC32C, or authentication)."""


class UnknownKek(KmsError):
    """No configured backend holds the key-encryption key a row names."""


class KmsNotConfigured(KmsError):
    """No KMS is configured at all."""


@dataclass(frozen=True)
class WrappedKey:
    """A data key wrapped by a KMS backend, and which key (and version) wrapped it."""

    kek_id: str
    kek_version: str
    wrapped: bytes


@dataclass(frozen=True)
class UnwrappedKey:
    """A data key in the clear; `is_primary` is false when a newer KEK should rewrap it."""

    dek: bytes
    is_primary: bool


class KmsBackend:
    """Base class of KMS backends. `aad` binds the wrapped key to its tenant."""

    def can_wrap(self) -> bool:
        """Return whether this backend has a key to wrap new data keys with (no KMS call)."""
        raise NotImplementedError("subclasses of KmsBackend must provide can_wrap()")

    def primary_kek(self) -> tuple[str, str]:
        """Return (kek_id, kek_version) that `wrap()` uses now; may ask the KMS (rotation only)."""
        raise NotImplementedError("subclasses of KmsBackend must provide primary_kek()")

    def handles(self, kek_id: str) -> bool:
        """Return whether this backend can unwrap keys wrapped under `kek_id`."""
        raise NotImplementedError("subclasses of KmsBackend must provide handles()")

    def wrap(self, dek: bytes, *, aad: bytes) -> WrappedKey:
        """Wrap a data key under the primary key-encryption key."""
        raise NotImplementedError("subclasses of KmsBackend must provide wrap()")

    def unwrap(self, wrapped: bytes, *, kek_id: str, aad: bytes) -> UnwrappedKey:
        """Unwrap a data key that was wrapped under `kek_id` with the same `aad`."""
        raise NotImplementedError("subclasses of KmsBackend must provide unwrap()")


class Keyring:
    """The configured backends: the first wraps, each unwraps what it wrapped."""

    def __init__(self, backends: list[KmsBackend]) -> None:
        self.backends = backends

    @property
    def primary(self) -> KmsBackend:
        if not self.backends:
            raise KmsNotConfigured(
                "No key management is configured: set SINATRA_LOCAL_DEV_KMS_KEY (run "
                "`python manage.py generate_kms_key`) or SINATRA_KMS_KEY."
            )
        if not self.backends[0].can_wrap():
            raise KmsNotConfigured(
                "Only old keys are configured, so nothing new can be encrypted: set "
                "SINATRA_LOCAL_DEV_KMS_KEY or SINATRA_KMS_KEY."
            )
        return self.backends[0]

    def primary_kek(self) -> tuple[str, str]:
        """Return (kek_id, kek_version) that new and rewrapped rows get."""
        return self.primary.primary_kek()

    # sensitive_variables() with no names hides every variable of every frame below (the
    # backends and the KMS client libraries) from Django's error reports: they hold data keys.
    @sensitive_variables()
    def wrap(self, dek: bytes, *, aad: bytes) -> WrappedKey:
        backend = self.primary
        with _counted(backend, "wrap"):
            return backend.wrap(dek, aad=aad)

    @sensitive_variables()
    def unwrap(self, wrapped: bytes, *, kek_id: str, aad: bytes) -> UnwrappedKey:
        for backend in self.backends:
            if backend.handles(kek_id):
                with _counted(backend, "unwrap"):
                    unwrapped = backend.unwrap(wrapped, kek_id=kek_id, aad=aad)
                # A key held by a read-only backend is never the primary, whatever that backend says.
                is_primary = unwrapped.is_primary and backend is self.backends[0]
                return dataclasses.replace(unwrapped, is_primary=is_primary)
        if kek_id.startswith("local:"):
            raise UnknownKek(
                f"No configured local key has kek_id {kek_id}: add the key that wrapped it to "
                "SINATRA_LOCAL_DEV_KMS_OLD_KEYS (or SINATRA_LOCAL_DEV_KMS_KEY)."
            )
        if kek_id.startswith("gcp-kms:"):
            raise UnknownKek(f"kek_id {kek_id} needs Cloud KMS: set SINATRA_KMS_KEY.")
        raise UnknownKek(f"Unknown kek_id {kek_id!r}: no KMS backend knows this kind of key.")


@contextlib.contextmanager
def _counted(backend: KmsBackend, operation: str) -> Iterator[None]:
    """Count one KMS call by backend, operation and outcome (ok, or the KmsError class: no detail)."""
    name = type(backend).__name__.removesuffix("KmsBackend").lower() or "other"
    try:
        yield
    except KmsError as exc:
        KMS_CALLS.labels(name, operation, type(exc).__name__).inc()
        raise
    KMS_CALLS.labels(name, operation, "ok").inc()


@functools.cache
def get_keyring() -> Keyring:
    """Build the keyring from `settings.SINATRA_KMS_BACKENDS` (cached per process)."""
    backends = []
    for entry in settings.SINATRA_KMS_BACKENDS:
        try:
            backend_class = import_string(str(entry["BACKEND"]))
        except ImportError as exc:
            raise ImproperlyConfigured(f"Cannot load KMS backend {entry['BACKEND']!r}: {exc}") from exc
        backends.append(backend_class(**entry.get("OPTIONS", {})))
    return Keyring(backends)


@receiver(setting_changed)
def _reset_keyring(*, setting: str, **kwargs) -> None:
    if setting == "SINATRA_KMS_BACKENDS":
        get_keyring.cache_clear()
