from django.core.management.base import BaseCommand, CommandError

from credentials.services import Actor
from providers import Provider
from routing.policy import tenant_policy_save
from routing.policy_rules import DEFAULT, PolicyError, parse_pin_argument, policy_read, split_list
from tenants.management import tenant_for_command


class Command(BaseCommand):
    help = (
        "Show a tenant's policy (which providers and models its requests may use, and alias pins), or "
        "change it and show the result. Each change is an audit event; the console has the same at "
        "/t/SLUG/policy/. A policy that would refuse the tenant's own default model is refused."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", metavar="SLUG", help="The tenant's slug.")
        parser.add_argument(
            "--providers",
            metavar="P,...",
            help=f"Allow only these providers ({','.join(Provider.values)}); '' allows every provider the tenant "
            "has a key for.",
        )
        parser.add_argument(
            "--models",
            metavar="GLOB,...",
            help="Allow only models matching these patterns over the model sent (claude-*,openai/*); '' allows any.",
        )
        parser.add_argument(
            "--pin",
            action="append",
            default=[],
            metavar="ALIAS=ID",
            help="Keep an alias on one model until unpinned, e.g. opus=claude-opus-4-8; repeat for several.",
        )
        parser.add_argument(
            "--unpin", action="append", default=[], metavar="ALIAS", help="Let an alias follow the newest model again."
        )
        parser.add_argument(
            "--clear", action="store_true", help="Start from the default policy (no restriction, no pin)."
        )

    def handle(self, *, slug, providers, models, pin, unpin, clear, **options):
        tenant = tenant_for_command(slug)
        current = policy_read(tenant)
        if providers is None and models is None and not pin and not unpin and not clear:
            self.show(f"Policy of {tenant.slug}:", current)
            return
        try:
            proposed = (DEFAULT if clear else current).changed(
                providers=split_list(providers) if providers is not None else None,
                models=split_list(models) if models is not None else None,
                pin=dict(parse_pin_argument(text) for text in pin),
                unpin=unpin,
            )
            changed = tenant_policy_save(tenant=tenant, policy=proposed, actor=Actor.command("tenant_policy"))
        except PolicyError as exc:
            raise CommandError(str(exc)) from None
        if changed:
            self.show(self.style.SUCCESS(f"Changed the policy of {tenant.slug}:"), policy_read(tenant))
        else:
            self.show(f"The policy of {tenant.slug} is that already; nothing changed:", current)

    def show(self, title: str, policy) -> None:
        self.stdout.write(title)
        for part, words in policy.describe().items():
            self.stdout.write(f"  {part:<10} {words}")
