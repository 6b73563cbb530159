"""Password rules of the store, beside Django's own validators (settings.AUTH_PASSWORD_VALIDATORS)."""
from django.core.exceptions import ValidationError


class NotOnlyWhitespacePasswordValidator:
    """Refuses a password made only of spaces, tabs or line breaks: Django's length rule counts them."""

    message = "Your password can't be only spaces."

    def validate(self, password: str, user=None) -> None:
        if not password.strip():
            raise ValidationError(self.message, code="password_only_whitespace")

    def get_help_text(self) -> str:
        return "Your password can't be only spaces."
