"""What a customer's browser sends from the checkout page: its fields as the page shows them."""
import re
from html.parser import HTMLParser

from django.urls import reverse

ADDRESS = {"address": "1 Market Street", "city": "Springfield", "state": "IL", "zip": "62701"}


class _CheckoutForm(HTMLParser):
    """The inputs of the page's checkout form (the one posting to /checkout/): text and hidden
    inputs with their values, the checked radio; and every shipping radio, {service: value}."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.fields: dict[str, str] = {}
        self.rates: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and attrs.get("method") == "post" and attrs.get("action") == reverse("orders:checkout"):
            self.inside = True
        elif tag == "input" and self.inside and attrs.get("name"):
            kind = attrs.get("type", "text")
            if kind == "radio":
                service = re.sub(r"^id_shipping_rate_?", "", attrs.get("id", "")) or "standard"
                if "disabled" not in attrs:
                    self.rates[service] = attrs.get("value", "")
                if "checked" in attrs:
                    self.fields[attrs["name"]] = attrs.get("value", "")
            elif kind in ("text", "hidden"):
                self.fields[attrs["name"]] = attrs.get("value", "") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False


def checkout_form(html: str) -> tuple[dict[str, str], dict[str, str]]:
    """The checkout form's fields as a browser would submit them, and its shipping radios' values by service."""
    parser = _CheckoutForm()
    parser.feed(html)
    return parser.fields, parser.rates


def checkout_fields(client, address: dict | None = None, *, service: str = "", **extra) -> dict[str, str]:
    """The fields of a checkout page that shows the shipping options for `address` (ADDRESS by
    default): the address submitted once without an option, as a browser without JavaScript does,
    brings them; the standard option is checked unless `service` names another. `extra` fields
    are sent as given (a card number, say)."""
    page = client.get(reverse("orders:checkout")).content.decode()
    fields, _ = checkout_form(page)
    shown = client.post(reverse("orders:checkout"), {**fields, **(address or ADDRESS)})
    fields, rates = checkout_form(shown.content.decode())
    if service:
        fields["shipping_rate"] = rates[service]
    return {**fields, **extra}
