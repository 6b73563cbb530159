"""The storefront's layout in a real browser, on a desktop and on a phone: the header's menu and
the current page, toasts that leave by themselves and never cover a button, the orders list as
cards, and back/forward after a live search."""
import re

import pytest
from django.db.models import F
from playwright.sync_api import Locator, Page, expect

from catalog.models import Product
from tests.browser.test_storefront import add_to_cart_from_the_grid, cart_badge, header, sign_in, toasts
from tests.conftest import CARD_DECLINE

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


def menu_button(page: Page) -> Locator:
    return page.get_by_role("button", name="Menu")


def is_on_top(control: Locator) -> bool:
    """Whether a click at the control's centre reaches it (nothing drawn over it)."""
    control.scroll_into_view_if_needed()
    return control.evaluate(
        """element => {
            const box = element.getBoundingClientRect();
            const hit = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
            return hit !== null && (hit === element || element.contains(hit));
        }"""
    )


def background(locator: Locator) -> str:
    return locator.evaluate("element => getComputedStyle(element).backgroundColor")


# --- the header -------------------------------------------------------------------------------

def test_on_a_phone_the_links_fold_into_a_menu(page: Page, live_server, transactional_db, catalog):
    page.set_viewport_size(PHONE)
    page.goto(live_server.url)

    orders = header(page).get_by_role("link", name="Orders")
    expect(orders).to_be_hidden()
    expect(header(page).get_by_role("link", name="Cart")).to_be_visible()  # the badge stays in sight
    expect(menu_button(page)).to_have_attribute("aria-expanded", "false")
    assert page.locator(".site-header").bounding_box()["height"] < 80  # one row, not three

    menu_button(page).click()
    expect(menu_button(page)).to_have_attribute("aria-expanded", "true")
    expect(orders).to_be_visible()
    expect(header(page).get_by_role("link", name="Register")).to_be_visible()
    page.keyboard.press("Escape")
    expect(orders).to_be_hidden()
    expect(menu_button(page)).to_be_focused()

    menu_button(page).click()
    header(page).get_by_role("link", name="Log in").click()
    expect(page.get_by_role("heading", level=1, name="Log in")).to_be_visible()
    expect(menu_button(page)).to_have_attribute("aria-expanded", "false")


def test_without_javascript_the_links_stay_in_view(browser, live_server, transactional_db, catalog):
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    page = context.new_page()
    page.goto(live_server.url)

    expect(menu_button(page)).to_be_hidden()
    expect(header(page).get_by_role("link", name="Orders")).to_be_visible()
    expect(header(page).get_by_role("link", name="Log in")).to_be_visible()
    context.close()


def test_with_every_script_blocked_the_links_stay_in_view(page: Page, live_server, transactional_db, catalog):
    scripts: list[str] = []

    def refuse(route):  # as a Content-Security-Policy or a proxy refusing them would
        scripts.append(route.request.url)
        route.abort()

    page.route(re.compile(r"\.js(\?.*)?$"), refuse)
    page.set_viewport_size(PHONE)
    page.goto(live_server.url)

    assert scripts, "the page loads its scripts from files this test refuses"
    expect(menu_button(page)).to_be_hidden()
    expect(header(page).get_by_role("link", name="Orders")).to_be_visible()
    expect(header(page).get_by_role("link", name="Log in")).to_be_visible()


def test_when_store_js_fails_the_menu_still_opens(page: Page, live_server, transactional_db, catalog):
    page.route(re.compile(r"/js/store(\.[0-9a-f]+)?\.js(\?.*)?$"), lambda route: route.fulfill(status=404, body=""))
    page.set_viewport_size(PHONE)
    page.goto(live_server.url)

    orders = header(page).get_by_role("link", name="Orders")
    menu_button(page).click()
    expect(orders).to_be_visible()
    orders.click()
    expect(page).to_have_url(re.compile(r"/orders/|/login/"))


def test_on_a_phone_the_menu_is_folded_from_the_first_paint(page: Page, live_server, transactional_db, catalog):
    # Only the small script in <head> runs (store.js and htmx never arrive): it alone folds the
    # menu, before the page is drawn, so the page does not move.
    page.route(re.compile(r"\.js(\?.*)?$"),
               lambda route: route.continue_() if "/js/menu" in route.request.url else route.abort())
    page.set_viewport_size(PHONE)
    page.goto(live_server.url)

    expect(menu_button(page)).to_be_visible()
    expect(menu_button(page)).to_have_attribute("aria-expanded", "false")
    expect(header(page).get_by_role("link", name="Orders")).to_be_hidden()
    expect(header(page).get_by_role("link", name="Cart")).to_be_visible()
    assert page.locator(".site-header").bounding_box()["height"] < 80
    shift = page.evaluate(LAYOUT_SHIFT)
    assert shift < 0.01, f"layout shift {shift:.3f}"


# Layout shifts the page makes while it loads (the Layout Instability API, as Lighthouse counts
# them: shifts without a recent input), summed once the page is idle.
LAYOUT_SHIFT = """() => new Promise(resolve => {
    let total = 0;
    new PerformanceObserver(list => {
        for (const entry of list.getEntries()) { if (!entry.hadRecentInput) total += entry.value; }
    }).observe({type: "layout-shift", buffered: true});
    setTimeout(() => resolve(total), 1000);
})"""


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_cart_and_the_catalog_do_not_move_while_they_load(page: Page, live_server, transactional_db, catalog,
                                                             viewport):
    page.set_viewport_size(viewport)
    add_to_cart_from_the_grid(page, live_server, "Wireless Mouse")
    for path in ["/cart/", "/"]:
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        shift = page.evaluate(LAYOUT_SHIFT)
        assert shift < 0.01, f"{path}: layout shift {shift:.3f}"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_header_marks_the_current_page(page: Page, live_server, transactional_db, catalog, client, customer,
                                          viewport):
    page.set_viewport_size(viewport)
    sign_in(page, live_server, client, customer)
    for path, current in [("/", "Catalog"), ("/cart/", "Cart"), ("/orders/", "Orders"),
                          ("/notifications/", "Notifications"), ("/accounts/profile/", "Profile")]:
        page.goto(live_server.url + path)
        if viewport is PHONE:
            menu_button(page).click()
        marked = header(page).locator("[aria-current]")
        expect(marked).to_have_count(1)
        expect(marked).to_have_attribute("aria-current", "page")
        expect(marked).to_have_accessible_name(re.compile(rf"^{current}"))
        other = header(page).get_by_role("link", name="Catalog" if current != "Catalog" else "Orders")
        assert background(marked) != background(other), f"{current} looks like the other links"

    page.goto(f"{live_server.url}/products/prod-003/")  # within the catalog, not the catalog page itself
    expect(page.get_by_role("heading", level=1, name="USB-C Hub")).to_be_visible()
    expect(header(page).locator("[aria-current]")).to_have_attribute("aria-current", "true")
    expect(header(page).locator("[aria-current]")).to_have_text("Catalog")


# --- toasts -----------------------------------------------------------------------------------
# The page's clock is Playwright's (page.clock): it runs as a real one, and a test moves it on
# instead of waiting out a toast's seconds; each timer the jump passes fires, in order.

@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_toast_leaves_by_itself_and_covers_no_add_to_cart_button(page: Page, live_server, transactional_db,
                                                                   catalog, viewport):
    page.set_viewport_size(viewport)
    page.clock.install()
    page.goto(live_server.url)

    for name in ["Wireless Mouse", "Mechanical Keyboard", "USB-C Hub"]:
        page.get_by_role("button", name=f"Add to Cart: {name}").click()
        expect(toasts(page)).to_contain_text(f"{name} added to cart")
    expect(cart_badge(page)).to_have_text("3")
    for button in page.get_by_role("button", name=re.compile("^Add to Cart")).all():
        assert is_on_top(button), f"{button.get_attribute('aria-label')} is covered"

    page.clock.run_for(6_000)  # longer than a toast's few seconds
    expect(toasts(page).locator(".toast")).to_have_count(0, timeout=10_000)


def test_a_toast_waits_while_pointed_at_and_an_error_stays_until_closed(page: Page, live_server,
                                                                        transactional_db, catalog):
    page.set_viewport_size(DESKTOP)
    page.clock.install()
    page.goto(live_server.url)
    page.get_by_role("button", name="Add to Cart: Wireless Mouse").click()
    toast = toasts(page).locator(".toast").filter(has_text="Wireless Mouse added to cart")
    toast.hover()
    page.clock.run_for(7_000)  # longer than a toast's few seconds
    expect(toast).to_be_visible()
    page.mouse.move(0, 0)
    page.clock.run_for(6_000)
    expect(toast).to_have_count(0, timeout=10_000)

    page.context.set_offline(True)
    page.get_by_role("button", name="Add to Cart: Laptop Stand").click()
    error = toasts(page).get_by_role("alert")
    # Offline until the request has failed: the click returns before htmx sends.
    expect(error).to_contain_text("The shop could not be reached")
    page.context.set_offline(False)
    page.clock.run_for(7_000)
    expect(error).to_be_visible()
    error.get_by_role("button", name="Dismiss").click()
    expect(error).to_have_count(0)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_toasts_on_the_cart_page_cover_no_button(page: Page, live_server, transactional_db, catalog, viewport):
    page.set_viewport_size(viewport)
    add_to_cart_from_the_grid(page, live_server, "Wireless Mouse")
    add_to_cart_from_the_grid(page, live_server, "Desk Mat")
    page.goto(f"{live_server.url}/cart/")

    page.get_by_role("button", name="Remove Desk Mat").click()
    expect(toasts(page)).to_contain_text("Desk Mat removed from your cart")
    page.evaluate("storeToast('Something went wrong on our side. Reload the page and try again.', 'error')")

    assert is_on_top(page.get_by_role("link", name="Proceed to checkout"))
    assert is_on_top(page.get_by_role("button", name="Increase quantity of Wireless Mouse"))
    assert is_on_top(page.get_by_role("button", name="Remove Wireless Mouse"))


# --- the orders list ---------------------------------------------------------------------------

def test_on_a_phone_each_order_is_a_card_with_its_status_and_total(page: Page, live_server, sync_pipeline, client,
                                                                    customer, place_order):
    order = place_order(customer)  # delivered at once
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, client, customer)
    page.goto(f"{live_server.url}/orders/")

    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=f"Order {order.number}"))
    for text in ["Delivered", f"${order.total:,.2f}", "1 item"]:
        shown = row.get_by_text(text, exact=True)
        expect(shown).to_be_in_viewport()
        box = shown.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], f"{text} is off-screen"
    assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]


# --- back and forward ----------------------------------------------------------------------------

def test_back_and_forward_after_a_live_search_restore_the_filters_and_the_cart_badge(
    page: Page, live_server, transactional_db, catalog
):
    page.goto(live_server.url)
    search, category = page.get_by_label("Search"), page.get_by_label("Category")
    grid = page.get_by_role("region", name="Products").get_by_role("article")

    category.select_option(label="Electronics")
    expect(page).to_have_url(re.compile(r"/\?category=electronics$"))
    search.fill("mouse")
    expect(page).to_have_url(re.compile(r"/\?category=electronics&q=mouse$"))
    expect(grid).to_have_count(1)
    page.get_by_role("button", name="Add to Cart: Wireless Mouse").click()
    expect(cart_badge(page)).to_have_text("1")
    page.get_by_role("link", name="Wireless Mouse").click()
    page.get_by_role("button", name="Add to Cart").click()
    expect(cart_badge(page)).to_have_text("2")

    page.go_back()
    expect(search).to_have_value("mouse")
    expect(category).to_have_value("electronics")
    expect(grid).to_have_count(1)
    expect(cart_badge(page)).to_have_text("2")

    page.go_back()
    expect(page).to_have_url(re.compile(r"/\?category=electronics$"))
    expect(search).to_have_value("")
    expect(category).to_have_value("electronics")
    expect(grid).to_have_count(3)
    expect(cart_badge(page)).to_have_text("2")

    page.go_forward()
    expect(page).to_have_url(re.compile(r"/\?category=electronics&q=mouse$"))
    expect(search).to_have_value("mouse")
    expect(category).to_have_value("electronics")
    expect(cart_badge(page)).to_have_text("2")


def test_a_warning_after_try_again_stays_as_long_as_an_error(page: Page, live_server, sync_pipeline, client,
                                                             customer, place_order):
    declined = place_order(customer, {"prod-001": 1}, card=CARD_DECLINE)
    Product.objects.filter(public_id="prod-001").update(price=F("price") + 1)
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, client, customer)
    page.clock.install()
    page.goto(f"{live_server.url}/orders/{declined.pk}/")

    page.get_by_role("button", name="Try again").click()

    warning = toasts(page).locator(".toast--warning").filter(has_text="Prices changed since your order")
    expect(warning).to_be_visible()
    page.clock.run_for(7_000)  # longer than news stays
    expect(warning).to_be_visible()
    page.clock.run_for(6_000)  # and an error's twelve seconds in all
    expect(warning).to_have_count(0, timeout=10_000)


# --- long words on a phone -----------------------------------------------------------------------

def test_on_a_phone_a_refunded_order_a_long_address_and_a_payment_link_fit_the_screen(
        page: Page, live_server, sync_pipeline, client, customer, place_order, staff_user):
    from orders.services import RefundLineRequest, refund_create
    from orders.services.reorder import payment_link_send

    customer.email = "someone.with.a.rather.long.address@example-company.com"
    customer.save(update_fields=["email"])
    order = place_order(customer, {"prod-001": 2, "prod-002": 3})  # delivered at once
    refund_create(order=order, amount=None, reason="Returned", actor=staff_user, restock=True,
                  lines=[RefundLineRequest(order.lines.get(product_public_id="prod-001").pk, 1)])
    failed = place_order(customer, card=CARD_DECLINE)
    failed.refresh_from_db()
    assert failed.state == "failed"
    payment_link_send(order=failed, actor=staff_user)
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, client, customer)

    page.goto(f"{live_server.url}/orders/{order.pk}/")
    expect(page.get_by_role("row", name=re.compile("Mechanical Keyboard"))).to_contain_text("1 of 2 refunded")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    page.goto(f"{live_server.url}/accounts/profile/")
    expect(page.get_by_text(customer.email)).to_be_visible()
    assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    page.goto(f"{live_server.url}/notifications/")
    link = page.get_by_role("link", name=re.compile("payment-link"))
    expect(link).to_be_visible()  # the link in the notice opens, not only the e-mailed one
    assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    path = re.search(r"/orders/payment-link/[^/]+/$", link.get_attribute("href")).group(0)  # on STORE_PUBLIC_URL
    page.goto(f"{live_server.url}{path}")
    expect(page).to_have_url(re.compile(r"/checkout/$"))
