"""Product images in a real browser: every seed product's own picture loads, and an image a
member of staff uploads in the admin shows on the storefront, under the Content-Security-Policy,
as renditions at the sizes the pages draw it."""
import io
import re

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def loaded(image) -> bool:
    """Whether the <img> was fetched and decoded (a broken or blocked image has no natural width)."""
    return image.evaluate("img => img.complete && img.naturalWidth > 0")


def test_seed_pictures_load_and_an_uploaded_image_replaces_one(page: Page, live_server, transactional_db, catalog,
                                                              staff_user, media_root, tmp_path):
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)

    page.goto(live_server.url)
    pictures = page.locator(".product-card__media img")
    expect(pictures).to_have_count(8)
    for index in range(8):
        picture = pictures.nth(index)
        picture.scroll_into_view_if_needed()  # they load lazily
        expect(picture).to_have_js_property("complete", True)
        assert loaded(picture), picture.get_attribute("src")
    assert len({pictures.nth(index).get_attribute("src") for index in range(8)}) == 8

    photo = tmp_path / "hub.png"
    Image.new("RGB", (4000, 2500), (255, 183, 77)).save(photo, format="PNG")  # the largest side accepted
    page.goto(f"{live_server.url}/admin/")
    page.get_by_label("E-mail address").fill(staff_user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/admin/catalog/product/{catalog['prod-003'].pk}/change/")
    page.get_by_label("Uploaded image").set_input_files(str(photo))
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    thumbnail = page.get_by_role("row").filter(has_text="prod-003").locator("img.product-thumb")
    expect(thumbnail).to_have_attribute("src", re.compile(r"^/media/renditions/[0-9a-f/]+\.png$"))
    assert loaded(thumbnail)
    assert thumbnail.evaluate("img => img.naturalWidth") == 32

    # A screen of one device pixel per CSS pixel downloads the 1x renditions.
    for path, width in [("/products/prod-003/", 640), ("/", 320)]:
        page.goto(live_server.url + path)
        shown = page.get_by_alt_text("USB-C Hub", exact=True)  # the grid's is hidden from the tree: its link repeats the name
        shown.scroll_into_view_if_needed()
        expect(shown).to_have_js_property("complete", True)
        expect(shown).to_have_attribute("src", re.compile(r"^/media/renditions/"))
        assert loaded(shown)
        assert shown.evaluate("img => img.currentSrc.endsWith(img.getAttribute('src'))"), path
        assert shown.evaluate("img => img.naturalWidth") == width, path
    assert violations == []
    assert len(list((media_root / "products").rglob("*.png"))) == 1


def test_a_small_photo_keeps_the_product_page_still(page: Page, live_server, transactional_db, catalog, media_root):
    from django.core.files.base import ContentFile

    from catalog.models import Product
    from catalog.pictures import product_renditions_make
    from tests.browser.test_layout import LAYOUT_SHIFT

    product = Product.objects.get(public_id="prod-003")
    square = io.BytesIO()
    Image.new("RGB", (50, 50), (255, 183, 77)).save(square, format="PNG")  # smaller than any frame, and square
    product.photo.save("hub.png", ContentFile(square.getvalue()))
    product_renditions_make(product)
    page.set_viewport_size({"width": 1280, "height": 800})

    page.goto(f"{live_server.url}/products/prod-003/")
    shown = page.get_by_alt_text("USB-C Hub", exact=True)
    expect(shown).to_have_js_property("complete", True)
    assert loaded(shown) and shown.evaluate("img => img.naturalWidth") == 50

    box = shown.bounding_box()
    assert abs(box["width"] / box["height"] - 8 / 5) < 0.02  # drawn in the page's frame, cropped
    shift = page.evaluate(LAYOUT_SHIFT)
    assert shift < 0.01, f"layout shift {shift:.3f}"
