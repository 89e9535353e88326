"""What the benchmarks share: a scratch database, Django set up on it, rows made in bulk, statistics.

Run a benchmark as a module (`python -m bench.resolve`, as the Makefile does). Run as a file,
Python puts bench/ first on the import path, where bench/http.py would hide the standard
library's `http`: each script puts the project there instead before anything else.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import statistics
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """Yield the URL of an empty database of this run's own, removed afterwards.

    With DATABASE_URL naming a PostgreSQL server: a database `sinatra_<prefix>_<random>` on that
    server (its own database is never touched), dropped at the end. Otherwise a SQLite file in
    a temporary directory.
    """
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        with tempfile.TemporaryDirectory(prefix=f"sinatra-{prefix}-") as directory:
            yield f"sqlite:///{directory}/bench.sqlite3"
        return
    import psycopg

    parts = urlsplit(url)
    name = f"sinatra_{prefix}_{secrets.token_hex(4)}"
    server = urlunsplit(parts._replace(path="/postgres", query=""))
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup_django(database_url: str, settings_module: str = "tests.settings") -> None:
    """Set Django up on `database_url` and create the tables; provider calls log nothing."""
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    import django

    django.setup()
    logging.disable(logging.INFO)  # provider calls log at INFO; keep the figures readable
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def anthropic_key(number: int) -> str:
    """A well-formed (fake) Anthropic key, different for every number."""
    return f"sk-ant-api03-{number:093d}AA"


def seed_tenants(count: int, *, prefix: str = "bench", through_services: int = 3) -> list:
    """Create `count` tenants with one active Anthropic key each; return the tenants in slug order.

    The first `through_services` go through `credential_create`, as the console and commands
    store keys; the rest are sealed with the same envelope functions and the configured KMS and
    inserted in bulk, which keeps 10,000 of them to a few seconds.
    """
    from credentials.envelope import seal
    from credentials.kms import get_keyring
    from credentials.models import Status, TenantModelCredential
    from credentials.services import Actor, credential_create
    from providers import Provider
    from providers.secret import Secret
    from tenants.models import Tenant

    width = len(str(count - 1))
    tenants = Tenant.objects.bulk_create(
        [Tenant(slug=f"{prefix}-{number:0{width}d}", name=f"Bench {number}") for number in range(count)],
        batch_size=2000,
    )
    actor = Actor.command("bench")
    keyring = get_keyring()
    rows = []
    for number, tenant in enumerate(tenants):
        secret = Secret(anthropic_key(number))
        if number < through_services:
            credential_create(tenant=tenant, provider=Provider.ANTHROPIC, secret=secret, actor=actor)
            continue
        credential_id = uuid.uuid4()
        sealed = seal(
            secret, tenant_id=tenant.pk, provider=Provider.ANTHROPIC, credential_id=credential_id, keyring=keyring
        )
        rows.append(
            TenantModelCredential(
                id=credential_id,
                tenant=tenant,
                provider=Provider.ANTHROPIC,
                status=Status.ACTIVE,
                key_hint=secret.hint,
                kek_id=sealed.kek_id,
                kek_version=sealed.kek_version,
                wrapped_dek=sealed.wrapped_dek,
                ciphertext=sealed.ciphertext,
                envelope_version=sealed.envelope_version,
                created_by=actor.label,
            )
        )
    TenantModelCredential.objects.bulk_create(rows, batch_size=2000)
    return tenants


def percentile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def spread(values: Sequence[float], form: Callable[[float], str] = "{:.2f}".format) -> str:
    """min / median / max of repeated measurements."""
    return f"{form(min(values))} / {form(statistics.median(values))} / {form(max(values))}"


def verdict(met: bool) -> str:
    return "MET" if met else "MISSED"
