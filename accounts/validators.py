"""Password rules of the store, beside Django's own validators (settings.AUTH_PASSWORD_VALIDATORS), and the
ZIP code rule of every shipping address (the address book, checkout and the orders API)."""
import re

from django.core.exceptions import ValidationError


class NotOnlyWhitespacePasswordValidator:
    """Refuses a password made only of spaces, tabs or line breaks: Django's length rule counts them."""

    message = "Your password can't be only spaces."

    def validate(self, password: str, user=None) -> None:
        if not password.strip():
            raise ValidationError(self.message, code="password_only_whitespace")

    def get_help_text(self) -> str:
        return "Your password can't be only spaces."


_ZIP = re.compile(r"^\d{5}(-\d{4})?\Z", re.ASCII)  # \d alone matches any script's digits


def validate_zip_code(value: str) -> None:
    if not _ZIP.match(value or ""):
        raise ValidationError("Enter a ZIP code like 12345 or 12345-6789.", code="invalid_zip")
