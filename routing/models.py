"""Service tokens: how workers in other languages authenticate to the HTTP API."""

from django.db import models
from django.db.models import Q


class ServiceToken(models.Model):
    """A named bearer token for `POST /api/v1/resolve`. Only its SHA-256 is stored."""

    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the token, hex.")
    prefix = models.CharField(max_length=16, help_text="The token's first characters, to recognise it.")
    created_at = models.DateTimeField(auto_now_add=True)
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
