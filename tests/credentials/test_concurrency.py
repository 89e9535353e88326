"""Concurrent writers of one tenant's credentials, as separate `manage.py` processes (PostgreSQL).

Each test starts its processes while holding an EXCLUSIVE lock on the credential table (reads
still pass), waits until every process is blocked on a lock, then lets them all go at once.
So they truly contend, whatever lock the service itself takes: a service that did not
serialise them would run into the partial unique constraint here.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import dataclass

import pytest
from django.db import connection, transaction

from credentials.models import CredentialEvent, EventKind, Status, TenantModelCredential
from credentials.services import credential_open
from providers.secret import key_hint
from tests.fakes.providers import anthropic_key, openrouter_key
from tests.helpers import PROJECT_DIR, command_env, database_url, sessions_waiting_on_locks

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: set DATABASE_URL=postgres://..."),
    pytest.mark.django_db(transaction=True),
]

SEEDERS = 12
CREDENTIAL_ID = re.compile(r"credential ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")


@dataclass
class Run:
    """One `manage.py` process: what it was given and what it did."""

    args: tuple[str, ...]
    stdin: str
    process: subprocess.Popen
    stdout: str = ""
    stderr: str = ""
    returncode: int | None = None

    def describe(self) -> str:
        return f"{' '.join(self.args)} -> exit {self.returncode}\nstdout: {self.stdout}\nstderr: {self.stderr}"


def run_contending(commands: list[tuple[tuple[str, ...], str]]) -> list[Run]:
    """Start every `manage.py` command (args, stdin) blocked behind one lock, then release them together."""
    env = command_env(
        DJANGO_SETTINGS_MODULE="tests.settings",
        DATABASE_URL=database_url(connection.settings_dict),
    )
    runs: list[Run] = []
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {TenantModelCredential._meta.db_table} IN EXCLUSIVE MODE")
        for args, stdin in commands:
            process = subprocess.Popen(
                [sys.executable, "manage.py", *args],
                cwd=PROJECT_DIR,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            process.stdin.write(stdin)
            process.stdin.close()
            process.stdin = None  # so that communicate() does not touch it again
            runs.append(Run(args=args, stdin=stdin, process=process))
        # A hang guard, not a speed requirement: every process must reach the lock.
        deadline = time.monotonic() + 300
        while sessions_waiting_on_locks() < len(runs):
            finished = [run for run in runs if run.process.poll() is not None]
            if finished or time.monotonic() > deadline:
                for run in runs:
                    run.process.kill()
                _collect(runs)
                pytest.fail(
                    "Not every process reached the lock; these ended first:\n"
                    + "\n".join(run.describe() for run in finished or runs)
                )
            time.sleep(0.05)
        # Leaving the block commits, which releases the lock: all of them go at once.
    _collect(runs)
    return runs


def _collect(runs: list[Run]) -> None:
    for run in runs:
        run.stdout, run.stderr = run.process.communicate(timeout=300)  # a hang guard
        run.returncode = run.process.returncode


def seed(tenant_slug: str, provider: str, key: str) -> tuple[tuple[str, ...], str]:
    return ("seed_credential", "--tenant", tenant_slug, "--provider", provider), key + "\n"


def assert_clean_exit(runs: list[Run]) -> None:
    for run in runs:
        output = run.stdout + run.stderr
        assert "Traceback" not in output, run.describe()
        assert "IntegrityError" not in output, run.describe()
        assert run.returncode == 0, run.describe()


def stored_id(run: Run) -> str:
    """Return the credential id a successful seed_credential printed."""
    match = CREDENTIAL_ID.search(run.stdout)
    assert match, run.describe()
    return match.group(1)


def events_of(credential: TenantModelCredential) -> dict[str, list[CredentialEvent]]:
    kinds: dict[str, list[CredentialEvent]] = {}
    for event in credential.events.all():
        kinds.setdefault(event.kind, []).append(event)
    return kinds


def assert_chain(tenant, provider: str, *, revoked_by_command: set[str] = frozenset()) -> list[TenantModelCredential]:
    """Check one provider slot's history after concurrent writes; return its rows, oldest first.

    Every row has one `created` event; rows in the order they were written form a chain in
    which each row but the newest is revoked, by a `replaced` event naming the row written
    after it or by a `revoked` event, never both; at most the newest row is active.
    """
    rows = list(TenantModelCredential.objects.filter(tenant=tenant, provider=provider).order_by("created_at"))
    assert len({row.created_at for row in rows}) == len(rows), "two writes of one slot share a timestamp"
    assert TenantModelCredential.objects.filter(tenant=tenant, provider=provider, status=Status.ACTIVE).count() <= 1
    for position, row in enumerate(rows):
        events = events_of(row)
        assert len(events.get(EventKind.CREATED, [])) == 1, (row.id, events)
        assert all(event.tenant_id == tenant.pk for kind in events.values() for event in kind)
        replaced, revoked = events.get(EventKind.REPLACED, []), events.get(EventKind.REVOKED, [])
        newer = rows[position + 1] if position + 1 < len(rows) else None
        if row.status == Status.ACTIVE:
            assert newer is None, f"{row.id} is active but {newer.id} was written after it"
            assert row.revoked_at is None
            assert not replaced
            assert not revoked
            continue
        assert row.revoked_at is not None
        assert len(replaced) + len(revoked) == 1, (row.id, events)
        if replaced:
            assert newer is not None, f"{row.id} was replaced by nothing"
            assert str(newer.id) in replaced[0].detail
            assert str(row.id) in events_of(newer)[EventKind.CREATED][0].detail
        else:
            assert str(row.id) in revoked_by_command, f"{row.id} was revoked, but nobody revoked it"
            if newer is not None:
                assert str(row.id) not in events_of(newer)[EventKind.CREATED][0].detail
    return rows


def test_concurrent_seeds_of_one_slot_leave_one_active_key_and_a_complete_history(make_tenant):
    tenant = make_tenant("race")
    keys = [anthropic_key(f"RACE{number:02d}") for number in range(SEEDERS)]

    runs = run_contending([seed(tenant.slug, "anthropic", key) for key in keys])

    assert_clean_exit(runs)
    key_of = {stored_id(run): run.stdin.strip() for run in runs}
    assert len(key_of) == SEEDERS
    rows = assert_chain(tenant, "anthropic")
    assert {str(row.id) for row in rows} == set(key_of), "every acknowledged write has its row, and only those"
    for row in rows:
        assert row.key_hint == key_hint(key_of[str(row.id)])
        assert credential_open(row, use_cache=False).reveal() == key_of[str(row.id)]
    active = TenantModelCredential.objects.get(tenant=tenant, provider="anthropic", status=Status.ACTIVE)
    assert active == rows[-1], "the active key is the one written last"
    assert credential_open(active, use_cache=False).reveal() == key_of[str(active.id)]
    assert [row.status for row in rows] == [Status.REVOKED] * (SEEDERS - 1) + [Status.ACTIVE]
    for row in rows[:-1]:
        assert [event.kind for event in row.events.order_by("created_at")] == [EventKind.CREATED, EventKind.REPLACED]


REVOKE_SCRIPT = """
from credentials.models import TenantModelCredential
from credentials.services import Actor, credential_revoke
row = credential_revoke(credential=TenantModelCredential.objects.get(pk="{id}"), actor=Actor.command("race-revoke"))
print("status", row.id, row.status)
"""


def test_concurrent_seeds_of_both_providers_revokes_and_a_rewrap_keep_every_slot_consistent(make_tenant, store_key):
    tenant = make_tenant("mixed")
    before = {"anthropic": anthropic_key("MIXFIRST"), "openrouter": openrouter_key()}
    first = {provider: store_key(tenant, provider, key) for provider, key in before.items()}
    # Flag one old row for rewrap, so that rewrap_credentials writes to it during the race.
    TenantModelCredential.objects.filter(pk=first["anthropic"].pk).update(needs_rewrap=True)
    seeds = [("anthropic", anthropic_key(f"MIX{number:02d}")) for number in range(5)]
    seeds += [("openrouter", openrouter_key()) for _ in range(5)]
    commands = [seed(tenant.slug, provider, key) for provider, key in seeds]
    # Each revoker revokes the key that was active before the race: it runs before the first
    # seed of its slot (a `revoked` event) or after it (already replaced: nothing to do).
    commands += [
        (("shell", "--no-imports", "-c", REVOKE_SCRIPT.format(id=credential.id)), "") for credential in first.values()
    ]
    commands.append((("rewrap_credentials", "--tenant", tenant.slug), ""))

    runs = run_contending(commands)

    assert_clean_exit(runs)
    # credential id -> (provider, key), from what each seed process printed.
    seeded = {stored_id(run): (run.args[4], run.stdin.strip()) for run in runs if run.args[0] == "seed_credential"}
    assert len(seeded) == len(seeds)
    for run in runs:
        if run.args[0] == "shell":
            assert "revoked" in run.stdout, run.describe()
        if run.args[0] == "rewrap_credentials":
            assert "Rewrapped 1 credentials" in run.stdout, run.describe()
    revoked_by_command = {str(credential.id) for credential in first.values()}
    for provider, credential in first.items():
        rows = assert_chain(tenant, provider, revoked_by_command=revoked_by_command)
        assert {str(row.id) for row in rows} == {str(credential.id)} | {
            row_id for row_id, (seeded_provider, _) in seeded.items() if seeded_provider == provider
        }, "every acknowledged write has its row, in its own slot"
        assert rows[0].id == credential.id, "the key stored before the race is the oldest of its slot"
        assert credential_open(rows[0], use_cache=False).reveal() == before[provider]
        for row in rows[1:]:
            assert credential_open(row, use_cache=False).reveal() == seeded[str(row.id)][1]
        # The revoker touches only the key it was given, at most once; the newest seed stays active.
        revoked = CredentialEvent.objects.filter(tenant=tenant, kind=EventKind.REVOKED, credential__provider=provider)
        assert [event.credential_id for event in revoked] in ([], [credential.id])
        assert rows[-1].status == Status.ACTIVE
    rewrapped = CredentialEvent.objects.filter(tenant=tenant, kind=EventKind.REWRAPPED)
    assert [event.credential_id for event in rewrapped] == [first["anthropic"].id]
    assert not TenantModelCredential.objects.filter(tenant=tenant, needs_rewrap=True).exists()
