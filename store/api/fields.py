"""The API's text fields: DRF's, taking a JSON string and nothing else.

DRF's CharField (and EmailField, RegexField, ChoiceField after it) turns a number into its
text: `{"name": 0}` would save the name "0", `{"card": 4242424242424242}` a card number. Every
serializer of the API declares its text fields with these instead (and a ModelSerializer
derives them, through `ModelSerializer` here), so a number, true/false, a list or an object is
a 400 naming the field ("Not a valid string: send text in quotes, not a number."), in the API's
error shape (store.api.errors). Query-string values are always text.
"""
from django.db import models
from rest_framework import serializers


def _json_kind(value) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "a value of another type"


class StrictText:
    """Mixin for a DRF text field: refuses any value but a str before the field reads it."""

    default_error_messages = {"not_a_string": "Not a valid string: send text in quotes, not {kind}."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string", kind=_json_kind(data))
        return super().to_internal_value(data)


class CharField(StrictText, serializers.CharField):
    pass


class EmailField(StrictText, serializers.EmailField):
    pass


class RegexField(StrictText, serializers.RegexField):
    pass


class ChoiceField(StrictText, serializers.ChoiceField):
    pass


class ModelSerializer(serializers.ModelSerializer):
    """DRF's ModelSerializer whose fields derived from the model's text columns are the strict ones."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: CharField,
        models.TextField: CharField,
        models.SlugField: CharField,
        models.EmailField: EmailField,
    }
    serializer_choice_field = ChoiceField
