"""Who may see which tenant page: checked on the server for every request.

Another tenant's slug answers 404, the same as a slug that does not exist; a member asking
for something only owners or admins may do gets 403. A deactivated tenant may be read, never
written: every request but GET and HEAD gets a 403 page that says so, and who to contact.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from tenants.errors import TenantDeactivated
from tenants.models import Membership, Role, Tenant

READS = ("GET", "HEAD")


class AuthenticatedRequest(HttpRequest):
    """A request that `login_required` let through: its user is a person, never anonymous."""

    user: User


def membership_for(request: AuthenticatedRequest, slug: str) -> Membership:
    """Return the signed-in user's membership in the tenant with this slug, or raise 404."""
    membership = Membership.objects.select_related("tenant").filter(user=request.user, tenant__slug=slug).first()
    if membership is None:
        raise Http404("No such tenant.")
    return membership


def tenant_view(*, roles: tuple[str, ...] = (Role.OWNER, Role.ADMIN, Role.MEMBER)) -> Callable:
    """Decorate a view taking (request, tenant, membership, ...) reached as /t/<slug>/...

    Put it above `require_POST`: who asks is checked before how, so that whatever the method,
    a visitor who is signed out gets the sign-in page and a stranger to the tenant gets 404.
    A write to a deactivated tenant never reaches the view (nor one that the view's services
    refuse because the tenant was deactivated meanwhile).
    """

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapper(request: AuthenticatedRequest, slug: str, *args, **kwargs) -> HttpResponse:
            membership = membership_for(request, slug)
            if membership.role not in roles:
                raise PermissionDenied("Your role in this tenant does not allow this.")
            if request.method not in READS and not membership.tenant.is_active:
                return tenant_deactivated(request, membership.tenant)
            try:
                return view(request, membership.tenant, membership, *args, **kwargs)
            except TenantDeactivated:
                return tenant_deactivated(request, membership.tenant)

        return wrapper

    return decorator


def tenant_deactivated(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    """The 403 page for a write to a deactivated tenant: what happened, and who can undo it."""
    context = {"tenant": tenant, "contact": settings.SINATRA_SUPPORT_EMAIL}
    return render(request, "console/tenant_deactivated.html", context, status=403)


MANAGERS = (Role.OWNER, Role.ADMIN)
OWNERS = (Role.OWNER,)
