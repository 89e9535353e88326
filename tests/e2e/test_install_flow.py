"""The install flow in a real browser: from the one-time link to a working key, and no key anywhere.

One owner, one tenant, every step a person takes: the password, the name, keys pasted (one the
provider rejects, one it accepts, one it cannot check now and the owner keeps unverified), the
default model with its preview, then a key replaced and another revoked on the credentials page.
Afterwards the key that works is the one the worker gets, and none of the pasted keys is in any
page or response the browser saw, in the server's log, or in the database.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from credentials.models import CredentialEvent, Status, TenantModelCredential
from providers.secret import key_hint
from routing.errors import MissingCredential
from routing.service import resolve
from tenants.models import Membership, Role, Tenant
from tests.helpers import find_leaks
from tests.web import confirm_link

from .ui import (
    OWNER_EMAIL,
    PASSWORD,
    assert_error_next_to,
    assert_fields_labelled,
    assert_no_error_at,
    assert_nothing_for_a_password_manager,
    canary_anthropic_key,
    canary_openrouter_key,
    database_bytes,
    expect_heading,
    expect_key_masked,
    expect_message,
    install_link,
    preview_row,
)

pytestmark = pytest.mark.browser


def test_an_owner_goes_from_the_install_link_to_working_keys_and_no_key_leaks(
    opened, live, anthropic, openrouter, server_log, screenshots, tmp_path
):
    page, traffic = opened.page, opened.traffic
    keys = {
        "accepted": anthropic.accept(canary_anthropic_key()),
        "rejected": openrouter.reject(canary_openrouter_key()),
        "unreachable": openrouter.unavailable(canary_openrouter_key()),
        "rejected replacement": anthropic.reject(canary_anthropic_key()),
        "replacement": anthropic.accept(canary_anthropic_key()),
    }

    def step(name: str) -> None:
        assert_fields_labelled(page)
        traffic.record_dom(page)
        screenshots.take(page, name)

    # The operator creates the tenant; the link is built on SINATRA_BASE_URL (the live server).
    link = install_link("acme", owner_email=OWNER_EMAIL)
    assert link.startswith(f"{live}/install/")

    # The link: choose a password. Two that differ are refused next to the second field.
    page.goto(link)
    expect_heading(page, "Welcome to Sinatra")
    expect(page.get_by_text("You are invited to acme as owner.")).to_be_visible()
    step("password")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again", exact=True).fill(PASSWORD + "x")
    page.get_by_role("button", name="Set password and continue").click()
    assert_error_next_to(page, "Password again", "The two passwords differ.")
    step("password-mismatch")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Set password and continue").click()

    # Step 1: the name. An empty one is refused next to its field.
    expect_heading(page, "Name your tenant")
    expect_message(page, "Welcome to acme.")
    expect(page.locator('ol.steps [aria-current="step"]')).to_have_text("Name")
    name = page.get_by_label("Tenant name", exact=True)
    expect(name).to_have_value("acme")
    step("name")
    name.fill("")
    page.get_by_role("button", name="Continue").click()
    assert_error_next_to(page, "Tenant name", "This field is required.")
    page.get_by_label("Tenant name", exact=True).fill("Acme Corp")
    page.get_by_role("button", name="Continue").click()

    # Step 2: keys. Anthropic accepts its key; OpenRouter rejects the other, which is not kept.
    expect_heading(page, "Add your model provider keys")
    expect(page.locator('ol.steps [aria-current="step"]')).to_have_text("Keys")
    step("keys")
    page.get_by_label("Anthropic API key", exact=True).fill(keys["accepted"])
    page.get_by_label("OpenRouter API key", exact=True).fill(keys["rejected"])
    page.get_by_role("button", name="Check and save").click()
    expect_message(page, f"Anthropic API key {key_hint(keys['accepted'])} verified.")
    assert_error_next_to(page, "OpenRouter API key", "OpenRouter rejected the key (401)", "Nothing was saved.")
    assert_no_error_at(page, "Anthropic API key")
    for label in ("Anthropic API key", "OpenRouter API key"):  # a key is never shown again
        expect(page.get_by_label(label, exact=True)).to_have_value("")
        expect_key_masked(page.get_by_label(label, exact=True))
    assert_nothing_for_a_password_manager(page)
    current = page.locator("dl.current")
    expect(current).to_contain_text(f"{key_hint(keys['accepted'])} verified")
    expect(current).to_contain_text("no key yet")
    step("keys-one-rejected")
    assert not TenantModelCredential.objects.filter(provider="openrouter").exists()

    # Step 3, reached from the steps list: the preview says what each .sinatrarc gets now.
    page.locator("ol.steps").get_by_role("link", name="Default model").click()
    expect_heading(page, "Choose the default model")
    model = page.get_by_label("Default model", exact=True)
    model.fill("gpt-5")
    page.get_by_role("button", name="Preview").click()
    assert_error_next_to(page, "Default model", "openai/gpt-5")
    step("model-refused")
    page.get_by_label("Default model", exact=True).fill("opus")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_text("With opus as the default:")).to_be_visible()
    expect(preview_row(page, "no .sinatrarc")).to_have_text("opus → Anthropic, claude-opus-4-9")
    expect(preview_row(page, "model: sonnet")).to_have_text("sonnet → Anthropic, claude-sonnet-4-7")
    expect(preview_row(page, "model: openai/gpt-5")).to_have_text("no key for OpenRouter yet")
    expect(preview_row(page, "model: opus, model_provider: openrouter")).to_have_text("no key for OpenRouter yet")
    expect(page.locator("table.preview")).not_to_contain_text("built-in")
    step("model-preview-anthropic-only")

    # Back to step 2: OpenRouter cannot check the next key now; the owner keeps it unverified.
    page.locator("ol.steps").get_by_role("link", name="Keys").click()
    expect_heading(page, "Add your model provider keys")
    unverified = "Save the OpenRouter key without verifying it (OpenRouter could not be reached)"
    expect(page.get_by_label(unverified, exact=True)).to_have_count(0)
    page.get_by_label("OpenRouter API key", exact=True).fill(keys["unreachable"])
    page.get_by_role("button", name="Check and save").click()
    assert_error_next_to(page, "OpenRouter API key", "OpenRouter answered HTTP 503", "save without verifying")
    expect(page.get_by_label("OpenRouter API key", exact=True)).to_have_value("")
    step("keys-unreachable")
    assert not TenantModelCredential.objects.filter(provider="openrouter").exists()
    page.get_by_label("OpenRouter API key", exact=True).fill(keys["unreachable"])
    page.get_by_label(unverified, exact=True).check()
    page.get_by_role("button", name="Check and save").click()

    # Step 3 again: OpenRouter now serves its slugs. Save, and land on the console.
    expect_heading(page, "Choose the default model")
    expect_message(page, f"OpenRouter API key {key_hint(keys['unreachable'])} saved unverified.")
    page.get_by_label("Default model", exact=True).fill("opus")
    page.get_by_role("button", name="Preview").click()
    expect(preview_row(page, "no .sinatrarc")).to_have_text("opus → Anthropic, claude-opus-4-9")
    expect(preview_row(page, "model: openai/gpt-5")).to_have_text("openai/gpt-5 → OpenRouter, openai/gpt-5")
    expect(preview_row(page, "model: opus, model_provider: openrouter")).to_have_text(
        "opus → OpenRouter, anthropic/claude-opus-4.9"
    )
    step("model-preview-both")
    page.get_by_role("button", name="Save and finish").click()

    expect_heading(page, "Acme Corp")
    assert page.url == f"{live}/t/acme/"
    expect_message(page, "Acme Corp is ready: workers can resolve models now.")
    worker = page.locator("dl.resolution")
    expect(worker).to_contain_text("Anthropic, claude-opus-4-9")
    expect(worker).to_contain_text(key_hint(keys["accepted"]))
    step("console")

    # The credentials page: a replacement the provider rejects changes nothing ...
    page.get_by_role("navigation", name="Acme Corp").get_by_role("link", name="Credentials").click()
    expect_heading(page, "Credentials")
    anthropic_section = page.get_by_role("region", name="Anthropic", exact=True)
    openrouter_section = page.get_by_role("region", name="OpenRouter", exact=True)
    expect(anthropic_section).to_contain_text(f"{key_hint(keys['accepted'])} verified")
    expect(openrouter_section).to_contain_text(f"{key_hint(keys['unreachable'])} unverified")
    step("credentials")
    page.get_by_role("link", name="Replace the Anthropic API key").click()
    expect_heading(page, "Replace the Anthropic API key")
    step("replace")
    page.get_by_label("Anthropic API key", exact=True).fill(keys["rejected replacement"])
    page.get_by_role("button", name="Check and save").click()
    assert_error_next_to(page, "Anthropic API key", "Anthropic rejected the key (authentication_error)")
    expect(page.get_by_label("Anthropic API key", exact=True)).to_have_value("")
    step("replace-rejected")

    # ... one it accepts replaces the key in use, which is revoked.
    page.get_by_label("Anthropic API key", exact=True).fill(keys["replacement"])
    page.get_by_role("button", name="Check and save").click()
    expect_heading(page, "Credentials")
    expect_message(
        page,
        f"Anthropic API key {key_hint(keys['replacement'])} verified; {key_hint(keys['accepted'])} is revoked.",
    )
    expect(anthropic_section).to_contain_text(f"{key_hint(keys['replacement'])} verified")
    anthropic_section.get_by_text("1 earlier key").click()
    expect(anthropic_section.locator("details")).to_contain_text(f"{key_hint(keys['accepted'])} revoked")
    step("replaced")

    # Revoking asks first, then the slot is empty.
    page.get_by_role("link", name="Revoke the OpenRouter API key").click()
    expect_heading(page, "Revoke the OpenRouter API key?")
    expect(page.locator("main")).to_contain_text(key_hint(keys["unreachable"]))
    step("revoke-confirm")
    page.get_by_role("button", name=f"Revoke {key_hint(keys['unreachable'])}").click()
    expect_heading(page, "Credentials")
    expect_message(page, f"OpenRouter API key {key_hint(keys['unreachable'])} is revoked.")
    expect(openrouter_section).to_contain_text("No OpenRouter API key.")
    events = page.locator("section", has=page.get_by_role("heading", name="Events")).locator("tbody tr")
    expect(events.filter(has_text="Revoked").filter(has_text=key_hint(keys["unreachable"]))).to_have_count(1)
    step("revoked")

    # What the browser did is what is stored: the owner, the name, the default, each key's fate.
    tenant = Tenant.objects.get(slug="acme")
    assert (tenant.name, tenant.default_model) == ("Acme Corp", "opus")
    assert Membership.objects.get(tenant=tenant, user__email=OWNER_EMAIL).role == Role.OWNER
    rows = {row.key_hint: row for row in TenantModelCredential.objects.filter(tenant=tenant)}
    assert {hint: (row.provider, row.status, row.validated_at is not None) for hint, row in rows.items()} == {
        key_hint(keys["accepted"]): ("anthropic", Status.REVOKED, True),
        key_hint(keys["replacement"]): ("anthropic", Status.ACTIVE, True),
        key_hint(keys["unreachable"]): ("openrouter", Status.REVOKED, False),
    }
    kinds = sorted(CredentialEvent.objects.filter(tenant=tenant).values_list("kind", flat=True))
    assert kinds == sorted(["created", "validated", "replaced", "created", "validated", "created", "revoked"])

    # The key that works is the one a worker gets; the revoked provider serves nothing.
    resolution = resolve(tenant, None)
    assert (resolution.provider, resolution.model, resolution.key_hint) == (
        "anthropic",
        "claude-opus-4-9",
        key_hint(keys["replacement"]),
    )
    assert resolution.api_key.reveal() == keys["replacement"]
    with pytest.raises(MissingCredential):
        resolve(tenant, "agent:\n  model: openai/gpt-5\n", record_use=False)

    # Each pasted key went to its provider (it was checked live), and nowhere else.
    assert set(keys.values()) <= set(anthropic.keys_seen) | set(openrouter.keys_seen)
    assert traffic.foreign_requests() == []
    assert f"{live}/static/sinatra.css" in traffic.requests

    # No key in any page or response the browser saw (the hints are there: the search is real).
    seen = traffic.everything()
    assert key_hint(keys["replacement"]).encode() in seen
    assert find_leaks(seen, keys.values()) == []

    # None in the server's log, as the code wrote it (the provider checks are there).
    log = server_log.text()
    assert "Anthropic GET /v1/models -> 401" in log
    assert "OpenRouter GET /api/v1/key -> 503" in log
    assert find_leaks(log, keys.values()) == []

    # None in the database, read as a file (the hints and ciphertexts are in it).
    stored = database_bytes(tmp_path)
    for row in rows.values():
        assert row.key_hint.encode() in stored
    assert find_leaks(stored, keys.values()) == []


def test_where_sign_up_is_on_a_person_creates_a_tenant_and_continues_with_its_keys(
    opened, live, settings, screenshots, mailoutbox
):
    settings.SINATRA_ALLOW_SIGNUP = True
    page = opened.page
    page.goto(f"{live}/accounts/login/")
    page.get_by_role("link", name="Create an account").click()
    expect_heading(page, "Create an account")
    assert_fields_labelled(page)
    screenshots.take(page, "sign-up")

    # A password that breaks two rules gets both, next to the field (and read with it).
    page.get_by_label("Email", exact=True).fill("founder@example.com")
    page.get_by_label("Password", exact=True).fill("12345678")
    page.get_by_label("Password again", exact=True).fill("12345678")
    page.get_by_label("Tenant name", exact=True).fill("Initech")
    page.get_by_label("Tenant address", exact=True).fill("Initech Corp")
    page.get_by_role("button", name="Create account and tenant").click()
    assert_error_next_to(page, "Password", "This password is too common.", "This password is entirely numeric.")
    assert_error_next_to(page, "Tenant address", "is not a valid tenant slug")
    assert_no_error_at(page, "Email")
    screenshots.take(page, "sign-up-refused")

    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again", exact=True).fill(PASSWORD)
    page.get_by_label("Tenant address", exact=True).fill("initech")
    page.get_by_role("button", name="Create account and tenant").click()
    # The address is confirmed first: the mailed link, with the password chosen above.
    expect_heading(page, "Check your email")
    page.goto(live + confirm_link(mailoutbox[-1]))
    expect_heading(page, "Confirm your address")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Confirm and sign in").click()
    expect_heading(page, "Add your model provider keys")
    assert page.url == f"{live}/t/initech/setup/keys/"
    assert Membership.objects.get(tenant__slug="initech", user__email="founder@example.com").role == Role.OWNER
    assert opened.traffic.foreign_requests() == []
