"""Account pages beyond Django's own: self sign-up, and password resets linked on SINATRA_BASE_URL."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters

from tenants.services import account_sign_up

from .forms import SignupForm

SIGN_IN_BACKEND = "django.contrib.auth.backends.ModelBackend"


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


class PasswordResetView(auth_views.PasswordResetView):
    """Reset links are built on SINATRA_BASE_URL, never on the Host header a request carried."""

    def form_valid(self, form):
        self.extra_email_context = {"base_url": settings.SINATRA_BASE_URL}
        return super().form_valid(form)
