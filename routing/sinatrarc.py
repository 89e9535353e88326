"""Read the `agent:` section of a repo's `.sinatrarc` (YAML), strictly and safely.

Only `agent.model` and `agent.model_provider` matter here; other sections and keys belong
to other tools and are ignored. Any malformed input is a `ConfigError` that says what is
wrong, never another exception. Parsing is memoised: workers resolve the same file often.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass

import yaml

from .errors import ConfigError

MAX_SINATRARC_BYTES = 64 * 1024
MAX_NAME_LENGTH = 200
_NAME = re.compile(r"[A-Za-z0-9._:/@~+\-]+")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class AgentConfig:
    """What a repo asks for: a model name and a provider, each possibly absent."""

    model: str | None = None
    model_provider: str | None = None


def parse_sinatrarc(text: str | bytes | None) -> AgentConfig:
    """Return the agent config of a `.sinatrarc`'s text; None means the repo has none."""
    if text is None:
        return AgentConfig()
    if isinstance(text, bytes):
        if len(text) > MAX_SINATRARC_BYTES:
            raise _too_big(len(text))
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError(".sinatrarc is not UTF-8 text.") from None
    if not isinstance(text, str):
        raise ConfigError(".sinatrarc must be text.")
    if len(text) > MAX_SINATRARC_BYTES or len(text.encode("utf-8")) > MAX_SINATRARC_BYTES:
        raise _too_big(len(text.encode("utf-8")))
    return _parse_text(text)


def _too_big(size: int) -> ConfigError:
    return ConfigError(f".sinatrarc is {size} bytes; the limit is {MAX_SINATRARC_BYTES // 1024} KiB.")


@functools.lru_cache(maxsize=1024)
def _parse_text(text: str) -> AgentConfig:
    if "\x00" in text:
        raise ConfigError(".sinatrarc contains NUL bytes: it looks binary, not YAML.")
    try:
        document = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader (CSafeLoader or SafeLoader)
    except yaml.MarkedYAMLError as exc:
        where = f" at line {exc.problem_mark.line + 1}" if exc.problem_mark else ""
        raise ConfigError(f".sinatrarc is not valid YAML{where}: {exc.problem or exc.context}.") from None
    except (yaml.YAMLError, RecursionError, ValueError, OverflowError):
        raise ConfigError(".sinatrarc is not valid YAML.") from None
    if document is None:
        return AgentConfig()
    if not isinstance(document, Mapping):
        raise ConfigError(f".sinatrarc must be a mapping with an agent: section, not {_kind(document)}.")
    return config_from_mapping(document)


def config_from_mapping(document: Mapping) -> AgentConfig:
    """Return the agent config of an already-parsed `.sinatrarc` mapping."""
    if not isinstance(document, Mapping):
        raise ConfigError(f"The config must be a mapping with an agent: section, not {_kind(document)}.")
    agent = document.get("agent")
    if agent is None:
        return AgentConfig()
    if not isinstance(agent, Mapping):
        raise ConfigError(f"agent: in .sinatrarc must be a mapping (model:, model_provider:), not {_kind(agent)}.")
    return AgentConfig(
        model=_name(agent, "model", example="opus, a Claude model id or a vendor/model slug"),
        model_provider=_provider(agent),
    )


def _name(agent: Mapping, field: str, *, example: str) -> str | None:
    if field not in agent or agent[field] is None:
        return None
    value = agent[field]
    if not isinstance(value, str):
        raise ConfigError(f"agent.{field} must be text such as {example}, not {_kind(value)}.")
    value = value.strip()
    if not value:
        raise ConfigError(f"agent.{field} is empty: name one ({example}) or remove the line.")
    if len(value) > MAX_NAME_LENGTH:
        raise ConfigError(f"agent.{field} is {len(value)} characters long; the limit is {MAX_NAME_LENGTH}.")
    if not _NAME.fullmatch(value):
        raise ConfigError(f"agent.{field} contains spaces or characters a model name never has: write {example}.")
    return value


def _provider(agent: Mapping) -> str | None:
    value = _name(agent, "model_provider", example="anthropic or openrouter")
    return value.lower() if value is not None else None


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, str):
        return "text"
    return f"a {type(value).__name__}"
