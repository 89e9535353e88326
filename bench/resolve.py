"""Benchmark of routing.service.resolve(): `make bench`.

Prints, from one run in one process:
- warm resolve() p50/p99 next to its floor (one indexed SELECT of the credential + one
  AES-256-GCM decrypt with the DEK in hand), measured interleaved, and their ratio;
- a cold resolve (DEK not cached) and how many KMS calls it made;
- how many KMS calls and model-list fetches 1,000 warm resolves made (expected 0 and 0).

It uses a throw-away SQLite file (or DATABASE_URL if set), the local KMS backend and faked
provider model lists: no network.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WARM_ROUNDS = 5000
COLD_ROUNDS = 200
TARGET_RATIO = 1.5


def percentile(samples: list[int], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] / 1000  # ns -> µs


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
    from credentials.secret import Secret
    from credentials.services import Actor, credential_create
    from routing import catalog
    from routing.service import resolve
    from tenants.models import Tenant

    call_command("migrate", verbosity=0)
    database = connection.vendor
    tenant = Tenant.objects.create(slug=f"bench-{os.getpid()}", name="Bench")
    key = "sk-ant-api03-" + "b" * 93 + "AA"
    credential = credential_create(
        tenant=tenant, provider="anthropic", secret=Secret(key), actor=Actor.command("bench")
    ).credential

    kms_calls = 0
    original_unwrap = LocalKmsBackend.unwrap

    def counting_unwrap(self, *args, **kwargs):
        nonlocal kms_calls
        kms_calls += 1
        return original_unwrap(self, *args, **kwargs)

    LocalKmsBackend.unwrap = counting_unwrap
    sinatrarc = "agent:\n  model: opus\n"

    with respx.mock(assert_all_called=False) as mock:
        models = mock.get(f"{settings.SINATRA_ANTHROPIC_BASE_URL}/v1/models").mock(
            return_value=httpx.Response(
                200, json={"data": [{"id": "claude-opus-4-8"}, {"id": "claude-sonnet-4-6"}], "has_more": False}
            )
        )
        catalog.clear_caches()

        # Cold: the DEK is not cached (the model list is, as it is in a running worker).
        resolve(tenant, sinatrarc)
        cold, cold_kms = [], []
        for _ in range(COLD_ROUNDS):
            dek_cache.clear()
            before = kms_calls
            started = time.perf_counter_ns()
            resolve(tenant, sinatrarc)
            cold.append(time.perf_counter_ns() - started)
            cold_kms.append(kms_calls - before)

        # The floor's ingredients: the DEK in hand, the row fetched by its index each time.
        row = TenantModelCredential.objects.get(pk=credential.pk)
        dek, _ = _unwrap(row, use_cache=False, keyring=get_keyring())
        aad = data_aad(tenant_id=tenant.pk, provider="anthropic", credential_id=row.id)

        def floor() -> None:
            found = TenantModelCredential.objects.get(tenant_id=tenant.pk, provider="anthropic", status="active")
            ciphertext = bytes(found.ciphertext)
            AESGCM(dek).decrypt(ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:], aad)

        resolve(tenant, sinatrarc)  # warm the DEK cache again
        for _ in range(500):  # warm-up of both paths
            floor()
            resolve(tenant, sinatrarc)

        warm, base = [], []
        kms_before, fetches_before = kms_calls, models.call_count
        for _ in range(WARM_ROUNDS):  # interleaved, so machine noise hits both alike
            started = time.perf_counter_ns()
            floor()
            base.append(time.perf_counter_ns() - started)
            started = time.perf_counter_ns()
            resolve(tenant, sinatrarc)
            warm.append(time.perf_counter_ns() - started)

        kms_before_1000, fetches_before_1000 = kms_calls, models.call_count
        for _ in range(1000):
            resolve(tenant, sinatrarc)
        kms_1000 = kms_calls - kms_before_1000
        fetches_1000 = models.call_count - fetches_before_1000
        warm_kms, warm_fetches = kms_calls - kms_before, models.call_count - fetches_before

    warm_p50, warm_p99 = percentile(warm, 0.50), percentile(warm, 0.99)
    base_p50, base_p99 = percentile(base, 0.50), percentile(base, 0.99)
    ratio = warm_p50 / base_p50
    print(f"resolve() benchmark on {database}, Python {sys.version.split()[0]}, {WARM_ROUNDS} interleaved rounds")
    print(f"  warm resolve   p50 {warm_p50:8.1f} us   p99 {warm_p99:8.1f} us")
    print(f"  floor          p50 {base_p50:8.1f} us   p99 {base_p99:8.1f} us   (1 indexed SELECT + 1 AES-GCM decrypt)")
    verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
    print(f"  ratio p50 {ratio:.2f}  (p99 {warm_p99 / base_p99:.2f}); target <= {TARGET_RATIO}: {verdict}")
    print(
        f"  cold resolve   p50 {percentile(cold, 0.5):8.1f} us   p99 {percentile(cold, 0.99):8.1f} us   "
        f"KMS calls per cold resolve: {statistics.mean(cold_kms):.0f}"
    )
    print(f"  1,000 warm resolves: {kms_1000} KMS calls, {fetches_1000} model-list fetches (expected 0 and 0)")
    print(f"  (the {WARM_ROUNDS} timed warm resolves: {warm_kms} KMS calls, {warm_fetches} model-list fetches)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
