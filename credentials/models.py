"""Tenant model credentials (envelope-encrypted API keys) and their audit events."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from providers import KeyFacts, Provider
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
    rejected_at = models.DateTimeField(
        null=True, blank=True, help_text="When the provider last rejected the key; cleared when it accepts it again."
    )
    # What the provider's key check learned (never the key): shown beside the hint.
    organization_id = models.CharField(max_length=100, blank=True, help_text="Anthropic's organization id.")
    provider_label = models.CharField(max_length=200, blank=True, help_text="OpenRouter's label for the key.")
    limit_remaining = models.DecimalField(
        max_digits=14, decimal_places=4, null=True, blank=True, help_text="OpenRouter credit left, in US dollars."
    )
    key_expires_at = models.DateTimeField(null=True, blank=True, help_text="When the provider stops accepting it.")
    is_free_tier = models.BooleanField(null=True, blank=True, help_text="OpenRouter: never bought credit.")
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

    @property
    def facts(self) -> KeyFacts:
        """What the last key check learned, as the provider registry describes it."""
        return KeyFacts(
            organization_id=self.organization_id,
            label=self.provider_label,
            limit_remaining=self.limit_remaining,
            expires_at=self.key_expires_at,
            is_free_tier=self.is_free_tier,
        )

    def remember(self, facts: KeyFacts) -> list[str]:
        """Keep what a key check learned; return the fields that changed."""
        self.organization_id = facts.organization_id
        self.provider_label = facts.label
        self.limit_remaining = facts.limit_remaining
        self.key_expires_at = facts.expires_at
        self.is_free_tier = facts.is_free_tier
        return ["organization_id", "provider_label", "limit_remaining", "key_expires_at", "is_free_tier"]


class EventKind(models.TextChoices):
    CREATED = "created", "Created"
    REPLACED = "replaced", "Replaced"
    REVOKED = "revoked", "Revoked"
    VALIDATED = "validated", "Validated"
    VALIDATION_FAILED = "validation_failed", "Validation failed"
    CHECK_INCOMPLETE = "check_incomplete", "Could not be checked"
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
