"""Helpers for the console's test-client tests: people with roles, key checks, pages read as HTML.

The fixtures here are made available to tests/tenants and tests/credentials by their conftest.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.http import HttpResponse
from django.urls import URLPattern, URLResolver, get_resolver

from providers import http as provider_http
from tenants.models import Membership, Role, Tenant
from tests.helpers import find_leaks

PASSWORD = "a long enough passphrase 42"
ANTHROPIC_MODELS = "https://api.anthropic.test/v1/models"
OPENROUTER_KEY = "https://openrouter.test/api/v1/key"
TENANT_PREFIX = "t/<slug:slug>/"


def make_person(email: str, *, password: str | None = PASSWORD, **fields) -> User:
    """Create an account the way the install flow does (username = email); None: no usable password."""
    user = get_user_model().objects.create_user(username=email, email=email, password=password, **fields)
    if password is None:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def join(tenant: Tenant, role: str, email: str | None = None) -> User:
    """Create a person with a role in a tenant; return the user."""
    user = make_person(email or f"{role}@{tenant.slug}.example")
    Membership.objects.create(user=user, tenant=tenant, role=role)
    return user


def signed_in(client, user: User):
    """Return the test client signed in as `user`."""
    client.force_login(user)
    return client


@pytest.fixture
def people(tenant) -> dict[str, User]:
    """One person per role in the `tenant` fixture (acme): owner@acme.example, admin@..., member@..."""
    return {role: join(tenant, role) for role in Role.values}


# --- Pages


class _Inputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[dict[str, str | None]] = []
        self.labels: list[str] = []
        self._label: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("input", "select", "textarea"):
            self.found.append(dict(attrs))
        if tag == "label":
            self._label = []

    def handle_data(self, data: str) -> None:
        if self._label is not None:
            self._label.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "label" and self._label is not None:
            self.labels.append(" ".join("".join(self._label).split()))
            self._label = None


def inputs_named(response: HttpResponse, name: str) -> list[dict[str, str | None]]:
    """Return the attributes of every form control called `name` on the page."""
    parser = _Inputs()
    parser.feed(response.content.decode())
    return [attrs for attrs in parser.found if attrs.get("name") == name]


def labels(response: HttpResponse) -> list[str]:
    """Return the text of every <label> on the page, white space collapsed."""
    parser = _Inputs()
    parser.feed(response.content.decode())
    return parser.labels


INLINE = {"a", "abbr", "b", "code", "em", "i", "kbd", "small", "span", "strong", "time"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        self._skip += tag in ("script", "style", "title")
        if tag not in INLINE:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("script", "style", "title")
        if tag not in INLINE:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def text_of(html: str) -> str:
    """Return what HTML says (its text, no tags), white space collapsed."""
    parser = _Text()
    parser.feed(html)
    return " ".join("".join(parser.parts).split())


def provider_section(html: str, provider: str) -> str:
    """What one provider's section of the credentials page says (its text, white space collapsed)."""
    start = html.index(f'aria-labelledby="provider-{provider}"')
    return text_of(html[start : html.index("</section>", start)])


def text(response: HttpResponse) -> str:
    """Return what a page says (its text, no tags), white space collapsed."""
    return text_of(response.content.decode())


def assert_key_input(attrs: dict[str, str | None]) -> None:
    """A key input: empty, masked text that browsers and password managers do not take for a password."""
    assert attrs.get("type") == "text"  # a password field would be offered for saving as the site's password
    assert "key-input" in (attrs.get("class") or "").split()  # masked by the stylesheet
    assert "value" not in attrs
    assert "password" not in (attrs.get("name") or "")
    assert (attrs.get("autocomplete"), attrs.get("spellcheck"), attrs.get("autocapitalize")) == ("off", "false", "none")
    for marker in ("data-1p-ignore", "data-lpignore", "data-bwignore"):
        assert attrs.get(marker) == "true", marker


def assert_key_never_shown(response: HttpResponse, *keys: str, fields: tuple[str, ...] = ()) -> None:
    """No form of any key in the page, and the key inputs are empty, masked, never password fields."""
    assert find_leaks(response.content, keys) == []
    for field in fields:
        controls = inputs_named(response, field)
        assert controls, f"the page has no {field} field"
        for attrs in controls:
            assert_key_input(attrs)
    if fields:  # no password field beside a key field, for a password manager to pair it with
        assert [attrs for attrs in all_inputs(response) if attrs.get("type") == "password"] == []


def all_inputs(response: HttpResponse) -> list[dict[str, str | None]]:
    """Return the attributes of every form control on the page."""
    parser = _Inputs()
    parser.feed(response.content.decode())
    return parser.found


# The Content-Security-Policy every page carries, directive -> sources.
POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def parse_policy(header: str | None) -> dict[str, str]:
    """Return a Content-Security-Policy header as directive -> sources (empty: no header)."""
    directives = [part.strip().split(None, 1) for part in (header or "").split(";") if part.strip()]
    return {name: sources[0] if sources else "" for name, *sources in directives}


def messages_of(response: HttpResponse) -> list[str]:
    """Return the flash messages a page carried (follow=True responses, or rendered ones)."""
    return [str(message) for message in response.context["messages"]] if response.context else []


# --- Links in mail


def link_in(mail, path: str) -> str:
    """Return the path of the first link under `path` (e.g. "/accounts/confirm/") in a mail's body."""
    match = re.search(rf"https?://[^/\s]+({re.escape(path)}\S+)", mail.body)
    assert match, f"no {path} link in {mail.body!r}"
    return match.group(1)


def confirm_link(mail) -> str:
    """Return the path of the sign-up confirmation link a mail carries."""
    return link_in(mail, "/accounts/confirm/")


# --- URLs


def _walk(patterns, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, route)
        else:
            yield route, entry


def tenant_url_patterns() -> dict[str, URLPattern]:
    """Return every URL under /t/<slug>/ in the URLconf, by route: new ones are found by themselves."""
    return {route: entry for route, entry in _walk(get_resolver().url_patterns) if route.startswith(TENANT_PREFIX)}


# --- Providers answering key checks


class KeyChecks:
    """How the fake providers answer key checks (GET /v1/models?limit=1, GET /key).

    Every key is accepted unless a test says otherwise with `answer(key, verdict)`.
    """

    def __init__(self) -> None:
        self.verdicts: dict[str, str] = {}
        self.checked: list[tuple[str, str]] = []

    def answer(self, key: str, verdict: str) -> None:
        """Make the providers answer `accepted`, `rejected` or `unreachable` for this key."""
        assert verdict in ("accepted", "rejected", "unreachable")
        self.verdicts[key] = verdict

    def respond(self, provider: str, key: str) -> httpx.Response:
        self.checked.append((provider, key))
        verdict = self.verdicts.get(key, "accepted")
        if verdict == "rejected":
            error = {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}
            return httpx.Response(401, json=error if provider == "anthropic" else {"error": {"code": 401}})
        if verdict == "unreachable":
            return httpx.Response(503, json={"error": "overloaded"})
        if provider == "anthropic":
            return httpx.Response(200, json={"data": [{"id": "claude-opus-4-8"}], "has_more": True})
        return httpx.Response(200, json={"data": {"label": "sk-or-v1-...", "usage": 0}})

    def checks_of(self, provider: str) -> list[str]:
        return [key for checked_provider, key in self.checked if checked_provider == provider]


@pytest.fixture
def key_checks(providers, monkeypatch) -> KeyChecks:
    """Fake the providers' key checks on top of `providers` (their model lists); retries never wait."""
    monkeypatch.setattr(provider_http, "sleep", lambda seconds: None)
    checks = KeyChecks()
    models = next(route for route in providers.routes if route.pattern.match(httpx.Request("GET", ANTHROPIC_MODELS)))
    model_list = models.return_value

    def anthropic(request: httpx.Request) -> httpx.Response:
        # The catalog lists models with the tenant's key too (limit=1000); a key check asks for one.
        if request.url.params.get("limit") == "1":
            return checks.respond("anthropic", request.headers.get("x-api-key", ""))
        return model_list

    def openrouter(request: httpx.Request) -> httpx.Response:
        return checks.respond("openrouter", request.headers.get("authorization", "").removeprefix("Bearer "))

    models.side_effect = anthropic
    providers.get(OPENROUTER_KEY).mock(side_effect=openrouter)
    return checks
