"""What the browser tests check on a page, and the steps a person takes, written once."""

from __future__ import annotations

import io
import re
import secrets
import subprocess
from pathlib import Path

from django.core.management import call_command
from django.db import connection
from playwright.sync_api import Locator, Page, expect

from tests.fakes.providers import anthropic_key
from tests.helpers import database_url

PASSWORD = "harbour-lantern-quietly-7041"
OWNER_EMAIL = "owner@example.com"

# Every form control a person can see, with the visible <label>s that name it (not a label
# hidden for screen readers only, not aria-label): the design asks for a visible label each.
_UNLABELLED_CONTROLS = """
() => {
  const problems = [];
  for (const control of document.querySelectorAll("input, select, textarea")) {
    if (control.type === "hidden" || control.closest("[hidden]") || !control.getClientRects().length) continue;
    const visible = Array.from(control.labels || []).filter((label) => {
      const box = label.getBoundingClientRect();
      const style = getComputedStyle(label);
      return label.innerText.trim() && box.width > 1 && box.height > 1 && style.visibility !== "hidden";
    });
    if (!visible.length) problems.push(control.outerHTML);
  }
  return problems;
}
"""

_HORIZONTAL_OVERFLOW = """
() => {
  const page = document.documentElement;
  const wide = [];
  for (const element of document.body.querySelectorAll("*")) {
    const box = element.getBoundingClientRect();
    if (box.right > page.clientWidth + 0.5) wide.push(`${element.tagName}.${element.className} ${box.right}`);
  }
  return {scrollWidth: page.scrollWidth, clientWidth: page.clientWidth, wide: wide.slice(0, 10)};
}
"""


# What a password manager would take for a login on the page of a key field: password fields
# anywhere, and in the key field's form any field that says it holds a user name or password.
_PASSWORD_MANAGER_BAIT = """
() => {
  const bait = Array.from(document.querySelectorAll('input[type="password"]')).map((input) => input.outerHTML);
  for (const key of document.querySelectorAll("input.key-input")) {
    for (const control of Array.from(key.form ? key.form.elements : [])) {
      const autocomplete = (control.getAttribute("autocomplete") || "").toLowerCase();
      if (/password|username|email/.test(autocomplete)) bait.push(control.outerHTML);
    }
  }
  return bait;
}
"""


def text_security(control: Locator) -> str:
    """Return how the browser draws the characters of a text field: `disc` (masked) or `none`."""
    control.page.wait_for_load_state("load")  # the stylesheet that masks it has arrived (a busy machine is slow)
    return control.evaluate("input => getComputedStyle(input).webkitTextSecurity")


def expect_key_masked(control: Locator) -> None:
    """A key field as it starts: a masked text field (never type=password), not revealed."""
    expect(control).to_have_attribute("type", "text")
    expect(control).not_to_have_class(re.compile(r"\brevealed\b"))
    assert text_security(control) == "disc"


def expect_key_revealed(control: Locator) -> None:
    expect(control).to_have_attribute("type", "text")
    expect(control).to_have_class(re.compile(r"\brevealed\b"))
    assert text_security(control) == "none"


def assert_nothing_for_a_password_manager(page: Page) -> None:
    """No password field on the page, and nothing in a key field's form that looks like a login."""
    settled(page)
    assert page.evaluate(_PASSWORD_MANAGER_BAIT) == [], f"a password manager would offer to save on {page.url}"


class PolicyWatch:
    """What the Content-Security-Policy refused on a page, across its navigations.

    Two witnesses: each `securitypolicyviolation` event (reported to Python through a binding
    from a script that runs before the page's own), and chromium's console errors about the
    policy. Every document response is kept too, for its headers.
    """

    _LISTEN = """
    window.__cspViolations = 0;
    document.addEventListener("securitypolicyviolation", (event) => {
      window.__cspViolations += 1;
      const what = `${event.effectiveDirective} refused ${event.blockedURI || "inline"} ${event.sample || ""}`;
      window.reportPolicyViolation(`${location.pathname}: ${what}`);
    });
    """

    def __init__(self, page: Page) -> None:
        self.page = page
        self.violations: list[str] = []
        self.documents: list[tuple[str, dict[str, str]]] = []
        page.expose_function("reportPolicyViolation", self._report)
        page.add_init_script(self._LISTEN)
        page.on("console", self._console)
        page.on("response", self._response)

    def _report(self, violation: str) -> None:
        self.violations.append(violation)

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text:
            self.violations.append(f"console: {message.text}")

    def _response(self, response) -> None:
        if response.request.resource_type == "document":
            self.documents.append((response.url, response.headers))

    def violations_on_this_page(self) -> int:
        """Return how many violations the current document has seen so far (its own count)."""
        return self.page.evaluate("window.__cspViolations")


def canary_anthropic_key() -> str:
    """Return a fresh well-formed Anthropic key with a marker in it, to hunt for afterwards."""
    return anthropic_key("CANARYe2e")


def canary_openrouter_key() -> str:
    """Return a fresh well-formed OpenRouter key (64 hex digits, starting ca4a41) to hunt for."""
    return "sk-or-v1-ca4a41" + secrets.token_hex(29)


def settled(page: Page) -> None:
    """Wait for the page's `load` event: its stylesheet and script are in, so what is measured is what people see.

    (A heading can be "visible" before then: layout forced while the stylesheet is still on its
    way measures the unstyled page.)
    """
    page.wait_for_load_state("load")


def assert_fields_labelled(page: Page) -> None:
    """Every visible form control on the page has a visible <label> with text."""
    settled(page)
    assert page.evaluate(_UNLABELLED_CONTROLS) == [], f"controls without a visible label on {page.url}"


def assert_no_horizontal_scroll(page: Page) -> None:
    """The page is no wider than the screen: nothing to scroll sideways."""
    settled(page)
    widths = page.evaluate(_HORIZONTAL_OVERFLOW)
    assert widths["scrollWidth"] <= widths["clientWidth"], f"{page.url} scrolls sideways: {widths}"


def field(page: Page, label: str) -> Locator:
    """Return the block (label, control, errors, help) of the control with this exact label."""
    return page.locator(".field").filter(has=page.get_by_label(label, exact=True))


def assert_error_next_to(page: Page, label: str, *texts: str) -> None:
    """An error saying `texts` sits in the field labelled `label`, and that control points to it."""
    control = page.get_by_label(label, exact=True)
    block = field(page, label)
    expect(block).to_have_count(1)
    for text in texts:
        expect(block.locator(".error", has_text=text).first).to_be_visible()
    expect(control).to_have_attribute("aria-invalid", "true")
    # A screen reader reads the error with the field: the control's description includes it.
    description = control.evaluate(
        """control => (control.getAttribute("aria-describedby") || "").split(/\\s+/)
            .map(id => document.getElementById(id)).filter(Boolean).map(element => element.innerText).join("\\n")"""
    )
    for text in texts:
        assert text in description, f"{label}: its aria-describedby does not say {text!r}: {description!r}"


def assert_no_error_at(page: Page, label: str) -> None:
    expect(field(page, label).locator(".error")).to_have_count(0)
    expect(page.get_by_label(label, exact=True)).not_to_have_attribute("aria-invalid", "true")


def expect_heading(page: Page, name: str) -> None:
    expect(page.get_by_role("heading", level=1, name=name, exact=True)).to_be_visible()


def expect_message(page: Page, text: str) -> None:
    expect(page.locator(".messages")).to_contain_text(text)


def set_password(page: Page, link: str, *, password: str = PASSWORD) -> None:
    """Open an install link and choose a password: the owner lands on step 1."""
    page.goto(link)
    expect_heading(page, "Welcome to Sinatra")
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Password again", exact=True).fill(password)
    page.get_by_role("button", name="Set password and continue").click()
    expect_heading(page, "Name your tenant")


def preview_row(page: Page, example: str) -> Locator:
    """Return the 'Goes to' cell of one .sinatrarc example in the preview table."""
    return (
        page.locator("table.preview tr")
        .filter(has=page.get_by_role("rowheader", name=example, exact=True))
        .locator("td")
    )


def tab_to(page: Page, selector: str, *, limit: int = 40) -> None:
    """Press Tab until the element matching `selector` has the focus, as a keyboard user would."""
    target = page.locator(selector)
    expect(target).to_have_count(1)
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"{selector} never got the focus in {limit} presses of Tab on {page.url}")


def assert_focus_visible(page: Page) -> None:
    """The focused element shows an outline (the focus ring is not styled away)."""
    settled(page)
    style = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return {style: s.outlineStyle, width: parseFloat(s.outlineWidth)}; }"
    )
    assert style["style"] != "none", f"no visible focus on {page.url}: {style}"
    assert style["width"] > 0, f"no visible focus on {page.url}: {style}"


def database_bytes(tmp_path: Path) -> bytes:
    """Return the test database as its bytes on disk would show it.

    SQLite: the test database lives in memory, so `VACUUM INTO` writes a real database file
    whose bytes are read whole; the in-memory image itself (free pages included) is added.
    PostgreSQL: `pg_dump` of the test database (committed data: the browser tests are
    transactional).
    """
    if connection.vendor == "sqlite":
        path = tmp_path / "snapshot.sqlite3"
        with connection.cursor() as cursor:
            cursor.execute("VACUUM INTO %s", [str(path)])
        return path.read_bytes() + connection.connection.serialize()
    dump = subprocess.run(
        ["pg_dump", "--no-owner", f"--dbname={database_url(connection.settings_dict)}"],
        capture_output=True,
        check=False,
        timeout=120,  # a hang guard, not a speed requirement
    )
    assert dump.returncode == 0, dump.stderr.decode(errors="replace")
    return dump.stdout


def install_link(slug: str, *, owner_email: str) -> str:
    """Create a tenant with `create_tenant`, as an operator would, and return the link it prints last."""
    out = io.StringIO()
    call_command("create_tenant", slug, "--owner-email", owner_email, stdout=out)
    return out.getvalue().strip().splitlines()[-1]


def sign_in(page: Page, live: str, email: str, password: str = PASSWORD) -> None:
    """Fill in and send the sign-in page, as a person would."""
    page.goto(f"{live}/accounts/login/")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_up(page: Page, live: str, *, email: str, slug: str, name: str, password: str = PASSWORD) -> None:
    """Fill in and send the sign-up page."""
    page.goto(f"{live}/accounts/signup/")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Password again", exact=True).fill(password)
    page.get_by_label("Tenant name", exact=True).fill(name)
    page.get_by_label("Tenant address", exact=True).fill(slug)
    page.get_by_role("button", name="Create account and tenant").click()
