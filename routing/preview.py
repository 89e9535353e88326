"""A preview of how `.sinatrarc` examples resolve for a tenant right now (the tenant console)."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from providers import Provider
from tenants.models import Tenant

from .errors import MissingCredential, PolicyDenied, RoutingError
from .policy_rules import Policy
from .service import Resolution, resolve_agent
from .sinatrarc import parse_sinatrarc

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

    refused: bool = False  # by the tenant's policy

    @property
    def summary(self) -> str:
        """E.g. "Anthropic, claude-opus-4-8", "no key for OpenRouter yet" or "refused by the policy: ..."."""
        if self.resolution is not None:
            return f"{Provider(self.resolution.provider).label}, {self.resolution.model}"
        return self.problem


def resolve_preview(
    tenant: Tenant,
    sinatrarc: str | None,
    *,
    example: str = "",
    default_model: str | None = None,
    policy: Policy | None = None,
) -> PreviewRow:
    """Resolve one example without recording use; `default_model` and `policy` preview unsaved ones."""
    if default_model is not None:
        tenant = copy.copy(tenant)
        tenant.default_model = default_model
    try:
        agent = parse_sinatrarc(sinatrarc)
        resolution = resolve_agent(tenant, agent, record_use=False, policy=policy)
    except MissingCredential as exc:
        return PreviewRow(example, sinatrarc, problem=f"no key for {Provider(exc.provider).label} yet")
    except PolicyDenied as exc:
        return PreviewRow(example, sinatrarc, problem=f"refused by the policy: {exc.rule}", refused=True)
    except RoutingError as exc:
        return PreviewRow(example, sinatrarc, problem=str(exc))
    return PreviewRow(example, sinatrarc, resolution)


def preview(tenant: Tenant, *, default_model: str | None = None, policy: Policy | None = None) -> list[PreviewRow]:
    """Return how each example resolves for this tenant now (or with an unsaved default model or policy)."""
    return [
        resolve_preview(tenant, text, example=example, default_model=default_model, policy=policy)
        for example, text in EXAMPLES
    ]


@dataclass(frozen=True)
class PolicyPreviewRow:
    """One example under the tenant's policy now and under a policy not saved yet."""

    now: PreviewRow
    proposed: PreviewRow

    @property
    def example(self) -> str:
        return self.now.example

    @property
    def changes(self) -> bool:
        return self.now.summary != self.proposed.summary


def compare_policies(tenant: Tenant, *, proposed: Policy) -> list[PolicyPreviewRow]:
    """Return how each example resolves now and how it would with `proposed` saved."""
    now = preview(tenant)
    return [
        PolicyPreviewRow(row, proposed_row)
        for row, proposed_row in zip(now, preview(tenant, policy=proposed), strict=True)
    ]
