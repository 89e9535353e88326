"""Benchmark of the operators' admin lists at 100 and at 1,000 tenants (`make bench`).

Each tenant has an owner (a user and a membership), an active Anthropic key that replaced an
earlier one (two credential rows, three events) and a service token. The changelists of
tenants, memberships, credentials, credential events and service tokens are requested through
Django's test client as a signed-in superuser: at 100 tenants, then again once the same
database holds 1,000 (and has been analyzed, as autovacuum keeps a database in service). Each
figure is the median of REQUESTS requests (after a warm-up); the whole is repeated in ROUNDS
fresh databases. The goal: the same number of queries at both sizes, and the time at 1,000
tenants within 1.2x the time at 100.
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as a file: put the project, not bench/, first on the path (bench/common.py)
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import statistics
import time

from bench.common import anthropic_key, scratch_database, setup_django, spread, verdict

SIZES = (100, 1000)
REQUESTS = 15
ROUNDS = 3
GOAL = 1.2
PAGES = {
    "tenants": "admin:tenants_tenant_changelist",
    "memberships": "admin:tenants_membership_changelist",
    "credentials": "admin:credentials_tenantmodelcredential_changelist",
    "credential events": "admin:credentials_credentialevent_changelist",
    "service tokens": "admin:routing_servicetoken_changelist",
}


def main() -> int:
    rounds = []
    vendor = ""
    for number in range(ROUNDS):
        with scratch_database(f"bench_admin{number}") as url:
            if number == 0:
                setup_django(url)
            else:
                switch_database(url)
            from django.db import connection

            vendor = connection.vendor
            rounds.append(one_round())
    print(f"admin changelists on {vendor}: {SIZES[0]:,} -> {SIZES[1]:,} tenants, median of {REQUESTS} requests each")
    print(f"  (ratios: min / median / max of {ROUNDS} rounds, each in a fresh database)")
    for page in PAGES:
        times = {size: [result[page][size][0] for result in rounds] for size in SIZES}
        queries = {(result[page][size][1]) for result in rounds for size in SIZES}
        ratios = [result[page][SIZES[1]][0] / result[page][SIZES[0]][0] for result in rounds]
        constant = len(queries) == 1
        print(
            f"  {page:<18} {statistics.median(times[SIZES[0]]):6.1f} ms -> {statistics.median(times[SIZES[1]]):6.1f} ms"
            f"   ratio {spread(ratios)}  goal <= {GOAL}x: {verdict(statistics.median(ratios) <= GOAL)}"
            f"   queries {'/'.join(str(count) for count in sorted(queries))}: "
            f"{'constant' if constant else 'NOT constant'}"
        )
    return 0


def switch_database(url: str) -> None:
    """Point Django's default connection at another scratch database and create the tables."""
    from django.core.management import call_command
    from django.db import connections

    connections.close_all()
    connections["default"].settings_dict["NAME"] = _database_name(url)
    call_command("migrate", verbosity=0)


def _database_name(url: str) -> str:
    import environ

    return environ.Env.db_url_config(url)["NAME"]


def one_round() -> dict[str, dict[int, tuple[float, int]]]:
    """Return {page: {tenants: (median milliseconds, queries)}}."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    admin = get_user_model().objects.create_superuser("bench-admin", "bench-admin@example.com", "unused-password")
    client = Client()
    client.force_login(admin)
    result: dict[str, dict[int, tuple[float, int]]] = {page: {} for page in PAGES}
    made = 0
    for size in SIZES:
        grow(made, size)
        made = size
        with connection.cursor() as cursor:
            # The statistics of a database in service (autovacuum keeps PostgreSQL's current): just
            # after tenfold rows the planner still believes the tables small, and joins all of them.
            cursor.execute("ANALYZE")
        for page, name in PAGES.items():
            url = reverse(name)
            for _ in range(3):  # warm-up
                assert client.get(url).status_code == 200
            with CaptureQueriesContext(connection) as captured:
                assert client.get(url).status_code == 200
            queries = len(captured.captured_queries)  # now: the next request empties the log
            samples = []
            for _ in range(REQUESTS):
                started = time.perf_counter()
                response = client.get(url)
                samples.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
            result[page][size] = (statistics.median(samples), queries)
    return result


def grow(start: int, stop: int) -> None:
    """Add tenants number `start` to `stop`, each with an owner, a replaced key and a token."""
    from django.contrib.auth import get_user_model

    from credentials.services import Actor, credential_create
    from providers import Provider
    from providers.secret import Secret
    from routing.tokens import token_create
    from tenants.models import Membership, Role, Tenant

    users = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"owner-{n}", email=f"owner-{n}@example.com") for n in range(start, stop)]
    )
    tenants = Tenant.objects.bulk_create(
        [Tenant(slug=f"tenant-{n:04d}", name=f"Tenant {n}") for n in range(start, stop)]
    )
    Membership.objects.bulk_create(
        [Membership(user=user, tenant=tenant, role=Role.OWNER) for user, tenant in zip(users, tenants, strict=True)]
    )
    actor = Actor.command("bench")
    for number, tenant in zip(range(start, stop), tenants, strict=True):
        for key in (anthropic_key(2 * number), anthropic_key(2 * number + 1)):
            credential_create(tenant=tenant, provider=Provider.ANTHROPIC, secret=Secret(key), actor=actor)
        token_create(name=f"worker-{number}", tenants=[tenant])


if __name__ == "__main__":
    sys.exit(main())
