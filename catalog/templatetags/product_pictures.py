"""{% product_picture product "card" as picture %}: a product's picture at the size a page draws it
(catalog.pictures.product_picture: src, srcset, width, height, alt)."""
from django import template

from catalog.pictures import ShownPicture
from catalog.pictures import product_picture as picture_of

register = template.Library()


@register.simple_tag
def product_picture(product, size: str) -> ShownPicture:
    return picture_of(product, size)
