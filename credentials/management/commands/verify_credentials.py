from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from credentials.kms import KmsError
from credentials.models import TenantModelCredential
from credentials.selectors import active_credentials
from credentials.services import Actor, credential_open, credential_record_check
from providers import spec
from providers.secret import Secret
from providers.verification import Verdict, Verification, verify_key
from tenants.management import tenant_for_command


class Command(BaseCommand):
    help = (
        "Decrypt every active credential through the KMS (no cache) and report each one that "
        "fails, by tenant and provider, without printing any key. With --live, also ask each "
        "provider whether it still accepts the key (no tokens spent), record the answer as an "
        "event, and exit 1 when any key is rejected; a provider that cannot be asked is reported, "
        "not failed. Meant to run on a schedule (cron, a Kubernetes CronJob)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", metavar="SLUG", help="Only this tenant's credentials.")
        parser.add_argument(
            "--live", action="store_true", help="Also ask each provider whether it still accepts the key."
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            default=4,
            metavar="N",
            help="With --live: how many provider checks run at once (default 4, at most 32).",
        )

    def handle(self, *, tenant, live, concurrency, **options):
        if not 1 <= concurrency <= 32:
            raise CommandError("--concurrency must be between 1 and 32.")
        rows = active_credentials(tenant=tenant_for_command(tenant) if tenant else None)
        total = rows.count()
        if total == 0:
            self.stdout.write("No active credentials to verify.")
            return
        self.report = Report(total)
        opened = self.opened(rows.iterator())
        if live:
            self.ask_providers(opened, concurrency)
        else:
            for _row, _secret in opened:
                pass
        self.conclude(live)

    def opened(self, rows: Iterator[TenantModelCredential]) -> Iterator[tuple[TenantModelCredential, Secret]]:
        """Yield each row that decrypts, with its key; report the ones that do not."""
        for row in rows:
            try:
                secret = credential_open(row, use_cache=False)
            except KmsError as exc:
                self.report.undecryptable.append(name(row))
                self.stderr.write(f"FAILED {name(row)} {row.key_hint} (credential {row.id}): {exc}")
                continue
            self.report.stale += row.needs_rewrap
            note = "  (not under the primary key: run rewrap_credentials)" if row.needs_rewrap else ""
            self.stdout.write(f"ok     {name(row)} {row.key_hint} ({row.kek_id}){note}")
            yield row, secret

    def ask_providers(self, opened: Iterator[tuple[TenantModelCredential, Secret]], concurrency: int) -> None:
        """Check keys with their providers, at most `concurrency` at once; record each answer here."""
        actor = Actor.command("verify_credentials")
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="verify") as pool:
            pending: dict[Future[Verification], TenantModelCredential] = {}
            for row, secret in opened:
                pending[pool.submit(verify_key, row.provider, secret)] = row
                if len(pending) >= concurrency * 2:
                    self.record(pending, actor, wait(pending, return_when=FIRST_COMPLETED).done)
            self.record(pending, actor, wait(pending).done)

    def record(self, pending: dict[Future[Verification], TenantModelCredential], actor: Actor, done: set[Any]) -> None:
        for future in done:
            row = pending.pop(future)
            verification = future.result()
            credential_record_check(credential=row, verification=verification, actor=actor)
            self.report.checked += 1
            progress = f"[{self.report.checked}/{self.report.total}]"
            label = spec(row.provider).label
            if verification.verdict is Verdict.REJECTED:
                self.report.rejected.append(name(row))
                self.stderr.write(f"{progress} REJECTED {name(row)} {row.key_hint}: {verification.message}")
            elif verification.verdict is Verdict.UNREACHABLE:
                self.report.unasked.append(name(row))
                self.stdout.write(
                    f"{progress} could not ask {label} about {name(row)} {row.key_hint}: {verification.message}"
                )
            else:
                facts = verification.facts
                soon = facts is not None and facts.expires_soon(timezone.now())
                if soon and facts is not None and facts.expires_at is not None:
                    self.report.expiring.append(name(row))
                    note = f"; EXPIRES {facts.expires_at:%Y-%m-%d}: replace it soon"
                else:
                    note = ""
                self.stdout.write(f"{progress} accepted {name(row)} {row.key_hint} by {label}{note}")

    def conclude(self, live: bool) -> None:
        report = self.report
        if report.undecryptable:
            raise CommandError(
                f"{len(report.undecryptable)} of {report.total} active credentials failed to decrypt: "
                f"{', '.join(report.undecryptable)}."
            )
        if report.unasked:
            self.stdout.write(
                self.style.WARNING(
                    f"{len(report.unasked)} could not be checked now (reported, not failed): "
                    f"{', '.join(report.unasked)}."
                )
            )
        if report.expiring:
            self.stdout.write(self.style.WARNING(f"Expiring within 14 days: {', '.join(report.expiring)}."))
        if report.rejected:
            raise CommandError(
                f"{len(report.rejected)} of {report.total} active keys were rejected by their provider: "
                f"{', '.join(report.rejected)}. Their tenants see it on their console; they must paste new keys."
            )
        checked = " and are accepted by their providers" if live and not report.unasked else ""
        self.stdout.write(self.style.SUCCESS(f"All {report.total} active credentials decrypt{checked}."))
        if report.stale:
            self.stdout.write(f"{report.stale} of them should be rewrapped: run `python manage.py rewrap_credentials`.")


class Report:
    """What a run found, for its last lines and its exit status."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.checked = 0
        self.stale = 0
        self.undecryptable: list[str] = []
        self.rejected: list[str] = []
        self.unasked: list[str] = []
        self.expiring: list[str] = []


def name(row: TenantModelCredential) -> str:
    return f"{row.tenant.slug}/{row.provider}"
