"""Writes and rules for organizations, memberships and invitations."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apollo.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from apollo.secrets import digest
from apollo.tenancy import org_scope, privileged
from orgs import tasks
from orgs.models import Invitation, Membership, Organization, Role, User
from orgs.signals import organization_created


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


def _require_another_owner(target: Membership) -> None:
    others = (
        Membership.objects.select_for_update()
        .filter(organization_id=target.organization_id, role=Role.OWNER)
        .exclude(pk=target.pk)
    )
    if not others.exists():
        raise Conflict(
            "An organization keeps at least one owner; make someone else owner first.",
            code="last_owner",
        )


def membership_change_role(*, actor: Membership, target: Membership, role: str) -> Membership:
    _require_can_manage(actor, target.role, role)
    if target.role == Role.OWNER and role != Role.OWNER:
        _require_another_owner(target)
    target.role = role
    target.save(update_fields=["role", "updated_at"])
    return target


def membership_remove(*, actor: Membership, target: Membership) -> None:
    _require_can_manage(actor, target.role)
    if target.role == Role.OWNER:
        _require_another_owner(target)
    target.delete()


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
    """A new link for the same invitation; the old link stops working at once."""
    _require_can_manage(actor, invitation.role)
    if invitation.accepted_at is not None:
        raise Conflict("This invitation was already accepted.", code="invitation_accepted")
    token = _new_token()
    invitation.token_hash = digest(token)
    invitation.expires_at = _expiry()
    invitation.save(update_fields=["token_hash", "expires_at"])
    _mail(invitation, token)
    return invitation, token


def invitation_revoke(*, actor: Membership, invitation: Invitation) -> None:
    _require_can_manage(actor, invitation.role)
    invitation.delete()


def _mail(invitation: Invitation, token: str) -> None:
    invitation_id = str(invitation.id)
    transaction.on_commit(lambda: tasks.send_invitation_email.delay(invitation_id, token))


def invitation_accept(*, token: str, user: User | None, password: str = "", name: str = ""):
    """Join the invitation's org: as the signed-in user, or as a new user.

    Returns ``(membership, created_user)``. The lookup by token crosses orgs, since the
    caller names none; the invitation row is locked so a token works once.
    """
    with privileged("an invitation is found by its token, before any org is known"):
        invitation = (
            Invitation.objects.select_for_update()
            .select_related("organization")
            .filter(token_hash=digest(token))
            .first()
        )
        if invitation is None:
            raise NotFound("No invitation has this token.", code="invitation_not_found")
        if invitation.accepted_at is not None:
            raise Conflict("This invitation was already used.", code="invitation_accepted")
        if invitation.expires_at <= timezone.now():
            raise Conflict("This invitation has expired.", code="invitation_expired")
        created = user is None
        user = user or _user_for_invitation(invitation, password, name)
        if user.email.lower() != invitation.email.lower():
            raise PermissionDenied(
                "This invitation was sent to another email address.",
                code="invitation_email_mismatch",
            )
        membership, _ = Membership.objects.get_or_create(
            organization=invitation.organization, user=user, defaults={"role": invitation.role}
        )
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership, (user if created else None)


def _user_for_invitation(invitation: Invitation, password: str, name: str) -> User:
    if User.objects.filter(email__iexact=invitation.email).exists():
        raise Conflict(
            "A user with this email exists; sign in and accept with your token.",
            code="user_exists",
        )
    if not password:
        raise ValidationFailed.for_field(
            "password", "A password is required to create an account.", code="required"
        )
    return User.objects.create_user(email=invitation.email, password=password, name=name)
