"""Validation shared by the catalog's API service and its admin forms."""
from django.contrib.staticfiles import finders
from django.core.exceptions import ValidationError


def validate_image_name(name: str) -> None:
    """`name` must be an SVG under static/img/categories/ (blank means the default picture).

    Pages render it with {% static %}, which fails for a missing file under the manifest storage.
    """
    if name and not finders.find(f"img/categories/{name}.svg"):
        raise ValidationError(f"No image named {name!r} under static/img/categories/.", code="invalid")
