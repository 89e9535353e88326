"""Benchmark of `rewrap_credentials` against its floor (`make bench`).

10,000 credential rows are written under an old local key A; then B is the primary key and
A an old one, and the rows are rewrapped from A to B, in turns, two ways:
- the floor: the same crypto per row (`rewrap_dek`: unwrap with A, decrypt the key to check it,
  wrap with B), rows already in memory, and one batched UPDATE per batch of 100 through the
  raw driver (PostgreSQL: one prepared `UPDATE ... FROM unnest(...)`; SQLite: `executemany`),
  each batch its own transaction;
- the command, `rewrap_credentials`, as an operator runs it (batches of 100, its default).
Between turns the rows are put back under A. The goal: the command within 2x the floor.
BENCH_REWRAP_BATCH=N compares both at another batch size.
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as a file: put the project, not bench/, first on the path (bench/common.py)
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import io
import os
import statistics
import time
from dataclasses import dataclass
from uuid import UUID

from bench.common import scratch_database, seed_tenants, setup_django, spread, verdict

ROWS = 10_000
BATCH = int(os.environ.get("BENCH_REWRAP_BATCH", "100"))  # the command's default
ROUNDS = 3
GOAL = 2.0


@dataclass
class Row:
    """A credential row as rewrap_dek reads it."""

    id: UUID
    tenant_id: UUID
    provider: str
    kek_id: str
    wrapped_dek: bytes
    ciphertext: bytes
    envelope_version: int


def local_backends(key: str, old_keys: list[str]) -> list[dict]:
    return [{"BACKEND": "credentials.kms.local.LocalKmsBackend", "OPTIONS": {"key": key, "old_keys": old_keys}}]


def main() -> int:
    with scratch_database("bench_rewrap") as url:
        setup_django(url)
        return run()


def run() -> int:
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import override_settings

    from credentials.envelope import rewrap_dek
    from credentials.kms import get_keyring
    from credentials.kms.local import generate_key
    from credentials.models import CredentialEvent, EventKind, TenantModelCredential

    key_a, key_b = generate_key(), generate_key()
    started = time.perf_counter()
    with override_settings(SINATRA_KMS_BACKENDS=local_backends(key_a, [])):
        seed_tenants(ROWS, prefix="rewrap")
        kek_a = get_keyring().primary_kek()[0]
    seeded = time.perf_counter() - started
    fields = ["id", "tenant_id", "provider", "kek_id", "wrapped_dek", "ciphertext", "envelope_version"]
    originals = [
        Row(pk, tenant_id, provider, kek_id, bytes(wrapped_dek), bytes(ciphertext), envelope_version)
        for pk, tenant_id, provider, kek_id, wrapped_dek, ciphertext, envelope_version in (
            TenantModelCredential.objects.order_by("id").values_list(*fields)
        )
    ]
    table = connection.ops.quote_name(TenantModelCredential._meta.db_table)

    def write_batch(batch: list[tuple[UUID, str, str, bytes]]) -> None:
        """One batched UPDATE through the raw driver, in a transaction of its own."""
        raw = connection.connection
        if connection.vendor == "postgresql":
            import psycopg

            sql = (
                f"UPDATE {table} AS t SET kek_id = v.kek_id, kek_version = v.kek_version, "  # noqa: S608 - the model's table
                "wrapped_dek = v.wrapped_dek, needs_rewrap = false "
                "FROM unnest(%s::uuid[], %s::varchar[], %s::varchar[], %s::bytea[]) AS v(id, kek_id, kek_version, "
                "wrapped_dek) WHERE t.id = v.id"
            )
            with raw.transaction(), psycopg.Cursor(raw) as cursor:
                cursor.execute(sql, [list(column) for column in zip(*batch, strict=True)], prepare=True)
        else:
            sql = f"UPDATE {table} SET kek_id = ?, kek_version = ?, wrapped_dek = ?, needs_rewrap = 0 WHERE id = ?"  # noqa: S608
            raw.execute("BEGIN IMMEDIATE")
            raw.executemany(sql, [(kek, version, wrapped, pk.hex) for pk, kek, version, wrapped in batch])
            raw.execute("COMMIT")

    def restore() -> None:
        """Put every row back under key A, as seeded, and forget the rewrap events."""
        CredentialEvent.objects.filter(kind=EventKind.REWRAPPED).delete()
        connection.ensure_connection()
        for start in range(0, ROWS, 1000):
            write_batch([(row.id, row.kek_id, "", row.wrapped_dek) for row in originals[start : start + 1000]])

    def floor() -> float:
        connection.ensure_connection()
        keyring = get_keyring()
        started = time.perf_counter()
        for start in range(0, ROWS, BATCH):
            batch = []
            for row in originals[start : start + BATCH]:
                sealed = rewrap_dek(row, keyring=keyring)
                batch.append((row.id, sealed.kek_id, sealed.kek_version, sealed.wrapped_dek))
            write_batch(batch)
        return time.perf_counter() - started

    def command() -> float:
        out = io.StringIO()
        started = time.perf_counter()
        call_command("rewrap_credentials", "--batch-size", str(BATCH), stdout=out)
        elapsed = time.perf_counter() - started
        assert f"Rewrapped {ROWS} credentials" in out.getvalue(), out.getvalue()[-500:]
        assert CredentialEvent.objects.filter(kind=EventKind.REWRAPPED).count() == ROWS
        return elapsed

    floors, commands = [], []
    with override_settings(SINATRA_KMS_BACKENDS=local_backends(key_b, [key_a])):
        kek_b = get_keyring().primary_kek()[0]
        for _ in range(ROUNDS):
            restore()
            floors.append(floor())
            assert set(TenantModelCredential.objects.values_list("kek_id", flat=True)) == {kek_b}
            restore()
            assert set(TenantModelCredential.objects.values_list("kek_id", flat=True)) == {kek_a}
            commands.append(command())
            assert set(TenantModelCredential.objects.values_list("kek_id", flat=True)) == {kek_b}

    ratios = [command_s / floor_s for command_s, floor_s in zip(commands, floors, strict=True)]
    seconds = "{:.2f} s".format
    print(f"rewrap_credentials on {connection.vendor}: {ROWS:,} rows from local key A to B ({seeded:.1f} s to seed)")
    print(f"  (min / median / max of {ROUNDS} runs, in turns)")
    print(f"  floor    {spread(floors, seconds)}   (rewrap_dek per row + one raw batched UPDATE per {BATCH})")
    print(f"  command  {spread(commands, seconds)}   ({ROWS / min(commands):,.0f} rows/s at best)")
    median = statistics.median(ratios)
    print(f"  ratio    {spread(ratios)}   goal <= {GOAL}x: {verdict(median <= GOAL)} (on the median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
