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
            predicate=google_retry.if_exception_type(
                google_exceptions.ServiceUnavailable, google_exceptions.DeadlineExceeded
            ),
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
        options = ClientOptions(api_endpoint=self.endpoint) if self.endpoint else None
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

    def primary_kek(self) -> tuple[str, str]:
        """Ask Cloud KMS which CryptoKeyVersion is primary now."""
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
        for _attempt in range(self.integrity_attempts):
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
            logger.warning("Cloud KMS Encrypt response failed its CRC32C check; retrying")
        raise KmsIntegrityError(
            f"Cloud KMS Encrypt failed its CRC32C check {self.integrity_attempts} times; "
            "nothing was stored. Check the network path to Cloud KMS."
        )

    def unwrap(self, wrapped: bytes, *, kek_id: str, aad: bytes) -> UnwrappedKey:
        request = {
            "name": kek_id.removeprefix(KEK_PREFIX),
            "ciphertext": wrapped,
            "ciphertext_crc32c": crc32c(wrapped),
            "additional_authenticated_data": aad,
            "additional_authenticated_data_crc32c": crc32c(aad),
        }
        for _attempt in range(self.integrity_attempts):
            response = self._call("decrypt with", self.client.decrypt, request=request)
            if response.plaintext_crc32c == crc32c(response.plaintext):
                return UnwrappedKey(dek=response.plaintext, is_primary=response.used_primary)
            logger.warning("Cloud KMS Decrypt response failed its CRC32C check; retrying")
        raise KmsIntegrityError(
            f"Cloud KMS Decrypt failed its CRC32C check {self.integrity_attempts} times. "
            "Check the network path to Cloud KMS."
        )

    def _call(self, action: str, method, *, request: dict):
        """Call Cloud KMS and turn its failures into KmsErrors that name no secret."""
        try:
            return method(request=request, timeout=self.timeout, retry=self._retry)
        except (google_exceptions.InvalidArgument, google_exceptions.FailedPrecondition) as exc:
            # Decrypt answers 400 for a ciphertext that fails authentication (wrong AAD).
            raise KmsIntegrityError(f"Cloud KMS refused to {action} {request['name']}: {exc.message}") from None
        except (google_exceptions.PermissionDenied, google_exceptions.NotFound) as exc:
            raise KmsError(
                f"Cloud KMS refused to {action} {request['name']} ({exc.code.name}): check the "
                "key name and that the service account may use it."
            ) from None
        except (
            google_exceptions.RetryError,
            google_exceptions.ServiceUnavailable,
            google_exceptions.DeadlineExceeded,
            requests.RequestException,
        ):
            raise KmsUnavailable(
                f"Cloud KMS at {self.where} could not be reached; nothing was changed. Try again later."
            ) from None
        except auth_exceptions.GoogleAuthError:
            raise KmsError("Cloud KMS credentials failed: check Application Default Credentials.") from None
        except google_exceptions.GoogleAPICallError as exc:
            raise KmsError(
                f"Cloud KMS failed to {action} {request['name']} ({exc.code.name if exc.code else 'error'})."
            ) from None
