"""A preview of how `.sinatrarc` examples resolve for a tenant right now (the tenant console)."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from providers import Provider
from tenants.models import Tenant

from .errors import MissingCredential, RoutingError
from .service import Resolution, resolve

EXAMPLES: tuple[tuple[str, str | None], ...] = (
    ("no .sinatrarc", None),
    ("model: opus", "agent:\n  model: opus\n"),
    ("model: sonnet", "agent:\n  model: sonnet\n"),
    ("model: haiku", "agent:\n  model: haiku\n"),
    ("model: openai/gpt-5", "agent:\n  model: openai/gpt-5\n"),
    ("model: opus, model_provider: openrouter", "agent:\n  model: opus\n  model_provider: openrouter\n"),
)


@dataclass(frozen=True)
class PreviewRow:
    """One example: what it asks, and the resolution or why there is none."""

    example: str
    sinatrarc: str | None
    resolution: Resolution | None = None
    problem: str = ""

    @property
    def summary(self) -> str:
        """E.g. "Anthropic, claude-opus-4-8" or "no key for OpenRouter yet"."""
        if self.resolution is not None:
            return f"{Provider(self.resolution.provider).label}, {self.resolution.model}"
        return self.problem


def resolve_preview(
    tenant: Tenant, sinatrarc: str | None, *, example: str = "", default_model: str | None = None
) -> PreviewRow:
    """Resolve one example without recording use; `default_model` previews an unsaved default."""
    if default_model is not None:
        tenant = copy.copy(tenant)
        tenant.default_model = default_model
    try:
        return PreviewRow(example, sinatrarc, resolve(tenant, sinatrarc, record_use=False))
    except MissingCredential as exc:
        return PreviewRow(example, sinatrarc, problem=f"no key for {Provider(exc.provider).label} yet")
    except RoutingError as exc:
        return PreviewRow(example, sinatrarc, problem=str(exc))


def preview(tenant: Tenant, *, default_model: str | None = None) -> list[PreviewRow]:
    """Return how each example resolves for this tenant now."""
    return [resolve_preview(tenant, text, example=example, default_model=default_model) for example, text in EXAMPLES]
