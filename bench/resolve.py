"""Benchmark of routing.service.resolve(): `make bench`.

Prints, from one run in one process:
- warm resolve() p50/p99 next to its floor: one indexed SELECT of the credential row through
  Django's database cursor plus one AES-256-GCM decrypt with the data key in hand, and their
  ratio (the target is <= 1.5); the same SELECT through the ORM is shown for scale;
- a cold resolve (data key not cached) and how many KMS calls it made;
- how many KMS calls and model-list fetches 1,000 warm resolves made (expected 0 and 0);
- what counting a key release costs on its own (part of every warm resolve), and how many
  times the counts were written while the timed resolves ran (at most once a minute).

The three timed paths run in alternating blocks, so machine noise (and garbage collection)
falls on all of them alike. A throw-away SQLite file is used, or DATABASE_URL if set; the
local KMS backend; provider model lists faked with respx: no network.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BLOCKS = 40
BLOCK_SIZE = 250
COLD_ROUNDS = 200
TARGET_RATIO = 1.5


def percentile(samples: list[int], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] / 1000  # ns -> µs


def timed(function: Callable[[], object], samples: list[int]) -> None:
    for _ in range(BLOCK_SIZE):
        started = time.perf_counter_ns()
        function()
        samples.append(time.perf_counter_ns() - started)


def main() -> int:
    workdir = tempfile.mkdtemp(prefix="sinatra-bench-")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{workdir}/bench.sqlite3")
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    import django

    django.setup()
    import logging

    logging.disable(logging.INFO)  # provider calls log at INFO; keep the figures readable

    import httpx
    import respx
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from credentials.envelope import NONCE_BYTES, _unwrap, data_aad, dek_cache
    from credentials.kms import get_keyring
    from credentials.kms.local import LocalKmsBackend
    from credentials.models import TenantModelCredential
    from credentials.services import Actor, credential_create
    from providers import Provider
    from providers.secret import Secret
    from routing import catalog, release
    from routing.service import resolve
    from tenants.models import Tenant

    call_command("migrate", verbosity=0)
    tenant = Tenant.objects.create(slug=f"bench-{os.getpid()}", name="Bench")
    key = "sk-ant-api03-" + "b" * 93 + "AA"
    credential = credential_create(
        tenant=tenant, provider=Provider.ANTHROPIC, secret=Secret(key), actor=Actor.command("bench")
    ).credential

    kms_calls = 0
    original_unwrap = LocalKmsBackend.unwrap

    def counting_unwrap(self, *args, **kwargs):
        nonlocal kms_calls
        kms_calls += 1
        return original_unwrap(self, *args, **kwargs)

    LocalKmsBackend.unwrap = counting_unwrap  # type: ignore[method-assign]

    # Key-release accounting writes at most once a minute, never per resolve: count its writes.
    release_writes = 0
    original_upsert = release._upsert

    def counting_upsert(counts):
        nonlocal release_writes
        release_writes += 1
        return original_upsert(counts)

    release._upsert = counting_upsert
    sinatrarc = "agent:\n  model: opus\n"

    # The floor's ingredients: the data key in hand; the row fetched by its index every time.
    row = TenantModelCredential.objects.get(pk=credential.pk)
    cipher = AESGCM(_unwrap(row, keyring=get_keyring()).dek)
    aad = data_aad(tenant_id=tenant.pk, provider=Provider.ANTHROPIC, credential_id=row.id)
    table = connection.ops.quote_name(TenantModelCredential._meta.db_table)
    tenant_param = TenantModelCredential._meta.get_field("tenant").get_db_prep_value(tenant.pk, connection)
    select = f"SELECT * FROM {table} WHERE tenant_id = %s AND provider = %s AND status = %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(select, [tenant_param, Provider.ANTHROPIC.value, "active"])
        ciphertext_index = [column[0] for column in cursor.description].index("ciphertext")

    def floor() -> None:
        with connection.cursor() as cursor:
            cursor.execute(select, [tenant_param, Provider.ANTHROPIC.value, "active"])
            ciphertext = bytes(cursor.fetchone()[ciphertext_index])
        cipher.decrypt(ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:], aad)

    def orm_floor() -> None:
        found = TenantModelCredential.objects.get(tenant_id=tenant.pk, provider=Provider.ANTHROPIC, status="active")
        ciphertext = bytes(found.ciphertext)
        cipher.decrypt(ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:], aad)

    def warm_resolve() -> None:
        resolve(tenant, sinatrarc)

    def count_release() -> None:  # what key-release accounting adds to each resolve
        release.count(caller="python", tenant_id=tenant.id, provider=Provider.ANTHROPIC)

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
            started = time.perf_counter_ns()
            resolve(tenant, sinatrarc)
            cold.append(time.perf_counter_ns() - started)
            cold_kms.append(kms_calls - before)

        for function in (floor, orm_floor, warm_resolve, count_release):  # warm-up
            for _ in range(500):
                function()

        warm: list[int] = []
        base: list[int] = []
        orm: list[int] = []
        counting: list[int] = []
        kms_before, fetches_before, writes_before = kms_calls, models.call_count, release_writes
        started_timed = time.monotonic()
        for _ in range(BLOCKS):
            timed(floor, base)
            timed(warm_resolve, warm)
            timed(orm_floor, orm)
            timed(count_release, counting)
        warm_kms, warm_fetches = kms_calls - kms_before, models.call_count - fetches_before
        warm_writes, timed_seconds = release_writes - writes_before, time.monotonic() - started_timed

        kms_before, fetches_before = kms_calls, models.call_count
        for _ in range(1000):
            resolve(tenant, sinatrarc)
        kms_1000, fetches_1000 = kms_calls - kms_before, models.call_count - fetches_before

    warm_p50, warm_p99 = percentile(warm, 0.50), percentile(warm, 0.99)
    base_p50, base_p99 = percentile(base, 0.50), percentile(base, 0.99)
    orm_p50, orm_p99 = percentile(orm, 0.50), percentile(orm, 0.99)
    ratio = warm_p50 / base_p50
    verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
    rounds = BLOCKS * BLOCK_SIZE
    print(f"resolve() on {connection.vendor}, Python {sys.version.split()[0]}: {rounds} timed calls of each path")
    print(f"  warm resolve()  p50 {warm_p50:7.1f} us   p99 {warm_p99:7.1f} us")
    print(f"  floor           p50 {base_p50:7.1f} us   p99 {base_p99:7.1f} us   (SELECT of the row by index + decrypt)")
    p99_ratio = warm_p99 / base_p99
    print(f"  ratio           p50 {ratio:7.2f}      p99 {p99_ratio:7.2f}   target <= {TARGET_RATIO}: {verdict}")
    print(f"  for scale: the same SELECT through the ORM + decrypt, p50 {orm_p50:.1f} us, p99 {orm_p99:.1f} us")
    print(
        f"  cold resolve()  p50 {percentile(cold, 0.5):7.1f} us   p99 {percentile(cold, 0.99):7.1f} us   "
        f"KMS calls per cold resolve: {statistics.mean(cold_kms):.0f}"
    )
    print(f"  1,000 warm resolves: {kms_1000} KMS calls, {fetches_1000} model-list fetches (expected 0 and 0)")
    print(f"  (the {rounds} timed warm resolves: {warm_kms} KMS calls, {warm_fetches} model-list fetches)")
    print(
        f"  key releases: counting one costs p50 {percentile(counting, 0.5):.2f} us, p99 "
        f"{percentile(counting, 0.99):.2f} us ({percentile(counting, 0.5) / base_p50:.1%} of the floor); "
        f"{warm_writes} database writes of counts during the {timed_seconds:.0f} s of timed resolves "
        "(at most one a minute)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
