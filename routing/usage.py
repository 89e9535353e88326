"""When a credential or a service token was last used: noted in memory, written off the request path.

Busy workers resolve thousands of times a minute: writing `last_used_at` on the request path
turned a read into a write for each row's first use in a minute (at 10,000 tenants, most
requests). `note()` only remembers the row and the time in this process's memory (one dict
assignment: no lock, no database); the times are written with the key-release counts
(`routing.release`): at most once a minute per process, when it exits, and on `release.flush()`.

The write is one `UPDATE` per table and minute, and never moves a time backwards, so processes
that noted the same row write it in any order:

    UPDATE ... SET last_used_at = %s WHERE id IN (...) AND (last_used_at IS NULL OR last_used_at < %s)

A process killed without exiting loses at most the last minute's times, as it loses its counts;
a row deleted meanwhile is simply not updated. `last_used_at` is "last used, to the minute".
"""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime

from django.db import DatabaseError, router, transaction
from django.db.models import Model

logger = logging.getLogger(__name__)

MINUTE = 60

# (model, pk) -> epoch seconds of the latest use noted. Assigning a key is atomic in CPython:
# requests only assign; the writer swaps the whole dict for a new one before it reads.
_noted: dict[tuple[type[Model], object], float] = {}
# The clock uses are noted by; the tests pin it.
wall_clock = time.time


def note(model: type[Model], pk: object) -> None:
    """Remember that row `pk` of `model` is being used now (written later, by `write()`)."""
    _noted[(model, pk)] = wall_clock()


def pending() -> dict[tuple[type[Model], object], float]:
    """Return the uses noted and not written yet (tests, and operators in a shell)."""
    return dict(_noted)


def discard() -> None:
    """Forget the uses not written yet (the test suite, between tests)."""
    _noted.clear()


def write() -> int:
    """Write the uses noted so far; keep them for the next write when the database fails.

    Return how many rows were asked to move. The caller (routing.release) runs it at most
    once a minute, outside anyone else's transaction.
    """
    global _noted
    taken, _noted = _noted, {}
    if not taken:
        return 0
    # By table and minute: the rows used within one minute take its latest time.
    batches: dict[tuple[str, int], tuple[type[Model], list, float]] = {}
    for (model, pk), at in list(taken.items()):  # list(): a request may still note into `taken`
        key = (model._meta.label, int(at // MINUTE))
        _model, pks, latest = batches.get(key, (model, [], 0.0))
        pks.append(pk)
        batches[key] = (model, pks, max(latest, at))
    try:
        for _key, (model, pks, latest) in sorted(batches.items()):
            when = datetime.fromtimestamp(latest, UTC)
            with transaction.atomic(using=router.db_for_write(model)):
                # Sorted keys: two processes moving overlapping rows lock them in the same order.
                manager = model._default_manager
                pks.sort(key=str)
                for start in range(0, len(pks), 500):
                    chunk = pks[start : start + 500]
                    manager.filter(pk__in=chunk).exclude(last_used_at__gte=when).update(last_used_at=when)
    except DatabaseError:
        logger.warning("Last-use times could not be written; kept for the next write.", exc_info=True)
        for use, at in taken.items():  # what was noted meanwhile is newer: keep it
            if _noted.get(use, 0.0) < at:
                _noted[use] = at
        return 0
    return len(taken)


def _forget_parent_state() -> None:
    """In a forked child: the parent's uses are the parent's to write."""
    global _noted
    _noted = {}


os.register_at_fork(after_in_child=_forget_parent_state)
