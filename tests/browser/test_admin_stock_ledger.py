"""A product's stock ledger in the admin, in real browsers against a real django-q2 worker
(`qcluster`): a staff edit of the stock and a customer's order are rows on the product's page
(units, why, order, who), and the rows add up to the stock the same page shows."""
import re

import pytest
from playwright.sync_api import Browser, Page, expect

from catalog.models import Product
from orders.models import Order
from store.staff import shop_staff_group_sync
from tests.browser.test_admin_payment_link import customer_browser
from tests.browser.test_storefront import LIVE, order_state, place_order_through_the_pages
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def ledger_rows(page: Page) -> list[list[str]]:
    """The ledger table's rows as shown, newest first: [when, units, why, order, who]."""
    return page.locator("table.stock-ledger tbody tr").evaluate_all(
        "rows => rows.map(row => [...row.cells].map(cell => cell.textContent.trim()))")


def test_a_staff_edit_and_an_order_are_on_the_ledger_that_adds_up_to_the_stock(
    page: Page, browser: Browser, live_server, qcluster, make_user, customer, catalog
):
    clerk = make_user("clerk@example.com", name="Cleo Clerk", is_staff=True)
    clerk.groups.add(shop_staff_group_sync())  # the group may change products
    mouse = Product.objects.get(public_id="prod-002")
    product_page = f"{live_server.url}/admin/catalog/product/{mouse.pk}/change/"

    # Staff: the product's page, the stock edited and saved.
    page.goto(f"{live_server.url}/admin/login/?next=/admin/catalog/product/{mouse.pk}/change/")
    page.get_by_label("E-mail address").fill(clerk.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    stock = page.get_by_label("Stock:", exact=True)
    expect(stock).to_have_value("120")
    expect(page.locator("table.stock-ledger tbody tr")).to_have_count(1)
    stock.fill("75")
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator("ul.messagelist")).to_contain_text("was changed successfully")
    expect(page.get_by_label("Stock:", exact=True)).to_have_value("75")

    # A customer orders one in their own browser; the order reserves the unit.
    context = customer_browser(browser, live_server, customer)
    theirs = context.new_page()
    number = place_order_through_the_pages(theirs, live_server, "Wireless Mouse")
    expect(order_state(theirs)).to_have_text("Delivered", timeout=LIVE)
    context.close()
    order = Order.objects.get()
    assert order.number == number

    # Staff: the ledger says who moved the stock and why, and adds up to the stock shown.
    page.goto(product_page)
    expect(page.get_by_label("Stock:", exact=True)).to_have_value("74")
    rows = ledger_rows(page)
    assert [row[1:] for row in rows] == [
        ["+0", "Sold (order shipped)", number, "—"],  # shipped by the pipeline: nobody
        ["-1", "Reserved by an order", number, customer.email],  # the order placed by the customer
        ["-45", "Edited by staff", "—", clerk.email],
        ["+120", "Opening balance", "—", "—"],
    ], rows
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row[0]) for row in rows)
    running, after_each = 0, []
    for row in reversed(rows):  # oldest first: the stock after each movement
        running += int(row[1])
        after_each.append(running)
    shown = int(page.get_by_label("Stock:", exact=True).input_value())
    assert after_each == [120, 75, 74, 74]  # the staff member saved 75; the order took one
    assert running == shown == 74
    expect(page.locator(".field-stock_ledger")).to_contain_text(f"all rows add up to the stock ({shown})")

    # The ledger's order links to the order's admin page.
    page.locator("table.stock-ledger").get_by_role("link", name=number).first.click()
    expect(page).to_have_url(re.compile(rf"/admin/orders/order/{order.pk}/change/$"))
    expect(page.get_by_test_id("order-state")).to_have_text("Delivered")
