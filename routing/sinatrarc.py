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

from .errors import ConfigError, shown

MAX_SINATRARC_BYTES = 64 * 1024
MAX_NAME_LENGTH = 200
# PyYAML's C composer recurses once per level (deep enough input crashes the process), and
# aliases, copied by merge keys (<<), let a small file stand for a huge one: both are bounded.
MAX_DEPTH = 100
MAX_EXPANDED_NODES = 100_000
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
    if len(text) > MAX_SINATRARC_BYTES:  # a character is at least a byte: no need to encode it all
        raise ConfigError(f".sinatrarc is {len(text)} characters; the limit is {MAX_SINATRARC_BYTES // 1024} KiB.")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:  # lone surrogates, e.g. "\ud800" in a JSON string
        raise ConfigError(".sinatrarc is not UTF-8 text.") from None
    if size > MAX_SINATRARC_BYTES:
        raise _too_big(size)
    # Typical files are a few lines: remember those, so memory stays bounded (1024 x 4 KiB).
    return _parse_text_cached(text) if size <= CACHED_TEXT_BYTES else _parse_text(text)


CACHED_TEXT_BYTES = 4096


def _too_big(size: int) -> ConfigError:
    return ConfigError(f".sinatrarc is {size} bytes; the limit is {MAX_SINATRARC_BYTES // 1024} KiB.")


def _parse_text(text: str) -> AgentConfig:
    if "\x00" in text:
        raise ConfigError(".sinatrarc contains NUL bytes: it looks binary, not YAML.")
    try:
        _check_shape(text)
        document = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader (CSafeLoader or SafeLoader)
    except yaml.MarkedYAMLError as exc:
        where = f" at line {exc.problem_mark.line + 1}" if exc.problem_mark else ""
        # "expected a single document in the stream, but found another document": both halves.
        what = ", ".join(part for part in (exc.context, exc.problem) if part)
        what = what if len(what) <= 200 else what[:200] + "..."  # a 60 KiB tag is not a message
        raise ConfigError(f".sinatrarc is not valid YAML{where}: {what}.") from None
    except (yaml.YAMLError, RecursionError, ValueError, OverflowError):
        raise ConfigError(".sinatrarc is not valid YAML.") from None
    if document is None:
        return AgentConfig()
    if not isinstance(document, Mapping):
        raise ConfigError(f".sinatrarc must be a mapping with an agent: section, not {_kind(document)}.")
    return config_from_mapping(document)


def _check_shape(text: str) -> None:
    """Refuse YAML nested deeper than MAX_DEPTH, or whose aliases expand past MAX_EXPANDED_NODES.

    Reads the event stream (no recursion, no objects built) and counts every node as often as
    aliases repeat it, which bounds what merge keys can make the constructor copy.
    """
    expanded: dict[str, int] = {}  # anchor -> nodes it stands for
    open_nodes: list[list] = []  # collections being read: [anchor, nodes so far]
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            if len(open_nodes) >= MAX_DEPTH:
                raise ConfigError(f".sinatrarc is nested more than {MAX_DEPTH} levels deep.")
            open_nodes.append([event.anchor, 1])
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            anchor, nodes = open_nodes.pop()
        elif isinstance(event, yaml.ScalarEvent):
            anchor, nodes = event.anchor, 1
        elif isinstance(event, yaml.AliasEvent):
            if any(event.anchor == open_anchor for open_anchor, _ in open_nodes):
                raise ConfigError(f".sinatrarc has an alias (*{shown(event.anchor or '')}) inside the node it names.")
            anchor, nodes = None, expanded.get(event.anchor or "", 1)  # undefined: the loader says so
        else:
            continue
        if anchor is not None:
            expanded[anchor] = nodes
        if open_nodes:
            open_nodes[-1][1] += nodes
            if open_nodes[-1][1] > MAX_EXPANDED_NODES:
                raise ConfigError(
                    f".sinatrarc's aliases (*name) expand to more than {MAX_EXPANDED_NODES} values: "
                    "it looks like a YAML bomb."
                )


_parse_text_cached = functools.lru_cache(maxsize=1024)(_parse_text)


def config_from_mapping(document: Mapping) -> AgentConfig:
    """Return the agent config of an already-parsed `.sinatrarc` mapping."""
    if not isinstance(document, Mapping):
        raise ConfigError(f"The config must be a mapping with an agent: section, not {_kind(document)}.")
    agent = document.get("agent")
    if agent is None:
        return AgentConfig()
    if not isinstance(agent, Mapping):
        raise ConfigError(f"agent: in .sinatrarc must be a mapping (model:, model_provider:), not {_kind(agent)}.")
    return agent_config(agent)


def agent_config(agent: Mapping) -> AgentConfig:
    """Return the agent config of an `agent:` section's fields (`model`, `model_provider`).

    The HTTP API and `resolve_model` pass their fields here directly; absent or None-less
    fields are simply not given.
    """
    return AgentConfig(
        model=_name(agent, "model", example="opus, a Claude model id or a vendor/model slug"),
        model_provider=_provider(agent),
    )


def _name(agent: Mapping, field: str, *, example: str) -> str | None:
    if field not in agent:
        return None
    value = agent[field]
    if value is None:  # `model:` written with nothing after it
        raise ConfigError(f"agent.{field} is empty: name one ({example}) or remove the line.")
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
