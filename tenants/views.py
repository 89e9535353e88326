"""The tenant console and the install flow. Views parse input and call services."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login, password_validation
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_POST

from credentials.keys import PROVIDER_LABELS
from credentials.models import Provider
from credentials.selectors import tenant_credentials
from credentials.services import Actor, credential_submit
from routing.preview import preview, resolve_preview

from .access import MANAGERS, OWNERS, tenant_view
from .forms import DefaultModelForm, InviteForm, KeysForm, SignupForm, TenantNameForm
from .models import Invitation, Membership, Role, Tenant
from .services import (
    InvitationError,
    account_sign_up,
    existing_user_for_email,
    invitation_accept,
    invitation_accept_with_password,
    invitation_create,
    invitation_for_token,
    invitation_is_for,
    invitation_revoke,
    invitation_sets_password,
    membership_remove,
    tenant_update,
)

MODEL_SUGGESTIONS = ["sonnet", "opus", "haiku", "openai/gpt-5", "anthropic/claude-opus-4.8", "google/gemini-2.5-pro"]
SIGN_IN_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _after_joining(tenant: Tenant, role: str) -> str:
    """Owners of a tenant without keys continue the install flow; everyone else lands on the console."""
    if role == Role.OWNER and not tenant.credentials.exists():
        return reverse("setup-name", args=[tenant.slug])
    return reverse("console", args=[tenant.slug])


@login_required
def home(request: HttpRequest) -> HttpResponse:
    memberships = list(Membership.objects.filter(user=request.user).select_related("tenant"))
    if len(memberships) == 1:
        return redirect("console", memberships[0].tenant.slug)
    return render(request, "tenants/home.html", {"memberships": memberships})


# --- Invitations: /install/<token>/


@sensitive_post_parameters("new_password1", "new_password2")
@sensitive_variables("password")
def install(request: HttpRequest, token: str) -> HttpResponse:
    """Open a one-time link: set a password if needed, join the tenant, continue."""
    try:
        invitation = invitation_for_token(token)
    except Invitation.DoesNotExist:
        raise Http404("No such invitation.") from None
    except InvitationError as exc:
        return render(request, "tenants/install_invalid.html", {"problem": str(exc)}, status=410)
    tenant = invitation.tenant
    person = existing_user_for_email(invitation.email)
    context = {"invitation": invitation, "tenant": tenant}

    if request.user.is_authenticated and not invitation_is_for(invitation, request.user):
        return render(request, "tenants/install_wrong_user.html", context, status=403)

    if not invitation_sets_password(invitation=invitation, person=person):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if request.method == "POST":
            try:
                membership = invitation_accept(invitation=invitation, user=request.user)
            except InvitationError as exc:
                return render(request, "tenants/install_invalid.html", {"problem": str(exc)}, status=410)
            messages.success(request, f"You joined {tenant.name} as {membership.get_role_display().lower()}.")
            return redirect(_after_joining(tenant, membership.role))
        return render(request, "tenants/install_join.html", context)

    # A new person, or an owner created by `create_tenant` who has no password yet.
    # Each problem is shown next to its field: the password rules under the first, a mismatch
    # under the second.
    password_errors: list[str] = []
    again_errors: list[str] = []
    if request.method == "POST":
        password = request.POST.get("new_password1", "")
        if password != request.POST.get("new_password2", ""):
            again_errors.append("The two passwords differ.")
        else:
            candidate = person or get_user_model()(username=invitation.email, email=invitation.email)
            try:
                password_validation.validate_password(password, candidate)
            except ValidationError as exc:
                password_errors.extend(exc.messages)
        if not (password_errors or again_errors):
            try:
                user, membership = invitation_accept_with_password(invitation=invitation, password=password)
            except InvitationError as exc:
                return render(request, "tenants/install_invalid.html", {"problem": str(exc)}, status=410)
            login(request, user, backend=SIGN_IN_BACKEND)
            messages.success(request, f"Welcome to {tenant.name}.")
            return redirect(_after_joining(tenant, membership.role))
    context.update(
        password_errors=password_errors,
        again_errors=again_errors,
        password_help=password_validation.password_validators_help_texts(),
    )
    return render(request, "tenants/install_password.html", context)


@sensitive_post_parameters("password1", "password2")
def signup(request: HttpRequest) -> HttpResponse:
    """Self sign-up, only where SINATRA_ALLOW_SIGNUP is on: a person and the tenant they own."""
    if not settings.SINATRA_ALLOW_SIGNUP:
        raise Http404("Sign-up is off.")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        user, tenant = account_sign_up(
            email=data["email"],
            password=data["password1"],
            tenant_slug=data["tenant_slug"],
            tenant_name=data["tenant_name"],
        )
        login(request, user, backend=SIGN_IN_BACKEND)
        return redirect("setup-keys", tenant.slug)
    return render(request, "registration/signup.html", {"form": form})


# --- The install flow: name, keys, default model.


@tenant_view(roles=MANAGERS)
def setup_name(request: HttpRequest, tenant: Tenant, membership: Membership) -> HttpResponse:
    form = TenantNameForm(request.POST or None, initial={"name": tenant.name})
    if request.method == "POST" and form.is_valid():
        tenant_update(tenant=tenant, name=form.cleaned_data["name"])
        return redirect("setup-keys", tenant.slug)
    return render(request, "tenants/setup_name.html", {"tenant": tenant, "section": "setup", "form": form, "step": 1})


KEY_FIELDS = (
    (Provider.ANTHROPIC, "anthropic_key", "save_anthropic_unverified"),
    (Provider.OPENROUTER, "openrouter_key", "save_openrouter_unverified"),
)


@sensitive_post_parameters("anthropic_key", "openrouter_key")
@sensitive_variables("raw")
@tenant_view(roles=MANAGERS)
def setup_keys(request: HttpRequest, tenant: Tenant, membership: Membership) -> HttpResponse:
    form = KeysForm(request.POST or None)
    offer_unverified = set()
    if request.method == "POST" and form.is_valid():
        pasted = False
        for provider, field, unverified_field in KEY_FIELDS:
            raw = form.cleaned_data[field]
            if not raw.strip():
                continue
            pasted = True
            submission = credential_submit(
                tenant=tenant,
                provider=provider,
                raw=raw,
                actor=Actor.of_user(request.user),
                allow_unverified=form.cleaned_data[unverified_field],
            )
            if submission.stored is not None:
                credential = submission.stored.credential
                verified = "verified" if credential.validated_at else "saved unverified"
                messages.success(request, f"{PROVIDER_LABELS[provider]} {credential.key_hint} {verified}.")
            elif submission.unreachable:
                offer_unverified.add(provider)
                form.add_error(
                    field,
                    f"{submission.problem} Paste it again and tick “save without verifying” to keep it "
                    "unverified, or try again later.",
                )
            else:
                form.add_error(field, f"{submission.problem} Nothing was saved.")
        if not form.errors:
            if pasted or tenant.credentials.filter(status="active").exists():
                return redirect("setup-model", tenant.slug)
            form.add_error(None, "Paste at least one key: Anthropic, OpenRouter, or both.")
    providers = tenant_credentials(tenant=tenant)
    return render(
        request,
        "tenants/setup_keys.html",
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
def setup_model(request: HttpRequest, tenant: Tenant, membership: Membership) -> HttpResponse:
    form = DefaultModelForm(request.POST or None, initial={"default_model": tenant.default_model})
    previewed = tenant.default_model
    if request.method == "POST" and form.is_valid():
        chosen = form.cleaned_data["default_model"]
        if "save" in request.POST:
            tenant_update(tenant=tenant, default_model=chosen)
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
    return render(request, "tenants/setup_model.html", context)


# --- The console.


@tenant_view()
def console(request: HttpRequest, tenant: Tenant, membership: Membership) -> HttpResponse:
    providers = tenant_credentials(tenant=tenant)
    context = {
        "tenant": tenant,
        "section": "overview",
        "membership": membership,
        "worker": resolve_preview(tenant, None),
        "providers": providers,
        "has_keys": any(entry.active for entry in providers),
        "can_manage": membership.role in MANAGERS,
    }
    return render(request, "tenants/console.html", context)


@tenant_view()
def members(request: HttpRequest, tenant: Tenant, membership: Membership) -> HttpResponse:
    is_owner = membership.role == Role.OWNER
    form = InviteForm(request.POST or None)
    issued, emailed = None, False
    if request.method == "POST":
        if not is_owner:
            raise PermissionDenied("Only owners invite people.")
        if form.is_valid():
            try:
                issued = invitation_create(
                    tenant=tenant,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    invited_by=request.user,
                )
            except ValidationError as exc:
                form.add_error("email", exc)
            else:
                emailed = _send_invitation(request, issued)
                form = InviteForm()
    context = {
        "tenant": tenant,
        "section": "members",
        "membership": membership,
        "is_owner": is_owner,
        "form": form,
        "issued": issued,
        "emailed": emailed,
        "memberships": tenant.memberships.select_related("user").order_by("role", "user__email"),
        "invitations": [
            invitation
            for invitation in tenant.invitations.select_related("invited_by")
            if invitation.state == "pending"
        ],
        "invitation_days": settings.SINATRA_INVITATION_DAYS,
    }
    return render(request, "tenants/members.html", context)


def _send_invitation(request: HttpRequest, issued) -> bool:
    """Email the link; return whether the mail went out (the page shows the link either way)."""
    invitation = issued.invitation
    sent = send_mail(
        subject=f"You are invited to {invitation.tenant.name} on Sinatra",
        message=(
            f"{request.user.email or request.user.get_username()} invites you to {invitation.tenant.name} "
            f"as {invitation.get_role_display().lower()}.\n\nOpen this link within "
            f"{settings.SINATRA_INVITATION_DAYS} days (it works once):\n{issued.url}\n"
        ),
        from_email=None,
        recipient_list=[invitation.email],
        fail_silently=True,
    )
    return sent == 1


@tenant_view(roles=OWNERS)
@require_POST
def invitation_withdraw(request: HttpRequest, tenant: Tenant, membership: Membership, invitation_id) -> HttpResponse:
    invitation = get_object_or_404(Invitation, pk=invitation_id, tenant=tenant)
    invitation_revoke(invitation=invitation)
    messages.success(request, f"The invitation for {invitation.email} was withdrawn.")
    return redirect("members", tenant.slug)


@tenant_view(roles=OWNERS)
@require_POST
def member_remove(request: HttpRequest, tenant: Tenant, membership: Membership, membership_id: int) -> HttpResponse:
    target = get_object_or_404(Membership.objects.select_related("user"), pk=membership_id, tenant=tenant)
    try:
        membership_remove(membership=target)
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    else:
        messages.success(request, f"{target.user.email or target.user.get_username()} was removed from {tenant.name}.")
        if target.pk == membership.pk:  # an owner who left may no longer see the tenant's pages
            return redirect("home")
    return redirect("members", tenant.slug)


class PasswordResetView(auth_views.PasswordResetView):
    """Reset links are built on SINATRA_BASE_URL, never on the Host header a request carried."""

    def form_valid(self, form):
        self.extra_email_context = {"base_url": settings.SINATRA_BASE_URL}
        return super().form_valid(form)
