"""The API's JSON parser: DRF's, with a limit on nesting.

A body nested past MAX_DEPTH levels is refused with 400 in the API's error shape before any
view sees it; Python's own decoder would otherwise hit its recursion limit (a 500) near a
thousand. Bodies over DATA_UPLOAD_MAX_MEMORY_SIZE are refused by Django before parsing;
store.api.errors answers them with 413 in the same shape.
"""
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# No request of this API nests deeper than 4 levels (an order: items → one item → its fields).
MAX_DEPTH = 32


def _depth_exceeds(value, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        message = f"The JSON body is nested deeper than {MAX_DEPTH} levels."
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(message) from None
        if _depth_exceeds(data, MAX_DEPTH):
            raise ParseError(message)
        return data
