"""What the providers' httpx clients share: timeouts, bounded retries on 429/5xx that honour
`retry-after`, and answers described without echoing a body (requests are logged by method,
URL path and status only, never a header that carries a key).
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import threading
import time

import httpx
from django.views.decorators.debug import sensitive_variables

from .errors import ProviderUnavailable

logger = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 529})  # 529: Anthropic "overloaded"

# Replaced in tests to observe waits without waiting.
sleep = time.sleep

_client: httpx.Client | None = None
_client_lock = threading.Lock()


def http_client() -> httpx.Client:
    """Return the process's shared HTTP client (connection pooling across calls)."""
    global _client
    with _client_lock:
        if _client is None:
            _client = httpx.Client(timeout=TIMEOUT, follow_redirects=False)
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
) -> httpx.Response:
    """Send a request, retrying 429/5xx and transport errors a bounded number of times.

    A `retry-after` longer than `max_wait` is not waited for: the last response is returned
    (or, for transport errors, ProviderUnavailable raised) so callers never hang.
    """
    path = httpx.URL(url).path
    for attempt in range(1, attempts + 1):
        try:
            response = http_client().request(method, url, headers=headers, params=params)
        except httpx.HTTPError as exc:
            logger.info(
                "%s %s %s failed (%s), attempt %d/%d", provider, method, path, type(exc).__name__, attempt, attempts
            )
            if attempt == attempts:
                raise ProviderUnavailable(
                    f"{provider} could not be reached ({type(exc).__name__}); try again later."
                ) from None
            sleep(min(max_wait, 0.25 * 2**attempt + random.uniform(0, 0.1)))  # noqa: S311 - jitter
            continue
        logger.info("%s %s %s -> %d, attempt %d/%d", provider, method, path, response.status_code, attempt, attempts)
        if response.status_code not in RETRY_STATUSES or attempt == attempts:
            return response
        wait = retry_after_seconds(response)
        if wait is None:
            wait = 0.25 * 2**attempt
        if wait > max_wait:
            return response
        sleep(wait)
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
