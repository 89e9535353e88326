"""Accounts in a real browser: sign-up confirmed by mail, links that never take an account over,
throttled mail, and a deactivated tenant that cannot be changed."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from tenants.models import Membership, Role, Tenant
from tests.web import confirm_link, make_person

from .ui import (
    PASSWORD,
    assert_fields_labelled,
    canary_anthropic_key,
    expect_heading,
    expect_message,
    install_link,
    set_password,
    sign_in,
    sign_up,
)

pytestmark = pytest.mark.browser

SQUATTERS_PASSWORD = "squatter-knows-this-1234"


@pytest.fixture
def signup_on(settings):
    settings.SINATRA_ALLOW_SIGNUP = True


def test_a_sign_up_waits_for_its_address_then_lands_on_the_keys_step(opened, live, signup_on, mailoutbox, screenshots):
    page = opened.page
    sign_up(page, live, email="founder@example.com", slug="initech", name="Initech")
    expect_heading(page, "Check your email")
    screenshots.take(page, "check-your-email")

    # Before the link is used, sign-in says why it fails, and offers a new link.
    sign_in(page, live, "founder@example.com")
    expect_heading(page, "Sign in")
    expect(page.get_by_role("alert")).to_contain_text("You have not confirmed your address yet")
    screenshots.take(page, "sign-in-unconfirmed")
    page.get_by_role("button", name="Email me a new link").click()
    expect_heading(page, "Check your email")
    assert len(mailoutbox) == 2

    # The link asks for the password chosen at sign-up, then the install flow goes on.
    page.goto(live + confirm_link(mailoutbox[-1]))
    expect_heading(page, "Confirm your address")
    assert_fields_labelled(page)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Confirm and sign in").click()
    expect_heading(page, "Add your model provider keys")
    expect_message(page, "Your address is confirmed. Welcome to Sinatra.")
    screenshots.take(page, "keys-step")


def test_a_squatters_sign_up_gains_nothing_from_the_operators_install_link(
    open_page, live, signup_on, mailoutbox, screenshots
):
    squatter = open_page().page
    sign_up(squatter, live, email="cfo@corp2.example", slug="squat", name="Squat", password=SQUATTERS_PASSWORD)
    expect_heading(squatter, "Check your email")

    # The operator names the address as corp2's owner: the link lets the real person choose a password.
    link = install_link("corp2", owner_email="cfo@corp2.example")
    real = open_page().page
    set_password(real, link)
    expect(real.get_by_text("Welcome to corp2.")).to_be_visible()
    screenshots.take(real, "real-owner-in-corp2")

    # What the squatter knows opens nothing.
    sign_in(squatter, live, "cfo@corp2.example", SQUATTERS_PASSWORD)
    expect(squatter.get_by_role("alert")).to_contain_text("Your email and password do not match.")
    squatter.goto(live + confirm_link(mailoutbox[0]))
    expect_heading(squatter, "Not found")
    cfo = get_user_model().objects.get(email="cfo@corp2.example")
    assert list(cfo.memberships.values_list("tenant__slug", "role")) == [("corp2", Role.OWNER)]


def test_a_co_owners_invitation_asks_the_owner_to_sign_in_and_chooses_no_password(open_page, live, screenshots):
    owners_link = install_link("acme", owner_email="ceo@acme.example")
    acme = Tenant.objects.get(slug="acme")
    Membership.objects.create(
        user=make_person("cofounder@acme.example", password=PASSWORD), tenant=acme, role=Role.OWNER
    )

    inviter = open_page().page
    sign_in(inviter, live, "cofounder@acme.example")
    inviter.goto(f"{live}/t/acme/members/")
    inviter.get_by_label("Email", exact=True).fill("ceo@acme.example")
    inviter.get_by_label("Role", exact=True).select_option("admin")
    inviter.get_by_role("button", name="Create invitation").click()
    link = inviter.get_by_label("Invitation link", exact=True).input_value()
    screenshots.take(inviter, "invitation-created")

    # Opened by anyone who is not signed in, that link is a sign-in page: no password to choose.
    stranger = open_page().page
    stranger.goto(link)
    expect_heading(stranger, "Sign in")
    expect(stranger.get_by_label("Password again", exact=True)).to_have_count(0)
    screenshots.take(stranger, "link-asks-to-sign-in")
    assert not get_user_model().objects.get(email="ceo@acme.example").has_usable_password()

    # The CEO's own link from create_tenant still lets them choose it.
    set_password(open_page().page, owners_link)


def test_too_many_reset_requests_get_a_page_saying_when_to_try_again(opened, live, mailoutbox, screenshots):
    page = opened.page
    make_person("sam@example.com")
    for _ in range(4):
        page.goto(f"{live}/accounts/password_reset/")
        page.get_by_label("Email", exact=True).fill("sam@example.com")
        page.get_by_role("button", name="Email me a link").click()
    expect_heading(page, "Too many requests")
    expect(page.get_by_role("alert")).to_contain_text("nothing was sent. Try again in")
    screenshots.take(page, "throttled")
    assert len(mailoutbox) == 3


def test_a_deactivated_tenant_answers_a_change_with_a_page_naming_whom_to_contact(
    opened, live, settings, anthropic, screenshots
):
    settings.SINATRA_SUPPORT_EMAIL = "support@sinatra.example"
    page = opened.page
    set_password(page, install_link("acme", owner_email="owner@example.com"))
    Tenant.objects.filter(slug="acme").update(is_active=False)

    page.goto(f"{live}/t/acme/credentials/anthropic/replace/")  # reading still works
    key = anthropic.accept(canary_anthropic_key())
    page.get_by_label("Anthropic API key", exact=True).fill(key)
    page.get_by_role("button", name="Check and save").click()
    expect_heading(page, "acme is deactivated")
    expect(page.get_by_role("alert")).to_contain_text("Nothing in acme can be changed")
    expect(page.get_by_role("link", name="support@sinatra.example")).to_be_visible()
    screenshots.take(page, "deactivated")
    assert key not in anthropic.keys_seen  # not even the provider was asked
