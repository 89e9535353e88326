"""Benchmark of routing.service.resolve(): `make bench`.

Prints, from one run in one process, on a scratch database (a SQLite file, or a database of
its own on the PostgreSQL server DATABASE_URL names, dropped at the end) holding 10,000
tenants with one active key each:
- warm resolve() p50/p99 for one tenant, next to its floor, and their ratio (goal <= 1.5):
  the floor is the narrowest work a resolution cannot avoid, the same row's `SELECT ciphertext`
  by its index and one AES-256-GCM decrypt with the data key in hand. On SQLite the SELECT
  goes through Django's database cursor; on PostgreSQL through the best psycopg offers, a
  server-prepared statement (a psycopg.Cursor on Django's raw connection, prepare=True);
- warm resolve() round-robin over the 10,000 tenants, and the KMS calls per warm request
  there (goal 0: every process keeps 10,000 tenants' data keys, SINATRA_DEK_CACHE_ENTRIES);
- the same SELECT through the ORM, for scale; a cold resolve (data key not cached) and its
  KMS calls; KMS calls and model-list fetches of 1,000 warm resolves (expected 0 and 0).

The timed paths run in alternating blocks, so machine noise (and garbage collection) falls on
all of them alike. The local KMS backend; provider model lists faked with respx: no network.
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as a file: put the project, not bench/, first on the path (bench/common.py)
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import statistics
import time
from collections.abc import Callable

from bench.common import percentile, scratch_database, seed_tenants, setup_django, verdict

TENANTS = 10_000
BLOCKS = 40
BLOCK_SIZE = 250
COLD_ROUNDS = 200
GOAL_RATIO = 1.5
FORMER_DEK_CACHE_ENTRIES = 4096  # the bound before SINATRA_DEK_CACHE_ENTRIES, for contrast
# psycopg prepares a statement by itself after this many runs; Django's connections say never
# (None), which also refuses prepare=True: the floor's statement is prepared when asked.
NEVER_BY_ITSELF = 2**31 - 1


def timed(function: Callable[[], object], samples: list[int]) -> None:
    for _ in range(BLOCK_SIZE):
        started = time.perf_counter_ns()
        function()
        samples.append(time.perf_counter_ns() - started)


def micros(samples: list[int], fraction: float) -> float:
    return percentile(samples, fraction) / 1000


def main() -> int:
    with scratch_database("bench_resolve") as url:
        setup_django(url)
        return run()


def run() -> int:
    import httpx
    import respx
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from django.conf import settings
    from django.db import connection, connections
    from django.test.utils import override_settings

    from credentials.driver import fetch_all, literal
    from credentials.envelope import NONCE_BYTES, _unwrap, data_aad, dek_cache
    from credentials.kms import get_keyring
    from credentials.kms.local import LocalKmsBackend
    from credentials.models import Status, TenantModelCredential
    from providers import Provider
    from routing import catalog, release
    from routing.service import resolve

    started = time.perf_counter()
    tenants = seed_tenants(TENANTS)
    seeded = time.perf_counter() - started
    tenant = tenants[0]  # stored through credential_create, as the console and commands store keys

    kms_calls = 0
    original_unwrap = LocalKmsBackend.unwrap

    def counting_unwrap(self, *args, **kwargs):
        nonlocal kms_calls
        kms_calls += 1
        return original_unwrap(self, *args, **kwargs)

    LocalKmsBackend.unwrap = counting_unwrap  # type: ignore[method-assign]
    sinatrarc = "agent:\n  model: opus\n"

    # The floor's ingredients: the data key in hand; the row's ciphertext fetched by its index every time.
    row = TenantModelCredential.objects.get(tenant=tenant, provider=Provider.ANTHROPIC, status=Status.ACTIVE)
    cipher = AESGCM(_unwrap(row, keyring=get_keyring()).dek)
    aad = data_aad(tenant_id=tenant.pk, provider=Provider.ANTHROPIC, credential_id=row.id)
    table = connection.ops.quote_name(TenantModelCredential._meta.db_table)
    # The constants as literals, the tenant as a parameter: the fastest form of the statement (with a
    # parameter for the status, SQLite compiles it again on every call: credentials.driver.literal).
    select = (
        f"SELECT ciphertext FROM {table} WHERE tenant_id = %s "  # noqa: S608 - names and constants of ours
        f"AND provider = {literal(Provider.ANTHROPIC)} AND status = {literal(Status.ACTIVE)}"
    )
    tenant_param = TenantModelCredential._meta.get_field("tenant").get_db_prep_value(tenant.pk, connection)
    params = [tenant_param]

    if connection.vendor == "postgresql":
        import psycopg

        connection.ensure_connection()
        if connection.connection.prepare_threshold is None:  # Django's connections refuse to prepare
            connection.connection.prepare_threshold = NEVER_BY_ITSELF
        prepared = psycopg.Cursor(connection.connection)  # server-side binding, not Django's ClientCursor
        floor_path = "a server-prepared statement (psycopg prepare=True)"

        def fetch_ciphertext() -> bytes:
            prepared.execute(select, params, prepare=True)
            return prepared.fetchone()[0]  # type: ignore[index]  # the row exists

    else:
        floor_path = "Django's database cursor"

        def fetch_ciphertext() -> bytes:
            with connection.cursor() as cursor:
                cursor.execute(select, params)
                return cursor.fetchone()[0]

    def floor() -> None:
        ciphertext = fetch_ciphertext()
        cipher.decrypt(ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:], aad)

    database = connections[connection.alias]  # the wrapper itself, as resolve() has it (not the proxy)

    def driver_floor() -> None:  # for contrast: the same SELECT the way resolve() runs its own
        ciphertext = fetch_all(database, select, params)[0][0]
        cipher.decrypt(ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:], aad)

    def orm_floor() -> None:
        found = TenantModelCredential.objects.get(tenant_id=tenant.pk, provider=Provider.ANTHROPIC, status="active")
        ciphertext = bytes(found.ciphertext)
        cipher.decrypt(ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:], aad)

    def warm_resolve() -> None:
        resolve(tenant, sinatrarc)

    def count_release() -> None:  # what key-release accounting adds to each resolve, on its own
        release.count(caller="python", tenant_id=tenant.id, provider=Provider.ANTHROPIC)

    turn = 0

    def round_robin() -> None:
        nonlocal turn
        resolve(tenants[turn % TENANTS], sinatrarc)
        turn += 1

    with respx.mock(assert_all_called=False) as mock:
        models = mock.get(f"{settings.SINATRA_ANTHROPIC_BASE_URL}/v1/models").mock(
            return_value=httpx.Response(
                200, json={"data": [{"id": "claude-opus-4-8"}, {"id": "claude-sonnet-4-6"}], "has_more": False}
            )
        )
        catalog.clear_caches()

        # Cold: the data key is not cached (the model list is, as it is in a running worker).
        resolve(tenant, sinatrarc)
        cold, cold_kms = [], []
        for _ in range(COLD_ROUNDS):
            dek_cache.clear()
            before = kms_calls
            started_ns = time.perf_counter_ns()
            resolve(tenant, sinatrarc)
            cold.append(time.perf_counter_ns() - started_ns)
            cold_kms.append(kms_calls - before)

        # Warm-up: every tenant once (their data keys unwrapped and cached, last_used_at written).
        for function in (floor, orm_floor, warm_resolve):
            for _ in range(500):
                function()
        for _ in range(TENANTS):
            round_robin()

        base: list[int] = []
        warm: list[int] = []
        many: list[int] = []
        orm: list[int] = []
        counting: list[int] = []
        driver: list[int] = []
        kms_before, fetches_before = kms_calls, models.call_count
        many_kms = 0
        for _ in range(BLOCKS):
            timed(floor, base)
            timed(warm_resolve, warm)
            before = kms_calls
            timed(round_robin, many)
            many_kms += kms_calls - before
            timed(orm_floor, orm)
            timed(count_release, counting)
            timed(driver_floor, driver)
        warm_kms, warm_fetches = kms_calls - kms_before, models.call_count - fetches_before

        kms_before, fetches_before = kms_calls, models.call_count
        for _ in range(1000):
            resolve(tenant, sinatrarc)
        kms_1000, fetches_1000 = kms_calls - kms_before, models.call_count - fetches_before

        # For contrast: the former fixed bound of 4,096 data keys, round-robin over the same tenants.
        with override_settings(SINATRA_DEK_CACHE_ENTRIES=FORMER_DEK_CACHE_ENTRIES):
            for _ in range(TENANTS):
                round_robin()
            before = kms_calls
            for _ in range(TENANTS):
                round_robin()
            former_kms = (kms_calls - before) / TENANTS

    release.flush()  # the counts and last uses, while the scratch database is still there
    rounds = BLOCKS * BLOCK_SIZE
    warm_p50, warm_p99 = micros(warm, 0.50), micros(warm, 0.99)
    base_p50, base_p99 = micros(base, 0.50), micros(base, 0.99)
    many_p50, many_p99 = micros(many, 0.50), micros(many, 0.99)
    ratio = warm_p50 / base_p50
    print(
        f"resolve() on {connection.vendor}, Python {sys.version.split()[0]}: {rounds:,} timed calls of each path, "
        f"{TENANTS:,} tenants ({seeded:.1f} s to seed)"
    )
    print(f"  warm resolve()   p50 {warm_p50:7.1f} us   p99 {warm_p99:7.1f} us   (one tenant)")
    print(
        f"  floor            p50 {base_p50:7.1f} us   p99 {base_p99:7.1f} us   "
        f"(the row's SELECT ciphertext by index through {floor_path} + one AES-GCM decrypt)"
    )
    print(
        f"  ratio            p50 {ratio:7.2f}      p99 {warm_p99 / base_p99:7.2f}   "
        f"goal <= {GOAL_RATIO}: {verdict(ratio <= GOAL_RATIO)}"
    )
    print(
        f"  {TENANTS:,} tenants  p50 {many_p50:7.1f} us   p99 {many_p99:7.1f} us   "
        f"(warm resolve() round-robin; p50 {many_p50 / warm_p50:.2f}x one tenant's)"
    )
    per_request = many_kms / rounds
    print(
        f"  KMS calls per warm request, round-robin over {TENANTS:,} active credentials: {per_request:.2f} "
        f"(goal 0: {verdict(per_request == 0)}; with the former bound of {FORMER_DEK_CACHE_ENTRIES:,} keys: "
        f"{former_kms:.2f})"
    )
    how = "libpq itself, through psycopg.pq" if connection.vendor == "postgresql" else "the sqlite3 module itself"
    print(
        f"  for contrast: the floor's SELECT through credentials.driver ({how}, as resolve() runs its own) + decrypt, "
        f"p50 {micros(driver, 0.5):.1f} us: resolve() is {warm_p50 / micros(driver, 0.5):.2f}x that"
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", [f"%{table}%"])
            prepared_count = cursor.fetchone()[0]
        print(
            f"  statements prepared on the server in this connection: {prepared_count} "
            "(the floor's through psycopg's cursor; the same again and resolve()'s through the driver)"
        )
    orm_p50, orm_p99 = micros(orm, 0.50), micros(orm, 0.99)
    print(f"  for scale: the same SELECT through the ORM + decrypt, p50 {orm_p50:.1f} us, p99 {orm_p99:.1f} us")
    print(
        f"  cold resolve()   p50 {micros(cold, 0.5):7.1f} us   p99 {micros(cold, 0.99):7.1f} us   "
        f"KMS calls per cold resolve: {statistics.mean(cold_kms):.0f}"
    )
    print(f"  1,000 warm resolves: {kms_1000} KMS calls, {fetches_1000} model-list fetches (expected 0 and 0)")
    print(
        f"  key-release accounting: counting one release costs p50 {micros(counting, 0.5):.2f} us, "
        f"{micros(counting, 0.5) / base_p50:.1%} of the floor (part of every warm resolve above)"
    )
    print(
        f"  (the {rounds:,} timed one-tenant resolves: {warm_kms - many_kms} KMS calls, "
        f"{warm_fetches} model-list fetches)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
