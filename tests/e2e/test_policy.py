"""The policy page in a real browser: an owner narrows what the tenant's requests may use, sees in the
preview what that refuses before saving, is told when it would refuse the tenant's own default model,
and saves it; workers are refused from then on."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from credentials.services import Actor, credential_create
from providers.secret import Secret
from routing.errors import PolicyDenied
from routing.models import PolicyEvent, TenantPolicy
from routing.service import resolve
from tenants.models import Tenant
from tests.helpers import find_leaks

from .ui import (
    OWNER_EMAIL,
    assert_fields_labelled,
    canary_anthropic_key,
    canary_openrouter_key,
    expect_heading,
    expect_message,
    install_link,
    preview_row,
    set_password,
)

pytestmark = pytest.mark.browser


def test_an_owner_sets_a_policy_sees_its_refusals_in_the_preview_and_saves_it(
    opened, live, anthropic, openrouter, screenshots
):
    page, traffic = opened.page, opened.traffic
    set_password(page, install_link("acme", owner_email=OWNER_EMAIL))
    tenant = Tenant.objects.get(slug="acme")
    keys = [anthropic.accept(canary_anthropic_key()), openrouter.accept(canary_openrouter_key())]
    for provider, key in zip(("anthropic", "openrouter"), keys, strict=True):
        credential_create(tenant=tenant, provider=provider, secret=Secret(key), actor=Actor.command("test"))

    # Every role's navigation has the page; today it allows everything.
    page.goto(f"{live}/t/acme/")
    page.get_by_role("navigation", name="acme").get_by_role("link", name="Policy").click()
    expect_heading(page, "Policy")
    assert_fields_labelled(page)
    expect(page.locator("dl.resolution")).to_contain_text("any provider the tenant has a key for")
    expect(preview_row(page, "model: openai/gpt-5")).to_have_text("openai/gpt-5 → OpenRouter, openai/gpt-5")
    screenshots.take(page, "policy-default")

    # Anthropic only, opus pinned: the preview shows what changes, and nothing is saved yet.
    page.get_by_label("Anthropic", exact=True).check()
    page.get_by_label("Pin opus to", exact=True).fill("claude-opus-4-8")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="What this policy changes")).to_be_visible()
    gpt = preview_row(page, "model: openai/gpt-5")
    expect(gpt.nth(0)).to_have_text("openai/gpt-5 → OpenRouter, openai/gpt-5")
    expect(gpt.nth(1)).to_contain_text("refused by the policy: Tenant acme's policy allows only Anthropic")
    opus = preview_row(page, "model: opus")
    expect(opus.nth(0)).to_have_text("opus → Anthropic, claude-opus-4-9")
    expect(opus.nth(1)).to_have_text("opus → Anthropic, claude-opus-4-8 (changes)")
    expect(preview_row(page, "model: sonnet").nth(1)).to_have_text("sonnet → Anthropic, claude-sonnet-4-7")
    assert_fields_labelled(page)
    screenshots.take(page, "policy-preview")
    assert not TenantPolicy.objects.exists()

    # Models that would refuse the tenant's own default model (sonnet): said, not saved.
    page.get_by_label("Allowed models", exact=True).fill("openai/*")
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "This policy would refuse the tenant's own default model (sonnet)"
    )
    screenshots.take(page, "policy-refuses-default")
    assert not TenantPolicy.objects.exists()

    # Claude models only: saved.
    page.get_by_label("Allowed models", exact=True).fill("claude-*")
    expect(page.get_by_label("Anthropic", exact=True)).to_be_checked()
    page.get_by_role("button", name="Save policy").click()
    expect_message(page, "The policy is saved.")
    now = page.locator("dl.resolution")
    expect(now).to_contain_text("Anthropic")
    expect(now).to_contain_text("claude-*")
    expect(now).to_contain_text("opus = claude-opus-4-8")
    expect(preview_row(page, "model: openai/gpt-5")).to_contain_text("refused by the policy")
    expect(preview_row(page, "model: opus")).to_have_text("opus → Anthropic, claude-opus-4-8")
    expect(page.get_by_role("region", name="Changes").first).to_contain_text(OWNER_EMAIL)
    screenshots.take(page, "policy-saved")
    assert PolicyEvent.objects.get().actor == OWNER_EMAIL

    # Workers are refused what the policy does not allow, with where to change it.
    with pytest.raises(PolicyDenied, match=f"{live}/t/acme/policy/"):
        resolve(Tenant.objects.get(slug="acme"), config={"agent": {"model": "openai/gpt-5"}})
    assert resolve(Tenant.objects.get(slug="acme"), config={"agent": {"model": "opus"}}).model == "claude-opus-4-8"

    assert find_leaks(traffic.everything(), keys) == []
    assert traffic.foreign_requests() == []
