"""Number fields that take ASCII digits only, for the API's serializers and the pages' forms.

Python reads any script's digits as numbers (`int("٣") == 3`, `Decimal("１０")`), so DRF's and
Django's number fields accept Arabic-Indic or full-width digits that the rest of the shop,
and its users' other tools, read differently or not at all. These refuse them as invalid.
"""
from django import forms
from rest_framework import serializers


def _ascii(value) -> bool:
    return not isinstance(value, str) or value.isascii()


class AsciiIntegerField(serializers.IntegerField):
    def to_internal_value(self, data):
        if not _ascii(data):
            self.fail("invalid")
        return super().to_internal_value(data)


class AsciiDecimalField(serializers.DecimalField):
    def to_internal_value(self, data):
        if not _ascii(data):
            self.fail("invalid")
        return super().to_internal_value(data)


class AsciiIntegerFormField(forms.IntegerField):
    def to_python(self, value):
        if not _ascii(value):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class AsciiDecimalFormField(forms.DecimalField):
    def to_python(self, value):
        if not _ascii(value):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)
