"""CSV downloads: streamed row by row, every cell safe to open in a spreadsheet.

A cell that starts with `=`, `+`, `-`, `@` (or a tab or carriage return) is a formula to
Excel and LibreOffice; `csv_cell` prefixes such text with `'` so it shows as text.
Numbers (Decimal, int) are written as they are: a negative amount is not a formula.
"""
import csv
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from django.http import StreamingHttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    """A file-like object whose write returns the line, for csv.writer in a streaming response."""

    def write(self, value: str) -> str:
        return value


def csv_cell(value) -> str | Decimal | int:
    """One cell: None → "", datetimes as ISO 8601, numbers unchanged, text defused."""
    if value is None:
        return ""
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def csv_response(*, filename: str, header: Iterable[str], rows: Iterable[Iterable]) -> StreamingHttpResponse:
    """A `text/csv` attachment named `filename`: `header`, then each row of `rows` (an iterator,
    read while the response streams)."""
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow([csv_cell(name) for name in header])
        for row in rows:
            yield writer.writerow([csv_cell(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
