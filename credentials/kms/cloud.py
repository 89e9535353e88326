"""The Google Cloud KMS backend: `Encrypt`/`Decrypt` on a symmetric CryptoKey.

The tenant id is the additional authenticated data. CRC32C checksums go both ways, as
Google's data-integrity guide asks: the request carries checksums of what we send, and the
response's checksums (and `verified_*` flags) are checked before its bytes are trusted. A
mismatch is retried a bounded number of times, then it is an error.

``kek_id`` is ``gcp-kms:<CryptoKey name>``; ``kek_version`` the CryptoKeyVersion that
`Encrypt` reports. `Decrypt` finds the version by itself and says whether it was the
primary (`used_primary`); a row decrypted with an older version is marked for rewrap.

Credentials are Application Default Credentials. `endpoint` (``SINATRA_KMS_ENDPOINT``)
points at a private endpoint; an ``http://`` endpoint means a local emulator, reached over
the REST transport with anonymous credentials.
"""

from __future__ import annotations

import functools
import logging

import google_crc32c
import requests
from google.api_core import exceptions as google_exceptions
from google.api_core import retry as google_retry
from google.api_core.client_options import ClientOptions
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import kms

from . import KmsBackend, KmsError, KmsIntegrityError, KmsUnavailable, UnwrappedKey, WrappedKey

logger = logging.getLogger(__name__)

KEK_PREFIX = "gcp-kms:"

# Retried within `timeout`. Over REST, api_core raises the HTTP-level classes (503
# ServiceUnavailable, 504 GatewayTimeout); gRPC's DeadlineExceeded is a GatewayTimeout.
TRANSIENT_ERRORS = (google_exceptions.ServiceUnavailable, google_exceptions.GatewayTimeout)


def crc32c(data: bytes) -> int:
    """Return the CRC32C checksum of `data` as an integer, as Cloud KMS expects it."""
    return int(google_crc32c.value(data))


class CloudKmsBackend(KmsBackend):
    """Wrap and unwrap data keys with a Cloud KMS symmetric CryptoKey."""

    def __init__(
        self,
        *,
        key_name: str,
        endpoint: str = "",
        timeout: float = 10.0,
        integrity_attempts: int = 3,
        client: kms.KeyManagementServiceClient | None = None,
    ) -> None:
        if integrity_attempts < 1:
            raise ValueError("integrity_attempts must be at least 1")
        self.key_name = key_name
        self.endpoint = endpoint
        self.timeout = timeout
        self.integrity_attempts = integrity_attempts
        self._client = client
        # Transient failures (unavailable, deadline) are retried within `timeout` seconds.
        self._retry = google_retry.Retry(
            initial=0.1,
            maximum=1.0,
            multiplier=2.0,
            timeout=timeout,
            predicate=google_retry.if_exception_type(*TRANSIENT_ERRORS),
        )

    @functools.cached_property
    def client(self) -> kms.KeyManagementServiceClient:
        if self._client is not None:
            return self._client
        if self.endpoint.startswith("http://"):
            return kms.KeyManagementServiceClient(
                transport="rest",
                credentials=AnonymousCredentials(),
                client_options=ClientOptions(api_endpoint=self.endpoint),
            )
        # The gRPC transport wants host[:port]; accept https://host too.
        host = self.endpoint.removeprefix("https://").rstrip("/")
        options = ClientOptions(api_endpoint=host) if host else None
        try:
            return kms.KeyManagementServiceClient(client_options=options)
        except auth_exceptions.DefaultCredentialsError:
            raise KmsError(
                "Cloud KMS needs Application Default Credentials: run on a Google Cloud "
                "service account, or set GOOGLE_APPLICATION_CREDENTIALS."
            ) from None

    @property
    def where(self) -> str:
        return self.endpoint or "cloudkms.googleapis.com"

    def can_wrap(self) -> bool:
        return True

    def primary_kek(self) -> tuple[str, str]:
        """Ask Cloud KMS which CryptoKeyVersion is primary now (needs cloudkms.cryptoKeys.get)."""
        crypto_key = self._call("read", self.client.get_crypto_key, request={"name": self.key_name})
        return KEK_PREFIX + self.key_name, crypto_key.primary.name

    def handles(self, kek_id: str) -> bool:
        return kek_id.startswith(KEK_PREFIX)

    def wrap(self, dek: bytes, *, aad: bytes) -> WrappedKey:
        request = {
            "name": self.key_name,
            "plaintext": dek,
            "plaintext_crc32c": crc32c(dek),
            "additional_authenticated_data": aad,
            "additional_authenticated_data_crc32c": crc32c(aad),
        }
        for attempt in range(1, self.integrity_attempts + 1):
            response = self._call("encrypt with", self.client.encrypt, request=request)
            if (
                response.verified_plaintext_crc32c
                and response.verified_additional_authenticated_data_crc32c
                and response.ciphertext_crc32c == crc32c(response.ciphertext)
            ):
                return WrappedKey(
                    kek_id=KEK_PREFIX + self.key_name,
                    kek_version=response.name,
                    wrapped=response.ciphertext,
                )
            logger.warning(
                "Cloud KMS Encrypt response failed its CRC32C check (attempt %d of %d)",
                attempt,
                self.integrity_attempts,
            )
        raise KmsIntegrityError(
            f"Cloud KMS Encrypt failed its CRC32C check {self.integrity_attempts} times. "
            "Check the network path to Cloud KMS."
        )

    def unwrap(self, wrapped: bytes, *, kek_id: str, aad: bytes) -> UnwrappedKey:
        request = {
            "name": kek_id.removeprefix(KEK_PREFIX),
            "ciphertext": wrapped,
            "ciphertext_crc32c": crc32c(wrapped),
            "additional_authenticated_data": aad,
            "additional_authenticated_data_crc32c": crc32c(aad),
        }
        for attempt in range(1, self.integrity_attempts + 1):
            response = self._call("decrypt with", self.client.decrypt, request=request)
            if response.plaintext_crc32c == crc32c(response.plaintext):
                return UnwrappedKey(dek=response.plaintext, is_primary=response.used_primary)
            logger.warning(
                "Cloud KMS Decrypt response failed its CRC32C check (attempt %d of %d)",
                attempt,
                self.integrity_attempts,
            )
        raise KmsIntegrityError(
            f"Cloud KMS Decrypt failed its CRC32C check {self.integrity_attempts} times. "
            "Check the network path to Cloud KMS."
        )

    def _call(self, action: str, method, *, request: dict):
        """Call Cloud KMS and turn its failures into KmsErrors that name no secret."""
        name = request["name"]
        try:
            return method(request=request, timeout=self.timeout, retry=self._retry)
        except google_exceptions.BadRequest as exc:
            status, message = _error_status(exc)
            if status == "FAILED_PRECONDITION":
                # E.g. the key version that wrapped the data key is disabled or destroyed.
                raise KmsError(f"Cloud KMS refused to {action} {name} ({status}): {message}") from None
            # Decrypt answers INVALID_ARGUMENT for a ciphertext that fails authentication (wrong
            # AAD, changed bytes), and either call for a request whose CRC32C did not match.
            hint = (
                " The wrapped data key was changed, belongs to another tenant, or was wrapped by another key."
                if action.startswith("decrypt")
                else ""
            )
            raise KmsIntegrityError(f"Cloud KMS refused to {action} {name}: {message}{hint}") from None
        except (google_exceptions.Forbidden, google_exceptions.NotFound) as exc:
            status, _ = _error_status(exc)
            raise KmsError(
                f"Cloud KMS refused to {action} {name} ({status}): check the key name and that the "
                "service account may use it."
            ) from None
        except (
            google_exceptions.RetryError,
            *TRANSIENT_ERRORS,
            requests.RequestException,
            auth_exceptions.TransportError,
        ):
            raise KmsUnavailable(f"Cloud KMS at {self.where} could not be reached; try again later.") from None
        except google_exceptions.TooManyRequests:
            raise KmsUnavailable(
                f"Cloud KMS at {self.where} refused to {action} {name} for now (quota exhausted); try again later."
            ) from None
        except (google_exceptions.Unauthorized, auth_exceptions.GoogleAuthError):
            raise KmsError("Cloud KMS credentials failed: check Application Default Credentials.") from None
        except google_exceptions.GoogleAPICallError as exc:
            status, _ = _error_status(exc)
            raise KmsError(f"Cloud KMS failed to {action} {name} ({status}).") from None


def _error_status(exc: google_exceptions.GoogleAPICallError) -> tuple[str, str]:
    """Return the gRPC status name and the server's own message of a failed call.

    Over REST, api_core only knows the HTTP status (400 is `BadRequest` whether Cloud KMS said
    INVALID_ARGUMENT or FAILED_PRECONDITION), and its message starts with the request URL; the
    JSON error body says both precisely.
    """
    status = exc.grpc_status_code.name if exc.grpc_status_code is not None else ""
    message = exc.message
    try:
        error = exc.response.json()["error"]
        status = status or str(error.get("status") or "")
        message = str(error.get("message") or message)
    except (AttributeError, KeyError, TypeError, ValueError):
        pass
    if not status:
        status = getattr(exc.code, "name", None) or (f"HTTP {exc.code}" if exc.code else "error")
    return status, message
