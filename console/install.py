"""The install flow: a one-time link (/install/<token>/), then the tenant's name, keys and default model."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model, login, password_validation
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from credentials.errors import CredentialError, VerificationUnavailable
from credentials.models import Status
from credentials.services import Actor, credential_states, credential_submit
from routing.policy import tenant_set_default_model
from routing.preview import preview
from tenants.errors import TenantDeactivated
from tenants.models import Invitation, Membership, Role, Tenant
from tenants.services import (
    InvitationError,
    existing_user_for_email,
    invitation_accept,
    invitation_accept_with_password,
    invitation_for_token,
    invitation_is_for,
    invitation_sets_password,
    tenant_update,
)

from . import feedback
from .access import MANAGERS, AuthenticatedRequest, tenant_deactivated, tenant_view
from .accounts import SIGN_IN_BACKEND
from .forms import KEY_FIELD_NAMES, ChoosePasswordForm, DefaultModelForm, KeysForm, TenantNameForm
from .links import token_kept_out_of_logs

MODEL_SUGGESTIONS = ["sonnet", "opus", "haiku", "openai/gpt-5", "anthropic/claude-opus-4.8", "google/gemini-2.5-pro"]


def _after_joining(tenant: Tenant, role: str) -> str:
    """Owners of a tenant without keys continue the install flow; everyone else lands on the console."""
    if role == Role.OWNER and not tenant.credentials.exists():
        return reverse("setup-name", args=[tenant.slug])
    return reverse("console", args=[tenant.slug])


def _link_refused(request: HttpRequest, exc: InvitationError) -> HttpResponse:
    return render(request, "console/install_invalid.html", {"problem": str(exc)}, status=410)


@token_kept_out_of_logs
@sensitive_post_parameters("new_password1", "new_password2")
@sensitive_variables("password")
def install(request: HttpRequest, token: str) -> HttpResponse:
    """Open a one-time link: set a password if needed, join the tenant, continue."""
    try:
        invitation = invitation_for_token(token)
    except Invitation.DoesNotExist:
        raise Http404("No such invitation.") from None
    except InvitationError as exc:
        return _link_refused(request, exc)
    tenant = invitation.tenant
    if not tenant.is_active:  # joining is a write, and so is the password step before it
        return tenant_deactivated(request, tenant)
    person = existing_user_for_email(invitation.email)
    context: dict[str, object] = {"invitation": invitation, "tenant": tenant}

    if request.user.is_authenticated and not invitation_is_for(invitation, request.user):
        return render(request, "console/install_wrong_user.html", context, status=403)

    if not invitation_sets_password(invitation=invitation, person=person):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if request.method == "POST":
            try:
                membership = invitation_accept(invitation=invitation, user=request.user)
            except InvitationError as exc:
                return _link_refused(request, exc)
            except TenantDeactivated:
                return tenant_deactivated(request, tenant)
            messages.success(request, f"You joined {tenant.name} as {membership.get_role_display().lower()}.")
            return redirect(_after_joining(tenant, membership.role))
        return render(request, "console/install_join.html", context)

    # A new person, or an owner created by `create_tenant` who has no password yet.
    candidate = person or get_user_model()(username=invitation.email, email=invitation.email)
    form = ChoosePasswordForm(candidate, request.POST or None)
    if request.method == "POST" and form.is_valid():
        password = form.cleaned_data["new_password1"]
        try:
            user, membership = invitation_accept_with_password(invitation=invitation, password=password)
        except InvitationError as exc:
            return _link_refused(request, exc)
        except TenantDeactivated:
            return tenant_deactivated(request, tenant)
        login(request, user, backend=SIGN_IN_BACKEND)
        messages.success(request, f"Welcome to {tenant.name}.")
        return redirect(_after_joining(tenant, membership.role))
    context["password_errors"] = form.errors.get("new_password1", [])
    context["again_errors"] = form.errors.get("new_password2", [])
    context["password_help"] = password_validation.password_validators_help_texts()
    return render(request, "console/install_password.html", context)


@tenant_view(roles=MANAGERS)
def setup_name(request: AuthenticatedRequest, tenant: Tenant, membership: Membership) -> HttpResponse:
    form = TenantNameForm(request.POST or None, initial={"name": tenant.name})
    if request.method == "POST" and form.is_valid():
        tenant_update(tenant=tenant, name=form.cleaned_data["name"])
        return redirect("setup-keys", tenant.slug)
    return render(request, "console/setup_name.html", {"tenant": tenant, "section": "setup", "form": form, "step": 1})


@sensitive_post_parameters(*KEY_FIELD_NAMES)
@sensitive_variables("raw")
@tenant_view(roles=MANAGERS)
def setup_keys(request: AuthenticatedRequest, tenant: Tenant, membership: Membership) -> HttpResponse:
    form = KeysForm(request.POST or None)
    offer_unverified = set()
    if request.method == "POST" and form.is_valid():
        pasted = False
        for fields in form.provider_fields():
            raw = form.cleaned_data[fields.key.name]
            if not raw.strip():
                continue
            pasted = True
            try:
                result = credential_submit(
                    tenant=tenant,
                    provider=fields.provider,
                    raw=raw,
                    actor=Actor.of_user(request.user),
                    allow_unverified=form.cleaned_data[fields.unverified.name],
                )
            except CredentialError as exc:
                if isinstance(exc, VerificationUnavailable):
                    offer_unverified.add(fields.provider)
                form.add_error(fields.key.name, feedback.refusal(exc))
            else:
                feedback.stored(request, result)
        if not form.errors:
            if pasted or tenant.credentials.filter(status=Status.ACTIVE).exists():
                return redirect("setup-model", tenant.slug)
            form.add_error(None, "Paste at least one key: Anthropic, OpenRouter, or both.")
    providers = credential_states(tenant=tenant)
    return render(
        request,
        "console/setup_keys.html",
        {
            "tenant": tenant,
            "section": "setup",
            "form": form,
            "step": 2,
            "providers": providers,
            "has_keys": any(entry.active for entry in providers),
            "offer_unverified": offer_unverified,
        },
    )


@tenant_view(roles=MANAGERS)
def setup_model(request: AuthenticatedRequest, tenant: Tenant, membership: Membership) -> HttpResponse:
    form = DefaultModelForm(request.POST or None, initial={"default_model": tenant.default_model})
    previewed = tenant.default_model
    if request.method == "POST" and form.is_valid():
        chosen = form.cleaned_data["default_model"]
        if "save" in request.POST:
            tenant_set_default_model(tenant=tenant, model=chosen)
            messages.success(request, f"{tenant.name} is ready: workers can resolve models now.")
            return redirect("console", tenant.slug)
        previewed = chosen
    context = {
        "tenant": tenant,
        "section": "setup",
        "form": form,
        "step": 3,
        "previewed": previewed or "sonnet",
        "rows": preview(tenant, default_model=previewed) if form.is_bound is False or form.is_valid() else [],
        "suggestions": MODEL_SUGGESTIONS,
    }
    return render(request, "console/setup_model.html", context)
