"""Product pictures: the built-in illustrations shipped under static/ and the photos staff upload.

A product shows its uploaded photo (Product.photo, a file under MEDIA_ROOT) when it has one,
else its built-in picture (Product.image, a name in BUILTIN_PICTURES). Seed products each have
an illustration of their own; a category's picture is the fallback for new products. An upload
is stored re-encoded without its metadata (`photo_without_metadata`): a phone's photo carries
where it was taken (EXIF GPS) and the camera's details, which the shop must not publish.

Pages never show the upload itself (up to PRODUCT_IMAGE_MAX_SIDE pixels a side): they show
renditions at the size each page draws the picture (PICTURE_SIZES) and twice that for
high-density screens, made by sorl-thumbnail once and kept under MEDIA_ROOT (`product_picture`).
The API's `image` stays the upload's URL: clients pick their own sizes.
"""
import io
import logging
import secrets
from dataclasses import dataclass
from pathlib import PurePath
from typing import IO

from django.templatetags.static import static
from django.utils.text import slugify
from PIL import Image, ImageOps, ImageSequence
from sorl.thumbnail import get_thumbnail

from store.throttling import CACHE_ERRORS

logger = logging.getLogger("catalog.pictures")


@dataclass(frozen=True)
class Picture:
    """A built-in picture: its path under static/ and a short description for its alt text."""

    path: str
    description: str


BUILTIN_PICTURES: dict[str, Picture] = {
    # One per seed product (fixtures/products.json).
    "keyboard": Picture("img/products/keyboard.svg", "A tenkeyless mechanical keyboard"),
    "mouse": Picture("img/products/mouse.svg", "A wireless mouse and its USB receiver"),
    "usb-c-hub": Picture("img/products/usb-c-hub.svg", "A USB-C hub with HDMI, USB-A, USB-C and card reader ports"),
    "laptop-stand": Picture("img/products/laptop-stand.svg", "A laptop raised on an aluminium stand"),
    "desk-mat": Picture("img/products/desk-mat.svg", "A felt desk mat with stitched edges"),
    "cable-kit": Picture("img/products/cable-kit.svg", "A cable sleeve, hook-and-loop ties and adhesive clips"),
    "light-bar": Picture("img/products/light-bar.svg", "A light bar on top of a monitor, lighting the desk"),
    "ide-license": Picture("img/products/ide-license.svg", "A code editor window with a Pro license card"),
    # One per category, and the picture of last resort (a blank name).
    "accessories": Picture("img/categories/accessories.svg", "Desk accessories"),
    "electronics": Picture("img/categories/electronics.svg", "Electronics"),
    "home-office": Picture("img/categories/home-office.svg", "Home office furniture"),
    "software": Picture("img/categories/software.svg", "Software"),
    "default": Picture("img/categories/default.svg", "A product"),
}
DEFAULT_PICTURE = "default"


def builtin_picture(name: str) -> Picture:
    """The built-in picture called `name`; blank or unknown names give the default picture."""
    return BUILTIN_PICTURES.get(name or DEFAULT_PICTURE, BUILTIN_PICTURES[DEFAULT_PICTURE])


def builtin_picture_choices() -> list[tuple[str, str]]:
    """(name, label) of every built-in picture, for a select; "" is the default picture."""
    return [("", "Default picture"), *((name, f"{name} — {picture.description}")
                                        for name, picture in BUILTIN_PICTURES.items() if name != DEFAULT_PICTURE)]


def photo_upload_to(product, filename: str) -> str:
    """Where an uploaded photo is stored under MEDIA_ROOT: "products/<public id>-<random>.<ext>".

    The random part gives every upload a URL of its own, so it may be cached for good; the
    extension is the one the photo form field chose from the image's real format.
    """
    suffix = PurePath(filename).suffix.lower()
    return f"products/{slugify(product.public_id) or 'product'}-{secrets.token_hex(4)}{suffix}"


# What a stored photo keeps of its original's `info`: how it looks (the colour profile,
# transparency) and how it moves (an animation's timing). EXIF (GPS, camera, date), XMP,
# comments and text chunks are left behind.
_KEPT_INFO = ("icc_profile", "transparency", "duration", "loop", "background", "disposal", "blend")
# The format a photo is stored in: MPO (a phone's JPEG with extra frames) as a plain JPEG.
_STORED_AS = {"MPO": "JPEG"}
JPEG_QUALITY = 90  # re-encoded JPEG and WebP photos: no visible loss at a product photo's size


def _bare(frame: Image.Image) -> Image.Image:
    frame.info = {key: value for key, value in frame.info.items() if key in _KEPT_INFO}
    return frame


def photo_without_metadata(data: IO[bytes]) -> tuple[bytes, str]:
    """The image in `data` (already checked by Pillow: catalog.forms.ProductPhotoField) as
    stored: (bytes, Pillow format name), in its own format (MPO as JPEG).

    The EXIF orientation is applied to the pixels first (a photo taken sideways stays upright),
    then the image is re-encoded with its colour profile (ICC) and, for an animated GIF, PNG or
    WebP, every frame and its timing; no EXIF, XMP, comment or text metadata is written.
    JPEG and WebP are re-encoded at JPEG_QUALITY. Raises OSError (Pillow's) for an image that
    cannot be decoded, e.g. a truncated file that Pillow's verify() let through."""
    data.seek(0)
    with Image.open(data) as image:
        image_format = _STORED_AS.get(image.format, image.format)
        frames = getattr(image, "n_frames", 1) if image_format != "JPEG" else 1
        if frames > 1:  # animations carry no orientation worth applying; keep every frame
            images = [_bare(frame.copy()) for frame in ImageSequence.Iterator(image)]
            options = {"save_all": True, "append_images": images[1:],
                       "duration": [frame.info.get("duration", 0) for frame in images]}
        else:
            images = [_bare(ImageOps.exif_transpose(image))]
            options = {}
    if image_format in ("JPEG", "WEBP"):
        options["quality"] = JPEG_QUALITY
    if icc_profile := images[0].info.get("icc_profile"):
        options["icc_profile"] = icc_profile
    buffer = io.BytesIO()
    images[0].save(buffer, format=image_format, exif=b"", **options)
    return buffer.getvalue(), image_format


# --- renditions: the sizes pages show ---------------------------------------------------

# (width, height) in CSS pixels of each place a product's picture is drawn (the <img>'s width and
# height attributes; store.css and admin.css draw them at that size or smaller).
PICTURE_SIZES: dict[str, tuple[int, int]] = {
    "card": (320, 200),  # the catalog's grid (catalog/partials/product_card.html)
    "detail": (640, 400),  # the product page (catalog/product_detail.html)
    "cart": (96, 60),  # a line of the cart (storefront/partials/cart.html)
    "admin_thumb": (32, 32),  # the admin's product list
    "admin_picture": (160, 100),  # the admin's product page
}


@dataclass(frozen=True)
class ShownPicture:
    """What an <img> of a product shows at one of PICTURE_SIZES: `src`, `srcset` ("" when one
    image serves every screen), the drawn `width` and `height` (CSS pixels) and `alt`."""

    src: str
    srcset: str
    width: int
    height: int
    alt: str


def _rendition(photo, width: int, height: int):
    """The rendition of `photo` cropped to width x height (sorl's ImageFile), or None when it
    cannot be had now: the upload's file is missing or unreadable, or the storage or the cache
    failed (logged as a warning). Cropped to the frame's proportions from the centre (as
    object-fit: cover draws it), never enlarged past the upload; format, quality and where it
    is kept: settings.THUMBNAIL_*."""
    try:
        made = get_thumbnail(photo, f"{width}x{height}", crop="center")
    except CACHE_ERRORS as error:
        logger.warning("rendition %dx%d of %s not had (%s): the upload is shown", width, height, photo.name,
                       type(error).__name__)
        return None
    if made.size is None:  # sorl could not read the upload (it logged why) and made nothing
        logger.warning("rendition %dx%d of %s not made: the upload could not be read", width, height, photo.name)
        return None
    return made


def _stored_photo(product):
    """The photo stored for `product`: a form that was refused holds an upload not stored, whose
    renditions cannot be made; the row's photo is what pages show."""
    photo = product.photo
    if photo and not getattr(photo, "_committed", True):
        stored = type(product)._default_manager.filter(pk=product.pk).only("photo").first() if product.pk else None
        return stored.photo if stored else None
    return photo


def _upload_exists(photo) -> bool:
    try:
        return photo.storage.exists(photo.name)
    except OSError:
        return False


def product_picture(product, size: str) -> ShownPicture:
    """The picture of `product` (a catalog.models.Product) drawn at PICTURE_SIZES[size].

    An uploaded photo gives its renditions (made on first use, then read from sorl-thumbnail's
    store: the cache, else the database); its 2x rendition is in `srcset` when the upload covers
    the whole 2x frame (a smaller one would be no sharper, and a frame of other proportions).
    When a rendition cannot be had (see `_rendition`), the upload itself is shown, or the
    built-in picture if the upload's file is gone. A built-in picture is an SVG: the same file
    fits any size. Never raises for a missing file or an outage; KeyError for an unknown size."""
    width, height = PICTURE_SIZES[size]
    photo = _stored_photo(product)
    if not photo:
        return ShownPicture(static(product.image_path), "", width, height, product.image_alt)
    one = _rendition(photo, width, height)
    if one is None:
        src = photo.url if _upload_exists(photo) else static(product.image_path)
        return ShownPicture(src, "", width, height, product.image_alt)
    two = _rendition(photo, 2 * width, 2 * height)
    srcset = f"{one.url} 1x, {two.url} 2x" if two is not None and tuple(two.size) == (2 * width, 2 * height) else ""
    return ShownPicture(one.url, srcset, width, height, product.image_alt)


def product_renditions_make(product) -> None:
    """Make every rendition of `product`'s uploaded photo now (when staff save it), so no page
    view waits for one; nothing without a photo."""
    if product.photo:
        for size in PICTURE_SIZES:
            product_picture(product, size)
