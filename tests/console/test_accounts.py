"""Accounts: sign-in (throttled by django-axes), sign-out, password change and reset, sign-up.

Also what guards every form: CSRF, and sensitive_post_parameters on each view that takes a
password or a key, so that an error report never shows one.
"""

import logging
import re
import time
from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.db.models import F
from django.test import Client
from django.urls import reverse
from django.views.debug import SafeExceptionReporterFilter

from console import throttle
from tenants.models import Membership, Role, SignUp, Tenant
from tenants.services import invitation_create
from tests.fakes.providers import anthropic_key
from tests.web import (
    PASSWORD,
    assert_key_never_shown,
    confirm_link,
    inputs_named,
    join,
    labels,
    make_person,
    messages_of,
    signed_in,
    tenant_url_patterns,
    text,
)

LOGIN = reverse("login")
NEW_PASSWORD = "a different passphrase 77"


def sign_in(client, username: str, password: str = PASSWORD, **extra):
    return client.post(LOGIN, {"username": username, "password": password, **extra})


def signed_in_user(client):
    return client.get(reverse("home")).wsgi_request.user


# --- Sign-in


def test_the_sign_in_page_asks_for_email_and_password(client, db):
    response = client.get(LOGIN)
    assert response.status_code == 200
    assert labels(response) == ["Email", "Password"]
    assert inputs_named(response, "username")[0]["autocomplete"] == "username"
    assert "Forgot your password?" in text(response)


def test_a_person_signs_in_with_their_email_and_lands_on_their_tenant(client, tenant):
    person = join(tenant, Role.MEMBER, email="sam@example.com")
    response = sign_in(client, "sam@example.com")
    assert response.status_code == 302
    assert response.url == reverse("home")
    assert client.get(response.url).url == reverse("console", args=["acme"])
    assert signed_in_user(client) == person


def test_the_email_may_be_typed_in_any_case(client, tenant):
    person = join(tenant, Role.MEMBER, email="sam@example.com")
    assert sign_in(client, "  Sam@Example.COM ").status_code == 302
    assert signed_in_user(client) == person


def test_an_operator_signs_in_with_a_username(client, db):
    operator = get_user_model().objects.create_superuser(username="ops", email="", password=PASSWORD)
    assert sign_in(client, "ops").status_code == 302
    assert signed_in_user(client) == operator


def test_sign_in_follows_next_on_this_site_only(client, tenant):
    join(tenant, Role.MEMBER, email="sam@example.com")
    assert sign_in(client, "sam@example.com", next="/t/acme/credentials/").url == "/t/acme/credentials/"
    client.post(reverse("logout"))
    assert sign_in(client, "sam@example.com", next="https://evil.example/").url == reverse("home")


@pytest.mark.parametrize(
    ("username", "password"),
    [("sam@example.com", "wrong passphrase"), ("nobody@example.com", PASSWORD)],
    ids=["wrong password", "unknown email"],
)
def test_a_failed_sign_in_says_the_two_do_not_match_and_echoes_no_password(client, db, username, password):
    make_person("sam@example.com")
    response = sign_in(client, username, password)
    assert response.status_code == 200
    assert "Your email and password do not match." in text(response)
    assert password not in response.content.decode()
    assert inputs_named(response, "password")[0].get("value") is None
    assert signed_in_user(client).is_anonymous


def test_a_deactivated_account_cannot_sign_in(client, db):
    make_person("sam@example.com", is_active=False)
    assert sign_in(client, "sam@example.com").status_code == 200
    assert signed_in_user(client).is_anonymous


def test_a_signed_in_person_opening_sign_in_goes_home(client, db):
    signed_in(client, make_person("sam@example.com"))
    assert client.get(LOGIN).url == reverse("home")


def test_the_session_and_csrf_cookies_are_secure_outside_debug(client, db):
    assert settings.DEBUG is False
    make_person("sam@example.com")
    csrf = client.get(LOGIN).cookies[settings.CSRF_COOKIE_NAME]
    assert csrf["secure"] is True
    session = sign_in(client, "sam@example.com").cookies[settings.SESSION_COOKIE_NAME]
    assert session["secure"] is True
    assert session["httponly"] is True
    assert session["samesite"] == "Lax"


# --- Throttling (django-axes)


def test_too_many_failures_lock_sign_in_out_until_the_cool_off_passes(client, db):
    make_person("sam@example.com")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, "sam@example.com", "wrong passphrase").status_code == 200
    locked = sign_in(client, "sam@example.com", "wrong passphrase")
    assert locked.status_code == 429
    assert "Too many sign-in attempts" in text(locked)
    assert "Reset your password" in text(locked)
    # Locked out even with the right password, and nothing in the page says whether it was right.
    right = sign_in(client, "sam@example.com")
    assert right.status_code == 429
    assert right.content == locked.content
    assert signed_in_user(client).is_anonymous

    # The cool-off passes: the failures are older than AXES_COOLOFF_TIME.
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME)
    assert sign_in(client, "sam@example.com").status_code == 302
    assert not signed_in_user(client).is_anonymous


def test_the_lockout_is_per_account_and_address(client, db):
    make_person("sam@example.com")
    make_person("kim@example.com")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "sam@example.com", "wrong passphrase")
    assert sign_in(client, "sam@example.com").status_code == 429
    assert sign_in(Client(), "kim@example.com").status_code == 302
    assert sign_in(Client(REMOTE_ADDR="192.0.2.7"), "sam@example.com").status_code == 302


def test_a_success_forgets_earlier_failures(client, db):
    make_person("sam@example.com")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "sam@example.com", "wrong passphrase")
    assert sign_in(client, "sam@example.com").status_code == 302
    client.post(reverse("logout"))
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, "sam@example.com", "wrong passphrase").status_code == 200


def test_failures_typed_in_another_case_count_for_the_same_account(client, db):
    make_person("sam@example.com")
    for index in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "Sam@Example.com" if index % 2 else "sam@example.com", "wrong passphrase")
    assert sign_in(client, "SAM@example.com").status_code == 429


# --- Sign-out


def test_sign_out_is_a_post_and_ends_the_session(client, db):
    signed_in(client, make_person("sam@example.com"))
    assert client.get(reverse("logout")).status_code == 405
    assert not signed_in_user(client).is_anonymous
    response = client.post(reverse("logout"))
    assert response.url == LOGIN
    assert signed_in_user(client).is_anonymous
    assert client.get(reverse("home")).url.startswith(LOGIN)


def test_every_signed_in_page_offers_sign_out_as_a_form(client, tenant, providers):
    signed_in(client, join(tenant, Role.MEMBER))
    response = client.get(reverse("console", args=["acme"]))
    assert f'<form method="post" action="{reverse("logout")}">' in response.content.decode()


# --- Password change


def test_a_person_changes_their_password_and_stays_signed_in(client, db):
    person = make_person("sam@example.com")
    signed_in(client, person)
    response = client.get(reverse("password_change"))
    assert labels(response) == ["Old password", "New password", "New password confirmation"]
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.url == reverse("password_change_done")
    assert "Password changed" in text(client.get(response.url))
    person.refresh_from_db()
    assert person.check_password(NEW_PASSWORD)
    assert not signed_in_user(client).is_anonymous
    client.post(reverse("logout"))
    assert sign_in(client, "sam@example.com", PASSWORD).status_code == 200
    assert sign_in(client, "sam@example.com", NEW_PASSWORD).status_code == 302


def test_a_wrong_old_password_changes_nothing_and_echoes_nothing(client, db):
    person = make_person("sam@example.com")
    signed_in(client, person)
    response = client.post(
        reverse("password_change"),
        {"old_password": "not my passphrase", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 200
    assert "Your old password was entered incorrectly" in text(response)
    for secret in ("not my passphrase", NEW_PASSWORD):
        assert secret not in response.content.decode()
    person.refresh_from_db()
    assert person.check_password(PASSWORD)


def test_password_change_needs_sign_in(client, db):
    assert client.get(reverse("password_change")).url.startswith(LOGIN)


# --- Password reset


def reset_link(mail) -> str:
    return urlsplit(re.search(r"http://testserver\S+", mail.body).group(0)).path


def test_a_reset_email_carries_a_link_that_sets_a_new_password_once(client, db, mailoutbox):
    person = make_person("sam@example.com")
    response = client.post(reverse("password_reset"), {"email": "Sam@example.com"})
    assert response.url == reverse("password_reset_done")
    assert "Check your email" in text(client.get(response.url))
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["sam@example.com"]
    assert mail.subject == "Reset your Sinatra password"
    link = reset_link(mail)

    response = client.get(link, follow=True)
    assert "Choose a new password" in text(response)
    form_url = response.redirect_chain[-1][0]
    response = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.url == reverse("password_reset_complete")
    person.refresh_from_db()
    assert person.check_password(NEW_PASSWORD)
    assert sign_in(client, "sam@example.com", NEW_PASSWORD).status_code == 302

    client.post(reverse("logout"))
    assert "This link no longer works" in text(client.get(link, follow=True))


def test_a_reset_link_is_built_on_sinatra_base_url_not_the_request_host(client, db, mailoutbox, settings):
    settings.SINATRA_BASE_URL = "https://sinatra.example.com"
    settings.ALLOWED_HOSTS = ["testserver", "evil.example"]
    make_person("sam@example.com")
    client.post(reverse("password_reset"), {"email": "sam@example.com"}, HTTP_HOST="evil.example")
    body = mailoutbox[0].body
    assert "https://sinatra.example.com/accounts/reset/" in body
    assert "evil.example" not in body


def test_a_reset_for_an_unknown_email_looks_the_same_and_sends_nothing(client, db, mailoutbox):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response.url == reverse("password_reset_done")
    assert mailoutbox == []


def test_a_reset_link_with_a_bad_token_does_not_work(client, db, mailoutbox):
    make_person("sam@example.com")
    client.post(reverse("password_reset"), {"email": "sam@example.com"})
    link = reset_link(mailoutbox[0])
    broken = link[:-2] + ("x/" if link[-2] != "x" else "y/")
    assert "This link no longer works" in text(client.get(broken, follow=True))


# --- Sign-up


SIGNUP = reverse("signup")


def signup_data(**changes) -> dict:
    return {
        "email": "founder@example.com",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "tenant_name": "Initech",
        "tenant_slug": "initech",
        **changes,
    }


def test_sign_up_is_404_when_off(client, db):
    assert settings.SINATRA_ALLOW_SIGNUP is False
    assert client.get(SIGNUP).status_code == 404
    assert client.post(SIGNUP, signup_data()).status_code == 404
    assert not get_user_model().objects.exists()
    assert "Create an account" not in text(client.get(LOGIN))


@pytest.fixture
def signup_on(settings, transactional_db):
    """Sign-up on; each request commits for real, so that the mail sent after commit goes out."""
    settings.SINATRA_ALLOW_SIGNUP = True


def test_sign_up_makes_an_account_that_waits_until_its_address_is_confirmed(client, db, signup_on, mailoutbox):
    assert "Create an account" in text(client.get(LOGIN))
    response = client.get(SIGNUP)
    assert labels(response) == ["Email", "Password", "Password again", "Tenant name", "Tenant address"]
    response = client.post(SIGNUP, signup_data(email="Founder@Example.com"))
    assert response.url == reverse("signup-sent")
    assert "Check your email" in text(client.get(response.url))
    person = get_user_model().objects.get()
    assert (person.username, person.email) == ("founder@example.com", "founder@example.com")
    assert person.check_password(PASSWORD)
    assert not person.is_active
    tenant = Tenant.objects.get()
    assert (tenant.slug, tenant.name) == ("initech", "Initech")
    assert Membership.objects.get(user=person, tenant=tenant).role == Role.OWNER
    assert SignUp.objects.get(user=person).confirmed_at is None
    assert signed_in_user(client).is_anonymous
    assert sign_in(client, "founder@example.com").status_code == 200
    assert signed_in_user(client).is_anonymous

    [mail] = mailoutbox
    assert mail.to == ["founder@example.com"]
    assert mail.subject == "Confirm your address for Sinatra"
    link = confirm_link(mail)
    response = client.get(link)
    assert "Confirm your address" in text(response)
    assert labels(response) == ["Password"]
    response = client.post(link, {"password": PASSWORD}, follow=True)
    assert response.redirect_chain == [(reverse("setup-keys", args=["initech"]), 302)]
    assert "Your address is confirmed. Welcome to Sinatra." in messages_of(response)
    person.refresh_from_db()
    assert person.is_active
    assert SignUp.objects.get(user=person).confirmed_at is not None
    assert signed_in_user(client) == person

    client.post(reverse("logout"))
    response = client.get(link)
    assert response.status_code == 410
    assert "This address is confirmed already: sign in." in text(response)
    assert sign_in(client, "founder@example.com").status_code == 302


def test_the_confirmation_link_needs_the_password_chosen_at_sign_up(client, db, signup_on, mailoutbox):
    """Receiving the mail is not enough: whoever merely got it cannot confirm someone else's sign-up."""
    client.post(SIGNUP, signup_data())
    link = confirm_link(mailoutbox[0])
    response = client.post(link, {"password": NEW_PASSWORD})
    assert response.status_code == 200
    assert "That is not the password this account was created with." in text(response)
    assert NEW_PASSWORD not in response.content.decode()
    assert not get_user_model().objects.get().is_active
    assert signed_in_user(client).is_anonymous


def test_an_unconfirmed_account_is_told_so_at_sign_in_and_offered_a_new_link(client, db, signup_on, mailoutbox):
    client.post(SIGNUP, signup_data())
    response = sign_in(client, "Founder@example.com")
    assert response.status_code == 200
    page = text(response)
    assert "You have not confirmed your address yet, so this account cannot sign in." in page
    assert "Your email and password do not match" not in page
    [resend] = [attrs for attrs in inputs_named(response, "email")]
    assert resend["value"] == "Founder@example.com"
    assert signed_in_user(client).is_anonymous

    response = client.post(reverse("signup-resend"), {"email": resend["value"]})
    assert response.url == reverse("signup-sent")
    assert len(mailoutbox) == 2
    assert client.post(confirm_link(mailoutbox[1]), {"password": PASSWORD}).url == reverse(
        "setup-keys", args=["initech"]
    )


def test_only_the_right_password_tells_that_an_account_is_unconfirmed(client, db, signup_on):
    client.post(SIGNUP, signup_data())
    response = sign_in(client, "founder@example.com", "wrong passphrase")
    page = text(response)
    assert "Your email and password do not match." in page
    assert "confirmed" not in page
    assert inputs_named(response, "email") == []


def test_a_new_link_is_sent_only_to_a_sign_up_that_awaits_confirmation_and_the_answer_is_the_same(
    client, db, signup_on, mailoutbox
):
    make_person("sam@example.com")
    client.post(SIGNUP, signup_data())
    mailoutbox.clear()
    answers = [
        client.post(reverse("signup-resend"), {"email": email})
        for email in ("nobody@example.com", "sam@example.com", "FOUNDER@example.com")
    ]
    assert {(answer.status_code, answer.url) for answer in answers} == {(302, reverse("signup-sent"))}
    assert [mail.to for mail in mailoutbox] == [["founder@example.com"]]


def test_a_confirmation_link_is_built_on_sinatra_base_url_not_the_request_host(
    client, db, signup_on, mailoutbox, settings
):
    settings.SINATRA_BASE_URL = "https://sinatra.example.com"
    settings.ALLOWED_HOSTS = ["testserver", "evil.example"]
    client.post(SIGNUP, signup_data(), HTTP_HOST="evil.example")
    body = mailoutbox[0].body
    assert "https://sinatra.example.com/accounts/confirm/" in body
    assert "evil.example" not in body


def test_a_confirmation_link_expires_and_a_tampered_one_is_404(client, db, signup_on, mailoutbox, monkeypatch):
    client.post(SIGNUP, signup_data())
    link = confirm_link(mailoutbox[0])
    token = link.split("/")[-2]
    assert client.get(f"/accounts/confirm/{token[:-1]}{'A' if token[-1] != 'A' else 'B'}/").status_code == 404
    later = time.time() + timedelta(days=settings.SINATRA_INVITATION_DAYS, minutes=1).total_seconds()
    monkeypatch.setattr(signing, "time", SimpleNamespace(time=lambda: later))
    for response in (client.get(link), client.post(link, {"password": PASSWORD})):
        assert response.status_code == 410
        assert "This link has expired: sign in, and we will email you a new one." in text(response)
    assert not get_user_model().objects.get().is_active


def test_a_password_reset_confirms_an_unconfirmed_sign_up(client, db, signup_on, mailoutbox):
    client.post(SIGNUP, signup_data())
    client.post(reverse("password_reset"), {"email": "founder@example.com"})
    reset = mailoutbox[-1]
    assert reset.subject == "Reset your Sinatra password"
    form_url = client.get(reset_link(reset)).url
    client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    person = get_user_model().objects.get()
    assert person.is_active
    assert SignUp.objects.get().confirmed_at is not None
    assert sign_in(client, "founder@example.com", NEW_PASSWORD).status_code == 302


def test_a_squatters_sign_up_gains_nothing_when_an_operator_names_the_address_as_owner(
    client, db, signup_on, mailoutbox, run_command
):
    Client().post(SIGNUP, signup_data(email="cfo@corp2.example", tenant_slug="squat", tenant_name="Squat"))
    squatters_link = confirm_link(mailoutbox[0])

    out, _ = run_command("create_tenant", "corp2", "--owner-email", "cfo@corp2.example")
    assert "cfo@corp2.example had signed up without confirming the address: that sign-up is discarded" in out
    assert "has an account: they sign in" not in out
    link = urlsplit(out.strip().splitlines()[-1]).path
    assert link.startswith("/install/")

    # What the squatter knows opens nothing: not sign-in, not the confirmation link.
    assert sign_in(client, "cfo@corp2.example").status_code == 200
    assert signed_in_user(client).is_anonymous
    assert client.get(squatters_link).status_code == 404
    assert client.post(squatters_link, {"password": PASSWORD}).status_code == 404
    assert not Tenant.objects.filter(slug="squat").exists()

    # The operator's link lets the person the address belongs to choose the password.
    response = client.post(link, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.url == reverse("setup-name", args=["corp2"])
    cfo = get_user_model().objects.get(email="cfo@corp2.example")
    assert cfo.is_active
    assert cfo.check_password(NEW_PASSWORD)
    assert list(cfo.memberships.values_list("tenant__slug", "role")) == [("corp2", Role.OWNER)]
    client.post(reverse("logout"))
    assert sign_in(client, "cfo@corp2.example", PASSWORD).status_code == 200
    assert signed_in_user(client).is_anonymous


def test_a_squatter_who_also_took_the_slug_loses_it_to_the_operators_tenant(client, db, signup_on, run_command):
    Client().post(SIGNUP, signup_data(email="cfo@corp2.example", tenant_slug="corp2", tenant_name="Mine now"))
    squatted = Tenant.objects.get(slug="corp2")
    out, _ = run_command("create_tenant", "corp2", "--name", "Corp 2", "--owner-email", "cfo@corp2.example")
    tenant = Tenant.objects.get(slug="corp2")
    assert f"Created tenant corp2 (Corp 2), id {tenant.pk}." in out
    assert tenant.pk != squatted.pk


def test_an_invitation_never_sets_the_password_of_an_unconfirmed_sign_up(client, tenant, signup_on, people):
    """Only the operator's owner link discards a sign-up: an owner's invitation asks the account to sign in."""
    Client().post(SIGNUP, signup_data(email="sam@example.com"))
    signed_in(client, people[Role.OWNER])
    response = client.post(reverse("members", args=["acme"]), {"email": "sam@example.com", "role": Role.ADMIN})
    link = urlsplit(response.context["issued"].url).path
    client.post(reverse("logout"))
    assert client.get(link).url.startswith(LOGIN)
    client.post(link, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    sam = get_user_model().objects.get(email="sam@example.com")
    assert sam.check_password(PASSWORD)
    assert not sam.is_active
    assert not Membership.objects.filter(user=sam, tenant=tenant).exists()


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"tenant_slug": "acme"}, "That address is taken: choose another."),
        ({"tenant_slug": "Not A Slug"}, "is not a valid tenant slug"),
        ({"password2": "another passphrase 1"}, "The two passwords differ."),
        ({"password1": "qwertyuiop", "password2": "qwertyuiop"}, "This password is too common."),
        ({"email": "not-an-email"}, "Enter a valid email address."),
    ],
    ids=["slug taken", "bad slug", "passwords differ", "weak password", "bad email"],
)
def test_sign_up_refuses_with_a_reason_and_creates_nothing(client, tenant, signup_on, changes, problem):
    make_person("taken@example.com")
    data = signup_data(**changes)
    response = client.post(SIGNUP, data)
    assert response.status_code == 200
    assert problem in text(response)
    for field in ("password1", "password2"):
        assert "value" not in inputs_named(response, field)[0]
        assert data[field] not in response.content.decode()
    assert list(Tenant.objects.values_list("slug", flat=True)) == ["acme"]
    assert list(get_user_model().objects.values_list("email", flat=True)) == ["taken@example.com"]


# --- Sign-up and reset mail: the same answer for any address, and throttled


def test_sign_up_with_an_address_that_has_an_account_answers_like_any_other_and_mails_its_owner(
    client, db, signup_on, mailoutbox
):
    taken = make_person("taken@example.com")
    fresh = client.post(SIGNUP, signup_data(email="new@example.com", tenant_slug="new-co"))
    again = Client().post(SIGNUP, signup_data(email="Taken@Example.com", tenant_slug="taken-co"))
    assert (again.status_code, again.url) == (fresh.status_code, fresh.url) == (302, reverse("signup-sent"))
    assert not Tenant.objects.filter(slug="taken-co").exists()
    assert list(get_user_model().objects.order_by("pk").values_list("email", flat=True)) == [
        "taken@example.com",
        "new@example.com",
    ]
    taken.refresh_from_db()
    assert taken.check_password(PASSWORD)
    notice = mailoutbox[-1]
    assert notice.to == ["taken@example.com"]
    assert notice.subject == "Someone tried to sign up with your address"
    assert "Nothing was created or changed." in notice.body
    assert "http://testserver/accounts/password_reset/" in notice.body
    assert "/accounts/confirm/" not in notice.body


def test_a_taken_tenant_address_is_refused_the_same_whoever_signs_up(client, tenant, signup_on, mailoutbox):
    make_person("taken@example.com")
    for email in ("taken@example.com", "new@example.com"):
        response = client.post(SIGNUP, signup_data(email=email, tenant_slug="acme"))
        assert response.status_code == 200
        assert "That address is taken: choose another." in text(response)
    assert mailoutbox == []


def allowed(limit: throttle.Limit) -> int:
    return int(limit.rate.split("/")[0])


PER_CLIENT, PER_ADDRESS = throttle.MAIL


def assert_throttled(response) -> None:
    assert response.status_code == 429
    page = text(response)
    assert "Too many requests" in page
    assert "nothing was sent. Try again in" in page
    assert 1 <= int(response["Retry-After"]) <= 3600


def test_sign_ups_from_one_client_address_are_throttled(db, signup_on, mailoutbox):
    client = Client(REMOTE_ADDR="198.51.100.7")
    for index in range(allowed(PER_CLIENT)):
        response = client.post(SIGNUP, signup_data(email=f"person{index}@example.com", tenant_slug=f"co-{index}"))
        assert response.status_code == 302
    response = client.post(SIGNUP, signup_data(email="one-more@example.com", tenant_slug="one-more"))
    assert_throttled(response)
    assert not get_user_model().objects.filter(email="one-more@example.com").exists()
    assert len(mailoutbox) == allowed(PER_CLIENT)
    # Another client is not held up.
    assert Client(REMOTE_ADDR="198.51.100.8").post(SIGNUP, signup_data()).status_code == 302


def test_mail_to_one_address_is_throttled_across_sign_up_new_links_and_password_reset(db, signup_on, mailoutbox):
    make_person("sam@example.com")
    posts = [
        (SIGNUP, signup_data(email="sam@example.com", tenant_slug="sam-co")),
        (reverse("signup-resend"), {"email": "SAM@example.com"}),
        (reverse("password_reset"), {"email": "sam@example.com"}),
    ]
    for index, (url, data) in enumerate(posts[: allowed(PER_ADDRESS)]):
        assert Client(REMOTE_ADDR=f"198.51.100.{index + 1}").post(url, data).status_code == 302
    sent = len(mailoutbox)
    for index, (url, data) in enumerate(posts):
        assert_throttled(Client(REMOTE_ADDR=f"203.0.113.{index + 1}").post(url, data))
    assert len(mailoutbox) == sent
    assert Client().post(reverse("password_reset"), {"email": "kim@example.com"}).status_code == 302


def test_password_reset_mail_is_throttled_per_client_address(db, mailoutbox):
    for index in range(allowed(PER_CLIENT)):
        make_person(f"person{index}@example.com")
    client = Client(REMOTE_ADDR="198.51.100.7")
    for index in range(allowed(PER_CLIENT)):
        assert client.post(reverse("password_reset"), {"email": f"person{index}@example.com"}).status_code == 302
    make_person("one-more@example.com")
    assert_throttled(client.post(reverse("password_reset"), {"email": "one-more@example.com"}))
    assert len(mailoutbox) == allowed(PER_CLIENT)


def test_behind_a_trusted_proxy_the_forwarded_client_address_is_counted(db, settings, mailoutbox):
    settings.USE_X_FORWARDED_FOR = True
    proxy = Client(REMOTE_ADDR="10.0.0.2")
    for index in range(allowed(PER_CLIENT)):
        forwarded = {"HTTP_X_FORWARDED_FOR": "198.51.100.7"}
        assert proxy.post(reverse("password_reset"), {"email": f"p{index}@example.com"}, **forwarded).status_code == 302
    assert_throttled(
        proxy.post(reverse("password_reset"), {"email": "x@example.com"}, HTTP_X_FORWARDED_FOR="198.51.100.7")
    )
    # Another client behind the same proxy is not; a client's own X-Forwarded-For entry is not trusted.
    other = {"HTTP_X_FORWARDED_FOR": "203.0.113.9, 198.51.100.8"}
    assert proxy.post(reverse("password_reset"), {"email": "y@example.com"}, **other).status_code == 302
    spoofed = {"HTTP_X_FORWARDED_FOR": "203.0.113.9, 198.51.100.7"}
    assert_throttled(proxy.post(reverse("password_reset"), {"email": "z@example.com"}, **spoofed))


def test_guessing_the_password_on_a_confirmation_link_is_throttled(client, db, signup_on, mailoutbox):
    client.post(SIGNUP, signup_data())
    link = confirm_link(mailoutbox[0])
    for _ in range(allowed(throttle.CONFIRM[0])):
        assert client.post(link, {"password": "a wrong guess"}).status_code == 200
    assert_throttled(client.post(link, {"password": PASSWORD}))
    assert not get_user_model().objects.get().is_active


def test_a_throttled_confirmation_is_logged_without_its_token(client, db, signup_on, mailoutbox, caplog):
    client.post(SIGNUP, signup_data())
    link = confirm_link(mailoutbox[0])
    caplog.set_level(logging.DEBUG)
    for _ in range(allowed(throttle.CONFIRM[0]) + 1):
        response = client.post(link, {"password": "a wrong guess"})
    assert response.status_code == 429
    assert link.split("/")[-2] not in caplog.text
    assert "POST /accounts/confirm/<token>/ 429" in caplog.text  # the access-log line, token masked


def test_when_the_cache_cannot_count_mail_still_goes_out(db, mailoutbox, monkeypatch, caplog):
    def cache_down(*args, **kwargs):
        raise ConnectionError("cache unreachable")

    monkeypatch.setattr(throttle, "get_usage", cache_down)
    make_person("sam@example.com")
    assert Client().post(reverse("password_reset"), {"email": "sam@example.com"}).status_code == 302
    assert len(mailoutbox) == 1
    assert "could not count" in caplog.text


# --- CSRF on every form


@pytest.fixture
def csrf_world(tenant, people, store_key):
    credential = store_key(tenant, "anthropic")
    invitation = invitation_create(tenant=tenant, email="invited@example.com", role=Role.MEMBER)
    return {
        "slug": "acme",
        "provider": "anthropic",
        "credential_id": credential.pk,
        "invitation_id": invitation.invitation.pk,
        "membership_id": Membership.objects.get(user=people[Role.MEMBER]).pk,
        "link": urlsplit(invitation_create(tenant=tenant, email="new@example.com", role=Role.MEMBER).url).path,
    }


def csrf_client(user=None) -> Client:
    client = Client(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    return client


def assert_csrf_refused(response) -> None:
    assert response.status_code == 403
    assert "CSRF verification failed" in response.content.decode()


@pytest.mark.parametrize("route", sorted(tenant_url_patterns()))
def test_every_tenant_form_refuses_a_post_without_csrf_token(csrf_world, people, route):
    pattern = tenant_url_patterns()[route]
    url = reverse(pattern.name, kwargs={name: csrf_world[name] for name in pattern.pattern.converters})
    client = csrf_client(people[Role.OWNER])
    key = anthropic_key()
    response = client.post(url, {"name": "Changed", "anthropic_key": key, "key": key, "email": "new@example.com"})
    assert_csrf_refused(response)
    assert_key_never_shown(response, key)
    assert Tenant.objects.get().name == "Acme"
    assert Membership.objects.count() == 3


@pytest.mark.parametrize(
    ("url", "data"),
    [
        (LOGIN, {"username": "sam@example.com", "password": PASSWORD}),
        (reverse("password_reset"), {"email": "sam@example.com"}),
        (reverse("signup"), signup_data()),
        (reverse("signup-resend"), {"email": "sam@example.com"}),
    ],
    ids=["login", "password_reset", "signup", "signup-resend"],
)
def test_every_signed_out_form_refuses_a_post_without_csrf_token(db, signup_on, mailoutbox, url, data):
    make_person("sam@example.com")
    client = csrf_client()
    assert_csrf_refused(client.post(url, data))
    assert mailoutbox == []
    assert get_user_model().objects.count() == 1
    # With the token the page gave, the same form goes through.
    client.get(url)
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    assert client.post(url, {**data, "csrfmiddlewaretoken": token}).status_code == 302


def test_the_install_link_refuses_a_post_without_csrf_token(csrf_world):
    client = csrf_client()
    assert_csrf_refused(client.post(csrf_world["link"], {"new_password1": PASSWORD, "new_password2": PASSWORD}))
    assert not get_user_model().objects.filter(email="new@example.com").exists()


def test_the_signed_in_account_forms_refuse_a_post_without_csrf_token(db, mailoutbox):
    person = make_person("sam@example.com")
    client = csrf_client(person)
    assert_csrf_refused(client.post(reverse("logout")))
    assert_csrf_refused(
        client.post(
            reverse("password_change"),
            {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        )
    )
    person.refresh_from_db()
    assert person.check_password(PASSWORD)
    assert not signed_in_user(client).is_anonymous

    Client().post(reverse("password_reset"), {"email": "sam@example.com"})
    link = reset_link(mailoutbox[0])
    client = csrf_client()
    form_url = client.get(link).url
    assert_csrf_refused(client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}))
    person.refresh_from_db()
    assert person.check_password(PASSWORD)


# --- Passwords and keys stay out of error reports


HIDDEN = "********************"


@pytest.fixture
def secrets_world(tenant, people, key_checks, signup_on, mailoutbox):
    Client().post(reverse("password_reset"), {"email": people[Role.OWNER].email})
    reset = Client()
    reset_url = reset.get(reset_link(mailoutbox[0])).url
    return {"tenant": tenant, "people": people, "reset": reset, "reset_url": reset_url, "mailoutbox": mailoutbox}


def post_to(secrets_world, view: str, data: dict):
    """Post `data` to a view taking secrets, as the person who may use it."""
    people = secrets_world["people"]
    if view == "login":
        return Client().post(LOGIN, data)
    if view == "signup":
        return Client().post(SIGNUP, data)
    if view == "install":
        issued = invitation_create(tenant=secrets_world["tenant"], email="new@example.com", role=Role.MEMBER)
        return Client().post(urlsplit(issued.url).path, data)
    if view == "signup_confirm":
        Client().post(SIGNUP, signup_data(email="confirming@example.com", tenant_slug="confirming"))
        return Client().post(confirm_link(secrets_world["mailoutbox"][-1]), data)
    if view == "password_reset_confirm":
        return secrets_world["reset"].post(secrets_world["reset_url"], data)
    client = signed_in(Client(), people[Role.OWNER])
    url = {
        "password_change": reverse("password_change"),
        "setup-keys": reverse("setup-keys", args=["acme"]),
        "credential-replace": reverse("credential-replace", args=["acme", "anthropic"]),
    }[view]
    return client.post(url, data)


@pytest.mark.parametrize(
    ("view", "secrets"),
    [
        ("login", ["password"]),
        ("signup", ["password1", "password2"]),
        ("signup_confirm", ["password"]),
        ("install", ["new_password1", "new_password2"]),
        ("password_change", ["old_password", "new_password1", "new_password2"]),
        ("password_reset_confirm", ["new_password1", "new_password2"]),
        ("setup-keys", ["anthropic_key", "openrouter_key"]),
        ("credential-replace", ["key"]),
    ],
)
def test_views_taking_passwords_or_keys_hide_them_from_error_reports(secrets_world, view, secrets):
    # Wrong or invalid on purpose: the view runs, renders its errors, changes nothing.
    data = {name: "x" for name in secrets} | {"username": "nobody@example.com", "email": "bad"}
    request = post_to(secrets_world, view, data).wsgi_request
    assert request.sensitive_post_parameters == "__ALL__" or set(secrets) <= set(request.sensitive_post_parameters)
    cleansed = SafeExceptionReporterFilter().get_post_parameters(request)
    for name in secrets:
        assert cleansed[name] == HIDDEN
