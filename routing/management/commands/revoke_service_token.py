from django.core.management.base import BaseCommand, CommandError

from routing.tokens import TokenError, token_revoke


class Command(BaseCommand):
    help = (
        "Revoke a service token by name: requests bearing it are refused from now on. A name that is "
        "revoked already is said so (exit 0); a name no token has is an error."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="The token's name, as given to create_service_token.")

    def handle(self, *, name, **options):
        try:
            row, revoked_now = token_revoke(name=name)
        except TokenError as exc:
            raise CommandError(str(exc)) from None
        if revoked_now:
            self.stdout.write(self.style.SUCCESS(f"Revoked service token {row.name} ({row.prefix}...)."))
        else:
            self.stdout.write(
                f"Service token {row.name} ({row.prefix}...) is revoked already, since "
                f"{row.revoked_at:%Y-%m-%d %H:%M} UTC: nothing to do."
            )
