"""What the providers' httpx clients share: timeouts, a total deadline, bounded retries on
429/5xx that honour `retry-after`, and answers described without echoing a body (requests are
logged by method, URL path and status only, never a header that carries a key).

httpx's timeouts bound each socket operation, not a request: a provider that sends a byte every
two seconds never trips a 10 s read timeout. A call with a `Deadline` therefore runs on a
network backend that gives every socket operation (connect, TLS handshake, each write and
read, of every attempt) at most the time left until the deadline; past it, the operation fails
as a timeout, httpcore closes that connection, and the call raises ProviderUnavailable.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import ssl
import threading
import time
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from time import monotonic
from typing import Any

import httpcore
import httpx
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from .errors import ProviderUnavailable

logger = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 529})  # 529: Anthropic "overloaded"

# Replaced in tests to observe waits without waiting.
sleep = time.sleep


@dataclass(frozen=True)
class Deadline:
    """When a whole provider call must be over: `seconds` from its start, at monotonic time `at`."""

    seconds: float
    at: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(seconds, monotonic() + seconds)

    def remaining(self) -> float:
        return self.at - monotonic()


# The deadline of the call this thread (or task) is making, read by every socket operation.
_current_deadline: ContextVar[Deadline | None] = ContextVar("provider_call_deadline", default=None)


def _bounded(timeout: float | None, error: type[Exception]) -> float | None:
    """Return `timeout` cut to the time left before the current deadline; raise `error` past it."""
    deadline = _current_deadline.get()
    if deadline is None:
        return timeout
    remaining = deadline.remaining()
    if remaining <= 0:
        raise error("the call's deadline has passed")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every operation ends by the current call's deadline."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        stream = self._stream.start_tls(ssl_context, server_hostname, _bounded(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(stream)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's own socket backend, its streams bounded by the current call's deadline."""

    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._backend.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        timeout = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._backend.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _Transport(httpx.HTTPTransport):
    """httpx's transport (its defaults: TLS verified, HTTP/1.1, pooled) on the deadline backend.

    Provider calls go straight to the provider: HTTP(S)_PROXY variables are not read.
    """

    def __init__(self) -> None:
        super().__init__()
        self._pool = httpcore.ConnectionPool(  # the pool httpx builds, with httpx's default limits
            ssl_context=httpx.create_ssl_context(),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_DeadlineBackend(),
        )


_client: httpx.Client | None = None
_client_lock = threading.Lock()


def http_client() -> httpx.Client:
    """Return the process's shared HTTP client (connection pooling across calls)."""
    global _client
    with _client_lock:
        if _client is None:
            _client = httpx.Client(timeout=TIMEOUT, follow_redirects=False, transport=_Transport())
        return _client


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Return how long `retry-after` asks to wait (seconds or an HTTP date), if it says."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:  # "inf" or "nan" is no answer (and int(inf) would raise where the wait is shown)
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def call_deadline() -> Deadline:
    """Return the deadline of a provider call starting now (SINATRA_MODEL_FETCH_DEADLINE_SECONDS)."""
    return Deadline.after(settings.SINATRA_MODEL_FETCH_DEADLINE_SECONDS)


def _too_slow(provider: str, deadline: Deadline) -> ProviderUnavailable:
    return ProviderUnavailable(f"{provider} did not answer within {deadline.seconds:g} s; try again later.")


@sensitive_variables("headers")
def request(
    provider: str,
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    params: dict | None = None,
    attempts: int = 3,
    max_wait: float = 10.0,
    deadline: Deadline | None = None,
) -> httpx.Response:
    """Send a request, retrying 429/5xx and transport errors a bounded number of times.

    A `retry-after` longer than `max_wait` is not waited for: the last response is returned
    (or, for transport errors, ProviderUnavailable raised) so callers never hang. `deadline`
    bounds the whole call, its attempts, waits and every socket read included: past it the
    connection is closed and ProviderUnavailable raised; a wait that would end past it is not
    waited.
    """
    path = httpx.URL(url).path
    token = _current_deadline.set(deadline)
    try:
        for attempt in range(1, attempts + 1):
            if deadline is not None and deadline.remaining() <= 0:
                raise _too_slow(provider, deadline)
            try:
                response = http_client().request(method, url, headers=headers, params=params)
            except httpx.HTTPError as exc:
                logger.info(
                    "%s %s %s failed (%s), attempt %d/%d", provider, method, path, type(exc).__name__, attempt, attempts
                )
                if deadline is not None and deadline.remaining() <= 0:
                    raise _too_slow(provider, deadline) from None
                wait = min(max_wait, 0.25 * 2**attempt + random.uniform(0, 0.1))  # noqa: S311 - jitter
                if attempt == attempts or (deadline is not None and wait >= deadline.remaining()):
                    raise ProviderUnavailable(
                        f"{provider} could not be reached ({type(exc).__name__}); try again later."
                    ) from None
                sleep(wait)
                continue
            logger.info(
                "%s %s %s -> %d, attempt %d/%d", provider, method, path, response.status_code, attempt, attempts
            )
            if response.status_code not in RETRY_STATUSES or attempt == attempts:
                return response
            wait = retry_after_seconds(response)
            if wait is None:
                wait = 0.25 * 2**attempt
            if wait > max_wait or (deadline is not None and wait >= deadline.remaining()):
                return response
            sleep(wait)
    finally:
        _current_deadline.reset(token)
    raise AssertionError("unreachable")  # pragma: no cover


def unavailable(provider: str, response: httpx.Response, what: str) -> ProviderUnavailable:
    """Describe a provider's non-success answer without echoing its body."""
    if response.status_code == 429:
        wait = retry_after_seconds(response)
        later = f" in {int(wait) + 1} s" if wait else " later"
        return ProviderUnavailable(f"{provider} is rate limiting {what}; try again{later}.")
    return ProviderUnavailable(f"{provider} answered HTTP {response.status_code} to {what}; try again later.")


def json_body(provider: str, response: httpx.Response) -> dict:
    """Return a response's JSON object, or ProviderUnavailable if it is not one."""
    try:
        body = response.json()
    except ValueError:
        raise ProviderUnavailable(f"{provider} answered with something that is not JSON.") from None
    if not isinstance(body, dict):
        raise ProviderUnavailable(f"{provider} answered with JSON that is not an object.")
    return body
