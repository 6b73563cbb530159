"""Query-string parameters of the API's lists: a parameter given is a parameter meant.

An empty value (`?createdFrom=`, `?page=`, or only spaces) is a 400 naming the parameter, as a
bad value is; it is never taken as "no filter" (a client that sent an empty date meant a day).
`QueryParams` is the base of the serializers that read a query string; orders.api.filters
refuses with the same message.
"""
from rest_framework import serializers


def empty_value_message(name: str) -> str:
    return f"{name} is empty: give it a value or leave the parameter out."


class QueryParams(serializers.Serializer):
    """Reads a QueryDict (request.query_params); each declared field given with an empty value
    is refused (DRF would take it as absent)."""

    def to_internal_value(self, data):
        empty = [name for name in self.fields if hasattr(data, "getlist")
                 and any(not value.strip() for value in data.getlist(name))]
        if empty:
            raise serializers.ValidationError({name: [empty_value_message(name)] for name in empty})
        return super().to_internal_value(data)
