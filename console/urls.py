from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import accounts, credentials, install, policy, views
from .forms import SignInForm

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=SignInForm, redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/signup/", accounts.signup, name="signup"),
    path("accounts/signup/sent/", accounts.signup_sent, name="signup-sent"),
    path("accounts/signup/resend/", accounts.signup_resend_link, name="signup-resend"),
    path("accounts/confirm/<str:token>/", accounts.signup_confirm_link, name="signup-confirm"),
    path("accounts/password_reset/", accounts.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/reset/<uidb64>/<token>/",
        accounts.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("install/<str:token>/", install.install, name="install"),
    path("t/<slug:slug>/", views.console, name="console"),
    path("t/<slug:slug>/setup/", install.setup_name, name="setup-name"),
    path("t/<slug:slug>/setup/keys/", install.setup_keys, name="setup-keys"),
    path("t/<slug:slug>/setup/model/", install.setup_model, name="setup-model"),
    path("t/<slug:slug>/credentials/", credentials.credentials, name="credentials"),
    path("t/<slug:slug>/credentials/<str:provider>/replace/", credentials.replace, name="credential-replace"),
    path("t/<slug:slug>/credentials/<uuid:credential_id>/revoke/", credentials.revoke, name="credential-revoke"),
    path("t/<slug:slug>/credentials/<uuid:credential_id>/verify/", credentials.reverify, name="credential-verify"),
    path("t/<slug:slug>/policy/", policy.policy, name="policy"),
    path("t/<slug:slug>/members/", views.members, name="members"),
    path(
        "t/<slug:slug>/members/invitations/<uuid:invitation_id>/withdraw/",
        views.invitation_withdraw,
        name="invitation-withdraw",
    ),
    path("t/<slug:slug>/members/<int:membership_id>/remove/", views.member_remove, name="member-remove"),
]
