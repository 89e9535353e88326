from datetime import datetime

from django.core.management.base import BaseCommand
from django.utils import timezone

from routing.selectors import service_tokens

COLUMNS = ("NAME", "PREFIX", "STATE", "SCOPE", "CREATED", "EXPIRES", "LAST USED")


def when(moment: datetime | None, empty: str) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else empty


class Command(BaseCommand):
    help = (
        "List service tokens: name, prefix, state, scope, created, expires and last use (UTC). "
        "Never shows a token: it was printed once, when it was created."
    )

    def add_arguments(self, parser):
        parser.add_argument("--all", dest="include_revoked", action="store_true", help="Include revoked tokens.")

    def handle(self, *, include_revoked, **options):
        now = timezone.now()
        rows = []
        for token in service_tokens(include_revoked=include_revoked):
            state = "revoked" if token.revoked_at else ("expired" if token.is_expired(now) else "live")
            rows.append(
                (
                    token.name,
                    f"{token.prefix}...",
                    state,
                    token.scope_label(),
                    when(token.created_at, ""),
                    when(token.expires_at, "never"),
                    when(token.last_used_at, "never"),
                )
            )
        if not rows:
            self.stdout.write(
                "No service tokens. Create one with `python manage.py create_service_token NAME --tenant SLUG` "
                "(or --all-tenants)."
            )
            return
        widths = [max(len(row[index]) for row in (COLUMNS, *rows)) for index in range(len(COLUMNS))]
        for row in (COLUMNS, *rows):
            self.stdout.write("  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip())
