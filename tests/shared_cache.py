"""Helpers for tests of the shared cache: a real Redis database of our own, closed ports.

Tests use the Redis on 127.0.0.1:6379, and only its databases 4 to 7. A test claims one of
them for itself with a lock file, so two tests (two xdist workers, or two checkouts' suites on
one machine) never share a database; it empties the database before and after.
"""

from __future__ import annotations

import fcntl
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import environ
import redis

from sinatra.cache import cache_settings

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_DATABASES = (4, 5, 6, 7)  # the only ones these tests may touch
CLAIM_TIMEOUT = 120.0  # a hang guard: four tests at a time is plenty


@contextmanager
def claimed_redis_database() -> Iterator[int]:
    """Hold one of REDIS_DATABASES for the duration, emptied before and after."""
    deadline = time.monotonic() + CLAIM_TIMEOUT
    while True:
        for number in REDIS_DATABASES:
            lock = (Path(tempfile.gettempdir()) / f"sinatra-tests-redis-db-{number}.lock").open("w")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.close()
                continue
            client = redis_client(number)
            try:
                client.flushdb()
                yield number
            finally:
                client.flushdb()
                client.close()
                fcntl.flock(lock, fcntl.LOCK_UN)
                lock.close()
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"no Redis database of {REDIS_DATABASES} came free in {CLAIM_TIMEOUT} s")
        time.sleep(0.05)


def redis_client(number: int) -> redis.Redis:
    """A plain client on one test database: what an attacker with access to Redis would use."""
    return redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=number, socket_timeout=5)


def cache_url(number: int) -> str:
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{number}"


def caches_for(url: str) -> dict:
    """The CACHES setting the project builds for CACHE_URL=url."""
    return {"default": cache_settings(environ.Env.cache_url_config(url))}


@contextmanager
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections: bound (so nobody else takes it), not listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]
