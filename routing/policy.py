"""What a tenant's requests use when they name nothing: its default model, checked against the rules."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from tenants.models import Tenant
from tenants.services import tenant_update

from . import rules
from .errors import RoutingError
from .sinatrarc import agent_config


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
