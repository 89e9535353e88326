"""Key-release accounting: every key handed out, counted per (caller, tenant, provider, hour).

`resolve()` calls `count()` for each key it releases. Counting adds no database write per
request: releases gather in this process's memory (appended to a deque: no lock, no hashing on
the request path; added up every thousand releases, so memory holds one entry per bucket) and
are written at most once a minute, by one statement per batch that *adds* to what other
processes wrote:

    INSERT ... ON CONFLICT (tenant_id, provider, caller, hour)
    DO UPDATE SET count = count + excluded.count, last_released_at = the later of the two

(PostgreSQL and SQLite alike; Django's `bulk_create(update_conflicts=True)` can only overwrite).

When are counts written?
- by the release that finds the last write a minute old or more; inside a transaction that is
  not the accounting's own (whose rollback would take the counts along), right after it commits;
- when the process exits: `atexit`, and gunicorn's `worker_exit` hook, which should call
  `flush()` (docs/security.md gives the line for deploy/gunicorn.conf.py);
- whenever `flush()` is called.

The same writes carry the `last_used_at` times of credentials and service tokens, which
`routing.usage` notes in memory (a process whose requests release no key writes them at exit,
or with its next release).

A process killed without exiting (SIGKILL, out of memory, power) loses what it counted since
its last write: at most one minute of releases. A failed write keeps the counts for the next.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import threading
import time
from collections import deque
from datetime import UTC, datetime
from uuid import UUID

from django.db import DatabaseError, connections, router, transaction

from . import usage
from .models import KeyRelease

logger = logging.getLogger(__name__)

WRITE_EVERY_SECONDS = 60
ADD_UP_EVERY = 1000  # releases kept one by one before they are added up, between writes
HOUR_SECONDS = 3600
MAX_CALLER_LENGTH = KeyRelease._meta.get_field("caller").max_length or 100

Bucket = tuple[str, UUID, str, int]  # caller, tenant id, provider, start of the hour (epoch seconds)
Counts = dict[Bucket, list]  # bucket -> [count, last release (epoch seconds)]

# Releases not added up yet: (caller, tenant id, provider, epoch seconds). deque.append and
# popleft are atomic, so counting takes no lock; only the writer drains it.
_releases: deque[tuple[str, UUID, str, float]] = deque()
# Added up but not written (a write failed): the writer's alone, under _write_lock.
_unwritten: Counts = {}
_write_lock = threading.Lock()
_next_write = time.monotonic() + WRITE_EVERY_SECONDS
# The clock releases are filed by; the multi-process tests pin it, so that their hour is one hour.
wall_clock = time.time


def count(*, caller: str, tenant_id: UUID, provider: str) -> None:
    """Count one key released to `caller`; write this process's counts if the last write is a minute old."""
    _releases.append((caller, tenant_id, provider, wall_clock()))
    if len(_releases) >= ADD_UP_EVERY or time.monotonic() >= _next_write:
        _write_if_due()


def flush() -> int:
    """Write every count gathered in this process now; return how many releases were written."""
    with _write_lock:
        return _write()


def pending() -> Counts:
    """Return the counts not written yet, added up (tests, and operators in a shell)."""
    with _write_lock:
        counts = {bucket: list(entry) for bucket, entry in _unwritten.items()}
    _add(counts, list(_releases))
    return counts


def discard() -> None:
    """Forget the counts and last-use times not written yet, as if just written (the test suite)."""
    global _next_write
    with _write_lock:
        usage.discard()
        _releases.clear()
        _unwritten.clear()
        _next_write = time.monotonic() + WRITE_EVERY_SECONDS


def _add(counts: Counts, releases) -> None:
    for caller, tenant_id, provider, at in releases:
        bucket = (caller, tenant_id, provider, int(at // HOUR_SECONDS) * HOUR_SECONDS)
        entry = counts.get(bucket)
        if entry is None:
            counts[bucket] = [1, at]
        else:
            entry[0] += 1
            if at > entry[1]:
                entry[1] = at


def _drain() -> list[tuple[str, UUID, str, float]]:
    """Take the releases counted so far; those appended meanwhile wait for the next time."""
    return [_releases.popleft() for _ in range(len(_releases))]


def _write_if_due() -> None:
    """Add up the releases counted so far; write them too if the last write is a minute old."""
    # One thread does it; the others go on at once rather than queue behind it.
    if not _write_lock.acquire(blocking=False):
        return
    try:
        _add(_unwritten, _drain())  # memory: one entry per bucket, not per release
        if time.monotonic() < _next_write:
            return
        alias = router.db_for_write(KeyRelease)
        if connections[alias].in_atomic_block:
            # Not inside someone else's transaction, whose rollback would take the counts along:
            # right after it commits.
            transaction.on_commit(_write_if_due, using=alias)
            return
        _write()
    finally:
        _write_lock.release()


def _write() -> int:
    """Add up what was counted and write it, and the last-use times (routing.usage); keep them on
    failure. Call with _write_lock held."""
    global _next_write
    _next_write = time.monotonic() + WRITE_EVERY_SECONDS
    usage.write()
    _add(_unwritten, _drain())
    if not _unwritten:
        return 0
    try:
        _upsert(_unwritten)
    except DatabaseError:
        logger.warning("Key-release counts could not be written; kept for the next write.", exc_info=True)
        return 0
    written = sum(entry[0] for entry in _unwritten.values())
    _unwritten.clear()
    return written


@functools.lru_cache(maxsize=8)
def _upsert_sql(alias: str, vendor: str) -> str:
    quote = connections[alias].ops.quote_name
    table = quote(KeyRelease._meta.db_table)
    count, last = quote("count"), quote("last_released_at")
    columns = ", ".join(quote(name) for name in ("caller", "tenant_id", "provider", "hour", "count", last))
    target = ", ".join(quote(name) for name in ("tenant_id", "provider", "caller", "hour"))
    return (
        f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s, %s) "  # noqa: S608 - names from the model
        f"ON CONFLICT ({target}) DO UPDATE SET {count} = {table}.{count} + excluded.{count}, "
        f"{last} = CASE WHEN excluded.{last} > {table}.{last} THEN excluded.{last} ELSE {table}.{last} END"
    )


def _upsert(counts: Counts) -> None:
    alias = router.db_for_write(KeyRelease)
    connection = connections[alias]
    meta = KeyRelease._meta
    tenant_field, hour_field = meta.get_field("tenant"), meta.get_field("hour")
    rows = []
    # Sorted, so two processes writing overlapping batches lock rows in the same order (no deadlock).
    for (caller, tenant_id, provider, hour), (number, last) in sorted(counts.items(), key=lambda item: str(item[0])):
        rows.append(
            (
                caller,
                tenant_field.get_db_prep_value(tenant_id, connection),
                provider,
                hour_field.get_db_prep_value(datetime.fromtimestamp(hour, UTC), connection),
                number,
                hour_field.get_db_prep_value(datetime.fromtimestamp(last, UTC), connection),
            )
        )
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        cursor.executemany(_upsert_sql(alias, connection.vendor), rows)


def _flush_at_exit() -> None:
    try:
        flush()
    except Exception:  # the interpreter is going: say so, never raise from atexit
        logger.exception("Key-release counts could not be written at exit.")
    finally:
        connections.close_all()


def _forget_parent_state() -> None:
    """In a forked child: the parent's counts are the parent's to write, and its lock may be held."""
    global _releases, _unwritten, _write_lock, _next_write
    _releases, _unwritten, _write_lock = deque(), {}, threading.Lock()
    _next_write = time.monotonic() + WRITE_EVERY_SECONDS


atexit.register(_flush_at_exit)
os.register_at_fork(after_in_child=_forget_parent_state)
