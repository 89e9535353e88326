from django.core.management.base import BaseCommand, CommandError

from credentials.kms import KmsError
from credentials.selectors import active_credentials
from credentials.services import credential_open
from tenants.management import tenant_for_command


class Command(BaseCommand):
    help = (
        "Decrypt every active credential through the KMS (no cache) and report each one that "
        "fails, by tenant and provider, without printing any key. Exits non-zero if any fails."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", metavar="SLUG", help="Only this tenant's credentials.")

    def handle(self, *, tenant, **options):
        rows = active_credentials(tenant=tenant_for_command(tenant) if tenant else None)
        total = rows.count()
        if total == 0:
            self.stdout.write("No active credentials to verify.")
            return
        failed, stale = [], 0
        for row in rows.iterator():
            name = f"{row.tenant.slug}/{row.provider}"
            try:
                credential_open(row, use_cache=False)
            except KmsError as exc:
                failed.append(name)
                self.stderr.write(f"FAILED {name} {row.key_hint} (credential {row.id}): {exc}")
                continue
            stale += row.needs_rewrap
            note = "  (not under the primary key: run rewrap_credentials)" if row.needs_rewrap else ""
            self.stdout.write(f"ok     {name} {row.key_hint} ({row.kek_id}){note}")
        if failed:
            raise CommandError(f"{len(failed)} of {total} active credentials failed to decrypt: {', '.join(failed)}.")
        self.stdout.write(self.style.SUCCESS(f"All {total} active credentials decrypt."))
        if stale:
            self.stdout.write(f"{stale} of them should be rewrapped: run `python manage.py rewrap_credentials`.")
