import getpass
import sys

from django.core.management.base import BaseCommand, CommandError
from django.views.decorators.debug import sensitive_variables

from credentials.errors import CredentialError, VerificationUnavailable
from credentials.services import Actor, credential_submit
from providers import Provider, spec
from providers.keys import MAX_KEY_LENGTH
from tenants.errors import TenantError
from tenants.management import tenant_for_command
from tenants.services import tenant_require_active


class Command(BaseCommand):
    help = (
        "Store a tenant's API key for a provider, envelope-encrypted. The key is read from "
        "standard input (never from the command line); it replaces the tenant's active key for "
        "that provider, which is revoked in the same transaction. With --verify the provider "
        "checks the key first, spending no tokens. A deactivated tenant gets no key: reactivate it first."
    )
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, metavar="SLUG", help="The tenant's slug.")
        parser.add_argument("--provider", required=True, choices=Provider.values, help="Which provider the key is for.")
        parser.add_argument(
            "--verify",
            action="store_true",
            help="Check the key with the provider first (no tokens spent); a rejected key is not stored.",
        )
        parser.add_argument(
            "--allow-unverified",
            action="store_true",
            help="With --verify: if the provider cannot be reached, store the key marked unverified.",
        )

    @sensitive_variables("raw")
    def handle(self, *, tenant, provider, verify, allow_unverified, **options):
        if allow_unverified and not verify:
            raise CommandError("--allow-unverified only makes sense with --verify.")
        tenant_row = tenant_for_command(tenant)
        entry = spec(provider)
        try:
            tenant_require_active(tenant_row)  # before the key is asked for
            raw = self.read_key(options.get("stdin") or sys.stdin, entry.key_label)
            credential, replaced = credential_submit(
                tenant=tenant_row,
                provider=provider,
                raw=raw,
                actor=Actor.command("seed_credential"),
                verify=verify,
                allow_unverified=allow_unverified,
            )
        except (CredentialError, TenantError) as exc:
            raise self.refusal(exc) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Stored {entry.key_label} {credential.key_hint} for tenant {tenant_row.slug} "
                f"(credential {credential.id}, {credential.kek_id})."
            )
        )
        if verify:
            state = "verified with" if credential.validated_at else "NOT verified: could not reach"
            self.stdout.write(f"The key is {state} {entry.label}.")
        else:
            self.stdout.write(
                f"It was stored without a live check: add --verify to have {entry.label} check a key first, or "
                "re-verify it from the tenant's credentials page."
            )
        if replaced is not None:
            self.stdout.write(f"It replaces {replaced.key_hint}, which is now revoked.")

    @staticmethod
    def refusal(exc: CredentialError | TenantError) -> CommandError:
        """The one line a refused key ends the command with."""
        if isinstance(exc, VerificationUnavailable):
            return CommandError(
                f"{exc} Nothing was stored: run it again later, or add --allow-unverified to store the key unverified."
            )
        return CommandError(f"{exc} Nothing was stored.")

    @sensitive_variables("raw")
    def read_key(self, stream, label: str) -> str:
        """Read the key from a pipe, or prompt without echo on a terminal."""
        if stream.isatty():
            return getpass.getpass(f"Paste the {label} (input is hidden): ")
        # Read a little past the limit, so an oversized input is refused rather than cut.
        raw = stream.read(MAX_KEY_LENGTH * 4)
        if not raw:
            raise CommandError(
                f"No key on standard input: pipe the {label} in, e.g. `python manage.py seed_credential ... < key.txt`."
            )
        return raw
