"""Refunds of chosen units of chosen lines, optionally back to stock: from the admin's order
page and the API, with the same permission, never more units or money than are left, once
per key; the customer is told the amount and the items, and the order shows them per line."""
import re
import uuid
from datetime import timedelta
from decimal import Decimal
from html import unescape

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from catalog.models import Product, StockMovement
from notifications.models import Notification
from notifications.services import notifications_resend
from orders.models import Next, Order, OrderEvent, Refund, RefundLine
from orders.services import RefundLineRequest, refund_create
from store.errors import ValidationFailed
from tests.conftest import _jwt_client
from tests.refund_pages import hidden_fields, refund_previewed_and_confirmed

TWO_LINES = {"prod-001": 2, "prod-002": 3}  # 2 × $149.99 and 3 × Wireless Mouse


def line_of(order: Order, public_id: str):
    return order.lines.get(product_public_id=public_id)


def stock_of(public_id: str) -> int:
    return Product.objects.get(public_id=public_id).stock


def admin_refund(client, order: Order, *, lines: dict | None = None, restock: bool = False, amount=None,
                 proposed=None, reason: str = "Returned", key: str | None = None, confirmed: bool = True):
    """Post the order page's refund form: `proposed` is the amount the page showed (unchanged
    unless `amount` differs); `confirmed`: as its confirmation page posts it again (post=yes)."""
    proposed = order.refundable_amount if proposed is None else proposed
    data = {"reason": reason, "idempotency_key": key or uuid.uuid4().hex,
            "amount": str(proposed if amount is None else amount), "initial-amount": str(proposed)}
    for line, quantity in (lines or {}).items():
        data[f"line_{line.pk}"] = str(quantity)
    if restock:
        data["restock"] = "on"
    url = reverse("admin:orders_order_refund", args=[order.pk])
    return refund_previewed_and_confirmed(client, url, data) if confirmed else client.post(url, data, follow=True)


def texts(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.fixture
def delivered(order_in):
    return order_in("delivered", items=TWO_LINES)


def test_refunding_one_line_of_two_with_restock(refunder_client, delivered, customer):
    keyboard = line_of(delivered, "prod-001")
    before = stock_of("prod-001")
    mail.outbox.clear()

    response = admin_refund(refunder_client, delivered, lines={keyboard: 2}, restock=True)

    assert texts(response) == [f"Refunded $299.98 on order {delivered.number} for 2 × Mechanical Keyboard, "
                               f"returned to stock (${delivered.total - Decimal('299.98')} left to refund)."]
    order = Order.objects.get(pk=delivered.pk)
    assert (order.state, order.refunded_amount) == ("delivered", Decimal("299.98"))
    assert stock_of("prod-001") == before + 2
    row = StockMovement.objects.filter(product__public_id="prod-001").latest("id")
    assert (row.delta, row.reason, row.order_ref, row.user.email) == (2, "restocked", order.pk, "refunds@example.com")
    assert list(RefundLine.objects.values_list("line__product_public_id", "quantity", "restocked")) == [
        ("prod-001", 2, True)]
    told = Notification.objects.get(order=order, event_type__startswith="order.partially_refunded")
    assert told.user == customer
    assert told.body == f"We refunded $299.98 for order {order.number}: 2 × Mechanical Keyboard."
    # The order page shows what was refunded of each line.
    page = refunder_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "2 × Mechanical Keyboard (back to stock)" in page
    # The customer's order page too.
    customer_page = _customer_page(order, customer)
    assert "2 refunded" in customer_page and "2 × Mechanical Keyboard" in customer_page


def _customer_page(order: Order, customer) -> str:
    from django.test import Client

    client = Client()
    client.force_login(customer)
    return client.get(reverse("orders:order_detail", args=[order.pk])).content.decode()


def test_a_second_partial_refund_is_told_too(refunder, delivered):
    mouse = line_of(delivered, "prod-002")
    for _ in range(2):
        refund_create(order=delivered, amount=None, reason="Broken", actor=refunder,
                      lines=[RefundLineRequest(mouse.pk, 1)])

    bodies = list(Notification.objects.filter(order=delivered, event_type__startswith="order.partially_refunded")
                  .values_list("body", flat=True))
    assert len(bodies) == 2
    assert all(f"for order {delivered.number}: 1 × Wireless Mouse." in body for body in bodies)


def test_without_restock_the_stock_stays(refunder_client, delivered):
    keyboard = line_of(delivered, "prod-001")
    before = stock_of("prod-001")

    admin_refund(refunder_client, delivered, lines={keyboard: 1})

    assert stock_of("prod-001") == before
    assert not StockMovement.objects.filter(reason="restocked").exists()
    assert Order.objects.get(pk=delivered.pk).refunded_amount == keyboard.unit_price


def test_the_amount_may_be_lowered_never_raised(refunder_client, delivered):
    keyboard = line_of(delivered, "prod-001")

    raised = admin_refund(refunder_client, delivered, lines={keyboard: 1}, amount="150.00")
    assert texts(raised) == ["No refund: The items chosen are worth $149.99; the refund can be that or less."]
    assert not Refund.objects.exists()

    lowered = admin_refund(refunder_client, delivered, lines={keyboard: 1}, amount="100.00")
    assert texts(lowered)[0].startswith("Refunded $100.00 on order")
    assert Refund.objects.get().amount == Decimal("100.00")


def test_more_units_than_are_left_are_refused_with_nothing_written(refunder, delivered):
    keyboard = line_of(delivered, "prod-001")
    refund_create(order=delivered, amount=None, reason="One broken", actor=refunder,
                  lines=[RefundLineRequest(keyboard.pk, 1)], restock=True)
    stock, rows, refunds = stock_of("prod-001"), StockMovement.objects.count(), Refund.objects.count()

    with pytest.raises(ValidationFailed) as refused:
        refund_create(order=delivered, amount=None, reason="Both", actor=refunder,
                      lines=[RefundLineRequest(keyboard.pk, 2)], restock=True)

    assert refused.value.message == (f"At most 1 of Mechanical Keyboard can be refunded on order {delivered.number} "
                                     "(2 bought, 1 refunded already).")
    assert (stock_of("prod-001"), StockMovement.objects.count(), Refund.objects.count()) == (stock, rows, refunds)
    assert Order.objects.get(pk=delivered.pk).refunded_amount == keyboard.unit_price


def test_lines_worth_more_than_is_left_to_refund_are_refused(refunder, delivered):
    refund_create(order=delivered, amount=delivered.total - Decimal("10.00"), reason="Goodwill", actor=refunder)
    keyboard = line_of(delivered, "prod-001")

    with pytest.raises(ValidationFailed) as refused:
        refund_create(order=delivered, amount=None, reason="Returned", actor=refunder,
                      lines=[RefundLineRequest(keyboard.pk, 1)], restock=True)

    assert refused.value.message == f"At most $10.00 can be refunded on order {delivered.number}."
    assert Refund.objects.count() == 1 and not RefundLine.objects.exists()
    assert not StockMovement.objects.filter(reason="restocked").exists()


def test_another_orders_line_is_refused(refunder, delivered, order_in):
    other = order_in("delivered", items={"prod-003": 1})

    with pytest.raises(ValidationFailed, match=f"Order {delivered.number} has no line"):
        refund_create(order=delivered, amount=None, reason="x", actor=refunder,
                      lines=[RefundLineRequest(line_of(other, "prod-003").pk, 1)])
    assert not Refund.objects.exists()


def test_refunding_every_line_refunds_the_order_and_releases_only_what_was_not_restocked(refunder, order_in):
    paid = order_in("paid", items=TWO_LINES)  # nothing shipped: the units are still reserved
    keyboard, mouse = line_of(paid, "prod-001"), line_of(paid, "prod-002")
    keyboards, mice = stock_of("prod-001"), stock_of("prod-002")

    refund_create(order=paid, amount=None, reason="Returned", actor=refunder,
                  lines=[RefundLineRequest(keyboard.pk, 2)], restock=True)
    refund_create(order=paid, amount=None, reason="Cancelled by phone", actor=refunder,
                  lines=[RefundLineRequest(mouse.pk, 3)])

    order = Order.objects.get(pk=paid.pk)
    assert (order.state, order.refunded_amount, order.stock_status) == ("refunded", order.total, "released")
    assert (stock_of("prod-001"), stock_of("prod-002")) == (keyboards + 2, mice + 3)  # each unit back once
    assert Notification.objects.filter(order=order, event_type="order.refunded").exists()


def test_the_api_refunds_lines_once_per_key(staff_api, delivered):
    keyboard = line_of(delivered, "prod-001")
    body = {"reason": "Returned", "lines": [{"lineId": keyboard.pk, "quantity": 1}], "restock": True}
    before = stock_of("prod-001")

    first = staff_api.post(f"/api/orders/{delivered.pk}/refund", body, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    again = staff_api.post(f"/api/orders/{delivered.pk}/refund", body, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    other = staff_api.post(f"/api/orders/{delivered.pk}/refund", {**body, "restock": False}, format="json",
                           HTTP_IDEMPOTENCY_KEY="r-1")

    assert (first.status_code, again.status_code, other.status_code) == (200, 200, 422)
    assert first.json()["refundedAmount"] == again.json()["refundedAmount"] == 149.99
    item = next(item for item in again.json()["items"] if item["productId"] == "prod-001")
    assert (item["lineId"], item["refundedQuantity"]) == (keyboard.pk, 1)
    assert again.json()["refunds"][0]["lines"] == [{"lineId": keyboard.pk, "productId": "prod-001", "quantity": 1,
                                                    "restocked": True}]
    assert stock_of("prod-001") == before + 1
    assert Refund.objects.count() == 1


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"reason": "x", "lines": [{"lineId": 1, "quantity": 0}]}, 400, "lines"),
    ({"reason": "x", "lines": []}, 400, "lines"),
    ({"reason": "x", "restock": True}, 400, "lines"),
    ({"reason": "x", "lines": [{"lineId": 1, "quantity": "٣"}]}, 400, "lines"),
    ({"reason": "x", "lines": [{"lineId": 10**23, "quantity": 1}]}, 400, "lines"),  # past the database's integers
])
def test_the_api_refuses_bad_lines_with_nothing_written(staff_api, delivered, body, status, field):
    response = staff_api.post(f"/api/orders/{delivered.pk}/refund", body, format="json")

    assert response.status_code == status, response.json()
    assert field in response.json()["fields"]
    assert not Refund.objects.exists()


def test_too_many_units_on_the_api_is_a_400(staff_api, delivered):
    keyboard = line_of(delivered, "prod-001")

    response = staff_api.post(f"/api/orders/{delivered.pk}/refund",
                              {"reason": "x", "lines": [{"lineId": keyboard.pk, "quantity": 3}]}, format="json")

    assert response.status_code == 400
    assert response.json()["fields"] == {"lines": {str(keyboard.pk): "At most 2."}}
    assert not Refund.objects.exists()


def test_line_refunds_need_the_refund_permission_everywhere(shop_staff, clerk_client, delivered):
    keyboard = line_of(delivered, "prod-001")
    stock = stock_of("prod-001")

    api = _jwt_client(shop_staff).post(f"/api/orders/{delivered.pk}/refund",
                                       {"reason": "x", "lines": [{"lineId": keyboard.pk, "quantity": 1}],
                                        "restock": True}, format="json")
    page = clerk_client.post(reverse("admin:orders_order_refund", args=[delivered.pk]),
                             {"reason": "x", "idempotency_key": "k", "amount": "149.99",
                              f"line_{keyboard.pk}": "1", "restock": "on"})
    form = clerk_client.get(reverse("admin:orders_order_change", args=[delivered.pk]))

    assert api.status_code == 403 and api.json()["code"] == "permission_denied"
    assert page.status_code == 403
    assert form.context["refund_form"] is None
    assert not Refund.objects.exists() and stock_of("prod-001") == stock


def test_the_admin_form_lists_each_line_with_what_is_left(refunder, refunder_client, delivered):
    keyboard, mouse = line_of(delivered, "prod-001"), line_of(delivered, "prod-002")
    refund_create(order=delivered, amount=None, reason="x", actor=refunder, lines=[RefundLineRequest(mouse.pk, 3)])

    response = refunder_client.get(reverse("admin:orders_order_change", args=[delivered.pk]))

    html = response.content.decode()
    assert f'name="line_{keyboard.pk}"' in html and 'max="2"' in html
    assert f'name="line_{mouse.pk}"' not in html  # every unit refunded already
    assert 'name="restock"' in html and 'name="csrfmiddlewaretoken"' in html
    assert OrderEvent.objects.filter(order=delivered, event_type="order.partially_refunded").count() == 1


def test_the_refund_form_says_the_customer_reads_the_reason(refunder, refunder_client, delivered, customer):
    page = refunder_client.get(reverse("admin:orders_order_change", args=[delivered.pk])).content.decode()
    refund_create(order=delivered, amount=Decimal("1.00"), reason="Scratched lid", actor=refunder)

    assert "The customer reads the reason on their order" in page
    customer_page = _web_client(customer).get(f"/orders/{delivered.pk}/").content.decode()
    assert "Scratched lid" in customer_page  # as the form said


def _web_client(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("amount", [None, "149.97"])  # left as the page proposed it, or the items' price
def test_two_tabs_refunding_the_same_units_refund_them_once(refunder_client, delivered, amount):
    """Both pages offered the 3 mice; by the second click they were refunded. The second form
    has no quantity field for them any more: it must not become a refund of an amount."""
    mouse = line_of(delivered, "prod-002")
    proposed = delivered.refundable_amount

    first = admin_refund(refunder_client, delivered, lines={mouse: 3}, proposed=proposed, amount=amount)
    second = admin_refund(refunder_client, delivered, lines={mouse: 3}, proposed=proposed, amount=amount)

    assert texts(first)[0].startswith("Refunded $149.97 on order")
    assert texts(second) == ["No refund: This page is out of date: units it offered were refunded meanwhile "
                             f"(line {mouse.pk}). Reload it and choose again."]
    assert Order.objects.get(pk=delivered.pk).refunded_amount == Decimal("149.97")
    assert Refund.objects.count() == 1


def test_a_line_of_another_order_is_refused_by_the_form(refunder_client, delivered, order_in):
    other = line_of(order_in("delivered", items={"prod-001": 1}), "prod-001")

    response = admin_refund(refunder_client, delivered, lines={other: 1})

    assert texts(response) == ["No refund: This page is out of date: units it offered were refunded meanwhile "
                               f"(line {other.pk}). Reload it and choose again."]
    assert not Refund.objects.exists()


def test_with_the_mail_server_down_a_partial_refund_stands_and_its_notice_goes_out_later(
        refunder_client, delivered, customer, settings, django_capture_on_commit_callbacks):
    settings.PIPELINE_TASKS_SYNC = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 1  # nothing listens
    mouse = line_of(delivered, "prod-002")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_refund(refunder_client, delivered, lines={mouse: 1}, restock=True)

    assert texts(response)[0].startswith(f"Refunded $49.99 on order {delivered.number}")
    assert Order.objects.get(pk=delivered.pk).refunded_amount == Decimal("49.99")
    page = refunder_client.get(reverse("admin:orders_order_change", args=[delivered.pk])).content.decode()
    assert "not sent yet (tried 1×" in page  # staff see the notice has not reached the customer's inbox

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox.clear()
    notifications_resend(now=timezone.now() + timedelta(minutes=2))
    sent = [m for m in mail.outbox if m.subject == f"Partial refund for order {delivered.number}"]
    assert len(sent) == 1 and sent[0].to == [customer.email]
    assert "1 × Wireless Mouse" in sent[0].body


def test_the_form_leads_to_a_confirmation_that_says_what_happens(refunder_client, delivered, customer):
    """One mouse of three, back to stock, the amount left as the page proposed (no script): the
    confirmation says the mouse's price, the unit and its stock, and the customer's notice."""
    mouse = line_of(delivered, "prod-002")
    mice = stock_of("prod-002")

    asked = admin_refund(refunder_client, delivered, lines={mouse: 1}, restock=True, reason="Arrived broken",
                         confirmed=False)

    assert asked.status_code == 200 and asked.redirect_chain == []
    page = asked.content.decode()
    assert asked.context["title"] == f"Refund $49.99 on order {delivered.number}?"
    assert "Nothing has been refunded yet" in page
    amount = asked.context["plan"]
    assert (amount.amount, amount.left, amount.full, amount.restock) == (
        Decimal("49.99"), delivered.total - Decimal("49.99"), False, True)
    assert re.search(r"<th scope=\"row\">Wireless Mouse</th>\s*<td>1</td>\s*<td>\$49.99</td>\s*"
                     r"<td>back to stock</td>", page)
    assert (f"Partial refund for order {delivered.number}</strong> — We refunded $49.99 for order "
            f"{delivered.number}: 1 × Wireless Mouse.") in unescape(page)
    assert "Arrived broken" in page
    assert 'value="Yes, refund $49.99"' in page
    assert not Refund.objects.exists() and stock_of("prod-002") == mice  # nothing moved yet

    confirm = hidden_fields(page)
    assert confirm["post"] == "yes"
    url = reverse("admin:orders_order_refund", args=[delivered.pk])
    done = refunder_client.post(url, confirm, follow=True)
    again = refunder_client.post(url, confirm, follow=True)  # a second click on the same page

    assert texts(done) == [f"Refunded $49.99 on order {delivered.number} for 1 × Wireless Mouse, returned to stock "
                           f"(${delivered.total - Decimal('49.99')} left to refund)."]
    assert texts(again) == ["This refund of $49.99 was already made; nothing was paid again."]
    assert list(Refund.objects.values_list("amount", "reason")) == [(Decimal("49.99"), "Arrived broken")]
    assert stock_of("prod-002") == mice + 1
    told = Notification.objects.get(order=delivered, event_type__startswith="order.partially_refunded")
    assert (told.user, told.title, told.body) == (
        customer, f"Partial refund for order {delivered.number}",
        f"We refunded $49.99 for order {delivered.number}: 1 × Wireless Mouse.")  # as the confirmation said


def test_a_full_refund_of_an_unshipped_order_is_confirmed_as_such(refunder_client, order_in):
    paid = order_in("paid", items=TWO_LINES)

    asked = admin_refund(refunder_client, paid, reason="Customer changed their mind", confirmed=False)

    page = unescape(asked.content.decode())
    assert f"everything left to refund on order {paid.number}, so the order becomes <strong>Refunded</strong>" in page
    assert "refund an amount only" in page
    assert "return to stock every unit of the order not returned yet: nothing shipped" in page
    assert f"Order {paid.number} refunded</strong> — We refunded ${paid.total} for order {paid.number}." in page
    assert Order.objects.get(pk=paid.pk).state == "paid"


def test_a_full_refunds_confirmation_quotes_the_next_step_the_customer_will_read(refunder_client, delivered,
                                                                                 customer):
    asked = admin_refund(refunder_client, delivered, reason="Damaged", confirmed=False)
    title, body = asked.context["notice"]
    assert Next.REFUNDED.advice in body and Next.DELIVERED.advice not in body  # after the refund, not before

    refunder_client.post(reverse("admin:orders_order_refund", args=[delivered.pk]),
                         hidden_fields(asked.content.decode()), follow=True)

    told = Notification.objects.get(order=delivered, event_type="order.refunded")
    assert (told.title, told.body) == (title, body)  # word for word


def test_a_refund_the_service_refuses_never_reaches_the_confirmation(refunder_client, delivered):
    keyboard = line_of(delivered, "prod-001")

    response = admin_refund(refunder_client, delivered, lines={keyboard: 1}, amount="150.00", confirmed=False)

    assert response.redirect_chain == [(reverse("admin:orders_order_change", args=[delivered.pk]), 302)]
    assert texts(response) == ["No refund: The items chosen are worth $149.99; the refund can be that or less."]
    assert not Refund.objects.exists()


def test_each_units_field_carries_its_unit_price_for_the_amount(refunder_client, delivered):
    mouse = line_of(delivered, "prod-002")

    page = refunder_client.get(reverse("admin:orders_order_change", args=[delivered.pk])).content.decode()

    assert re.search(rf'<input type="number" name="line_{mouse.pk}"[^>]*data-unit-price="49.99"', page)
    assert 'name="initial-amount" value="449.95"' in page  # what the amount goes back to with no units
    assert 'src="/static/js/admin_refund.js"' in page


def test_a_confirmation_made_stale_by_another_refund_refunds_nothing(refunder_client, delivered):
    """Tab A shows 3 mice leaving $299.98 (the order stays delivered); tab B refunds the 2
    keyboards; tab A's Yes would now refund everything left and end the order: refused."""
    mouse, keyboard = line_of(delivered, "prod-002"), line_of(delivered, "prod-001")
    url = reverse("admin:orders_order_refund", args=[delivered.pk])
    tab_a = admin_refund(refunder_client, delivered, lines={mouse: 3}, confirmed=False)
    tab_b = admin_refund(refunder_client, delivered, lines={keyboard: 2}, confirmed=False)
    assert "leaving $299.98 to refund" in unescape(tab_a.content.decode())

    assert texts(refunder_client.post(url, hidden_fields(tab_b.content.decode()), follow=True))[0].startswith(
        "Refunded $299.98")
    stale = refunder_client.post(url, hidden_fields(tab_a.content.decode()), follow=True)

    assert texts(stale) == [
        "No refund: this page is out of date: it showed a refund of $149.97, leaving $299.98 to refund (the order "
        "stays Delivered); it would now be a refund of $149.97, everything left to refund, so the order becomes "
        "Refunded. Nothing was refunded: review the refund again."]
    order = Order.objects.get(pk=delivered.pk)
    assert (order.state, order.refunded_amount, Refund.objects.count()) == ("delivered", Decimal("299.98"), 1)
    assert not Notification.objects.filter(order=order, event_type="order.refunded").exists()


def test_a_confirmation_without_what_it_showed_refunds_nothing(refunder_client, delivered):
    mouse = line_of(delivered, "prod-002")
    page = hidden_fields(admin_refund(refunder_client, delivered, lines={mouse: 1}, confirmed=False).content.decode())
    del page["shown_amount"]

    response = refunder_client.post(reverse("admin:orders_order_refund", args=[delivered.pk]), page, follow=True)

    assert texts(response)[0].startswith("No refund: this page is out of date: it would now be a refund of $49.99")
    assert not Refund.objects.exists()
