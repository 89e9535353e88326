"""The built-in model table: the newest model of each family, shipped with the code and dated.

Used only when a provider's model list cannot be fetched. The data lives in `builtin_models.json` next to
this module, so keeping it current is a data change; `load_builtin_models()` checks it on reading, so a
table whose two halves name different models fails at start-up, not at the first request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .claude_names import FAMILIES, family_of, to_openrouter

BUILTIN_PATH = Path(__file__).with_name("builtin_models.json")


@dataclass(frozen=True)
class BuiltinModels:
    """The newest model id of each family at Anthropic and at OpenRouter, as of a month."""

    as_of: str  # YYYY-MM
    anthropic: MappingProxyType[str, str]  # family -> Anthropic model id
    openrouter: MappingProxyType[str, str]  # family -> OpenRouter slug


def parse_builtin_models(data: dict[str, Any]) -> BuiltinModels:
    """Return the table from its JSON form, or raise ValueError naming what is wrong with it."""
    as_of = data.get("as_of")
    if not isinstance(as_of, str) or len(as_of) != 7 or as_of[4] != "-":
        raise ValueError(f"builtin models: as_of must be YYYY-MM, not {as_of!r}")
    tables = {}
    for provider in ("anthropic", "openrouter"):
        table = data.get(provider)
        if not isinstance(table, dict) or set(table) != set(FAMILIES):
            raise ValueError(f"builtin models: {provider} must name exactly {', '.join(FAMILIES)}")
        if not all(isinstance(name, str) for name in table.values()):
            raise ValueError(f"builtin models: every {provider} model must be a string")
        tables[provider] = MappingProxyType(dict(table))
    for family in FAMILIES:
        model_id, slug = tables["anthropic"][family], tables["openrouter"][family]
        if family_of(model_id) != family:
            raise ValueError(f"builtin models: {model_id} is not a {family} model")
        # One model per family: the OpenRouter half must be the Anthropic half under OpenRouter's name.
        if to_openrouter(model_id) != slug:
            raise ValueError(f"builtin models: {family} is {model_id} at Anthropic but {slug} at OpenRouter")
    return BuiltinModels(as_of=as_of, anthropic=tables["anthropic"], openrouter=tables["openrouter"])


@cache
def load_builtin_models(path: Path = BUILTIN_PATH) -> BuiltinModels:
    """Return the built-in table shipped next to this module."""
    return parse_builtin_models(json.loads(path.read_text(encoding="utf-8")))
