from django.core.management.base import BaseCommand, CommandError

from routing.tokens import TokenError, token_create


class Command(BaseCommand):
    help = (
        "Create a service token for workers calling POST /api/v1/resolve. The token is printed "
        "once, as the last word of the output; only its hash is stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="A name to recognise the token by, e.g. worker-eu-1.")

    def handle(self, *, name, **options):
        try:
            row, token = token_create(name=name)
        except TokenError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Created service token {row.name}. Store it now; it cannot be shown again:")
        self.stdout.write(token)
