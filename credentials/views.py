"""The tenant's credentials page: hints, states and events; replace, revoke, re-verify."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from tenants.access import MANAGERS, tenant_view
from tenants.forms import ReplaceKeyForm
from tenants.models import Membership, Tenant

from .keys import PROVIDER_LABELS
from .kms import KmsError
from .models import Provider, Status, TenantModelCredential
from .selectors import tenant_credentials, tenant_events
from .services import Actor, credential_reverify, credential_revoke, credential_submit


@tenant_view()
def credentials(request: HttpRequest, tenant: Tenant, membership: Membership) -> HttpResponse:
    context = {
        "tenant": tenant,
        "section": "credentials",
        "membership": membership,
        "providers": tenant_credentials(tenant=tenant),
        "events": tenant_events(tenant=tenant),
        "can_manage": membership.role in MANAGERS,
    }
    return render(request, "credentials/credentials.html", context)


@sensitive_post_parameters("key")
@tenant_view(roles=MANAGERS)
def replace(request: HttpRequest, tenant: Tenant, membership: Membership, provider: str) -> HttpResponse:
    if provider not in Provider.values:
        raise Http404("No such provider.")
    form = ReplaceKeyForm(request.POST or None, provider=provider)
    offer_unverified = False
    if request.method == "POST" and form.is_valid():
        submission = credential_submit(
            tenant=tenant,
            provider=provider,
            raw=form.cleaned_data["key"],
            actor=Actor.of_user(request.user),
            allow_unverified=form.cleaned_data["save_unverified"],
        )
        if submission.stored is not None:
            credential, replaced = submission.stored
            state = "verified" if credential.validated_at else "saved unverified"
            note = f"; {replaced.key_hint} is revoked" if replaced else ""
            messages.success(request, f"{PROVIDER_LABELS[provider]} {credential.key_hint} {state}{note}.")
            return redirect("credentials", tenant.slug)
        if submission.unreachable:
            offer_unverified = True
            form.add_error(
                "key",
                f"{submission.problem} Paste it again and tick “save without verifying” to keep it unverified.",
            )
        else:
            form.add_error("key", f"{submission.problem} Nothing was saved.")
    active = TenantModelCredential.objects.filter(tenant=tenant, provider=provider, status=Status.ACTIVE).first()
    context = {
        "tenant": tenant,
        "form": form,
        "provider": provider,
        "label": PROVIDER_LABELS[provider],
        "active": active,
        "offer_unverified": offer_unverified,
    }
    return render(request, "credentials/replace.html", context)


@tenant_view(roles=MANAGERS)
def revoke(request: HttpRequest, tenant: Tenant, membership: Membership, credential_id) -> HttpResponse:
    credential = get_object_or_404(TenantModelCredential, pk=credential_id, tenant=tenant, status=Status.ACTIVE)
    if request.method == "POST":
        credential_revoke(credential=credential, actor=Actor.of_user(request.user))
        messages.success(request, f"{PROVIDER_LABELS[credential.provider]} {credential.key_hint} is revoked.")
        return redirect("credentials", tenant.slug)
    context = {"tenant": tenant, "credential": credential, "label": PROVIDER_LABELS[credential.provider]}
    return render(request, "credentials/revoke.html", context)


@tenant_view(roles=MANAGERS)
@require_POST
def reverify(request: HttpRequest, tenant: Tenant, membership: Membership, credential_id) -> HttpResponse:
    credential = get_object_or_404(TenantModelCredential, pk=credential_id, tenant=tenant, status=Status.ACTIVE)
    label = f"{PROVIDER_LABELS[credential.provider]} {credential.key_hint}"
    try:
        verification = credential_reverify(credential=credential, actor=Actor.of_user(request.user))
    except KmsError as exc:
        messages.error(request, f"{label} could not be read: {exc}")
        return redirect("credentials", tenant.slug)
    if verification.accepted:
        messages.success(request, f"{label} is verified.")
    elif verification.verdict == "rejected":
        messages.error(request, f"{label}: {verification.message} Replace it.")
    else:
        messages.warning(request, f"{label} could not be verified now: {verification.message}")
    return redirect("credentials", tenant.slug)
