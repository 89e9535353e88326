"""Service tokens and their audit trail: how workers in other languages authenticate to the HTTP API."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from providers import Provider
from tenants.models import Tenant


class Scope(models.TextChoices):
    """Which tenants a service token may resolve."""

    TENANTS = "tenants", "the tenants it names"
    ALL_TENANTS = "all", "all tenants"
    # Tokens created before scopes existed: the data migration made them all-tenant tokens.
    ALL_BEFORE_SCOPES = "all-before-scopes", "all tenants (from before scopes)"


class ServiceToken(models.Model):
    """A named bearer token for `POST /api/v1/resolve`. Only its SHA-256 is stored."""

    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the token, hex.")
    prefix = models.CharField(max_length=16, help_text="The token's first characters, to recognise it.")
    scope = models.CharField(max_length=20, choices=Scope.choices)
    tenants = models.ManyToManyField(
        Tenant, blank=True, related_name="+", help_text="The tenants it may resolve, when its scope names them."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: it does not expire.")
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["name"], condition=Q(revoked_at__isnull=True), name="one_live_token_per_name"
            )
        ]
        ordering = ["name", "-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}...)"

    @property
    def covers_all_tenants(self) -> bool:
        return self.scope != Scope.TENANTS

    def is_expired(self, now=None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    def scope_label(self) -> str:
        """E.g. "acme, globex", "all tenants" or "all tenants (from before scopes)"."""
        if self.covers_all_tenants:
            return Scope(self.scope).label
        slugs = sorted(tenant.slug for tenant in self.tenants.all())
        return ", ".join(slugs) if slugs else "no tenant (its tenants were deleted)"


class TokenEventKind(models.TextChoices):
    CREATED = "created", "Created"
    REVOKED = "revoked", "Revoked"
    REFUSED_TENANT = "refused_tenant", "Refused a tenant outside its scope"
    TENANT_REMOVED = "tenant_removed", "A tenant taken out of its scope"


class ServiceTokenEvent(models.Model):
    """Append-only audit row: a token created or revoked, or a request it was refused. No secret."""

    token = models.ForeignKey(ServiceToken, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=32, choices=TokenEventKind.choices)
    actor = models.CharField(max_length=200, help_text="command:<name>, a user's email, or the token itself.")
    tenant = models.ForeignKey(
        Tenant,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The tenant a refused request asked for, when it exists.",
    )
    detail = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.token.name}"


class KeyRelease(models.Model):
    """How often a tenant's key for one provider was handed to one caller within one hour (UTC).

    Written by `routing.release`, at most once a minute per process, with an upsert that adds.
    """

    caller = models.CharField(max_length=100, help_text="The service token's name, or resolve()'s `caller`.")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    provider = models.CharField(max_length=16, choices=Provider.choices)
    hour = models.DateTimeField(help_text="The start of the hour (UTC) the releases fall in.")
    count = models.PositiveBigIntegerField()
    last_released_at = models.DateTimeField()

    class Meta:
        constraints = [
            # The upsert's conflict target; tenant first, so the credentials page's query uses it too.
            models.UniqueConstraint(
                fields=["tenant", "provider", "caller", "hour"], name="one_count_per_caller_tenant_provider_hour"
            )
        ]
        ordering = ["-hour", "tenant", "provider", "caller"]

    def __str__(self) -> str:
        return f"{self.caller}: {self.count} {self.provider} key(s) of {self.tenant_id} in the hour from {self.hour}"


class TenantPolicy(models.Model):
    """What a tenant's requests may use; no row is the default (anything the tenant has a key for).

    Changed only through `routing.policy.tenant_policy_save`, which writes a PolicyEvent and
    touches the tenant's `updated_at` (resolve() keeps policies in memory by that time).
    """

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, primary_key=True, related_name="+")
    providers = models.CharField(
        max_length=200, blank=True, help_text="Comma-separated; empty: every provider the tenant has a key for."
    )
    model_patterns = models.TextField(
        blank=True, help_text="Comma-separated globs over the model sent; empty: any model."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "tenant policies"

    def __str__(self) -> str:
        return f"policy of {self.tenant_id}"


class AliasPin(models.Model):
    """An alias a tenant's policy keeps on one model (`opus = claude-opus-4-8`) until unpinned."""

    policy = models.ForeignKey(TenantPolicy, on_delete=models.CASCADE, related_name="pins")
    alias = models.CharField(max_length=16)
    model = models.CharField(max_length=200, help_text="A Claude model id of the alias's family.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["policy", "alias"], name="one_pin_per_alias")]
        ordering = ["alias"]

    def __str__(self) -> str:
        return f"{self.alias} = {self.model}"


class PolicyEvent(models.Model):
    """Append-only audit row: a tenant's policy changed, by whom, from what to what."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="policy_events")
    actor = models.CharField(max_length=200, help_text="A user's email or command:<name>.")
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    before = models.CharField(max_length=2000)
    after = models.CharField(max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"policy of {self.tenant_id} changed by {self.actor}"


class AliasChange(models.Model):
    """When the newest model of an alias changed at a provider: recorded once, the first time it is seen."""

    provider = models.CharField(max_length=16, choices=Provider.choices)
    alias = models.CharField(max_length=16)
    old = models.CharField(max_length=200, blank=True, help_text="What the alias meant before; empty: first seen.")
    new = models.CharField(max_length=200)
    first_seen = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "alias", "new"], name="one_change_per_alias_target")]
        ordering = ["provider", "alias", "-first_seen", "-id"]

    def __str__(self) -> str:
        return describe_alias(self)


def describe_alias(change: AliasChange) -> str:
    """E.g. "opus means claude-opus-5-5 since 2026-09-28 (before: claude-opus-5)"."""
    before = f" (before: {change.old})" if change.old else ""
    return f"{change.alias} means {change.new} since {change.first_seen:%Y-%m-%d}{before}"
