"""Every page under the Content-Security-Policy, in chromium: nothing refused, and what needs the script still works.

A person goes through the install flow, the console, the account pages, and an operator
through the admin. Chromium enforces the policy the server sends; `PolicyWatch` collects
what it refused (none), and every page the browser was given carries the policy, and
`Cache-Control: no-store` where it is private. A last test makes sure a violation would be seen.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from sinatra.nostore import PRIVATE_PREFIXES
from tests.settings import TEST_KMS_KEY
from tests.web import POLICY, make_person, parse_policy

from .ui import (
    OWNER_EMAIL,
    PASSWORD,
    PolicyWatch,
    canary_anthropic_key,
    expect_heading,
    expect_key_masked,
    expect_key_revealed,
    field,
    install_link,
    set_password,
    settled,
)

pytestmark = pytest.mark.browser


def assert_every_page_kept_to_the_policy(watch: PolicyWatch, *, signed_in_from: int = 0) -> None:
    """No violation; every document carried the policy; private ones (and all from `signed_in_from` on) no-store."""
    settled(watch.page)
    assert watch.violations == []
    assert watch.documents, "no page was loaded"
    for index, (url, headers) in enumerate(watch.documents):
        assert parse_policy(headers.get("content-security-policy")) == POLICY, url
        if urlsplit(url).path.startswith(PRIVATE_PREFIXES) or index >= signed_in_from:
            assert "no-store" in headers.get("cache-control", ""), url


def test_the_install_flow_and_the_console_work_under_the_policy(opened, live, anthropic, screenshots):
    page = opened.page
    watch = PolicyWatch(page)
    key = anthropic.accept(canary_anthropic_key())

    set_password(page, install_link("acme", owner_email=OWNER_EMAIL))
    page.get_by_role("button", name="Continue").click()
    expect_heading(page, "Add your model provider keys")
    # The Show button is made by the script, from a static file: it works.
    key_field = page.get_by_label("Anthropic API key", exact=True)
    key_field.fill(key)
    field(page, "Anthropic API key").get_by_role("button", name="Show the Anthropic API key").click()
    expect_key_revealed(key_field)
    field(page, "Anthropic API key").get_by_role("button", name="Hide the Anthropic API key").click()
    expect_key_masked(key_field)
    screenshots.take(page, "keys")
    page.get_by_role("button", name="Check and save").click()

    expect_heading(page, "Choose the default model")
    page.get_by_label("Default model", exact=True).fill("opus")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("table.preview")).to_be_visible()
    page.get_by_role("button", name="Save and finish").click()
    expect_heading(page, "acme")

    page.get_by_role("link", name="Credentials").click()
    expect_heading(page, "Credentials")
    page.get_by_role("link", name="Replace the Anthropic API key").click()
    expect_heading(page, "Replace the Anthropic API key")
    expect_key_masked(page.get_by_label("Anthropic API key", exact=True))
    page.get_by_role("link", name="Cancel").click()
    page.get_by_role("link", name="Revoke the Anthropic API key").click()
    expect_heading(page, "Revoke the Anthropic API key?")

    # Members: the one-time link is shown, and selects itself when focused (the script again).
    page.get_by_role("link", name="Members").click()
    page.get_by_label("Email", exact=True).fill("admin@example.com")
    page.get_by_role("button", name="Create invitation").click()
    link = page.get_by_label("Invitation link", exact=True)
    expect(link).to_have_value(re.compile(rf"^{re.escape(live)}/install/"))
    page.wait_for_load_state("load")  # the deferred script has attached its listener (a busy machine is slow)
    link.focus()
    assert link.evaluate("box => box.selectionEnd - box.selectionStart") == len(link.input_value())
    screenshots.take(page, "members")

    page.get_by_role("link", name="Password", exact=True).click()
    expect_heading(page, "Change your password")
    page.goto(f"{live}/")
    expect_heading(page, "acme")
    assert_every_page_kept_to_the_policy(watch)


def test_the_account_pages_work_under_the_policy(opened, live, settings, screenshots):
    settings.SINATRA_ALLOW_SIGNUP = True
    make_person(OWNER_EMAIL, password=PASSWORD)
    page = opened.page
    watch = PolicyWatch(page)

    page.goto(f"{live}/accounts/signup/")
    expect_heading(page, "Create an account")
    page.goto(f"{live}/accounts/password_reset/")
    page.get_by_label("Email", exact=True).fill(OWNER_EMAIL)
    page.get_by_role("button", name="Email me a link").click()
    page.goto(f"{live}/no-such-page/")
    expect_heading(page, "Not found")
    page.goto(f"{live}/install/not-a-token/")

    # A refused sign-in, then the right password: the person's own pages from there on.
    page.goto(f"{live}/accounts/login/")
    page.get_by_label("Email", exact=True).fill(OWNER_EMAIL)
    page.get_by_label("Password", exact=True).fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Your email and password do not match.")
    screenshots.take(page, "sign-in-refused")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    signed_in_from = len(watch.documents)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    assert_every_page_kept_to_the_policy(watch, signed_in_from=signed_in_from)


def test_the_admin_works_under_the_policy(opened, live, screenshots):
    make_person("operator@example.com", password=PASSWORD, is_staff=True, is_superuser=True)
    install_link("acme", owner_email=OWNER_EMAIL)
    page = opened.page
    watch = PolicyWatch(page)

    page.goto(f"{live}/admin/")
    page.locator("#id_username").fill("operator@example.com")
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Tenants, people and model credentials")).to_be_visible()

    # The change list's script: "select all" checks every row and counts them.
    page.goto(f"{live}/admin/tenants/tenant/")
    page.locator("#action-toggle").check()
    expect(page.locator(".action-counter")).to_contain_text("1 of 1 selected")
    screenshots.take(page, "changelist")

    # The change form's scripts: an inline row added by "Add another".
    page.get_by_role("link", name="acme").click()
    expect(page.get_by_role("heading", name="Change tenant")).to_be_visible()
    settled(page)
    rows = page.locator("tr.dynamic-memberships")
    before = rows.count()
    page.get_by_role("button", name="Add another Membership", exact=True).click()
    expect(rows).to_have_count(before + 1)
    screenshots.take(page, "change-form")

    for path in (
        "/admin/credentials/tenantmodelcredential/",
        "/admin/credentials/credentialevent/",
        "/admin/tenants/membership/add/",
        "/admin/auth/user/",
    ):
        page.goto(f"{live}{path}")
        settled(page)
    page.get_by_role("link", name="operator@example.com").click()
    page.get_by_role("link", name="Today").first.click()  # the date widgets' shortcuts (their own script)
    assert_every_page_kept_to_the_policy(watch)


def test_the_error_page_works_under_the_policy(opened, live, anthropic, settings, screenshots):
    page = opened.page
    watch = PolicyWatch(page)
    set_password(page, install_link("acme", owner_email=OWNER_EMAIL))
    page.get_by_role("button", name="Continue").click()
    expect_heading(page, "Add your model provider keys")
    # The KMS fails in a way nobody expected while the key is stored: the server's 500 page.
    settings.SINATRA_KMS_BACKENDS = [
        {"BACKEND": "tests.helpers.ExplodingKmsBackend", "OPTIONS": {"key": TEST_KMS_KEY, "error": RuntimeError("bug")}}
    ]
    page.get_by_label("Anthropic API key", exact=True).fill(anthropic.accept(canary_anthropic_key()))
    page.get_by_role("button", name="Check and save").click()
    expect_heading(page, "Something went wrong")
    # Styled by the stylesheet (no inline style): a narrow column (.narrow, 34rem), as other pages have.
    page.wait_for_load_state("load")  # computed styles before the stylesheet arrives are the browser's defaults
    assert page.evaluate("() => getComputedStyle(document.querySelector('h1').parentElement).maxWidth") == "544px"
    screenshots.take(page, "error")
    assert watch.documents[-1][0].endswith("/t/acme/setup/keys/")
    assert_every_page_kept_to_the_policy(watch)


INLINE_STYLE = """() => {
  const style = document.createElement("style");
  style.textContent = "main { color: red }";
  document.head.append(style);
}"""


def test_a_refused_inline_style_would_be_seen(opened, live):
    """Show that the watch above is not blind: an inline style, added by hand, is refused and reported."""
    page = opened.page
    watch = PolicyWatch(page)
    page.goto(f"{live}/accounts/login/")
    settled(page)
    assert watch.violations == []
    page.evaluate(INLINE_STYLE)
    page.wait_for_function("() => window.__cspViolations > 0")
    expect(page.locator("main")).not_to_have_css("color", "rgb(255, 0, 0)")
    page.get_by_label("Email", exact=True).click()  # one more round trip: the reports have arrived
    assert any("style-src" in violation for violation in watch.violations), watch.violations
