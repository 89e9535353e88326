"""Keys as users paste them: every rule of DESIGN.md's table, and the messages people see."""

import re
import secrets
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from providers.keys import MAX_KEY_LENGTH, InvalidKey, parse_api_key
from providers.secret import KNOWN_PREFIXES, Secret
from tests.fakes.providers import anthropic_key, openrouter_key

# Fixed, well-formed keys, so the parametrized ids stay stable; the bodies are easy to grep for.
ANTHROPIC = "sk-ant-api03-" + "CanaryAnthropicBody_" + "x" * 73 + "AA"
OPENROUTER = "sk-or-v1-" + "c0ffee" * 10 + "beef"
ADMIN = "sk-ant-admin01-" + "CanaryAdminBody" + "y" * 70 + "AA"
OAUTH = "sk-ant-oat01-" + "CanaryOauthBody" + "z" * 70 + "AA"
REFRESH = "sk-ant-ort01-" + "CanaryRefreshBody" + "r" * 70 + "AA"
OTHER_ANTHROPIC = "sk-ant-sid01-" + "CanarySessionBody" + "s" * 70 + "AA"
OPENAI = "sk-" + "CanaryOpenAIBody" + "A1b2" * 8
OPENAI_PROJECT = "sk-proj-" + "CanaryProjectBody" + "Q9_-" * 30


def refusal(raw: str, provider: str) -> str:
    with pytest.raises(InvalidKey) as excinfo:
        parse_api_key(raw, provider=provider)
    return str(excinfo.value)


@pytest.mark.parametrize(
    ("raw", "provider"),
    [
        (ANTHROPIC, "anthropic"),
        (f"  {ANTHROPIC}  ", "anthropic"),
        (f"{ANTHROPIC}\n", "anthropic"),
        (f"\t{ANTHROPIC}\r\n", "anthropic"),
        (f"\u00a0{ANTHROPIC}\u3000", "anthropic"),
        (OPENROUTER, "openrouter"),
        (f"\n\n{OPENROUTER}\n", "openrouter"),
        (f" \t{OPENROUTER} ", "openrouter"),
        ("sk-ant-api03-" + "a" * (MAX_KEY_LENGTH - len("sk-ant-api03-")), "anthropic"),
    ],
    ids=[
        "anthropic",
        "anthropic-spaces",
        "anthropic-newline",
        "anthropic-tab-crlf",
        "anthropic-unicode-spaces",
        "openrouter",
        "openrouter-newlines",
        "openrouter-spaces-tab",
        "anthropic-exactly-512",
    ],
)
def test_a_valid_key_is_accepted_with_surrounding_white_space_stripped(raw, provider):
    secret = parse_api_key(raw, provider=provider)
    assert isinstance(secret, Secret)
    assert secret.reveal() == raw.strip()


def test_freshly_generated_keys_of_both_providers_are_accepted():
    for _ in range(20):
        key = anthropic_key()
        assert parse_api_key(key, provider="anthropic").reveal() == key
        key = openrouter_key()
        assert parse_api_key(key, provider="openrouter").reveal() == key


def with_char_inside(key: str, char: str) -> str:
    return key[:20] + char + key[20:]


# (input, slot, a piece of the message that says what went wrong and what to do)
REFUSALS = [
    ("", "anthropic", "No key was given: paste the Anthropic API key"),
    ("", "openrouter", "No key was given: paste the OpenRouter API key"),
    (" \n\t\r\n ", "anthropic", "No key was given"),
    ("\u00a0\u2003", "openrouter", "No key was given"),
    ("sk-ant-api03-" + "a" * 500, "anthropic", "over 512 characters"),
    ("sk-or-v1-" + "a" * 504, "openrouter", "over 512 characters"),
    ("x" * 10_000, "anthropic", "over 512 characters"),
    (with_char_inside(ANTHROPIC, " "), "anthropic", "spaces or line breaks"),
    (with_char_inside(ANTHROPIC, "\n"), "anthropic", "spaces or line breaks"),
    (with_char_inside(ANTHROPIC, "\t"), "anthropic", "spaces or line breaks"),
    (with_char_inside(ANTHROPIC, "\r\n"), "anthropic", "spaces or line breaks"),
    (with_char_inside(OPENROUTER, " "), "openrouter", "spaces or line breaks"),
    (with_char_inside(OPENROUTER, "\u00a0"), "openrouter", "spaces or line breaks"),
    (f"{ANTHROPIC[:40]}\n{ANTHROPIC[40:]}", "anthropic", "one line"),
    (with_char_inside(ANTHROPIC, "\x00"), "anthropic", "control or invisible characters"),
    (with_char_inside(ANTHROPIC, "\x07"), "anthropic", "control or invisible characters"),
    (with_char_inside(ANTHROPIC, "\x1b"), "anthropic", "control or invisible characters"),
    (with_char_inside(ANTHROPIC, "\x7f"), "anthropic", "control or invisible characters"),
    (with_char_inside(OPENROUTER, "\u200b"), "openrouter", "control or invisible characters"),
    (with_char_inside(ANTHROPIC, "\u200d"), "anthropic", "control or invisible characters"),
    (with_char_inside(ANTHROPIC, "\u2060"), "anthropic", "control or invisible characters"),
    ("\ufeff" + ANTHROPIC, "anthropic", "control or invisible characters"),
    (ANTHROPIC + "\u200b", "anthropic", "control or invisible characters"),
    (OPENROUTER + "\u200e", "openrouter", "control or invisible characters"),
    (ANTHROPIC, "openrouter", "paste it as the Anthropic API key instead"),
    (OPENROUTER, "anthropic", "paste it as the OpenRouter API key instead"),
    (ADMIN, "anthropic", "Admin API key"),
    (ADMIN, "openrouter", "Admin API key"),
    (OAUTH, "anthropic", "Claude subscription token, not an API key"),
    (OAUTH, "openrouter", "Claude subscription token, not an API key"),
    (REFRESH, "anthropic", "claude setup-token"),
    (REFRESH, "openrouter", "Create an API key (sk-ant-api03-...) in the Anthropic Console"),
    (OTHER_ANTHROPIC, "anthropic", "an Anthropic token but not an API key"),
    (OPENAI, "anthropic", "OpenAI key"),
    (OPENAI, "openrouter", "OpenAI key"),
    (OPENAI_PROJECT, "anthropic", "OpenAI key"),
    (OPENAI_PROJECT, "openrouter", "OpenAI key"),
    (ANTHROPIC[:30], "anthropic", "cut short or mistyped"),
    ("sk-ant-api03-", "anthropic", "cut short or mistyped"),
    ("sk-ant-api03-abc!def" + "x" * 40, "anthropic", "cut short or mistyped"),
    (OPENROUTER[:-1], "openrouter", "64 hexadecimal characters"),
    (OPENROUTER + "a", "openrouter", "64 hexadecimal characters"),
    ("sk-or-v1-", "openrouter", "64 hexadecimal characters"),
    ("sk-or-v1-" + "g" * 64, "openrouter", "64 hexadecimal characters"),
    ("sk-or-v1-" + "C0FFEE" * 10 + "BEEF", "openrouter", "64 hexadecimal characters"),
    ("sk-or-v1-" + "z1" * 32, "openrouter", "64 hexadecimal characters"),
    ("sk-or-v2-" + "c0ffee" * 10 + "beef", "openrouter", "64 hexadecimal characters"),
    ("CanaryNotAKeyAtAll-0123456789", "anthropic", "not an Anthropic API key"),
    ("CanaryNotAKeyAtAll-0123456789", "openrouter", "not an OpenRouter API key"),
    ("c0ffee" * 10 + "beef", "openrouter", "those start with sk-or-v1-"),
]

REFUSAL_IDS = [
    "empty-anthropic",
    "empty-openrouter",
    "white-space-only",
    "unicode-space-only",
    "oversized-anthropic",
    "oversized-openrouter",
    "oversized-garbage",
    "inner-space",
    "inner-newline",
    "inner-tab",
    "inner-crlf",
    "openrouter-inner-space",
    "openrouter-inner-nbsp",
    "wrapped-over-two-lines",
    "nul",
    "bell",
    "escape",
    "delete",
    "zero-width-space",
    "zero-width-joiner",
    "word-joiner",
    "leading-byte-order-mark",
    "trailing-zero-width-space",
    "trailing-left-to-right-mark",
    "anthropic-key-in-openrouter-slot",
    "openrouter-key-in-anthropic-slot",
    "admin-key-in-anthropic-slot",
    "admin-key-in-openrouter-slot",
    "anthropic-oauth-token-in-anthropic-slot",
    "anthropic-oauth-token-in-openrouter-slot",
    "claude-refresh-token-in-anthropic-slot",
    "claude-refresh-token-in-openrouter-slot",
    "other-anthropic-token",
    "openai-key-in-anthropic-slot",
    "openai-key-in-openrouter-slot",
    "openai-project-key-in-anthropic-slot",
    "openai-project-key-in-openrouter-slot",
    "anthropic-truncated",
    "anthropic-prefix-only",
    "anthropic-bad-character",
    "openrouter-63-hex",
    "openrouter-65-hex",
    "openrouter-prefix-only",
    "openrouter-not-hex",
    "openrouter-upper-case-hex",
    "openrouter-mixed-not-hex",
    "openrouter-other-version",
    "garbage-in-anthropic-slot",
    "garbage-in-openrouter-slot",
    "openrouter-body-without-prefix",
]

# What the refusal messages tell a person to do.
WHAT_TO_DO = re.compile(r"\b(paste|copy|create)\b", re.IGNORECASE)


@pytest.mark.parametrize(("raw", "provider", "expected"), REFUSALS, ids=REFUSAL_IDS)
def test_a_bad_key_gets_one_line_that_says_what_to_do_and_never_the_key(raw, provider, expected):
    message = refusal(raw, provider)
    assert expected in message
    assert len(message.splitlines()) == 1
    assert message == message.strip()
    assert WHAT_TO_DO.search(message), message
    key = raw.strip()
    # What follows a known prefix is the secret part; a prefix alone ("sk-or-v1-") is no secret.
    prefix = next((p for p in KNOWN_PREFIXES if key.startswith(p)), "")
    secret_part = key[len(prefix) :]
    if secret_part:
        assert key not in message
        assert secret_part not in message
        assert secret_part[-12:] not in message
    assert "Canary" not in message


def test_the_wrong_provider_messages_say_where_the_key_belongs():
    assert "OpenRouter API key" in refusal(OPENROUTER, "anthropic")
    assert "Anthropic API key" in refusal(ANTHROPIC, "openrouter")
    openai = refusal(OPENAI, "anthropic")
    assert "OpenRouter" in openai
    assert "openai/<model>" in openai
    admin = refusal(ADMIN, "openrouter")
    assert "sk-ant-api03-" in admin
    assert "Anthropic Console" in admin


def test_length_limit_is_counted_after_stripping():
    key = "sk-ant-api03-" + "a" * (MAX_KEY_LENGTH - len("sk-ant-api03-"))
    assert parse_api_key("\n" * 100 + key + " " * 100, provider="anthropic").reveal() == key
    assert "over 512" in refusal(key + "a", "anthropic")


def test_an_unknown_provider_is_refused():
    message = refusal(ANTHROPIC, "openai")
    assert "use anthropic or openrouter" in message
    assert ANTHROPIC not in message


def test_invalid_key_is_a_value_error():
    assert issubclass(InvalidKey, ValueError)


# Every text a refusal can carry (the table covers every rule). A message from this fixed
# set cannot carry anything of the input it refused.
REFUSAL_MESSAGES = frozenset(refusal(raw, provider) for raw, provider, _ in REFUSALS)

PREFIXES = [
    "",
    "sk-",
    "sk-ant-",
    "sk-ant-api03-",
    "sk-ant-admin01-",
    "sk-ant-oat01-",
    "sk-ant-ort01-",
    "sk-or-",
    "sk-or-v1-",
    "sk-proj-",
]
KEY_ALPHABET = string.ascii_letters + string.digits + "_-"


@st.composite
def pasted_text(draw) -> str:
    """Text shaped like what people paste: a prefix, a key-ish body, some white space around."""
    prefix = draw(st.sampled_from(PREFIXES))
    body = draw(
        st.one_of(
            st.text(alphabet=KEY_ALPHABET, max_size=120),
            st.text(alphabet="0123456789abcdef", min_size=60, max_size=68),
            st.text(max_size=40),
        )
    )
    around = st.text(alphabet=" \t\r\n\u00a0", max_size=3)
    return draw(around) + prefix + body + draw(around)


@settings(max_examples=300, deadline=None)
@given(raw=st.one_of(st.text(max_size=600), pasted_text()), provider=st.sampled_from(["anthropic", "openrouter"]))
def test_any_text_is_returned_stripped_or_refused_without_echo(raw, provider):
    key = raw.strip()
    try:
        secret = parse_api_key(raw, provider=provider)
    except InvalidKey as exc:
        message = str(exc)
        assert message in REFUSAL_MESSAGES
        if not any(key in known for known in REFUSAL_MESSAGES):
            # The input is not itself a piece of a fixed text (such as "sk-" or "paste").
            assert key not in message
    else:
        assert secret == Secret(key)
        assert secret.reveal() == key


@settings(max_examples=100, deadline=None)
@given(
    before=st.text(alphabet=" \t\r\n\u00a0\u2002\u3000", max_size=5),
    after=st.text(alphabet=" \t\r\n\u00a0\u2002\u3000", max_size=5),
)
def test_valid_keys_survive_any_surrounding_white_space(before, after):
    key = "sk-or-v1-" + secrets.token_hex(32)
    assert parse_api_key(before + key + after, provider="openrouter") == Secret(key)
