"""A failed or cancelled order's "Try again": its items back in the cart at today's prices, its
address in the checkout, only for its owner, with a CSRF token; and the order page tells what
happened to the money instead of a stale "Thank you! … placed"."""
from decimal import Decimal
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse

from catalog.models import Product
from notifications.models import Notification
from orders.models import Next, Order
from orders.services import order_transition
from store.links import public_url
from storefront.selectors.checkout import CHECKOUT_PREFILL
from tests.conftest import CARD_APPROVE, CARD_DECLINE, SHIPPING
from tests.order_states import order_move
from tests.storefront.checkout_forms import checkout_fields, checkout_form


def payment_failed_order(place_order, user, items=None):
    """An order whose card was declined and whose retries ran out (`failed`, nothing charged)."""
    order = order_move(place_order(user, items or {"prod-001": 2, "prod-003": 1}), "payment_failed")
    return order_transition(order_id=order.pk, name="abandon_payment")


def web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def try_again(client: Client, order: Order, **kwargs):
    return client.post(reverse("orders:order_try_again", args=[order.pk]), **kwargs)


def cart_of(client: Client) -> dict[str, int]:
    return {pid: item["quantity"] for pid, item in client.session.get("cart", {}).items()}


def texts(response) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


def test_the_failed_order_page_says_no_charge_was_made_and_offers_try_again(customer, place_order):
    order = payment_failed_order(place_order, customer)

    html = web(customer).get(reverse("orders:order_detail", args=[order.pk])).content.decode()

    assert "No charge was made." in html
    assert "gave up after" not in html
    assert f'action="{reverse("orders:order_try_again", args=[order.pk])}"' in html
    assert ">Try again</button>" in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_try_again_refills_the_cart_and_prefills_the_address(customer, place_order):
    order = payment_failed_order(place_order, customer)
    client = web(customer)

    response = try_again(client, order, follow=True)

    assert response.redirect_chain[-1][0] == reverse("orders:checkout")
    assert cart_of(client) == {"prod-001": 2, "prod-003": 1}
    assert client.session[CHECKOUT_PREFILL] == {"address": SHIPPING["address"], "city": SHIPPING["city"],
                                                "state": SHIPPING["state"], "zip": SHIPPING["zip"]}
    html = response.content.decode()
    assert 'value="1 Market Street"' in html and 'value="Springfield"' in html and 'value="62701"' in html
    assert any(f"Order {order.number}: No charge was made." in text for text in texts(response))


def test_placing_the_prefilled_checkout_links_the_orders_and_clears_the_prefill(customer, place_order,
                                                                                 django_capture_on_commit_callbacks):
    failed = payment_failed_order(place_order, customer)
    client = web(customer)
    page = try_again(client, failed, follow=True)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("orders:checkout"), {**checkout_form(page.content.decode())[0],
                                                            "card_number": CARD_APPROVE})

    new = Order.objects.exclude(pk=failed.pk).get()
    assert response["Location"] == reverse("orders:order_detail", args=[new.pk])
    assert new.retry_of == failed and new.total == failed.total
    assert CHECKOUT_PREFILL not in client.session
    assert cart_of(client) == {}
    new_page = client.get(reverse("orders:order_detail", args=[new.pk])).content.decode()
    old_page = client.get(reverse("orders:order_detail", args=[failed.pk])).content.decode()
    assert f"Tries again order <a href=\"{reverse('orders:order_detail', args=[failed.pk])}\">{failed.number}</a>" \
        in new_page
    assert f"Tried again as order <a href=\"{reverse('orders:order_detail', args=[new.pk])}\">{new.number}</a>" \
        in old_page


def test_another_customers_order_cannot_be_tried_again(customer, other_customer, place_order):
    order = payment_failed_order(place_order, customer)
    stranger = web(other_customer)

    response = try_again(stranger, order)

    assert response.status_code == 404
    assert cart_of(stranger) == {} and CHECKOUT_PREFILL not in stranger.session
    assert Order.objects.count() == 1


def test_staff_who_see_the_order_cannot_buy_it_again_for_themselves(customer, place_order, staff_user):
    order = payment_failed_order(place_order, customer)
    staff = web(staff_user)

    page = staff.get(reverse("orders:order_detail", args=[order.pk])).content.decode()
    response = try_again(staff, order)

    assert ">Try again</button>" not in page
    assert response.status_code == 404
    assert cart_of(staff) == {}


def test_try_again_needs_the_csrf_token(customer, place_order):
    order = payment_failed_order(place_order, customer)
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer)

    response = try_again(client, order)

    assert response.status_code == 403
    assert cart_of(client) == {} and CHECKOUT_PREFILL not in client.session


def test_try_again_is_post_only(customer, place_order):
    order = payment_failed_order(place_order, customer)
    client = web(customer)

    assert client.get(reverse("orders:order_try_again", args=[order.pk])).status_code == 405
    assert cart_of(client) == {}


def test_withdrawn_and_sold_out_products_are_left_out_and_named(customer, place_order):
    order = payment_failed_order(place_order, customer, {"prod-001": 1, "prod-003": 1, "prod-005": 1})
    Product.objects.filter(public_id="prod-003").update(is_active=False)
    Product.objects.filter(public_id="prod-005").update(stock=0)
    gone = list(Product.objects.filter(public_id__in=["prod-003", "prod-005"]).values_list("name", flat=True))
    client = web(customer)

    response = try_again(client, order, follow=True)

    assert cart_of(client) == {"prod-001": 1}
    said = " ".join(texts(response))
    assert "No longer available, not put back in your cart:" in said
    for name in gone:
        assert name in said
    assert "prod-0" not in said


def test_nothing_left_to_buy_stays_on_the_order_page(customer, place_order):
    order = payment_failed_order(place_order, customer, {"prod-004": 1})
    Product.objects.filter(public_id="prod-004").update(is_active=False)
    client = web(customer)

    response = try_again(client, order, follow=True)

    assert response.redirect_chain[-1][0] == reverse("orders:order_detail", args=[order.pk])
    assert f"Nothing from order {order.number} can be bought now. No charge was made." in texts(response)
    assert cart_of(client) == {}


def test_a_changed_price_is_told(customer, place_order):
    order = payment_failed_order(place_order, customer, {"prod-002": 1})
    product = Product.objects.get(public_id="prod-002")
    was = product.price
    Product.objects.filter(pk=product.pk).update(price=Decimal("12.34"))
    client = web(customer)

    response = try_again(client, order, follow=True)

    assert f"Prices changed since your order: {product.name} now costs $12.34 (was ${was:,.2f})." in texts(response)
    assert client.session["cart"]["prod-002"]["price"] == "12.34"
    assert "$12.34" in response.content.decode()  # the checkout's summary is at today's price


def test_an_order_the_customer_cancelled_offers_shop_again_not_try_again(customer, place_order):
    order = place_order(customer, {"prod-006": 1})
    client = web(customer)
    client.post(reverse("orders:order_cancel", args=[order.pk]))

    page = client.get(reverse("orders:order_detail", args=[order.pk])).content.decode()
    response = try_again(client, order, follow=True)

    assert "Shop again" in page and ">Try again</button>" not in page
    assert any("there is nothing to try again" in text for text in texts(response))
    assert cart_of(client) == {}


@pytest.mark.parametrize("state", ["paid", "delivered", "new"])
def test_an_order_that_did_not_fail_has_nothing_to_try_again(state, customer, order_in_state):
    order = order_in_state(state)
    client = web(customer)

    page = client.get(reverse("orders:order_detail", args=[order.pk])).content.decode()
    response = try_again(client, order, follow=True)

    assert ">Try again</button>" not in page
    assert response.redirect_chain[-1][0] == reverse("orders:order_detail", args=[order.pk])
    assert any("there is nothing to try again" in text for text in texts(response))
    assert cart_of(client) == {}


def test_a_declined_order_never_shows_thank_you_placed(sync_pipeline, customer, catalog):
    """The pipeline ran before the order page was shown: the page tells the failure, not "placed"."""
    client = web(customer)
    client.post(reverse("orders:cart_add"), {"product_id": "prod-002", "quantity": 1})

    response = client.post(reverse("orders:checkout"), checkout_fields(client, SHIPPING, card_number=CARD_DECLINE),
                           follow=True)

    order = Order.objects.get()
    assert order.state == "failed"
    html = response.content.decode()
    assert "Thank you!" not in html
    assert "No charge was made." in html
    assert ">Try again</button>" in html
    told = Notification.objects.get(order=order, event_type="order.failed").body
    page = public_url(reverse("orders:order_detail", args=[order.pk]))
    assert told == (f"We could not complete order {order.number}: Your bank declined the payment. Try another card "
                    f"or contact your bank. No charge was made. {Next.ANOTHER_CARD.advice} Try again: {page}.")


def test_an_order_that_fails_while_its_page_is_open_removes_the_placed_toast(customer, place_order):
    order = payment_failed_order(place_order, customer)

    polled = web(customer).get(reverse("orders:order_status", args=[order.pk]), headers={"HX-Request": "true"})

    assert polled.status_code == 286
    assert '<div id="toast-order-placed" hx-swap-oob="delete"></div>' in polled.content.decode()


def test_an_out_of_stock_answer_names_the_product(sync_pipeline, settings, customer, place_order):
    settings.SIMULATOR = {**settings.SIMULATOR, "INVENTORY_AVAILABLE_RATE": 0.0}
    order = place_order(customer, {"prod-002": 1})
    order = Order.objects.get(pk=order.pk)
    name = Product.objects.get(public_id="prod-002").name

    html = web(customer).get(reverse("orders:order_detail", args=[order.pk])).content.decode()

    assert order.state == "failed"
    assert order.failure_reason == f"Out of stock: {name}"
    assert f"Out of stock: {name}" in html and "prod-002" not in html
    assert "No charge was made." in html


def test_trying_again_twice_does_not_double_the_cart(customer, place_order):
    order = payment_failed_order(place_order, customer)
    client = web(customer)

    try_again(client, order)
    try_again(client, order)

    assert cart_of(client) == {"prod-001": 2, "prod-003": 1}


def place_checkout(client: Client, page, card: str = CARD_APPROVE):
    """Submit a checkout page (`page`: its response) as the customer saw it."""
    return client.post(reverse("orders:checkout"), {**checkout_form(page.content.decode())[0], "card_number": card})


def test_an_order_placed_again_cannot_be_tried_again_from_a_stale_page(customer, place_order):
    failed = payment_failed_order(place_order, customer)
    client = web(customer)
    place_checkout(client, try_again(client, failed, follow=True))
    again = Order.objects.get(retry_of=failed)

    response = try_again(client, failed, follow=True)  # the old page, still open in another tab

    assert response.redirect_chain[-1][0] == reverse("orders:order_detail", args=[failed.pk])
    assert f"Order {failed.number} was already placed again as order {again.number}." in texts(response)
    assert ">Try again</button>" not in response.content.decode()
    assert cart_of(client) == {} and CHECKOUT_PREFILL not in client.session
    assert Order.objects.count() == 2


def test_two_windows_trying_the_same_order_again_place_it_once(customer, place_order):
    failed = payment_failed_order(place_order, customer)
    laptop, phone = web(customer), web(customer)
    laptop_page = try_again(laptop, failed, follow=True)
    phone_page = try_again(phone, failed, follow=True)
    place_checkout(laptop, laptop_page)
    again = Order.objects.get(retry_of=failed)

    response = place_checkout(phone, phone_page)

    assert response["Location"] == reverse("orders:cart")
    assert Order.objects.count() == 2
    told = texts(phone.get(reverse("orders:cart")))
    assert any(f"already placed again as order {again.number}. Nothing was charged here." in text for text in told)
    # Placed once more on purpose from the cart it kept: a new order of its own, not a second retry.
    deliberate = place_checkout(phone, phone.get(reverse("orders:checkout")))
    assert deliberate.status_code == 302 and Order.objects.count() == 3
    assert Order.objects.filter(retry_of=failed).count() == 1


def test_an_order_whose_retry_failed_too_can_be_tried_again(customer, place_order):
    failed = payment_failed_order(place_order, customer)
    client = web(customer)
    place_checkout(client, try_again(client, failed, follow=True))
    again = Order.objects.get(retry_of=failed)
    order_transition(order_id=again.pk, name="cancel")

    response = try_again(client, failed, follow=True)

    assert response.redirect_chain[-1][0] == reverse("orders:checkout")
    assert cart_of(client) == {"prod-001": 2, "prod-003": 1}


def test_an_order_placed_again_by_the_retry_of_its_failed_retry_cannot_be_tried_again(customer, place_order):
    failed = payment_failed_order(place_order, customer)
    client = web(customer)
    place_checkout(client, try_again(client, failed, follow=True))
    second = Order.objects.get(retry_of=failed)
    order_move(second, "payment_failed")
    order_transition(order_id=second.pk, name="abandon_payment")
    place_checkout(client, try_again(client, second, follow=True))
    third = Order.objects.get(retry_of=second)

    response = try_again(client, failed, follow=True)  # the first order's page, open since

    assert f"Order {failed.number} was already placed again as order {third.number}." in texts(response)
    assert cart_of(client) == {} and Order.objects.count() == 3


def test_a_cart_that_no_longer_holds_the_order_is_not_its_retry(customer, place_order):
    failed = payment_failed_order(place_order, customer, {"prod-001": 1})
    client = web(customer)
    try_again(client, failed)
    client.post(reverse("orders:cart_remove"), {"product_id": "prod-001"})
    client.post(reverse("orders:cart_add"), {"product_id": "prod-002"})

    place_checkout(client, client.get(reverse("orders:checkout")))

    other = Order.objects.exclude(pk=failed.pk).get()
    assert other.retry_of is None
    assert ">Try again</button>" in client.get(reverse("orders:order_detail", args=[failed.pk])).content.decode()


# --- into a cart that already holds something ------------------------------------------------------------------

def cart_holding_something(customer, place_order):
    """A failed order of 2 × prod-001 + 1 × prod-003, and a cart that holds 1 × prod-002 (not in it)."""
    order = payment_failed_order(place_order, customer)
    client = web(customer)
    client.post(reverse("orders:cart_add"), {"product_id": "prod-002", "quantity": 1})
    return order, client


def test_try_again_into_a_cart_that_holds_something_asks_first(customer, place_order):
    order, client = cart_holding_something(customer, place_order)
    held = Product.objects.get(public_id="prod-002").name

    response = try_again(client, order)

    assert response.status_code == 302  # Post/Redirect/Get: reloading the question posts nothing
    assert response["Location"] == reverse("orders:order_try_again_cart", args=[order.pk])
    response = client.get(response["Location"])
    assert response.status_code == 200
    html = response.content.decode()
    assert "Your cart already holds something" in html and f"1 × {held}" in html
    assert 'name="cart" value="replace"' in html and 'name="cart" value="add"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert cart_of(client) == {"prod-002": 1} and CHECKOUT_PREFILL not in client.session  # nothing done yet


def checkout_total(response) -> Decimal:
    return response.context["total"]


def test_replacing_the_cart_leaves_only_the_order_and_says_so(customer, place_order):
    order, client = cart_holding_something(customer, place_order)
    held = Product.objects.get(public_id="prod-002").name

    response = try_again(client, order, data={"cart": "replace"}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("orders:checkout")
    assert cart_of(client) == {"prod-001": 2, "prod-003": 1}
    assert checkout_total(response) == order.total
    said = texts(response)
    assert f"Your cart was emptied first: {held} left it." in said
    assert any(text.startswith(f"Order {order.number}: No charge was made. Its items are back in your cart, and")
               for text in said)


def test_adding_to_the_cart_keeps_what_it_held_and_says_so(customer, place_order):
    order, client = cart_holding_something(customer, place_order)
    held = Product.objects.get(public_id="prod-002")

    response = try_again(client, order, data={"cart": "add"}, follow=True)

    assert cart_of(client) == {"prod-001": 2, "prod-003": 1, "prod-002": 1}
    assert checkout_total(response) == order.total + held.price
    assert any(f"Its items are back in your cart beside {held.name}, which stayed in it" in text
               for text in texts(response))


def test_an_unknown_cart_choice_is_refused_and_changes_nothing(customer, place_order):
    order, client = cart_holding_something(customer, place_order)

    response = try_again(client, order, data={"cart": "merge"})

    assert response.status_code == 400
    assert "replace your cart or add to it" in response.content.decode()
    assert cart_of(client) == {"prod-002": 1}


def test_an_order_that_cannot_be_tried_again_is_refused_before_asking(customer, place_order):
    order = place_order(customer)
    client = web(customer)
    client.post(reverse("orders:cart_add"), {"product_id": "prod-002", "quantity": 1})

    response = try_again(client, order, follow=True)

    assert any("there is nothing to try again" in text for text in texts(response))
    assert "Your cart already holds something" not in response.content.decode()


def test_an_htmx_try_again_into_a_cart_that_holds_something_loads_the_question_whole(customer, place_order):
    order, client = cart_holding_something(customer, place_order)

    response = try_again(client, order, HTTP_HX_REQUEST="true")

    assert response["HX-Redirect"] == reverse("orders:order_try_again_cart", args=[order.pk])
    assert cart_of(client) == {"prod-002": 1}


def test_the_question_page_of_an_empty_cart_or_an_order_not_to_try_again_is_the_order_page(customer, place_order):
    order = payment_failed_order(place_order, customer)
    client = web(customer)

    response = client.get(reverse("orders:order_try_again_cart", args=[order.pk]))

    assert response.status_code == 302 and response["Location"] == reverse("orders:order_detail", args=[order.pk])


@pytest.mark.parametrize("choice", ["", "replace", "add"])
def test_when_nothing_of_the_order_can_be_bought_the_cart_is_left_alone(choice, customer, place_order):
    order, client = cart_holding_something(customer, place_order)
    Product.objects.filter(public_id__in=["prod-001", "prod-003"]).update(is_active=False)

    response = try_again(client, order, data={"cart": choice} if choice else {}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("orders:order_detail", args=[order.pk])
    assert cart_of(client) == {"prod-002": 1}
    assert CHECKOUT_PREFILL not in client.session
    said = texts(response)
    assert any(text.startswith(f"Nothing from order {order.number} can be bought now.") for text in said)
    assert not any("emptied" in text for text in said)


def test_adding_an_item_the_cart_holds_adds_the_quantities_and_says_so(customer, place_order):
    order = payment_failed_order(place_order, customer, {"prod-001": 2})
    client = web(customer)
    client.post(reverse("orders:cart_add"), {"product_id": "prod-001", "quantity": 5})
    name = Product.objects.get(public_id="prod-001").name

    response = try_again(client, order, data={"cart": "add"}, follow=True)

    assert cart_of(client) == {"prod-001": 7}
    assert f"{name}: 7 in your cart (5 already there + 2)." in texts(response)


def test_adding_past_the_stock_is_capped_and_says_so(customer, place_order):
    order = payment_failed_order(place_order, customer, {"prod-001": 3})
    client = web(customer)
    client.post(reverse("orders:cart_add"), {"product_id": "prod-001", "quantity": 5})
    Product.objects.filter(public_id="prod-001").update(stock=6)
    name = Product.objects.get(public_id="prod-001").name

    response = try_again(client, order, data={"cart": "add"}, follow=True)

    assert cart_of(client) == {"prod-001": 6}
    assert f"{name}: 6 in your cart (5 already there + 3 would be 8; Only 6 {name} in stock)." in texts(response)


def test_the_question_says_adding_adds_the_quantities(customer, place_order):
    order, client = cart_holding_something(customer, place_order)

    html = client.get(reverse("orders:order_try_again_cart", args=[order.pk])).content.decode()

    assert "adds the order's quantity to an item it already holds" in " ".join(unescape(html).split())


def test_an_out_of_stock_order_says_how_it_ended_and_what_to_do_instead(sync_pipeline, settings, customer,
                                                                        place_order):
    settings.SIMULATOR = {**settings.SIMULATOR, "INVENTORY_AVAILABLE_RATE": 0.0}
    order = place_order(customer, {"prod-002": 1})
    name = Product.objects.get(public_id="prod-002").name

    response = try_again(web(customer), order, follow=True)

    assert (f"Order {order.number} ended (Out of stock: {name}); there is nothing to try again: shop again instead."
            in texts(response))


def test_try_again_checks_the_shipping_service_the_failed_order_had(customer, place_order):
    order = payment_failed_order(place_order, customer, {"prod-005": 1})
    Order.objects.filter(pk=order.pk).update(shipping_service="express")
    client = web(customer)

    html = try_again(client, order, follow=True).content.decode()

    fields, rates = checkout_form(html)
    assert fields["shipping_rate"] == rates["express"]


def test_try_again_of_a_standard_order_checks_standard(customer, place_order):
    order = payment_failed_order(place_order, customer, {"prod-005": 1})

    html = try_again(web(customer), order, follow=True).content.decode()

    fields, rates = checkout_form(html)
    assert fields["shipping_rate"] == rates["standard"]
