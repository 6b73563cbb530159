"""Input checks shared by the API serializers, the checkout form and the services."""
import re

from django.core.exceptions import ValidationError

from accounts.validators import validate_zip_code  # noqa: F401  (the address book's rule; checkout and the API share it)

_NON_DIGITS = re.compile(r"[\s-]")


def normalize_card_number(value: str) -> str:
    return _NON_DIGITS.sub("", value or "")


def luhn_valid(number: str) -> bool:
    # ASCII digits only: str.isdigit() also takes Arabic-Indic or full-width digits.
    if not (number.isascii() and number.isdigit()) or not 12 <= len(number) <= 19:
        return False
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def validate_card_number(value: str) -> None:
    if not luhn_valid(normalize_card_number(value)):
        raise ValidationError("Enter a valid card number (12–19 digits passing the Luhn check).", code="invalid_card")

