"""Product pictures: the built-in illustrations shipped under static/ and the photos staff upload.

A product shows its uploaded photo (Product.photo, a file under MEDIA_ROOT) when it has one,
else its built-in picture (Product.image, a name in BUILTIN_PICTURES). Seed products each have
an illustration of their own; a category's picture is the fallback for new products.
"""
import secrets
from dataclasses import dataclass
from pathlib import PurePath

from django.utils.text import slugify


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
