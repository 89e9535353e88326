import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from providers import Provider
from routing.aliases import meaning_of
from routing.service import RoutingError, resolve, resolve_agent
from routing.sinatrarc import MAX_SINATRARC_BYTES, agent_config
from tenants.management import tenant_for_command

SOURCE_LABELS = {
    "tenant": "tenant credential",
    "environment": "from the environment, single-tenant mode",
    "host": "the host's claude login",
}


class Command(BaseCommand):
    help = (
        "Show which provider and concrete model a tenant's request would use, and why, exactly as "
        "workers get it. Never prints a key (only its hint)."
    )
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, metavar="SLUG", help="The tenant's slug.")
        parser.add_argument(
            "--sinatrarc", metavar="PATH", help="A .sinatrarc file to resolve ('-' reads standard input)."
        )
        parser.add_argument("--model", metavar="M", help="A model name, as agent.model would give it.")
        parser.add_argument(
            "--model-provider", metavar="P", help="anthropic or openrouter, as agent.model_provider would give it."
        )
        parser.add_argument(
            "--json", dest="as_json", action="store_true", help="Print every Resolution field but the key, as JSON."
        )

    def handle(self, *, tenant, sinatrarc, model, model_provider, as_json, **options):
        tenant_row = tenant_for_command(tenant)
        if sinatrarc and (model or model_provider):
            raise CommandError("Give --sinatrarc, or --model (with --model-provider); not both.")
        try:
            # Shown, not handed to anyone: no key release is counted and last_used_at is left alone.
            if sinatrarc:
                text = self.read_sinatrarc(sinatrarc, options.get("stdin") or sys.stdin)
                resolution = resolve(tenant_row, text, record_use=False)
            else:
                given = {key: value for key, value in (("model", model), ("model_provider", model_provider)) if value}
                resolution = resolve_agent(tenant_row, agent_config(given), record_use=False)
        except RoutingError as exc:
            raise CommandError(str(exc)) from None
        if as_json:
            self.stdout.write(json.dumps(resolution.as_dict(), indent=2))
            return
        self.stdout.write(
            f"{tenant_row.slug}: {resolution.requested} -> {Provider(resolution.provider).label} {resolution.model}"
        )
        self.stdout.write(f"  base URL  {resolution.base_url}")
        key = resolution.key_hint or "none: the worker uses"
        self.stdout.write(f"  key       {key} ({SOURCE_LABELS[resolution.credential_source]})")
        self.stdout.write(f"  why       {resolution.reason}")
        change = meaning_of(provider=resolution.provider, alias=resolution.requested.lower())
        if change is not None and change.new == resolution.model:
            self.stdout.write(f"  alias     {change}")
        for warning in resolution.warnings:
            self.stdout.write(self.style.WARNING(f"  warning   {warning}"))

    def read_sinatrarc(self, path: str, stdin) -> bytes:
        if path == "-":
            # Bytes where there are any: the parser, not the terminal's decoder, judges the text.
            data = getattr(stdin, "buffer", stdin).read(MAX_SINATRARC_BYTES + 1)
            return data.encode("utf-8") if isinstance(data, str) else data
        file = Path(path)
        if not file.is_file():
            raise CommandError(f"No file at {path}.")
        with file.open("rb") as handle:
            return handle.read(MAX_SINATRARC_BYTES + 1)
