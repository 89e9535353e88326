"""Operators' view of credentials: hints, status, keys' provenance; never ciphertext or keys."""

from django.contrib import admin, messages
from django.contrib.messages import constants

from providers.verification import Verdict, Verification

from .kms import KmsError
from .models import CredentialEvent, Status, TenantModelCredential
from .services import Actor, credential_reverify, credential_revoke

# The admin's words for a provider's answer to a re-verify: (message level, text).
VERDICT_MESSAGES = {
    Verdict.ACCEPTED: (constants.SUCCESS, "{name}: accepted by the provider."),
    Verdict.REJECTED: (constants.ERROR, "{name}: {message}"),
    Verdict.UNREACHABLE: (constants.WARNING, "{name}: could not verify now: {message}"),
}


def verification_message(name: str, verification: Verification) -> tuple[int, str]:
    level, template = VERDICT_MESSAGES[verification.verdict]
    return level, template.format(name=name, message=verification.message)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows change only through the services, which write the audit trail."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    """Related rows shown under their parent, never added, changed or deleted there."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class CredentialEventInline(ReadOnlyInline):
    model = CredentialEvent
    fields = readonly_fields = (
        "created_at",
        "kind",
        "actor",
        "detail",
    )


@admin.register(TenantModelCredential)
class TenantModelCredentialAdmin(ReadOnlyAdmin):
    list_display = [
        "tenant",
        "provider",
        "key_hint",
        "status",
        "kek_id",
        "validated_at",
        "rejected_at",
        "key_expires_at",
        "last_used_at",
        "created_at",
        "revoked_at",
    ]
    list_filter = ["provider", "status", "needs_rewrap", ("rejected_at", admin.EmptyFieldListFilter)]
    search_fields = ["tenant__slug", "tenant__name", "=id", "key_hint"]
    list_select_related = ["tenant"]
    # Every key ever supplied stays a row: a filtered list counts its matches only, not the table too.
    show_full_result_count = False
    # wrapped_dek and ciphertext are deliberately absent: bytes an operator has no use for.
    fields = readonly_fields = (
        "id",
        "tenant",
        "provider",
        "status",
        "key_hint",
        "kek_id",
        "kek_version",
        "envelope_version",
        "needs_rewrap",
        "validated_at",
        "rejected_at",
        "organization_id",
        "provider_label",
        "limit_remaining",
        "key_expires_at",
        "is_free_tier",
        "last_used_at",
        "created_by",
        "created_at",
        "revoked_at",
    )
    inlines = [CredentialEventInline]
    actions = ["revoke", "reverify"]

    def has_revoke_permission(self, request):
        return request.user.has_perm("credentials.change_tenantmodelcredential")

    @admin.action(description="Revoke selected credentials", permissions=["revoke"])
    def revoke(self, request, queryset):
        actor = Actor.of_user(request.user)
        revoked = 0
        for credential in queryset.filter(status=Status.ACTIVE):
            credential_revoke(credential=credential, actor=actor)
            revoked += 1
        self.message_user(request, f"Revoked {revoked} credential(s).", messages.SUCCESS)

    @admin.action(description="Re-verify selected credentials with their provider", permissions=["revoke"])
    def reverify(self, request, queryset):
        actor = Actor.of_user(request.user)
        for credential in queryset.filter(status=Status.ACTIVE).select_related("tenant"):
            name = f"{credential.tenant.slug}/{credential.provider} {credential.key_hint}"
            try:
                verification = credential_reverify(credential=credential, actor=actor)
            except KmsError as exc:
                self.message_user(request, f"{name} does not decrypt: {exc}", messages.ERROR)
                continue
            level, text = verification_message(name, verification)
            self.message_user(request, text, level)


@admin.register(CredentialEvent)
class CredentialEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "tenant", "credential", "kind", "actor", "detail"]
    list_filter = ["kind"]
    search_fields = ["tenant__slug", "tenant__name", "actor", "=credential__id"]
    list_select_related = ["tenant", "credential"]
    # The audit trail only grows: a filtered list counts its matches only, not the table too.
    show_full_result_count = False
    fields = readonly_fields = (
        "created_at",
        "tenant",
        "credential",
        "kind",
        "actor",
        "detail",
    )
