"""Writes and rules for organizations, memberships and invitations."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from apollo.errors import ApiError, Conflict, NotFound, PermissionDenied, ValidationFailed
from apollo.secrets import digest
from apollo.tenancy import org_scope, privileged
from orgs import tasks
from orgs.models import Invitation, Membership, Organization, Role, User
from orgs.signals import membership_removed, organization_created


def organization_create(*, owner: User, name: str, currency: str = "USD") -> Organization:
    with transaction.atomic():
        organization = Organization.objects.create(name=name, currency=currency)
        with org_scope(organization.id):
            Membership.objects.create(organization=organization, user=owner, role=Role.OWNER)
            organization_created.send(sender=Organization, organization=organization, owner=owner)
    return organization


def organization_update(organization: Organization, **fields) -> Organization:
    for name, value in fields.items():
        setattr(organization, name, value)
    organization.save(update_fields=[*fields, "updated_at"])
    return organization


def _require_can_manage(actor: Membership, target_role: str, new_role: str | None = None):
    """An admin manages admins, members and viewers; only an owner touches owners."""
    if actor.role == Role.OWNER:
        return
    if target_role == Role.OWNER or new_role == Role.OWNER:
        raise PermissionDenied("Only an owner can grant, change or remove the owner role.")


def _lock_for_role_change(target: Membership) -> tuple[Membership, bool]:
    """Lock ``target`` and its org's owners; return its role now and if another owner stays.

    The target's role is read again under the lock: it may have changed since the request
    loaded it (an owner promoting the person an admin is demoting). Taking every lock in
    one statement, in id order, makes two owners demoting each other queue instead of
    deadlocking.
    """
    rows = list(
        Membership.objects.select_for_update()
        .filter(Q(role=Role.OWNER) | Q(pk=target.pk), organization_id=target.organization_id)
        .order_by("pk")
    )
    current = next((row for row in rows if row.pk == target.pk), None)
    if current is None:
        raise NotFound("No member with this user id in this organization.", code="member_not_found")
    another_owner = any(row.role == Role.OWNER and row.pk != target.pk for row in rows)
    return current, another_owner


def _last_owner() -> Conflict:
    return Conflict(
        "An organization keeps at least one owner; make someone else owner first.",
        code="last_owner",
    )


@transaction.atomic
def membership_change_role(*, actor: Membership, target: Membership, role: str) -> Membership:
    current, another_owner = _lock_for_role_change(target)
    _require_can_manage(actor, current.role, role)
    if current.role == Role.OWNER and role != Role.OWNER and not another_owner:
        raise _last_owner()

    target.role = role
    target.save(update_fields=["role", "updated_at"])
    return target


@transaction.atomic
def membership_remove(*, actor: Membership, target: Membership) -> None:
    current, another_owner = _lock_for_role_change(target)
    _require_can_manage(actor, current.role)
    if current.role == Role.OWNER and not another_owner:
        raise _last_owner()

    target.delete()
    membership_removed.send(
        sender=Membership,
        organization_id=target.organization_id,
        user_id=target.user_id,
        actor_id=actor.user_id,
    )


def _new_token() -> str:
    return "inv_" + secrets.token_urlsafe(32)


def _expiry():
    return timezone.now() + timedelta(days=settings.APOLLO_INVITATION_TTL_DAYS)


def invitation_create(*, actor: Membership, email: str, role: str) -> tuple[Invitation, str]:
    """Invite ``email`` with ``role``; returns the invitation and its token, shown once."""
    _require_can_manage(actor, role)
    organization = actor.organization
    if Membership.objects.filter(organization=organization, user__email__iexact=email).exists():
        raise Conflict("This person is already a member.", code="already_member")
    token = _new_token()
    try:
        with transaction.atomic():
            invitation = Invitation.objects.create(
                organization=organization,
                email=email,
                role=role,
                token_hash=digest(token),
                invited_by=actor.user,
                expires_at=_expiry(),
            )
    except IntegrityError:
        raise Conflict(
            "A pending invitation for this email exists; resend it instead.",
            code="invitation_pending",
        ) from None
    _mail(invitation, token)
    return invitation, token


def invitation_resend(*, actor: Membership, invitation: Invitation) -> tuple[Invitation, str]:
    """A new link for the same invitation; the old link stops working at once.

    The update is conditional, so an invitation accepted or revoked since the request
    loaded it is reported as such instead of being given a new link.
    """
    _require_can_manage(actor, invitation.role)

    token = _new_token()
    invitation.token_hash = digest(token)
    invitation.expires_at = _expiry()
    renewed = Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(
        token_hash=invitation.token_hash, expires_at=invitation.expires_at
    )
    if not renewed:
        raise _accepted_or_gone(invitation)

    _mail(invitation, token)
    return invitation, token


def invitation_revoke(*, actor: Membership, invitation: Invitation) -> None:
    _require_can_manage(actor, invitation.role)
    # An accepted invitation stays: it records who let the member in.
    revoked, _ = Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).delete()
    if not revoked:
        raise _accepted_or_gone(invitation)


def _accepted_or_gone(invitation: Invitation) -> ApiError:
    if Invitation.objects.filter(pk=invitation.pk).exists():
        return Conflict("This invitation was already accepted.", code="invitation_accepted")
    return NotFound("No invitation with this id in this organization.", code="invitation_not_found")


def _mail(invitation: Invitation, token: str) -> None:
    invitation_id = str(invitation.id)
    transaction.on_commit(lambda: tasks.send_invitation_email.delay(invitation_id, token))


def invitation_accept(*, token: str, user: User | None, password: str = "", name: str = ""):
    """Join the invitation's org: as the signed-in user, or as a new user.

    Returns ``(membership, created_user)``. The lookup by token crosses orgs, since the
    caller names none; the invitation row is locked so a token works once.
    """
    with privileged("an invitation is found by its token, before any org is known"):
        invitation = _invitation_to_accept(token, user)
        created_user = None if user else _user_for_invitation(invitation, password, name)
        joiner = user or created_user

        membership, _ = Membership.objects.get_or_create(
            organization=invitation.organization, user=joiner, defaults={"role": invitation.role}
        )
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = joiner
        invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership, created_user


def _invitation_to_accept(token: str, user: User | None) -> Invitation:
    """The invitation of ``token``, locked, if it is pending and meant for ``user``.

    A signed-in user with another email learns nothing of the invitation's state: the
    403 comes before the 409s, as the contract orders them.
    """
    invitation = (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("organization")
        .filter(token_hash=digest(token))
        .first()
    )
    if invitation is None:
        raise NotFound("No invitation has this token.", code="invitation_not_found")
    if user is not None and user.email.lower() != invitation.email.lower():
        raise PermissionDenied(
            "This invitation was sent to another email address.",
            code="invitation_email_mismatch",
        )
    if invitation.accepted_at is not None:
        raise Conflict("This invitation was already used.", code="invitation_accepted")
    if invitation.expires_at <= timezone.now():
        raise Conflict("This invitation has expired.", code="invitation_expired")
    return invitation


def _user_exists() -> Conflict:
    return Conflict(
        "A user with this email exists; sign in and accept with your token.",
        code="user_exists",
    )


def _user_for_invitation(invitation: Invitation, password: str, name: str) -> User:
    if User.objects.filter(email__iexact=invitation.email).exists():
        raise _user_exists()
    if not password:
        raise ValidationFailed.for_field(
            "password", "A password is required to create an account.", code="required"
        )
    # Two invitations of different orgs, accepted at once, race for the same email.
    try:
        with transaction.atomic():
            return User.objects.create_user(email=invitation.email, password=password, name=name)
    except IntegrityError:
        raise _user_exists() from None
