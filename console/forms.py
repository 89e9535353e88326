"""Forms of the tenant console and the install flow. Key fields never render their value back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.forms import AuthenticationForm, SetPasswordForm
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError

from providers import ProviderSpec, all_specs, spec
from providers.keys import MAX_KEY_LENGTH
from routing.catalog import ALIASES
from routing.policy import validate_default_model
from routing.policy_rules import (
    MAX_PATTERN_LENGTH,
    MAX_PATTERNS,
    Policy,
    PolicyError,
    parse_models,
    parse_pins,
    parse_providers,
    split_list,
)
from tenants.errors import SlugTaken
from tenants.models import Role, Tenant
from tenants.selectors import accounts_for_password_reset
from tenants.services import awaits_confirmation, existing_user_for_email, validate_tenant_slug

# Every form field that carries a key, for sensitive_post_parameters.
KEY_FIELD_NAMES = tuple(f"{entry.name}_key" for entry in all_specs())


class SignInForm(AuthenticationForm):
    """Django's sign-in form, asking for the email people were invited with."""

    username = forms.CharField(
        label="Email",
        max_length=254,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username", "autocapitalize": "none"}),
    )

    # Set when the password was right but the account's sign-up awaits confirmation of its address.
    awaiting_confirmation = False

    def clean_username(self) -> str:
        """Take the email in any case: the account is found as invitations find it (address, or username)."""
        typed = self.cleaned_data["username"].strip()
        account = existing_user_for_email(typed)
        return account.get_username() if account is not None else typed

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()
        except ValidationError:
            # Said only to whoever knows the password, and never past a lockout: no one learns
            # from this page whether an address has an account.
            if not getattr(self.request, "axes_locked_out", False) and self._awaits_confirmation():
                self.awaiting_confirmation = True
                raise ValidationError("This address is not confirmed yet.", code="unconfirmed") from None
            raise

    def _awaits_confirmation(self) -> bool:
        account = existing_user_for_email(self.cleaned_data.get("username", ""))
        password = self.cleaned_data.get("password") or ""
        if account is not None and awaits_confirmation(account):
            return account.check_password(password)
        make_password(password)  # the same work either way: how long a refusal takes tells nothing
        return False


class ChoosePasswordForm(SetPasswordForm):
    """Django's set-password form, for a person who opens an invitation link.

    The rules' complaints stand under the first field, a mismatch under the second.
    """

    error_messages = {"password_mismatch": "The two passwords differ."}

    def clean(self):
        self.validate_passwords("new_password1", "new_password2")
        if not self.has_error("new_password2"):
            self.validate_password_for_user(self.user, "new_password1")
        return self.cleaned_data


class KeyInput(forms.TextInput):
    """The input of a pasted API key: masked text, never filled in again, even after an error.

    Not `type=password`: browsers take a password field for the site's password and offer to
    save what was typed in it (Chrome ignores autocomplete="off" there). A text field masked by
    the stylesheet (`-webkit-text-security`, class `key-input`; the Show button adds `revealed`)
    is not one; the data- attributes ask password managers (1Password, LastPass, Bitwarden,
    Dashlane) to leave it alone too.
    """

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(
            attrs={
                "class": "key-input",
                "autocomplete": "off",
                "spellcheck": "false",
                "autocapitalize": "none",
                "autocorrect": "off",
                "data-1p-ignore": "true",
                "data-lpignore": "true",
                "data-bwignore": "true",
                "data-form-type": "other",
                "data-reveal": "1",
                **(attrs or {}),
            }
        )

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        return super().get_context(name, None, attrs)  # the key is never rendered back


class ConfirmSignUpForm(forms.Form):
    """The password chosen at sign-up, asked for by the link that confirms the address."""

    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )


class EmailForm(forms.Form):
    email = forms.EmailField(label="Email", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Django's reset form; an account whose sign-up awaits confirmation may reset too (the mail proves the address)."""

    def get_users(self, email: str):
        return accounts_for_password_reset(email=email)


class KeyField(forms.CharField):
    """A pasted API key (see KeyInput). Its name says `key`, never `password`."""

    def __init__(self, provider: str, **kwargs) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("strip", False)  # parse_api_key strips, and says so
        kwargs.setdefault("max_length", MAX_KEY_LENGTH * 4)
        kwargs.setdefault("help_text", spec(provider).key.help_text)
        super().__init__(label=spec(provider).key_label, widget=KeyInput(), **kwargs)


class TenantNameForm(forms.Form):
    name = forms.CharField(
        label="Tenant name",
        max_length=200,
        help_text="How your team calls this workspace.",
        widget=forms.TextInput(attrs={"autofocus": True}),
    )


@dataclass(frozen=True)
class ProviderFields:
    """One provider's fields on the keys form: the key, and the "save it unverified" choice."""

    spec: ProviderSpec
    key: forms.BoundField
    unverified: forms.BoundField

    @property
    def provider(self) -> str:
        return self.spec.name.value


class KeysForm(forms.Form):
    """Step 2 of the install flow: a key per provider, one or more of them."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for entry in all_specs():
            self.fields[f"{entry.name}_key"] = KeyField(entry.name)
            self.fields[f"save_{entry.name}_unverified"] = forms.BooleanField(
                required=False,
                label=f"Save the {entry.label} key without verifying it ({entry.label} could not be reached)",
            )
        first = all_specs()[0]
        self.fields[f"{first.name}_key"].widget.attrs["autofocus"] = True

    def provider_fields(self) -> list[ProviderFields]:
        return [
            ProviderFields(entry, self[f"{entry.name}_key"], self[f"save_{entry.name}_unverified"])
            for entry in all_specs()
        ]


class ReplaceKeyForm(forms.Form):
    """Paste a new key for one provider; the active one is revoked when it is saved."""

    save_unverified = forms.BooleanField(required=False, label="Save it without verifying it")

    def __init__(self, *args, provider: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields = {"key": KeyField(provider, required=True, help_text=""), **self.fields}


class DefaultModelForm(forms.Form):
    default_model = forms.CharField(
        label="Default model",
        max_length=200,
        required=False,
        help_text="Used when a repo's .sinatrarc names no model: opus, sonnet, haiku, a claude-... id, "
        "or an OpenRouter slug such as openai/gpt-5. Empty means sonnet.",
        widget=forms.TextInput(
            attrs={"list": "model-suggestions", "autocomplete": "off", "spellcheck": "false", "autofocus": True}
        ),
    )

    def clean_default_model(self) -> str:
        model = self.cleaned_data["default_model"].strip()
        if model:
            validate_default_model(model)
        return model


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email", max_length=254)
    role = forms.ChoiceField(
        label="Role",
        choices=[(Role.ADMIN, "Admin: manages keys"), (Role.MEMBER, "Member: sees key hints and events")],
        initial=Role.MEMBER,
    )


class SignupForm(forms.Form):
    """Self sign-up (SINATRA_ALLOW_SIGNUP): a person and the tenant they will own."""

    email = forms.EmailField(label="Email", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password again", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    tenant_name = forms.CharField(label="Tenant name", max_length=200)
    tenant_slug = forms.CharField(
        label="Tenant address",
        max_length=63,
        help_text="Lowercase letters, digits and hyphens: your console is at /t/<address>/.",
    )

    def clean_email(self) -> str:
        # Whether the address has an account is never said here: account_sign_up mails its owner.
        return self.cleaned_data["email"].strip().lower()

    def clean_tenant_slug(self) -> str:
        slug = self.cleaned_data["tenant_slug"].strip().lower()
        validate_tenant_slug(slug)
        if Tenant.objects.filter(slug=slug).exists():
            raise ValidationError(str(SlugTaken(slug)))
        return slug

    def clean(self) -> dict[str, Any]:
        cleaned = self.cleaned_data
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords differ.")
        elif first:
            user = get_user_model()(username=cleaned.get("email", ""), email=cleaned.get("email", ""))
            try:
                password_validation.validate_password(first, user)
            except ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned


class PolicyForm(forms.Form):
    """A tenant's policy: allowed providers, allowed model patterns, alias pins. `policy` once valid."""

    providers = forms.MultipleChoiceField(
        label="Allowed providers",
        required=False,
        choices=[(entry.name.value, entry.label) for entry in all_specs()],
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every provider the tenant has a key for.",
    )
    models = forms.CharField(
        label="Allowed models",
        required=False,
        max_length=MAX_PATTERNS * (MAX_PATTERN_LENGTH + 2),
        help_text="Patterns over the model sent, separated by commas: claude-*, openai/*. Empty: any model.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for alias in ALIASES:
            self.fields[f"pin_{alias}"] = forms.CharField(
                label=f"Pin {alias} to",
                required=False,
                max_length=200,
                help_text=f"A Claude {alias.title()} model id, e.g. claude-{alias}-4-8. "
                f"Empty: {alias} means the newest {alias.title()} model.",
                widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
            )

    @classmethod
    def initial_of(cls, policy: Policy) -> dict[str, Any]:
        initial: dict[str, Any] = {"providers": sorted(policy.providers), "models": ", ".join(policy.models)}
        initial.update({f"pin_{alias}": model for alias, model in policy.pins.items()})
        return initial

    def pin_fields(self) -> list[forms.BoundField]:
        return [self[f"pin_{alias}"] for alias in ALIASES]

    def clean(self) -> dict[str, Any]:
        data = self.cleaned_data
        try:
            providers = parse_providers(data.get("providers") or [])
        except PolicyError as exc:
            self.add_error("providers", str(exc))
        try:
            models = parse_models(split_list(data.get("models") or ""))
        except PolicyError as exc:
            self.add_error("models", str(exc))
        pins: dict[str, str] = {}
        for alias in ALIASES:
            model = (data.get(f"pin_{alias}") or "").strip()
            try:
                pins.update(parse_pins({alias: model}) if model else {})
            except PolicyError as exc:
                self.add_error(f"pin_{alias}", str(exc))
        if not self.errors:
            data["policy"] = Policy(providers=providers, models=models, pins=pins)
        return data
