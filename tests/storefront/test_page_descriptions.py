"""Every storefront page says what it is in its meta description (search results and link
previews show it), not the shop's general sentence."""
import re
from datetime import timedelta
from html import unescape
from pathlib import Path

from django.conf import settings
from django.test import Client
from django.utils import timezone

from accounts.services import address_create
from orders.models import PaymentLink
from orders.services.reorder import payment_link_token
from tests.conftest import CARD_DECLINE

BASE_DIR = Path(settings.BASE_DIR)
# The project's templates and the apps' own.
TEMPLATES = [BASE_DIR / "templates", *sorted(BASE_DIR.glob("*/templates"))]
DESCRIPTION = re.compile(r'<meta name="description" content="([^"]+)">')
GENERAL = "Workflow Store: desk tools, keyboards and hubs, with every order followed from payment to delivery."


def test_every_page_template_has_its_own_description():
    pages = [path for root in TEMPLATES for path in sorted(root.rglob("*.html"))
             if '{% extends "base.html" %}' in path.read_text()]

    assert pages
    assert [str(path.relative_to(BASE_DIR)) for path in pages if "{% block description %}" not in path.read_text()] \
        == []


def test_the_address_form_and_a_refused_payment_link_describe_themselves(customer, place_order):
    home = address_create(user=customer, label="Home", address="1 Market Street", city="Springfield", state="IL",
                          zip="62701")
    link = PaymentLink.objects.create(order=place_order(customer, card=CARD_DECLINE),
                                      expires_at=timezone.now() - timedelta(hours=1))
    client = Client()
    client.force_login(customer)

    pages = {path: client.get(path) for path in ("/accounts/addresses/add/", f"/accounts/addresses/{home.pk}/edit/",
                                                 f"/orders/payment-link/{payment_link_token(link)}/")}

    described = {path: unescape(DESCRIPTION.search(response.content.decode())[1]) for path, response in pages.items()}
    assert GENERAL not in described.values(), described
