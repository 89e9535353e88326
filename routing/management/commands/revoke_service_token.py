from django.core.management.base import BaseCommand, CommandError

from routing.tokens import TokenError, token_revoke


class Command(BaseCommand):
    help = "Revoke a service token by name: requests bearing it are refused from now on."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The token's name, as given to create_service_token.")

    def handle(self, *, name, **options):
        try:
            row = token_revoke(name=name)
        except TokenError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(f"Revoked service token {row.name} ({row.prefix}...)."))
