"""The shared cache's configuration: Redis values are JSON, never pickles.

Django's RedisCache unpickles what it reads by default, so anyone who can write to Redis
could run code in a process that holds the KMS key. `JsonSerializer` reads JSON only: a value
that is not JSON (a pickle included) raises ValueError and is never executed. Integers stay
raw, as in Django's own serializer, so that `incr()` and `decr()` keep working in Redis.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

from django.core.exceptions import ImproperlyConfigured

REDIS_BACKEND = "django.core.cache.backends.redis.RedisCache"

SERIALIZER = "sinatra.cache.JsonSerializer"
# Passed to redis-py's connection pool (CACHE_URL's query string may change them): a shared
# cache that is down or slow answers within half a second, so a resolution goes on without it.
REDIS_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}


class JsonSerializer:
    """Django's RedisSerializer interface (`dumps`, `loads`), in JSON."""

    def __init__(self, protocol: int | None = None) -> None:
        """Accept (and ignore) the pickle protocol Django's own serializer takes."""

    def dumps(self, obj: Any) -> bytes | int:
        """Return `obj` as compact JSON bytes; an int as itself (Redis counts it)."""
        if type(obj) is int:  # not bool: type(), as Django's serializer does
            return obj
        return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()

    def loads(self, data: bytes) -> Any:
        """Return the value of stored JSON; ValueError for anything else (never unpickled)."""
        try:
            return int(data)
        except ValueError:
            return json.loads(data)


def cache_settings(config: dict[str, Any]) -> dict[str, Any]:
    """Return a CACHES entry with Sinatra's Redis options added (other backends as given).

    The serializer is not an option: whatever CACHE_URL says, Redis values are JSON. A Redis
    cache without the `redis` package is a start-up error, not a failure at the first request.
    """
    if config.get("BACKEND") == REDIS_BACKEND:
        try:
            importlib.import_module("redis")
        except ImportError as exc:
            raise ImproperlyConfigured(
                f"CACHE_URL names Redis, but the redis package cannot be imported ({exc}): "
                "install the requirements with `pip install -r requirements.txt`."
            ) from None
        options = {**REDIS_OPTIONS, **config.get("OPTIONS", {}), "serializer": SERIALIZER}
        config = {**config, "OPTIONS": options}
    return config
