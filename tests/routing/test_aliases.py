"""Alias history: when a provider's newest model of an alias changes, it is recorded once and shown."""

from __future__ import annotations

from datetime import timedelta

import pytest
import respx
from django.test import Client
from django.urls import reverse

from routing import aliases, catalog
from routing.models import AliasChange
from routing.service import resolve
from tenants.models import Role
from tests.fakes.providers import ANTHROPIC_MODELS_URL, anthropic_page
from tests.helpers import sinatrarc
from tests.web import join, signed_in, text


@pytest.fixture
def anthropic_lists():
    """Serve Anthropic's list; `serve([...ids])` replaces it and forgets what the catalog cached."""
    with respx.mock(assert_all_called=False) as router:
        route = router.get(ANTHROPIC_MODELS_URL)

        def serve(ids: list[str]) -> None:
            route.mock(return_value=anthropic_page(ids))
            catalog.clear_caches()

        yield serve


def test_a_change_of_the_newest_model_is_recorded_once_with_what_it_replaced(
    anthropic_lists, tenant, store_key, run_command
):
    store_key(tenant, "anthropic")
    anthropic_lists(["claude-opus-5", "claude-sonnet-5"])
    for _ in range(3):
        assert resolve(tenant, sinatrarc("opus")).model == "claude-opus-5"
    first = AliasChange.objects.get(alias="opus")
    AliasChange.objects.filter(pk=first.pk).update(first_seen=first.first_seen - timedelta(days=60))

    anthropic_lists(["claude-opus-5-5", "claude-opus-5", "claude-sonnet-5"])
    for _ in range(3):
        assert resolve(tenant, sinatrarc("opus")).model == "claude-opus-5-5"
    aliases.forget()  # another process, seeing the same list: nothing new to record
    resolve(tenant, sinatrarc("opus"))

    changes = list(AliasChange.objects.filter(alias="opus").order_by("first_seen").values_list("old", "new"))
    assert changes == [("", "claude-opus-5"), ("claude-opus-5", "claude-opus-5-5")]
    latest = AliasChange.objects.get(new="claude-opus-5-5")
    expected = f"opus means claude-opus-5-5 since {latest.first_seen:%Y-%m-%d} (before: claude-opus-5)"
    out, _ = run_command("resolve_model", "--tenant", "acme", "--model", "opus")
    assert f"  alias     {expected}" in out
    client = Client()
    signed_in(client, join(tenant, Role.MEMBER))
    assert f"Anthropic: {expected}" in text(client.get(reverse("console", args=["acme"])))


def test_a_model_from_the_built_in_table_or_an_override_is_no_change(anthropic_lists, tenant, store_key, settings):
    store_key(tenant, "anthropic")
    anthropic_lists([])  # names no opus: the built-in table serves
    resolve(tenant, sinatrarc("opus"))
    settings.ANTHROPIC_DEFAULT_OPUS_MODEL = "claude-opus-4-8"
    resolve(tenant, sinatrarc("opus"))

    assert not AliasChange.objects.exists()
