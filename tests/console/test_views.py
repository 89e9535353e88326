"""The tenant console: home, the overview of /t/<slug>/, and members (invite, withdraw, remove)."""

from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.mail.backends.base import BaseEmailBackend
from django.urls import reverse

from tenants.models import Invitation, Membership, Role
from tenants.services import invitation_create
from tests.web import PASSWORD, join, labels, make_person, messages_of, signed_in, text

HOME = reverse("home")
CONSOLE = reverse("console", args=["acme"])
MEMBERS = reverse("members", args=["acme"])


def remove_url(membership: Membership) -> str:
    return reverse("member-remove", args=[membership.tenant.slug, membership.pk])


def withdraw_url(invitation: Invitation) -> str:
    return reverse("invitation-withdraw", args=[invitation.tenant.slug, invitation.pk])


# --- Home


def test_home_needs_sign_in(client, db):
    assert client.get(HOME).url == f"{reverse('login')}?next=/"


def test_home_sends_a_person_of_one_tenant_straight_to_its_console(client, tenant):
    signed_in(client, join(tenant, Role.MEMBER))
    assert client.get(HOME).url == CONSOLE


def test_home_lists_every_tenant_of_a_person_with_their_role(client, tenant, make_tenant):
    person = join(tenant, Role.ADMIN)
    Membership.objects.create(user=person, tenant=make_tenant("globex"), role=Role.MEMBER)
    make_tenant("initech")
    response = signed_in(client, person).get(HOME)
    assert response.status_code == 200
    page = text(response)
    assert "Acme Admin" in page
    assert "Globex Member" in page
    assert "Initech" not in page
    html = response.content.decode()
    assert f'href="{CONSOLE}"' in html
    assert f'href="{reverse("console", args=["globex"])}"' in html


@pytest.mark.parametrize("signup", [False, True], ids=["signup off", "signup on"])
def test_home_of_a_person_without_tenants_says_how_to_get_one(client, db, settings, signup):
    settings.SINATRA_ALLOW_SIGNUP = signup
    response = signed_in(client, make_person("sam@example.com")).get(HOME)
    page = text(response)
    assert "You belong to no tenant yet. Ask a tenant's owner for an invitation link" in page
    assert ("create your own" in page) is signup


# --- The console's overview


def test_the_overview_shows_what_a_worker_gets_for_the_default_model(client, tenant, people, store_key, providers):
    credential = store_key(tenant, "anthropic")
    tenant.default_model = "opus"
    tenant.save()
    response = signed_in(client, people[Role.MEMBER]).get(CONSOLE)
    assert response.status_code == 200
    page = text(response)
    assert "Default model: opus" in page
    assert "Provider Anthropic, claude-opus-4-8" in page
    assert f"Key {credential.key_hint}" in page
    assert f"Anthropic {credential.key_hint} unverified" in page
    assert "OpenRouter no key yet" in page


def test_the_overview_says_sonnet_when_no_default_is_set(client, tenant, people, store_key, providers):
    store_key(tenant, "anthropic")
    page = text(signed_in(client, people[Role.MEMBER]).get(CONSOLE))
    assert "Default model: sonnet" in page
    assert "Provider Anthropic, claude-sonnet-4-6" in page


def test_the_overview_of_a_tenant_with_only_openrouter_goes_through_it(client, tenant, people, store_key, providers):
    store_key(tenant, "openrouter")
    page = text(signed_in(client, people[Role.MEMBER]).get(CONSOLE))
    assert "Provider OpenRouter, anthropic/claude-sonnet-4.6" in page
    assert "OpenRouter" in page.split("Why", 1)[1]


def test_the_overview_without_keys_says_which_key_is_missing(client, tenant, people, providers):
    page = text(signed_in(client, people[Role.OWNER]).get(CONSOLE))
    assert "no key for Anthropic yet" in page
    assert "Add a key" in page


def test_the_overview_of_a_deactivated_tenant_says_so(client, tenant, people, store_key, providers):
    store_key(tenant, "anthropic")
    tenant.is_active = False
    tenant.save()
    page = text(signed_in(client, people[Role.MEMBER]).get(CONSOLE))
    assert "This tenant is deactivated: workers are served nothing for it." in page


@pytest.mark.parametrize(("role", "manages"), [(Role.OWNER, True), (Role.ADMIN, True), (Role.MEMBER, False)], ids=str)
def test_the_overview_offers_changes_to_managers_only(client, tenant, people, providers, role, manages):
    html = signed_in(client, people[role]).get(CONSOLE).content.decode()
    assert (f'href="{reverse("setup-model", args=["acme"])}"' in html) is manages
    assert (f'href="{reverse("setup-keys", args=["acme"])}"' in html) is manages


def test_the_console_names_the_tenant_and_its_sections(client, tenant, people, providers):
    response = signed_in(client, people[Role.MEMBER]).get(CONSOLE)
    html = response.content.decode()
    assert "<title>Acme · Sinatra</title>" in html
    for url in (CONSOLE, reverse("credentials", args=["acme"]), MEMBERS):
        assert f'href="{url}"' in html
    assert "member@acme.example" in text(response)


# --- Members


def test_the_members_page_lists_people_roles_and_pending_invitations(client, tenant, people):
    invitation_create(tenant=tenant, email="pending@example.com", role=Role.ADMIN)
    used = invitation_create(tenant=tenant, email="used@example.com", role=Role.MEMBER).invitation
    Invitation.objects.filter(pk=used.pk).update(accepted_at=used.created_at)
    invitation_create(tenant=tenant, email="withdrawn@example.com", role=Role.MEMBER)
    invitation_create(tenant=tenant, email="withdrawn@example.com", role=Role.ADMIN)  # ends the earlier one
    response = signed_in(client, people[Role.MEMBER]).get(MEMBERS)
    assert response.status_code == 200
    page = text(response)
    assert "owner@acme.example Owner" in page
    assert "admin@acme.example Admin" in page
    assert "member@acme.example (you) Member" in page
    pending = page.split("Pending invitations", 1)[1]
    assert "pending@example.com Admin" in pending
    assert "withdrawn@example.com Admin" in pending
    assert "withdrawn@example.com Member" not in pending
    assert "used@example.com" not in pending


@pytest.mark.parametrize(("role", "is_owner"), [(Role.OWNER, True), (Role.ADMIN, False), (Role.MEMBER, False)], ids=str)
def test_only_owners_see_the_invite_form_and_the_remove_and_withdraw_buttons(client, tenant, people, role, is_owner):
    invitation = invitation_create(tenant=tenant, email="pending@example.com", role=Role.ADMIN).invitation
    response = signed_in(client, people[role]).get(MEMBERS)
    html = response.content.decode()
    assert ("Invite someone" in html) is is_owner
    assert (labels(response) == ["Email", "Role"]) is is_owner
    assert (f'action="{withdraw_url(invitation)}"' in html) is is_owner
    member = Membership.objects.get(user=people[Role.MEMBER])
    assert (f'action="{remove_url(member)}"' in html) is is_owner


def test_an_owner_is_offered_no_button_to_remove_themselves(client, tenant, people):
    own = Membership.objects.get(user=people[Role.OWNER])
    html = signed_in(client, people[Role.OWNER]).get(MEMBERS).content.decode()
    assert f'action="{remove_url(own)}"' not in html


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MEMBER], ids=str)
def test_an_owner_invites_a_person_who_gets_a_working_link_by_email(client, tenant, people, mailoutbox, role):
    response = signed_in(client, people[Role.OWNER]).post(MEMBERS, {"email": " New@Example.com ", "role": role})
    assert response.status_code == 200
    invitation = Invitation.objects.get()
    assert (invitation.email, invitation.role, invitation.invited_by) == ("new@example.com", role, people[Role.OWNER])
    page = text(response)
    assert f"Invitation for new@example.com as {role} created and emailed." in page
    assert "it works once, for 7 days" in page

    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["new@example.com"]
    assert mail.subject == "You are invited to Acme on Sinatra"
    assert f"owner@acme.example invites you to Acme as {role}." in mail.body
    link = next(line for line in mail.body.splitlines() if "/install/" in line)
    assert f'value="{link}"' in response.content.decode()  # the owner may pass it on themselves

    client.post(reverse("logout"))
    path = urlsplit(link).path
    assert client.get(path).status_code == 200
    assert client.post(path, {"new_password1": PASSWORD, "new_password2": PASSWORD}).url == CONSOLE
    person = get_user_model().objects.get(email="new@example.com")
    assert Membership.objects.get(user=person, tenant=tenant).role == role


class UnreachableMailServer(BaseEmailBackend):
    """A mail server that cannot be reached."""

    def send_messages(self, email_messages) -> int:
        if not self.fail_silently:
            raise ConnectionRefusedError("no mail server")
        return 0


def test_an_invitation_that_could_not_be_emailed_says_so_and_still_shows_the_link(client, tenant, people, settings):
    settings.EMAIL_BACKEND = f"{__name__}.UnreachableMailServer"
    response = signed_in(client, people[Role.OWNER]).post(MEMBERS, {"email": "new@example.com", "role": Role.MEMBER})
    assert response.status_code == 200
    page = text(response)
    assert "created, but the email could not be sent: send them this link yourself" in page
    assert "emailed" not in page
    link = response.context["issued"].url
    assert f'value="{link}"' in response.content.decode()


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"email": "not an email", "role": Role.MEMBER}, "Enter a valid email address."),
        ({"email": "new@example.com", "role": Role.OWNER}, "Select a valid choice. owner is not one of"),
        ({"email": "", "role": Role.MEMBER}, "This field is required."),
    ],
    ids=["bad email", "owner role", "no email"],
)
def test_an_invitation_with_a_bad_email_or_role_is_refused(client, tenant, people, mailoutbox, data, problem):
    response = signed_in(client, people[Role.OWNER]).post(MEMBERS, data)
    assert response.status_code == 200
    assert problem in text(response)
    assert not Invitation.objects.exists()
    assert mailoutbox == []


def test_inviting_the_same_email_again_ends_the_earlier_link(client, tenant, people):
    signed_in(client, people[Role.OWNER])
    client.post(MEMBERS, {"email": "new@example.com", "role": Role.MEMBER})
    client.post(MEMBERS, {"email": "new@example.com", "role": Role.ADMIN})
    assert sorted((invitation.role, invitation.state) for invitation in Invitation.objects.all()) == [
        (Role.ADMIN, "pending"),
        (Role.MEMBER, "revoked"),
    ]


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MEMBER], ids=str)
def test_admins_and_members_cannot_invite(client, tenant, people, mailoutbox, role):
    response = signed_in(client, people[role]).post(MEMBERS, {"email": "new@example.com", "role": Role.ADMIN})
    assert response.status_code == 403
    assert not Invitation.objects.exists()
    assert mailoutbox == []


def test_an_owner_withdraws_an_invitation_and_its_link_stops_working(client, tenant, people):
    issued = invitation_create(tenant=tenant, email="new@example.com", role=Role.MEMBER)
    response = signed_in(client, people[Role.OWNER]).post(withdraw_url(issued.invitation), follow=True)
    assert response.redirect_chain == [(MEMBERS, 302)]
    assert "The invitation for new@example.com was withdrawn." in messages_of(response)
    assert "new@example.com" not in text(response).split("Pending invitations", 1)[1].split("Invite someone")[0]
    assert Invitation.objects.get().state == "revoked"
    client.post(reverse("logout"))
    assert client.get(urlsplit(issued.url).path).status_code == 410


def test_withdrawing_a_used_invitation_changes_nothing(client, tenant, people):
    invitation = invitation_create(tenant=tenant, email="new@example.com", role=Role.MEMBER).invitation
    Invitation.objects.filter(pk=invitation.pk).update(accepted_at=invitation.created_at)
    signed_in(client, people[Role.OWNER]).post(withdraw_url(invitation))
    assert Invitation.objects.get().state == "accepted"


def test_an_owner_removes_a_member(client, tenant, people):
    member = Membership.objects.get(user=people[Role.MEMBER])
    response = signed_in(client, people[Role.OWNER]).post(remove_url(member), follow=True)
    assert response.redirect_chain == [(MEMBERS, 302)]
    assert "member@acme.example was removed from Acme." in messages_of(response)
    assert not Membership.objects.filter(pk=member.pk).exists()
    assert get_user_model().objects.filter(pk=people[Role.MEMBER].pk).exists()  # the account stays
    signed_in(client, people[Role.MEMBER])
    assert client.get(CONSOLE).status_code == 404


def test_the_last_owner_cannot_be_removed(client, tenant, people):
    own = Membership.objects.get(user=people[Role.OWNER])
    response = signed_in(client, people[Role.OWNER]).post(remove_url(own), follow=True)
    assert response.redirect_chain == [(MEMBERS, 302)]
    assert "The last owner cannot be removed: make someone else owner first." in messages_of(response)
    assert Membership.objects.filter(pk=own.pk).exists()


def test_an_owner_may_leave_or_remove_another_owner_while_one_remains(client, tenant, people):
    second = Membership.objects.create(user=make_person("second@example.com"), tenant=tenant, role=Role.OWNER)
    signed_in(client, people[Role.OWNER])
    client.post(remove_url(second))
    assert not Membership.objects.filter(pk=second.pk).exists()
    second = Membership.objects.create(user=second.user, tenant=tenant, role=Role.OWNER)
    own = Membership.objects.get(user=people[Role.OWNER])
    response = client.post(remove_url(own), follow=True)
    assert response.redirect_chain == [(HOME, 302)]  # not the members page, which they may no longer see
    assert response.status_code == 200
    assert "owner@acme.example was removed from Acme." in messages_of(response)
    assert not Membership.objects.filter(pk=own.pk).exists()
    assert client.get(MEMBERS).status_code == 404
    assert Membership.objects.filter(tenant=tenant, role=Role.OWNER).get() == second


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MEMBER], ids=str)
def test_admins_and_members_cannot_remove_or_withdraw(client, tenant, people, role):
    invitation = invitation_create(tenant=tenant, email="new@example.com", role=Role.MEMBER).invitation
    owner = Membership.objects.get(user=people[Role.OWNER])
    signed_in(client, people[role])
    assert client.post(remove_url(owner)).status_code == 403
    assert client.post(withdraw_url(invitation)).status_code == 403
    assert Membership.objects.filter(pk=owner.pk).exists()
    assert Invitation.objects.get().state == "pending"


@pytest.mark.parametrize("tenants", [0, 1], ids=["no tenant", "one tenant"])
def test_an_operators_home_links_to_the_admin(client, tenant, tenants):
    operator = make_person("ops@example.com", is_staff=True, is_superuser=True)
    if tenants:
        Membership.objects.create(user=operator, tenant=tenant, role=Role.OWNER)

    response = signed_in(client, operator).get(HOME)

    assert response.status_code == 200
    assert f'href="{reverse("admin:index")}"' in response.content.decode()
    assert "You belong to no tenant yet" not in text(response)
