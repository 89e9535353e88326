"""The `Secret` type that carries a provider API key through memory, and log redaction.

A `Secret` shows its hint (``sk-ant-api03-...Wxyz``), never the key, in ``repr``, ``str``,
f-strings and tracebacks; ``reveal()`` hands the plaintext to the one caller that sends it
to a provider. It refuses to be pickled, so it cannot end up in a cache or a session.
"""

from __future__ import annotations

import hmac
import logging
import re

# Longest first: the hint keeps the prefix that tells a person what kind of key it is.
KNOWN_PREFIXES = ("sk-ant-admin01-", "sk-ant-api03-", "sk-ant-", "sk-or-v1-", "sk-proj-", "sk-")


def key_hint(value: str) -> str:
    """Return the masked form of a key: its known prefix and its last four characters."""
    prefix = next((p for p in KNOWN_PREFIXES if value.startswith(p)), "")
    rest = value[len(prefix) :]
    # A short remainder would give too much of it away; show the prefix alone.
    return f"{prefix}...{rest[-4:]}" if len(rest) >= 16 else f"{prefix}..."


class Secret:
    """A provider API key held in memory; only `reveal()` gives the plaintext."""

    __slots__ = ("_value", "hint")

    def __init__(self, value: str, *, hint: str | None = None) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret holds a str")
        self._value = value
        # A stored row already knows its hint (computed from this key when it was stored).
        self.hint = hint or key_hint(value)

    def reveal(self) -> str:
        """Return the plaintext key, for the one caller that sends it to a provider."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.hint!r})"

    def __str__(self) -> str:
        return self.hint

    def __format__(self, format_spec: str) -> str:
        # f"{secret:>40}" formats the hint; object.__format__ would refuse any format spec.
        return format(self.hint, format_spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self):
        raise TypeError("a Secret cannot be pickled or copied out of process memory")


# Anything shaped like a provider key: the prefixes above followed by a long token.
_KEY_PATTERN = re.compile(r"sk-[A-Za-z0-9_\-]{20,}")


def redact_keys(text: str) -> str:
    """Replace every key-shaped token in `text` with its hint."""
    return _KEY_PATTERN.sub(lambda match: key_hint(match.group(0)), text)


class RedactKeysFilter(logging.Filter):
    """Defence in depth for log handlers: mask key-shaped tokens in messages and tracebacks.

    Code never logs keys; this filter is there for the mistake nobody has made yet.
    """

    _formatter = logging.Formatter()

    @staticmethod
    def redact(text: str) -> str:
        """What this filter masks (subclasses mask more)."""
        return redact_keys(text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            # A malformed logging call: log what it gave, masked, rather than raise into the
            # caller or let logging's error report print the arguments unmasked.
            message = f"{record.msg} {record.args!r}"
        record.msg = self.redact(message)
        record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True
