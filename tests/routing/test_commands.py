"""resolve_model: what a tenant's request would use and why, for people and (--json) for scripts."""

from __future__ import annotations

import io
import json

import httpx
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from routing.catalog import BUILTIN_ANTHROPIC
from routing.sinatrarc import MAX_SINATRARC_BYTES
from tests.fakes.providers import anthropic_key, openrouter_key
from tests.helpers import find_leaks

PUBLIC_FIELDS = {"provider", "model", "requested", "base_url", "credential_source", "key_hint", "reason", "warnings"}

pytestmark = pytest.mark.django_db


@pytest.fixture
def keys(tenant, store_key) -> dict[str, str]:
    """Give the tenant both keys; return them by provider."""
    stored = {"anthropic": anthropic_key("CMDCANARY"), "openrouter": openrouter_key()}
    for provider, key in stored.items():
        store_key(tenant, provider, key)
    return stored


def resolve_json(run_command, *args: str, stdin: str | None = None) -> dict:
    out, _ = run_command("resolve_model", "--tenant", "acme", *args, "--json", stdin=stdin)
    return json.loads(out)


# --- Human-readable output.


def test_human_output_says_provider_model_key_hint_and_why(run_command, tenant, keys, provider_api):
    out, err = run_command("resolve_model", "--tenant", "acme", "--model", "opus")

    lines = out.splitlines()
    assert lines[0] == "acme: opus -> Anthropic claude-opus-4-8"
    assert "https://api.anthropic.test" in out
    hint = f"sk-ant-api03-...{keys['anthropic'][-4:]}"
    assert f"{hint} (tenant credential)" in out
    assert "newest Claude Opus model" in out
    assert err == ""
    assert find_leaks(out, keys.values()) == []


def test_human_output_lists_warnings(run_command, tenant, keys, provider_api):
    out, _ = run_command("resolve_model", "--tenant", "acme", "--model", "anthropic/claude-opus-4-7")

    assert "OpenRouter anthropic/claude-opus-4.7" in out.splitlines()[0]
    assert "warning   OpenRouter names anthropic/claude-opus-4-7 as anthropic/claude-opus-4.7" in out


def test_human_output_for_host_credentials_says_no_key_is_used(run_command, tenant, provider_api, settings):
    settings.SINATRA_SINGLE_TENANT = True
    settings.SANDBOX_PROVIDER = "docker"

    out, _ = run_command("resolve_model", "--tenant", "acme")

    assert "the host's claude login" in out
    assert "Anthropic" in out.splitlines()[0]


def test_human_output_says_when_the_builtin_table_was_used(run_command, tenant, keys, provider_api):
    provider_api.routes["anthropic_models"].mock(return_value=httpx.Response(503))

    out, _ = run_command("resolve_model", "--tenant", "acme", "--model", "sonnet")

    assert BUILTIN_ANTHROPIC["sonnet"] in out.splitlines()[0]
    assert "warning" in out
    assert "built-in" in out


# --- --json.


def test_json_has_every_resolution_field_but_the_key(run_command, tenant, keys, provider_api):
    out, _ = run_command("resolve_model", "--tenant", "acme", "--model", "opus", "--json")

    data = json.loads(out)
    assert set(data) == PUBLIC_FIELDS
    assert data["provider"] == "anthropic"
    assert data["model"] == "claude-opus-4-8"
    assert data["requested"] == "opus"
    assert data["credential_source"] == "tenant"
    assert data["warnings"] == []
    assert find_leaks(out, keys.values()) == []
    assert "CMDCANARY" not in out


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("--model", "opus", "--model-provider", "openrouter"),
        ("--model", "openai/gpt-5"),
        ("--model", "anthropic/claude-opus-4-7"),
        ("--model", "claude-sonnet-4-5-20250929"),
    ],
)
def test_json_never_carries_a_key(run_command, tenant, keys, provider_api, args):
    out, err = run_command("resolve_model", "--tenant", "acme", *args, "--json")

    assert set(json.loads(out)) == PUBLIC_FIELDS
    assert find_leaks(out + err, keys.values()) == []


def test_single_tenant_environment_key_is_not_printed_either(run_command, tenant, provider_api, settings):
    key = anthropic_key("ENVCANARY")
    settings.SINATRA_SINGLE_TENANT = True
    settings.ANTHROPIC_API_KEY = key

    out, _ = run_command("resolve_model", "--tenant", "acme")
    data = resolve_json(run_command)

    assert "from the environment, single-tenant mode" in out
    assert data["credential_source"] == "environment"
    assert find_leaks(out + json.dumps(data), [key]) == []


# --- Where the config comes from.


def test_sinatrarc_from_a_file(run_command, tenant, keys, provider_api, tmp_path):
    path = tmp_path / ".sinatrarc"
    path.write_text("lint:\n  strict: true\nagent:\n  model: haiku\n  model_provider: openrouter\n")

    data = resolve_json(run_command, "--sinatrarc", str(path))

    assert (data["provider"], data["model"], data["requested"]) == ("openrouter", "anthropic/claude-haiku-4.5", "haiku")


def test_sinatrarc_from_standard_input(run_command, tenant, keys, provider_api):
    data = resolve_json(run_command, "--sinatrarc", "-", stdin="agent:\n  model: openai/gpt-5\n")

    assert (data["provider"], data["model"]) == ("openrouter", "openai/gpt-5")


def test_sinatrarc_from_a_binary_standard_input(tenant, keys, provider_api):
    out = io.StringIO()
    stdin = io.TextIOWrapper(io.BytesIO(b"agent:\n  model: opus\n"), encoding="utf-8")

    call_command("resolve_model", "--tenant", "acme", "--sinatrarc", "-", "--json", stdin=stdin, stdout=out)

    assert json.loads(out.getvalue())["model"] == "claude-opus-4-8"


def test_an_empty_sinatrarc_uses_the_default_model(run_command, tenant, keys, provider_api, tmp_path):
    path = tmp_path / ".sinatrarc"
    path.write_text("")

    assert resolve_json(run_command, "--sinatrarc", str(path))["requested"] == "sonnet"


def test_model_with_model_provider(run_command, tenant, keys, provider_api):
    data = resolve_json(run_command, "--model", "opus", "--model-provider", "openrouter")

    assert (data["provider"], data["model"]) == ("openrouter", "anthropic/claude-opus-4.8")


def test_model_provider_alone_sends_the_default_model_there(run_command, tenant, keys, provider_api):
    data = resolve_json(run_command, "--model-provider", "openrouter")

    assert (data["requested"], data["provider"]) == ("sonnet", "openrouter")


def test_no_options_resolve_as_a_repo_without_sinatrarc(run_command, tenant, keys, provider_api):
    tenant.default_model = "haiku"
    tenant.save()

    data = resolve_json(run_command)

    assert (data["requested"], data["model"]) == ("haiku", "claude-haiku-4-5-20251001")


# --- Errors: one line each, no key.


def _one_line_error(run_command, *args, stdin=None, **options) -> str:
    with pytest.raises(CommandError) as raised:
        run_command("resolve_model", *args, stdin=stdin, **options)
    message = str(raised.value)
    assert message
    assert "\n" not in message
    return message


def test_an_unknown_tenant_is_a_one_line_error(run_command, tenant):
    message = _one_line_error(run_command, "--tenant", "nobody")

    assert "No tenant has the slug 'nobody'" in message
    assert "create_tenant" in message


def test_a_missing_file_is_a_one_line_error(run_command, tenant, keys, tmp_path):
    message = _one_line_error(run_command, "--tenant", "acme", "--sinatrarc", str(tmp_path / "nowhere"))

    assert message == f"No file at {tmp_path / 'nowhere'}."


def test_a_directory_is_not_a_sinatrarc(run_command, tenant, keys, tmp_path):
    assert _one_line_error(run_command, "--tenant", "acme", "--sinatrarc", str(tmp_path)).startswith("No file at")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"agent: [opus\n", "not valid YAML"),
        (b"agent:\n  model: 4\n", "agent.model must be text"),
        (b"\xff\xfe\x00\x01", "not UTF-8 text"),
        (b"#" * (MAX_SINATRARC_BYTES + 10), "the limit is 64 KiB"),
        (b"[" * 5000 + b"]" * 5000, "nested more than"),
    ],
)
def test_a_bad_sinatrarc_file_is_a_one_line_error(run_command, tenant, keys, provider_api, tmp_path, content, message):
    path = tmp_path / ".sinatrarc"
    path.write_bytes(content)

    assert message in _one_line_error(run_command, "--tenant", "acme", "--sinatrarc", str(path))


def test_bad_yaml_on_standard_input_is_a_one_line_error(run_command, tenant, keys):
    message = _one_line_error(run_command, "--tenant", "acme", "--sinatrarc", "-", stdin="agent:\n\tmodel: opus\n")

    assert "not valid YAML" in message


def test_invalid_utf8_on_standard_input_is_a_one_line_error(tenant, keys):
    stdin = io.TextIOWrapper(io.BytesIO(b"agent:\n  model: \xff\n"), encoding="utf-8")

    with pytest.raises(CommandError, match="not UTF-8 text"):
        call_command("resolve_model", "--tenant", "acme", "--sinatrarc", "-", stdin=stdin, stdout=io.StringIO())


def test_a_missing_key_is_a_one_line_error_that_says_how_to_add_it(run_command, tenant, provider_api):
    message = _one_line_error(run_command, "--tenant", "acme", "--model", "opus")

    assert "has no Anthropic API key" in message
    assert "seed_credential --tenant acme --provider anthropic" in message


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--model", "gpt-5"), "write openai/gpt-5"),
        (("--model", "opus", "--model-provider", "openai"), "Direct OpenAI is not supported"),
        (("--model", "opus", "--model-provider", "azure"), "is not one Sinatra knows"),
        (("--model", "claude opus"), "contains spaces"),
    ],
)
def test_routing_errors_are_one_line_errors(run_command, tenant, keys, provider_api, args, message):
    assert message in _one_line_error(run_command, "--tenant", "acme", *args)


@pytest.mark.parametrize("extra", [("--model", "opus"), ("--model-provider", "openrouter")])
def test_sinatrarc_and_model_together_are_refused(run_command, tenant, keys, tmp_path, extra):
    path = tmp_path / ".sinatrarc"
    path.write_text("agent:\n  model: opus\n")

    message = _one_line_error(run_command, "--tenant", "acme", "--sinatrarc", str(path), *extra)

    assert message == "Give --sinatrarc, or --model (with --model-provider); not both."


def test_a_key_that_no_longer_decrypts_is_a_one_line_error_without_the_key(run_command, tenant, keys, provider_api):
    from credentials.models import TenantModelCredential

    TenantModelCredential.objects.filter(provider="anthropic").update(ciphertext=b"\x00" * 60)

    message = _one_line_error(run_command, "--tenant", "acme", "--model", "opus")

    assert "no longer decrypts" in message
    assert find_leaks(message, keys.values()) == []


def test_tenant_is_required(run_command):
    with pytest.raises(CommandError, match="--tenant"):
        run_command("resolve_model")
