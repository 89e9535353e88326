from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tenants.errors import TenantError, TenantHasOwner
from tenants.services import OwnerAccess, tenant_create_with_owner


class Command(BaseCommand):
    help = (
        "Create a tenant, and with --owner-email its owner, printing the owner's one-time install "
        "link (/install/<token>/, valid SINATRA_INVITATION_DAYS days) as the last line. On an existing "
        "slug it says so and changes nothing but adding the named owner. A tenant that already has "
        "another owner is refused unless --add-owner is given. Naming the same owner again is safe: "
        "while they have not chosen a password it prints a fresh link, and the earlier one stops working."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="URL name of the tenant: lowercase letters, digits, hyphens.")
        parser.add_argument("--name", default="", help="Display name (default: the slug).")
        parser.add_argument("--owner-email", default="", metavar="EMAIL", help="Make this person the tenant's owner.")
        parser.add_argument(
            "--add-owner",
            action="store_true",
            help="The tenant exists and has another owner: make the person --owner-email names an owner "
            "as well (without it, that is refused).",
        )

    def handle(self, *, slug, name, owner_email, add_owner, **options):
        try:
            result = tenant_create_with_owner(slug=slug, name=name, owner_email=owner_email, add_owner=add_owner)
        except ValidationError as exc:
            raise CommandError(exc.messages[0]) from None
        except TenantHasOwner as exc:
            raise CommandError(
                f"{exc} Nothing was changed: to make {owner_email.strip().lower()} an owner as well, "
                "run it again with --add-owner."
            ) from None
        except TenantError as exc:
            raise CommandError(f"{exc} Nothing was changed.") from None
        tenant = result.tenant
        if result.tenant_created:
            self.stdout.write(self.style.SUCCESS(f"Created tenant {tenant.slug} ({tenant.name}), id {tenant.pk}."))
        else:
            self.stdout.write(f"Tenant {tenant.slug} already exists (id {tenant.pk}); left as it is.")
        owner = result.owner
        if owner is None:
            return
        email = owner.email or owner.get_username()
        if result.discarded_signup:
            self.stdout.write(
                f"{email} had signed up without confirming the address: that sign-up is discarded "
                "(its password and link no longer work, and the tenant it made is gone unless it holds something)."
            )
        if result.owner_added:
            self.stdout.write(self.style.SUCCESS(f"Added {email} as owner of {tenant.slug}."))
        elif result.promoted_from:
            self.stdout.write(
                self.style.SUCCESS(f"{email} is now owner of {tenant.slug} (was {result.promoted_from}).")
            )
        else:
            self.stdout.write(f"{email} is already owner of {tenant.slug}.")
        if result.access is OwnerAccess.SIGNS_IN:
            self.stdout.write(f"{email} has an account: they sign in at {settings.SINATRA_BASE_URL}/accounts/login/")
        elif result.access is OwnerAccess.ACCOUNT_INACTIVE:
            self.stdout.write(f"{email}'s account is deactivated: reactivate it in the admin, then they sign in.")
        elif result.access is OwnerAccess.NEEDS_PASSWORD:
            self.stdout.write(
                f"{email} has an account without a password that this command did not create: "
                "give it one in the admin, then they sign in."
            )
        elif result.link is not None:
            self.stdout.write(
                f"Install link for {email} (works once, for {settings.SINATRA_INVITATION_DAYS} days; "
                "earlier links stop working):"
            )
            self.stdout.write(result.link.url)
