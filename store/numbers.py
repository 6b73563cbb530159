"""Number fields that take plain ASCII numbers only, for the API's serializers and the pages' forms.

Python reads far more than digits as numbers: any script's digits (`int("٣") == 3`,
`Decimal("１０")`), underscores (`int("1_0") == 10`), signs, spaces and exponents. DRF's
and Django's number fields inherit that, and the shop's users and their other tools read
those differently or not at all. A string given to these must be ASCII digits with, for a
decimal, one point: "10", "10.5". (JSON numbers are numbers already and pass as they are.)
Zero is never negative.
"""
import re
from decimal import Decimal

from django import forms
from rest_framework import serializers

MAX_ID = 2**63 - 1  # the largest BigAutoField: larger ids name no row, and SQLite cannot bind them
_INTEGER = re.compile(r"^[0-9]+\Z", re.ASCII)  # \Z: "$" would let a trailing newline through
_DECIMAL = re.compile(r"^[0-9]+(\.[0-9]+)?\Z", re.ASCII)


def _plain(value, pattern: re.Pattern) -> bool:
    return not isinstance(value, str) or bool(pattern.match(value))


def _unsigned_zero(value):
    return value.copy_abs() if isinstance(value, Decimal) and value.is_zero() else value


class AsciiIntegerField(serializers.IntegerField):
    def to_internal_value(self, data):
        if not _plain(data, _INTEGER):
            self.fail("invalid")
        return super().to_internal_value(data)


class AsciiDecimalField(serializers.DecimalField):
    def to_internal_value(self, data):
        if not _plain(data, _DECIMAL):
            self.fail("invalid")
        return _unsigned_zero(super().to_internal_value(data))


class AsciiIntegerFormField(forms.IntegerField):
    def to_python(self, value):
        if value not in self.empty_values and not _plain(value, _INTEGER):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class AsciiDecimalFormField(forms.DecimalField):
    def to_python(self, value):
        if value not in self.empty_values and not _plain(value, _DECIMAL):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return _unsigned_zero(super().to_python(value))
