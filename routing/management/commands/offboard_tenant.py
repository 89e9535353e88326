from django.core.management.base import BaseCommand, CommandError

from credentials.services import Actor
from routing.offboarding import OffboardingRefused, tenant_offboard
from tenants.management import tenant_for_command


class Command(BaseCommand):
    help = (
        "Offboard a tenant: deactivate it (nothing is resolved for it any more), revoke its keys, take "
        "it out of every service token's scope (revoking a token left with no tenant), withdraw its "
        "invitations and remove its people. Nothing is deleted: the tenant, its revoked keys and every "
        "audit event stay. Refused while the tenant has active keys, unless --revoke-keys is given. "
        "Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="The tenant's slug.")
        parser.add_argument(
            "--revoke-keys", action="store_true", help="Revoke the tenant's active provider keys as part of it."
        )

    def handle(self, *, slug, revoke_keys, **options):
        tenant = tenant_for_command(slug)
        try:
            done = tenant_offboard(tenant=tenant, actor=Actor.command("offboard_tenant"), revoke_keys=revoke_keys)
        except OffboardingRefused as exc:
            raise CommandError(str(exc)) from None
        if not done.changed:
            self.stdout.write(f"Tenant {tenant.slug} is already offboarded; nothing to do.")
            return
        if done.deactivated:
            self.stdout.write(f"Deactivated {tenant.slug}: resolutions for it are refused from now on.")
        for credential in done.revoked_keys:
            self.stdout.write(f"Revoked its {credential.provider} key {credential.key_hint}.")
        for name in done.tokens_narrowed:
            self.stdout.write(f"Took it out of service token {name}'s scope.")
        for name in done.tokens_revoked:
            self.stdout.write(f"Revoked service token {name}: {tenant.slug} was the last tenant it could resolve.")
        self.stdout.write(
            f"Withdrew {done.invitations_withdrawn} invitation(s) and removed {done.memberships_removed} member(s)."
        )
        self.stdout.write(self.style.SUCCESS(f"Tenant {tenant.slug} is offboarded; its audit trail is kept."))
