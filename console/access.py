"""Who may see which tenant page: checked on the server for every request.

Another tenant's slug answers 404, the same as a slug that does not exist; a member asking
for something only owners or admins may do gets 403.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from tenants.models import Membership, Role


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
    """

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapper(request: AuthenticatedRequest, slug: str, *args, **kwargs) -> HttpResponse:
            membership = membership_for(request, slug)
            if membership.role not in roles:
                raise PermissionDenied("Your role in this tenant does not allow this.")
            return view(request, membership.tenant, membership, *args, **kwargs)

        return wrapper

    return decorator


MANAGERS = (Role.OWNER, Role.ADMIN)
OWNERS = (Role.OWNER,)
