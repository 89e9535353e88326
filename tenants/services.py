"""Writes to tenants and memberships."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from .errors import SignUpError, SlugTaken, TenantDeactivated, TenantHasOwner
from .models import Invitation, InvitationState, Membership, Role, SignUp, Tenant

SLUG_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


class TenantResult(NamedTuple):
    tenant: Tenant
    created: bool


class MembershipResult(NamedTuple):
    membership: Membership
    created: bool


def validate_tenant_slug(slug: str) -> None:
    """Refuse slugs that would not read well in a URL: lowercase letters, digits, hyphens."""
    if not SLUG_PATTERN.fullmatch(slug):
        raise ValidationError(
            f"{slug!r} is not a valid tenant slug: use 1 to 63 lowercase letters, digits and "
            "hyphens, starting and ending with a letter or digit."
        )


@transaction.atomic
def tenant_create(*, slug: str, name: str = "") -> TenantResult:
    """Create a tenant, or return the one that already has this slug."""
    validate_tenant_slug(slug)
    tenant, created = Tenant.objects.get_or_create(slug=slug, defaults={"name": name or slug})
    return TenantResult(tenant, created)


def tenant_require_active(tenant: Tenant) -> None:
    """Raise TenantDeactivated unless the tenant is active now, as the database says (not a stale copy)."""
    if not Tenant.objects.filter(pk=tenant.pk, is_active=True).exists():
        raise TenantDeactivated(tenant)


class AccountResult(NamedTuple):
    user: User
    created: bool


def account_for_email(email: str) -> AccountResult:
    """Return the user with this email, creating one (without a usable password) if needed."""
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError(f"{email!r} is not a valid email address.") from None
    user = existing_user_for_email(email)
    if user is not None and not user.email:
        user.email = email
        user.save(update_fields=["email"])
    if user is not None:
        return AccountResult(user, False)
    user = get_user_model()(username=email, email=email)
    user.set_unusable_password()
    user.save()
    return AccountResult(user, True)


def user_for_email(email: str) -> User:
    """Return the user with this email, creating one (without a usable password) if needed."""
    return account_for_email(email).user


def awaits_first_password(user: User) -> bool:
    """Whether nobody can use this account yet: no password, never signed in, an ordinary person's."""
    return (
        not user.has_usable_password()
        and user.last_login is None
        and user.is_active
        and not (user.is_staff or user.is_superuser)
    )


def existing_user_for_email(email: str) -> User | None:
    """Return the account of this email address, if there is one.

    An account may have the address as its username and no email (createsuperuser asks for
    none): that is the same person, and a new user would clash on the username.
    """
    users = get_user_model().objects
    return (
        users.filter(email__iexact=email).order_by("pk").first()
        or users.filter(username__iexact=email).order_by("pk").first()
    )


@transaction.atomic
def membership_add(*, tenant: Tenant, user: User, role: str) -> MembershipResult:
    """Give a user a role in a tenant; an existing membership keeps its role."""
    tenant_require_active(tenant)
    membership, created = Membership.objects.get_or_create(tenant=tenant, user=user, defaults={"role": role})
    return MembershipResult(membership, created)


ROLE_RANK = {Role.MEMBER: 0, Role.ADMIN: 1, Role.OWNER: 2}
INVITATION_SALT = "sinatra.tenants.invitation"


class InvitationError(Exception):
    """An invitation link cannot be used; the message says why, for the person holding it."""


class IssuedInvitation(NamedTuple):
    invitation: Invitation
    token: str

    @property
    def url(self) -> str:
        return invitation_url(self.token)


def invitation_url(token: str) -> str:
    """Return the one-time link built on SINATRA_BASE_URL."""
    return f"{settings.SINATRA_BASE_URL}/install/{token}/"


@transaction.atomic
def invitation_create(
    *, tenant: Tenant, email: str, role: str, invited_by: User | None = None, creates_user: User | None = None
) -> IssuedInvitation:
    """Invite a person to a tenant with a role; their earlier pending invitations there end.

    `creates_user` is the account this link is issued to create (create_tenant's new owner): only
    then may the link choose that account's password. An ordinary invitation leaves such a link
    working, so that a co-owner's invitation cannot withdraw the owner's way in.
    """
    tenant_require_active(tenant)
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError(f"{email!r} is not a valid email address.") from None
    if role not in Role.values:
        raise ValidationError(f"{role!r} is not a role: use owner, admin or member.")
    now = timezone.now()
    earlier = Invitation.objects.filter(tenant=tenant, email=email).not_ended()
    if creates_user is None:
        earlier = earlier.filter(creates_user=None)
    earlier.update(revoked_at=now)
    invitation = Invitation.objects.create(
        tenant=tenant,
        email=email,
        role=role,
        invited_by=invited_by,
        creates_user=creates_user,
        expires_at=now + timedelta(days=settings.SINATRA_INVITATION_DAYS),
    )
    token = signing.dumps(str(invitation.id), salt=INVITATION_SALT)
    return IssuedInvitation(invitation, token)


def invitation_for_token(token: str) -> Invitation:
    """Return the pending invitation a link names; raise InvitationError saying why not.

    A token whose signature does not verify raises Invitation.DoesNotExist (a plain 404).
    """
    try:
        invitation_id = signing.loads(
            token, salt=INVITATION_SALT, max_age=timedelta(days=settings.SINATRA_INVITATION_DAYS)
        )
    except signing.SignatureExpired:
        raise InvitationError("This link has expired: ask for a new one.") from None
    except signing.BadSignature:
        raise Invitation.DoesNotExist from None
    invitation = Invitation.objects.select_related("tenant").get(pk=invitation_id)
    state = invitation.state
    if state is InvitationState.ACCEPTED:
        raise InvitationError("This link has already been used: sign in instead.")
    if state is InvitationState.REVOKED:
        raise InvitationError("This link was withdrawn: ask for a new one.")
    if state is InvitationState.EXPIRED:
        raise InvitationError("This link has expired: ask for a new one.")
    return invitation


def invitation_is_for(invitation: Invitation, user: User) -> bool:
    """Whether this signed-in user is the person the invitation names (by email or username)."""
    person = existing_user_for_email(invitation.email)
    return person is not None and person.pk == user.pk


def invitation_sets_password(*, invitation: Invitation, person: User | None) -> bool:
    """Whether opening the link may choose the person's password, rather than ask them to sign in.

    Only for the account the link was issued to create: a new person (no account yet: the link
    creates it), or the account named as `creates_user` while nobody can use it yet. An owner
    sees the links they create: a link never chooses the password of an account that exists
    otherwise, in any tenant and in any state. Its owner signs in, or resets their password.
    """
    if person is None:
        return True
    return invitation.creates_user_id == person.pk and awaits_first_password(person)


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    """Use an invitation once: the user joins with its role (an existing member keeps a higher one)."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.state is not InvitationState.PENDING:
        raise InvitationError("This link can no longer be used.")
    tenant_require_active(invitation.tenant)
    if not invitation_is_for(invitation, user):
        raise InvitationError(f"This link is for {invitation.email}: sign out and open it again.")
    membership, created = Membership.objects.get_or_create(
        tenant_id=invitation.tenant_id, user=user, defaults={"role": invitation.role}
    )
    if not created and ROLE_RANK[Role(invitation.role)] > ROLE_RANK[Role(membership.role)]:
        membership.role = invitation.role
        membership.save(update_fields=["role"])
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership


@sensitive_variables("password")
@transaction.atomic
def invitation_accept_with_password(*, invitation: Invitation, password: str) -> tuple[User, Membership]:
    """The person a link was issued to create chooses a password through it, and joins.

    Raises InvitationError, changing nothing, when the link may not set this account's password.
    """
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)  # one use at a time
    if invitation.state is not InvitationState.PENDING:
        raise InvitationError("This link can no longer be used.")
    if not invitation_sets_password(invitation=invitation, person=existing_user_for_email(invitation.email)):
        raise InvitationError("This account has a password already: sign in, then open the link again.")
    user = user_for_email(invitation.email)
    user.set_password(password)
    user.save(update_fields=["password"])
    if invitation.creates_user_id is None:  # the link brought the account into being: say so
        invitation.creates_user = user
        invitation.save(update_fields=["creates_user"])
    return user, invitation_accept(invitation=invitation, user=user)


@transaction.atomic
def invitation_revoke(*, invitation: Invitation) -> Invitation:
    """Withdraw a pending invitation; its link stops working."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.state is InvitationState.PENDING:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
    return invitation


@transaction.atomic
def tenant_update(*, tenant: Tenant, name: str | None = None, default_model: str | None = None) -> Tenant:
    """Rename a tenant or set its default model.

    The default model is stored as given: `routing.policy.tenant_set_default_model` checks it
    against the routing rules first.
    """
    tenant_require_active(tenant)
    fields = []
    if name is not None:
        name = name.strip()
        if not name or len(name) > 200:
            raise ValidationError("A tenant name is 1 to 200 characters.")
        tenant.name = name
        fields.append("name")
    if default_model is not None:
        tenant.default_model = default_model.strip()
        fields.append("default_model")
    if fields:
        tenant.save(update_fields=[*fields, "updated_at"])
    return tenant


@transaction.atomic
def membership_remove(*, membership: Membership) -> None:
    """Remove a person from a tenant; the last owner cannot be removed."""
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == Role.OWNER:
        owners = Membership.objects.select_for_update().filter(tenant_id=membership.tenant_id, role=Role.OWNER)
        if owners.count() <= 1:
            raise ValidationError("The last owner cannot be removed: make someone else owner first.")
    membership.delete()


class OwnerAccess(StrEnum):
    """How the owner that create_tenant names gets in."""

    SIGNS_IN = "signs_in"  # the account has a password
    LINK = "link"  # a one-time link chooses the password of the account made for them
    NEEDS_PASSWORD = "needs_password"  # an account without a password that no link of ours made
    ACCOUNT_INACTIVE = "account_inactive"  # an operator deactivated the account


@dataclass(frozen=True)
class TenantSetUp:
    """What `tenant_create_with_owner` found and did."""

    tenant: Tenant
    tenant_created: bool
    owner: User | None = None
    membership: Membership | None = None
    owner_added: bool = False
    promoted_from: str = ""  # the role an existing member had before becoming owner
    access: OwnerAccess | None = None
    link: IssuedInvitation | None = None
    discarded_signup: bool = False  # the address had signed up without confirming: that sign-up is gone


def _person(user: User) -> str:
    return user.email or user.get_username()


@transaction.atomic
def tenant_create_with_owner(
    *, slug: str, name: str = "", owner_email: str = "", add_owner: bool = False
) -> TenantSetUp:
    """Create a tenant (or find it), and make the person `owner_email` names its owner.

    A tenant that already has another owner is never taken over silently: TenantHasOwner,
    unless `add_owner` says the person joins those owners. Naming the same owner again changes
    nothing but issuing a fresh link while they have not chosen a password. One transaction: a bad
    email leaves no tenant behind, a bad slug no account.
    """
    # An unconfirmed self sign-up of this address gains nothing: it is discarded first (and the
    # tenant it made with it, which may be the very slug named here).
    named = existing_user_for_email(owner_email.strip().lower()) if owner_email else None
    discarded = named is not None and signup_discard(user=named)
    tenant, created = tenant_create(slug=slug, name=name)
    if not owner_email:
        return TenantSetUp(tenant, created)
    # Owner changes of one tenant queue here, so two runs naming different owners cannot both pass.
    tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
    owner, owner_created = account_for_email(owner_email)
    current = Membership.objects.filter(tenant=tenant, user=owner).first()
    if current is None or current.role != Role.OWNER:
        others = Membership.objects.filter(tenant=tenant, role=Role.OWNER).select_related("user").order_by("pk")
        if others and not add_owner:
            raise TenantHasOwner(tenant, [_person(membership.user) for membership in others])
    membership, added = membership_add(tenant=tenant, user=owner, role=Role.OWNER)
    promoted_from = ""
    if membership.role != Role.OWNER:
        promoted_from = membership.role
        membership.role = Role.OWNER
        membership.save(update_fields=["role"])

    link = None
    if not owner.is_active:
        access = OwnerAccess.ACCOUNT_INACTIVE
    elif owner.has_usable_password():
        access = OwnerAccess.SIGNS_IN
    elif (
        owner_created or discarded or Invitation.objects.filter(creates_user=owner).exists()
    ) and awaits_first_password(owner):
        # The link chooses the password only of an account made for this (now, or by an earlier
        # run whose link is unused): never of one that exists otherwise.
        access = OwnerAccess.LINK
        link = invitation_create(tenant=tenant, email=_person(owner), role=Role.OWNER, creates_user=owner)
    else:
        access = OwnerAccess.NEEDS_PASSWORD
    return TenantSetUp(tenant, created, owner, membership, added, promoted_from, access, link, discarded)


# --- Self sign-up (SINATRA_ALLOW_SIGNUP): usable once the address is confirmed

SIGNUP_SALT = "sinatra.tenants.signup"


def signup_url(signup: SignUp) -> str:
    """Return a fresh confirmation link for a sign-up, built on SINATRA_BASE_URL (never a request's Host)."""
    token = signing.dumps(str(signup.pk), salt=SIGNUP_SALT)
    return f"{settings.SINATRA_BASE_URL}/accounts/confirm/{token}/"


def awaits_confirmation(user: User) -> bool:
    """Whether this account was made by a self sign-up whose address is not confirmed yet."""
    return not user.is_active and SignUp.objects.pending().filter(user=user).exists()


def _send_confirmation(signup: SignUp) -> None:
    """Mail the link that confirms a sign-up's address; the link is in the mail only, never logged."""
    context = {
        "url": signup_url(signup),
        "days": settings.SINATRA_INVITATION_DAYS,
        "tenant": signup.tenant,
        "email": signup.user.email,
        "base_url": settings.SINATRA_BASE_URL,
    }
    send_mail(
        subject="Confirm your address for Sinatra",
        message=render_to_string("registration/signup_confirm_email.txt", context),
        from_email=None,
        recipient_list=[signup.user.email],
        fail_silently=True,
    )


def _send_signup_attempt_notice(email: str) -> None:
    """Tell an address that has an account that someone tried to sign up with it (nothing was made)."""
    context = {"email": email, "base_url": settings.SINATRA_BASE_URL}
    send_mail(
        subject="Someone tried to sign up with your address",
        message=render_to_string("registration/signup_exists_email.txt", context),
        from_email=None,
        recipient_list=[email],
        fail_silently=True,
    )


@sensitive_variables("password")
@transaction.atomic
def account_sign_up(*, email: str, password: str, tenant_slug: str, tenant_name: str) -> SignUp | None:
    """Self sign-up: an account that cannot sign in yet, the tenant it will own, and a mail to confirm the address.

    Until the link in that mail is used (with this password), the account is inactive. The
    tenant is a plain INSERT: when two sign-ups ask for one slug at once, the database's unique
    constraint lets one through and the other raises SlugTaken, creating nothing (never a
    second owner of the first one's tenant).

    An address that has an account gets nothing new: that account's owner is told by mail that
    someone tried, and None is returned. The caller answers alike either way, so the page tells
    no one whether an address has an account (the password is hashed either way, so neither
    does the time the answer takes).
    """
    email = email.strip().lower()
    validate_tenant_slug(tenant_slug)
    user = get_user_model()(username=email, email=email, is_active=False)
    user.set_password(password)
    taken = existing_user_for_email(email) is not None
    if not taken:
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError:  # the same address signed up a moment ago
            taken = True
    if taken:
        if Tenant.objects.filter(slug=tenant_slug).exists():
            raise SlugTaken(tenant_slug)  # as for anyone: the answer says nothing about the address
        transaction.on_commit(lambda: _send_signup_attempt_notice(email))
        return None
    try:
        with transaction.atomic():
            tenant = Tenant.objects.create(slug=tenant_slug, name=tenant_name.strip() or tenant_slug)
    except IntegrityError:
        raise SlugTaken(tenant_slug) from None
    membership_add(tenant=tenant, user=user, role=Role.OWNER)
    signup = SignUp.objects.create(user=user, tenant=tenant)
    transaction.on_commit(lambda: _send_confirmation(signup))
    return signup


def signup_for_token(token: str) -> SignUp:
    """Return the unconfirmed sign-up a link names; raise SignUpError saying why not.

    A token whose signature does not verify, or whose sign-up was discarded, raises
    SignUp.DoesNotExist (a plain 404).
    """
    try:
        signup_id = signing.loads(token, salt=SIGNUP_SALT, max_age=timedelta(days=settings.SINATRA_INVITATION_DAYS))
    except signing.SignatureExpired:
        raise SignUpError("This link has expired: sign in, and we will email you a new one.") from None
    except signing.BadSignature:
        raise SignUp.DoesNotExist from None
    signup = SignUp.objects.select_related("user", "tenant").get(pk=signup_id)
    if signup.confirmed_at is not None:
        raise SignUpError("This address is confirmed already: sign in.")
    return signup


def _confirm(signup: SignUp) -> None:
    signup.confirmed_at = timezone.now()
    signup.save(update_fields=["confirmed_at"])
    signup.user.is_active = True
    signup.user.save(update_fields=["is_active"])


@sensitive_variables("password")
@transaction.atomic
def signup_confirm(*, signup: SignUp, password: str) -> User:
    """Confirm a sign-up's address with its link and the password chosen at sign-up; the account becomes usable.

    Both are asked for: the link proves the address, the password that the person who opened it
    is the one who signed up (someone who merely received the mail cannot confirm another
    person's sign-up with their address, and so hand them an account).
    """
    signup = SignUp.objects.select_for_update(of=("self",)).select_related("user", "tenant").get(pk=signup.pk)
    if signup.confirmed_at is not None:
        raise SignUpError("This address is confirmed already: sign in.")
    if not signup.user.check_password(password):
        raise SignUpError(
            "That is not the password this account was created with. Forgot it? Reset your password: "
            "that confirms the address too."
        )
    _confirm(signup)
    return signup.user


@transaction.atomic
def signup_confirm_by_reset(*, user: User) -> None:
    """A password reset proves the address and replaced the password: an unconfirmed sign-up is confirmed."""
    signup = SignUp.objects.select_for_update(of=("self",)).pending().filter(user=user).select_related("user").first()
    if signup is not None:
        _confirm(signup)


def signup_resend(*, email: str) -> None:
    """Mail a new confirmation link if this address has a sign-up awaiting confirmation; otherwise nothing."""
    email = email.strip().lower()
    signup = (
        SignUp.objects.pending()
        .filter(user__email__iexact=email, user__is_active=False)
        .select_related("user", "tenant")
        .first()
    )
    if signup is not None:
        transaction.on_commit(lambda: _send_confirmation(signup))


@transaction.atomic
def signup_discard(*, user: User) -> bool:
    """Undo an unconfirmed self sign-up of this account; return whether there was one.

    The account keeps its address but loses the sign-up's password and its link, so whatever the
    person who signed up knows opens nothing; the tenant the sign-up made goes too, unless
    something else holds it (another member, a stored key).
    """
    signup = SignUp.objects.select_for_update(of=("self",)).pending().filter(user=user).select_related("tenant").first()
    if signup is None or user.is_active:
        return False
    tenant = signup.tenant
    signup.delete()
    if tenant is not None:
        Membership.objects.filter(tenant=tenant, user=user).delete()
        if not tenant.memberships.exists():
            try:
                with transaction.atomic():
                    tenant.delete()
            except ProtectedError:  # a key was stored for it meanwhile: an operator decides
                pass
    user.set_unusable_password()
    user.is_active = True
    user.save(update_fields=["password", "is_active"])
    return True
