"""The policy page of the tenant console: everyone reads it; owners and admins preview a change
(what it would change, nothing saved) and save it (an event, by their email)."""

import re

import pytest
from django.urls import reverse

from routing.models import PolicyEvent, TenantPolicy
from routing.policy_rules import Policy, policy_read
from routing.rules import ANTHROPIC, OPENROUTER
from tenants.models import Role
from tests.web import inputs_named, labels, messages_of, signed_in, text, text_of

POLICY = reverse("policy", args=["acme"])

pytestmark = pytest.mark.django_db


@pytest.fixture
def keys(tenant, store_key, providers):
    store_key(tenant, ANTHROPIC)
    store_key(tenant, OPENROUTER)


def preview_cells(response, example: str) -> list[str]:
    """The cells of one example's row in the page's preview table."""
    html = response.content.decode()
    table = html[html.index('<table class="preview') : html.index("</table>", html.index('<table class="preview'))]
    row = next(row for row in table.split("<tr")[1:] if f"<code>{example}</code>" in row)
    return [text_of(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)]


def test_a_member_reads_the_policy_and_how_repos_resolve_but_gets_no_form(client, people, keys):
    signed_in(client, people[Role.MEMBER])

    response = client.get(POLICY)

    page = text(response)
    assert response.status_code == 200
    assert "Allowed providers any provider the tenant has a key for" in page
    assert "Allowed models any model" in page
    assert "Pinned aliases none" in page
    assert preview_cells(response, "model: opus") == ["opus → Anthropic, claude-opus-4-8"]
    assert inputs_named(response, "models") == []
    assert "Save policy" not in page
    assert "The policy was never changed" in page


@pytest.mark.parametrize("role", [Role.MEMBER, Role.ADMIN, Role.OWNER])
def test_the_navigation_offers_the_policy_to_every_role(client, people, tenant, role):
    signed_in(client, people[role])

    html = client.get(reverse("console", args=["acme"])).content.decode()

    assert f'<a href="{POLICY}">Policy</a>' in html


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
def test_owners_and_admins_get_a_form_with_labelled_fields(client, people, keys, role):
    signed_in(client, people[role])

    response = client.get(POLICY)

    assert {"Anthropic", "OpenRouter", "Allowed models", "Pin opus to", "Pin sonnet to", "Pin haiku to"} <= set(
        labels(response)
    )
    assert [control["type"] for control in inputs_named(response, "providers")] == ["checkbox", "checkbox"]


def test_a_preview_shows_what_a_policy_changes_and_saves_nothing(client, people, keys):
    signed_in(client, people[Role.OWNER])

    response = client.post(
        POLICY, {"providers": [ANTHROPIC], "models": "", "pin_opus": "claude-opus-4-7", "preview": "1"}
    )

    assert response.status_code == 200
    assert "What this policy changes" in text(response)
    assert preview_cells(response, "model: opus") == [
        "opus → Anthropic, claude-opus-4-8",
        "opus → Anthropic, claude-opus-4-7 (changes)",
    ]
    now, proposed = preview_cells(response, "model: openai/gpt-5")
    assert now == "openai/gpt-5 → OpenRouter, openai/gpt-5"
    assert proposed.startswith("refused by the policy: Tenant acme's policy allows only Anthropic")
    assert preview_cells(response, "model: sonnet") == ["sonnet → Anthropic, claude-sonnet-4-6"] * 2
    assert ["checked" in control for control in inputs_named(response, "providers")] == [True, False]
    assert inputs_named(response, "pin_opus")[0]["value"] == "claude-opus-4-7"
    assert not TenantPolicy.objects.exists()
    assert not PolicyEvent.objects.exists()


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
def test_saving_stores_the_policy_with_an_event_by_the_person(client, people, tenant, keys, role):
    signed_in(client, people[role])

    response = client.post(
        POLICY,
        {"providers": [ANTHROPIC], "models": "claude-*", "pin_opus": "claude-opus-4-7", "save": "1"},
        follow=True,
    )

    assert response.redirect_chain == [(POLICY, 302)]
    assert messages_of(response) == ["The policy is saved."]
    assert policy_read(tenant) == Policy(frozenset({ANTHROPIC}), ("claude-*",), {"opus": "claude-opus-4-7"})
    event = PolicyEvent.objects.get()
    assert event.actor == people[role].email
    assert event.actor_user == people[role]
    page = text(response)
    assert "Allowed providers Anthropic" in page
    assert "Allowed models claude-*" in page
    assert "Pinned aliases opus = claude-opus-4-7" in page
    assert f"{people[role].email} providers: any provider" in page
    assert preview_cells(response, "model: opus") == ["opus → Anthropic, claude-opus-4-7"]
    assert preview_cells(response, "model: openai/gpt-5")[0].startswith("refused by the policy")


def test_a_policy_that_would_refuse_the_default_model_is_an_error_and_not_saved(client, people, tenant, keys):
    signed_in(client, people[Role.OWNER])

    response = client.post(POLICY, {"models": "openai/*", "save": "1"})

    assert response.status_code == 200
    assert "This policy would refuse the tenant's own default model (sonnet)" in text(response)
    assert "Change the default model first, or allow it." in text(response)
    assert not TenantPolicy.objects.exists()
    assert not PolicyEvent.objects.exists()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"pin_opus": "claude-sonnet-4-6"}, "pin_opus", "opus can be pinned only to a Claude Opus model id"),
        ({"models": "claude opus"}, "models", "is not a model pattern"),
        ({"providers": ["openai"]}, "providers", "Select a valid choice"),
    ],
)
def test_values_the_policy_cannot_take_are_errors_next_to_their_field(client, people, keys, data, field, message):
    signed_in(client, people[Role.OWNER])

    response = client.post(POLICY, {**data, "save": "1"})

    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert not TenantPolicy.objects.exists()


def test_saving_the_policy_it_has_says_so_and_writes_no_event(client, people, keys):
    signed_in(client, people[Role.OWNER])

    response = client.post(POLICY, {"models": "", "save": "1"}, follow=True)

    assert messages_of(response) == ["The policy was that already."]
    assert not PolicyEvent.objects.exists()
