"""Keys that look right but are the wrong kind, refused at the door in a real browser.

A Claude subscription token (from `claude setup-token` or `claude login`) and an OpenRouter
management key are refused in the install flow with a message that says what they are and
where to get the right key; neither is stored, and neither appears in any page afterwards.
"""

from __future__ import annotations

import secrets

import pytest

from credentials.models import TenantModelCredential
from tests.helpers import find_leaks

from .ui import OWNER_EMAIL, assert_error_next_to, canary_openrouter_key, expect_heading, install_link, set_password

pytestmark = pytest.mark.browser


def test_subscription_tokens_and_management_keys_are_refused_in_the_install_flow(opened, live, openrouter):
    page, traffic = opened.page, opened.traffic
    subscription_token = "sk-ant-oat01-" + secrets.token_urlsafe(70).replace("=", "") + "AA"
    management_key = openrouter.management(canary_openrouter_key())

    set_password(page, install_link("acme", owner_email=OWNER_EMAIL))
    page.get_by_role("button", name="Continue").click()  # the tenant's name, as it is
    expect_heading(page, "Add your model provider keys")
    page.get_by_label("Anthropic API key", exact=True).fill(subscription_token)
    page.get_by_label("OpenRouter API key", exact=True).fill(management_key)
    page.get_by_role("button", name="Check and save").click()

    assert_error_next_to(
        page, "Anthropic API key", "That is a Claude subscription token, not an API key", "Anthropic Console"
    )
    assert_error_next_to(page, "OpenRouter API key", "management (provisioning) key", "cannot call models")
    traffic.record_dom(page)
    assert not TenantModelCredential.objects.exists()
    assert openrouter.keys_seen == [management_key]  # asked once; the token never left the server
    assert find_leaks(traffic.everything(), [subscription_token, management_key]) == []
