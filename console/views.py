"""The tenant console: overview and members. Views parse input and call services."""

from __future__ import annotations

from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from credentials.services import credential_states
from routing.aliases import current_meanings
from routing.preview import resolve_preview
from tenants.models import Invitation, Membership, Role, Tenant
from tenants.selectors import pending_invitations
from tenants.services import IssuedInvitation, invitation_create, invitation_revoke, membership_remove

from .access import MANAGERS, OWNERS, AuthenticatedRequest, tenant_view
from .forms import InviteForm


@login_required
def home(request: AuthenticatedRequest) -> HttpResponse:
    memberships = list(Membership.objects.filter(user=request.user).select_related("tenant"))
    if len(memberships) == 1 and not request.user.is_staff:  # operators land here: the admin is one link away
        return redirect("console", memberships[0].tenant.slug)
    return render(request, "console/home.html", {"memberships": memberships})


@tenant_view()
def console(request: AuthenticatedRequest, tenant: Tenant, membership: Membership) -> HttpResponse:
    providers = credential_states(tenant=tenant)
    context = {
        "tenant": tenant,
        "section": "overview",
        "membership": membership,
        "worker": resolve_preview(tenant, None),
        "aliases": current_meanings(),
        "providers": providers,
        "has_keys": any(entry.active for entry in providers),
        "can_manage": membership.role in MANAGERS,
    }
    return render(request, "console/console.html", context)


@tenant_view()
def members(request: AuthenticatedRequest, tenant: Tenant, membership: Membership) -> HttpResponse:
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
        "invitations": pending_invitations(tenant=tenant),
        "invitation_days": settings.SINATRA_INVITATION_DAYS,
    }
    return render(request, "console/members.html", context)


def _send_invitation(request: AuthenticatedRequest, issued: IssuedInvitation) -> bool:
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
def invitation_withdraw(
    request: HttpRequest, tenant: Tenant, membership: Membership, invitation_id: UUID
) -> HttpResponse:
    invitation = get_object_or_404(Invitation, pk=invitation_id, tenant=tenant)
    invitation_revoke(invitation=invitation)
    messages.success(request, f"The invitation for {invitation.email} was withdrawn.")
    return redirect("members", tenant.slug)


@tenant_view(roles=OWNERS)
@require_POST
def member_remove(
    request: AuthenticatedRequest, tenant: Tenant, membership: Membership, membership_id: int
) -> HttpResponse:
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
