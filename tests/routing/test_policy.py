"""The tenant's policy: allowed providers, allowed model patterns and alias pins, applied by resolve()
after the rules; changed through one service (an audit event each time) by the console and
`tenant_policy`; never so that it refuses the tenant's own default model."""

from __future__ import annotations

import json

import pytest
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from credentials.services import Actor, credential_revoke
from routing import release
from routing.errors import MissingCredential, PolicyDenied, RoutingError
from routing.models import AliasPin, PolicyEvent, TenantPolicy
from routing.policy import tenant_policy_save
from routing.policy_rules import DEFAULT, Policy, PolicyError, parse_pin_argument, policy_read
from routing.preview import compare_policies
from routing.rules import ANTHROPIC, OPENROUTER
from routing.service import resolve
from tenants.models import Tenant
from tests.helpers import sinatrarc

pytestmark = pytest.mark.django_db

OPERATOR = Actor.command("test")


def save(tenant: Tenant, **parts) -> bool:
    return tenant_policy_save(tenant=tenant, policy=DEFAULT.changed(**parts), actor=OPERATOR)


@pytest.fixture
def both_keys(tenant, store_key):
    store_key(tenant, ANTHROPIC)
    store_key(tenant, OPENROUTER)
    return tenant


# --- The policy's values.


@pytest.mark.parametrize(
    ("parts", "field", "message"),
    [
        ({"providers": ["openai"]}, "providers", "'openai' is not a provider Sinatra knows: choose from anthropic"),
        ({"models": ["claude opus"]}, "models", "is not a model pattern"),
        ({"models": ["claude-*,"]}, "models", "is not a model pattern"),
        ({"pin": {"gpt": "claude-opus-4-8"}}, "pins", "'gpt' is not an alias: the aliases are opus, sonnet, haiku"),
        ({"pin": {"opus": "claude-sonnet-4-6"}}, "pins", "opus can be pinned only to a Claude Opus model id"),
        ({"pin": {"opus": "gpt-5"}}, "pins", "opus can be pinned only to a Claude Opus model id"),
        ({"pin": {"opus": "openai/gpt-5"}}, "pins", "opus can be pinned only to a Claude Opus model id"),
    ],
)
def test_values_a_policy_cannot_take_are_refused_with_the_part_and_why(parts, field, message):
    with pytest.raises(PolicyError, match=message) as refused:
        DEFAULT.changed(**parts)

    assert refused.value.field == field


def test_values_are_normalised():
    policy = DEFAULT.changed(
        providers=[" Anthropic ", "anthropic"],
        models=[" claude-* ", "claude-*", "openai/*"],
        pin={"Opus": "anthropic/claude-opus-4.7"},
    )

    assert policy == Policy(
        providers=frozenset({ANTHROPIC}), models=("claude-*", "openai/*"), pins={"opus": "claude-opus-4-7"}
    )


@pytest.mark.parametrize(
    ("text", "pin"),
    [
        ("opus=claude-opus-4-8", ("opus", "claude-opus-4-8")),
        (" haiku = claude-haiku-4-5 ", ("haiku", "claude-haiku-4-5")),
    ],
)
def test_a_pin_argument_is_alias_equals_id(text, pin):
    assert parse_pin_argument(text) == pin


@pytest.mark.parametrize("text", ["opus", "opus=", "=claude-opus-4-8", ""])
def test_a_pin_argument_without_both_halves_is_refused(text):
    with pytest.raises(PolicyError, match="write ALIAS=ID"):
        parse_pin_argument(text)


# --- resolve(): refusals, named and with who may change them.

REFUSALS = [
    # (policy, the tenant's default model (one the policy allows), sinatrarc model, model_provider, the rule named)
    (
        {"providers": [OPENROUTER]},
        "openai/gpt-5",
        "opus",
        None,
        "Tenant acme's policy allows only OpenRouter; opus goes to Anthropic (bare names go to Anthropic directly): "
        "write model_provider: openrouter to send it there.",
    ),
    (
        {"providers": [ANTHROPIC]},
        "",
        "openai/gpt-5",
        None,
        "Tenant acme's policy allows only Anthropic; openai/gpt-5 goes to OpenRouter (slugs go to OpenRouter).",
    ),
    (
        {"providers": [ANTHROPIC]},
        "",
        "opus",
        OPENROUTER,
        "Tenant acme's policy allows only Anthropic; opus goes to OpenRouter (model_provider: openrouter sends it "
        "through OpenRouter): write model_provider: anthropic to send it there.",
    ),
    (
        {"models": ["claude-sonnet-*", "openai/*"]},
        "",
        "opus",
        None,
        "Tenant acme's policy allows only models matching claude-sonnet-*, openai/*; opus means claude-opus-4-8 on "
        "Anthropic, which matches none of them.",
    ),
    (
        {"models": ["claude-*"]},
        "",
        "opus",
        OPENROUTER,
        "Tenant acme's policy allows only models matching claude-*; opus means anthropic/claude-opus-4.8 on "
        "OpenRouter, which matches none of them.",
    ),
    (
        {"models": ["anthropic/*"]},
        "anthropic/claude-sonnet-4.6",
        "meta-llama/llama-3.1-405b-instruct",
        None,
        "Tenant acme's policy allows only models matching anthropic/*; meta-llama/llama-3.1-405b-instruct means "
        "meta-llama/llama-3.1-405b-instruct on OpenRouter, which matches none of them.",
    ),
]


@pytest.mark.parametrize(("parts", "default_model", "model", "model_provider", "rule"), REFUSALS)
def test_a_request_the_policy_does_not_allow_is_refused_naming_the_rule(
    providers, both_keys, parts, default_model, model, model_provider, rule
):
    both_keys.default_model = default_model
    both_keys.save()
    save(both_keys, **parts)

    with pytest.raises(PolicyDenied) as refused:
        resolve(both_keys, sinatrarc(model, model_provider), caller="worker")

    assert refused.value.rule == rule
    assert str(refused.value) == (
        f"{rule} An owner or admin of the tenant can change the policy at http://testserver/t/acme/policy/."
    )
    assert isinstance(refused.value, RoutingError)
    assert (refused.value.code, refused.value.status) == ("policy_denied", 403)
    assert release.pending() == {}  # no key released


@pytest.mark.parametrize(
    ("parts", "model", "model_provider", "served"),
    [
        ({"providers": [ANTHROPIC]}, "opus", None, (ANTHROPIC, "claude-opus-4-8")),
        ({"providers": [OPENROUTER]}, "opus", OPENROUTER, (OPENROUTER, "anthropic/claude-opus-4.8")),
        ({"providers": [ANTHROPIC, OPENROUTER]}, "openai/gpt-5", None, (OPENROUTER, "openai/gpt-5")),
        ({"models": ["claude-*", "openai/*"]}, "sonnet", None, (ANTHROPIC, "claude-sonnet-4-6")),
        ({"models": ["claude-*", "openai/*"]}, "openai/gpt-5", None, (OPENROUTER, "openai/gpt-5")),
        ({"models": ["anthropic/claude-opus-4.?"]}, "opus", OPENROUTER, (OPENROUTER, "anthropic/claude-opus-4.8")),
    ],
)
def test_what_the_policy_allows_resolves_as_usual(providers, both_keys, parts, model, model_provider, served):
    both_keys.default_model = "opus" if model_provider is None else "anthropic/claude-opus-4.8"
    both_keys.save()
    save(both_keys, **parts)

    resolution = resolve(both_keys, sinatrarc(model, model_provider))

    assert (resolution.provider, resolution.model) == served


def test_the_openrouter_fallback_is_not_taken_where_the_policy_forbids_openrouter(providers, tenant, store_key):
    anthropic = store_key(tenant, ANTHROPIC)
    store_key(tenant, OPENROUTER)
    save(tenant, providers=[ANTHROPIC])
    credential_revoke(credential=anthropic, actor=OPERATOR)  # now only an OpenRouter key: opus would fall back

    with pytest.raises(PolicyDenied) as refused:
        resolve(tenant, sinatrarc("opus"), caller="worker")

    assert refused.value.rule == (
        "opus would go through OpenRouter, because tenant acme has no Anthropic key, but its policy allows only "
        "Anthropic: add an Anthropic key, or allow OpenRouter."
    )
    assert release.pending() == {}


def test_the_fallback_is_taken_where_the_policy_allows_openrouter(providers, tenant, store_key):
    store_key(tenant, OPENROUTER)
    save(tenant, providers=[OPENROUTER])

    resolution = resolve(tenant, sinatrarc("opus"))

    assert (resolution.provider, resolution.model) == (OPENROUTER, "anthropic/claude-opus-4.8")
    assert "has only an OpenRouter key" in resolution.reason


def test_an_allowed_provider_without_a_key_is_still_a_missing_key(providers, tenant):
    save(tenant, providers=[ANTHROPIC])  # no key at all: the default model is not the policy's to refuse

    with pytest.raises(MissingCredential):
        resolve(tenant, sinatrarc("opus"))


# --- Pins.


def test_a_pinned_alias_keeps_its_model_while_the_catalog_rolls_forward(providers, both_keys):
    save(both_keys, pin={"opus": "claude-opus-4-7"})

    pinned = resolve(both_keys, sinatrarc("opus"))
    through_openrouter = resolve(both_keys, sinatrarc("opus", OPENROUTER))
    unpinned = resolve(both_keys, sinatrarc("sonnet"))

    assert (pinned.provider, pinned.model) == (ANTHROPIC, "claude-opus-4-7")
    assert "pinned by tenant acme's policy to claude-opus-4-7" in pinned.reason
    assert pinned.warnings == ()
    assert (through_openrouter.provider, through_openrouter.model) == (OPENROUTER, "anthropic/claude-opus-4.7")
    assert unpinned.model == "claude-sonnet-4-6"


def test_a_pin_serves_the_openrouter_fallback_too(providers, tenant, store_key):
    store_key(tenant, OPENROUTER)
    save(tenant, pin={"opus": "claude-opus-4-7"})

    resolution = resolve(tenant, sinatrarc("opus"))

    assert (resolution.provider, resolution.model) == (OPENROUTER, "anthropic/claude-opus-4.7")
    assert "pinned by tenant acme's policy to claude-opus-4-7" in resolution.reason


def test_a_pin_the_providers_list_does_not_know_is_sent_with_a_warning(providers, both_keys):
    resolve(both_keys, sinatrarc("opus"))  # Anthropic's list is cached
    save(both_keys, pin={"opus": "claude-opus-4-9"})

    resolution = resolve(both_keys, sinatrarc("opus"))

    assert resolution.model == "claude-opus-4-9"
    assert resolution.warnings == ("claude-opus-4-9 is not in Anthropic's model list; sent as given.",)


def test_pins_are_checked_against_the_allowed_models(providers, both_keys):
    save(both_keys, models=["claude-opus-4-7", "claude-sonnet-*"], pin={"opus": "claude-opus-4-7"})

    assert resolve(both_keys, sinatrarc("opus")).model == "claude-opus-4-7"
    save(both_keys, models=["claude-opus-4-7", "claude-sonnet-*"], pin={"opus": "claude-opus-4-8"})
    with pytest.raises(PolicyDenied, match="opus means claude-opus-4-8"):
        resolve(both_keys, sinatrarc("opus"))


def test_a_pin_leaves_concrete_ids_alone(providers, both_keys):
    save(both_keys, pin={"opus": "claude-opus-4-7"})

    assert resolve(both_keys, sinatrarc("claude-opus-4-8")).model == "claude-opus-4-8"


# --- Reading the policy costs a warm resolve nothing; a change is seen at once.


def test_a_warm_resolve_reads_no_policy_row(providers, both_keys):
    save(both_keys, models=["claude-*"])
    resolve(both_keys)

    with CaptureQueriesContext(connection) as queries:
        for _ in range(10):
            resolve(both_keys)

    assert len(queries) == 10  # the credential SELECT, nothing else
    assert not [query for query in queries.captured_queries if TenantPolicy._meta.db_table in query["sql"]]


def test_a_change_is_seen_by_the_next_resolve_of_a_tenant_read_afterwards(providers, both_keys):
    assert resolve(both_keys, sinatrarc("openai/gpt-5")).provider == OPENROUTER
    fresh = Tenant.objects.get(pk=both_keys.pk)

    save(fresh, providers=[ANTHROPIC])

    with pytest.raises(PolicyDenied):
        resolve(Tenant.objects.get(pk=both_keys.pk), sinatrarc("openai/gpt-5"))
    with pytest.raises(PolicyDenied):
        resolve(fresh, sinatrarc("openai/gpt-5"))  # the object the change went through


# --- The service: an event for each change, none for no change; never against the default model.


def test_saving_a_policy_writes_an_event_with_before_and_after(providers, both_keys):
    assert save(both_keys, providers=[ANTHROPIC], pin={"opus": "claude-opus-4-7"})

    event = PolicyEvent.objects.get()
    assert (event.tenant, event.actor) == (both_keys, "command:test")
    assert event.before == "providers: any provider the tenant has a key for; models: any model; pins: none"
    assert event.after == "providers: Anthropic; models: any model; pins: opus = claude-opus-4-7"
    assert policy_read(both_keys) == Policy(frozenset({ANTHROPIC}), (), {"opus": "claude-opus-4-7"})


def test_saving_the_same_policy_again_changes_nothing_and_writes_no_event(providers, both_keys):
    save(both_keys, models=["claude-*"])

    assert not save(both_keys, models=["claude-*"])

    assert PolicyEvent.objects.count() == 1


def test_saving_the_default_removes_the_stored_policy(providers, both_keys):
    save(both_keys, models=["claude-*"], pin={"haiku": "claude-haiku-4-5-20251001"})

    assert save(both_keys)

    assert not TenantPolicy.objects.exists()
    assert not AliasPin.objects.exists()
    assert policy_read(both_keys) == DEFAULT
    assert PolicyEvent.objects.count() == 2


@pytest.mark.parametrize(
    ("default_model", "parts"),
    [
        ("", {"models": ["openai/*"]}),
        ("opus", {"providers": [OPENROUTER]}),
        ("openai/gpt-5", {"providers": [ANTHROPIC]}),
        ("opus", {"models": ["claude-opus-4-7"]}),
    ],
)
def test_a_policy_that_would_refuse_the_tenants_default_model_is_not_saved(providers, both_keys, default_model, parts):
    both_keys.default_model = default_model
    both_keys.save()

    with pytest.raises(PolicyError, match=r"This policy would refuse the tenant's own default model \((\w|/|-)+\)"):
        save(both_keys, **parts)

    assert not TenantPolicy.objects.exists()
    assert not PolicyEvent.objects.exists()


def test_a_pin_can_make_the_default_model_allowed(providers, both_keys):
    both_keys.default_model = "opus"
    both_keys.save()

    assert save(both_keys, models=["claude-opus-4-7"], pin={"opus": "claude-opus-4-7"})


# --- The preview shows what a policy would change.


def test_the_preview_compares_the_policy_now_with_a_proposed_one(providers, both_keys):
    save(both_keys, pin={"haiku": "claude-haiku-4-5-20251001"})

    rows = {
        row.example: row
        for row in compare_policies(
            both_keys, proposed=DEFAULT.changed(providers=[ANTHROPIC], pin={"opus": "claude-opus-4-7"})
        )
    }

    assert rows["model: opus"].now.summary == "Anthropic, claude-opus-4-8"
    assert rows["model: opus"].proposed.summary == "Anthropic, claude-opus-4-7"
    assert rows["model: openai/gpt-5"].now.summary == "OpenRouter, openai/gpt-5"
    assert rows["model: openai/gpt-5"].proposed.refused
    assert rows["model: openai/gpt-5"].proposed.summary.startswith("refused by the policy: Tenant acme's policy allows")
    assert rows["model: haiku"].now.summary == "Anthropic, claude-haiku-4-5-20251001"
    assert [row.example for row in rows.values() if row.changes] == [
        "model: opus",
        "model: openai/gpt-5",
        "model: opus, model_provider: openrouter",
    ]
    assert policy_read(both_keys).pins == {"haiku": "claude-haiku-4-5-20251001"}  # nothing saved
    assert release.pending() == {}


# --- tenant_policy, for operators.


def test_tenant_policy_shows_the_default_policy(run_command, tenant):
    out, _ = run_command("tenant_policy", "acme")

    assert out.splitlines() == [
        "Policy of acme:",
        "  providers  any provider the tenant has a key for",
        "  models     any model",
        "  pins       none",
    ]


def test_tenant_policy_changes_the_policy_and_shows_the_result(run_command, providers, both_keys):
    out, _ = run_command(
        "tenant_policy",
        "acme",
        "--providers",
        "anthropic,openrouter",
        "--models",
        "claude-*,openai/*",
        "--pin",
        "opus=claude-opus-4-7",
        "--pin",
        "haiku=claude-haiku-4-5-20251001",
    )

    assert out.splitlines() == [
        "Changed the policy of acme:",
        "  providers  Anthropic, OpenRouter",
        "  models     claude-*, openai/*",
        "  pins       haiku = claude-haiku-4-5-20251001, opus = claude-opus-4-7",
    ]
    assert PolicyEvent.objects.get().actor == "command:tenant_policy"
    assert resolve(Tenant.objects.get(slug="acme"), sinatrarc("opus")).model == "claude-opus-4-7"


def test_tenant_policy_changes_only_what_it_is_given(run_command, providers, both_keys):
    run_command("tenant_policy", "acme", "--models", "claude-*,openai/*", "--pin", "opus=claude-opus-4-7")

    run_command("tenant_policy", "acme", "--unpin", "opus", "--providers", "anthropic")
    assert policy_read(both_keys) == Policy(frozenset({ANTHROPIC}), ("claude-*", "openai/*"), {})
    run_command("tenant_policy", "acme", "--providers", "")
    assert policy_read(both_keys) == Policy(frozenset(), ("claude-*", "openai/*"), {})
    run_command("tenant_policy", "acme", "--clear", "--pin", "sonnet=claude-sonnet-4-5-20250929")
    assert policy_read(both_keys) == Policy(frozenset(), (), {"sonnet": "claude-sonnet-4-5-20250929"})
    run_command("tenant_policy", "acme", "--clear")
    assert policy_read(both_keys) == DEFAULT
    assert PolicyEvent.objects.count() == 5


def test_tenant_policy_run_again_says_nothing_changed(run_command, providers, both_keys):
    run_command("tenant_policy", "acme", "--models", "claude-*")

    out, _ = run_command("tenant_policy", "acme", "--models", "claude-*")

    assert out.splitlines()[0] == "The policy of acme is that already; nothing changed:"
    assert PolicyEvent.objects.count() == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--providers", "openai"), "'openai' is not a provider Sinatra knows"),
        (("--models", "claude opus"), "is not a model pattern"),
        (("--pin", "opus"), "write ALIAS=ID"),
        (("--pin", "gpt=claude-opus-4-8"), "'gpt' is not an alias"),
        (("--unpin", "gpt"), "'gpt' is not an alias"),
        (("--models", "openai/*"), "would refuse the tenant's own default model (sonnet)"),
    ],
)
def test_tenant_policy_refuses_what_it_cannot_take_and_changes_nothing(
    run_command, providers, both_keys, args, message
):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
        run_command("tenant_policy", "acme", *args)

    assert not TenantPolicy.objects.exists()
    assert not PolicyEvent.objects.exists()


def test_tenant_policy_of_an_unknown_tenant_says_how_to_create_it(run_command, db):
    with pytest.raises(CommandError, match="create_tenant nobody"):
        run_command("tenant_policy", "nobody")


# --- HTTP: 403 policy_denied.


def test_the_api_answers_a_policy_refusal_with_403_policy_denied(client, providers, both_keys, service_token):
    save(both_keys, providers=[ANTHROPIC])

    response = client.post(
        "/api/v1/resolve",
        data=json.dumps({"tenant": "acme", "model": "openai/gpt-5"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {service_token}"},
    )

    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "policy_denied"
    assert "allows only Anthropic" in body["detail"]
    assert "http://testserver/t/acme/policy/" in body["detail"]
    assert "api_key" not in body
