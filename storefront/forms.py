"""Forms of the storefront: cart changes and checkout."""
import json
from decimal import Decimal

from django import forms
from django.utils.html import format_html, format_html_join

from catalog.models import Product
from orders.validators import normalize_card_number, validate_card_number, validate_zip_code
from store.numbers import AsciiIntegerFormField
from storefront.selectors.checkout import state_normalized

_PRICE = Product._meta.get_field("price")
PRICE_LIMIT = Decimal(10) ** (_PRICE.max_digits - _PRICE.decimal_places)  # more than a price column holds

TEST_CARDS = (
    ("4242 4242 4242 4242", "approved"),
    ("4000 0000 0000 0002", "declined"),
    ("4000 0000 0000 0119", "times out once, then approved"),
)


class CartLineForm(forms.Form):
    """A product and a quantity, posted by the Add to Cart and the cart's +/−/remove buttons."""

    product_id = forms.CharField(max_length=32)
    quantity = AsciiIntegerFormField(min_value=0, max_value=10_000, required=False)


class CheckoutForm(forms.Form):
    """Shipping address, an optional card, and the key that makes a resubmission harmless."""

    address = forms.CharField(
        label="Street address", max_length=200, widget=forms.TextInput(attrs={"autocomplete": "street-address"})
    )
    city = forms.CharField(
        label="City", max_length=100, widget=forms.TextInput(attrs={"autocomplete": "address-level2"})
    )
    state = forms.CharField(
        label="State", max_length=100, widget=forms.TextInput(attrs={"autocomplete": "address-level1"})
    )
    zip = forms.CharField(
        label="ZIP code",
        max_length=10,
        validators=[validate_zip_code],
        widget=forms.TextInput(attrs={"autocomplete": "postal-code", "inputmode": "numeric"}),
    )
    save_address = forms.BooleanField(label="Save this address to my address book", required=False)
    card_number = forms.CharField(
        label="Card number",
        required=False,
        max_length=30,
        validators=[validate_card_number],
        help_text=format_html(
            "Optional; this shop's payments are simulated. Test cards:<ul>{}</ul>"
            "Any other card (or none) is approved or declined at random. "
            "The carrier refuses ZIP code <code>00000</code> before any charge; to <code>00500</code> the label "
            "fails and the payment is refunded; to <code>00404</code> the "
            "carrier cannot find the address, and to <code>00303</code> it returns the parcel (refunded).",
            format_html_join("", "<li><code>{}</code> {}</li>", TEST_CARDS),
        ),
        widget=forms.TextInput(attrs={"autocomplete": "cc-number", "inputmode": "numeric"}),
    )
    # The shipping option chosen (an orders.shipping.ShippingOption id, a signed quote; radios of
    # storefront/partials/checkout_shipping.html) and the address its options were quoted for
    # (storefront.selectors.checkout.shipping_quoted_for): a page whose address changed since
    # shows the options again.
    shipping_rate = forms.CharField(label="Shipping", max_length=4000, required=False)
    shipping_for = forms.CharField(max_length=1000, required=False, widget=forms.HiddenInput)
    # The cart's checkout key (Cart.checkout_key): pages of one cart state place one order.
    idempotency_key = forms.CharField(max_length=128, widget=forms.HiddenInput)
    # The unit prices the page showed, {product id: price} as JSON: the order is placed at
    # those prices or not at all.
    seen_prices = forms.CharField(max_length=5000, required=False, widget=forms.HiddenInput)

    @staticmethod
    def prices_of(lines) -> str:
        return json.dumps({line.product.public_id: str(line.product.price) for line in lines}, sort_keys=True)

    def clean_seen_prices(self) -> dict[str, Decimal] | None:
        """The prices the page showed, {product id: unit price}; None from a form without them
        (then only the cart's checkout key guards what is placed)."""
        if not self.cleaned_data["seen_prices"]:
            return None
        try:
            seen = json.loads(self.cleaned_data["seen_prices"])
            prices = {str(pid): Decimal(str(price)) for pid, price in seen.items()}
            if not all(price.is_finite() and 0 <= price < PRICE_LIMIT for price in prices.values()):
                raise ValueError("not a price")  # NaN, infinities, absurd numbers: a tampered page
            return prices
        except (ValueError, TypeError, AttributeError, ArithmeticError):
            raise forms.ValidationError("This checkout page is out of date; please review your order.") from None

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def clean_state(self) -> str:
        """The state as typed, trimmed; a two-letter code upper-cased ("ny" → "NY"), as the rate
        card's zone lookup reads it. A full name stays as typed."""
        return state_normalized(self.cleaned_data["state"])

    def clean_card_number(self) -> str:
        return normalize_card_number(self.cleaned_data.get("card_number", ""))
