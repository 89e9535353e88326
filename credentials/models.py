"""Tenant model credentials (envelope-encrypted API keys) and their audit events."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from providers import Provider
from tenants.models import Tenant

__all__ = ["CredentialEvent", "EventKind", "Provider", "Status", "TenantModelCredential"]


class Status(models.TextChoices):
    ACTIVE = "active", "Active"
    REVOKED = "revoked", "Revoked"


class TenantModelCredential(models.Model):
    """One API key a tenant supplied for one provider, envelope-encrypted (see envelope.py).

    The id is generated before the row is written: it is part of the ciphertext's AAD.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="credentials")
    provider = models.CharField(max_length=16, choices=Provider.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    key_hint = models.CharField(max_length=64)
    kek_id = models.CharField(max_length=300, db_index=True)
    kek_version = models.CharField(max_length=400, blank=True)
    wrapped_dek = models.BinaryField()
    ciphertext = models.BinaryField()
    envelope_version = models.PositiveSmallIntegerField(default=1)
    needs_rewrap = models.BooleanField(
        default=False, help_text="Set when Cloud KMS decrypted it with a key version that is not primary."
    )
    validated_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_by = models.CharField(max_length=200, help_text="Who supplied the key: a user or command:<name>.")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "tenant_model_credential"
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "provider"],
                condition=Q(status="active"),
                name="one_active_credential_per_tenant_and_provider",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "provider", "status"], name="credential_lookup")]
        ordering = ["tenant__slug", "provider", "-created_at"]

    def __str__(self) -> str:
        return f"{self.provider} {self.key_hint} ({self.status})"


class EventKind(models.TextChoices):
    CREATED = "created", "Created"
    REPLACED = "replaced", "Replaced"
    REVOKED = "revoked", "Revoked"
    VALIDATED = "validated", "Validated"
    VALIDATION_FAILED = "validation_failed", "Validation failed"
    REWRAPPED = "rewrapped", "Rewrapped"


class CredentialEvent(models.Model):
    """Append-only audit row: what happened to a credential, who did it, when. No secrets."""

    credential = models.ForeignKey(TenantModelCredential, on_delete=models.PROTECT, related_name="events")
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="credential_events")
    kind = models.CharField(max_length=32, choices=EventKind.choices)
    actor = models.CharField(max_length=200, help_text="A user's email or command:<name>.")
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    detail = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} by {self.actor}"
