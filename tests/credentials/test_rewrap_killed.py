"""rewrap_credentials killed with SIGKILL halfway, then run again: every row moves exactly once.

Runs real `manage.py` processes against their own SQLite file, rotating from local key A to
local key B, and kills the first run as soon as it has reported some progress.
"""

import base64
import json
import os
import signal
import subprocess
import sys

from credentials.kms.local import generate_key, local_kek_id
from tests.helpers import PROJECT_DIR, command_env, run_manage

ROWS = 120

CREATE_ROWS = f"""
from providers.secret import Secret
from credentials.services import Actor, credential_create
from tenants.models import Tenant
for number in range({ROWS}):
    tenant = Tenant.objects.create(slug=f"t{{number}}", name=f"T{{number}}")
    credential_create(tenant=tenant, provider="openrouter", secret=Secret("sk-or-v1-" + f"{{number:064x}}"),
                      actor=Actor.command("test"))
"""

REPORT = """
import json
from collections import Counter
from credentials.models import CredentialEvent, TenantModelCredential
from credentials.services import credential_open
rows = list(TenantModelCredential.objects.all())
rewrapped = Counter(CredentialEvent.objects.filter(kind="rewrapped").values_list("credential_id", flat=True))
print("REPORT " + json.dumps({
    "keks": Counter(row.kek_id for row in rows),
    "events": sum(rewrapped.values()),
    "most_per_row": max(rewrapped.values(), default=0),
    "opened": sum(credential_open(row, use_cache=False).reveal().startswith("sk-or-v1-") for row in rows),
}))
"""


def report(env) -> dict:
    result = run_manage("shell", "-c", REPORT, env=env)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("REPORT "))
    return json.loads(line.removeprefix("REPORT "))


def test_a_rewrap_killed_halfway_finishes_on_the_next_run_and_moves_each_row_once(tmp_path):
    key_a, key_b = generate_key(), generate_key()
    base = {"DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"}
    under_a = command_env(**base, SINATRA_LOCAL_DEV_KMS_KEY=key_a)
    under_b = command_env(**base, SINATRA_LOCAL_DEV_KMS_KEY=key_b, SINATRA_LOCAL_DEV_KMS_OLD_KEYS=key_a)
    kek_a = local_kek_id(base64.b64decode(key_a))
    kek_b = local_kek_id(base64.b64decode(key_b))

    assert run_manage("migrate", "--noinput", env=under_a).returncode == 0
    created = run_manage("shell", "-c", CREATE_ROWS, env=under_a)
    assert created.returncode == 0, created.stderr

    # First run: one row per batch, so it reports progress row by row; killed after a few.
    first = subprocess.Popen(
        [sys.executable, "manage.py", "rewrap_credentials", "--batch-size", "1"],
        cwd=PROJECT_DIR,
        env={**under_b, "PYTHONUNBUFFERED": "1"},  # progress lines as they happen, not at exit
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    progress = 0
    for line in first.stdout:
        if "processed" in line:
            progress += 1
            if progress == 5:
                os.kill(first.pid, signal.SIGKILL)
                break
    first.wait(timeout=60)
    assert first.returncode == -signal.SIGKILL

    halfway = report(under_b)
    keks = halfway["keks"]
    assert keks.get(kek_b, 0) >= 5
    assert keks.get(kek_a, 0) >= 1, "the first run finished before it was killed: raise ROWS"
    assert sum(keks.values()) == ROWS
    assert halfway["events"] == keks[kek_b]  # a row moved if and only if its event was written
    assert halfway["opened"] == ROWS  # rows moved and rows not yet moved all open under B + A

    second = run_manage("rewrap_credentials", env=under_b)
    assert second.returncode == 0, second.stderr
    assert f"Rewrapped {keks[kek_a]} credentials" in second.stdout

    done = report(under_b)
    assert done["keks"] == {kek_b: ROWS}
    assert done["events"] == ROWS  # each row exactly once across both runs
    assert done["most_per_row"] == 1

    # Key A can go now: every row opens with B alone.
    only_b = command_env(**base, SINATRA_LOCAL_DEV_KMS_KEY=key_b)
    assert report(only_b)["opened"] == ROWS
    third = run_manage("rewrap_credentials", env=only_b)
    assert third.returncode == 0
    assert "nothing to do" in third.stdout
