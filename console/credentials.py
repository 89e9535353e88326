"""The tenant's credentials page: hints, states and events; replace, revoke, re-verify."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from credentials.errors import CredentialError, VerificationUnavailable
from credentials.kms import KmsError
from credentials.models import Status, TenantModelCredential
from credentials.selectors import tenant_events
from credentials.services import Actor, credential_reverify, credential_revoke, credential_states, credential_submit
from providers import Provider, spec
from routing.selectors import key_releases
from tenants.models import Membership, Tenant

from . import feedback
from .access import MANAGERS, AuthenticatedRequest, tenant_view
from .forms import ReplaceKeyForm


@tenant_view()
def credentials(request: AuthenticatedRequest, tenant: Tenant, membership: Membership) -> HttpResponse:
    releases = key_releases(tenant=tenant)
    context = {
        "tenant": tenant,
        "section": "credentials",
        "membership": membership,
        "providers": [(entry, releases.get(entry.provider, [])) for entry in credential_states(tenant=tenant)],
        "events": tenant_events(tenant=tenant),
        "can_manage": membership.role in MANAGERS,
    }
    return render(request, "console/credentials.html", context)


@sensitive_post_parameters("key")
@tenant_view(roles=MANAGERS)
def replace(request: AuthenticatedRequest, tenant: Tenant, membership: Membership, provider: str) -> HttpResponse:
    if provider not in Provider.values:
        raise Http404("No such provider.")
    form = ReplaceKeyForm(request.POST or None, provider=provider)
    offer_unverified = False
    if request.method == "POST" and form.is_valid():
        try:
            result = credential_submit(
                tenant=tenant,
                provider=provider,
                raw=form.cleaned_data["key"],
                actor=Actor.of_user(request.user),
                allow_unverified=form.cleaned_data["save_unverified"],
            )
        except CredentialError as exc:
            offer_unverified = isinstance(exc, VerificationUnavailable)
            form.add_error("key", feedback.refusal(exc))
        else:
            feedback.stored(request, result)
            return redirect("credentials", tenant.slug)
    active = TenantModelCredential.objects.filter(tenant=tenant, provider=provider, status=Status.ACTIVE).first()
    context = {
        "tenant": tenant,
        "form": form,
        "provider": provider,
        "label": spec(provider).key_label,
        "active": active,
        "offer_unverified": offer_unverified,
    }
    return render(request, "console/replace.html", context)


@tenant_view(roles=MANAGERS)
def revoke(request: AuthenticatedRequest, tenant: Tenant, membership: Membership, credential_id: UUID) -> HttpResponse:
    credential = get_object_or_404(TenantModelCredential, pk=credential_id, tenant=tenant, status=Status.ACTIVE)
    if request.method == "POST":
        credential_revoke(credential=credential, actor=Actor.of_user(request.user))
        messages.success(request, f"{feedback.key_label(credential)} is revoked.")
        return redirect("credentials", tenant.slug)
    context = {"tenant": tenant, "credential": credential, "label": spec(credential.provider).key_label}
    return render(request, "console/revoke.html", context)


@tenant_view(roles=MANAGERS)
@require_POST
def reverify(
    request: AuthenticatedRequest, tenant: Tenant, membership: Membership, credential_id: UUID
) -> HttpResponse:
    credential = get_object_or_404(TenantModelCredential, pk=credential_id, tenant=tenant, status=Status.ACTIVE)
    try:
        verification = credential_reverify(credential=credential, actor=Actor.of_user(request.user))
    except KmsError as exc:
        messages.error(request, f"{feedback.key_label(credential)} could not be read: {exc}")
    else:
        feedback.checked(request, credential, verification)
    return redirect("credentials", tenant.slug)
