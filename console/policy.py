"""The tenant's policy page: what its requests may use, previewed before it is saved."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render

from credentials.services import Actor
from routing.policy import tenant_policy_save
from routing.policy_rules import PolicyError, policy_read
from routing.preview import compare_policies, preview
from routing.selectors import policy_events
from tenants.models import Membership, Tenant

from .access import MANAGERS, AuthenticatedRequest, tenant_view
from .forms import PolicyForm


@tenant_view()
def policy(request: AuthenticatedRequest, tenant: Tenant, membership: Membership) -> HttpResponse:
    """Everyone reads the policy and how repos resolve under it; owners and admins preview and save changes."""
    can_manage = membership.role in MANAGERS
    current = policy_read(tenant)
    form = PolicyForm(initial=PolicyForm.initial_of(current)) if can_manage else None
    comparison = None
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied("Only owners and admins change the policy.")
        form = PolicyForm(request.POST)
        if form.is_valid():
            proposed = form.cleaned_data["policy"]
            if "save" in request.POST:
                try:
                    changed = tenant_policy_save(tenant=tenant, policy=proposed, actor=Actor.of_user(request.user))
                except PolicyError as exc:
                    form.add_error(None, str(exc))
                else:
                    messages.success(request, "The policy is saved." if changed else "The policy was that already.")
                    return redirect("policy", tenant.slug)
            comparison = compare_policies(tenant, proposed=proposed)
    context = {
        "tenant": tenant,
        "section": "policy",
        "membership": membership,
        "can_manage": can_manage,
        "policy": current.describe(),
        "form": form,
        "comparison": comparison,
        "rows": preview(tenant) if comparison is None else [],
        "events": policy_events(tenant=tenant),
    }
    return render(request, "console/policy.html", context)
