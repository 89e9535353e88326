"""The install flow as people use it: with the keyboard alone, on a phone, checking a paste before sending it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from credentials.models import TenantModelCredential
from providers.secret import key_hint
from tenants.models import Tenant
from tests.helpers import find_leaks

from .ui import (
    OWNER_EMAIL,
    PASSWORD,
    assert_error_next_to,
    assert_fields_labelled,
    assert_focus_visible,
    assert_no_horizontal_scroll,
    assert_nothing_for_a_password_manager,
    canary_anthropic_key,
    canary_openrouter_key,
    expect_heading,
    expect_key_masked,
    expect_key_revealed,
    expect_message,
    field,
    install_link,
    preview_row,
    set_password,
    settled,
    tab_to,
)

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True}


def test_an_owner_installs_with_the_keyboard_alone(opened, live, anthropic, screenshots):
    page, traffic = opened.page, opened.traffic
    key = anthropic.accept(canary_anthropic_key())
    page.goto(install_link("acme", owner_email=OWNER_EMAIL))
    expect_heading(page, "Welcome to Sinatra")

    # The first Tab reaches the skip link, which shows itself on screen.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    assert_focus_visible(page)

    # The password: typed, Tab to the second field, Enter sends the form.
    tab_to(page, "#id_new_password1")
    assert_focus_visible(page)
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password again", exact=True)).to_be_focused()
    page.keyboard.type(PASSWORD)
    screenshots.take(page, "password")
    page.keyboard.press("Enter")

    # Step 1: the name field holds the slug; select it all and type the name.
    expect_heading(page, "Name your tenant")
    tab_to(page, "#id_name")
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type("Keyboard Co")
    screenshots.take(page, "name")
    page.keyboard.press("Enter")

    # Step 2: one key, Enter.
    expect_heading(page, "Add your model provider keys")
    tab_to(page, "#id_anthropic_key")
    page.keyboard.type(key)
    screenshots.take(page, "keys")
    page.keyboard.press("Enter")

    # Step 3: Enter in the field previews (the first button); Tab to "Save and finish", Enter.
    expect_heading(page, "Choose the default model")
    expect_message(page, f"Anthropic API key {key_hint(key)} verified.")
    tab_to(page, "#id_default_model")
    page.keyboard.type("sonnet")
    page.keyboard.press("Enter")
    expect(preview_row(page, "no .sinatrarc")).to_have_text("sonnet → Anthropic, claude-sonnet-4-7")
    tab_to(page, 'button[name="save"]')
    assert_focus_visible(page)
    screenshots.take(page, "model")
    page.keyboard.press("Enter")

    expect_heading(page, "Keyboard Co")
    screenshots.take(page, "console")
    tenant = Tenant.objects.get(slug="acme")
    assert (tenant.name, tenant.default_model) == ("Keyboard Co", "sonnet")
    assert TenantModelCredential.objects.get(tenant=tenant).key_hint == key_hint(key)
    assert traffic.foreign_requests() == []
    assert find_leaks(traffic.everything(), [key]) == []


def test_the_install_pages_fit_a_phone_screen(open_page, live, anthropic, openrouter, screenshots):
    opened = open_page(**PHONE)
    page = opened.page
    keys = [
        anthropic.reject(canary_anthropic_key()),
        openrouter.unavailable(canary_openrouter_key()),
        openrouter.accept(canary_openrouter_key()),
    ]

    def fits(step: str) -> None:
        settled(page)
        # The page is laid out for the phone's width (the viewport meta tag), not zoomed out ...
        assert page.evaluate("window.innerWidth") == PHONE["viewport"]["width"]
        # ... and nothing sticks out sideways, errors and tables included.
        assert_no_horizontal_scroll(page)
        assert_fields_labelled(page)
        screenshots.take(page, step)

    page.goto(install_link("acme", owner_email=OWNER_EMAIL))
    expect_heading(page, "Welcome to Sinatra")
    fits("password")
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_label("Password again", exact=True).fill("short")
    page.get_by_role("button", name="Set password and continue").click()
    assert_error_next_to(page, "Password", "This password is too short.")
    fits("password-too-short")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Set password and continue").click()

    expect_heading(page, "Name your tenant")
    fits("name")
    page.get_by_role("button", name="Continue").click()

    expect_heading(page, "Add your model provider keys")
    fits("keys")
    page.get_by_label("Anthropic API key", exact=True).fill(keys[0])
    page.get_by_label("OpenRouter API key", exact=True).fill(keys[1])
    page.get_by_role("button", name="Check and save").click()
    assert_error_next_to(page, "Anthropic API key", "Anthropic rejected the key")
    assert_error_next_to(page, "OpenRouter API key", "OpenRouter answered HTTP 503")
    fits("keys-with-errors")
    page.get_by_label("OpenRouter API key", exact=True).fill(keys[1])
    page.get_by_label(
        "Save the OpenRouter key without verifying it (OpenRouter could not be reached)", exact=True
    ).check()
    page.get_by_role("button", name="Check and save").click()

    expect_heading(page, "Choose the default model")
    fits("model")
    page.get_by_label("Default model", exact=True).fill("opus")
    page.get_by_role("button", name="Preview").click()
    expect(preview_row(page, "model: opus, model_provider: openrouter")).to_have_text(
        "opus → OpenRouter, anthropic/claude-opus-4.9"
    )
    fits("model-preview")
    page.get_by_role("button", name="Save and finish").click()

    expect_heading(page, "acme")
    fits("console")
    page.goto(f"{live}/t/acme/credentials/")
    expect_heading(page, "Credentials")
    fits("credentials")
    page.get_by_role("link", name="Replace the OpenRouter API key").click()
    expect_heading(page, "Replace the OpenRouter API key")
    fits("replace")
    page.get_by_label("OpenRouter API key", exact=True).fill(keys[2])
    page.get_by_role("button", name="Check and save").click()
    expect_message(page, f"OpenRouter API key {key_hint(keys[2])} verified; {key_hint(keys[1])} is revoked.")
    fits("credentials-after-replace")  # the events now name ids and hints: long words
    assert opened.traffic.foreign_requests() == []
    assert find_leaks(opened.traffic.everything(), keys) == []


def test_the_show_button_reveals_a_pasted_key_and_hides_it_again(opened, live, screenshots):
    page = opened.page
    set_password(page, install_link("acme", owner_email=OWNER_EMAIL))
    page.get_by_role("button", name="Continue").click()
    expect_heading(page, "Add your model provider keys")
    # A key field is masked text, never a password field a browser would offer to save.
    assert_nothing_for_a_password_manager(page)

    # Not a canary: this test shows it on screen on purpose. An OpenAI key in the Anthropic slot.
    pasted = "sk-proj-shown-on-purpose-0123456789abcdefghijklmnop"
    key_field = page.get_by_label("Anthropic API key", exact=True)
    other_field = page.get_by_label("OpenRouter API key", exact=True)
    toggle = field(page, "Anthropic API key").get_by_role("button")
    expect(toggle).to_have_accessible_name("Show the Anthropic API key")
    expect(field(page, "OpenRouter API key").get_by_role("button")).to_have_accessible_name(
        "Show the OpenRouter API key"
    )
    expect_key_masked(key_field)
    key_field.fill(pasted)
    expect_key_masked(key_field)

    toggle.click()
    expect_key_revealed(key_field)
    expect(key_field).to_have_value(pasted)
    expect(toggle).to_have_text("Hide")
    expect(toggle).to_have_accessible_name("Hide the Anthropic API key")
    expect_key_masked(other_field)  # each toggle minds its own field
    screenshots.take(page, "shown")

    # The toggle works from the keyboard too (it is a real button).
    toggle.focus()
    page.keyboard.press("Space")
    expect_key_masked(key_field)
    expect(toggle).to_have_text("Show")
    expect(toggle).to_have_accessible_name("Show the Anthropic API key")
    expect(key_field).to_have_value(pasted)

    # Sent while shown, the key is refused next to its field and not shown back, masked again.
    page.keyboard.press("Space")
    expect_key_revealed(key_field)
    page.get_by_role("button", name="Check and save").click()
    assert_error_next_to(page, "Anthropic API key", "That looks like an OpenAI key")
    expect_key_masked(page.get_by_label("Anthropic API key", exact=True))
    expect(page.get_by_label("Anthropic API key", exact=True)).to_have_value("")
    assert pasted not in page.content()  # nor anywhere in the DOM after the submission
    screenshots.take(page, "refused")
    assert pasted.encode() not in opened.traffic.everything()
    assert opened.traffic.foreign_requests() == []


def test_a_key_field_offers_a_password_manager_nothing_to_save(opened, live, anthropic, screenshots):
    page = opened.page
    set_password(page, install_link("acme", owner_email=OWNER_EMAIL))
    page.get_by_role("button", name="Continue").click()
    expect_heading(page, "Add your model provider keys")
    for label in ("Anthropic API key", "OpenRouter API key"):
        control = page.get_by_label(label, exact=True)
        expect_key_masked(control)
        for name, value in (("autocomplete", "off"), ("data-1p-ignore", "true"), ("data-lpignore", "true")):
            expect(control).to_have_attribute(name, value)
        assert "password" not in (control.get_attribute("name") or "")
    assert_nothing_for_a_password_manager(page)

    # A key saved, then the replace page: the same kind of field, the key nowhere in the DOM.
    key = anthropic.accept(canary_anthropic_key())
    page.get_by_label("Anthropic API key", exact=True).fill(key)
    page.get_by_role("button", name="Check and save").click()
    expect_heading(page, "Choose the default model")
    assert find_leaks(page.content(), [key]) == []
    page.goto(f"{live}/t/acme/credentials/anthropic/replace/")
    expect_heading(page, "Replace the Anthropic API key")
    expect_key_masked(page.get_by_label("Anthropic API key", exact=True))
    assert_nothing_for_a_password_manager(page)
    screenshots.take(page, "replace")
    assert find_leaks(opened.traffic.everything(), [key]) == []


def test_every_form_an_owner_meets_after_the_install_has_visible_labels(opened, live, screenshots):
    page = opened.page
    set_password(page, install_link("acme", owner_email=OWNER_EMAIL))

    # Sign out, and back in with the email and password chosen on the install link.
    page.get_by_role("button", name="Sign out").click()
    expect_heading(page, "Sign in")
    assert_fields_labelled(page)
    screenshots.take(page, "sign-in")
    page.get_by_label("Email", exact=True).fill(OWNER_EMAIL)
    page.get_by_label("Password", exact=True).fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Your email and password do not match.")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect_heading(page, "acme")

    # Members: inviting someone shows the one-time link, in a field with a visible label.
    page.get_by_role("link", name="Members").click()
    expect_heading(page, "Members")
    assert_fields_labelled(page)
    page.get_by_label("Email", exact=True).fill("admin@example.com")
    page.get_by_label("Role", exact=True).select_option("admin")
    page.get_by_role("button", name="Create invitation").click()
    link = page.get_by_label("Invitation link", exact=True)
    expect(link).to_have_value(re.compile(rf"^{re.escape(live)}/install/"))
    assert_fields_labelled(page)
    screenshots.take(page, "members")

    # The password page.
    page.get_by_role("link", name="Password", exact=True).click()
    assert_fields_labelled(page)
    screenshots.take(page, "password-change")
    assert opened.traffic.foreign_requests() == []
