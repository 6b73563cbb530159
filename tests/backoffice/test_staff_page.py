"""The owners' Staff page: invite a person with roles, who chooses a password from the e-mailed
link and can then do what the roles allow, and nothing else; change roles, deactivate; nobody
but an owner (a superuser) reaches it; a used or expired invitation link says so."""
import html
import re
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Group
from django.core import mail
from django.test import Client

from accounts.models import User
from accounts.staff import InvitationTokenGenerator, invitation_path, staff_invite
from catalog.models import Product
from notifications.account_mail import staff_invitation_send
from notifications.services import EMAIL_ATTEMPTS
from orders.models import Order
from store.errors import ValidationFailed
from tests.refund_pages import refund_previewed_and_confirmed

NEW_PASSWORD = "Brand-New-Passw0rd"
INVITE_LINK = re.compile(r"(https?://[^/\s]+)(/accounts/staff/invitation/[^/\s]+/[^/\s]+/)")
STAFF_PAGE = "/admin/accounts/staffmember/"


@pytest.fixture
def owner(staff_user):  # a superuser: the shop's owner
    client = Client()
    client.force_login(staff_user)
    return client


def text(response) -> str:
    """The page as read: HTML entities (an escaped apostrophe) as characters."""
    return html.unescape(response.content.decode())


def role(name: str) -> Group:
    return Group.objects.get(name=name)


def invite(owner: Client, capture, email: str, *roles: str, name: str = "Rita Refunds"):
    with capture(execute=True):  # the e-mail is queued once the invitation committed
        return owner.post(f"{STAFF_PAGE}add/", {"email": email, "name": name,
                                                "roles": [role(name).pk for name in roles]})


def choose_password(link_path: str, password: str = NEW_PASSWORD) -> Client:
    browser = Client()
    form_page = browser.get(link_path, follow=True)
    assert "Choose your password" in form_page.content.decode(), form_page.content.decode()[:2000]
    done = browser.post(form_page.redirect_chain[-1][0], {"new_password1": password, "new_password2": password})
    assert (done.status_code, done["Location"]) == (302, "/accounts/staff/invitation/done/")
    return browser


def admin_sign_in(email: str, password: str) -> Client | None:
    browser = Client()
    response = browser.post("/admin/login/?next=/admin/", {"username": email, "password": password})
    return browser if response.status_code == 302 else None


def test_an_owner_invites_a_refunds_member_who_refunds_and_cannot_change_products(
    owner, staff_user, django_capture_on_commit_callbacks, settings, order_in, catalog
):
    settings.STORE_PUBLIC_URL = "https://shop.example.com"
    order = order_in("delivered")
    assert f'href="{STAFF_PAGE}"' in owner.get("/admin/").content.decode()  # linked from the admin index

    response = invite(owner, django_capture_on_commit_callbacks, "Rita@Example.com", "Refunds")

    assert (response.status_code, response["Location"]) == (302, STAFF_PAGE), response.content.decode()[:3000]
    member = User.objects.get(email="rita@example.com")
    assert (member.is_staff, member.is_superuser, member.is_active) == (True, False, True)
    assert not member.has_usable_password()
    assert [group.name for group in member.groups.all()] == ["Refunds"]
    # The audit trail says who invited whom, with which role.
    trail = LogEntry.objects.get_for_object(User.objects.get(pk=member.pk))
    assert {entry.actor_id for entry in trail} == {staff_user.pk}
    assert any("Refunds" in str(entry.changes) for entry in trail)
    listing = owner.get(STAFF_PAGE).content.decode()
    assert "rita@example.com" in listing and "Invited: has not chosen a password yet" in listing
    (message,) = mail.outbox
    assert message.to == ["rita@example.com"]
    assert message.subject == "You are invited to the Workflow Store's staff"
    assert "Hello Rita Refunds," in message.body and "as Refunds." in message.body
    assert "for 7 days at most" in message.body
    link = INVITE_LINK.search(message.body)
    assert link.group(1) == "https://shop.example.com"
    assert admin_sign_in(member.email, "") is None  # no password until they choose one

    choose_password(link.group(2))
    staff = admin_sign_in("rita@example.com", NEW_PASSWORD)

    assert staff is not None
    assert "Active" in owner.get(STAFF_PAGE).content.decode()
    refunded = refund_previewed_and_confirmed(staff, f"/admin/orders/order/{order.pk}/refund/",
                                              {"amount": "1.00", "reason": "Dented", "idempotency_key": "k"})
    assert refunded.redirect_chain[0][1] == 302
    assert Order.objects.get(pk=order.pk).refunded_amount == Decimal("1.00")
    product = Product.objects.get(public_id="prod-001")
    assert staff.get(f"/admin/catalog/product/{product.pk}/change/").status_code == 403
    assert staff.post(f"/admin/catalog/product/{product.pk}/change/", {"price": "1.00"}).status_code == 403
    assert Product.objects.get(pk=product.pk).price == product.price
    # The link worked once: now it says so.
    again = Client().get(link.group(2), follow=True).content.decode()
    assert "This invitation was already used" in again


def test_only_owners_reach_the_staff_page(shop_staff, refunder, staff_user, django_capture_on_commit_callbacks):
    member = staff_invite(email="new@example.com", name="New", roles=[role("Catalog")])
    for user in (shop_staff, refunder):
        browser = Client()
        browser.force_login(user)
        answers = {path: browser.get(path) for path in (
            STAFF_PAGE, f"{STAFF_PAGE}add/", f"{STAFF_PAGE}{member.pk}/change/", f"{STAFF_PAGE}{staff_user.pk}/change/")}
        with django_capture_on_commit_callbacks(execute=True):
            posted = browser.post(f"{STAFF_PAGE}add/", {"email": "sneaky@example.com", "name": "S",
                                                        "roles": [role("Refunds").pk]})

        assert {path: answer.status_code for path, answer in answers.items()} == dict.fromkeys(answers, 403)
        assert "Only the shop's owners (superusers) manage staff" in text(answers[STAFF_PAGE])
        assert text(answers[STAFF_PAGE]).count("<h1") == 1 and "You may not manage staff</h1>" in text(answers[STAFF_PAGE])
        assert posted.status_code == 403
        assert STAFF_PAGE not in browser.get("/admin/").content.decode()
    assert not User.objects.filter(email="sneaky@example.com").exists()
    assert mail.outbox == []


def test_an_expired_or_broken_invitation_link_says_so(db, settings):
    member = staff_invite(email="late@example.com", name="Lou Late", roles=[role("Catalog")])

    class EightDaysAgo(InvitationTokenGenerator):
        def _now(self):
            return datetime.now() - timedelta(days=8)

    uid = invitation_path(user=member).split("/")[-3]
    expired = Client().get(f"/accounts/staff/invitation/{uid}/{EightDaysAgo().make_token(member)}/", follow=True)
    broken = Client().get(f"/accounts/staff/invitation/{uid}/abc-123/", follow=True)
    fresh = Client().get(invitation_path(user=member), follow=True)

    assert "This invitation has expired" in text(expired)
    assert "Ask the shop's owner to send the invitation again" in text(expired)
    assert "This invitation link does not work" in broken.content.decode()
    assert "Choose your password" in fresh.content.decode()
    settings.STAFF_INVITATION_TIMEOUT = 9 * 86400  # the lifetime is the setting's
    later = Client().get(f"/accounts/staff/invitation/{uid}/{EightDaysAgo().make_token(member)}/", follow=True)
    assert "Choose your password" in later.content.decode()


def test_a_password_reset_link_is_no_invitation(db):
    from accounts.selectors import password_reset_path

    member = staff_invite(email="mixed@example.com", name="Max", roles=[role("Catalog")])
    _, _, _, _, uid, token, _ = password_reset_path(user=member).split("/")

    page = Client().get(f"/accounts/staff/invitation/{uid}/{token}/", follow=True).content.decode()

    assert "This invitation link does not work" in page


def test_an_owner_changes_roles_and_deactivates(owner, jwt_client):
    member = staff_invite(email="cat@example.com", name="Cat Alog", roles=[role("Catalog"), role("Refunds")])
    member.set_password(NEW_PASSWORD)
    member.save()
    desk = Group.objects.create(name="Front desk")  # a group that is not a role stays
    member.groups.add(desk)

    changed = owner.post(f"{STAFF_PAGE}{member.pk}/change/", {"roles": [role("Webhooks").pk], "is_active": "on"})

    assert changed.status_code == 302, changed.content.decode()[:3000]
    assert sorted(group.name for group in member.groups.all()) == ["Front desk", "Webhooks"]
    assert admin_sign_in(member.email, NEW_PASSWORD) is not None

    signed_in = admin_sign_in(member.email, NEW_PASSWORD)
    api = jwt_client(member)
    assert api.get("/api/orders").status_code == 200
    owner.post(f"{STAFF_PAGE}{member.pk}/change/", {"roles": [role("Webhooks").pk]})  # "Active" unticked

    member.refresh_from_db()
    assert not member.is_active
    assert admin_sign_in(member.email, NEW_PASSWORD) is None
    assert signed_in.get("/admin/").status_code == 302  # the session it had no longer counts
    assert api.get("/api/orders").status_code == 401  # nor its API token
    assert "Deactivated" in owner.get(STAFF_PAGE).content.decode()


def test_the_list_actions_deactivate_and_send_a_pending_invitation_again(
    owner, staff_user, django_capture_on_commit_callbacks
):
    pending = staff_invite(email="pending@example.com", name="Pat", roles=[role("Refunds")])
    joined = staff_invite(email="joined@example.com", name="Jo", roles=[role("Refunds")])
    joined.set_password(NEW_PASSWORD)
    joined.save()

    with django_capture_on_commit_callbacks(execute=True):
        owner.post(STAFF_PAGE, {"action": "invitation_send_again", "_selected_action": [pending.pk, joined.pk]})
    owner.post(STAFF_PAGE, {"action": "deactivate", "_selected_action": [joined.pk, staff_user.pk]})

    assert [message.to for message in mail.outbox] == [["pending@example.com"]]
    assert INVITE_LINK.search(mail.outbox[0].body)
    assert not User.objects.get(pk=joined.pk).is_active
    assert User.objects.get(pk=staff_user.pk).is_active  # an owner is not deactivated here


def test_an_address_with_an_account_is_not_invited_and_owners_are_read_only(
    owner, customer, staff_user, django_capture_on_commit_callbacks
):
    response = invite(owner, django_capture_on_commit_callbacks, "Customer@example.com", "Refunds")
    owners_page = owner.get(f"{STAFF_PAGE}{staff_user.pk}/change/").content.decode()

    assert response.status_code == 200
    assert "A person with this e-mail address already has an account: customer@example.com." in text(response)
    assert not User.objects.get(pk=customer.pk).is_staff
    assert mail.outbox == []
    assert 'name="_save"' not in owners_page and "Owner (every permission)" in owner.get(STAFF_PAGE).content.decode()


def test_a_deactivated_member_s_invitation_says_to_ask_for_reactivation_and_is_not_sent_again(
    owner, django_capture_on_commit_callbacks
):
    member = staff_invite(email="gone@example.com", name="Gone", roles=[role("Refunds")])
    link = invitation_path(user=member)
    owner.post(STAFF_PAGE, {"action": "deactivate", "_selected_action": [member.pk]})
    mail.outbox.clear()

    page = text(Client().get(link, follow=True))
    with django_capture_on_commit_callbacks(execute=True):
        again = owner.post(STAFF_PAGE, {"action": "invitation_send_again", "_selected_action": [member.pk]},
                           follow=True)

    assert "Your staff account is deactivated" in page
    assert "Ask the shop's owner to reactivate your account" in page
    assert [str(m) for m in again.context["messages"]][-1] == (
        "No invitation was sent again. 1 deactivated account(s) skipped: reactivate them on their page first "
        "(tick Active), then send again.")
    assert "Deactivated before choosing a password: reactivate, then send the invitation again" in text(again)
    assert mail.outbox == []


def test_reactivating_an_invitee_does_not_revive_old_links(owner, django_capture_on_commit_callbacks):
    member = staff_invite(email="back@example.com", name="Back Again", roles=[role("Refunds")])
    old_link = invitation_path(user=member)
    change = f"{STAFF_PAGE}{member.pk}/change/"
    owner.post(change, {"roles": [role("Refunds").pk]})  # Active unticked
    assert not User.objects.get(pk=member.pk).is_active
    owner.post(change, {"roles": [role("Refunds").pk], "is_active": "on"})
    assert User.objects.get(pk=member.pk).is_active
    mail.outbox.clear()

    old = text(Client().get(old_link, follow=True))
    with django_capture_on_commit_callbacks(execute=True):
        owner.post(STAFF_PAGE, {"action": "invitation_send_again", "_selected_action": [member.pk]})

    assert "This invitation link does not work" in old
    choose_password(INVITE_LINK.search(mail.outbox[0].body).group(2))  # the new link works
    assert admin_sign_in("back@example.com", NEW_PASSWORD) is not None


def test_an_invitation_the_worker_could_not_deliver_is_shown_until_sent_again(
    owner, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 1  # nothing listens
    invited = invite(owner, django_capture_on_commit_callbacks, "far@example.com", "Refunds")
    member = User.objects.get(email="far@example.com")
    assert invited.status_code == 302

    for attempt in range(2, EMAIL_ATTEMPTS + 1):  # the worker's retries (the first ran on commit)
        assert "Invited: has not chosen a password yet" in text(owner.get(STAFF_PAGE))
        staff_invitation_send(member.pk, attempt=attempt)
    undelivered = text(owner.get(STAFF_PAGE))

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        owner.post(STAFF_PAGE, {"action": "invitation_send_again", "_selected_action": [member.pk]})

    assert "Invited: e-mail not delivered — send again" in undelivered
    assert [message.to for message in mail.outbox] == [["far@example.com"]]
    assert "Invited: has not chosen a password yet" in text(owner.get(STAFF_PAGE))


def test_the_invitation_message_says_the_e_mail_will_be_sent(owner, django_capture_on_commit_callbacks):
    response = owner.post(f"{STAFF_PAGE}add/", {"email": "soon@example.com", "name": "Soon",
                                                "roles": [role("Refunds").pk]}, follow=True)

    assert [str(m) for m in response.context["messages"]] == [
        "soon@example.com is invited as Refunds: an e-mail with a link to choose a password will be sent in a "
        "moment. They are listed as “Invited” until they do; if the e-mail cannot be delivered, this list says so."]


def test_the_user_page_points_owners_to_the_staff_page(owner, shop_staff):
    page = owner.get(f"/admin/accounts/user/{shop_staff.pk}/change/").content.decode()

    assert f'To set up an employee, invite them from the <a href="{STAFF_PAGE}">Staff page</a>' in page


def test_the_staff_list_runs_the_same_queries_for_2_and_10_members(owner, queries_of):
    def add(first: int, count: int) -> None:
        for i in range(first, first + count):
            staff_invite(email=f"member-{i}@example.com", name=f"Member {i}", roles=[role("Refunds"), role("Catalog")])

    add(0, 2)
    with_2 = queries_of(owner, STAFF_PAGE)
    add(2, 8)
    with_10 = queries_of(owner, STAFF_PAGE)

    assert with_10 == with_2


def test_with_the_second_factor_required_the_invited_refunds_member_enrols_before_refunding(
    owner, settings, django_capture_on_commit_callbacks, order_in
):
    order = order_in("delivered")
    invite(owner, django_capture_on_commit_callbacks, "rita@example.com", "Refunds")
    choose_password(INVITE_LINK.search(mail.outbox[-1].body).group(2))
    settings.STAFF_REQUIRE_2FA = True  # the owner's session here was not verified: they are sent on too

    member = Client()
    signed_in = member.post("/admin/login/?next=/admin/", {"username": "rita@example.com", "password": NEW_PASSWORD})
    refund = member.post(f"/admin/orders/order/{order.pk}/refund/",
                         {"amount": "1.00", "reason": "Dented", "idempotency_key": "k", "post": "yes"}, follow=True)

    assert signed_in.status_code == 302 and signed_in["Location"].startswith("/accounts/second-factor/")
    assert refund.redirect_chain[-1][0].startswith("/accounts/second-factor/")
    assert Order.objects.get(pk=order.pk).refunded_amount == Decimal("0.00")
    assert owner.get(STAFF_PAGE, follow=True).redirect_chain[-1][0].startswith("/accounts/second-factor/")


@pytest.mark.parametrize("variant", [
    "CUSTOMER@EXAMPLE.COM",
    "customer@ｅｘａｍｐｌｅ.com",  # fullwidth forms: the same address once NFKC-folded
    " customer@example.com ",
])
def test_every_spelling_of_a_taken_address_gets_the_same_message(owner, customer, variant,
                                                                  django_capture_on_commit_callbacks):
    response = invite(owner, django_capture_on_commit_callbacks, variant, "Refunds")

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["email"] == [
        "A person with this e-mail address already has an account: customer@example.com."]
    assert User.objects.count() == 2 and mail.outbox == []


def test_an_internationalised_domain_is_the_same_in_unicode_and_in_ascii(owner, make_user,
                                                                         django_capture_on_commit_callbacks):
    make_user("anna@bücher.example")

    response = invite(owner, django_capture_on_commit_callbacks, "Anna@xn--bcher-kva.example", "Refunds")

    assert response.context["adminform"].form.errors["email"] == [
        "A person with this e-mail address already has an account: anna@bücher.example."]


def test_an_address_mixing_alphabets_is_refused(owner, customer, django_capture_on_commit_callbacks):
    lookalike = "customer@ex\u0430mple.com"  # a Cyrillic "а"
    response = invite(owner, django_capture_on_commit_callbacks, lookalike, "Refunds")

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["email"] == [
        "This e-mail address mixes alphabets (Cyrillic and Latin) in its domain, as lookalike addresses do: "
        "type it again in one alphabet."]
    # The service says the same of the part before the @ (the form's e-mail field allows only ASCII there).
    with pytest.raises(ValidationFailed) as refused:
        staff_invite(email="cust\u043emer@example.com", name="Lookalike", roles=[role("Refunds")])
    assert refused.value.fields == {"email": [
        "This e-mail address mixes alphabets (Cyrillic and Latin) in its name before the @, as lookalike addresses "
        "do: type it again in one alphabet."]}
    assert not User.objects.filter(is_staff=True, is_superuser=False).exists() and mail.outbox == []
