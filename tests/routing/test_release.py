"""Key-release accounting in one process: what is counted, under whom, and when it is written.

Every key resolve() hands out is counted per (caller, tenant, provider, hour) in memory; the
counts are written at most once a minute (never inside someone else's transaction), by an
upsert that adds, and whenever flush() is called.
"""

from __future__ import annotations

import os
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from routing import release
from routing.errors import MissingCredential
from routing.models import KeyRelease
from routing.preview import preview
from routing.rules import ANTHROPIC, OPENROUTER
from routing.selectors import key_releases
from routing.service import resolve
from tests.fakes.providers import anthropic_key
from tests.helpers import sinatrarc

pytestmark = pytest.mark.django_db


def counted() -> dict[tuple[str, str, str], int]:
    """The counts in memory, by (caller, tenant slug-less id, provider), hours added up."""
    totals: dict[tuple[str, str, str], int] = {}
    for (caller, tenant_id, provider, _hour), (number, _last) in release.pending().items():
        key = (caller, str(tenant_id), provider)
        totals[key] = totals.get(key, 0) + number
    return totals


def written() -> dict[tuple[str, str, str], int]:
    totals: dict[tuple[str, str, str], int] = {}
    for row in KeyRelease.objects.all():
        key = (row.caller, str(row.tenant_id), row.provider)
        totals[key] = totals.get(key, 0) + row.count
    return totals


def _key_release_writes(queries) -> list[str]:
    return [query["sql"] for query in queries if KeyRelease._meta.db_table in query["sql"]]


# --- What is counted, and under whom.


def test_each_released_key_is_counted_under_its_caller_tenant_and_provider(providers, tenant, store_key):
    store_key(tenant, ANTHROPIC)
    store_key(tenant, OPENROUTER)

    for _ in range(3):
        resolve(tenant, sinatrarc("opus"), caller="worker-eu")
    resolve(tenant, sinatrarc("openai/gpt-5"), caller="worker-eu")
    resolve(tenant, sinatrarc("haiku"), caller="worker-us")

    assert counted() == {
        ("worker-eu", str(tenant.pk), ANTHROPIC): 3,
        ("worker-eu", str(tenant.pk), OPENROUTER): 1,
        ("worker-us", str(tenant.pk), ANTHROPIC): 1,
    }


def test_resolve_counts_under_python_by_default(providers, tenant, store_key):
    store_key(tenant, ANTHROPIC)

    resolve(tenant)

    assert counted() == {("python", str(tenant.pk), ANTHROPIC): 1}


def test_counts_are_filed_under_the_hour_they_happen_in(providers, tenant, store_key, monkeypatch):
    store_key(tenant, ANTHROPIC)
    at = datetime(2026, 11, 24, 9, 59, 30, tzinfo=UTC)
    monkeypatch.setattr(release, "wall_clock", lambda: at.timestamp())
    resolve(tenant, caller="worker")
    monkeypatch.setattr(release, "wall_clock", lambda: (at + timedelta(minutes=1)).timestamp())
    resolve(tenant, caller="worker")

    hours = {datetime.fromtimestamp(hour, UTC): entry[0] for (_c, _t, _p, hour), entry in release.pending().items()}

    assert hours == {datetime(2026, 11, 24, 9, tzinfo=UTC): 1, datetime(2026, 11, 24, 10, tzinfo=UTC): 1}


def test_previews_count_nothing(providers, tenant, store_key):
    store_key(tenant, ANTHROPIC)
    store_key(tenant, OPENROUTER)

    preview(tenant)
    resolve(tenant, record_use=False)

    assert release.pending() == {}


def test_resolve_model_counts_nothing(providers, tenant, store_key, run_command):
    store_key(tenant, ANTHROPIC)

    run_command("resolve_model", "--tenant", "acme", "--model", "opus")

    assert release.pending() == {}


def test_host_credentials_release_no_key_and_count_nothing(providers, tenant, settings):
    settings.SINATRA_SINGLE_TENANT = True
    settings.SANDBOX_PROVIDER = "docker"

    resolution = resolve(tenant, caller="worker")

    assert resolution.credential_source == "host"
    assert release.pending() == {}


def test_an_environment_key_is_counted_like_a_tenants_own(providers, tenant, settings):
    settings.SINATRA_SINGLE_TENANT = True
    settings.ANTHROPIC_API_KEY = anthropic_key()

    resolve(tenant, caller="worker")

    assert counted() == {("worker", str(tenant.pk), ANTHROPIC): 1}


def test_a_refused_resolution_counts_nothing(providers, tenant, store_key):
    store_key(tenant, ANTHROPIC)

    with pytest.raises(MissingCredential):
        resolve(tenant, sinatrarc("openai/gpt-5"), caller="worker")

    assert release.pending() == {}


@pytest.mark.parametrize("caller", ["", "x" * 101, None])
def test_a_caller_is_a_name_of_1_to_100_characters(providers, tenant, store_key, caller):
    store_key(tenant, ANTHROPIC)

    with pytest.raises(ValueError, match="caller names who receives the key"):
        resolve(tenant, caller=caller)

    assert release.pending() == {}


# --- Writing: never per request; at most once a minute; adding up.


def test_resolving_writes_no_count_to_the_database(providers, tenant, store_key):
    store_key(tenant, ANTHROPIC)

    with CaptureQueriesContext(connection) as queries:
        for _ in range(20):
            resolve(tenant, caller="worker")

    assert _key_release_writes(queries.captured_queries) == []
    assert not KeyRelease.objects.exists()
    assert counted() == {("worker", str(tenant.pk), ANTHROPIC): 20}


def test_flush_writes_the_counts_and_later_flushes_add_to_them(providers, tenant, store_key):
    store_key(tenant, ANTHROPIC)
    for _ in range(3):
        resolve(tenant, caller="worker")

    assert release.flush() == 3
    assert release.pending() == {}
    for _ in range(2):
        resolve(tenant, caller="worker")
    assert release.flush() == 2

    row = KeyRelease.objects.get()
    assert (row.caller, row.tenant, row.provider, row.count) == ("worker", tenant, ANTHROPIC, 5)
    assert row.hour.minute == row.hour.second == row.hour.microsecond == 0
    assert row.hour <= row.last_released_at < row.hour + timedelta(hours=1)


def test_the_latest_release_time_is_kept_whichever_write_comes_last(tenant, monkeypatch):
    hour = datetime(2026, 11, 24, 9, tzinfo=UTC)
    monkeypatch.setattr(release, "wall_clock", lambda: (hour + timedelta(minutes=50)).timestamp())
    release.count(caller="worker", tenant_id=tenant.pk, provider=ANTHROPIC)
    release.flush()
    monkeypatch.setattr(release, "wall_clock", lambda: (hour + timedelta(minutes=10)).timestamp())
    release.count(caller="worker", tenant_id=tenant.pk, provider=ANTHROPIC)  # e.g. another process, late
    release.flush()

    row = KeyRelease.objects.get()
    assert row.count == 2
    assert row.last_released_at == hour + timedelta(minutes=50)


def test_flush_with_nothing_counted_writes_nothing():
    with CaptureQueriesContext(connection) as queries:
        assert release.flush() == 0

    assert queries.captured_queries == []


@pytest.mark.django_db(transaction=True)
def test_a_release_a_minute_after_the_last_write_writes_the_counts_once(providers, tenant, store_key, monkeypatch):
    store_key(tenant, ANTHROPIC)
    for _ in range(3):
        resolve(tenant, caller="worker")
    assert not KeyRelease.objects.exists()

    monkeypatch.setattr(release, "_next_write", 0.0)  # a minute has passed since the last write
    with CaptureQueriesContext(connection) as queries:
        resolve(tenant, caller="worker")
        resolve(tenant, caller="worker")  # the next write is a minute away again

    assert len(_key_release_writes(queries.captured_queries)) == 1
    assert written() == {("worker", str(tenant.pk), ANTHROPIC): 4}
    assert counted() == {("worker", str(tenant.pk), ANTHROPIC): 1}


@pytest.mark.django_db(transaction=True)
def test_counts_wait_rather_than_join_a_transaction_that_is_not_theirs(providers, tenant, store_key, monkeypatch):
    store_key(tenant, ANTHROPIC)
    monkeypatch.setattr(release, "_next_write", 0.0)

    with transaction.atomic():
        resolve(tenant, caller="worker")
        transaction.set_rollback(True)

    assert not KeyRelease.objects.exists()
    assert counted() == {("worker", str(tenant.pk), ANTHROPIC): 1}
    resolve(tenant, caller="worker")  # outside: the write is still due
    assert written() == {("worker", str(tenant.pk), ANTHROPIC): 2}


@pytest.mark.django_db(transaction=True)
def test_counts_due_inside_a_transaction_are_written_right_after_it_commits(providers, tenant, store_key, monkeypatch):
    store_key(tenant, ANTHROPIC)
    monkeypatch.setattr(release, "_next_write", 0.0)

    with transaction.atomic():
        resolve(tenant, caller="worker")
        resolve(tenant, caller="worker")
        assert not KeyRelease.objects.exists()

    assert written() == {("worker", str(tenant.pk), ANTHROPIC): 2}
    assert release.pending() == {}


@pytest.mark.django_db(transaction=True)
def test_a_write_that_fails_keeps_the_counts_for_the_next(tenant, caplog):
    gone = uuid.uuid4()  # no tenant has this id: the foreign key refuses the row
    release.count(caller="worker", tenant_id=gone, provider=ANTHROPIC)
    release.count(caller="worker", tenant_id=tenant.pk, provider=ANTHROPIC)

    assert release.flush() == 0

    assert "could not be written" in caplog.text
    assert not KeyRelease.objects.exists()  # one batch, one transaction: all or nothing
    assert counted() == {("worker", str(gone), ANTHROPIC): 1, ("worker", str(tenant.pk), ANTHROPIC): 1}


# --- In memory: many threads, and forked children.


def test_counting_from_many_threads_loses_nothing(tenant):
    threads = [
        threading.Thread(
            target=lambda: [
                release.count(caller="worker", tenant_id=tenant.pk, provider=ANTHROPIC) for _ in range(2000)
            ]
        )
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert counted() == {("worker", str(tenant.pk), ANTHROPIC): 16_000}


def test_a_forked_child_starts_with_none_of_its_parents_counts(tenant):
    release.count(caller="worker", tenant_id=tenant.pk, provider=ANTHROPIC)
    reader, writer = os.pipe()

    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe and leaves at once
        os.write(writer, str(len(release.pending())).encode())
        os._exit(0)
    os.close(writer)
    reported = os.read(reader, 16).decode()
    os.waitpid(child, 0)

    assert reported == "0"
    assert counted() == {("worker", str(tenant.pk), ANTHROPIC): 1}


# --- Reading: who received the key, over 24 hours and 30 days.


def test_key_releases_sum_the_last_24_hours_and_30_days_per_caller(tenant, make_tenant):
    now = datetime(2026, 11, 24, 12, 30, tzinfo=UTC)
    this_hour = datetime(2026, 11, 24, 12, tzinfo=UTC)
    other = make_tenant("globex")

    def row(caller, provider, hours_ago, count, tenant=tenant):
        KeyRelease.objects.create(
            caller=caller,
            tenant=tenant,
            provider=provider,
            hour=this_hour - timedelta(hours=hours_ago),
            count=count,
            last_released_at=this_hour - timedelta(hours=hours_ago) + timedelta(minutes=5),
        )

    row("worker-eu", ANTHROPIC, 0, 5)
    row("worker-eu", ANTHROPIC, 23, 7)  # the oldest hour of the last 24
    row("worker-eu", ANTHROPIC, 24, 11)  # a day ago: in the 30 days only
    row("worker-eu", ANTHROPIC, 30 * 24 - 1, 13)  # the oldest hour of the last 30 days
    row("worker-eu", ANTHROPIC, 30 * 24, 17)  # too old
    row("worker-us", ANTHROPIC, 48, 2)
    row("worker-eu", OPENROUTER, 1, 3)
    row("worker-eu", ANTHROPIC, 0, 99, tenant=other)

    releases = key_releases(tenant=tenant, now=now)

    assert [(r.caller, r.last_day, r.last_month) for r in releases[ANTHROPIC]] == [
        ("worker-eu", 12, 36),
        ("worker-us", 0, 2),
    ]
    assert releases[ANTHROPIC][0].last_released_at == this_hour + timedelta(minutes=5)
    assert [(r.caller, r.last_day, r.last_month) for r in releases[OPENROUTER]] == [("worker-eu", 3, 3)]


def test_releases_are_added_up_every_thousand_so_memory_holds_one_entry_per_bucket(tenant):
    for _ in range(release.ADD_UP_EVERY * 3 + 5):
        release.count(caller="worker", tenant_id=tenant.pk, provider=ANTHROPIC)

    assert len(release._releases) < release.ADD_UP_EVERY
    assert counted() == {("worker", str(tenant.pk), ANTHROPIC): release.ADD_UP_EVERY * 3 + 5}
    assert not KeyRelease.objects.exists()  # added up, not written: the last write is not a minute old
