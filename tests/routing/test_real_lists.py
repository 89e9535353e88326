"""Resolution against the providers' real model lists (tests/fixtures/model_lists, sources in its README).

Each row: the lists the fake providers serve, the keys the tenant has, what `.sinatrarc` asks,
and what is sent where, with the words a warning must contain. These are the cases issue 9
found wrong on the real lists: variant suffixes, Claude 3.x and 2.x names, claude-opus-4-0,
names converted for Anthropic, case, and families an old list does not have.
"""

from __future__ import annotations

import json

import pytest
import respx

from routing.errors import ConfigError
from routing.service import resolve
from tests.fakes.providers import (
    ANTHROPIC_MODELS_URL,
    OPENROUTER_MODELS_URL,
    real_anthropic_page,
    real_openrouter_list,
)
from tests.helpers import sinatrarc

ANTHROPIC_2025, ANTHROPIC_2026 = "anthropic_2025-05-23", "anthropic_2026-10"
OPENROUTER_2025, OPENROUTER_2026 = "openrouter_2025-07-29", "openrouter_2026-10_hand_written"
OPENROUTER_OLD_2026 = "openrouter_2026-05-01"


@pytest.fixture
def lists():
    """Serve a chosen pair of real lists: `lists(anthropic=..., openrouter=...)`."""
    with respx.mock(assert_all_called=False) as router:

        def serve(*, anthropic: str = ANTHROPIC_2026, openrouter: str = OPENROUTER_2026) -> None:
            router.get(ANTHROPIC_MODELS_URL).mock(return_value=real_anthropic_page(anthropic))
            router.get(OPENROUTER_MODELS_URL).mock(return_value=real_openrouter_list(openrouter))

        yield serve


BOTH, OPENROUTER_ONLY = ("anthropic", "openrouter"), ("openrouter",)

CASES = [
    # (lists, keys, model, model_provider, provider, sent, warning words or "")
    (
        (ANTHROPIC_2026, OPENROUTER_2026),
        BOTH,
        "anthropic/claude-opus-4-8-fast",
        None,
        "openrouter",
        "anthropic/claude-opus-4.8-fast",
        "OpenRouter names anthropic/claude-opus-4-8-fast as",
    ),
    (
        (ANTHROPIC_2025, OPENROUTER_2025),
        BOTH,
        "anthropic/claude-3-7-sonnet:thinking",
        None,
        "openrouter",
        "anthropic/claude-3.7-sonnet:thinking",
        "as anthropic/claude-3.7-sonnet:thinking",
    ),
    (
        (ANTHROPIC_2025, OPENROUTER_2025),
        BOTH,
        "anthropic/claude-3-5-haiku",
        None,
        "openrouter",
        "anthropic/claude-3.5-haiku",
        "as anthropic/claude-3.5-haiku",
    ),
    (
        (ANTHROPIC_2025, OPENROUTER_2025),
        BOTH,
        "claude-3-haiku-20240307",
        "openrouter",
        "openrouter",
        "anthropic/claude-3-haiku",
        "",
    ),
    (
        (ANTHROPIC_2025, OPENROUTER_2025),
        OPENROUTER_ONLY,
        "claude-3-7-sonnet-20250219",
        None,
        "openrouter",
        "anthropic/claude-3.7-sonnet",
        "",
    ),
    (
        (ANTHROPIC_2025, OPENROUTER_2025),
        BOTH,
        "claude-opus-4-0",
        "openrouter",
        "openrouter",
        "anthropic/claude-opus-4",
        "",
    ),
    ((ANTHROPIC_2025, OPENROUTER_2025), BOTH, "anthropic/claude-2.1", "anthropic", "anthropic", "claude-2.1", ""),
    (
        (ANTHROPIC_2025, OPENROUTER_2025),
        BOTH,
        "anthropic/claude-3.7-sonnet",
        "anthropic",
        "anthropic",
        "claude-3-7-sonnet-20250219",
        "",
    ),
    (
        (ANTHROPIC_2026, OPENROUTER_2026),
        BOTH,
        "anthropic/claude-opus-4.8-fast",
        "anthropic",
        "anthropic",
        "claude-opus-4-8-fast",
        "Anthropic lists no -fast variant of claude-opus-4-8",
    ),
    (
        (ANTHROPIC_2026, OPENROUTER_2026),
        BOTH,
        "anthropic/Claude-Opus-4.8",
        None,
        "openrouter",
        "anthropic/claude-opus-4.8",
        "lower case",
    ),
    (
        (ANTHROPIC_2026, OPENROUTER_2026),
        BOTH,
        "claude-opus-9-9",
        None,
        "anthropic",
        "claude-opus-9-9",
        "not in Anthropic's model list",
    ),
    # The aliases on the 2026 lists, fable included.
    ((ANTHROPIC_2026, OPENROUTER_2026), BOTH, "opus", None, "anthropic", "claude-opus-5-5", ""),
    ((ANTHROPIC_2026, OPENROUTER_2026), BOTH, "fable", None, "anthropic", "claude-fable-5-1", ""),
    ((ANTHROPIC_2026, OPENROUTER_2026), BOTH, "sonnet", "openrouter", "openrouter", "anthropic/claude-sonnet-5.5", ""),
    ((ANTHROPIC_2026, OPENROUTER_2026), OPENROUTER_ONLY, "fable", None, "openrouter", "anthropic/claude-fable-5.1", ""),
    ((ANTHROPIC_2025, OPENROUTER_2025), BOTH, "haiku", None, "anthropic", "claude-3-5-haiku-20241022", ""),
    ((ANTHROPIC_2025, OPENROUTER_2025), BOTH, "haiku", "openrouter", "openrouter", "anthropic/claude-3.5-haiku", ""),
]


@pytest.mark.parametrize(
    ("served", "keys", "model", "model_provider", "provider", "sent", "warning"),
    CASES,
    ids=[f"{case[2]}-{case[3] or 'default'}-{case[0][1][-13:]}" for case in CASES],
)
def test_names_resolve_as_the_real_lists_say(
    lists, tenant, store_key, served, keys, model, model_provider, provider, sent, warning
):
    lists(anthropic=served[0], openrouter=served[1])
    for key in keys:
        store_key(tenant, key)

    resolution = resolve(tenant, sinatrarc(model, model_provider))

    assert (resolution.provider, resolution.model) == (provider, sent)
    if warning:
        assert any(warning in text for text in resolution.warnings), resolution.warnings
    else:
        assert resolution.warnings == ()


def test_a_bare_name_of_another_vendor_suggests_its_slug_in_openrouters_case(lists, tenant, store_key):
    lists()
    store_key(tenant, "anthropic")

    with pytest.raises(ConfigError) as excinfo:
        resolve(tenant, sinatrarc("GPT-5"))

    assert "write openai/gpt-5 to use it through OpenRouter" in str(excinfo.value)


def test_an_old_openrouter_list_without_a_family_refuses_rather_than_sending_a_slug_it_lacks(lists, tenant, store_key):
    lists(openrouter=OPENROUTER_OLD_2026)  # May 2026: no Claude Fable on OpenRouter yet
    store_key(tenant, "openrouter")

    with pytest.raises(ConfigError) as excinfo:
        resolve(tenant, sinatrarc("fable", "openrouter"))

    assert "OpenRouter's model list names no Claude Fable model" in str(excinfo.value)


def test_whether_an_id_is_warned_about_does_not_depend_on_an_earlier_resolution(lists, tenant, store_key):
    lists()
    store_key(tenant, "anthropic")

    before = resolve(tenant, sinatrarc("claude-opus-9-9")).warnings
    resolve(tenant, sinatrarc("opus"))
    after = resolve(tenant, sinatrarc("claude-opus-9-9")).warnings

    assert before == after == ("claude-opus-9-9 is not in Anthropic's model list; sent as given.",)


def test_resolve_model_json_shows_the_converted_name_and_its_warnings(lists, tenant, store_key, run_command):
    lists()
    store_key(tenant, "openrouter")

    out, _ = run_command("resolve_model", "--tenant", "acme", "--model", "anthropic/claude-opus-4-8-fast", "--json")

    answer = json.loads(out)
    assert answer["requested"] == "anthropic/claude-opus-4-8-fast"
    assert answer["model"] == "anthropic/claude-opus-4.8-fast"
    assert answer["warnings"] == [
        "OpenRouter names anthropic/claude-opus-4-8-fast as anthropic/claude-opus-4.8-fast; "
        "sent as anthropic/claude-opus-4.8-fast."
    ]
    assert "api_key" not in answer
