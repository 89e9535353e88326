"""A fake Google Cloud KMS REST endpoint, for driving the real google-cloud-kms client offline.

The real `KeyManagementServiceClient`, built with ``transport="rest"``, anonymous credentials
and ``api_endpoint="http://127.0.0.1:PORT"``, talks JSON over HTTP to this server:

    GET  /v1/<CryptoKey name>            -> CryptoKey (``primary.name`` is the primary version)
    POST /v1/<CryptoKey name>:encrypt    -> EncryptResponse
    POST /v1/<CryptoKey name>:decrypt    -> DecryptResponse

It behaves like Cloud KMS where Sinatra depends on it: each CryptoKey has versions, each with
its own random AES-256-GCM key, and one primary; Encrypt uses the primary, and its
ciphertext says which version made it, so Decrypt finds the version by itself and reports
``usedPrimary``; the additional authenticated data is really authenticated; request CRC32C
fields are checked (a mismatch is 400 INVALID_ARGUMENT) and response checksums are real.
Ciphertext layout (this fake's own, opaque to clients, as Cloud KMS's is):

    version number (4 bytes, big-endian) || nonce (12 bytes) || AES-256-GCM(plaintext, AAD) || tag (16)

Tests steer it: `rotate()` a key, `disable_version()`, `corrupt_next()` responses (in-transit
damage to bytes or checksums, or unverified request checksums), `fail_next()` /
`fail_after()` with an HTTP error such as 503, and read `requests`, the log of every call.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import google_crc32c
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

Rpc = Literal["get_crypto_key", "encrypt", "decrypt"]
Corruption = Literal["data", "checksum", "verified_plaintext", "verified_aad"]

CRYPTO_KEY_NAME = re.compile(r"projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/:]+")
VERSION_NAME = re.compile(rf"(?P<key>{CRYPTO_KEY_NAME.pattern})/cryptoKeyVersions/(?P<number>\d+)")
VERSION_HEADER_BYTES = 4
NONCE_BYTES = 12

# The JSON enum values the client asks for (`$alt=json;enum-encoding=int`).
ENCRYPT_DECRYPT = 1  # CryptoKey.CryptoKeyPurpose
GOOGLE_SYMMETRIC_ENCRYPTION = 1  # CryptoKeyVersion.CryptoKeyVersionAlgorithm
ENABLED, DISABLED = 1, 2  # CryptoKeyVersion.CryptoKeyVersionState
SOFTWARE = 1  # ProtectionLevel

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def crc32c(data: bytes) -> int:
    return int(google_crc32c.value(data))


class KmsFault(Exception):
    """An error answer: HTTP status, gRPC status name and message, as Cloud KMS sends them."""

    def __init__(self, code: int, message: str, status: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or STATUS_NAMES.get(code, "UNKNOWN")

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "status": self.status}}


@dataclass
class KeyVersion:
    name: str
    number: int
    aead: AESGCM
    enabled: bool = True


@dataclass
class CryptoKey:
    name: str
    versions: list[KeyVersion] = field(default_factory=list)
    primary: KeyVersion | None = None

    def add_version(self) -> KeyVersion:
        number = len(self.versions) + 1
        version = KeyVersion(
            name=f"{self.name}/cryptoKeyVersions/{number}",
            number=number,
            aead=AESGCM(AESGCM.generate_key(bit_length=256)),
        )
        self.versions.append(version)
        return version


@dataclass(frozen=True)
class LoggedRequest:
    """One call the fake received, decoded, and what it answered."""

    method: str
    path: str
    rpc: str
    name: str
    body: dict[str, Any]
    status: int
    response: dict[str, Any]

    def field_bytes(self, json_name: str) -> bytes | None:
        """Return a base64 field of the request body (e.g. ``additionalAuthenticatedData``)."""
        value = self.body.get(json_name)
        return None if value is None else b64decode(value)

    @property
    def aad(self) -> bytes:
        return self.field_bytes("additionalAuthenticatedData") or b""


@dataclass
class _Failure:
    rpc: str | None
    status: int
    remaining: int | None  # None: until healed
    successes_first: int = 0


@dataclass
class _Corruption:
    rpc: str
    how: str
    remaining: int


def b64decode(value: str) -> bytes:
    """Decode proto3 JSON bytes, which may be standard or URL-safe base64, padded or not."""
    value = value.replace("-", "+").replace("_", "/")
    return base64.b64decode(value + "=" * (-len(value) % 4), validate=True)


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class FakeCloudKms:
    """An in-process Cloud KMS REST server on 127.0.0.1; use as a context manager."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, CryptoKey] = {}
        self._failures: list[_Failure] = []
        self._corruptions: list[_Corruption] = []
        self._log: list[LoggedRequest] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()

    # --- lifecycle

    def start(self) -> FakeCloudKms:
        fake = self

        class Handler(_Handler):
            kms = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-cloud-kms", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        # Keep-alive connections would otherwise hold their handler threads open.
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> FakeCloudKms:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The endpoint to give the client: ``http://127.0.0.1:PORT``."""
        assert self._server is not None, "the fake Cloud KMS is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- keys

    def create_key(self, name: str) -> str:
        """Create a symmetric CryptoKey with one (primary) version; return that version's name."""
        if not CRYPTO_KEY_NAME.fullmatch(name):
            raise ValueError(f"not a CryptoKey name: {name}")
        with self._lock:
            key = self._keys[name] = CryptoKey(name=name)
            key.primary = key.add_version()
            return key.primary.name

    def rotate(self, name: str) -> str:
        """Add a version to a key and make it primary, as a rotation does; return its name."""
        with self._lock:
            key = self._keys[name]
            key.primary = key.add_version()
            return key.primary.name

    def primary_version(self, name: str) -> str:
        with self._lock:
            primary = self._keys[name].primary
            assert primary is not None
            return primary.name

    def versions(self, name: str) -> list[str]:
        with self._lock:
            return [version.name for version in self._keys[name].versions]

    def disable_version(self, version_name: str) -> None:
        """Disable a key version: Decrypt of its ciphertexts then fails with FAILED_PRECONDITION."""
        match = VERSION_NAME.fullmatch(version_name)
        assert match, version_name
        with self._lock:
            self._keys[match["key"]].versions[int(match["number"]) - 1].enabled = False

    # --- faults

    def fail_next(self, count: int = 1, *, status: int = 503, rpc: Rpc | None = None) -> None:
        """Answer the next `count` calls (of `rpc`, or any) with an HTTP error."""
        with self._lock:
            self._failures.append(_Failure(rpc=rpc, status=status, remaining=count))

    def fail_after(self, successes: int, *, status: int = 503, rpc: Rpc | None = None) -> None:
        """Let `successes` more calls (of `rpc`, or any) succeed, then fail every one until `heal()`."""
        with self._lock:
            self._failures.append(_Failure(rpc=rpc, status=status, remaining=None, successes_first=successes))

    def corrupt_next(self, rpc: Literal["encrypt", "decrypt"], count: int = 1, *, how: Corruption = "data") -> None:
        """Damage the next `count` successful responses of `rpc`.

        ``data``: flip a bit of the ciphertext (Encrypt) or plaintext (Decrypt) after its
        checksum was computed, as a fault on the way would. ``checksum``: send a wrong
        checksum. ``verified_plaintext`` / ``verified_aad`` (Encrypt only): say the request's
        checksum of that field was not verified.
        """
        with self._lock:
            self._corruptions.append(_Corruption(rpc=rpc, how=how, remaining=count))

    def heal(self) -> None:
        """Drop every pending failure and corruption."""
        with self._lock:
            self._failures.clear()
            self._corruptions.clear()

    # --- the log

    @property
    def requests(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._log)

    def calls(self, rpc: Rpc, *, ok: bool | None = None) -> list[LoggedRequest]:
        """Return the logged calls of one RPC; `ok` keeps only successes (True) or errors (False)."""
        return [
            request for request in self.requests if request.rpc == rpc and (ok is None or (request.status == 200) == ok)
        ]

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    # --- serving

    def handle(self, method: str, raw_path: str, raw_body: bytes) -> tuple[int, dict[str, Any]]:
        """Answer one HTTP request; return (status, JSON body). Called from handler threads."""
        path = unquote(urlsplit(raw_path).path)
        rpc, name, body = "unknown", "", {}
        try:
            rpc, name = self._route(method, path)
            body = self._parse_body(raw_body) if method == "POST" else {}
            with self._lock:
                self._take_failure(rpc)
                if rpc == "get_crypto_key":
                    status, response = 200, self._get_crypto_key(name)
                elif rpc == "encrypt":
                    status, response = 200, self._encrypt(name, body)
                else:
                    status, response = 200, self._decrypt(name, body)
                self._corrupt(rpc, response)
        except KmsFault as fault:
            status, response = fault.code, fault.body()
        except Exception as exc:  # a bug in the fake: answer like a server error, never hang
            status, response = 500, KmsFault(500, f"fake Cloud KMS failed: {exc!r}").body()
        with self._lock:
            self._log.append(
                LoggedRequest(method=method, path=path, rpc=rpc, name=name, body=body, status=status, response=response)
            )
        return status, response

    def _route(self, method: str, path: str) -> tuple[str, str]:
        if not path.startswith("/v1/"):
            raise KmsFault(404, f"The requested URL {path} was not found on this server.")
        resource = path.removeprefix("/v1/")
        if method == "GET" and CRYPTO_KEY_NAME.fullmatch(resource):
            return "get_crypto_key", resource
        if method == "POST":
            name, _, verb = resource.rpartition(":")
            if verb == "encrypt" and (CRYPTO_KEY_NAME.fullmatch(name) or VERSION_NAME.fullmatch(name)):
                return "encrypt", name
            if verb == "decrypt" and CRYPTO_KEY_NAME.fullmatch(name):
                return "decrypt", name
        raise KmsFault(404, f"The requested URL {path} was not found on this server.")

    @staticmethod
    def _parse_body(raw_body: bytes) -> dict[str, Any]:
        try:
            body = json.loads(raw_body or b"{}")
        except ValueError:
            raise KmsFault(400, "Invalid JSON payload received.") from None
        if not isinstance(body, dict):
            raise KmsFault(400, "Invalid JSON payload received.")
        return body

    def _take_failure(self, rpc: str) -> None:
        for failure in self._failures:
            if failure.rpc not in (None, rpc):
                continue
            if failure.successes_first > 0:
                failure.successes_first -= 1
                continue
            if failure.remaining is not None:
                if failure.remaining <= 0:
                    continue
                failure.remaining -= 1
            messages = {503: "The service is currently unavailable.", 504: "Deadline exceeded."}
            raise KmsFault(failure.status, messages.get(failure.status, "Injected failure."))

    def _corrupt(self, rpc: str, response: dict[str, Any]) -> None:
        for corruption in self._corruptions:
            if corruption.rpc != rpc or corruption.remaining <= 0:
                continue
            corruption.remaining -= 1
            data_field = "ciphertext" if rpc == "encrypt" else "plaintext"
            if corruption.how == "data":
                damaged = bytearray(b64decode(response[data_field]))
                damaged[len(damaged) // 2] ^= 0x01
                response[data_field] = b64encode(bytes(damaged))
            elif corruption.how == "checksum":
                checksum_field = data_field + "Crc32c"
                response[checksum_field] = str((int(response[checksum_field]) + 1) % 2**32)
            elif corruption.how == "verified_plaintext":
                response["verifiedPlaintextCrc32c"] = False
            elif corruption.how == "verified_aad":
                response["verifiedAdditionalAuthenticatedDataCrc32c"] = False
            return

    def _key(self, name: str) -> CryptoKey:
        key = self._keys.get(name)
        if key is None:
            raise KmsFault(404, f"{name} not found.")
        return key

    def _get_crypto_key(self, name: str) -> dict[str, Any]:
        key = self._key(name)
        assert key.primary is not None
        return {
            "name": key.name,
            "purpose": ENCRYPT_DECRYPT,
            "primary": {
                "name": key.primary.name,
                "state": ENABLED if key.primary.enabled else DISABLED,
                "algorithm": GOOGLE_SYMMETRIC_ENCRYPTION,
                "protectionLevel": SOFTWARE,
            },
        }

    @staticmethod
    def _checked_bytes(body: dict[str, Any], json_name: str, proto_name: str, *, required: bool) -> tuple[bytes, bool]:
        """Return a bytes field and whether its CRC32C was sent (and matched); 400 if it did not."""
        raw = body.get(json_name)
        if raw is None:
            if required:
                raise KmsFault(400, f"{proto_name} must be specified.")
            data = b""
        else:
            try:
                data = b64decode(raw)
            except (ValueError, TypeError):
                raise KmsFault(400, f"Invalid value at '{proto_name}' (TYPE_BYTES).") from None
        checksum = body.get(json_name + "Crc32c")
        if checksum is None:
            return data, False
        if int(checksum) != crc32c(data):
            raise KmsFault(
                400,
                f"The checksum in field {proto_name}_crc32c did not match the data in field {proto_name}.",
            )
        return data, True

    def _encrypt(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        version_match = VERSION_NAME.fullmatch(name)
        key = self._key(version_match["key"] if version_match else name)
        version = key.versions[int(version_match["number"]) - 1] if version_match else key.primary
        assert version is not None
        if not version.enabled:
            raise KmsFault(400, f"{version.name} is not enabled.", "FAILED_PRECONDITION")
        plaintext, plaintext_verified = self._checked_bytes(body, "plaintext", "plaintext", required=True)
        aad, aad_verified = self._checked_bytes(
            body, "additionalAuthenticatedData", "additional_authenticated_data", required=False
        )
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = (
            version.number.to_bytes(VERSION_HEADER_BYTES, "big") + nonce + version.aead.encrypt(nonce, plaintext, aad)
        )
        return {
            "name": version.name,
            "ciphertext": b64encode(ciphertext),
            "ciphertextCrc32c": str(crc32c(ciphertext)),
            "verifiedPlaintextCrc32c": plaintext_verified,
            "verifiedAdditionalAuthenticatedDataCrc32c": aad_verified,
            "protectionLevel": SOFTWARE,
        }

    def _decrypt(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        key = self._key(name)
        ciphertext, _ = self._checked_bytes(body, "ciphertext", "ciphertext", required=True)
        aad, _ = self._checked_bytes(
            body, "additionalAuthenticatedData", "additional_authenticated_data", required=False
        )
        failed = KmsFault(400, "Decryption failed: verify that 'name' refers to the correct CryptoKey.")
        header, nonce = ciphertext[:VERSION_HEADER_BYTES], ciphertext[VERSION_HEADER_BYTES:][:NONCE_BYTES]
        number = int.from_bytes(header, "big") if len(header) == VERSION_HEADER_BYTES else 0
        if not 1 <= number <= len(key.versions) or len(nonce) != NONCE_BYTES:
            raise failed
        version = key.versions[number - 1]
        if not version.enabled:
            raise KmsFault(400, f"{version.name} is not enabled.", "FAILED_PRECONDITION")
        try:
            plaintext = version.aead.decrypt(nonce, ciphertext[VERSION_HEADER_BYTES + NONCE_BYTES :], aad)
        except InvalidTag:
            raise failed from None
        return {
            "plaintext": b64encode(plaintext),
            "plaintextCrc32c": str(crc32c(plaintext)),
            "usedPrimary": version is key.primary,
            "protectionLevel": SOFTWARE,
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without this, Nagle and delayed ACKs add 40 ms.
    disable_nagle_algorithm = True
    kms: FakeCloudKms

    def setup(self) -> None:
        super().setup()
        with self.kms._lock:
            self.kms._connections.add(self.connection)

    def finish(self) -> None:
        with self.kms._lock:
            self.kms._connections.discard(self.connection)
        super().finish()

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        status, response = self.kms.handle(method, self.path, raw_body)
        payload = json.dumps(response).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the test log is `FakeCloudKms.requests`."""
