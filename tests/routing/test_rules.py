"""The routing rules of DESIGN.md, walked as tables through `resolve()`.

Two tables: the design's own examples with their expected answers written out, and the rules
table of routing/rules.py, every row of which must be exercised and behave as it says.
"""

import pytest

from routing import rules
from routing.errors import ConfigError, MissingCredential, UnsupportedProvider
from routing.rules import ANTHROPIC, OPENROUTER, ROUTES, Kind, Target
from routing.service import resolve
from tests.helpers import sinatrarc


@pytest.fixture
def both_keys(tenant, store_key):
    store_key(tenant, ANTHROPIC)
    store_key(tenant, OPENROUTER)
    return tenant


# The design's examples, answers written out by hand from DESIGN.md and the fake lists above.
EXAMPLES = [
    # rule 1: default sonnet
    (None, None, ANTHROPIC, "claude-sonnet-4-6", []),
    # rule 2/3: bare aliases to Anthropic, newest of the family by list order
    ("opus", None, ANTHROPIC, "claude-opus-4-8", []),
    ("sonnet", None, ANTHROPIC, "claude-sonnet-4-6", []),
    ("haiku", None, ANTHROPIC, "claude-haiku-4-5-20251001", []),
    ("Opus", None, ANTHROPIC, "claude-opus-4-8", []),
    # rule 2: concrete claude- ids as given
    ("claude-sonnet-4-5-20250929", None, ANTHROPIC, "claude-sonnet-4-5-20250929", []),
    ("claude-opus-4-7", "anthropic", ANTHROPIC, "claude-opus-4-7", []),
    # rule 3: model_provider: openrouter forces OpenRouter, under OpenRouter's slug
    ("opus", "openrouter", OPENROUTER, "anthropic/claude-opus-4.8", []),
    ("haiku", "openrouter", OPENROUTER, "anthropic/claude-haiku-4.5", []),
    ("claude-opus-4-7", "openrouter", OPENROUTER, "anthropic/claude-opus-4.7", []),
    ("claude-sonnet-4-5-20250929", "openrouter", OPENROUTER, "anthropic/claude-sonnet-4.5", []),
    # rule 4: slugs to OpenRouter, as given, dashed Claude slugs normalised with a warning
    ("openai/gpt-5", None, OPENROUTER, "openai/gpt-5", []),
    ("meta-llama/llama-3.1-405b-instruct", None, OPENROUTER, "meta-llama/llama-3.1-405b-instruct", []),
    ("anthropic/claude-opus-4.7", None, OPENROUTER, "anthropic/claude-opus-4.7", []),
    ("anthropic/claude-opus-4-7", None, OPENROUTER, "anthropic/claude-opus-4.7", ["anthropic/claude-opus-4.7"]),
    ("anthropic/claude-opus-4-7", "openrouter", OPENROUTER, "anthropic/claude-opus-4.7", ["anthropic/claude-opus-4.7"]),
    ("google/gemini-9-ultra", None, OPENROUTER, "google/gemini-9-ultra", ["not in OpenRouter's model list"]),
    # a Claude slug with model_provider: anthropic goes to Anthropic under its dashed id
    ("anthropic/claude-opus-4.7", "anthropic", ANTHROPIC, "claude-opus-4-7", []),
]


@pytest.mark.parametrize(("model", "provider", "expected_provider", "expected_model", "warning_parts"), EXAMPLES)
def test_design_examples_resolve_as_written(
    providers, both_keys, model, provider, expected_provider, expected_model, warning_parts
):
    resolution = resolve(both_keys, sinatrarc(model, provider))
    assert (resolution.provider, resolution.model) == (expected_provider, expected_model)
    assert resolution.requested == (model or "sonnet")
    assert resolution.credential_source == "tenant"
    assert resolution.api_key is not None
    assert resolution.key_hint == resolution.api_key.hint
    assert resolution.base_url == (
        "https://api.anthropic.test" if expected_provider == ANTHROPIC else "https://openrouter.test/api/v1"
    )
    for part in warning_parts:
        assert any(part in warning for warning in resolution.warnings), resolution.warnings
    if not warning_parts:
        assert resolution.warnings == ()
    assert resolution.reason.endswith(".")
    assert expected_model in resolution.reason


@pytest.mark.parametrize(
    ("model", "provider", "error", "message_parts"),
    [
        # rule 2: other bare names say what to write instead
        ("gpt-5", None, ConfigError, ["openai/gpt-5", "OpenRouter"]),
        ("o3-mini", None, ConfigError, ["openai/o3-mini"]),
        ("gemini-2.5-pro", None, ConfigError, ["google/gemini-2.5-pro"]),
        ("llama-3.1-405b-instruct", None, ConfigError, ["meta-llama/llama-3.1-405b-instruct"]),
        ("frobnicator", None, ConfigError, ["opus, sonnet, haiku or fable", "claude-", "openai/gpt-5"]),
        ("gpt-5", "openrouter", ConfigError, ["openai/gpt-5"]),
        # rule 5: direct OpenAI is refused with the way forward; other providers are unknown
        ("openai/gpt-5", "openai", UnsupportedProvider, ["OpenRouter key", "openai/<model>"]),
        ("opus", "openai", UnsupportedProvider, ["OpenRouter key"]),
        ("opus", "bedrock", ConfigError, ["anthropic or openrouter"]),
        # a non-Claude slug cannot be sent to Anthropic
        ("openai/gpt-5", "anthropic", ConfigError, ["not a Claude model", "model_provider: anthropic"]),
        # malformed slugs
        ("openai/", None, ConfigError, ["vendor/model"]),
        ("a/b/c", None, ConfigError, ["vendor/model"]),
    ],
)
def test_names_that_cannot_be_routed_say_what_to_do(providers, both_keys, model, provider, error, message_parts):
    with pytest.raises(error) as excinfo:
        resolve(both_keys, sinatrarc(model, provider))
    for part in message_parts:
        assert part in str(excinfo.value)


EXAMPLE_NAMES = {
    Kind.ALIAS: "opus",
    Kind.CLAUDE_ID: "claude-opus-4-7",
    Kind.ANTHROPIC_SLUG: "anthropic/claude-opus-4.7",
    Kind.SLUG: "openai/gpt-5",
    Kind.NOT_CLAUDE: "gpt-5",
}
EXPECTED_MODEL_BY_TARGET = {
    # what each Target yields for the example name of its kind, given the fake lists
    (Target.NEWEST_ANTHROPIC, "opus"): "claude-opus-4-8",
    (Target.NEWEST_OPENROUTER, "opus"): "anthropic/claude-opus-4.8",
    (Target.ANTHROPIC_ID, "claude-opus-4-7"): "claude-opus-4-7",
    (Target.OPENROUTER_SLUG_OF_ID, "claude-opus-4-7"): "anthropic/claude-opus-4.7",
    (Target.OPENROUTER_SLUG, "anthropic/claude-opus-4.7"): "anthropic/claude-opus-4.7",
    (Target.OPENROUTER_SLUG, "openai/gpt-5"): "openai/gpt-5",
    (Target.ANTHROPIC_ID_OF_SLUG, "anthropic/claude-opus-4.7"): "claude-opus-4-7",
}


@pytest.mark.parametrize(("kind", "model_provider"), list(ROUTES), ids=lambda value: str(value))
def test_every_row_of_the_rules_table_routes_as_it_says(providers, both_keys, kind, model_provider):
    route = ROUTES[(kind, model_provider)]
    name = EXAMPLE_NAMES[kind]
    assert rules.classify(name) is kind
    resolution = resolve(both_keys, sinatrarc(name, model_provider))
    assert resolution.provider == route.provider
    assert resolution.model == EXPECTED_MODEL_BY_TARGET[(route.target, name)]
    assert route.because in resolution.reason


@pytest.mark.parametrize("kind", list(Kind), ids=str)
@pytest.mark.parametrize("model_provider", [None, ANTHROPIC, OPENROUTER])
def test_the_table_covers_every_kind_and_provider_or_refuses_it(providers, both_keys, kind, model_provider):
    name = EXAMPLE_NAMES[kind]
    if (kind, model_provider) in ROUTES:
        assert resolve(both_keys, sinatrarc(name, model_provider)).provider == ROUTES[(kind, model_provider)].provider
    else:
        with pytest.raises(ConfigError):
            resolve(both_keys, sinatrarc(name, model_provider))


# Rule 1: where the model comes from.


def test_tenant_default_model_is_used_when_sinatrarc_names_none(providers, both_keys):
    both_keys.default_model = "openai/gpt-5"
    both_keys.save()
    for text in (None, "", "agent:\n", "agent:\n  model_provider: openrouter\n", "lint:\n  strict: true\n"):
        resolution = resolve(both_keys, text)
        assert (resolution.provider, resolution.model) == (OPENROUTER, "openai/gpt-5")
        assert "the tenant's default model" in resolution.reason


def test_sinatrarc_model_wins_over_the_tenant_default(providers, both_keys):
    both_keys.default_model = "openai/gpt-5"
    both_keys.save()
    resolution = resolve(both_keys, sinatrarc("haiku"))
    assert resolution.model == "claude-haiku-4-5-20251001"
    assert "from .sinatrarc" in resolution.reason


def test_default_is_sonnet_when_nothing_names_a_model(providers, both_keys):
    resolution = resolve(both_keys)
    assert (resolution.requested, resolution.model) == ("sonnet", "claude-sonnet-4-6")
    assert "the default model" in resolution.reason


# Rule 6: keys.


@pytest.mark.parametrize("model", ["opus", "sonnet", "claude-opus-4-7"])
def test_bare_claude_names_go_through_openrouter_when_that_is_the_only_key(providers, tenant, store_key, model):
    store_key(tenant, OPENROUTER)
    resolution = resolve(tenant, sinatrarc(model))
    assert resolution.provider == OPENROUTER
    assert resolution.model.startswith("anthropic/claude-")
    assert "only an OpenRouter key" in resolution.reason
    assert "one key is enough" in resolution.reason


def test_no_fallback_when_model_provider_asks_for_anthropic(providers, tenant, store_key):
    store_key(tenant, OPENROUTER)
    with pytest.raises(MissingCredential, match="no Anthropic API key") as excinfo:
        resolve(tenant, sinatrarc("opus", "anthropic"))
    assert "seed_credential --tenant acme --provider anthropic" in str(excinfo.value)
    assert "/t/acme/credentials/" in str(excinfo.value)


@pytest.mark.parametrize(
    ("model", "provider", "stored", "missing"),
    [
        ("opus", None, [], "Anthropic"),
        ("openai/gpt-5", None, [ANTHROPIC], "OpenRouter"),
        ("opus", "openrouter", [ANTHROPIC], "OpenRouter"),
        ("anthropic/claude-opus-4-7", None, [ANTHROPIC], "OpenRouter"),
    ],
)
def test_a_missing_key_is_named_with_how_to_add_it(providers, tenant, store_key, model, provider, stored, missing):
    for stored_provider in stored:
        store_key(tenant, stored_provider)
    with pytest.raises(MissingCredential) as excinfo:
        resolve(tenant, sinatrarc(model, provider))
    assert f"no {missing} API key" in str(excinfo.value)
    assert f"--provider {missing.lower()}" in str(excinfo.value)
