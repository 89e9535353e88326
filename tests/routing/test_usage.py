"""`last_used_at` off the request path: uses noted in memory, written by one UPDATE per table and minute."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from credentials.models import TenantModelCredential
from routing import usage
from routing.models import ServiceToken
from routing.tokens import token_create
from tests.fakes.providers import openrouter_key

pytestmark = pytest.mark.django_db

NOON = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch):
    """Pin the clock uses are noted by; set `clock[0]` to move it."""
    now = [NOON.timestamp()]
    monkeypatch.setattr(usage, "wall_clock", lambda: now[0])
    return now


def last_used(row) -> datetime | None:
    return type(row).objects.get(pk=row.pk).last_used_at


def updates(queries) -> list[str]:
    return [query["sql"] for query in queries.captured_queries if query["sql"].startswith("UPDATE")]


def test_noting_touches_no_database(tenant, store_key, clock):
    credential = store_key(tenant, "anthropic")

    with CaptureQueriesContext(connection) as queries:
        for _ in range(100):
            usage.note(TenantModelCredential, credential.pk)

    assert queries.captured_queries == []
    assert usage.pending() == {(TenantModelCredential, credential.pk): NOON.timestamp()}


def test_one_update_per_table_and_minute_with_that_minutes_latest_time(tenant, store_key, clock):
    anthropic, openrouter = store_key(tenant, "anthropic"), store_key(tenant, "openrouter", openrouter_key())
    row, _token = token_create(name="worker", all_tenants=True)
    usage.note(TenantModelCredential, anthropic.pk)
    clock[0] += 20
    usage.note(TenantModelCredential, openrouter.pk)
    usage.note(ServiceToken, row.pk)
    clock[0] += 60  # the next minute: the token's latest use is all that is kept of it
    usage.note(ServiceToken, row.pk)

    with CaptureQueriesContext(connection) as queries:
        assert usage.write() == 3

    assert len(updates(queries)) == 2  # both credentials (used at 12:00), the token (12:01)
    assert last_used(anthropic) == last_used(openrouter) == NOON + timedelta(seconds=20)
    assert last_used(row) == NOON + timedelta(seconds=80)
    assert usage.pending() == {}


def test_a_time_is_never_moved_backwards(tenant, store_key, clock):
    credential = store_key(tenant, "anthropic")
    later = NOON + timedelta(minutes=5)  # another process wrote a later use first
    TenantModelCredential.objects.filter(pk=credential.pk).update(last_used_at=later)

    usage.note(TenantModelCredential, credential.pk)
    usage.write()

    assert last_used(credential) == later


def test_a_row_deleted_meanwhile_is_skipped(tenant, store_key, clock):
    credential = store_key(tenant, "anthropic")
    usage.note(TenantModelCredential, uuid.uuid4())
    usage.note(TenantModelCredential, credential.pk)

    assert usage.write() == 2

    assert last_used(credential) == NOON


def test_a_write_that_fails_keeps_the_times_and_newer_ones_win(tenant, store_key, clock, monkeypatch, caplog):
    credential = store_key(tenant, "anthropic")
    usage.note(TenantModelCredential, credential.pk)
    from django.db import DatabaseError
    from django.db.models import QuerySet

    def refuse(self, **kwargs):
        usage.note(TenantModelCredential, credential.pk)  # a request noting while the write runs
        raise DatabaseError("database is locked")

    clock[0] += 30
    monkeypatch.setattr(QuerySet, "update", refuse)

    assert usage.write() == 0

    assert "could not be written" in caplog.text
    assert "database is locked" not in caplog.messages[-1]
    assert usage.pending() == {(TenantModelCredential, credential.pk): NOON.timestamp() + 30}
    monkeypatch.undo()
    assert usage.write() == 1
    assert last_used(credential) == NOON + timedelta(seconds=30)


def test_a_forked_child_starts_with_none_of_its_parents_uses(tenant, store_key):
    credential = store_key(tenant, "anthropic")
    usage.note(TenantModelCredential, credential.pk)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it would write, and leave at once
        os.write(write, str(len(usage.pending())).encode())
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    assert os.read(read, 16) == b"0"
    assert status == 0
    assert len(usage.pending()) == 1
