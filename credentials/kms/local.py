"""The local KMS backend: AES-256-GCM under a 32-byte key from the environment.

For evaluation and single-tenant self-hosting. Wrapped data key layout:
``nonce (12 bytes) || AES-256-GCM(kek, dek, aad=tenant id)`` (32-byte key + 16-byte tag),
60 bytes in all. ``kek_id`` is ``local:`` + the first 16 hex digits of sha256(key), so a row
names the key it needs without revealing it.
"""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from . import KmsBackend, KmsIntegrityError, UnknownKek, UnwrappedKey, WrappedKey

NONCE_BYTES = 12


def generate_key() -> str:
    """Return a fresh local KMS key: base64 of 32 random bytes."""
    return base64.b64encode(os.urandom(32)).decode("ascii")


def local_kek_id(raw_key: bytes) -> str:
    """Return the kek_id of a local key: a fingerprint, never the key."""
    return "local:" + hashlib.sha256(raw_key).hexdigest()[:16]


class LocalKmsBackend(KmsBackend):
    """Wrap data keys with a local AES-256-GCM key; unwrap with it or any old key."""

    def __init__(self, *, key: str | None, old_keys: list[str] | tuple[str, ...] = ()) -> None:
        self._keys: dict[str, AESGCM] = {}
        self._primary: str | None = None
        for encoded in [*old_keys, *([key] if key else [])]:
            raw = base64.b64decode(encoded)
            if len(raw) != 32:
                raise ValueError("a local KMS key must be 32 bytes")
            self._keys[local_kek_id(raw)] = AESGCM(raw)
        if key:
            self._primary = local_kek_id(base64.b64decode(key))

    def can_wrap(self) -> bool:
        return self._primary is not None

    def primary_kek(self) -> tuple[str, str]:
        if self._primary is None:
            raise UnknownKek("No local key is configured to wrap with: set SINATRA_LOCAL_DEV_KMS_KEY.")
        return self._primary, ""

    def handles(self, kek_id: str) -> bool:
        return kek_id in self._keys

    def wrap(self, dek: bytes, *, aad: bytes) -> WrappedKey:
        if self._primary is None:
            raise UnknownKek("No local key is configured to wrap with: set SINATRA_LOCAL_DEV_KMS_KEY.")
        nonce = os.urandom(NONCE_BYTES)
        wrapped = nonce + self._keys[self._primary].encrypt(nonce, dek, aad)
        return WrappedKey(kek_id=self._primary, kek_version="", wrapped=wrapped)

    def unwrap(self, wrapped: bytes, *, kek_id: str, aad: bytes) -> UnwrappedKey:
        aead = self._keys.get(kek_id)
        if aead is None:
            raise UnknownKek(f"No configured local key has kek_id {kek_id}.")
        try:
            dek = aead.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], aad)
        except (InvalidTag, ValueError):
            raise KmsIntegrityError(
                f"The wrapped data key failed authentication under {kek_id}: "
                "the stored bytes were changed or belong to another tenant."
            ) from None
        return UnwrappedKey(dek=dek, is_primary=kek_id == self._primary)
