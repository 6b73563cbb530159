"""Validation shared by the catalog's API service and its admin forms."""
from django.core.exceptions import ValidationError

from catalog.pictures import BUILTIN_PICTURES


def validate_image_name(name: str) -> None:
    """`name` must be a built-in picture's (catalog.pictures; blank means the default picture)."""
    if name and name not in BUILTIN_PICTURES:
        raise ValidationError(
            f"No built-in picture named {name!r}: use one of {', '.join(sorted(BUILTIN_PICTURES))}.", code="invalid"
        )
