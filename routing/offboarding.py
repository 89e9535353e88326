"""Offboard a tenant: nothing is served for it any more, nobody reaches it, and the audit trail stays.

One transaction, in this order: the tenant is deactivated (every resolution for it is refused
from then on), its active keys are revoked (each with its event), it is taken out of every
service token scoped to it (a token left with no tenant is revoked), its pending invitations
are withdrawn and its memberships removed. Rows are never deleted: the tenant, its revoked
credentials and every event stay for the record.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from credentials.models import Status, TenantModelCredential
from credentials.services import Actor, credential_revoke
from tenants.models import Invitation, Membership, Tenant

from .models import Scope, ServiceToken, TokenEventKind
from .tokens import token_event


class OffboardingRefused(Exception):
    """The tenant still has active keys and revoking them was not asked for; the message says so."""


@dataclass
class Offboarded:
    """What offboarding changed (all empty when the tenant was already offboarded)."""

    deactivated: bool = False
    revoked_keys: list[TenantModelCredential] = field(default_factory=list)
    tokens_narrowed: list[str] = field(default_factory=list)
    tokens_revoked: list[str] = field(default_factory=list)
    invitations_withdrawn: int = 0
    memberships_removed: int = 0

    @property
    def changed(self) -> bool:
        return bool(
            self.deactivated
            or self.revoked_keys
            or self.tokens_narrowed
            or self.tokens_revoked
            or self.invitations_withdrawn
            or self.memberships_removed
        )


@transaction.atomic
def tenant_offboard(*, tenant: Tenant, actor: Actor, revoke_keys: bool = False) -> Offboarded:
    """Offboard a tenant; refuse (changing nothing) while it has active keys, unless `revoke_keys`."""
    tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
    active = list(TenantModelCredential.objects.filter(tenant=tenant, status=Status.ACTIVE).order_by("provider"))
    if active and not revoke_keys:
        hints = ", ".join(f"{credential.provider} {credential.key_hint}" for credential in active)
        raise OffboardingRefused(
            f"Tenant {tenant.slug} still has {len(active)} active key(s) ({hints}): add --revoke-keys to revoke "
            "them as part of offboarding. Nothing was changed."
        )
    done = Offboarded()
    if tenant.is_active:
        tenant.is_active = False
        tenant.save(update_fields=["is_active", "updated_at"])
        done.deactivated = True
    for credential in active:
        done.revoked_keys.append(credential_revoke(credential=credential, actor=actor))
    now = timezone.now()
    for token in ServiceToken.objects.select_for_update().filter(scope=Scope.TENANTS, tenants=tenant).order_by("name"):
        token.tenants.remove(tenant)
        detail = f"tenant {tenant.slug} was offboarded"
        token_event(token, TokenEventKind.TENANT_REMOVED, actor.label, detail, tenant)
        if token.revoked_at is None and not token.tenants.exists():
            token.revoked_at = now
            token.save(update_fields=["revoked_at"])
            token_event(token, TokenEventKind.REVOKED, actor.label, f"{detail}, the last tenant it could resolve")
            done.tokens_revoked.append(token.name)
        else:
            done.tokens_narrowed.append(token.name)
    pending = Invitation.objects.filter(tenant=tenant).pending()
    done.invitations_withdrawn = pending.update(revoked_at=now)
    done.memberships_removed, _ = Membership.objects.filter(tenant=tenant).delete()
    return done
