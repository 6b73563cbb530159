"""Query-string parameters of the API's lists: a parameter given is a parameter meant.

A parameter a list does not take (`?limit=`, a misspelt filter) is a 400 naming it
(`refuse_unknown_parameters`, which every list endpoint calls first): ignored, it would answer
the whole list as if the client's filter applied. An empty value (`?createdFrom=`, `?page=`, or
only spaces) is a 400 naming the parameter, as a bad value is; it is never taken as "no filter"
(a client that sent an empty date meant a day). `QueryParams` is the base of the serializers
that read a query string; orders.api.filters refuses with the same message.
"""
from collections.abc import Iterable, Mapping

from rest_framework import serializers

from store.errors import ValidationFailed


def refuse_unknown_parameters(params: Mapping, allowed: Iterable[str], *, endpoint: str) -> None:
    """Return quietly when every parameter of the query string `params` (a QueryDict) is in
    `allowed`; else ValidationFailed (400, code "unknown_parameter") whose message names the
    unknown ones and what `endpoint` (e.g. "GET /api/orders") takes, and whose `fields` map each
    unknown one to "Not a parameter of this list."."""
    allowed = tuple(allowed)
    unknown = sorted(set(params) - set(allowed))
    if not unknown:
        return
    takes = f"takes {', '.join(allowed)}" if allowed else "takes no query parameters"
    raise ValidationFailed(
        f"Unknown query parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: {endpoint} {takes}.",
        code="unknown_parameter", fields={name: "Not a parameter of this list." for name in unknown},
    )


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
