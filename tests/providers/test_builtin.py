"""The built-in model table: data with a date, one model per family at both providers."""

from __future__ import annotations

import pytest

from providers.builtin import load_builtin_models, parse_builtin_models
from providers.claude_names import FAMILIES, family_of, to_openrouter

VALID = {
    "as_of": "2026-11",
    "anthropic": {
        "opus": "claude-opus-5-5",
        "sonnet": "claude-sonnet-5-5",
        "haiku": "claude-haiku-5-5",
        "fable": "claude-fable-5-1",
    },
    "openrouter": {
        "opus": "anthropic/claude-opus-5.5",
        "sonnet": "anthropic/claude-sonnet-5.5",
        "haiku": "anthropic/claude-haiku-5.5",
        "fable": "anthropic/claude-fable-5.1",
    },
}


def test_the_shipped_table_is_dated_2026_11_and_names_the_design_models() -> None:
    table = load_builtin_models()
    assert table.as_of == "2026-11"
    assert dict(table.anthropic) == VALID["anthropic"]
    assert dict(table.openrouter) == VALID["openrouter"]


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_is_the_same_model_at_both_providers(family: str) -> None:
    table = load_builtin_models()
    assert family_of(table.anthropic[family]) == family
    assert to_openrouter(table.anthropic[family]) == table.openrouter[family]


def test_the_table_cannot_be_changed_in_memory() -> None:
    with pytest.raises(TypeError):
        load_builtin_models().anthropic["opus"] = "claude-opus-4-8"  # type: ignore[index]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"as_of": "November 2026"}, "as_of must be YYYY-MM"),
        ({"anthropic": {**VALID["anthropic"], "fable": None}}, "must be a string"),
        ({"anthropic": {k: v for k, v in VALID["anthropic"].items() if k != "fable"}}, "must name exactly"),
        (
            {"openrouter": {**VALID["openrouter"], "opus": "anthropic/claude-opus-5"}},
            "opus is claude-opus-5-5 at Anthropic",
        ),
        ({"anthropic": {**VALID["anthropic"], "haiku": "claude-sonnet-5-5"}}, "is not a haiku model"),
    ],
)
def test_a_table_that_contradicts_itself_is_refused_on_loading(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_builtin_models({**VALID, **change})
