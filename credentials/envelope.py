"""Envelope encryption of provider API keys, version 1.

Every credential row gets a fresh 256-bit data key (DEK). The API key is encrypted under
the DEK; the DEK is wrapped by the KMS (the key-encryption key, KEK). Byte layout of v1:

    ciphertext   = nonce (12 bytes) || AES-256-GCM(DEK, utf-8 key, data AAD) || tag (16 bytes)
    wrapped_dek  = whatever the KMS backend returned for wrap(DEK, KMS AAD); for the local
                   backend nonce (12) || AES-256-GCM(KEK, DEK, KMS AAD) || tag (16)
    KMS AAD      = the tenant id: str(tenant_uuid) as ASCII, e.g. b"3f0c...-...-..."
    data AAD     = b"sinatra-credential:v1|" + tenant_uuid + b"|" + provider + b"|" + credential_uuid
                   (UUIDs as canonical lowercase hyphenated ASCII strings)

So a ciphertext copied to another tenant, provider slot or row fails to decrypt; it never
yields a wrong key. A row's own `envelope_version` and `kek_id` choose how it is opened,
never today's settings, and any failure is an error: nothing falls back to stored bytes.

Unwrapped DEKs may be cached in this process's memory only, keyed by (sha256 of wrapped_dek,
tenant id; `dek_cache_key`) and bounded in count (`SINATRA_DEK_CACHE_ENTRIES`) and age
(`SINATRA_DEK_CACHE_SECONDS`), so a busy worker does not call the KMS for every request.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple, Protocol
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.views.decorators.debug import sensitive_variables
from prometheus_client import Counter

from providers.secret import Secret

from .kms import Keyring, KmsError, UnwrappedKey, get_keyring
from .memo import BoundedMemo

DEK_CACHE_HITS = Counter("sinatra_dek_cache_hits", "Data keys found unwrapped in this process's cache.")
DEK_CACHE_MISSES = Counter("sinatra_dek_cache_misses", "Data keys not in the cache: unwrapped through the KMS.")

ENVELOPE_VERSION = 1
NONCE_BYTES = 12
# Data AADs memoised: as many as the DEK cache holds by default, so that a worker serving
# 10,000 tenants round-robin hits both (each entry is about 0.3 KB).
DATA_AAD_MEMO_ENTRIES = 20_000


class EnvelopeError(KmsError):
    """A stored envelope cannot be opened; the message says why, never a secret."""


class SealedRow(Protocol):
    """What a stored envelope carries, read only: `TenantModelCredential` and `ActiveKey` fit."""

    @property
    def id(self) -> UUID: ...
    @property
    def tenant_id(self) -> UUID: ...
    @property
    def provider(self) -> str: ...
    @property
    def kek_id(self) -> str: ...
    @property
    def wrapped_dek(self) -> bytes: ...
    @property
    def ciphertext(self) -> bytes: ...
    @property
    def envelope_version(self) -> int: ...


@dataclass(frozen=True)
class Sealed:
    """The stored parts of an envelope, as written."""

    kek_id: str
    kek_version: str
    wrapped_dek: bytes
    ciphertext: bytes
    envelope_version: int = ENVELOPE_VERSION


class Opened(NamedTuple):
    """A decrypted key, and whether its DEK was wrapped by a KEK that is no longer primary."""

    secret: Secret
    needs_rewrap: bool


def kms_aad(tenant_id: UUID) -> bytes:
    """Return the AAD bound into the wrapped DEK: the tenant id."""
    return str(tenant_id).encode("ascii")


def data_aad(*, tenant_id: UUID, provider: str, credential_id: UUID) -> bytes:
    """Return the AAD bound into the key's ciphertext: tenant, provider slot and row."""
    return _data_aad(tenant_id, provider, credential_id)


# Each row's data AAD, by its ids as integers (a UUID hashes in Python code, an int in C).
_data_aads: BoundedMemo[tuple[int, str, int], bytes] = BoundedMemo(DATA_AAD_MEMO_ENTRIES)


def _data_aad(tenant_id: UUID, provider: str, credential_id: UUID) -> bytes:
    key = (tenant_id.int, provider, credential_id.int)
    aad = _data_aads.get(key)
    if aad is None:
        fields = ("sinatra-credential:v1", str(tenant_id), provider, str(credential_id))
        aad = _data_aads.put(key, "|".join(fields).encode("ascii"))
    return aad


@sensitive_variables("secret", "dek")
def seal(
    secret: Secret, *, tenant_id: UUID, provider: str, credential_id: UUID, keyring: Keyring | None = None
) -> Sealed:
    """Encrypt a key under a fresh DEK and wrap the DEK with the primary KEK."""
    keyring = keyring or get_keyring()
    dek = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(NONCE_BYTES)
    aad = data_aad(tenant_id=tenant_id, provider=provider, credential_id=credential_id)
    ciphertext = nonce + AESGCM(dek).encrypt(nonce, secret.reveal().encode("utf-8"), aad)
    wrapped = keyring.wrap(dek, aad=kms_aad(tenant_id))
    return Sealed(
        kek_id=wrapped.kek_id,
        kek_version=wrapped.kek_version,
        wrapped_dek=wrapped.wrapped,
        ciphertext=ciphertext,
    )


def _check_version(row: SealedRow) -> None:
    if row.envelope_version != ENVELOPE_VERSION:
        raise EnvelopeError(
            f"Credential {row.id} has envelope_version {row.envelope_version}, which this "
            f"version of Sinatra cannot read (it knows {ENVELOPE_VERSION})."
        )


@sensitive_variables("plaintext")
def _decrypt(row: SealedRow, cipher: AESGCM) -> Secret:
    ciphertext = bytes(row.ciphertext)
    aad = _data_aad(row.tenant_id, row.provider, row.id)
    try:
        plaintext = cipher.decrypt(ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:], aad)
        return Secret(plaintext.decode("utf-8"), hint=getattr(row, "key_hint", None))
    except (InvalidTag, ValueError, UnicodeDecodeError):
        raise EnvelopeError(
            f"Credential {row.id} failed to decrypt: its ciphertext was changed, or it belongs "
            "to another tenant, provider or row."
        ) from None


# The SHA-256 of each wrapped DEK met, by its bytes: hashing a row's wrapped key again on every
# resolve cost more than looking it up here. A wrapped DEK is ciphertext under the KMS key, not
# a secret.
_wrapped_digests: BoundedMemo[bytes, bytes] = BoundedMemo(DATA_AAD_MEMO_ENTRIES)


def dek_cache_key(row: SealedRow) -> tuple[bytes, int]:
    """The DEK cache's key for a row: the SHA-256 of its wrapped DEK, and its tenant's id (as an int)."""
    wrapped = bytes(row.wrapped_dek)
    digest = _wrapped_digests.get(wrapped)
    if digest is None:
        digest = _wrapped_digests.put(wrapped, hashlib.sha256(wrapped).digest())
    return digest, row.tenant_id.int  # an int hashes in C; a UUID runs Python code


def open_sealed(row: SealedRow, *, use_cache: bool = True, keyring: Keyring | None = None) -> Opened:
    """Decrypt a stored row's key; raise `KmsError` (never return bytes) when it fails."""
    _check_version(row)
    cache_key = dek_cache_key(row)
    cached = dek_cache.get(cache_key) if use_cache else None
    if use_cache:
        (DEK_CACHE_HITS if cached is not None else DEK_CACHE_MISSES).inc()
    cipher, is_primary = cached or _cipher(row, keyring=keyring or get_keyring())
    if use_cache and cached is None:
        dek_cache.put(cache_key, (cipher, is_primary))
    return Opened(_decrypt(row, cipher), not is_primary)


@sensitive_variables("unwrapped")
def rewrap_dek(row: SealedRow, *, keyring: Keyring | None = None) -> Sealed:
    """Unwrap a row's DEK with the KEK it names and wrap it again with the primary KEK.

    The ciphertext does not change: it stays bound to the same DEK, tenant, provider and row.
    The key is decrypted first, so a row that would not open is never rewrapped.
    """
    keyring = keyring or get_keyring()
    _check_version(row)
    unwrapped = _unwrap(row, keyring=keyring)
    _decrypt(row, AESGCM(unwrapped.dek))
    wrapped = keyring.wrap(unwrapped.dek, aad=kms_aad(row.tenant_id))
    return Sealed(
        kek_id=wrapped.kek_id,
        kek_version=wrapped.kek_version,
        wrapped_dek=wrapped.wrapped,
        ciphertext=bytes(row.ciphertext),
    )


def _unwrap(row: SealedRow, *, keyring: Keyring) -> UnwrappedKey:
    return keyring.unwrap(bytes(row.wrapped_dek), kek_id=row.kek_id, aad=kms_aad(row.tenant_id))


@sensitive_variables("unwrapped")
def _cipher(row: SealedRow, *, keyring: Keyring) -> tuple[AESGCM, bool]:
    """Unwrap the row's DEK through the KMS: ready to decrypt with, and whether its KEK is primary."""
    unwrapped = _unwrap(row, keyring=keyring)
    return AESGCM(unwrapped.dek), unwrapped.is_primary


class DekCache:
    """A bounded, expiring, thread-safe LRU map of unwrapped DEKs, in process memory only.

    At most `max_entries` (default: `SINATRA_DEK_CACHE_ENTRIES`, read when an entry is added)
    entries, the least recently used dropped first; each lives `SINATRA_DEK_CACHE_SECONDS`.
    """

    def __init__(self, *, max_entries: int | None = None) -> None:
        self._max_entries = max_entries
        self._entries: OrderedDict[tuple, tuple[float, tuple[AESGCM, bool]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> tuple[AESGCM, bool] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires_at, value = entry
            if expires_at <= time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    @property
    def max_entries(self) -> int:
        return self._max_entries if self._max_entries is not None else settings.SINATRA_DEK_CACHE_ENTRIES

    def put(self, key: tuple, value: tuple[AESGCM, bool]) -> None:
        seconds = settings.SINATRA_DEK_CACHE_SECONDS
        if seconds <= 0:
            return
        max_entries = self.max_entries
        with self._lock:
            self._entries[key] = (time.monotonic() + seconds, value)
            self._entries.move_to_end(key)
            while len(self._entries) > max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


dek_cache = DekCache()


@receiver(setting_changed)
def _reset_dek_cache(*, setting: str, **kwargs) -> None:
    if setting in ("SINATRA_KMS_BACKENDS", "SINATRA_DEK_CACHE_SECONDS", "SINATRA_DEK_CACHE_ENTRIES"):
        dek_cache.clear()
