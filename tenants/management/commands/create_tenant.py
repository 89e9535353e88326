from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from tenants.models import Role
from tenants.services import membership_add, tenant_create, user_for_email


class Command(BaseCommand):
    help = (
        "Create a tenant, and with --owner-email its owner. On an existing slug it says so and "
        "changes nothing but adding a named owner who is not yet a member."
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
                owner = user_for_email(owner_email) if owner_email else None
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
