"""verify_credentials --live: each provider is asked about every active key, and the answers are kept."""

from __future__ import annotations

import threading
from datetime import timedelta

import httpx
import pytest
import respx
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from credentials.models import CredentialEvent, EventKind, TenantModelCredential
from tenants.models import Role
from tests.fakes.providers import ANTHROPIC_MODELS_URL, OPENROUTER_KEY_URL, anthropic_key, openrouter_key
from tests.helpers import find_leaks
from tests.web import join, signed_in


@pytest.fixture
def answers(router):
    """Answer key checks by key: accepted unless told otherwise; count what each provider was asked."""
    verdicts: dict[str, httpx.Response] = {}

    def anthropic(request: httpx.Request) -> httpx.Response:
        key = request.headers["x-api-key"]
        return verdicts.get(key) or httpx.Response(
            200, json={"data": []}, headers={"anthropic-organization-id": "org-canary-0001"}
        )

    def openrouter(request: httpx.Request) -> httpx.Response:
        key = request.headers["authorization"].removeprefix("Bearer ")
        return verdicts.get(key) or httpx.Response(200, json={"data": {"label": "ci", "limit_remaining": 3.5}})

    router.get(ANTHROPIC_MODELS_URL).mock(side_effect=anthropic)
    router.get(OPENROUTER_KEY_URL).mock(side_effect=openrouter)
    return verdicts


@pytest.fixture
def router():
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


def kinds_of(credential: TenantModelCredential) -> list[str]:
    return list(credential.events.order_by("id").values_list("kind", flat=True))


def test_every_accepted_key_is_recorded_with_what_the_provider_said(
    tenant, make_tenant, store_key, run_command, answers
):
    keys = [anthropic_key(), openrouter_key()]
    first = store_key(tenant, "anthropic", keys[0])
    second = store_key(make_tenant("globex"), "openrouter", keys[1])

    out, err = run_command("verify_credentials", "--live")

    assert "[1/2] accepted" in out
    assert "[2/2] accepted" in out
    assert "All 2 active credentials decrypt and are accepted by their providers." in out
    assert err == ""
    assert find_leaks(out + err, keys) == []
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.organization_id == "org-canary-0001"
    assert first.validated_at is not None
    assert second.provider_label == "ci"
    assert str(second.limit_remaining) == "3.5000"
    assert kinds_of(first)[-1] == kinds_of(second)[-1] == EventKind.VALIDATED
    assert CredentialEvent.objects.filter(actor="command:verify_credentials").count() == 2


def test_a_rejected_key_fails_the_run_is_marked_and_the_console_says_so(
    client, tenant, make_tenant, store_key, run_command, answers
):
    rejected_key = anthropic_key()
    rejected = store_key(tenant, "anthropic", rejected_key)
    store_key(make_tenant("globex"), "anthropic")
    answers[rejected_key] = httpx.Response(401, json={"error": {"type": "authentication_error"}})

    with pytest.raises(CommandError) as excinfo:
        run_command("verify_credentials", "--live")

    assert str(excinfo.value).startswith("1 of 2 active keys were rejected by their provider: acme/anthropic.")
    rejected.refresh_from_db()
    assert rejected.rejected_at is not None
    event = rejected.events.get(kind=EventKind.VALIDATION_FAILED)
    assert "Anthropic rejected the key (authentication_error)" in event.detail
    signed_in(client, join(tenant, Role.MEMBER))
    for url in (reverse("console", args=["acme"]), reverse("credentials", args=["acme"])):
        page = client.get(url).content.decode()
        assert f"rejected by Anthropic on {timezone.now():%Y-%m-%d}: paste a new key." in page
        assert rejected_key not in page


def test_a_provider_that_cannot_be_asked_is_reported_not_failed(tenant, store_key, run_command, answers):
    key = openrouter_key()
    credential = store_key(tenant, "openrouter", key)
    answers[key] = httpx.Response(503)

    out, _ = run_command("verify_credentials", "--live")

    assert "could not ask OpenRouter about acme/openrouter" in out
    assert "1 could not be checked now (reported, not failed): acme/openrouter." in out
    assert kinds_of(credential)[-1] == EventKind.CHECK_INCOMPLETE
    credential.refresh_from_db()
    assert credential.rejected_at is None


def test_a_key_expiring_within_14_days_is_flagged_in_the_run_and_the_console(
    client, tenant, store_key, run_command, answers
):
    key = openrouter_key()
    store_key(tenant, "openrouter", key)
    expires = timezone.now() + timedelta(days=5)
    answers[key] = httpx.Response(200, json={"data": {"label": "x", "expires_at": expires.isoformat()}})

    out, _ = run_command("verify_credentials", "--live")

    assert f"EXPIRES {expires:%Y-%m-%d}: replace it soon" in out
    assert "Expiring within 14 days: acme/openrouter." in out
    signed_in(client, join(tenant, Role.OWNER))
    page = client.get(reverse("credentials", args=["acme"])).content.decode()
    assert f"expires on {expires:%Y-%m-%d}: paste a new key before then." in page
    assert "replace it soon" in page


def test_checks_run_concurrently_but_never_more_than_asked(tenant, make_tenant, store_key, run_command, router):
    for slug in ("globex", "initech", "umbrella"):
        store_key(make_tenant(slug), "anthropic")
    store_key(tenant, "anthropic")
    meeting = threading.Barrier(2, timeout=10)  # two checks must be in flight together to pass it
    lock, in_flight, most = threading.Lock(), [0], [0]

    def check(request: httpx.Request) -> httpx.Response:
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        meeting.wait()
        with lock:
            in_flight[0] -= 1
        return httpx.Response(200, json={"data": []})

    router.get(ANTHROPIC_MODELS_URL).mock(side_effect=check)

    out, _ = run_command("verify_credentials", "--live", "--concurrency", "2")

    assert "[4/4] accepted" in out
    assert most[0] == 2


@pytest.mark.parametrize("value", ["0", "33"])
def test_concurrency_is_bounded(tenant, store_key, run_command, value):
    store_key(tenant, "anthropic")

    with pytest.raises(CommandError, match="--concurrency must be between 1 and 32"):
        run_command("verify_credentials", "--live", "--concurrency", value)
