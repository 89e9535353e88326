from django.core.management.base import BaseCommand, CommandError

from routing.tokens import MAX_EXPIRES_DAYS, TokenError, token_create
from tenants.management import tenant_for_command


class Command(BaseCommand):
    help = (
        "Create a service token for workers calling POST /api/v1/resolve, for the tenants named with "
        "--tenant (or, said explicitly, --all-tenants). The token is printed once, as the last word of "
        "the output; only its hash is stored. Run again for a live name with the same scope, it says "
        "the token exists, prints no token and exits 0."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="A name to recognise the token by, e.g. worker-eu-1.")
        scope = parser.add_mutually_exclusive_group()
        scope.add_argument(
            "--tenant",
            action="append",
            dest="tenants",
            default=[],
            metavar="SLUG",
            help="A tenant the token may resolve; repeat it for several.",
        )
        scope.add_argument(
            "--all-tenants", action="store_true", help="The token may resolve every tenant, present and future."
        )
        parser.add_argument(
            "--expires-days",
            type=int,
            metavar="N",
            help=f"The token stops working after N days (1 to {MAX_EXPIRES_DAYS}); by default it does not expire.",
        )

    def handle(self, *, name, tenants, all_tenants, expires_days, **options):
        if not tenants and not all_tenants:
            raise CommandError(
                "Say which tenants the token may resolve: --tenant SLUG (repeat it for several), "
                "or --all-tenants for every tenant."
            )
        rows = [tenant_for_command(slug) for slug in dict.fromkeys(tenants)]
        try:
            issued = token_create(name=name, tenants=rows, all_tenants=all_tenants, expires_days=expires_days)
        except TokenError as exc:
            raise CommandError(str(exc)) from None
        row = issued.row
        expires = f"expires {row.expires_at:%Y-%m-%d %H:%M} UTC" if row.expires_at else "does not expire"
        if issued.token is None:
            self.stdout.write(
                f"Service token {row.name} ({row.prefix}...) already exists for {row.scope_label()} and {expires}: "
                "nothing was created. Its token was shown once, when it was created; to replace it, create "
                "one under a new name, roll it out, then revoke this one."
            )
            return
        self.stdout.write(
            self.style.SUCCESS(f"Created service token {row.name} for {row.scope_label()}; it {expires}.")
        )
        self.stdout.write("Store it now; it cannot be shown again:")
        self.stdout.write(issued.token)
