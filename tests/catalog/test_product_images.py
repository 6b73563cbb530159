"""Product images: each seed product's own picture, staff uploads in the admin, and how
uploaded files are served (MEDIA_ROOT is a temporary directory in every test that uploads)."""
import io
import random
import re

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from PIL import ExifTags, Image, ImageCms
from PIL.PngImagePlugin import PngInfo

from catalog.forms import PHOTO_FORMATS
from catalog.models import Product
from catalog.pictures import photo_without_metadata
from store.media import MEDIA_TYPES

PRODUCT_PAGE = "/products/{}/"
CHANGE_PAGE = "/admin/catalog/product/{}/change/"
IMG_SRC = re.compile(r'<div class="product-detail__media">\s*<img src="([^"]+)" alt="([^"]+)"')


def png(width: int = 64, height: int = 40, *, noise: bool = False) -> bytes:
    """A real PNG: one colour, or random pixels (which do not compress) from a fixed seed."""
    image = Image.new("RGB", (width, height), (61, 90, 254))
    if noise:
        rng = random.Random(7)
        image.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(width * height)])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


NOISE = png(80, 80, noise=True)


def truncated_jpeg() -> bytes:
    """A JPEG cut short: Pillow's verify() passes it, decoding it fails."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (80, 80), NOISE[:80 * 80 * 3].ljust(80 * 80 * 3, b"x")).save(buffer, format="JPEG")
    return buffer.getvalue()[:len(buffer.getvalue()) // 2]
RED, BLUE = (220, 20, 20), (20, 20, 220)
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def phone_photo(image_format: str = "JPEG", **options) -> bytes:
    """A 60x30 photo as a phone saves one held sideways: red left half, blue right half, EXIF
    orientation 6 (turn it 90 degrees clockwise to view), the camera's make and where it was
    taken (GPS), an sRGB colour profile."""
    image = Image.new("RGB", (60, 30), BLUE)
    image.paste(RED, (0, 0, 30, 30))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "PhoneCam"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef], gps[ExifTags.GPS.GPSLatitude] = "N", (52.0, 31.0, 12.0)
    gps[ExifTags.GPS.GPSLongitudeRef], gps[ExifTags.GPS.GPSLongitude] = "E", (13.0, 24.0, 36.0)
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, exif=exif, icc_profile=SRGB, **options)
    return buffer.getvalue()


def assert_upright_without_metadata(data: bytes, image_format: str) -> None:
    with Image.open(io.BytesIO(data)) as stored:
        assert stored.format == image_format
        assert dict(stored.getexif()) == {}
        assert not {"exif", "xmp", "comment", "XML:com.adobe.xmp"} & set(stored.info)
        assert stored.info.get("icc_profile") == SRGB  # the colours stay as they were
        assert stored.size == (30, 60)  # turned upright: the red half on top
        rgb = stored.convert("RGB")
        assert all(abs(a - b) < 40 for a, b in zip(rgb.getpixel((15, 10)), RED, strict=True))
        assert all(abs(a - b) < 40 for a, b in zip(rgb.getpixel((15, 50)), BLUE, strict=True))
    assert b"PhoneCam" not in data


def shown_image(client, product: Product) -> tuple[str, str]:
    """(src, alt) of the picture on the product's page."""
    response = client.get(PRODUCT_PAGE.format(product.public_id))
    assert response.status_code == 200
    return IMG_SRC.search(response.content.decode()).groups()


def change_data(product: Product, **changes) -> dict:
    """What the change form posts when staff saw `product` as it is now."""
    return {
        "public_id": product.public_id,
        "name": product.name,
        "category": product.category_id,
        "description": product.description,
        "image": product.image,
        "price": str(product.price),
        "stock": product.stock,
        "initial-stock": product.stock,
        "weight_grams": product.weight_grams,
        "is_active": "on",
        **changes,
    }


def files_under(root) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()) if root.exists() else []


def uploads_under(root) -> list[str]:
    """The uploads kept under MEDIA_ROOT, without the renditions pages show of them."""
    return [name for name in files_under(root) if not name.startswith("renditions/")]


RENDITION = re.compile(r"^/media/renditions/[0-9a-f/]+\.(png|jpg|webp|gif)$")


def image_served(src: str) -> Image.Image:
    """The image anyone downloads at `src` (a MEDIA_URL path), decoded."""
    response = Client().get(src)
    assert response.status_code == 200, src
    image = Image.open(io.BytesIO(b"".join(response.streaming_content)))
    image.load()
    return image


# --- the seed products' own pictures ----------------------------------------------------

def test_each_seed_product_shows_its_own_picture_which_is_served(client, catalog, settings):
    # As the demo serves static files: whitenoise, from the finders (no collectstatic here).
    settings.WHITENOISE_USE_FINDERS = True
    static_client = Client()

    shown = {product.public_id: shown_image(client, product) for product in catalog.values()}

    sources = [src for src, _alt in shown.values()]
    assert len(set(sources)) == 8
    assert shown["prod-001"] == ("/static/img/products/keyboard.svg",
                                 "Mechanical Keyboard: A tenkeyless mechanical keyboard")
    assert shown["prod-002"][0] == "/static/img/products/mouse.svg"
    assert shown["prod-003"][0] == "/static/img/products/usb-c-hub.svg"
    for public_id, (src, alt) in shown.items():
        assert alt.startswith(f"{catalog[public_id].name}: ")
        response = static_client.get(src)
        assert response.status_code == 200, src
        assert response["Content-Type"] == "image/svg+xml"
        assert b"<svg" in b"".join(response.streaming_content)


def test_the_catalog_and_the_api_show_the_same_pictures(client, api_client, catalog):
    html = client.get("/").content.decode()

    for product in api_client.get("/api/products").json():
        assert f'src="{product["image"]}"' in html
    assert 'alt="USB-C Hub: A USB-C hub with HDMI, USB-A, USB-C and card reader ports"' in html


# --- uploads in the admin ---------------------------------------------------------------

def test_staff_upload_an_image_which_the_storefront_shows_and_serves(client, staff_user, catalog, media_root):
    client.force_login(staff_user)
    product = catalog["prod-001"]
    upload = SimpleUploadedFile("my keyboard.PNG", png(), content_type="image/png")

    response = client.post(CHANGE_PAGE.format(product.pk), change_data(product, photo=upload))

    assert response.status_code == 302
    stored = uploads_under(media_root)
    assert len(stored) == 1 and re.fullmatch(r"products/prod-001-[0-9a-f]{8}\.png", stored[0])
    assert (media_root / stored[0]).read_bytes() == png()
    src, alt = shown_image(client, product)  # a rendition, as large as the upload (never enlarged)
    assert RENDITION.match(src) and alt == "Mechanical Keyboard"
    assert image_served(src).size == (64, 40)
    admin_list = client.get("/admin/catalog/product/").content.decode()
    assert re.search(r'<img src="/media/renditions/[^"]+"( srcset="[^"]+")? alt="" width="32"', admin_list)  # thumbnail
    assert stored[0] not in admin_list and stored[0] not in client.get("/").content.decode()
    assert client.get("/api/products/prod-001").json()["image"] == f"/media/{stored[0]}"  # the API's: the upload
    entry = LogEntry.objects.get_for_object(product).latest("timestamp")  # the audit trail
    assert entry.actor == staff_user and entry.changes_dict["photo"][1] == stored[0]

    for url in (f"/media/{stored[0]}", src):  # the upload and its rendition, to anyone, signed in or not
        served = Client().get(url)
        assert served.status_code == 200
        assert served["Content-Type"] == "image/png"
        assert served["X-Content-Type-Options"] == "nosniff"
        assert served["Cache-Control"] == "public, max-age=31536000, immutable"
        assert "sandbox" in served["Content-Security-Policy"]
        assert "default-src 'none'" in served["Content-Security-Policy"]
    assert b"".join(Client().get(f"/media/{stored[0]}").streaming_content) == png()


def img_of(html: str, alt: str) -> dict[str, str]:
    """The attributes of the <img> with this alt text in `html`."""
    tag = re.search(r'<img [^>]*alt="' + re.escape(alt) + r'"[^>]*>', html)
    assert tag, f"no <img alt={alt!r}>"
    return dict(re.findall(r'([a-z-]+)="([^"]*)"', tag.group(0)))


def test_a_4000_px_upload_is_shown_at_the_sizes_the_pages_draw_it(client, staff_user, catalog, media_root):
    client.force_login(staff_user)
    product = catalog["prod-003"]
    upload = SimpleUploadedFile("hub.png", png(4000, 2500), content_type="image/png")
    assert client.post(CHANGE_PAGE.format(product.pk), change_data(product, photo=upload)).status_code == 302
    [stored] = uploads_under(media_root)
    made = len(files_under(media_root))
    client.post("/cart/add/", {"product_id": "prod-003"})

    pages = {"/": (320, 200), "/products/prod-003/": (640, 400), "/cart/": (96, 60)}
    for path, (width, height) in pages.items():
        html = client.get(path).content.decode()
        img = img_of(html, "USB-C Hub")
        assert (img["width"], img["height"]) == (str(width), str(height)), path
        assert RENDITION.match(img["src"]), path
        assert image_served(img["src"]).size == (width, height), path
        one_x, two_x = (part.rsplit(" ", 1) for part in img["srcset"].split(", "))
        assert one_x == [img["src"], "1x"] and two_x[1] == "2x", path
        assert image_served(two_x[0]).size == (2 * width, 2 * height), path
        assert stored not in html, path  # the 4,000 px upload itself is never on a page
    assert len(files_under(media_root)) == made  # every rendition was made when staff saved the photo


def test_a_new_product_may_come_with_its_image(client, staff_user, catalog, media_root):
    client.force_login(staff_user)
    data = {**change_data(catalog["prod-001"], public_id="prod-009", name="Webcam", stock=3), "initial-stock": 0}

    response = client.post("/admin/catalog/product/add/", {**data, "photo": SimpleUploadedFile("cam.png", png())})

    assert response.status_code == 302
    [stored] = uploads_under(media_root)
    assert stored.startswith("products/prod-009-")
    src, alt = shown_image(client, Product.objects.get(public_id="prod-009"))
    assert RENDITION.match(src) and alt == "Webcam"


def test_the_file_is_stored_with_the_extension_of_its_real_format(client, staff_user, catalog, media_root):
    client.force_login(staff_user)
    product = catalog["prod-002"]
    buffer = io.BytesIO()
    Image.new("RGB", (30, 20), (200, 10, 10)).save(buffer, format="JPEG")
    upload = SimpleUploadedFile("mouse.png", buffer.getvalue(), content_type="image/png")

    assert client.post(CHANGE_PAGE.format(product.pk), change_data(product, photo=upload)).status_code == 302

    [stored] = uploads_under(media_root)
    assert stored.endswith(".jpg")
    assert Client().get(f"/media/{stored}")["Content-Type"] == "image/jpeg"
    src, _alt = shown_image(client, product)
    assert src.endswith(".jpg") and Client().get(src)["Content-Type"] == "image/jpeg"


def test_an_uploaded_phone_photo_is_stored_upright_without_where_it_was_taken(
    client, staff_user, catalog, media_root
):
    client.force_login(staff_user)
    product = catalog["prod-005"]
    original = phone_photo(comment=b"Taken at home")
    with Image.open(io.BytesIO(original)) as sent:  # what a phone sends: its GPS and camera tags
        assert sent.getexif().get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] == "N"
        assert sent.size == (60, 30)
    upload = SimpleUploadedFile("IMG_0042.JPG", original, content_type="image/jpeg")

    assert client.post(CHANGE_PAGE.format(product.pk), change_data(product, photo=upload)).status_code == 302

    [stored] = uploads_under(media_root)
    assert stored.endswith(".jpg")
    served = b"".join(Client().get(f"/media/{stored}").streaming_content)  # the upload, as the API links it
    assert served == (media_root / stored).read_bytes()
    assert_upright_without_metadata(served, "JPEG")
    assert b"Taken at home" not in served
    src, _alt = shown_image(client, Product.objects.get(pk=product.pk))  # the page's rendition of it
    rendition = b"".join(Client().get(src).streaming_content)
    with Image.open(io.BytesIO(rendition)) as shown:
        assert shown.size == (30, 60) and dict(shown.getexif()) == {}
        assert all(abs(a - b) < 40 for a, b in zip(shown.convert("RGB").getpixel((15, 10)), RED, strict=True))
    assert b"PhoneCam" not in rendition and b"Taken at home" not in rendition


@pytest.mark.parametrize("image_format", ["JPEG", "PNG", "WEBP", "MPO"])
def test_every_format_loses_its_metadata_and_keeps_its_format(image_format):
    options = {"xmp": b"<x:xmpmeta>GPS 52.52 13.41</x:xmpmeta>"} if image_format in ("JPEG", "WEBP") else {}
    if image_format == "PNG":
        options["pnginfo"] = PngInfo()
        options["pnginfo"].add_text("Location", "52.52 13.41")
    if image_format == "MPO":
        options["save_all"] = True

    data, stored_format = photo_without_metadata(io.BytesIO(phone_photo(image_format, **options)))

    assert stored_format == ("JPEG" if image_format == "MPO" else image_format)
    assert_upright_without_metadata(data, stored_format)
    assert b"52.52" not in data and b"Location" not in data


def test_an_animated_gif_keeps_its_frames_and_timing_but_not_its_comment():
    frames = [Image.new("RGB", (20, 10), colour) for colour in (RED, BLUE, (20, 220, 20))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=[100, 200, 300],
                   loop=0, comment=b"Shot at 52.52 13.41")

    data, stored_format = photo_without_metadata(buffer)

    with Image.open(io.BytesIO(data)) as stored:
        assert (stored_format, stored.format, stored.n_frames, stored.size) == ("GIF", "GIF", 3, (20, 10))
        durations = []
        for index in range(stored.n_frames):
            stored.seek(index)
            durations.append(stored.info["duration"])
        assert durations == [100, 200, 300]
        assert "comment" not in stored.info
    assert b"52.52" not in data


def test_clearing_the_upload_shows_the_built_in_picture_again(client, staff_user, catalog, media_root):
    client.force_login(staff_user)
    product = catalog["prod-003"]
    client.post(CHANGE_PAGE.format(product.pk), change_data(product, photo=SimpleUploadedFile("hub.png", png())))
    product.refresh_from_db()
    assert product.photo

    response = client.post(CHANGE_PAGE.format(product.pk), change_data(product, **{"photo-clear": "on"}))

    assert response.status_code == 302
    assert shown_image(client, product)[0] == "/static/img/products/usb-c-hub.svg"


@pytest.mark.parametrize(
    ("upload", "limits", "message"),
    [
        (SimpleUploadedFile("photo.png", b"not an image at all", content_type="image/png"), {},
         "This file is not an image Pillow can read: upload a JPEG, PNG, WebP or GIF image."),
        (SimpleUploadedFile("photo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
                            content_type="image/svg+xml"), {},
         "This file is not an image Pillow can read: upload a JPEG, PNG, WebP or GIF image."),
        (SimpleUploadedFile("photo.png", NOISE, content_type="image/png"), {"PRODUCT_IMAGE_MAX_BYTES": 4096},
         f"The image is {len(NOISE) / 1024:.1f}\xa0KB; the largest accepted is 4.0\xa0KB."),
        (SimpleUploadedFile("photo.png", png(120, 30), content_type="image/png"),
         {"PRODUCT_IMAGE_MAX_SIDE": 100}, "The image is 120x30 pixels; at most 100x100 are accepted."),
        (SimpleUploadedFile("photo.jpg", truncated_jpeg(), content_type="image/jpeg"), {},
         "This file is not an image Pillow can read: upload a JPEG, PNG, WebP or GIF image."),
    ],
    ids=["not-an-image", "svg", "too-large", "too-many-pixels", "truncated"],
)
def test_a_bad_upload_is_refused_with_a_message_and_nothing_written(
    client, staff_user, catalog, media_root, settings, upload, limits, message
):
    for name, value in limits.items():
        setattr(settings, name, value)
    client.force_login(staff_user)
    product = catalog["prod-004"]

    response = client.post(CHANGE_PAGE.format(product.pk), change_data(product, photo=upload, name="Renamed"))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"photo": [message]}
    assert files_under(media_root) == []
    product.refresh_from_db()
    assert (product.photo.name, product.name) == ("", "Laptop Stand")


def test_staff_without_the_change_permission_cannot_upload(client, make_user, catalog, media_root):
    viewer = make_user("viewer@example.com", name="Vera Viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(content_type__app_label="catalog", codename="view_product"))
    client.force_login(viewer)
    product = catalog["prod-005"]

    page = client.get(CHANGE_PAGE.format(product.pk))
    response = client.post(CHANGE_PAGE.format(product.pk),
                           change_data(product, photo=SimpleUploadedFile("mat.png", png())))

    assert page.status_code == 200 and 'type="file"' not in page.content.decode()
    assert response.status_code == 403
    assert files_under(media_root) == []
    assert Product.objects.get(pk=product.pk).photo.name == ""


# --- serving MEDIA_ROOT -----------------------------------------------------------------

def test_every_format_an_upload_is_stored_in_is_served_with_its_type():
    Image.init()  # every format plugin, with its MIME type
    for image_format, extension in PHOTO_FORMATS.items():
        expected = Image.MIME["JPEG" if image_format == "MPO" else image_format]
        assert MEDIA_TYPES[f".{extension}"] == expected, image_format


def test_the_media_url_serves_only_image_files_under_media_root(client, media_root, tmp_path):
    (media_root / "products").mkdir(parents=True)
    (media_root / "products" / "page.html").write_text("<script>alert(1)</script>")
    (media_root / "products" / "a.png").write_bytes(png())
    (tmp_path / "secret.png").write_bytes(png())

    assert client.get("/media/products/a.png").status_code == 200
    assert client.get("/media/products/page.html").status_code == 404
    assert client.get("/media/products/missing.png").status_code == 404
    assert client.get("/media/../secret.png").status_code == 404
    assert client.get("/media/%2e%2e/secret.png").status_code == 404
    assert client.get("/media/products/").status_code == 404
    assert client.post("/media/products/a.png").status_code in (403, 405)  # CSRF refuses it first, else 405


# --- the migration ----------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_seed_products_their_own_pictures_unless_staff_chose_one():
    executor = MigrationExecutor(connection)
    executor.migrate([("catalog", "0001_initial")])
    old = executor.loader.project_state([("catalog", "0001_initial")]).apps
    category = old.get_model("catalog", "Category").objects.create(name="Electronics", slug="electronics",
                                                                   image="electronics")
    products = old.get_model("catalog", "Product").objects
    for public_id, image in (("prod-001", "electronics"), ("prod-002", "default"), ("prod-042", "electronics")):
        products.create(public_id=public_id, name=public_id, price=1, category=category, image=image)

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert dict(Product.objects.values_list("public_id", "image")) == {
        "prod-001": "keyboard",  # a seed product with its category's picture
        "prod-002": "default",  # one whose picture staff had changed keeps it
        "prod-042": "electronics",  # not a seed product
    }


# --- renditions when something is missing or down ---------------------------------------

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def test_with_redis_down_pages_show_photos_and_staff_can_save_one(client, staff_user, catalog, media_root, settings):
    client.force_login(staff_user)
    before = catalog["prod-001"]  # renditions recorded while the cache answered
    upload = SimpleUploadedFile("keyboard.png", png(800, 500), content_type="image/png")
    assert client.post(CHANGE_PAGE.format(before.pk), change_data(before, photo=upload)).status_code == 302
    settings.CACHES = {**settings.CACHES, "default": {
        "BACKEND": "store.cache.CircuitRedisCache", "LOCATION": UNREACHABLE_REDIS,
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }}
    during = catalog["prod-002"]

    response = client.post(CHANGE_PAGE.format(during.pk),
                           change_data(during, photo=SimpleUploadedFile("mouse.png", png(800, 500))))

    assert response.status_code == 302
    assert len(uploads_under(media_root)) == 2  # stored, and kept with its product
    for product in (before, during):
        src, _ = shown_image(client, product)
        assert RENDITION.match(src) and image_served(src).size == (640, 400)
    for path in ("/", "/admin/catalog/product/"):
        html = client.get(path).content.decode()
        assert len(re.findall(r'<img src="/media/renditions/', html)) >= 2, path


def test_a_refused_form_with_a_new_photo_shows_the_error_and_the_stored_picture(client, staff_user, catalog,
                                                                               media_root):
    client.force_login(staff_user)
    product = catalog["prod-001"]
    client.post(CHANGE_PAGE.format(product.pk), change_data(product, photo=SimpleUploadedFile("a.png", png())))
    product.refresh_from_db()
    stored = uploads_under(media_root)

    response = client.post(CHANGE_PAGE.format(product.pk),
                           change_data(product, price="abc", photo=SimpleUploadedFile("b.png", png(300, 200))))

    assert response.status_code == 200
    assert "price" in response.context["adminform"].form.errors
    assert "Enter a number." in response.content.decode()
    picture = img_of(response.content.decode(), "Mechanical Keyboard")
    assert RENDITION.match(picture["src"]) and image_served(picture["src"]).size == (64, 40)  # the stored photo's
    assert uploads_under(media_root) == stored  # nothing written


def test_a_photo_whose_file_is_gone_shows_the_built_in_picture(client, staff_user, catalog, media_root, caplog):
    product = catalog["prod-003"]
    Product.objects.filter(pk=product.pk).update(photo="products/prod-003-gone.png")  # no renditions recorded
    client.force_login(staff_user)

    for path in ("/", PRODUCT_PAGE.format("prod-003"), "/admin/catalog/product/", CHANGE_PAGE.format(product.pk)):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "/static/img/products/usb-c-hub.svg" in response.content.decode(), path
    assert any(record.name == "catalog.pictures" and "prod-003-gone.png" in record.getMessage()
               for record in caplog.records)


def test_the_2x_rendition_is_offered_only_where_the_upload_covers_its_frame(client, staff_user, catalog,
                                                                           media_root):
    client.force_login(staff_user)
    product = catalog["prod-003"]
    upload = SimpleUploadedFile("hub.png", png(800, 500), content_type="image/png")
    assert client.post(CHANGE_PAGE.format(product.pk), change_data(product, photo=upload)).status_code == 302

    card = img_of(client.get("/").content.decode(), "USB-C Hub")  # 640x400 at 2x: covered
    detail = img_of(client.get(PRODUCT_PAGE.format("prod-003")).content.decode(), "USB-C Hub")  # 1280x800: not

    assert card["srcset"].endswith(" 2x") and image_served(card["srcset"].split(", ")[1].split()[0]).size == (640, 400)
    assert "srcset" not in detail and image_served(detail["src"]).size == (640, 400)
