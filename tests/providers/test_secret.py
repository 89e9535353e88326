"""`Secret` shows only its hint; `key_hint` masks keys; the log filter masks what slips through."""

import copy
import io
import logging
import pickle

import pytest
from django.conf import settings
from django.core.cache import cache

from providers.secret import RedactKeysFilter, Secret, key_hint, redact_keys
from tests.fakes.providers import anthropic_key, openrouter_key

KEY = "sk-ant-api03-" + "CanaryBody" + "q" * 80 + "Wxyz"
HINT = "sk-ant-api03-...Wxyz"


def test_repr_str_and_formatting_show_only_the_hint():
    secret = Secret(KEY)
    shown = [
        repr(secret),
        str(secret),
        format(secret),
        format(secret, ">120"),
        f"{secret}",
        f"{secret!r}",
        f"{secret!s}",
        f"{secret:<120}",
        "%s" % secret,  # noqa: UP031 - the old formatting must hide the key too
        "%r" % secret,  # noqa: UP031
        "{}".format(secret),  # noqa: UP032
        repr([secret]),
        repr({"key": secret}),
        str((secret,)),
    ]
    for text in shown:
        assert HINT in text
        assert KEY not in text
        assert "Canary" not in text
    assert str(secret) == HINT
    assert repr(secret) == f"Secret({HINT!r})"
    assert f"{secret:>25}" == f"{HINT:>25}"


def test_reveal_gives_the_plaintext():
    assert Secret(KEY).reveal() == KEY
    assert Secret(KEY).hint == HINT


def test_a_secret_holds_only_text():
    with pytest.raises(TypeError):
        Secret(KEY.encode())


def test_a_secret_has_no_instance_dict_that_would_show_the_key():
    secret = Secret(KEY)
    with pytest.raises(TypeError):
        vars(secret)
    with pytest.raises(AttributeError):
        secret.extra = "x"


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickling_is_refused(protocol):
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(Secret(KEY), protocol=protocol)


def test_pickling_inside_a_container_is_refused():
    with pytest.raises(TypeError):
        pickle.dumps({"credential": [Secret(KEY)]})


@pytest.mark.parametrize("copier", [copy.copy, copy.deepcopy], ids=["copy", "deepcopy"])
def test_copying_is_refused(copier):
    with pytest.raises(TypeError, match="cannot be pickled or copied"):
        copier(Secret(KEY))


def test_a_secret_cannot_be_put_in_a_cache():
    with pytest.raises(TypeError):
        cache.set("secret", Secret(KEY))
    assert cache.get("secret") is None


def test_secrets_with_the_same_key_are_equal():
    assert Secret(KEY) == Secret(KEY)
    assert Secret(KEY).__ne__(Secret(KEY)) is False
    assert Secret(KEY) != Secret(KEY + "a")
    assert Secret(KEY) != Secret(anthropic_key())


def test_a_secret_never_equals_its_plaintext_or_hint():
    assert Secret(KEY) != KEY
    assert Secret(KEY) != HINT
    assert Secret(KEY).__eq__(KEY) is NotImplemented


def test_a_secret_is_not_hashable():
    with pytest.raises(TypeError):
        hash(Secret(KEY))
    with pytest.raises(TypeError):
        {Secret(KEY)}


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("sk-ant-api03-" + "a" * 90 + "Wxyz", "sk-ant-api03-...Wxyz"),
        ("sk-ant-admin01-" + "b" * 80 + "AbCd", "sk-ant-admin01-...AbCd"),
        ("sk-ant-oat01-" + "c" * 80 + "1234", "sk-ant-...1234"),
        ("sk-or-v1-" + "0" * 60 + "beef", "sk-or-v1-...beef"),
        ("sk-proj-" + "d" * 100 + "_-9Z", "sk-proj-..._-9Z"),
        ("sk-" + "e" * 44 + "5678", "sk-...5678"),
        ("sk-ant-api03-short", "sk-ant-api03-..."),
        ("sk-ant-api03-" + "f" * 15, "sk-ant-api03-..."),
        ("sk-ant-api03-" + "f" * 12 + "9876", "sk-ant-api03-...9876"),
        ("sk-or-v1-", "sk-or-v1-..."),
        ("x" * 40 + "tail", "...tail"),
        ("short", "..."),
        ("", "..."),
    ],
    ids=[
        "anthropic",
        "anthropic-admin",
        "anthropic-other",
        "openrouter",
        "openai-project",
        "openai",
        "short-anthropic",
        "fifteen-after-prefix",
        "sixteen-after-prefix",
        "prefix-only",
        "unknown-prefix",
        "unknown-short",
        "empty",
    ],
)
def test_key_hint_keeps_the_known_prefix_and_at_most_the_last_four(key, hint):
    assert key_hint(key) == hint


def test_key_hint_of_fresh_keys_shows_four_characters_of_the_key():
    key = openrouter_key()
    assert key_hint(key) == f"sk-or-v1-...{key[-4:]}"
    key = anthropic_key()
    assert key_hint(key) == f"sk-ant-api03-...{key[-4:]}"


def test_redact_keys_masks_every_key_shaped_token():
    openrouter = openrouter_key()
    text = f"first {KEY}, then 'Bearer {openrouter}' and sk-short stays"
    redacted = redact_keys(text)
    assert KEY not in redacted
    assert openrouter not in redacted
    assert HINT in redacted
    assert f"sk-or-v1-...{openrouter[-4:]}" in redacted
    assert "sk-short stays" in redacted


@pytest.fixture
def redacted_log():
    """A logger whose handler carries the filter, as LOGGING configures the console handler."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactKeysFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("tests.credentials.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_the_filter_masks_keys_in_log_messages(redacted_log):
    logger, stream = redacted_log
    logger.info(f"stored {KEY}")
    assert KEY not in stream.getvalue()
    assert f"INFO stored {HINT}" in stream.getvalue()


def test_the_filter_masks_keys_in_log_arguments(redacted_log):
    logger, stream = redacted_log
    openrouter = openrouter_key()
    logger.warning("keys %s and %r", KEY, openrouter)
    logger.warning("mapping %(key)s", {"key": KEY})
    output = stream.getvalue()
    assert KEY not in output
    assert openrouter not in output
    assert f"keys {HINT} and 'sk-or-v1-...{openrouter[-4:]}'" in output
    assert f"mapping {HINT}" in output


def test_the_filter_masks_keys_in_tracebacks(redacted_log):
    logger, stream = redacted_log
    try:
        raise ValueError(f"provider refused {KEY}")
    except ValueError:
        logger.exception("call failed")
    output = stream.getvalue()
    assert "Traceback (most recent call last)" in output
    assert f"ValueError: provider refused {HINT}" in output
    assert KEY not in output
    assert "Canary" not in output


def test_the_filter_keeps_a_malformed_logging_call_from_raising_or_leaking(redacted_log):
    logger, stream = redacted_log
    logger.error("two placeholders %s %s", KEY)
    output = stream.getvalue()
    assert "two placeholders" in output
    assert HINT in output
    assert KEY not in output


def test_a_secret_logged_shows_its_hint(redacted_log):
    logger, stream = redacted_log
    logger.info("using %s (%r)", Secret(KEY), Secret(KEY))
    assert stream.getvalue().strip() == f"INFO using {HINT} (Secret({HINT!r}))"


def test_the_console_log_handler_carries_the_filter():
    console = settings.LOGGING["handlers"]["console"]
    assert console["filters"] == ["redact_keys", "redact_secrets"]
    assert settings.LOGGING["filters"]["redact_keys"]["()"] == "providers.secret.RedactKeysFilter"
    assert settings.LOGGING["filters"]["redact_secrets"]["()"] == "sinatra.redaction.RedactSecretsFilter"
    assert "console" in settings.LOGGING["root"]["handlers"]
