"""Key-release accounting across real processes: workers that exit write what they counted.

- A real gunicorn server (deploy/gunicorn.conf.py, one worker; its `worker_exit` hook) answers
  POST /api/v1/resolve for two tokens; stopped with SIGTERM, its worker writes the counts, and
  the tenant's credentials page shows them per caller and provider.
  The same exit writes the tokens' and the keys' `last_used_at` (routing.usage), which no request
  wrote.
- A `manage.py shell -c` script that resolves and exits writes its counts with no help (atexit).
- PostgreSQL: two processes counting the same (caller, tenant, provider, hour) add up exactly,
  their writes released at the same moment.

The SQLite tests run against a database file of their own; the providers are the fake HTTP
servers of the browser tests.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.db import connection, transaction

from routing.models import KeyRelease
from tests.e2e.fake_providers import FakeAnthropic, FakeOpenRouter, fake_providers
from tests.fakes.providers import anthropic_key, openrouter_key
from tests.helpers import PROJECT_DIR, command_env, database_url, run_manage, sessions_waiting_on_locks
from tests.web import provider_section

CREDENTIALS_PAGE = """
from django.contrib.auth import get_user_model
from django.test import Client
client = Client()
client.force_login(get_user_model().objects.get(email="owner@acme.example"))
response = client.get("/t/acme/credentials/")
assert response.status_code == 200, response.status_code
print(response.content.decode())
"""

RELEASES = """
import json
from routing.models import KeyRelease
print("RELEASES " + json.dumps(sorted(
    [row.caller, row.tenant.slug, row.provider, row.count] for row in KeyRelease.objects.select_related("tenant")
)))
"""

LAST_USES = """
import json
from credentials.models import TenantModelCredential
from routing.models import ServiceToken
print("LAST_USES " + json.dumps({
    **{row.name: row.last_used_at is not None for row in ServiceToken.objects.all()},
    **{row.provider: row.last_used_at is not None for row in TenantModelCredential.objects.all()},
}))
"""


def last_uses(env) -> dict[str, bool]:
    """Whether each token (by name) and each key (by provider) of `env`'s database has a last use."""
    result = run_manage("shell", "-c", LAST_USES, env=env)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("LAST_USES "))
    return json.loads(line.removeprefix("LAST_USES "))


def releases(env) -> list[list]:
    """The KeyRelease rows of the database `env` names, as [caller, tenant slug, provider, count]."""
    result = run_manage("shell", "-c", RELEASES, env=env)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("RELEASES "))
    return json.loads(line.removeprefix("RELEASES "))


@pytest.fixture
def providers_on_http():
    with fake_providers() as both:
        yield both


def tenant_with_keys(tmp_path: Path, fakes: tuple[FakeAnthropic, FakeOpenRouter]) -> dict[str, str]:
    """A migrated SQLite file with tenant acme (owner owner@acme.example) and both keys, seeded by commands."""
    anthropic, openrouter = fakes
    env = command_env(
        DJANGO_SETTINGS_MODULE="tests.settings",
        DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
        SINATRA_ANTHROPIC_BASE_URL=anthropic.base_url,
        SINATRA_OPENROUTER_BASE_URL=openrouter.base_url,
    )
    for args, stdin in [
        (("migrate", "--noinput"), None),
        (("create_tenant", "acme", "--owner-email", "owner@acme.example"), None),
        (("seed_credential", "--tenant", "acme", "--provider", "anthropic"), anthropic.accept(anthropic_key())),
        (("seed_credential", "--tenant", "acme", "--provider", "openrouter"), openrouter.accept(openrouter_key())),
    ]:
        result = run_manage(*args, env=env, stdin=stdin)
        assert result.returncode == 0, f"{args}: {result.stderr}"
    return env


def create_token(env, name: str) -> str:
    result = run_manage("create_service_token", name, "--tenant", "acme", env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()[-1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_gunicorn_worker_that_exits_writes_its_counts_and_the_credentials_page_shows_them(
    tmp_path, providers_on_http
):
    env = tenant_with_keys(tmp_path, providers_on_http)
    worker_a, worker_b = create_token(env, "worker-a"), create_token(env, "worker-b")
    port = free_port()
    server = subprocess.Popen(  # the deployed configuration, whose worker_exit hook writes the counts
        [sys.executable, "-m", "gunicorn", "-c", str(PROJECT_DIR / "deploy" / "gunicorn.conf.py"), "sinatra.wsgi"],
        cwd=PROJECT_DIR,
        env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "1", "GUNICORN_THREADS": "2"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120  # a hang guard, not a speed requirement
        while True:
            try:
                if httpx.get(f"{base}/api/v1/openapi.json", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.communicate()[0]
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)

        def resolve(token: str, model: str) -> dict:
            response = httpx.post(
                f"{base}/api/v1/resolve",
                json={"tenant": "acme", "model": model},
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            assert response.status_code == 200, response.text
            return response.json()

        answers = [resolve(worker_a, "opus") for _ in range(3)]
        # Served, and nothing written yet: the last uses wait in the worker's memory.
        assert last_uses(env) == {"worker-a": False, "worker-b": False, "anthropic": False, "openrouter": False}
        answers += [resolve(worker_a, "openai/gpt-5") for _ in range(2)]
        answers += [resolve(worker_b, "sonnet")]
        assert [answer["provider"] for answer in answers] == ["anthropic"] * 3 + ["openrouter"] * 2 + ["anthropic"]
    finally:
        server.send_signal(signal.SIGTERM)
        log = server.communicate(timeout=120)[0]  # a hang guard
    assert server.returncode == 0, log
    assert "Exception during worker exit" not in log

    assert releases(env) == [
        ["worker-a", "acme", "anthropic", 3],
        ["worker-a", "acme", "openrouter", 2],
        ["worker-b", "acme", "anthropic", 1],
    ]
    assert last_uses(env) == {"worker-a": True, "worker-b": True, "anthropic": True, "openrouter": True}
    page = run_manage("shell", "-c", CREDENTIALS_PAGE, env=env)
    assert page.returncode == 0, page.stderr
    anthropic, openrouter = provider_section(page.stdout, "anthropic"), provider_section(page.stdout, "openrouter")
    assert "Who received the Anthropic key Caller Last 24 hours Last 30 days Last time (UTC)" in anthropic
    assert re.search(r"worker-a 3 3 \d{4}-\d\d-\d\d \d\d:\d\d", anthropic)
    assert re.search(r"worker-b 1 1 \d{4}-\d\d-\d\d \d\d:\d\d", anthropic)
    assert re.search(r"worker-a 2 2 \d{4}-\d\d-\d\d \d\d:\d\d", openrouter)
    assert "worker-b" not in openrouter


WORKER_SCRIPT = """
from routing.service import resolve
from tenants.models import Tenant
tenant = Tenant.objects.get(slug="acme")
for model in ["opus", "opus", "haiku", "openai/gpt-5"]:
    resolve(tenant, config={"agent": {"model": model}}, caller="worker-eu")
print("RESOLVED")
"""


def test_a_process_that_resolves_and_exits_writes_its_counts_by_itself(tmp_path, providers_on_http):
    env = tenant_with_keys(tmp_path, providers_on_http)

    worker = run_manage("shell", "-c", WORKER_SCRIPT, env=env)

    assert worker.returncode == 0, worker.stderr
    assert "RESOLVED" in worker.stdout
    assert releases(env) == [["worker-eu", "acme", "anthropic", 3], ["worker-eu", "acme", "openrouter", 1]]


# --- PostgreSQL: two processes, one (caller, tenant, provider, hour).

# Resolves N times as worker-eu, at a pinned time (so both processes count in the same hour),
# then exits: its counts are written at exit, where the test holds them behind a lock.
CONTENDER = """
import sys
import respx, httpx
from routing import release
from routing.service import resolve
from tenants.models import Tenant
release.wall_clock = lambda: 1_790_000_000.0
tenant = Tenant.objects.get(slug="acme")
with respx.mock(assert_all_called=False) as mock:
    mock.get("https://api.anthropic.test/v1/models").mock(
        return_value=httpx.Response(200, json={"data": [{"id": "claude-opus-4-8"}], "has_more": False})
    )
    for _ in range(int(sys.stdin.read())):
        resolve(tenant, config={"agent": {"model": "opus"}}, caller="worker-eu")
print("COUNTED", sum(entry[0] for entry in release.pending().values()))
"""


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: set DATABASE_URL=postgres://...")
@pytest.mark.django_db(transaction=True)
def test_two_processes_counting_the_same_hour_add_up_exactly(tenant, store_key):
    store_key(tenant, "anthropic")
    env = command_env(DJANGO_SETTINGS_MODULE="tests.settings", DATABASE_URL=database_url(connection.settings_dict))
    counts = [137, 263]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {KeyRelease._meta.db_table} IN EXCLUSIVE MODE")
        processes = [
            subprocess.Popen(
                [sys.executable, "manage.py", "shell", "-c", CONTENDER],
                cwd=PROJECT_DIR,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in counts
        ]
        for process, number in zip(processes, counts, strict=True):
            process.stdin.write(str(number))
            process.stdin.close()
            process.stdin = None  # so that communicate() does not touch it again
        # Both counted and are now writing at exit, blocked behind the lock (a hang guard bounds the wait).
        deadline = time.monotonic() + 300
        while sessions_waiting_on_locks() < len(processes):
            ended = [process for process in processes if process.poll() is not None]
            if ended or time.monotonic() > deadline:
                for process in processes:
                    process.kill()
                pytest.fail(f"not every process reached the lock: {[p.communicate() for p in processes]}")
            time.sleep(0.05)
        # Leaving the block commits, which releases the lock: both writes go at once.
    outputs = [process.communicate(timeout=300) for process in processes]  # a hang guard

    for process, (out, err), number in zip(processes, outputs, counts, strict=True):
        assert process.returncode == 0, err
        assert f"COUNTED {number}" in out
        assert "could not be written" not in err
    row = KeyRelease.objects.get()
    assert (row.caller, row.tenant, row.provider) == ("worker-eu", tenant, "anthropic")
    assert row.count == sum(counts)
