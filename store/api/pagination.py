"""Pagination that keeps list bodies plain JSON arrays.

`?page=&pageSize=` select the page; the total goes in `X-Total-Count` and the neighbours in
an RFC 8288 `Link` header. Both are plain ASCII digits or a 400 naming the parameter: DRF
hands them to int(), which also reads other scripts' digits ("٢", "２") and would otherwise
ignore a pageSize it cannot read, or an empty one (store.api.query).
"""
from typing import Any

from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from store.api.query import QueryParams
from store.numbers import AsciiIntegerField


class PageParams(QueryParams):
    page = AsciiIntegerField(min_value=1, required=False)
    pageSize = AsciiIntegerField(min_value=1, required=False)


# The query parameters the pagination reads, for a list's refuse_unknown_parameters.
PAGE_PARAMETERS = tuple(PageParams._declared_fields)


class FirstPage:
    """A list of `total` items of which the first page, `rows`, is already read: what Django's
    Paginator needs to answer page 1 without reading the list again (the only page it holds)."""

    def __init__(self, rows: list[Any], total: int) -> None:
        self.rows, self.total = rows, total

    def count(self) -> int:
        return self.total

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, index: Any) -> Any:
        return self.rows[index]


class HeaderPagination(PageNumberPagination):
    page_query_param = "page"
    page_size_query_param = "pageSize"
    max_page_size = 100
    last_page_strings = ()  # page numbers only; the Link header names the last one

    def paginate_queryset(self, queryset, request, view=None):
        if request.query_params:  # nothing to read in an empty query string
            params = PageParams(data=request.query_params)
            params.is_valid(raise_exception=True)
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data: list) -> Response:
        response = Response(data)
        response["X-Total-Count"] = str(self.page.paginator.count)
        links = []
        if self.page.has_next():
            links.append(f'<{self.get_next_link()}>; rel="next"')
        if self.page.has_previous():
            links.append(f'<{self.get_previous_link()}>; rel="prev"')
        last_page = self.page.paginator.num_pages
        request_url = self.request.build_absolute_uri()
        links.append(f'<{replace_query_param(request_url, self.page_query_param, 1)}>; rel="first"')
        links.append(f'<{replace_query_param(request_url, self.page_query_param, last_page)}>; rel="last"')
        response["Link"] = ", ".join(links)
        return response

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {"type": "array", "items": schema.get("items", schema)}
