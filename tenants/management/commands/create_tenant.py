from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from tenants.models import Invitation, Role
from tenants.services import account_for_email, awaits_first_password, invitation_create, membership_add, tenant_create


class Command(BaseCommand):
    help = (
        "Create a tenant, and with --owner-email its owner, printing the owner's one-time install "
        "link (/install/<token>/, valid SINATRA_INVITATION_DAYS days). On an existing slug it says so "
        "and changes nothing but adding a named owner who is not yet a member (and a fresh link for an "
        "owner who has not set a password yet)."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="URL name of the tenant: lowercase letters, digits, hyphens.")
        parser.add_argument("--name", default="", help="Display name (default: the slug).")
        parser.add_argument(
            "--owner-email", default="", metavar="EMAIL", help="Create this person as the tenant's owner."
        )

    def handle(self, *, slug, name, owner_email, **options):
        try:
            # One transaction: a bad email leaves no tenant behind, a bad slug no user.
            with transaction.atomic():
                tenant, created = tenant_create(slug=slug, name=name)
                owner, owner_created = account_for_email(owner_email) if owner_email else (None, False)
                if owner is not None:
                    membership, added = membership_add(tenant=tenant, user=owner, role=Role.OWNER)
        except ValidationError as exc:
            raise CommandError(exc.messages[0]) from None
        if created:
            self.stdout.write(self.style.SUCCESS(f"Created tenant {tenant.slug} ({tenant.name}), id {tenant.pk}."))
        else:
            self.stdout.write(f"Tenant {tenant.slug} already exists (id {tenant.pk}); left as it is.")
        if owner is None:
            return
        if added:
            self.stdout.write(self.style.SUCCESS(f"Added {owner.email} as owner of {tenant.slug}."))
        else:
            self.stdout.write(f"{owner.email} is already {membership.role} of {tenant.slug}.")
        if owner.has_usable_password():
            self.stdout.write(
                f"{owner.email} has an account: they sign in at {settings.SINATRA_BASE_URL}/accounts/login/"
            )
            return
        if membership.role != Role.OWNER:
            return
        # The link may choose the password only of an account this command made (now, or on an
        # earlier run whose link was not used): never of one that exists otherwise.
        made_here = owner_created or Invitation.objects.filter(creates_user=owner).exists()
        if not (made_here and awaits_first_password(owner)):
            self.stdout.write(
                f"{owner.email} has an account without a password that this command did not create: "
                "give it one in the admin, then they sign in."
            )
            return
        issued = invitation_create(tenant=tenant, email=owner.email, role=Role.OWNER, creates_user=owner)
        self.stdout.write(
            f"Install link for {owner.email} (works once, for {settings.SINATRA_INVITATION_DAYS} days; "
            "earlier links stop working):"
        )
        self.stdout.write(issued.url)
