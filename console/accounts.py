"""Account pages beyond Django's own: self sign-up and its confirmation, password resets linked on SINATRA_BASE_URL."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods

from tenants.errors import SignUpError, SlugTaken
from tenants.models import SignUp
from tenants.services import (
    account_sign_up,
    signup_confirm,
    signup_confirm_by_reset,
    signup_for_token,
    signup_resend,
)

from . import throttle
from .forms import ConfirmSignUpForm, EmailForm, PasswordResetForm, SignupForm
from .links import token_kept_out_of_logs

SIGN_IN_BACKEND = "django.contrib.auth.backends.ModelBackend"


@sensitive_post_parameters("password1", "password2")
def signup(request: HttpRequest) -> HttpResponse:
    """Self sign-up, only where SINATRA_ALLOW_SIGNUP is on: an account and the tenant it will own, once confirmed."""
    if not settings.SINATRA_ALLOW_SIGNUP:
        raise Http404("Sign-up is off.")
    if refused := throttle.throttled(request, group="account-mail", limits=throttle.MAIL):
        return refused
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            account_sign_up(
                email=data["email"],
                password=data["password1"],
                tenant_slug=data["tenant_slug"],
                tenant_name=data["tenant_name"],
            )
        except SlugTaken as exc:  # taken since the form looked: the database decides
            form.add_error("tenant_slug", str(exc))
        else:
            return redirect("signup-sent")
    return render(request, "registration/signup.html", {"form": form})


def signup_sent(request: HttpRequest) -> HttpResponse:
    """Check your email: the same page whatever happened to the address given."""
    context = {"form": EmailForm(), "days": settings.SINATRA_INVITATION_DAYS}
    return render(request, "registration/signup_sent.html", context)


@require_http_methods(["GET", "POST"])
def signup_resend_link(request: HttpRequest) -> HttpResponse:
    """Mail a new confirmation link; the answer is the same whether or not the address awaits one."""
    if refused := throttle.throttled(request, group="account-mail", limits=throttle.MAIL):
        return refused
    form = EmailForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        signup_resend(email=form.cleaned_data["email"])
        return redirect("signup-sent")
    return render(request, "registration/signup_resend.html", {"form": form})


@token_kept_out_of_logs
@sensitive_post_parameters("password")
@sensitive_variables("password")
def signup_confirm_link(request: HttpRequest, token: str) -> HttpResponse:
    """Open a confirmation link: the password chosen at sign-up confirms the address and signs in."""
    try:
        signup = signup_for_token(token)
    except SignUp.DoesNotExist:
        raise Http404("No such sign-up.") from None
    except SignUpError as exc:
        return render(request, "registration/signup_link_invalid.html", {"problem": str(exc)}, status=410)
    if refused := throttle.throttled(request, group="account-confirm", limits=throttle.CONFIRM):
        return refused
    form = ConfirmSignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        password = form.cleaned_data["password"]
        try:
            user = signup_confirm(signup=signup, password=password)
        except SignUpError as exc:
            form.add_error("password", str(exc))
        else:
            login(request, user, backend=SIGN_IN_BACKEND)
            messages.success(request, "Your address is confirmed. Welcome to Sinatra.")
            if signup.tenant is not None:
                return redirect("setup-keys", signup.tenant.slug)
            return redirect("home")
    return render(request, "registration/signup_confirm.html", {"form": form, "signup": signup})


class PasswordResetView(auth_views.PasswordResetView):
    """Reset links are built on SINATRA_BASE_URL, never on the Host header a request carried."""

    form_class = PasswordResetForm

    def post(self, request, *args, **kwargs):
        if refused := throttle.throttled(request, group="account-mail", limits=throttle.MAIL):
            return refused
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        self.extra_email_context = {"base_url": settings.SINATRA_BASE_URL}
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """A reset proves the address: an account whose sign-up awaited confirmation is confirmed by it."""

    def form_valid(self, form):
        response = super().form_valid(form)
        signup_confirm_by_reset(user=form.user)
        return response
