from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, QuerySet

from credentials.envelope import open_sealed
from credentials.kms import KmsError, KmsUnavailable, get_keyring
from credentials.models import TenantModelCredential
from credentials.selectors import credentials_to_rewrap, credentials_to_rewrap_after
from credentials.services import Actor, credential_rewrap_batch
from tenants.management import tenant_for_command


class Command(BaseCommand):
    help = (
        "Move every credential's data key (active and revoked rows) to the current primary "
        "key-encryption key: a local old key to the new one, local to Cloud KMS, or an old Cloud "
        "KMS key version to the primary. Each batch commits on its own, so the command can be "
        "killed and run again: it carries on where it stopped and never rewraps a row twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", metavar="SLUG", help="Only this tenant's credentials.")
        parser.add_argument("--dry-run", action="store_true", help="Say what would be rewrapped; change nothing.")
        parser.add_argument(
            "--batch-size",
            type=int,
            default=100,
            metavar="N",
            help="Rows rewrapped and committed together (default 100).",
        )

    def handle(self, *, tenant, dry_run, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        tenant_row = tenant_for_command(tenant) if tenant else None
        try:
            primary = get_keyring().primary_kek()
        except KmsError as exc:
            raise CommandError(str(exc)) from None
        target = primary[1] or primary[0]
        rows = credentials_to_rewrap(primary=primary, tenant=tenant_row)
        total = rows.count()
        if total == 0:
            self.stdout.write(self.style.SUCCESS(f"Every credential is already wrapped by {target}; nothing to do."))
            return
        if dry_run:
            self.dry_run(rows, total, target, batch_size)
            return

        self.stdout.write(f"Rewrapping {total} credentials to {target}...")
        actor = Actor.command("rewrap_credentials")
        processed, done, failed, last_id = 0, 0, [], None
        while True:
            batch = credentials_to_rewrap_after(primary=primary, tenant=tenant_row, after=last_id, limit=batch_size)
            if not batch:
                break
            try:
                outcome = credential_rewrap_batch(credentials=batch, primary=primary, actor=actor)
            except KmsUnavailable as exc:
                raise CommandError(
                    f"{exc} {done} of {total} were rewrapped; run the command again to continue."
                ) from None
            processed += len(batch)
            done += len(outcome.rewrapped)
            for failure in outcome.failed:
                row = failure.credential
                failed.append(f"{row.tenant_slug}/{row.provider} ({row.id})")
                self.stderr.write(f"FAILED {row.tenant_slug}/{row.provider} (credential {row.id}): {failure.reason}")
            last_id = batch[-1].id
            self.stdout.write(f"  {processed}/{total} processed, {done} rewrapped")
        if failed:
            raise CommandError(
                f"{len(failed)} of {total} credentials could not be rewrapped and stay as they were: "
                f"{', '.join(failed)}."
            )
        self.stdout.write(self.style.SUCCESS(f"Rewrapped {done} credentials to {target}."))

    def dry_run(self, rows: QuerySet[TenantModelCredential], total: int, target: str, batch_size: int) -> None:
        """Say what would move, and open every row with the configured keys; name each that does not open."""
        for group in rows.order_by().values("kek_id", "kek_version").annotate(rows=Count("id")):
            source = group["kek_version"] or group["kek_id"]
            self.stdout.write(f"would rewrap {group['rows']} from {source}")
        failed = []
        for opened, row in enumerate(rows.iterator(chunk_size=batch_size), start=1):
            try:
                open_sealed(row, use_cache=False)  # opens and checks; writes nothing, not even needs_rewrap
            except KmsUnavailable as exc:
                raise CommandError(f"{exc} {opened - 1} of {total} were opened; nothing was changed.") from None
            except KmsError as exc:
                failed.append(f"{row.tenant.slug}/{row.provider} ({row.id})")
                self.stderr.write(f"CANNOT OPEN {row.tenant.slug}/{row.provider} (credential {row.id}): {exc}")
            if opened % batch_size == 0 or opened == total:
                self.stdout.write(f"  {opened}/{total} opened with the configured keys")
        if failed:
            raise CommandError(
                f"Dry run: {len(failed)} of {total} credentials cannot be opened with the configured keys, so they "
                f"cannot be rewrapped: {', '.join(failed)}. Nothing was changed."
            )
        self.stdout.write(
            f"Dry run: {total} credentials would be rewrapped to {target}; each opens with the configured keys. "
            "Nothing was changed."
        )
