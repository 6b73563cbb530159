"""Storefront pages: the cart, checkout, and the customer's orders.

Views parse input, call a service or selector and render. Cart changes answer HTMX requests
with the changed fragment plus out-of-band updates of the header's cart badge and the toasts;
without JavaScript the same forms post normally and redirect.
"""
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseStopPolling

from accounts import services as account_services
from orders import selectors, services
from orders.forms import StaffDecisionForm
from orders.meaning import Option
from orders.models import Order, OrderState
from orders.services.reorder import (
    AlreadyRetried,
    LinkRefused,
    order_money_outcome,
    order_next_step_shown,
    order_retry_source,
)
from orders.shipping import ShippingChanged, ShippingUnavailable, quote_service
from orders.states import CANCELLABLE_STATES, TERMINAL_STATES, UNFULFILLED_ENDINGS, meaning, person_transitions
from orders.stock import InsufficientStock
from store import permissions
from store.errors import Conflict, NotFound, Unprocessable, ValidationFailed
from storefront.cart import Cart
from storefront.forms import CartLineForm, CheckoutForm
from storefront.selectors.cart import CartReview, cart_line, cart_review
from storefront.selectors.checkout import (
    CHECKOUT_PREFILL,
    SHIPPING_FIELDS,
    CheckoutShippingChoice,
    checkout_shipping,
    checkout_shipping_choice,
    shipping_quoted_for,
)
from storefront.services.cart import cart_add, cart_remove, cart_set_quantity, cart_settle
from storefront.services.reorder import (
    ADD,
    CART_CHOICES,
    CHECKOUT_RETRY_OF,
    REPLACE,
    Reorder,
    checkout_prefill_clear,
    order_reorder,
    order_reorder_buyable,
    order_reorder_check,
    payment_link_redeem,
)

ORDERS_PER_PAGE = 10
CART_REVIEW = "Your cart changed since you filled it. Please check it before checking out."
CART_CHANGED = "Your cart changed after this checkout page was opened. Please check your order and place it again."
CHOOSE_SHIPPING = "Choose a shipping option."
# The extra tag of the "order placed" message: the order page drops it once the order failed.
PLACED_TAG = "order-placed"


# --- helpers of this module -------------------------------------------------------------

def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return fallback


def _customer_order(request: HttpRequest, order_id: int) -> Order:
    try:
        return selectors.order_get(user=request.user, order_id=order_id)
    except NotFound as error:
        raise Http404(error.message) from None


def _cart_context(review: CartReview) -> dict:
    return {"lines": review.lines, "removed": review.removed, "total": review.total, "item_count": review.item_count}


def _cart_shown(request: HttpRequest) -> dict:
    """The cart page's context. Rendering it shows the customer what changed, so it is settled."""
    cart = Cart(request.session)
    review = cart_review(cart=cart)
    cart_settle(cart=cart, review=review)
    return _cart_context(review)


# --- cart -------------------------------------------------------------------------------

@require_GET
def cart_detail(request: HttpRequest) -> HttpResponse:
    return render(request, "storefront/cart.html", _cart_shown(request))


@require_GET
@never_cache
def cart_badge(request: HttpRequest) -> HttpResponse:
    """The header's cart badge, out of band: a page shown again by back/forward refreshes it."""
    return render(request, "storefront/partials/cart_badge_response.html")


@require_POST
def cart_add_view(request: HttpRequest) -> HttpResponse:
    """Add one (or ?quantity) of a product; HTMX gets the badge and a toast, out of band."""
    form = CartLineForm(request.POST)
    if not form.is_valid():
        return HttpResponse("Choose a product to add.", status=400)
    try:
        change = cart_add(
            cart=Cart(request.session),
            public_id=form.cleaned_data["product_id"],
            quantity=form.cleaned_data["quantity"] or 1,
        )
    except NotFound as error:
        raise Http404(error.message) from None
    if change.quantity == 0:
        messages.error(request, change.limit_message)
    elif change.limited:
        messages.warning(request, f"{change.limit_message}; your cart has {change.quantity}.")
    else:
        messages.success(request, f"{change.product.name} added to cart")
    if request.htmx:
        return render(request, "storefront/partials/cart_add_response.html")
    return redirect(_safe_next(request, reverse("orders:cart")))


@require_POST
def cart_update_view(request: HttpRequest) -> HttpResponse:
    """Set a line's quantity (the cart's − and + buttons); 0 removes the line."""
    form = CartLineForm(request.POST)
    if not form.is_valid() or form.cleaned_data["quantity"] is None:
        return HttpResponse("Choose a product and a quantity.", status=400)
    try:
        change = cart_set_quantity(
            cart=Cart(request.session),
            public_id=form.cleaned_data["product_id"],
            quantity=form.cleaned_data["quantity"],
        )
    except NotFound:
        cart_remove(cart=Cart(request.session), public_id=form.cleaned_data["product_id"])
        messages.warning(request, "That product is no longer sold and was removed from your cart.")
    else:
        if change.limited:
            messages.warning(request, change.limit_message)
    return _cart_changed(request)


@require_POST
def cart_remove_view(request: HttpRequest) -> HttpResponse:
    form = CartLineForm(request.POST)
    if not form.is_valid():
        return HttpResponse("Choose a product to remove.", status=400)
    cart = Cart(request.session)
    line = cart_line(cart_review(cart=cart), form.cleaned_data["product_id"])
    cart_remove(cart=cart, public_id=form.cleaned_data["product_id"])
    if line is not None:
        messages.info(request, f"{line.product.name} removed from your cart")
    return _cart_changed(request)


def _cart_changed(request: HttpRequest) -> HttpResponse:
    if request.htmx:
        return render(request, "storefront/partials/cart_update_response.html", _cart_shown(request))
    return redirect("orders:cart")


# --- checkout ---------------------------------------------------------------------------

@login_required
@require_http_methods(["GET", "POST"])
def checkout(request: HttpRequest) -> HttpResponse:
    """Shipping and payment for the cart; placing the order empties the cart.

    The form carries the cart's checkout key (Cart.checkout_key): one state of the cart
    places at most one order, however many of its checkout pages are submitted, and a page
    rendered before the cart changed places nothing but asks to review the order.

    The shipping address starts as storefront.selectors.checkout.checkout_shipping says (a saved
    address picked with ?address=, the session's CHECKOUT_PREFILL, the default address, the
    last order's); placing an order forgets CHECKOUT_PREFILL and, when asked, saves the
    address to the customer's address book.
    """
    cart = Cart(request.session)
    review = cart_review(cart=cart)
    if request.method == "GET" and review.changed:
        # The customer checks out what the cart page showed them: its changes are told there.
        messages.warning(request, CART_REVIEW)
        return redirect("orders:cart")
    shipping = checkout_shipping(user=request.user, prefill=request.session.get(CHECKOUT_PREFILL),
                                 address_id=request.GET.get("address"),
                                 retry_of=request.session.get(CHECKOUT_RETRY_OF))
    form = (CheckoutForm(request.POST) if request.method == "POST"
            else CheckoutForm(initial=_checkout_initial(cart, shipping.initial)))
    if request.method == "POST" and request.POST.get("idempotency_key", "") != cart.checkout_key():
        key = request.POST.get("idempotency_key", "")
        placed = selectors.order_by_idempotency_key(user=request.user, idempotency_key=key)
        if placed is not None and not review.lines:
            # The same page again after its order went through (the cart is already empty).
            return redirect("orders:order_detail", order_id=placed.pk)
        if review.changed:
            # Lines went or changed since: the cart page names each change, as for a new visit.
            messages.warning(request, CART_REVIEW)
            return redirect("orders:cart")
        if review.lines:
            messages.warning(request, CART_CHANGED)
            form = CheckoutForm(initial=_checkout_initial(cart, shipping.initial, posted=request.POST))
    context = _cart_context(review)
    # A page shown again says what became of the option it had chosen, unless the refusal said it.
    shipping_said = False
    if not context["lines"]:
        messages.info(request, "Your cart is empty. Add something before checking out.")
        return redirect("orders:cart")
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        address = {name: data[name] for name in SHIPPING_FIELDS}
        if not data["shipping_rate"] or data["shipping_for"] != shipping_quoted_for(address):
            # No option chosen yet, or chosen for another address (a page without JavaScript):
            # the page shows the options for this address, and the next submit places the order.
            choice = _shipping_choice(cart, address)
            form.add_error("shipping_rate", choice.problem or CHOOSE_SHIPPING)
            return _checkout_page(request, context, form, shipping, choice)
        try:
            result = services.order_place(
                user=request.user,
                # Every line of the cart, also one withdrawn meanwhile: the order is what the page showed or nothing.
                lines=[services.LineRequest(pid, quantity) for pid, quantity in cart.quantities().items()],
                shipping=services.ShippingAddress(**address),
                card_number=data["card_number"] or None,
                idempotency_key=data["idempotency_key"],
                expected_prices=data["seen_prices"],
                shipping_rate=data["shipping_rate"],
                retry_of=order_retry_source(user=request.user, order_id=request.session.get(CHECKOUT_RETRY_OF),
                                            product_ids=cart.quantities().keys()),
            )
        except AlreadyRetried as error:
            # Placed again from another window or device: this cart is no longer that order's retry.
            request.session.pop(CHECKOUT_RETRY_OF, None)
            messages.warning(request, f"{error.message} Nothing was charged here. To buy these items as well, check "
                                      "your cart and place the order again.")
            return redirect("orders:cart")
        except InsufficientStock as error:
            messages.error(request, f"{error.message} Please adjust your cart.")
            return redirect("orders:cart")
        except services.PriceChanged as error:
            messages.warning(request, f"{error.message} Nothing was charged: please check your order and place it "
                                      "again.")
            cart_settle(cart=cart, review=review)  # the message told the new prices
            form = CheckoutForm(initial=_checkout_initial(cart, shipping.initial, posted=request.POST))
        except (ShippingChanged, ShippingUnavailable) as error:
            shipping_said = True
            messages.warning(request, f"{error.message} Nothing was charged: please check the shipping options "
                                      "and place your order again.")
            form = CheckoutForm(initial=_checkout_initial(cart, shipping.initial, posted=request.POST))
        except ValidationFailed as error:
            withdrawn = [pid for pid in (error.fields or {}).get("items", {}) if pid in cart.quantities()]
            if withdrawn:
                for pid in withdrawn:
                    cart_remove(cart=cart, public_id=pid)
                messages.warning(request, f"{error.message} It was removed from your cart; nothing was charged: "
                                          "please check your order and place it again.")
                remaining = cart_review(cart=cart)
                if not remaining.lines or remaining.changed:
                    return redirect("orders:cart")
                context = _cart_context(remaining)
                form = CheckoutForm(initial=_checkout_initial(cart, shipping.initial, posted=request.POST))
            else:
                _form_errors_from(form, error)
        except Unprocessable:
            # Another page of this same cart placed its order first, with other details.
            cart.clear()
            checkout_prefill_clear(session=request.session)
            placed = selectors.order_by_idempotency_key(user=request.user, idempotency_key=data["idempotency_key"])
            messages.info(request, f"This cart was already ordered from another window: order {placed.number}.")
            return redirect("orders:order_detail", order_id=placed.pk)
        else:
            cart.clear()
            checkout_prefill_clear(session=request.session)
            order = result.order
            if result.created:
                messages.success(request, f"Thank you! Order {order.number} has been placed.", extra_tags=PLACED_TAG)
                if data["save_address"]:
                    _address_book_keep(request, data)
            else:
                messages.info(request, f"Order {order.number} was already placed.")
            return redirect("orders:order_detail", order_id=order.pk)
    return _checkout_page(request, context, form, shipping, compare=not shipping_said)


def _form_address(form: CheckoutForm) -> dict[str, str]:
    """The address a checkout form shows: what was posted, else what it starts with."""
    source = form.data if form.is_bound else form.initial
    return {name: str(source.get(name) or "") for name in SHIPPING_FIELDS}


def _shipping_choice(cart: Cart, address: dict[str, str], rate_id: str = "", *, service: str = "",
                     compare: bool = False) -> CheckoutShippingChoice:
    """The options for `address`, checking the service of `rate_id` (a posted option), else
    `service`; with `compare`, saying what became of `rate_id` (CheckoutShippingChoice.changed)."""
    return checkout_shipping_choice(shipping=address, quantities=cart.quantities(),
                                    chosen_service=quote_service(rate_id) if rate_id else service,
                                    chosen_rate=rate_id if compare else "")


def _shipping_context(subtotal: Decimal, choice: CheckoutShippingChoice) -> dict:
    """The options and the summary's money: `subtotal` (the items), the checked option's
    `shipping_cost` (None until there is one) and their sum, `total`."""
    shipping_cost = choice.selected.price if choice.selected is not None else None
    return {
        "shipping_choice": choice,
        "subtotal": subtotal,
        "shipping_cost": shipping_cost,
        "total": subtotal + (shipping_cost or 0),
    }


def _checkout_page(request: HttpRequest, context: dict, form: CheckoutForm, shipping,
                   choice: CheckoutShippingChoice | None = None, *, compare: bool = False) -> HttpResponse:
    if choice is None:
        # The service posted stays checked when the page comes back (a price change, say); a
        # first visit checks the service of the order it reopens, if any.
        choice = _shipping_choice(Cart(request.session), _form_address(form), request.POST.get("shipping_rate", ""),
                                  service=shipping.service, compare=compare)
    return render(request, "storefront/checkout.html", {
        **context, **_shipping_context(context["total"], choice),
        "form": form, "saved_addresses": shipping.addresses,
        "chosen_address": shipping.chosen if request.method == "GET" else None,
    })


@login_required
@require_POST
def checkout_shipping_options(request: HttpRequest) -> HttpResponse:
    """The checkout's shipping options for the address typed so far (posted `address`, `city`,
    `state`, `zip`, and the `shipping_rate` chosen before, kept when still offered), with the
    summary's money out of band: what the page asks for (HTMX) whenever the address or the
    choice changes. An empty cart sends the page to the cart page; so does a cart whose lines
    lost a line (a product no longer sold), as the checkout page does: the cart page tells it."""
    cart = Cart(request.session)
    review = cart_review(cart=cart)
    if not review.lines:
        messages.info(request, "Your cart is empty. Add something before checking out.")
        return _go(request, reverse("orders:cart"))
    if review.removed:
        messages.warning(request, CART_REVIEW)
        return _go(request, reverse("orders:cart"))
    address = {name: request.POST.get(name, "")[:200] for name in SHIPPING_FIELDS}
    choice = _shipping_choice(cart, address, request.POST.get("shipping_rate", "")[:4000], compare=True)
    return render(request, "storefront/partials/checkout_shipping_response.html",
                  {**_cart_context(review), **_shipping_context(review.total, choice)})


def _address_book_keep(request: HttpRequest, data: dict) -> None:
    """The placed order's address into the customer's book; a refusal (a full book) is told, the order stands."""
    try:
        saved = account_services.address_save_from_checkout(
            user=request.user, shipping={name: data[name] for name in SHIPPING_FIELDS})
    except ValidationFailed as error:
        messages.warning(request, f"The address was not saved to your address book: {error.message}")
    else:
        if saved is not None:
            messages.info(request, f"The address was saved to your address book as \u201c{saved.label}\u201d.")


def _checkout_initial(cart: Cart, shipping: dict[str, str], *, posted=None) -> dict:
    """The hidden parts of a checkout page (the cart's checkout key and the prices it shows), the
    address it starts with (`shipping`, from checkout_shipping) and, when the page is shown again
    after a post, the address the customer typed there (ahead of that; never the card number)."""
    return {
        **shipping,
        **({name: posted.get(name, "") for name in SHIPPING_FIELDS} if posted is not None else {}),
        "idempotency_key": cart.checkout_key(),
        "seen_prices": CheckoutForm.prices_of(cart_review(cart=cart).lines),
    }


def _form_errors_from(form: CheckoutForm, error: ValidationFailed) -> None:
    fields = error.fields or {}
    card_error = (fields.get("payment") or {}).get("card") if isinstance(fields.get("payment"), dict) else None
    if card_error:
        form.add_error("card_number", card_error)
    else:
        form.add_error(None, error.message)


# --- orders -----------------------------------------------------------------------------

@login_required
@require_GET
def order_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.order_summaries(user=request.user), ORDERS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "storefront/order_list.html", {"page": page, "orders": page.object_list})


# Seconds between the order page's polls: an order the pipeline moves changes within seconds;
# one that waits on a person (or a provider) backs off while nothing changes, and is back at the
# first step as soon as something does (static/js/store.js reads `data-poll-backoff`).
POLL_BACKOFF_WORKING = (1,)
POLL_BACKOFF_WAITING = (1, 2, 5, 15)


def _order_status_context(request: HttpRequest, order: Order) -> dict:
    timeline = selectors.order_timeline(order=order)
    delivered = next((stage for stage in timeline if stage.key == "delivered" and stage.status == "done"), None)
    backoff = POLL_BACKOFF_WAITING if selectors.order_waits(order=order) else POLL_BACKOFF_WORKING
    return {
        "order": order,
        "next_step": order_next_step_shown(order=order, user=request.user),
        "ended_for_owner": order.state in UNFULFILLED_ENDINGS and order.owner_id == request.user.pk,
        "timeline": timeline,
        "delivered_at": delivered.at if delivered else None,
        # Only while the parcel is on its way: not once it came back, nor for an order refunded meanwhile.
        "estimated_delivery": order.estimated_delivery if order.state == OrderState.SHIPPED else None,
        "is_terminal": order.state in TERMINAL_STATES,
        "version": selectors.order_version_of(order=order),
        "poll_every": backoff[0],
        "poll_backoff": " ".join(str(seconds) for seconds in backoff),
        "can_cancel": any(t.name == "cancel" for t in person_transitions(order, request.user)),
        # Staff cancelling a customer's order go through the page that asks for their note.
        "cancel_by_staff": order.owner_id != request.user.pk,
    }


@login_required
@require_GET
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _customer_order(request, order_id)
    # Ended unfulfilled already when its page is first shown: "Thank you! … placed" would be
    # stale (the toasts leave it out); the page's status says what happened.
    placed_is_stale = order.state in UNFULFILLED_ENDINGS
    return render(request, "storefront/order_detail.html",
                  {**_order_status_context(request, order), "placed_is_stale": placed_is_stale,
                   "retries": selectors.order_retries(order=order)})


@login_required
@require_GET
def order_status(request: HttpRequest, order_id: int) -> HttpResponse:
    """The order page's live part, polled while the order is not finished.

    ?since=<version> (as rendered in the poll's URL): 204, no body, when the order has not changed
    since, so HTMX swaps nothing (focus, scroll and the screen reader's place stay). Otherwise the
    fragment, with the new version in its poll URL; 286 once the order is terminal, which HTMX
    swaps in and then stops polling.
    """
    since = request.GET.get("since")
    if since:
        try:
            if selectors.order_version(user=request.user, order_id=order_id) == since:
                return HttpResponse(status=204)
        except NotFound as error:
            raise Http404(error.message) from None
    order = _customer_order(request, order_id)
    context = _order_status_context(request, order)
    response = render(request, "storefront/partials/order_status.html", context)
    if context["is_terminal"]:
        response.status_code = HttpResponseStopPolling.status_code  # 286: HTMX swaps this in and stops polling
    return response


@login_required
@require_http_methods(["GET", "POST"])
def order_cancel(request: HttpRequest, order_id: int) -> HttpResponse:
    """GET asks for confirmation (the no-JavaScript path); POST cancels.

    The owner cancels their own order; another customer's (visible to staff with
    orders.view_order) needs orders.change_order, as on the API and in the admin, and takes a
    staff note and an optional message to the customer (StaffDecisionForm).
    """
    order = _customer_order(request, order_id)
    if not permissions.can_as_owner(request.user, permissions.ORDER_CHANGE, owner_id=order.owner_id):
        raise PermissionDenied(permissions.ORDER_CHANGE.refusal_to("cancel other customers' orders"))
    by_staff = order.owner_id != request.user.pk
    form = StaffDecisionForm(request.POST if request.method == "POST" else None,
                             default_message=meaning("cancel").default_reason) if by_staff else None
    if request.method == "GET" or (form is not None and not form.is_valid()):
        if order.state not in CANCELLABLE_STATES:
            messages.error(request, f"Order {order.number} can no longer be cancelled.")
            return redirect("orders:order_detail", order_id=order.pk)
        return render(request, "storefront/order_cancel.html", {"order": order, "form": form},
                      status=400 if form is not None and form.is_bound else 200)
    try:
        if form is not None:
            services.order_cancel(order=order, actor=request.user, **form.cleaned_data)
        else:
            services.order_cancel(order=order, actor=request.user)
    except services.TransitionRefused as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Order {order.number} has been cancelled.")
    target = reverse("orders:order_detail", kwargs={"order_id": order.pk})
    if request.htmx:
        return HttpResponseClientRedirect(target)
    return redirect(target)


# --- trying a failed order again ------------------------------------------------------------

def _told_reorder(request: HttpRequest, outcome: Reorder) -> None:
    """Tell the customer what the cart holds now, by product name (what it held before, what went
    back in it and what did not), what happened to the money, and what the checkout is for."""
    order = outcome.order
    money = order_money_outcome(order) or "Nothing more will be charged for it."
    step = selectors.order_next_step(order=order)
    then = step.try_again.then if step is not None and step.try_again else Option.ANOTHER_CARD.then
    if outcome.replaced:
        messages.info(request, "Your cart was emptied first: " + ", ".join(outcome.replaced) + " left it.")
    if outcome.added:
        kept = f" beside {', '.join(outcome.kept)}, which stayed in it" if outcome.kept else ""
        messages.success(request, f"Order {order.number}: {money} Its items are back in your cart{kept}, and its "
                                  f"address is filled in below; {then}.")
    for sentence in outcome.merged:
        messages.info(request, f"{sentence}.")
    for sentence in outcome.lowered:
        messages.warning(request, f"{sentence}.")
    if outcome.repriced:
        messages.warning(request, "Prices changed since your order: " + "; ".join(outcome.repriced) + ".")
    if outcome.gone:
        messages.warning(request, "No longer available, not put back in your cart: " + ", ".join(outcome.gone) + ".")


def _after_reorder(request: HttpRequest, outcome: Reorder) -> HttpResponse:
    _told_reorder(request, outcome)
    if not outcome.added:
        messages.error(request, f"Nothing from order {outcome.order.number} can be bought now. "
                                f"{order_money_outcome(outcome.order)}")
        return _go(request, reverse("orders:order_detail", kwargs={"order_id": outcome.order.pk}))
    return _go(request, reverse("orders:checkout"))


def _owned_order(request: HttpRequest, order_id: int) -> Order:
    """The signed-in customer's own order; Http404 for anyone else's (staff see customers' orders,
    but only the owner buys again)."""
    try:
        order = selectors.order_get(user=request.user, order_id=order_id)
    except NotFound as error:
        raise Http404(error.message) from None
    if order.owner_id != request.user.pk:
        raise Http404("No such order.")
    return order


def _go(request: HttpRequest, target: str) -> HttpResponse:
    """Redirect to `target`; an HTMX request is told to load it whole (HX-Redirect)."""
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


@login_required
@require_POST
def order_try_again(request: HttpRequest, order_id: int) -> HttpResponse:
    """The owner's "Try again" on an order whose ending offers it: its items back in the cart, its
    address in the checkout (storefront.services.reorder), then the checkout.

    Into a cart that already holds something it first redirects to a page that asks
    (`order_try_again_cart`, two buttons posting `cart` = "replace" or "add" back here), then
    does what was chosen and says so; when nothing of the order can be bought it does not ask,
    says so and leaves the cart alone. Any other `cart` value is a 400."""
    order = _owned_order(request, order_id)
    choice = request.POST.get("cart", "")
    if choice and choice not in CART_CHOICES:
        return HttpResponse("Choose whether to replace your cart or add to it.", status=400)
    try:
        if not choice:
            order_reorder_check(order)
            if cart_review(cart=Cart(request.session)).lines and order_reorder_buyable(order):
                return _go(request, reverse("orders:order_try_again_cart", kwargs={"order_id": order.pk}))
        outcome = order_reorder(order=order, session=request.session, cart_choice=choice or REPLACE)
    except Conflict as error:
        messages.error(request, error.message)
        return _go(request, reverse("orders:order_detail", kwargs={"order_id": order.pk}))
    return _after_reorder(request, outcome)


@login_required
@require_GET
def order_try_again_cart(request: HttpRequest, order_id: int) -> HttpResponse:
    """The question Try again asks when the cart already holds something: replace it or add to
    it (a form posting to `order_try_again`). A GET, so reloading it asks again and does nothing;
    for an order that may not be tried again, or an empty cart, the order page instead."""
    order = _owned_order(request, order_id)
    try:
        order_reorder_check(order)
    except Conflict as error:
        messages.error(request, error.message)
        return redirect("orders:order_detail", order_id=order.pk)
    held = cart_review(cart=Cart(request.session))
    if not held.lines:
        return redirect("orders:order_detail", order_id=order.pk)
    return render(request, "storefront/try_again_cart.html",
                  {"order": order, "held": held, "replace": REPLACE, "add": ADD})


@login_required
@require_GET
def payment_link(request: HttpRequest, token: str) -> HttpResponse:
    """The payment link staff e-mailed: the owner signed in gets the order's checkout, once."""
    try:
        outcome = payment_link_redeem(token=token, user=request.user, session=request.session)
    except NotFound as error:
        raise Http404(error.message) from None
    except LinkRefused as error:
        return render(request, "storefront/payment_link_refused.html",
                      {"message": error.message, "order_id": (error.fields or {}).get("order_id")}, status=410)
    except Conflict as error:
        return render(request, "storefront/payment_link_refused.html",
                      {"message": error.message, "order_id": (error.fields or {}).get("order_id")}, status=409)
    return _after_reorder(request, outcome)
