import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail

from apollo.secrets import digest
from apollo.tenancy import privileged
from orgs.models import Invitation

logger = logging.getLogger("apollo.orgs")


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_invitation_email(invitation_id: str, token: str) -> None:
    """Mail an invitation link. A resend changes the token, so a stale task sends nothing."""
    with privileged("a worker mails an invitation of any org"):
        invitation = (
            Invitation.objects.select_related("organization", "invited_by")
            .filter(pk=invitation_id, accepted_at__isnull=True)
            .first()
        )
    if invitation is None:
        return
    if invitation.token_hash != digest(token):
        return
    link = settings.APOLLO_INVITATION_URL.format(token=token)
    inviter = invitation.invited_by.email if invitation.invited_by else "A teammate"
    # A name may hold line breaks, which a mail header refuses.
    organization = " ".join(invitation.organization.name.split())
    send_mail(
        subject=f"You are invited to {organization} on Apollo Space",
        message=(
            f"{inviter} invited you to join {organization} as "
            f"{invitation.role}.\n\nAccept within {settings.APOLLO_INVITATION_TTL_DAYS} days: "
            f"{link}\n\nThe link works once."
        ),
        from_email=None,
        recipient_list=[invitation.email],
    )
    logger.info("invitation_mailed", extra={"invitation_id": invitation_id})
