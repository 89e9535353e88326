"""How Anthropic model ids and OpenRouter slugs name the same Claude model.

Anthropic writes versions with dashes (`claude-opus-4-7`); OpenRouter with dots, under the
`anthropic/` vendor (`anthropic/claude-opus-4.7`).
"""

from __future__ import annotations

import re


def dotted(slug: str) -> str:
    """Return the dotted form OpenRouter uses for a dashed Claude name, without a date suffix.

    anthropic/claude-opus-4-7 -> anthropic/claude-opus-4.7;
    anthropic/claude-sonnet-4-5-20250929 -> anthropic/claude-sonnet-4.5.
    """
    match = re.fullmatch(r"(anthropic/claude-[a-z]+)-(\d+)-(\d{1,2})(?:-\d{8})?", slug)
    if match:
        return f"{match[1]}-{match[2]}.{match[3]}"
    match = re.fullmatch(r"(anthropic/claude-[a-z]+-\d+)(?:-\d{8})", slug)
    return match[1] if match else slug


def dashed(model_id: str) -> str:
    """Return the Anthropic id for a dotted OpenRouter Claude name: claude-opus-4.7 -> claude-opus-4-7."""
    return re.sub(r"(?<=\d)\.(?=\d)", "-", model_id)
