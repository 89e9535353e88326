"""Tenants and the people who belong to them."""

import uuid

from django.conf import settings
from django.core.validators import validate_slug
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Tenant(models.Model):
    """A customer of Sinatra. Its UUID is bound into every ciphertext and never changes."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slug = models.SlugField(max_length=63, unique=True, validators=[validate_slug])
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    default_model = models.CharField(
        max_length=200,
        blank=True,
        help_text="Used when a repo's .sinatrarc names no model; empty means sonnet.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"


class Membership(models.Model):
    """A user's role in a tenant. Owners and admins manage credentials; members see hints."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="one_membership_per_user_and_tenant")]
        ordering = ["tenant__slug", "user__email"]

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant} ({self.role})"

    @property
    def can_manage_credentials(self) -> bool:
        return self.role in (Role.OWNER, Role.ADMIN)


class InvitationState(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    REVOKED = "revoked", "Revoked"
    EXPIRED = "expired", "Expired"


class InvitationQuerySet(models.QuerySet["Invitation"]):
    def pending(self) -> "InvitationQuerySet":
        """Invitations whose link still works: not used, not withdrawn, not expired."""
        return self.filter(accepted_at=None, revoked_at=None, expires_at__gt=timezone.now())

    def not_ended(self) -> "InvitationQuerySet":
        """Invitations neither used nor withdrawn (expired ones included)."""
        return self.filter(Q(accepted_at=None) & Q(revoked_at=None))


class Invitation(models.Model):
    """A one-time link (`/install/<token>/`) that lets a person join a tenant with a role.

    The token is a signature of the id (django.core.signing), so it is never stored; the row
    says whether it is still pending, and when it expires.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The account this link was issued to create (create_tenant's owner, made by that command),
    # or the one it did create (a new person who chose a password through it). Only a link
    # naming the account here may choose its password: anyone else who has an account signs in.
    creates_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} to {self.tenant} as {self.role}"

    @property
    def state(self) -> InvitationState:
        """Pending, accepted, revoked or expired (the same rule as `Invitation.objects.pending()`)."""
        if self.accepted_at:
            return InvitationState.ACCEPTED
        if self.revoked_at:
            return InvitationState.REVOKED
        if self.expires_at <= timezone.now():
            return InvitationState.EXPIRED
        return InvitationState.PENDING


class SignUpQuerySet(models.QuerySet["SignUp"]):
    def pending(self) -> "SignUpQuerySet":
        """Sign-ups whose address is not confirmed yet."""
        return self.filter(confirmed_at=None)


class SignUp(models.Model):
    """A self sign-up (SINATRA_ALLOW_SIGNUP): the account and tenant it made, and whether its address is confirmed.

    Until the address is confirmed the account is inactive: it cannot sign in, and so owns
    nothing usable. The confirmation link is a signature of the id (django.core.signing), never
    stored.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="signup")
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    objects = SignUpQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        state = "confirmed" if self.confirmed_at else "not confirmed"
        return f"{self.user} signed up for {self.tenant} ({state})"
