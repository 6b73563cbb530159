"""Form fields of the catalog's admin: the product photo upload."""
from django import forms
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.defaultfilters import filesizeformat
from PIL import Image

from catalog.pictures import photo_without_metadata

# Formats an upload may be (Pillow's names) and the extension it is stored with, so that the
# media view's Content-Type, taken from the extension, is the image's real type. MPO is the
# JPEG many phone cameras write.
PHOTO_FORMATS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}


class ProductPhotoField(forms.ImageField):
    """An uploaded product image: at most PRODUCT_IMAGE_MAX_BYTES and PRODUCT_IMAGE_MAX_SIDE pixels
    a side, in one of PHOTO_FORMATS, checked by Pillow (Django's ImageField opens and verifies it).

    The cleaned file is the image without its metadata (catalog.pictures.photo_without_metadata:
    orientation applied, no EXIF, GPS included), named "photo.<ext>" after its real format.
    Errors name the limit.
    """

    default_error_messages = {
        "invalid_image": "This file is not an image Pillow can read: upload a JPEG, PNG, WebP or GIF image.",
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        side = settings.PRODUCT_IMAGE_MAX_SIDE
        self.help_text = (f"{self.help_text} At most {filesizeformat(settings.PRODUCT_IMAGE_MAX_BYTES)} "
                          f"and {side}x{side} pixels.").strip()

    def to_python(self, data):
        if data is None or not hasattr(data, "size"):
            return super().to_python(data)
        limit = settings.PRODUCT_IMAGE_MAX_BYTES
        if data.size > limit:  # before Pillow reads any of it
            raise forms.ValidationError(
                f"The image is {filesizeformat(data.size)}; the largest accepted is {filesizeformat(limit)}.",
                code="file_too_large",
            )
        upload = super().to_python(data)
        image = upload.image
        if image.format not in PHOTO_FORMATS:
            raise forms.ValidationError(
                f"{image.format} images are not accepted: upload a JPEG, PNG, WebP or GIF image.", code="invalid_format"
            )
        width, height = image.size
        side = settings.PRODUCT_IMAGE_MAX_SIDE
        if width > side or height > side:
            raise forms.ValidationError(
                f"The image is {width}x{height} pixels; at most {side}x{side} are accepted.", code="too_many_pixels"
            )
        try:
            content, image_format = photo_without_metadata(upload)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            # Pillow's verify() reads the structure only; decoding finds a truncated or corrupt image.
            raise forms.ValidationError(self.error_messages["invalid_image"], code="invalid_image") from None
        return SimpleUploadedFile(f"photo.{PHOTO_FORMATS[image.format]}", content,
                                  content_type=Image.MIME[image_format])
