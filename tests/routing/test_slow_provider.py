"""A provider that answers slowly: each fetch has a total deadline, and nobody else waits for it.

The provider is a real socket server on 127.0.0.1 (tests/fakes/slow_provider.py) that trickles
its model list a byte every 2 s; the app reaches it through its base URL settings, with its real
httpx client. Time is asserted only as wide-margin deadlines.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.core.cache import cache

from providers import anthropic as anthropic_client
from providers import openrouter as openrouter_client
from providers.errors import ProviderUnavailable
from providers.secret import Secret
from routing import catalog
from routing.catalog import BUILTIN_ANTHROPIC, FAILURE_SECONDS, anthropic_id, newest_anthropic
from routing.service import resolve
from tests.fakes.providers import anthropic_key
from tests.fakes.slow_provider import Mode, SlowProvider
from tests.helpers import command_env, run_manage

KEY = Secret(anthropic_key())
WIDE_MARGIN = 8.0  # seconds: the default deadline is 5 s; without one, these calls took minutes


class FakeMonotonic:
    """The catalog's clock, moved by hand (the deadline keeps real time)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def slow_provider(settings):
    with SlowProvider() as provider:
        settings.SINATRA_ANTHROPIC_BASE_URL = provider.anthropic_base_url
        settings.SINATRA_OPENROUTER_BASE_URL = provider.openrouter_base_url
        yield provider


class Fetcher(threading.Thread):
    """A resolution of `opus` in a thread of its own, as another request of a threaded worker."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.choice: catalog.ModelChoice | None = None

    def run(self) -> None:
        self.choice = newest_anthropic("opus", secret=KEY)


def test_a_resolution_against_a_provider_trickling_its_list_returns_within_the_deadline(
    slow_provider, tenant, store_key
):
    store_key(tenant, "anthropic")
    started = time.monotonic()

    resolution = resolve(tenant, "agent:\n  model: opus\n")

    assert time.monotonic() - started < WIDE_MARGIN
    assert resolution.model == BUILTIN_ANTHROPIC["opus"]
    assert "Anthropic did not answer within 5 s" in resolution.warnings[0]
    assert slow_provider.client_gone.wait(timeout=WIDE_MARGIN)  # the socket was really abandoned


@pytest.mark.parametrize("mode", [Mode.TRICKLE_BODY, Mode.TRICKLE_HEAD])
@pytest.mark.parametrize(
    "call",
    [
        lambda: anthropic_client.list_models(KEY),
        openrouter_client.list_models,
        lambda: anthropic_client.verify_key(KEY),
    ],
    ids=["anthropic list", "openrouter list", "anthropic key check"],
)
def test_every_provider_call_ends_at_its_deadline_however_slowly_bytes_arrive(slow_provider, settings, mode, call):
    settings.SINATRA_MODEL_FETCH_DEADLINE_SECONDS = 1
    slow_provider.mode = mode
    started = time.monotonic()

    with pytest.raises(ProviderUnavailable, match=r"did not answer within 1 s"):
        call()

    assert time.monotonic() - started < WIDE_MARGIN
    assert slow_provider.requests == 1  # no retry once the deadline has passed


def test_while_one_resolution_fetches_the_others_do_not_wait_for_it(slow_provider):
    fetcher = Fetcher()
    fetcher.start()
    assert slow_provider.connected.wait(timeout=WIDE_MARGIN)

    # Cache-only and fetching lookups alike answer while the fetch is still trickling along.
    assert anthropic_id("claude-opus-4-7", secret=None).model == "claude-opus-4-7"
    other = newest_anthropic("sonnet", secret=KEY)
    still_fetching = fetcher.is_alive()

    assert still_fetching
    assert other.model == BUILTIN_ANTHROPIC["sonnet"]
    assert "being fetched" in other.warnings[0]
    fetcher.join(timeout=WIDE_MARGIN)
    assert not fetcher.is_alive()
    assert slow_provider.requests == 1  # one fetch for everyone (single flight)


def test_a_stale_list_keeps_serving_while_a_fresh_one_is_fetched_and_after_it_fails(
    slow_provider, settings, monkeypatch
):
    settings.SINATRA_MODEL_CATALOG_SECONDS = 3600
    clock = FakeMonotonic()
    monkeypatch.setattr(catalog, "time", clock)
    slow_provider.mode = Mode.FAST
    assert newest_anthropic("opus", secret=KEY) == catalog.ModelChoice("claude-opus-5-0")

    # An hour later the list is stale (and gone from Django's cache); the provider now trickles.
    clock.now += 3601
    cache.clear()
    slow_provider.mode = Mode.TRICKLE_BODY
    slow_provider.connected.clear()
    fetcher = Fetcher()
    fetcher.start()
    assert slow_provider.connected.wait(timeout=WIDE_MARGIN)

    assert newest_anthropic("opus", secret=KEY) == catalog.ModelChoice("claude-opus-5-0")
    assert fetcher.is_alive()

    fetcher.join(timeout=WIDE_MARGIN)
    assert fetcher.choice == catalog.ModelChoice("claude-opus-5-0")  # the refresh failed: still the stale list
    # The failure is remembered: no new fetch for a while, the stale list serves.
    slow_provider.mode = Mode.FAST
    slow_provider.anthropic_ids = ["claude-opus-6-0"]
    assert newest_anthropic("opus", secret=KEY).model == "claude-opus-5-0"
    assert slow_provider.requests == 2

    # Once the provider has recovered and the pause is over, the next lookup fetches the new list.
    clock.now += FAILURE_SECONDS + 1
    assert newest_anthropic("opus", secret=KEY) == catalog.ModelChoice("claude-opus-6-0")
    assert slow_provider.requests == 3


# --- The setting.


@pytest.mark.parametrize("value", ["0", "-1", "soon", "nan", "301"])
def test_a_fetch_deadline_that_is_not_a_sensible_number_of_seconds_is_a_one_line_start_up_error(value):
    env = command_env(
        DJANGO_SETTINGS_MODULE="sinatra.settings",
        SINATRA_ENV_FILE="tests/test.env",
        SINATRA_MODEL_FETCH_DEADLINE_SECONDS=value,
    )

    result = run_manage("check", env=env)

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Configuration error: SINATRA_MODEL_FETCH_DEADLINE_SECONDS must be a number of seconds above 0 and at "
        "most 300, e.g. 5."
    ]


def test_the_fetch_deadline_is_five_seconds_unless_set():
    env = command_env(DJANGO_SETTINGS_MODULE="sinatra.settings", SINATRA_ENV_FILE="tests/test.env")
    code = "from django.conf import settings; print(settings.SINATRA_MODEL_FETCH_DEADLINE_SECONDS)"

    assert run_manage("shell", "-c", code, env=env).stdout.splitlines()[-1] == "5.0"
    env["SINATRA_MODEL_FETCH_DEADLINE_SECONDS"] = "2.5"
    assert run_manage("shell", "-c", code, env=env).stdout.splitlines()[-1] == "2.5"
