"""Account e-mails, sent from the worker: the password-reset link and the staff invitation.

The reset page only queues `password_reset_send` with the address as entered
(accounts.signals.password_reset_requested, queued through the outbox by workflows.receivers),
so it answers the same page in the same time whoever asks. The task decides, in the worker,
whether an active account has that address; if so it makes the link (uid and token) on the
store's public address (store.links) and e-mails it through the notification provider with
templates/accounts/password_reset_subject.txt and password_reset_email.txt. Nothing is sent
for an unknown address.

An owner's staff invitation (accounts.staff, announced by accounts.signals.staff_invited once
committed) queues `staff_invitation_send` with the account's id; the task mails the link to
choose a password (templates/accounts/staff_invitation_subject.txt and
staff_invitation_email.txt) if the invitation is still pending.

A mail server that fails is tried again EMAIL_RETRY_AFTER later (a one-off django-q2
schedule, in the database, run by the worker's scheduler), EMAIL_ATTEMPTS times in all, as the
order e-mails are; the link is made afresh on each try.
"""
import logging
import secrets

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import schedule

from accounts.models import User
from accounts.selectors import password_reset_accounts, password_reset_path
from accounts.staff import invitation_account, invitation_path, member_roles, staff_invitation_delivery_record
from notifications.services import EMAIL_ATTEMPTS, EMAIL_RETRY_AFTER
from providers import registry
from store.links import public_url

logger = logging.getLogger("notifications.account_mail")

PASSWORD_RESET_TASK = "notifications.account_mail.password_reset_send"
PASSWORD_RESET_SUBJECT = "accounts/password_reset_subject.txt"
PASSWORD_RESET_BODY = "accounts/password_reset_email.txt"
STAFF_INVITATION_TASK = "notifications.account_mail.staff_invitation_send"
STAFF_INVITATION_SUBJECT = "accounts/staff_invitation_subject.txt"
STAFF_INVITATION_BODY = "accounts/staff_invitation_email.txt"


def password_reset_message(*, user: User) -> tuple[str, str]:
    """(subject, body) of `user`'s reset e-mail, with a new link (good for PASSWORD_RESET_TIMEOUT s)."""
    context = {"user": user, "email": user.email, "link": public_url(password_reset_path(user=user))}
    subject = "".join(render_to_string(PASSWORD_RESET_SUBJECT, context).splitlines())
    return subject, render_to_string(PASSWORD_RESET_BODY, context)


def password_reset_send(email: str, attempt: int = 1) -> int:
    """The task: e-mail a reset link to the account(s) password_reset_accounts finds for `email`
    (none for an unknown, inactive or password-less address). Returns how many e-mails went out.

    When the notification provider fails (the mail server is down or refuses), the failure is
    logged and the whole task queued again EMAIL_RETRY_AFTER later, until EMAIL_ATTEMPTS tries;
    the last failure is logged as an error. Never raises for a mail failure."""
    accounts = password_reset_accounts(email=email)
    if not accounts:
        logger.info("password reset asked for an address without an active account; nothing sent")
        return 0
    sent = 0
    for user in accounts:
        subject, body = password_reset_message(user=user)
        try:
            registry.notification().send(key=f"password-reset-{user.pk}-{secrets.token_hex(6)}", to=user.email,
                                         subject=subject, body=body)
        except Exception as exc:  # the provider's failure, whatever it is: try the task again later
            _retry(PASSWORD_RESET_TASK, email, attempt=attempt, what="password reset e-mail", user_id=user.pk,
                   error=f"{exc.__class__.__name__}: {exc}")
            return sent
        logger.info("password reset e-mail sent to account %s", user.pk)
        sent += 1
    return sent


def staff_invitation_message(*, user: User) -> tuple[str, str]:
    """(subject, body) of `user`'s invitation, with a new link (good for STAFF_INVITATION_TIMEOUT s)."""
    timeout = settings.STAFF_INVITATION_TIMEOUT
    lasts = f"{timeout // 86400} days" if timeout >= 2 * 86400 else f"{max(1, timeout // 3600)} hours"
    context = {"user": user, "email": user.email, "roles": member_roles(user), "lasts": lasts,
               "link": public_url(invitation_path(user=user)), "admin": public_url(reverse("admin:index"))}
    subject = "".join(render_to_string(STAFF_INVITATION_SUBJECT, context).splitlines())
    return subject, render_to_string(STAFF_INVITATION_BODY, context)


def staff_invitation_send(user_id: int, attempt: int = 1) -> int:
    """The task: e-mail account `user_id` its invitation if it is still pending (active staff
    without a password; else nothing: already in, deactivated or gone). Returns 1 if sent, else
    0. A failing mail server is tried again as for a reset (EMAIL_RETRY_AFTER, EMAIL_ATTEMPTS);
    after the last try the account records the e-mail as not delivered (the Staff page shows it)."""
    user = invitation_account(user_id=user_id)
    if user is None:
        logger.info("staff invitation of account %s no longer pending; nothing sent", user_id)
        return 0
    subject, body = staff_invitation_message(user=user)
    try:
        registry.notification().send(key=f"staff-invitation-{user.pk}-{secrets.token_hex(6)}", to=user.email,
                                     subject=subject, body=body)
    except Exception as exc:  # the provider's failure, whatever it is: try the task again later
        if not _retry(STAFF_INVITATION_TASK, user_id, attempt=attempt, what="staff invitation e-mail",
                      user_id=user.pk, error=f"{exc.__class__.__name__}: {exc}"):
            staff_invitation_delivery_record(user_id=user.pk, delivered=False)
        return 0
    staff_invitation_delivery_record(user_id=user.pk, delivered=True)
    logger.info("staff invitation e-mail sent to account %s", user.pk)
    return 1


def _retry(task: str, arg, *, attempt: int, what: str, user_id: int, error: str) -> bool:
    """Queue `task(arg, attempt + 1)` EMAIL_RETRY_AFTER from now, unless EMAIL_ATTEMPTS were made.
    False when it gave up."""
    if attempt >= EMAIL_ATTEMPTS:
        logger.error("%s to account %s not sent after %s attempts (%s); giving up", what, user_id, attempt, error)
        return False
    wait = int(EMAIL_RETRY_AFTER.total_seconds())
    logger.warning("%s to account %s not sent (%s); attempt %s of %s in %s s",
                   what, user_id, error, attempt + 1, EMAIL_ATTEMPTS, wait)
    schedule(task, arg, attempt + 1, name=f"{task.rsplit('.', 1)[-1]}-{secrets.token_hex(8)}-{attempt + 1}",
             schedule_type=Schedule.ONCE, next_run=timezone.now() + EMAIL_RETRY_AFTER,
             repeats=-1)  # django-q2 deletes a one-off schedule with -1 once it ran
    return True
