"""CSV downloads: text a spreadsheet would run as a formula is defused; numbers stay numbers."""
import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from store.csv_export import csv_cell, csv_response


@pytest.mark.parametrize(("value", "cell"), [
    ("=HYPERLINK(\"http://evil\")", "'=HYPERLINK(\"http://evil\")"),
    ("+1+1", "'+1+1"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"),
    ("ann@example.com", "ann@example.com"),
    ("", ""),
    (None, ""),
    (Decimal("-5.00"), Decimal("-5.00")),
    (3, 3),
    (datetime(2026, 11, 1, 23, tzinfo=UTC), "2026-11-01T23:00:00+00:00"),
])
def test_a_cell_is_safe_in_a_spreadsheet(value, cell):
    assert csv_cell(value) == cell


def test_the_response_streams_a_csv_attachment():
    response = csv_response(filename="orders.csv", header=["order", "note"], rows=iter([("#000001", "=1+1")]))
    assert response.streaming
    assert response["Content-Disposition"] == 'attachment; filename="orders.csv"'
    body = b"".join(response.streaming_content).decode()
    assert list(csv.reader(io.StringIO(body))) == [["order", "note"], ["#000001", "'=1+1"]]
