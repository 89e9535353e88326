"""create_tenant on a slug that exists: never a silent take-over of a tenant someone else owns."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from tenants.management.commands.create_tenant import Command as CreateTenant
from tenants.models import Invitation, Membership, Role, Tenant
from tests.web import join, make_person


def refusal(*args) -> str:
    with pytest.raises(CommandError) as excinfo:
        call_command("create_tenant", *args)
    message = str(excinfo.value)
    assert "\n" not in message
    return message


def owners(slug: str = "acme") -> list[str]:
    return sorted(Membership.objects.filter(tenant__slug=slug, role=Role.OWNER).values_list("user__email", flat=True))


@pytest.fixture
def acme(db, run_command) -> Tenant:
    """acme, owned by its CEO (who has not used their link yet)."""
    run_command("create_tenant", "acme", "--name", "Acme", "--owner-email", "ceo@acme.example")
    return Tenant.objects.get(slug="acme")


def test_naming_another_owner_for_a_tenant_that_has_one_is_refused_in_one_line(acme):
    before = (list(Invitation.objects.values_list("pk", "revoked_at")), get_user_model().objects.count())
    message = refusal("acme", "--owner-email", "Mallory@Evil.example")
    assert message == (
        "Tenant acme already has an owner: ceo@acme.example. Nothing was changed: to make mallory@evil.example "
        "an owner as well, run it again with --add-owner."
    )
    assert owners() == ["ceo@acme.example"]
    assert (list(Invitation.objects.values_list("pk", "revoked_at")), get_user_model().objects.count()) == before
    assert not get_user_model().objects.filter(email="mallory@evil.example").exists()


def test_every_owner_is_named_in_the_refusal(acme):
    join(acme, Role.OWNER, email="cfo@acme.example")
    message = refusal("acme", "--owner-email", "mallory@evil.example")
    assert message.startswith("Tenant acme already has an owner: ceo@acme.example, cfo@acme.example.")


def test_an_admin_of_the_tenant_is_not_made_owner_without_add_owner(acme):
    admin = join(acme, Role.ADMIN, email="admin@acme.example")
    refusal("acme", "--owner-email", "admin@acme.example")
    assert Membership.objects.get(user=admin).role == Role.ADMIN


def test_with_add_owner_the_person_joins_the_owners_and_gets_a_link(acme, run_command):
    out, err = run_command("create_tenant", "acme", "--owner-email", "cfo@acme.example", "--add-owner")
    assert err == ""
    assert "Added cfo@acme.example as owner of acme." in out
    assert out.strip().splitlines()[-1].startswith("http://testserver/install/")
    assert owners() == ["ceo@acme.example", "cfo@acme.example"]


def test_with_add_owner_an_admin_is_promoted(acme, run_command):
    admin = join(acme, Role.ADMIN, email="admin@acme.example")
    out, _ = run_command("create_tenant", "acme", "--owner-email", "admin@acme.example", "--add-owner")
    assert "admin@acme.example is now owner of acme (was admin)." in out
    assert "admin@acme.example has an account: they sign in at" in out
    assert Membership.objects.get(user=admin).role == Role.OWNER


def test_naming_the_same_owner_again_is_safe_with_or_without_add_owner(acme, run_command):
    for extra in ([], ["--add-owner"]):
        out, err = run_command("create_tenant", "acme", "--owner-email", "CEO@acme.example", *extra)
        assert err == ""
        assert "ceo@acme.example is already owner of acme." in out
        assert out.strip().splitlines()[-1].startswith("http://testserver/install/")
    assert owners() == ["ceo@acme.example"]
    assert Invitation.objects.pending().count() == 1


def test_a_tenant_without_an_owner_takes_the_one_named(db, run_command):
    run_command("create_tenant", "acme")
    out, _ = run_command("create_tenant", "acme", "--owner-email", "ceo@acme.example")
    assert "Added ceo@acme.example as owner of acme." in out
    assert owners() == ["ceo@acme.example"]


def test_an_owner_whose_account_an_operator_deactivated_is_told_about(db, run_command):
    make_person("ceo@acme.example", is_active=False)
    out, _ = run_command("create_tenant", "acme", "--owner-email", "ceo@acme.example")
    assert "ceo@acme.example's account is deactivated: reactivate it in the admin, then they sign in." in out
    assert not Invitation.objects.exists()


def test_create_tenant_help_names_add_owner():
    text = " ".join(CreateTenant().create_parser("manage.py", "create_tenant").format_help().split())
    assert "[--add-owner]" in text
    assert "A tenant that already has another owner is refused unless --add-owner is given." in text
