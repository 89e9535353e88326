""".sinatrarc parsing: what it reads, what it ignores, and a ConfigError for anything malformed."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing.errors import ConfigError, RoutingError
from routing.sinatrarc import (
    MAX_DEPTH,
    MAX_EXPANDED_NODES,
    MAX_NAME_LENGTH,
    MAX_SINATRARC_BYTES,
    AgentConfig,
    config_from_mapping,
    parse_sinatrarc,
)

VALID = [
    ("none-means-no-file", None, AgentConfig()),
    ("empty", "", AgentConfig()),
    ("empty-bytes", b"", AgentConfig()),
    ("white-space", "  \n\n \n", AgentConfig()),
    ("comments-only", "# nothing here yet\n# agent:\n#   model: opus\n", AgentConfig()),
    ("agent-empty", "agent:\n", AgentConfig()),
    ("agent-empty-mapping", "agent: {}\n", AgentConfig()),
    ("explicit-document-start", "---\nagent:\n  model: opus\n", AgentConfig(model="opus")),
    ("no-agent-section", "lint:\n  strict: true\n", AgentConfig()),
    (
        "other-sections-ignored",
        "lint:\n  rules: [a, b]\nagent:\n  model: opus\nhooks:\n  - echo hi\n",
        AgentConfig(model="opus"),
    ),
    (
        "unknown-agent-keys-ignored",
        "agent:\n  model: haiku\n  temperature: 0.2\n  tools: [git]\n  max_turns: 10\n",
        AgentConfig(model="haiku"),
    ),
    ("model-only", "agent:\n  model: opus\n", AgentConfig(model="opus")),
    (
        "model-and-provider",
        "agent:\n  model: opus\n  model_provider: openrouter\n",
        AgentConfig(model="opus", model_provider="openrouter"),
    ),
    ("provider-only", "agent:\n  model_provider: anthropic\n", AgentConfig(model_provider="anthropic")),
    ("model-stripped", 'agent:\n  model: "  opus\\t "\n', AgentConfig(model="opus")),
    (
        "provider-lowercased-and-stripped",
        "agent:\n  model: opus\n  model_provider: ' OpenRouter '\n",
        AgentConfig(model="opus", model_provider="openrouter"),
    ),
    ("model-case-kept", "agent:\n  model: Opus\n", AgentConfig(model="Opus")),
    (
        "slug",
        "agent:\n  model: meta-llama/llama-3.1-405b-instruct\n",
        AgentConfig(model="meta-llama/llama-3.1-405b-instruct"),
    ),
    (
        "variant-slug",
        "agent:\n  model: '~anthropic/claude-opus-latest'\n",
        AgentConfig(model="~anthropic/claude-opus-latest"),
    ),
    ("dated-id", "agent:\n  model: claude-sonnet-4-5-20250929\n", AgentConfig(model="claude-sonnet-4-5-20250929")),
    ("flow-style", "{agent: {model: sonnet}}", AgentConfig(model="sonnet")),
    ("bytes", b"agent:\n  model: opus\n", AgentConfig(model="opus")),
    ("utf8-bom", "\ufeffagent:\n  model: opus\n".encode(), AgentConfig(model="opus")),
    ("crlf", "agent:\r\n  model: opus\r\n", AgentConfig(model="opus")),
    ("non-ascii-elsewhere", "team: Zoë & Søren\nagent:\n  model: opus\n", AgentConfig(model="opus")),
    (
        "longest-name",
        f"agent:\n  model: claude-{'x' * (MAX_NAME_LENGTH - 7)}\n",
        AgentConfig(model="claude-" + "x" * (MAX_NAME_LENGTH - 7)),
    ),
    ("exactly-the-size-limit", "#" * MAX_SINATRARC_BYTES, AgentConfig()),
    (
        "anchors-in-other-sections",
        "base: &base {a: 1}\nci:\n  <<: *base\n  b: 2\nagent:\n  model: opus\n",
        AgentConfig(model="opus"),
    ),
    ("alias-for-the-model", "defaults:\n  model: &m opus\nagent:\n  model: *m\n", AgentConfig(model="opus")),
    (
        "moderately-nested",
        "x: " + "[" * (MAX_DEPTH - 2) + "]" * (MAX_DEPTH - 2) + "\nagent:\n  model: opus\n",
        AgentConfig(model="opus"),
    ),
]


@pytest.mark.parametrize(("case", "text", "expected"), VALID, ids=[case for case, _, _ in VALID])
def test_parse_sinatrarc_reads_the_agent_section(case, text, expected):
    assert parse_sinatrarc(text) == expected


def _laughs(levels: int = 9, width: int = 9) -> str:
    lines = ["a: &a [" + ", ".join(["lol"] * width) + "]"]
    previous = "a"
    for index in range(levels - 1):
        name = f"l{index}"
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * width) + "]")
        previous = name
    return "\n".join(lines) + "\nagent:\n  model: opus\n"


def _merge_bomb(levels: int = 8, width: int = 10) -> str:
    lines = ["a: &a {" + ", ".join(f"k{index}: {index}" for index in range(width)) + "}"]
    previous = "a"
    for index in range(levels):
        name = f"m{index}"
        lines.append(f"{name}: &{name} {{<<: [" + ", ".join([f"*{previous}"] * width) + "]}")
        previous = name
    return "\n".join(lines) + "\nagent:\n  model: opus\n"


ERRORS = [
    # not YAML
    ("unclosed-flow", "agent: [opus\n", "not valid YAML"),
    ("bad-indentation", "agent:\n  model: opus\n bad: x\n", "not valid YAML at line"),
    ("tab-indentation", "agent:\n\tmodel: opus\n", "not valid YAML"),
    ("unclosed-quote", 'agent:\n  model: "opus\n', "not valid YAML"),
    ("undefined-alias", "agent:\n  model: *nowhere\n", "not valid YAML"),
    ("duplicate-anchor-tag-nonsense", "agent: !!python/object:os.system {}\n", "not valid YAML"),
    ("python-tag", "agent:\n  model: !!python/name:os.system\n", "not valid YAML"),
    ("bad-timestamp", "agent:\n  model: 2025-02-30\n", "not valid YAML"),
    ("unhashable-key", "? [a, b]\n: c\n", "not valid YAML"),
    ("control-character", "agent:\n  model: opus\x07\n", "not valid YAML"),
    ("tab-where-a-token-starts", "agent:\n  model: opus\n\t\n", "not valid YAML at line 3: .*tab character"),
    (
        "huge-tag",
        "agent:\n  model: !" + "x" * 60_000 + " opus\n",
        r"not valid YAML at line 2: could not determine a constructor.*\.\.\.\.$",
    ),
    # not a mapping
    ("list-document", "- agent\n- model\n", "must be a mapping with an agent: section, not a list"),
    ("text-document", "opus\n", "must be a mapping with an agent: section, not text"),
    ("number-document", "42\n", "not a number"),
    ("bool-document", "true\n", "not true/false"),
    # agent: of the wrong kind
    (
        "agent-text",
        "agent: opus\n",
        re.escape("agent: in .sinatrarc must be a mapping (model:, model_provider:), not text."),
    ),
    (
        "agent-list",
        "agent:\n  - model: opus\n",
        re.escape("agent: in .sinatrarc must be a mapping (model:, model_provider:), not a list."),
    ),
    ("agent-number", "agent: 3\n", "not a number"),
    # model of the wrong kind
    (
        "model-number",
        "agent:\n  model: 4.7\n",
        "agent.model must be text such as opus, a Claude model id or a vendor/model slug, not a number",
    ),
    ("model-integer", "agent:\n  model: 4\n", "agent.model must be text such as .*, not a number"),
    ("model-bool", "agent:\n  model: true\n", "agent.model must be text such as .*, not true/false"),
    ("model-yes-is-bool", "agent:\n  model: yes\n", "not true/false"),
    ("model-list", "agent:\n  model: [opus, sonnet]\n", "agent.model must be text such as .*, not a list"),
    ("model-mapping", "agent:\n  model: {name: opus}\n", "agent.model must be text such as .*, not a mapping"),
    ("model-date", "agent:\n  model: 2025-01-01\n", "agent.model must be text such as .*, not a date"),
    (
        "provider-number",
        "agent:\n  model_provider: 1\n",
        "agent.model_provider must be text such as anthropic or openrouter, not a number",
    ),
    # empty, long, odd names
    ("model-empty", 'agent:\n  model: ""\n', "agent.model is empty: name one"),
    ("model-null", "agent:\n  model: null\n", "agent.model is empty: name one"),
    ("model-nothing", "agent:\n  model:\n", "agent.model is empty: name one"),
    ("provider-nothing", "agent:\n  model: opus\n  model_provider:\n", "agent.model_provider is empty"),
    ("model-white-space", "agent:\n  model: '   '\n", "agent.model is empty"),
    ("provider-empty", "agent:\n  model_provider: ''\n", "agent.model_provider is empty"),
    (
        "model-too-long",
        f"agent:\n  model: {'x' * (MAX_NAME_LENGTH + 1)}\n",
        f"is {MAX_NAME_LENGTH + 1} characters long; the limit is {MAX_NAME_LENGTH}",
    ),
    ("model-with-spaces", "agent:\n  model: claude opus\n", "agent.model contains spaces"),
    ("model-with-newline", 'agent:\n  model: "opus\\nsonnet"\n', "agent.model contains spaces"),
    ("model-with-shell", "agent:\n  model: opus;rm\n", "characters a model name never has"),
    ("model-with-non-ascii", "agent:\n  model: opüs\n", "characters a model name never has"),
    # binary
    ("nul-in-text", "agent:\n  model: opus\x00\n", "NUL bytes: it looks binary"),
    ("nul-bytes", b"\x00\x01\x02\x03binary", "NUL bytes"),
    ("png-header", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not UTF-8 text"),
    ("invalid-utf8", b"agent:\n  model: \xff\xfe\n", "not UTF-8 text"),
    ("utf16", "agent:\n  model: opus\n".encode("utf-16"), "not UTF-8 text"),
    ("lone-surrogate", "agent:\n  model: \ud800\n", "not UTF-8 text"),
    # too big
    (
        "over-the-limit-text",
        "#" * (MAX_SINATRARC_BYTES + 1),
        f"is {MAX_SINATRARC_BYTES + 1} characters; the limit is 64 KiB",
    ),
    (
        "over-the-limit-bytes",
        b"#" * (MAX_SINATRARC_BYTES + 1),
        f"is {MAX_SINATRARC_BYTES + 1} bytes; the limit is 64 KiB",
    ),
    (
        "over-the-limit-in-utf8-only",
        "#" + "é" * (MAX_SINATRARC_BYTES // 2),
        f"is {MAX_SINATRARC_BYTES + 1} bytes; the limit is 64 KiB",
    ),
    ("megabytes", "agent:\n  model: opus\n" + "# pad\n" * 1_000_000, "the limit is 64 KiB"),
    # several documents
    (
        "two-documents",
        "agent:\n  model: opus\n---\nagent:\n  model: haiku\n",
        "not valid YAML at line 3: expected a single document in the stream, but found another document",
    ),
    # shapes that hurt parsers
    ("deeply-nested-lists", "[" * 30_000 + "]" * 30_000, f"nested more than {MAX_DEPTH} levels deep"),
    (
        "deeply-nested-mappings",
        "a: " + "{a: " * 10_000 + "1" + "}" * 10_000,
        f"nested more than {MAX_DEPTH} levels deep",
    ),
    ("deeply-nested-block", "".join(f"{' ' * depth}a:\n" for depth in range(MAX_DEPTH + 5)), "nested more than"),
    ("billion-laughs", _laughs(), "YAML bomb"),
    ("billion-laughs-as-the-model", _laughs().replace("agent:\n  model: opus", "agent:\n  model: *l7"), "YAML bomb"),
    ("merge-key-bomb", _merge_bomb(), "YAML bomb"),
    ("recursive-alias", "agent: &a\n  model: opus\n  self: *a\n", r"alias \(\*a\) inside the node it names"),
]


@pytest.mark.parametrize(("case", "text", "message"), ERRORS, ids=[case for case, _, _ in ERRORS])
def test_malformed_sinatrarc_is_a_config_error_that_says_what_is_wrong(case, text, message):
    with pytest.raises(ConfigError, match=message) as raised:
        parse_sinatrarc(text)

    assert isinstance(raised.value, RoutingError)
    assert raised.value.code == "invalid_config"
    assert "\n" not in str(raised.value), "one line, fit for a command's error or an API detail"
    assert len(str(raised.value)) < 300, "the message does not echo the input"


def test_the_alias_limit_leaves_room_for_a_large_plain_file():
    # ~20k values without aliases: far below the expansion limit, just under the size limit.
    text = "agent:\n  model: opus\nlist: [" + ", ".join(["x"] * 20_000) + "]\n"
    assert len(text) < MAX_SINATRARC_BYTES

    assert parse_sinatrarc(text) == AgentConfig(model="opus")


def test_aliases_are_counted_as_often_as_they_are_used():
    ten = "[" + ", ".join(["x"] * 10) + "]"
    width = MAX_EXPANDED_NODES // 11 + 1  # each alias stands for 11 values
    text = f"ten: &ten {ten}\nmany: [" + ", ".join(["*ten"] * width) + "]\n"

    with pytest.raises(ConfigError, match="YAML bomb"):
        parse_sinatrarc(text)
    # The same shape, smaller, is fine.
    assert parse_sinatrarc(f"ten: &ten {ten}\nmany: [" + ", ".join(["*ten"] * 100) + "]\n") == AgentConfig()


def test_the_same_text_parses_the_same_every_time():
    text = "agent:\n  model: opus\n"
    assert parse_sinatrarc(text) is parse_sinatrarc(text)  # memoised: workers resolve one file often
    assert parse_sinatrarc(text.encode()) == parse_sinatrarc(text)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (["agent"], "The config must be a mapping with an agent: section, not a list"),
        ("agent: x", "not text"),
        ({"agent": "opus"}, "agent: in .sinatrarc must be a mapping"),
        ({"agent": {"model": 5}}, "agent.model must be text"),
    ],
)
def test_a_parsed_config_is_checked_like_the_text(document, message):
    with pytest.raises(ConfigError, match=message):
        config_from_mapping(document)


def test_a_parsed_config_reads_like_the_text():
    assert config_from_mapping({"agent": {"model": " opus ", "model_provider": "OpenRouter"}, "x": 1}) == AgentConfig(
        model="opus", model_provider="openrouter"
    )


def test_input_of_another_type_is_a_config_error():
    with pytest.raises(ConfigError, match="must be text"):
        parse_sinatrarc(42)  # type: ignore[arg-type]


# --- Property: whatever the input, an AgentConfig or a ConfigError, never anything else.


def _parses_or_config_error(data: str | bytes) -> None:
    try:
        result = parse_sinatrarc(data)
    except ConfigError as error:
        result, message = None, str(error)
    if result is None:
        assert message, "a ConfigError says what is wrong"
        return
    assert isinstance(result, AgentConfig)
    for value in (result.model, result.model_provider):
        assert value is None or (value == value.strip() and value and len(value) <= MAX_NAME_LENGTH)


YAMLISH = st.lists(
    st.sampled_from(
        [
            "agent:",
            "  model: ",
            "  model_provider: ",
            "opus",
            "openrouter",
            "- ",
            "[",
            "]",
            "{",
            "}",
            "&a ",
            "*a",
            "<<: ",
            "!!",
            "---",
            "\n",
            "  ",
            '"',
            "'",
            ":",
            "#",
            "?",
            "|",
            ">",
            "%YAML 1.1",
            "\t",
            "\x00",
            "\ud800",
            "é",
            "1.5",
            "yes",
            "null",
            "~",
            "2025-01-01",
        ]
    ),
    max_size=40,
).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(), st.text(alphabet=st.characters(exclude_categories=())), YAMLISH))
def test_any_text_parses_or_is_a_config_error(text):
    _parses_or_config_error(text)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.binary(), YAMLISH.map(lambda text: text.encode("utf-8", "surrogatepass"))))
def test_any_bytes_parse_or_are_a_config_error(data):
    _parses_or_config_error(data)


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
        max_leaves=20,
    )
)
def test_any_agent_value_parses_or_is_a_config_error(agent_model):
    import yaml

    text = yaml.safe_dump({"agent": {"model": agent_model}, "other": agent_model}, allow_unicode=True)
    _parses_or_config_error(text)
