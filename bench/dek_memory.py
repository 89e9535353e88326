"""Memory of the DEK cache at 10,000 and 20,000 entries (`make bench`).

Fills `credentials.envelope.dek_cache` with real entries, each as `open_sealed` stores it: key
(sha256 of a wrapped DEK, tenant UUID), value (expiry, (AESGCM object, is_primary)), and the
data AAD memoised beside it. Reports the growth of the process's resident memory (which counts
what cryptography allocates outside Python's allocator) and what tracemalloc sees, per step.
Each figure comes from a fresh process, so nothing measured before it is in the way.
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as a file: put the project, not bench/, first on the path (bench/common.py)
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import gc
import os
import subprocess
import tracemalloc
import types
import uuid

from bench.common import ROOT

SIZES = (10_000, 20_000)


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(entries: int, *, traced: bool) -> int:
    """Return the bytes `entries` cached data keys (and their data AADs) add to this process."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from django.conf import settings

    from credentials.envelope import data_aad, dek_cache, dek_cache_key

    assert entries <= settings.SINATRA_DEK_CACHE_ENTRIES, "raise SINATRA_DEK_CACHE_ENTRIES for this measurement"
    # What the cache keeps alive, made before measuring: nothing else is allocated in the loop.
    inputs = [(os.urandom(32), os.urandom(60)) for _ in range(entries)]
    gc.collect()
    if traced:
        tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0] if traced else resident_bytes()
    for dek, wrapped in inputs:
        tenant_id, credential_id = uuid.uuid4(), uuid.uuid4()
        row = types.SimpleNamespace(wrapped_dek=wrapped, tenant_id=tenant_id)  # a row as open_sealed sees it
        dek_cache.put(dek_cache_key(row), (AESGCM(dek), True))
        data_aad(tenant_id=tenant_id, provider="anthropic", credential_id=credential_id)
    del inputs, dek, row  # the DEK bytes live on only inside the AESGCM objects; the wrapped ones as keys
    gc.collect()
    after = tracemalloc.get_traced_memory()[0] if traced else resident_bytes()
    assert len(dek_cache) == entries
    return after - before


def main() -> int:
    if len(sys.argv) == 3:  # a child: one measurement
        print(measure(int(sys.argv[1]), traced=sys.argv[2] == "traced"))
        return 0
    print("DEK cache memory (one process per figure; entries as open_sealed stores them, data AADs included)")
    for entries in SIZES:
        figures = {}
        for mode in ("resident", "traced"):
            child = subprocess.run(
                [sys.executable, "-m", "bench.dek_memory", str(entries), mode],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=300,
                check=True,
            )
            figures[mode] = int(child.stdout.strip().splitlines()[-1])
        print(
            f"  {entries:>6,} entries: resident memory +{figures['resident'] / 2**20:5.1f} MiB "
            f"({figures['resident'] / entries:,.0f} bytes each); tracemalloc +{figures['traced'] / 2**20:5.1f} MiB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
