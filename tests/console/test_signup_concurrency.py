"""Simultaneous sign-ups asking for one tenant address (PostgreSQL): one tenant, one owner.

Each sign-up is a request through the test client in its own thread, so on its own database
connection. The test holds an EXCLUSIVE lock on the tenant table (reads still pass, so every
sign-up form finds the address free) until every request is blocked on it, then lets them all
go at once: only the database's unique constraint can tell them apart.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections, transaction
from django.test import Client
from django.urls import reverse

from tenants.models import Membership, Role, Tenant
from tests.helpers import sessions_waiting_on_locks
from tests.web import PASSWORD, text

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: set DATABASE_URL=postgres://..."),
    pytest.mark.django_db(transaction=True),
]

SIGNERS = 6


@dataclass
class Answer:
    status: int = 0
    location: str = ""
    page: str = ""
    error: BaseException | None = None


def sign_up(index: int, answer: Answer) -> None:
    """One person signs up for the address `initech`, from their own client address."""
    try:
        response = Client(REMOTE_ADDR=f"192.0.2.{index + 1}").post(
            reverse("signup"),
            {
                "email": f"founder{index}@example.com",
                "password1": PASSWORD,
                "password2": PASSWORD,
                "tenant_name": f"Initech {index}",
                "tenant_slug": "initech",
            },
        )
        answer.status = response.status_code
        answer.location = response.get("Location", "")
        answer.page = text(response) if response.status_code == 200 else ""
    except BaseException as exc:  # reported by the test, which runs in another thread
        answer.error = exc
    finally:
        connections.close_all()


def test_simultaneous_sign_ups_for_one_address_make_one_tenant_with_one_owner(settings):
    settings.SINATRA_ALLOW_SIGNUP = True
    answers = [Answer() for _ in range(SIGNERS)]
    threads = [threading.Thread(target=sign_up, args=(index, answers[index])) for index in range(SIGNERS)]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {Tenant._meta.db_table} IN EXCLUSIVE MODE")
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 300  # a hang guard, not a speed requirement
        while sessions_waiting_on_locks() < SIGNERS:
            finished = [answer for thread, answer in zip(threads, answers, strict=True) if not thread.is_alive()]
            if finished or time.monotonic() > deadline:
                pytest.fail(f"Not every sign-up reached the lock; these ended first: {finished or answers}")
            time.sleep(0.05)
        # Leaving the block commits, which releases the lock: all of them go at once.
    for thread in threads:
        thread.join(timeout=300)  # a hang guard

    assert [answer.error for answer in answers] == [None] * SIGNERS
    admitted = [answer for answer in answers if answer.status == 302]
    refused = [answer for answer in answers if answer.status == 200]
    assert [answer.location for answer in admitted] == [reverse("signup-sent")]
    assert len(refused) == SIGNERS - 1
    for answer in refused:
        assert "That address is taken: choose another." in answer.page
    tenant = Tenant.objects.get(slug="initech")
    owners = list(Membership.objects.filter(tenant=tenant).values_list("user__email", "role"))
    assert len(owners) == 1
    assert owners[0][1] == Role.OWNER
    assert list(get_user_model().objects.values_list("email", flat=True)) == [owners[0][0]]
