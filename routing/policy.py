"""What a tenant's requests may use and use by default: its policy and its default model.

Writes only; the policy as a value, and reading it, live in `routing.policy_rules`.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from credentials.services import Actor
from tenants.models import Tenant
from tenants.services import tenant_update

from . import rules
from .errors import PolicyDenied, RoutingError
from .models import AliasPin, PolicyEvent, TenantPolicy
from .policy_rules import Policy, PolicyError, forget_policy, policy_read
from .service import resolve_agent
from .sinatrarc import AgentConfig, agent_config


def validate_default_model(model: str) -> None:
    """Refuse a default model the routing rules could never serve, with the rules' own message."""
    try:
        agent = agent_config({"model": model})
        rules.route(agent.model or "", None)
    except RoutingError as exc:
        raise ValidationError(str(exc)) from None


def tenant_set_default_model(*, tenant: Tenant, model: str) -> Tenant:
    """Set the model a tenant's requests use when `.sinatrarc` names none ("" means sonnet)."""
    model = model.strip()
    if model:
        validate_default_model(model)
    return tenant_update(tenant=tenant, default_model=model)


def default_model_refusal(*, tenant: Tenant, policy: Policy) -> str | None:
    """Return why `policy` would refuse the tenant's own default model, or None if it would not.

    The default is resolved exactly as a worker's request naming no model would be (keys and
    catalog included), with `policy` in place of the tenant's; only the policy's refusal counts.
    """
    try:
        resolve_agent(tenant, AgentConfig(), record_use=False, policy=policy)
    except PolicyDenied as exc:
        return exc.rule
    except RoutingError:
        return None  # no key yet, say: not the policy's doing
    return None


@transaction.atomic
def tenant_policy_save(*, tenant: Tenant, policy: Policy, actor: Actor) -> bool:
    """Store a tenant's policy (the default removes it); return whether anything changed.

    Refuses (PolicyError) a policy that would refuse the tenant's own default model. Writes a
    PolicyEvent, and touches the tenant's `updated_at`, by which every process's resolve()
    learns that its policy changed.
    """
    locked = Tenant.objects.select_for_update().get(pk=tenant.pk)  # one change at a time per tenant
    before = policy_read(locked)
    if policy == before:
        return False
    refusal = default_model_refusal(tenant=locked, policy=policy)
    if refusal is not None:
        default = locked.default_model or rules.DEFAULT_MODEL
        raise PolicyError(
            "",
            f"This policy would refuse the tenant's own default model ({default}): {refusal} "
            "Change the default model first, or allow it.",
        )
    TenantPolicy.objects.filter(tenant=tenant).delete()
    if not policy.is_default:
        row = TenantPolicy.objects.create(
            tenant=tenant, providers=",".join(sorted(policy.providers)), model_patterns=",".join(policy.models)
        )
        AliasPin.objects.bulk_create(
            AliasPin(policy=row, alias=alias, model=model) for alias, model in policy.pins.items()
        )
    tenant.updated_at = timezone.now()
    Tenant.objects.filter(pk=tenant.pk).update(updated_at=tenant.updated_at)
    transaction.on_commit(lambda: forget_policy(tenant.pk))  # this process's older tenant objects too
    PolicyEvent.objects.create(
        tenant=tenant, actor=actor.label, actor_user=actor.user, before=before.summary(), after=policy.summary()
    )
    return True
